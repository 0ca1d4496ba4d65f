"""Lab 08 part 2, the staged pipeline race: preparation (CPU workers) -> ingestion (storage,
host-to-device) -> compute (devices). Throughput is the slowest stage's rate; the balance point is
the largest device count that the pipeline can keep fed, with the fewest workers that feed it
("compute no longer starved"), found by CP-SAT over the integer choices and re-checked by an
exhaustive search over the same integer constraints.

Integer model (times in ns, bytes, so both engines see exactly the same feasible set):
  devices x augment_ns          <= workers x compute_ns          (prep keeps up)
  devices x sample_bytes        <= floor(storage_Bps x compute_s) (storage keeps up)
  sample_bytes                  <= floor(h2d_Bps x compute_s)     (each device's copy keeps up)
  maximise devices, then minimise workers: maximise devices x (max_workers + 1) - workers
The score only ranks; attempts are graded on what it ranks by, the pipeline's throughput in samples/s (at a fed
point, devices x the per-device compute rate), so a gap reads in samples/s, never in points of the score.

The package: `scenario` (the instance: track defaults, options and their checks, the data path's compute
rate), `model` (the integer constraints, the CP-SAT and exhaustive searches, the graded figure), `grading`
(attempts against the balance point), `report` (the words, the questions answered and the Report).
"""

from __future__ import annotations

from typing import Any

from explorer.puzzles.dataloader.grading import (
    ATTEMPT_KINDS,
    ATTEMPT_OPTIONS,
    ATTEMPT_VARIABLES,
    MAX_ATTEMPTS,
    evaluate_attempt,
)
from explorer.puzzles.dataloader.model import (
    ENGINES,
    OBJECTIVE_NAME,
    LoaderResult,
    fed,
    objective,
    score,
    second,
    solve_cpsat,
    solve_dataloader,
    solve_exhaustive,
)
from explorer.puzzles.dataloader.report import build_report
from explorer.puzzles.dataloader.scenario import (
    LoaderInstance,
    batch_plan,
    compute_seconds_per_sample,
    fleet_step,
    make_instance,
    path_step,
    scenario_of,
)
from explorer.puzzles.fleetlens import fleet_view
from explorer.report import Report

__all__ = ["ATTEMPT_KINDS", "ATTEMPT_OPTIONS", "ATTEMPT_VARIABLES", "ENGINES", "MAX_ATTEMPTS", "OBJECTIVE_NAME",
           "LoaderInstance", "LoaderResult", "batch_plan", "build_report", "compute_seconds_per_sample",
           "evaluate_attempt", "fed", "fleet_step", "make_instance", "objective", "path_step", "scenario_of", "score",
           "second", "solve", "solve_cpsat", "solve_dataloader", "solve_exhaustive"]


@fleet_view("dataloader")
def solve(track: str = "cloud", **options: Any) -> Report:
    """Registry entry (options: workers, devices (maxima), augment_ms, compute_ms, sample_bytes,
    storage_gbps, batch, dataset_samples, engine, time_limit)."""
    res = solve_dataloader(track, **options)
    report = build_report(res)
    report.scenario = scenario_of(res.inst)
    return report
