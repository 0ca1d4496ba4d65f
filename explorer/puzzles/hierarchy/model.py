"""The hierarchy puzzle's figures and search: the two-tier all-reduce of a configuration (phases, their pipelining and
the link resources they share, from explorer/cost/collectives), the solver-independent evaluator (`evaluate`), the
exhaustive search over the same choices and the lexicographic CP-SAT model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

from explorer.cost import collectives as col
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.puzzles.hierarchy.scenario import INTER, INTRA, Instance
from explorer.report import Constraint
from explorer.units import human_sci

if TYPE_CHECKING:
    from collections.abc import Iterator


TIME_SCALE = 1e6  # CP-SAT times are integer microseconds


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
                                     text=f"N x b x a = G needs a whole micro-batch b; G/(N a) = {human_sci(b)}"))
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
