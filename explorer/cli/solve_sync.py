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
@click.option("--devices", type=V.Int(), default=None,
              help=f"Devices in the job, counted one by one (default: the track's whole fleet): GPUs on the cloud "
                   f"track (1,024: 128 nodes of 8), vehicles on edge (10,000), pairs of glasses on mobile (1,000), "
                   f"earbuds on tiny (100: 50 pairs). At least two replicas (cloud: 2 x TP x PP x CP = 128 GPUs), "
                   f"whole nodes and whole replicas (cloud: a multiple of 64; tiny: of 2), at most "
                   f"{V.MAX_FLEET_NODES:,} ({V.MAX_GOSSIP_NODES:,} on the tiny track); checked against the track.")
@click.option("--nodes", "nodes", type=V.Int(), default=None,
              help="Alias of --devices (its older name, kept for old scripts): it counts devices too, GPUs on the "
                   "cloud track, not nodes of 8.")
@click.option("--jitter", type=V.JITTER, default=None,
              help="Mean run-to-run jitter of a step, as a fraction of the step (default: the track's); 0 is a "
                   "deterministic step, so only stragglers spread the devices.")
@click.option("--zero/--no-zero", "zero", default=None,
              help="Compare against ZeRO with the 3D solver (cloud track only, on by default there; slow). A fleet "
                   "track has no ZeRO comparison and refuses either flag.")
@click.option("--seed", type=V.SEED, default=0, show_default=True,
              help="Seed of the Monte Carlo cross-check of E[slowest of N] (shown beside the order statistics).")
@time_limit_option
def solve_sync(track: str, fmt: str, out_dir: Path | None,
               straggler_fraction: float | None, slowdown: float | None, devices: int | None,
               nodes: int | None, jitter: float | None, zero: bool | None, seed: int,
               time_limit: float | None) -> None:
    """Sync vs async SGD with stragglers, staleness, checkpoint interval, and dollars per month."""
    from explorer.puzzles.sync import solve as solve_puzzle

    # --devices and --nodes stay two options so that an error names the one typed (the puzzle takes either name;
    # the parameters are named as its keywords, which explorer.api's CLI_NAMES test holds the CLI to)
    report = solve_puzzle(track, straggler_fraction=straggler_fraction, slowdown=slowdown, devices=devices,
                          nodes=nodes, jitter=jitter, zero=zero, seed=seed, time_limit=time_limit)
    emit(report, fmt, out_dir)
