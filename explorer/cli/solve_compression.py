"""`explore solve compression`: lab 06 part 3, gradient compression with and without error feedback."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import emit, graded_nothing_options


@solve.command("compression")
@graded_nothing_options
@click.option("--ratio", "topk_ratio", type=V.COMPRESSION_RATIO, default=None,
              help="Top-k compression ratio (keeps 1/ratio of the elements; >= 1; default 100).")
@click.option("--workers", type=V.COMPRESSION_WORKERS, default=None,
              help="Workers in the simulated optimisation (>= 2).")
@click.option("--steps", type=V.COMPRESSION_STEPS, default=None, help="Optimisation steps (default 250).")
@click.option("--warmup", type=V.COMPRESSION_WARMUP, default=None,
              help="Full-precision warm-up steps of 1-bit Adam, 1 to steps - 1 (default: 20% of the steps). At "
                   "least 1: 1-bit Adam freezes the variance its warm-up measured, so it needs one full-precision "
                   "step; the report's no-warm-up run already compresses from step 1.")
@click.option("--seed", type=V.SEED, default=None, help="Seed of the generated problem.")
def compression_command(track: str, fmt: str, out_dir, topk_ratio: float | None,
                        workers: int | None, steps: int | None, seed: int | None, warmup: int | None) -> None:
    """Bandwidth saved by 1-bit / top-k / FP16 compression vs convergence, measured on a seeded problem."""
    from explorer.puzzles.compression import solve as solve_compression

    report = solve_compression(track, topk_ratio=topk_ratio, workers=workers, steps=steps, seed=seed, warmup=warmup)
    emit(report, fmt, out_dir)
