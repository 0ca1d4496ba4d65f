"""A design space of categorical choices whose costs are sums of integer tables over small subsets
of the choices, solved two ways over the same tables: CP-SAT and exhaustive enumeration.

Space: dims = {name: [values...]} (ordered; index 0 is the starting point).
Terms: Term(dims=(a, b, ...), table=int array indexed by those dims' value indices).
Constraints: sum of some terms <= limit (integers, e.g. bytes).
Objective (minimised), lexicographic in one integer:
  max(time x quality, floor) x R^2 + (number of dims changed from index 0) x R + mixed-radix index,
where time = the sum of the time terms, quality = the quality term, R = the number of
configurations and floor = the starting point's time x quality (so a change is never "worth"
making for its own sake: a faster configuration costs nothing, and among those the fewest changes
win). The index makes the optimum unique, so both engines must return the same configuration,
not only the same value.

CP-SAT model (CP-SAT Primer style: variables, one block per constraint family, objective):
  x[d][i]  one-hot choice of value i for dim d
  y[S][c]  one-hot joint choice c of the dims in subset S, linked to x by
           sum_{c : c_d = i} y[S][c] = x[d][i] for every d in S (exact, linear)
  term value = sum_c y[S][c] table[c]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

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
                "objective": max(time * q, self.floor) * r * r + changes * r + self.tiebreak(idx)}


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
    r = problem.radix
    obj = np.maximum(time.astype(np.int64) * q.astype(np.int64), problem.floor) * r * r + changes * r + tb
    obj = np.where(ok, obj, np.iinfo(np.int64).max)
    k = int(np.argmin(obj))
    return {d: int(grids[d][k]) for d in names}, problem.radix


def solve_cpsat(problem: ChoiceProblem, time_limit_s: float = 30.0) -> tuple:
    """CP-SAT over the same tables; returns (best index per dim or None, SolveOutcome)."""
    from ortools.sat.python import cp_model

    from explorer.solvers import cpsat

    m = cp_model.CpModel()
    # variables: one-hot choice per dim
    x = {d: [m.NewBoolVar(f"x_{d}_{i}") for i in range(len(v))] for d, v in problem.dims.items()}
    for vs in x.values():
        m.AddExactlyOne(vs)
    # joint choices per subset of dims used by some term, linked to the one-hot choices
    joint: dict[tuple[str, ...], dict[tuple[int, ...], object]] = {}

    def joint_of(dims: tuple[str, ...]):
        if dims not in joint:
            combos = list(itertools.product(*(range(len(problem.dims[d])) for d in dims)))
            y = {c: m.NewBoolVar(f"y_{'_'.join(dims)}_{'_'.join(map(str, c))}") for c in combos}
            for j, d in enumerate(dims):
                for i in range(len(problem.dims[d])):
                    m.Add(sum(v for c, v in y.items() if c[j] == i) == x[d][i])
            joint[dims] = y
        return joint[dims]

    def expr(name: str):
        t = problem.terms[name]
        y = joint_of(t.dims)
        return sum(int(t.table[c]) * v for c, v in y.items())

    # memory (and other) capacity constraints
    for _, ts, lim in problem.constraints:
        m.Add(sum(expr(t) for t in ts) <= int(lim))
    # objective: time x quality x R + tie-break
    t_hi = sum(int(problem.terms[t].table.max()) for t in problem.time_terms)
    q_tab = problem.terms[problem.quality_term].table
    time_v = m.NewIntVar(0, t_hi, "time_us")
    m.Add(time_v == sum(expr(t) for t in problem.time_terms))
    q_v = m.NewIntVar(int(q_tab.min()), int(q_tab.max()), "quality_milli")
    m.Add(q_v == expr(problem.quality_term))
    prod = m.NewIntVar(0, t_hi * int(q_tab.max()), "time_to_quality")
    m.AddMultiplicationEquality(prod, [time_v, q_v])
    clamped = m.NewIntVar(int(problem.floor), max(int(problem.floor), t_hi * int(q_tab.max())), "throughput_lost")
    m.AddMaxEquality(clamped, [prod, int(problem.floor)])
    r, tb = 1, 0
    for d in reversed(list(problem.dims)):
        tb += sum(i * r * v for i, v in enumerate(x[d]))
        r *= len(problem.dims[d])
    changes = sum(1 - vs[0] for vs in x.values())
    R = problem.radix
    m.Minimize(clamped * R * R + changes * R + tb)
    solver, out = cpsat.run(m, time_limit_s=time_limit_s)
    if out.status not in ("optimal", "feasible"):
        return None, out
    return {d: next(i for i, v in enumerate(vs) if solver.Value(v)) for d, vs in x.items()}, out


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
