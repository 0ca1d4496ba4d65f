"""The hierarchy puzzle's Report: `solve` runs the search on a track's instance and on the lab's what-if (the slow tier
100x slower than the fast one) and assembles the figures, findings, tables and plot data (the tier topology)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from explorer import validation as V
from explorer.errors import UsageError
from explorer.puzzles.collective_scenario import get_scenario
from explorer.puzzles.fleetlens import fleet_view
from explorer.puzzles.hierarchy.model import TIME_SCALE, enumerate_all, exhaustive_best, flat_time, solve_cpsat
from explorer.puzzles.hierarchy.narration import (
    TIE_BREAK,
    _accumulation_finding,
    _duplex_assumption,
    _faster_than_given,
    _headline,
    _multiplier_finding,
    _rate,
    _sync_text,
    _tie_short,
    _tie_text,
    _verdict,
)
from explorer.puzzles.hierarchy.scenario import MAX_CHUNKS, MIN_CHUNK_BYTES, NAMES, SLOW_FACTOR, Instance, make_instance
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_duration as dur
from explorer.units import human_number, plural


@fleet_view("hierarchy")
def solve(track: str = "cloud", *, message_bytes: float | None = None, inter_bandwidth_bps: float | None = None,
          global_batch: int | None = None, time_limit_s: float | None = None, engine: str = "cpsat",
          **_: Any) -> Report:
    """Hierarchical AllReduce optimum for a track (CP-SAT, checked by the exhaustive evaluator)."""
    t0 = time.perf_counter()
    sc = get_scenario(track)
    inst = make_instance(sc, message_bytes=message_bytes, inter_bandwidth_bps=inter_bandwidth_bps,
                         global_batch=global_batch)
    if engine not in ("cpsat", "enumerate"):
        raise UsageError(f"engine {V.short(engine)} unknown; valid: cpsat, enumerate")
    time_limit_s = V.TIME_LIMIT.check("time-limit", time_limit_s)
    if engine == "cpsat":
        best, status, _wall = solve_cpsat(inst, time_limit_s)
    else:
        best, status = exhaustive_best(inst), "optimal"
    all_evals = enumerate_all(inst)
    check = min((e for e in all_evals if e.feasible), key=lambda e: e.key)
    textbook_flat = flat_time(inst)
    flat = inst.flat_nccl_s if inst.flat_nccl_s is not None else textbook_flat
    flat_label = ("flat all-reduce as NCCL runs it (one ring per rail)" if inst.flat_nccl_s is not None
                  else f"flat ring over all {inst.devices} on the {inst.slow_tier}")
    mult = flat / best.sync_s if best.sync_s > 0 else float("inf")
    lab_mult = textbook_flat / best.sync_s if best.sync_s > 0 else float("inf")
    per_sample = best.sync_s / inst.global_batch

    # the 100x question: the slow tier at 1/100 of the fast tier's bandwidth
    slow_bw = inst.bw_intra / SLOW_FACTOR
    slow_nccl = sc.dp_sync_time(inst.message_bytes, inter_bandwidth=slow_bw) if sc.setup is not None else None
    slow_inst = replace(inst, bw_inter=slow_bw, flat_nccl_s=slow_nccl)
    slow_best = exhaustive_best(slow_inst)
    slow_flat = slow_nccl if slow_nccl is not None else flat_time(slow_inst)
    slow_mult = slow_flat / slow_best.sync_s

    figures = {
        "aggregation": Figure(best.aggregation, "devices", "aggregation factor g (devices reducing locally)"),
        "intra_algorithm": Figure(NAMES[best.intra], "", f"intra-tier algorithm ({inst.intra_name})"),
        "inter_algorithm": Figure(NAMES[best.inter], "", f"inter-tier algorithm ({inst.inter_name})"),
        "accumulation": Figure(best.accumulation, "steps", "gradient accumulation steps a"),
        "micro_batch": Figure(int(round(best.micro_batch)), "samples", "micro-batch per device b"),
        "sync_time_s": Figure(best.sync_s, "s", "two-tier all-reduce per step, phases pipelined"),
        "serial_time_s": Figure(best.serial_s, "s", "the same with its phases one after the other"),
        "pipeline_chunks": Figure(best.chunks, "chunks", "pipelining chunks"),
        "exposed_comm_s": Figure(best.exposed_us / TIME_SCALE, "s", "exposed communication per step (objective)"),
        "sync_time_per_sample_s": Figure(per_sample, "s", "synchronization time per sample"),
        "intra_time_s": Figure(best.phases_s["intra_reduce"] + best.phases_s["intra_gather"], "s", "intra-tier time"),
        "inter_time_s": Figure(best.phases_s["inter"], "s", "inter-tier time"),
        "flat_time_s": Figure(flat, "s", flat_label),
        "hierarchical_multiplier": Figure(mult, "x", f"{flat_label} / two-tier"),
        "multiplier_100x_slower": Figure(slow_mult, "x", f"the same with the {inst.slow_tier} {SLOW_FACTOR:.0f}x "
                                         f"slower than the {inst.fast_tier}"),
        "memory_bytes": Figure(best.memory_bytes, "B", "memory per device"),
        "message_bytes": Figure(inst.message_bytes, "B", "gradient message M"),
    }
    if inst.flat_nccl_s is not None:
        figures["textbook_flat_time_s"] = Figure(textbook_flat, "s", "textbook flat ring through one NIC per ring")
        figures["textbook_multiplier"] = Figure(lab_mult, "x", "textbook flat ring / two-tier (the lab's multiplier)")
    b = int(round(best.micro_batch))
    mem_next = inst.fixed_memory + 2 * b * inst.activation_per_sample + (
        inst.accumulation_buffer if best.accumulation // 2 > 1 else 0)
    mem_binding = best.accumulation > 1 and mem_next > inst.memory_limit
    constraints = [
        Constraint("memory", best.memory_bytes, inst.memory_limit, "B", "<=", mem_binding,
                   "fixed + b x activations/sample + [a > 1] accumulation buffer"),
        Constraint("global batch", inst.devices * best.micro_batch * best.accumulation, inst.global_batch,
                   "samples", "==", True, "N x b x a = G"),
        Constraint("accumulation steps", best.accumulation, inst.max_accumulation, "", "<=",
                   best.accumulation == inst.max_accumulation),
    ]
    ranked = sorted((e for e in all_evals if e.feasible), key=lambda e: e.key)
    rows = [[e.aggregation, NAMES[e.intra], NAMES[e.inter], e.accumulation, int(round(e.micro_batch)),
             e.phases_s["intra_reduce"] + e.phases_s["intra_gather"], e.phases_s["inter"], e.serial_s, e.sync_s,
             e.exposed_us / TIME_SCALE] for e in ranked[:12]]
    by_g = []
    for g in inst.aggregation_choices:
        eg = min((e for e in ranked if e.aggregation == g), key=lambda e: e.key, default=None)
        if eg is not None:
            by_g.append([g, inst.devices // g, NAMES[eg.intra], NAMES[eg.inter], eg.sync_s, flat / eg.sync_s])
    today, what_if = "as specified", (f"what if the {inst.slow_tier} were {SLOW_FACTOR:.0f}x slower than the "
                                          f"{inst.fast_tier}")
    flat_short = "flat (NCCL, rings per rail)" if inst.flat_nccl_s is not None else "flat ring (g=1)"
    waterfall = {"configs": [
        {"label": f"{'optimum' if status == 'optimal' else 'answer'} g={best.aggregation} "
                  f"({NAMES[best.intra]}/{NAMES[best.inter]})", "panel": today,
         "phases": best.phases_s},
        {"label": flat_short, "panel": today, "phases": {"intra_reduce": 0.0, "inter": flat, "intra_gather": 0.0}},
        {"label": f"optimum g={slow_best.aggregation} ({NAMES[slow_best.intra]}/{NAMES[slow_best.inter]})",
         "panel": what_if, "phases": slow_best.phases_s},
        {"label": flat_short, "panel": what_if,
         "phases": {"intra_reduce": 0.0, "inter": slow_flat, "intra_gather": 0.0}},
    ], "phase_labels": {"intra_reduce": "intra-tier reduce(-scatter)", "inter": "inter-tier AllReduce",
                        "intra_gather": "intra-tier all-gather / broadcast"}}
    agree = check.key == best.key
    tie = _tie_text(inst, best, ranked, status == "optimal")
    findings = [
        Finding("Which aggregation factor, tier algorithms and accumulation minimise the exposed communication?",
                f"g = {best.aggregation} ({inst.devices // best.aggregation} participants on the {inst.slow_tier}), "
                f"{NAMES[best.intra]} inside the group, {NAMES[best.inter]} between groups, "
                f"{plural(best.accumulation, 'accumulation step')} of micro-batch {b}: "
                f"{_sync_text(inst, best)}, "
                + (f"{dur(best.exposed_us / TIME_SCALE)} exposed" if best.exposed_us else "none of it exposed")
                + f" after overlapping the last micro-batch's backward, {dur(per_sample)} per sample. CP-SAT "
                f"({status}) and the exhaustive check "
                f"over {len(all_evals)} configurations "
                + ("agree." if agree else "DISAGREE (a bug: please report it).") + (f" {tie}" if tie else "")),
        _multiplier_finding(inst, best, flat, flat_label, mult, textbook_flat, lab_mult, by_g, status == "optimal"),
        Finding(f"Will a hierarchical strategy help if the inter-node link is {SLOW_FACTOR:.0f}x slower?",
                f"{_verdict(slow_mult, mult)}: with the {inst.slow_tier} at 1/{SLOW_FACTOR:.0f} of the "
                f"{inst.fast_tier} "
                f"({_rate(slow_bw)}" + (f"; {_faster_than_given(inst)}" if _faster_than_given(inst) else "")
                + f"), the {flat_short.split(' (')[0]} baseline takes {dur(slow_flat)} and the best "
                f"two-tier plan (g = {slow_best.aggregation}, {NAMES[slow_best.intra]}/{NAMES[slow_best.inter]}) "
                f"{dur(slow_best.sync_s)}: {human_number(slow_mult)}x. "
                + ("NCCL's rings per rail already send M/g through each NIC, so local aggregation adds little "
                   "however slow the network gets; against the textbook flat ring (one NIC per ring) the multiplier "
                   f"tends to g = {max(inst.aggregation_choices)}." if inst.flat_nccl_s is not None else
                   f"As the {inst.slow_tier} dominates, the multiplier tends to g = {max(inst.aggregation_choices)} "
                   f"(the {inst.slow_tier} moves M/g).")),
        _accumulation_finding(sc, inst, best, slow_inst, slow_best),
        Finding("Communication waterfall (intra vs inter time)?",
                f"Optimum: intra reduce {dur(best.phases_s['intra_reduce'])}, inter "
                f"{dur(best.phases_s['inter'])}, intra gather {dur(best.phases_s['intra_gather'])}; "
                + (f"pipelined {dur(best.sync_s)} instead of {dur(best.serial_s)} in series."
                   if best.chunks > 1 else f"{dur(best.sync_s)} in series (pipelining gains nothing here).")),
    ]
    formulas = [
        Formula("two-tier AllReduce", "phases: intra reduce-scatter (g-1) alpha_f + (g-1)/g M/B_f; inter "
                "T_inter(M/g, N/g, alpha_s, B_s); intra all-gather as the reduce-scatter",
                "docs/conventions.md 'Collectives' (hierarchical AllReduce); intra = tree variant: ceil(log2 g)"
                "(alpha_f + M/B_f) each way + T_inter(M, N/g)"),
        *([Formula("intra phase on a shared half-duplex channel", "ring: (g-1) alpha_f + (S/g)(g-1) M/B_f; tree: "
                   "ceil(log2 g) alpha_f + (S/g)(g-1) M/B_f",
                   "explorer/cost/collectives.py shared_channel_phase_time (one transmitter at a time on the "
                   "channel: IEEE 802.11 DCF, Bluetooth Core Spec Vol 6 Part B 4.5)",
                   f"S = {inst.channel_stations} devices share the channel of rate B_f; every byte any of them sends "
                   "occupies it")] if inst.channel_stations else []),
        *([Formula("slow-tier path relayed over the shared channel", "B_s per participant = min(B_path, B_f/2) / P",
                   "explorer/cost/collectives.py relayed_path_bandwidth",
                   "P = a group's slow-tier participants (every device with a ring inside, one per g with a tree); "
                   "each sends and receives its bytes through the hub, both over the one channel")]
          if inst.inter_relayed and inst.intra_half_duplex else []),
        Formula("pipelined phases", "T(k) = sum_i (l_i + b_i/k) + (k-1) P(k), P(k) = max(max_i (l_i + b_i/k), "
                "max_r sum_i w_ir b_i/k), best k",
                "chunked pipelining of the phases (NCCL's hierarchical algorithms; explorer/cost/collectives.py "
                "pipelined_stages_time, hierarchical_phase_shares)",
                "l_i = a phase's latency, b_i its transfer time, w_ir its share on link resource r (a direction of a "
                "full-duplex link, a half-duplex link as a whole): phases on one resource take turns, so T >= the "
                "traffic of every resource"),
        Formula("exposed communication", "T_exposed = max(0, T_sync - b t_bwd)",
                "PyTorch DDP overlap with no_sync accumulation (Li et al. VLDB 2020, sec. 3.2.3)",
                "Only the last micro-batch's backward overlaps the AllReduce."),
        Formula("global batch and memory", "N b a = G;  fixed + b act + [a>1] buf <= limit", "lab 06 part 2"),
    ]
    if inst.flat_nccl_s is not None:
        formulas.append(Formula("flat all-reduce as NCCL runs it", "min(ring, tree); ring: base + 2(n - n_nodes) "
                                "alpha_intra + 2(n_nodes - 1) alpha_inter + 2(n-1)/n M / min(B_intra, k B_NIC)",
                                "NVIDIA/nccl tuning.cc; rails: k ranks per node drive k NICs (docs/conventions.md "
                                "'Collectives inside the training-step model')"))
    assumptions = [
        Assumption(f"Scenario: {sc.scenario}", sc.source),
        *([Assumption(f"Plan: {sc.derivation}", "explorer/cost/step.py")] if sc.derivation else []),
        *_tier_assumptions(sc, inst, inter_bandwidth_bps),
        *([Assumption(f"Devices reach {sc.inter.name} only through their group's hub over {sc.intra.name}: the "
                      "slow-tier path has both latencies and the smaller bandwidth (relayed, pipelined)",
                      "lab 06 mobile storyboard")] if sc.inter_through_intra else []),
        _duplex_assumption(sc, inst),
        *([Assumption(f"Measured against NCCL's flat all-reduce, the two-tier sync runs as one operation and pays "
                      f"NCCL's base latency of one call ({inst.call_latency_s * 1e6:.1f} us, Simple protocol) as the "
                      "flat one does; its binomial tree inside a group is the lab's textbook algorithm (NCCL chains "
                      "the ranks of a node, it has no binomial reduce)",
                      "NVIDIA/nccl src/graph/tuning.cc (baseLat; Reduce and Broadcast run ring only)")]
          if inst.call_latency_s else []),
        *([Assumption(f"{sc.inter.name}, the {inst.slow_tier}, is half duplex: a device sends or receives, never "
                      "both, so "
                      "every step of a ring (and of halving-doubling and the pipelined double binary tree) is an "
                      "exchange whose two sends take turns, alpha + 2 M/(N B): those algorithms see half its rate "
                      "(a binomial tree's one-way sends do not); the flat ring and the crossover lens count it alike",
                      (sc.inter.duplex_source or "hardware/data/links.toml duplex") + "; explorer/cost/collectives.py "
                      "allreduce_time half_duplex, exchange_time")] if inst.inter_half_duplex else []),
        Assumption("With g smaller than the group size the N/g-way AllReduce is charged entirely to the slow "
                   "tier (conservative)", "model choice"),
        Assumption(f"Pipelining chunks of at least {MIN_CHUNK_BYTES >> 20} MiB, at most {MAX_CHUNKS:,}",
                   "model choice (NCCL moves 4 MiB buffers per channel step)"),
        Assumption("CP-SAT times in integer microseconds; memory in bytes", "model choice"),
    ]
    data = {"comm_waterfall": waterfall, "topology": _tier_topology(inst, best.aggregation)}
    opt_cfg = best.config
    return Report(
        puzzle="hierarchy", lab="06", part=2, track=sc.track, title="The hierarchical multiplier",
        status="optimal" if status == "optimal" else "feasible",
        headline=_headline(inst, best, flat_short, mult, slow_mult,
                           lab_mult if inst.flat_nccl_s is not None else None)
        + (f" {_tie_short(best, ranked, status == 'optimal')}" if tie else "")
        + _unused_bandwidth_note(sc, inter_bandwidth_bps),
        figures=figures, findings=findings, constraints=constraints, formulas=formulas, assumptions=assumptions,
        tables={"ranking": Table(["g", "intra", "inter", "a", "b", "intra (s)", "inter (s)", "in series (s)",
                                  "pipelined (s)", "exposed (s)"], rows, "Best configurations (feasible, ranked)"),
                "by_aggregation": Table(["g", "slow-tier participants", "intra", "inter", "pipelined (s)",
                                         "multiplier vs flat"], by_g, "Best plan per aggregation factor")},
        plots=["comm_waterfall", "topology"], data=data,
        extra={"objective": {"name": "exposed_comm_s", "value": best.exposed_us / TIME_SCALE, "sense": "min"},
               "configuration": opt_cfg, "exhaustive_check": {"agrees": agree, "evaluated": len(all_evals)},
               "tied_on_objective": sum(1 for e in ranked if e.exposed_us == best.exposed_us),
               "tie_break": TIE_BREAK,
               # the options the caller set (the fleet form says they set the lab's question, not its paths)
               "options_given": {k: v for k, v in (("message_bytes", message_bytes),
                                                   ("inter_bandwidth_bps", inter_bandwidth_bps),
                                                   ("global_batch", global_batch)) if v is not None}},
        solve_time_s=time.perf_counter() - t0,
        scenario={"message_bytes": inst.message_bytes, "inter_bandwidth_bps": inst.bw_inter,
                  "global_batch": inst.global_batch})


def _tier_assumptions(sc, inst: Instance, given_bps: float | None = None) -> list[Assumption]:
    """The two tiers named by where they are (inside a group, between groups) with their rates, not as 'fast' and
    'slow': on mobile the tier between groups is Wi-Fi 6 (120 Mb/s of goodput, links.toml) and the one inside a group
    Bluetooth LE 2M PHY (1.4 Mb/s), yet the path between groups is the slower, relayed through the phone over
    Bluetooth; which one the narration's 'slow tier' is, is said from the rates the model uses."""
    intra_bw = sc.intra.effective_bandwidth
    inter_bw = sc.inter.effective_bandwidth if given_bps is None else given_bps  # --inter-gbs sets the link's own
    inter = (f"Tier between groups (inter): {sc.inter.name}, {_rate(inter_bw)} effective"
             + (" as given" if given_bps is not None else ""))
    if sc.inter_through_intra:
        inter += (f"; a device reaches it only through its group's hub over {sc.intra.name}, so its path runs at "
                  f"{_rate(min(inter_bw, intra_bw))}")
    if inst.inter_slower:
        inter += "; the narration's 'slow tier', the slower per device of the two as a ring step sees each link"
    intra = f"Tier inside a group (intra): {sc.intra.name}, {_rate(intra_bw)} effective" + (
        "; the narration's 'fast tier'" if inst.inter_slower else "")
    return [Assumption(intra, sc.intra.source), Assumption(inter, sc.inter.source)]


