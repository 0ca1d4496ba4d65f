"""The batch part's figures and search, on the shared cost model (explorer/cost: training_memory, step, numerics,
convergence): every figure of one (precision, micro-batch, accumulation), the limits it is judged against, the
exhaustive grid, the plan search through the 3D solver, the choice among them and where a step goes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from explorer.cost import convergence as conv
from explorer.cost import numerics as num
from explorer.cost import training_memory as tmem
from explorer.errors import InfeasibleError, UsageError
from explorer.puzzles.batch.scenario import BATCH_CAP, BatchInstance, make_instance
from explorer.puzzles.fleetlens import FLEET_TRACKS
from explorer.report import Constraint
from explorer.tracks import Track, get_track
from explorer.units import human_number

ACTIVATION_TENSORS_PER_LAYER = 10  # h-sized tensors stored per token and layer (Korthikanti et al. Table 2)


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


def _plan_fields(plan: Any) -> dict[str, Any]:
    return {"tp": plan.tp, "pp": plan.pp, "dp": plan.dp, "cp": plan.cp, "virtual_stages": plan.virtual_stages,
            "zero": plan.zero, "recompute": plan.recompute}


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
