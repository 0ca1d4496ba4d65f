"""Lab 05 part 3, the synchronization audit: sync vs async SGD with stragglers, staleness,
checkpointing, and what each costs in dollars per month; per track, the form the question takes
there (edge: staleness bound and sync period; mobile: federated rounds in an energy budget; tiny:
gossip averaging vs full synchronisation).

The step time of a device comes from the shared cost model (`explorer.cost.step.estimate` of the
track's configuration). Around it, the pure functions below (each with its source):

* order statistics of step times and the staleness model: `explorer.cost.stragglers`;
* the checkpoint interval (Young 1974, Daly 2006): `explorer.cost.checkpoint`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from explorer.cost.checkpoint import daly_interval, daly_wall_factor, numeric_optima, waste_first_order, young_interval
from explorer.cost.collectives import p2p_time
from explorer.cost.memory import params_per_device
from explorer.cost.setup import Setup
from explorer.cost.step import StepEstimate, estimate
from explorer.cost.stragglers import (
    StepTimeModel,
    expected_max,
    expected_max_of_sums,
    max_staleness,
    monte_carlo_max,
    stable_step_ratio,
)
from explorer.errors import ExplorerError, UsageError, require_fraction, require_positive, require_positive_int
from explorer.plan import ParallelPlan
from explorer.puzzles.scaling import lab05_data
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.tracks import Track, get_track

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


# --- scenario ------------------------------------------------------------------------------------
_SYNC_KEYS = {"plan": str, "sync_collective": str, "jitter_fraction": float, "straggler_fraction": float,
              "slowdown": float, "lr_fraction": float, "device_mtbf_h": float, "checkpoint_state": str,
              "checkpoint_store": str, "restart_s": float, "hours_per_month": float, "source": str}
_TRACK_KEYS = {"mobile": {"inference_power_w": float, "training_energy_fraction": float,
                          "participation_min": float, "rounds_to_target": int, "local_steps": int},
               "tiny": {"consensus_eps": float, "gossip_seed": int},
               "cloud": {"checkpoint_write_gb_per_s": float}}


def sync_data(track: str) -> dict:
    """The track's [<track>.sync] table, validated (types, ranges, known keys)."""
    t = get_track(track)
    d = dict(lab05_data()[t.key]["sync"])
    want = dict(_SYNC_KEYS, **_TRACK_KEYS.get(t.key, {}))
    errors = []
    for k, typ in want.items():
        v = d.get(k)
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            d[k] = v = float(v)
        if not isinstance(v, typ) or isinstance(v, bool):
            errors.append(f"{k} must be {typ.__name__}")
    extra = set(d) - set(want)
    if extra:
        errors.append(f"unknown keys {sorted(extra)}")
    if not errors:
        if d["sync_collective"] not in ("ring", "server"):
            errors.append("sync_collective must be 'ring' or 'server'")
        if d["checkpoint_store"] not in ("storage", "link"):
            errors.append("checkpoint_store must be 'storage' or 'link'")
        if d["checkpoint_store"] == "storage" and "checkpoint_write_gb_per_s" not in d:
            errors.append("checkpoint_store 'storage' needs checkpoint_write_gb_per_s")
        if d["checkpoint_state"] not in ("weights", "weights+optimizer"):
            errors.append("checkpoint_state must be 'weights' or 'weights+optimizer'")
        for k in ("jitter_fraction", "device_mtbf_h", "hours_per_month"):
            if not d[k] > 0:
                errors.append(f"{k} must be positive")
        if not 0 < d["lr_fraction"] < 1:
            errors.append("lr_fraction must lie in (0, 1)")
    if errors:
        raise ValueError(f"lab05_distributed.toml [{t.key}.sync]: " + "; ".join(errors))
    return d


def make_setup(track: Track, nodes: int | None = None) -> Setup:
    """The cost-model Setup of the track (optionally with another device count)."""
    from explorer.hardware.catalog import build_cluster

    c = track.cluster
    if nodes is not None and nodes > c.devices_per_node and nodes % c.devices_per_node:
        raise UsageError(f"nodes {nodes} is not a multiple of the {c.devices_per_node} devices per node")
    cluster = c if nodes is None else build_cluster(c.accelerator.key, nodes, c.devices_per_node, c.intra.key,
                                                    c.inter.key)
    w = track.workload
    return Setup(w.model, cluster, w.seq_len, w.precision, w.optimizer, track.usable_memory_fraction)


