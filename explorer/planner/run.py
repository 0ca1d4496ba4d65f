"""`explore plan`: the cheapest (or fastest) way to train a model on a token budget.

Candidates are (GPU type, GPU count, network) triples, bounded (at most MAX_CANDIDATES). Each is
first tested against two bounds that need no solve, then solved by the 3D puzzle (CP-SAT, proven
optimum of the step model), then costed over the whole run with goodput (explorer/cost/goodput.py):
- deadline: even at 100% MFU and no failures, tokens x FLOPs per token / (N x peak) exceeds it;
- memory: weights + gradients + optimizer state sharded over all N GPUs (ZeRO-3's floor) exceed HBM.
Both are lower bounds of the cost model, so a skipped candidate could not have met the constraint.
A stack a candidate's part cannot run (FP8 on an A100) makes it 'cannot run'; a stack no part runs (options
that conflict whatever the GPU) is a usage error, raised before any table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from explorer import validation as V
from explorer.cost.goodput import (
    Goodput,
    checkpoint_bytes,
    checkpoint_write_s,
    goodput,
    job_mtbf_s,
    run_cost_usd,
    time_to_train_s,
)
from explorer.cost.memory import full_model_state_bytes
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.hardware.catalog import get_link
from explorer.planner.inputs import ModelChoice, RunAssumptions, cluster_options, fraction, network_problem
from explorer.units import human_number

MAX_CANDIDATES = 128
DEFAULT_SIZES = tuple(8 * 2**k for k in range(14))  # 8 .. 65,536 GPUs
MAX_GPUS = 131072
OBJECTIVES = ("cost", "time")
DAY = 86400.0


BEST_OF_TRIED = "best of the candidates tried"  # a plan's status: the cluster is chosen among those listed
CANNOT_RUN = "cannot run"  # a candidate's part cannot run the stack asked for (make_setup refused it)


@dataclass
class Candidate:
    """One (GPU type, count, network): its proven plan, goodput, time to train and dollars."""

    gpu: str
    gpus: int
    network: str
    status: str  # optimal | feasible (time limit) | infeasible | no answer (time limit) | skipped | cannot run
    reason: str = ""
    result: Any = None  # ThreeDResult
    goodput: Goodput | None = None
    train_s: float | None = None
    usd: float | None = None
    usd_per_hour: float = 0.0
    solve_s: float = 0.0
    meets: bool = False
    # what the 3D solve proved, kept when the run's costing then refuses the plan (the goodput floor): "optimal",
    # "feasible" (time limit), "infeasible" (proven: no plan fits), "no answer" (time limit); "" when not solved
    proof: str = ""

    @property
    def solved(self) -> bool:
        return self.status in ("optimal", "feasible")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"gpu": self.gpu, "gpus": self.gpus, "network": self.network, "status": self.status,
                             "proof": self.proof,
                             "reason": self.reason, "solve_time_s": self.solve_s, "meets_constraints": self.meets,
                             "usd_per_gpu_hour": self.usd_per_hour}
        if self.solved:
            b = self.result.best
            g = self.goodput
            d.update(plan=b.plan.as_dict(), plan_text=b.plan.describe(), mfu=b.mfu, step_time_s=b.step_time_s,
                     tokens_per_s=b.tokens_per_s, memory_gb=b.memory_total / 1e9,
                     goodput=g.goodput, job_mtbf_s=g.mtbf_s, checkpoint_s=g.checkpoint_s, restart_s=g.restart_s,
                     checkpoint_interval_s=g.interval_s, checkpoint_interval_young_s=g.young_s,
                     train_days=self.train_s / DAY, usd=self.usd)
        return d


@dataclass
class TrainingPlan:
    """All candidates of a plan, the choice, and how much proving it took."""

    model: ModelChoice
    tokens: float
    global_batch: int
    seq_len: int
    objective: str
    deadline_s: float | None
    budget_usd: float | None
    assumptions: RunAssumptions
    candidates: list[Candidate]
    best: Candidate | None
    proofs: int
    proofs_s: float
    flops_per_token: float
    gpu_types: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was merged from the inputs (aliases of one part)
    sizes: list[int] = field(default_factory=list)  # the GPU counts tried
    networks: list[str] | None = None  # the networks tried (None: each GPU node's own)
    defaults: set[str] = field(default_factory=set)  # which of "gpu", "sizes", "network" were not given

    def searched(self) -> dict[str, Any]:
        """What the plan searched: GPU types, sizes and networks, and which of them were the defaults."""
        own = {c.gpu: c.network for c in self.candidates}
        return {"gpu_types": list(self.gpu_types), "sizes": list(self.sizes),
                "networks": list(self.networks) if self.networks else None,
                "node_networks": {g: own[g] for g in self.gpu_types if g in own} if not self.networks else None,
                "candidates": len(self.candidates), "defaults": sorted(self.defaults)}

    @property
    def status(self) -> str:
        """'infeasible' (no candidate meets the constraints), else BEST_OF_TRIED: the choice is the minimum over the
        candidates tried (the listed sizes, GPU types and networks), not a proof over every cluster; what is proven
        is each candidate's 3D plan (plan_status)."""
        return "infeasible" if self.best is None else BEST_OF_TRIED

    @property
    def plan_status(self) -> str | None:
        """The best candidate's 3D-plan status: 'optimal' (proven for that cluster) or 'feasible' (time limit)."""
        return None if self.best is None else self.best.status

    def best_per_gpu(self) -> dict[str, Candidate]:
        out: dict[str, Candidate] = {}
        for c in self.candidates:
            if c.meets and (c.gpu not in out or _rank(c, self.objective) < _rank(out[c.gpu], self.objective)):
                out[c.gpu] = c
        return out

    def trust(self) -> dict[str, Any]:
        """How far to trust the best candidate's figures: explorer.accuracy's lines for its framework, GPU family,
        precision and size; the model's stated error (out-of-sample misses on published runs); the largest published
        run of its GPU family; and how much room the deadline and the budget leave, against that error. {} when no
        candidate meets the constraints."""
        from explorer.accuracy import accuracy_line, ceiling_line, scale_line

        b = self.best
        if b is None:
            return {}
        setup, e = b.result.instance.setup, b.result.best
        acc = setup.cluster.accelerator
        err = model_error(e.plan.framework, acc.key, setup.precision)
        out: dict[str, Any] = {
            "accuracy": accuracy_line(e.plan.framework, acc.key, acc.name, setup.precision),
            "ceiling": ceiling_line(e.mfu, acc.key, setup.precision, setup.model.params),
            "scale": scale_line(b.gpus, acc.key), "model_error": err,
            "largest_published_run": largest_published_run(acc.key), "margins": {}}
        if self.deadline_s is not None:
            out["margins"]["deadline"] = self.deadline_s / b.train_s - 1.0
        if self.budget_usd is not None:
            out["margins"]["budget"] = self.budget_usd / b.usd - 1.0
        return out

    def proof_counts(self) -> dict[str, int]:
        """What the CP-SAT solves proved, counted by the solve's own outcome (Candidate.proof), and how many proven
        optima the run's costing then refused (goodput below its floor)."""
        c = self.candidates
        return {"solves": self.proofs, "proven_optimal": sum(x.proof == "optimal" for x in c),
                "proven_infeasible": sum(x.proof == "infeasible" for x in c),
                "not_proven": sum(x.proof in ("feasible", "no answer") for x in c),
                "refused_by_goodput": sum(x.proof in ("optimal", "feasible") and not x.solved for x in c),
                "skipped_by_bounds": sum(x.status == "skipped" for x in c),
                "cannot_run": sum(x.status == CANNOT_RUN for x in c)}

    def trade_off(self) -> dict[str, Candidate | None]:
        """When no candidate meets the constraints: among the candidates costed, the fastest within the budget and
        the cheapest within the deadline (each None when none is), and the fastest and the cheapest of all."""
        costed = [c for c in self.candidates if c.solved and c.usd is not None]
        out: dict[str, Candidate | None] = {"fastest": min(costed, key=lambda c: c.train_s, default=None),
                                            "cheapest": min(costed, key=lambda c: c.usd, default=None)}
        if self.budget_usd is not None:
            out["fastest_within_budget"] = min((c for c in costed if c.usd <= self.budget_usd),
                                               key=lambda c: c.train_s, default=None)
        if self.deadline_s is not None:
            out["cheapest_within_deadline"] = min((c for c in costed if c.train_s <= self.deadline_s),
                                                  key=lambda c: c.usd, default=None)
        return out

    def near_tie(self) -> dict[str, Any] | None:
        """A candidate that meets the constraints, is within the model's median miss of the best on the objective,
        and beats it on the other axis by more than that miss (cost: faster; time: cheaper): the best is then not
        told apart from it by the model, and the other axis may matter more. The one best on that axis; None when
        there is none or no published run states the model's error there. The objective is not changed."""
        b = self.best
        if b is None:
            return None
        err = model_error(b.result.best.plan.framework, b.gpu, b.result.instance.setup.precision)
        if err is None:
            return None
        tol = err["median"]
        goal, other = ("usd", "train_s") if self.objective == "cost" else ("train_s", "usd")
        near = [c for c in self.candidates if c.meets and c is not b
                and getattr(c, goal) <= getattr(b, goal) * (1 + tol)
                and getattr(b, other) > getattr(c, other) * (1 + tol)]
        if not near:
            return None
        c = min(near, key=lambda x: (getattr(x, other), getattr(x, goal)))
        return {"candidate": c, "gpu": c.gpu, "gpus": c.gpus, "network": c.network,
                "objective_excess": getattr(c, goal) / getattr(b, goal) - 1.0,
                "other_gain": getattr(b, other) / getattr(c, other), "median_error": tol, "runs": err["rows"],
                "uncovered": err["uncovered"]}

    def to_dict(self) -> dict[str, Any]:
        from explorer.planner.narrate import plan_dict

        return plan_dict(self)

    def to_text(self) -> str:
        from explorer.planner.narrate import plan_text

        return plan_text(self)


