"""Lab 05 part 1, the communication wall: throughput and scaling efficiency against accelerator count.

Each track names a data-parallel scaling workload (explorer/data/lab05_distributed.toml: model,
per-replica batch, fabrics). For every fabric, the step time of N replicas comes from the shared
cost model (`explorer.cost.step.evaluate`, the same physics as the 3D puzzle), with the fabric as
the cluster's inter-node link. Weak scaling: every device keeps its batch, so

    X(N)   = N b / t_step(N)            samples/s
    S(N)   = T(1) / T(N) = X(N) / X(1)  speedup for a fixed amount of data
    eta(N) = S(N) / N                   scaling efficiency
    marginal speedup S(N+1) - S(N), or dS/dN on the continuous model

(docs/conventions.md, "Scaling"). The diminishing-returns point is the smallest N at which
one more device adds less than `threshold` (0.5) of a device's worth of speedup: the integer N
from the discrete differences, and the continuous crossing dS/dN = threshold found with
scipy.optimize.brentq on the continuous model (DP degree as a real number).
"""

from __future__ import annotations

import math
import time
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from explorer import validation as V
from explorer.assumptions import attention_kernel_assumption
from explorer.cost.efficiency import DEFAULT_EFFICIENCY, TYPICAL_GPU_EFFICIENCY
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, attention_kernel_default
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.setup import Setup
from explorer.cost.step import evaluate, paced
from explorer.errors import UsageError, require_positive, require_positive_int, unknown_name
from explorer.hardware.catalog import Cluster, Link, get_link, get_node, link_names
from explorer.models.catalog import get_model
from explorer.puzzles.fleetlens import FLEET_TRACKS, fleet_view
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.tracks import Track, get_track
from explorer.units import human_bytes, human_duration, human_number, human_percent, plural, plural_noun

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "lab05_distributed.toml"
DEFAULT_THRESHOLD = 0.5

# --- scenario data --------------------------------------------------------------------------------
_SCALING_KEYS = {"model": str, "seq_len": int, "micro_batch": int, "accumulation": int, "zero": int,
                 "recompute": str, "devices_per_node": int, "fabrics": list, "n_from": int, "n_to": int,
                 "n_max": int, "why": str, "source": str}
# optional: how collectives are costed ("textbook" by default, "nccl"), the strong-scaling batch (samples),
# and the critical batch (a loss for Kaplan et al.'s fit, or samples) behind the weak-scaling warning
_OPTIONAL_KEYS = {"collectives": str, "strong_batch": int, "critical_batch_loss_nats": float,
                  "critical_batch_samples": int}


@cache
def lab05_data() -> dict:
    """The lab-05 scenario file, validated: one table per track with a `scaling` and a `sync` part."""
    with open(DATA_FILE, "rb") as fh:
        raw = tomllib.load(fh)
    errors = []
    for track in ("cloud", "edge", "mobile", "tiny"):
        sec = raw.get(track)
        if not isinstance(sec, dict):
            errors.append(f"[{track}] missing")
            continue
        for k in ("sample_word", "device_plural"):
            if not isinstance(sec.get(k), str):
                errors.append(f"[{track}] {k} missing")
        sc = sec.get("scaling", {})
        for k, typ in _SCALING_KEYS.items():
            if not isinstance(sc.get(k), typ) or isinstance(sc.get(k), bool):
                errors.append(f"[{track}.scaling] {k} must be {typ.__name__}")
        for k, typ in _OPTIONAL_KEYS.items():
            if k in sc and (not isinstance(sc[k], (int, float) if typ is float else typ) or isinstance(sc[k], bool)):
                errors.append(f"[{track}.scaling] {k} must be {typ.__name__}")
        if sc.get("collectives", "textbook") not in ("textbook", "nccl"):
            errors.append(f"[{track}.scaling] collectives must be 'textbook' or 'nccl'")
        extra = set(sc) - set(_SCALING_KEYS) - set(_OPTIONAL_KEYS)
        if extra:
            errors.append(f"[{track}.scaling] unknown keys {sorted(extra)}")
        if not isinstance(sec.get("sync"), dict) or not isinstance(sec["sync"].get("source"), str):
            errors.append(f"[{track}.sync] missing or without source")
    if errors:
        raise ValueError(f"{DATA_FILE.name}: " + "; ".join(errors))
    return raw


@dataclass(frozen=True)
class ScalingScenario:
    """What is scaled on a track: a data-parallel replica of `model` with a fixed per-device batch."""

    track: Track
    model_key: str
    seq_len: int
    micro_batch: int
    accumulation: int
    zero: int
    recompute: str
    devices_per_node: int
    fabrics: tuple[str, ...]
    n_from: int
    n_to: int
    n_max: int
    why: str
    source: str
    sample_word: str
    device_plural: str
    collectives: str = "textbook"
    strong_batch: int | None = None
    critical_batch_loss_nats: float | None = None
    critical_batch_samples: int | None = None

    @property
    def samples_per_device(self) -> int:
        return self.micro_batch * self.accumulation

    @property
    def b_crit(self) -> float | None:
        """The critical batch in samples (McCandlish et al. 2018; Kaplan et al. 2020 eq. 1.4 for a language model
        at a given loss), or None when the scenario names none."""
        if self.critical_batch_samples is not None:
            return float(self.critical_batch_samples)
        if self.critical_batch_loss_nats is not None:
            from explorer.cost.convergence import kaplan_critical_batch_tokens

            return kaplan_critical_batch_tokens(self.critical_batch_loss_nats) / self.seq_len
        return None


def scenario(track: str = "cloud") -> ScalingScenario:
    t = get_track(track)
    d = lab05_data()[t.key]
    s = d["scaling"]
    return ScalingScenario(track=t, model_key=s["model"], seq_len=s["seq_len"], micro_batch=s["micro_batch"],
                           accumulation=s["accumulation"], zero=s["zero"], recompute=s["recompute"],
                           devices_per_node=s["devices_per_node"], fabrics=tuple(s["fabrics"]),
                           n_from=s["n_from"], n_to=s["n_to"], n_max=s["n_max"], why=s["why"],
                           source=s["source"], sample_word=d["sample_word"],
                           device_plural=d["device_plural"], collectives=s.get("collectives", "textbook"),
                           strong_batch=s.get("strong_batch"),
                           critical_batch_loss_nats=(float(s["critical_batch_loss_nats"])
                                                     if "critical_batch_loss_nats" in s else None),
                           critical_batch_samples=s.get("critical_batch_samples"))


def parse_fabrics(fabric: Any, valid: list[str] | None = None) -> list[str]:
    """Fabric names from a string ('a,b'), a list of strings (repeatable option) or None. `valid` is the list an
    unknown name is answered with (the track's own fabrics, track_fabrics); every catalog link when None. A known
    link outside it is kept for check_track_fabrics, which says why it is not the track's."""
    valid = link_names() if valid is None else valid
    if fabric is None:
        return []
    if not isinstance(fabric, (str, list, tuple)) or not all(isinstance(x, str) for x in (
            [fabric] if isinstance(fabric, str) else fabric)):
        raise UsageError(f"fabric must be a link name, a comma list or a list of names, got {V.short(fabric)}")
    items = [fabric] if isinstance(fabric, str) else list(fabric)
    out: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip()
            if name:
                try:
                    key = get_link(name).key
                except UsageError:
                    raise unknown_name("fabric", name, valid) from None
                if key not in out:
                    out.append(key)
    if not out:
        raise UsageError(f"fabric: {V.short(fabric)} names no link; valid: {', '.join(valid)}")
    return out


