"""The crossover puzzle's figures: the ring/tree crossover M* found numerically (SciPy brentq), the
AllReduce times of every algorithm at a message size, and the radio cost of one AllReduce on a fleet
track (all from explorer/cost and the seeded schedules of explorer/sim).
"""

from __future__ import annotations

from collections.abc import Callable

from explorer.cost import collectives as col
from explorer.cost.radio import radio_energy_j
from explorer.puzzles.collective_scenario import CollectiveScenario

ALGORITHMS = tuple(col.ALLREDUCE_ALGORITHMS)
NAME = col.ALLREDUCE_NAMES
MAX_LATENCY_SIM_N = 128  # edge random-latency simulation: beyond this the report skips it
MAX_GOSSIP_N = 512  # tiny contact-graph simulation: beyond this the report skips it
SIM_DRAWS = 1e7  # about this many latency draws per (algorithm, size) in the edge simulation (at least 500 trials)


# --- the numerical crossover --------------------------------------------------------------------
def find_crossover(t_small: Callable[[float], float], t_large: Callable[[float], float],
                   scale: float) -> float | None:
    """The M > 0 where t_small(M) = t_large(M), with t_small faster below and t_large faster above
    (SciPy brentq on the time difference). None when t_small is never faster (no positive root)."""
    from scipy.optimize import brentq

    def diff(m: float) -> float:
        return t_small(m) - t_large(m)

    if diff(0.0) >= 0.0:
        return None
    hi = max(scale, 1.0)
    for _ in range(200):
        if diff(hi) > 0.0:
            return float(brentq(diff, 0.0, hi, xtol=1e-12, rtol=1e-14, maxiter=500))
        hi *= 2.0
    return None


def ring_tree_crossover(n: int, alpha: float, bandwidth: float) -> float:
    """Numerical ring/tree crossover M* (bytes); 0 when ring is never slower (N <= 3)."""
    m = find_crossover(lambda m: col.tree_allreduce_time(m, n, alpha, bandwidth),
                       lambda m: col.ring_allreduce_time(m, n, alpha, bandwidth), alpha * bandwidth * n)
    return 0.0 if m is None else m


def allreduce_times(m: float, n: int, alpha: float, bw: float) -> dict[str, float]:
    """The time (s) of one AllReduce of M under the alpha-beta model, per algorithm."""
    return {a: float(col.allreduce_time(a, m, n, alpha, bw)) for a in ALGORITHMS}


def radio_costs(sc: CollectiveScenario, n: int, alpha: float, bw: float, m: float) -> dict[str, dict[str, float]]:
    """Per algorithm: time (s), radio bits sent by every device together, energy (J) for one AllReduce of M."""
    e = sc.crossover_link.energy_j_per_bit
    out = {}
    for a in ("ring", "tree", "halving_doubling"):
        from explorer.sim.random_latency_collectives import schedule

        sent = sum(c * b for c, b in schedule(a, m, n))  # bytes on the air, all devices
        out[a] = {"time_s": float(col.allreduce_time(a, m, n, alpha, bw)), "bytes": sent,
                  "energy_j": radio_energy_j(sent, e)}
    return out
