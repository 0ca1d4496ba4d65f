"""Lab 05 part 2, the parallelism puzzle: the DP x PP x TP (x CP) x micro-batch split that fits
in memory with the pipeline bubble under a limit at the highest MFU, proven optimal by CP-SAT.

Objective: the shortest step. With the model, global batch and device count fixed, the model
FLOPs per step are fixed, so the shortest step is the highest MFU (docs/conventions.md, "Utilisation").
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer import validation as V
from explorer.cost.frameworks import (
    DEFAULT_FRAMEWORK,
    attention_kernel_default,
    framework_choice,
    frameworks_for,
    stack_layout_default,
    tp_overlap_default,
)
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.setup import Setup
from explorer.cost.step import StepEstimate, estimate
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.hardware.catalog import cluster_with
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import ZERO_STAGES, ParallelPlan
from explorer.puzzles.threed_space import (
    FRAMEWORK_CODES,
    FRAMEWORK_NAMES,
    Instance,
    Space,
    build_space,
    degree_moves,
    structural_conflict,
)
from explorer.solvers import cpsat
from explorer.tracks import Track, get_track
from explorer.units import plural

if TYPE_CHECKING:
    import pandas as pd

    from explorer.report import Report


RC_NAMES = {v: k for k, v in RECOMPUTE_CODES.items()}
# Measured with benchmarks/bench_search.py on the cloud default: presolve and LP relaxation of the
# product constraints cost more than they prune on this table-driven model (about 3x slower with
# them); one worker keeps the answer deterministic (answer keys are byte-identical).
CPSAT_PARAMS = {"cp_model_presolve": False, "linearization_level": 0}
ENGINES = ("cpsat", "enumerate")
ATTEMPT_VARIABLES = ["tp", "pp", "dp", "micro_batch", "cp", "virtual_stages", "zero", "recompute",
                     "sequence_parallel", "framework", "hsdp"]
ATTEMPT_REQUIRED = ["tp", "pp", "dp", "micro_batch"]  # the others default to the scenario (attempt_defaults)
ATTEMPT_KINDS = {"tp": "count", "pp": "count", "dp": "count", "micro_batch": "count", "cp": "count",
                 "virtual_stages": "count", "zero": "count0", "recompute": "name", "sequence_parallel": "flag",
                 "framework": "name", "hsdp": "flag"}
ATTEMPT_ALIASES = {"mb": "micro_batch", "micro_batch_size": "micro_batch", "v": "virtual_stages",
                   "virtual_pipeline_stages": "virtual_stages", "zero_stage": "zero", "sp": "sequence_parallel"}
MAX_ATTEMPTS = 10
# The options that define a 3D instance (make_instance / make_setup); a report keeps them all, resolved.
SCENARIO_KEYS = ("model", "gpu", "gpus", "gpus_per_node", "network", "intra_network", "seq_len", "global_batch",
                 "precision", "optimizer", "usable_memory_fraction", "flash_attention", "attention_kernel",
                 "tp_comm_overlap", "fused_kernels", "efficiency", "max_bubble", "fix", "allow", "memory_limit_bytes",
                 "framework", "grad_reduce_dtype", "in_network_reduction", "recompute_every", "fp8_all_gather",
                 "fp8_param_gather", "grad_accumulation_fusion", "cross_entropy")


@dataclass
class ThreeDResult:
    """The answer of the 3D puzzle: the optimum, the next best, the crisis, and how it was found."""

    instance: Instance
    status: str  # optimal | feasible
    best: StepEstimate
    top: list[StepEstimate]
    crisis: StepEstimate | None
    engine: str
    solve_time_s: float
    space_size: int
    evaluated: int | None = None
    bound_step_s: float | None = None
    binding: dict[str, Any] = field(default_factory=dict)
    track: Track | None = None
    micro_batch_question: dict[str, Any] | None = None
    # with recompute_every k > 1 and an answer that does not recompute in full: the best full-recompute plan
    # (one layer in k), so the report can say why the option did not act (recompute_every_unused)
    recompute_every_unused: dict[str, Any] | None = None
    # who proved `status == "optimal"`: "CP-SAT" or "exhaustive search" (None: not proven). The exhaustive search
    # proves an optimum where it scored the whole design space (solve_instance: CP-SAT stopped at its time limit)
    proven_by: str | None = None
    # where the exhaustive search proved the optimum CP-SAT had not: the plan CP-SAT stopped with (not proven)
    cpsat_unproven: StepEstimate | None = None

    def __repr__(self) -> str:  # the headline (the full answer: .report, .best, .top, .to_frame())
        from explorer.units import human_bytes

        b = self.best
        track = f" [{self.track.key}]" if self.track is not None else ""
        gap = f", gap {self.gap:.1%}" if self.status != "optimal" and self.gap is not None else ""
        return (f"<ThreeDResult{track} {self.status}{gap}: {b.plan.describe()}; MFU {b.mfu:.1%}, step "
                f"{b.step_time_s:.4g} s, {human_bytes(b.memory_total)} of {human_bytes(self.instance.limit)} per "
                "device; "
                f"{plural(len(self.top), 'plan')} in .top, {self.engine} {self.solve_time_s:.2f} s>")

    def _repr_html_(self) -> str:
        return self.report._repr_html_()

    @property
    def gap(self) -> float | None:
        if self.bound_step_s is None:
            return None
        return max(0.0, (self.best.step_time_s - self.bound_step_s) / self.best.step_time_s)

    def to_frame(self) -> pd.DataFrame:
        """The optimum and the next best as a pandas DataFrame (one row per configuration)."""
        import pandas as pd

        return pd.DataFrame([_row(e) for e in self.top])

    @property
    def report(self) -> Report:
        from explorer.puzzles.threed_report import build_report

        return build_report(self)

    def to_dict(self) -> dict:
        """The answer as plain data: its report's (what `explore solve 3d --format json` writes)."""
        return self.report.to_dict()

    def to_json(self) -> str:
        """The report's JSON, as `explore solve 3d --format json` writes it."""
        return self.report.to_json()


