"""The hierarchy puzzle's words: the headline, the findings on the multiplier and on gradient accumulation, how a sync
runs, the objective's tie and the intra link's duplex assumption."""

from __future__ import annotations

from dataclasses import replace

from explorer.cost import collectives as col
from explorer.puzzles.collective_scenario import CollectiveScenario
from explorer.puzzles.hierarchy.model import TIME_SCALE, Evaluation, exhaustive_best, link_busy_s
from explorer.puzzles.hierarchy.scenario import NAMES, SLOW_FACTOR, Instance
from explorer.report import Assumption, Finding
from explorer.units import human_duration as dur
from explorer.units import human_number, human_percent, plural


def _rate(bps: float) -> str:
    for scale, unit in ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if bps >= scale:
            return f"{human_number(bps / scale)} {unit}"
    return f"{human_number(bps)} B/s"


def _multiplier_finding(inst: Instance, best: Evaluation, flat: float, flat_label: str, mult: float,
                        textbook: float, lab_mult: float, by_g: list, proven: bool = True) -> Finding:
    per_g = "; ".join(f"g={r[0]}: {dur(r[4])} ({human_number(r[5])}x)" for r in by_g)
    if inst.flat_nccl_s is not None:
        return Finding(
            "What does hierarchy buy here (the hierarchical multiplier)?",
            f"Against the flat all-reduce as NCCL runs it ({dur(flat)}): {human_number(mult)}x. NCCL builds one ring "
            f"per rail, so the {inst.devices_per_group} GPUs of a node drive their {inst.devices_per_group} NICs at "
            f"once and each NIC already carries about M/{inst.devices_per_group}: the flat ring is hierarchical in "
            f"effect, and NCCL counts its latency by tier (2(n_nodes - 1) network hops, not 2(N - 1)). Against the "
            f"textbook flat ring through one NIC per ring ({dur(textbook)}) the two-tier plan is "
            f"{human_number(lab_mult)}x faster: that is the lab's multiplier, and what a node with one NIC shared by "
            f"its GPUs would see. Best per g: {per_g}.")
    return Finding(
        "What does hierarchy buy here (the hierarchical multiplier)?",
        (f"Almost nothing at this track's tiers: the intra tier ({inst.intra_name}, {_intra_rate(inst)}) is "
         + ("slower per device than" if inst.bw_intra / max(1, inst.channel_stations)
            < _ring_rate(inst) else "not much faster than")
         + f" the path onto the inter tier ({_rate(_ring_rate(inst))}"
         f"{' per device' if inst.inter_relayed and inst.intra_half_duplex else ''}"
         f"{' as a ring step sees it, its two sends in turn' if inst.inter_exchange_half else ''}), so local "
         "aggregation saves "
         f"little or costs more ({'optimum' if proven else 'answer'} g = {best.aggregation}). " if mult < 1.05 else "")
        + f"{flat_label[0].upper() + flat_label[1:]} on {inst.inter_name}: {dur(flat)}; two-tier"
        f"{', pipelined' if best.chunks > 1 else ''}: {dur(best.sync_s)} ({human_number(mult)}x). "
        + (f"The {inst.slow_tier} carries M/g per device instead of M, the {inst.fast_tier} absorbs the rest. "
           if mult >= 1.05 else "What helps here is sending fewer bytes (part 3, compression). ")
        + f"Best per g: {per_g}.")


