"""Lab 06 part 2, the hierarchical multiplier: a two-tier AllReduce (fast tier inside a group,
slow tier between groups) where CP-SAT chooses the aggregation factor g (devices that reduce
locally before the slow tier), the algorithm on each tier and the gradient-accumulation steps.

Instance (prepared before the model, CP-SAT primer style): N = devices, M = gradient bytes,
G = global batch, a memory limit; for every (g, intra, inter) the two-tier AllReduce time from
explorer/cost/collectives.hierarchical_allreduce_phases (docs/conventions.md "Collectives"), tabulated in
integer microseconds.

Variables: g in the track's aggregation choices (divisors of the group size; g = 1 is the flat
AllReduce over the slow tier), intra in {ring, tree}, inter in {ring, tree, halving_doubling,
double_binary_tree}, accumulation a in 1..max_accumulation, micro-batch b (samples per device
per micro-step).
Constraints: global batch N b a = G; memory fixed + b x activations/sample + [a > 1] x FP32
accumulation buffer <= limit.
Objective (lexicographic): minimise the exposed communication per step,
max(0, T_sync - b x t_backward/sample) (only the last micro-batch's backward overlaps the sync:
PyTorch DDP no_sync, Li et al. VLDB 2020 sec. 3.2.3), then T_sync itself, then the accumulation
steps (the simpler plan among ties). T_sync is the two-tier
all-reduce with its three phases pipelined chunk by chunk (collectives.pipelined_stages_time), as
NCCL runs its hierarchical algorithms, except where phases share a link resource (a ring's two intra
phases on each device's send direction, every intra phase on a half-duplex radio, the relayed slow-tier
bytes on the hub's link: collectives.hierarchical_phase_shares), which take turns. A half-duplex radio is
also one channel for its whole group (a Wi-Fi BSS, a hub's BLE piconet, an NFMI pair): an intra phase takes the
bytes all the group's devices put on the air over the channel's rate (collectives.shared_channel_phase_time),
and slow-tier bytes relayed through the hub cross it up and down for every device
(collectives.relayed_path_bandwidth; the flat baseline too). The flat baseline
is the all-reduce as NCCL runs it over all devices (rings per rail) where the track names a plan, and
the textbook flat ring otherwise.
The same choices are scored by a solver-independent evaluator (`evaluate`), which the exhaustive
search (`enumerate_all`) and every attempt use; tests assert CP-SAT == exhaustive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from itertools import product
from typing import TYPE_CHECKING, Any

from explorer import validation as V
from explorer.cost import collectives as col
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.puzzles.collective_scenario import CollectiveScenario, get_scenario
from explorer.puzzles.fleetlens import fleet_view
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_duration as dur
from explorer.units import human_number, human_percent, plural

if TYPE_CHECKING:
    from collections.abc import Iterator


INTRA = ("ring", "tree")
INTER = ("ring", "tree", "halving_doubling", "double_binary_tree")
NAMES = {**col.ALLREDUCE_NAMES, "tree": "binomial tree"}
MIN_CHUNK_BYTES = 1 << 20  # pipelining chunks of at least 1 MiB (NCCL's buffers are 4 MiB per channel)
MAX_CHUNKS = 1024
TIME_SCALE = 1e6  # CP-SAT times are integer microseconds
ATTEMPT_VARIABLES = ["aggregation", "intra_algorithm", "inter_algorithm", "accumulation"]
ATTEMPT_REQUIRED = ["aggregation", "accumulation"]  # the algorithms default to ring (attempt_defaults)
ATTEMPT_KINDS = {"aggregation": "count", "intra_algorithm": "name", "inter_algorithm": "name",
                 "accumulation": "count"}
ATTEMPT_ALIASES = {"g": "aggregation", "intra": "intra_algorithm", "inter": "inter_algorithm", "a": "accumulation"}
MAX_ATTEMPTS = 10
SLOW_FACTOR = 100.0  # the lab question: "will a hierarchical strategy help if the inter-node link is 100x slower?"


@dataclass(frozen=True)
class Instance:
    """Everything the model needs, in SI units (prepared once)."""

    track: str
    message_bytes: float
    devices: int
    devices_per_group: int
    aggregation_choices: tuple[int, ...]
    alpha_intra: float
    bw_intra: float
    alpha_inter: float
    bw_inter: float
    global_batch: int
    max_accumulation: int
    memory_limit: int
    fixed_memory: int
    activation_per_sample: int
    accumulation_buffer: int
    backward_s_per_sample: float
    intra_name: str = ""
    inter_name: str = ""
    flat_nccl_s: float | None = None  # the flat all-reduce as NCCL runs it (step-model tracks), else None
    intra_half_duplex: bool = False  # the intra link sends and receives on one channel (links.toml duplex)
    inter_half_duplex: bool = False  # the slow tier's link does (a radio): its ring steps' two sends take turns
    inter_relayed: bool = False  # devices reach the slow tier only through their group's hub, over the intra link
    call_latency_s: float = 0.0  # NCCL's base latency per collective call where the flat baseline is NCCL's

    @property
    def inter_slower(self) -> bool:
        """Whether the tier between groups is the slower per device, as a ring step sees each link (half the rate
        of a half-duplex one, collectives.exchange_bandwidth): the lab's 'slow tier'. Not so on the earbuds, where
        NFMI inside a pair (29.8 kB/s each way) is slower than BLE between pairs (37.5 kB/s)."""
        return (col.exchange_bandwidth(self.bw_inter, self.inter_half_duplex)
                <= col.exchange_bandwidth(self.bw_intra, self.intra_half_duplex))

    @property
    def slow_tier(self) -> str:
        """The narration's name for the tier between groups: the lab's 'slow tier' where it is the slower."""
        return "slow tier" if self.inter_slower else "inter-group tier"

    @property
    def fast_tier(self) -> str:
        """The narration's name for the tier inside a group: the lab's 'fast tier' where it is the faster."""
        return "fast tier" if self.inter_slower else "intra-group tier"

    @property
    def channel_stations(self) -> int:
        """Devices sharing one channel of a half-duplex intra link (a group: one Wi-Fi BSS, one hub's BLE
        piconet, one NFMI pair), 0 for a full-duplex link (a link per device and direction)."""
        return self.devices_per_group if self.intra_half_duplex else 0

    @property
    def relay_fraction(self) -> float:
        """Share of the inter phase's transfer time its bytes spend on the intra hop (0 unless relayed;
        collectives.relay_hop_share)."""
        return col.relay_hop_share(self.bw_inter, self.bw_intra, self.intra_half_duplex) if self.inter_relayed \
            else 0.0

    def inter_bandwidth(self, participants_per_group: int) -> float:
        """Bandwidth per participant of the slow-tier path when `participants_per_group` devices of each group
        take part in the inter phase: bw_inter, or where they reach it through their hub over a half-duplex
        shared intra channel, that channel and the hub's far link divided among them
        (collectives.relayed_path_bandwidth)."""
        if not self.inter_relayed:
            return self.bw_inter
        if self.intra_half_duplex:  # the shared hop already counts each step's send and receive (2 P X on it);
            # a half-duplex far link takes them in turn too: min(B_far/2, B_hop/2) / P
            return col.relayed_path_bandwidth(col.exchange_bandwidth(self.bw_inter, self.inter_half_duplex),
                                              self.bw_intra, participants_per_group, True)
        return self.bw_inter

    @property
    def inter_exchange_half(self) -> bool:
        """Whether the slow tier's exchange-stepped algorithms still see half of inter_bandwidth (a half-duplex
        slow-tier link, collectives.allreduce_time half_duplex): not where the path is relayed over a half-duplex
        shared hop, whose rate (relayed_path_bandwidth) already counts both sends of a step."""
        return self.inter_half_duplex and not (self.inter_relayed and self.intra_half_duplex)

    @property
    def max_chunks(self) -> int:
        return int(max(1, min(MAX_CHUNKS, self.message_bytes // MIN_CHUNK_BYTES)))


@dataclass(frozen=True)
class Evaluation:
    """One configuration scored by the solver-independent evaluator."""

    aggregation: int
    intra: str
    inter: str
    accumulation: int
    micro_batch: float
    feasible: bool
    violations: tuple[Constraint, ...]
    phases_s: dict[str, float]
    serial_s: float  # the three phases one after the other
    chunks: int  # pipelining chunks of the two-tier all-reduce
    sync_s: float
    sync_us: int
    overlap_us: int
    exposed_us: int
    memory_bytes: float

    @property
    def key(self) -> tuple[int, int, int]:
        """Lexicographic objective: (exposed us, sync us, accumulation steps: the simpler plan on a tie)."""
        return (self.exposed_us, self.sync_us, self.accumulation)

    @property
    def config(self) -> dict[str, Any]:
        return {"aggregation": self.aggregation, "intra_algorithm": self.intra, "inter_algorithm": self.inter,
                "accumulation": self.accumulation}


def make_instance(sc: CollectiveScenario, *, message_bytes: float | None = None,
                  inter_bandwidth_bps: float | None = None, global_batch: int | None = None) -> Instance:
    m = V.MESSAGE_BYTES.check("message size", message_bytes, sc.gradient_bytes)
    bw_e = V.BANDWIDTH_BPS.check("inter-tier bandwidth", inter_bandwidth_bps, sc.inter.effective_bandwidth)
    if sc.inter_through_intra:  # relayed by the group's hub: the bottleneck hop and both latencies
        bw_e = min(bw_e, sc.intra.effective_bandwidth)
    gb = V.GLOBAL_BATCH.check("global batch", global_batch, sc.global_batch)
    return Instance(
        track=sc.track, message_bytes=m, devices=sc.devices, devices_per_group=sc.devices_per_group,
        aggregation_choices=sc.aggregation_choices, alpha_intra=sc.intra.latency_s,
        bw_intra=sc.intra.effective_bandwidth, alpha_inter=sc.inter_path_alpha, bw_inter=bw_e,
        global_batch=gb, max_accumulation=sc.max_accumulation, memory_limit=int(round(sc.memory_limit_bytes)),
        fixed_memory=int(round(sc.fixed_memory_bytes)),
        activation_per_sample=int(round(sc.activation_bytes_per_sample)),
        accumulation_buffer=int(round(sc.accumulation_buffer_bytes)), backward_s_per_sample=sc.backward_s_per_sample,
        intra_name=sc.intra.name,
        inter_name=sc.inter.name + (f" via {sc.intra.name}" if sc.inter_through_intra else ""),
        flat_nccl_s=(sc.dp_sync_time(m, inter_bandwidth=bw_e) if sc.setup is not None else None),
        # measured against NCCL's flat all-reduce, which pays its base latency once per call (tuning.cc), a two-tier
        # sync run as one operation (NCCL's hierarchical algorithms, chunk by chunk) pays it once too
        call_latency_s=col.NCCL_BASE_LATENCY_S if sc.setup is not None else 0.0,
        intra_half_duplex=sc.intra.half_duplex, inter_relayed=sc.inter_through_intra,
        inter_half_duplex=sc.inter.half_duplex)


def _us(x: float) -> int:
    return int(round(x * TIME_SCALE))


def phases(inst: Instance, g: int, intra: str, inter: str, m_bytes: float | None = None) -> dict[str, float]:
    """Two-tier AllReduce phases (s) for aggregation g: g devices reduce locally, N/g take part in the slow tier."""
    m = inst.message_bytes if m_bytes is None else m_bytes
    # slow-tier participants per group: every device with a ring (each its M/g), one leader per g with a tree
    participants = inst.devices_per_group if intra == "ring" or g == 1 else inst.devices_per_group // g
    return col.hierarchical_allreduce_phases(m, g, inst.devices // g, inst.alpha_intra, inst.bw_intra,
                                             inst.alpha_inter, inst.inter_bandwidth(participants), intra, inter,
                                             inst.channel_stations, inst.inter_exchange_half)


def shares(inst: Instance, intra: str) -> dict[str, dict[str, float]]:
    """The link resources each phase occupies (collectives.hierarchical_phase_shares): phases on one
    resource (the two directions of a full-duplex intra link, or a half-duplex intra link as one) take turns."""
    return col.hierarchical_phase_shares(intra, inst.intra_half_duplex, inst.relay_fraction)


def pipelined(inst: Instance, g: int, intra: str, inter: str) -> tuple[float, int]:
    """The two-tier all-reduce with its phases pipelined chunk by chunk: (seconds, chunks). Each phase's
    latency is its time for an empty message, its transfer the rest (every phase is affine in M); phases that
    share a link resource cannot overlap on it (shares)."""
    full, empty = phases(inst, g, intra, inter), phases(inst, g, intra, inter, 0.0)
    keys = [k for k in full if full[k] > 0]
    if not keys:
        return 0.0, 1
    sh = shares(inst, intra)
    t, chunks = col.pipelined_stages_time([empty[k] for k in keys], [full[k] - empty[k] for k in keys],
                                          inst.max_chunks, [sh[k] for k in keys])
    return t + inst.call_latency_s, chunks  # one operation: one call's base latency (Instance.call_latency_s)


def link_busy_s(inst: Instance, e: Evaluation) -> tuple[float, float]:
    """Seconds per sync the intra and the inter link carry traffic: each link's busiest resource (a direction
    of a full-duplex link, a half-duplex link as a whole), each phase counted at its full time (latency
    included) times its share of that resource. Never above the pipelined sync time
    (collectives.pipelined_stages_time)."""
    sh = shares(inst, e.intra)
    load: dict[str, float] = {}
    for phase, t in e.phases_s.items():
        for r, w in sh[phase].items():
            load[r] = load.get(r, 0.0) + w * t
    intra = max((v for r, v in load.items() if r.startswith("intra")), default=0.0)
    return intra, load.get("inter", 0.0)


def flat_time(inst: Instance, algorithm: str = "ring") -> float:
    """Flat AllReduce over all N devices on the slow tier (g = 1)."""
    return float(col.allreduce_time(algorithm, inst.message_bytes, inst.devices, inst.alpha_inter,
                                    inst.inter_bandwidth(inst.devices_per_group), inst.inter_exchange_half))


def evaluate(inst: Instance, g: int, intra: str, inter: str, a: int) -> Evaluation:
    """Score one configuration: feasibility (with violated constraints), times, memory, objective."""
    if g not in inst.aggregation_choices:
        raise UsageError(f"aggregation {g!r} not offered; valid: {', '.join(map(str, inst.aggregation_choices))}")
    if intra not in INTRA:
        raise UsageError(f"intra algorithm {intra!r} unknown; valid: {', '.join(INTRA)}")
    if inter not in INTER:
        raise UsageError(f"inter algorithm {inter!r} unknown; valid: {', '.join(INTER)}")
    violations = []
    if not 1 <= a <= inst.max_accumulation:
        violations.append(Constraint("accumulation steps", a, inst.max_accumulation, "", "<=",
                                     text=f"1 <= a <= {inst.max_accumulation}"))
    per_device = inst.global_batch / inst.devices
    b = per_device / a if a >= 1 else float("inf")
    if not (b >= 1 and abs(b - round(b)) < 1e-9):
        violations.append(Constraint("global batch", inst.devices * b * a if b != float("inf") else 0,
                                     inst.global_batch, "samples", "==",
                                     text=f"N x b x a = G needs a whole micro-batch b; G/(N a) = {b:.3g}"))
    bi = round(b) if b != float("inf") else 0
    memory = inst.fixed_memory + max(b, 0) * inst.activation_per_sample + (inst.accumulation_buffer if a > 1 else 0)
    if memory > inst.memory_limit:
        violations.append(Constraint("memory", memory, inst.memory_limit, "B", "<=",
                                     text="fixed + b x activations + accumulation buffer"))
    ph = phases(inst, g, intra, inter)
    sync_s, chunks = pipelined(inst, g, intra, inter)
    sync_us = _us(sync_s)
    overlap_us = bi * _us(inst.backward_s_per_sample)
    serial_s = sum(ph.values()) + (inst.call_latency_s if any(v > 0 for v in ph.values()) else 0.0)  # one call
    return Evaluation(g, intra, inter, a, b, not violations, tuple(violations), ph, serial_s, chunks, sync_s,
                      sync_us, overlap_us, max(0, sync_us - overlap_us), memory)


def candidates(inst: Instance) -> Iterator[tuple]:
    return product(inst.aggregation_choices, INTRA, INTER, range(1, inst.max_accumulation + 1))


def enumerate_all(inst: Instance) -> list[Evaluation]:
    """Every configuration of the design space, scored (feasible or not)."""
    return [evaluate(inst, *c) for c in candidates(inst)]


def exhaustive_best(inst: Instance) -> Evaluation:
    feasible = [e for e in enumerate_all(inst) if e.feasible]
    if not feasible:
        raise _infeasible(inst)
    return min(feasible, key=lambda e: e.key)


def _infeasible(inst: Instance) -> InfeasibleError:
    """Which rule leaves no configuration: too few samples for the devices, no whole micro-batch, or memory."""
    G, N, A = inst.global_batch, inst.devices, inst.max_accumulation
    if G < N:
        return InfeasibleError(f"global batch {G} is smaller than the {N} devices: each needs a whole sample per "
                               f"step (G >= N); raise --global-batch to {N} or more", ["global batch", "devices"])
    whole = [a for a in range(1, A + 1) if G % (N * a) == 0]
    if not whole:
        return InfeasibleError(f"global batch {G} on {N} devices: no accumulation a <= {A} gives a whole "
                               f"micro-batch G/(N a); give a global batch that is a multiple of {N}",
                               ["global batch", "accumulation steps"])
    return InfeasibleError(
        f"no accumulation a <= {A} gives a whole micro-batch G/(N a) that fits the "
        f"{inst.memory_limit:,} B memory limit (global batch {G}, {N} devices; the smallest micro-batch is "
        f"{G // (N * whole[-1])})", ["global batch", "memory", "accumulation steps"])


# --- CP-SAT ---------------------------------------------------------------------------------------
def solve_cpsat(inst: Instance, time_limit_s: float | None = None) -> tuple[Evaluation, str, float]:
    """Lexicographic CP-SAT: minimise exposed us, then sync us. Returns (decoded evaluation, status, wall s)."""
    from ortools.sat.python import cp_model

    from explorer.solvers import cpsat

    limit = cpsat.DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    G, N, A = inst.global_batch, inst.devices, inst.max_accumulation
    gs = list(inst.aggregation_choices)
    table = [_us(pipelined(inst, g, i, e)[0]) for g in gs for i in INTRA for e in INTER]
    bmax = max(1, G // N)
    if max(table) * (A + 2) > cpsat.MAX_DOMAIN:  # beyond CP-SAT's integers: the exhaustive search is the proof
        t0 = time.perf_counter()
        return exhaustive_best(inst), "optimal", time.perf_counter() - t0

    def build(exposed_cap: int | None):
        md = cp_model.CpModel()
        # variables
        g_idx = md.NewIntVar(0, len(gs) - 1, "g_idx")
        intra_idx = md.NewIntVar(0, len(INTRA) - 1, "intra_idx")
        inter_idx = md.NewIntVar(0, len(INTER) - 1, "inter_idx")
        a = md.NewIntVar(1, A, "a")
        b = md.NewIntVar(1, bmax, "b")
        sync = md.NewIntVar(0, max(table), "sync_us")
        exposed = md.NewIntVar(0, max(table), "exposed_us")
        # the chosen (g, intra, inter) selects its tabulated two-tier time
        combo = md.NewIntVar(0, len(table) - 1, "combo")
        md.Add(combo == g_idx * len(INTRA) * len(INTER) + intra_idx * len(INTER) + inter_idx)
        md.AddElement(combo, table, sync)
        # global batch: N b a = G
        ba = md.NewIntVar(1, bmax * A, "b_times_a")
        md.AddMultiplicationEquality(ba, [b, a])
        md.Add(N * ba == G)
        # memory: fixed + b x activations + [a > 1] x accumulation buffer <= limit
        acc = md.NewBoolVar("accumulating")
        md.Add(a >= 2).OnlyEnforceIf(acc)
        md.Add(a == 1).OnlyEnforceIf(acc.Not())
        md.Add(inst.fixed_memory + inst.activation_per_sample * b + inst.accumulation_buffer * acc
               <= inst.memory_limit)
        # exposed communication: sync minus the last micro-batch's backward, floored at 0
        md.Add(exposed >= sync - _us(inst.backward_s_per_sample) * b)
        if exposed_cap is None:
            md.Minimize(exposed)
        else:
            md.Add(exposed <= exposed_cap)
            md.Minimize(sync * (A + 1) + a)
        return md, (g_idx, intra_idx, inter_idx, a)

    t0 = time.perf_counter()
    md, choice = build(None)
    solver, out = cpsat.run(md, time_limit_s=limit)
    if out.status == "infeasible":
        raise _infeasible(inst)
    if out.status == "unknown":
        raise NoAnswerError(limit)
    status = out.status
    first = tuple(solver.Value(x) for x in choice)
    md2, v = build(int(round(out.objective)))
    left = max(0.001, limit - out.wall_time_s)  # the whole solve stays within the limit
    solver2, out2 = cpsat.run(md2, time_limit_s=left)
    if out2.status in ("optimal", "feasible"):
        g_idx, intra_idx, inter_idx, a = (solver2.Value(x) for x in v)
    else:  # the tie-break stage ran out of time: keep the first stage's answer
        g_idx, intra_idx, inter_idx, a = first
    if out2.status != "optimal":  # the lexicographic optimum (exposed, then sync) is not proven
        status = "feasible"
    best = evaluate(inst, gs[g_idx], INTRA[intra_idx], INTER[inter_idx], a)
    return best, status, time.perf_counter() - t0


# --- the report -----------------------------------------------------------------------------------
def _rate(bps: float) -> str:
    for scale, unit in ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if bps >= scale:
            return f"{human_number(bps / scale)} {unit}"
    return f"{human_number(bps)} B/s"




@fleet_view("hierarchy")
def solve(track: str = "cloud", *, message_bytes: float | None = None, inter_bandwidth_bps: float | None = None,
          global_batch: int | None = None, time_limit_s: float | None = None, engine: str = "cpsat",
          **_: Any) -> Report:
    """Hierarchical AllReduce optimum for a track (CP-SAT, checked by the exhaustive evaluator)."""
    t0 = time.perf_counter()
    sc = get_scenario(track)
    inst = make_instance(sc, message_bytes=message_bytes, inter_bandwidth_bps=inter_bandwidth_bps,
                         global_batch=global_batch)
    if engine not in ("cpsat", "enumerate"):
        raise UsageError(f"engine {V.short(engine)} unknown; valid: cpsat, enumerate")
    time_limit_s = V.TIME_LIMIT.check("time-limit", time_limit_s)
    if engine == "cpsat":
        best, status, _wall = solve_cpsat(inst, time_limit_s)
    else:
        best, status = exhaustive_best(inst), "optimal"
    all_evals = enumerate_all(inst)
    check = min((e for e in all_evals if e.feasible), key=lambda e: e.key)
    textbook_flat = flat_time(inst)
    flat = inst.flat_nccl_s if inst.flat_nccl_s is not None else textbook_flat
    flat_label = ("flat all-reduce as NCCL runs it (one ring per rail)" if inst.flat_nccl_s is not None
                  else f"flat ring over all {inst.devices} on the {inst.slow_tier}")
    mult = flat / best.sync_s if best.sync_s > 0 else float("inf")
    lab_mult = textbook_flat / best.sync_s if best.sync_s > 0 else float("inf")
    per_sample = best.sync_s / inst.global_batch

    # the 100x question: the slow tier at 1/100 of the fast tier's bandwidth
    slow_bw = inst.bw_intra / SLOW_FACTOR
    slow_nccl = sc.dp_sync_time(inst.message_bytes, inter_bandwidth=slow_bw) if sc.setup is not None else None
    slow_inst = replace(inst, bw_inter=slow_bw, flat_nccl_s=slow_nccl)
    slow_best = exhaustive_best(slow_inst)
    slow_flat = slow_nccl if slow_nccl is not None else flat_time(slow_inst)
    slow_mult = slow_flat / slow_best.sync_s

    figures = {
        "aggregation": Figure(best.aggregation, "devices", "aggregation factor g (devices reducing locally)"),
        "intra_algorithm": Figure(NAMES[best.intra], "", f"intra-tier algorithm ({inst.intra_name})"),
        "inter_algorithm": Figure(NAMES[best.inter], "", f"inter-tier algorithm ({inst.inter_name})"),
        "accumulation": Figure(best.accumulation, "steps", "gradient accumulation steps a"),
        "micro_batch": Figure(int(round(best.micro_batch)), "samples", "micro-batch per device b"),
        "sync_time_s": Figure(best.sync_s, "s", "two-tier all-reduce per step, phases pipelined"),
        "serial_time_s": Figure(best.serial_s, "s", "the same with its phases one after the other"),
        "pipeline_chunks": Figure(best.chunks, "chunks", "pipelining chunks"),
        "exposed_comm_s": Figure(best.exposed_us / TIME_SCALE, "s", "exposed communication per step (objective)"),
        "sync_time_per_sample_s": Figure(per_sample, "s", "synchronization time per sample"),
        "intra_time_s": Figure(best.phases_s["intra_reduce"] + best.phases_s["intra_gather"], "s", "intra-tier time"),
        "inter_time_s": Figure(best.phases_s["inter"], "s", "inter-tier time"),
        "flat_time_s": Figure(flat, "s", flat_label),
        "hierarchical_multiplier": Figure(mult, "x", f"{flat_label} / two-tier"),
        "multiplier_100x_slower": Figure(slow_mult, "x", f"the same with the {inst.slow_tier} {SLOW_FACTOR:.0f}x "
                                         f"slower than the {inst.fast_tier}"),
        "memory_bytes": Figure(best.memory_bytes, "B", "memory per device"),
        "message_bytes": Figure(inst.message_bytes, "B", "gradient message M"),
    }
    if inst.flat_nccl_s is not None:
        figures["textbook_flat_time_s"] = Figure(textbook_flat, "s", "textbook flat ring through one NIC per ring")
        figures["textbook_multiplier"] = Figure(lab_mult, "x", "textbook flat ring / two-tier (the lab's multiplier)")
    b = int(round(best.micro_batch))
    mem_next = inst.fixed_memory + 2 * b * inst.activation_per_sample + (
        inst.accumulation_buffer if best.accumulation // 2 > 1 else 0)
    mem_binding = best.accumulation > 1 and mem_next > inst.memory_limit
    constraints = [
        Constraint("memory", best.memory_bytes, inst.memory_limit, "B", "<=", mem_binding,
                   "fixed + b x activations/sample + [a > 1] accumulation buffer"),
        Constraint("global batch", inst.devices * best.micro_batch * best.accumulation, inst.global_batch,
                   "samples", "==", True, "N x b x a = G"),
        Constraint("accumulation steps", best.accumulation, inst.max_accumulation, "", "<=",
                   best.accumulation == inst.max_accumulation),
    ]
    ranked = sorted((e for e in all_evals if e.feasible), key=lambda e: e.key)
    rows = [[e.aggregation, NAMES[e.intra], NAMES[e.inter], e.accumulation, int(round(e.micro_batch)),
             e.phases_s["intra_reduce"] + e.phases_s["intra_gather"], e.phases_s["inter"], e.serial_s, e.sync_s,
             e.exposed_us / TIME_SCALE] for e in ranked[:12]]
    by_g = []
    for g in inst.aggregation_choices:
        eg = min((e for e in ranked if e.aggregation == g), key=lambda e: e.key, default=None)
        if eg is not None:
            by_g.append([g, inst.devices // g, NAMES[eg.intra], NAMES[eg.inter], eg.sync_s, flat / eg.sync_s])
    today, what_if = "as specified", (f"what if the {inst.slow_tier} were {SLOW_FACTOR:.0f}x slower than the "
                                          f"{inst.fast_tier}")
    flat_short = "flat (NCCL, rings per rail)" if inst.flat_nccl_s is not None else "flat ring (g=1)"
    waterfall = {"configs": [
        {"label": f"{'optimum' if status == 'optimal' else 'answer'} g={best.aggregation} "
                  f"({NAMES[best.intra]}/{NAMES[best.inter]})", "panel": today,
         "phases": best.phases_s},
        {"label": flat_short, "panel": today, "phases": {"intra_reduce": 0.0, "inter": flat, "intra_gather": 0.0}},
        {"label": f"optimum g={slow_best.aggregation} ({NAMES[slow_best.intra]}/{NAMES[slow_best.inter]})",
         "panel": what_if, "phases": slow_best.phases_s},
        {"label": flat_short, "panel": what_if,
         "phases": {"intra_reduce": 0.0, "inter": slow_flat, "intra_gather": 0.0}},
    ], "phase_labels": {"intra_reduce": "intra-tier reduce(-scatter)", "inter": "inter-tier AllReduce",
                        "intra_gather": "intra-tier all-gather / broadcast"}}
    agree = check.key == best.key
    tie = _tie_text(inst, best, ranked, status == "optimal")
    findings = [
        Finding("Which aggregation factor, tier algorithms and accumulation minimise the exposed communication?",
                f"g = {best.aggregation} ({inst.devices // best.aggregation} participants on the {inst.slow_tier}), "
                f"{NAMES[best.intra]} inside the group, {NAMES[best.inter]} between groups, "
                f"{plural(best.accumulation, 'accumulation step')} of micro-batch {b}: "
                f"{_sync_text(inst, best)}, "
                + (f"{dur(best.exposed_us / TIME_SCALE)} exposed" if best.exposed_us else "none of it exposed")
                + f" after overlapping the last micro-batch's backward, {dur(per_sample)} per sample. CP-SAT "
                f"({status}) and the exhaustive check "
                f"over {len(all_evals)} configurations "
                + ("agree." if agree else "DISAGREE (a bug: please report it).") + (f" {tie}" if tie else "")),
        _multiplier_finding(inst, best, flat, flat_label, mult, textbook_flat, lab_mult, by_g, status == "optimal"),
        Finding(f"Will a hierarchical strategy help if the inter-node link is {SLOW_FACTOR:.0f}x slower?",
                f"{_verdict(slow_mult, mult)}: with the {inst.slow_tier} at 1/{SLOW_FACTOR:.0f} of the "
                f"{inst.fast_tier} "
                f"({_rate(slow_bw)}" + (f"; {_faster_than_given(inst)}" if _faster_than_given(inst) else "")
                + f"), the {flat_short.split(' (')[0]} baseline takes {dur(slow_flat)} and the best "
                f"two-tier plan (g = {slow_best.aggregation}, {NAMES[slow_best.intra]}/{NAMES[slow_best.inter]}) "
                f"{dur(slow_best.sync_s)}: {human_number(slow_mult)}x. "
                + ("NCCL's rings per rail already send M/g through each NIC, so local aggregation adds little "
                   "however slow the network gets; against the textbook flat ring (one NIC per ring) the multiplier "
                   f"tends to g = {max(inst.aggregation_choices)}." if inst.flat_nccl_s is not None else
                   f"As the {inst.slow_tier} dominates, the multiplier tends to g = {max(inst.aggregation_choices)} "
                   f"(the {inst.slow_tier} moves M/g).")),
        _accumulation_finding(sc, inst, best, slow_inst, slow_best),
        Finding("Communication waterfall (intra vs inter time)?",
                f"Optimum: intra reduce {dur(best.phases_s['intra_reduce'])}, inter "
                f"{dur(best.phases_s['inter'])}, intra gather {dur(best.phases_s['intra_gather'])}; "
                + (f"pipelined {dur(best.sync_s)} instead of {dur(best.serial_s)} in series."
                   if best.chunks > 1 else f"{dur(best.sync_s)} in series (pipelining gains nothing here).")),
    ]
    formulas = [
        Formula("two-tier AllReduce", "phases: intra reduce-scatter (g-1) alpha_f + (g-1)/g M/B_f; inter "
                "T_inter(M/g, N/g, alpha_s, B_s); intra all-gather as the reduce-scatter",
                "docs/conventions.md 'Collectives' (hierarchical AllReduce); intra = tree variant: ceil(log2 g)"
                "(alpha_f + M/B_f) each way + T_inter(M, N/g)"),
        *([Formula("intra phase on a shared half-duplex channel", "ring: (g-1) alpha_f + (S/g)(g-1) M/B_f; tree: "
                   "ceil(log2 g) alpha_f + (S/g)(g-1) M/B_f",
                   "explorer/cost/collectives.py shared_channel_phase_time (one transmitter at a time on the "
                   "channel: IEEE 802.11 DCF, Bluetooth Core Spec Vol 6 Part B 4.5)",
                   f"S = {inst.channel_stations} devices share the channel of rate B_f; every byte any of them sends "
                   "occupies it")] if inst.channel_stations else []),
        *([Formula("slow-tier path relayed over the shared channel", "B_s per participant = min(B_path, B_f/2) / P",
                   "explorer/cost/collectives.py relayed_path_bandwidth",
                   "P = a group's slow-tier participants (every device with a ring inside, one per g with a tree); "
                   "each sends and receives its bytes through the hub, both over the one channel")]
          if inst.inter_relayed and inst.intra_half_duplex else []),
        Formula("pipelined phases", "T(k) = sum_i (l_i + b_i/k) + (k-1) P(k), P(k) = max(max_i (l_i + b_i/k), "
                "max_r sum_i w_ir b_i/k), best k",
                "chunked pipelining of the phases (NCCL's hierarchical algorithms; explorer/cost/collectives.py "
                "pipelined_stages_time, hierarchical_phase_shares)",
                "l_i = a phase's latency, b_i its transfer time, w_ir its share on link resource r (a direction of a "
                "full-duplex link, a half-duplex link as a whole): phases on one resource take turns, so T >= the "
                "traffic of every resource"),
        Formula("exposed communication", "T_exposed = max(0, T_sync - b t_bwd)",
                "PyTorch DDP overlap with no_sync accumulation (Li et al. VLDB 2020, sec. 3.2.3)",
                "Only the last micro-batch's backward overlaps the AllReduce."),
        Formula("global batch and memory", "N b a = G;  fixed + b act + [a>1] buf <= limit", "lab 06 part 2"),
    ]
    if inst.flat_nccl_s is not None:
        formulas.append(Formula("flat all-reduce as NCCL runs it", "min(ring, tree); ring: base + 2(n - n_nodes) "
                                "alpha_intra + 2(n_nodes - 1) alpha_inter + 2(n-1)/n M / min(B_intra, k B_NIC)",
                                "NVIDIA/nccl tuning.cc; rails: k ranks per node drive k NICs (docs/conventions.md "
                                "'Collectives inside the training-step model')"))
    assumptions = [
        Assumption(f"Scenario: {sc.scenario}", sc.source),
        *([Assumption(f"Plan: {sc.derivation}", "explorer/cost/step.py")] if sc.derivation else []),
        Assumption(f"Fast tier {sc.intra.name}", sc.intra.source),
        Assumption(f"Slow tier {sc.inter.name}", sc.inter.source),
        *([Assumption(f"Devices reach {sc.inter.name} only through their group's hub over {sc.intra.name}: the "
                      "slow-tier path has both latencies and the smaller bandwidth (relayed, pipelined)",
                      "lab 06 mobile storyboard")] if sc.inter_through_intra else []),
        _duplex_assumption(sc, inst),
        *([Assumption(f"Measured against NCCL's flat all-reduce, the two-tier sync runs as one operation and pays "
                      f"NCCL's base latency of one call ({inst.call_latency_s * 1e6:.1f} us, Simple protocol) as the "
                      "flat one does; its binomial tree inside a group is the lab's textbook algorithm (NCCL chains "
                      "the ranks of a node, it has no binomial reduce)",
                      "NVIDIA/nccl src/graph/tuning.cc (baseLat; Reduce and Broadcast run ring only)")]
          if inst.call_latency_s else []),
        *([Assumption(f"{sc.inter.name} (the {inst.slow_tier}) is half duplex: a device sends or receives, never "
                      "both, so "
                      "every step of a ring (and of halving-doubling and the pipelined double binary tree) is an "
                      "exchange whose two sends take turns, alpha + 2 M/(N B): those algorithms see half its rate "
                      "(a binomial tree's one-way sends do not); the flat ring and the crossover lens count it alike",
                      (sc.inter.duplex_source or "hardware/data/links.toml duplex") + "; explorer/cost/collectives.py "
                      "allreduce_time half_duplex, exchange_time")] if inst.inter_half_duplex else []),
        Assumption("With g smaller than the group size the N/g-way AllReduce is charged entirely to the slow "
                   "tier (conservative)", "model choice"),
        Assumption(f"Pipelining chunks of at least {MIN_CHUNK_BYTES >> 20} MiB, at most {MAX_CHUNKS:,}",
                   "model choice (NCCL moves 4 MiB buffers per channel step)"),
        Assumption("CP-SAT times in integer microseconds; memory in bytes", "model choice"),
    ]
    data = {"comm_waterfall": waterfall, "topology": _tier_topology(inst, best.aggregation)}
    opt_cfg = best.config
    return Report(
        puzzle="hierarchy", lab="06", part=2, track=sc.track, title="The hierarchical multiplier",
        status="optimal" if status == "optimal" else "feasible",
        headline=_headline(inst, best, flat_short, mult, slow_mult,
                           lab_mult if inst.flat_nccl_s is not None else None)
        + (f" {_tie_short(best, ranked, status == 'optimal')}" if tie else ""),
        figures=figures, findings=findings, constraints=constraints, formulas=formulas, assumptions=assumptions,
        tables={"ranking": Table(["g", "intra", "inter", "a", "b", "intra (s)", "inter (s)", "in series (s)",
                                  "pipelined (s)", "exposed (s)"], rows, "Best configurations (feasible, ranked)"),
                "by_aggregation": Table(["g", "slow-tier participants", "intra", "inter", "pipelined (s)",
                                         "multiplier vs flat"], by_g, "Best plan per aggregation factor")},
        plots=["comm_waterfall", "topology"], data=data,
        extra={"objective": {"name": "exposed_comm_s", "value": best.exposed_us / TIME_SCALE, "sense": "min"},
               "configuration": opt_cfg, "exhaustive_check": {"agrees": agree, "evaluated": len(all_evals)},
               "tied_on_objective": sum(1 for e in ranked if e.exposed_us == best.exposed_us),
               "tie_break": TIE_BREAK},
        solve_time_s=time.perf_counter() - t0,
        scenario={"message_bytes": inst.message_bytes, "inter_bandwidth_bps": inst.bw_inter,
                  "global_batch": inst.global_batch})


def _multiplier_finding(inst: Instance, best: Evaluation, flat: float, flat_label: str, mult: float,
                        textbook: float, lab_mult: float, by_g: list, proven: bool = True) -> Finding:
    per_g = "; ".join(f"g={r[0]}: {dur(r[4])} ({human_number(r[5])}x)" for r in by_g)
    if inst.flat_nccl_s is not None:
        return Finding(
            "What does hierarchy buy here (the hierarchical multiplier)?",
            f"Against the flat all-reduce as NCCL runs it ({dur(flat)}): {human_number(mult)}x. NCCL builds one ring "
            f"per rail, so the {inst.devices_per_group} GPUs of a node drive their {inst.devices_per_group} NICs at "
            f"once and each NIC already carries about M/{inst.devices_per_group}: the flat ring is hierarchical in "
            f"effect, and NCCL counts its latency by tier (2(n_nodes - 1) network hops, not 2(N - 1)). Against the "
            f"textbook flat ring through one NIC per ring ({dur(textbook)}) the two-tier plan is "
            f"{human_number(lab_mult)}x faster: that is the lab's multiplier, and what a node with one NIC shared by "
            f"its GPUs would see. Best per g: {per_g}.")
    return Finding(
        "What does hierarchy buy here (the hierarchical multiplier)?",
        (f"Almost nothing at this track's tiers: the intra tier ({inst.intra_name}, {_intra_rate(inst)}) is "
         + ("slower per device than" if inst.bw_intra / max(1, inst.channel_stations)
            < _ring_rate(inst) else "not much faster than")
         + f" the path onto the inter tier ({_rate(_ring_rate(inst))}"
         f"{' per device' if inst.inter_relayed and inst.intra_half_duplex else ''}"
         f"{' as a ring step sees it, its two sends in turn' if inst.inter_exchange_half else ''}), so local "
         "aggregation saves "
         f"little or costs more ({'optimum' if proven else 'answer'} g = {best.aggregation}). " if mult < 1.05 else "")
        + f"{flat_label[0].upper() + flat_label[1:]} on {inst.inter_name}: {dur(flat)}; two-tier"
        f"{', pipelined' if best.chunks > 1 else ''}: {dur(best.sync_s)} ({human_number(mult)}x). "
        + (f"The {inst.slow_tier} carries M/g per device instead of M, the {inst.fast_tier} absorbs the rest. "
           if mult >= 1.05 else "What helps here is sending fewer bytes (part 3, compression). ")
        + f"Best per g: {per_g}.")


def _accumulation_finding(sc: CollectiveScenario, inst: Instance, best: Evaluation, slow_inst: Instance,
                          slow: Evaluation) -> Finding:
    """The lab's reflection: the intra-node link idles while the network is saturated; what can gradient
    accumulation do? Busy fractions of both tiers, where the premise holds, and the time to quality of a larger
    accumulated batch there."""
    from explorer.cost import convergence as conv
    from explorer.puzzles.batch import critical_batch_samples
    from explorer.puzzles.training_scenario import scenario as lab08
    from explorer.tracks import get_track

    # the batch part's critical batch (lab 08 part 3), whole samples rounded down: one rule for both parts
    t8 = lab08(sc.track)
    b_crit = critical_batch_samples(get_track(sc.track), t8)
    rounded = ", Kaplan et al.'s fit rounded down to a whole batch" if t8.critical_batch_samples is None else ""
    compute = replace(sc, global_batch=inst.global_batch).compute_s_per_step  # at the batch being solved

    def busy(i: Instance, e: Evaluation) -> tuple[float, float]:
        step = compute + e.exposed_us / TIME_SCALE
        intra_s, inter_s = link_busy_s(i, e)
        return intra_s / step, inter_s / step

    fi, fn = busy(inst, best)
    si, sn = busy(slow_inst, slow)
    # where the premise holds: the slow tier so slow that the sync is twice the backward it can hide behind
    hide = int(round(slow.micro_batch)) * inst.backward_s_per_sample
    factor = onset = SLOW_FACTOR
    sat = slow
    if slow.exposed_us == 0 and slow.phases_s["inter"] > 0:
        # the sync grows about in proportion to the slow tier's slowness: it starts to show where it equals the
        # backward it hides behind, and is called saturated at twice that (half of it then waits)
        onset = SLOW_FACTOR * hide / slow.sync_s
        factor = 2.0 * onset
        sat = exhaustive_best(replace(inst, bw_inter=inst.bw_intra / factor, flat_nccl_s=None))
    b = int(round(sat.micro_batch))
    rows = []
    exposed = max(0.0, sat.sync_s - b * inst.backward_s_per_sample)  # the sync the last backward does not hide
    for a in (1, 2, 4):
        g_batch = inst.global_batch * a
        step = a * compute + exposed
        rows.append((a, g_batch, step / g_batch, step / g_batch * conv.samples_multiplier(g_batch, b_crit)))
    base = rows[0][3]
    table = (f"at that {inst.slow_tier} ({human_number(factor)}x slower than the {inst.fast_tier}) a whole step "
             "per sample, "
             f"(a x {dur(compute)} of compute + {dur(exposed)} of sync not hidden) / global batch, is "
             + "; ".join(f"{dur(per)} with {plural(a, 'accumulation step')} (global batch {gb:,}), time to "
                         f"quality x{human_number(t / base)}" for a, gb, per, t in rows)
             + " (a step's time per sample, not the synchronization time per sample of the Figures, which is at the "
             "track's own tiers)")
    relayed = (f" (it also relays the {inst.slow_tier}'s bytes: {inst.inter_name})" if inst.relay_fraction > 0 else "")
    premise = (f"The premise does not hold on this track: as specified the intra tier is busy {human_percent(fi)} of "
               f"the step{relayed} and the inter tier {human_percent(fn)}, and even {SLOW_FACTOR:.0f}x slower than "
               f"the {inst.fast_tier} the inter tier is busy {human_percent(sn)} (intra {human_percent(si)}) and "
               "hides behind "
               f"the backward pass. It starts to show at about {human_number(onset)}x slower, where the sync "
               f"equals the backward it hides behind (b x {dur(inst.backward_s_per_sample)} = {dur(hide)}), and "
               f"saturates, taken here as the sync twice that backward so that half of it waits, at about "
               f"{human_number(factor)}x slower, where "
               if slow.exposed_us == 0 else
               f"As specified the intra tier is busy {human_percent(fi)} of the step{relayed} and the inter tier "
               f"{human_percent(fn)}; {SLOW_FACTOR:.0f}x slower the inter tier is busy {human_percent(sn)} against "
               f"{human_percent(si)} for the intra tier, and ")
    return Finding(
        "Your intra-node link idles while the network is saturated: what gradient-accumulation change helps?",
        premise + f"{dur(sat.exposed_us / TIME_SCALE)} of each step waits for the network. At a fixed global batch "
        f"of {inst.global_batch:,} accumulation moves no byte off the network: there is one all-reduce per step "
        f"whatever a is; it only decides how much backward hides the sync (b x {dur(inst.backward_s_per_sample)}, so "
        f"the largest micro-batch that fits hides most). Accumulating more micro-batches per step raises the global "
        f"batch and divides the network time per sample, until the critical batch ({b_crit:,} samples{rounded}; "
        f"McCandlish et al. 2018, E/E_min = 1 + B/B_crit) makes the extra samples cost more than the sync saved: "
        f"{table}. The idle intra-node link is best used as the hierarchy uses it: reduce over it first "
        f"(g = {sat.aggregation}) so each NIC carries M/{sat.aggregation}, and accumulate into the reduce-scattered "
        "shard.")


def _intra_rate(inst: Instance) -> str:
    """The intra link's rate, and on a half-duplex shared channel what each of its devices gets."""
    if not inst.channel_stations:
        return _rate(inst.bw_intra)
    return (f"{_rate(inst.bw_intra)} on one channel its {inst.channel_stations} devices share: "
            f"{_rate(inst.bw_intra / inst.channel_stations)} each")


