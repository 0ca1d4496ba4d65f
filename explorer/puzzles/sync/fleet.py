"""The fleet forms of the synchronisation audit (edge, mobile, tiny): federated averaging with
partial participation and a round deadline, local SGD's sync period, gossip on the real contact graph,
energy and battery, each answering its lab's crisis:

* edge, "stale gradients from slow 5G diverge training": the staleness the lab's step affords (Lian et
  al. 2015) against the sync period and the participants, and why late vehicles are dropped at a
  deadline rather than their stale updates accepted;
* mobile, "the global sync drains batteries 5x faster than local inference": the claim computed from
  the radios and the SoC, and the rounds a day within the battery budget with compressed updates;
* tiny, "BLE is too slow for a full weight sync: use gossip": D-PSGD with one gossip round per step on
  the earbuds' contact graph (spectral gap from numpy eigenvalues) against the full synchronisation the
  graph can physically carry (a ring relayed over it), in rounds, convergence and joules.

The fleet itself comes from the fleet form of the 3D puzzle (explorer/puzzles/fleet3d: its scenario,
tables and optimum), so both lab parts describe the same fleet; the physics is in explorer/cost.
Datacenter notions are replaced, and the report says by what: no ZeRO dollars (no device holds a shard
of another's state), no cluster MTBF restarts (a device that drops out leaves the round), and the
checkpoint is the aggregator's copy of the global model.

This module holds every number of the audit and assembles its narration; the words every fleet track shares
(sync period, wait or drop, checkpoint, assumptions, formulas) are in fleet_words.py, each track's crisis
answered in words in fleet_tracks.py.
"""

from __future__ import annotations

import math
from typing import Any

from explorer.cost import energy
from explorer.cost.checkpoint import young_interval
from explorer.cost.gossip import rounds_to_consensus_slem
from explorer.cost.stragglers import max_staleness, stable_step_ratio
from explorer.puzzles.sync.audit import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Audit,
    progress_at_step,
    straggler_fraction_label,
)
from explorer.puzzles.sync.fleet_tracks import _edge, _mobile, _tiny
from explorer.puzzles.sync.fleet_words import (
    FLEET_FORMULAS,
    _a,
    _assumptions,
    _checkpoint_finding,
    _emax,
    _period_verdict,
    _ring_failure,
    _span,
    _wait_or_drop,
)
from explorer.report import Constraint, Figure, Finding, Table
from explorer.units import human_number as num
from explorer.units import human_sci


def _index(res) -> dict[str, int]:
    scn, b = res.scenario, res.best
    return {"placement": scn.placements.index(b["placement"]), "micro_batch": scn.micro_batches.index(b["micro_batch"]),
            "local_steps": scn.local_steps.index(b["local_steps"]),
            "participation": scn.participation.index(b["participation"]),
            "deadline": scn.deadline_quantiles.index(b["deadline_quantile"]), "tier": scn.tiers.index(b["tier"])}


# --- the numbers ------------------------------------------------------------------------------------
def fleet_audit(a: Audit) -> dict[str, Any]:
    """Every number of a fleet track's synchronisation audit."""
    from explorer.puzzles.fleet3d import model as fm
    from explorer.puzzles.fleet3d import solve_fleet

    res = solve_fleet(a.track.key, devices=a.nodes if a.nodes != a.track.cluster.devices else None,
                      step_model=a.model)
    scn, tb = res.scenario, res.tables
    idx = _index(res)
    out: dict[str, Any] = {"res": res, "best": res.best, "crisis": res.crisis, "idx": idx}
    out["sweep_h"] = [fm.evaluate(tb, {**idx, "local_steps": i}) for i in range(len(scn.local_steps))]
    if res.best["tier"].graph == "server":
        out["sweep_participants"] = [fm.evaluate(tb, {**idx, "participation": i, "deadline": j})
                                     for i in range(len(scn.participation)) for j in range(len(scn.deadline_quantiles))]
    out["server_checkpoint"] = server_checkpoint(a, res.best)
    if a.track.key == "edge":
        out["edge"] = edge_staleness(a, res)
    elif a.track.key == "mobile":
        out["mobile"] = mobile_battery(a, res)
    elif a.track.key == "tiny":
        out["tiny"] = tiny_gossip(a, res)
    return out


