"""The words of the scaling puzzle: the sentences its findings and headline are built from (isolated steps,
efficiency, where returns diminish, the best configuration, what eats the step), its formulas and
assumptions."""

from __future__ import annotations

import numpy as np

from explorer.assumptions import attention_kernel_assumption
from explorer.cost.efficiency import DEFAULT_EFFICIENCY
from explorer.hardware.catalog import Link
from explorer.puzzles.scaling.model import FabricCurve, _bucket_calls, make_setup, recovers, regained_at, run_length
from explorer.puzzles.scaling.workload import ScalingScenario
from explorer.report import Assumption, Formula
from explorer.units import human_duration, human_number, human_percent, human_sci


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
    return (f"Isolated one-{dev} steps, on the other side of {human_sci(threshold, 6)} from the {devs} around them: "
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
            f"{human_sci(factor, 6)} x {tb} / {ta}")
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
                + (f", below {human_sci(c.threshold, 6)}x for good from N = "
                   f"{c.n_sustained:,}" if c.n_sustained else ""))
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
        return (f"No fabric and N meet the rule: on no fabric does one more {dev} add {human_sci(threshold, 6)}x at "
                f"any N up to "
                f"{n_max:,}. "
                f"The best is one {dev} ({human_number(c.samples_per_s[0], 4)} {sc.sample_word}s/s, alike on every "
                f"fabric), on {_short(c.fabric)}, whose second {dev} adds the most ({sign}{human_number(abs(m))}x"
                + (f"; {others}" if others else "") + "): the smallest violation of the rule.")
    text = (f"{_short(c.fabric)} at N = {n:,}: {human_number(c.samples_per_s[n - 1], 4)} {sc.sample_word}s/s, the "
            f"most of any fabric and N <= {n_max:,} where {n:,} -> {n + 1:,} adds at least {human_sci(threshold, 6)}x "
            f"({sign}{human_number(abs(m), 4)}x)")
    if n in c.isolated:
        text += (f". That N is an isolated step of the curve ({n:,} -> {n + 1:,} is on the other side of "
                 f"{human_sci(threshold, 6)} from the {devs} around it): the rule judges each N by its own marginal, "
                 f"so the step "
                 "counts"
                 + (f", though the curve is below {human_sci(threshold, 6)}x for good from N = {c.n_sustained:,}, "
                    f"isolated steps "
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


def _short(link: Link) -> str:
    """A fabric's name without its parenthesised scope or protocol: '10 Gb Ethernet', 'InfiniBand NDR 400 Gb/s'."""
    return link.name.split(" (")[0].split(",")[0]


def _speed(x: float) -> str:
    return f"{human_number(x)}x faster" if x >= 1.0 else f"{human_number(x)}x (slower)"


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