def _row(e: StepEstimate) -> dict:
    d = e.plan.as_dict()
    d.update(mfu=e.mfu, hfu=e.hfu, step_time_s=e.step_time_s, tokens_per_s=e.tokens_per_s,
             memory_gb=e.memory_total / 1e9, bubble_fraction=e.bubble_fraction)
    return d


# --- instance from a track + overrides --------------------------------------------------------
def make_setup(track: Track, *, model: str | DecoderModel | None = None, gpu: str | None = None,
               gpus: int | None = None, gpus_per_node: int | None = None, network: str | None = None,
               intra_network: str | None = None, seq_len: int | None = None, precision: str | None = None,
               optimizer: str | None = None, usable_memory_fraction: float | None = None,
               flash_attention: bool = True, tp_comm_overlap: bool | None = None, fused_kernels: bool = True,
               efficiency=None, attention_kernel: str | None = None, framework: str = DEFAULT_FRAMEWORK,
               grad_reduce_dtype: str | None = None, in_network_reduction: bool = False,
               fused_projections: bool = True, selective_policy: str = "attention",
               embedding_pipeline_slot: bool = False, loss_bytes_per_logit: int = 6,
               tp_saves_gathered_input: bool = False, recompute_every: int = 1, fp8_all_gather: bool = False,
               fp8_param_gather: bool = True, replay_early_stop: bool = False, grad_accumulation_fusion: bool = True,
               cross_entropy: str = "unfused") -> Setup:
    """The cost-model Setup of a track with any of its defaults overridden (fused_projections, selective_policy,
    loss_bytes_per_logit, tp_saves_gathered_input and replay_early_stop: the framework's model code,
    frameworks.stack_layout_default;
    attention_kernel None: the framework's on this GPU, frameworks.attention_kernel_default)."""
    if isinstance(model, dict):  # a saved scenario's custom shape (scenario_of)
        model = DecoderModel(**model)
    if efficiency is not None:
        from explorer.cost.efficiency import Efficiency

        try:
            efficiency = Efficiency(**efficiency) if isinstance(efficiency, dict) else efficiency
        except TypeError as exc:
            raise UsageError(f"efficiency: {exc}") from None
        if not isinstance(efficiency, Efficiency):
            raise UsageError(f"efficiency must be an Efficiency (or a dict of its fields), got {V.short(efficiency)}")
    # an empty name is a name (unknown), not "the default": only None means the track's own
    mdl = model if isinstance(model, DecoderModel) else (
        get_model(model) if model is not None else track.workload.model)
    # --gpu brings its usual node (hardware/data/nodes.toml) unless the node's parts are given too
    cluster = cluster_with(track.cluster, gpu=gpu, gpus=V.DEVICES.check("gpus", gpus, track.cluster.devices),
                           gpus_per_node=V.DEVICES_PER_NODE.check("gpus-per-node", gpus_per_node, None),
                           network=network, intra_network=intra_network)
    # The default never runs a model past its own context: GPT-3's 2,048 learned positions, Llama 2's 4,096.
    seq = V.SEQ_LEN.check("seq-len", seq_len, min(track.workload.seq_len, mdl.max_seq))
    if mdl.position == "learned" and seq > mdl.max_seq:
        raise UsageError(f"seq-len {seq:,} is longer than {mdl.name}'s table of {mdl.max_seq:,} learned positions; "
                         f"give --seq-len <= {mdl.max_seq:,} (a custom shape, --layers/--hidden/--heads, takes "
                         "RoPE positions and any length)")
    usable_memory_fraction = V.OPEN_FRACTION.check("usable-memory-fraction", usable_memory_fraction)
    kw = {} if efficiency is None else {"efficiency": efficiency}
    prec = track.workload.precision if precision is None else precision
    cluster.accelerator.peak(prec)  # a clear error if the part has no such precision
    if fp8_all_gather and framework_choice(framework) not in ("fsdp", "any"):
        raise UsageError(f"an FP8 all-gather is modelled for --framework fsdp (torchao's float8 all-gather under "
                         f"FSDP2), not for {framework_choice(framework)}")
    if attention_kernel is not None and not flash_attention:
        raise UsageError(f"--attention-kernel {attention_kernel} names a fused attention kernel, and "
                         "--no-flash-attention runs attention unfused (the s x s scores in memory); give one or the "
                         "other")
    if tp_comm_overlap and framework_choice(framework) == "deepspeed":
        raise UsageError("--tp-comm-overlap is Megatron-Core's (Transformer Engine userbuffers) or torchtitan's "
                         "(AsyncTP); DeepSpeed's engine, and Megatron-DeepSpeed's tensor parallelism, run the TP "
                         "collectives between the GEMMs: give --framework megatron or fsdp, or leave it off")
    # under --framework any with no kernel given, each plan runs its own framework's
    # (Setup.attention_kernel_by_framework)
    by_framework = attention_kernel is None and framework_choice(framework) == "any"
    if attention_kernel is None:
        attention_kernel = attention_kernel_default(framework, cluster.accelerator.key)
    if tp_comm_overlap is None and framework_choice(framework) != "any":
        # the framework's default on this GPU (frameworks.tp_overlap_default); under --framework any each plan takes
        # its own framework's (frameworks.tp_overlap_of)
        tp_comm_overlap = tp_overlap_default(framework, cluster.accelerator.key)
    return Setup(mdl, cluster, seq, prec, track.workload.optimizer if optimizer is None else optimizer,
                 usable_memory_fraction if usable_memory_fraction is not None else track.usable_memory_fraction,
                 flash_attention, attention_kernel=attention_kernel, attention_kernel_by_framework=by_framework,
                 tp_comm_overlap=tp_comm_overlap,
                 fused_kernels=fused_kernels,
                 grad_reduce_dtype=grad_reduce_dtype,
                 in_network_reduction=in_network_reduction, fused_projections=fused_projections,
                 selective_policy=selective_policy, embedding_pipeline_slot=bool(embedding_pipeline_slot),
                 loss_bytes_per_logit=loss_bytes_per_logit, tp_saves_gathered_input=bool(tp_saves_gathered_input),
                 recompute_every=recompute_every, fp8_all_gather=bool(fp8_all_gather),
                 fp8_param_gather=bool(fp8_param_gather), replay_early_stop=bool(replay_early_stop),
                 grad_accumulation_fusion=bool(grad_accumulation_fusion), cross_entropy=cross_entropy,
                 **kw)


