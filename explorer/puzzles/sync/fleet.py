"""The fleet forms of the synchronisation audit (edge, mobile, tiny): the physics each track asks
for and its narration (headline, findings, figures, constraints, tables, formulas).

* edge: the staleness bound and the synchronisation period that keep the lab's step stable;
* mobile: federated rounds per day and participation inside the battery budget;
* tiny: gossip averaging on the earbuds' contact graph vs a full synchronisation.
"""

from __future__ import annotations

import math
from typing import Any

from explorer.cost.collectives import p2p_time
from explorer.cost.memory import params_per_device
from explorer.cost.stragglers import expected_max_of_sums, max_staleness, stable_step_ratio
from explorer.errors import ExplorerError
from explorer.puzzles.sync.audit import SECONDS_PER_DAY, SECONDS_PER_HOUR, Audit
from explorer.report import Constraint, Figure, Finding, Formula, Table


# --- edge: staleness bound and synchronisation period -------------------------------------------------
def edge_period(a: Audit) -> dict:
    """Periodic averaging every H local steps, read as bounded staleness T = H - 1 (a device's model
    misses at most H - 1 steps of the others: Ho et al. 2013, stale synchronous parallel; Wang & Joshi
    2018, cooperative SGD). Convergence needs the step in use, lr_fraction x g_max(0), to stay stable:
    r(H - 1) >= lr_fraction (Lian et al. 2015). Throughput per period: N b H / (E[max_i sum of H steps]
    + sync)."""
    f = a.data["lr_fraction"]
    t_max = max_staleness(f)
    h_max = int(math.floor(t_max + 1e-9)) + 1
    b = a.samples_per_replica
    ideal = a.replicas * b / a.e_step  # no waiting, no communication
    rows = []
    for h in sorted({1, 2, max(1, h_max // 2), h_max}):
        e = expected_max_of_sums(a.model, a.nodes, h) if a.group == 1 else h * a.e_max_all
        x = a.replicas * b * h / (e + a.comm_sync_s)
        rows.append({"h": h, "staleness": h - 1, "progress": stable_step_ratio(h - 1), "stable": h <= h_max,
                     "period_s": e + a.comm_sync_s, "samples_per_s": x, "compute_share": x / ideal})
    x_h = rows[-1]["samples_per_s"]
    # the period at which half of the time computes, and the learning rate it would need
    h_half = max(1.0, a.comm_sync_s / a.e_step)
    return {"lr_fraction": f, "staleness_max": t_max, "h": h_max, "rows": rows, "x_ideal": ideal, "x_h": x_h,
            "x_every_step": rows[0]["samples_per_s"], "h_half": h_half,
            "lr_fraction_for_h_half": float(stable_step_ratio(h_half - 1)),
            "cost_vs_ideal": 1.0 - x_h / ideal, "async_progress": a.progress}


# --- mobile: federated rounds inside the energy budget ------------------------------------------------
def mobile_federated(a: Audit) -> dict:
    """FedAvg (McMahan et al. 2017): each round a fraction q of the glasses runs E local steps and
    exchanges the model with the phone/server. Energy per participation = accelerator power x local
    compute time + radio energy per bit x bits up and down. Decision: rounds per day f and
    participation q; maximise f (fastest to the accuracy target of R rounds) subject to
    f q E_round <= daily energy budget, q >= q_min (McMahan et al. 2017, Table 1: C = 0.1),
    q <= 1, f x round time <= one day. Linear in (f, y = f q): solved with scipy.optimize.linprog."""
    from scipy.optimize import linprog

    d, s = a.data, a.setup
    link = s.cluster.inter
    acc = s.cluster.accelerator
    model_bytes = float(params_per_device(s, 1, 1, 1)) * s.weight_bytes
    e_bits = 2.0 * model_bytes * 8.0 * link.energy_j_per_bit  # model down + update up
    t_local = d["local_steps"] * a.model.t0
    e_compute = acc.tdp_w * t_local
    e_round = e_compute + e_bits
    t_round = t_local + a.comm_async_s  # one participant's compute + exchange
    battery_j = a.track.raw["economics"]["battery_wh"] * SECONDS_PER_HOUR
    budget = d["training_energy_fraction"] * battery_j  # J per device per day
    q_min = d["participation_min"]
    # variables (f, y): maximise f  <=>  minimise -f
    res = linprog(c=[-1.0, 0.0],
                  A_ub=[[0.0, e_round], [q_min, -1.0], [-1.0, 1.0], [t_round / SECONDS_PER_DAY, 0.0]],
                  b_ub=[budget, 0.0, 0.0, 1.0], bounds=[(0, None), (0, None)], method="highs")
    if res.status != 0:
        raise ExplorerError(f"federated round LP failed: {res.message}")
    f, y = float(res.x[0]), float(res.x[1])
    q = y / f if f > 0 else q_min
    daily = f * q * e_round
    p_inf = d["inference_power_w"]
    # the crisis: synchronise after every step on each of the track's links
    crisis = {}
    for key in dict.fromkeys((link.key, "wifi6")):
        from explorer.hardware.catalog import get_link

        lk = get_link(key)
        t_x = 2.0 * (lk.latency_s + model_bytes / lk.effective_bandwidth)
        e_x = 2.0 * model_bytes * 8.0 * lk.energy_j_per_bit
        power = (acc.tdp_w * a.model.t0 + e_x) / (a.model.t0 + t_x)
        crisis[key] = {"sync_s": t_x, "sync_j": e_x, "power_w": power, "ratio": power / p_inf}
    return {"model_bytes": model_bytes, "e_round": e_round, "e_compute": e_compute, "e_radio": e_bits,
            "t_round": t_round, "budget_j": budget, "battery_j": battery_j, "rounds_per_day": f, "participation": q,
            "participations_per_day": f * q, "daily_j": daily, "days_to_target": d["rounds_to_target"] / f,
            "inference_hours_lost": daily / p_inf / SECONDS_PER_HOUR,
            "battery_fraction": daily / battery_j, "crisis": crisis, "inference_power_w": p_inf,
            "binding": {"energy": abs(f * q * e_round - budget) <= 1e-6 * budget,
                        "participation": abs(q - q_min) <= 1e-9,
                        "time": abs(f * t_round - SECONDS_PER_DAY) <= 1e-6 * SECONDS_PER_DAY}}


# --- tiny: gossip averaging vs full synchronisation -----------------------------------------------------
def tiny_gossip(a: Audit) -> dict:
    """Gossip on the earbuds' contact graph (explorer/cost/gossip.py: Metropolis weights, SLEM,
    rounds to consensus) vs a full ring all-reduce (the cost model). One gossip round: every
    earbud sends its model to each neighbour in turn, so a round lasts max-degree x (alpha + M/B);
    every transferred bit costs the radio energy per bit at the sender and at the receiver."""
    from explorer.cost import gossip

    d, s = a.data, a.setup
    link = s.cluster.inter
    n = a.nodes
    m = float(params_per_device(s, 1, 1, 1)) * s.weight_bytes
    adj = gossip.contact_graph(n, seed=d["gossip_seed"])
    w = gossip.metropolis_weights(adj)
    lam2 = gossip.slem(w)
    k = gossip.rounds_to_consensus(w, d["consensus_eps"])
    err = gossip.consensus_error(w, k, seed=d["gossip_seed"])
    msgs = gossip.messages_per_round(adj)
    deg_max = int(adj.sum(axis=1).max())
    t_msg = float(p2p_time(m, link.latency_s, link.effective_bandwidth))
    t_round = deg_max * t_msg
    e_bit = link.energy_j_per_bit
    e_round = msgs * m * 8.0 * e_bit * 2.0
    # full synchronisation: the cost model's ring all-reduce of the model over the same link
    t_ring = float(a.est.dp_comm_total_s)
    e_ring = n * 2.0 * (n - 1) / n * m * 8.0 * e_bit * 2.0
    t_all = (n - 1) * t_msg  # naive all-to-all: each earbud sends its model to every other, in turn
    e_all = n * (n - 1) * m * 8.0 * e_bit * 2.0
    budget_j_day = a.track.raw["economics"]["power_budget_w"] * SECONDS_PER_DAY
    return {"model_bytes": m, "slem": lam2, "spectral_gap": 1.0 - lam2, "rounds": k, "eps": d["consensus_eps"],
            "error_after": err, "messages_per_round": msgs, "max_degree": deg_max, "t_round": t_round,
            "t_gossip": k * t_round, "e_gossip": k * e_round, "t_ring": t_ring, "e_ring": e_ring, "t_all": t_all,
            "e_all": e_all, "budget_j_day": budget_j_day, "edges": msgs // 2,
            "gossip_per_day_in_budget": budget_j_day * n / (k * e_round),
            "ring_per_day_in_budget": budget_j_day * n / e_ring}



def _track_headline(extra: dict, sw: str) -> str:
    """The track's own form of the question, first in the headline."""
    if "edge" in extra:
        e = extra["edge"]
        return (f"Synchronise every H = {e['h']} local steps (staleness <= {e['staleness_max']:.3g} keeps the lab's "
                f"step stable): {e['x_h']:.4g} {sw}s/s, {e['x_h'] / e['x_every_step']:.2f}x every-step sync, yet the "
                f"fleet computes only {1 - e['cost_vs_ideal']:.1%} of the time. ")
    if "mobile" in extra:
        mo = extra["mobile"]
        return (f"{mo['rounds_per_day']:.3g} federated rounds a day at {mo['participation']:.0%} participation fit "
                f"the budget: {mo['daily_j']:.3g} J per pair per day ({mo['battery_fraction']:.0%} of the battery, "
                f"{mo['inference_hours_lost']:.2g} h of inference); target in {mo['days_to_target']:.3g} days. ")
    if "tiny" in extra:
        g = extra["tiny"]
        winner = "the ring all-reduce" if g["t_ring"] < g["t_gossip"] else "gossip"
        return (f"Gossip needs {g['rounds']} rounds to {g['eps']:.0%} consensus (spectral gap "
                f"{g['spectral_gap']:.3g}): {g['t_gossip']:.3g} s and {g['e_gossip']:.3g} J, vs {g['t_ring']:.3g} s "
                f"and {g['e_ring']:.3g} J for an exact ring all-reduce; {winner} wins. ")
    return ""



def fleet_narration(a: Audit, extra: dict, sw: str) -> dict[str, Any]:
    """The track's own findings, figures, constraints, tables and formulas, and its headline prefix."""
    d = a.data
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    constraints: list[Constraint] = []
    tables: dict[str, Table] = {}
    if "edge" in extra:
        e = extra["edge"]
        figures.update({
            "staleness_bound": Figure(e["staleness_max"], "steps", "largest stable staleness at the lab's step"),
            "sync_period": Figure(e["h"], "steps", "local steps between synchronisations H"),
            "samples_per_s_period": Figure(e["x_h"], f"{sw}s/s", "throughput with sync every H steps"),
            "samples_per_s_every_step": Figure(e["x_every_step"], f"{sw}s/s", "throughput with sync every step"),
            "compute_share_period": Figure(1.0 - e["cost_vs_ideal"], "fraction", "share of time computing at H"),
        })
        findings.append(Finding(
            "Edge: which staleness bound / sync period keeps training convergent, and what throughput does it cost?",
            f"At the lab's step (lr = {e['lr_fraction']:g} x the zero-staleness stable step), Lian et al.'s condition "
            f"holds up to staleness T = sqrt((1 - f)/2)/f = {e['staleness_max']:.3g}: synchronise every H = {e['h']} "
            f"local steps (staleness {e['h'] - 1}). That gives {e['x_h']:.4g} {sw}s/s, "
            f"{e['x_h'] / e['x_every_step']:.2f}x "
            f"the every-step sync ({e['x_every_step']:.4g}); full async (staleness {a.staleness:g}, r = "
            f"{e['async_progress']:.2g} < {e['lr_fraction']:g}) diverges at that step, which is the crisis. The price "
            f"of the bound: the fleet computes {1 - e['cost_vs_ideal']:.2%} of the time ({e['cost_vs_ideal']:.1%} of "
            f"its capacity goes to the {a.comm_sync_s:.3g} s 5G exchange). Computing half the time would need "
            f"H = {e['h_half']:.0f} and a step of {e['lr_fraction_for_h_half']:.2g} x the stable one."))
        constraints.append(Constraint("staleness of the sync period vs the stability bound", e["h"] - 1,
                                      e["staleness_max"], "steps", "<=", binding=True))
        tables["sync_period"] = Table(["H", "staleness", "r(staleness)", "stable at lab step", "period (s)",
                                       f"{sw}s/s", "share of time computing"],
                                      [[r["h"], r["staleness"], r["progress"], "yes" if r["stable"] else "no",
                                        r["period_s"], r["samples_per_s"], r["compute_share"]] for r in e["rows"]],
                                      "Synchronisation period")
    if "mobile" in extra:
        mo = extra["mobile"]
        figures.update({
            "rounds_per_day": Figure(mo["rounds_per_day"], "rounds/day", "federated rounds per day"),
            "participation": Figure(mo["participation"], "fraction", "participation per round"),
            "energy_per_round_j": Figure(mo["e_round"], "J", "energy per participation (compute + radio)"),
            "training_energy_per_day_j": Figure(mo["daily_j"], "J", "training energy per pair per day"),
            "battery_hours_of_inference_lost": Figure(mo["inference_hours_lost"], "h",
                                                      "hours of local inference the training costs per day"),
            "days_to_target": Figure(mo["days_to_target"], "days", "days to the accuracy target"),
        })
        cr = mo["crisis"]
        crisis_txt = "; ".join(f"over {k}: {v['power_w']:.3g} W = {v['ratio']:.2g}x local inference "
                               f"({v['sync_j']:.3g} J and {v['sync_s']:.3g} s per exchange)" for k, v in cr.items())
        findings.append(Finding(
            "Mobile: does syncing every step drain the battery 5x faster than local inference?",
            f"Computed from the catalog radios (inference {mo['inference_power_w']:g} W): {crisis_txt}. Bluetooth "
            f"is so "
            f"slow that the glasses mostly wait; Wi-Fi finishes the exchange quickly but at radio power, which is "
            f"where the storyboard's 5x comes from."))
        findings.append(Finding(
            "Mobile: which federated round frequency and participation keep the energy budget and the accuracy target?",
            f"{mo['rounds_per_day']:.3g} rounds per day with {mo['participation']:.0%} of the glasses each "
            "(scipy linprog; binding: " + ", ".join(k for k, v in mo["binding"].items() if v) + "). Each "
            "participation "
            f"costs {mo['e_round']:.3g} J ({mo['e_compute']:.3g} J compute for {d['local_steps']} local steps + "
            f"{mo['e_radio']:.3g} J radio for {mo['model_bytes'] / 1e6:.3g} MB each way) and {mo['t_round']:.3g} s; a "
            f"pair joins {mo['participations_per_day']:.3g} rounds a day = {mo['daily_j']:.3g} J = "
            f"{mo['battery_fraction']:.0%} of the {mo['battery_j']:.0f} J battery = {mo['inference_hours_lost']:.2g} h "
            f"of the {mo['battery_j'] / mo['inference_power_w'] / SECONDS_PER_HOUR:.3g} h that a charge gives local "
            f"inference. The {d['rounds_to_target']} rounds to the target take "
            f"{mo['days_to_target']:.3g} days."))
        constraints += [
            Constraint("training energy per pair per day", mo["daily_j"], mo["budget_j"], "J", "<=",
                       binding=mo["binding"]["energy"]),
            Constraint("participation per round", mo["participation"], d["participation_min"], "fraction", ">=",
                       binding=mo["binding"]["participation"]),
            Constraint("round time x rounds per day", mo["rounds_per_day"] * mo["t_round"], SECONDS_PER_DAY, "s", "<=",
                       binding=mo["binding"]["time"]),
        ]
    if "tiny" in extra:
        g = extra["tiny"]
        figures.update({
            "spectral_gap": Figure(g["spectral_gap"], "", "spectral gap 1 - |lambda_2| of the contact graph"),
            "gossip_rounds": Figure(g["rounds"], "rounds", f"gossip rounds to {g['eps']:g} consensus error"),
            "gossip_time_s": Figure(g["t_gossip"], "s", "gossip time to consensus"),
            "gossip_energy_j": Figure(g["e_gossip"], "J", "gossip energy to consensus (fleet)"),
            "allreduce_time_s": Figure(g["t_ring"], "s", "ring all-reduce time (exact average)"),
            "allreduce_energy_j": Figure(g["e_ring"], "J", "ring all-reduce energy (fleet)"),
            "gossip_error": Figure(g["error_after"], "fraction", "simulated consensus error after those rounds"),
        })
        faster = "full synchronisation" if g["t_ring"] < g["t_gossip"] else "gossip"
        findings.append(Finding(
            "Tiny: gossip averaging vs full all-to-all synchronisation: time, energy, accuracy of the average?",
            f"Contact graph of {a.nodes} earbuds ({g['edges']} links, max degree {g['max_degree']}): Metropolis "
            f"weights, |lambda_2| = {g['slem']:.4f}, spectral gap {g['spectral_gap']:.4f}, so "
            f"ceil(ln {g['eps']:g} / ln |lambda_2|) = {g['rounds']} rounds to {g['eps']:.0%} consensus error "
            f"(simulated: {g['error_after']:.2g}). Each round sends {g['messages_per_round']} model copies of "
            f"{g['model_bytes'] / 1e3:.4g} KB over BLE ({g['t_round']:.4g} s, the busiest earbud sends "
            f"{g['max_degree']}): gossip takes {g['t_gossip']:.4g} s and {g['e_gossip']:.4g} J. A ring all-reduce "
            f"(exact average) takes {g['t_ring']:.4g} s and {g['e_ring']:.4g} J if ring neighbours can hear each other "
            f"directly; a naive all-to-all {g['t_all']:.4g} s and {g['e_all']:.4g} J. {faster.capitalize()} wins: "
            f"gossip's only advantage is that it needs no global ring, only neighbours. Within the 1 mW budget "
            f"the fleet affords {g['gossip_per_day_in_budget']:.2g} gossip consensus per day vs "
            f"{g['ring_per_day_in_budget']:.3g} ring all-reduces."))
    formulas = ([EDGE_FORMULA] if "edge" in extra else []) + ([MOBILE_FORMULA] if "mobile" in extra else []) + (
        [TINY_FORMULA] if "tiny" in extra else [])
    return {"headline": _track_headline(extra, sw), "figures": figures, "findings": findings,
            "constraints": constraints, "tables": tables, "formulas": formulas}


EDGE_FORMULA = Formula("edge: stable staleness bound", "r(T) >= f  <=>  T <= sqrt((1 - f)/2) / f;  H = floor(T) + 1",
                       "Lian et al. 2015 Theorem 1 solved for T; periodic averaging as bounded staleness "
                       "(Wang & Joshi 2018, cooperative SGD)")
MOBILE_FORMULA = Formula("mobile: federated rounds",
                         "max f  s.t.  f q E_round <= budget, q >= q_min, q <= 1, f t_round <= 1 day "
                         "(linprog in f, y = f q)",
                         "McMahan et al. 2017 (FedAvg); E_round = P t_local + 2 bits x energy per bit")
TINY_FORMULA = Formula("tiny: gossip rounds", "k = ceil(ln eps / ln |lambda_2(W)|), W Metropolis-Hastings",
                       "Xiao & Boyd 2004; Boyd et al. 2006 (explorer/cost/gossip.py)")