def track_fabrics(track: Track) -> list[str]:
    """The catalog links a track's devices can have between their nodes.

    A fleet (edge, mobile, tiny) talks over the radio, so its fabric is a radio that reaches another node (catalog
    scope 'inter'): not a datacenter wire (an earbud has no NVLink port or InfiniBand NIC), and not NFMI, the
    catalog's 'intra' link between the two earbuds of one head, whose magnetic near field does not reach another
    wearer (NXP NxH2280: an earbud-to-earbud link). The cloud track's GPU servers are wired and have no radio, so
    its fabric is any wired link (NVLink among them: NVLink Switch spans nodes, as in the GB200 NVL72 rack's 18
    compute trays, NVIDIA GB200 NVL72 datasheet). A fleet device has only the radios its node lists (nodes.toml
    `radios`, from the part's datasheet: an nRF52840 earbud speaks Bluetooth LE, never Wi-Fi or 5G)."""
    fleet = track.key in FLEET_TRACKS
    radios = _node_radios(track) if fleet else ()
    out = []
    for k in link_names():
        link = get_link(k)
        if (link.radio and link.scope == "inter" and (not radios or k in radios)) if fleet else not link.radio:
            out.append(k)
    return out


def _node_radios(track: Track) -> tuple[str, ...]:
    """The radios of the track's catalog node (nodes.toml `radios`), () when the node names none."""
    return get_node(track.cluster.node).radios if track.cluster.node else ()


def check_track_fabrics(track: Track, fabrics: list[str]) -> list[str]:
    """`fabrics` if every one is a link the track's devices can have between nodes (track_fabrics); else a one-line
    UsageError naming the first that is not and the ones that are."""
    ok = track_fabrics(track)
    for f in fabrics:
        if f in ok:
            continue
        link = get_link(f)
        if track.key in FLEET_TRACKS:
            if link.radio and link.scope == "inter":  # a radio the track's device does not carry
                node = get_node(track.cluster.node)
                raise UsageError(f"fabric {f} ({link.name}) is not one of the radios the {track.key} track's "
                                 f"{track.device_plural} carry ({node.radios_source.split(':')[0]}); "
                                 f"valid on it: {', '.join(ok)}")
            what = (f"a near-field link inside one node (scope '{link.scope}'), which does not reach another node"
                    if link.radio else "a datacenter wire, not a radio")
            why = f"the {track.key} track is a fleet of {track.device_plural} that talk over the radio"
        else:
            what = "a radio link of the fleet tracks"
            why = f"the {track.key} track's GPU servers are wired and have no radio"
        raise UsageError(f"fabric {f} ({link.name}) is {what}, and {why}; valid on it: {', '.join(ok)}")
    return fabrics


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


# --- the puzzle -------------------------------------------------------------------------------
@fleet_view("scaling")
def solve(track: str = "cloud", *, fabric: Any = None, threshold: float = DEFAULT_THRESHOLD,
          max_devices: int | None = None, n_from: int | None = None, n_to: int | None = None,
          **_: Any) -> Report:
    """Throughput and efficiency vs N for each fabric; 8 -> 64 question; diminishing returns."""
    t0 = time.perf_counter()
    sc = scenario(track)
    threshold = V.THRESHOLD.check("threshold", threshold)
    fabrics = check_track_fabrics(sc.track, parse_fabrics(fabric, track_fabrics(sc.track)) or list(sc.fabrics))
    n_max = V.CURVE_DEVICES.check("max-devices (nodes)", max_devices, sc.n_max)
    a = V.CURVE_DEVICES.check("from", n_from, sc.n_from)
    b = V.CURVE_DEVICES.check("to", n_to, sc.n_to)
    check_range(sc, n_max, a, b, given={"max-devices": max_devices is not None, "from": n_from is not None,
                                        "to": n_to is not None})
    curves = {f: curve(sc, f, threshold, n_max, search_size(n_max)) for f in fabrics}
    parts = {f: breakdown(sc, f, a, b) for f in fabrics}
    report = _build_report(sc, curves, parts, threshold, n_max, a, b)
    if sc.strong_batch is not None:
        _strong_scaling(report, sc, {f: strong_curve(sc, f, sc.strong_batch, n_max) for f in fabrics}, curves)
    if sc.b_crit is not None:
        _critical_batch(report, sc, curves, n_max)
    report.solve_time_s = time.perf_counter() - t0
    report.scenario = {"fabric": list(fabrics), "threshold": threshold, "max_devices": n_max, "n_from": a, "n_to": b}
    return report


def check_range(sc: ScalingScenario, n_max: int, a: int, b: int, given: dict[str, bool] | None = None) -> None:
    """The 'N -> M' question's --from a and --to b in the track's device unit, or a one-line UsageError naming the
    allowed range. Both lie on the curve, which ends at --max-devices (the curve and the question are one range:
    raising the curve's end to --to would report a range nobody asked for). On a fleet track both also lie in the
    fleet the fleet form answers with (fleetlens: its federated optimum at each size, up to the track's fleet) and
    count whole nodes of at least two replicas, as the synchronisation audit's --nodes (an earbud pair averages
    inside itself first, so 2 earbuds are one replica with nobody to synchronise with). `given`: which of the
    options the user wrote (the others are the track's defaults, and the error says so)."""
    t = sc.track
    given = given or {}

    def opt(name: str, v: int) -> str:
        return f"--{name} {v:,}" + ("" if given.get(name, True) else " (the track's default)")

    if t.key in FLEET_TRACKS:
        per, fleet = t.cluster.devices_per_node, t.cluster.devices
        lo, hi = 2 * per, min(fleet, n_max)
        unit = f" in whole nodes of {per} {t.device_plural}" if per > 1 else ""
        for name, v in (("from", a), ("to", b)):
            if v < lo or v > hi or v % per:
                raise UsageError(
                    f"{opt(name, v)}: on the {t.key} track N counts {t.device_plural}{unit}, from {lo} (two replicas "
                    f"to average) to {hi:,} ("
                    + (f"the track's fleet of {fleet:,}" if hi == fleet else opt("max-devices", n_max)) + ")")
    if b <= a:
        raise UsageError(f"--to ({b:,}) must be larger than --from ({a:,})")
    if b > n_max:
        raise UsageError(f"{opt('to', b)} is beyond the curve's end, {opt('max-devices', n_max)}: give --to <= "
                         f"{n_max:,} or --max-devices >= {b:,}")


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


def _isolated_text(sc: ScalingScenario, c: FabricCurve, threshold: float) -> str:
    """The isolated one-device steps of a curve (regimes): named, with their size and, where it is one, the
    bucket count that changes there; said to be neither a dip nor a recovery."""
    dev, devs = sc.track.device_word, sc.device_plural
    bits = []
    for n in c.isolated[:4]:
        m = float(c.marginal[n - 1])
        a, b = _bucket_calls(sc, n), _bucket_calls(sc, n + 1)
        why = (f" (gradient buckets a step: {a} -> {b})" if a is not None and a != b else
               f" (the first {dev} beyond a node)" if n % sc.devices_per_node == 0 and sc.devices_per_node > 1
               else "")
        bits.append(f"{n:,} -> {n + 1:,} adds {'+' if m >= 0 else '-'}{human_number(abs(m))}x{why}")
    more = f" and {len(c.isolated) - 4} more" if len(c.isolated) > 4 else ""
    return (f"Isolated one-{dev} steps, on the other side of {threshold:g} from the {devs} around them: "
            + "; ".join(bits) + more + f". Each is a discrete change of the step model at one N, fewer than "
            f"{run_length(sc)} {devs} in a row: neither a dip nor a recovery.")