def _sync_text(inst: Instance, e: Evaluation) -> str:
    """How the sync of evaluation e runs: pipelined or not, and what bounds it."""
    if e.aggregation == 1:
        return f"the flat all-reduce (one phase, nothing to pipeline) takes {dur(e.sync_s)} per step"
    intra_s, inter_s = link_busy_s(inst, e)
    carries = (f"{inst.intra_name} carries {dur(intra_s)} of it: the intra phases"
               + (" and the relayed slow-tier bytes" if inst.relay_fraction > 0 else "")
               + f" take turns on it (half duplex, one channel for the group's {inst.channel_stations} devices: "
               "one of them sends at a time)"
               if inst.intra_half_duplex else
               f"{inst.intra_name} carries {dur(intra_s)} of it in its busier direction")
    binds = intra_s >= inter_s
    if e.chunks == 1:
        why = carries if binds and intra_s >= 0.9 * e.serial_s else \
            "a chunk's latency costs more than overlapping the phases saves"
        return f"the three phases take {dur(e.sync_s)} per step in series (chunking gains nothing: {why})"
    bound = f"; {carries}" if binds and intra_s >= 0.9 * e.sync_s else ""
    return (f"the three phases pipelined over {plural(e.chunks, 'chunk')} take {dur(e.sync_s)} per step "
            f"({dur(e.serial_s)} one after the other{bound})")