def server_checkpoint(a: Audit, best: dict) -> dict | None:
    """The aggregator checkpoints the global model (Young 1974 interval, C = model bytes / write rate,
    M = the aggregator's MTBF), in whole rounds and never more often than one round; a fleet device that
    fails is dropped from its round, it does not stop anything. No aggregator (gossip): nothing to save
    centrally; a device that rejoins copies a neighbour's model."""
    d = a.data
    if best["tier"].graph != "server" or "server_mtbf_h" not in d:
        return None
    model_bytes = best["sync_bytes"] + best.get("sync_bytes_partner", 0.0)
    c = model_bytes / (d["server_checkpoint_gb_per_s"] * 1e9)
    m = d["server_mtbf_h"] * SECONDS_PER_HOUR
    tau = young_interval(c, m)
    every = max(1, math.floor(tau / best["round_time"]))
    return {"checkpoint_s": c, "mtbf_s": m, "young_s": tau, "every_rounds": every,
            "interval_s": every * best["round_time"], "model_bytes": model_bytes}


def edge_staleness(a: Audit, res) -> dict:
    """The staleness the lab's step affords asynchronous updates (Lian et al. 2015: r(T) >= lr_fraction <=>
    T <= T_max): K devices in flight send updates K - 1 updates stale. It does not bound the H local steps of
    the synchronous rounds: each takes a fresh gradient at the device's own iterate (local SGD / FedAvg), and
    what they cost, client drift, is the convergence bound's tau/p terms (Koloskova et al. 2020; Stich 2019)."""
    f = a.data["lr_fraction"]
    t_max = max_staleness(f)
    b = res.best
    k_async = b["replicas"] * b["participation"]
    r = float(stable_step_ratio(k_async - 1))
    return {"lr_fraction": f, "staleness_max": t_max,
            "async_devices_max": int(math.floor(t_max + 1e-9)) + 1, "async_staleness": k_async - 1,
            "async_progress": r, "async_progress_at_lr": progress_at_step(r, f),
            "fleet_async_staleness": a.replicas - 1, "fleet_async_progress": a.progress,
            "fleet_async_progress_at_lr": a.progress_at_lr}


def mobile_battery(a: Audit, res) -> dict:
    """The storyboard's claim, computed: training with a full-model sync after every step (the glasses hold
    the whole model) draws (P t_step + E_exchange) / (t_step + t_exchange) on each link, against the
    track's local-inference power. Then the rounds a day the battery budget allows when the glasses do
    train a part of the model (the best such configuration worn, on battery), with the update
    compressed (the download stays full size: the server broadcasts the model)."""
    from explorer.puzzles.fleet3d import restricted_best

    scn = res.scenario
    d = a.data
    p_inf = d["inference_power_w"]
    battery_j = a.track.raw["economics"]["battery_wh"] * SECONDS_PER_HOUR
    c = res.crisis
    p_dev = scn.setup.cluster.accelerator.tdp_w
    m_full = c["sync_bytes"]
    drain = {}
    for t in scn.tiers:
        if not t.uses_battery:
            continue
        lk = t.link
        t_x = 2.0 * lk.latency_s + 2.0 * m_full / lk.effective_bandwidth
        e_x = energy.transfer_energy_j(m_full, m_full, lk.energy_j_per_bit)
        power = (p_dev * c["t_local"] + e_x) / (c["t_local"] + t_x)
        drain[lk.key] = {"link": lk.name, "exchange_s": t_x, "exchange_j": e_x, "power_w": power,
                         "ratio": power / p_inf, "battery_h": energy.battery_hours(battery_j, power)}
    worn = [i for i, t in enumerate(scn.tiers) if t.uses_battery]
    glasses = [i for i, p in enumerate(scn.placements) if p.split >= 1]
    g = restricted_best(res.problem, res.tables, lambda gr: (gr["tier"][:, None] == worn).any(axis=1)
                        & (gr["placement"][:, None] == glasses).any(axis=1)) if worn and glasses else None
    rows = []
    if g is not None:
        from explorer.puzzles.fleet3d.model import compressed_config
        from explorer.puzzles.fleetlens.common import index

        gi = index(res, g)
        m = g["sync_bytes"]
        for c_f, name in zip(scn.compression, scn.compression_names):
            r = compressed_config(res.tables, gi, c_f)
            rows.append({"compression": c_f, "name": name, "upload_bytes": m / c_f, "energy_round": r["energy_round"],
                         "sync_j": r["e_sync"], "round_s": r["round_time"], "t_sync": r["t_sync"],
                         "server_s": r["server_time"], "server_bound": r["server_bound"],
                         "rounds_per_day": r["rounds_per_day"], "days": r["days"], "energy_day": r["energy_day"]})
    return {"inference_power_w": p_inf, "battery_j": battery_j, "inference_hours": battery_j / p_inf / 3600.0,
            "drain": drain, "glasses_config": g, "compression": rows, "budget_j": scn.data["energy_budget_j_per_day"]}