def _apart_digits(x: float, y: float) -> tuple[str, str]:
    """x and y with as many significant digits (3 to 6) as it takes to print them apart when they differ: a step
    'from 6.972 s to 6.973 s', never 'from 7 s to 7 s'."""
    for sig in range(3, 7):
        sx, sy = human_number(x, sig), human_number(y, sig)
        if sx != sy:
            return sx, sy
    return sx, sy


def _eta_text(sc: ScalingScenario, c: FabricCurve, a: int, b: int, factor: float, gain: float,
              d_opt: float) -> str:
    """The scaling efficiency beside the a -> b gain, which is its ratio: eta(N) = S(N)/N is against one device,
    the gain X(b)/X(a) = (b/a) eta(b)/eta(a), printed with enough digits to reproduce the gain. Where eta is above
    1 the superlinear part is said: the ZeRO-sharded optimizer step shrinks per device as N grows."""
    dev, devs = sc.track.device_word, sc.device_plural
    ea, eb = float(c.efficiency[a - 1]), float(c.efficiency[b - 1])
    target = human_number(gain, 4)
    for sig in range(3, 8):  # the fewest digits whose factor x eta(b)/eta(a) prints as the gain does
        ta, tb = human_number(ea, sig), human_number(eb, sig)
        if human_number(factor * float(tb.replace(",", "")) / float(ta.replace(",", "")), 4) == target:
            break
    text = (f"scaling efficiency against one {dev} eta({b}) = S({b})/{b} = {tb}, eta({a}) = {ta}: the gain is "
            f"{factor:g} x {tb} / {ta}")
    if max(ea, eb) <= 1.0 + 1e-9:
        return text
    where = f"eta({b}) and eta({a}) are" if min(ea, eb) > 1.0 + 1e-9 else f"eta({a if ea > eb else b}) is"
    if not sc.zero:
        return text + f"; {where} above 1: the cost model's per-{dev} step shrinks with N"
    return (text + f"; {where} above 1, a superlinear part: ZeRO-{sc.zero} shards the optimizer step over the "
            f"data-parallel group, so each {dev}'s share of it gets cheaper as N grows"
            + (f" (by {human_number(-d_opt)} s a step from {a} to {b} {devs})" if d_opt < 0 else "")
            + f"; the {a} -> {b} gain divides eta({a}) out")


def _fmt_n(n: float | None) -> str:
    return "none" if n is None else f"{n:,.1f}"


def _below(x: float, threshold: float) -> str:
    """`x` (< threshold) with as many significant digits as it takes to read below it: 0.4997, not 0.5 < 0.5."""
    for sig in range(3, 13):
        text = human_number(x, sig)
        if float(text.replace(",", "")) < threshold:
            return text
    return human_number(x, 13)


def _dr_headline(c: FabricCurve, short: str) -> str:
    """The headline's diminishing-returns point of one fabric. Returns diminish where the marginal speedup falls
    below the threshold and stays there; a first run below it that the curve climbs out of again (the second
    device starting the all-reduce, say, after which every device adds a whole one) is a dip, a one-off cost, and
    is named as one with its size, never as 'diminishing returns at N' bare: beside 'ideal 8x' that read as a
    contradiction."""
    n = c.n_diminishing
    if n is None:
        return f"none up to N = {len(c.n):,} on {short}"
    if c.n_sustained == n:
        return f"N = {n:,} on {short}"
    m = float(c.marginal[n - 1])
    drop = _unrecovered_drop(c, n)
    if drop:  # the speedup falls at n and does not come back: that is where returns diminish, not a 'dip'
        return (f"N = {n:,} on {short}, {drop}"
                + (f", below {c.threshold:g}x for good from N = {c.n_sustained:,}" if c.n_sustained else ""))
    # the added speed-up is below the threshold by definition: printed with the digits that show it (0.9993x, never
    # the '+1x' three significant digits round it to against a threshold of 1)
    dip = (f"a first dip at N = {n:,} ({n:,} -> {n + 1:,} adds {'+' if m >= 0 else '-'}"
           f"{_below(abs(m), c.threshold) if m >= 0 else human_number(abs(m))}x) that the curve recovers from")
    if c.n_sustained is None:
        return f"none for good up to N = {len(c.n):,} on {short}, only {dip}"
    return f"N = {c.n_sustained:,} on {short}, past {dip}"


def _first_run(c: FabricCurve, n: int) -> int:
    """How many marginals in a row from S(n+1) - S(n) on are below the curve's threshold."""
    below = c.marginal[n - 1:] < c.threshold
    return int(np.argmin(below)) if not below.all() else int(below.size)


def _unrecovered_drop(c: FabricCurve, n: int) -> str:
    """'' where the curve recovers from its run below the threshold starting at N = n (recovers); else the drop in
    words from its own figures: what n -> n + 1 adds, where S(n) comes back (or that it does not on the grid) and
    the efficiency at the curve's end."""
    if recovers(c.marginal, n - 1, _first_run(c, n), c.run_length):
        return ""
    m = float(c.marginal[n - 1])
    return (f"a drop ({n:,} -> {n + 1:,} adds {'+' + _below(m, c.threshold) if m >= 0 else '-' + human_number(-m)}x; "
            f"{_comes_back(c, n)})")


def _comes_back(c: FabricCurve, n: int) -> str:
    """'S(8) = 8.05 comes back only at N = 61', or that it never does on the curve's grid (regained_at)."""
    back = regained_at(c, n)
    return (f"S({n:,}) = {human_number(c.speedup[n - 1])} "
            + (f"comes back only at N = {back:,}" if back is not None else f"never comes back up to N = {len(c.n):,}"))


