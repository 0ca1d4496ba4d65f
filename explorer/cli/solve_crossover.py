"""`explore solve crossover`: lab 06 part 1, ring vs tree AllReduce crossover."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import emit, graded_nothing_options
from explorer.errors import UsageError


@solve.command("crossover")
@graded_nothing_options
@click.option("--participants", "-n", "n", type=V.FLEET_PARTICIPANTS, default=None,
              help="Participants N of the lab's question as posed (one synchronous AllReduce over the track's "
                   "crossover link), one per endpoint of that link (default: the track's): on the cloud track a node "
                   "of 8 GPUs with one NIC (16), on edge a vehicle (10), on mobile a pair of glasses (16), on tiny an "
                   "earbud (50). On edge and mobile it also sets how many selected devices the fleet form's star, "
                   "ring and tree run among; on tiny the contact graph stays the track's.")
@click.option("--nodes", "nodes", type=V.FLEET_PARTICIPANTS, default=None,
              help="Alias of --participants (its older name, kept for old scripts): a node on the cloud track, a "
                   "device on a fleet track.")
@click.option("--alpha-us", type=V.LATENCY_US, default=None, help="Per-message latency alpha in microseconds.")
@click.option("--bandwidth-gbs", type=V.BANDWIDTH_GBS, default=None,
              help="Effective link bandwidth in GB/s (1e9 bytes/s, not Gb/s).")
@click.option("--message-mb", type=V.MESSAGE_MB, default=None, help="Message size M in MB (1e6 bytes).")
def crossover_command(track: str, fmt: str, out_dir, n: int | None, nodes: int | None,
                      alpha_us: float | None, bandwidth_gbs: float | None, message_mb: float | None) -> None:
    """Ring vs tree AllReduce: the crossover message size M* (SciPy vs closed form), per track."""
    from explorer.puzzles.crossover import solve as solve_crossover

    # --participants and --nodes stay two options so that an error names the one typed (named n and nodes: the
    # puzzle's keyword, and the one explorer.api's CLI_NAMES hints at n=)
    if n is not None and nodes is not None:
        raise UsageError(f"--participants {n:,} and --nodes {nodes:,} are the same count (--nodes is "
                         f"the older name of --participants); give one")
    report = solve_crossover(
        track, n=n if nodes is None else nodes,
        alpha_s=None if alpha_us is None else alpha_us * 1e-6,
        bandwidth_bps=None if bandwidth_gbs is None else bandwidth_gbs * 1e9,
        message_bytes=None if message_mb is None else message_mb * 1e6,
    )
    emit(report, fmt, out_dir)