def model_error(framework: str, gpu_key: str, precision: str) -> dict[str, Any] | None:
    """The cost model's stated error where a plan runs: the out-of-sample misses of its throughput on the published
    runs of `framework` on `gpu_key`'s GPU family (explorer/data/reference/accuracy.json, as explorer.accuracy's
    accuracy_line reads it: the FP8 runs for an FP8 plan where there are any, else all): {'median', 'max' (|error|,
    fractions), 'rows', 'family'}; None where no published run was checked. A time or a cost is proportional to
    1 / throughput, so a run whose throughput the model overestimates by e takes (1 + e) times the predicted time."""
    from explorer.accuracy import ALL_PRECISIONS, FAMILY_OF, stored

    family = FAMILY_OF.get(gpu_key)
    groups = [g for g in stored()["groups"] if g["framework"] == framework and g["family"] == family]
    by = {g["precision"]: g for g in groups}
    g = (by.get("fp8") if precision == "fp8" else None) or by.get(ALL_PRECISIONS)
    if g is None:
        return None
    # whether those runs check this precision's speed at all (accuracy_line's caveats): an FP8 plan where none of
    # them trained in FP8, or a 16-bit plan where all of them did
    uncovered = ("none of them trained in FP8" if precision == "fp8" and "fp8" not in by else
                 "all of them trained in FP8" if precision != "fp8" and by.get("fp8", {}).get("rows") == g["rows"]
                 else "")
    return {"median": g["median_abs_error"], "max": g["max_abs_error"], "rows": g["rows"], "family": family,
            "uncovered": uncovered}