def make_instance(track: Track, *, global_batch: int | None = None, max_bubble: float | None = 0.10,
                  fix: dict | None = None, allow: dict | None = None, memory_limit_bytes: int | None = None,
                  framework: str = DEFAULT_FRAMEWORK, **setup_overrides: Any) -> Instance:
    if setup_overrides.get("embedding_pipeline_slot"):
        raise UsageError("embedding_pipeline_slot=True is an estimate option (--embedding-slots): the 3D search does "
                         "not place the embedding and output layers in pipeline slots; evaluate such a plan with "
                         "explore estimate")
    fused = setup_overrides.get("fused_kernels")
    layout = stack_layout_default(framework, True if fused is None else bool(fused),
                                  setup_overrides.get("cross_entropy") or "unfused")
    for key, value in layout.items():
        # torchtitan's model code under --framework fsdp
        if setup_overrides.get(key) is None:
            setup_overrides[key] = value
    overlap_asked = setup_overrides.get("tp_comm_overlap") is True
    setup = make_setup(track, framework=framework, **setup_overrides)
    _recompute_every_pinned_out(setup.recompute_every, fix or {}, allow or {})
    gb = V.GLOBAL_BATCH.check("global-batch", global_batch, track.workload.global_batch)
    max_bubble = V.FRACTION.check("max-bubble", max_bubble, 0.10)
    if memory_limit_bytes is not None:
        memory_limit_bytes = int(V.MEMORY_BYTES.check("memory-limit-bytes", memory_limit_bytes))
    return Instance(setup=setup, devices=setup.cluster.devices, global_batch=gb,
                    max_bubble=Fraction(max_bubble).limit_denominator(10000), fix=dict(fix or {}),
                    allow=dict(allow or {}), memory_limit=memory_limit_bytes, framework=framework,
                    overlap_asked=overlap_asked)


