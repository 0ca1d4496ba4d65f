"""`explore solve crossover`: lab 06 part 1, ring vs tree AllReduce crossover."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import emit, graded_nothing_options


@solve.command("crossover")
@graded_nothing_options
@click.option("--nodes", "-n", type=V.FLEET_PARTICIPANTS, default=None, help="Participants N (default: the track's).")
@click.option("--alpha-us", type=V.LATENCY_US, default=None, help="Per-message latency alpha in microseconds.")
@click.option("--bandwidth-gbs", type=V.BANDWIDTH_GBS, default=None,
              help="Effective link bandwidth in GB/s (1e9 bytes/s, not Gb/s).")
@click.option("--message-mb", type=V.MESSAGE_MB, default=None, help="Message size M in MB (1e6 bytes).")
def crossover_command(track: str, fmt: str, out_dir, nodes: int | None, alpha_us: float | None,
                      bandwidth_gbs: float | None, message_mb: float | None) -> None:
    """Ring vs tree AllReduce: the crossover message size M* (SciPy vs closed form), per track."""
    from explorer.puzzles.crossover import solve as solve_crossover

    report = solve_crossover(
        track, n=nodes,
        alpha_s=None if alpha_us is None else alpha_us * 1e-6,
        bandwidth_bps=None if bandwidth_gbs is None else bandwidth_gbs * 1e9,
        message_bytes=None if message_mb is None else message_mb * 1e6,
    )
    emit(report, fmt, out_dir)
