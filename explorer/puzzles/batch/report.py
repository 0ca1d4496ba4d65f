"""The batch part's Report: the questions answered, figures, constraints, tables, formulas and assumptions of one
BatchResult (build_report)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from explorer.cost import numerics as num
from explorer.puzzles.batch.attempts import fixed_plan
from explorer.puzzles.batch.model import BatchResult, _binding, _cap_conflict, _plan_fields, evaluate_config, violations
from explorer.puzzles.batch.narration import (
    _b_crit_rounding,
    _batch_one,
    _config_words,
    _iron_law,
    _network_floor,
    _network_premise,
    _pct,
    _storage_precisions,
    _target_vs_answer,
)
from explorer.puzzles.batch.scenario import BATCH_CAP, make_instance
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_bytes_3 as _bytes  # three significant digits
from explorer.units import human_number, human_sci, plural


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
        f"MFU {_pct(cr['mfu'])} vs target {_pct(inst.target_mfu)}; {n_dev:,} {dws} x "
        f"{human_sci(t.device_hour_usd, 6)} USD/h = "
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
                   Assumption(f"a precision is accepted if P(NaN) per step <= {human_sci(inst.cm.max_nan_per_step, 6)}",
                              inst.cm.sources.get("max_nan", "")),
                   *_storage_precisions(inst)]
    return Report(puzzle="batch", lab="08", part=3, track=t.key, title="The scaling wall", status=status,
                  headline=headline, figures=figures, findings=findings, constraints=constraints, formulas=formulas,
                  assumptions=assumptions, tables=tables, plots=["comm_ratio"], data=data, extra=extra,
                  solve_time_s=res.solve_time_s)
