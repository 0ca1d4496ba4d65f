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
    straggler_text,
)
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Table
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as num
from explorer.units import human_percent as pct
from explorer.units import plural


def _span(seconds: float) -> str:
    from explorer.puzzles.fleet3d.report import span

    return span(seconds)


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
        f"({t.device_hour_usd:g} USD) is the owner's energy and wear, reported here as joules."))
    tables["order_statistics"] = Table(
        ["n", "E[max] (s)", "E[max]/E[T]"],
        [[k, _emax(a, k), _emax(a, k) / m.mean] for k in sorted({1, 2, 8, 64, 1024, a.nodes}) if k <= a.nodes],
        "Expected slowest of n devices (what waiting for every device costs)")
    return {"headline": headline, "figures": figures, "findings": findings, "constraints": constraints,
            "tables": tables, "formulas": FLEET_FORMULAS, "assumptions": _assumptions(a, fa)}


def _period_verdict(sweep: list[dict]) -> str:
    """What the sync-period sweep shows, read from its rows (the rest of the optimum fixed). Rounds to the target
    are R = T / H with T the Koloskova et al. 2020 bound (federated.iterations_bound): every term of R is
    non-increasing in H, so rounds never rise, but T's local-step terms (sqrt(B) z tau/p, sqrt(B tau/(p b)), tau/p)
    grow with H, so R falls less than in proportion and levels off (R x H, the local steps, rises); each round's
    H local steps, and the deadline on them, take longer as H grows. The time to the target (those rounds, spread
    over the days the window and the energy budget allow) is least where the two balance, which may be an end
    of the range swept: said as the rows have it, not as a minimum every setting has (without the local-step
    terms R = B/(n b H) and R x round time would fall all the way to the largest H)."""
    ok = [r for r in sweep if r["feasible"]]
    if not ok:
        return "No sync period in the range is allowed here."
    first, last = ok[0], ok[-1]
    best = min(ok, key=lambda r: r["days"])
    h0, h1 = first["local_steps"], last["local_steps"]
    if len(ok) == 1:
        return f"Only H = {h0} is allowed here: its time to the target is the one above."
    steps0, steps1 = first["rounds"] * h0, last["rounds"] * h1
    rounds = (f"Rounds fall as H grows ({num(first['rounds'])} at H = {h0} -> {num(last['rounds'])} at H = {h1})"
              if last["rounds"] < first["rounds"] else
              f"Rounds stay at {num(first['rounds'])} from H = {h0} to H = {h1}")
    text = (f"{rounds}, less than in proportion to H: the Koloskova et al. 2020 bound's local-step terms (client "
            f"drift z tau/p, sqrt(tau/(p b)) and tau/p) grow with H, so the local steps to the target, rounds x H, "
            f"{'rise' if steps1 > steps0 else 'fall'} ({num(steps0)} -> {num(steps1)}); and each round's H local "
            f"steps, with the deadline on them, take longer ({_span(first['round_time'])} -> "
            f"{_span(last['round_time'])}). ")
    when = _span(best["days"] * SECONDS_PER_DAY)
    time = "The time to the target (those rounds, over the days the window and the energy budget spread them over)"
    if best is first:
        return text + (f"{time} is least at the smallest H swept, H = {h0} ({when}): the fewer rounds never repay "
                       "the longer ones in this range.")
    if best is last:
        return text + (f"{time} is least at the largest H swept, H = {h1} ({when}): the fewer rounds repay the "
                       "longer ones throughout this range (a larger H was not searched).")
    return text + f"{time} is least in between, at H = {best['local_steps']} ({when})."


