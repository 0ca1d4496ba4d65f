"""A tiny fake puzzle for the reports tests (registered by the tests, never shipped).

Variables tp, pp in {1, 2, 4, 8}. Memory per device = 512 GB / (tp pp); limit 72 GB.
Objective (max) "tokens/s" = 100 tp + 10 pp - tp pp. Feasible iff tp pp >= 8 (512/8 = 64 <= 72,
512/4 = 128 > 72). Optimum by hand over the feasible set: tp = 8 gives 800 + 10 pp - 8 pp = 800 + 2 pp,
largest at pp = 8: 816; tp = 4 gives at most 400 + 80 - 32 = 448. So the optimum is tp 8, pp 8: 816.
"""

from __future__ import annotations

from explorer.errors import UsageError
from explorer.report import Constraint, Figure, Finding, Formula, Report

ATTEMPT_VARIABLES = ["tp", "pp"]
MAX_ATTEMPTS = 3
DEGREES = (1, 2, 4, 8)
LIMIT_B = 72e9


def _degree(name: str, v) -> int:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be one of 1, 2, 4, 8, got {v!r}") from None
    if x not in DEGREES:
        raise UsageError(f"{name} must be one of 1, 2, 4, 8, got {v!r}")
    return int(x)


def evaluate_attempt(values: dict, track: str = "cloud", **options) -> dict:
    tp, pp = _degree("tp", values["tp"]), _degree("pp", values["pp"])
    mem = 512e9 / (tp * pp)
    c = Constraint("memory", mem, LIMIT_B, "B", "<=", text="usable HBM")
    obj = 100 * tp + 10 * pp - tp * pp
    neighbours = []
    for name, v in (("tp", tp), ("pp", pp)):
        for w in (v // 2, v * 2):
            if w in DEGREES:
                nb = {"tp": tp, "pp": pp}
                nb[name] = w
                neighbours.append(nb)
    return {"feasible": c.satisfied, "figures": {"tokens_per_s": Figure(obj, "tokens/s", "tokens/s"),
                                                 "memory": Figure(mem, "B", "memory per device")},
            "violations": [] if c.satisfied else [c], "objective": float(obj), "objective_name": "tokens/s",
            "sense": "max", "neighbours": neighbours}


def solve(track: str = "cloud", **options) -> Report:
    best = max(((tp, pp) for tp in DEGREES for pp in DEGREES if 512e9 / (tp * pp) <= LIMIT_B),
               key=lambda c: 100 * c[0] + 10 * c[1] - c[0] * c[1])
    res = evaluate_attempt({"tp": best[0], "pp": best[1]}, track)
    return Report(
        puzzle="fake", lab="05", part=9, track=track, title="Fake puzzle", status="optimal",
        headline=f"tp {best[0]}, pp {best[1]}: {res['objective']:.0f} tokens/s; proven optimal by CP-SAT in 0.0123 s.",
        figures=res["figures"], findings=[Finding("Best?", f"tp {best[0]} pp {best[1]}")],
        constraints=[Constraint("memory", 512e9 / (best[0] * best[1]), LIMIT_B, "B", "<=", True)],
        formulas=[Formula("memory", "M = 512 GB / (tp pp)", "made up for tests")],
        plots=[], data={}, extra={"objective": {"name": "tokens/s", "value": res["objective"], "sense": "max"},
                                  "configuration": {"tp": best[0], "pp": best[1]}},
        solve_time_s=0.0123,
    )
