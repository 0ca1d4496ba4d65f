"""Lab 08 part 3, the scaling wall: precision, micro-batch and gradient accumulation chosen to reach
the target MFU (40% default) without the gradient traffic saturating the network (95% default),
within the critical batch size (McCandlish et al. 2018), in memory, and numerically stable. That optimum
is the cloud track's; a fleet track has none and the part answers the fleet's batch question (below).

Solved by exhaustive evaluation of every (precision, micro-batch, accumulation) on the step model
(explorer/cost/step.py via explorer/cost/training_memory.py), so the answer is exact on that grid.
Objective: the shortest time to a target loss among the configurations that reach the target MFU:
(E / E_min) x step time / B with E = E_min (1 + B / B_crit) (McCandlish et al. 2018), so a bigger
batch must buy its extra samples with throughput. If no configuration reaches the target, the
highest throughput that satisfies everything else (the report says the target is out of reach); if
the network and critical-batch limits cannot hold together, the highest throughput within the hard limits
(memory, stability, dataset), with the broken limits named.

On a fleet track (edge, mobile, tiny) there is no such optimum. The search above runs the lab's question as
posed, one synchronous job with an all-reduce over every device's radio after every step; at the default 40%
target no configuration of it reaches the target MFU, so that form is infeasible (its closest answer falls short
of the target, and on edge and mobile breaks the network and critical-batch limits as well): the report keeps it,
with the highest MFU it reaches, as "the lab's question as posed", and its configuration under
extra['datacenter'], which the attempts grader does not grade against. fleet_view leads
the report with the fleet form (explorer/puzzles/fleetlens/lab08.py batch): at the fleet 3D optimum (lab 05 part
2), the samples averaged per local step n x b against the gradient noise scale B_noise, the share of a round
spent synchronising in place of MFU and, on a server path, the rounds and days to the target as participation
varies. It chooses no precision, micro-batch or accumulation (the fleet's are the fleet 3D optimum's), and its
status is 'computed', not 'optimal'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from explorer import validation as V
from explorer.cost import convergence as conv
from explorer.cost import numerics as num
from explorer.cost import training_memory as tmem
from explorer.errors import InfeasibleError, UsageError, require_positive_int
from explorer.plan import PRECISIONS, RECOMPUTE, ZERO_STAGES, check_zero_stage
from explorer.puzzles.fleetlens import FLEET_TRACKS, fleet_view
from explorer.puzzles.training_scenario import Common, TrainingScenario, common, scenario
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.tracks import Track, get_track
from explorer.units import human_bytes_3 as _bytes  # three significant digits
from explorer.units import human_number, human_sci, plural

ATTEMPT_OPTIONS = ("target_mfu", "network_headroom", "batch", "critical_batch", "loss_scaling", "max_accumulation")
PLAN_VARIABLES = ["tp", "pp", "dp", "cp", "virtual_stages", "zero", "recompute"]
ATTEMPT_VARIABLES = ["precision", "micro_batch", "accumulation", *PLAN_VARIABLES]
ATTEMPT_REQUIRED = ["micro_batch", "accumulation"]  # the others default to the track's (attempt_defaults)
ATTEMPT_KINDS = {"precision": "name", "micro_batch": "count", "accumulation": "count", "tp": "count", "pp": "count",
                 "dp": "count", "cp": "count", "virtual_stages": "count", "zero": "count0", "recompute": "name"}
MAX_ATTEMPTS: int | None = None
LOSS_SCALING = ("dynamic", "static", "none")
BATCH_CAP = "largest batch (--batch)"  # the name of the user's batch limit among the constraints
ACTIVATION_TENSORS_PER_LAYER = 10  # h-sized tensors stored per token and layer (Korthikanti et al. Table 2)


@dataclass(frozen=True)
class BatchInstance:
    track: Track
    sc: TrainingScenario
    cm: Common
    target_mfu: float
    headroom: float
    b_crit: int
    dataset: int
    precisions: tuple[str, ...]
    micro_batches: tuple[int, ...]
    max_accumulation: int
    loss_scaling: str
    plan_choice: tmem.Choice  # optimizer, recompute, zero, trainable layers of the memory plan
    memory_plan_source: str
    b_crit_source: str
    batch_cap: int | None = None  # the user's largest global batch (--batch): a hard limit, like the dataset


def critical_batch_samples(track: Track, sc: TrainingScenario) -> int:
    if sc.critical_batch_samples is not None:
        return sc.critical_batch_samples
    return conv.kaplan_critical_batch_samples(sc.critical_batch_loss_nats, track.workload.seq_len)


@cache
def _memory_plan(key: str) -> tuple[tmem.Choice, str]:
    """The memory plan the batch search trains with: on tracks where the memory audit's layout is the
    training layout (one device per replica) the audit's optimum, else the track's own plan."""
    t, sc = get_track(key), scenario(key)
    plan = t.crisis_plan
    L = t.workload.model.layers
    if (sc.tp, sc.pp) == (plan.tp, plan.pp) and sc.dp == 1:
        from explorer.puzzles.memory import solve_memory

        best = solve_memory(key, engine="enumerate", check=False).best
        if best is not None:
            return best, "the memory audit's answer (explore solve memory)"
    return (tmem.Choice(t.workload.optimizer, t.workload.precision, plan.recompute, plan.micro_batch, plan.zero,
                        False, L), f"the track's plan ({plan.describe()})")


def make_instance(track: str | Track = "cloud", *, target_mfu: float | None = None,
                  network_headroom: float | None = None, batch: int | None = None,
                  critical_batch: int | None = None, loss_scaling: str = "dynamic",
                  max_accumulation: int | None = None) -> BatchInstance:
    t = track if isinstance(track, Track) else get_track(track)
    sc, cm = scenario(t.key), common()
    tgt = V.OPEN_FRACTION.check("target-mfu", target_mfu, sc.target_mfu)
    hr = V.OPEN_FRACTION.check("network-headroom", network_headroom, sc.network_headroom)
    if loss_scaling not in LOSS_SCALING:
        raise UsageError(f"loss scaling {V.short(loss_scaling)} unknown; valid: {', '.join(LOSS_SCALING)}")
    bc = critical_batch_samples(t, sc) if critical_batch is None else V.GLOBAL_BATCH.check("critical-batch",
                                                                                          critical_batch)
    bc_src = sc.critical_batch_source if critical_batch is None else "given by the user (--critical-batch)"
    if batch is not None:
        batch = V.GLOBAL_BATCH.check("batch", batch)
        if batch > sc.dataset_samples:
            raise UsageError(f"batch {batch} is larger than the dataset ({sc.dataset_samples} samples); "
                             f"use a batch <= {sc.dataset_samples}")
    ma = V.ACCUMULATION.check("max-accumulation", max_accumulation, sc.max_accumulation)
    choice, src = _memory_plan(t.key)
    return BatchInstance(t, sc, cm, tgt, hr, bc, sc.dataset_samples, sc.batch_precisions, sc.micro_batches, ma,
                         loss_scaling, choice, src, bc_src, batch)


@cache
def _setup(key: str, precision: str):
    from explorer.puzzles.threed import make_setup

    return make_setup(get_track(key), precision=precision)


def evaluate_config(inst: BatchInstance, precision: str, micro_batch: int, accumulation: int) -> dict[str, Any]:
    """Every figure of one (precision, micro-batch, accumulation)."""
    t, plan = inst.track, inst.track.crisis_plan
    base = _setup(t.key, precision)
    c = inst.plan_choice
    choice = tmem.Choice(c.optimizer, precision, c.recompute, micro_batch, c.zero, c.offload, c.trainable_layers)
    r = tmem.training_step(base, choice, plan.tp, plan.pp, plan.dp, accumulation, cp=plan.cp, v=plan.virtual_stages,
                           sp=plan.sequence_parallel, int8_block=inst.cm.int8_block_size)
    t_step, t_compute, comm, mfu = r["step_time"], r["time_compute"], r["time_dp_total"], r["mfu"]
    # on a fleet the memory audit's layout: frozen weights where it keeps them (tiny: in flash) and no
    # all-reduce bucket (a device's update goes to the aggregator or its neighbours between rounds)
    fleet = t.key in FLEET_TRACKS
    layout = tmem.Layout(plan.tp, plan.pp, 1 if fleet else plan.dp, micro_batch * accumulation,
                         inst.sc.frozen_store if fleet else "device")
    memory = tmem.waterfall(base, layout, choice, inst.cm.int8_block_size)["total"]
    B = plan.dp * micro_batch * accumulation
    m = base.model
    n_vals = micro_batch * base.seq_len * m.hidden * c.trainable_layers * ACTIVATION_TENSORS_PER_LAYER / plan.tp
    n_fwd = micro_batch * base.seq_len * m.hidden * m.layers * ACTIVATION_TENSORS_PER_LAYER / plan.tp
    scale = 1.0 if inst.loss_scaling == "none" or precision == "fp32" else inst.cm.loss_scale_init
    nm = num.step_numerics(precision, inst.sc.activation_log2, inst.sc.gradient_log2, n_fwd * accumulation,
                           max(n_vals, 1.0) * accumulation, scale, inst.loss_scaling == "dynamic")
    return {"precision": precision, "micro_batch": micro_batch, "accumulation": accumulation, "global_batch": B,
            "mfu": mfu, "step_time": t_step, "compute_time": t_compute, "comm_time": comm,
            "optimizer_time": r["time_optimizer"],
            "comm_to_compute": comm / t_compute if t_compute > 0 else float("inf"),
            "network_utilisation": comm / t_step, "memory": memory, "memory_limit": base.memory_limit_bytes,
            "p_nan": nm.p_nan, "skipped": nm.skipped_fraction, "underflow": nm.gradient_underflow,
            "samples_multiplier": conv.samples_multiplier(B, inst.b_crit),
            "steps_multiplier": conv.steps_multiplier(B, inst.b_crit),
            # seconds of training per E_min sample: E/E_min x step time / samples per step
            "time_to_target": conv.samples_multiplier(B, inst.b_crit) * t_step / B, "samples_per_s": B / t_step}


def violations(inst: BatchInstance, e: dict, with_target: bool = True) -> list[Constraint]:
    out = []
    checks = [
        ("network utilisation", e["network_utilisation"], inst.headroom, "fraction", "<="),
        ("critical batch", e["global_batch"], inst.b_crit, "samples", "<="),
        ("dataset", e["global_batch"], inst.dataset, "samples", "<="),
        ("memory", e["memory"], e["memory_limit"], "B", "<="),
        ("P(NaN) per step", e["p_nan"], inst.cm.max_nan_per_step, "", "<="),
    ]
    if inst.batch_cap is not None:
        checks.append((BATCH_CAP, e["global_batch"], inst.batch_cap, "samples", "<="))
    if with_target:
        checks.append(("MFU", e["mfu"], inst.target_mfu, "fraction", ">="))
    for name, v, lim, unit, sense in checks:
        c = Constraint(name, v, lim, unit, sense)
        if not c.satisfied:
            out.append(c)
    return out


def all_configs(inst: BatchInstance) -> list[dict]:
    plan = inst.track.crisis_plan
    out = []
    for p in inst.precisions:
        for b in inst.micro_batches:
            for a in range(1, inst.max_accumulation + 1):
                if plan.dp * b * a > inst.dataset:
                    break
                out.append(evaluate_config(inst, p, b, a))
    return out


def _numerics(inst: BatchInstance, precision: str, micro_batch: int, accumulation: int, tp: int) -> Any:
    """Overflow and underflow of one step (explorer/cost/numerics.py) for a micro-batch on a plan."""
    base = _setup(inst.track.key, precision)
    m, c = base.model, inst.plan_choice
    n_vals = micro_batch * base.seq_len * m.hidden * c.trainable_layers * ACTIVATION_TENSORS_PER_LAYER / tp
    n_fwd = micro_batch * base.seq_len * m.hidden * m.layers * ACTIVATION_TENSORS_PER_LAYER / tp
    scale = 1.0 if inst.loss_scaling == "none" or precision == "fp32" else inst.cm.loss_scale_init
    return num.step_numerics(precision, inst.sc.activation_log2, inst.sc.gradient_log2, n_fwd * accumulation,
                             max(n_vals, 1.0) * accumulation, scale, inst.loss_scaling == "dynamic")


def _entry(inst: BatchInstance, precision: str, est: Any) -> dict[str, Any]:
    """The figures of one (precision, parallel plan) from its step estimate, as evaluate_config gives them."""
    plan = est.plan
    B = plan.global_batch
    nm = _numerics(inst, precision, plan.micro_batch, plan.num_micro_batches, plan.tp)
    comm, t_step, t_compute = est.dp_comm_total_s, est.step_time_s, est.time["compute"]
    return {"precision": precision, "micro_batch": plan.micro_batch, "accumulation": plan.num_micro_batches,
            "global_batch": B, "mfu": est.mfu, "step_time": t_step, "compute_time": t_compute, "comm_time": comm,
            "comm_to_compute": comm / t_compute if t_compute > 0 else float("inf"),
            "network_utilisation": comm / t_step, "memory": est.memory_total, "memory_limit": est.memory_limit,
            "p_nan": nm.p_nan, "skipped": nm.skipped_fraction, "underflow": nm.gradient_underflow,
            "samples_multiplier": conv.samples_multiplier(B, inst.b_crit),
            "steps_multiplier": conv.steps_multiplier(B, inst.b_crit),
            "time_to_target": conv.samples_multiplier(B, inst.b_crit) * t_step / B, "samples_per_s": B / t_step,
            "plan": plan, "time": dict(est.time), "bubble": est.bubble_fraction}


def plan_search(inst: BatchInstance) -> list[dict]:
    """Data, algorithm and machine free: at each global batch of the track's list, the parallel plan (TP, PP,
    DP, CP, micro-batch and accumulation, virtual stages, ZeRO, recomputation) with the shortest step, from
    the 3D solver (explorer.puzzles.threed.solve_3d, exhaustive over its space: a proof), with no bubble
    limit (the bubble is part of the step this part prices); each precision on it (the same speed: the
    precisions offered share the dense peak, they differ in numerics)."""
    from explorer.errors import InfeasibleError
    from explorer.puzzles.threed import solve_3d

    out = []
    for B in inst.sc.plan_search_batches:
        if B > inst.dataset:
            continue
        try:
            r = solve_3d(inst.track, engine="enumerate", top=1, explain=False, global_batch=B, max_bubble=1.0,
                         precision=inst.track.workload.precision)
        except (InfeasibleError, UsageError):
            continue
        out += [_entry(inst, p, r.best) for p in inst.precisions]
    return out


@dataclass
class BatchResult:
    inst: BatchInstance
    best: dict | None
    reaches_target: bool
    configs: list[dict]
    crisis: dict
    solve_time_s: float
    planned: list[dict] = field(default_factory=list)  # the plan search (empty: the plan stays the track's)
    fixed_best: dict | None = None  # the best with the track's plan fixed (for the comparison)


def _choose(inst: BatchInstance, configs: list[dict]) -> tuple[dict, bool]:
    """The shortest time to the target loss among configurations that meet every limit; else the highest
    throughput within the others (the target is out of reach); else within the hard limits."""
    ok = [e for e in configs if not violations(inst, e)]
    if ok:
        return min(ok, key=lambda e: (e["time_to_target"], e["global_batch"])), True
    rest = [e for e in configs if not violations(inst, e, with_target=False)]
    if not rest:  # keep the hard limits (memory, stability, dataset); show what else breaks
        hard = {"network utilisation", "critical batch", "MFU"}
        rest = [e for e in configs if all(c.name in hard for c in violations(inst, e))]
    if not rest:
        hard = ("memory", "P(NaN) per step", "dataset") + ((BATCH_CAP,) if inst.batch_cap is not None else ())
        least = {h: min(configs, key=lambda e, h=h: next((c.value - c.limit for c in violations(inst, e)
                                                        if c.name == h), 0.0)) for h in hard}
        broken = [h for h in hard if any(c.name == h for c in violations(inst, least[h]))]
        raise InfeasibleError(
            f"infeasible on the {inst.track.key} track: no (precision, micro-batch, accumulation) meets "
            + ", ".join(f"{h} (best: {human_number(next(c for c in violations(inst, least[h]) if c.name == h).value)} "
                        f"vs {human_number(next(c for c in violations(inst, least[h]) if c.name == h).limit)})"
                        for h in broken) + " together with the others", broken or list(hard))
    return max(rest, key=lambda e: (e["samples_per_s"], -e["global_batch"])), False


HARD_LIMITS = ("memory", "P(NaN) per step", "dataset", BATCH_CAP)  # what no answer may break


def _within_hard(inst: BatchInstance, c: dict) -> bool:
    """Does configuration c meet memory, stability, the dataset and the user's batch cap (network, critical batch
    and MFU aside)?"""
    return not any(v.name in HARD_LIMITS for v in violations(inst, c, with_target=False))


def _network_floor(inst: BatchInstance, configs: list[dict], e: dict) -> str:
    """Where the network limit can hold, among configurations that meet the hard limits (memory, stability, the
    dataset and the batch cap): the smallest global batch that keeps it, against the critical batch; or, if none
    does, the least busy network found and whether the all-reduce outlasts the compute everywhere."""
    ok = [c for c in configs if _within_hard(inst, c)]
    net_ok = [c for c in ok if c["network_utilisation"] <= inst.headroom]
    if net_ok:
        c = min(net_ok, key=lambda c: (c["global_batch"], c["network_utilisation"]))
        other = (c["precision"], c["micro_batch"]) != (e["precision"], e["micro_batch"]) and "plan" not in c
        return (f"Within memory and stability limits the smallest global batch that keeps the network under "
                f"{_pct(inst.headroom)} is {c['global_batch']:,} ({c['precision']}, micro-batch {c['micro_batch']} x "
                f"{c['accumulation']}" + (f" on {c['plan'].describe()}" if "plan" in c else "")
                + f": {_pct_under(c['network_utilisation'], inst.headroom)} busy"
                + (f"; not the answer's {e['precision']}, micro-batch {e['micro_batch']}, whose accumulation sweep "
                   "is tabled below" if other else "") + "), "
                + (f"{human_number(c['global_batch'] / inst.b_crit, 2)}x the critical batch {inst.b_crit:,}."
                   if c["global_batch"] > inst.b_crit else f"within the critical batch {inst.b_crit:,}."))
    if not ok:
        return ""
    c = min(ok, key=lambda c: (c["network_utilisation"], c["global_batch"]))
    least = (f"the least busy within memory and stability limits is {_pct(c['network_utilisation'])}, at global batch "
             f"{c['global_batch']:,} ({c['precision']}, micro-batch {c['micro_batch']} x {c['accumulation']})")
    if all(x["comm_time"] > x["compute_time"] for x in ok):
        return (f"The gradient all-reduce outlasts the compute at every batch searched up to the dataset (at the "
                f"answer {human_number(e['comm_time'])} s against {human_number(e['compute_time'])} s; {least}): "
                f"synchronous data parallelism cannot keep this network under {_pct(inst.headroom)}.")
    return (f"No configuration within memory and stability limits keeps the network under {_pct(inst.headroom)}: "
            f"{least}.")


def _target_vs_answer(inst: BatchInstance, o: dict, e: dict) -> str:
    """The smallest batch that reaches the target (o, past the critical batch) against the answer (e, the highest
    throughput within the hard limits, itself breaking some limit): samples to the target loss (E/E_min), throughput
    and time to the target loss, each said the way the numbers go."""
    so, se = o["samples_multiplier"], e["samples_multiplier"]
    to, te = o["time_to_target"], e["time_to_target"]
    broken = [c.name for c in violations(inst, e, with_target=False)]
    answer = (f"Against the answer (global batch {e['global_batch']:,}, E/E_min {human_number(se)}"
              + (f", breaking {' and '.join(broken)}" if broken else "") + "),")
    fewer, sooner = so < se, to < te
    samples = ("more samples to the target loss" + (" (the MFU gained is paid back in extra samples)" if to >= te else
                                                    " (the MFU gained outweighs the extra samples)")
               if so > se else "fewer samples to the target loss" if fewer else "as many samples to the target loss")
    pace = f"runs at {human_number(o['samples_per_s'])} samples/s against {human_number(e['samples_per_s'])}"
    when = (f"{_pct(to / te - 1)} later" if to > te else f"{_pct(1 - to / te)} sooner" if sooner else "as soon")
    joint = " but " if (fewer and to > te) or (so > se and sooner) else " and "
    rule = ("the highest throughput within the hard limits (memory, stability, dataset), whatever else it breaks"
            if broken else "the highest throughput within every limit but the MFU target")
    return (f"{answer} this batch needs {samples}{joint}{pace}, so it reaches the target loss {when}. It is not the "
            f"answer because, with no configuration meeting every limit, the answer is {rule}.")


def _binding(inst: BatchInstance, pool: list[dict], best: dict) -> set[str]:
    """The limits that bind on the answer: those that alone stop a configuration with a shorter time to the
    target (on a grid of batches a limit seldom meets its bound exactly; it binds when it decides)."""
    key = (best["time_to_target"], best["global_batch"])
    out: set[str] = set()
    for e in pool:
        if (e["time_to_target"], e["global_batch"]) < key:
            broken = violations(inst, e)
            if len(broken) == 1:
                out.add(broken[0].name)
    return out


def solve_batch(track: str | Track = "cloud", **options: Any) -> BatchResult:
    inst = make_instance(track, **options)
    t0 = time.perf_counter()
    configs = all_configs(inst)
    fixed_best, fixed_reach = _choose(inst, configs)
    planned = plan_search(inst)
    # the track's own plan at every batch of its grid is one more point of the free space
    best, reach = _choose(inst, planned + configs) if planned else (fixed_best, fixed_reach)
    plan = inst.track.crisis_plan
    crisis = evaluate_config(inst, inst.track.workload.precision, plan.micro_batch, plan.num_micro_batches)
    from explorer.cost.step import estimate

    crisis["bubble"] = estimate(_setup(inst.track.key, inst.track.workload.precision), plan).bubble_fraction
    return BatchResult(inst, best, reach, configs, crisis, time.perf_counter() - t0, planned,
                       fixed_best if planned else None)


def _pct(x: float) -> str:
    return f"{human_number(100 * x)}%"


def _pct_under(x: float, limit: float) -> str:
    """x as a percentage with the digits that show it below limit (0.9498 against 95%: '94.98%', never '95%')."""
    for d in range(3, 8):
        text = f"{human_number(100 * x, d)}%"
        if x >= limit or float(text.rstrip("%").replace(",", "")) < 100 * limit:
            return text
    return f"{100 * x:.6g}%"


def _plan_fields(plan: Any) -> dict[str, Any]:
    return {"tp": plan.tp, "pp": plan.pp, "dp": plan.dp, "cp": plan.cp, "virtual_stages": plan.virtual_stages,
            "zero": plan.zero, "recompute": plan.recompute}


def _sync_words(dev: str, link: str, comm: float, exposed: float, step: float) -> str:
    """How the gradient all-reduce (comm seconds) meets a step (step seconds) of which `exposed` seconds wait for it,
    from the step's own breakdown (step_losses): hidden behind the backward pass only where the exposed part is
    negligible, none of it where nothing overlaps, else both parts with their seconds."""
    exposed = min(max(exposed, 0.0), comm)
    hidden = comm - exposed
    where = f"the data-parallel group's all-reduce runs over each {dev}'s own {link} link"
    if comm <= 0.0 or exposed <= 0.0005 * comm:
        return f"{where} and hides behind the backward pass"
    if hidden <= 0.0005 * comm:
        return f"{where} and none of it hides behind the backward pass: the step waits for all of it"
    return (f"{where}; the backward pass hides {human_number(hidden)} s of it and {human_number(exposed)} s are "
            f"exposed, {_pct(exposed / step)} of the step")


def _network_premise(inst: BatchInstance, cr: dict, e: dict) -> Finding:
    """The lab's premise: 'the network is 95% saturated' (the scenario's headroom, whatever limit the user set).
    Tested on the starting configuration and the answer; how much of the sync the step waits for and what the start
    loses, from its step's parts (step_losses), the exposed sync among them where it is one of the largest."""
    lab = inst.sc.network_headroom
    held = cr["network_utilisation"] >= lab
    from explorer.puzzles.threed_report import TIME_PART_NAMES

    _, losses, _ = step_losses(inst, cr)
    step = cr["step_time"]
    names = {**TIME_PART_NAMES, "compute_below_peak": "compute below peak"}
    keys = [k for k, x in list(losses.items())[:2] if x >= 0.01 * step]
    top = [f"{names.get(k, k)} ({_pct(losses[k] / step)} of the step)" for k in keys]
    lost = f"what the starting configuration loses is {' and '.join(top)}"
    if not keys:
        why = "what it loses is compute efficiency, not the network"
    elif keys[0] == "dp_exposed":
        why = (f"{lost}: waiting for the network is the step's largest loss"
               + ("" if held else f", though the network is below the lab's {_pct(lab)}"))
    elif "dp_exposed" in keys:
        why = f"{lost}: waiting for the network is a loss, not the largest"
    else:
        why = f"{lost}, not the network"
    sync = _sync_words(inst.track.device_word, inst.track.cluster.inter.name.split(" (")[0], cr["comm_time"],
                       losses.get("dp_exposed", 0.0), step)
    given = ("" if inst.headroom == lab else
             f" Against the limit given (--network-headroom {_pct(inst.headroom)}) the starting configuration "
             + ("meets it." if cr["network_utilisation"] <= inst.headroom else "breaks it."))
    return Finding(
        f"Is the network {_pct(lab)} saturated, as the lab's story says?",
        ("Yes: at" if held else "No. At") + f" the starting configuration{_start_words(inst)} the gradient "
        f"synchronisation keeps the network {_pct(cr['network_utilisation'])} busy ({human_number(cr['comm_time'])} "
        f"s of a {human_number(step)} s step: {sync}); {why}." + given
        + f" The answer keeps it {_pct(e['network_utilisation'])} busy.")