def _ring_failure(a: Audit, b: dict) -> str:
    """On a path that waits for every member (a ring), the chance that a round loses one: the n devices in it fail
    independently at rate 1 / MTBF (exponential failures, as Young 1974 assumes), so a round of D seconds loses at
    least one with probability 1 - exp(-n D / MTBF). n: the devices taking part (participants x the devices of a
    replica: a split model's two earbuds both hold part of it)."""
    mtbf_h = a.data.get("device_mtbf_h")
    if not b["waits_for_all"] or not mtbf_h:
        return ""
    n = a.nodes * b["participation"]
    p = -math.expm1(-n * b["round_time"] / (mtbf_h * SECONDS_PER_HOUR))
    return (f": with {num(n)} {a.track.device_plural} in each {_span(b['round_time'])} round, each failing once in "
            f"{num(mtbf_h)} h on average, a round loses one with probability 1 - exp(-n D / MTBF) = {pct(p)}")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _place(fa: dict, p) -> str:
    scn = fa["res"].scenario
    return p.describe(scn.layers, scn.partner_word)


def _emax(a: Audit, k: int) -> float:
    from explorer.cost.stragglers import expected_max

    return expected_max(a.model, k)


def _wait_or_drop(a: Audit, fa: dict) -> Finding:
    b = fa["best"]
    dev, devs = a.track.device_word, a.track.device_plural
    if b["waits_for_all"]:  # an all-reduce path: nobody can be dropped part-way
        return Finding(
            f"Wait for the slowest {dev}, drop the late ones, or go asynchronous?",
            f"Wait, on the path the fleet 3D optimum takes ({b['tier'].name}): a ring all-reduce passes every chunk "
            f"through every member, so it cannot drop a late one part-way; the round waits for the slowest of its "
            f"{num(b['participants'])} replicas, whose {plural(b['local_steps'], 'local step')} take "
            f"{num(b['wait_factor'])}x their mean (order statistics of the sums; one step alone, the slowest of "
            f"{a.nodes:,} {devs} ({straggler_text(a.model.p, a.model.slowdown)}) takes "
            f"{num(a.e_max_all / a.e_step)}x the mean). In return every replica is averaged exactly (p = 1). "
            f"{_other_paths(fa['res'])}Asynchronous updates from the whole fleet would be "
            f"{a.staleness:,.0f} updates stale: {_stale_verdict(_fleet_stale(a))}.")
    return Finding(
        f"Wait for the slowest {dev}, drop the late ones, or go asynchronous?",
        f"Drop them. Waiting for the slowest of {a.nodes:,} {devs} ({straggler_text(a.model.p, a.model.slowdown)}) "
        f"stretches every step to {num(a.e_max_all / a.e_step)}x the mean (order "
        f"statistics, the same as lab 05's cloud audit); a deadline at the {pct(b['deadline_quantile'])} quantile "
        f"of a round keeps {num(b['participants'])} replicas per round and drops the rest, and the convergence "
        f"bound charges the fewer participants. Asynchronous updates from the whole fleet would be "
        f"{a.staleness:,.0f} updates stale: {_stale_verdict(_fleet_stale(a))}.")


def _fleet_stale(a: Audit) -> dict:
    """The whole fleet's asynchronous staleness in `_stale_verdict`'s terms (the audit's r and min(1, r / f))."""
    return {"async_progress": a.progress, "lr_fraction": a.data["lr_fraction"],
            "async_progress_at_lr": a.progress_at_lr}


def _other_paths(res) -> str:
    """The paths that could leave late devices out, when the optimum waits for all: a star drops them at a
    deadline (Bonawitz et al. 2019), gossip averages with the neighbours present."""
    graphs = {t.graph for t in res.scenario.tiers}
    ways = (["a star would drop them at a deadline (Bonawitz et al. 2019)"] if "server" in graphs else []) + (
        ["gossip proceeds with the neighbours present"] if graphs & {"gossip_devices", "gossip_pairs"} else [])
    if not ways:
        return ""
    return f"On the other paths {' and '.join(ways)}, but the search found them slower to the target here. "


