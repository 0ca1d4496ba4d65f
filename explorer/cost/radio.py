"""Radio costs of a sync on a wireless link (lab 06 mobile/tiny/edge tracks).

Energy = payload bits x the link's energy per bit (hardware/data/links.toml energy_nj_per_bit,
sources there). Frames lost: a display pipeline that shares the radio/SoC with the sync stalls for
the sync's duration, so ceil(T_sync x frame rate) frames miss their deadline (assumption stated
in the mobile scenario of explorer/data/lab06_collective.toml).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def radio_energy_j(payload_bytes: ArrayLike, energy_j_per_bit: float) -> np.ndarray | float:
    """Energy (J) to send payload_bytes at energy_j_per_bit joules per payload bit (scalars or arrays)."""
    e = np.asarray(payload_bytes, dtype=float) * 8.0 * energy_j_per_bit
    return float(e) if np.ndim(e) == 0 else e


def frames_lost(busy_s: float, frame_rate_hz: float) -> int:
    """Frames that miss their deadline while the radio is busy for busy_s seconds: ceil(busy_s x rate)."""
    return int(math.ceil(busy_s * frame_rate_hz - 1e-9))
