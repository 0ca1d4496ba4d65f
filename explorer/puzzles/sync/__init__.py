"""Lab 05 part 3, the synchronization audit: sync vs async SGD with stragglers, staleness,
checkpointing, and what each costs in dollars per month on the cloud track; on the fleet tracks the
form the question takes there (edge: staleness bound, sync period and participants; mobile: the
battery drain and federated rounds in an energy budget; tiny: gossip vs a full sync on the contact
graph), with federated physics instead of datacenter notions (explorer/puzzles/sync/fleet.py).

The step time of a device comes from the shared cost model (`explorer.cost.step.estimate` of the
track's configuration). Around it, the pure functions below (each with its source):

* order statistics of step times and the staleness model: `explorer.cost.stragglers`;
* the checkpoint interval (Young 1974, Daly 2006): `explorer.cost.checkpoint`.

The package: `audit` (scenario and the numbers common to every track), `cloud` (the datacenter
audit's narration), `cloud_costs` (what async and each straggler remedy save there, in numbers), `cloud_words`
(the words of its narration), `fleet` (edge, mobile and tiny forms: their numbers and the narration's assembly),
`fleet_words` (the words every fleet track shares), `fleet_tracks` (each fleet track's crisis answered), `report`
(assembly).
"""

from __future__ import annotations

import math
import time
from typing import Any

from explorer import validation as V
from explorer.errors import UsageError
from explorer.puzzles.sync.audit import (
    Audit,
    checkpoint_figures,
    make_plan,
    make_setup,
    run_audit,
    sync_data,
    zero_comparison,
)
from explorer.puzzles.sync.fleet import fleet_audit
from explorer.puzzles.sync.report import build_fleet_report, build_report
from explorer.report import Figure, Report
from explorer.units import human_number

__all__ = ["Audit", "checkpoint_figures", "fleet_audit", "make_plan", "make_setup", "run_audit", "solve",
           "sync_data", "zero_comparison"]


def device_count(devices: int | None, nodes: int | None) -> tuple[int | None, str]:
    """The audit's device count and the name it was given by: `devices`, or `nodes`, its older name (it counts
    devices too: GPUs on the cloud track, not nodes of 8). Both at once is refused, even when equal."""
    if devices is not None and nodes is not None:
        raise UsageError(f"devices {V.short(devices)} and nodes {V.short(nodes)} are the same count (nodes is the "
                         f"older name of devices); give one")
    return (devices, "devices") if devices is not None else (nodes, "nodes")


def solve(track: str = "cloud", *, straggler_fraction: float | None = None, slowdown: float | None = None,
          devices: int | None = None, nodes: int | None = None, jitter: float | None = None, zero: bool | None = None,
          time_limit: float | None = None, seed: int = 0, **_: Any) -> Report:
    """The synchronisation audit of a track (see the module docstring). `devices`: devices in the job, one by one
    (GPUs on the cloud track, vehicles on edge, pairs of glasses on mobile, earbuds on tiny; None: the track's);
    `nodes`: its older name, kept as an alias (errors name whichever was given). `zero`: run the cloud track's ZeRO
    comparison (None: yes on the cloud track; a fleet track has none, so True or False there is refused)."""
    t0 = time.perf_counter()
    time_limit = V.TIME_LIMIT.check("time-limit", time_limit)
    count, name = device_count(devices, nodes)
    a = run_audit(track, straggler_fraction=straggler_fraction, slowdown=slowdown, nodes=count, jitter=jitter,
                  seed=seed, nodes_name=name)
    from explorer.puzzles.fleet3d import is_fleet  # as run_audit imports it: the fleet package only when asked

    fleet = is_fleet(a.track.key)
    if time_limit is not None and (fleet or zero is False):
        # the only solver in the audit is the 3D one behind the ZeRO comparison; a limit on nothing is refused,
        # not dropped
        raise UsageError(f"--time-limit bounds the 3D solves of the ZeRO comparison, and "
                         f"{'a fleet track has none' if fleet else '--no-zero turns it off'}; leave --time-limit out")
    if fleet and zero is not None:
        # --zero / --no-zero switch the cloud track's ZeRO comparison; on a fleet either would be a no-op
        raise UsageError(f"--{'' if zero else 'no-'}zero switches the ZeRO comparison of the cloud track, and "
                         f"the {a.track.key} track has none; leave --{'' if zero else 'no-'}zero out")
    if fleet:  # a fleet: no ZeRO, no restarts (explorer/puzzles/sync/fleet.py)
        report = build_fleet_report(a, fleet_audit(a))
        _show_monte_carlo(report, a, seed)
    else:
        z = zero_comparison(a.track.key, count, time_limit) if zero is not False else None
        report = build_report(a, {}, z)
    report.scenario["seed"] = seed  # what --seed drew: the Monte Carlo cross-check of E[slowest of N]
    report.solve_time_s = time.perf_counter() - t0
    return report


MC_BAND_SE = 3.0  # a normal mean lies within 3 standard errors of its estimate 99.73% of the time


def monte_carlo_band(mc: float, se: float, exact: float, unit: float = 1.0) -> str:
    """The Monte Carlo band +-3 standard errors (in `unit`s) and whether the exact value lies in it, said either
    way. A 2-standard-error band misses a correct value once in 20 seeds (the edge track's default seed did:
    4.125 +- 0.030 against 4.163), so a miss there was shown as the default without comment; a miss of the 99.7%
    band is worth a reader's doubt, and the figure says which it is."""
    band = MC_BAND_SE * se
    text = f"+-{human_number(band / unit)} at {MC_BAND_SE:g} standard errors, 99.7%"
    x = human_number(exact / unit, 4)  # as the order-statistics figure prints it (4.163)
    if abs(mc - exact) <= band:
        return f"{text}: holds the order statistics' {x}"
    z = abs(mc - exact) / se if se > 0 else math.inf
    away = f"{z:.1f} standard errors away" if math.isfinite(z) else "outside a zero-width band"
    return f"{text}: the order statistics' {x} lies {away}, outside it (a correct value does 3 times in 1,000)"


def _show_monte_carlo(report: Report, a: Audit, seed: int) -> None:
    """A fleet's answer quotes E[slowest of N] / mean step from order statistics (its wait-or-drop finding); the
    seeded Monte Carlo that checks it (explorer.cost.stragglers.monte_carlo_max, as on the cloud track) was drawn
    but only reached the plot, so --seed changed nothing a reader saw. Its figure goes beside the order statistics',
    seed named."""
    mc, se = a.mc_max_all
    fig = Figure(mc / a.e_step, "x", f"E[slowest of {a.nodes:,}] / mean step by Monte Carlo ({a.mc_draws:,} draws, "
                 f"seed {seed}; {monte_carlo_band(mc, se, a.e_max_all, a.e_step)})")
    out = {}
    for k, v in report.figures.items():
        out[k] = v
        if k == "expected_max_over_mean":
            out["expected_max_over_mean_mc"] = fig
    out.setdefault("expected_max_over_mean_mc", fig)
    report.figures = out
