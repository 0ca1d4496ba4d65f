"""The fleet 3D puzzle's model: one feasibility function (`evaluate`) that the solver, the exhaustive evaluator
and the grader share, over the tables of every figure of every configuration (tables.py: build_tables, the sync
costs and the radio-spread round times, derive; re-exported here), and the integer problem handed to both engines.

Choices (dims): placement (split point inside the local group x trained layers), micro-batch, local
steps H between synchronisations, participation (fraction of replicas a server selects per round),
round deadline (the quantile of one device's round time at which the round closes; later devices
are dropped; on an all-reduce path, the relayed ring, no deadline applies: it waits for every member), aggregation
tier.

Physics, all from explorer/cost (module docstrings there give the sources):
  local step       placement.stage_time on each side of the split + the boundary over the local link
  round time  D    sync time + t_local x Q_phi(sum of H unit step times)   (stragglers.quantile_of_sum),
                   over a radio whose rate spreads over the fleet (5G: links.toml throughput_sigma) the phi-quantile
                   of latencies + t_local x that sum + the transfers x a lognormal (federated.device_round_quantile),
                   on the ring t_local x E[max over its K members of that sum] (federated.slowest_member_steps),
                   and no shorter than the aggregator needs to move every selected model down and up
  participants n   replicas x participation x phi; all replicas on the ring  (federated.round_participants)
  rounds R         ceil(S x iterations_bound(B, b, n, H, p, z, n/N) x quality / H) (federated, lab08
                   freezing; whole rounds: federated.whole_rounds)
  energy E         H x (P t_A + radio across the split) + radio of the sync  (energy)
  rounds per day   f = min(window / D, budget / (participation x E)), the phone's battery too (federated)
  objective        time to the target, wall clock from a daily window's opening (federated.time_to_target_s):
                   (ceil(R / f) - 1) days + the last day's remaining rounds x D; R x D when R <= f
                   (the run fits in one window), minimised
subject to memory on each side of the split and at least one on-time participant. No staleness bound: the H
local steps of local SGD / FedAvg each take a fresh gradient at the device's own iterate, so they are not the
stale gradients of asynchronous SGD (Lian et al. 2015 bounds those); what they cost, client drift, is the
Koloskova et al. 2020 bound's tau/p terms (Stich 2019; Woodworth et al. 2020), charged in `rounds`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from explorer.cost import federated
from explorer.cost.stragglers import expected_max_of_sums
from explorer.puzzles.fleet3d.scenario import FleetScenario, Placement
from explorer.puzzles.fleet3d.tables import (
    DIMS,
    NO_BUDGET_J,
    SECONDS_PER_DAY,
    Tables,
    _anchor,
    build_tables,
    derive,
    placement_memory,
    radio_sigma,
    spread_round_times,
    sync_costs,
    sync_latency,
)
from explorer.solvers import log_tables
from explorer.solvers.log_tables import IntTable, LogProblem, log_table, squeeze
from explorer.units import human_bytes as hbytes
from explorer.units import human_sci

# the tables' names (tables.py) re-exported, so model.X keeps naming every figure of the fleet model
__all__ = ["DAILY_RATES", "DIMS", "NO_BUDGET_J", "SECONDS_PER_DAY", "Tables", "build_problem", "build_tables",
           "compressed_config", "crisis", "derive", "evaluate", "one_deadline", "one_window_problem",
           "placement_memory", "radio_sigma", "ranked", "round_and_rate", "spread_round_times", "sync_costs",
           "sync_latency", "time_to_target_all", "violations"]


# --- the one feasibility function ----------------------------------------------------------------------
def round_and_rate(get) -> tuple:
    """A round's duration D = max(device part, aggregator part) and the rounds a day f (federated.rounds_per_day:
    the daily window and both energy budgets), read through get(table name): one configuration's value (evaluate)
    or every configuration's (time_to_target_all)."""
    d_round = np.maximum(get("round_time"), get("server_time"))
    f = federated.rounds_per_day(get("window"), d_round, [(get("energy_round"), get("budget")), (
        np.maximum(get("energy_round_partner"), 1e-12), get("budget_partner"))], get("selected"))
    return d_round, f


