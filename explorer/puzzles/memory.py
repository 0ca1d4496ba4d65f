"""Lab 08 part 1, the state-management audit: the training-memory waterfall per device, and the
cheapest set of changes (optimizer, precision, recomputation, micro-batch, ZeRO, offload, frozen
layers) that makes the track's model fit, proven optimal by CP-SAT and re-checked exhaustively.

Objective (explorer/solvers/choice_tables.py), lexicographic: 1. the time-to-quality charged,
max(time-to-quality, the starting configuration's), so a fit no slower than the start loses nothing and
a gain beyond it is not sought for its own sake; 2. the fewest changes from the start; 3. a fixed
tie-break. Time-to-quality = step time (same samples per step for every choice) x the optimizer /
freezing / adapter steps-to-quality multiplier (data: lab08_training.toml [common]).

Adapters (LoRA, QLoRA) are offered only where the scenario lists them (memory_adapters), and only to a
fine-tuning job (memory_task; cloud: Llama-3-70B fine-tuned on one DGX H100 node): they reach full
fine-tuning's quality in as many steps there (Hu et al. 2021; Dettmers et al. 2023), not in pre-training
(Biderman et al. 2024), and the report says which task its answer is for.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np

from explorer import validation as V
from explorer.cost import training_memory as tmem
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.setup import Setup
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.plan import check_zero_stage
from explorer.puzzles.fleetlens import FLEET_TRACKS, fleet_view
from explorer.puzzles.training_scenario import Common, TrainingScenario, common, scenario
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.solvers.choice_tables import ChoiceProblem, Term, restrict, solve_cpsat, solve_exhaustive
from explorer.tracks import Track, get_track
from explorer.units import human_bytes_3 as _gb  # three significant digits
from explorer.units import human_number, plural, unit_scale
from explorer.units import human_params as _params

ATTEMPT_OPTIONS = ("memory_limit_gb", "batch")
ATTEMPT_VARIABLES = ["optimizer", "precision", "recompute", "micro_batch", "zero", "offload", "trainable_layers",
                     "adapter"]
ATTEMPT_REQUIRED: list[str] = []  # every column defaults to the track's starting configuration (attempt_defaults)
ATTEMPT_KINDS = {"optimizer": "name", "precision": "name", "recompute": "name", "micro_batch": "count",
                 "zero": "count0", "offload": "flag", "trainable_layers": "count0", "adapter": "name"}
MAX_ATTEMPTS: int | None = None
# the attempts table's figure columns: every part of the device memory and their sum, the total the memory limit is
# checked against (tmem.waterfall), so the parts a row shows add up to the figure its violation quotes
ATTEMPT_FIGURES = [*tmem.MEMORY_TERMS, "total"]
ENGINES = ("cpsat", "enumerate")
TIME_UNITS = 100_000  # time tables in 1e-5 of the starting configuration's step time
MILLI = 1000  # quality multiplier in thousandths
NO_ADAPTED_LAYER = "adapters need an adapted layer"
CHARGED_LABEL = "time-to-quality charged (a fit faster than the start is charged the start's), s"


@dataclass(frozen=True)
class MemoryInstance:
    track: Track
    sc: TrainingScenario
    cm: Common
    base: Setup
    layout: tmem.Layout
    dims: dict[str, list]
    limit: int
    baseline: tmem.Choice
    # every precision the track lists (start first): the waterfall table's columns and the names an attempt may give;
    # dims["precision"] keeps those that change memory (precision_moves), `same_bytes` maps each other to its twin
    precisions: tuple[str, ...] = ()
    same_bytes: dict[str, str] = dataclasses.field(default_factory=dict)


def precision_moves(base: Setup, layout: tmem.Layout, start: tmem.Choice, listed: list[str],
                    int8_block: int = 2048) -> tuple[list[str], dict[str, str]]:
    """The precisions the audit searches, and each listed one it leaves out with the precision whose memory it
    repeats. A precision change is a memory move only if it changes some term of the waterfall: fp16 and bf16 both
    keep 2-byte weights, gradients and activations beside the same FP32 master and states (TrainingSetup.value_bytes),
    so a switch between them saves no byte at all; what it changes is numerical range (fp16 tops out at 65,504 and
    needs loss scaling, bf16 has FP32's exponent range: explorer/cost/numerics.py), which lab 08 part 3 prices
    (explore solve batch: P(NaN) per step). So a precision whose waterfall equals the start's is not searched, and of
    two others with equal waterfalls the one with the wider range is (numerics.max_finite: bf16 over fp16)."""
    from explorer.cost import numerics

    def wf(p: str) -> dict[str, int]:
        return tmem.waterfall(base, layout, replace(start, precision=p), int8_block)

    ref = {start.precision: wf(start.precision)}
    searched, dropped = [start.precision], {}
    for p in listed:
        if p in ref:
            continue
        w = wf(p)
        twin = next((q for q, wq in ref.items() if wq == w), None)
        if twin is None:
            searched.append(p)
            ref[p] = w
        elif twin != start.precision and numerics.max_finite(p) > numerics.max_finite(twin):
            searched[searched.index(twin)] = p  # the same bytes with the wider range
            dropped[twin] = p
            ref[p] = ref.pop(twin)
        else:
            dropped[p] = twin
    return searched, dropped


def _setup(track: Track, precision: str) -> Setup:
    from explorer.puzzles.threed import make_setup

    return make_setup(track, precision=precision)


def make_instance(track: str | Track = "cloud", *, memory_limit_gb: float | None = None,
                  batch: int | None = None) -> MemoryInstance:
    t = track if isinstance(track, Track) else get_track(track)
    sc, cm = scenario(t.key), common()
    base = _setup(t, t.workload.precision)
    bpr = V.GLOBAL_BATCH.check("batch", batch, sc.batch_per_replica)
    layout = tmem.Layout(sc.tp, sc.pp, sc.dp, bpr, sc.frozen_store, sc.pcie_bandwidth, sc.host_memory_bandwidth)
    limit = base.memory_limit_bytes if memory_limit_gb is None else round(
        V.MEMORY_GB.check("memory-limit-gb", memory_limit_gb) * 1e9)
    L = base.model.layers
    w = t.workload
    opts = [w.optimizer] + [o for o in sc.memory_optimizers if o != w.optimizer]
    precs = [w.precision] + [p for p in sc.memory_precisions if p != w.precision]
    for p in precs:
        base.cluster.accelerator.peak(p)  # clear error if the part lacks it
    mbs = sorted((b for b in sc.memory_micro_batches if bpr % b == 0), reverse=True)
    if not mbs:
        raise UsageError(f"no micro-batch in {list(sc.memory_micro_batches)} divides the batch {bpr}")
    layers = list(dict.fromkeys(int(round(L * f)) for f in cm.trainable_fractions))
    if t.key in FLEET_TRACKS:  # a fleet device trains at least one layer: with all frozen it learns nothing
        layers = [n for n in layers if n >= 1]
    dims = {"optimizer": opts, "precision": precs, "recompute": list(tmem.RECOMPUTE_CHOICES), "micro_batch": mbs,
            "zero": list(range(sc.zero_max + 1)) if sc.dp > 1 else [0],
            "offload": [False, True] if sc.offload else [False], "trainable_layers": layers,
            "adapter": list(sc.memory_adapters)}
    baseline = tmem.Choice(w.optimizer, w.precision, "none", mbs[0], 0, False, L, "none", cm.lora_rank)
    dims["precision"], same = precision_moves(base, layout, baseline, precs, cm.int8_block_size)
    return MemoryInstance(t, sc, cm, base, layout, dims, limit, baseline, tuple(precs), same)


def _choice(inst: MemoryInstance, idx: dict[str, int]) -> tmem.Choice:
    return tmem.Choice(**{d: inst.dims[d][i] for d, i in idx.items()}, lora_rank=inst.cm.lora_rank)


def quality_multiplier(inst: MemoryInstance, optimizer: str, trainable_layers: int, adapter: str = "none") -> float:
    """Steps-to-quality multiplier: optimizer x frozen depth (layers without adapters count as frozen) x
    adapter."""
    L = inst.base.model.layers
    levels = [int(round(L * f)) for f in inst.cm.trainable_fractions]
    frozen = inst.cm.freeze_steps_multiplier[levels.index(trainable_layers)]
    return inst.cm.quality_steps_multiplier[optimizer] * frozen * inst.cm.adapter_steps_multiplier[adapter]


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
        if idx is None and out.status == "unknown":
            raise NoAnswerError(tl)
        status = out.status if idx is not None else "infeasible"
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


ADAPTER_NAMES = {"lora": "LoRA", "qlora": "QLoRA"}


def _adapter_text(c: tmem.Choice) -> str:
    base = "4-bit NF4 base" if c.adapter == "qlora" else f"{c.precision} base"
    return f"{ADAPTER_NAMES[c.adapter]} adapters (rank {c.lora_rank}, {base})"


def _describe(c: tmem.Choice, L: int) -> str:
    frozen = ""
    if c.adapter != "none":
        frozen = f", {_adapter_text(c)}" + (f" on the top {c.trainable_layers} of {L} layers"
                                              if 0 < c.trainable_layers < L else
                                              f" on none of the {L} layers (nothing trained)"
                                              if c.trainable_layers == 0 else "")
    elif c.trainable_layers < L:
        frozen = f", {L - c.trainable_layers}/{L} layers frozen"
    return (f"{c.optimizer} {c.precision}, recompute {c.recompute}, micro-batch {c.micro_batch}, ZeRO-{c.zero}"
            f"{', CPU offload' if c.offload else ''}{frozen}")


def _changes(base: tmem.Choice, c: tmem.Choice, L: int) -> list[str]:
    out = []
    for f in ATTEMPT_VARIABLES:
        a, b = getattr(base, f), getattr(c, f)
        if a != b:
            if f == "trainable_layers":
                out.append(f"adapters on the top {b} of {L} layers only" if c.adapter != "none"
                           else f"freeze the bottom {L - b} of {L} layers")
            elif f == "offload":
                out.append("offload gradients + optimizer state to host memory")
            elif f == "adapter":
                out.append(f"train {_adapter_text(c)} instead of the weights" if b != "none"
                           else "train the weights instead of adapters")
            else:
                out.append(f"{f.replace('_', '-')} {a} -> {b}")
    return out


TERM_TEXT = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer state",
             "activations": "stored activations", "working": "working buffers", "buffers": "communication buffers"}


def _no_layer_fits(inst: MemoryInstance, lean: tmem.Choice, bpp: int) -> str:
    """Why not even one layer trains: the one-layer model's waterfall term by term (largest first), and whether the
    embedding and output head's states alone already exceed the limit (said only when they do)."""
    m = inst.base.model
    ends = m.params - m.layers * m.layer_params
    if ends * bpp > inst.limit:
        return (f" Not even the embedding and output head fit: {ends:,} params x {bpp} B = {_gb(ends * bpp)} > "
                f"{_gb(inst.limit)}.")
    one = tmem.waterfall(tmem.with_layers(inst.base, 1), inst.layout, replace(lean, trainable_layers=1),
                         inst.cm.int8_block_size)
    terms = sorted(((one[k], k) for k in tmem.MEMORY_TERMS if one[k] > 0), reverse=True)
    parts = []
    for v, k in terms:
        text = f"{TERM_TEXT[k]} {_gb(v)}"
        if k == "working":
            text += (" (the loss's copies of the logits" + (", and one layer's activations rebuilt for its backward "
                     "under full recomputation" if lean.recompute == "full" else "") + ")")
        parts.append(text)
    return (f" A one-layer model needs {_gb(one['total'])} > {_gb(inst.limit)}: {' + '.join(parts)}. The embedding "
            f"and output head's states alone ({ends:,} params x {bpp} B = {_gb(ends * bpp)}) fit; the layer's "
            f"weights, gradients, activations and working buffers are what exceed the limit.")


def build_report(res: MemoryResult) -> Report:
    inst, prob = res.inst, res.problem
    t, m, L = inst.track, inst.base.model, inst.base.model.layers
    base_idx = _baseline_idx(inst)
    base_score = prob.score(base_idx)
    wf_base = tmem.waterfall(inst.base, inst.layout, inst.baseline, inst.cm.int8_block_size)
    u = prob.notes["unit_s"]
    base_ttq = _ttq(prob, base_score)
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    bpp32, bppmix = bytes_per_param("adam", "fp32"), bytes_per_param("adam", "bf16")
    figures["adam_fp32_bytes_per_param"] = Figure(bpp32["total"], "B", "Adam FP32: bytes per parameter")
    figures["adam_mixed_bytes_per_param"] = Figure(bppmix["total"], "B", "Adam mixed precision: bytes per parameter")
    findings.append(Finding(
        "How many bytes per parameter does Adam need in FP32, and where does the '4x' come from?",
        f"{bpp32['weights']} (weights) + {bpp32['gradients']} (gradients) + {bpp32['optimizer']} (m and v, 4 each) "
        f"= {bpp32['total']} bytes/param = 4 x the 4-byte weights. Mixed precision: {bppmix['weights']} + "
        f"{bppmix['gradients']} + {bppmix['optimizer']} (fp32 master, m, v) = {bppmix['total']} bytes/param. "
        f"A 7B model: 7 billion x 16 B = 112 GB before activations; {m.name} ({_params(m.params)} params): "
        f"{_gb(m.params * bpp32['total'])}."))
    ratio32 = bpp32["optimizer"] / bpp32["weights"]
    ratio_mix = bppmix["optimizer"] / bppmix["weights"]
    figures["optimizer_to_weights_fp32"] = Figure(ratio32, "x", "optimizer bar / weights bar, Adam FP32")
    figures["optimizer_to_weights_mixed"] = Figure(ratio_mix, "x", "optimizer bar / weights bar, Adam mixed precision")
    findings.append(Finding(
        "The lab says the optimizer bar is 3x the weights bar: in which precision is that so?",
        f"In neither, as the bars are drawn here, though the total is 16 B/param in both. Adam in FP32: "
        f"optimizer {bpp32['optimizer']} B (m and v) / weights {bpp32['weights']} B = {human_number(ratio32)}x (no "
        f"separate master copy: the FP32 weights are the master). Mixed precision: optimizer "
        f"{bppmix['optimizer']} B (fp32 master + m + v) / weights {bppmix['weights']} B (bf16) = "
        f"{human_number(ratio_mix)}x. The 3x is the mixed-precision optimizer state measured against FP32-sized "
        f"weights: three fp32 values per parameter (master, m, v: 12 B) against one (4 B) = 3x, the ZeRO paper's "
        f"K = 12 over 4 bytes (Rajbhandari et al. 2020, sec. 3.1); equivalently the optimizer bar is 3x the "
        f"16-bit weights + gradients bars together (12 vs 2 + 2)."))
    serving = tmem.serving_weight_bytes(m)
    states = wf_base["weights"] + wf_base["gradients"] + wf_base["optimizer"]
    ratio = wf_base["total"] / serving
    figures["training_to_serving_states"] = Figure(states / serving, "x", "training states / serving weights")
    figures["training_to_serving_ratio"] = Figure(ratio, "x", "training (with activations) / serving weights")
    findings.append(Finding(
        "Why does training need 4-8x the memory of serving?",
        f"Serving keeps only 16-bit weights: {m.params:,} x 2 B = {_gb(serving)}. Training keeps weights, gradients "
        f"and optimizer state: 16 B/param with Adam = 8x the 16-bit weights (4x the FP32 weights); here "
        f"{_gb(states)} ({inst.baseline.optimizer} {inst.baseline.precision}, per device) = "
        f"{human_number(states / serving)}x. Activations add {_gb(wf_base['activations'] + wf_base['working'])} at "
        f"micro-batch {inst.baseline.micro_batch} without recomputation: {human_number(ratio)}x the serving weights "
        f"in total."))
    figures["memory_limit"] = Figure(inst.limit, "B", f"usable memory per {t.device_word}")
    figures["baseline_total"] = Figure(wf_base["total"], "B", "starting configuration: memory per device")
    # largest model: the starting optimizer and precision, with the smallest activations (micro-batch 1,
    # full recomputation), all layers trained, no ZeRO/offload
    lean = replace(inst.baseline, micro_batch=min(inst.dims["micro_batch"]), recompute="full")
    lay = largest_layers(inst, lean, inst.limit)
    big = tmem.with_layers(inst.base, lay).model.params if lay else 0
    bpp = bytes_per_param(inst.baseline.optimizer if inst.baseline.optimizer in tmem.BASE_OPTIMIZERS else "adam",
                          inst.baseline.precision)["total"]
    closed = inst.limit // bpp
    # what the figure holds fixed goes in its label: beside a chosen configuration that changes the optimizer or
    # precision, a bare 'largest model that trains' read as a limit on that configuration too (review 88 item 6b)
    held = (f"{inst.baseline.optimizer} {inst.baseline.precision} as started, micro-batch {lean.micro_batch}, full "
            f"recomputation, no ZeRO/offload")
    ends_only = (m.params - m.layers * m.layer_params) * bpp > inst.limit
    figures["largest_model_params"] = (
        Figure(big, "params", f"largest model of this width that trains ({held})") if lay else
        Figure("none (not even " + ("the embedding and output head fit" if ends_only else "one layer fits")
               + f" with {inst.baseline.optimizer} {inst.baseline.precision})", "",
               f"largest model of this width that trains ({held})"))
    findings.append(Finding(
        f"What is the largest model that trains in {_gb(inst.limit)} per {t.device_word}?",
        f"Weights + gradients + optimizer state alone: {_gb(inst.limit)} / {bpp} B/param = {_params(closed)} "
        f"parameters. With activations (micro-batch {lean.micro_batch}, full recomputation, "
        f"{inst.baseline.optimizer} {inst.baseline.precision} as started, no ZeRO/offload): "
        + (f"{plural(lay, 'layer')} of the {m.hidden}-wide {m.name} shape = {_params(big)} parameters" if lay else
           f"none: not even one layer of the {m.hidden}-wide {m.name} shape trains")
        + (f" (the track's model has {m.layers} layers, {_params(m.params)})." if lay < m.layers else
           f", so the track's {_params(m.params)} model trains with room to spare.")
        + (_no_layer_fits(inst, lean, bpp) if lay == 0 else "")
        + _largest_vs_chosen(inst, res.best, lay)))
    if len(inst.dims["adapter"]) > 1:
        findings.append(_adapter_finding(inst, figures))
    constraints: list[Constraint] = []
    tables: dict[str, Table] = {}
    extra: dict[str, Any] = {"engine": res.engine}
    if res.best is None:
        headline = (f"{m.name} cannot be made to fit in {_gb(inst.limit)} on the {t.key} track with any of the "
                    f"{prob.radix} combinations of changes offered.")
        status = "infeasible"
        findings.append(Finding("Which cheapest set of changes makes the model fit?", headline))
    else:
        c = res.best
        sc = prob.score(res.best_idx)
        wf = tmem.waterfall(inst.base, inst.layout, c, inst.cm.int8_block_size)
        ttq = _ttq(prob, sc)
        lost = ttq / base_ttq - 1.0  # signed: negative when the fix is faster than the start (frozen layers)
        changes = _changes(inst.baseline, c, L)
        figures["optimum_total"] = Figure(wf["total"], "B", "chosen configuration: memory per device")
        figures["time_to_quality_lost"] = Figure(lost, "fraction",
                                                 "time-to-quality lost vs the starting point (negative: gained)")
        figures["step_time"] = Figure(sc["time"] * u, "s", "step time of the chosen configuration")
        figures["quality_multiplier"] = Figure(sc["quality"] / MILLI, "",
                                               "steps-to-quality multiplier of the chosen configuration")
        # the start's two factors, so the figures alone reproduce time_to_quality_lost (review 88 item 6a)
        figures["baseline_step_time"] = Figure(base_score["time"] * u, "s", "step time as started")
        figures["baseline_quality_multiplier"] = Figure(base_score["quality"] / MILLI, "",
                                                        "steps-to-quality multiplier as started")
        # the job the fit is for (training_scenario.py: memory_task; adapters are offered to fine-tuning only)
        task = inst.sc.memory_task.capitalize() + " "
        if not changes:
            headline = (f"{m.name} already fits: {_gb(wf_base['total'])} of {_gb(inst.limit)} per {t.device_word} "
                        f"({_describe(c, L)}); no change needed.")
        else:
            proven = res.status == "optimal"
            what = ("the fewest changes that fit without losing time-to-quality" if lost <= 0 else
                    "the fit that loses the least time-to-quality")
            headline = (f"{task}{m.name} needs {_gb(wf_base['total'])} per {t.device_word} as "
                        f"started ({_describe(inst.baseline, L)}) but {_gb(inst.limit)} is usable. "
                        + (f"{what[0].upper() + what[1:]} (proven by CP-SAT)" if proven else
                           "A fix that fits (feasible, not proven best: CP-SAT stopped at its time limit)")
                        + f": {'; '.join(changes)} -> {_gb(wf['total'])}, "
                        f"{_lost_text(lost, c, L)}.")
        fastest_idx, _ = solve_exhaustive(dataclasses.replace(prob, floor=0))
        note = ""
        if fastest_idx is not None and fastest_idx != res.best_idx:
            f_sc = prob.score(fastest_idx)
            f_lost = _ttq(prob, f_sc) / base_ttq - 1.0
            if f_lost < lost and lost <= 0:
                f_changes = _changes(inst.baseline, _choice(inst, fastest_idx), L)
                note = (f" The fastest configuration that fits ({'; '.join(f_changes)}) shortens time-to-quality by "
                        f"{100 * -f_lost:.1f}% but takes {plural(len(f_changes), 'change')}: the search charges a "
                        f"fit no slower than the start nothing and then counts changes, so the "
                        f"{plural(len(changes), 'change')} above win.")
        if c.adapter != "none":
            note += (f" Adapters change what is trained: x{human_number(inst.cm.adapter_steps_multiplier[c.adapter])} "
                     f"steps to the same quality holds for fine-tuning, this job's task (LoRA: Hu et al. 2021; "
                     f"QLoRA matches 16-bit full fine-tuning: Dettmers et al. 2023, Tables 3-4), not for pre-training, "
                     f"where low-rank updates learn markedly less than full training (Biderman et al. 2024, arXiv "
                     f"2405.09673), so this is no fix for a pre-training run.")
        findings.append(Finding(
            "Which changes make the model fit, losing the least time-to-quality (a fit no slower than the start "
            "loses none), and among those the fewest?" if res.status == "optimal" else
            "Which set of changes makes the model fit (not proven best)?",
            headline + _ttq_arithmetic(inst, c, sc, base_score, u, lost, bool(changes)) + note))
        mem_v, mem_l = sc["constraints"]["device memory"]
        constraints.append(Constraint("device memory", mem_v, mem_l, "B", "<=", mem_v > 0.9 * mem_l,
                                      "weights + gradients + optimizer + activations + buffers"))
        for name in ("flash for frozen weights", "host memory"):
            if name in sc["constraints"]:
                v, lim = sc["constraints"][name]
                constraints.append(Constraint(name, v, lim, "B", "<=", v > 0.9 * lim))
        status = res.status
        # the solver's first level (choice_tables.py): time-to-quality, a fit faster than the start charged the
        # start's; attempts are scored on the same (evaluate_attempt)
        extra["objective"] = {"name": "time_to_quality_charged_s", "value": max(ttq, base_ttq), "sense": "min"}
        figures["time_to_quality_charged_s"] = Figure(max(ttq, base_ttq), "s", CHARGED_LABEL)
        extra["configuration"] = {k: getattr(c, k) for k in ATTEMPT_VARIABLES}
        extra["changes"] = changes
        if res.exhaustive_best is not None:
            extra["exhaustive_check"] = {"configuration": {k: getattr(res.exhaustive_best, k)
                                                           for k in ATTEMPT_VARIABLES},
                                         "agrees": res.exhaustive_best == c, "evaluated": prob.radix}
    if res.best is not None:
        for dim, title in (("optimizer", "Cheapest fit per optimizer"),
                           ("trainable_layers", "Cheapest fit per number of trained (or adapted) layers"),
                           ("adapter", "Cheapest fit per way of fine-tuning")):
            if len(inst.dims[dim]) < 2:
                continue
            alt_rows = []
            for i, v in enumerate(inst.dims[dim]):
                sub = restrict(prob, dim, i)
                a_idx, _ = solve_exhaustive(sub)
                if a_idx is None:
                    alt_rows.append([v, "does not fit", "", ""])
                    continue
                full = {d: (inst.dims[d].index(sub.dims[d][j])) for d, j in a_idx.items()}
                a_sc = prob.score(full)
                a_c = _choice(inst, full)
                a_lost = _ttq(prob, a_sc) / base_ttq - 1.0
                alt_rows.append([v, "; ".join(_changes(inst.baseline, a_c, L)) or "no change",
                                 _gb(a_sc["constraints"]["device memory"][0]), _signed_percent(a_lost)])
            tables[f"by_{dim}"] = Table([dim.replace("_", " "), "changes", "memory",
                                         "time-to-quality change (-: shorter)"],
                                        alt_rows,
                                        title)
    # the waterfall table: SGD / Momentum / Adam x FP32 / BF16 / FP16 (+ the variants), starting setup
    rows, configs = [], []
    scale, unit = unit_scale(inst.limit / 10)  # the unit of which the limit is at least ten
    for opt in [o for o in tmem.OPTIMIZER_VARIANTS if o in inst.dims["optimizer"]]:
        for prec in inst.precisions or inst.dims["precision"]:
            for rc in ("none", "full"):
                cc = replace(inst.baseline, optimizer=opt, precision=prec, recompute=rc)
                w = tmem.waterfall(inst.base, inst.layout, cc, inst.cm.int8_block_size)
                label = f"{opt} {prec}" + (" +ckpt" if rc == "full" else "")
                rows.append([label] + [round(w[k] / scale, 3) for k in tmem.MEMORY_TERMS]
                            + [round(w["total"] / scale, 3), w["total"] <= inst.limit])
                if rc == "none" and opt in tmem.BASE_OPTIMIZERS:  # the lab's 3 x 3 grid in the figure
                    configs.append({"label": label, "bytes": {k: w[k] for k in tmem.MEMORY_TERMS}})
    tables["waterfall"] = Table(["configuration"] + list(tmem.MEMORY_TERMS) + [f"total {unit}", "fits"], rows,
                                f"Memory per {t.device_word} ({unit}), micro-batch {inst.baseline.micro_batch}, "
                                f"all layers trained (+ckpt = full activation recomputation)")
    chosen = []
    if res.best is not None:
        wf = tmem.waterfall(inst.base, inst.layout, res.best, inst.cm.int8_block_size)
        chosen = [{"label": "chosen", "bytes": {k: wf[k] for k in tmem.MEMORY_TERMS}}]
    data = {"memory_waterfall": {"terms": list(tmem.MEMORY_TERMS), "limit": inst.limit,
                                 "configs": configs + chosen, "unit": "B"}}
    formulas = [
        Formula("model states (mixed)", "2 (bf16 weights) + 2 (grads) + 4 (fp32 master) + 4 k (k fp32 states: "
                "SGD 0, Momentum 1, Adam 2) bytes/param", "Rajbhandari et al. 2020 (ZeRO) sec. 3.1, K = 12 for Adam"),
        Formula("model states (FP32)", "4 + 4 + 4 k bytes/param (Adam: 16 = 4 x weights)",
                "docs/conventions.md 'Training memory'", "the lab's '4x multiplier' is weights x 4"),
        Formula("8-bit states", "k x (1 + 4/2048) bytes/param", "Dettmers et al. 2022, arXiv 2110.02861, sec. 2"),
        Formula("factored second moment", "4 (r + c) bytes per r x c matrix",
                "Shazeer & Stern 2018, Adafactor, sec. 3"),
        Formula("activations per layer", "s b h (10 + 24/t) (FlashAttention: no 5as/h term); full recompute 2 s b h",
                "Korthikanti et al. 2022, Table 2"),
        Formula("ZeRO", "stage 1 / 2 / 3 divide optimizer / +gradients / +weights by DP", "Rajbhandari et al. 2020"),
        Formula("time-to-quality", "step time x steps multiplier(optimizer) x steps multiplier(frozen fraction)",
                "lab08_training.toml [common] (assumptions with sources)"),
    ]
    assumptions = [Assumption(inst.sc.memory_source, "lab08_training.toml"),
                   Assumption("optimizer quality multipliers: " + inst.cm.sources.get("quality", ""), ""),
                   Assumption("freezing: " + inst.cm.sources.get("freeze", ""), ""),
                   *([Assumption("adapters: " + inst.cm.sources.get("adapter", ""), "")]
                     if len(inst.dims["adapter"]) > 1 else []),
                   *[Assumption(f"precision {q} -> {p} is not searched: {p} keeps every term of the waterfall in the "
                                f"bytes {q} does (2-byte weights, gradients and activations beside the same FP32 "
                                f"master and optimizer states), so the switch saves no memory; what it changes is "
                                f"numerical range (fp16 tops out at 65,504 and needs loss scaling, bf16 has FP32's "
                                f"exponent range), which lab 08 part 3 prices: explore solve batch, P(NaN) per step",
                                "IEEE 754 binary16; explorer/cost/numerics.py")
                     for p, q in inst.same_bytes.items()],
                   Assumption("frozen layers are the bottom of the stack: no gradients, no optimizer state, no stored "
                              "activations, forward pass only (the backward never reaches them, so recomputation never "
                              "replays them)", "")]
    return Report(puzzle="memory", lab="08", part=1, track=t.key, title="The state-management audit",
                  status=status, headline=headline, figures=figures, findings=findings, constraints=constraints,
                  formulas=formulas, assumptions=assumptions, tables=tables, plots=["memory_waterfall"], data=data,
                  extra=extra, solve_time_s=res.solve_time_s)


@fleet_view("memory")
def solve(track: str = "cloud", **options: Any) -> Report:
    """Registry entry: the Report of the memory audit (options: engine, time_limit, memory_limit_gb, batch)."""
    res = solve_memory(track, **options)
    report = build_report(res)
    report.scenario = scenario_of(res.inst)
    return report


def scenario_of(inst: MemoryInstance) -> dict[str, Any]:
    """The instance's options, defaults resolved (make_instance(track, **scenario_of(inst)) rebuilds it)."""
    return {"memory_limit_gb": inst.limit / 1e9, "batch": inst.layout.batch_per_replica}


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


def _quality_text(inst: MemoryInstance, c: tmem.Choice) -> str:
    """'2.5 (adam8bit x1, 1 of 5 layers trained x2.5)': the steps-to-quality multiplier and the factors it is
    the product of (quality_multiplier: optimizer x frozen depth x adapter)."""
    cm, L = inst.cm, inst.base.model.layers
    levels = [int(round(L * f)) for f in cm.trainable_fractions]
    parts = [f"{c.optimizer} x{human_number(cm.quality_steps_multiplier[c.optimizer])}"]
    depth = cm.freeze_steps_multiplier[levels.index(c.trainable_layers)]
    if c.trainable_layers < L or depth != 1:
        what = "adapted" if c.adapter != "none" else "trained"
        parts.append(f"{c.trainable_layers} of {L} layers {what} x{human_number(depth)}")
    if c.adapter != "none":
        parts.append(f"{ADAPTER_NAMES[c.adapter]} x{human_number(cm.adapter_steps_multiplier[c.adapter])}")
    q = quality_multiplier(inst, c.optimizer, c.trainable_layers, c.adapter)
    return f"{human_number(q)} ({', '.join(parts)})"


def _ttq_arithmetic(inst: MemoryInstance, c: tmem.Choice, sc: dict, base_score: dict, u: float, lost: float,
                    changed: bool) -> str:
    """The sentence that lets a reader redo the headline's time-to-quality change: step time x steps-to-quality
    for the chosen configuration and for the start, and their ratio (review 88 item 6a: printing the chosen
    configuration's factor alone beside both step times multiplied to another percentage)."""
    t1, t0 = sc["time"] * u, base_score["time"] * u
    q1, q0 = sc["quality"] / MILLI, base_score["quality"] / MILLI
    if not changed:
        return (f" Time-to-quality = step time {human_number(t0, 5)} s x steps-to-quality "
                f"{_quality_text(inst, inst.baseline)} = {human_number(t0 * q0, 5)} s.")
    ratio = (t1 * q1) / (t0 * q0)
    how = (f"{100 * lost:.1f}% longer" if lost > 0 else f"{100 * -lost:.1f}% shorter" if lost < 0 else
           "the same")
    return (f" Time-to-quality = step time x steps-to-quality: {human_number(t1, 5)} s x "
            f"{_quality_text(inst, c)} = {human_number(t1 * q1, 5)} s against the start's {human_number(t0, 5)} s x "
            f"{_quality_text(inst, inst.baseline)} = {human_number(t0 * q0, 5)} s; {human_number(t1 * q1, 5)} / "
            f"{human_number(t0 * q0, 5)} = {human_number(ratio, 5)}, {how}.")


def _largest_vs_chosen(inst: MemoryInstance, best: tmem.Choice | None, lay: int) -> str:
    """When the largest-model answer falls short of the track's model but a fit exists, say what that answer held
    fixed and what the chosen fit changes to fit anyway (review 88 item 6b: '0 params' beside a chosen fit of all
    6 layers read as a contradiction)."""
    b, L = inst.baseline, inst.base.model.layers
    if best is None or lay >= L:
        return ""
    if best.adapter != "none":
        trained = f"{ADAPTER_NAMES[best.adapter]} adapters on {best.trainable_layers} of {L} layers"
    else:
        trained = ("every layer trained" if best.trainable_layers == L else
                   f"{best.trainable_layers} of {L} layers trained")
    uses = [trained]
    if best.zero:
        uses.append(f"ZeRO-{best.zero}")
    if best.offload:
        uses.append("CPU offload")
    total = tmem.waterfall(inst.base, inst.layout, best, inst.cm.int8_block_size)["total"]
    return (f" This holds the starting {b.optimizer} {b.precision} fixed with every layer trained and no ZeRO or "
            f"offload; the fit below, the track's {L}-layer model in {_gb(total)}, uses {best.optimizer} "
            f"{best.precision} with {' and '.join(uses)}.")


def _signed_percent(x: float) -> str:
    """'+12.3%', '-7.3%', '0.0%' (never '-0.0%')."""
    text = f"{100 * x:+.1f}%"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


def _lost_text(lost: float, c: tmem.Choice | None = None, layers: int | None = None) -> str:
    """'time-to-quality 12.3% longer' (the fix's time to the same quality over the start's, less 1) or, when the fix
    is faster than the start, what it gains and why."""
    if lost >= 0:
        return f"time-to-quality {100 * lost:.1f}% longer than the starting point's"
    if c is not None and c.adapter != "none":
        why = "the adapted layers skip the weight-gradient GEMMs of their frozen base weights"
    elif c is not None and layers is not None and c.trainable_layers < layers:
        why = ("the frozen layers skip their backward pass, and any replayed forward, more than the extra steps "
               "cost")
    else:
        why = "its shorter step outweighs any extra steps"
    return f"time-to-quality {100 * -lost:.1f}% shorter than the starting point's ({why})"


def _adapter_finding(inst: MemoryInstance, figures: dict[str, Figure]) -> Finding:
    """Bytes per parameter of LoRA and QLoRA against full fine-tuning, with their sources."""
    m, L, cm = inst.base.model, inst.base.model.layers, inst.cm
    n_ad = tmem.adapter_params(m, L, cm.lora_rank)
    full = bytes_per_param(inst.baseline.optimizer if inst.baseline.optimizer in tmem.BASE_OPTIMIZERS else "adam",
                           inst.baseline.precision)
    per_adapter = full["total"]
    w16 = full["weights"]
    nf4 = tmem.NF4_BYTES_PER_PARAM
    figures["lora_adapter_params"] = Figure(n_ad, "params", f"LoRA adapters at rank {cm.lora_rank}, every linear map")
    figures["qlora_base_bits_per_param"] = Figure(tmem.NF4_BITS_PER_PARAM, "bits",
                                                  "QLoRA frozen base: bits per parameter")
    # a layer's passes (forward, recompute, input gradient, weight gradient) without and with full recomputation
    mb = inst.baseline.micro_batch
    s = tmem.training_setup(inst.base, inst.baseline, cm.int8_block_size)
    tp = inst.layout.tp
    shares = {rc: tmem.frozen_compute_factor(L, L, "lora", tmem.layer_pass_seconds(s, tp, 1, mb, rc, int(tp > 1)))
              for rc in (0, 2)}
    states = {"full": m.params * full["total"], "lora": m.params * w16 + n_ad * per_adapter,
              "qlora": m.params * nf4 + n_ad * per_adapter}
    return Finding(
        "What do LoRA and QLoRA keep per parameter, and how does that compare with training every weight?",
        f"Both freeze the base model and train low-rank adapters B A (r x (d_in + d_out) values per linear map; "
        f"Hu et al. 2021, arXiv 2106.09685): at rank {cm.lora_rank} on every linear map of {m.name} that is "
        f"{_params(n_ad)} adapter parameters ({human_number(100 * n_ad / m.params)}% of {_params(m.params)}), each "
        f"carrying the full {per_adapter} B of weights, gradient and optimizer state. The frozen base keeps no "
        f"gradient and no optimizer state: LoRA stores it in {w16} B (16 bits); QLoRA in 4-bit NormalFloat with "
        f"double quantisation: 4 + 8/64 (an 8-bit absmax per block of 64) + 32/(64 x 256) (an fp32 constant per "
        f"256 absmaxes) = {human_number(tmem.NF4_BITS_PER_PARAM, 4)} bits = {human_number(nf4, 3)} B per parameter "
        f"(Dettmers et al. 2023, arXiv 2305.14314, sec. 3), dequantised to {inst.baseline.precision} for every "
        f"matmul (a memory-bound pass this model charges at HBM bandwidth). Weights + gradients + optimizer state, "
        f"unsharded: full fine-tuning {_gb(states['full'])}, LoRA {_gb(states['lora'])}, QLoRA "
        f"{_gb(states['qlora'])}, before activations. Paged optimizers (QLoRA's third device: optimizer pages "
        f"evicted to CPU memory through NVIDIA unified memory) absorb memory spikes rather than lower the steady "
        f"state, so the waterfall does not count them. Adapted layers skip only the weight-gradient GEMMs of "
        f"their frozen base weights; the forward pass, the input-gradient half of the backward pass and, under "
        f"recomputation, the replayed forward all still run: in GEMM FLOPs 2 of 3 passes without recomputation, "
        f"3 of 4 with full recomputation; in this model's time (the attention core and the elementwise passes "
        f"have no weight gradient to skip) {human_number(100 * shares[0], 3)}% and "
        f"{human_number(100 * shares[2], 3)}% of a fully trained layer's at micro-batch {mb}, plus the "
        f"adapters' own.")
