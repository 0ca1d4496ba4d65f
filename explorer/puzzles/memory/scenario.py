"""The memory audit's scenario (lab 08 part 1): the choices the audit searches on a track (optimizer, precision,
recomputation, micro-batch, ZeRO, offload, trainable layers, adapters), the starting configuration it changes from,
and the steps-to-quality multiplier of a choice (data: lab08_training.toml, read by training_scenario.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from typing import Any

from explorer import validation as V
from explorer.cost import training_memory as tmem
from explorer.cost.setup import Setup
from explorer.errors import UsageError
from explorer.puzzles.fleetlens import FLEET_TRACKS
from explorer.puzzles.training_scenario import Common, TrainingScenario, common, scenario
from explorer.tracks import Track, get_track

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


def scenario_of(inst: MemoryInstance) -> dict[str, Any]:
    """The instance's options, defaults resolved (make_instance(track, **scenario_of(inst)) rebuilds it)."""
    return {"memory_limit_gb": inst.limit / 1e9, "batch": inst.layout.batch_per_replica}

