"""`explore solve scaling`: lab 05 part 1, the communication wall (throughput and efficiency vs N)."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import emit, puzzle_options


@solve.command("scaling")
@puzzle_options
@click.option("--fabric", "fabrics", multiple=True, metavar="LINK",
              help="Inter-node link(s) from the catalog (repeatable or comma-separated), e.g. eth_10g,ib_ndr. "
                   "Default: the track's two fabrics. A fleet track takes the radios its device carries that reach "
                   "another node (tiny: ble, bluetooth; mobile: also wifi6; edge: also lte_5g), the cloud track "
                   "wired links only.")
@click.option("--threshold", type=V.THRESHOLD, default=0.5, show_default=True,
              help="Diminishing returns: one more device adds less than this many devices' worth of speedup.")
@click.option("--max-devices", "--nodes", "max_devices", type=V.CURVE_DEVICES, default=None,
              help="Largest accelerator count N on the curve (default: the track's).")
@click.option("--from", "n_from", type=V.CURVE_DEVICES, default=None,
              help="Smaller N of the 'does N -> M cut time by M/N' question (default 8; on a fleet track whole "
                   "nodes, at least two).")
@click.option("--to", "n_to", type=V.CURVE_DEVICES, default=None,
              help="Larger N of that question (default 64; at most --max-devices, and on a fleet track the "
                   "fleet's size).")
def solve_scaling(track: str, fmt: str, out_dir: Path | None, attempts_file: Path | None, fabrics: tuple[str, ...],
                  threshold: float, max_devices: int | None, n_from: int | None, n_to: int | None) -> None:
    """Throughput and scaling efficiency vs accelerator count per fabric; the 8 -> 64 question; diminishing returns."""
    from explorer.puzzles.scaling import solve as solve_puzzle

    report = solve_puzzle(track, fabric=list(fabrics) or None, threshold=threshold, max_devices=max_devices,
                          n_from=n_from, n_to=n_to)
    emit(report, fmt, out_dir, attempts_file)