def _best_text(sc: ScalingScenario, curves: dict[str, FabricCurve], f: str, n: int, threshold: float,
               n_max: int) -> str:
    """The configuration attempts are graded against (extra.configuration), said with its rule and figures: where no
    (fabric, N) meets the rule, which fabric and why; where the N it stands on is an isolated step of the curve
    (regimes), that too, and how its throughput compares with one device's."""
    dev, devs = sc.track.device_word, sc.device_plural
    c = curves[f]
    m = float(c.marginal[n - 1])
    sign = "+" if m >= 0 else "-"
    if m < threshold:
        others = "; ".join(f"{_short(curves[g].fabric)} {'+' if curves[g].marginal[0] >= 0 else '-'}"
                           f"{human_number(abs(curves[g].marginal[0]))}x" for g in curves if g != f)
        return (f"No fabric and N meet the rule: on no fabric does one more {dev} add {threshold:g}x at any N up to "
                f"{n_max:,}. "
                f"The best is one {dev} ({human_number(c.samples_per_s[0], 4)} {sc.sample_word}s/s, alike on every "
                f"fabric), on {_short(c.fabric)}, whose second {dev} adds the most ({sign}{human_number(abs(m))}x"
                + (f"; {others}" if others else "") + "): the smallest violation of the rule.")
    text = (f"{_short(c.fabric)} at N = {n:,}: {human_number(c.samples_per_s[n - 1], 4)} {sc.sample_word}s/s, the "
            f"most of any fabric and N <= {n_max:,} where {n:,} -> {n + 1:,} adds at least {threshold:g}x "
            f"({sign}{human_number(abs(m), 4)}x)")
    if n in c.isolated:
        text += (f". That N is an isolated step of the curve ({n:,} -> {n + 1:,} is on the other side of "
                 f"{threshold:g} from the {devs} around it): the rule judges each N by its own marginal, so the step "
                 "counts"
                 + (f", though the curve is below {threshold:g}x for good from N = {c.n_sustained:,}, isolated steps "
                    "aside (see where returns diminish)" if c.n_sustained is not None and c.n_sustained <= n else ""))
    if c.samples_per_s[n - 1] < c.samples_per_s[0]:
        text += (f"; it is slower than one {dev} ({human_number(c.samples_per_s[n - 1] / c.samples_per_s[0])}x its "
                 f"{human_number(c.samples_per_s[0], 4)} {sc.sample_word}s/s), which the rule does not accept because "
                 f"its second {dev} adds {'+' if c.marginal[0] >= 0 else '-'}{human_number(abs(c.marginal[0]))}x")
    return text + "."


def _compute_words(c_a: float, c_b: float, a: int) -> str:
    """What each device computes per step at N = b against N = a (weak scaling: the same work)."""
    if abs(c_b - c_a) <= 1e-9 * max(c_a, c_b):
        return f"still computes {human_number(c_b)} s"
    return f"computes {human_number(c_b)} s ({human_number(c_a)} s at N = {a})"


def _pace_words(c_a: float, c_b: float, b: int, devs: str) -> list[str]:
    """The compute a larger job loses to its slowest device (Setup.pace, step.paced): the same work, paced by the
    slowest of b devices; none where the compute did not grow."""
    if c_b - c_a <= 1e-9 * max(c_a, c_b):
        return []
    return [f"the same compute paced by the slowest of {b} {devs} (speeds spread "
            f"{human_percent(DEFAULT_EFFICIENCY.gpu_speed_cv)}, Sinha et al. SC'22), +{human_number(c_b - c_a)} s"]