@cache
def largest_published_run(gpu_key: str) -> dict[str, Any] | None:
    """The most GPUs of any published run of `gpu_key`'s GPU family that `explore validate` judges the model on (the
    compared rows of the shipped throughput tables): {'gpus', 'table', 'accelerator', 'family'}; None when the
    family has none. A plan on more GPUs than that extrapolates past everything the model was checked against."""
    from explorer.accuracy import FAMILY_OF
    from explorer.validate import compared_rows, load_table, table_names

    family = FAMILY_OF.get(gpu_key)
    if family is None:
        return None
    best: dict[str, Any] | None = None
    for name in table_names():
        spec, _, rows = load_table(name)
        if spec["kind"] != "throughput" or FAMILY_OF.get(spec["accelerator"]) != family:
            continue
        for r in compared_rows(spec, rows):
            n = int(float(r.get("gpus") or 0))
            if best is None or n > best["gpus"]:
                best = {"gpus": n, "table": name, "accelerator": spec["accelerator"], "family": family}
    return best


def _rank(c: Candidate, objective: str) -> tuple:
    return (c.usd, c.train_s, c.gpus) if objective == "cost" else (c.train_s, c.usd, c.gpus)


def plan_training(model: ModelChoice, tokens: float, *, gpu_types: list[str] | None = None,
                  sizes: list[int] | None = None,
                  networks: list[str] | None = None, deadline_days: float | None = None,
                  budget_usd: float | None = None, objective: str = "cost", global_batch: int | None = None,
                  seq_len: int | None = None, max_bubble: float = 0.10, time_limit: float | None = None,
                  assumptions: RunAssumptions, stack: dict[str, Any] | None = None) -> TrainingPlan:
    """Solve every candidate that the bounds leave, cost it with goodput, pick the best.

    `gpu_types` None: every GPU type with a price in training_run.toml (default_gpu_types); `sizes` None: DEFAULT_SIZES;
    `networks` None: each GPU node's own. The plan records which of them were defaults (TrainingPlan.searched).
    `stack`: the software stack of the 3D solves (make_setup and solve_3d keywords: precision, flash_attention,
    ..., framework, grad_reduce_dtype, in_network_reduction)."""
    from explorer.puzzles.threed import make_setup
    from explorer.tracks import get_track

    if objective not in OBJECTIVES:
        raise UsageError(f"objective {objective!r} unknown; valid: {', '.join(OBJECTIVES)}")
    tokens = V.PLAN_TOKENS.check("tokens", tokens)
    max_bubble = fraction("max-bubble", max_bubble, lo_open=False)  # [0, 1]: 0 asks for no bubble (PP = 1)
    deadline_days = V.DEADLINE_DAYS.check("deadline-days", deadline_days)
    budget_usd = V.BUDGET_USD.check("budget-usd", budget_usd)
    defaults = {k for k, v in (("gpu", gpu_types), ("sizes", sizes), ("network", networks)) if v is None}
    if gpu_types is None:
        gpu_types = default_gpu_types()
    if not gpu_types:
        raise UsageError("give at least one GPU type (--gpu h100,b200)")
    if sizes is not None and not list(sizes):  # None: the default sizes; an empty list is no size at all
        raise UsageError(f"give at least one GPU count (--gpus 64,128), or leave --gpus out for the default "
                         f"{DEFAULT_SIZES[0]:,}-{DEFAULT_SIZES[-1]:,}")
    if networks is not None and not list(networks):
        raise UsageError("give at least one network (--network ib_ndr), or leave --network out for each GPU "
                         "node's own")
    # two names of one part (h100, h100_sxm) or one network (ib_ndr, ndr) would solve every candidate twice
    notes: list[str] = []
    gpu_types = _distinct(gpu_types, lambda g: cluster_options(g)["gpu"], "part", notes)
    if networks:
        networks = _distinct(networks, lambda n: get_link(n).key, "network", notes)
    sizes = list(sizes if sizes is not None else DEFAULT_SIZES)
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_GPUS:
            raise UsageError(f"GPU counts must be whole numbers in [1, {MAX_GPUS:,}], got {n!r}")
    nets: list[str | None] = list(networks) if networks else [None]
    keys = [cluster_options(g)["gpu"] for g in gpu_types]
    for net in networks or []:  # a network no GPU type given can be joined by (NVLink, a radio, too fast a NIC)
        problems = [network_problem(k, net) for k in keys]
        if all(problems):
            raise UsageError(problems[0])
    total = len(gpu_types) * len(sizes) * len(nets)
    if total > MAX_CANDIDATES:
        raise UsageError(f"{len(gpu_types)} GPU types x {len(sizes)} sizes x {len(nets)} networks = {total} "
                         f"candidates; at most {MAX_CANDIDATES}")
    gb = assumptions.global_batch if global_batch is None else global_batch
    # never past the model's own context by default (GPT-3: 2,048 learned positions)
    seq = min(assumptions.seq_len, model.model.max_seq) if seq_len is None else seq_len
    if tokens < gb * seq:  # less than one step: '0 steps' and a run of a fraction of a step, priced as a run
        raise UsageError(f"--tokens {tokens:,.0f} is less than one step of {gb:,} sequences x {seq:,} tokens = "
                         f"{gb * seq:,} tokens; give at least that, or a smaller --global-batch or --seq-len")
    track = get_track("cloud")
    stack = dict(stack or {})
    deadline_s = deadline_days * DAY if deadline_days is not None else None
    cands: list[Candidate] = []
    proofs, proofs_s = 0, 0.0
    flops_tok = None
    for gpu in gpu_types:
        for net in nets:
            key = cluster_options(gpu)["gpu"]
            problem = network_problem(key, net) if net else ""
            if problem:  # another GPU type of the list joins this network: this one's candidates cannot run
                cands += [Candidate(gpu=key, gpus=n, network=get_link(net).key, status=CANNOT_RUN,
                                    reason=problem.split(": ", 1)[1]) for n in sorted(sizes)]
                continue
            opts = cluster_options(gpu, net)
            price = assumptions.price(opts["gpu"]).usd_per_gpu_hour
            for n in sorted(sizes):
                c = Candidate(gpu=opts["gpu"], gpus=n, network=opts["network"], status="skipped", usd_per_hour=price)
                cands.append(c)
                whole = _whole_nodes(opts, n)
                if whole:
                    c.status, c.reason = CANNOT_RUN, whole
                    continue
                try:
                    setup = make_setup(track, model=model.model, gpus=n, seq_len=seq, **opts, **stack)
                except UsageError as exc:  # the part cannot run this stack (no FP8 peak, ...): not a bound
                    c.status, c.reason = CANNOT_RUN, str(exc)
                    continue
                flops_tok = setup.model.model_flops_per_token(seq)
                reason = _bound(setup, n, tokens * flops_tok, deadline_s)
                if reason:
                    c.reason = reason
                    continue
                t0 = time.perf_counter()
                _solve(c, model, track, {**opts, **stack}, n, gb, seq, max_bubble, time_limit)
                c.solve_s = time.perf_counter() - t0
                proofs += 1
                proofs_s += c.solve_s
                if c.solved:
                    _cost(c, setup, tokens, assumptions, deadline_s, budget_usd)
    if cands and all(c.status == CANNOT_RUN for c in cands):
        _refuse_a_stack_no_part_runs(cands[0], model, track, seq, sorted(sizes)[0], stack)
    ok = [c for c in cands if c.meets]
    best = min(ok, key=lambda c: _rank(c, objective)) if ok else None
    if flops_tok is None:
        flops_tok = model.model.model_flops_per_token(seq)
    return TrainingPlan(model=model, tokens=float(tokens), global_batch=gb, seq_len=seq, objective=objective,
                        deadline_s=deadline_s, budget_usd=budget_usd, assumptions=assumptions, candidates=cands,
                        best=best, proofs=proofs, proofs_s=proofs_s, flops_per_token=flops_tok,
                        gpu_types=[cluster_options(g)["gpu"] for g in gpu_types], notes=notes,
                        sizes=sorted(sizes), networks=list(networks) if networks else None, defaults=defaults)