def make_plan(track: Track, nodes: int | None = None) -> ParallelPlan:
    """The track's configuration; with another device count, DP changes and the per-replica batch stays."""
    p = track.crisis_plan
    if nodes is None:
        return p
    group = p.tp * p.pp * p.cp
    if nodes % group:
        raise UsageError(f"nodes {nodes} is not a multiple of the replica size TP x PP x CP = {group}")
    dp = nodes // group
    return replace(p, dp=dp, global_batch=dp * p.micro_batch * p.num_micro_batches)


# --- the audit (common to every track) --------------------------------------------------------------
@dataclass
class Audit:
    """Every number of the synchronisation audit for one track and straggler setting."""

    track: Track
    data: dict
    setup: Setup
    est: StepEstimate
    model: StepTimeModel
    nodes: int
    group: int  # devices per replica (TP x PP x CP): a replica is synchronous inside
    replicas: int
    samples_per_replica: int
    comm_sync_s: float  # exposed synchronisation per step (all-reduce or server push/pull)
    comm_async_s: float  # exposed push/pull per asynchronous update
    e_step: float  # E[T] of one device
    e_max_all: float  # E[max over all devices]
    e_max_group: float  # E[max over one replica]
    mc_max_all: tuple[float, float]
    mc_draws: int
    staleness: float
    progress: float  # r(staleness)
    x_sync: float
    x_async_raw: float
    x_async: float
    spend_usd: float
    waste_wait: float
    usd_wait: float
    usd_async: float
    usd_async_raw: float
    ckpt: dict

    @property
    def t_sync(self) -> float:
        return self.e_max_all + self.comm_sync_s

    @property
    def t_async(self) -> float:
        return self.e_max_group + self.comm_async_s


def _grad_bytes(setup: Setup, plan: ParallelPlan) -> float:
    return float(params_per_device(setup, plan.tp, plan.pp, plan.virtual_stages)) * setup.grad_bytes


def _push_pull(setup: Setup, plan: ParallelPlan, n: int) -> float:
    """Send a gradient to a (sharded) server and fetch the weights back over the link the DP
    group spans: 2 (alpha + M / B) (Li et al. 2014, parameter server; McMahan et al. 2017, FedAvg)."""
    m = _grad_bytes(setup, plan)
    return 2.0 * float(p2p_time(m, float(setup.link_latency(n)), float(setup.link_bandwidth(n))))


def checkpoint_figures(track: Track, setup: Setup, plan: ParallelPlan, d: dict, nodes: int) -> dict:
    """Checkpoint time C, system MTBF M = device MTBF / N, Young/Daly intervals and the waste."""
    m = setup.model
    if d["checkpoint_state"] == "weights+optimizer":
        per_param = setup.weight_bytes + setup.optimizer_bytes
    else:
        per_param = setup.weight_bytes
    if d["checkpoint_store"] == "storage":
        state = float(m.params) * per_param
        c = state / (d["checkpoint_write_gb_per_s"] * 1e9)
        how = f"{state / 1e9:.4g} GB of {d['checkpoint_state']} at {d['checkpoint_write_gb_per_s']:g} GB/s"
    else:
        state = float(params_per_device(setup, plan.tp, plan.pp, plan.virtual_stages)) * per_param
        c = float(p2p_time(state, float(setup.link_latency(nodes)), float(setup.link_bandwidth(nodes))))
        how = f"{state / 1e6:.4g} MB of {d['checkpoint_state']} per device over {setup.cluster.inter.key}"
    mtbf = d["device_mtbf_h"] * SECONDS_PER_HOUR / nodes
    r = d["restart_s"]
    tau_y = young_interval(c, mtbf)
    tau_num, tau_daly_num = numeric_optima(c, mtbf, r)
    tau_daly = daly_interval(c, mtbf)
    wall = daly_wall_factor(tau_daly_num, c, mtbf, r)
    return {"checkpoint_s": c, "how": how, "mtbf_s": mtbf, "restart_s": r, "young_s": tau_y,
            "numeric_first_order_s": tau_num, "daly_s": tau_daly, "numeric_daly_s": tau_daly_num,
            "waste_first_order": waste_first_order(tau_y, c, mtbf, r), "waste_exact": 1.0 - 1.0 / wall,
            "young_valid": c < 0.1 * mtbf}