def _recompute_every_pinned_out(k: int, fix: dict, allow: dict) -> None:
    """recompute_every k > 1 thins full recompute (Setup.recompute_every); a pin or allow list that rules full
    recompute out leaves it nothing to act on: a usage error, as `explore estimate` refuses it beside another mode."""
    if k == 1:
        return
    pinned = fix.get("recompute")
    if pinned is not None and pinned != "full":
        raise UsageError(f"recompute every {k} layers thins full recompute, and --fix recompute={pinned} rules full "
                         "recompute out; pin recompute=full or drop --recompute-every")
    allowed = allow.get("recompute")
    if allowed is not None and "full" not in allowed:
        raise UsageError(f"recompute every {k} layers thins full recompute, and allow recompute="
                         f"{', '.join(map(str, allowed))} rules full recompute out; allow full or drop recompute_every")


def scenario_of(inst: Instance) -> dict[str, Any]:
    """Every option that defines the instance, defaults resolved and JSON-safe:
    make_instance(track, **scenario_of(inst)) rebuilds the same instance (a catalog model by key, any
    other shape as its fields)."""
    from dataclasses import asdict

    from explorer.cost.efficiency import DEFAULT_EFFICIENCY

    s, c = inst.setup, inst.setup.cluster
    try:
        model: Any = s.model.key if get_model(s.model.key) == s.model else asdict(s.model)
    except UsageError:
        model = asdict(s.model)
    out = {"model": model, "gpu": c.accelerator.key, "gpus": inst.devices, "gpus_per_node": c.devices_per_node,
           "network": c.inter.key, "intra_network": c.intra.key, "seq_len": s.seq_len,
           "global_batch": inst.global_batch, "precision": s.precision, "optimizer": s.optimizer,
           "usable_memory_fraction": s.usable_memory_fraction, "flash_attention": s.flash_attention,
           "attention_kernel": (None if s.attention_kernel_by_framework or not s.flash_attention
                                else s.attention_kernel),
           # the framework's default overlap (not asked for) as None, so that the rebuilt instance does not read it
           # as a request (Instance.overlap_asked)
           "tp_comm_overlap": None if s.tp_comm_overlap and not inst.overlap_asked else s.tp_comm_overlap,
           "fused_kernels": s.fused_kernels,
           "max_bubble": float(inst.max_bubble), "fix": dict(inst.fix),
           "allow": {k: list(v) for k, v in inst.allow.items()}, "memory_limit_bytes": int(inst.limit),
           "framework": inst.framework, "grad_reduce_dtype": s.grad_reduce_dtype,
           "in_network_reduction": s.in_network_reduction, "recompute_every": s.recompute_every,
           "fp8_all_gather": s.fp8_all_gather, "fp8_param_gather": s.fp8_param_gather,
           "grad_accumulation_fusion": s.grad_accumulation_fusion,
           "cross_entropy": s.cross_entropy}
    if s.efficiency != DEFAULT_EFFICIENCY:
        out["efficiency"] = s.efficiency.as_dict()
    return out


def plan_of(c: dict, global_batch: int) -> ParallelPlan:
    return ParallelPlan(tp=int(c["tp"]), pp=int(c["pp"]), dp=int(c["dp"]), cp=int(c["cp"]),
                        micro_batch=int(c["mb"]), global_batch=global_batch, virtual_stages=int(c["v"]),
                        zero=int(c["zero"]), recompute=RC_NAMES[int(c["rc"])],
                        sequence_parallel=bool(c["sp"]), framework=FRAMEWORK_NAMES[int(c.get("fw", 0))],
                        hsdp=bool(c.get("hsdp", 0)))


def _key(p: ParallelPlan) -> dict:
    return {"tp": p.tp, "cp": p.cp, "pp": p.pp, "v": p.virtual_stages, "mb": p.micro_batch, "zero": p.zero,
            "rc": RECOMPUTE_CODES[p.recompute], "sp": int(p.sequence_parallel), "fw": FRAMEWORK_CODES[p.framework],
            "hsdp": int(p.hsdp)}


# --- engines ------------------------------------------------------------------------------------
def _plans_from(en, inst: Instance, k: int, skip: dict | None = None) -> list[ParallelPlan]:
    cols, out = en.columns, []
    for i in range(en.feasible):
        p = plan_of({c: cols[c][i] for c in cols}, inst.global_batch)
        if skip is None or _key(p) != skip:
            out.append(p)
        if len(out) == k:
            break
    return out


