"""Lab 06 part 1, the algorithm crossover: ring vs tree AllReduce (and recursive halving-doubling,
NCCL-style double binary tree) against message size M and participants N under the alpha-beta
model. The crossover M* is found as a root with SciPy (brentq) and checked against the closed
form of docs/conventions.md. Track extras: edge (alpha random: expected time and p99),
mobile (energy per sync, AR frames lost), tiny (gossip rounds vs consensus error, BLE energy).

The package: `model` (the numerical crossover, the times of every algorithm, the radio cost of one
AllReduce), `words` (the phrases the narration shares), `cloud` (the NCCL comparison and the
saturated-ring answer), `fleet` (the edge, mobile and tiny extras), `report` (solve: the figures,
findings and Report assembly).
"""

from __future__ import annotations

from explorer.puzzles.crossover.model import (
    ALGORITHMS,
    MAX_GOSSIP_N,
    MAX_LATENCY_SIM_N,
    NAME,
    SIM_DRAWS,
    allreduce_times,
    find_crossover,
    radio_costs,
    ring_tree_crossover,
)
from explorer.puzzles.crossover.report import solve

__all__ = ["ALGORITHMS", "MAX_GOSSIP_N", "MAX_LATENCY_SIM_N", "NAME", "SIM_DRAWS", "allreduce_times",
           "find_crossover", "radio_costs", "ring_tree_crossover", "solve"]
