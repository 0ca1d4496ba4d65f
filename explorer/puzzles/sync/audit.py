"""The synchronisation audit common to every track: the scenario ([<track>.sync] of
explorer/data/lab05_distributed.toml), the cost-model step of one device, the order statistics of the
slowest device, async staleness, the checkpoint interval and the dollars they cost.

Physics lives in explorer/cost (`stragglers` for order statistics and staleness, `checkpoint` for
Young/Daly); this module only gathers the numbers of one track into an `Audit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from explorer import validation as V
from explorer.cost.checkpoint import daly_interval, daly_wall_factor, numeric_optima, waste_first_order, young_interval
from explorer.cost.collectives import p2p_time
from explorer.cost.efficiency import TYPICAL_GPU_EFFICIENCY
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, attention_kernel_default
from explorer.cost.memory import params_per_device
from explorer.cost.setup import Setup
from explorer.cost.step import StepEstimate, estimate
from explorer.cost.stragglers import StepTimeModel, expected_max, monte_carlo_max, stable_step_ratio
from explorer.errors import ExplorerError, InfeasibleError, UsageError
from explorer.plan import ParallelPlan
from explorer.puzzles.scaling import lab05_data
from explorer.tracks import Track, get_track
from explorer.units import human_bytes_3, human_sci
from explorer.units import human_duration as dur

SECONDS_PER_HOUR = 3600.0
# Monte Carlo cross-check of E[max of N] (run_audit): 2,000 draws where N x draws stays within MC_SAMPLES step times
# (0.3 s), never fewer than 200. The maximum of 10,000 heavy-tailed steps is a noisy draw: 400 of them (the budget
# had been 4e6) gave a standard error of 0.36% of E[max], and the default seed missed the exact value by 2.5 of them
MC_DRAWS_MIN, MC_DRAWS_MAX, MC_SAMPLES = 200, 2000, 20_000_000
MAX_FAILURE_EXPONENT = 500.0  # (restart + checkpoint) / MTBF beyond which the expected wall time is e^500+
SECONDS_PER_DAY = 86400.0


# --- scenario ------------------------------------------------------------------------------------
_SYNC_KEYS = {"plan": str, "sync_collective": str, "jitter_fraction": float, "straggler_fraction": float,
              "slowdown": float, "lr_fraction": float, "device_mtbf_h": float, "hours_per_month": float,
              "source": str}
# a fleet keeps no per-device checkpoint (a device that fails is dropped from its round and rejoins with the
# global model; the aggregator, if any, checkpoints that model: sync/fleet.py), so only the cloud job, which a
# failure stops and a restart resumes, names what it saves, where, and how long a restart takes
_CHECKPOINT_KEYS = {"checkpoint_state": str, "checkpoint_store": str, "restart_s": float}
_TRACK_KEYS = {"edge": {"server_mtbf_h": float, "server_checkpoint_gb_per_s": float},
               "mobile": {"inference_power_w": float, "training_energy_fraction": float,
                          "participation_min": float, "rounds_to_target": int, "local_steps": int,
                          "server_mtbf_h": float, "server_checkpoint_gb_per_s": float},
               "tiny": {"consensus_eps": float, "gossip_seed": int},
               "cloud": {**_CHECKPOINT_KEYS, "checkpoint_write_gb_per_s": float, "tuned_momentum": float,
                         "backup_replicas": list}}


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
        if "checkpoint_store" in want and d["checkpoint_store"] not in ("storage", "link"):
            errors.append("checkpoint_store must be 'storage' or 'link'")
        if d.get("checkpoint_store") == "storage" and "checkpoint_write_gb_per_s" not in d:
            errors.append("checkpoint_store 'storage' needs checkpoint_write_gb_per_s")
        if "checkpoint_state" in want and d["checkpoint_state"] not in ("weights", "weights+optimizer"):
            errors.append("checkpoint_state must be 'weights' or 'weights+optimizer'")
        for k in ("jitter_fraction", "device_mtbf_h", "hours_per_month"):
            if not d[k] > 0:
                errors.append(f"{k} must be positive")
        if not 0 < d["lr_fraction"] < 1:
            errors.append("lr_fraction must lie in (0, 1)")
    if errors:
        raise ValueError(f"lab05_distributed.toml [{t.key}.sync]: " + "; ".join(errors))
    return d


def make_setup(track: Track, nodes: int | None = None, name: str = "nodes") -> Setup:
    """The cost-model Setup of the track (optionally with another device count; `name`: the option that gave it,
    as the user spelt it, for the error)."""
    from explorer.hardware.catalog import build_cluster

    c = track.cluster
    if nodes is not None and nodes > c.devices_per_node and nodes % c.devices_per_node:
        raise UsageError(f"{name} {nodes} is not a multiple of the {c.devices_per_node} {track.device_plural} per node")
    cluster = c if nodes is None else build_cluster(c.accelerator.key, nodes, c.devices_per_node, c.intra.key,
                                                    c.inter.key)
    w = track.workload
    # the attention kernel the default framework runs on this part (cuDNN's under Megatron-LM on Hopper), as `solve 3d`
    # and `estimate` price the same plan (frameworks.attention_kernel_default); TP overlap follows it too (None).
    # A typical device's step, without the slowest GPU's pace (Setup.pace): this lab's own step-time model (jitter,
    # stragglers, E[max of N]) is the spread between devices, which the pace would count a second time.
    return Setup(w.model, cluster, w.seq_len, w.precision, w.optimizer, track.usable_memory_fraction,
                 attention_kernel=attention_kernel_default(DEFAULT_FRAMEWORK, cluster.accelerator.key),
                 efficiency=TYPICAL_GPU_EFFICIENCY)


def make_plan(track: Track, nodes: int | None = None, name: str = "nodes") -> ParallelPlan:
    """The track's configuration; with another device count, DP changes and the per-replica batch stays (`name`:
    the option that gave the count, as the user spelt it, for the error)."""
    p = track.crisis_plan
    if nodes is None:
        return p
    group = p.tp * p.pp * p.cp
    if nodes % group:
        raise UsageError(f"{name} {nodes} is not a multiple of the replica size TP x PP x CP = {group}")
    dp = nodes // group
    if dp < 2:  # one replica has no one to synchronise with: no ring, no gossip, no straggler to wait for
        raise UsageError(f"{name} {nodes} makes a single replica of TP x PP x CP = {group} {track.device_plural}; "
                         f"synchronisation needs at least 2 replicas: {name} >= {2 * group}, a multiple of {group}")
    return replace(p, dp=dp, global_batch=dp * p.micro_batch * p.num_micro_batches)


def progress_at_step(r: float, lr_fraction: float) -> float:
    """An asynchronous update's progress against a synchronous one when the run steps at lr_fraction x g_max(0):
    the step is kept while Lian et al. 2015's condition holds at the staleness (r >= f) and otherwise shrunk to
    g_max(T) = r x g_max(0) to meet it, so min(1, r / f). The condition is sufficient, not necessary: breaking it
    says the step is beyond the bound that guarantees convergence, not that training diverges, so the audit prices
    a staleness beyond it as this shrunken step (cloud and fleet tracks alike)."""
    return min(1.0, r / lr_fraction)


def straggler_text(p: float, slowdown: float, jitter: float | None = None) -> str:
    """The straggler setting in words: "5% stragglers at 1.5x", or "no stragglers, jitter only" at p = 0 (where
    the slowdown multiplies nothing), or, given a `jitter` of 0 as well, "no stragglers and no jitter" (every
    device steps alike: --jitter 0 had still read "jitter only")."""
    from explorer.units import human_number, human_percent

    if p > 0 and slowdown > 1:
        return f"{human_percent(p)} stragglers at {human_number(slowdown)}x"
    return "no stragglers and no jitter" if jitter == 0 else "no stragglers, jitter only"


def straggler_fraction_label(p: float, asked: float) -> str:
    """The straggler-fraction figure's label: where a 1x slowdown made the asked fraction none, it says so."""
    from explorer.units import human_percent

    if p == 0 and asked > 0:
        return f"straggler fraction ({human_percent(asked)} asked, at a 1x slowdown: no straggler)"
    return "straggler fraction"


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
    progress: float  # r(staleness) = g_max(staleness) / g_max(0) (Lian et al. 2015)
    progress_at_lr: float  # an async update's progress against a sync one at the step in use: min(1, r / lr_fraction)
    x_sync: float
    x_async_raw: float
    x_async: float
    spend_usd: float
    waste_wait: float
    usd_wait: float
    usd_async: float
    usd_async_raw: float
    ckpt: dict | None  # the job's checkpoint (Young/Daly); None on a fleet, which keeps none per device
    straggler_fraction_asked: float = 0.0  # the fraction asked for; model.p is 0 where a 1x slowdown makes none

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
        how = (f"{human_bytes_3(state)} of {d['checkpoint_state']} at "
               f"{human_sci(d['checkpoint_write_gb_per_s'], 6)} GB/s")
    else:
        state = float(params_per_device(setup, plan.tp, plan.pp, plan.virtual_stages)) * per_param
        c = float(p2p_time(state, float(setup.link_latency(nodes)), float(setup.link_bandwidth(nodes))))
        how = f"{human_bytes_3(state)} of {d['checkpoint_state']} per device over {setup.cluster.inter.key}"
    mtbf = d["device_mtbf_h"] * SECONDS_PER_HOUR / nodes
    r = d["restart_s"]
    # Daly's wall time per unit of work grows as e^((R + C)/M): past e^500 no interval lets the job progress
    # (and e^709 overflows a float), so say so instead of computing it
    if (r + c) / mtbf > MAX_FAILURE_EXPONENT:
        raise InfeasibleError(
            f"no checkpoint interval lets the job progress: {nodes:,} devices fail every {dur(mtbf)} on average "
            f"(device MTBF {human_sci(d['device_mtbf_h'], 6)} h / {nodes:,}), while a restart takes {dur(r)} and a "
            f"checkpoint "
            f"{dur(c)}; use fewer devices", ["nodes", "device MTBF", "restart time"])
    tau_y = young_interval(c, mtbf)
    tau_num, tau_daly_num = numeric_optima(c, mtbf, r)
    tau_daly = daly_interval(c, mtbf)
    wall = daly_wall_factor(tau_daly_num, c, mtbf, r)
    return {"checkpoint_s": c, "how": how, "mtbf_s": mtbf, "restart_s": r, "young_s": tau_y,
            "numeric_first_order_s": tau_num, "daly_s": tau_daly, "numeric_daly_s": tau_daly_num,
            "waste_first_order": waste_first_order(tau_y, c, mtbf, r), "waste_exact": 1.0 - 1.0 / wall,
            "young_valid": c < 0.1 * mtbf}