def _solve_cpsat(inst: Instance, space: Space, top: int, time_limit: float):
    """CP-SAT optimum, plus (when top > 1) next-best configurations by no-good cuts."""
    from explorer.solvers import threed_cpsat as tc

    plans, excl, status, bound = [], [], None, None
    t0 = time.perf_counter()
    prep = tc.prepare(inst, space)
    for _ in range(top):
        left = max(0.05, time_limit - (time.perf_counter() - t0))  # the whole solve stays within the limit
        try:
            solver, built, out, proven = tc.solve(inst, space, prep, left, CPSAT_PARAMS, exclude=excl)
        except tc.TimeUp:  # the time limit, not a proof: never "infeasible"
            if plans:
                break
            raise NoAnswerError(time_limit) from None
        except tc.NoRows:
            if not plans:
                raise
            break
        if out.status not in ("optimal", "feasible"):
            if not plans and out.status == "unknown":
                raise NoAnswerError(time_limit)
            break
        values = {k: solver.value(v) for k, v in built.vars.items()}
        if not plans:
            status = "optimal" if proven else "feasible"
            # a proven optimum is its own bound; otherwise the relaxation's smallest bound holds for every plan
            bound = (values["step_ns"] if proven else prep["bound_min"]) / tc.TIME_SCALE
            if proven:  # second pass: the simplest plan among the tied optima
                built.model.add(built.vars["step_ns"] == values["step_ns"])
                built.model.minimize(built.vars["tie_break"])
                for k, v in built.vars.items():
                    if k != "tie_break":
                        built.model.add_hint(v, values[k])
                left = max(0.05, time_limit - (time.perf_counter() - t0))
                solver2, out2 = cpsat.run(built.model, time_limit_s=left, workers=1, params=CPSAT_PARAMS)
                if out2.status in ("optimal", "feasible"):
                    values = {k: solver2.value(v) for k, v in built.vars.items()}
        plan = plan_of(values, inst.global_batch)
        plans.append(plan)
        excl.append(_key(plan))
    return status, plans, bound


def solve_instance(inst: Instance, *, engine: str = "cpsat", top: int = 5, time_limit: float | None = None,
                   track: Track | None = None, crisis: ParallelPlan | None = None, explain: bool = True
                   ) -> ThreeDResult:
    """Solve a prepared instance with the chosen engine; raise InfeasibleError with the conflicts.

    With `explain`, the exhaustive evaluation (when the space is small enough) also cross-checks
    the optimum, supplies the next-best configurations and the what-if analysis of the limits."""
    from explorer.puzzles.threed_explain import EXPLAIN_MAX_SPACE, binding_constraints, explain_infeasible
    from explorer.solvers.threed_cpsat import NoRows, OutOfRange
    from explorer.solvers.threed_enumerate import enumerate_space

    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    top = V.TOP.check("top", top)
    tl = V.TIME_LIMIT.check("time-limit", time_limit, cpsat.DEFAULT_TIME_LIMIT_S)
    space = build_space(inst)
    empty = [k for k in ("tp", "cp", "pp", "v", "mb", "zero", "rc", "sp", "fw", "hsdp") if not getattr(space, k)]
    if empty:
        raise InfeasibleError(_empty_domain_message(inst, space, empty), conflicts=empty)
    contradiction = structural_conflict(inst, space)
    if contradiction:
        raise V.conflict(contradiction)
    t0 = time.perf_counter()
    en, bound = None, None
    small = space.size() <= EXPLAIN_MAX_SPACE
    if engine == "enumerate" and not small:
        raise UsageError(f"--engine enumerate would score {space.size():,} combinations, above its limit of "
                         f"{EXPLAIN_MAX_SPACE:,} (memory and time); use --engine cpsat")
    if engine == "cpsat":
        try:
            status, plans, bound = _solve_cpsat(inst, space, 1 if (explain and small) else top, tl)
        except NoRows:  # the structure alone rules everything out: say which constraints conflict
            status, plans, bound = None, [], None
        except OutOfRange as exc:  # e.g. a step of centuries in integer nanoseconds
            if not small:
                raise UsageError(f"this instance is beyond what the CP-SAT model can represent: {exc}") from None
            engine = "enumerate"  # the exhaustive evaluator works in floating point; a small space is its proof
    if engine == "enumerate":
        en = enumerate_space(inst, space)
        plans, status = _plans_from(en, inst, top), "optimal"
    wall = time.perf_counter() - t0
    if not plans:
        msg, conflicts = explain_infeasible(inst, space)
        raise InfeasibleError(msg, conflicts)
    proven_by = ("CP-SAT" if engine == "cpsat" else "exhaustive search") if status == "optimal" else None
    cpsat_unproven = None
    if explain and small and en is None:
        en = enumerate_space(inst, space)
        if status == "feasible" and en.feasible:
            # CP-SAT stopped at its time limit; the exhaustive search scored every candidate of the same space
            # (candidate_arrays over this build_space, the same memory and bubble limits): its best is a proven
            # optimum of the same model, so the answer is that plan, "optimal" (proven by exhaustive search)
            found = estimate(inst.setup, plans[0])
            t_ex = float(en.columns["step_time"][0])
            if t_ex <= found.step_time_s * (1 + 1e-6):  # else the engines disagree: nothing is proven
                cpsat_unproven, status, proven_by = found, "optimal", "exhaustive search"
                if t_ex < found.step_time_s * (1 - 1e-6):  # a faster plan than CP-SAT's: the exhaustive best
                    plans = _plans_from(en, inst, 1)
        if top > 1 and status == "optimal":  # next best from the exhaustive list only below a proven optimum
            plans += _plans_from(en, inst, top - 1, skip=_key(plans[0]))
    ests = [estimate(inst.setup, p) for p in plans]
    if proven_by == "exhaustive search":
        bound = ests[0].step_time_s  # a proven optimum is its own bound
    res = ThreeDResult(instance=inst, status=status, best=ests[0], top=ests, engine=engine, solve_time_s=wall,
                       space_size=space.size(), evaluated=en.evaluated if en else None, bound_step_s=bound,
                       track=track, crisis=_crisis(inst, crisis), proven_by=proven_by,
                       cpsat_unproven=cpsat_unproven)
    res.recompute_every_unused = recompute_every_unused(inst, res.best, en)
    if explain:
        res.binding = binding_constraints(inst, res, en) if en is not None else {
            "analysed": False, "reason": f"design space of {space.size():,} combinations is too large for the "
                                         f"what-if enumeration"}
    return res