def _checkpoint_finding(a: Audit, fa: dict) -> Finding:
    ck = fa["server_checkpoint"]
    dev = a.track.device_word
    if ck is None:
        return Finding(
            "Checkpointing: what is saved, and how often?",
            f"No aggregator holds the model: every {dev} carries it and {_a(dev)} that rejoins copies a "
            "neighbour's; a fleet has no global job to restart, so there is no checkpoint interval to tune.")
    return Finding(
        "Checkpointing: what is saved, and how often?",
        f"The aggregator's global model ({hbytes(ck['model_bytes'])}), not the fleet: C = {num(ck['checkpoint_s'])} s "
        f"at {a.data['server_checkpoint_gb_per_s']:g} GB/s, the aggregator's MTBF {num(a.data['server_mtbf_h'])} h, "
        f"Young sqrt(2 C M) = {_span(ck['young_s'])}: save every {ck['every_rounds']:,} round(s) "
        f"({_span(ck['interval_s'])}), never more often than a round. {_a(dev).capitalize()} that fails is dropped "
        "from its round and rejoins with the current global model.")


def _edge(a, fa, figures, findings, constraints) -> str:
    e, b = fa["edge"], fa["best"]
    figures["staleness_bound"] = Figure(e["staleness_max"], "updates", "largest stable staleness of asynchronous "
                                        "updates at the lab's step")
    findings.insert(0, Finding(
        "Edge: which staleness can training afford, against the sync period and the participants?",
        f"At the lab's step (lr = {e['lr_fraction']:g} x the largest stable step at zero staleness), Lian et al. "
        f"2015's condition for asynchronous SGD holds up to staleness T = sqrt((1 - f)/2)/f = "
        f"{num(e['staleness_max'])}: asynchronous updates may come from at most {e['async_devices_max']} "
        f"{a.track.device_plural} in flight. It does not limit the local steps between synchronous rounds: each "
        f"local step takes a fresh gradient at the {a.track.device_word}'s own iterate (local SGD / FedAvg), so "
        f"none is stale; what they cost is client drift, which the Koloskova et al. 2020 bound charges (tau/p; "
        f"Stich 2019, Woodworth et al. 2020). The fleet 3D optimum synchronises every {b['local_steps']} local "
        f"steps with {num(b['participants'])} vehicles on time per round over {b['tier'].name}. Asynchronous "
        f"updates from its {num(b['replicas'] * b['participation'])} selected vehicles would be "
        f"{num(e['async_staleness'])} updates stale: {_stale_verdict(e)}. From the whole fleet: staleness "
        f"{e['fleet_async_staleness']:,}, r = {_num2(e['fleet_async_progress'])}, "
        f"min(1, r / f) = {_num2(e['fleet_async_progress_at_lr'])} of a synchronous update's progress."))
    within = e["async_progress"] >= e["lr_fraction"]
    return (f"The best plan stays synchronous and drops late vehicles at a deadline: it syncs every "
            f"{b['local_steps']} local steps (fresh gradients, not stale ones) with {num(b['participants'])} of "
            f"{a.nodes:,} vehicles on time per round over {b['tier'].name}: the target in "
            f"{_span(b['days'] * SECONDS_PER_DAY)}. Asynchronous updates from "
            f"{num(b['replicas'] * b['participation'])} vehicles in flight would be {num(e['async_staleness'])} "
            f"updates stale, "
            + (f"within the {num(e['staleness_max'])} the lab's step affords: each would keep a synchronous "
               f"update's progress." if within else
               f"beyond the {num(e['staleness_max'])} the lab's step affords (Lian et al. 2015's stability bound, "
               f"sufficient, not necessary): the step that meets it makes {_num2(e['async_progress_at_lr'])} of a "
               f"synchronous update's progress per update."))


def _num2(x: float) -> str:
    """A progress fraction to 2 significant figures (0.096, 0.00014), as the cloud audit's findings print r."""
    return num(x, 2)


def _stale_verdict(e: dict) -> str:
    """Asynchronous updates at a staleness against the lab's stability bound, as the cloud audit prices them
    (audit.progress_at_step): within it they keep the lab's step; beyond it the condition, sufficient and not
    necessary, no longer guarantees convergence at that step, and the step that meets it, r x g_max(0), makes
    min(1, r / f) of a synchronous update's progress. Beyond the bound is not "they diverge" (a 4% shortfall had
    been called divergence)."""
    r, f = e["async_progress"], e["lr_fraction"]
    if r >= f:
        return (f"r = {_num2(r)} >= f = {num(f)}, within the lab's stability bound: each keeps the lab's step and a "
                "synchronous update's progress")
    return (f"r = {_num2(r)} < f = {num(f)}, beyond the lab's stability bound (Lian et al. 2015's condition, "
            f"sufficient, not necessary: no guarantee at the lab's step, not a proof of divergence); the step that "
            f"meets it makes min(1, r / f) = {_num2(e['async_progress_at_lr'])} of a synchronous update's progress")