def nodes_allowed(track: Track, name: str = "nodes") -> tuple[int, int, int, str]:
    """The device counts the audit takes on `track`: (least, step, most, why the least). Two replicas to
    synchronise (a replica is TP x PP x CP devices on the cloud; on a fleet one device, or the node of a pair of
    earbuds, averaged inside it first), whole nodes and whole replicas, and at most MAX_FLEET_NODES (the tiny
    track's gossip: MAX_GOSSIP_NODES, dense linear algebra on an N x N matrix). The count is of devices (GPUs on the
    cloud track, not nodes of 8) whichever option gave it (the CLI's --devices, or --nodes, its older name): `name`
    is that option as the user spelt it, for the reason."""
    from explorer.puzzles.fleet3d import is_fleet

    per_node = track.cluster.devices_per_node
    p = track.crisis_plan
    group = p.tp * p.pp * p.cp
    step = math.lcm(per_node, group) if not is_fleet(track.key) else per_node
    unit = group if not is_fleet(track.key) else per_node
    most = V.MAX_GOSSIP_NODES if track.key == "tiny" else V.MAX_FLEET_NODES
    most -= most % step
    if not is_fleet(track.key):
        why = f"two replicas of TP x PP x CP = {group} {track.device_plural}: {name} >= {2 * group}"
    elif per_node > 1:
        why = f"two replicas to average, {per_node} {track.device_plural} per node averaged inside it first"
    else:
        why = "two replicas to average"
    return 2 * unit, step, most, why