def _start_words(inst: BatchInstance) -> str:
    """On a fleet track, which starting configuration this is (sweep A item 7): the lab's crisis plan run as one
    synchronous data-parallel job, a ring all-reduce over every device's radio every step, which is not the fleet
    3D storyboard's start (a round through the track's first path, explore solve 3d); both are named, with the
    storyboard's round, so the two figures are not read as one configuration priced two ways."""
    if inst.track.key not in FLEET_TRACKS:
        return ""
    from explorer.puzzles.fleetlens.common import optimum

    plan, dev = inst.track.crisis_plan, inst.track.device_word
    link = inst.track.cluster.inter.name.split(" (")[0]
    c = optimum(inst.track.key).crisis
    return (f" as the lab poses it (one synchronous job: data parallel over {plural(plan.dp, dev)}, a ring all-reduce "
            f"over {link} after every step; not the fleet 3D storyboard's start, a round of "
            f"{human_number(c['round_time'])} s, {c['tier'].short or c['tier'].name})")


def step_losses(inst: BatchInstance, e: dict) -> tuple[float, dict[str, float], float]:
    """Where the step of a configuration of the track's plan (evaluate_config) goes: (the step's model FLOPs at the
    devices' peak, i.e. MFU x step time; the seconds lost to each part beyond that, largest first; the pipeline's
    bubble fraction). The parts are the step model's (explorer.cost.step.estimate on the same training setup and
    plan): its pipeline bubble, tensor-, context- and pipeline-parallel communication and exposed gradient sync;
    compute is the configuration's own, of which only the ideal share converts into model FLOPs ('compute below
    peak': GEMM efficiency, recomputation); what is left of the step is the optimizer step. The losses sum to
    (1 - MFU) x step time."""
    from explorer.cost.step import estimate

    plan, c = inst.track.crisis_plan, inst.plan_choice
    choice = tmem.Choice(c.optimizer, e["precision"], c.recompute, e["micro_batch"], c.zero, c.offload,
                         c.trainable_layers, c.adapter, c.lora_rank)
    pl = replace(plan, micro_batch=e["micro_batch"], global_batch=e["global_batch"], zero=c.zero,
                 recompute=c.recompute)
    est = estimate(tmem.training_setup(_setup(inst.track.key, e["precision"]), choice, inst.cm.int8_block_size), pl)
    step, ideal = e["step_time"], e["mfu"] * e["step_time"]
    parts = {k: est.time[k] for k in ("bubble", "tp_comm", "cp_comm", "pp_comm")}
    # the exposed sync is the configuration's own (training_step: only the trained layers' gradients are reduced,
    # 6344ccc), not the estimate's, which reduces every parameter's: what is left of the step once its compute,
    # optimizer step and the parts above are taken out (the same figure where every layer trains)
    opt = e.get("optimizer_time", est.time["optimizer"])
    parts["dp_exposed"] = max(0.0, step - opt - e["compute_time"] - sum(parts.values()))
    parts["compute_below_peak"] = max(0.0, e["compute_time"] - ideal)
    parts["optimizer"] = max(0.0, step - e["compute_time"] - sum(v for k, v in parts.items()
                                                                  if k != "compute_below_peak"))
    return ideal, dict(sorted(parts.items(), key=lambda kv: -kv[1])), est.bubble_fraction