def evaluate(tb: Tables, idx: dict[str, int]) -> dict:
    """Every figure of one configuration and the limits it breaks (solver, evaluator and grader)."""
    scn = tb.scn
    at = tb.at
    p = scn.placements[idx["placement"]]
    tier = scn.tiers[idx["tier"]]
    d_round, f = round_and_rate(lambda name: at(name, idx))
    e_round = at("energy_round", idx)
    sel = at("selected", idx)
    budget = at("budget", idx)
    e_partner, budget_p = at("energy_round_partner", idx), at("budget_partner", idx)
    rounds = at("rounds", idx)
    first = min(rounds, f)  # rounds run on the first (busiest) day
    h = scn.local_steps[idx["local_steps"]]
    e_compute = h * at("e_local_compute", idx)  # the compute share of energy_round (the busier earbud's for a pair)
    out = {
        "placement": p, "split": p.split, "trainable_layers": p.trainable,
        "micro_batch": scn.micro_batches[idx["micro_batch"]], "local_steps": h,
        "participation": scn.participation[idx["participation"]],
        "deadline_quantile": scn.deadline_quantiles[idx["deadline"]], "tier": tier,
        "memory_device": int(at("memory_device", idx)), "memory_partner": int(at("memory_partner", idx)),
        "t_local": at("t_local", idx), "t_sync": at("t_sync", idx), "round_time": d_round,
        # a radio whose rate spreads over the fleet (5G): t_sync is the median device's; the sync of the device at the
        # deadline quantile, for the narration (federated.radio_time_quantile)
        "radio_sigma": at("radio_sigma", idx),
        "sync_at_deadline": at("t_sync_fixed", idx) + federated.radio_time_quantile(
            at("t_sync", idx) - at("t_sync_fixed", idx), at("radio_sigma", idx),
            scn.deadline_quantiles[idx["deadline"]]),
        # the local step's parts, for the narration (t_local = t_device + t_partner + the split's link)
        "t_device": at("t_device", idx), "t_partner": at("t_partner", idx),
        "server_time": at("server_time", idx), "server_bound": at("server_time", idx) > at("round_time", idx),
        "device_round": at("round_time", idx),  # the device part of D (round_time above is D itself)
        # an all-reduce path waits for its slowest member (no deadline applies); wait_factor: the local part of the
        # round over H mean steps (the slowest member's H steps, or the deadline quantile's)
        "waits_for_all": not tier.drops_late,
        "wait_factor": at("wait_unit", idx) / (h * scn.step_model.mean),
        "participants": at("participants", idx), "replicas": int(at("replicas", idx)),
        "consensus_rate": at("consensus_rate", idx), "rounds": rounds, "rounds_per_day": f,
        "days": federated.time_to_target_s(rounds, d_round, f) / SECONDS_PER_DAY, "days_average": rounds / f,
        "fits_one_window": rounds <= f, "first_day_s": first * d_round, "first_day_energy": first * sel * e_round,
        "first_day_energy_partner": first * sel * e_partner, "energy_round": e_round, "energy_compute": e_compute,
        "energy_radio": e_round - e_compute, "energy_day": f * sel * e_round,
        "sync_bytes": at("sync_bytes_device", idx), "sync_bytes_partner": at("sync_bytes_partner", idx),
        "window_s": at("window", idx),
        "budget_j": None if budget >= NO_BUDGET_J else budget,
        "energy_round_partner": e_partner, "energy_day_partner": f * sel * e_partner,
        "budget_partner_j": None if budget_p >= NO_BUDGET_J else budget_p,
    }
    rates = {"daily time window": at("window", idx) / d_round,
             "energy budget": budget / (sel * e_round) if budget < NO_BUDGET_J else np.inf,
             f"{scn.partner_word}'s energy budget": budget_p / (sel * max(e_partner, 1e-12))
             if budget_p < NO_BUDGET_J else np.inf}
    out["binding"] = min(rates, key=rates.get)
    if out["binding"] == "daily time window" and out["server_bound"]:
        out["binding"] = "aggregator network"
    out["violations"] = violations(tb, idx, out)
    out["feasible"] = not out["violations"]
    return out


