"""Number formatting shared by every renderer (units converted here, at the edge)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from explorer.units import human_bytes, human_bytes_3, human_number, human_percent, human_sci, singular_noun

# Units that are not nouns in number: a value of 1 keeps them as they are (1 s, 1x, 1 B).
_UNITS_WITHOUT_NUMBER = {"s", "ms", "us", "ns", "x", "B", "fraction", "USD"}


def fmt_value(value: Any, unit: str = "") -> str:
    """Human form of a value with its unit: bytes as GB, seconds as ms/s, fractions as %; a count of one with
    its noun in the singular ('1 step'); never a computer's exponent (1e-12): below 10^-5 the prose's
    '9.74 x 10^-12'; whole from 10,000 up (1,083,976 tokens/s); a ratio (unit 'x') with the x on the number,
    as the prose spells it (1.476x, 2x); a yes/no as yes or no."""
    if isinstance(value, bool):
        return ("yes" if value else "no") + (f" {unit}" if unit else "")
    if value is None:
        return "-"
    if isinstance(value, str):
        return f"{value} {unit}".strip()
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_value(v, unit) for v in value)
    v = float(value)
    if math.isinf(v) or math.isnan(v):
        return str(v)
    if unit == "fraction":  # a small non-zero share keeps two significant digits (MFU 0.023%, not 0.0%)
        return human_percent(v) if 0 < abs(v) < 0.0005 else f"{100 * v:.1f}%"
    if unit == "B":
        return human_bytes(v)
    if unit == "B/s":  # a link's rate in its unit (47 GB/s, 175 kB/s), as the tables beside it give it
        return human_bytes(v) + "/s"
    if unit == "s":
        if abs(v) >= 3600 * 48:
            return f"{v / 86400:.2f} days"
        if abs(v) >= 3600:
            return f"{v / 3600:.2f} h"
        if abs(v) >= 60:  # 2712.146 s read as 45.20 min, beside the hours of the same table
            return f"{v / 60:.2f} min"
        if abs(v) >= 1 or v == 0:
            return f"{v:.3f} s"
        if abs(v) >= 1e-3:
            return f"{v * 1e3:.3f} ms"
        return f"{v * 1e6:.2f} us"
    if isinstance(value, int) or (v.is_integer() and abs(v) < 1e15):
        s = f"{int(v):,}"
    elif abs(v) >= 1e4:  # five digits or more before the point: whole (1,083,976 tokens/s, not 1,083,976.1)
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:,.1f}"
    elif abs(v) >= 1:  # three decimals at most, no trailing zeros: 1.476x, 49.5 replicas (not 49.500)
        s = f"{v:.3f}".rstrip("0").rstrip(".")
    elif 0 < abs(v) < 1e-5:  # 9.742e-12 -> 9.742 x 10^-12, the prose's form (not 0.000000000009742)
        s = human_sci(v, 4)
    else:
        s = f"{v:.4g}"
        if "e" in s:  # 7.2e-05 -> 0.00007197: no computer exponent notation
            s = human_number(v, 4)
    if v == 1 and unit and unit not in _UNITS_WITHOUT_NUMBER and "/" not in unit:
        unit = singular_noun(unit)
    if unit == "x":  # a ratio with the x on the number, as the prose spells it (1.476x; 4.163x beside 4.156x)
        return f"{s}x"
    return f"{s} {unit}".strip()


def _signed_percent(v: float) -> str:
    text = f"{100 * v:+.1f}%"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


CELL_FORMATS: dict[str, Callable[[float], str]] = {
    "percent": human_percent,  # a fraction as a percentage, 1 decimal, 2 significant digits below 1%: 51.5%, 0.49%
    "percent.1": lambda v: f"{v:.1%}",  # a fraction to 0.1 point: 1.2%
    "percent.2": lambda v: f"{v:.2%}",  # a fraction to 0.01 point: 51.49%
    "signed_percent": _signed_percent,  # a change as a fraction: +12.3%, -7.3%, 0.0% (never -0.0%)
    "bytes": human_bytes,  # bytes in the unit that suits them, 2 decimals: 50.89 GB
    "bytes3": human_bytes_3,  # bytes, three significant digits: 50.9 GB
    "fixed.2": lambda v: f"{v:.2f}",  # a number to 2 decimals, in the unit its column names: 30.59
    "fixed.4": lambda v: f"{v:.4f}",  # a number to 4 decimals, in the unit its column names: 3.8694
}
"""How a table column's numbers print (Table.formats): each column holds the value in the unit its name or format
says (a fraction, bytes, seconds), and every renderer prints it through the same function. A fixed list of names
(never a format string read from a file: a saved report's '{:999999999}' would print a gigabyte)."""


def fmt_cell(value: Any, fmt: str = "") -> str:
    """One table cell as every renderer prints it: a number through its column's format (CELL_FORMATS), None as a
    dash, text as it is (a report saved before its table held numbers keeps its strings), anything else as
    fmt_value prints it."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if fmt and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return CELL_FORMATS[fmt](value)
    return fmt_value(value)
