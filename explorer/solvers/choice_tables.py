"""A design space of categorical choices whose costs are sums of integer tables over small subsets
of the choices, solved two ways over the same tables: CP-SAT and exhaustive enumeration.

Space: dims = {name: [values...]} (ordered; index 0 is the starting point).
Terms: Term(dims=(a, b, ...), table=int array indexed by those dims' value indices).
Constraints: sum of some terms <= limit (integers, e.g. bytes).
Objective (minimised), lexicographic:
  1. max(time x quality, floor), then 2. (number of dims changed from index 0) x R + mixed-radix index,
where time = the sum of the time terms, quality = the quality term, R = the number of
configurations and floor = the starting point's time x quality (so a change is never "worth"
making for its own sake: a faster configuration costs nothing, and among those the fewest changes
win). The index makes the optimum unique, so both engines must return the same configuration,
not only the same value. CP-SAT solves the two levels in two passes (the second with the first
fixed at its optimum), so no single objective has to hold their product (R^2 overflows 64 bits
once the space passes ~10^4 configurations).

CP-SAT model (CP-SAT Primer style: variables, one block per constraint family, objective):
  x[d]     the index of the value chosen in dim d
  k[S]     the mixed-radix index of the joint choice of the dims in subset S (linear in x)
  term value = element(table of the term flattened, k[S])
(an element constraint per term: the model stays a few dozen variables however many joint
choices a table holds; one-hot joint variables took seconds to presolve at 10^4 configurations)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Term:
    name: str
    dims: tuple[str, ...]
    table: np.ndarray  # int64, shape = sizes of dims


@dataclass
class ChoiceProblem:
    dims: dict[str, list]
    terms: dict[str, Term]
    constraints: list[tuple[str, tuple[str, ...], int]]  # (name, term names summed, limit)
    time_terms: tuple[str, ...]
    quality_term: str
    floor: int = 0
    notes: dict = field(default_factory=dict)

    @property
    def sizes(self) -> list[int]:
        return [len(v) for v in self.dims.values()]

    @property
    def radix(self) -> int:
        return int(np.prod(self.sizes))

    def tiebreak(self, idx: dict[str, int]) -> int:
        r, out = 1, 0
        for d in reversed(list(self.dims)):
            out += idx[d] * r
            r *= len(self.dims[d])
        return out

    def term_value(self, name: str, idx: dict[str, int]) -> int:
        t = self.terms[name]
        return int(t.table[tuple(idx[d] for d in t.dims)])

    def score(self, idx: dict[str, int]) -> dict:
        """The solver-independent specification: constraint values, feasibility and objective."""
        cons = {n: (sum(self.term_value(t, idx) for t in ts), lim) for n, ts, lim in self.constraints}
        time = sum(self.term_value(t, idx) for t in self.time_terms)
        q = self.term_value(self.quality_term, idx)
        changes = sum(1 for i in idx.values() if i)
        r = self.radix
        return {"constraints": cons, "feasible": all(v <= lim for v, lim in cons.values()),
                "time": time, "quality": q, "changes": changes,
                "objective": (max(time * q, self.floor), changes * r + self.tiebreak(idx))}


def _full_index(problem: ChoiceProblem, term: Term, grids: dict[str, np.ndarray]) -> np.ndarray:
    return term.table[tuple(grids[d] for d in term.dims)]


def solve_exhaustive(problem: ChoiceProblem) -> tuple[dict[str, int] | None, int]:
    """Evaluate every configuration (numpy); returns (best index per dim or None, count evaluated)."""
    names = list(problem.dims)
    grids = dict(zip(names, np.indices(problem.sizes).reshape(len(names), -1)))
    ok = np.ones(problem.radix, dtype=bool)
    for _, ts, lim in problem.constraints:
        total = sum(_full_index(problem, problem.terms[t], grids) for t in ts)
        ok &= total <= lim
    if not ok.any():
        return None, problem.radix
    time = sum(_full_index(problem, problem.terms[t], grids) for t in problem.time_terms)
    q = _full_index(problem, problem.terms[problem.quality_term], grids)
    tb = np.zeros(problem.radix, dtype=np.int64)
    r = 1
    for d in reversed(names):
        tb += grids[d] * r
        r *= len(problem.dims[d])
    changes = sum((grids[d] > 0).astype(np.int64) for d in names)
    first = np.maximum(time.astype(np.int64) * q.astype(np.int64), problem.floor)
    second = changes * problem.radix + tb
    feasible = np.flatnonzero(ok)
    k = int(feasible[np.lexsort((second[feasible], first[feasible]))[0]])
    return {d: int(grids[d][k]) for d in names}, problem.radix


def solve_cpsat(problem: ChoiceProblem, time_limit_s: float = 30.0) -> tuple:
    """CP-SAT over the same tables; returns (best index per dim or None, SolveOutcome)."""
    from ortools.sat.python import cp_model

    from explorer.solvers import cpsat

    m = cp_model.CpModel()
    names = list(problem.dims)
    # variables: the index of the value chosen in each dim
    x = {d: m.NewIntVar(0, len(v) - 1, f"x_{d}") for d, v in problem.dims.items()}
    # each term: a table constraint over (the dims it names, its value)
    def value(name: str):
        t = problem.terms[name]
        v = m.NewIntVar(int(t.table.min()), int(t.table.max()), f"t_{name}")
        rows = [(*combo, int(t.table[combo])) for combo in np.ndindex(*t.table.shape)]
        m.AddAllowedAssignments([x[d] for d in t.dims] + [v], rows)
        return v

    values = {name: value(name) for name in problem.terms}
    # capacity constraints (memory, host memory, flash)
    for _, ts, lim in problem.constraints:
        m.Add(sum(values[t] for t in ts) <= int(lim))
    # objective, level 1: time x quality, clamped at the starting point's
    t_hi = sum(int(problem.terms[t].table.max()) for t in problem.time_terms)
    q_tab = problem.terms[problem.quality_term].table
    time_v = m.NewIntVar(0, t_hi, "time_us")
    m.Add(time_v == sum(values[t] for t in problem.time_terms))
    prod = m.NewIntVar(0, t_hi * int(q_tab.max()), "time_to_quality")
    m.AddMultiplicationEquality(prod, [time_v, values[problem.quality_term]])
    clamped = m.NewIntVar(int(problem.floor), max(int(problem.floor), t_hi * int(q_tab.max())), "throughput_lost")
    m.AddMaxEquality(clamped, [prod, int(problem.floor)])
    # level 2: fewest changes from the starting point (index 0 of every dim), then the lowest index
    changed = []
    for d in names:
        b = m.NewBoolVar(f"changed_{d}")
        m.Add(x[d] >= 1).OnlyEnforceIf(b)
        m.Add(x[d] == 0).OnlyEnforceIf(b.Not())
        changed.append(b)
    r, tb = 1, 0
    for d in reversed(names):
        tb += r * x[d]
        r *= len(problem.dims[d])
    # pass 1: the time-to-quality. Unlike the 3D puzzle's models, these products of table values gain from CP-SAT's
    # default presolve probing (level 2): lab 08 part 1 on the cloud track proves its two passes in 3.8 s with it,
    # 14.8 s without (the three other tracks 0.8-1.1 s either way; measured 2026-12-03 on 2 cores).
    params = {"cp_model_probing_level": 2}
    m.Minimize(clamped)
    t0 = time.perf_counter()
    solver, out = cpsat.run(m, time_limit_s=time_limit_s, params=params)
    if out.status not in ("optimal", "feasible"):
        return None, out
    first = {d: int(solver.Value(x[d])) for d in names}
    if out.status != "optimal":
        return first, out
    # pass 2: among the configurations at that optimum, the fewest changes, then the lowest index
    m.Add(clamped == int(round(out.objective)))
    m.Minimize(sum(changed) * problem.radix + tb)
    for d in names:  # start from the first pass's answer: pass 2 always has a solution
        m.AddHint(x[d], first[d])
    left = max(0.1, time_limit_s - (time.perf_counter() - t0))
    solver2, out2 = cpsat.run(m, time_limit_s=left, params=params)
    # the status is the first pass's (the objective is proven); a tie-break cut short keeps a tied answer
    best = first if out2.status not in ("optimal", "feasible") else {d: int(solver2.Value(x[d])) for d in names}
    return best, replace(out, wall_time_s=out.wall_time_s + out2.wall_time_s)


def restrict(problem: ChoiceProblem, dim: str, index: int) -> ChoiceProblem:
    """The same problem with one dim pinned to one of its values (tables sliced, floor kept)."""
    dims = dict(problem.dims)
    dims[dim] = [problem.dims[dim][index]]
    terms = {}
    for name, t in problem.terms.items():
        table = t.table
        if dim in t.dims:
            table = np.take(table, [index], axis=t.dims.index(dim))
        terms[name] = Term(name, t.dims, table)
    return ChoiceProblem(dims, terms, list(problem.constraints), problem.time_terms, problem.quality_term,
                         problem.floor, dict(problem.notes))
