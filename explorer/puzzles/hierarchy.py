"""Lab 06 part 2, the hierarchical multiplier: a two-tier AllReduce (fast tier inside a group,
slow tier between groups) where CP-SAT chooses the aggregation factor g (devices that reduce
locally before the slow tier), the algorithm on each tier and the gradient-accumulation steps.

Instance (prepared before the model, CP-SAT primer style): N = devices, M = gradient bytes,
G = global batch, a memory limit; for every (g, intra, inter) the two-tier AllReduce time from
explorer/cost/collectives.hierarchical_allreduce_phases (CONVENTIONS "Collectives"), tabulated in
integer microseconds.

Variables: g in the track's aggregation choices (divisors of the group size; g = 1 is the flat
AllReduce over the slow tier), intra in {ring, tree}, inter in {ring, tree, halving_doubling,
double_binary_tree}, accumulation a in 1..max_accumulation, micro-batch b (samples per device
per micro-step).
Constraints: global batch N b a = G; memory fixed + b x activations/sample + [a > 1] x FP32
accumulation buffer <= limit.
Objective (lexicographic): minimise the exposed communication per step,
max(0, T_sync - b x t_backward/sample) (only the last micro-batch's backward overlaps the sync:
PyTorch DDP no_sync, Li et al. VLDB 2020 sec. 3.2.3), then T_sync itself.
The same choices are scored by a solver-independent evaluator (`evaluate`), which the exhaustive
search (`enumerate_all`) and every attempt use; tests assert CP-SAT == exhaustive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from itertools import product
from typing import TYPE_CHECKING, Any

from explorer.cost import collectives as col
from explorer.errors import InfeasibleError, UsageError
from explorer.puzzles.collective_scenario import CollectiveScenario, check_positive, get_scenario
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_duration as dur

if TYPE_CHECKING:
    from collections.abc import Iterator


INTRA = ("ring", "tree")
INTER = ("ring", "tree", "halving_doubling", "double_binary_tree")
TIME_SCALE = 1e6  # CP-SAT times are integer microseconds
ATTEMPT_VARIABLES = ["aggregation", "intra_algorithm", "inter_algorithm", "accumulation"]
ATTEMPT_REQUIRED = ["aggregation", "accumulation"]  # the algorithms default to ring (attempt_defaults)
ATTEMPT_KINDS = {"aggregation": "count", "intra_algorithm": "name", "inter_algorithm": "name",
                 "accumulation": "count"}
ATTEMPT_ALIASES = {"g": "aggregation", "intra": "intra_algorithm", "inter": "inter_algorithm", "a": "accumulation"}
MAX_ATTEMPTS = 10
SLOW_FACTOR = 100.0  # the lab question: "will a hierarchical strategy help if the inter-node link is 100x slower?"


@dataclass(frozen=True)
class Instance:
    """Everything the model needs, in SI units (prepared once)."""

    track: str
    message_bytes: float
    devices: int
    devices_per_group: int
    aggregation_choices: tuple[int, ...]
    alpha_intra: float
    bw_intra: float
    alpha_inter: float
    bw_inter: float
    global_batch: int
    max_accumulation: int
    memory_limit: int
    fixed_memory: int
    activation_per_sample: int
    accumulation_buffer: int
    backward_s_per_sample: float
    intra_name: str = ""
    inter_name: str = ""


@dataclass(frozen=True)
class Evaluation:
    """One configuration scored by the solver-independent evaluator."""

    aggregation: int
    intra: str
    inter: str
    accumulation: int
    micro_batch: float
    feasible: bool
    violations: tuple[Constraint, ...]
    phases_s: dict[str, float]
    sync_s: float
    sync_us: int
    overlap_us: int
    exposed_us: int
    memory_bytes: float

    @property
    def key(self) -> tuple[int, int]:
        """Lexicographic objective: (exposed us, sync us)."""
        return (self.exposed_us, self.sync_us)

    @property
    def config(self) -> dict[str, Any]:
        return {"aggregation": self.aggregation, "intra_algorithm": self.intra, "inter_algorithm": self.inter,
                "accumulation": self.accumulation}


def make_instance(sc: CollectiveScenario, *, message_bytes: float | None = None,
                  inter_bandwidth_bps: float | None = None, global_batch: int | None = None) -> Instance:
    m = check_positive("message size", sc.gradient_bytes if message_bytes is None else message_bytes, "bytes")
    bw_e = sc.inter.effective_bandwidth if inter_bandwidth_bps is None else inter_bandwidth_bps
    bw_e = check_positive("inter-tier bandwidth", bw_e, "bytes/s")
    if sc.inter_through_intra:  # relayed by the group's hub: the bottleneck hop and both latencies
        bw_e = min(bw_e, sc.intra.effective_bandwidth)
    gb = sc.global_batch if global_batch is None else global_batch
    if isinstance(gb, bool) or not isinstance(gb, int) or gb < 1:
        raise UsageError(f"global batch must be a positive whole number, got {gb!r}")
    return Instance(
        track=sc.track, message_bytes=m, devices=sc.devices, devices_per_group=sc.devices_per_group,
        aggregation_choices=sc.aggregation_choices, alpha_intra=sc.intra.latency_s,
        bw_intra=sc.intra.effective_bandwidth, alpha_inter=sc.inter_path_alpha, bw_inter=bw_e,
        global_batch=gb, max_accumulation=sc.max_accumulation, memory_limit=int(round(sc.memory_limit_bytes)),
        fixed_memory=int(round(sc.fixed_memory_bytes)),
        activation_per_sample=int(round(sc.activation_bytes_per_sample)),
        accumulation_buffer=int(round(sc.accumulation_buffer_bytes)), backward_s_per_sample=sc.backward_s_per_sample,
        intra_name=sc.intra.name,
        inter_name=sc.inter.name + (f" via {sc.intra.name}" if sc.inter_through_intra else ""))


def _us(x: float) -> int:
    return int(round(x * TIME_SCALE))


def phases(inst: Instance, g: int, intra: str, inter: str) -> dict[str, float]:
    """Two-tier AllReduce phases (s) for aggregation g: g devices reduce locally, N/g take part in the slow tier."""
    return col.hierarchical_allreduce_phases(inst.message_bytes, g, inst.devices // g, inst.alpha_intra,
                                             inst.bw_intra, inst.alpha_inter, inst.bw_inter, intra, inter)


def flat_time(inst: Instance, algorithm: str = "ring") -> float:
    """Flat AllReduce over all N devices on the slow tier (g = 1)."""
    return float(col.allreduce_time(algorithm, inst.message_bytes, inst.devices, inst.alpha_inter, inst.bw_inter))


def evaluate(inst: Instance, g: int, intra: str, inter: str, a: int) -> Evaluation:
    """Score one configuration: feasibility (with violated constraints), times, memory, objective."""
    if g not in inst.aggregation_choices:
        raise UsageError(f"aggregation {g!r} not offered; valid: {', '.join(map(str, inst.aggregation_choices))}")
    if intra not in INTRA:
        raise UsageError(f"intra algorithm {intra!r} unknown; valid: {', '.join(INTRA)}")
    if inter not in INTER:
        raise UsageError(f"inter algorithm {inter!r} unknown; valid: {', '.join(INTER)}")
    violations = []
    if not 1 <= a <= inst.max_accumulation:
        violations.append(Constraint("accumulation steps", a, inst.max_accumulation, "", "<=",
                                     text=f"1 <= a <= {inst.max_accumulation}"))
    per_device = inst.global_batch / inst.devices
    b = per_device / a if a >= 1 else float("inf")
    if not (b >= 1 and abs(b - round(b)) < 1e-9):
        violations.append(Constraint("global batch", inst.devices * b * a if b != float("inf") else 0,
                                     inst.global_batch, "samples", "==",
                                     text=f"N x b x a = G needs a whole micro-batch b; G/(N a) = {b:.3g}"))
    bi = round(b) if b != float("inf") else 0
    memory = inst.fixed_memory + max(b, 0) * inst.activation_per_sample + (inst.accumulation_buffer if a > 1 else 0)
    if memory > inst.memory_limit:
        violations.append(Constraint("memory", memory, inst.memory_limit, "B", "<=",
                                     text="fixed + b x activations + accumulation buffer"))
    ph = phases(inst, g, intra, inter)
    sync_s = sum(ph.values())
    sync_us = _us(ph["intra_reduce"]) + _us(ph["inter"]) + _us(ph["intra_gather"])
    overlap_us = bi * _us(inst.backward_s_per_sample)
    return Evaluation(g, intra, inter, a, b, not violations, tuple(violations), ph, sync_s, sync_us, overlap_us,
                      max(0, sync_us - overlap_us), memory)


def candidates(inst: Instance) -> Iterator[tuple]:
    return product(inst.aggregation_choices, INTRA, INTER, range(1, inst.max_accumulation + 1))


def enumerate_all(inst: Instance) -> list[Evaluation]:
    """Every configuration of the design space, scored (feasible or not)."""
    return [evaluate(inst, *c) for c in candidates(inst)]


def exhaustive_best(inst: Instance) -> Evaluation:
    feasible = [e for e in enumerate_all(inst) if e.feasible]
    if not feasible:
        raise _infeasible(inst)
    return min(feasible, key=lambda e: e.key)


def _infeasible(inst: Instance) -> InfeasibleError:
    return InfeasibleError(
        f"no accumulation a <= {inst.max_accumulation} gives a whole micro-batch G/(N a) that fits the "
        f"{inst.memory_limit:,} B memory limit (global batch {inst.global_batch}, {inst.devices} devices)",
        ["global batch", "memory", "accumulation steps"])


# --- CP-SAT ---------------------------------------------------------------------------------------
def solve_cpsat(inst: Instance, time_limit_s: float | None = None) -> tuple[Evaluation, str, float]:
    """Lexicographic CP-SAT: minimise exposed us, then sync us. Returns (decoded evaluation, status, wall s)."""
    from ortools.sat.python import cp_model

    from explorer.solvers import cpsat

    limit = cpsat.DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    G, N, A = inst.global_batch, inst.devices, inst.max_accumulation
    gs = list(inst.aggregation_choices)
    table = [_us(ph["intra_reduce"]) + _us(ph["inter"]) + _us(ph["intra_gather"])
             for ph in (phases(inst, g, i, e) for g in gs for i in INTRA for e in INTER)]
    bmax = max(1, G // N)

    def build(exposed_cap: int | None):
        md = cp_model.CpModel()
        # variables
        g_idx = md.NewIntVar(0, len(gs) - 1, "g_idx")
        intra_idx = md.NewIntVar(0, len(INTRA) - 1, "intra_idx")
        inter_idx = md.NewIntVar(0, len(INTER) - 1, "inter_idx")
        a = md.NewIntVar(1, A, "a")
        b = md.NewIntVar(1, bmax, "b")
        sync = md.NewIntVar(0, max(table), "sync_us")
        exposed = md.NewIntVar(0, max(table), "exposed_us")
        # the chosen (g, intra, inter) selects its tabulated two-tier time
        combo = md.NewIntVar(0, len(table) - 1, "combo")
        md.Add(combo == g_idx * len(INTRA) * len(INTER) + intra_idx * len(INTER) + inter_idx)
        md.AddElement(combo, table, sync)
        # global batch: N b a = G
        ba = md.NewIntVar(1, bmax * A, "b_times_a")
        md.AddMultiplicationEquality(ba, [b, a])
        md.Add(N * ba == G)
        # memory: fixed + b x activations + [a > 1] x accumulation buffer <= limit
        acc = md.NewBoolVar("accumulating")
        md.Add(a >= 2).OnlyEnforceIf(acc)
        md.Add(a == 1).OnlyEnforceIf(acc.Not())
        md.Add(inst.fixed_memory + inst.activation_per_sample * b + inst.accumulation_buffer * acc
               <= inst.memory_limit)
        # exposed communication: sync minus the last micro-batch's backward, floored at 0
        md.Add(exposed >= sync - _us(inst.backward_s_per_sample) * b)
        if exposed_cap is None:
            md.Minimize(exposed)
        else:
            md.Add(exposed <= exposed_cap)
            md.Minimize(sync)
        return md, (g_idx, intra_idx, inter_idx, a)

    t0 = time.perf_counter()
    md, _ = build(None)
    solver, out = cpsat.run(md, time_limit_s=limit)
    if out.status == "infeasible":
        raise _infeasible(inst)
    if out.status == "unknown":
        raise InfeasibleError(f"CP-SAT found no configuration within {limit} s", ["time limit"])
    status = out.status
    md2, v = build(int(round(out.objective)))
    solver2, out2 = cpsat.run(md2, time_limit_s=limit)
    if out2.status not in ("optimal", "feasible"):
        raise InfeasibleError("CP-SAT lost the first-stage optimum in the tie-break stage", ["time limit"])
    if out2.status != "optimal":
        status = "feasible"
    g_idx, intra_idx, inter_idx, a = (solver2.Value(x) for x in v)
    best = evaluate(inst, gs[g_idx], INTRA[intra_idx], INTER[inter_idx], a)
    return best, status, time.perf_counter() - t0


# --- the report -----------------------------------------------------------------------------------
def _rate(bps: float) -> str:
    for scale, unit in ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} B/s"




def solve(track: str = "cloud", *, message_bytes: float | None = None, inter_bandwidth_bps: float | None = None,
          global_batch: int | None = None, time_limit_s: float | None = None, engine: str = "cpsat",
          **_: Any) -> Report:
    """Hierarchical AllReduce optimum for a track (CP-SAT, checked by the exhaustive evaluator)."""
    t0 = time.perf_counter()
    sc = get_scenario(track)
    inst = make_instance(sc, message_bytes=message_bytes, inter_bandwidth_bps=inter_bandwidth_bps,
                         global_batch=global_batch)
    if engine not in ("cpsat", "enumerate"):
        raise UsageError(f"engine {engine!r} unknown; valid: cpsat, enumerate")
    if engine == "cpsat":
        best, status, _wall = solve_cpsat(inst, time_limit_s)
    else:
        best, status = exhaustive_best(inst), "optimal"
    all_evals = enumerate_all(inst)
    check = min((e for e in all_evals if e.feasible), key=lambda e: e.key)
    flat = flat_time(inst)
    mult = flat / best.sync_s if best.sync_s > 0 else float("inf")
    per_sample = best.sync_s / inst.global_batch

    # the 100x question: the slow tier at 1/100 of the fast tier's bandwidth
    slow_inst = replace(inst, bw_inter=inst.bw_intra / SLOW_FACTOR)
    slow_best = exhaustive_best(slow_inst)
    slow_flat = flat_time(slow_inst)
    slow_mult = slow_flat / slow_best.sync_s

    figures = {
        "aggregation": Figure(best.aggregation, "", "aggregation factor g (devices reducing locally)"),
        "intra_algorithm": Figure(best.intra, "", f"intra-tier algorithm ({inst.intra_name})"),
        "inter_algorithm": Figure(best.inter, "", f"inter-tier algorithm ({inst.inter_name})"),
        "accumulation": Figure(best.accumulation, "", "gradient accumulation steps a"),
        "micro_batch": Figure(int(round(best.micro_batch)), "", "micro-batch per device b"),
        "sync_time_s": Figure(best.sync_s, "s", "two-tier AllReduce time per step"),
        "exposed_comm_s": Figure(best.exposed_us / TIME_SCALE, "s", "exposed communication per step (objective)"),
        "sync_time_per_sample_s": Figure(per_sample, "s", "synchronization time per sample"),
        "intra_time_s": Figure(best.phases_s["intra_reduce"] + best.phases_s["intra_gather"], "s", "intra-tier time"),
        "inter_time_s": Figure(best.phases_s["inter"], "s", "inter-tier time"),
        "flat_time_s": Figure(flat, "s", f"flat ring AllReduce over {inst.devices} on the slow tier"),
        "hierarchical_multiplier": Figure(mult, "x", "flat time / hierarchical time"),
        "multiplier_100x_slower": Figure(slow_mult, "x", f"multiplier with the slow tier {SLOW_FACTOR:.0f}x slower "
                                         "than the fast tier"),
        "memory_bytes": Figure(best.memory_bytes, "B", "memory per device"),
        "message_bytes": Figure(inst.message_bytes, "B", "gradient message M"),
    }
    b = int(round(best.micro_batch))
    mem_next = inst.fixed_memory + 2 * b * inst.activation_per_sample + (
        inst.accumulation_buffer if best.accumulation // 2 > 1 else 0)
    mem_binding = best.accumulation > 1 and mem_next > inst.memory_limit
    constraints = [
        Constraint("memory", best.memory_bytes, inst.memory_limit, "B", "<=", mem_binding,
                   "fixed + b x activations/sample + [a > 1] FP32 accumulation buffer"),
        Constraint("global batch", inst.devices * best.micro_batch * best.accumulation, inst.global_batch,
                   "samples", "==", True, "N x b x a = G"),
        Constraint("accumulation steps", best.accumulation, inst.max_accumulation, "", "<=",
                   best.accumulation == inst.max_accumulation),
    ]
    ranked = sorted((e for e in all_evals if e.feasible), key=lambda e: e.key)
    rows = [[e.aggregation, e.intra, e.inter, e.accumulation, int(round(e.micro_batch)), e.phases_s["intra_reduce"]
             + e.phases_s["intra_gather"], e.phases_s["inter"], e.sync_s, e.exposed_us / TIME_SCALE]
            for e in ranked[:12]]
    by_g = []
    for g in inst.aggregation_choices:
        eg = min((e for e in ranked if e.aggregation == g), key=lambda e: e.key, default=None)
        if eg is not None:
            by_g.append([g, inst.devices // g, eg.intra, eg.inter, eg.sync_s, flat / eg.sync_s])
    today, what_if = "as specified", f"what if the slow tier were {SLOW_FACTOR:.0f}x slower than the fast tier"
    waterfall = {"configs": [
        {"label": f"optimum g={best.aggregation} ({best.intra}/{best.inter})", "panel": today,
         "phases": best.phases_s},
        {"label": "flat ring (g=1)", "panel": today,
         "phases": {"intra_reduce": 0.0, "inter": flat, "intra_gather": 0.0}},
        {"label": f"optimum g={slow_best.aggregation} ({slow_best.intra}/{slow_best.inter})", "panel": what_if,
         "phases": slow_best.phases_s},
        {"label": "flat ring (g=1)", "panel": what_if,
         "phases": {"intra_reduce": 0.0, "inter": slow_flat, "intra_gather": 0.0}},
    ], "phase_labels": {"intra_reduce": "intra-tier reduce(-scatter)", "inter": "inter-tier AllReduce",
                        "intra_gather": "intra-tier all-gather / broadcast"}}
    findings = [
        Finding("Which aggregation factor, tier algorithms and accumulation minimise the exposed communication?",
                f"g = {best.aggregation} ({inst.devices // best.aggregation} participants on the slow tier), "
                f"{best.intra} inside the group, {best.inter} between groups, a = {best.accumulation} "
                f"accumulation steps of micro-batch {b}: sync {dur(best.sync_s)} per step, "
                f"{dur(best.exposed_us / TIME_SCALE)} exposed after overlapping the last micro-batch's backward, "
                f"{dur(per_sample)} per sample. CP-SAT ({status}) and the exhaustive check over "
                f"{len(all_evals)} configurations agree: {check.key == best.key}."),
        Finding("What does hierarchy buy here (the hierarchical multiplier)?",
                (f"Almost nothing at this track's tiers: the intra tier ({inst.intra_name}, {_rate(inst.bw_intra)}) "
                 f"is not much faster than the path onto the inter tier ({_rate(inst.bw_inter)}), so local "
                 f"aggregation saves little or costs more (optimum g = {best.aggregation}). " if mult < 1.05 else "")
                + f"Flat ring over all {inst.devices} devices on {inst.inter_name}: {dur(flat)}; two-tier: "
                f"{dur(best.sync_s)} ({mult:.2f}x). "
                + ("The slow tier carries M/g per device instead of M, the fast tier absorbs the rest. "
                   if mult >= 1.05 else "What helps here is sending fewer bytes (part 3, compression). ")
                + "Best per g: " + "; ".join(f"g={r[0]}: {dur(r[4])} ({r[5]:.2f}x)"
                                                                   for r in by_g) + "."),
        Finding(f"Will a hierarchical strategy help if the inter-node link is {SLOW_FACTOR:.0f}x slower?",
                f"{_verdict(slow_mult, mult)}: with the slow tier at 1/{SLOW_FACTOR:.0f} of the fast tier "
                f"({_rate(inst.bw_intra / SLOW_FACTOR)}), flat ring takes {dur(slow_flat)} and the best "
                f"two-tier plan (g = {slow_best.aggregation}, {slow_best.intra}/{slow_best.inter}) "
                f"{dur(slow_best.sync_s)}: {slow_mult:.2f}x. As the slow tier dominates, the multiplier tends "
                f"to g = {max(inst.aggregation_choices)} (the slow tier moves M/g)."),
        Finding("Communication waterfall (intra vs inter time)?",
                f"Optimum: intra reduce {dur(best.phases_s['intra_reduce'])}, inter "
                f"{dur(best.phases_s['inter'])}, intra gather {dur(best.phases_s['intra_gather'])}."),
    ]
    formulas = [
        Formula("two-tier AllReduce", "T = 2 [(g-1) alpha_f + (g-1)/g M/B_f] + T_inter(M/g, N/g, alpha_s, B_s)",
                "CONVENTIONS 'Collectives' (hierarchical AllReduce); intra = tree variant: 2 ceil(log2 g)"
                "(alpha_f + M/B_f) + T_inter(M, N/g)"),
        Formula("exposed communication", "T_exposed = max(0, T_sync - b t_bwd)",
                "PyTorch DDP overlap with no_sync accumulation (Li et al. VLDB 2020, sec. 3.2.3)",
                "Only the last micro-batch's backward overlaps the AllReduce."),
        Formula("global batch and memory", "N b a = G;  fixed + b act + [a>1] buf <= limit", "lab 06 part 2"),
    ]
    assumptions = [
        Assumption(f"Scenario: {sc.scenario}", sc.source),
        Assumption(f"Fast tier {sc.intra.name}", sc.intra.source),
        Assumption(f"Slow tier {sc.inter.name}", sc.inter.source),
        *([Assumption(f"Devices reach {sc.inter.name} only through their group's hub over {sc.intra.name}: the "
                      "slow-tier path has both latencies and the smaller bandwidth (relayed, pipelined)",
                      "lab 06 mobile storyboard")] if sc.inter_through_intra else []),
        Assumption("With g smaller than the group size the N/g-way AllReduce is charged entirely to the slow "
                   "tier (conservative)", "model choice"),
        Assumption(f"CP-SAT times in integer microseconds (scale {TIME_SCALE:g}); memory in bytes", "model choice"),
    ]
    data = {"comm_waterfall": waterfall, "topology": _tier_topology(inst, best.aggregation)}
    opt_cfg = best.config
    return Report(
        puzzle="hierarchy", lab="06", part=2, track=sc.track, title="The hierarchical multiplier",
        status="optimal" if status == "optimal" else "feasible",
        headline=_headline(best, mult, slow_mult),
        figures=figures, findings=findings, constraints=constraints, formulas=formulas, assumptions=assumptions,
        tables={"ranking": Table(["g", "intra", "inter", "a", "b", "intra (s)", "inter (s)", "sync (s)",
                                  "exposed (s)"], rows, "Best configurations (feasible, ranked)"),
                "by_aggregation": Table(["g", "slow-tier participants", "intra", "inter", "sync (s)",
                                         "multiplier vs flat"], by_g, "Best plan per aggregation factor")},
        plots=["comm_waterfall", "topology"], data=data,
        extra={"objective": {"name": "exposed_comm_s", "value": best.exposed_us / TIME_SCALE, "sense": "min"},
               "configuration": opt_cfg, "exhaustive_check": {"agrees": check.key == best.key,
                                                              "evaluated": len(all_evals)}},
        solve_time_s=time.perf_counter() - t0,
        scenario={"message_bytes": inst.message_bytes, "inter_bandwidth_bps": inst.bw_inter,
                  "global_batch": inst.global_batch})


def _headline(best: Evaluation, mult: float, slow_mult: float) -> str:
    local = (f"Aggregate g = {best.aggregation} devices locally ({best.intra}), " if best.aggregation > 1
             else "No local aggregation (g = 1, flat), ")
    steps = f"{best.accumulation} accumulation step{'s' if best.accumulation > 1 else ''}"
    return (f"{local}{best.inter} across the slow tier, {steps}: {dur(best.sync_s)} per sync, {mult:.2f}x "
            f"faster than a flat ring; {slow_mult:.2f}x if the slow tier were {SLOW_FACTOR:.0f}x slower than the "
            "fast one.")


def _verdict(slow_mult: float, mult: float) -> str:
    if slow_mult < 1.05:
        return "No"
    return "Yes, and more than today" if slow_mult > mult * 1.05 else "Yes"


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


# --- attempts -------------------------------------------------------------------------------------
def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """The algorithms a file may leave out: the ring on both tiers (the flat baseline's algorithm)."""
    return {"intra_algorithm": "ring", "inter_algorithm": "ring"}


def _parse(values: dict[str, Any]) -> tuple[int, str, str, int]:
    values = {**attempt_defaults(), **{k: v for k, v in values.items() if v not in (None, "")}}
    missing = [k for k in ATTEMPT_VARIABLES if k not in values]
    if missing:
        raise UsageError(f"attempt is missing {', '.join(missing)}")
    try:
        g = int(float(values["aggregation"]))
        a = int(float(values["accumulation"]))
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"aggregation and accumulation must be whole numbers, got {values['aggregation']!r}, "
                         f"{values['accumulation']!r}") from None
    intra, inter = str(values["intra_algorithm"]).strip().lower(), str(values["inter_algorithm"]).strip().lower()
    if intra not in INTRA:
        raise UsageError(f"intra algorithm {intra!r} unknown; valid: {', '.join(INTRA)}")
    if inter not in INTER:
        raise UsageError(f"inter algorithm {inter!r} unknown; valid: {', '.join(INTER)}")
    return g, intra, inter, a


