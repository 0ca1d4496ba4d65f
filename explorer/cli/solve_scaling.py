"""`explore solve scaling`: lab 05 part 1, the communication wall (throughput and efficiency vs N)."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import emit, puzzle_options
from explorer.errors import UsageError


@solve.command("scaling")
@puzzle_options
@click.option("--fabric", "fabrics", multiple=True, metavar="LINK",
              help="Inter-node link(s) from the catalog (repeatable or comma-separated), e.g. eth_10g,ib_ndr. "
                   "Default: the track's two fabrics. A fleet track takes the radios its device carries that reach "
                   "another node (tiny: ble, bluetooth; mobile: also wifi6; edge: also lte_5g), the cloud track "
                   "wired links only.")
@click.option("--threshold", type=V.THRESHOLD, default=0.5, show_default=True,
              help="Diminishing returns: one more device adds less than this many devices' worth of speedup.")
@click.option("--max-devices", "max_devices", type=V.CURVE_DEVICES, default=None,
              help="Largest device count N on the curve, devices counted one by one (default: the track's): GPUs on "
                   "the cloud track (not nodes of 8), vehicles on edge, pairs of glasses on mobile, earbuds on tiny "
                   "(whole nodes of 2 there).")
@click.option("--nodes", "nodes", type=V.CURVE_DEVICES, default=None,
              help="Alias of --max-devices (kept for old scripts): it counts devices too, GPUs on the cloud track, "
                   "not nodes of 8.")
@click.option("--from", "n_from", type=V.CURVE_DEVICES, default=None,
              help="Smaller N of the 'does N -> M cut time by M/N' question (default 8; on a fleet track whole "
                   "nodes, at least two).")
@click.option("--to", "n_to", type=V.CURVE_DEVICES, default=None,
              help="Larger N of that question (default 64; at most --max-devices, and on a fleet track the "
                   "fleet's size).")
def solve_scaling(track: str, fmt: str, out_dir: Path | None, attempts_file: Path | None, fabrics: tuple[str, ...],
                  threshold: float, max_devices: int | None, nodes: int | None, n_from: int | None,
                  n_to: int | None) -> None:
    """Throughput and scaling efficiency vs accelerator count per fabric; the 8 -> 64 question; diminishing returns."""
    from explorer.puzzles.scaling import solve as solve_puzzle

    # --max-devices and --nodes stay two options so that an error names the one typed ('nodes' is the name
    # explorer.api's CLI_NAMES hints at max_devices=)
    if max_devices is not None and nodes is not None:
        raise UsageError(f"--max-devices {max_devices:,} and --nodes {nodes:,} are the same count (--nodes is "
                         f"an alias of --max-devices); give one")
    typed = "--nodes" if nodes is not None else "--max-devices"
    try:
        report = solve_puzzle(track, fabric=list(fabrics) or None, threshold=threshold,
                              max_devices=max_devices if nodes is None else nodes,
                              n_from=n_from, n_to=n_to)
    except UsageError as exc:
        if typed == "--max-devices":
            raise
        # the puzzle names the curve's end --max-devices; the user wrote --nodes
        raise UsageError(str(exc).replace("--max-devices", typed)) from exc
    emit(report, fmt, out_dir, attempts_file)