def tiny_gossip(a: Audit, res) -> dict:
    """Every synchronisation path at the optimum's placement, micro-batch, local steps and deadline:
    one gossip round per synchronisation (D-PSGD; consensus rate p = 1 - |lambda_2|^2 of the contact
    graph's Metropolis matrix), the pair-then-gossip hierarchy, and the ring relayed over the graph
    (an exact average, p = 1); and, for contrast, the gossip rounds an exact-enough average would need
    (Boyd et al. 2006: ceil(ln eps / ln |lambda_2|)), which D-PSGD does not wait for."""
    from explorer.puzzles.fleet3d import model as fm

    scn, tb = res.scenario, res.tables
    idx = _index(res)
    tiers = [fm.evaluate(tb, {**idx, "tier": j}) for j in range(len(scn.tiers))]
    g = tb.graphs
    eps = a.data["consensus_eps"]
    from explorer.puzzles.fleetlens.common import contact_reach

    return {"tiers": tiers, "graphs": g, "eps": eps, "contact": contact_reach(scn),
            "consensus_rounds": {k: rounds_to_consensus_slem(v["slem"], eps) for k, v in g.items()
                                 if isinstance(v, dict) and "slem" in v},
            "budget_j": scn.data["energy_budget_j_per_day"]}


# --- the narration ----------------------------------------------------------------------------------
def fleet_narration(a: Audit, fa: dict, sw: str) -> dict[str, Any]:
    """Headline, figures, findings, constraints, tables, formulas and assumptions of a fleet's audit."""
    t = a.track
    b, _res = fa["best"], fa["res"]
    dev, devs = t.device_word, t.device_plural
    m = a.model
    figures: dict[str, Figure] = {
        "nodes": Figure(a.nodes, devs, f"{devs} in the fleet"),
        "straggler_fraction": Figure(m.p, "fraction", straggler_fraction_label(m.p, a.straggler_fraction_asked)),
        "slowdown": Figure(m.slowdown, "x", "straggler slowdown"),
        "expected_max_over_mean": Figure(a.e_max_all / a.e_step, "x", f"E[slowest of {a.nodes:,}] / mean step"),
        "days_to_target": Figure(b["days"], "days", "time to the training target (fleet 3D optimum)"),
        "sync_period": Figure(b["local_steps"], "steps", "local steps between synchronisations"),
        "participants_on_time": Figure(b["participants"], "replicas", "replicas averaged per round (every one: the "
                                                                      "ring waits for the slowest)"
                                       if b["waits_for_all"] else "replicas averaged per round (expected: late "
                                                                  "ones are dropped at the deadline)"),
        **({} if b["waits_for_all"] else {
            "deadline_quantile": Figure(b["deadline_quantile"], "fraction", "round deadline (quantile of a round)")}),
        "rounds_per_day": Figure(b["rounds_per_day"], "rounds/day", "rounds per day"),
        "round_time_s": Figure(b["round_time"], "s", "one round"),
        "energy_per_round_j": Figure(b["energy_round"], "J", f"energy of one participation per {dev}"),
        "energy_per_day_j": Figure(b["energy_day"], "J", f"training energy per {dev} per day"),
    }
    from explorer.puzzles.fleetlens.common import energy_block, failure_words

    e_figs, e_find = energy_block(_res)
    figures.update({k: v for k, v in e_figs.items() if k != "fleet_energy_day_j"})
    findings: list[Finding] = []
    constraints: list[Constraint] = []
    tables: dict[str, Table] = {}
    headline = ""
    if "edge" in fa:
        headline = _edge(a, fa, figures, findings, constraints)
    elif "mobile" in fa:
        headline = _mobile(a, fa, figures, findings, constraints, tables)
    elif "tiny" in fa:
        headline = _tiny(a, fa, figures, findings, constraints, tables)
    findings.append(_wait_or_drop(a, fa))
    findings += e_find
    findings.append(Finding(
        "How often to synchronise?",
        "Local steps H between synchronisations, the rest of the fleet 3D optimum fixed: "
        + "; ".join(f"H = {r['local_steps']}: {num(r['rounds'])} rounds of {_span(r['round_time'])}, "
                    + (f"{_span(r['days'] * SECONDS_PER_DAY)}" if r["feasible"] else
                       "not allowed (" + r["violations"][0].split(" stable")[0].split(":")[0] + ")")
                    for r in fa["sweep_h"])
        + ". " + _period_verdict(fa["sweep_h"])))
    tables["sync_period"] = Table(
        ["H", "allowed", "rounds", "round (s)", "rounds/day", "days to target"],
        [[r["local_steps"], "yes" if r["feasible"] else "no", round(r["rounds"]), r["round_time"],
          r["rounds_per_day"], r["days"]] for r in fa["sweep_h"]], "Synchronisation period")
    if "sweep_participants" in fa:
        tables["participants"] = Table(
            ["selected", "deadline quantile", "on time (expected)", "round (s)", "rounds", "days to target"],
            [[r["participation"], r["deadline_quantile"], r["participants"], r["round_time"], round(r["rounds"]),
              r["days"] if r["feasible"] else None] for r in fa["sweep_participants"]],
            "Participants per round and the round deadline")
    findings.append(_checkpoint_finding(a, fa))
    findings.append(Finding(
        "What replaces the dollars, ZeRO and the restarts of the datacenter audit?",
        f"The time to the training target ({_span(b['days'] * SECONDS_PER_DAY)}) and the energy each {dev} "
        f"spends ({num(b['energy_day'])} J a day). ZeRO has nothing to shard: every {dev} keeps its own copy of "
        f"what it trains and syncs it over the radio, so the datacenter 'ZeRO saves $' has no meaning here; "
        f"{failure_words(b, dev)}{_ring_failure(a, b)}; no failure restarts the whole fleet's job, as a "
        f"datacenter's MTBF restarts do; the track's price of {_a(dev)} for an hour "
        f"({human_sci(t.device_hour_usd, 6)} USD) is the owner's energy and wear, reported here as joules."))
    tables["order_statistics"] = Table(
        ["n", "E[max] (s)", "E[max]/E[T]"],
        [[k, _emax(a, k), _emax(a, k) / m.mean] for k in sorted({1, 2, 8, 64, 1024, a.nodes}) if k <= a.nodes],
        "Expected slowest of n devices (what waiting for every device costs)")
    return {"headline": headline, "figures": figures, "findings": findings, "constraints": constraints,
            "tables": tables, "formulas": FLEET_FORMULAS, "assumptions": _assumptions(a, fa)}