def default_gpu_types() -> list[str]:
    """The GPU types plan searches when none is given: every one with a price in training_run.toml (H100 SXM, H200,
    A100 80GB, B200), so that the default answer is chosen among GPU types too, not only among H100 cluster sizes.
    Four types x 14 sizes = 56 candidates, at most 56 CP-SAT solves of about a second or less each."""
    from explorer.planner.inputs import _raw

    return list(_raw()["prices"])


def _distinct(names: list[str], key, what: str, notes: list[str]) -> list[str]:
    """`names` with each catalog entry once (the first spelling kept), and a note per entry named more than once
    ('h100 and h100_sxm are the same part')."""
    seen: dict[str, list[str]] = {}
    for name in names:
        seen.setdefault(key(name), []).append(name)
    for spellings in seen.values():
        if len(spellings) > 1:
            notes.append(f"{', '.join(spellings[:-1])} and {spellings[-1]} are the same {what}; solved once")
    return [v[0] for v in seen.values()]


def _whole_nodes(opts: dict, n: int) -> str:
    """Why `n` GPUs are not a cluster of this node ('' when they are): above one node a cluster is whole nodes (the
    3D plan's groups and the inter-node network are laid out per node, hardware/data/nodes.toml); below one node, a
    part of one node is taken, priced per GPU-hour (partial_node says so)."""
    d = opts["gpus_per_node"]
    if n <= d or n % d == 0:
        return ""
    from explorer.hardware.catalog import node_for_accelerator

    name = node_for_accelerator(opts["gpu"]).name
    return (f"{n:,} GPUs are not whole {d}-GPU {name} nodes: above one node a cluster is whole nodes "
            f"({d * (n // d):,} or {d * (n // d + 1):,}); below one node ({d - 1} or fewer) a part of one node")


