"""`explore validate`: the cost model's predictions against published training runs."""

from __future__ import annotations

import click

from explorer.cli import main
from explorer.errors import ExplorerError


class TargetMissed(ExplorerError):
    """--strict and at least one reference table misses its accuracy target (exit 1)."""


@main.command("validate")
@click.option("--format", "fmt", type=click.Choice(("text", "json", "csv")), default="text", show_default=True,
              help="Output format.")
@click.option("--table", "tables", multiple=True, metavar="NAME",
              help="Validate only this reference table (repeatable); default: all shipped tables.")
@click.option("--strict", is_flag=True, help="Exit with status 1 if any table misses its target.")
def validate_cmd(fmt: str, tables: tuple[str, ...], strict: bool) -> None:
    """Run the cost model on every row of the shipped reference tables (published training runs) and print
    predicted vs published with the relative error, then the median and maximum error per table."""
    from explorer.validate import render, validate

    results = validate(list(tables) or None)
    click.echo(render(results, fmt), nl=False)
    missed = [t.key for t in results if not t.meets_target]
    if strict and missed:
        raise TargetMissed(f"accuracy target missed by {', '.join(missed)} (see the 'why' lines above)")
