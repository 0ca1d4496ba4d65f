"""The datacenter form of the synchronisation audit (the cloud track's answer): sync vs async SGD
under stragglers, the staleness async pays, the checkpoint interval, and the stakeholder's dollars
per month (wait-for-all, async, ZeRO from the 3D solver).

This module assembles the narration (audit_narration, FORMULAS); what async and each straggler remedy save in
numbers is in cloud_costs.py, the words the narration is made of in cloud_words.py."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from explorer.assumptions import attention_kernel_assumption
from explorer.cost.stragglers import StepTimeModel, expected_max
from explorer.puzzles.scaling import lab05_data
from explorer.puzzles.sync.audit import SAVING_RULE, Audit, straggler_fraction_label, straggler_text
from explorer.puzzles.sync.cloud_costs import eviction_spares as eviction_spares  # read by the tests
from explorer.puzzles.sync.cloud_costs import staleness_models, straggler_remedies
from explorer.puzzles.sync.cloud_words import (
    ZERO_SHARDS,
    _backup_text,
    _eviction_text,
    _key,
    _saved_or_lost,
    _signed_pct,
    _times_slower,
    _verdict,
)
from explorer.report import Assumption, Figure, Finding, Formula, Table
from explorer.units import human_number, human_percent, human_sci
from explorer.units import human_usd as _usd


def audit_narration(a: Audit, z: dict | None) -> dict[str, Any]:
    """Headline, figures, findings, tables, formulas and assumptions of the audit."""
    t, d, m = a.track, a.data, a.model
    dev, price = t.device_word, t.device_hour_usd
    sw = lab05_data()[t.key]["sample_word"]
    devs = lab05_data()[t.key]["device_plural"]
    hours = d["hours_per_month"]
    ck = a.ckpt
    figures: dict[str, Figure] = {
        "nodes": Figure(a.nodes, devs, f"{devs} in the fleet"),
        "straggler_fraction": Figure(m.p, "fraction", straggler_fraction_label(m.p, a.straggler_fraction_asked)),
        "slowdown": Figure(m.slowdown, "x", "straggler slowdown"),
        "step_time_device_s": Figure(a.e_step, "s", f"E[step] of one {dev} (with jitter and stragglers)"),
        "step_time_sync_s": Figure(a.t_sync, "s", f"sync step: E[max of {a.nodes:,}] + sync"),
        "expected_max_s": Figure(a.e_max_all, "s", f"E[max of {a.nodes:,} step times] (order statistics)"),
        "expected_max_mc_s": Figure(a.mc_max_all[0], "s", f"E[max] by Monte Carlo ({a.mc_draws:,} seeded draws)"),
        "samples_per_s_sync": Figure(a.x_sync, f"{sw}s/s", "sync SGD throughput"),
        "samples_per_s_async_raw": Figure(a.x_async_raw, f"{sw}s/s", "async SGD raw throughput"),
        "staleness": Figure(a.staleness, "updates", "async staleness (expected, = replicas - 1)"),
        "progress_per_update": Figure(a.progress, "fraction", "largest stable step at the staleness / at none, "
                                                              "r(staleness)"),
        "progress_per_update_at_lr": Figure(a.progress_at_lr, "fraction",
                                            f"async progress per update against sync at a step of f = "
                                            f"{human_sci(d['lr_fraction'], 6)} of the stable one: min(1, r / f)"),
        "samples_per_s_async_effective": Figure(a.x_async, f"{sw}s/s", "async throughput x min(1, r / f)"),
        "wait_fraction": Figure(a.waste_wait, "fraction", "time a device waits for the slowest"),
        "spend_usd_month": Figure(a.spend_usd, "USD", f"fleet spend per month at {human_sci(price, 6)} USD/{dev}-hour"),
        "usd_month_wasted_wait": Figure(a.usd_wait, "USD", "wasted by wait-for-all per month"),
        "usd_month_saved_async": Figure(a.usd_async, "USD", "saved by async per month, with staleness (< 0: lost)"),
        "usd_month_saved_async_no_staleness": Figure(a.usd_async_raw, "USD", "saved by async if staleness were free"),
        "checkpoint_s": Figure(ck["checkpoint_s"], "s", "checkpoint write time C"),
        "mtbf_system_s": Figure(ck["mtbf_s"], "s", f"system MTBF = {dev} MTBF / N"),
        "checkpoint_interval_young_s": Figure(ck["young_s"], "s", "Young/Daly interval sqrt(2 C M)"),
        "checkpoint_interval_numeric_s": Figure(ck["numeric_first_order_s"], "s",
                                                "interval minimising the first-order waste (scipy)"),
        "checkpoint_interval_daly_exact_s": Figure(ck["numeric_daly_s"], "s",
                                                   "interval minimising Daly's exact model (scipy)"),
        "checkpoint_waste": Figure(ck["waste_exact"], "fraction", "time lost to checkpoints + rework + restarts"),
        "usd_month_checkpointing": Figure(ck["waste_exact"] * a.spend_usd, "USD", "checkpoint/failure cost per month"),
    }
    mc, se = a.mc_max_all
    hn = human_number
    ratio = a.x_sync / a.x_async if a.x_async > 0 else math.inf
    breakeven = a.x_sync / a.x_async_raw
    models = staleness_models(a)
    empirical = next((v for k, v in models.items() if k.startswith("measured")), None)
    findings = [
        Finding(f"Sync vs async: {sw}s/s with {straggler_text(m.p, m.slowdown, m.jitter)}?",
                f"Sync waits for the slowest of {a.nodes:,} {devs}: E[max] = {hn(a.e_max_all, 4)} s against a mean "
                f"step of {hn(a.e_step, 4)} s (order statistics; a seeded Monte Carlo of {a.mc_draws:,} draws gives "
                f"{hn(mc, 4)} +- {hn(se, 2)} s), plus {hn(a.comm_sync_s)} s exposed {d['sync_collective']} "
                f"synchronisation: {hn(a.x_sync, 4)} {sw}s/s. Async lets each of the {a.replicas:,} replicas"
                + (f" ({a.group} {devs}, synchronous inside, E[max of {a.group}] = {hn(a.e_max_group, 4)} s)"
                   if a.group > 1 else "") + f" run at its own pace: {hn(a.x_async_raw, 4)} {sw}s/s raw "
                f"({_signed_pct(a.x_async_raw / a.x_sync - 1)})."),
        Finding("How stale does async get, and what does that cost in convergence?",
                f"Expected staleness {hn(a.staleness)} updates (replicas - 1). Lian et al. 2015's stability condition "
                f"(a worst-case bound) lets an update that stale take only r = {hn(a.progress)} of the "
                f"zero-staleness step; the synchronous run steps at {hn(d['lr_fraction'])} of that step (the "
                f"track's learning-rate fraction f), so an async update makes min(1, r / f) = "
                f"{hn(a.progress_at_lr)} of a synchronous update's progress and async makes {hn(a.x_async, 4)} "
                f"{sw}s/s of sync-equivalent progress: "
                f"{_times_slower(ratio)} than sync."
                + (f" Measured, asynchrony behaves like extra momentum 1 - 1/M (Mitliagkas et al. 2016): with the "
                   f"momentum re-tuned it costs nothing up to M = {hn(1 / (1 - d['tuned_momentum']))} replicas at a "
                   f"tuned momentum of {hn(d['tuned_momentum'])}, and r = 1/((1 - mu) M) = {hn(empirical['r'])} at "
                   f"M = {a.replicas}: {hn(empirical['x'], 4)} {sw}s/s, "
                   f"{_times_slower(a.x_sync / empirical['x'])} than sync." if empirical else "")
                + f" Async breaks even only if staleness costs less than {human_percent(1 - breakeven)} of each "
                f"update's progress (r >= {hn(breakeven)})."),
        Finding(f"Checkpointing: how often, at {ck['how']}?",
                f"C = {hn(ck['checkpoint_s'], 4)} s, MTBF = {hn(d['device_mtbf_h'])} h / {a.nodes:,} = "
                f"{hn(ck['mtbf_s'] / 3600.0, 4)} h. "
                f"Young/Daly: sqrt(2 C M) = {hn(ck['young_s'], 4)} s; scipy minimum of C/tau + tau/(2M): "
                f"{hn(ck['numeric_first_order_s'], 4)} s; of Daly's exact model: {hn(ck['numeric_daly_s'], 4)} s "
                f"(Daly's higher-order formula {hn(ck['daly_s'], 4)} s). Time lost to checkpoints, rework and "
                f"{hn(ck['restart_s'])} s restarts: {human_percent(ck['waste_exact'])}"
                + ("." if ck["young_valid"] else
                   ". Young's formula is outside its range here (C is not << M): "
                   + ("with C > M no checkpoint completes between failures on average"
                      if ck["checkpoint_s"] >= ck["mtbf_s"] else "the first-order waste is a poor guide") + "; "
                   "a fleet this size must tolerate dropouts (partial participation) rather than restart.")),
    ]
    usd_bits = [("async" + (" (worst-case staleness)" if empirical else ""), a.usd_async)]
    if empirical:
        usd_bits.append(("async (measured staleness)", empirical["usd"]))
    zero_txt = "ZeRO comparison not run (--no-zero)."
    zero_saved = None
    if z is not None:
        nz, zz = z.get("no_zero", {}), z.get("zero", {})
        if "step_s" in nz and "step_s" in zz:
            zero_saved = a.spend_usd * (1.0 - zz["step_s"] / nz["step_s"])
            usd_bits.append(("ZeRO", zero_saved))
            figures["usd_month_saved_zero"] = Figure(zero_saved, "USD", "saved by ZeRO per month (3D solver)")
            figures["step_time_best_no_zero_s"] = Figure(nz["step_s"], "s", "best step, ZeRO-0 only (3D solver)")
            figures["step_time_best_zero_s"] = Figure(zz["step_s"], "s", "best step, any ZeRO stage (3D solver)")
            zero_txt = (f"The 3D solver's best configuration without ZeRO ({nz['plan']}, {hn(nz['step_s'], 4)} s, MFU "
                        f"{human_percent(nz['mfu'])}) vs with ZeRO allowed ({zz['plan']}, {hn(zz['step_s'], 4)} s, "
                        f"MFU {human_percent(zz['mfu'])}): {_usd(zero_saved)}/month"
                        + ("." if nz.get("status") == zz.get("status") == "optimal" else
                           " (the search with ZeRO allowed stopped at its time limit above the ZeRO-0 plan, which it "
                           "allows too, so the best known with ZeRO is that plan; raise --time-limit to search "
                           "further)." if zz.get("stopped_above_zero0") else
                           " (not both proven optimal: CP-SAT stopped at its time limit, so the saving is "
                           "indicative)."))
        else:
            err = nz.get("error") or zz.get("error") or "no result"
            zero_txt = f"The 3D solver found no answer to compare: {err}"
    remedies = straggler_remedies(a) if "backup_replicas" in d else []
    for r in remedies:
        usd_bits.append((r["name"], r["net_usd"]))
    verdict = _verdict(usd_bits)
    for k, v in models.items():
        figures[f"usd_month_saved_async_{_key(k)}"] = Figure(v["usd"], "USD", f"saved by async per month, {k} "
                                                            "(negative: lost)")
    figures.pop("usd_month_saved_async_free", None)
    if "usd_month_saved_async_worst_case" in figures:  # the same number as 'with staleness': listed once
        figures.pop("usd_month_saved_async", None)
    if empirical:
        figures["progress_per_update_measured"] = Figure(empirical["r"], "fraction",
                                                         "async progress per update, implicit-momentum model")
    findings.append(Finding(
        f"Stakeholder challenge: dollars per month at {hn(price)} USD per {dev}-hour ({a.nodes:,} {devs}, "
        f"{hn(hours)} h)?",
        f"Fleet spend {_usd(a.spend_usd)}/month. Wait-for-all wastes {human_percent(a.waste_wait)} of it: "
        f"{_usd(a.usd_wait)}/month. Switching to async: "
        + "; ".join(f"{k}: r = {hn(v['r'])}, {_saved_or_lost(v['usd'])}" for k, v in models.items())
        + f". {zero_txt} {verdict}"))
    if remedies:
        findings.append(Finding(
            "What do the straggler remedies practice uses cost and save?",
            "; ".join(f"{r['name']}: step {hn(r['step_s'], 4)} s (from {hn(a.t_sync, 4)} s), costs "
                      f"{_usd(r['extra_usd'])}/month, net {_saved_or_lost(r['net_usd'])}" for r in remedies)
            + ". " + _backup_text(a, remedies) + _eviction_text(a, remedies)))
    if zero_saved is not None:
        zero_plan_model = StepTimeModel(z["zero"]["step_s"], m.jitter, m.p, m.slowdown)
        zero_wait = (expected_max(zero_plan_model, a.nodes) - zero_plan_model.mean) / expected_max(
            zero_plan_model, a.nodes)
        stage = int(z["zero"].get("zero", 0))
        t_nz, t_z = z["no_zero"]["step_s"], z["zero"]["step_s"]
        if stage == 0:
            fixes = (f"The best plan found with every ZeRO stage allowed is ZeRO-0 ({hn(t_z, 4)} s per step): no "
                     f"stage's sharding (ZeRO-1 the optimizer state, ZeRO-2 also the gradients, ZeRO-3 also the "
                     f"weights) frees memory that buys a faster plan here, so it saves nothing.")
        else:
            fixes = (f"The best plan with ZeRO allowed runs ZeRO-{stage}, which shards {ZERO_SHARDS[stage]} over the "
                     f"data-parallel group (Rajbhandari et al. 2020)"
                     + (f": the memory it frees lets the 3D solver pick a faster plan ({hn(t_nz, 4)} s -> "
                        f"{hn(t_z, 4)} s per step, {_usd(zero_saved)}/month)." if t_z < t_nz else
                        f", and its plan is no faster than the best without ZeRO ({hn(t_nz, 4)} s and {hn(t_z, 4)} s "
                        f"per step): it saves "
                        + (f"{_usd(zero_saved)}/month." if abs(zero_saved) >= 0.5 else "nothing.")))
        findings.append(Finding(
            "What does ZeRO fix, and what does it not?",
            f"{fixes} It does nothing about stragglers: its reduce-scatters and "
            f"all-gathers are as synchronous as an all-reduce (ZeRO-3 adds a gather per layer: more barriers, not "
            f"fewer), so every step still waits for the slowest of {a.nodes:,} {devs}; on the "
            f"{'faster' if t_z < t_nz else 'ZeRO'} plan the wait "
            f"is still {human_percent(zero_wait)} of the step, {_usd(zero_wait * a.spend_usd)}/month."))
    tables: dict[str, Table] = {
        "sync_vs_async": Table(["mode", "step or update time (s)", f"{sw}s/s", "staleness", "progress/update",
                                f"effective {sw}s/s"],
                               [["sync (wait for all)", a.t_sync, a.x_sync, 0, 1.0, a.x_sync]]
                               + [[f"async, {k}", a.t_async, a.x_async_raw, a.staleness, v["r"], v["x"]]
                                  for k, v in models.items()],
                               "Sync vs async SGD"),
        "order_statistics": Table(["n", "E[max] order statistics (s)", "E[max]/E[T]"],
                                  [[k, expected_max(m, k), expected_max(m, k) / m.mean]
                                   for k in sorted({1, 2, 8, a.group, 64, 1024, a.nodes}) if k <= a.nodes],
                                  "Expected slowest of n devices"),
    }
    if remedies:
        tables["remedies"] = Table(["remedy", "step (s)", "extra cost (USD/month)", "net saving (USD/month)"],
                                   [[r["name"], r["step_s"], r["extra_usd"], r["net_usd"]] for r in remedies],
                                   "Straggler remedies")
    if empirical:
        async_txt = ("Async " + ("loses" if a.usd_async < 0 else "saves") + f" {_usd(abs(a.usd_async))}/month under "
                     f"the worst-case staleness bound (r = {hn(a.progress_at_lr)} of a sync update) and "
                     + ("loses" if empirical["usd"] < 0 else "saves")
                     + f" {_usd(abs(empirical['usd']))}/month under the measured one (r = {hn(empirical['r'])}).")
    else:
        async_txt = (f"Async's staleness ({hn(a.staleness)}) leaves r = {hn(a.progress_at_lr)} of a sync update's "
                     "progress per update, so it "
                     + (f"costs {hn(ratio)}x per unit of progress." if a.usd_async < 0
                        else f"saves {_usd(a.usd_async)}/month."))
    zero_part = ("" if zero_saved is None or not remedies else
                 " ZeRO saves nothing (the best plan found is ZeRO-0) and leaves the straggler wait."
                 if abs(zero_saved) < 0.5 else
                 f" ZeRO saves {_usd(zero_saved)}/month but leaves the straggler wait.")
    best_remedy = max(remedies, key=lambda r: r["net_usd"]) if remedies else None
    if best_remedy is None:
        remedy_part = ""
    elif best_remedy["net_usd"] > 0:
        remedy_part = f" Best remedy: {best_remedy['name']}, {_saved_or_lost(best_remedy['net_usd'])} net."
    else:  # every remedy costs more than it saves: doing nothing is the cheapest
        remedy_part = (f" No straggler remedy pays here: the closest, {best_remedy['name']}, still "
                       f"{_saved_or_lost(best_remedy['net_usd'])} net; doing nothing is cheaper.")
    headline = (f"Sync waits {hn(a.e_max_all / a.e_step)}x the mean step for the slowest of {a.nodes:,} {devs} "
                f"({straggler_text(m.p, m.slowdown, m.jitter)}): {_usd(a.usd_wait)}/month idle. "
                f"{async_txt}{zero_part}{remedy_part} Checkpoint every {hn(ck['numeric_daly_s'], 4)} s."
                + ("" if remedies else f" {verdict}"))
    assumptions = [
        Assumption(f"Step time of one {dev}: the cost model's step for the track's configuration "
                   f"({a.est.plan.describe()}) on a typical {dev}, less its exposed data-parallel sync: "
                   f"{human_sci(m.t0, 4)} s "
                   f"without stragglers (explore estimate adds the pace of the slowest of {a.nodes:,} {dev}s, a "
                   "normal spread of speed, which this model's jitter and stragglers replace); jitter: "
                   f"{_jitter_words(m.jitter)}; {straggler_text(m.p, m.slowdown, m.jitter)}; step times i.i.d. "
                   "across devices and steps.",
                   "Dutta et al. 2018 (AISTATS) sec. 3; " + d["source"]),
        attention_kernel_assumption(a.setup),
        Assumption("Synchronisation: " + ("the cost model ring all-reduce (exposed part)"
                                          if d["sync_collective"] == "ring" else
                                          "every device pushes its gradient to a server and pulls the average "
                                          "over its own link") + "; "
                   "async: each replica pushes and pulls from a sharded parameter server, the same bytes per device.",
                   "Li et al. 2014 (OSDI), parameter server; McMahan et al. 2017 (AISTATS), FedAvg"),
        Assumption("Staleness of async SGD = number of replicas - 1 (each update lands after one update of every "
                   "other replica); progress per update = the step async can take at that staleness, the smaller of "
                   f"the step in use (f = {human_sci(d['lr_fraction'], 6)} x the zero-staleness stable step) and the "
                   "largest stable step at that staleness, against the synchronous run's step in use.",
                   "Lian et al. 2015 (NeurIPS) Theorem 1; Dutta et al. 2018 sec. 5"),
        Assumption(f"Failures: exponential, per-{dev} MTBF {human_sci(d['device_mtbf_h'], 6)} h; a failure of any "
                   f"device stops the "
                   f"synchronous job (MTBF / N); restart {human_sci(d['restart_s'], 6)} s.", d["source"]),
        Assumption(f"Dollars: {a.nodes:,} {devs} x {human_sci(hours, 6)} h/month x {human_sci(price, 6)} "
                   f"USD/{dev}-hour; {SAVING_RULE}.",
                   t.sources.get("economics", "")),
    ]
    # dollars a month to the whole dollar: a price per GPU-hour known to a few percent gives no cents, no dimes
    figures = {k: replace(f, value=round(f.value)) if f.unit == "USD" and isinstance(f.value, float) and
               math.isfinite(f.value) else f for k, f in figures.items()}
    if "remedies" in tables:
        tables["remedies"] = replace(tables["remedies"], rows=[[r[0], r[1], round(r[2]), round(r[3])]
                                                               for r in tables["remedies"].rows])
    return {"headline": headline, "figures": figures, "findings": findings, "tables": tables,
            "formulas": list(FORMULAS), "assumptions": assumptions}


FORMULAS = [
    Formula("sync step (order statistics)",
            "E[T_sync] = E[max_i T_i] + t_sync = integral_0^inf (1 - F(t)^N) dt + t_sync",
            "Dutta et al. 2018 (AISTATS) sec. 4; David & Nagaraja, Order Statistics (2003) eq. 2.1",
            "not the mean step: the slowest of N sets the pace"),
    Formula("step-time distribution", "F(t) = (1 - p) F0(t) + p F0(t / s),  F0(t) = 1 - exp(-(t/t0 - 1)/j) for t >= t0",
            "shifted exponential: Dutta et al. 2018 sec. 3; Lee et al. 2018 (IEEE T-IT)"),
    Formula("staleness cost",
            "r(T) = g_max(T)/g_max(0) = (sqrt(1 + 8 T^2) - 1) / (4 T^2)  from  L M g + 2 L^2 M^2 T^2 g^2 <= 1",
            "Lian et al. 2015 (NeurIPS) Theorem 1"),
    Formula("Young/Daly interval", "tau* = sqrt(2 C M),  M = MTBF_device / N;  waste = C/tau + tau/(2M) + R/M",
            "Young 1974 (CACM 17(9)); Daly 2006 (FGCS 22(3))"),
    Formula("Daly exact wall time", "T_wall / T_work = M e^(R/M) (e^((tau + C)/M) - 1) / tau (minimised with scipy)",
            "Daly 2006 (FGCS 22(3))"),
    Formula("dollars per month", "N x hours x price x (X' - X) / max(X, X'),  X, X' = throughput before, after",
            "track economics", "faster: time removed for the same progress; slower: progress lost in the month"),
]


def _jitter_words(jitter: float) -> str:
    """The jitter of the step model in words: a shifted exponential with its mean in percent (human_percent: a
    0.4% jitter had printed as 'mean 0%' through :.0%), or none at --jitter 0 (a deterministic step)."""
    return f"shifted exponential with mean {human_percent(jitter)}" if jitter > 0 else "none (a deterministic step)"
