"""The one place that runs CP-SAT: explicit time limit, seed and workers; status mapped to words.

A solve stopped by its time limit before a proof is reported as "feasible" with CP-SAT's bound
and the relative gap, never as "optimal" (see SolveOutcome.status)."""

from __future__ import annotations

import time
from dataclasses import dataclass

DEFAULT_TIME_LIMIT_S = 30.0
# CP-SAT's variable domains must lie within +-(2^63 - 1) / 2 (ortools' kint64max / 2); a model whose
# tabulated numbers pass this cannot be built, and each puzzle says what it does instead.
MAX_DOMAIN = (1 << 62) - 1


@dataclass(frozen=True)
class SolveOutcome:
    status: str  # "optimal" | "feasible" | "infeasible" | "unknown"
    objective: float | None
    bound: float | None
    wall_time_s: float

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return abs(self.objective - self.bound) / max(abs(self.objective), 1e-12)


def run(model, time_limit_s: float = DEFAULT_TIME_LIMIT_S, workers: int = 2, seed: int = 0,
        params: dict | None = None) -> tuple:
    """Solve a cp_model.CpModel; returns (solver, SolveOutcome). `params` overrides CP-SAT
    parameters by name (each puzzle states why it sets any)."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    # Probing at presolve costs more than it saves on these small, table-heavy models (measured:
    # benchmarks/bench_search.py); the answer and its proof are unaffected.
    solver.parameters.cp_model_probing_level = 0
    for k, v in (params or {}).items():
        setattr(solver.parameters, k, v)
    t0 = time.perf_counter()
    code = solver.Solve(model)
    wall = time.perf_counter() - t0
    status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
              cp_model.INFEASIBLE: "infeasible"}.get(code, "unknown")
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT model invalid: {model.Validate()}")
    has = status in ("optimal", "feasible")
    return solver, SolveOutcome(status, solver.ObjectiveValue() if has else None,
                                solver.BestObjectiveBound() if has else None, wall)


def answer_status(best: object, outcome: SolveOutcome, time_limit_s: float) -> str:
    """The status of a CP-SAT search's answer `best` (None when it returned none): the outcome's where it has one,
    "infeasible" where CP-SAT proved there is none; no answer and no proof within the time limit is a NoAnswerError
    (exit 3), never an infeasibility it did not prove."""
    from explorer.errors import NoAnswerError

    if best is None and outcome.status == "unknown":
        raise NoAnswerError(time_limit_s)
    return outcome.status if best is not None else "infeasible"