def _unused_bandwidth_note(sc, inter_bandwidth_bps: float | None) -> str:
    """One sentence where the inter-tier bandwidth given cannot act: a device that reaches the tier between groups only
    through its hub (mobile: the glasses through the phone over Bluetooth) moves at the smaller of the two rates
    (scenario.make_instance), so a given rate above the hub's link changes nothing; said, never ignored silently."""
    if inter_bandwidth_bps is None or not sc.inter_through_intra or inter_bandwidth_bps <= sc.intra.effective_bandwidth:
        return ""
    return (f" The inter-tier bandwidth given ({_rate(inter_bandwidth_bps)}, --inter-gbs) changes nothing here: a "
            f"device reaches {sc.inter.name} only through its group's hub over {sc.intra.name}, whose "
            f"{_rate(sc.intra.effective_bandwidth)} is the path's bottleneck (a value below it would act).")


def _tier_topology(inst: Instance, g: int) -> dict[str, Any]:
    """Drawing data (layout only): groups on a circle, devices around their group, intra and inter edges."""
    import math

    groups = inst.devices // inst.devices_per_group
    show = min(groups, 16)
    pos, edges, tiers = [], [], []
    for k in range(show):
        cx, cy = math.cos(2 * math.pi * k / show), math.sin(2 * math.pi * k / show)
        base = len(pos)
        d = inst.devices_per_group
        for j in range(d):
            r = 0.12 if d > 1 else 0.0
            pos.append([cx + r * math.cos(2 * math.pi * j / d), cy + r * math.sin(2 * math.pi * j / d)])
        for j in range(d):
            if d > 1 and (d > 2 or j == 0):
                edges.append([base + j, base + (j + 1) % d])
                tiers.append("intra")
    for k in range(show):  # the slow tier links each group's first `g`-aggregated representative ring-wise
        if show > 1:
            edges.append([k * inst.devices_per_group, ((k + 1) % show) * inst.devices_per_group])
            tiers.append("inter")
    return {"kind": "tiers", "positions": pos, "edges": edges, "edge_tiers": tiers,
            "caption": f"{groups} groups of {inst.devices_per_group} ({inst.intra_name} inside, {inst.inter_name} "
                       f"between){'; first 16 groups shown' if groups > show else ''}; aggregation g = {g}"}
