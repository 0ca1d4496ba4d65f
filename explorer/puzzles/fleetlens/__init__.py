"""The lab answers on the fleet tracks (edge, mobile, tiny): every lab part answered with fleet physics.

A fleet is not a small datacenter. The lab parts that were written for a cluster (the communication wall,
the algorithm crossover, the hierarchical multiplier, compression, memory, the input pipeline and the
scaling wall) still compute their datacenter form on a fleet track, one synchronous job over the radio, but
on a fleet that form is not the answer: the fleet trains in federated rounds (a server selects some devices,
closes the round at a deadline and drops the late ones; or the devices gossip with those in radio range),
runs H local steps between synchronisations, and pays in joules from a battery. `fleet_view(puzzle)` wraps a
puzzle's `solve` so that on a fleet track its Report leads with the fleet answer, computed from the fleet
form of lab 05 part 2 (explorer/puzzles/fleet3d: the same scenario, tables and optimum the synchronisation
audit uses) and the physics in explorer/cost (federated, energy, collectives, gossip):

* the headline and the first findings are the fleet answer of the lab's question; the datacenter form
  follows as "the lab's question as posed", with its MFU figures labelled as one device's and its dollar
  figures replaced by joules (the report says what replaces them);
* every fleet answer carries the energy of one round (compute and radio) and, on a battery, the hours a
  charge lasts while training against local inference.

Cloud answers pass through untouched. The physics and its sources: docs/fleet.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from explorer.report import Report

FLEET_TRACKS = ("edge", "mobile", "tiny")


def fleet_view(puzzle: str) -> Callable:
    """Decorate a puzzle's solve(track, **options) -> Report: on a fleet track the Report gets its fleet form."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any):
            rep = fn(*args, **kwargs)
            given = {k: v for k, v in kwargs.items() if v is not None}  # the options the caller set
            return apply(puzzle, rep, given) if rep.track in FLEET_TRACKS else rep

        return wrapper

    return deco


def apply(puzzle: str, rep: Report, given: dict[str, Any] | None = None) -> Report:
    """The fleet form of a lab part's Report (a new Report; the datacenter form kept as the lab's question).
    `given`: the options the caller set (None values dropped); a view that takes them (crossover, batch) applies
    them to the fleet answer where they have a fleet meaning, and says which only set the lab's question."""
    from explorer.puzzles.fleetlens import common, lab05, lab06, lab08

    views = {"scaling": lab05.scaling, "crossover": lab06.crossover, "hierarchy": lab06.hierarchy,
             "compression": lab06.compression, "memory": lab08.memory, "dataloader": lab08.dataloader,
             "batch": lab08.batch}
    res = common.optimum(rep.track)
    view = views[puzzle]
    takes = puzzle in ("crossover", "batch")
    return common.compose(rep, res, view(rep, res, given or {}) if takes else view(rep, res))
