"""Lab 05 part 1, the communication wall: throughput and scaling efficiency against accelerator count.

Each track names a data-parallel scaling workload (explorer/data/lab05_distributed.toml: model,
per-replica batch, fabrics). For every fabric, the step time of N replicas comes from the shared
cost model (`explorer.cost.step.evaluate`, the same physics as the 3D puzzle), with the fabric as
the cluster's inter-node link. Weak scaling: every device keeps its batch, so

    X(N)   = N b / t_step(N)            samples/s
    S(N)   = T(1) / T(N) = X(N) / X(1)  speedup for a fixed amount of data
    eta(N) = S(N) / N                   scaling efficiency
    marginal speedup S(N+1) - S(N), or dS/dN on the continuous model

(docs/conventions.md, "Scaling"). The diminishing-returns point is the smallest N at which
one more device adds less than `threshold` (0.5) of a device's worth of speedup: the integer N
from the discrete differences, and the continuous crossing dS/dN = threshold found with
scipy.optimize.brentq on the continuous model (DP degree as a real number).

The package: `workload` (the scenario file, a track's scenario, its fabrics and the N range), `model` (the curves,
regimes and breakdowns from the cost model), `narration` (the sentences, formulas and assumptions), `report` (the
questions answered and the Report's assembly), `attempts` (a student's (fabric, N), graded on the same curve).
"""

from __future__ import annotations

import time
from typing import Any

from explorer import validation as V
from explorer.puzzles.fleetlens import fleet_view
from explorer.puzzles.scaling.attempts import (
    ATTEMPT_ALIASES,
    ATTEMPT_KINDS,
    ATTEMPT_REQUIRED,
    ATTEMPT_VARIABLES,
    MAX_ATTEMPTS,
    attempt_choices,
    attempt_defaults,
    columns_hint,
    evaluate_attempt,
)
from explorer.puzzles.scaling.model import (
    RECOVERED_SHARE,
    FabricCurve,
    breakdown,
    curve,
    make_setup,
    quality_speedup,
    recovers,
    regained_at,
    regimes,
    run_length,
    search_size,
    strong_curve,
)
from explorer.puzzles.scaling.narration import FORMULAS, FORMULAS_NCCL
from explorer.puzzles.scaling.narration import _below as _below  # re-exported: tests import these two from here
from explorer.puzzles.scaling.narration import _dr_headline as _dr_headline
from explorer.puzzles.scaling.report import _build_report, _critical_batch, _strong_scaling
from explorer.puzzles.scaling.workload import (
    DATA_FILE,
    DEFAULT_THRESHOLD,
    ScalingScenario,
    check_range,
    check_track_fabrics,
    lab05_data,
    parse_fabrics,
    scenario,
    track_fabrics,
)
from explorer.report import Report

__all__ = ["ATTEMPT_ALIASES", "ATTEMPT_KINDS", "ATTEMPT_REQUIRED", "ATTEMPT_VARIABLES", "DATA_FILE",
           "DEFAULT_THRESHOLD", "FORMULAS", "FORMULAS_NCCL", "MAX_ATTEMPTS", "RECOVERED_SHARE", "FabricCurve",
           "ScalingScenario", "attempt_choices", "attempt_defaults", "breakdown", "check_range", "check_track_fabrics",
           "columns_hint", "curve", "evaluate_attempt", "lab05_data", "make_setup", "parse_fabrics", "quality_speedup",
           "recovers", "regained_at", "regimes", "run_length", "scenario", "search_size", "solve", "strong_curve",
           "track_fabrics"]


@fleet_view("scaling")
def solve(track: str = "cloud", *, fabric: Any = None, threshold: float = DEFAULT_THRESHOLD,
          max_devices: int | None = None, n_from: int | None = None, n_to: int | None = None,
          **_: Any) -> Report:
    """Throughput and efficiency vs N for each fabric; 8 -> 64 question; diminishing returns."""
    t0 = time.perf_counter()
    sc = scenario(track)
    threshold = V.THRESHOLD.check("threshold", threshold)
    fabrics = check_track_fabrics(sc.track, parse_fabrics(fabric, track_fabrics(sc.track)) or list(sc.fabrics))
    n_max = V.CURVE_DEVICES.check("max-devices (nodes)", max_devices, sc.n_max)
    a = V.CURVE_DEVICES.check("from", n_from, sc.n_from)
    b = V.CURVE_DEVICES.check("to", n_to, sc.n_to)
    check_range(sc, n_max, a, b, given={"max-devices": max_devices is not None, "from": n_from is not None,
                                        "to": n_to is not None})
    curves = {f: curve(sc, f, threshold, n_max, search_size(n_max)) for f in fabrics}
    parts = {f: breakdown(sc, f, a, b) for f in fabrics}
    report = _build_report(sc, curves, parts, threshold, n_max, a, b)
    if sc.strong_batch is not None:
        _strong_scaling(report, sc, {f: strong_curve(sc, f, sc.strong_batch, n_max) for f in fabrics}, curves)
    if sc.b_crit is not None:
        _critical_batch(report, sc, curves, n_max)
    report.solve_time_s = time.perf_counter() - t0
    report.scenario = {"fabric": list(fabrics), "threshold": threshold, "max_devices": n_max, "n_from": a, "n_to": b}
    return report
