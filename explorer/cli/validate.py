"""`explore validate`: the cost model's predictions against published training runs."""

from __future__ import annotations

from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import choice
from explorer.errors import ExplorerError


class TargetMissed(ExplorerError):
    """--strict and at least one reference table misses its accuracy target (exit 1)."""


@main.command("validate")
@click.option("--format", "fmt", type=choice(("text", "json", "csv")), default="text", show_default=True,
              help="Output format.")
@click.option("--table", "tables", multiple=True, metavar="NAME",
              help="Validate only this reference table (repeatable); default: all shipped tables.")
@click.option("--strict", is_flag=True, help="Exit with status 1 if any table misses its target.")
@click.option("--out", "out_dir", type=V.OUT_DIR, default=None,
              help="Write validation.txt (or .json, .csv: --format) and validation.png, every run's out-of-sample "
                   "error by table, into this directory instead of printing (created if missing).")
def validate_cmd(fmt: str, tables: tuple[str, ...], strict: bool, out_dir: Path | None) -> None:
    """Run the cost model on every row of the shipped reference tables (published training runs) and print
    predicted vs published with the relative error, then the median and maximum error per table.

    The error is (predicted - published)/published counted beyond half a unit of the published figure's last digit:
    a published 137 stands for 136.5-137.5, so a prediction of 129.1 reads -5.4 %, not the plain -5.8 %, and one
    inside that interval reads 0 (the text output says so in its first line, the JSON in error_rule)."""
    from explorer.validate import render, validate

    results = validate(list(tables) or None)
    if out_dir is None:
        click.echo(render(results, fmt), nl=False)
    else:
        from explorer.reports.plots import figure_png
        from explorer.reports.render import EXTENSIONS
        from explorer.validate import figure

        paths = [out_dir / f"validation.{EXTENSIONS.get(fmt, fmt)}"]  # csv is its own extension
        paths[0].write_text(render(results, fmt), encoding="utf-8")
        if any(t.kind == "throughput" for t in results):  # memory tables alone: no figure (plot_data draws none)
            paths.append(out_dir / "validation.png")
            paths[1].write_bytes(figure_png(figure(results)))
        click.echo("\n".join(map(str, paths)))
    missed = [t.key for t in results if not t.meets_target]
    if strict and missed:
        raise TargetMissed(f"accuracy target missed by {', '.join(missed)} (see the 'why' lines above)")
