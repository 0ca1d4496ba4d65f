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
