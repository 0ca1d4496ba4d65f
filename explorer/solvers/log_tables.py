"""A design space of categorical choices whose objective is a product of positive factors, each a
table over a few of the choices, and whose constraints are sums of integer tables under limits:
solved two ways over the same integer tables, CP-SAT and exhaustive enumeration.

A product of factors is a sum of logarithms, so the tables hold round(SCALE x ln(factor)) (SCALE =
1e4: factors are resolved to one part in ten thousand, finer than any input of these models is
known; both engines see the same integers, so they agree exactly; smaller coefficients also keep
CP-SAT's linear relaxation well conditioned, measured faster than 1e6). The objective is

    Z = sum of the `base` tables + max over the `rates` of (sum of that rate's tables)

(a max of log-products: e.g. time to a target = rounds x max(round time / window, energy per round
/ daily budget)), minimised; ties are broken by the mixed-radix index of the configuration, so the
optimum is unique and both engines must return the same configuration, not only the same value.

CP-SAT model (solve_cpsat): one-hot choices linked to one-hot joint choices per table; the max as
an integer variable bounded below by each rate (minimisation drives it onto the largest);
constraints as linear sums of table values.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

SCALE = 10_000
INFEASIBLE = np.iinfo(np.int64).max


@dataclass(frozen=True)
class IntTable:
    name: str
    dims: tuple[str, ...]
    values: np.ndarray  # int64, shape = sizes of dims (in that order)


def log_table(name: str, dims: tuple[str, ...], factor: np.ndarray) -> IntTable:
    """round(SCALE ln(factor)) of a positive array; non-positive or non-finite factors are an error."""
    f = np.asarray(factor, dtype=float)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueError(f"log table {name}: factors must be finite and positive")
    return IntTable(name, dims, np.rint(SCALE * np.log(f)).astype(np.int64))


def squeeze(t: IntTable) -> IntTable:
    """Drop the dims along which the table does not vary (smaller CP-SAT element constraints)."""
    keep = [i for i in range(len(t.dims)) if t.values.shape[i] > 1 and np.ptp(t.values, axis=i).any()]
    idx = tuple(slice(None) if i in keep else 0 for i in range(len(t.dims)))
    return IntTable(t.name, tuple(t.dims[i] for i in keep), np.asarray(t.values[idx]))


@dataclass
class LogProblem:
    sizes: dict[str, int]  # dim -> number of values (ordered)
    tables: dict[str, IntTable]
    base: tuple[str, ...]
    rates: tuple[tuple[str, ...], ...]
    limits: list[tuple[str, tuple[str, ...], int]]  # (name, tables summed, limit)
    notes: dict = field(default_factory=dict)

    @property
    def radix(self) -> int:
        return int(np.prod(list(self.sizes.values())))

    def index_of(self, idx: dict[str, int]) -> int:
        r, out = 1, 0
        for d in reversed(list(self.sizes)):
            out += idx[d] * r
            r *= self.sizes[d]
        return out

    def value(self, name: str, idx: dict[str, int]) -> int:
        t = self.tables[name]
        return int(t.values[tuple(idx[d] for d in t.dims)])

    def score(self, idx: dict[str, int]) -> dict:
        """The solver-independent specification of one configuration: limits, feasibility, objective."""
        lim = {n: (sum(self.value(t, idx) for t in ts), cap) for n, ts, cap in self.limits}
        z = sum(self.value(t, idx) for t in self.base)
        if self.rates:
            z += max(sum(self.value(t, idx) for t in ts) for ts in self.rates)
        return {"limits": lim, "feasible": all(v <= cap for v, cap in lim.values()), "z": z,
                "objective": z * self.radix + self.index_of(idx)}


def _full(problem: LogProblem, name: str, grids: dict[str, np.ndarray]) -> np.ndarray:
    t = problem.tables[name]
    return t.values[tuple(grids[d] for d in t.dims)] if t.dims else np.full_like(
        next(iter(grids.values())), int(t.values))


def evaluate_all(problem: LogProblem) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(objective with INFEASIBLE where a limit fails, feasible mask, index grids) over every configuration."""
    names = list(problem.sizes)
    grids = dict(zip(names, np.indices(list(problem.sizes.values())).reshape(len(names), -1)))
    ok = np.ones(problem.radix, dtype=bool)
    for _, ts, cap in problem.limits:
        ok &= sum(_full(problem, t, grids) for t in ts) <= cap
    z = sum((_full(problem, t, grids) for t in problem.base), np.zeros(problem.radix, dtype=np.int64))
    if problem.rates:
        z = z + np.max(np.stack([sum(_full(problem, t, grids) for t in ts) for ts in problem.rates]), axis=0)
    tb = np.zeros(problem.radix, dtype=np.int64)
    r = 1
    for d in reversed(names):
        tb += grids[d] * r
        r *= problem.sizes[d]
    obj = np.where(ok, z * problem.radix + tb, INFEASIBLE)
    return obj, ok, grids


