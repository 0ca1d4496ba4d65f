"""Number formatting shared by every renderer (units converted here, at the edge)."""

from __future__ import annotations

import math
from typing import Any

from explorer.units import human_bytes, human_number, human_percent, human_sci, singular_noun

# Units that are not nouns in number: a value of 1 keeps them as they are (1 s, 1 x, 1 B).
_UNITS_WITHOUT_NUMBER = {"s", "ms", "us", "ns", "x", "B", "fraction", "USD"}


def fmt_value(value: Any, unit: str = "") -> str:
    """Human form of a value with its unit: bytes as GB, seconds as ms/s, fractions as %; a count of one with
    its noun in the singular ('1 step'); never a computer's exponent (1e-12): below 10^-5 the prose's
    '9.74 x 10^-12'; a yes/no as yes or no."""
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
    elif abs(v) >= 100:
        s = f"{v:,.1f}"
    elif abs(v) >= 1:  # three decimals at most, no trailing zeros: 1.47 x, 49.5 replicas (not 49.500)
        s = f"{v:.3f}".rstrip("0").rstrip(".")
    elif 0 < abs(v) < 1e-5:  # 9.742e-12 -> 9.742 x 10^-12, the prose's form (not 0.000000000009742)
        s = human_sci(v, 4)
    else:
        s = f"{v:.4g}"
        if "e" in s:  # 7.2e-05 -> 0.00007197: no computer exponent notation
            s = human_number(v, 4)
    if v == 1 and unit and unit not in _UNITS_WITHOUT_NUMBER and "/" not in unit:
        unit = singular_noun(unit)
    return f"{s} {unit}".strip()