def _ring_rate(inst: Instance) -> float:
    """A device's rate onto the slow tier as a ring step sees it: half the path's on a half-duplex link."""
    return float(col.exchange_bandwidth(inst.inter_bandwidth(inst.devices_per_group), inst.inter_exchange_half))


def _duplex_assumption(sc: CollectiveScenario, inst: Instance) -> Assumption:
    """Which phases may overlap on the intra link, and why (its duplex)."""
    if inst.intra_half_duplex:
        return Assumption(f"{sc.intra.name} is half duplex and shared: the {inst.channel_stations} devices of a group "
                          f"share one channel at the catalog's {_rate(inst.bw_intra)} (a channel rate), one "
                          "transmitter at a time, so an intra phase takes the bytes all of them send over that rate "
                          "(a ring phase (S/g)(g-1) M/B, S times the full-duplex term) and the two intra phases"
                          + (" and the slow-tier bytes relayed over it (up and down, for every device of the group)"
                             if inst.inter_relayed else "")
                          + " take turns on it and cannot overlap when pipelined; peers reach each other in one "
                          "transmission (through an access point or a piconet's central it would be two)",
                          sc.intra.duplex_source + "; explorer/cost/collectives.py "
                          "shared_channel_phase_time (Bianchi, IEEE JSAC 2000; Zhu, Wang & Huang, IEEE TWC 2020)")
    return Assumption(f"{sc.intra.name} is full duplex: a device's send and receive directions are separate, so a "
                      "tree's reduce (up) and broadcast (down) overlap when pipelined; a ring's reduce-scatter and "
                      "all-gather both send (g-1)/g M from every device and take turns on its send direction",
                      (sc.intra.duplex_source or "hardware/data/links.toml duplex") + "; explorer/cost/collectives.py "
                      "hierarchical_phase_shares; Patarasuk & Yuan 2009; Jeaugey 2019 (NCCL 2.4 trees)")


