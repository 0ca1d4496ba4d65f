"""The datacenter form of the synchronisation audit (the cloud track's answer): sync vs async SGD
under stragglers, the staleness async pays, the checkpoint interval, and the stakeholder's dollars
per month (wait-for-all, async, ZeRO from the 3D solver)."""

from __future__ import annotations

import math
from typing import Any

from explorer.cost.stragglers import expected_max
from explorer.puzzles.scaling import lab05_data
from explorer.puzzles.sync.audit import Audit
from explorer.report import Assumption, Figure, Finding, Formula, Table


def _usd(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}${x / 1e6:,.2f}M"
    if x >= 1e3:
        return f"{sign}${x / 1e3:,.1f}k"
    return f"{sign}${x:,.2f}"


def _verdict(usd_bits: list[tuple[str, float]]) -> str:
    """Which change saves more per month (async, ZeRO), in words."""
    best_name, best_val = max(usd_bits, key=lambda kv: kv[1])
    others = [kv for kv in usd_bits if kv[0] != best_name]
    if best_val <= 0:
        if len(usd_bits) == 1:
            return f"{best_name.capitalize()} does not save money here."
        return "Neither " + " nor ".join(k for k, _ in usd_bits) + " saves money here."
    if not others:
        return f"{best_name} saves {_usd(best_val)}/month."
    o_name, o_val = others[0]
    if o_val < 0:
        return (f"{best_name} saves more: {_usd(best_val)}/month, while {o_name} would waste "
                f"{_usd(-o_val)}/month.")
    return (f"{best_name} saves more: {_usd(best_val)}/month vs {_usd(o_val)} for {o_name} "
            f"(by {_usd(best_val - o_val)}).")



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
        "straggler_fraction": Figure(m.p, "fraction", "straggler fraction"),
        "slowdown": Figure(m.slowdown, "x", "straggler slowdown"),
        "step_time_device_s": Figure(a.e_step, "s", f"E[step] of one {dev} (with jitter and stragglers)"),
        "step_time_sync_s": Figure(a.t_sync, "s", f"sync step: E[max of {a.nodes}] + sync"),
        "expected_max_s": Figure(a.e_max_all, "s", f"E[max of {a.nodes} step times] (order statistics)"),
        "expected_max_mc_s": Figure(a.mc_max_all[0], "s", f"same by Monte Carlo ({a.mc_draws} draws, seed)"),
        "samples_per_s_sync": Figure(a.x_sync, f"{sw}s/s", "sync SGD throughput"),
        "samples_per_s_async_raw": Figure(a.x_async_raw, f"{sw}s/s", "async SGD raw throughput"),
        "staleness": Figure(a.staleness, "updates", "async staleness (expected, = replicas - 1)"),
        "progress_per_update": Figure(a.progress, "fraction", "async progress per update r(staleness)"),
        "samples_per_s_async_effective": Figure(a.x_async, f"{sw}s/s", "async throughput x r(staleness)"),
        "wait_fraction": Figure(a.waste_wait, "fraction", "time a device waits for the slowest"),
        "spend_usd_month": Figure(a.spend_usd, "USD", f"fleet spend per month at {price:g} USD/{dev}-hour"),
        "usd_month_wasted_wait": Figure(a.usd_wait, "USD", "wasted by wait-for-all per month"),
        "usd_month_saved_async": Figure(a.usd_async, "USD", "saved by async per month, with staleness (< 0: lost)"),
        "usd_month_saved_async_no_staleness": Figure(a.usd_async_raw, "USD", "saved by async if staleness were free"),
        "checkpoint_s": Figure(ck["checkpoint_s"], "s", "checkpoint write time C"),
        "mtbf_system_s": Figure(ck["mtbf_s"], "s", f"system MTBF = {dev} MTBF / N"),
        "checkpoint_interval_young_s": Figure(ck["young_s"], "s", "Young/Daly interval sqrt(2 C M)"),
        "checkpoint_interval_numeric_s": Figure(ck["numeric_first_order_s"], "s", "numeric optimum (first-order)"),
        "checkpoint_interval_daly_exact_s": Figure(ck["numeric_daly_s"], "s", "numeric optimum (Daly exact model)"),
        "checkpoint_waste": Figure(ck["waste_exact"], "fraction", "time lost to checkpoints + rework + restarts"),
        "usd_month_checkpointing": Figure(ck["waste_exact"] * a.spend_usd, "USD", "checkpoint/failure cost per month"),
    }
    mc, se = a.mc_max_all
    ratio = a.x_sync / a.x_async if a.x_async > 0 else math.inf
    breakeven = a.x_sync / a.x_async_raw
    findings = [
        Finding(f"Sync vs async: {sw}s/s with {m.p:.0%} stragglers at {m.slowdown:g}x?",
                f"Sync waits for the slowest of {a.nodes:,} {devs}: E[max] = {a.e_max_all:.4g} s against a mean step "
                f"of "
                f"{a.e_step:.4g} s (order statistics; a seeded Monte Carlo of {a.mc_draws} draws gives {mc:.4g} "
                f"+- {se:.2g} s), plus {a.comm_sync_s:.3g} s exposed {d['sync_collective']} synchronisation: "
                f"{a.x_sync:.4g} {sw}s/s. Async lets each of the {a.replicas:,} replicas"
                + (f" ({a.group} {devs}, synchronous inside, E[max of {a.group}] = {a.e_max_group:.4g} s)"
                   if a.group > 1 else "") + f" run at its own pace: {a.x_async_raw:.4g} {sw}s/s raw "
                f"({a.x_async_raw / a.x_sync - 1:+.1%})."),
        Finding("How stale does async get, and what does that cost in convergence?",
                f"Expected staleness {a.staleness:g} updates (replicas - 1). Lian et al. 2015's stability condition "
                f"lets an update that stale take only r = {a.progress:.3g} of the zero-staleness step, so async "
                f"makes {a.x_async:.4g} {sw}s/s of sync-equivalent progress: {ratio:.3g}x "
                + ("slower" if ratio > 1 else "faster") + f" than sync. Async breaks even only if staleness costs "
                f"less than {1 - breakeven:.1%} of each update's progress (r >= {breakeven:.3f})."),
        Finding(f"Checkpointing: how often, at {ck['how']}?",
                f"C = {ck['checkpoint_s']:.4g} s, MTBF = {d['device_mtbf_h']:g} h / {a.nodes:,} = "
                f"{ck['mtbf_s']:.4g} s. "
                f"Young/Daly: sqrt(2 C M) = {ck['young_s']:.4g} s; scipy minimum of C/tau + tau/(2M): "
                f"{ck['numeric_first_order_s']:.4g} s; of Daly's exact model: {ck['numeric_daly_s']:.4g} s "
                f"(Daly's higher-order formula {ck['daly_s']:.4g} s). Time lost to checkpoints, rework and "
                f"{ck['restart_s']:g} s restarts: {ck['waste_exact']:.2%}"
                + ("." if ck["young_valid"] else
                   ". Young's formula is outside its range here (C is not << M): "
                   + ("with C > M no checkpoint completes between failures on average"
                      if ck["checkpoint_s"] >= ck["mtbf_s"] else "the first-order waste is a poor guide") + "; "
                   "a fleet this size must tolerate dropouts (partial participation) rather than restart.")),
    ]
    usd_bits = [("async", a.usd_async)]
    zero_txt = "ZeRO comparison not run (--no-zero)."
    if z is not None:
        nz, zz = z.get("no_zero", {}), z.get("zero", {})
        if "step_s" in nz and "step_s" in zz:
            saved = a.spend_usd * (1.0 - zz["step_s"] / nz["step_s"])
            usd_bits.append(("ZeRO", saved))
            figures["usd_month_saved_zero"] = Figure(saved, "USD", "saved by ZeRO per month (3D solver)")
            figures["step_time_best_no_zero_s"] = Figure(nz["step_s"], "s", "best step, ZeRO-0 only (3D solver)")
            figures["step_time_best_zero_s"] = Figure(zz["step_s"], "s", "best step, any ZeRO stage (3D solver)")
            zero_txt = (f"The 3D solver's best configuration without ZeRO ({nz['plan']}, {nz['step_s']:.4g} s, MFU "
                        f"{nz['mfu']:.1%}) vs with ZeRO allowed ({zz['plan']}, {zz['step_s']:.4g} s, MFU "
                        f"{zz['mfu']:.1%}): "
                        f"{_usd(saved)}/month.")
        else:
            err = nz.get("error") or zz.get("error") or "no result"
            zero_txt = f"The 3D solver found no answer to compare: {err}"
    verdict = _verdict(usd_bits)
    findings.append(Finding(
        f"Stakeholder challenge: dollars per month at {price:g} USD per {dev}-hour ({a.nodes:,} {devs}, {hours:g} h)?",
        f"Fleet spend {_usd(a.spend_usd)}/month. Wait-for-all wastes {a.waste_wait:.1%} of it: {_usd(a.usd_wait)}. "
        f"Switching to async saves {_usd(a.usd_async_raw)} if staleness were free; with its staleness cost "
        + (f"it saves {_usd(a.usd_async)}." if a.usd_async >= 0 else
           f"it is {ratio:.3g}x slower per unit of progress, so {_usd(-a.usd_async)} of the month's spend buys "
           "nothing.")
        + f" {zero_txt} {verdict}"))
    tables: dict[str, Table] = {
        "sync_vs_async": Table(["mode", "step or update time (s)", f"{sw}s/s", "staleness", "progress/update",
                                f"effective {sw}s/s"],
                               [["sync (wait for all)", a.t_sync, a.x_sync, 0, 1.0, a.x_sync],
                                ["async (no waiting)", a.t_async, a.x_async_raw, a.staleness, a.progress, a.x_async]],
                               "Sync vs async SGD"),
        "order_statistics": Table(["n", "E[max] order statistics (s)", "E[max]/E[T]"],
                                  [[k, expected_max(m, k), expected_max(m, k) / m.mean]
                                   for k in sorted({1, 2, 8, a.group, 64, 1024, a.nodes}) if k <= a.nodes],
                                  "Expected slowest of n devices"),
    }
    headline = (f"Sync waits {a.e_max_all / a.e_step:.2f}x the mean step for the slowest of {a.nodes:,} {devs} "
                f"({m.p:.0%} stragglers at {m.slowdown:g}x): {_usd(a.usd_wait)}/month idle. Async's staleness "
                f"({a.staleness:g}) leaves r = {a.progress:.3g} progress per update, so it "
                + (f"costs {ratio:.3g}x per unit of progress" if a.usd_async < 0
                   else f"saves {_usd(a.usd_async)}/month")
                + f"; checkpoint every {ck['numeric_daly_s']:.4g} s (Young {ck['young_s']:.4g} s). {verdict}")
    assumptions = [
        Assumption(f"Step time of one {dev}: the cost model's step for the track's configuration "
                   f"({a.est.plan.describe()}): {m.t0:.4g} s without stragglers; jitter: shifted exponential with mean "
                   f"{m.jitter:.0%}; a straggler takes {m.slowdown:g}x; step times i.i.d. across devices and steps.",
                   "Dutta et al. 2018 (AISTATS) sec. 3; " + d["source"]),
        Assumption("Synchronisation: " + ("the cost model ring all-reduce (exposed part)"
                                          if d["sync_collective"] == "ring" else
                                          "every device pushes its gradient to a server and pulls the average "
                                          "over its own link") + "; "
                   "async: each replica pushes and pulls from a sharded parameter server, the same bytes per device.",
                   "Li et al. 2014 (OSDI), parameter server; McMahan et al. 2017 (AISTATS), FedAvg"),
        Assumption("Staleness of async SGD = number of replicas - 1 (each update lands after one update of every "
                   "other replica); progress per update = the largest stable step at that staleness.",
                   "Lian et al. 2015 (NeurIPS) Theorem 1; Dutta et al. 2018 sec. 5"),
        Assumption(f"Failures: exponential, per-{dev} MTBF {d['device_mtbf_h']:g} h; a failure of any device stops the "
                   f"synchronous job (MTBF / N); restart {d['restart_s']:g} s.", d["source"]),
        Assumption(f"Dollars: {a.nodes:,} {devs} x {hours:g} h/month x {price:g} USD/{dev}-hour; a saving is the "
                   "spend times the fraction of time the change removes for the same progress.",
                   t.sources.get("economics", "")),
    ]
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
    Formula("dollars per month", "N x hours x price x (fraction of time removed for the same progress)",
            "track economics"),
]