def _batch_one(inst: BatchInstance, one: dict) -> Finding:
    """How efficient is batch size 1: the MFU and the largest loss of its step, named from the step's own parts."""
    from fractions import Fraction

    from explorer.puzzles.threed_report import TIME_PART_NAMES

    t, plan = inst.track, inst.track.crisis_plan
    ideal, losses, bubble = step_losses(inst, one)
    step = one["step_time"]
    m = one["accumulation"]
    p, v = plan.pp, plan.virtual_stages
    recompute = inst.plan_choice.recompute != "none"

    def why(key: str) -> str:
        if key == "bubble":
            frac = Fraction(p - 1, v * m + p - 1)
            form = "(p - 1)/(m + p - 1)" if v == 1 else "(p - 1)/(v m + p - 1)"
            return (f"PP {p} with {plural(m, 'micro-batch')} per step leaves each stage idle {form} = "
                    f"{frac.numerator}/{frac.denominator} of the pipeline's time, the step model's bubble fraction "
                    f"{_pct(bubble)}")
        if key == "compute_below_peak":
            return (f"{human_number(one['compute_time'])} s of compute for {human_number(ideal)} s of model FLOPs at "
                    f"the {t.cluster.accelerator.name}'s peak: GEMMs of micro-batch 1 run below it"
                    + (f", and {inst.plan_choice.recompute} recomputation adds FLOPs MFU does not count"
                       if recompute else ""))
        if key == "dp_exposed":
            return (f"the gradient all-reduce ({human_number(one['comm_time'])} s, network "
                    f"{_pct(one['network_utilisation'])} busy) is paid every step and one micro-batch's backward "
                    "hides only part of it")
        return ""

    names = {**TIME_PART_NAMES, "compute_below_peak": "compute below peak"}
    shown = [(k, x) for k, x in losses.items() if x >= 0.005 * step]
    top, top_s = shown[0]
    rest = [f"{names.get(k, k)} {human_number(x)} s ({_pct(x / step)}" + (f"; {why(k)}" if why(k) else "") + ")"
            for k, x in shown[1:]]
    return Finding(
        "How efficient is batch size 1?",
        f"{t.workload.precision}, micro-batch 1, no accumulation: MFU {_pct(one['mfu'])}. Of its "
        f"{human_number(step)} s step, the model's FLOPs at peak would take {human_number(ideal)} s; the largest "
        f"loss is the {names.get(top, top)}, {human_number(top_s)} s ({_pct(top_s / step)} of the step)"
        + (f": {why(top)}" if why(top) else "") + "."
        + (f" Then {', '.join(rest)}." if rest else ""))


