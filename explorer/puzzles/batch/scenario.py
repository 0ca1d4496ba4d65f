"""The batch part's scenario: the instance one solve is for (the track, its lab08_training.toml scenario and
the options given: target MFU, network headroom, critical batch, the user's batch cap, loss scaling, accumulation)
and the memory plan it trains with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from explorer import validation as V
from explorer.cost import convergence as conv
from explorer.cost import training_memory as tmem
from explorer.errors import UsageError
from explorer.puzzles.training_scenario import Common, TrainingScenario, common, scenario
from explorer.tracks import Track, get_track

LOSS_SCALING = ("dynamic", "static", "none")
BATCH_CAP = "largest batch (--batch)"  # the name of the user's batch limit among the constraints


@dataclass(frozen=True)
class BatchInstance:
    track: Track
    sc: TrainingScenario
    cm: Common
    target_mfu: float
    headroom: float
    b_crit: int
    dataset: int
    precisions: tuple[str, ...]
    micro_batches: tuple[int, ...]
    max_accumulation: int
    loss_scaling: str
    plan_choice: tmem.Choice  # optimizer, recompute, zero, trainable layers of the memory plan
    memory_plan_source: str
    b_crit_source: str
    batch_cap: int | None = None  # the user's largest global batch (--batch): a hard limit, like the dataset


def critical_batch_samples(track: Track, sc: TrainingScenario) -> int:
    if sc.critical_batch_samples is not None:
        return sc.critical_batch_samples
    return conv.kaplan_critical_batch_samples(sc.critical_batch_loss_nats, track.workload.seq_len)


@cache
def _memory_plan(key: str) -> tuple[tmem.Choice, str]:
    """The memory plan the batch search trains with: on tracks where the memory audit's layout is the
    training layout (one device per replica) the audit's optimum, else the track's own plan."""
    t, sc = get_track(key), scenario(key)
    plan = t.crisis_plan
    L = t.workload.model.layers
    if (sc.tp, sc.pp) == (plan.tp, plan.pp) and sc.dp == 1:
        from explorer.puzzles.memory import solve_memory

        best = solve_memory(key, engine="enumerate", check=False).best
        if best is not None:
            return best, "the memory audit's answer (explore solve memory)"
    return (tmem.Choice(t.workload.optimizer, t.workload.precision, plan.recompute, plan.micro_batch, plan.zero,
                        False, L), f"the track's plan ({plan.describe()})")


def make_instance(track: str | Track = "cloud", *, target_mfu: float | None = None,
                  network_headroom: float | None = None, batch: int | None = None,
                  critical_batch: int | None = None, loss_scaling: str = "dynamic",
                  max_accumulation: int | None = None) -> BatchInstance:
    t = track if isinstance(track, Track) else get_track(track)
    sc, cm = scenario(t.key), common()
    tgt = V.OPEN_FRACTION.check("target-mfu", target_mfu, sc.target_mfu)
    hr = V.OPEN_FRACTION.check("network-headroom", network_headroom, sc.network_headroom)
    if loss_scaling not in LOSS_SCALING:
        raise UsageError(f"loss scaling {V.short(loss_scaling)} unknown; valid: {', '.join(LOSS_SCALING)}")
    bc = critical_batch_samples(t, sc) if critical_batch is None else V.GLOBAL_BATCH.check("critical-batch",
                                                                                          critical_batch)
    bc_src = sc.critical_batch_source if critical_batch is None else "given by the user (--critical-batch)"
    if batch is not None:
        batch = V.GLOBAL_BATCH.check("batch", batch)
        if batch > sc.dataset_samples:
            raise UsageError(f"batch {batch} is larger than the dataset ({sc.dataset_samples} samples); "
                             f"use a batch <= {sc.dataset_samples}")
    ma = V.ACCUMULATION.check("max-accumulation", max_accumulation, sc.max_accumulation)
    choice, src = _memory_plan(t.key)
    return BatchInstance(t, sc, cm, tgt, hr, bc, sc.dataset_samples, sc.batch_precisions, sc.micro_batches, ma,
                         loss_scaling, choice, src, bc_src, batch)