def _mobile(a, fa, figures, findings, constraints, tables) -> str:
    mo, b = fa["mobile"], fa["best"]
    dev = a.track.device_word
    drain = mo["drain"]
    worst = max(drain.values(), key=lambda v: v["ratio"]) if drain else None
    claim = "; ".join(f"over {v['link']}: {num(v['power_w'])} W = {num(v['ratio'])}x local inference "
                      f"({num(v['exchange_j'])} J, {pct(v['exchange_j'] / mo['battery_j'])} of a charge, and "
                      f"{_span(v['exchange_s'])} per exchange)" for v in drain.values())
    verdict = []
    for v in drain.values():
        if v["ratio"] >= 2.5:
            verdict.append(f"over {v['link']} the storyboard's 5x is the right order ({num(v['ratio'])}x)")
        else:
            verdict.append(f"over {v['link']} the exchange is so slow that the glasses mostly wait: the average "
                           f"power is {num(v['ratio'])}x inference, and the drain is in joules per exchange, not in "
                           "watts")
    findings.insert(0, Finding(
        "Mobile: does a global sync after every step drain the battery 5x faster than local inference?",
        f"Computed from the SoC ({num(a.setup.cluster.accelerator.tdp_w)} W while training) and the radios' "
        f"energy per bit, with the whole FP16 model ({hbytes(fa['crisis']['sync_bytes'])}) down and up after each "
        f"step: {claim}. Local inference draws {num(mo['inference_power_w'])} W (a charge lasts "
        f"{num(mo['inference_hours'])} h of it). So " + "; ".join(verdict) + ". " + _crisis_memory(a, fa)))
    for k, v in drain.items():
        figures[f"drain_ratio_{k}"] = Figure(v["ratio"], "x", f"sync every step over {v['link']} / inference power")
    rows = mo["compression"]
    g = mo["glasses_config"]
    if rows and g is not None:
        tables["compression"] = Table(
            ["update", "upload", "round (s)", "energy per round (J)", "rounds/day", "days to target", "J/day"],
            [[r["name"], hbytes(r["upload_bytes"]), r["round_s"], r["energy_round"], r["rounds_per_day"], r["days"],
              r["energy_day"]] for r in rows], f"Glasses training {_place(fa, g['placement'])}, on battery")
        best_c = min(rows, key=lambda r: r["days"])
        findings.insert(1, Finding(
            "Mobile: how many rounds a day fit the battery budget, and what does compression buy?",
            f"With the glasses training a part of the model ({_place(fa, g['placement'])}, micro-batch "
            f"{g['micro_batch']}, {plural(int(g['local_steps']), 'local step')}, {pct(g['participation'])} of the "
            f"pairs per round "
            f"over {g['tier'].name}) and {num(mo['budget_j'])} J a day (10% of the battery): "
            + "; ".join(f"{r['name']}: rounds of {_span(r['round_s'])} ("
                        + (f"the aggregator's {_span(r['server_s'])} binds" if r["server_bound"] else
                           f"the aggregator needs {_span(r['server_s'])}")
                        + f"), {num(r['rounds_per_day'])} rounds a day, {num(r['energy_round'])} J per "
                        f"round, target in {_span(r['days'] * SECONDS_PER_DAY)}" for r in rows)
            + f". Compression shrinks only the upload: the download is the full model, so "
            f"{best_c['name']} saves at most half the radio energy. Every update is taken as lossless here (the "
            "same rounds to the target); the compression lens (solve compression) charges 1-bit its measured extra "
            "steps. The fleet 3D optimum instead puts the "
            f"{_place(fa, b['placement'])}, through {b['tier'].name}: "
            f"{num(b['energy_day'])} J a day "
            + ("from the glasses' battery" if b["tier"].uses_battery else "drawn from the charger, not the battery")
            + ", target in "
            f"{_span(b['days'] * SECONDS_PER_DAY)}."))
        figures["rounds_per_day_in_budget"] = Figure(best_c["rounds_per_day"], "rounds/day",
                                                     "rounds a day of glasses-side training within the battery budget")
        constraints.append(Constraint(f"training energy per {dev} per day", best_c["energy_day"], mo["budget_j"], "J",
                                      "<=", binding=best_c["energy_day"] >= 0.999 * mo["budget_j"]))
    ratio = f"{num(worst['ratio'])}x local inference over {worst['link']}" if worst else "not on battery"
    return (f"A sync after every step draws {ratio} (the storyboard says 5x); with the glasses training a part of "
            f"the model within 10% of the battery a day, "
            + (f"{num(min(rows, key=lambda r: r['days'])['rounds_per_day'])} rounds a day fit with "
               f"{min(rows, key=lambda r: r['days'])['name']} uploads; " if rows else "")
            + f"the fleet's best plan ({_place(fa, b['placement'])}, through {b['tier'].name}) "
            f"reaches the target in {_span(b['days'] * SECONDS_PER_DAY)}.")