def _build_report(sc: ScalingScenario, curves: dict[str, FabricCurve], parts: dict, threshold: float,
                  n_max: int, a: int, b: int) -> Report:
    t = sc.track
    dev, devs = t.device_word, sc.device_plural
    factor = b / a
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    rows_q1, rows_curve = [], []
    head_bits, dr_bits = [], []
    for f, c in curves.items():
        x_a, x_b = c.samples_per_s[a - 1], c.samples_per_s[b - 1]
        gain = x_b / x_a
        p = parts[f]
        pa, pb = p[a], p[b]
        lost = 1.0 - pa["step"] / pb["step"]  # share of the larger cluster's step that is not ideal
        nm = c.fabric.name
        figures[f"speedup_{a}_to_{b}_{f}"] = Figure(gain, "x", f"{a} -> {b} {devs}: throughput gain ({nm})")
        figures[f"efficiency_{b}_{f}"] = Figure(float(c.efficiency[b - 1]), "fraction",
                                                f"scaling efficiency at N = {b}, S({b})/{b} against one {dev} "
                                                f"({nm})")
        figures[f"mfu_{b}_{f}"] = Figure(pb["mfu"], "fraction", f"MFU at N = {b} ({nm}; {human_percent(pa['mfu'])} "
                                         f"at N = {a})")
        figures[f"samples_per_s_{b}_{f}"] = Figure(float(x_b), f"{sc.sample_word}s/s", f"throughput at N = {b} ({nm})")
        if c.n_diminishing is not None:
            figures[f"n_diminishing_{f}"] = Figure(c.n_diminishing, devs,
                                                   f"diminishing returns from N (marginal < {threshold:g}) ({nm})")
        if c.n_star is not None:
            figures[f"n_star_{f}"] = Figure(c.n_star, devs, f"continuous crossing dS/dN = {threshold:g} ({nm})")
        d_dp = pb["dp_exposed"] - pa["dp_exposed"]
        d_opt = pb["optimizer"] - pa["optimizer"]
        share = pb["dp_latency"] / pb["dp_total"] if pb["dp_total"] > 0 else 0.0
        findings.append(Finding(
            f"Does going from {a} to {b} {devs} cut training time by {factor:g}x? ({c.fabric.name})",
            ("Yes, within half a percent" if gain >= 0.995 * factor else "No")
            + (f": by {human_number(gain, 4)}x ({human_number(100 * gain / factor, 4)}% of the ideal {factor:g}x; "
               + _eta_text(sc, c, a, b, factor, gain, pb["optimizer"] - pa["optimizer"]) + ")" if gain >= 1 else
               f": it gets slower, {human_number(gain)}x the throughput of {a} {devs} (scaling efficiency eta({b}) "
               f"= {human_number(c.efficiency[b - 1])} against one {dev})")
            + f". Per step each {dev} " + _compute_words(pa["compute"], pb["compute"], a)
            + "; the step goes from "
            + "{} s to {} s".format(*_apart_digits(pa["step"], pb["step"]))
            + f". What eats the rest ({human_number(100 * lost)}% of the step at N = {b}): "
            + "; ".join(_pace_words(pa["compute"], pb["compute"], b, devs) + [
                f"the gradient all-reduce now exposed {human_number(pb['dp_exposed'])} s (+{human_number(d_dp)} s; "
                f"of its {human_number(pb['dp_total'])} s total, latency alpha terms "
                f"{human_number(pb['dp_latency'])} s = {human_number(100 * share)}%, bandwidth M/B "
                f"{human_number(pb['dp_bandwidth'])} s, {human_number(pb['dp_hidden'])} s hidden behind the backward "
                "pass)" if pb["dp_exposed"] > 1e-9 else
                f"nothing of the all-reduce ({human_number(pb['dp_total'])} s), which hides behind the backward pass"])
            + (f"; the ZeRO-sharded optimizer step changes by {'+' if d_opt > 0 else '-'}"
               f"{human_number(abs(d_opt))} s." if abs(d_opt) > 1e-6 and max(c.efficiency[a - 1], c.efficiency[b - 1])
               <= 1.0 + 1e-9 else ".")))
        if c.n_diminishing is None:
            # 'keeps up' only where the figures say so: a curve that passes a low threshold everywhere can still have
            # lost most of the ideal (efficiency at the end of the grid below one half)
            eta_end = float(c.efficiency[-1])
            dr = (f"no run of N up to {len(c.n):,} where one more {dev} adds less than {threshold:g}x"
                  + (": the fabric keeps up" if eta_end >= 0.5 else
                     f", yet the fabric does not keep up with the ideal: the scaling efficiency at N = {len(c.n):,} "
                     f"is {human_percent(eta_end)}")
                  + f" (the curve is still {human_number(c.marginal[-1])}x per {dev} at N = {len(c.n):,}"
                  + (f", efficiency {human_percent(eta_end)})" if eta_end >= 0.5 else ")"))
        elif c.crossing_kind == "jump":
            mj = float(c.marginal[c.n_diminishing - 1])  # below the threshold: shown with the digits that say so
            dr = (f"N = {c.n_diminishing}: going from {c.n_diminishing} to {c.n_diminishing + 1} {devs} adds "
                  f"{'+' + _below(mj, threshold) if mj >= 0 else '-' + human_number(-mj)}x, a jump rather than a "
                  "slope ("
                  + (f"the first {dev} beyond {sc.devices_per_node} puts the all-reduce on the fabric"
                     if c.n_diminishing == sc.devices_per_node else
                     f"the second {dev} starts the gradient all-reduce" if c.n_diminishing == 1 else
                     "the all-reduce stops hiding behind compute")
                  + f"); on the continuous model the crossing is that jump, at N = {c.n_star:g}")
        else:
            dr = (f"N = {c.n_diminishing} (S({c.n_diminishing + 1}) - S({c.n_diminishing}) = "
                  f"{_below(c.marginal[c.n_diminishing - 1], threshold)} < {threshold:g}); continuous model: dS/dN = "
                  f"{threshold:g} at N* = {human_number(c.n_star, 4)} (scipy brentq)")
        if c.n_diminishing is not None and c.n_diminishing > n_max:
            dr += f", beyond the {n_max:,} {devs} of the track"
        if c.n_sustained is not None and c.n_sustained != c.n_diminishing:
            how = (f"dS/dN = {threshold:g} at N* = {c.n_star_sustained:.2f} (scipy brentq)"
                   if c.crossing_kind_sustained == "smooth" else f"a jump at N = {c.n_star_sustained:g}")
            dr += (f". Past that first dip the marginal speedup recovers; it stays below {threshold:g} for good from "
                   f"N = {c.n_sustained:,} ({how})" + (f", beyond the {n_max:,} {devs} of the track"
                                                        if c.n_sustained > n_max else ""))
        elif c.n_sustained is None and c.n_diminishing is not None:
            dr += f". The marginal speedup recovers above {threshold:g} later and is still above it at N = {len(c.n):,}"
            drop = _unrecovered_drop(c, c.n_diminishing)
            if drop:  # the marginal comes back; the speedup lost at the drop does not
                dr += (f", but the speedup does not recover: {_comes_back(c, c.n_diminishing)}, and the scaling "
                       f"efficiency at N = {n_max:,} is {human_percent(c.efficiency[min(n_max, len(c.n)) - 1])}")
        if c.isolated:
            dr += ". " + _isolated_text(sc, c, threshold)
        if c.n_sustained is not None:
            figures[f"n_sustained_{f}"] = Figure(c.n_sustained, devs,
                                                 f"below {threshold:g}x for good from N, isolated steps aside "
                                                 f"({nm})")
        if c.n_star_sustained is not None:
            figures[f"n_star_sustained_{f}"] = Figure(c.n_star_sustained, devs,
                                                      f"continuous crossing, sustained ({nm})")
        findings.append(Finding(f"Where do returns diminish (marginal speedup < {threshold:g})? ({c.fabric.name})",
                                dr if dr.endswith(".") else dr + "."))
        short = _short(c.fabric)
        head_bits.append(f"{human_number(gain)}x on {short}" + (" (slower)" if gain < 1 else ""))
        dr_bits.append(_dr_headline(c, short))
        rows_q1.append([c.fabric.name, pa["step"], pb["step"], pb["compute"], pb["dp_total"], pb["dp_latency"],
                        pb["dp_bandwidth"], pb["dp_hidden"], pb["dp_exposed"], pb["optimizer"], gain])
        for n in _grid(n_max):
            rows_curve.append([c.fabric.name, n, float(c.step_time[n - 1]), float(c.samples_per_s[n - 1]),
                               float(c.speedup[n - 1]), float(c.efficiency[n - 1]),
                               float(c.marginal[n - 1]) if n - 1 < len(c.marginal) else None])
    best = max(curves, key=lambda f: curves[f].samples_per_s[b - 1])
    worst = min(curves, key=lambda f: curves[f].samples_per_s[b - 1])
    if best != worst:
        r = curves[best].samples_per_s[b - 1] / curves[worst].samples_per_s[b - 1]
        findings.append(Finding(f"Which fabric, and by how much, at N = {b}?",
                                f"{curves[best].fabric.name}: {human_number(r)}x the throughput of "
                                f"{curves[worst].fabric.name} ({human_number(curves[best].samples_per_s[b - 1], 4)} vs "
                                f"{human_number(curves[worst].samples_per_s[b - 1], 4)} {sc.sample_word}s/s)."))
    # The attempt's optimum: the largest throughput among (fabric, N <= n_max) where one more device
    # still adds at least `threshold` of a device (the same rule evaluate_attempt scores).
    opt_f, opt_n, opt_x = None, None, -1.0
    for f, c in curves.items():
        ok = np.flatnonzero(c.marginal[:n_max] >= threshold)
        if ok.size:
            k = int(ok[np.argmax(c.samples_per_s[ok])])
            if c.samples_per_s[k] > opt_x:
                opt_f, opt_n, opt_x = f, k + 1, float(c.samples_per_s[k])
    if opt_f is None:
        # No N where one more device pays its way: a single device, on the fabric whose second device adds the most
        # (every fabric runs one device alike, with no communication; the one closest to meeting the rule is the
        # least violation), ties to the higher throughput at the curve's end. Never the first-listed fabric by order.
        opt_f = max(curves, key=lambda f: (float(curves[f].marginal[0]),
                                           float(curves[f].samples_per_s[min(n_max, len(curves[f].n)) - 1])))
        opt_n, opt_x = 1, float(curves[opt_f].samples_per_s[0])
    findings.append(Finding(f"Which fabric and N have the most throughput while one more {dev} still adds at least "
                            f"{threshold:g}x?", _best_text(sc, curves, opt_f, opt_n, threshold, n_max)))
    eff_max = max(float(c.efficiency[:n_max].max()) for c in curves.values())
    if eff_max > 1.0 + 1e-9:
        findings.append(Finding("Why is the efficiency above 1 at small N?",
                                f"ZeRO-{sc.zero} shards the optimizer step over the data-parallel group, so each added "
                                f"device also shortens everyone's optimizer step (up to eta = "
                                f"{human_number(eff_max, 4)}) until the "
                                f"all-reduce outgrows what hides behind the backward pass."
                                if sc.zero else
                                f"eta reaches {human_number(eff_max, 4)}: the cost model's per-device step shrinks."))
    fit = {f: c.fits_from for f, c in curves.items()}
    any_fit = next(iter(fit.values()))
    limit = make_setup(sc, next(iter(curves.values())).fabric, sc.devices_per_node).memory_limit_bytes
    findings.append(Finding("What is scaled, and why this workload?",
                            f"{get_model(sc.model_key).name}, {sc.samples_per_device} {sc.sample_word}s per {dev} per "
                            f"step ({sc.micro_batch} x {sc.accumulation} micro-batches), pure data parallel"
                            f"{', ZeRO-' + str(sc.zero) if sc.zero else ''}. {sc.why} Memory: "
                            + (f"the replica fits in the {human_bytes(limit)} usable per {dev} from N = {any_fit}."
                               if any_fit else
                               f"the replica does not fit in the {human_bytes(limit)} usable per {dev} at any N here "
                               "(splitting it is part "
                               "2's puzzle); the times are what the cost model gives for the work.")))
    headline = (f"Weak scaling {a} -> {b} {devs}: " + ", ".join(head_bits) + f" (ideal {factor:g}x); diminishing "
                f"returns (< {threshold:g}x per {dev}): " + "; ".join(dr_bits) + ".")
    plot = {"threshold": threshold, "device_word": dev, "sample_word": sc.sample_word, "n_max": n_max,
            "n_from": a, "n_to": b, "fabrics": {}}
    for f, c in curves.items():
        top = max(n_max, (c.n_diminishing or 0) + 1, (c.n_sustained or 0) + 1)
        marks = {m for m in (c.n_diminishing, c.n_sustained, a, b) if m is not None}
        grid = sorted(n for n in set(_plot_grid(len(c.n))) | marks if n <= top)
        plot["fabrics"][f] = {"label": c.fabric.name, "n": grid,
                              "samples_per_s": [float(c.samples_per_s[n - 1]) for n in grid],
                              "ideal_samples_per_s": [float(n * c.samples_per_s[0]) for n in grid],
                              "efficiency": [float(c.efficiency[n - 1]) for n in grid],
                              "n_diminishing": c.n_diminishing, "n_star": c.n_star,
                              "n_sustained": c.n_sustained,
                              "samples_per_s_at_sustained": (float(c.samples_per_s[c.n_sustained - 1])
                                                             if c.n_sustained else None),
                              "samples_per_s_at_diminishing": (float(c.samples_per_s[c.n_diminishing - 1])
                                                               if c.n_diminishing else None)}
    return Report(
        puzzle="scaling", lab="05", part=1, track=t.key, title="The communication wall", status="computed",
        headline=headline, figures=figures, findings=findings,
        constraints=[Constraint(f"marginal speedup of one more {dev} at the best fabric and N "
                                f"({_short(curves[opt_f].fabric)}, N = {opt_n:,})",
                                float(curves[opt_f].marginal[opt_n - 1]), threshold, "x", ">=",
                                binding=bool(curves[opt_f].marginal[opt_n - 1] < threshold + 0.05))],
        formulas=list(FORMULAS) if sc.collectives == "textbook" else list(FORMULAS_NCCL),
        assumptions=_assumptions(sc, curves),
        tables={"breakdown": Table(["fabric", f"step N={a} (s)", f"step N={b} (s)", "compute (s)", "all-reduce (s)",
                                    "alpha part (s)", "M/B part (s)", "hidden (s)", "exposed (s)", "optimizer (s)",
                                    f"{a}->{b} speedup"], rows_q1, f"Where the time goes at N = {b}"),
                "curve": Table(["fabric", "N", "step (s)", f"{sc.sample_word}s/s", "speedup S(N)", "efficiency",
                                "marginal S(N+1)-S(N)"], rows_curve, "Throughput and efficiency vs N")},
        plots=["scaling_efficiency"], data={"scaling_efficiency": plot},
        extra={"objective": {"name": "samples_per_s", "value": opt_x, "sense": "max"},
               "configuration": {"fabric": opt_f, "devices": opt_n},
               "workload": {"model": sc.model_key, "seq_len": sc.seq_len, "micro_batch": sc.micro_batch,
                            "accumulation": sc.accumulation, "zero": sc.zero, "recompute": sc.recompute}},
    )


