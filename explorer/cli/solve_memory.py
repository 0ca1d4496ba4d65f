"""`explore solve memory`: lab 08 part 1, the state-management audit (training-memory waterfall)."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import choice, emit, puzzle_options, time_limit_option


@solve.command("memory")
@puzzle_options
@time_limit_option
@click.option("--engine", type=choice(["cpsat", "enumerate"]), default="cpsat", show_default=True,
              help="CP-SAT (re-checked exhaustively) or the exhaustive search alone.")
@click.option("--memory-limit-gb", type=V.MEMORY_GB, default=None,
              help="Usable memory per device in GB (default: track).")
@click.option("--batch", type=V.GLOBAL_BATCH, default=None, help="Samples per replica per step (default: track).")
def solve_memory(track: str, fmt: str, out_dir: Path | None, attempts_file: Path | None, time_limit: float | None,
                 engine: str, memory_limit_gb: float | None, batch: int | None) -> None:
    """Training memory per device and the cheapest set of changes that makes the model fit."""
    from explorer.puzzles.memory import solve as solve_puzzle

    emit(solve_puzzle(track, engine=engine, time_limit=time_limit, memory_limit_gb=memory_limit_gb, batch=batch),
         fmt, out_dir, attempts_file)