def run_audit(track: str = "cloud", *, straggler_fraction: float | None = None, slowdown: float | None = None,
              nodes: int | None = None, jitter: float | None = None, seed: int = 0) -> Audit:
    t = get_track(track)
    d = sync_data(t.key)
    p = require_fraction("straggler-fraction", d["straggler_fraction"] if straggler_fraction is None
                         else straggler_fraction)
    s = d["slowdown"] if slowdown is None else slowdown
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not s >= 1:
        raise UsageError(f"slowdown must be a factor >= 1 (1.5 = a straggler takes 50% longer), got {s!r}")
    j = d["jitter_fraction"] if jitter is None else require_positive("jitter", jitter)
    if nodes is not None:
        nodes = require_positive_int("nodes", nodes)
    plan = make_plan(t, nodes)
    setup = make_setup(t, nodes)
    n = plan.devices
    est = estimate(setup, plan)
    exposed = est.time["dp_exposed"]
    hidden = est.dp_comm_total_s - exposed
    t_dev = est.step_time_s - exposed
    model = StepTimeModel(t_dev, j, p, float(s))
    group = plan.tp * plan.pp * plan.cp
    push_pull = _push_pull(setup, plan, n) if plan.dp > 1 else 0.0
    comm_async = max(0.0, push_pull - hidden)
    comm_sync = exposed if d["sync_collective"] == "ring" else comm_async
    e_all, e_grp = expected_max(model, n), expected_max(model, group)
    draws = int(min(2000, max(200, 4_000_000 // n)))
    mc = monte_carlo_max(model, n, draws, seed)
    b_rep = plan.micro_batch * plan.num_micro_batches
    x_sync = plan.dp * b_rep / (e_all + comm_sync)
    x_raw = plan.dp * b_rep / (e_grp + comm_async)
    tau = float(plan.dp - 1)
    r = stable_step_ratio(tau)
    spend = n * d["hours_per_month"] * t.device_hour_usd
    waste = (e_all - model.mean) / (e_all + comm_sync)
    return Audit(track=t, data=d, setup=setup, est=est, model=model, nodes=n, group=group, replicas=plan.dp,
                 samples_per_replica=b_rep, comm_sync_s=comm_sync, comm_async_s=comm_async, e_step=model.mean,
                 e_max_all=e_all, e_max_group=e_grp, mc_max_all=mc, mc_draws=draws, staleness=tau, progress=r,
                 x_sync=x_sync, x_async_raw=x_raw, x_async=x_raw * r, spend_usd=spend, waste_wait=waste,
                 usd_wait=waste * spend, usd_async=_saving(spend, x_sync, x_raw * r),
                 usd_async_raw=_saving(spend, x_sync, x_raw),
                 ckpt=checkpoint_figures(t, setup, plan, d, n))


def _saving(spend: float, x_before: float, x_after: float) -> float:
    """Dollars per month a change of throughput saves: if faster, the same progress for less money,
    spend (1 - x_before / x_after); if slower, the month's spend now buys less progress, and the
    progress lost is worth -spend (1 - x_after / x_before) (never more than the spend)."""
    if x_after >= x_before:
        return spend * (1.0 - x_before / x_after)
    return -spend * (1.0 - x_after / x_before)


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


# --- ZeRO via the 3D solver -------------------------------------------------------------------------------
def zero_comparison(track: str, nodes: int | None, time_limit: float | None) -> dict:
    """Best configuration with ZeRO forbidden (stage 0) vs with every stage allowed, from the lead's 3D
    solver (explorer.api.solve_3d): the memory ZeRO frees can buy a faster configuration."""
    from explorer.api import solve_3d

    kw: dict[str, Any] = {"time_limit": time_limit}
    if nodes is not None:
        kw["gpus"] = nodes
    out: dict[str, Any] = {}
    for name, allow in (("no_zero", {"zero": [0]}), ("zero", None)):
        try:
            r = solve_3d(track, allow=allow, **kw)
        except ExplorerError as exc:
            out[name] = {"error": str(exc).split("\n")[0][:300]}
            continue
        out[name] = {"step_s": float(r.best.step_time_s), "mfu": float(r.best.mfu), "plan": r.best.plan.describe(),
                     "zero": int(r.best.plan.zero), "status": getattr(r, "status", "")}
    return out


# --- the puzzle -------------------------------------------------------------------------------------------
def solve(track: str = "cloud", *, straggler_fraction: float | None = None, slowdown: float | None = None,
          nodes: int | None = None, jitter: float | None = None, zero: bool = True, time_limit: float | None = None,
          seed: int = 0, **_: Any) -> Report:
    """The synchronisation audit of a track (see the module docstring)."""
    t0 = time.perf_counter()
    a = run_audit(track, straggler_fraction=straggler_fraction, slowdown=slowdown, nodes=nodes, jitter=jitter,
                  seed=seed)
    extra: dict[str, Any] = {}
    if a.track.key == "edge":
        extra["edge"] = edge_period(a)
    elif a.track.key == "mobile":
        extra["mobile"] = mobile_federated(a)
    elif a.track.key == "tiny":
        extra["tiny"] = tiny_gossip(a)
    z = zero_comparison(a.track.key, nodes, time_limit) if zero else None
    report = _build_report(a, extra, z)
    report.solve_time_s = time.perf_counter() - t0
    return report


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


def _build_report(a: Audit, extra: dict, z: dict | None) -> Report:
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
    constraints: list[Constraint] = []
    headline = _track_headline(extra, sw) + headline
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
    formulas = FORMULAS + ([EDGE_FORMULA] if "edge" in extra else []) + (
        [MOBILE_FORMULA] if "mobile" in extra else []) + ([TINY_FORMULA] if "tiny" in extra else [])
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
    plot_data = {"n": [], "expected_max": [], "mean": m.mean, "nodes": a.nodes, "group": a.group,
                 "device_word": dev, "straggler_fraction": m.p, "slowdown": m.slowdown, "t0": m.t0,
                 "monte_carlo": {"n": a.nodes, "mean": mc, "se": se}}
    for k in sorted({int(x) for x in np.unique(np.round(np.geomspace(1, a.nodes, 40)))} | {a.nodes}):
        plot_data["n"].append(k)
        plot_data["expected_max"].append(expected_max(m, k))
    return Report(
        puzzle="sync", lab="05", part=3, track=t.key, title="The synchronization audit", status="computed",
        headline=headline, figures=figures, findings=findings, constraints=constraints, formulas=formulas,
        assumptions=assumptions, tables=tables, plots=["straggler_wait"], data={"straggler_wait": plot_data},
        extra={"options": {"straggler_fraction": m.p, "slowdown": m.slowdown, "jitter": m.jitter, "nodes": a.nodes},
               "zero_comparison": z, **{k: _jsonable(v) for k, v in extra.items()}},
    )


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    return x


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
EDGE_FORMULA = Formula("edge: stable staleness bound", "r(T) >= f  <=>  T <= sqrt((1 - f)/2) / f;  H = floor(T) + 1",
                       "Lian et al. 2015 Theorem 1 solved for T; periodic averaging as bounded staleness "
                       "(Wang & Joshi 2018, cooperative SGD)")
MOBILE_FORMULA = Formula("mobile: federated rounds",
                         "max f  s.t.  f q E_round <= budget, q >= q_min, q <= 1, f t_round <= 1 day "
                         "(linprog in f, y = f q)",
                         "McMahan et al. 2017 (FedAvg); E_round = P t_local + 2 bits x energy per bit")
TINY_FORMULA = Formula("tiny: gossip rounds", "k = ceil(ln eps / ln |lambda_2(W)|), W Metropolis-Hastings",
                       "Xiao & Boyd 2004; Boyd et al. 2006 (explorer/cost/gossip.py)")
