"""Lab 06 part 3, compression and error feedback: what compressing the data-parallel synchronisation
saves on each track's link, what it costs to compute, and what it does to convergence, measured end to
end: the time to reach a target loss, not the time of one message.

Convergence comes from a real, small, seeded, non-convex distributed training run
(explorer/sim/compressed_adam.py: a two-layer MLP trained with Adam, 1-bit Adam with and without its
full-precision warm-up and error feedback, top-k, FP16). The time of a step on the track comes from
the track's scenario: compute per step, the data-parallel all-reduce (as NCCL runs it where the track
names a plan), and the compression kernels (explorer/cost/compression.py).

The package: `scenario` (the instance: the track's scenario, the simulation's settings and the options checked;
who synchronises over which link), `model` (each wire scheme's step time on the track, the seeded experiment, the
time to the target and the speedup), `narration` (how the figures read, the headline, the formulas), `report` (the
questions answered and the Report's assembly).
"""

from __future__ import annotations

import time
from typing import Any

from explorer.puzzles.compression.model import Measurement, measure, step_times, time_to_target
from explorer.puzzles.compression.narration import _pace as _pace  # read by the tests
from explorer.puzzles.compression.report import build_report
from explorer.puzzles.compression.scenario import WIRE, CompressionInstance, make_instance
from explorer.puzzles.compression.scenario import _setup_on as _setup_on  # read by the tests
from explorer.puzzles.fleetlens import fleet_view
from explorer.report import Report

__all__ = ["WIRE", "CompressionInstance", "Measurement", "build_report", "make_instance", "measure", "solve",
           "step_times", "time_to_target"]


@fleet_view("compression")
def solve(track: str = "cloud", *, topk_ratio: float | None = None, workers: int | None = None,
          steps: int | None = None, seed: int | None = None, warmup: int | None = None, **_: Any) -> Report:
    """Compression report for a track. topk_ratio: top-k keeps 1/ratio of the elements (>= 1)."""
    t0 = time.perf_counter()
    inst = make_instance(track, topk_ratio=topk_ratio, workers=workers, steps=steps, seed=seed, warmup=warmup)
    return build_report(inst, measure(inst), t0)