def _strong_scaling(report: Report, sc: ScalingScenario, strong: dict[str, dict], curves: dict) -> None:
    """Strong-scaling findings, figures and table: the same global batch on more devices."""
    dev, devs = sc.track.device_word, sc.device_plural
    rows, bits = [], []
    for f, st in strong.items():
        name = curves[f].fabric.name
        for k, n in enumerate(st["n"]):
            rows.append([name, int(n), st["samples_per_device"][k], st["step_time"][k], st["speedup"][k],
                         st["efficiency"][k], st["comm_share"][k]])
        last = len(st["n"]) - 1
        mid = int(np.flatnonzero(st["n"] <= 64)[-1])
        report.figures[f"strong_efficiency_{st['n'][last]}_{f}"] = Figure(
            float(st["efficiency"][last]), "fraction", f"strong-scaling efficiency at N = {st['n'][last]:,} ({name})")
        half = np.flatnonzero(st["efficiency"] < 0.5)
        per_dev = float(st["samples_per_device"][last])
        bits.append(f"on {name} {_speed(st['speedup'][mid])} at N = {st['n'][mid]:,} (efficiency "
                    f"{human_percent(st['efficiency'][mid])}) and {_speed(st['speedup'][last])} at N = "
                    f"{st['n'][last]:,} ({human_percent(st['efficiency'][last])}, "
                    f"{plural(per_dev, sc.sample_word)} per {dev}"
                    + (f"; efficiency below 50% from N = {st['n'][half[0]]:,}" if half.size else "") + ")")
    report.findings.append(Finding(
        f"Strong scaling: does a fixed batch of {sc.strong_batch:,} {plural_noun(sc.sample_word)} finish faster on "
        f"more {devs}?",
        f"The same work on N {devs}: " + "; ".join(bits) + ". Each " + dev + "'s compute shrinks as 1/N while the "
        "gradient all-reduce moves the whole gradient whatever N is, so the exposed communication's share grows "
        "until it sets the step: weak scaling (each device keeps its batch) is what keeps the efficiency."))
    report.tables["strong"] = Table(["fabric", "N", f"{plural_noun(sc.sample_word)} per {dev}", "step (s)",
                                     "speedup S(N)", "efficiency", "exposed all-reduce share"], rows,
                                    f"Strong scaling: {sc.strong_batch:,} {plural_noun(sc.sample_word)} per step")
    fast = max(strong, key=lambda f: strong[f]["efficiency"][-1])
    st = strong[fast]
    report.headline += (f" Strong scaling of {sc.strong_batch:,} {plural_noun(sc.sample_word)}: "
                        f"{human_percent(st['efficiency'][-1])} efficient at N = {st['n'][-1]:,} on "
                        f"{_short(curves[fast].fabric)}"
                        + "".join(f", {human_percent(strong[f]['efficiency'][-1])} on {_short(curves[f].fabric)}"
                                  for f in strong if f != fast) + ".")
    report.formulas.append(Formula("strong scaling", "S(N) = t_step(1) / t_step(N) at a fixed global batch B; "
                                   "eta(N) = S(N)/N", "docs/conventions.md 'Scaling'"))