def _iron_law(inst: BatchInstance, e: dict, figures: dict[str, Figure]) -> Finding:
    """The answer's step on the Iron Law of ML systems, T = D_vol/BW + O/(R_peak eta) + L_lat, and which of the
    Data, Algorithm and Machine levers moved each term."""
    tm = e["time"]
    compute = tm["compute"]
    movement = tm["tp_comm"] + tm["cp_comm"] + tm["pp_comm"] + tm["dp_exposed"] + tm["optimizer"]
    fixed = tm["bubble"]
    step = e["step_time"]
    figures["iron_law_compute_s"] = Figure(compute, "s", "Iron Law: O / (R_peak eta), compute")
    figures["iron_law_data_movement_s"] = Figure(movement, "s", "Iron Law: D_vol / BW, data movement exposed")
    figures["iron_law_overhead_s"] = Figure(fixed, "s", "Iron Law: L_lat, pipeline fill and drain")
    plan = e["plan"]
    return Finding(
        "The Iron Law: where does the answer's step go, and which D, A, M lever moved each term?",
        f"T = D_vol/BW + O/(R_peak eta) + L_lat = {human_number(movement)} + {human_number(compute)} + "
        f"{human_number(fixed)} s = {human_number(step)} s per step (compute; tensor, context and pipeline sends, "
        f"exposed gradient sync and the optimizer pass over memory; the pipeline's fill and drain). Data: the global "
        f"batch ({e['global_batch']:,} samples) sets O per step and, against the critical batch, the samples to the "
        f"target (E/E_min = {human_number(e['samples_multiplier'])}). Algorithm: {e['precision']} keeps R_peak at "
        f"the dense 16-bit rate; {plural(e['accumulation'], 'accumulation step')} of micro-batch {e['micro_batch']} "
        f"amortise the sync. Machine: {plan.describe()} sets eta (GEMM sizes per GPU), D_vol (what crosses TP, CP, "
        f"PP and DP links) and L_lat (bubble {_pct(e['bubble'])}).")


def _cap_conflict(inst: BatchInstance, pool: list[dict]) -> dict | None:
    """Where the user capped the batch (--batch) and the target is out of reach under the cap: is the cap the
    conflicting constraint? The search already covers every batch up to the dataset (all_configs, plan_search), the
    cap being only a limit on it (violations); the same pool judged without the cap gives, where it reaches the
    target, the answer without the cap (_choose, the shortest time to the target loss) and the smallest batch that
    reaches the target within every other limit. None where no cap is set or nothing above it reaches the target."""
    if inst.batch_cap is None:
        return None
    u = replace(inst, batch_cap=None)
    reach = [c for c in pool if not violations(u, c)]
    if not reach:
        return None
    answer, ok = _choose(u, pool)
    smallest = min(reach, key=lambda c: (c["global_batch"], -c["mfu"]))
    return {"answer": answer if ok else smallest, "smallest": smallest}


def _config_words(c: dict) -> str:
    return (f"{c['precision']}, micro-batch {c['micro_batch']} x {c['accumulation']}"
            + (f" on {c['plan'].describe()}" if "plan" in c else ""))


