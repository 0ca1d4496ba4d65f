"""Unit conversions, used only at the edges (catalog loading, rendering).

Inside the code everything is SI: seconds, bytes, FLOP, bytes/s, watts, joules
(../shared/CONVENTIONS.md, "Units"). GB = 1e9 bytes; GiB = 2**30 bytes.
"""

GB = 1e9
GIB = 2**30
MB = 1e6
KB = 1e3
KIB = 1024
TFLOP = 1e12
US = 1e-6
MS = 1e-3
HOUR = 3600.0
DAY = 86400.0
MONTH = 30 * DAY


def gbit_per_s_to_bytes(gbps: float) -> float:
    """Vendor link speed in Gb/s (bits) to bytes/s."""
    return gbps * 1e9 / 8.0


def human_duration(seconds: float) -> str:
    """A duration for prose: us, ms or s with about three significant digits (edge formatting)."""
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def human_bytes(n: float, spec: str = ".2f") -> str:
    """Bytes in the unit that suits them (GB = 1e9 B, as everywhere in the project); `spec`
    formats the number (".2f" for tables, ".3g" for figure labels)."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if abs(n) >= scale:
            return f"{n / scale:{spec}} {unit}"
    return f"{n:.0f} B"


def human_percent(fraction: float) -> str:
    """A fraction as a percentage, with two significant digits below 1%."""
    return f"{100 * fraction:.2g}%" if abs(fraction) < 0.01 else f"{100 * fraction:.1f}%"
