"""The compression puzzle's instance: the track's scenario, the simulation's settings and the options checked
against them (top-k's fraction, workers, steps, warm-up, seed), and what the scenario says about the
synchronisation: who takes part, over which link, on which memory bandwidth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer import validation as V
from explorer.errors import UsageError
from explorer.hardware.catalog import Link
from explorer.puzzles.collective_scenario import (
    CollectiveScenario,
    get_scenario,
    simulation_settings,
)

WIRE = {"adam": "fp32", "fp16": "fp16", "onebit_noef": "onebit", "onebit": "onebit", "onebit_nowarmup": "onebit",
        "topk": "topk"}


@dataclass(frozen=True)
class CompressionInstance:
    """The instance solved: the track's scenario, the simulation's settings and the options, defaults resolved."""

    sc: CollectiveScenario
    sim: dict[str, Any]
    frac: float  # the fraction of the elements top-k keeps (1/ratio)
    workers: int
    steps: int
    warm: int
    seed: int


def make_instance(track: str, *, topk_ratio: float | None = None, workers: int | None = None,
                  steps: int | None = None, seed: int | None = None,
                  warmup: int | None = None) -> CompressionInstance:
    """The track's scenario and the options checked (each refusal as `explore solve compression` words it)."""
    sc = get_scenario(track)
    sim = simulation_settings()
    # top-k keeps 1/ratio of the elements
    frac = sim["topk_fraction"] if topk_ratio is None else 1.0 / V.COMPRESSION_RATIO.check("ratio", topk_ratio)
    workers = V.COMPRESSION_WORKERS.check("workers", workers, sc.compression_workers)
    steps = V.COMPRESSION_STEPS.check("steps", steps, int(sim["steps"]))
    if workers * steps > V.MAX_COMPRESSION_WORK:
        raise UsageError(f"workers x steps = {workers:,} x {steps:,} = {workers * steps:,} is above the simulation's "
                         f"budget of {V.MAX_COMPRESSION_WORK:,} worker-steps (about 30 s of simulation)")
    # the default warm-up stays inside 1..steps-1 (round(0.1 x 2) = 0 refused --steps 2 for a value never given)
    warm_default = min(steps - 1, max(1, int(round(sim["warmup_fraction"] * steps))))
    warm = V.Int(1, steps - 1, unit=f"(fewer than the {steps:,} steps of --steps)").check("warmup", warmup,
                                                                                        warm_default)
    seed = V.SEED.check("seed", seed, int(sim["seed"]))
    return CompressionInstance(sc, sim, frac, workers, steps, warm, seed)


def sync_link(sc: CollectiveScenario) -> Link:
    """The link the data-parallel synchronisation crosses: the plan's inter-node network, else the crossover's."""
    return sc.inter if sc.setup is not None else sc.crossover_link


def _participants(sc: CollectiveScenario) -> int:
    """Workers in the data-parallel synchronisation: every device of the plan, else the crossover's N (the ring
    sc.dp_sync_time times)."""
    return sc.devices if sc.setup is not None else sc.crossover_n


def _setup_on(sc: CollectiveScenario, inter_link: str | None):
    """The track's step-model setup, its network swapped for `inter_link` (a catalog key) if given."""
    from dataclasses import replace

    from explorer.hardware.catalog import build_cluster

    c = sc.setup.cluster
    if inter_link is None:
        return sc.setup
    return replace(sc.setup, cluster=build_cluster(c.accelerator.key, c.devices, c.devices_per_node, c.intra.key,
                                                   inter_link))


def _memory_bandwidth(sc: CollectiveScenario) -> float:
    if sc.setup is not None:
        return sc.setup.cluster.accelerator.memory_bandwidth
    from explorer.hardware.catalog import get_accelerator
    from explorer.tracks import get_track

    return get_accelerator(get_track(sc.track).cluster.accelerator.key).memory_bandwidth