def _accumulation_finding(sc: CollectiveScenario, inst: Instance, best: Evaluation, slow_inst: Instance,
                          slow: Evaluation) -> Finding:
    """The lab's reflection: the intra-node link idles while the network is saturated; what can gradient
    accumulation do? Busy fractions of both tiers, where the premise holds, and the time to quality of a larger
    accumulated batch there."""
    from explorer.cost import convergence as conv
    from explorer.puzzles.batch import critical_batch_samples
    from explorer.puzzles.training_scenario import scenario as lab08
    from explorer.tracks import get_track

    # the batch part's critical batch (lab 08 part 3), whole samples rounded down: one rule for both parts
    t8 = lab08(sc.track)
    b_crit = critical_batch_samples(get_track(sc.track), t8)
    rounded = ", Kaplan et al.'s fit rounded down to a whole batch" if t8.critical_batch_samples is None else ""
    compute = replace(sc, global_batch=inst.global_batch).compute_s_per_step  # at the batch being solved

    def busy(i: Instance, e: Evaluation) -> tuple[float, float]:
        step = compute + e.exposed_us / TIME_SCALE
        intra_s, inter_s = link_busy_s(i, e)
        return intra_s / step, inter_s / step

    fi, fn = busy(inst, best)
    si, sn = busy(slow_inst, slow)
    # where the premise holds: the slow tier so slow that the sync is twice the backward it can hide behind
    hide = int(round(slow.micro_batch)) * inst.backward_s_per_sample
    factor = onset = SLOW_FACTOR
    sat = slow
    if slow.exposed_us == 0 and slow.phases_s["inter"] > 0:
        # the sync grows about in proportion to the slow tier's slowness: it starts to show where it equals the
        # backward it hides behind, and is called saturated at twice that (half of it then waits)
        onset = SLOW_FACTOR * hide / slow.sync_s
        factor = 2.0 * onset
        sat = exhaustive_best(replace(inst, bw_inter=inst.bw_intra / factor, flat_nccl_s=None))
    b = int(round(sat.micro_batch))
    rows = []
    exposed = max(0.0, sat.sync_s - b * inst.backward_s_per_sample)  # the sync the last backward does not hide
    for a in (1, 2, 4):
        g_batch = inst.global_batch * a
        step = a * compute + exposed
        rows.append((a, g_batch, step / g_batch, step / g_batch * conv.samples_multiplier(g_batch, b_crit)))
    base = rows[0][3]
    table = (f"at that {inst.slow_tier} ({human_number(factor)}x slower than the {inst.fast_tier}) a whole step "
             "per sample, "
             f"(a x {dur(compute)} of compute + {dur(exposed)} of sync not hidden) / global batch, is "
             + "; ".join(f"{dur(per)} with {plural(a, 'accumulation step')} (global batch {gb:,}), time to "
                         f"quality x{human_number(t / base)}" for a, gb, per, t in rows)
             + " (a step's time per sample, not the synchronization time per sample of the Figures, which is at the "
             "track's own tiers)")
    relayed = (f" (it also relays the {inst.slow_tier}'s bytes: {inst.inter_name})" if inst.relay_fraction > 0 else "")
    premise = (f"The premise does not hold on this track: as specified the intra tier is busy {human_percent(fi)} of "
               f"the step{relayed} and the inter tier {human_percent(fn)}, and even {SLOW_FACTOR:.0f}x slower than "
               f"the {inst.fast_tier} the inter tier is busy {human_percent(sn)} (intra {human_percent(si)}) and "
               "hides behind "
               f"the backward pass. It starts to show at about {human_number(onset)}x slower, where the sync "
               f"equals the backward it hides behind (b x {dur(inst.backward_s_per_sample)} = {dur(hide)}), and "
               f"saturates, taken here as the sync twice that backward so that half of it waits, at about "
               f"{human_number(factor)}x slower, where "
               if slow.exposed_us == 0 else
               f"As specified the intra tier is busy {human_percent(fi)} of the step{relayed} and the inter tier "
               f"{human_percent(fn)}; {SLOW_FACTOR:.0f}x slower the inter tier is busy {human_percent(sn)} against "
               f"{human_percent(si)} for the intra tier, and ")
    return Finding(
        "Your intra-node link idles while the network is saturated: what gradient-accumulation change helps?",
        premise + f"{dur(sat.exposed_us / TIME_SCALE)} of each step waits for the network. At a fixed global batch "
        f"of {inst.global_batch:,} accumulation moves no byte off the network: there is one all-reduce per step "
        f"whatever a is; it only decides how much backward hides the sync (b x {dur(inst.backward_s_per_sample)}, so "
        f"the largest micro-batch that fits hides most). Accumulating more micro-batches per step raises the global "
        f"batch and divides the network time per sample, until the critical batch ({b_crit:,} samples{rounded}; "
        f"McCandlish et al. 2018, E/E_min = 1 + B/B_crit) makes the extra samples cost more than the sync saved: "
        f"{table}. The idle intra-node link is best used as the hierarchy uses it: reduce over it first "
        f"(g = {sat.aggregation}) so each NIC carries M/{sat.aggregation}, and accumulate into the reduce-scattered "
        "shard.")