TIE_BREAK = "the shortest sync (the pipelined two-tier time), then the fewest accumulation steps"


def _tie_short(best: Evaluation, ranked: list[Evaluation], proven: bool = True) -> str:
    """The tie in one sentence for the headline ('' without one)."""
    tied = [e for e in ranked if e.exposed_us == best.exposed_us]
    if len(tied) <= 1:
        return ""
    flat = best.aggregation != 1 and any(e.aggregation == 1 for e in tied)
    return (f"The objective ties ({len(tied)} of {len(ranked)} feasible plans"
            + (", the flat ring g = 1 among them" if flat else "")
            + (", all optimal" if proven else ", all as good as the best found")
            + "); the shortest sync breaks the tie.")


def _tie_text(inst: Instance, best: Evaluation, ranked: list[Evaluation], proven: bool = True) -> str:
    """The objective's tie, said where there is one: how many feasible plans expose as little as the answer (the flat
    all-reduce among them, if it does), and the tie-break that picks the answer and what it buys. An attempt grader
    compares the objective, so every tied plan 'reaches the optimum'; the report says the same."""
    tied = [e for e in ranked if e.exposed_us == best.exposed_us]
    if len(tied) <= 1:
        return ""
    flat = [e for e in tied if e.aggregation == 1]
    exposed = dur(best.exposed_us / TIME_SCALE) if best.exposed_us else "no communication"
    return (f"The objective ties: {len(tied)} of the {len(ranked)} feasible plans expose {exposed}"
            + (f", the flat ring (g = 1) among them ({dur(min(e.sync_s for e in flat))} per sync at best)"
               if flat and best.aggregation != 1 else "")
            + (", and every one of them reaches the optimum" if proven else
               ", and every one of them is as good as the best found (not proven optimal)")
            + f"; the tie-break, {TIE_BREAK}, picks this one"
            + (f" ({dur(best.sync_s)}), which keeps the most backward time to spare should the compute that hides "
               "the sync shrink." if not best.exposed_us else "."))