def compressed_config(tb, idx: dict[str, int], compression: float) -> dict:
    """Every figure of configuration `idx` with its updates `compression` times smaller, from the fleet 3D
    model's own feasibility function (evaluate) on its tables with the sync swapped for the
    compressed one, so a compressed round is timed, budgeted and taken to the target exactly as the optimum's:
    D = max(device part, aggregator part) and federated.time_to_target_s.

    What compression changes (explorer/cost, the fleet model's sources): the sync's time and radio energy per
    (placement, tier) come from sync_costs (through a server only the upload shrinks, FedAvg:
    McMahan et al. 2017; gossip messages shrink, CHOCO-SGD: Koloskova et al. 2019); the device part of a round
    is the sync plus the local steps to the deadline, so it moves by the change in sync time; the aggregator
    carries every selected replica's model down and its update up, K (M + M/c) / B_server, i.e. the fleet
    model's K x 2M / B_server times (1 + 1/c)/2 (federated.server_sync_time, down and up counted together);
    a round's energy moves by the change in sync energy, the phone's too. The iterations to the target are
    unchanged (the update is taken as lossless here)."""
    c = float(compression)
    if not (math.isfinite(c) and c >= 1.0):
        from explorer.errors import UsageError

        raise UsageError(f"compression must be a finite factor >= 1, got {compression!r}")
    t_s, e_s, e_p, _ = sync_costs(tb, c)
    v, sizes = dict(tb.values), tb.sizes

    def along(delta, name: str):  # a (placement, tier) change broadcast over table `name`'s dims
        return delta.reshape([sizes[d] if d in ("placement", "tier") else 1 for d in tb.dims[name]])

    v["round_time"] = v["round_time"] + along(t_s - v["t_sync"], "round_time")
    spread = spread_round_times(tb, t_s)  # a spreading radio's round is a quantile, not a sum: timed afresh
    if spread:
        v["round_time"] = v["round_time"].copy()
        for j, arr in spread.items():
            v["round_time"][..., j] = arr
    v["energy_round"] = v["energy_round"] + along(e_s - v["e_sync"], "energy_round")
    v["energy_round_partner"] = v["energy_round_partner"] + along(e_p - v["e_sync_partner"], "energy_round_partner")
    v["server_time"] = v["server_time"] * (1.0 + 1.0 / c) / 2.0
    v["t_sync"], v["e_sync"], v["e_sync_partner"] = t_s, e_s, e_p
    ctb = Tables(tb.scn, values=v, dims=dict(tb.dims), graphs=tb.graphs, pruned=tb.pruned)
    return {**evaluate(ctb, idx), "e_sync": ctb.at("e_sync", idx)}


def violations(tb: Tables, idx: dict[str, int], fig: dict) -> list[str]:
    scn = tb.scn
    bad = []
    if fig["memory_device"] > scn.memory_limit:
        bad.append(f"memory per {scn.track.device_word}: {hbytes(fig['memory_device'])} > {hbytes(scn.memory_limit)} "
                   "usable")
    if scn.partner_setup is not None and fig["memory_partner"] > scn.partner_limit:
        bad.append(f"memory on the {scn.partner_word}: {hbytes(fig['memory_partner'])} > {hbytes(scn.partner_limit)} "
                   "usable")
    if fig["participants"] < 1:
        bad.append(f"on-time participants {human_sci(fig['participants'])} < 1")
    return bad


# --- the objective over every configuration (the enumeration) ------------------------------------------
def time_to_target_all(tb: Tables, problem: LogProblem, battery: bool = False) -> tuple:
    """(wall-clock seconds to the target, feasible mask, index grids) of every configuration, in the mixed-radix
    order of log_tables.evaluate_all (so a stable sort breaks ties by index, as both engines do). The figures
    are evaluate's, vectorised; infeasible configurations get +inf (never reported: only ranked last). With
    battery=True a fourth array: the daily battery budgets the whole run draws per device, R x q x (E / budget
    + E_partner / budget_partner) (0 off battery), the tie-break between runs of equal time."""
    _, ok, grids = log_tables.evaluate_all(problem)

    def full(name: str) -> np.ndarray:
        return tb.values[name][tuple(grids[d] for d in tb.dims[name])]

    d_round, f = round_and_rate(full)
    t = federated.time_to_target_s(full("rounds"), d_round, f)
    if not battery:
        return np.where(ok, t, np.inf), ok, grids

    def drawn(use: str, budget: str) -> np.ndarray:  # off battery (NO_BUDGET_J) nothing is drawn
        b = full(budget)
        return np.where(b >= NO_BUDGET_J, 0.0, full(use) / b)

    share = full("rounds") * full("selected") * (drawn("energy_round", "budget")
                                                 + drawn("energy_round_partner", "budget_partner"))
    return np.where(ok, t, np.inf), ok, grids, share


