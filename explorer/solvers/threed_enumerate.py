"""Exhaustive evaluation of the 3D puzzle: every candidate scored at once with numpy.

The solver-independent specification: the same cost model (explorer.cost.step.evaluate) on
arrays of the same candidates CP-SAT searches; used as `--engine enumerate` and to cross-check
CP-SAT's optimum in the tests and the benchmark. The candidates and the bubble rule are the puzzle's, handed in
as `rules` (explorer/solvers/threed_rules.py: solvers do not import puzzles)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from explorer.cost.step import evaluate
from explorer.solvers.threed_rules import ThreeDInstance, ThreeDRules, ThreeDSpace

CHUNK = 1 << 20


@dataclass
class Enumeration:
    """All candidates with their step time, memory and feasibility (sorted: best first)."""

    columns: dict[str, np.ndarray]  # plan fields + step_time + memory_total + feasible flags
    evaluated: int
    feasible: int
    wall_time_s: float


def enumerate_space(inst: ThreeDInstance, space: ThreeDSpace | None = None, *, rules: ThreeDRules) -> Enumeration:
    """Score every candidate; keep them all, feasible first, fastest first. `rules`: the puzzle's design space
    and its rules (explorer.puzzles.threed.space); `space` defaults to rules.build_space(inst)."""
    t0 = time.perf_counter()
    space = space or rules.build_space(inst)
    cand = rules.candidate_arrays(inst, space)
    n = len(cand["tp"])
    step = np.empty(n)
    memory = np.empty(n, dtype=np.int64)
    for lo in range(0, n, CHUNK):
        s = slice(lo, lo + CHUNK)
        r = evaluate(inst.setup, cand["tp"][s], cand["cp"][s], cand["pp"][s], cand["dp"][s], cand["v"][s],
                     cand["mb"][s], cand["m"][s], cand["zero"][s], cand["rc"][s], cand["sp"][s], fw=cand["fw"][s],
                     hsdp=cand["hsdp"][s])
        step[s] = r["step_time"]
        memory[s] = r["memory_total"]
    fits = memory <= inst.limit
    bub = rules.bubble_ok(inst, cand["pp"], cand["v"], cand["m"])
    feasible = fits & bub
    # Order: the feasible ones first, fastest first, ties broken by the plan fields (deterministic);
    # the infeasible ones after them in generation order (only masks and minima are taken of those).
    f = np.flatnonzero(feasible)
    keys = [cand[k][f] for k in ("fw", "sp", "rc", "zero", "hsdp", "v", "mb", "pp", "cp", "tp")] + [step[f]]
    order = np.concatenate([f[np.lexsort(keys)], np.flatnonzero(~feasible)])
    cols = {k: a[order] for k, a in cand.items()}
    cols.update(step_time=step[order], memory_total=memory[order], fits=fits[order], bubble_ok=bub[order],
                feasible=feasible[order])
    return Enumeration(cols, n, int(feasible.sum()), time.perf_counter() - t0)
