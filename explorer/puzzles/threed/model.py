"""Lab 05 part 2, the parallelism puzzle: the DP x PP x TP (x CP) x micro-batch split that fits
in memory with the pipeline bubble under a limit at the highest MFU, proven optimal by CP-SAT.

Objective: the shortest step. With the model, global batch and device count fixed, the model
FLOPs per step are fixed, so the shortest step is the highest MFU (docs/conventions.md, "Utilisation").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer import validation as V
from explorer.cost.frameworks import frameworks_for
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.step import StepEstimate, estimate
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.plan import ParallelPlan
from explorer.puzzles.threed import space as rules
from explorer.puzzles.threed.instance import SCENARIO_KEYS, _key, make_instance, make_setup, plan_of
from explorer.puzzles.threed.space import Instance, Space, build_space, structural_conflict
from explorer.solvers import cpsat
from explorer.tracks import Track, get_track
from explorer.units import plural, step_text

if TYPE_CHECKING:
    import pandas as pd

    from explorer.report import Report


# Measured with benchmarks/bench_search.py on the cloud default: presolve and LP relaxation of the
# product constraints cost more than they prune on this table-driven model (about 3x slower with
# them); one worker keeps the answer deterministic (answer keys are byte-identical).
CPSAT_PARAMS = {"cp_model_presolve": False, "linearization_level": 0}
ENGINES = ("cpsat", "enumerate")


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
    # True where CP-SAT's time limit ended before it found any configuration and the plan it stopped with (best, or
    # cpsat_unproven once the exhaustive search proved another) is the construction heuristic's (heuristic_plan)
    heuristic: bool = False

    def __repr__(self) -> str:  # the headline (the full answer: .report, .best, .top, .to_frame())
        from explorer.units import human_bytes, human_percent

        b = self.best
        track = f" [{self.track.key}]" if self.track is not None else ""
        gap = f", gap {human_percent(self.gap)}" if self.status != "optimal" and self.gap is not None else ""
        return (f"<ThreeDResult{track} {self.status}{gap}: {b.plan.describe()}; MFU {human_percent(b.mfu)}, step "
                f"{step_text(b.step_time_s)}, {human_bytes(b.memory_total)} of {human_bytes(self.instance.limit)} "
                "per device; "
                f"{plural(len(self.top), 'plan')} in .top, {self.engine} {self.solve_time_s:.2f} s>")

    def __str__(self) -> str:
        """The text report (`explore solve 3d` prints it): print(res) reads as the CLI does; repr() is the
        one-line headline."""
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.report._repr_html_()

    def to_text(self, width: int | None = None) -> str:
        """The report as `explore solve 3d` prints it (self.report.to_text(width))."""
        return self.report.to_text(width)

    def to_markdown(self) -> str:
        """The report in Markdown, as `explore solve 3d --format md` writes it (self.report.to_markdown())."""
        return self.report.to_markdown()

    def to_html(self, *, full_page: bool = True) -> str:
        """The report as one HTML page, as `explore solve 3d --format html` writes it, or with full_page=False the
        fragment a notebook shows (self.report.to_html())."""
        return self.report.to_html(full_page=full_page)

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
        from explorer.puzzles.threed.report import build_report

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


def heuristic_plan(inst: Instance, space: Space) -> ParallelPlan | None:
    """The construction heuristic's plan (explorer.solvers.threed_cpsat.greedy_hint: the most memory-frugal settings,
    the smallest PP whose memory and bubble pass), where the puzzle's feasibility function accepts it: the answer
    when CP-SAT's time limit ends before it finds any configuration (feasible, never called optimal)."""
    from explorer.puzzles.threed.feasibility import check_configuration, config_of
    from explorer.solvers import threed_cpsat as tc

    cand = tc.greedy_hint(inst, space, rules=rules)
    if cand is None:
        return None
    plan = plan_of(cand, inst.global_batch)
    check = check_configuration(inst, config_of(plan), space)
    return None if (check.outside or check.violations) else plan


def _solve_cpsat(inst: Instance, space: Space, top: int, time_limit: float):
    """CP-SAT optimum, plus (when top > 1) next-best configurations by no-good cuts. Returns (status, plans,
    bound, heuristic): where the time limit ends before CP-SAT finds any configuration, the construction
    heuristic's plan (heuristic_plan), status "feasible", heuristic True; NoAnswerError only if it has none."""
    from explorer.solvers import threed_cpsat as tc

    plans, excl, status, bound = [], [], None, None
    t0 = time.perf_counter()
    prep = tc.prepare(inst, space, rules=rules)  # the design-space rules: solvers do not import puzzles

    def no_answer():
        fallback = heuristic_plan(inst, space)
        if fallback is None:
            raise NoAnswerError(time_limit)
        return "feasible", [fallback], prep["bound_min"] / tc.TIME_SCALE, True

    for _ in range(top):
        left = max(0.05, time_limit - (time.perf_counter() - t0))  # the whole solve stays within the limit
        try:
            solver, built, out, proven = tc.solve(inst, space, prep, left, CPSAT_PARAMS, exclude=excl)
        except tc.TimeUp:  # the time limit, not a proof: never "infeasible"
            if plans:
                break
            return no_answer()
        except tc.NoRows:
            if not plans:
                raise
            break
        if out.status not in ("optimal", "feasible"):
            if not plans and out.status == "unknown":
                return no_answer()
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
    return status, plans, bound, False


def solve_instance(inst: Instance, *, engine: str = "cpsat", top: int = 5, time_limit: float | None = None,
                   track: Track | None = None, crisis: ParallelPlan | None = None, explain: bool = True
                   ) -> ThreeDResult:
    """Solve a prepared instance with the chosen engine; raise InfeasibleError with the conflicts.

    With `explain`, the exhaustive evaluation (when the space is small enough) also cross-checks
    the optimum, supplies the next-best configurations and the what-if analysis of the limits."""
    from explorer.puzzles.threed.explain import EXPLAIN_MAX_SPACE, binding_constraints, explain_infeasible
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
    en, bound, heuristic = None, None, False
    small = space.size() <= EXPLAIN_MAX_SPACE
    if engine == "enumerate" and not small:
        raise UsageError(f"--engine enumerate would score {space.size():,} combinations, above its limit of "
                         f"{EXPLAIN_MAX_SPACE:,} (memory and time); use --engine cpsat")
    if engine == "cpsat":
        try:
            status, plans, bound, heuristic = _solve_cpsat(inst, space, 1 if (explain and small) else top, tl)
        except NoRows:  # the structure alone rules everything out: say which constraints conflict
            status, plans, bound = None, [], None
        except OutOfRange as exc:  # e.g. a step of centuries in integer nanoseconds
            if not small:
                raise UsageError(f"this instance is beyond what the CP-SAT model can represent: {exc}") from None
            engine = "enumerate"  # the exhaustive evaluator works in floating point; a small space is its proof
    if engine == "enumerate":
        en = enumerate_space(inst, space, rules=rules)
        plans, status = _plans_from(en, inst, top), "optimal"
    wall = time.perf_counter() - t0
    if not plans:
        msg, conflicts = explain_infeasible(inst, space)
        raise InfeasibleError(msg, conflicts)
    proven_by = ("CP-SAT" if engine == "cpsat" else "exhaustive search") if status == "optimal" else None
    cpsat_unproven = None
    if explain and small and en is None:
        en = enumerate_space(inst, space, rules=rules)
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
                       cpsat_unproven=cpsat_unproven, heuristic=heuristic)
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

