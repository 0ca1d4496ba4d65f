"""Energy of a fleet device: joules for compute and radio, battery hours, and the drain ratio a
storyboard claims. Pure functions, SI units (J, W, s).

* compute: the device's active power x busy time (the accelerator's power figure in
  hardware/data/accelerators.toml, from its datasheet or the track's thermal budget);
* radio: payload bits x the link's energy per bit (hardware/data/links.toml energy_nj_per_bit,
  explorer.cost.radio.radio_energy_j), counted for the bits a device sends and for those it
  receives (BLE and Wi-Fi receivers draw about what their transmitters do: nRF52840 PS v1.7,
  TX 4.8 mA at 0 dBm vs RX 4.6 mA);
* idle listening and the radio's connection events between transfers are not counted (a lower
  bound on the radio energy).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost.radio import radio_energy_j
from explorer.errors import UsageError


def compute_energy_j(power_w: float, busy_s: ArrayLike) -> np.ndarray | float:
    """Joules a device spends computing for busy_s seconds at power_w watts."""
    if not power_w >= 0:
        raise UsageError(f"power must be >= 0 W, got {power_w!r}")
    e = power_w * np.asarray(busy_s, dtype=float)
    return float(e) if np.ndim(e) == 0 else e


def transfer_energy_j(sent_bytes: ArrayLike, received_bytes: ArrayLike, energy_j_per_bit: float) -> np.ndarray | float:
    """Radio joules of one device that sends and receives these payloads over one link."""
    total = np.asarray(sent_bytes, dtype=float) + np.asarray(received_bytes, dtype=float)
    e = radio_energy_j(total, energy_j_per_bit)
    return float(e) if np.ndim(e) == 0 else e


def battery_hours(battery_j: float, power_w: ArrayLike) -> np.ndarray | float:
    """Hours a battery of battery_j joules lasts at an average power_w watts."""
    p = np.asarray(power_w, dtype=float)
    if np.any(p <= 0):
        raise UsageError("battery hours need a positive power")
    h = battery_j / p / 3600.0
    return float(h) if np.ndim(h) == 0 else h


def average_power_w(energy_j: ArrayLike, seconds: ArrayLike) -> np.ndarray | float:
    """Average power over a period: energy / time."""
    p = np.asarray(energy_j, dtype=float) / np.asarray(seconds, dtype=float)
    return float(p) if np.ndim(p) == 0 else p