def build_report(res: BatchResult) -> Report:
    inst, t = res.inst, res.inst.track
    dw, cr = t.device_word, res.crisis
    n_dev = t.crisis_plan.devices
    dws = t.device_plural
    usd_h = n_dev * t.device_hour_usd
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    extra: dict[str, Any] = {"engine": "exhaustive", "memory_plan": inst.memory_plan_source}
    figures["crisis_mfu"] = Figure(cr["mfu"], "fraction", "MFU as started")
    # (1 - MFU) x spend: GPU time that does not turn into model FLOPs (bubble, communication, kernels below peak,
    # recomputation), not idle time; the figure keys keep their names for saved reports
    figures["crisis_idle_usd_per_hour"] = Figure(usd_h * (1 - cr["mfu"]), "USD/h",
                                                 "(1 - MFU) x spend as started (not converted into model FLOPs)")
    figures["critical_batch"] = Figure(inst.b_crit, "samples", "critical batch size")
    findings.append(Finding(
        "The crisis: what does the starting configuration reach, and what does it cost?",
        f"{cr['precision']} micro-batch {cr['micro_batch']} x {cr['accumulation']} "
        f"(global batch {cr['global_batch']:,}): "
        f"MFU {_pct(cr['mfu'])} vs target {_pct(inst.target_mfu)}; {n_dev:,} {dws} x {t.device_hour_usd:g} USD/h = "
        f"{usd_h:,.2f} USD/h, of which (1 - MFU) x spend = {usd_h * (1 - cr['mfu']):,.2f} USD/h buys {dw} time "
        f"that is not converted into model FLOPs (the step's losses, not idle {dws}); network busy "
        f"{_pct(cr['network_utilisation'])} of the step; P(NaN) per step {human_sci(cr['p_nan'])}"
        + (f"; breaks: {', '.join(c.name for c in violations(inst, cr, with_target=False))}."
           if violations(inst, cr, with_target=False) else ".")))
    one = evaluate_config(inst, t.workload.precision, 1, 1)
    figures["batch1_mfu"] = Figure(one["mfu"], "fraction", "MFU at micro-batch 1, no accumulation")
    findings.append(_batch_one(inst, one))
    status = "computed"
    cap = None  # where the user's batch cap is what keeps the target out of reach (_cap_conflict)
    if res.best is None:
        headline = (f"No (precision, micro-batch, accumulation) on the {t.key} track satisfies the memory, "
                    f"stability and dataset limits.")
        status = "infeasible"
        e = cr
    else:
        e = res.best
        if res.reaches_target:
            on = (f" on {e['plan'].describe()}" if "plan" in e else " on the track's plan") if res.planned else ""
            headline = (f"{e['precision']}, micro-batch {e['micro_batch']} x "
                        f"{plural(e['accumulation'], 'accumulation step')} (global batch {e['global_batch']:,})"
                        f"{on} reaches MFU {_pct(e['mfu'])} >= {_pct(inst.target_mfu)} with the network "
                        f"{_pct(e['network_utilisation'])} busy and B <= B_crit {inst.b_crit:,}: the shortest time to "
                        f"the target loss ({human_number(e['samples_multiplier'])} x the minimum samples).")
            if res.planned and res.fixed_best is not None:
                fb = res.fixed_best
                gain = fb["time_to_target"] / e["time_to_target"] - 1.0
                headline += (f" With the track's plan fixed the best is MFU {_pct(fb['mfu'])} (global batch "
                             f"{fb['global_batch']:,})" + (f", short of {_pct(inst.target_mfu)}: the plan held MFU "
                                                           "back, not the batch." if fb["mfu"] < inst.target_mfu
                                                           else f", {_pct(gain)} longer to the target loss."
                                                           if gain > 0.0005 else "."))
            extra["objective"] = {"name": "time_to_target", "value": e["time_to_target"], "sense": "min"}
        else:
            broken = [c.name for c in violations(inst, e, with_target=False)]
            # The lab asks for a configuration that reaches the target MFU; none does, so the puzzle as posed is
            # infeasible (status 'infeasible', exit 1, like a --batch cap no plan can meet). By design the report
            # still gives the closest answer: the highest throughput within the other limits, which at a fixed
            # model is the highest MFU within them (MFU = model FLOPs per sample x samples/s / (devices x peak)).
            status = "infeasible"
            on = f" on {e['plan'].describe()}" if "plan" in e else (" on the track's plan" if res.planned else "")
            limits = "hard " if broken else "other "
            pool = [c for c in res.planned + res.configs
                    if {v.name for v in violations(inst, c, with_target=False)} <= set(broken)]
            top = max((c["mfu"] for c in pool), default=e["mfu"])
            where = (f"at {e['precision']}, micro-batch {e['micro_batch']} x {e['accumulation']} "
                     f"(global batch {e['global_batch']:,}){on}")
            headline = (f"Infeasible: no configuration reaches the {_pct(inst.target_mfu)} MFU target on the {t.key} "
                        f"track; the highest MFU within the {limits}limits is {_pct(top)}"
                        + (f", {where}" if top <= e["mfu"] else
                           f"; the closest answer (the highest throughput within them) is MFU {_pct(e['mfu'])} {where}")
                        + (f", still breaking: {', '.join(broken)}." if broken else "."))
            if broken:
                headline += " " + _network_floor(inst, res.planned + res.configs, e)
            cap = _cap_conflict(inst, res.planned + res.configs)
            if cap is not None:
                a, sm = cap["answer"], cap["smallest"]
                headline += (f" The conflicting constraint is the batch cap (--batch {inst.batch_cap:,}): without it "
                             f"the search reaches the target at global batch {a['global_batch']:,} ("
                             f"{_config_words(a)}, MFU {_pct(a['mfu'])}, the shortest time to the target loss)"
                             + ("" if sm is a else f"; the smallest batch that reaches it within every other limit is "
                                f"{sm['global_batch']:,} (MFU {_pct(sm['mfu'])})") + ".")
            extra["objective"] = {"name": "samples_per_s", "value": e["samples_per_s"], "sense": "max"}
        # the plan the answer was priced on: its own where the plan is searched, else the fixed one (fixed_plan)
        plan_used = _plan_fields(e["plan"]) if "plan" in e else fixed_plan(inst) or _plan_fields(t.crisis_plan)
        extra["configuration"] = {"precision": e["precision"], "micro_batch": e["micro_batch"],
                                  "accumulation": e["accumulation"], **plan_used}
        extra["reaches_target"] = res.reaches_target
        figures["mfu"] = Figure(e["mfu"], "fraction", "MFU of the answer")
        figures["global_batch"] = Figure(e["global_batch"], "samples", "global batch of the answer")
        figures["idle_usd_per_hour"] = Figure(usd_h * (1 - e["mfu"]), "USD/h",
                                              "(1 - MFU) x spend of the answer (not converted into model FLOPs)")
    findings.append(Finding("Which batch size, precision, accumulation and parallel plan reach the target MFU?"
                            if res.planned else "Which batch size, precision and accumulation reach the target MFU?",
                            headline))
    findings.append(_network_premise(inst, cr, e))
    if res.planned and res.best is not None and "plan" in e:
        findings.append(_iron_law(inst, e, figures))
    if res.best is not None and not res.reaches_target:
        # what the target would take if the convergence limit were ignored, and what that costs in samples
        over = [c for c in res.planned + res.configs
                if all(v.name == "critical batch" for v in violations(inst, c))]
        if cap is not None:
            a, sm = cap["answer"], cap["smallest"]
            figures["batch_for_target"] = Figure(sm["global_batch"], "samples", "smallest batch reaching the target")
            findings.append(Finding(
                "What would the target MFU take, and why is it not the answer?",
                f"A larger batch than the cap allows. No batch up to the cap (--batch {inst.batch_cap:,}) reaches "
                f"{_pct(inst.target_mfu)} within the other limits; the search covers every batch up to the dataset, "
                f"and without the cap {_config_words(sm)}: global batch {sm['global_batch']:,} reaches MFU "
                f"{_pct(sm['mfu'])} within every other limit"
                + ("" if sm is a else f", and the answer without the cap (the shortest time to the target loss) is "
                   f"global batch {a['global_batch']:,} ({_config_words(a)}), MFU {_pct(a['mfu'])}")
                + f". The batch cap is the constraint that conflicts with the target: with --batch "
                f"{sm['global_batch']:,} or more the puzzle is feasible."))
        elif over:
            o = min(over, key=lambda c: (c["global_batch"], -c["mfu"]))
            figures["batch_for_target"] = Figure(o["global_batch"], "samples", "smallest batch reaching the target")
            findings.append(Finding(
                "What would the target MFU take, and why is it not the answer?",
                f"{o['precision']}, micro-batch {o['micro_batch']} x {o['accumulation']}"
                + (f" on {o['plan'].describe()}" if "plan" in o else "") + ": global batch "
                f"{o['global_batch']:,} reaches MFU {_pct(o['mfu'])} within every other limit, but that is "
                f"{human_number(o['global_batch'] / inst.b_crit, 2)}x "
                f"the critical batch {inst.b_crit:,}: E/E_min = 1 + B/B_crit = "
                f"{human_number(o['samples_multiplier'])}. " + _target_vs_answer(inst, o, e)))
        else:
            # the ceiling: the highest MFU at any batch searched, the soft limits (critical batch, network) set
            # aside; with the track's plan fixed, and (where the plan is a variable) with the 3D solver's plan
            soft = {"critical batch", "MFU", "network utilisation"}

            def top(pool: list[dict]) -> dict | None:
                cands = [c for c in pool if all(v.name in soft for v in violations(inst, c))]
                return max(cands, key=lambda c: c["mfu"]) if cands else None

            fixed, free = top(res.configs), top(res.planned)
            parts = []
            if free is not None:
                figures["mfu_ceiling_free_plan"] = Figure(
                    free["mfu"], "fraction", "highest MFU at any batch, critical batch set aside, plan free")
                parts.append(f"with the parallel plan free (the 3D solver's best at each batch) it is MFU "
                             f"{_pct(free['mfu'])}, at global batch {free['global_batch']:,} on "
                             f"{free['plan'].describe()}")
            if fixed is not None:
                figures["mfu_ceiling"] = Figure(fixed["mfu"], "fraction",
                                                "highest MFU at any batch, critical batch set aside, track's plan"
                                                if res.planned else "highest MFU at any batch")
                pl = replace(t.crisis_plan, micro_batch=fixed["micro_batch"], global_batch=fixed["global_batch"])
                parts.append(f"with the track's plan fixed it is MFU {_pct(fixed['mfu'])}, at global batch "
                             f"{fixed['global_batch']:,} ({fixed['precision']}, {pl.describe()})")
            left = ("What is left is set by the matrix sizes on this hardware, the parallel plan and the network, not "
                    "by the batch (see `explore solve 3d` / `explore solve scaling`).")
            beyond = ""
            if inst.batch_cap is not None:
                # the same ceiling without the cap: the pool already holds every batch up to the dataset
                u = replace(inst, batch_cap=None)
                cands = [c for c in res.planned + res.configs if all(v.name in soft for v in violations(u, c))]
                under = max([x["mfu"] for x in (fixed, free) if x is not None], default=0.0)
                up = max(cands, key=lambda c: c["mfu"]) if cands else None
                if up is not None and up["mfu"] > under:
                    more = [v.name for v in violations(u, up, with_target=False)]
                    beyond = (f" Without the cap (--batch {inst.batch_cap:,}) the ceiling is MFU {_pct(up['mfu'])}, at "
                              f"global batch {up['global_batch']:,} ({_config_words(up)})")
                    if up["mfu"] >= inst.target_mfu:
                        beyond += (f": it reaches the target but breaks {' and '.join(more)}; the batch cap and "
                                   f"{' and '.join(more)} conflict with the target." if more else ".")
                        left = ""
                    else:
                        beyond += ", still short of the target."
                        left = "Beyond the cap, w" + left[1:]
            why = ((" The ceiling, critical batch and network limits set aside: " + "; ".join(parts) + "."
                    if parts else "") + beyond + (" " + left if left and (parts or beyond) else ""))
            upto = (f"the cap (--batch {inst.batch_cap:,}, accumulation <= {inst.max_accumulation})"
                    if inst.batch_cap is not None else
                    f"the dataset ({inst.dataset:,} samples, accumulation <= {inst.max_accumulation})")
            findings.append(Finding(
                "What would the target MFU take?",
                f"No batch up to {upto} "
                f"reaches {_pct(inst.target_mfu)} within memory and stability limits on this track"
                + (", with the track's plan or the 3D solver's." if res.planned else ".") + why))
    c = inst.plan_choice
    L = t.workload.model.layers
    if res.planned and "plan" in e:
        pl = e["plan"]
        findings.append(Finding(
            "Which memory plan does the answer train with, and does it fit?",
            f"The 3D solver's: ZeRO-{pl.zero}, recompute {pl.recompute}, {t.workload.optimizer}, every layer trained, "
            f"sharded as {pl.describe()}; at {e['precision']} micro-batch {e['micro_batch']}: {_bytes(e['memory'])} of "
            f"{_bytes(e['memory_limit'])} per {dw}."))
    else:
        findings.append(Finding(
            "Which memory plan does the answer train with, and does it fit?",
            f"{c.optimizer}, recompute {c.recompute}, ZeRO-{c.zero}, {c.trainable_layers} of {L} layers trained"
            f"{' (output head only)' if c.trainable_layers == 0 else ''} ({inst.memory_plan_source}); at "
            f"{e['precision']} micro-batch {e['micro_batch']}: {_bytes(e['memory'])} of {_bytes(e['memory_limit'])} "
            f"per {dw}."))
    figures["network_utilisation"] = Figure(e["network_utilisation"], "fraction", "network busy fraction")
    figures["comm_to_compute"] = Figure(e["comm_to_compute"], "", "communication / compute time")
    # the lab's prediction: comm-to-compute ratio vs batch
    sweep = [c for c in res.configs if c["precision"] == e["precision"] and c["micro_batch"] == e["micro_batch"]]
    pairs = [(c1, c2) for c1 in sweep for c2 in sweep if c2["accumulation"] == 2 * c1["accumulation"]]
    if pairs:
        c1, c2 = pairs[0]
        findings.append(Finding(
            "How does the communication-to-compute ratio move with batch size (the lab's prediction)?",
            f"The gradient all-reduce moves the same bytes per step whatever the batch, while compute grows with it: "
            f"batch {c1['global_batch']:,} -> {c2['global_batch']:,} takes the ratio from "
            f"{human_number(c1['comm_to_compute'])} to {human_number(c2['comm_to_compute'])} "
            f"(x{c2['comm_to_compute'] / c1['comm_to_compute']:.3f}, i.e. about 1/B)."))
    # numerics: the edge crisis and the general answer
    # at the starting configuration's batch: the crisis as the team met it
    fp16 = evaluate_config(make_instance(t, loss_scaling="none"), "fp16", cr["micro_batch"], cr["accumulation"]) \
        if "fp16" in inst.precisions else None
    bf16 = evaluate_config(inst, "bf16", cr["micro_batch"], cr["accumulation"]) if "bf16" in inst.precisions else None
    if fp16 is not None:
        within = (f"NaN expected within about {human_sci(1 / fp16['p_nan'])} steps" if fp16["p_nan"] > 0
                  else "below double precision: no NaN expected")
        msg = (f"FP16 (max {num.max_finite('fp16'):,.0f}) without loss scaling: P(a step overflows to inf -> NaN) = "
               f"{human_sci(fp16['p_nan'])} ({within}), and {_pct(fp16['underflow'])} of gradients flush to zero "
               f"(below 2^-24). ")
        if bf16 is not None:
            msg += (f"BF16 (max about 3.4 x 10^38, FP32's exponent range): P(NaN) = {human_sci(bf16['p_nan'])}. ")
        g_med = inst.sc.gradient_log2[0]
        msg += (f"Dynamic loss scaling (init 2^16, x0.5 on overflow) turns gradient overflow into skipped steps but "
                f"cannot rescue forward overflow; gradient clipping at {human_number(inst.cm.gradient_clip_norm)} "
                f"cannot either: ||g|| = inf gives min(1, c/inf) x inf = not a number. Clipping's role in FP16 is "
                f"elsewhere: it bounds finite spikes (a loss spike's large but finite gradient) so the step stays "
                f"stable; under loss scaling it must act on unscaled gradients (PyTorch: scaler.unscale_(optimizer) "
                f"before clip_grad_norm_), or its threshold meets gradients 2^16 too large and clips every step; and "
                f"the global norm is summed in FP32, since a gradient near 2^{g_med:.0f} squares to "
                f"2^{2 * g_med:.0f}, below FP16's smallest subnormal 2^-24.")
        findings.append(Finding("Why does mixed precision go NaN, and what fixes it?", msg))
        figures["fp16_no_scaling_p_nan"] = Figure(fp16["p_nan"], "", "FP16, no loss scaling: P(NaN) per step")
    constraints = []
    checks = [("MFU", e["mfu"], inst.target_mfu, "fraction", ">="),
              ("network utilisation", e["network_utilisation"], inst.headroom, "fraction", "<="),
              ("critical batch", e["global_batch"], inst.b_crit, "samples", "<="),
              ("memory", e["memory"], e["memory_limit"], "B", "<="),
              ("P(NaN) per step", e["p_nan"], inst.cm.max_nan_per_step, "", "<=")]
    if inst.batch_cap is not None:  # the user's cap is one of the limits the answer is judged against
        checks.append((BATCH_CAP, e["global_batch"], inst.batch_cap, "samples", "<="))
    binds = _binding(inst, res.planned + res.configs, e) if res.reaches_target else None
    for name, v, lim, unit, sense in checks:
        slack = (lim - v) if sense == "<=" else (v - lim)
        binding = name in binds if binds is not None else 0 <= slack <= 0.1 * max(abs(lim), 1e-30)
        if name == BATCH_CAP and cap is not None:
            binding = True  # without it the target is reached (_cap_conflict): the constraint that conflicts
        constraints.append(Constraint(name, v, lim, unit, sense, binding,
                                      "conflicts with the MFU target" if name == BATCH_CAP and cap is not None
                                      else ""))
    rows = [[c["global_batch"], c["accumulation"], c["mfu"], c["comm_to_compute"], c["network_utilisation"],
             c["samples_multiplier"]] for c in sweep]
    tables = {"sweep": Table(["global batch", "accumulation", "MFU (fraction)", "comm/compute",
                              "network busy (fraction)", "samples x (E/E_min)"], rows,
                             f"{e['precision']}, micro-batch {e['micro_batch']}: accumulation sweep"
                             + (" (the track's plan)" if res.planned else ""))}
    if res.planned:
        seen = [c for c in res.planned if c["precision"] == e["precision"]]
        tables["plan_search"] = Table(
            ["global batch", "parallel plan (3D solver)", "MFU (fraction)", "network busy (fraction)",
             "samples x (E/E_min)", "time to target per sample (s)"],
            [[c["global_batch"], c["plan"].describe(), c["mfu"], c["network_utilisation"], c["samples_multiplier"],
              c["time_to_target"]] for c in seen],
            f"{e['precision']}: the best plan at each global batch (data, algorithm and machine free)")
    data = {"comm_ratio": {"global_batch": [c["global_batch"] for c in sweep],
                           "comm_to_compute": [c["comm_to_compute"] for c in sweep],
                           "mfu": [c["mfu"] for c in sweep],
                           "network_utilisation": [c["network_utilisation"] for c in sweep],
                           "critical_batch": inst.b_crit, "target_mfu": inst.target_mfu,
                           "headroom": inst.headroom, "chosen_batch": e["global_batch"]}}
    formulas = [
        Formula("MFU", "model FLOPs / (step time x devices x peak)", "docs/conventions.md 'Utilisation'"),
        Formula("comm / compute", "t_allreduce(gradient bytes) / t_compute(B); t_compute grows with B",
                "ring all-reduce 2 (N-1) alpha + 2 (N-1)/N M/B (docs/conventions.md 'Collectives')"),
        Formula("critical batch", "S = S_min (1 + B_crit/B), E = E_min (1 + B/B_crit); B_noise = tr(Sigma)/|G|^2",
                "McCandlish et al. 2018, eq. 2.8, 2.11"),
        Formula("LM critical batch", "B_crit(L) = 2 x 10^8 tokens / L^(1/0.21)", "Kaplan et al. 2020, eq. 1.4"),
        Formula("overflow", "P = 1 - (1 - Q((log2(max/S) - mu)/sigma))^n; FP16 max 65504",
                "IEEE 754 binary16; Micikevicius et al. 2018 sec. 3.2"),
        Formula("clipping", "g <- g min(1, c / ||g||)", "Pascanu et al. 2013, eq. 7"),
        Formula("Iron Law of ML systems", "T = D_vol / BW + O / (R_peak eta) + L_lat",
                "Reddi et al., Machine Learning Systems (Harvard CS249r), Principle 1; D, A, M = data, algorithm, "
                "machine", "per step: exposed data movement + compute at the achieved efficiency + fixed overhead "
                "(the pipeline bubble)"),
    ]
    assumptions = [Assumption(f"critical batch {inst.b_crit:,} samples: {inst.b_crit_source}"
                              + _b_crit_rounding(inst), ""),
                   Assumption(inst.sc.numerics_source, "lab08_training.toml"),
                   Assumption(f"memory plan: {inst.memory_plan_source}", ""),
                   Assumption(f"loss scaling in the search: {inst.loss_scaling} ({inst.cm.sources.get('loss_scale')})",
                              ""),
                   Assumption(f"a precision is accepted if P(NaN) per step <= {inst.cm.max_nan_per_step:g}",
                              inst.cm.sources.get("max_nan", "")),
                   *_storage_precisions(inst)]
    return Report(puzzle="batch", lab="08", part=3, track=t.key, title="The scaling wall", status=status,
                  headline=headline, figures=figures, findings=findings, constraints=constraints, formulas=formulas,
                  assumptions=assumptions, tables=tables, plots=["comm_ratio"], data=data, extra=extra,
                  solve_time_s=res.solve_time_s)


