"""Grading a student's attempts at the batch part (reports/attempts.py): the columns and what a file may leave
out, the values each column may take and the ones searched, the single-change neighbours, and evaluate_attempt."""

from __future__ import annotations

from functools import cache
from typing import Any

from explorer import validation as V
from explorer.errors import UsageError, require_positive_int
from explorer.plan import PRECISIONS, RECOMPUTE, ZERO_STAGES, check_zero_stage
from explorer.puzzles.batch.model import (
    _entry,
    _plan_fields,
    _setup,
    all_configs,
    evaluate_config,
    plan_search,
    violations,
)
from explorer.puzzles.batch.scenario import BatchInstance, make_instance
from explorer.report import Figure
from explorer.tracks import get_track

ATTEMPT_OPTIONS = ("target_mfu", "network_headroom", "batch", "critical_batch", "loss_scaling", "max_accumulation")
PLAN_VARIABLES = ["tp", "pp", "dp", "cp", "virtual_stages", "zero", "recompute"]
ATTEMPT_VARIABLES = ["precision", "micro_batch", "accumulation", *PLAN_VARIABLES]
ATTEMPT_REQUIRED = ["micro_batch", "accumulation"]  # the others default to the track's (attempt_defaults)
ATTEMPT_KINDS = {"precision": "name", "micro_batch": "count", "accumulation": "count", "tp": "count", "pp": "count",
                 "dp": "count", "cp": "count", "virtual_stages": "count", "zero": "count0", "recompute": "name"}
MAX_ATTEMPTS: int | None = None


@cache
def _reachable(track: str, options: tuple) -> bool:
    """Does any configuration reach the target (decides how attempts are scored)? Cached per scenario."""
    inst = make_instance(track, **dict(options))
    configs = all_configs(inst) + (plan_search(inst) if inst.sc.plan_search_batches else [])
    return any(not violations(inst, c) for c in configs)


def _planned_attempt(inst: BatchInstance, precision: str, micro_batch: int, accumulation: int,
                     plan: dict[str, Any]) -> dict | list[str]:
    """An attempt with its own parallel plan, on the step model (the same estimate the 3D solver ranks by);
    a list of reasons if the plan cannot be built."""
    from explorer.cost.step import estimate
    from explorer.plan import ParallelPlan

    try:
        dp = int(float(plan["dp"]))
        pl = ParallelPlan(tp=int(float(plan["tp"])), pp=int(float(plan["pp"])), dp=dp, cp=int(float(plan["cp"])),
                          micro_batch=micro_batch, global_batch=dp * micro_batch * accumulation,
                          virtual_stages=int(float(plan["virtual_stages"])), zero=int(float(plan["zero"])),
                          recompute=str(plan["recompute"]).strip().lower(),
                          sequence_parallel=int(float(plan["tp"])) > 1)
    except (TypeError, ValueError, UsageError) as exc:
        return [f"the parallel plan cannot be built: {str(exc).splitlines()[0]}"]
    if pl.devices != inst.track.cluster.devices:
        return [f"TP x CP x PP x DP = {pl.devices:,}, not the track's {inst.track.cluster.devices:,} devices"]
    return _entry(inst, precision, estimate(_setup(inst.track.key, inst.track.workload.precision), pl))


def fixed_plan(inst: BatchInstance) -> dict[str, Any] | None:
    """The parallel plan every attempt is priced on where the track does not search one (evaluate_config: the
    track's TP, PP, DP, CP and virtual stages, the memory plan's ZeRO stage and recomputation); None where the plan
    is an attempt's own (sc.plan_search_batches, priced by _planned_attempt)."""
    if inst.sc.plan_search_batches:
        return None
    plan, c = inst.track.crisis_plan, inst.plan_choice
    return {**_plan_fields(plan), "zero": c.zero, "recompute": c.recompute}