def _headline(inst: Instance, best: Evaluation, flat_short: str, mult: float, slow_mult: float,
              lab_mult: float | None) -> str:
    local = (f"Aggregate g = {best.aggregation} devices locally ({NAMES[best.intra]}), " if best.aggregation > 1
             else "No local aggregation (g = 1, flat), ")
    steps = plural(best.accumulation, "accumulation step")
    if lab_mult is not None:
        vs = (f"{_versus(mult, 'the flat all-reduce as NCCL runs it')} ({_versus(lab_mult, 'the textbook flat ring')})")
    else:
        vs = _versus(mult, "a flat ring")
    piped = (" with the tiers pipelined" if best.chunks > 1 else " with the tiers in series") if best.aggregation > 1 \
        else ""
    return (f"{local}{NAMES[best.inter]} across the {inst.slow_tier}, {steps}: {dur(best.sync_s)} per sync{piped}, "
            f"{vs}; {human_number(slow_mult)}x if the {inst.slow_tier} were {SLOW_FACTOR:.0f}x slower than the "
            f"{inst.fast_tier}" + (f" ({_faster_than_given(inst)})" if _faster_than_given(inst) else "") + ".")


def _faster_than_given(inst: Instance) -> str:
    """Where the given slow tier is already slower than 1/SLOW_FACTOR of the fast tier, the lab's what-if makes it
    faster, not slower: say so beside the figure."""
    slow_bw = inst.bw_intra / SLOW_FACTOR
    return (f"which is faster than the {_rate(inst.bw_inter)} given: the what-if speeds it up"
            if inst.bw_inter < slow_bw * (1 - 1e-9) else "")