def partial_node(c: Candidate) -> str:
    """A sentence when candidate `c` is part of one node ('' when it is whole nodes)."""
    from explorer.hardware.catalog import node_for_accelerator

    node = node_for_accelerator(c.gpu)
    if node is None or c.gpus >= node.devices:
        return ""
    return (f"{c.gpus:,} GPUs are part of one {node.devices}-GPU {node.name} node: priced per GPU-hour as a cloud "
            f"rents a share of a node, their links all inside the node ({node.intra_link}); above one node a cluster "
            f"is whole nodes")


def _refuse_a_stack_no_part_runs(first: Candidate, model: ModelChoice, track, seq: int, n: int,
                                 stack: dict[str, Any]) -> None:
    """Every candidate 'cannot run': when no GPU type of the catalog runs the stack either (options that conflict
    whatever the part: --attention-kernel with --no-flash-attention, --tp-comm-overlap under DeepSpeed, a
    sequence past the model's learned positions), the conflict is the user's, and is refused as make_setup refuses
    it (a usage error) instead of a table of 'cannot run'. A part that does run it (FP8 on an H100, not an A100)
    makes the reason the part's: the candidates keep their 'cannot run'."""
    from explorer.planner.inputs import datacenter_parts
    from explorer.puzzles.threed import make_setup

    for gpu in datacenter_parts():
        try:
            make_setup(track, model=model.model, gpus=n, seq_len=seq, **cluster_options(gpu), **stack)
        except UsageError:
            continue
        return  # this part runs the stack: the candidates' parts cannot, a reason of theirs
    raise UsageError(first.reason)


