"""Lab 08 part 3, the scaling wall: precision, micro-batch and gradient accumulation chosen to reach
the target MFU (40% default) without the gradient traffic saturating the network (95% default),
within the critical batch size (McCandlish et al. 2018), in memory, and numerically stable.

Solved by exhaustive evaluation of every (precision, micro-batch, accumulation) on the step model
(explorer/cost/step.py via explorer/cost/training_memory.py), so the answer is exact on that grid.
Objective: the shortest time to a target loss among the configurations that reach the target MFU:
(E / E_min) x step time / B with E = E_min (1 + B / B_crit) (McCandlish et al. 2018), so a bigger
batch must buy its extra samples with throughput. If no configuration reaches the target, the
highest throughput that satisfies everything else (the report says the target is out of reach); if
the network and critical-batch limits cannot hold together, the highest throughput within the hard limits
(memory, stability, dataset), with the broken limits named.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from explorer.cost import convergence as conv
from explorer.cost import numerics as num
from explorer.cost import training_memory as tmem
from explorer.errors import InfeasibleError, UsageError, require_fraction, require_positive_int
from explorer.puzzles.training_scenario import Common, TrainingScenario, common, scenario
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.tracks import Track, get_track

ATTEMPT_OPTIONS = ("target_mfu", "network_headroom", "batch", "critical_batch", "loss_scaling", "max_accumulation")
ATTEMPT_VARIABLES = ["precision", "micro_batch", "accumulation"]
ATTEMPT_REQUIRED = ["micro_batch", "accumulation"]  # precision defaults to the track's (attempt_defaults)
ATTEMPT_KINDS = {"precision": "name", "micro_batch": "count", "accumulation": "count"}
MAX_ATTEMPTS: int | None = None
LOSS_SCALING = ("dynamic", "static", "none")
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


def critical_batch_samples(track: Track, sc: TrainingScenario) -> int:
    if sc.critical_batch_samples is not None:
        return sc.critical_batch_samples
    return int(conv.kaplan_critical_batch_tokens(sc.critical_batch_loss_nats) // track.workload.seq_len)


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
            return best, "the memory audit's optimum (explore solve memory)"
    return (tmem.Choice(t.workload.optimizer, t.workload.precision, plan.recompute, plan.micro_batch, plan.zero,
                        False, L), f"the track's plan ({plan.describe()})")


def make_instance(track: str | Track = "cloud", *, target_mfu: float | None = None,
                  network_headroom: float | None = None, batch: int | None = None,
                  critical_batch: int | None = None, loss_scaling: str = "dynamic",
                  max_accumulation: int | None = None) -> BatchInstance:
    t = track if isinstance(track, Track) else get_track(track)
    sc, cm = scenario(t.key), common()
    tgt = sc.target_mfu if target_mfu is None else require_fraction("target-mfu", target_mfu)
    hr = sc.network_headroom if network_headroom is None else require_fraction("network-headroom", network_headroom)
    if loss_scaling not in LOSS_SCALING:
        raise UsageError(f"loss scaling {loss_scaling!r} unknown; valid: {', '.join(LOSS_SCALING)}")
    bc = critical_batch_samples(t, sc) if critical_batch is None else require_positive_int("critical-batch",
                                                                                          critical_batch)
    bc_src = sc.critical_batch_source if critical_batch is None else "given by the user (--critical-batch)"
    if batch is not None:
        require_positive_int("batch", batch)
        if batch > sc.dataset_samples:
            raise UsageError(f"batch {batch} is larger than the dataset ({sc.dataset_samples} samples); "
                             f"use a batch <= {sc.dataset_samples}")
        if batch < bc:
            bc, bc_src = batch, "the largest batch allowed by the user (--batch)"
    ma = sc.max_accumulation if max_accumulation is None else require_positive_int("max-accumulation",
                                                                                  max_accumulation)
    choice, src = _memory_plan(t.key)
    return BatchInstance(t, sc, cm, tgt, hr, bc, sc.dataset_samples, sc.batch_precisions, sc.micro_batches, ma,
                         loss_scaling, choice, src, bc_src)


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
    layout = tmem.Layout(plan.tp, plan.pp, plan.dp, micro_batch * accumulation)
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


@dataclass
class BatchResult:
    inst: BatchInstance
    best: dict | None
    reaches_target: bool
    configs: list[dict]
    crisis: dict
    solve_time_s: float


def solve_batch(track: str | Track = "cloud", **options: Any) -> BatchResult:
    inst = make_instance(track, **options)
    t0 = time.perf_counter()
    configs = all_configs(inst)
    ok = [e for e in configs if not violations(inst, e)]
    if ok:
        best = min(ok, key=lambda e: (e["time_to_target"], e["global_batch"]))
        reach = True
    else:
        rest = [e for e in configs if not violations(inst, e, with_target=False)]
        if not rest:  # keep the hard limits (memory, stability, dataset); show what else breaks
            hard = {"network utilisation", "critical batch", "MFU"}
            rest = [e for e in configs if all(c.name in hard for c in violations(inst, e))]
        if not rest:
            hard = ("memory", "P(NaN) per step", "dataset")
            least = {h: min(configs, key=lambda e, h=h: next((c.value - c.limit for c in violations(inst, e)
                                                            if c.name == h), 0.0)) for h in hard}
            broken = [h for h in hard if any(c.name == h for c in violations(inst, least[h]))]
            raise InfeasibleError(
                f"infeasible on the {inst.track.key} track: no (precision, micro-batch, accumulation) meets "
                + ", ".join(f"{h} (best: {next(c for c in violations(inst, least[h]) if c.name == h).value:.4g} vs "
                            f"{next(c for c in violations(inst, least[h]) if c.name == h).limit:.4g})"
                            for h in broken) + " together with the others", broken or list(hard))
        best = max(rest, key=lambda e: (e["samples_per_s"], -e["global_batch"]))
        reach = False
    plan = inst.track.crisis_plan
    crisis = evaluate_config(inst, inst.track.workload.precision, plan.micro_batch, plan.num_micro_batches)
    return BatchResult(inst, best, reach, configs, crisis, time.perf_counter() - t0)


def _bytes(x: float) -> str:
    units = ((1e9, "GB"), (1e6, "MB"), (1e3, "KB"), (1, "B"))
    return next(f"{x / sc:,.3g} {u}" for sc, u in units if x >= sc or sc == 1)


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


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
    figures["crisis_idle_usd_per_hour"] = Figure(usd_h * (1 - cr["mfu"]), "USD/h",
                                                 f"spend on idle {dw} time as started")
    figures["critical_batch"] = Figure(inst.b_crit, "samples", "critical batch size")
    findings.append(Finding(
        "The crisis: what does the starting configuration reach, and what does it cost?",
        f"{cr['precision']} micro-batch {cr['micro_batch']} x {cr['accumulation']} "
        f"(global batch {cr['global_batch']:,}): "
        f"MFU {_pct(cr['mfu'])} vs target {_pct(inst.target_mfu)}; {n_dev:,} {dws} x {t.device_hour_usd:g} USD/h = "
        f"{usd_h:,.2f} USD/h, of which {usd_h * (1 - cr['mfu']):,.2f} USD/h pays for idle {dw} time; network busy "
        f"{_pct(cr['network_utilisation'])} of the step; P(NaN) per step {cr['p_nan']:.3g}"
        + (f"; breaks: {', '.join(c.name for c in violations(inst, cr, with_target=False))}."
           if violations(inst, cr, with_target=False) else ".")))
    one = evaluate_config(inst, t.workload.precision, 1, 1)
    figures["batch1_mfu"] = Figure(one["mfu"], "fraction", "MFU at micro-batch 1, no accumulation")
    findings.append(Finding(
        "How efficient is batch size 1?",
        f"{t.workload.precision}, micro-batch 1, no accumulation: MFU {_pct(one['mfu'])} (the GEMMs are too small to "
        f"fill the {t.cluster.accelerator.name}, and every step pays the full gradient synchronisation: network "
        f"{_pct(one['network_utilisation'])} busy)."))
    status = "computed"
    if res.best is None:
        headline = (f"No (precision, micro-batch, accumulation) on the {t.key} track satisfies the memory, "
                    f"stability and dataset limits.")
        status = "infeasible"
        e = cr
    else:
        e = res.best
        if res.reaches_target:
            headline = (f"{e['precision']}, micro-batch {e['micro_batch']} x {e['accumulation']} accumulation "
                        f"(global batch {e['global_batch']:,}) reaches MFU {_pct(e['mfu'])} >= {_pct(inst.target_mfu)} "
                        f"with the network {_pct(e['network_utilisation'])} busy and B <= B_crit {inst.b_crit:,}: "
                        f"the shortest time to the target loss ({e['samples_multiplier']:.3g} x the minimum samples).")
            extra["objective"] = {"name": "time_to_target", "value": e["time_to_target"], "sense": "min"}
        else:
            broken = [c.name for c in violations(inst, e, with_target=False)]
            headline = (f"The {_pct(inst.target_mfu)} MFU target is out of reach on the {t.key} track; best within "
                        f"the {'hard ' if broken else ''}limits: {e['precision']}, micro-batch {e['micro_batch']} x "
                        f"{e['accumulation']} (global batch {e['global_batch']:,}) at MFU {_pct(e['mfu'])}"
                        + (f", still breaking: {', '.join(broken)}." if broken else "."))
            if broken:
                status = "infeasible"
                net_ok = [c for c in res.configs if c["network_utilisation"] <= inst.headroom]
                if net_ok:
                    bmin = min(c["global_batch"] for c in net_ok)
                    headline += (f" The network stays under {_pct(inst.headroom)} only from global batch {bmin:,}, "
                                 f"{'above' if bmin > inst.b_crit else 'within'} the critical batch {inst.b_crit:,}.")
                else:
                    headline += (f" The gradient all-reduce ({e['comm_time']:.3g} s) outlasts the compute "
                                 f"({e['compute_time']:.3g} s) at every batch up to the dataset: synchronous data "
                                 f"parallelism cannot keep this network under {_pct(inst.headroom)}.")
            extra["objective"] = {"name": "samples_per_s", "value": e["samples_per_s"], "sense": "max"}
        extra["configuration"] = {"precision": e["precision"], "micro_batch": e["micro_batch"],
                                  "accumulation": e["accumulation"]}
        extra["reaches_target"] = res.reaches_target
        figures["mfu"] = Figure(e["mfu"], "fraction", "MFU of the answer")
        figures["global_batch"] = Figure(e["global_batch"], "samples", "global batch of the answer")
        figures["idle_usd_per_hour"] = Figure(usd_h * (1 - e["mfu"]), "USD/h", f"spend on idle {dw} time, answer")
    findings.append(Finding("Which batch size, precision and accumulation reach the target MFU?", headline))
    if res.best is not None and not res.reaches_target:
        # what the target would take if the convergence limit were ignored, and what that costs in samples
        over = [c for c in res.configs if all(v.name == "critical batch" for v in violations(inst, c))]
        if over:
            o = min(over, key=lambda c: (c["global_batch"], -c["mfu"]))
            figures["batch_for_target"] = Figure(o["global_batch"], "samples", "smallest batch reaching the target")
            findings.append(Finding(
                "What would the target MFU take, and why is it not the answer?",
                f"{o['precision']}, micro-batch {o['micro_batch']} x {o['accumulation']}: global batch "
                f"{o['global_batch']:,} reaches MFU {_pct(o['mfu'])}, but that is "
                f"{o['global_batch'] / inst.b_crit:.2g}x "
                f"the critical batch {inst.b_crit:,}: E/E_min = 1 + B/B_crit = {o['samples_multiplier']:.3g} (vs "
                f"{e['samples_multiplier']:.3g} for the answer), so the MFU gained is paid back in extra samples."))
        else:
            soft = {"critical batch", "MFU", "network utilisation"}
            cands = [c for c in res.configs if all(v.name in soft for v in violations(inst, c))]
            ceiling = max(cands, key=lambda c: c["mfu"]) if cands else None
            why = (f" The ceiling, at global batch {ceiling['global_batch']:,} ({ceiling['precision']}, micro-batch "
                   f"{ceiling['micro_batch']} x {ceiling['accumulation']}), is MFU {_pct(ceiling['mfu'])}: what is "
                   f"left is set by the matrix sizes on this hardware, the parallel plan "
                   f"({t.crisis_plan.describe()}) and the network, not by the batch "
                   f"(see `explore solve 3d` / `explore solve scaling`)." if ceiling else "")
            if ceiling:
                figures["mfu_ceiling"] = Figure(ceiling["mfu"], "fraction", "highest MFU at any batch")
            findings.append(Finding(
                "What would the target MFU take?",
                f"No batch up to the dataset ({inst.dataset:,} samples, accumulation <= {inst.max_accumulation}) "
                f"reaches {_pct(inst.target_mfu)} within memory and stability limits on this track." + why))
    c = inst.plan_choice
    L = t.workload.model.layers
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
            f"batch {c1['global_batch']:,} -> {c2['global_batch']:,} takes the ratio from {c1['comm_to_compute']:.3g} "
            f"to {c2['comm_to_compute']:.3g} (x{c2['comm_to_compute'] / c1['comm_to_compute']:.3f}, i.e. about 1/B)."))
    # numerics: the edge crisis and the general answer
    # at the starting configuration's batch: the crisis as the team met it
    fp16 = evaluate_config(make_instance(t, loss_scaling="none"), "fp16", cr["micro_batch"], cr["accumulation"]) \
        if "fp16" in inst.precisions else None
    bf16 = evaluate_config(inst, "bf16", cr["micro_batch"], cr["accumulation"]) if "bf16" in inst.precisions else None
    if fp16 is not None:
        within = (f"NaN expected within ~{1 / fp16['p_nan']:,.0f} steps" if fp16["p_nan"] > 0
                  else "below double precision: no NaN expected")
        msg = (f"FP16 (max {num.max_finite('fp16'):,.0f}) without loss scaling: P(a step overflows to inf -> NaN) = "
               f"{fp16['p_nan']:.3g} ({within}), and {_pct(fp16['underflow'])} of gradients flush to zero "
               f"(below 2^-24). ")
        if bf16 is not None:
            msg += f"BF16 (max {num.max_finite('bf16'):.3g}, FP32's exponent range): P(NaN) = {bf16['p_nan']:.3g}. "
        msg += (f"Dynamic loss scaling (init 2^16, x0.5 on overflow) turns gradient overflow into skipped steps but "
                f"cannot rescue forward overflow; gradient clipping at {inst.cm.gradient_clip_norm:g} cannot either: "
                f"||g|| = inf gives min(1, c/inf) x inf = {num.clipped_norm(float('inf'), 1.0)}.")
        findings.append(Finding("Why does mixed precision go NaN, and what fixes it?", msg))
        figures["fp16_no_scaling_p_nan"] = Figure(fp16["p_nan"], "", "FP16, no loss scaling: P(NaN) per step")
    constraints = []
    checks = [("MFU", e["mfu"], inst.target_mfu, "fraction", ">="),
              ("network utilisation", e["network_utilisation"], inst.headroom, "fraction", "<="),
              ("critical batch", e["global_batch"], inst.b_crit, "samples", "<="),
              ("memory", e["memory"], e["memory_limit"], "B", "<="),
              ("P(NaN) per step", e["p_nan"], inst.cm.max_nan_per_step, "", "<=")]
    for name, v, lim, unit, sense in checks:
        slack = (lim - v) if sense == "<=" else (v - lim)
        constraints.append(Constraint(name, v, lim, unit, sense, 0 <= slack <= 0.1 * max(abs(lim), 1e-30)))
    rows = [[c["global_batch"], c["accumulation"], c["mfu"], c["comm_to_compute"], c["network_utilisation"],
             c["samples_multiplier"]] for c in sweep]
    tables = {"sweep": Table(["global batch", "accumulation", "MFU (fraction)", "comm/compute",
                              "network busy (fraction)", "samples x (E/E_min)"], rows,
                             f"{e['precision']}, micro-batch {e['micro_batch']}: accumulation sweep")}
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
        Formula("LM critical batch", "B_crit(L) = 2e8 tokens / L^(1/0.21)", "Kaplan et al. 2020, eq. 1.4"),
        Formula("overflow", "P = 1 - (1 - Q((log2(max/S) - mu)/sigma))^n; FP16 max 65504",
                "IEEE 754 binary16; Micikevicius et al. 2018 sec. 3.2"),
        Formula("clipping", "g <- g min(1, c / ||g||)", "Pascanu et al. 2013, eq. 7"),
    ]
    assumptions = [Assumption(f"critical batch {inst.b_crit:,} samples: {inst.b_crit_source}", ""),
                   Assumption(inst.sc.numerics_source, "lab08_training.toml"),
                   Assumption(f"memory plan: {inst.memory_plan_source}", ""),
                   Assumption(f"loss scaling in the search: {inst.loss_scaling} ({inst.cm.sources.get('loss_scale')})",
                              ""),
                   Assumption(f"a precision is accepted if P(NaN) per step <= {inst.cm.max_nan_per_step:g}",
                              inst.cm.sources.get("max_nan", ""))]
    return Report(puzzle="batch", lab="08", part=3, track=t.key, title="The scaling wall", status=status,
                  headline=headline, figures=figures, findings=findings, constraints=constraints, formulas=formulas,
                  assumptions=assumptions, tables=tables, plots=["comm_ratio"], data=data, extra=extra,
                  solve_time_s=res.solve_time_s)


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
    return any(not violations(inst, c) for c in all_configs(inst))


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """The precision a file may leave out: the track's training precision."""
    return {"precision": get_track(track).workload.precision}


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score (precision, micro-batch, accumulation) on the grid the exhaustive search covers (all_configs):
    a value off that grid is outside the searched space."""
    inst = make_instance(track, **options)
    values = {**attempt_defaults(track), **values}
    p = str(values.get("precision", "")).strip().lower()
    if p not in inst.precisions and p not in ("fp32", "bf16", "fp16", "fp8"):
        raise UsageError(f"precision {p!r} unknown; valid: {', '.join(inst.precisions)}")
    try:
        b, a = int(float(values["micro_batch"])), int(float(values["accumulation"]))
    except KeyError as exc:
        raise UsageError(f"attempt is missing {exc.args[0]!r}; columns: {', '.join(ATTEMPT_VARIABLES)}") from None
    require_positive_int("micro_batch", b)
    require_positive_int("accumulation", a)
    outside = []
    if p not in inst.precisions:
        outside.append(f"precision {p} is outside the searched space, precisions: {', '.join(inst.precisions)}")
    if b not in inst.micro_batches:
        outside.append(f"micro_batch = {b} is outside the searched space, micro-batches: "
                       f"{', '.join(map(str, inst.micro_batches))}")
    if a > inst.max_accumulation:
        outside.append(f"accumulation = {a} is outside the searched space, accumulation <= {inst.max_accumulation}")
    if outside:
        return {"feasible": False, "figures": {}, "violations": [], "outside_space": outside, "objective": None,
                "objective_name": "time_to_target", "sense": "min",
                "neighbours": [{"precision": q, "micro_batch": x, "accumulation": min(a, inst.max_accumulation)}
                               for q in inst.precisions[:1] for x in inst.micro_batches[:1]]}
    e = evaluate_config(inst, p, b, a)
    res_reach = _reachable(track, tuple(sorted(options.items())))
    v = violations(inst, e, with_target=res_reach)
    figs = {k: Figure(e[k], u, k) for k, u in (("mfu", "fraction"), ("global_batch", "samples"),
                                                ("network_utilisation", "fraction"), ("memory", "B"))}
    nb = [{"precision": p, "micro_batch": b, "accumulation": a + d} for d in (-1, 1) if a + d >= 1]
    nb += [{"precision": p, "micro_batch": x, "accumulation": a} for x in inst.micro_batches if x != b]
    nb += [{"precision": q, "micro_batch": b, "accumulation": a} for q in inst.precisions if q != p]
    return {"feasible": not v, "figures": figs, "violations": v,
            "objective": e["time_to_target"] if res_reach else e["samples_per_s"],
            "objective_name": "time_to_target" if res_reach else "samples_per_s",
            "sense": "min" if res_reach else "max",
            "neighbours": nb}
