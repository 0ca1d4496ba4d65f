"""Grading a student's attempts at the hierarchy puzzle (the interface explorer/puzzles/__init__.py describes): the
columns, the values a file may leave out, and each attempt scored by the solvers' own evaluator."""

from __future__ import annotations

from typing import Any

from explorer.errors import UsageError
from explorer.puzzles.collective_scenario import get_scenario
from explorer.puzzles.hierarchy.model import TIME_SCALE, evaluate
from explorer.puzzles.hierarchy.scenario import INTER, INTRA, make_instance
from explorer.report import Figure

ATTEMPT_VARIABLES = ["aggregation", "intra_algorithm", "inter_algorithm", "accumulation"]
ATTEMPT_REQUIRED = ["aggregation", "accumulation"]  # the algorithms default to ring (attempt_defaults)
ATTEMPT_KINDS = {"aggregation": "count", "intra_algorithm": "name", "inter_algorithm": "name",
                 "accumulation": "count"}
ATTEMPT_ALIASES = {"g": "aggregation", "intra": "intra_algorithm", "inter": "inter_algorithm", "a": "accumulation"}
MAX_ATTEMPTS = 10


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