def _bound(setup, n: int, total_flops: float, deadline_s: float | None) -> str:
    """Why a candidate cannot meet the constraints whatever its plan ('' when it might)."""
    state = full_model_state_bytes(setup)
    if state / n > setup.memory_limit_bytes:
        return (f"memory: weights, gradients and optimizer state alone, fully sharded, need {state / n / 1e9:,.1f} GB "
                f"per GPU on {n:,} GPUs > {setup.memory_limit_bytes / 1e9:.1f} GB usable")
    if deadline_s is not None:
        floor = total_flops / (n * setup.peak_flops)
        if floor > deadline_s:
            return (f"deadline: even at 100% MFU and no failures {n:,} GPUs take {floor / DAY:,.1f} days > "
                    f"the deadline of {deadline_s / DAY:g} days")
    return ""


def _solve(c: Candidate, model: ModelChoice, track, opts: dict, n: int, gb: int, seq: int, max_bubble: float,
           time_limit: float | None) -> None:
    from explorer.puzzles.threed import solve_3d

    try:
        c.result = solve_3d(track, model=model.model, gpus=n, global_batch=gb, seq_len=seq, max_bubble=max_bubble,
                            explain=False, top=1, time_limit=time_limit, **opts)
        c.status = c.result.status
    except InfeasibleError as exc:
        c.status, c.reason = "infeasible", str(exc).removeprefix("infeasible: ")
    except NoAnswerError as exc:  # the time limit, not a proof: never "infeasible"
        c.status, c.reason = "no answer", str(exc)
    c.proof = c.status


def _cost(c: Candidate, setup, tokens: float, a: RunAssumptions, deadline_s: float | None,
          budget_usd: float | None) -> None:
    """Goodput (failures, checkpoint write and read-back, restart), time to train and dollars."""
    nodes = max(1, math.ceil(c.gpus / setup.cluster.devices_per_node))
    state = checkpoint_bytes(setup.model.params, setup.weight_bytes, setup.optimizer_bytes)
    write = checkpoint_write_s(state, nodes, a.node_write_bps, a.storage_write_bps)
    try:
        c.goodput = goodput(write, a.restart_s + write, job_mtbf_s(a.failure_rate_per_gpu_s, c.gpus))
    except InfeasibleError as exc:  # the figures behind the times, so the option to change can be read off
        rate = min(nodes * a.node_write_bps, a.storage_write_bps)
        by = ("the storage system's aggregate, --storage-write-gbps" if rate == a.storage_write_bps else
              f"{nodes:,} nodes x {a.node_write_bps / 1e9:g} GB/s per node")
        c.status, c.result = "infeasible", None
        c.reason = (f"{exc}; checkpoint {state / 1e9:,.1f} GB at {rate / 1e9:g} GB/s ({by}), restart "
                    f"{a.restart_s:g} s (--restart-s) + reading it back; job MTBF = per-GPU MTBF "
                    f"{human_number(a.gpu_mtbf_hours)} h (--gpu-mtbf-hours) / {c.gpus:,} GPUs")
        return
    c.train_s = time_to_train_s(tokens, c.result.best.tokens_per_s, c.goodput.goodput)
    c.usd = run_cost_usd(c.gpus, c.train_s, c.usd_per_hour)
    why = []
    if deadline_s is not None and c.train_s > deadline_s:
        why.append("deadline")
    if budget_usd is not None and c.usd > budget_usd:
        why.append("budget")
    c.meets = not why
    c.reason = "over " + " and ".join(why) if why else ""