def _intra_rate(inst: Instance) -> str:
    """The intra link's rate, and on a half-duplex shared channel what each of its devices gets."""
    if not inst.channel_stations:
        return _rate(inst.bw_intra)
    return (f"{_rate(inst.bw_intra)} on one channel its {inst.channel_stations} devices share: "
            f"{_rate(inst.bw_intra / inst.channel_stations)} each")


def _sync_text(inst: Instance, e: Evaluation) -> str:
    """How the sync of evaluation e runs: pipelined or not, and what bounds it."""
    if e.aggregation == 1:
        return f"the flat all-reduce (one phase, nothing to pipeline) takes {dur(e.sync_s)} per step"
    intra_s, inter_s = link_busy_s(inst, e)
    carries = (f"{inst.intra_name} carries {dur(intra_s)} of it: the intra phases"
               + (" and the relayed slow-tier bytes" if inst.relay_fraction > 0 else "")
               + f" take turns on it (half duplex, one channel for the group's {inst.channel_stations} devices: "
               "one of them sends at a time)"
               if inst.intra_half_duplex else
               f"{inst.intra_name} carries {dur(intra_s)} of it in its busier direction")
    binds = intra_s >= inter_s
    if e.chunks == 1:
        why = carries if binds and intra_s >= 0.9 * e.serial_s else \
            "a chunk's latency costs more than overlapping the phases saves"
        return f"the three phases take {dur(e.sync_s)} per step in series (chunking gains nothing: {why})"
    bound = f"; {carries}" if binds and intra_s >= 0.9 * e.sync_s else ""
    return (f"the three phases pipelined over {plural(e.chunks, 'chunk')} take {dur(e.sync_s)} per step "
            f"({dur(e.serial_s)} one after the other{bound})")


def _ring_rate(inst: Instance) -> float:
    """A device's rate onto the slow tier as a ring step sees it: half the path's on a half-duplex link."""
    return float(col.exchange_bandwidth(inst.inter_bandwidth(inst.devices_per_group), inst.inter_exchange_half))


def _duplex_assumption(sc: CollectiveScenario, inst: Instance) -> Assumption:
    """Which phases may overlap on the intra link, and why (its duplex)."""
    if inst.intra_half_duplex:
        return Assumption(f"{sc.intra.name} is half duplex and shared: the {inst.channel_stations} devices of a group "
                          f"share one channel at the catalog's {_rate(inst.bw_intra)} (a channel rate), one "
                          "transmitter at a time, so an intra phase takes the bytes all of them send over that rate "
                          "(a ring phase (S/g)(g-1) M/B, S times the full-duplex term) and the two intra phases"
                          + (" and the slow-tier bytes relayed over it (up and down, for every device of the group)"
                             if inst.inter_relayed else "")
                          + " take turns on it and cannot overlap when pipelined; peers reach each other in one "
                          "transmission (through an access point or a piconet's central it would be two)",
                          sc.intra.duplex_source + "; explorer/cost/collectives.py "
                          "shared_channel_phase_time (Bianchi, IEEE JSAC 2000; Zhu, Wang & Huang, IEEE TWC 2020)")
    return Assumption(f"{sc.intra.name} is full duplex: a device's send and receive directions are separate, so a "
                      "tree's reduce (up) and broadcast (down) overlap when pipelined; a ring's reduce-scatter and "
                      "all-gather both send (g-1)/g M from every device and take turns on its send direction",
                      (sc.intra.duplex_source or "hardware/data/links.toml duplex") + "; explorer/cost/collectives.py "
                      "hierarchical_phase_shares; Patarasuk & Yuan 2009; Jeaugey 2019 (NCCL 2.4 trees)")


TIE_BREAK = "the shortest sync (the pipelined two-tier time), then the fewest accumulation steps"


