"""The figures of the scaling puzzle, all from the shared cost model (explorer.cost.step): the Setup of the
workload on a fabric, throughput / speedup / efficiency / marginal speedup vs N (FabricCurve), where returns
diminish (regimes, the continuous crossing by scipy brentq), the time breakdown at two N, strong scaling and
the time-to-loss speedup past the critical batch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from explorer.cost.efficiency import DEFAULT_EFFICIENCY, TYPICAL_GPU_EFFICIENCY
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, attention_kernel_default
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.setup import Setup
from explorer.cost.step import evaluate, paced
from explorer.hardware.catalog import Cluster, Link, get_link
from explorer.models.catalog import get_model
from explorer.puzzles.scaling.workload import DEFAULT_THRESHOLD, ScalingScenario


def make_setup(sc: ScalingScenario, fabric: str | Link, n_max: int) -> Setup:
    """The cost-model Setup of the scaling workload with `fabric` as the link between nodes."""
    t = sc.track
    inter = fabric if isinstance(fabric, Link) else get_link(fabric)
    g = sc.devices_per_node
    cluster = Cluster(accelerator=t.cluster.accelerator, devices=max(g, g * math.ceil(n_max / g)),
                      devices_per_node=g, intra=t.cluster.intra, inter=inter)
    # The scenario says how collectives are costed: as NCCL runs them (the 3D model's form: rings per rail,
    # per-tier latency) or the lab texts' textbook flat ring (docs/conventions.md "Collectives").
    # The attention kernel the default framework runs on this part, as `solve 3d` and `estimate` price it.
    # One Setup serves every N of a curve, so the slowest GPU's pace, which grows with N, is charged per N by
    # _eval (step.paced) rather than at the cluster's size (Setup.pace): the Setup is priced without it.
    return Setup(get_model(sc.model_key), cluster, sc.seq_len, t.workload.precision, t.workload.optimizer,
                 t.usable_memory_fraction, collectives=sc.collectives,
                 attention_kernel=attention_kernel_default(DEFAULT_FRAMEWORK, cluster.accelerator.key),
                 efficiency=TYPICAL_GPU_EFFICIENCY)


def _paced(setup: Setup, r: dict, n) -> dict:
    """evaluate's figures with each N's slowest-GPU pace (step.paced), where a pace applies (Setup.gpu_paced)."""
    if not setup.gpu_paced:
        return r
    return paced(r, n, DEFAULT_EFFICIENCY.gpu_speed_cv)


def _eval(setup: Setup, sc: ScalingScenario, n) -> dict:
    """Cost-model figures of N data-parallel replicas (N may be a real-valued numpy array)."""
    n = np.asarray(n, dtype=float)
    return _paced(setup, evaluate(setup, 1, 1, 1, n, 1, sc.micro_batch, sc.accumulation, sc.zero,
                                  RECOMPUTE_CODES[sc.recompute], 0), n)


@dataclass
class FabricCurve:
    """Throughput, speedup and marginal speedup vs N for one fabric."""

    fabric: Link
    n: np.ndarray  # integer grid 1..n_search
    step_time: np.ndarray
    samples_per_s: np.ndarray
    speedup: np.ndarray
    efficiency: np.ndarray
    marginal: np.ndarray  # S(N+1) - S(N), len(n) - 1
    n_diminishing: int | None  # smallest integer N with S(N+1) - S(N) < threshold
    n_star: float | None  # continuous crossing of dS/dN = threshold (or the jump location)
    crossing_kind: str  # "smooth", "jump" (node boundary / overlap kink), or "none"
    fits_from: int | None  # smallest N at which the replica fits in memory
    n_sustained: int | None = None  # smallest N from which no added device adds >= threshold again
    n_star_sustained: float | None = None
    crossing_kind_sustained: str = "none"
    isolated: list[int] = field(default_factory=list)  # N of one-device steps of the marginal (regimes)
    threshold: float = DEFAULT_THRESHOLD  # the marginal speedup the curve was judged against
    run_length: int = 2  # the added devices in a row that make a regime (run_length(sc)); a drop recovers within it


def _continuous_speedup(setup: Setup, sc: ScalingScenario, x1: float):
    def s_of(x: float) -> float:
        r = _eval(setup, sc, x)
        return float(x * sc.samples_per_device / r["step_time"] / x1)
    return s_of


def curve(sc: ScalingScenario, fabric: str | Link, threshold: float, n_max: int, n_search: int) -> FabricCurve:
    """Evaluate one fabric on N = 1..n_search and locate the diminishing-returns point."""
    setup = make_setup(sc, fabric, n_search)
    n = np.arange(1, n_search + 1, dtype=float)
    r = _eval(setup, sc, n)
    step = np.asarray(r["step_time"], dtype=float)
    x = n * sc.samples_per_device / step
    s = x / x[0]
    marg = np.diff(s)
    w = run_length(sc)
    n_dr, n_sus, isolated = regimes(marg, threshold, w)
    fits = np.flatnonzero(np.asarray(r["fits"]))
    fits_from = int(n[fits[0]]) if fits.size else None

    s_of = _continuous_speedup(setup, sc, float(x[0]))
    n_star, kind = _crossing(s_of, n_dr, marg, threshold, sc.devices_per_node)
    n_star_sus, kind_sus = _crossing(s_of, n_sus, marg, threshold, sc.devices_per_node)
    return FabricCurve(fabric=setup.cluster.inter, n=n.astype(int), step_time=step, samples_per_s=x, speedup=s,
                       efficiency=s / n, marginal=marg, n_diminishing=n_dr, n_star=n_star, crossing_kind=kind,
                       fits_from=fits_from, n_sustained=n_sus, n_star_sustained=n_star_sus,
                       crossing_kind_sustained=kind_sus, isolated=isolated, threshold=threshold, run_length=w)


def run_length(sc: ScalingScenario) -> int:
    """How many consecutive added devices make a regime of the marginal speedup (see regimes): one node's worth,
    and never a single device."""
    return max(2, sc.devices_per_node)


def regimes(marg: np.ndarray, threshold: float, w: int) -> tuple[int | None, int | None, list[int]]:
    """Where returns diminish, and whether for good, on the discrete marginal speedup marg[i] = S(i+2) - S(i+1).

    The rule: split the marginals into runs on one side of the threshold. A run of fewer than `w` N (one node's
    worth of added devices, never a single device) between two others is an isolated step: a discrete change of
    the step model at one N (the first device beyond a node, or one gradient bucket fewer as Megatron-Core sizes
    its DDP buckets max(40M, 1M x DP) parameters: distributed_data_parallel.py). It is real and reported by its N,
    but it is neither a dip nor a recovery, so it takes the side of the runs around it (shortest run first, merged
    with its neighbours before the next is judged, so two short runs never both flip). The first and the last run
    stand whatever their length (the curve's start, and where it is still going at the end of the grid). On the
    cloud track's 10 GbE curve, 4,015 -> 4,016 adds 0.879x (three gradient buckets become two) between marginals
    of 0.14: returns diminish for good from N = 8, not from 4,016.

    A short run below the threshold counts as isolated only where the curve recovers from it (recovers: within `w`
    added devices after it the speedup is back to 99% of its level before it); a drop it does not make up (10 GbE's
    8 -> 9, -6.75x, with every later device adding 0.129x: S(8) = 8.05 comes back only at N = 61) stands as a run
    below the threshold, wherever the threshold puts the marginals around it.

    Returns (n_diminishing, n_sustained, isolated): the first N of the first run below the threshold; the first N
    of the last run below when it lasts to the end of the grid (None when the curve recovers above the threshold
    over a run of its own and is still above at the end); the N of every isolated step."""
    below = np.asarray(marg < threshold)
    runs = []  # [below?, first index, length]
    i = 0
    while i < below.size:
        j = i
        while j < below.size and below[j] == below[i]:
            j += 1
        runs.append([bool(below[i]), i, j - i])
        i = j
    # Flip the shortest interior run first and merge it with its neighbours, until every interior run is at least
    # w long: where the curve alternates (7 added devices above the threshold, then 1 below, as node boundaries
    # and bucket changes recur every 8 N at threshold 1), the one-N dips merge into the run around them instead of
    # both sides flipping at once and a 1.002x step being reported as the first N below 1.
    isolated = []
    smooth = below.copy()
    while True:
        # a short run below the threshold is isolated only where the curve recovers from it (recovers): a drop the
        # speedup never makes up, as 10 GbE's 8 -> 9 at -6.75x, is a real fall whatever the marginals after it
        short = [k for k in range(1, len(runs) - 1) if runs[k][2] < w
                 and (not runs[k][0] or recovers(marg, runs[k][1], runs[k][2], w))]
        if not short:
            break
        k = min(short, key=lambda k: (runs[k][2], runs[k][1]))
        b, i, n = runs[k]
        isolated.append(i + 1)
        smooth[i:i + n] = not b
        prev, nxt = runs[k - 1], runs[k + 1]
        runs[k - 1:k + 2] = [[prev[0], prev[1], prev[2] + n + nxt[2]]]
    isolated.sort()
    low = np.flatnonzero(smooth)
    if not low.size:
        return None, None, isolated
    n_dr = int(low[0]) + 1
    if not smooth[-1]:
        return n_dr, None, isolated
    high = np.flatnonzero(~smooth)
    n_sus = int(high[-1]) + 2 if high.size else 1
    return n_dr, n_sus, isolated


RECOVERED_SHARE = 0.99  # back to 99% of the speedup before a drop: the curve has recovered from it (recovers)


def recovers(marg: np.ndarray, i: int, n: int, w: int) -> bool:
    """Whether the curve recovers from the run of `n` marginals marg[i:i+n] (S(i+1) -> S(i+n+1)): within `w` added
    devices after the run, S is back to at least RECOVERED_SHARE of S(i+1), the speedup before it. S is rebuilt from
    the marginals (S(1) = 1, S(k+1) = S(k) + marg[k-1]), so the rule reads only the curve's own figures. A bucket
    change's -7.8x at N = 4,015 on InfiniBand (0.2% of S there) recovers; 10 GbE's -6.75x at N = 8 (S 8.05 -> 1.3,
    then +0.129x a device) does not."""
    s = np.concatenate(([1.0], 1.0 + np.cumsum(marg)))  # s[k] = S(k + 1)
    before = s[i]
    after = s[i + n: i + n + w + 1]
    return bool(after.size and after.max() >= RECOVERED_SHARE * before - 1e-12)


def regained_at(c: FabricCurve, n: int) -> int | None:
    """The first N > n at which S(N) is back to S(n), or None if it never is on the curve's grid."""
    later = np.flatnonzero(c.speedup[n:] >= c.speedup[n - 1] - 1e-12)
    return int(later[0]) + n + 1 if later.size else None


def _crossing(s_of, n_int: int | None, marg: np.ndarray, threshold: float, g: int) -> tuple[float | None, str]:
    """The continuous crossing near the integer point n_int where S(n+1) - S(n) < threshold:
    brentq on dS/dN - threshold (dS/dN by central difference), or the location of a jump when
    S steps down between n and n + 1 (the ring reaching the fabric, or the all-reduce ceasing
    to hide behind the backward pass): a jump, not a slope."""
    from scipy.optimize import brentq

    if n_int is None:
        return None, "none"

    def slope(v: float) -> float:
        h = 1e-4 * max(1.0, v)
        return (s_of(v + h) - s_of(v - h)) / (2 * h)

    jump = s_of(n_int + 1e-6) - s_of(float(n_int))
    if n_int == 1 or n_int == g or abs(jump) > 0.05 * max(1.0, abs(marg[n_int - 1])):
        return float(n_int), "jump"
    lo, hi = max(1.0 + 1e-3, n_int - 1.0), n_int + 1.0
    if slope(lo) - threshold > 0 > slope(hi) - threshold:
        return float(brentq(lambda v: slope(v) - threshold, lo, hi, xtol=1e-6)), "smooth"
    return float(n_int), "jump"


def breakdown(sc: ScalingScenario, fabric: str | Link, n_a: int, n_b: int) -> dict:
    """Where the time goes at N = n_a and n_b: compute, optimizer, DP all-reduce split into its
    latency (alpha) and bandwidth (M/B) parts, and how much of it hides behind the backward pass.

    The alpha and M/B parts come from the same cost model with the link's bandwidth made
    unlimited (latency only) or its latency set to zero (bandwidth only)."""
    link = fabric if isinstance(fabric, Link) else get_link(fabric)
    out = {}
    for n in (n_a, n_b):
        setup = make_setup(sc, link, max(n_a, n_b))
        r = _eval(setup, sc, n)
        lat_only = replace(setup, cluster=replace(setup.cluster, inter=replace(link, bandwidth=math.inf),
                                                  intra=replace(setup.cluster.intra, bandwidth=math.inf)))
        bw_only = replace(setup, cluster=replace(setup.cluster, inter=replace(link, latency_s=0.0),
                                                 intra=replace(setup.cluster.intra, latency_s=0.0)))
        t_alpha = float(_eval(lat_only, sc, n)["time_dp_total"])
        t_beta = float(_eval(bw_only, sc, n)["time_dp_total"])
        total = float(r["time_dp_total"])
        exposed = float(r["time_dp_exposed"])
        out[n] = {"compute": float(r["time_compute"]), "optimizer": float(r["time_optimizer"]),
                  "dp_total": total, "dp_latency": t_alpha, "dp_bandwidth": t_beta,
                  "dp_hidden": total - exposed, "dp_exposed": exposed, "step": float(r["step_time"]),
                  "memory": float(r["memory_total"]), "fits": bool(r["fits"]), "mfu": float(r["mfu"])}
    return out


def strong_curve(sc: ScalingScenario, fabric: str | Link, batch: int, n_max: int) -> dict[str, np.ndarray]:
    """Strong scaling: the same global batch of `batch` samples split over N devices (N dividing it, up to
    n_max): per device batch / N samples in micro-batches of at most the scenario's; S(N) = T(1)/T(N) for the
    same work, eta(N) = S(N)/N (docs/conventions.md 'Scaling'). Each device's compute shrinks as 1/N; the
    gradient all-reduce does not, so communication takes a growing share of the step."""
    n = np.array([k for k in _grid(min(n_max, batch)) if batch % k == 0], dtype=float)
    per = batch / n
    mb = np.minimum(per, sc.micro_batch)
    acc = per / mb
    setup = make_setup(sc, fabric, int(n.max()))
    r = _paced(setup, evaluate(setup, 1, 1, 1, n, 1, mb, acc, sc.zero, RECOMPUTE_CODES[sc.recompute], 0), n)
    step = np.asarray(r["step_time"], dtype=float)
    speedup = step[0] / step
    return {"n": n.astype(int), "step_time": step, "speedup": speedup, "efficiency": speedup / n,
            "comm_share": np.asarray(r["time_dp_exposed"], dtype=float) / step,
            "samples_per_device": per, "mfu": np.asarray(r["mfu"], dtype=float)}


def quality_speedup(sc: ScalingScenario, c: FabricCurve) -> np.ndarray | None:
    """Weak scaling measured in time to a target loss rather than samples/s: steps to the target grow as
    S = S_min (1 + B_crit/B) shrink only until B passes the critical batch (McCandlish et al. 2018, eq. 2.11),
    so Q(N) = (1 + B_crit/B(1)) t(1) / ((1 + B_crit/B(N)) t(N)) with B(N) = N x per-device batch, which
    saturates at 1 + B_crit/B(1) however many devices are added."""
    from explorer.cost.convergence import steps_multiplier

    bc = sc.b_crit
    if bc is None:
        return None
    b = c.n.astype(float) * sc.samples_per_device
    steps = steps_multiplier(b, bc)
    return steps[0] * c.step_time[0] / (steps * c.step_time)


def search_size(n_max: int) -> int:
    """How far the curves are evaluated (beyond n_max, to find where the returns diminish for good)."""
    return max(10 * n_max, min(100 * n_max, 20_000))


def _bucket_calls(sc: ScalingScenario, n: int) -> int | None:
    """Gradient collectives per step at DP = n under Megatron-Core's DDP buckets of max(40M, 1M x DP) parameters
    (explorer/cost/frameworks.py, the step model's nccl form); None where the step model prices fixed buckets."""
    if sc.collectives != "nccl":
        return None
    from explorer.cost import frameworks as fwk
    from explorer.cost.memory import params_per_device

    p = float(params_per_device(make_setup(sc, sc.fabrics[0], n), 1, 1))
    return int(fwk.bucket_calls(p, fwk.megatron_bucket_params(n)))


def _grid(n_max: int) -> list[int]:
    g = [1]
    while g[-1] * 2 <= n_max:
        g.append(g[-1] * 2)
    if g[-1] != n_max:
        g.append(n_max)
    return g