def _critical_batch(report: Report, sc: ScalingScenario, curves: dict, n_max: int) -> None:
    """The weak-scaling warning: the global batch grows with N and passes the critical batch."""
    bc = sc.b_crit
    dev, devs = sc.track.device_word, sc.device_plural
    # the first whole N whose global batch N x b exceeds B_crit (112.5 GPUs is not a cluster size)
    n_cross = math.floor(bc / sc.samples_per_device) + 1
    bits = []
    for f, c in curves.items():
        q = quality_speedup(sc, c)
        k = min(n_max, len(c.n)) - 1
        report.figures[f"quality_speedup_{n_max}_{f}"] = Figure(float(q[k]), "x",
                                                                f"time-to-loss speedup at N = {n_max:,} "
                                                                f"({c.fabric.name})")
        bits.append(f"on {c.fabric.name} {human_number(c.speedup[k])}x the {plural_noun(sc.sample_word)} per second "
                    f"but {human_number(q[k])}x sooner to the target loss")
    ceiling = 1.0 + bc / sc.samples_per_device
    fast = max(curves, key=lambda f: curves[f].speedup[min(n_max, len(curves[f].n)) - 1])
    k = min(n_max, len(curves[fast].n)) - 1
    report.figures["critical_batch_samples"] = Figure(bc, plural_noun(sc.sample_word), "critical batch B_crit")
    report.figures["critical_batch_devices"] = Figure(n_cross, devs, "weak scaling passes B_crit from N (the first "
                                                      "whole N with N x b > B_crit)")
    report.formulas.append(Formula("critical batch", "S = S_min (1 + B_crit / B);  Q(N) = (1 + B_crit/B(1)) t(1) / "
                                   "((1 + B_crit/B(N)) t(N))", "McCandlish et al. 2018, eq. 2.11; Kaplan et al. "
                                   "2020, eq. 1.4"))
    if n_max < n_cross:  # the curve ends before the batch reaches B_crit: nothing to warn about in this range
        report.findings.append(Finding(
            "Does weak scaling reach the critical batch in this range?",
            f"No. Weak scaling grows the global batch with N ({sc.samples_per_device} "
            f"{plural_noun(sc.sample_word)} per {dev}), and at N = {n_max:,}, the curve's end, it is "
            f"{n_max * sc.samples_per_device:,} {plural_noun(sc.sample_word)}, below the critical batch B_crit = "
            f"{human_number(bc)} {plural_noun(sc.sample_word)} (Kaplan et al. 2020 eq. 1.4; McCandlish et al. 2018), "
            f"which it would pass from N = {n_cross:,}. Steps to the target still fall as 1 + B_crit/B rather than "
            f"1/B, so at N = {n_max:,}: " + "; ".join(bits) + "."))
        return
    report.headline += (f" Warning: from N = {n_cross:,} the batch exceeds the critical batch; at "
                        f"{n_max:,}, {human_number(curves[fast].speedup[k])}x the {plural_noun(sc.sample_word)}/s "
                        f"buys {human_number(quality_speedup(sc, curves[fast])[k])}x sooner to the loss.")
    report.findings.append(Finding(
        "Warning: does weak scaling stay useful past the critical batch?",
        f"No. Weak scaling grows the global batch with N ({sc.samples_per_device} {plural_noun(sc.sample_word)} per "
        f"{dev}), and from N = {n_cross:,} ({n_cross * sc.samples_per_device:,} {plural_noun(sc.sample_word)}) it "
        f"passes the critical batch B_crit = {human_number(bc)} {plural_noun(sc.sample_word)} (Kaplan et al. 2020 "
        "eq. 1.4; McCandlish et al. 2018). Past it each step is "
        f"worth less: steps to the target fall as 1 + B_crit/B, not as 1/B, so at N = {n_max:,}: "
        + "; ".join(bits) + f". However many {devs} are added, the time to the loss can shrink by at most "
        f"1 + B_crit/b = {human_number(ceiling)}x over one {dev}: beyond B_crit, grow the model or the "
        "sequence, or scale strongly, rather than the batch."))


def _short(link: Link) -> str:
    """A fabric's name without its parenthesised scope or protocol: '10 Gb Ethernet', 'InfiniBand NDR 400 Gb/s'."""
    return link.name.split(" (")[0].split(",")[0]


def _speed(x: float) -> str:
    return f"{human_number(x)}x faster" if x >= 1.0 else f"{human_number(x)}x (slower)"


def _grid(n_max: int) -> list[int]:
    g = [1]
    while g[-1] * 2 <= n_max:
        g.append(g[-1] * 2)
    if g[-1] != n_max:
        g.append(n_max)
    return g


def _plot_grid(n_max: int) -> list[int]:
    pts = np.unique(np.round(np.geomspace(1, n_max, 120)).astype(int))
    return sorted(set(int(p) for p in pts) | set(_grid(n_max)))


FORMULAS = [
    Formula("speedup and efficiency", "S(N) = T(1)/T(N) = X(N)/X(1);  eta(N) = S(N)/N;  X(N) = N b / t_step(N)",
            "docs/conventions.md 'Scaling'"),
    Formula("diminishing returns", "smallest N with S(N+1) - S(N) < threshold; continuous: dS/dN = threshold "
            "(scipy.optimize.brentq)", "docs/conventions.md 'Scaling' (threshold 0.5 in the lab text)"),
    Formula("ring all-reduce (gradients)", "t_AR = 2 (N-1) alpha K + 2 (N-1)/N * M / B,  K = ceil(M / 25 MB) buckets",
            "Patarasuk & Yuan 2009; Thakur et al. 2005; PyTorch DDP bucket_cap_mb = 25 (explorer/cost/time.py dp_time)",
            "the alpha term grows with N and ends the scaling; the M/B term tends to 2 M / B"),
    Formula("step time", "t_step = t_compute + max(0, t_AR - overlap * backward of the last micro-batch) + t_optimizer",
            "explorer/cost/step.py; overlap: Li et al., PyTorch Distributed (VLDB 2020) sec. 3.2.3"),
    Formula("MFU", "MFU = model FLOPs per second / (N x peak FLOP/s)", "docs/conventions.md 'Utilisation'"),
]


FORMULAS_NCCL = [
    FORMULAS[0], FORMULAS[1],
    Formula("data-parallel sync (Megatron-LM distributed optimizer, ZeRO-1)",
            "per DDP bucket of max(40M, 1M x DP) parameters: a reduce-scatter of the FP32 gradients and an all-gather "
            "of the bf16 weights; each NCCL call: base + (n - n_nodes) alpha_intra + (n_nodes - 1) alpha_inter + "
            "(n-1)/n M / min(B_NVLink, k B_NIC)",
            "NVIDIA/nccl tuning.cc (per-tier latency, rails); Megatron-LM distributed_data_parallel.py "
            "(explorer/cost/sharding.py, explorer/cost/collectives.py)",
            "k GPUs per node drive k NICs at once (one ring per rail), so the network term falls with the node's "
            "NIC count, and only 2(n_nodes - 1) hops pay the network latency"),
    FORMULAS[3], FORMULAS[4],
]


def _assumptions(sc: ScalingScenario, curves: dict[str, FabricCurve]) -> list[Assumption]:
    out = [Assumption(f"Scaling workload: {sc.why}", sc.source),
           Assumption("Weak scaling: each device keeps its per-step batch; S(N) compares the time to process the same "
                      "number of samples.", "docs/conventions.md 'Scaling'"),
           Assumption("T(1) is the cost model's single-device step for the same per-device batch, also where the "
                      "replica needs several devices to fit (the ideal line N x X(1) is a rate, not a runnable job).",
                      "docs/conventions.md 'Scaling'"),
           Assumption("Flat ring all-reduce over the slowest link the group spans, one NIC per ring: the lab's "
                      "textbook form (a hierarchical all-reduce, lab 06 part 2, would shrink the fabric's share; NCCL, "
                      "as the 3D model costs it, crosses the network once per node, picks a tree when latency "
                      "dominates and drives one NIC per GPU, which pushes the wall out).",
                      "explorer/cost/time.py dp_time; explorer/cost/collectives.py (NCCL forms)")
           if sc.collectives == "textbook" else
           Assumption("Collectives as NCCL runs them, the same as the 3D puzzle: per-tier ring latency, the faster "
                      "of ring and tree per call, one ring per rail (a GPU with its own NIC drives it; a NIC shared "
                      "by the node is split among its GPUs), with the framework's buckets and gradient dtype "
                      "(Megatron-LM: FP32 gradients reduce-scattered, bf16 weights all-gathered under ZeRO-1).",
                      "explorer/cost/collectives.py; explorer/cost/sharding.py; explorer/cost/frameworks.py")]
    if curves:  # the kernel its step times are priced with (every fabric's setup runs the same one)
        out.append(attention_kernel_assumption(make_setup(sc, next(iter(curves.values())).fabric,
                                                          sc.devices_per_node)))
    for c in curves.values():
        shared = " (shared by the node's devices)" if c.fabric.shared_per_node else ""
        out.append(Assumption(f"Fabric {c.fabric.name}: {human_number(c.fabric.bandwidth * 8 / 1e9)} Gb/s line rate"
                              f"{shared}, "
                              f"{c.fabric.efficiency:.0%} achievable, alpha {human_duration(c.fabric.latency_s)}",
                              c.fabric.source))
    return out


