"""`explore solve batch`: lab 08 part 3, the scaling wall (batch, precision, accumulation vs MFU)."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import choice, emit, puzzle_options


@solve.command("batch")
@puzzle_options
@click.option("--target-mfu", type=V.OPEN_FRACTION, default=None, help="MFU to reach (default 0.40).")
@click.option("--network-headroom", type=V.OPEN_FRACTION, default=None,
              help="Largest busy fraction of the network allowed (default 0.95).")
@click.option("--batch", type=V.GLOBAL_BATCH, default=None,
              help="Largest global batch allowed (must not exceed the dataset).")
@click.option("--critical-batch", type=V.GLOBAL_BATCH, default=None,
              help="Critical batch size in samples (default: track).")
@click.option("--loss-scaling", type=choice(["dynamic", "static", "none"]), default="dynamic",
              show_default=True, help="FP16 loss scaling used in the search.")
def solve_batch(track: str, fmt: str, out_dir: Path | None, attempts_file: Path | None, target_mfu: float | None,
                network_headroom: float | None, batch: int | None, critical_batch: int | None,
                loss_scaling: str) -> None:
    """Batch size, precision and accumulation for the target MFU within network, convergence and numerics."""
    from explorer.puzzles.batch import solve as solve_puzzle

    emit(solve_puzzle(track, target_mfu=target_mfu, network_headroom=network_headroom, batch=batch,
                      critical_batch=critical_batch, loss_scaling=loss_scaling), fmt, out_dir, attempts_file)