def _crisis_memory(a: Audit, fa: dict) -> str:
    """Whether the whole model's training state fits one device, as the crisis runs it: with the track's optimizer,
    precision and the lab's starting micro-batch (the fleet 3D search fixes the optimizer), and what the memory
    part (lab 08 part 1, which also searches the optimizer and the micro-batch) finds for one device alone. It had
    said 'cannot hold that model's training state (1.13 GB of 512 MB)' where Adafactor at micro-batch 2 fits in
    489 MB."""
    c, scn = fa["crisis"], fa["res"].scenario
    w, dev = a.track.workload, a.track.device_word
    limit = scn.memory_limit
    started = f"{w.optimizer.capitalize()}, {w.precision.upper()}, micro-batch {c['micro_batch']}"
    if c["memory_device"] <= limit:
        return (f"With {started}, as the lab starts, the whole model's training state fits one {dev} "
                f"({hbytes(c['memory_device'])} of {hbytes(limit)}).")
    return (f"With {started}, as the lab starts, one {dev} cannot hold the whole model's training state "
            f"({hbytes(c['memory_device'])} of {hbytes(limit)}); the memory part (explore solve memory --track "
            f"{a.track.key}), which also searches the optimizer and the micro-batch, "
            f"{_memory_fit(a.track.key, limit, dev)}.")


def _memory_fit(track: str, limit: float, dev: str) -> str:
    """The memory part's answer for one device alone (its datacenter form: the fleet view wraps it)."""
    from explorer.errors import InfeasibleError
    from explorer.puzzles import memory

    try:
        r = memory.solve.__wrapped__(track)
    except InfeasibleError:
        return "finds no configuration that fits"
    f = r.figures.get("optimum_total")
    if f is None or not isinstance(f.value, (int, float)) or f.value > limit:
        return "finds no configuration that fits"
    changes = r.extra.get("changes") or []
    return (f"fits one {dev} with {', '.join(changes)} ({hbytes(f.value)})" if changes else
            f"fits one {dev} as started ({hbytes(f.value)})")


