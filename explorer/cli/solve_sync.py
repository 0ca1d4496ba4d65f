"""`explore solve sync`: lab 05 part 3, the synchronization audit (sync vs async, checkpoints, dollars)."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import emit, graded_nothing_options, time_limit_option


@solve.command("sync")
@graded_nothing_options
@click.option("--straggler-fraction", type=V.FRACTION, default=None,
              help="Probability that a device straggles in a step, in [0, 1] (default: the track's, 0.05).")
@click.option("--slowdown", type=V.SLOWDOWN, default=None,
              help="Step-time factor of a straggler, >= 1 (default: the track's).")
@click.option("--nodes", type=V.Int(), default=None,
              help=f"Devices in the fleet (default: the track's): two replicas or more, whole nodes, at most "
                   f"{V.MAX_FLEET_NODES:,} ({V.MAX_GOSSIP_NODES:,} on the tiny track); checked against the track.")
@click.option("--jitter", type=V.JITTER, default=None,
              help="Mean run-to-run jitter of a step, as a fraction of the step (default: the track's).")
@click.option("--zero/--no-zero", "zero", default=None,
              help="Compare against ZeRO with the 3D solver (cloud track only, on by default there; slow). A fleet "
                   "track has no ZeRO comparison and refuses either flag.")
@click.option("--seed", type=V.SEED, default=0, show_default=True,
              help="Seed of the Monte Carlo cross-check of E[slowest of N] (shown beside the order statistics).")
@time_limit_option
def solve_sync(track: str, fmt: str, out_dir: Path | None,
               straggler_fraction: float | None, slowdown: float | None, nodes: int | None, jitter: float | None,
               zero: bool | None, seed: int, time_limit: float | None) -> None:
    """Sync vs async SGD with stragglers, staleness, checkpoint interval, and dollars per month."""
    from explorer.puzzles.sync import solve as solve_puzzle

    report = solve_puzzle(track, straggler_fraction=straggler_fraction, slowdown=slowdown, nodes=nodes,
                          jitter=jitter, zero=zero, seed=seed, time_limit=time_limit)
    emit(report, fmt, out_dir)