def evaluate_attempt(values: dict[str, Any], track: str = "cloud", **options: Any) -> dict[str, Any]:
    """Score a student's (aggregation, intra, inter, accumulation) with the same evaluator as the optimum
    (`evaluate`, from which CP-SAT's tables and the exhaustive search are built); values outside the choices
    the solvers search (candidates) are said to be so."""
    inst = make_instance(get_scenario(track), **{k: v for k, v in options.items()
                                                 if k in ("message_bytes", "inter_bandwidth_bps", "global_batch")})
    g, intra, inter, a = _parse(values)
    outside = []
    if g not in inst.aggregation_choices:
        outside.append(f"aggregation = {g} is outside the searched space, g in "
                       f"{', '.join(map(str, inst.aggregation_choices))}")
    if not 1 <= a <= inst.max_accumulation:
        outside.append(f"accumulation = {a} is outside the searched space, accumulation <= {inst.max_accumulation}")
    gs = list(inst.aggregation_choices)
    if outside:
        near = min(gs, key=lambda x: abs(x - g))
        return {"feasible": False, "figures": {}, "violations": [], "outside_space": outside, "objective": None,
                "objective_name": "exposed_comm_s", "sense": "min",
                "neighbours": [{"aggregation": near, "intra_algorithm": intra, "inter_algorithm": inter,
                                "accumulation": min(max(a, 1), inst.max_accumulation)}]}
    e = evaluate(inst, g, intra, inter, a)
    nb = []
    i = gs.index(g)
    for j in (i - 1, i + 1):
        if 0 <= j < len(gs):
            nb.append({**e.config, "aggregation": gs[j]})
    nb += [{**e.config, "intra_algorithm": x} for x in INTRA if x != intra]
    nb += [{**e.config, "inter_algorithm": x} for x in INTER if x != inter]
    nb += [{**e.config, "accumulation": x} for x in (a // 2, a * 2) if 1 <= x <= inst.max_accumulation and x != a]
    return {
        "feasible": e.feasible,
        "figures": {"sync_time_s": Figure(e.sync_s, "s", "two-tier AllReduce time"),
                    "exposed_comm_s": Figure(e.exposed_us / TIME_SCALE, "s", "exposed communication per step"),
                    "memory_bytes": Figure(e.memory_bytes, "B", "memory per device"),
                    "micro_batch": Figure(e.micro_batch, "", "micro-batch per device")},
        "violations": list(e.violations),
        "outside_space": [],
        "objective": e.exposed_us / TIME_SCALE,
        "objective_name": "exposed_comm_s",
        "sense": "min",
        "neighbours": nb,
    }
