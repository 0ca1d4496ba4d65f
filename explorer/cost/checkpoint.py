"""Checkpointing under failures: the interval that loses the least time.

Young 1974 (CACM 17(9)): waste per unit time C/tau + tau/(2 M) is least at tau = sqrt(2 C M);
Daly 2006 (FGCS 22(3), sec. 3) gives the exact expected wall time under exponential failures,
M e^(R/M) (e^((tau + C)/M) - 1) / tau per unit of work, minimised here with scipy.
C = checkpoint write time, M = mean time between failures of the whole job, R = restart time (s).
"""

from __future__ import annotations

import math


# --- checkpointing ---------------------------------------------------------------------------------
def young_interval(checkpoint_s: float, mtbf_s: float) -> float:
    """Young 1974: tau_opt = sqrt(2 C M)."""
    return math.sqrt(2.0 * checkpoint_s * mtbf_s)


def waste_first_order(tau: float, checkpoint_s: float, mtbf_s: float, restart_s: float = 0.0) -> float:
    """Fraction of time lost, first order (Young 1974): C / tau + (tau / 2 + R) / M."""
    return checkpoint_s / tau + (tau / 2.0 + restart_s) / mtbf_s


def daly_wall_factor(tau: float, checkpoint_s: float, mtbf_s: float, restart_s: float = 0.0) -> float:
    """Expected wall time per unit of useful work under exponential failures (Daly 2006):
    M e^(R/M) (e^((tau + C)/M) - 1) / tau."""
    m = mtbf_s
    if (restart_s + tau + checkpoint_s) / m > 700.0:  # e^700 is near float's limit: no progress, in effect
        return math.inf
    return m * math.exp(restart_s / m) * math.expm1((tau + checkpoint_s) / m) / tau


def daly_interval(checkpoint_s: float, mtbf_s: float) -> float:
    """Daly 2006, higher-order estimate (sec. 4):
    sqrt(2 C M) [1 + sqrt(C/(2M))/3 + C/(18 M)] - C for C < 2 M, else M."""
    c, m = checkpoint_s, mtbf_s
    if c >= 2.0 * m:
        return m
    return math.sqrt(2.0 * c * m) * (1.0 + math.sqrt(c / (2.0 * m)) / 3.0 + c / (18.0 * m)) - c


def numeric_optima(checkpoint_s: float, mtbf_s: float, restart_s: float) -> tuple[float, float]:
    """(argmin of the first-order waste, argmin of Daly's exact wall factor), by scipy bounded search."""
    from scipy.optimize import minimize_scalar

    c, m = checkpoint_s, mtbf_s
    hi = max(100.0 * math.sqrt(2 * c * m), 100.0 * m)
    a = minimize_scalar(lambda x: waste_first_order(math.exp(x), c, m, restart_s), method="bounded",
                        bounds=(math.log(c * 1e-6), math.log(hi)), options={"xatol": 1e-10})
    b = minimize_scalar(lambda x: daly_wall_factor(math.exp(x), c, m, restart_s), method="bounded",
                        bounds=(math.log(c * 1e-6), math.log(hi)), options={"xatol": 1e-10})
    return math.exp(a.x), math.exp(b.x)