def ranked(tb: Tables, problem: LogProblem, keep=None, top: int = 1) -> tuple[list[dict[str, int]], int]:
    """The `top` feasible configurations of least time to the target (those passing keep(grids) when given)
    and how many are feasible: the exhaustive proof of the optimum. Runs of equal time are ordered by the
    battery they draw (a device on its charger spends none of it; fleets train devices while they charge:
    Bonawitz et al. 2019 sec. 2), then by the least index."""
    t, ok, grids, share = time_to_target_all(tb, problem, battery=True)
    ok = ok & one_deadline(tb, grids)
    if keep is not None:
        ok = ok & keep(grids)
    t = np.where(ok, t, np.inf)
    order = np.lexsort((np.arange(t.size), share, t))[:top]
    return [{d: int(grids[d][k]) for d in problem.sizes} for k in order if ok[k]], int(ok.sum())


def one_deadline(tb: Tables, grids: dict[str, np.ndarray]) -> np.ndarray:
    """Mask of configurations that are not a repeat: an all-reduce path waits for its slowest member whatever the
    deadline (tables._wait_unit), so its deadlines are one configuration, counted and ranked once (at the
    largest quantile's index)."""
    scn = tb.scn
    waits = np.array([not t.drops_late for t in scn.tiers])[grids["tier"]]
    last = int(np.argmax(scn.deadline_quantiles))
    return ~waits | (grids["deadline"] == last)


# --- the integer problem both engines solve ------------------------------------------------------------
def build_problem(tb: Tables) -> LogProblem:
    scn = tb.scn
    v, dims = tb.values, tb.dims
    tables: dict[str, IntTable] = {}

    def add(t: IntTable) -> None:
        tables[t.name] = squeeze(t)

    add(log_table("ln_rounds", dims["rounds"], v["rounds"]))
    add(log_table("ln_round_time", dims["round_time"], v["round_time"]))
    add(log_table("neg_ln_window", dims["window"], 1.0 / v["window"]))
    add(log_table("ln_selected", dims["selected"], v["selected"]))
    add(log_table("ln_energy", dims["energy_round"], np.maximum(v["energy_round"], 1e-12)))
    add(log_table("neg_ln_budget", dims["budget"], 1.0 / v["budget"]))
    add(log_table("ln_energy_partner", dims["energy_round_partner"], np.maximum(v["energy_round_partner"], 1e-12)))
    add(log_table("neg_ln_budget_partner", dims["budget_partner"], 1.0 / v["budget_partner"]))
    add(log_table("ln_server_time", dims["server_time"], v["server_time"]))
    tables["memory_device"] = squeeze(IntTable("memory_device", dims["memory_device"],
                                               v["memory_device"].astype(np.int64)))
    tables["memory_partner"] = squeeze(IntTable("memory_partner", dims["memory_partner"],
                                                v["memory_partner"].astype(np.int64)))
    limits = [("memory per device", ("memory_device",), scn.memory_limit),
              ("memory on the partner", ("memory_partner",), max(scn.partner_limit, 0))]
    short = np.where(v["participants"] >= 1.0, 0, 1).astype(np.int64)
    tables["short_of_participants"] = squeeze(IntTable("short_of_participants", dims["participants"], short))
    limits.append(("on-time participants >= 1", ("short_of_participants",), 0))
    return LogProblem(sizes=dict(tb.sizes), tables=tables, base=("ln_rounds",), rates=DAILY_RATES, limits=limits)


