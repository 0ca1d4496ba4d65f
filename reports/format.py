"""Number formatting shared by every renderer (units converted here, at the edge)."""

from __future__ import annotations

import math
from typing import Any

from explorer.units import human_bytes


def fmt_value(value: Any, unit: str = "") -> str:
    """Human form of a value with its unit: bytes as GB, seconds as ms/s, fractions as %."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, str):
        return f"{value} {unit}".strip()
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_value(v, unit) for v in value)
    v = float(value)
    if math.isinf(v) or math.isnan(v):
        return str(v)
    if unit == "fraction":
        return f"{100 * v:.1f}%"
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
    return f"{s} {unit}".strip()