def _versus(ratio: float, what: str) -> str:
    """'1.04x faster than X', 'as fast as X', '0.8x the speed of X (slower)': a ratio below 1 is never faster."""
    if abs(ratio - 1.0) < 0.005:
        return f"as fast as {what}"
    if ratio > 1.0:
        return f"{human_number(ratio)}x faster than {what}"
    return f"{human_number(ratio)}x the speed of {what} (slower)"


def _verdict(slow_mult: float, mult: float) -> str:
    if slow_mult < 1.05:
        return "No"
    return "Yes, and more than today" if slow_mult > mult * 1.05 else "Yes"


def _tier_topology(inst: Instance, g: int) -> dict[str, Any]:
    """Drawing data (layout only): groups on a circle, devices around their group, intra and inter edges."""
    import math

    groups = inst.devices // inst.devices_per_group
    show = min(groups, 16)
    pos, edges, tiers = [], [], []
    for k in range(show):
        cx, cy = math.cos(2 * math.pi * k / show), math.sin(2 * math.pi * k / show)
        base = len(pos)
        d = inst.devices_per_group
        for j in range(d):
            r = 0.12 if d > 1 else 0.0
            pos.append([cx + r * math.cos(2 * math.pi * j / d), cy + r * math.sin(2 * math.pi * j / d)])
        for j in range(d):
            if d > 1 and (d > 2 or j == 0):
                edges.append([base + j, base + (j + 1) % d])
                tiers.append("intra")
    for k in range(show):  # the slow tier links each group's first `g`-aggregated representative ring-wise
        if show > 1:
            edges.append([k * inst.devices_per_group, ((k + 1) % show) * inst.devices_per_group])
            tiers.append("inter")
    return {"kind": "tiers", "positions": pos, "edges": edges, "edge_tiers": tiers,
            "caption": f"{groups} groups of {inst.devices_per_group} ({inst.intra_name} inside, {inst.inter_name} "
                       f"between){'; first 16 groups shown' if groups > show else ''}; aggregation g = {g}"}