def check_nodes(track: Track, nodes: Any, name: str = "nodes") -> int | None:
    """`nodes` (None: the track's own fleet) if the audit takes it on `track` (nodes_allowed), else one UsageError
    that names the value, the option as the user spelt it (`name`) and every rule it must meet, whichever it
    breaks."""
    if nodes is None:
        return None
    least, step, most, why = nodes_allowed(track, name)
    if V.Int(least, most).problem(nodes) is None and int(nodes) % step == 0:
        return int(nodes)
    multiple = f", a multiple of {step}" if step > 1 else ""
    limit = " (gossip is dense linear algebra on an N x N matrix)" if track.key == "tiny" else ""
    raise UsageError(f"{name} must be at least {least:,} on the {track.key} track ({why}){multiple} and at most "
                     f"{most:,}{limit}, got {V.short(nodes)}")


def run_audit(track: str = "cloud", *, straggler_fraction: float | None = None, slowdown: float | None = None,
              nodes: int | None = None, jitter: float | None = None, seed: int = 0,
              nodes_name: str = "nodes") -> Audit:
    """Every number of the audit on `track`. `nodes`: the devices in the job (None: the track's); `nodes_name`: the
    option that gave it as the user spelt it (the CLI's devices, or nodes, its older name), for the errors."""
    t = get_track(track)
    d = sync_data(t.key)
    p = V.FRACTION.check("straggler-fraction", straggler_fraction, d["straggler_fraction"])
    s = V.SLOWDOWN.check("slowdown", slowdown, d["slowdown"])  # 1.5 = a straggler takes 50% longer
    j = V.JITTER.check("jitter", jitter, d["jitter_fraction"])
    nodes = check_nodes(t, nodes, nodes_name)
    seed = V.SEED.check("seed", seed)
    plan = make_plan(t, nodes, nodes_name)
    setup = make_setup(t, nodes, nodes_name)
    n = plan.devices
    est = estimate(setup, plan)
    exposed = est.time["dp_exposed"]
    hidden = est.dp_comm_total_s - exposed
    t_dev = est.step_time_s - exposed
    # a straggler at 1x is no straggler: F = (1 - p) F0 + p F0(t / 1) = F0, so the run is the one at p = 0, and
    # it is read as that one (no "stragglers at 1x", no node to evict: eviction_spares counts p), not as p
    # stragglers who happen not to be slow
    model = StepTimeModel(t_dev, j, p if s > 1 else 0.0, float(s))
    group = plan.tp * plan.pp * plan.cp
    push_pull = _push_pull(setup, plan, n) if plan.dp > 1 else 0.0
    comm_async = max(0.0, push_pull - hidden)
    comm_sync = exposed if d["sync_collective"] == "ring" else comm_async
    e_all, e_grp = expected_max(model, n), expected_max(model, group)
    draws = int(min(MC_DRAWS_MAX, max(MC_DRAWS_MIN, MC_SAMPLES // n)))
    mc = monte_carlo_max(model, n, draws, seed)
    b_rep = plan.micro_batch * plan.num_micro_batches
    x_sync = plan.dp * b_rep / (e_all + comm_sync)
    x_raw = plan.dp * b_rep / (e_grp + comm_async)
    tau = float(plan.dp - 1)
    r = stable_step_ratio(tau)
    # the synchronous run steps at lr_fraction x g_max(0) (the track's assumption); async keeps that step while it is
    # stable at its staleness and otherwise must shrink it to g_max(tau): per update it makes min(1, r / lr_fraction)
    # of a synchronous update's progress (the cloud audit had used r alone, a sync run at the stable edge, while it
    # printed the lr_fraction assumption; the fleet audit reads the same fraction as its stability threshold)
    r_lr = progress_at_step(r, d["lr_fraction"])
    spend = n * d["hours_per_month"] * t.device_hour_usd
    waste = (e_all - model.mean) / (e_all + comm_sync)
    return Audit(track=t, data=d, setup=setup, est=est, model=model, nodes=n, group=group, replicas=plan.dp,
                 samples_per_replica=b_rep, comm_sync_s=comm_sync, comm_async_s=comm_async, e_step=model.mean,
                 e_max_all=e_all, e_max_group=e_grp, mc_max_all=mc, mc_draws=draws, staleness=tau, progress=r,
                 progress_at_lr=r_lr, x_sync=x_sync, x_async_raw=x_raw, x_async=x_raw * r_lr, spend_usd=spend,
                 waste_wait=waste, usd_wait=waste * spend, usd_async=_saving(spend, x_sync, x_raw * r_lr),
                 usd_async_raw=_saving(spend, x_sync, x_raw),
                 ckpt=checkpoint_figures(t, setup, plan, d, n) if "checkpoint_store" in d else None,
                 straggler_fraction_asked=p)


SAVING_RULE = ("with throughput X before and X' after a change, a faster change saves the spend times the "
               "fraction of time it removes for the same progress, spend x (1 - X/X'); a slower one loses the "
               "spend times the fraction of the month's progress it gives up, spend x (1 - X'/X): either way "
               "spend x (X' - X) / max(X, X'), never more than the month's spend (the cluster is rented for the "
               "month)")


def _saving(spend: float, x_before: float, x_after: float) -> float:
    """Dollars per month a change of throughput saves (SAVING_RULE): if faster, the same progress for less money,
    spend (1 - x_before / x_after); if slower, the month's spend now buys less progress, and the
    progress lost is worth -spend (1 - x_after / x_before) (never more than the spend). Both are the smaller of
    the two readings of a change (money for the same progress, progress for the same money), so a gain and a
    loss are measured alike and neither exceeds the month's spend; the same progress at a slower rate would
    instead cost spend (x_before / x_after - 1) more, without bound as x_after -> 0."""
    if x_after >= x_before:
        return spend * (1.0 - x_before / x_after)
    return -spend * (1.0 - x_after / x_before)


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
    a, b = out.get("no_zero", {}), out.get("zero", {})
    if "step_s" in a and "step_s" in b and b["step_s"] > a["step_s"]:
        # Every stage allowed includes stage 0: a search stopped at its time limit above the best ZeRO-0 plan has
        # that plan too, so the best known with ZeRO allowed is the ZeRO-0 one (the saving is >= 0, never a loss
        # made up by the limit).
        out["zero"] = dict(a, status=b["status"], stopped_above_zero0=True)
    return out