def _b_crit_rounding(inst: BatchInstance) -> str:
    """How the whole-sample critical batch came from Kaplan et al.'s fit (empty where it was given in samples)."""
    sc = inst.sc
    if sc.critical_batch_samples is not None or inst.b_crit != critical_batch_samples(inst.track, sc):
        return ""
    exact = conv.kaplan_critical_batch_tokens(sc.critical_batch_loss_nats) / inst.track.workload.seq_len
    return (f"; {human_number(exact, 4)} samples of {inst.track.workload.seq_len:,} tokens, rounded down to the "
            "largest whole batch not above it, one rule for this part and the hierarchy's")


def _storage_precisions(inst: BatchInstance) -> list[Assumption]:
    """What a 16-bit precision means on a part with no 16-bit arithmetic (its catalog peak below its FP32 one, as
    the nRF52840's Cortex-M4F): a storage format, widened to FP32 as it is loaded; one line each."""
    acc = inst.track.cluster.accelerator
    fp32 = acc.peak_flops.get("fp32", 0.0)
    return [Assumption(f"{p.upper()} on the {acc.name} is a storage format, not an arithmetic: values are kept in "
                       f"{p.upper()} (half the bytes in memory and over the link) and widened to FP32 for every "
                       f"multiply-add, so an {p.upper()} step computes at {human_number(acc.peak_flops[p] / 1e6)} "
                       f"MFLOP/s peak against FP32's {human_number(fp32 / 1e6)}: it saves bytes, never time",
                       acc.source)
            for p in inst.precisions if p in ("fp16", "bf16") and 0.0 < acc.peak_flops.get(p, 0.0) < fp32]


