"""The memory audit's model: the choice tables (each waterfall and step-time term over the dims it depends on,
from explorer.cost.training_memory), the CP-SAT search re-checked exhaustively, what no configuration meets when
none fits, and the lab's closed-form figures (bytes per parameter, the largest model that trains)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from explorer import validation as V
from explorer.cost import training_memory as tmem
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.errors import InfeasibleError, UsageError
from explorer.puzzles.memory.narration import _describe
from explorer.puzzles.memory.scenario import (
    ENGINES,
    MILLI,
    NO_ADAPTED_LAYER,
    TIME_UNITS,
    MemoryInstance,
    _choice,
    make_instance,
    quality_multiplier,
)
from explorer.solvers import cpsat
from explorer.solvers.choice_tables import ChoiceProblem, Term, solve_cpsat, solve_exhaustive
from explorer.tracks import Track
from explorer.units import human_bytes_3 as _gb  # three significant digits

# --- tables (each term depends only on the dims it names) -----------------------------------------
TERM_DIMS = {
    "weights": ("precision", "zero", "trainable_layers", "adapter"),
    "gradients": ("precision", "zero", "trainable_layers", "offload", "adapter"),
    "optimizer": ("optimizer", "precision", "zero", "trainable_layers", "offload", "adapter"),
    "activations": ("precision", "recompute", "micro_batch", "trainable_layers", "adapter"),
    "buffers": ("precision", "zero", "trainable_layers", "adapter"),
    "flash": ("precision", "zero", "trainable_layers", "adapter"),
    "host": ("optimizer", "precision", "zero", "trainable_layers", "offload", "adapter"),
    "time_main": ("precision", "recompute", "micro_batch", "zero", "trainable_layers", "adapter"),
    "time_optimizer": ("optimizer", "precision", "zero", "trainable_layers", "offload", "adapter"),
    "quality": ("optimizer", "trainable_layers", "adapter"),
    "no_adapted_layer": ("trainable_layers", "adapter"),
}


def base_step_time(inst: MemoryInstance) -> float:
    """Step time (s) of the starting configuration: the unit of the time tables."""
    return sum(tmem.step_time_parts(inst.base, inst.layout, inst.baseline, inst.cm.int8_block_size))


GRID_DIMS = ("recompute", "micro_batch", "zero", "offload")  # evaluated as numpy arrays in one call


def _term_grid(inst: MemoryInstance, key: dict[str, Any], unit_s: float) -> dict[str, np.ndarray]:
    """Every term, in table units (bytes, 1e-5 x starting step time, thousandths), for one value of the
    dims that shape the training setup (`key`: optimizer, precision, trainable layers, adapter) over
    the whole grid of GRID_DIMS (axes in that order)."""
    c = tmem.Choice(**key, recompute="none", micro_batch=inst.dims["micro_batch"][0], zero=0, offload=False,
                    lora_rank=inst.cm.lora_rank)
    rc = np.array([RECOMPUTE_CODES[r] for r in inst.dims["recompute"]]).reshape(-1, 1, 1, 1)
    mb = np.array(inst.dims["micro_batch"]).reshape(1, -1, 1, 1)
    zero = np.array(inst.dims["zero"]).reshape(1, 1, -1, 1)
    off = np.array(inst.dims["offload"], dtype=bool).reshape(1, 1, 1, -1)
    lay = inst.layout
    wf = tmem.waterfall_grid(inst.base, lay, c, mb, rc, zero, off, inst.cm.int8_block_size)
    st = tmem.training_step_grid(inst.base, c, lay.tp, lay.pp, lay.dp, mb, lay.batch_per_replica // mb, rc, zero,
                                 off, pcie_bandwidth=lay.pcie_bandwidth,
                                 host_memory_bandwidth=lay.host_memory_bandwidth, int8_block=inst.cm.int8_block_size)
    per_us = TIME_UNITS / unit_s
    q = int(round(quality_multiplier(inst, c.optimizer, c.trainable_layers, c.adapter) * MILLI))
    shape = wf["total"].shape
    return {"weights": wf["weights"], "gradients": wf["gradients"], "optimizer": wf["optimizer"],
            "activations": wf["activations"] + wf["working"], "buffers": wf["buffers"], "flash": wf["flash"],
            "host": wf["host"], "time_main": np.rint(st["time_main"] * per_us).astype(np.int64),
            "time_optimizer": np.rint(st["time_optimizer"] * per_us).astype(np.int64),
            "quality": np.full(shape, q, dtype=np.int64),
            # adapters on no layer train nothing at all (the head is frozen with them): not a fine-tuning
            "no_adapted_layer": np.full(shape, int(c.adapter != "none" and c.trainable_layers == 0), dtype=np.int64)}


def _baseline_idx(inst: MemoryInstance) -> dict[str, int]:
    """The starting configuration as indices into the choice dimensions."""
    return {d: inst.dims[d].index(getattr(inst.baseline, d)) for d in inst.dims}


def _ttq(prob: ChoiceProblem, score: dict) -> float:
    """Time-to-quality in seconds of a scored choice: step time x steps-to-quality multiplier (the objective's
    first level, in its integer units of TIME_UNITS of the starting step and MILLI of the multiplier)."""
    return score["time"] * score["quality"] * prob.notes["unit_s"] / MILLI


def build_problem(inst: MemoryInstance) -> ChoiceProblem:
    base_idx = _baseline_idx(inst)
    unit = base_step_time(inst)
    key_dims = [d for d in inst.dims if d not in GRID_DIMS]
    grids: dict[tuple, dict[str, np.ndarray]] = {}
    terms = {}
    for name, dims in TERM_DIMS.items():
        shape = [len(inst.dims[d]) for d in dims]
        table = np.zeros(shape, dtype=np.int64)
        for combo in np.ndindex(*shape):
            idx = dict(base_idx)
            idx.update(zip(dims, combo))
            key = tuple(idx[d] for d in key_dims)
            if key not in grids:
                grids[key] = _term_grid(inst, {d: inst.dims[d][idx[d]] for d in key_dims}, unit)
            table[combo] = grids[key][name][tuple(idx[d] for d in GRID_DIMS)]
        terms[name] = Term(name, dims, table)
    cons = [("device memory", ("weights", "gradients", "optimizer", "activations", "buffers"), inst.limit),
            (NO_ADAPTED_LAYER, ("no_adapted_layer",), 0)]
    if inst.sc.frozen_store == "flash":
        cons.append(("flash for frozen weights", ("flash",), inst.sc.flash_free_bytes))
    if inst.sc.offload:
        cons.append(("host memory", ("host",), int(inst.sc.host_memory_bytes)))
    prob = ChoiceProblem(dict(inst.dims), terms, cons, ("time_main", "time_optimizer"), "quality")
    base = prob.score(base_idx)
    prob.floor = base["time"] * base["quality"]
    prob.notes["unit_s"] = unit / TIME_UNITS
    return prob


@dataclass
class MemoryResult:
    inst: MemoryInstance
    problem: ChoiceProblem
    best: tmem.Choice | None
    best_idx: dict[str, int] | None
    status: str
    engine: str
    solve_time_s: float
    exhaustive_best: tmem.Choice | None


def solve_memory(track: str | Track = "cloud", *, engine: str = "cpsat", time_limit: float | None = None,
                 check: bool = True, **options: Any) -> MemoryResult:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {V.short(engine)}; valid: {', '.join(ENGINES)}")
    tl = V.TIME_LIMIT.check("time-limit", time_limit, 30.0)
    inst = make_instance(track, **options)
    prob = build_problem(inst)
    t0 = time.perf_counter()
    ex_idx, _ = solve_exhaustive(prob) if (check or engine == "enumerate") else (None, 0)
    if engine == "cpsat":
        idx, out = solve_cpsat(prob, tl)
        if out.status not in ("optimal", "infeasible") and check:
            # the time limit stopped CP-SAT before its proof (or any answer), but the exhaustive check covered every
            # configuration (a few thousand: milliseconds): its answer is proven by exhaustion, as solve 3d's is
            # after a time-limited run where the space can be enumerated; no exit 3 with the proof in hand
            idx, engine = ex_idx, "enumerate"
            status = "optimal" if ex_idx is not None else "infeasible"
        else:
            status = cpsat.answer_status(idx, out, tl)
    else:
        idx, status = ex_idx, "optimal" if ex_idx is not None else "infeasible"
    wall = time.perf_counter() - t0
    if idx is None:
        raise _infeasible(inst, prob)
    best = _choice(inst, idx) if idx is not None else None
    ex = _choice(inst, ex_idx) if ex_idx is not None else None
    return MemoryResult(inst, prob, best, idx, status, engine, wall, ex)


def _infeasible(inst: MemoryInstance, prob: ChoiceProblem) -> InfeasibleError:
    """Name the constraint(s) that no configuration meets, with the leanest configuration's figures."""
    import itertools

    worst: dict[str, tuple[int, int, dict]] = {}
    for combo in itertools.product(*(range(len(v)) for v in inst.dims.values())):
        idx = dict(zip(inst.dims, combo))
        constraints = prob.score(idx)["constraints"]
        # adapters on no layer train nothing (the 'adapters need an adapted layer' rule): no leanest choice of a
        # resource is sought among them, so the message names a configuration that is a fine-tuning at all
        structural = constraints.get(NO_ADAPTED_LAYER, (0, 0))[0] > 0
        for name, (v, lim) in constraints.items():
            if structural and name != NO_ADAPTED_LAYER:
                continue
            if name not in worst or v < worst[name][0]:
                worst[name] = (v, lim, idx)
    parts, conflicts = [], []
    for name, (v, lim, idx) in worst.items():
        if v > lim:
            conflicts.append(name)
            parts.append(f"{name}: even the leanest choice ({_describe(_choice(inst, idx), inst.base.model.layers)}) "
                         f"needs {_gb(v)} > {_gb(lim)}")
    if not conflicts:
        conflicts = [n for n, _, _ in prob.constraints]
        parts = ["no single configuration meets " + " and ".join(conflicts) + " together"]
    return InfeasibleError(f"infeasible on the {inst.track.key} track: " + "; ".join(parts), conflicts)


# --- the lab's closed-form questions --------------------------------------------------------------
def bytes_per_param(optimizer: str, precision: str) -> dict[str, int]:
    """Weights + gradients + optimizer state (master included) per parameter, fully trained."""
    s_w = 4 if precision == "fp32" else 2
    mixed = precision != "fp32"
    o = tmem.master_bytes_per_param(mixed) + tmem.state_values_per_param(optimizer) * tmem.FP32_VALUE_BYTES
    return {"weights": s_w, "gradients": s_w, "optimizer": o, "total": 2 * s_w + o}


def largest_layers(inst: MemoryInstance, c: tmem.Choice, limit: int) -> int:
    """Deepest model of the track's width whose waterfall fits (0 if none)."""
    def fits(n: int) -> bool:
        b = tmem.with_layers(inst.base, n)
        cc = replace(c, trainable_layers=n if c.trainable_layers == inst.base.model.layers
                     else min(c.trainable_layers, n))
        return tmem.waterfall(b, inst.layout, cc, inst.cm.int8_block_size)["total"] <= limit
    if not fits(1):
        return 0
    lo, hi = 1, 2
    while fits(hi) and hi < 1 << 20:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo

