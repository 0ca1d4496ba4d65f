"""The memory audit's attempts: the values a student's file may name, how each row is read against the
searched space, and its grade on the solver's objective (time-to-quality charged)."""

from __future__ import annotations

from functools import cache
from typing import Any

from explorer.cost import training_memory as tmem
from explorer.errors import UsageError
from explorer.plan import check_zero_stage
from explorer.puzzles.memory.model import _baseline_idx, _ttq, build_problem
from explorer.puzzles.memory.scenario import (
    ATTEMPT_KINDS,
    ATTEMPT_OPTIONS,
    ATTEMPT_VARIABLES,
    CHARGED_LABEL,
    NO_ADAPTED_LAYER,
    MemoryInstance,
    _choice,
    make_instance,
)
from explorer.report import Constraint, Figure

# --- attempts ---------------------------------------------------------------------------------------
NAME_COLUMNS = [d for d in ATTEMPT_VARIABLES if ATTEMPT_KINDS[d] == "name"]


def name_choices(inst: MemoryInstance) -> dict[str, list]:
    """The values each named column accepts: the choices the audit searches (inst.dims); _parse refuses any
    other name (a typo, or another track's) with this list."""
    out = {d: list(inst.dims[d]) for d in NAME_COLUMNS}
    out["precision"] = list(inst.precisions or inst.dims["precision"])  # the others graded outside (precision_moves)
    return out


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named column takes on `track` (`explore attempts template`): name_choices of the default
    scenario (the named dims do not depend on --memory-limit-gb or --batch)."""
    return name_choices(make_instance(track))


def searched_values(inst: MemoryInstance) -> dict[str, list]:
    """The values of each column the audit searches (inst.dims): _parse grades any other as outside the searched
    space, and the template lists these (attempt_space)."""
    return {d: list(inst.dims[d]) for d in ATTEMPT_VARIABLES}


def attempt_space(track: str = "cloud") -> dict[str, list]:
    """What the template lists for each column on `track`: searched_values of the default scenario."""
    return searched_values(make_instance(track))


def _parse(inst: MemoryInstance, values: dict) -> tuple[dict[str, int], list[str], dict[str, Any]]:
    """Indices into the searched choices (searched_values), the values outside them, and every value as read. A ZeRO
    stage other than 0-3 is refused, as the 3D and batch graders refuse it: there is no such stage to be outside the
    searched space (Rajbhandari et al. 2020)."""
    idx, outside, read = {}, [], {}
    names = name_choices(inst)
    searched = searched_values(inst)
    for d in ATTEMPT_VARIABLES:
        v = values[d] if values.get(d) not in (None, "") else getattr(inst.baseline, d)
        dom = searched[d]
        if d == "offload":
            v = v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(dom[0], int) and not isinstance(dom[0], bool):
            try:
                v = int(float(v))
            except (TypeError, ValueError, OverflowError):
                raise UsageError(f"{d} must be a whole number, got {v!r}") from None
        else:
            v = str(v).strip().lower()
        if d in names and v not in names[d]:  # a name this track does not offer: a typo, or another track's
            raise UsageError(f"{d} {v[:40]!r} not offered on the {inst.track.key} track; valid: "
                             f"{', '.join(names[d])}")
        if d == "zero":
            check_zero_stage(v)
        read[d] = v
        if v not in dom:
            why = (f" ({v} keeps every term of the waterfall in the bytes {inst.same_bytes[v]} does: no memory change)"
                   if d == "precision" and v in inst.same_bytes else "")
            outside.append(f"{d} = {v} is outside the searched space, {d} in {', '.join(map(str, dom))}{why}")
            continue
        idx[d] = dom.index(v)
    return idx, outside, read


def _neighbours(inst: MemoryInstance, read: dict[str, Any]) -> list[dict[str, Any]]:
    """One change each: every other searched value of one column, the others as read (a value outside the searched
    space moves to any searched one, the nearest among them)."""
    return [{**read, d: x} for d, dom in searched_values(inst).items() for x in dom if x != read[d]]


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """Values a file may leave out: the track's starting configuration (what the audit changes from)."""
    inst, _ = _cached_problem(track, options.get("memory_limit_gb"), options.get("batch"))
    return {d: getattr(inst.baseline, d) for d in ATTEMPT_VARIABLES}


@cache
def _cached_problem(track: str, memory_limit_gb: float | None, batch: int | None):
    inst = make_instance(track, memory_limit_gb=memory_limit_gb, batch=batch)
    return inst, build_problem(inst)


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    unknown = [k for k in options if k not in ATTEMPT_OPTIONS]
    if unknown:
        raise UsageError(f"unknown option(s) {unknown}; valid: {', '.join(ATTEMPT_OPTIONS)}")
    inst, prob = _cached_problem(track, options.get("memory_limit_gb"), options.get("batch"))
    idx, outside, read = _parse(inst, values)
    if outside:
        return {"feasible": False, "figures": {}, "violations": [], "outside_space": outside, "objective": None,
                "objective_name": "time_to_quality_charged_s", "sense": "min", "read": read,
                "neighbours": _neighbours(inst, read)}
    sc = prob.score(idx)
    viol = [Constraint(n, v, lim, "" if n == NO_ADAPTED_LAYER else "B", "<=")
            for n, (v, lim) in sc["constraints"].items() if v > lim]
    u = prob.notes["unit_s"]
    ttq = _ttq(prob, sc)
    wf = tmem.waterfall(inst.base, inst.layout, _choice(inst, idx), inst.cm.int8_block_size)
    figs = {k: Figure(wf[k], "B", k) for k in tmem.MEMORY_TERMS}
    figs["total"] = Figure(wf["total"], "B", "device memory")  # the sum of the parts, as the violation names it
    figs["step_time"] = Figure(sc["time"] * u, "s", "step time")
    neighbours = _neighbours(inst, read)
    charged = max(ttq, _ttq(prob, prob.score(_baseline_idx(inst))))
    figs["time_to_quality_s"] = Figure(ttq, "s", "time-to-quality")
    # the report's label ends in its unit (", s"), which a sentence that prints the value with its unit repeats
    figs["time_to_quality_charged_s"] = Figure(charged, "s", CHARGED_LABEL.removesuffix(", s"))
    return {"feasible": sc["feasible"], "figures": figs, "violations": viol, "objective": charged,
            "objective_name": "time_to_quality_charged_s", "sense": "min", "read": read, "neighbours": neighbours}