def recompute_every_unused(inst: Instance, best: StepEstimate, en=None) -> dict[str, Any] | None:
    """None where --recompute-every did not matter (k = 1) or acted (the answer recomputes in full, one layer in k);
    else why it did not act: the best feasible full-recompute plan of the exhaustive evaluation `en` (when there is
    one; the rows are feasible first, fastest first), or that none fits the limits."""
    k = inst.setup.recompute_every
    if k == 1 or best.plan.recompute == "full":
        return None
    out: dict[str, Any] = {"every": k, "recompute": best.plan.recompute}
    if en is None:
        return out
    full = np.flatnonzero(en.columns["rc"][:en.feasible] == RECOMPUTE_CODES["full"])
    if len(full) == 0:
        out["full_feasible"] = False
        return out
    e = estimate(inst.setup, plan_of({c: en.columns[c][full[0]] for c in en.columns}, inst.global_batch))
    out.update(full_feasible=True, plan=e.plan.describe(), step_time_s=e.step_time_s, mfu=e.mfu)
    return out


def _crisis(inst: Instance, plan: ParallelPlan | None) -> StepEstimate | None:
    """The lab's crisis configuration, on the first searched framework that runs it (None if none does)."""
    if plan is None or plan.devices != inst.devices or plan.global_batch != inst.global_batch:
        return None
    for f in frameworks_for(inst.framework):
        if f.why_not(cp=plan.cp, pp=plan.pp, v=plan.virtual_stages, zero=plan.zero, hsdp=plan.hsdp) is None:
            return estimate(inst.setup, replace(plan, framework=f.key))
    return None


def _empty_domain_message(inst: Instance, space: Space, empty: list[str]) -> str:
    parts = []
    for k in empty:
        name = {"v": "virtual_stages", "mb": "micro_batch", "rc": "recompute", "sp": "sequence_parallel",
                "fw": "framework"}.get(k, k)
        why = space.reasons.get(name, "")
        pinned = f" (pinned to {inst.fix[name]})" if name in inst.fix and not why else ""  # a reason names its pin
        parts.append(f"no valid {name}{pinned}" + (f": {why}" if why else ""))
    return "infeasible: " + "; ".join(parts)


# --- public entry points ------------------------------------------------------------------------
def solve_3d(track: str | Track = "cloud", *, engine: str = "cpsat", top: int = 5, time_limit: float | None = None,
             min_memory_headroom_bytes: int | None = None, explain: bool = True, **options: Any) -> ThreeDResult:
    """Solve the 3D puzzle for a track; any scenario default can be overridden by keyword
    (model, gpu, gpus, gpus_per_node, network, intra_network, seq_len, global_batch, precision,
    optimizer, usable_memory_fraction, flash_attention, attention_kernel, tp_comm_overlap, fused_kernels,
    max_bubble, fix, allow, memory_limit_bytes). seq_len defaults to the track's, or to the model's context where
    that is shorter (make_setup). On a fleet track this is the datacenter form on the track's devices (the graders
    and the solver's cross-checks use it so); the public explorer.solve_3d refuses a fleet track without gpu or
    gpus and points to explorer.solve('3d', track=...), the fleet form (api._fleet_as_datacenter)."""
    t = track if isinstance(track, Track) else get_track(track)
    inst = make_instance(t, **options)
    if min_memory_headroom_bytes is not None:
        headroom = V.MEMORY_BYTES.check("min-memory-headroom-bytes", min_memory_headroom_bytes)
        inst = replace(inst, memory_limit=inst.limit - int(headroom))
    crisis = t.crisis_plan if not _overrides_scenario(options) else None
    res = solve_instance(inst, engine=engine, top=top, time_limit=time_limit, track=t, crisis=crisis,
                         explain=explain)
    if explain and res.crisis is not None:
        res.micro_batch_question = micro_batch_question(inst, res.crisis.plan, engine, time_limit)
    return res