def solve_exhaustive(problem: LogProblem, top: int = 1) -> tuple[list[dict[str, int]], int]:
    """Every configuration evaluated (numpy): the `top` best, and the number of feasible ones."""
    obj, ok, grids = evaluate_all(problem)
    order = np.argsort(obj, kind="stable")[:top]
    best = [{d: int(grids[d][k]) for d in problem.sizes} for k in order if ok[k]]
    return best, int(ok.sum())


def solve_cpsat(problem: LogProblem, time_limit_s: float = 30.0, params: dict | None = None, workers: int = 1) -> tuple:
    """CP-SAT over the same tables; returns (best index per dim or None, SolveOutcome).

    One-hot choice per dim; one-hot joint choice per table linked to the dims' choices by
    sum_{c : c_d = i} y[c] = x[d][i] for every dim d of the table (exact and linear; a tight LP
    relaxation, as in explorer/solvers/choice_tables.py); objective Z. Among optima of equal Z the caller
    picks the one of least index (`canonical`), the tie-break the exhaustive engine applies."""
    from ortools.sat.python import cp_model

    from explorer.solvers import cpsat

    m = cp_model.CpModel()
    x = {d: [m.NewBoolVar(f"x_{d}_{i}") for i in range(n)] for d, n in problem.sizes.items()}
    for vs in x.values():
        m.AddExactlyOne(vs)
    vals = {}
    for name, t in problem.tables.items():
        if not t.dims:
            vals[name] = int(t.values)
            continue
        combos = list(itertools.product(*(range(problem.sizes[d]) for d in t.dims)))
        y = {c: m.NewBoolVar(f"y_{name}_{k}") for k, c in enumerate(combos)}
        for j, d in enumerate(t.dims):
            for i in range(problem.sizes[d]):
                m.Add(sum(v for c, v in y.items() if c[j] == i) == x[d][i])
        vals[name] = sum(int(t.values[c]) * v for c, v in y.items())
    for _, ts, cap in problem.limits:
        m.Add(sum(vals[t] for t in ts) <= int(cap))
    z = sum(vals[t] for t in problem.base)
    if problem.rates:
        bound = max(sum(int(np.abs(problem.tables[t].values).max()) for t in ts) for ts in problem.rates)
        mx = m.NewIntVar(-bound, bound, "rate_max")
        for ts in problem.rates:
            m.Add(mx >= sum(vals[t] for t in ts))
        z = z + mx
    m.Minimize(z)
    solver, out = cpsat.run(m, time_limit_s=time_limit_s, workers=workers, params=params)
    if out.status not in ("optimal", "feasible"):
        return None, out
    best = {d: next(i for i, v in enumerate(vs) if solver.Value(v)) for d, vs in x.items()}
    return best, out


def canonical(problem: LogProblem, z: int) -> dict[str, int] | None:
    """The feasible configuration of least index whose Z equals z (the shared tie-break)."""
    obj, ok, grids = evaluate_all(problem)
    hit = np.flatnonzero(ok & (obj // problem.radix == z))
    if not hit.size:
        return None
    k = int(hit[np.argmin(obj[hit])])
    return {d: int(grids[d][k]) for d in problem.sizes}