# ln(D / window), ln(D_server / window), ln(q E / budget), ln(q E_phone / budget_phone): ln(1 / f) is their max
DAILY_RATES = (("ln_round_time", "neg_ln_window"), ("ln_server_time", "neg_ln_window"),
               ("ln_selected", "ln_energy", "neg_ln_budget"),
               ("ln_selected", "ln_energy_partner", "neg_ln_budget_partner"))


def one_window_problem(problem: LogProblem) -> LogProblem:
    """The wall-clock objective as CP-SAT can prove it. `problem` (build_problem) minimises ln(R / f), the days
    of training; the time to the target (federated.time_to_target_s) is R x D exactly when R <= f, i.e. when
    ln R + each daily rate <= 0 (linear limits on the same tables), and any such run ends within its first
    window (R D <= f D <= window <= one day) while every other run lasts more than a day. So when some
    configuration fits in one window, the optimum is the least ln R + max(ln D_round, ln D_server) among them:
    this problem. When none does, the optimum lies among the runs with the fewest training days, the least
    R / f (build_problem's optimum), and the enumeration orders them within that last day."""
    fit = [(f"one window ({' + '.join(ts)})", ("ln_rounds",) + ts, 0) for ts in DAILY_RATES]
    return LogProblem(sizes=problem.sizes, tables=problem.tables, base=("ln_rounds",),
                      rates=(("ln_round_time",), ("ln_server_time",)), limits=list(problem.limits) + fit)


# --- the storyboard's configuration, which waits for every device ---------------------------------------
def crisis(scn: FleetScenario) -> dict:
    """The lab's starting point: every device holds the whole model, all of them synchronise after
    every step through the track's first path, and the round waits for the slowest (E[max of n],
    order statistics) instead of dropping it. Evaluated whether or not it fits."""
    fl = scn.data
    tier = next((t for t in scn.tiers if t.key == fl.get("crisis_tier")), scn.tiers[0])
    sub = replace(scn, placements=(Placement(scn.layers, scn.layers),),
                  micro_batches=(scn.track.crisis_plan.micro_batch,), local_steps=(1,), participation=(1.0,),
                  deadline_quantiles=(max(scn.deadline_quantiles),), tiers=(tier,))
    tb = build_tables(sub, prune=False)
    fig = evaluate(tb, dict.fromkeys(DIMS, 0))
    n = max(1, int(round(fig["replicas"] * fig["participation"])))
    e_max = expected_max_of_sums(scn.step_model, n, 1)
    device_part = fig["t_sync"] + fig["t_local"] * e_max  # waits for the slowest instead of a deadline
    sigma = float(tb.values["radio_sigma"][0])
    if sigma > 0:  # the slowest of n devices, compute and radio (federated.device_round_expected_max)
        fixed = tb.at("t_sync_fixed", dict.fromkeys(DIMS, 0))
        device_part = federated.device_round_expected_max(scn.step_model, 1, n, fig["t_local"], fixed,
                                                          fig["t_sync"] - fixed, sigma)
    d_round, f = round_and_rate({
        "round_time": device_part, "server_time": fig["server_time"], "window": fig["window_s"],
        "energy_round": fig["energy_round"], "budget": fig["budget_j"] or NO_BUDGET_J,
        "energy_round_partner": fig["energy_round_partner"], "budget_partner": fig["budget_partner_j"] or NO_BUDGET_J,
        "selected": 1.0}.__getitem__)
    fig["round_time"], fig["rounds_per_day"] = float(d_round), float(f)
    fig["participants"] = float(n)
    fig["wait_factor"] = e_max / scn.step_model.mean
    fig["rounds"] = federated.whole_rounds(_anchor(scn) * federated.iterations_bound(
        scn.noise_batch, fig["micro_batch"], n, 1, fig["consensus_rate"], fl["heterogeneity"], 1.0) * scn.quality(
        fig["placement"]))
    fig["days"] = federated.time_to_target_s(fig["rounds"], fig["round_time"], fig["rounds_per_day"]) / SECONDS_PER_DAY
    fig["days_average"] = fig["rounds"] / fig["rounds_per_day"]
    fig["fits_one_window"] = fig["rounds"] <= fig["rounds_per_day"]
    fig["energy_day"] = fig["rounds_per_day"] * fig["energy_round"]
    return fig