def _choices(inst: BatchInstance) -> dict[str, list]:
    """The values each column of an attempt may take beyond its kind, which evaluate_attempt refuses others of:
    the precisions (the searched ones first, then the others the cost model prices, explorer.plan.PRECISIONS, which
    are outside the searched space) and recomputation modes (explorer.plan.RECOMPUTE, what ParallelPlan builds);
    where the plan is fixed (fixed_plan), each plan column's one value."""
    out: dict[str, list] = {"precision": list(dict.fromkeys([*inst.precisions, *PRECISIONS]))}
    fixed = fixed_plan(inst)
    out.update({"recompute": list(RECOMPUTE)} if fixed is None else {k: [v] for k, v in fixed.items()})
    return out


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named or fixed column takes on `track` (`explore attempts template`): _choices, the lists
    evaluate_attempt checks with (they do not depend on the scenario's options)."""
    return _choices(make_instance(track))


def searched_values(inst: BatchInstance) -> dict[str, list]:
    """The values of each column the search covers, which evaluate_attempt grades any other as outside of: the
    searched precisions, micro-batches and accumulations 1 to the largest (all_configs); where the plan is fixed its
    one value per plan column, else the ZeRO stages and recomputation modes (the parallel degrees are the attempt's
    own: any whose product is the track's devices is priced on the step model)."""
    out: dict[str, list] = {"precision": list(inst.precisions), "micro_batch": list(inst.micro_batches),
                            "accumulation": list(range(1, inst.max_accumulation + 1))}
    fixed = fixed_plan(inst)
    out.update({"zero": list(ZERO_STAGES), "recompute": list(RECOMPUTE)} if fixed is None else
               {k: [v] for k, v in fixed.items()})
    return out


def attempt_space(track: str = "cloud") -> dict[str, list]:
    """What the template lists for each column on `track`: searched_values of the default scenario."""
    return searched_values(make_instance(track))


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """What a file may leave out: the track's training precision and parallel plan (where the plan is fixed, the one
    every attempt is priced on)."""
    t = get_track(track)
    return {"precision": t.workload.precision, **(fixed_plan(make_instance(track)) or _plan_fields(t.crisis_plan))}


def _check_choices(inst: BatchInstance, values: dict[str, Any]) -> None:
    """A one-line UsageError for the first column whose value is not among _choices(inst): an unknown name, or on a
    track whose plan is fixed a plan column that differs from it (the grader would price the fixed plan instead)."""
    fixed = fixed_plan(inst) or {}
    for k, valid in _choices(inst).items():
        v = values.get(k)
        if isinstance(valid[0], str):
            ok, shown = str(v).strip().lower() in valid, repr(str(v).strip()[:40])
        else:
            try:
                ok = not isinstance(v, bool) and float(v) == valid[0]
            except (TypeError, ValueError, OverflowError):
                ok = False
            shown = V.short(v)
        if ok:
            continue
        if k in fixed:
            plan = ", ".join(f"{x} {y}" for x, y in fixed.items())
            raise UsageError(f"{k} {shown}: the {inst.track.key} track's batch part prices every attempt on its fixed "
                             f"plan ({plan}); {k} takes {valid[0]} (or leave the cell empty)")
        raise UsageError(f"{k} {shown} unknown; valid: {', '.join(map(str, valid))}")


def _neighbours(inst: BatchInstance, at: dict[str, Any]) -> list[dict[str, Any]]:
    """One change each, the other values as the attempt has them (`at`): every other searched precision, micro-batch
    and accumulation (searched_values); where the plan is the attempt's own, every ZeRO stage and recomputation mode
    and each TP, CP, PP and virtual-stage count of the 3D solver's space on this track (build_space: the plan search's
    space), DP following TP, CP and PP to keep the track's devices (said in '__derived__'), and DP alone where the
    degrees do not cover the devices."""
    out = [{**at, k: x} for k, dom in searched_values(inst).items() for x in dom if str(x) != str(at.get(k))]
    if fixed_plan(inst) is not None:
        return out
    from explorer.puzzles.threed import instance_for
    from explorer.puzzles.threed.feasibility import degree_moves
    from explorer.puzzles.threed.space import build_space

    space = build_space(instance_for(inst.track.key))
    try:
        deg = {k: int(float(at[k])) for k in ("tp", "cp", "pp", "dp", "virtual_stages")}
    except (TypeError, ValueError, OverflowError, KeyError):
        return out
    # the moves carry the attempt's own cells, with the moved degrees as numbers
    out += [{**at, **{k: m[k] for k in ("tp", "cp", "pp", "dp") if m[k] != deg[k]},
             **({"__derived__": m["__derived__"]} if "__derived__" in m else {})}
            for m in degree_moves(space, inst.track.cluster.devices, deg)]
    out += [{**at, "virtual_stages": x} for x in space.v if x != deg["virtual_stages"]]
    return out


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score (precision, micro-batch, accumulation) on the grid the exhaustive search covers (all_configs):
    a value off that grid is outside the searched space."""
    inst = make_instance(track, **options)
    values = {**attempt_defaults(track), **{k: v for k, v in values.items() if v not in (None, "")}}
    _check_choices(inst, values)
    p = str(values.get("precision", "")).strip().lower()
    try:
        b, a = int(float(values["micro_batch"])), int(float(values["accumulation"]))
    except KeyError as exc:
        raise UsageError(f"attempt is missing {exc.args[0]!r}; columns: {', '.join(ATTEMPT_VARIABLES)}") from None
    require_positive_int("micro_batch", b)
    require_positive_int("accumulation", a)
    if fixed_plan(inst) is None:  # as the 3D grader: there is no such stage to be outside the searched space
        try:
            zero = int(float(values.get("zero")))
        except (TypeError, ValueError, OverflowError):
            zero = None
        check_zero_stage(zero, values.get("zero"))
    at = {**{k: values[k] for k in PLAN_VARIABLES if k in values}, "precision": p, "micro_batch": b,
          "accumulation": a}
    outside = []
    searched = searched_values(inst)
    if p not in searched["precision"]:
        outside.append(f"precision {p} is outside the searched space, precisions: {', '.join(searched['precision'])}")
    if b not in searched["micro_batch"]:
        outside.append(f"micro_batch = {b} is outside the searched space, micro-batches: "
                       f"{', '.join(map(str, searched['micro_batch']))}")
    if a not in searched["accumulation"]:
        outside.append(f"accumulation = {a} is outside the searched space, accumulation <= {inst.max_accumulation}")
    if outside:
        return {"feasible": False, "figures": {}, "violations": [], "outside_space": outside, "objective": None,
                "objective_name": "time_to_target", "sense": "min", "read": at, "neighbours": _neighbours(inst, at)}
    t = inst.track
    given = {k: values.get(k, v) for k, v in _plan_fields(t.crisis_plan).items()}
    if inst.sc.plan_search_batches:  # the plan is a variable: score it on the step model (the 3D solver's)
        e = _planned_attempt(inst, p, b, a, given)
        if isinstance(e, list):
            return {"feasible": False, "figures": {}, "violations": [], "outside_space": e, "objective": None,
                    "objective_name": "time_to_target", "sense": "min", "read": at, "neighbours": _neighbours(inst, at)}
    else:
        e = evaluate_config(inst, p, b, a)
    res_reach = _reachable(track, tuple(sorted(options.items())))
    v = violations(inst, e, with_target=res_reach)
    # the objective first, then the limits it is checked against, labelled as the report labels them
    figs = {"time_to_target": Figure(e["time_to_target"], "s", "time to target per sample")} if res_reach else \
        {"samples_per_s": Figure(e["samples_per_s"], "samples/s", "throughput")}
    figs |= {k: Figure(e[k], u, label) for k, u, label in (
        ("mfu", "fraction", "MFU"), ("global_batch", "samples", "global batch"),
        ("network_utilisation", "fraction", "network busy fraction"), ("memory", "B", "memory per device"))}
    return {"feasible": not v, "figures": figs, "violations": v,
            "objective": e["time_to_target"] if res_reach else e["samples_per_s"],
            "objective_name": "time_to_target" if res_reach else "samples_per_s",
            "sense": "min" if res_reach else "max", "read": at,
            "neighbours": _neighbours(inst, at)}