def micro_batch_question(inst: Instance, crisis: ParallelPlan, engine: str = "cpsat",
                         time_limit: float | None = None) -> dict[str, Any]:
    """The lab's "Jeff Dean" question: with every variable but the micro-batch pinned at the
    crisis shape (and no bubble limit: the question is about MFU alone), which micro-batch gives
    the highest MFU? Solved by the same engine with --fix; the sweep shows the trade-off."""
    pins = {"tp": crisis.tp, "pp": crisis.pp, "dp": crisis.dp, "cp": crisis.cp, "zero": crisis.zero,
            "recompute": crisis.recompute, "sequence_parallel": int(crisis.sequence_parallel),
            "virtual_stages": crisis.virtual_stages, "framework": crisis.framework, "hsdp": int(crisis.hsdp)}
    sweep = []
    for mb in build_space(replace(inst, fix=pins, max_bubble=Fraction(1))).mb:
        if inst.global_batch % (crisis.dp * mb):
            continue
        e = estimate(inst.setup, replace(crisis, micro_batch=mb))
        sweep.append({"micro_batch": mb, "num_micro_batches": e.plan.num_micro_batches, "mfu": e.mfu,
                      "bubble_fraction": e.bubble_fraction, "memory_gb": e.memory_total / 1e9,
                      "fits": e.memory_total <= inst.limit})
    try:
        sub = solve_instance(replace(inst, fix=pins, max_bubble=Fraction(1)), engine=engine, top=1,
                             time_limit=time_limit, explain=False)
        best = sub.best
        answer = {"micro_batch": best.plan.micro_batch, "num_micro_batches": best.plan.num_micro_batches,
                  "mfu": best.mfu, "bubble_fraction": best.bubble_fraction, "status": sub.status}
    except InfeasibleError as exc:
        answer = {"infeasible": str(exc)}
    except NoAnswerError as exc:
        answer = {"no_answer": str(exc)}
    return {"pinned": pins, "answer": answer, "sweep": sweep}


def _overrides_scenario(options: dict) -> bool:
    keys = ("model", "gpu", "gpus", "gpus_per_node", "network", "intra_network", "seq_len", "global_batch",
            "precision", "optimizer")
    return any(options.get(k) is not None for k in keys)


@lru_cache(maxsize=1)
def _scenario_defaults() -> dict[str, Any]:
    """Each scenario option's default, read from make_instance and make_setup's signatures (the one place they are
    written): a value equal to it was not given."""
    import inspect

    params = {**inspect.signature(make_setup).parameters, **inspect.signature(make_instance).parameters}
    return {k: p.default for k, p in params.items() if k in SCENARIO_KEYS and p.default is not inspect.Parameter.empty}


def solve(track: str = "cloud", **options: Any) -> Report:
    """Registry entry: the Report of the 3D puzzle (its fleet form on edge, mobile and tiny unless datacenter
    options are given: explorer/puzzles/fleet3d)."""
    from explorer.puzzles import fleet3d

    if fleet3d.is_fleet(track):
        defaults = _scenario_defaults()
        fleet3d.fleet_options_error(track, {k: v for k, v in options.items() if k in SCENARIO_KEYS
                                            and v != defaults.get(k, object())})
        return fleet3d.solve(track, engine=options.get("engine") or "enumerate", top=options.get("top", 5),
                             time_limit=options.get("time_limit"))
    return solve_3d(track, **options).report


# --- attempts -----------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _scenario_instance(track: str, key: str) -> Instance:
    options = json.loads(key)
    unknown = [k for k in options if k not in SCENARIO_KEYS]
    if unknown:
        raise UsageError(f"unknown 3d scenario option(s) {', '.join(unknown)}; valid: {', '.join(SCENARIO_KEYS)}")
    return make_instance(get_track(track), **options)


def instance_for(track: str, **options: Any) -> Instance:
    """The instance of a scenario (a report's `scenario`, or any subset of SCENARIO_KEYS), cached."""
    from dataclasses import asdict, is_dataclass

    plain = {k: (asdict(v) if is_dataclass(v) else v) for k, v in options.items()}  # a model or efficiency object
    return _scenario_instance(track, json.dumps(plain, sort_keys=True, default=str))