@fleet_view("batch")
def solve(track: str = "cloud", **options: Any) -> Report:
    """Registry entry (options: target_mfu, network_headroom, batch, critical_batch, loss_scaling,
    max_accumulation)."""
    res = solve_batch(track, **options)
    report = build_report(res)
    inst = res.inst
    report.scenario = {"target_mfu": inst.target_mfu, "network_headroom": inst.headroom,
                       "batch": options.get("batch"),  # None: no cap beyond the dataset
                       "critical_batch": options.get("critical_batch") or critical_batch_samples(inst.track, inst.sc),
                       "loss_scaling": inst.loss_scaling, "max_accumulation": inst.max_accumulation}
    return report


@cache
def _reachable(track: str, options: tuple) -> bool:
    """Does any configuration reach the target (decides how attempts are scored)? Cached per scenario."""
    inst = make_instance(track, **dict(options))
    configs = all_configs(inst) + (plan_search(inst) if inst.sc.plan_search_batches else [])
    return any(not violations(inst, c) for c in configs)


def _planned_attempt(inst: BatchInstance, precision: str, micro_batch: int, accumulation: int,
                     plan: dict[str, Any]) -> dict | list[str]:
    """An attempt with its own parallel plan, on the step model (the same estimate the 3D solver ranks by);
    a list of reasons if the plan cannot be built."""
    from explorer.cost.step import estimate
    from explorer.plan import ParallelPlan

    try:
        dp = int(float(plan["dp"]))
        pl = ParallelPlan(tp=int(float(plan["tp"])), pp=int(float(plan["pp"])), dp=dp, cp=int(float(plan["cp"])),
                          micro_batch=micro_batch, global_batch=dp * micro_batch * accumulation,
                          virtual_stages=int(float(plan["virtual_stages"])), zero=int(float(plan["zero"])),
                          recompute=str(plan["recompute"]).strip().lower(),
                          sequence_parallel=int(float(plan["tp"])) > 1)
    except (TypeError, ValueError, UsageError) as exc:
        return [f"the parallel plan cannot be built: {str(exc).splitlines()[0]}"]
    if pl.devices != inst.track.cluster.devices:
        return [f"TP x CP x PP x DP = {pl.devices:,}, not the track's {inst.track.cluster.devices:,} devices"]
    return _entry(inst, precision, estimate(_setup(inst.track.key, inst.track.workload.precision), pl))


