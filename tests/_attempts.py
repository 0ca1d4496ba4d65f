"""Write an attempts file as a student would: a CSV header of the given columns and one line per row."""

from __future__ import annotations

from pathlib import Path


def attempts_csv(directory: Path, rows: list[dict], name: str = "a.csv") -> Path:
    """`directory/name` holding `rows` (dicts with the same keys, in the first row's column order)."""
    cols = list(rows[0])
    f = directory / name
    f.write_text(",".join(cols) + "\n" + "".join(",".join(str(r[c]) for c in cols) + "\n" for r in rows))
    return f