def _tie_short(best: Evaluation, ranked: list[Evaluation], proven: bool = True) -> str:
    """The tie in one sentence for the headline ('' without one)."""
    tied = [e for e in ranked if e.exposed_us == best.exposed_us]
    if len(tied) <= 1:
        return ""
    flat = best.aggregation != 1 and any(e.aggregation == 1 for e in tied)
    return (f"The objective ties ({len(tied)} of {len(ranked)} feasible plans"
            + (", the flat ring g = 1 among them" if flat else "")
            + (", all optimal" if proven else ", all as good as the best found")
            + "); the shortest sync breaks the tie.")


def _tie_text(inst: Instance, best: Evaluation, ranked: list[Evaluation], proven: bool = True) -> str:
    """The objective's tie, said where there is one: how many feasible plans expose as little as the answer (the flat
    all-reduce among them, if it does), and the tie-break that picks the answer and what it buys. An attempt grader
    compares the objective, so every tied plan 'reaches the optimum'; the report says the same."""
    tied = [e for e in ranked if e.exposed_us == best.exposed_us]
    if len(tied) <= 1:
        return ""
    flat = [e for e in tied if e.aggregation == 1]
    exposed = dur(best.exposed_us / TIME_SCALE) if best.exposed_us else "no communication"
    return (f"The objective ties: {len(tied)} of the {len(ranked)} feasible plans expose {exposed}"
            + (f", the flat ring (g = 1) among them ({dur(min(e.sync_s for e in flat))} per sync at best)"
               if flat and best.aggregation != 1 else "")
            + (", and every one of them reaches the optimum" if proven else
               ", and every one of them is as good as the best found (not proven optimal)")
            + f"; the tie-break, {TIE_BREAK}, picks this one"
            + (f" ({dur(best.sync_s)}), which keeps the most backward time to spare should the compute that hides "
               "the sync shrink." if not best.exposed_us else "."))


def _headline(inst: Instance, best: Evaluation, flat_short: str, mult: float, slow_mult: float,
              lab_mult: float | None) -> str:
    local = (f"Aggregate g = {best.aggregation} devices locally ({NAMES[best.intra]}), " if best.aggregation > 1
             else "No local aggregation (g = 1, flat), ")
    steps = plural(best.accumulation, "accumulation step")
    if lab_mult is not None:
        vs = (f"{_versus(mult, 'the flat all-reduce as NCCL runs it')} ({_versus(lab_mult, 'the textbook flat ring')})")
    else:
        vs = _versus(mult, "a flat ring")
    piped = (" with the tiers pipelined" if best.chunks > 1 else " with the tiers in series") if best.aggregation > 1 \
        else ""
    return (f"{local}{NAMES[best.inter]} across the {inst.slow_tier}, {steps}: {dur(best.sync_s)} per sync{piped}, "
            f"{vs}; {human_number(slow_mult)}x if the {inst.slow_tier} were {SLOW_FACTOR:.0f}x slower than the "
            f"{inst.fast_tier}" + (f" ({_faster_than_given(inst)})" if _faster_than_given(inst) else "") + ".")


def _faster_than_given(inst: Instance) -> str:
    """Where the given slow tier is already slower than 1/SLOW_FACTOR of the fast tier, the lab's what-if makes it
    faster, not slower: say so beside the figure."""
    slow_bw = inst.bw_intra / SLOW_FACTOR
    return (f"which is faster than the {_rate(inst.bw_inter)} given: the what-if speeds it up"
            if inst.bw_inter < slow_bw * (1 - 1e-9) else "")


def _versus(ratio: float, what: str) -> str:
    """'1.04x faster than X', 'as fast as X', '0.8x the speed of X (slower)': a ratio below 1 is never faster."""
    if abs(ratio - 1.0) < 0.005:
        return f"as fast as {what}"
    if ratio > 1.0:
        return f"{human_number(ratio)}x faster than {what}"
    return f"{human_number(ratio)}x the speed of {what} (slower)"


def _verdict(slow_mult: float, mult: float) -> str:
    if slow_mult < 1.05:
        return "No"
    return "Yes, and more than today" if slow_mult > mult * 1.05 else "Yes"