def _tiny(a, fa, figures, findings, constraints, tables) -> str:
    from explorer.puzzles.fleetlens.common import contact_words

    ti, b = fa["tiny"], fa["best"]
    g = ti["graphs"]
    w = g.get("wearers", {})
    rows = ti["tiers"]
    by = {r["tier"].graph: r for r in rows}
    gos = by.get("gossip_devices")
    full = by.get("ring_relayed")
    tables["sync_paths"] = Table(
        ["path", "p (consensus rate)", "sync (s)", "J per sync, busiest earbud", "rounds", "rounds/day in budget",
         "days to target"],
        [[r["tier"].name, r["consensus_rate"], r["t_sync"], r["energy_round"] - r["energy_compute"], round(r["rounds"]),
          r["rounds_per_day"], r["days"] if r["feasible"] else None] for r in rows],
        f"Synchronisation paths at the fleet 3D optimum's placement ({_place(fa, b['placement'])}); energy per "
        "sync: the busiest earbud's, the first to spend its budget: in gossip the earbud with the most neighbours, "
        "on the relayed ring the wearer that relays the most chunks (fleet3d.model.sync_costs)")
    figures["spectral_gap"] = Figure(w.get("spectral_gap", 0.0), "", "spectral gap 1 - |lambda_2| (wearer graph)")
    figures["consensus_rate"] = Figure(w.get("consensus_rate", 0.0), "", "p = 1 - |lambda_2|^2 (wearer graph)")
    if "earbuds" in g:
        figures["spectral_gap_earbuds"] = Figure(g["earbuds"]["spectral_gap"], "", "spectral gap (earbud graph)")
    ring = g.get("ring", {})
    c = ti.get("contact")
    faster = min((r for r in rows if r["feasible"]), key=lambda r: r["days"])
    cons = ti["consensus_rounds"].get("earbuds")
    findings.insert(0, Finding(
        "Tiny: is BLE too slow for a full weight sync, so that gossip must replace it?",
        f"Contact graph: {w.get('nodes', 0)} wearers"
        + (f" in a {num(c['area_m'])} m x {num(c['area_m'])} m space, {contact_words(c)}; each" if c else "")
        + f" in range of {num(w.get('mean_degree', 0))} others on average "
        f"(earbuds: {g.get('earbuds', {}).get('nodes', 0)}, max degree {g.get('earbuds', {}).get('max_degree', 0)}); "
        f"Metropolis weights give |lambda_2| = {num(w.get('slem', 0), 4)}, spectral gap "
        f"{num(w.get('spectral_gap', 0), 3)} (numpy eigenvalues), consensus rate p = "
        f"{num(w.get('consensus_rate', 0), 3)}. "
        + (f"D-PSGD gossips once per synchronisation ({_span(gos['t_sync'])}, "
           f"{num(gos['energy_round'] - gos['energy_compute'])} J for the earbud with the most neighbours, the "
           f"first to spend its budget) and pays for the partial average in "
           f"iterations: {num(gos['rounds'])} rounds to the target (Koloskova et al. 2020 with p), "
           f"{_span(gos['days'] * SECONDS_PER_DAY) if gos['feasible'] else 'not feasible'} within 1 mW. "
           if gos else "")
        + (f"A full sync the graph can carry, a ring relayed over up to {ring.get('max_hops', 0)} hops "
           f"({num(ring.get('mean_hops', 0))} on average), moves each earbud's chunk 2(n - 1) times: "
           f"{_span(full['t_sync'])} and {num(full['energy_round'] - full['energy_compute'])} J per sync for the "
           f"wearer that relays the most (its radio sends {ring.get('max_relay_load', 1)} chunks a step against the "
           f"wearers' mean {num(ring.get('mean_relay_load', 1))}; the first to spend its budget), "
           f"p = 1, {num(full['rounds'])} rounds, {_span(full['days'] * SECONDS_PER_DAY)}. " if full else "")
        + f"Fastest to the target: {faster['tier'].name}. "
        + (f"(Gossip run to {pct(ti['eps'])} consensus would need {cons} rounds per synchronisation: D-PSGD does "
           "not wait for consensus.)" if cons else "")))
    constraints.append(Constraint("training energy per earbud per day", b["energy_day"], ti["budget_j"], "J", "<=",
                                  binding=b["energy_day"] >= 0.999 * ti["budget_j"]))
    word = "holds" if faster["tier"].graph != "ring_relayed" else "does not hold"
    wide = (f"links up to {num(c['used_m'])} m, {num(c['used_m'] / c['range_m'])}x the track's {num(c['range_m'])} m "
            f"radio range, at which the wearers fall into {c['groups']} separate groups; "
            if c and c["widened"] else "")
    return (f"'BLE is too slow for a full weight sync' {word} here: on the {w.get('nodes', 0)}-wearer contact graph "
            f"({wide}spectral gap {num(w.get('spectral_gap', 0), 3)}) one gossip round per step needs "
            + (f"{num(gos['rounds'])} rounds ({_span(gos['days'] * SECONDS_PER_DAY)} within 1 mW)" if gos else "-")
            + " while a full sync relayed over the graph needs "
            + (f"{num(full['rounds'])} rounds ({_span(full['days'] * SECONDS_PER_DAY)})" if full else "-")
            + f"; the best plan uses {b['tier'].name}.")