def fixed_plan(inst: BatchInstance) -> dict[str, Any] | None:
    """The parallel plan every attempt is priced on where the track does not search one (evaluate_config: the
    track's TP, PP, DP, CP and virtual stages, the memory plan's ZeRO stage and recomputation); None where the plan
    is an attempt's own (sc.plan_search_batches, priced by _planned_attempt)."""
    if inst.sc.plan_search_batches:
        return None
    plan, c = inst.track.crisis_plan, inst.plan_choice
    return {**_plan_fields(plan), "zero": c.zero, "recompute": c.recompute}


def _choices(inst: BatchInstance) -> dict[str, list]:
    """The values each column of an attempt may take beyond its kind, which evaluate_attempt refuses others of:
    the precisions (the searched ones first, then the others the cost model prices, explorer.plan.PRECISIONS, which
    are outside the searched space) and recomputation modes (explorer.plan.RECOMPUTE, what ParallelPlan builds);
    where the plan is fixed (fixed_plan), each plan column's one value."""
    out: dict[str, list] = {"precision": list(dict.fromkeys([*inst.precisions, *PRECISIONS]))}
    fixed = fixed_plan(inst)
    out.update({"recompute": list(RECOMPUTE)} if fixed is None else {k: [v] for k, v in fixed.items()})
    return out


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named or fixed column takes on `track` (`explore attempts template`): _choices, the lists
    evaluate_attempt checks with (they do not depend on the scenario's options)."""
    return _choices(make_instance(track))


def searched_values(inst: BatchInstance) -> dict[str, list]:
    """The values of each column the search covers, which evaluate_attempt grades any other as outside of: the
    searched precisions, micro-batches and accumulations 1 to the largest (all_configs); where the plan is fixed its
    one value per plan column, else the ZeRO stages and recomputation modes (the parallel degrees are the attempt's
    own: any whose product is the track's devices is priced on the step model)."""
    out: dict[str, list] = {"precision": list(inst.precisions), "micro_batch": list(inst.micro_batches),
                            "accumulation": list(range(1, inst.max_accumulation + 1))}
    fixed = fixed_plan(inst)
    out.update({"zero": list(ZERO_STAGES), "recompute": list(RECOMPUTE)} if fixed is None else
               {k: [v] for k, v in fixed.items()})
    return out


def attempt_space(track: str = "cloud") -> dict[str, list]:
    """What the template lists for each column on `track`: searched_values of the default scenario."""
    return searched_values(make_instance(track))


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """What a file may leave out: the track's training precision and parallel plan (where the plan is fixed, the one
    every attempt is priced on)."""
    t = get_track(track)
    return {"precision": t.workload.precision, **(fixed_plan(make_instance(track)) or _plan_fields(t.crisis_plan))}


def _check_choices(inst: BatchInstance, values: dict[str, Any]) -> None:
    """A one-line UsageError for the first column whose value is not among _choices(inst): an unknown name, or on a
    track whose plan is fixed a plan column that differs from it (the grader would price the fixed plan instead)."""
    fixed = fixed_plan(inst) or {}
    for k, valid in _choices(inst).items():
        v = values.get(k)
        if isinstance(valid[0], str):
            ok, shown = str(v).strip().lower() in valid, repr(str(v).strip()[:40])
        else:
            try:
                ok = not isinstance(v, bool) and float(v) == valid[0]
            except (TypeError, ValueError, OverflowError):
                ok = False
            shown = V.short(v)
        if ok:
            continue
        if k in fixed:
            plan = ", ".join(f"{x} {y}" for x, y in fixed.items())
            raise UsageError(f"{k} {shown}: the {inst.track.key} track's batch part prices every attempt on its fixed "
                             f"plan ({plan}); {k} takes {valid[0]} (or leave the cell empty)")
        raise UsageError(f"{k} {shown} unknown; valid: {', '.join(map(str, valid))}")


def _neighbours(inst: BatchInstance, at: dict[str, Any]) -> list[dict[str, Any]]:
    """One change each, the other values as the attempt has them (`at`): every other searched precision, micro-batch
    and accumulation (searched_values); where the plan is the attempt's own, every ZeRO stage and recomputation mode
    and each TP, CP, PP and virtual-stage count of the 3D solver's space on this track (build_space: the plan search's
    space), DP following TP, CP and PP to keep the track's devices (said in '__derived__'), and DP alone where the
    degrees do not cover the devices."""
    out = [{**at, k: x} for k, dom in searched_values(inst).items() for x in dom if str(x) != str(at.get(k))]
    if fixed_plan(inst) is not None:
        return out
    from explorer.puzzles.threed import instance_for
    from explorer.puzzles.threed_space import build_space, degree_moves

    space = build_space(instance_for(inst.track.key))
    try:
        deg = {k: int(float(at[k])) for k in ("tp", "cp", "pp", "dp", "virtual_stages")}
    except (TypeError, ValueError, OverflowError, KeyError):
        return out
    # the moves carry the attempt's own cells, with the moved degrees as numbers
    out += [{**at, **{k: m[k] for k in ("tp", "cp", "pp", "dp") if m[k] != deg[k]},
             **({"__derived__": m["__derived__"]} if "__derived__" in m else {})}
            for m in degree_moves(space, inst.track.cluster.devices, deg)]
    out += [{**at, "virtual_stages": x} for x in space.v if x != deg["virtual_stages"]]
    return out


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score (precision, micro-batch, accumulation) on the grid the exhaustive search covers (all_configs):
    a value off that grid is outside the searched space."""
    inst = make_instance(track, **options)
    values = {**attempt_defaults(track), **{k: v for k, v in values.items() if v not in (None, "")}}
    _check_choices(inst, values)
    p = str(values.get("precision", "")).strip().lower()
    try:
        b, a = int(float(values["micro_batch"])), int(float(values["accumulation"]))
    except KeyError as exc:
        raise UsageError(f"attempt is missing {exc.args[0]!r}; columns: {', '.join(ATTEMPT_VARIABLES)}") from None
    require_positive_int("micro_batch", b)
    require_positive_int("accumulation", a)
    if fixed_plan(inst) is None:  # as the 3D grader: there is no such stage to be outside the searched space
        try:
            zero = int(float(values.get("zero")))
        except (TypeError, ValueError, OverflowError):
            zero = None
        check_zero_stage(zero, values.get("zero"))
    at = {**{k: values[k] for k in PLAN_VARIABLES if k in values}, "precision": p, "micro_batch": b,
          "accumulation": a}
    outside = []
    searched = searched_values(inst)
    if p not in searched["precision"]:
        outside.append(f"precision {p} is outside the searched space, precisions: {', '.join(searched['precision'])}")
    if b not in searched["micro_batch"]:
        outside.append(f"micro_batch = {b} is outside the searched space, micro-batches: "
                       f"{', '.join(map(str, searched['micro_batch']))}")
    if a not in searched["accumulation"]:
        outside.append(f"accumulation = {a} is outside the searched space, accumulation <= {inst.max_accumulation}")
    if outside:
        return {"feasible": False, "figures": {}, "violations": [], "outside_space": outside, "objective": None,
                "objective_name": "time_to_target", "sense": "min", "read": at, "neighbours": _neighbours(inst, at)}
    t = inst.track
    given = {k: values.get(k, v) for k, v in _plan_fields(t.crisis_plan).items()}
    if inst.sc.plan_search_batches:  # the plan is a variable: score it on the step model (the 3D solver's)
        e = _planned_attempt(inst, p, b, a, given)
        if isinstance(e, list):
            return {"feasible": False, "figures": {}, "violations": [], "outside_space": e, "objective": None,
                    "objective_name": "time_to_target", "sense": "min", "read": at, "neighbours": _neighbours(inst, at)}
    else:
        e = evaluate_config(inst, p, b, a)
    res_reach = _reachable(track, tuple(sorted(options.items())))
    v = violations(inst, e, with_target=res_reach)
    # the objective first, then the limits it is checked against, labelled as the report labels them
    figs = {"time_to_target": Figure(e["time_to_target"], "s", "time to target per sample")} if res_reach else \
        {"samples_per_s": Figure(e["samples_per_s"], "samples/s", "throughput")}
    figs |= {k: Figure(e[k], u, label) for k, u, label in (
        ("mfu", "fraction", "MFU"), ("global_batch", "samples", "global batch"),
        ("network_utilisation", "fraction", "network busy fraction"), ("memory", "B", "memory per device"))}
    return {"feasible": not v, "figures": figs, "violations": v,
            "objective": e["time_to_target"] if res_reach else e["samples_per_s"],
            "objective_name": "time_to_target" if res_reach else "samples_per_s",
            "sense": "min" if res_reach else "max", "read": at,
            "neighbours": _neighbours(inst, at)}
