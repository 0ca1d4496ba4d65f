"""`explore solve dataloader`: lab 08 part 2, the staged pipeline race (prep -> ingest -> compute)."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import choice, emit, puzzle_options, time_limit_option


@solve.command("dataloader")
@puzzle_options
@time_limit_option
@click.option("--engine", type=choice(["cpsat", "enumerate"]), default="cpsat", show_default=True)
@click.option("--workers", type=V.WORKERS, default=None, help="Most CPU workers available (default: track).")
@click.option("--devices", type=V.DEVICES, default=None,
              help="Most accelerators available, at most the pipeline host's (default: all of them; 8 on cloud).")
@click.option("--augment-ms", type=V.STEP_MS, default=None, help="Preparation cost per sample per worker, ms.")
@click.option("--compute-ms", type=V.STEP_MS, default=None,
              help="Compute per sample per device, ms (default: step model). Cloud track only: a fleet device eats "
                   "samples at its fleet local step.")
@click.option("--storage-gbps", type=V.BANDWIDTH_GBS, default=None, help="Storage read bandwidth, GB/s.")
@click.option("--batch", type=V.GLOBAL_BATCH, default=None,
              help="Global batch (must not exceed the dataset). Cloud track only.")
def solve_dataloader(track: str, fmt: str, out_dir: Path | None, attempts_file: Path | None,
                     time_limit: float | None, engine: str, workers: int | None, devices: int | None,
                     augment_ms: float | None, compute_ms: float | None, storage_gbps: float | None,
                     batch: int | None) -> None:
    """Slowest-stage throughput, the 3-box gauge and the balance point (fewest workers, most devices fed)."""
    from explorer.puzzles.dataloader import solve as solve_puzzle

    emit(solve_puzzle(track, engine=engine, time_limit=time_limit, workers=workers, devices=devices,
                      augment_ms=augment_ms, compute_ms=compute_ms, storage_gbps=storage_gbps, batch=batch),
         fmt, out_dir, attempts_file)