def attempt_module(track: str, form: str | None = None) -> Any:
    """The module whose attempts are graded: the fleet form's (explorer/puzzles/fleet3d/attempts.py) for a
    report solved in that form (report.extra['form'] == 'fleet'), or with no report on edge, mobile and tiny
    (form None); this one otherwise (a datacenter 3D report, also one solved with solve_3d on a fleet track)."""
    import sys

    from explorer.puzzles import fleet3d

    if form == "fleet" or (form is None and fleet3d.is_fleet(track)):
        from explorer.puzzles.fleet3d import attempts

        return attempts
    return sys.modules[__name__]


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """Values assumed for the columns an attempts file leaves out: a variable pinned by the scenario's
    --fix, else the track's starting (crisis) configuration, else 1 (CP, virtual stages)."""
    inst = instance_for(track, **options)
    crisis = get_track(track).crisis_plan
    out = {"cp": crisis.cp, "virtual_stages": crisis.virtual_stages, "zero": crisis.zero,
           "recompute": crisis.recompute, "sequence_parallel": crisis.sequence_parallel,
           "framework": frameworks_for(inst.framework)[0].key, "hsdp": False}
    for k in ATTEMPT_VARIABLES:
        if k in inst.fix:
            out[k] = inst.fix[k]
    return {k: v for k, v in out.items() if k not in ATTEMPT_REQUIRED}


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named or bounded column takes (`explore attempts template`): ZeRO stages 0-3, the recompute
    modes and the frameworks the grader reads (threed_explain._parse)."""
    return {"zero": list(ZERO_STAGES), "recompute": list(RECOMPUTE_CODES), "framework": list(FRAMEWORK_CODES)}


def attempt_space(track: str = "cloud") -> dict[str, list]:
    """What the template lists for each column on `track`: the candidate lists of build_space for the track's
    scenario, the lists check_configuration grades an attempt's values against (DP is not listed: it is the devices
    over TP x CP x PP)."""
    space = build_space(instance_for(track))
    return {"tp": list(space.tp), "pp": list(space.pp), "micro_batch": list(space.mb), "cp": list(space.cp),
            "virtual_stages": list(space.v), "zero": list(space.zero),
            "recompute": [r for r, code in RECOMPUTE_CODES.items() if code in space.rc],
            "sequence_parallel": [bool(x) for x in space.sp],
            "framework": [k for k, code in FRAMEWORK_CODES.items() if code in space.fw],
            "hsdp": [bool(x) for x in space.hsdp]}


def attempt_hint(track: str, unknown: list[str]) -> str | None:
    """What a file's fleet columns (split, local_steps, tier...) mean on a datacenter track: one line naming this
    form's columns and values, as the fleet form names the datacenter ones (fleet3d/attempts.py attempt_hint)."""
    from explorer.puzzles.fleet3d import attempts as fleet

    named = [c for c in unknown if c in fleet.ATTEMPT_VARIABLES or c in fleet.ATTEMPT_ALIASES]
    if not named:
        return None
    choices = attempt_choices(track)
    listing = ", ".join(f"{k} ({', '.join(map(str, v))})" for k, v in choices.items())
    return (f"{', '.join(named)}: fleet column(s) of the 3D puzzle, its form on the edge, mobile and tiny tracks; on "
            f"the {track} track an attempt's columns are {', '.join(ATTEMPT_REQUIRED)} (whole numbers, TP x CP x PP "
            f"x DP = the track's devices), optionally cp and virtual_stages (whole numbers), {listing}, "
            f"sequence_parallel and hsdp (yes/no); `explore attempts template 3d --track {track}`")


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score a student's configuration against the scenario `options` (a report's `scenario`):
    figures, violated constraints with margins, values outside the searched space, neighbours."""
    from explorer.puzzles.threed_explain import attempt_verdict

    inst = instance_for(track, **options)
    space = build_space(inst)  # one space for the verdict and the neighbours
    out = attempt_verdict(inst, {**attempt_defaults(track, **options), **values}, space)
    out["neighbours"] = attempt_neighbours(inst, out["read"], space)
    return out


def attempt_neighbours(inst: Instance, v: dict[str, Any], space: Space | None = None) -> list[dict[str, Any]]:
    """One change each, the other values as the attempt has them (`v`, parsed): every other candidate of one variable
    in build_space's lists (the searched values; a value outside them moves to any of them, the nearest included). TP,
    CP or PP moves with DP following to keep the devices (named in '__derived__', so the move is said as one change);
    DP alone where the degrees do not cover the devices. Bounded by the candidate lists (about 80 on cloud)."""
    space = build_space(inst) if space is None else space
    out = degree_moves(space, inst.devices, v)
    names = {code: name for name, code in RECOMPUTE_CODES.items()}
    frameworks = {code: name for name, code in FRAMEWORK_CODES.items()}
    for k, dom in (("virtual_stages", space.v), ("micro_batch", space.mb), ("zero", space.zero),
                   ("recompute", [names[c] for c in space.rc]), ("sequence_parallel", [bool(x) for x in space.sp]),
                   ("framework", [frameworks[c] for c in space.fw]), ("hsdp", [bool(x) for x in space.hsdp])):
        out += [{**v, k: x} for x in dom if x != v[k]]
    return out