# --- attempts -------------------------------------------------------------------------------------
def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """The algorithms a file may leave out: the ring on both tiers (the flat baseline's algorithm)."""
    return {"intra_algorithm": "ring", "inter_algorithm": "ring"}


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named column takes (`explore attempts template`): the algorithms _parse accepts, the ones the
    solvers search (INTRA inside a node, INTER between nodes), on every track."""
    return {"intra_algorithm": list(INTRA), "inter_algorithm": list(INTER)}


def _parse(values: dict[str, Any]) -> tuple[int, str, str, int]:
    values = {**attempt_defaults(), **{k: v for k, v in values.items() if v not in (None, "")}}
    missing = [k for k in ATTEMPT_VARIABLES if k not in values]
    if missing:
        raise UsageError(f"attempt is missing {', '.join(missing)}")
    try:
        g = int(float(values["aggregation"]))
        a = int(float(values["accumulation"]))
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"aggregation and accumulation must be whole numbers, got {values['aggregation']!r}, "
                         f"{values['accumulation']!r}") from None
    names = {k: str(values[k]).strip().lower() for k in ("intra_algorithm", "inter_algorithm")}
    for k, valid in attempt_choices().items():
        if names[k] not in valid:
            raise UsageError(f"{k} {names[k][:40]!r} unknown; valid: {', '.join(valid)}")
    return g, names["intra_algorithm"], names["inter_algorithm"], a


def evaluate_attempt(values: dict[str, Any], track: str = "cloud", **options: Any) -> dict[str, Any]:
    """Score a student's (aggregation, intra, inter, accumulation) with the same evaluator as the optimum
    (`evaluate`, from which CP-SAT's tables and the exhaustive search are built); values outside the choices
    the solvers search (candidates) are said to be so."""
    inst = make_instance(get_scenario(track), **{k: v for k, v in options.items()
                                                 if k in ("message_bytes", "inter_bandwidth_bps", "global_batch")})
    g, intra, inter, a = _parse(values)
    outside = []
    if g not in inst.aggregation_choices:
        outside.append(f"aggregation = {g} is outside the searched space, g in "
                       f"{', '.join(map(str, inst.aggregation_choices))}")
    if not 1 <= a <= inst.max_accumulation:
        outside.append(f"accumulation = {a} is outside the searched space, accumulation <= {inst.max_accumulation}")
    gs = list(inst.aggregation_choices)
    if outside:
        near = min(gs, key=lambda x: abs(x - g))
        return {"feasible": False, "figures": {}, "violations": [], "outside_space": outside, "objective": None,
                "objective_name": "exposed_comm_s", "sense": "min",
                "neighbours": [{"aggregation": near, "intra_algorithm": intra, "inter_algorithm": inter,
                                "accumulation": min(max(a, 1), inst.max_accumulation)}]}
    e = evaluate(inst, g, intra, inter, a)
    nb = []
    i = gs.index(g)
    for j in (i - 1, i + 1):
        if 0 <= j < len(gs):
            nb.append({**e.config, "aggregation": gs[j]})
    nb += [{**e.config, "intra_algorithm": x} for x in INTRA if x != intra]
    nb += [{**e.config, "inter_algorithm": x} for x in INTER if x != inter]
    nb += [{**e.config, "accumulation": x} for x in (a // 2, a * 2) if 1 <= x <= inst.max_accumulation and x != a]
    return {
        "feasible": e.feasible,
        "figures": {"sync_time_s": Figure(e.sync_s, "s", "two-tier AllReduce time"),
                    "exposed_comm_s": Figure(e.exposed_us / TIME_SCALE, "s", "exposed communication per step"),
                    "memory_bytes": Figure(e.memory_bytes, "B", "memory per device"),
                    "micro_batch": Figure(e.micro_batch, "", "micro-batch per device")},
        "violations": list(e.violations),
        "outside_space": [],
        "objective": e.exposed_us / TIME_SCALE,
        "objective_name": "exposed_comm_s",
        "sense": "min",
        "neighbours": nb,
    }
