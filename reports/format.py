"""Number formatting shared by every renderer (units converted here, at the edge)."""

from __future__ import annotations

import math
from typing import Any

from explorer.units import human_bytes, human_number, human_percent, singular_noun

# Units that are not nouns in number: a value of 1 keeps them as they are (1 s, 1 x, 1 B).
_UNITS_WITHOUT_NUMBER = {"s", "ms", "us", "ns", "x", "B", "fraction", "USD"}


def fmt_value(value: Any, unit: str = "") -> str:
    """Human form of a value with its unit: bytes as GB, seconds as ms/s, fractions as %; a count of one with
    its noun in the singular ('1 step'); never scientific notation; a yes/no as yes or no."""
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
    if unit == "s":
        if abs(v) >= 3600 * 48:
            return f"{v / 86400:.2f} days"
        if abs(v) >= 3600:
            return f"{v / 3600:.2f} h"
        if abs(v) >= 1 or v == 0:
            return f"{v:.3f} s"
        if abs(v) >= 1e-3:
            return f"{v * 1e3:.3f} ms"
        return f"{v * 1e6:.2f} us"
    if isinstance(value, int) or (v.is_integer() and abs(v) < 1e15):
        s = f"{int(v):,}"
    elif abs(v) >= 100:
        s = f"{v:,.1f}"
    elif abs(v) >= 1:
        s = f"{v:.3f}"
    else:
        s = f"{v:.4g}"
        if "e" in s:  # 7.2e-05 -> 0.00007197: prose and tables never show scientific notation
            s = human_number(v, 4)
    if v == 1 and unit and unit not in _UNITS_WITHOUT_NUMBER and "/" not in unit:
        unit = singular_noun(unit)
    return f"{s} {unit}".strip()
