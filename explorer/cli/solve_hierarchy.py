"""`explore solve hierarchy`: lab 06 part 2, the two-tier AllReduce optimum (CP-SAT)."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import choice, emit, puzzle_options, time_limit_option


@solve.command("hierarchy")
@puzzle_options
@time_limit_option
@click.option("--message-gb", type=V.MESSAGE_GB, default=None, help="Gradient message M in GB (1e9 bytes); default: "
              "the track model's gradient.")
@click.option("--inter-gbs", type=V.BANDWIDTH_GBS, default=None,
              help="Effective inter-tier bandwidth in GB/s (1e9 bytes/s).")
@click.option("--global-batch", type=V.GLOBAL_BATCH, default=None,
              help="Samples per optimizer step (default: the track's).")
@click.option("--engine", type=choice(("cpsat", "enumerate")), default="cpsat", show_default=True,
              help="CP-SAT, or the exhaustive evaluator over the same choices.")
def hierarchy_command(track: str, fmt: str, out_dir, attempts_file, time_limit: float | None,
                      message_gb: float | None, inter_gbs: float | None, global_batch: int | None,
                      engine: str) -> None:
    """Two-tier AllReduce: aggregation factor, tier algorithms and accumulation chosen by CP-SAT."""
    from explorer.puzzles.hierarchy import solve as solve_hierarchy

    report = solve_hierarchy(track, message_bytes=None if message_gb is None else message_gb * 1e9,
                             inter_bandwidth_bps=None if inter_gbs is None else inter_gbs * 1e9,
                             global_batch=global_batch, time_limit_s=time_limit, engine=engine)
    emit(report, fmt, out_dir, attempts_file)