def _assumptions(a: Audit, fa: dict) -> list[Assumption]:
    m, d = a.model, a.data
    where = f"explorer/data/lab05_distributed.toml [{a.track.key}.sync]"
    out = [Assumption(f"Step time of one {a.track.device_word}: the cost model's step; jitter shifted exponential "
                      f"{pct(m.jitter)}; {straggler_text(m.p, m.slowdown)}; i.i.d. across devices and steps.",
                      f"Dutta et al. 2018 (AISTATS) sec. 3; {where}: " + d["source"])]
    out += _fleet_assumptions(fa["res"])
    c = fa.get("tiny", {}).get("contact")
    if c:
        from explorer.puzzles.fleetlens.common import contact_words

        out.append(Assumption(
            f"This run's contact graph: {c['nodes']} wearers ({a.nodes:,} {a.track.device_plural} in pairs) in a "
            f"{num(c['area_m'])} m x {num(c['area_m'])} m space, {contact_words(c)}. Where the scenario text above "
            "names another number of wearers or range, it describes the track's own fleet and radio; this is the "
            "graph every figure here is computed on.",
            "explorer/cost/gossip.py contact_graph, contact_radius (seeded); "
            f"explorer/data/tracks/{a.track.key}.toml [fleet] area_m, radio_range_m, graph_seed"))
    if fa.get("server_checkpoint"):
        # the scenario's source text is quoted once, above (it had been printed again here, whole)
        out.append(Assumption(
            f"Aggregator: MTBF {d['server_mtbf_h']:g} h; it checkpoints the global model at "
            f"{d['server_checkpoint_gb_per_s']:g} GB/s (assumption); no {a.track.device_word} keeps a checkpoint of "
            "its own: one that fails is dropped from its round and rejoins with the current global model.",
            f"{where}, quoted under the step time above"))
    return out


def _fleet_assumptions(res) -> list[Assumption]:
    from explorer.puzzles.fleet3d.report import _assumptions as fa

    return fa(res)


FLEET_FORMULAS = [
    Formula("round deadline", "late devices dropped: n = K x phi on time, D = t_sync + t_local x Q_phi(sum of H "
            "steps); a ring all-reduce drops none: n = K, D = t_sync + t_local x E[max over K of the sum of H steps]",
            "Bonawitz et al. 2019 (SysML) sec. 2.2; explorer/cost/stragglers.quantile_of_sum, expected_max_of_sums; "
            "explorer/cost/federated.round_participants"),
    Formula("iterations to the target (a bound)",
            "T/(L F0/eps) = B/(n b) + sqrt(B)(z tau/p + sqrt(tau/(p b))) + tau/p + tau (1 - S/N) z^2 B/S",
            "Koloskova et al. 2020 Theorem 2; Karimireddy et al. 2020 Theorem I", "constants set to 1: ratios only"),
    Formula("gossip consensus rate", "p = 1 - |lambda_2(W)|^2; consensus to eps: ceil(ln eps / ln |lambda_2|)",
            "Koloskova et al. 2020 Assumption 4; Boyd et al. 2006; Lian et al. 2017 (D-PSGD)"),
    Formula("stable staleness (asynchronous SGD)", "r(T) >= f  <=>  T <= sqrt((1 - f)/2)/f",
            "Lian et al. 2015 Theorem 1; not local SGD's local steps, which take fresh gradients (Stich 2019)"),
    Formula("battery drain", "P = (P_soc t_step + E_exchange)/(t_step + t_exchange); E = bits x J/bit",
            "explorer/cost/energy.py; hardware/data/links.toml"),
    Formula("server checkpoint", "every max(1, floor(sqrt(2 C M) / round)) rounds", "Young 1974"),
]