# --- attempts: a student's (fabric, N) -------------------------------------------------------------
ATTEMPT_VARIABLES = ["fabric", "devices"]
# Both columns are required: every track's scenario compares two fabrics (lab05_distributed.toml), so an empty fabric
# has no scenario value to take, and the template (written per track, before any --fabric) must not say it has
ATTEMPT_REQUIRED = ["fabric", "devices"]
ATTEMPT_KINDS = {"fabric": "name", "devices": "count"}
ATTEMPT_ALIASES = {"n": "devices", "gpus": "devices", "nodes": "devices"}
MAX_ATTEMPTS = None


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """No defaults: both columns are required (ATTEMPT_REQUIRED). The scenario's --fabric is still checked here,
    so a bad name is refused with the track's list wherever it is read."""
    sc = scenario(track)
    parse_fabrics(options.get("fabric"), track_fabrics(sc.track))
    return {}


def columns_hint(track: str = "cloud") -> str:
    """The template's line on what an attempt must give and what the default scenario searches (reports.attempts
    prints it under the values): both columns, since the track's scenario compares several fabrics."""
    sc = scenario(track)
    why = (f"the {sc.track.key} scenario compares {len(sc.fabrics)} fabrics, {', '.join(sc.fabrics)}, so a fabric "
           "has no single default" if len(sc.fabrics) > 1 else f"the {sc.track.key} scenario's fabric is "
           f"{sc.fabrics[0]}, and it is still written out")
    return (f"required: fabric, devices (no empty cell: {why}); searched by default: "
            f"{'those fabrics' if len(sc.fabrics) > 1 else 'that fabric'} and devices 1-{sc.n_max} "
            "(--fabric, --max-devices)")


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named column takes on `track` (`explore attempts template`): the links its devices can have
    between nodes (track_fabrics: on a fleet track its inter-node radios, on cloud its wires), the list
    evaluate_attempt checks an attempt's fabric against."""
    return {"fabric": track_fabrics(scenario(track).track)}


def _attempt_fabric(track: Track, value: Any) -> str:
    """The catalog key of an attempt's one fabric (a key or alias), if it is among attempt_choices(track); else a
    one-line UsageError naming it and that list (check_track_fabrics says why a known link is not the track's)."""
    valid = attempt_choices(track.key)["fabric"]
    names = [x.strip() for x in value.split(",") if x.strip()] if isinstance(value, str) else []
    if len(names) != 1:
        raise UsageError(f"attempt needs exactly one fabric, got {V.short(value)}; valid on the {track.key} track: "
                         f"{', '.join(valid)}")
    try:
        key = get_link(names[0]).key
    except UsageError:
        raise unknown_name("fabric", names[0], valid) from None
    return check_track_fabrics(track, [key])[0]


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score a (fabric, N) against the scenario `options` (a report's `scenario`): throughput (maximised)
    subject to 'one more device still adds at least threshold x of a device' (the diminishing-returns
    rule), on the same curve the report's optimum is picked from (fabric in the scenario's list,
    N <= max-devices; anything else is outside the searched space)."""
    sc = scenario(track)
    threshold = require_positive("threshold", options.get("threshold", DEFAULT_THRESHOLD))
    fabrics = check_track_fabrics(sc.track, parse_fabrics(options.get("fabric"), track_fabrics(sc.track))
                                  or list(sc.fabrics))
    n_max = require_positive_int("max-devices", options.get("max_devices") or sc.n_max)
    fabric = [_attempt_fabric(sc.track, values.get("fabric"))]
    try:
        n = require_positive_int("devices", int(float(values.get("devices"))))
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"devices must be a positive whole number, got {values.get('devices')!r}") from None
    outside = []
    if fabric[0] not in fabrics:
        outside.append(f"fabric {fabric[0]} is outside the searched space, fabrics: {', '.join(fabrics)}")
    if n > n_max:
        outside.append(f"devices = {n} is outside the searched space, N <= {n_max}")
    setup = make_setup(sc, fabric[0], max(search_size(n_max), n + 1))
    x = [float(n_ * sc.samples_per_device / _eval(setup, sc, n_)["step_time"]) for n_ in (1, n, n + 1)]
    marg = (x[2] - x[1]) / x[0]
    near = _nearest_feasible(sc, setup, n, n_max, threshold) if marg < threshold or n > n_max else []
    con = Constraint("marginal speedup of one more device", marg, threshold, "x", ">=",
                     binding=abs(marg - threshold) < 0.05)
    return {"feasible": con.satisfied and not outside,
            "figures": {"samples_per_s": Figure(x[1], f"{sc.sample_word}s/s", "throughput"),
                        "efficiency": Figure(x[1] / (n * x[0]), "fraction", "scaling efficiency")},
            "violations": [] if con.satisfied else [con], "outside_space": outside, "objective": x[1],
            "objective_name": "samples_per_s", "sense": "max",
            # one change at a time: N - 1 or N + 1 on the attempt's fabric, or the same N on each other fabric the
            # scenario compares (InfiniBand instead of 10 Gb Ethernet on cloud: the part's question is which fabric
            # moves the communication wall, and N +- 1 alone never asked it)
            "neighbours": [{"fabric": fabric[0], "devices": m} for m in (n - 1, n + 1) if 1 <= m <= n_max]
            # and the nearest N on the same fabric that meets the rule within N <= max-devices, each side (1,024 for
            # 1,100 on InfiniBand: n +- 1 alone left 'no single move reduces the violation')
            + [{"fabric": fabric[0], "devices": m} for m in near if m not in (n - 1, n + 1)]
            + [{"fabric": f, "devices": n} for f in fabrics if f != fabric[0]]}


def _nearest_feasible(sc: ScalingScenario, setup: Setup, n: int, n_max: int, threshold: float) -> list[int]:
    """The N <= n_max nearest to n on each side at which one more device still adds at least `threshold` of one
    device's speedup (the rule evaluate_attempt scores), on the attempt's fabric (`setup`), from the same cost model
    over N = 1..n_max + 1; [] where no N meets it."""
    grid = np.arange(1, n_max + 2, dtype=float)
    x = grid * sc.samples_per_device / np.asarray(_eval(setup, sc, grid)["step_time"], dtype=float)
    ok = np.flatnonzero(np.diff(x) / x[0] >= threshold) + 1  # N whose N -> N + 1 meets the rule
    below, above = ok[ok < n], ok[ok > n]
    return [int(v) for v in ((below[-1] if below.size else None), (above[0] if above.size else None))
            if v is not None]
