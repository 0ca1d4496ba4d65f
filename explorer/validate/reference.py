"""The reference tables shipped with the package (explorer/data/reference/): tables.toml's entries, one table's
CSV (its comment lines and rows), and the rows the cost model is judged on."""

from __future__ import annotations

import csv
import difflib
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable

REFERENCE_DIR = Path(__file__).parent.parent / "data" / "reference"


@cache
def _specs() -> dict:
    with open(REFERENCE_DIR / "tables.toml", "rb") as fh:
        specs = tomllib.load(fh)
    for key, spec in specs.items():
        missing = [k for k in ("title", "file", "kind", "unit", "target_median", "target_max", "source",
                               "accelerator", "devices_per_node", "intra_link", "inter_link") if k not in spec]
        if missing:
            raise ValueError(f"reference table {key!r} in tables.toml lacks {', '.join(missing)}")
        if spec["kind"] not in ("throughput", "memory"):
            raise ValueError(f"reference table {key!r}: kind must be throughput or memory, got {spec['kind']!r}")
    return specs


def table_names() -> list[str]:
    """Keys of the reference tables shipped with the package."""
    return list(_specs())


def _grouped_names(names: Iterable[str]) -> str:
    """The table names for an error line, those sharing a first word written once: mosaic_{a100_40gb, h100_fp8}.
    Forty-odd names in full would run the line past what a terminal shows."""
    groups: dict[str, list[str]] = {}
    for n in sorted(names):
        head, _, rest = n.partition("_")
        groups.setdefault(head, []).append(rest)
    return ", ".join(f"{head}_{rests[0]}" if len(rests) == 1 else f"{head}_{{{', '.join(rests)}}}"
                     for head, rests in groups.items())


def load_table(name: str) -> tuple[dict, list[str], list[dict[str, str]]]:
    """(spec from tables.toml, the CSV's '#' comment lines (source first), data rows as dicts)."""
    specs = _specs()
    if name not in specs:
        close = difflib.get_close_matches(str(name), list(specs), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown reference table {name!r}{hint}; valid: {_grouped_names(specs)}")
    spec = specs[name]
    text = (REFERENCE_DIR / spec["file"]).read_text()
    comments = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")]
    data = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return spec, comments, list(csv.DictReader(data))


def _flag(text: str | None, default: bool) -> bool:
    """A True/False column, or the table's default when the column is absent."""
    if text is None or text == "":
        return bool(default)
    if text not in ("True", "False"):
        raise ValueError(f"expected True or False, got {text!r}")
    return text == "True"


def compared_rows(spec: dict, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows the cost model is judged on: all, unless the table has a `compare` column (False: transcribed for
    completeness, e.g. a precision the model is not calibrated for; the table's notes say why). A table that reads
    another table's file names its rows instead (`select`: column -> the values it takes), whatever their
    `compare`."""
    if "select" in spec:
        return [r for r in rows if all(r.get(k) in allowed for k, allowed in spec["select"].items())]
    return [r for r in rows if _flag(r.get("compare"), True)]
