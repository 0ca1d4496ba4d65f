"""A student's attempts at the scaling puzzle, a (fabric, N) each: the columns (explorer.reports.attempts), the
template's hint and choices, and the grading against the same curve the report's optimum is picked from."""

from __future__ import annotations

from typing import Any

import numpy as np

from explorer import validation as V
from explorer.cost.setup import Setup
from explorer.errors import UsageError, require_positive, require_positive_int, unknown_name
from explorer.hardware.catalog import get_link
from explorer.puzzles.scaling.model import _eval, make_setup, search_size
from explorer.puzzles.scaling.workload import (
    DEFAULT_THRESHOLD,
    ScalingScenario,
    check_track_fabrics,
    parse_fabrics,
    scenario,
    track_fabrics,
)
from explorer.report import Constraint, Figure
from explorer.tracks import Track

# --- attempts: a student's (fabric, N) -------------------------------------------------------------
ATTEMPT_VARIABLES = ["fabric", "devices"]
# Both columns are required: every track's scenario compares two fabrics (lab05_distributed.toml), so an empty fabric
# has no scenario value to take, and the template (written per track, before any --fabric) must not say it has
ATTEMPT_REQUIRED = ["fabric", "devices"]
ATTEMPT_KINDS = {"fabric": "name", "devices": "count"}
ATTEMPT_ALIASES = {"n": "devices", "gpus": "devices", "nodes": "devices"}
MAX_ATTEMPTS = None


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """No defaults: both columns are required (ATTEMPT_REQUIRED). The scenario's --fabric is still checked here,
    so a bad name is refused with the track's list wherever it is read."""
    sc = scenario(track)
    parse_fabrics(options.get("fabric"), track_fabrics(sc.track))
    return {}


def columns_hint(track: str = "cloud") -> str:
    """The template's line on what an attempt must give and what the default scenario searches (reports.attempts
    prints it under the values): both columns, since the track's scenario compares several fabrics."""
    sc = scenario(track)
    why = (f"the {sc.track.key} scenario compares {len(sc.fabrics)} fabrics, {', '.join(sc.fabrics)}, so a fabric "
           "has no single default" if len(sc.fabrics) > 1 else f"the {sc.track.key} scenario's fabric is "
           f"{sc.fabrics[0]}, and it is still written out")
    return (f"required: fabric, devices (no empty cell: {why}); searched by default: "
            f"{'those fabrics' if len(sc.fabrics) > 1 else 'that fabric'} and devices 1-{sc.n_max} "
            "(--fabric, --max-devices)")


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named column takes on `track` (`explore attempts template`): the links its devices can have
    between nodes (track_fabrics: on a fleet track its inter-node radios, on cloud its wires), the list
    evaluate_attempt checks an attempt's fabric against."""
    return {"fabric": track_fabrics(scenario(track).track)}


def _attempt_fabric(track: Track, value: Any) -> str:
    """The catalog key of an attempt's one fabric (a key or alias), if it is among attempt_choices(track); else a
    one-line UsageError naming it and that list (check_track_fabrics says why a known link is not the track's)."""
    valid = attempt_choices(track.key)["fabric"]
    names = [x.strip() for x in value.split(",") if x.strip()] if isinstance(value, str) else []
    if len(names) != 1:
        raise UsageError(f"attempt needs exactly one fabric, got {V.short(value)}; valid on the {track.key} track: "
                         f"{', '.join(valid)}")
    try:
        key = get_link(names[0]).key
    except UsageError:
        raise unknown_name("fabric", names[0], valid) from None
    return check_track_fabrics(track, [key])[0]


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score a (fabric, N) against the scenario `options` (a report's `scenario`): throughput (maximised)
    subject to 'one more device still adds at least threshold x of a device' (the diminishing-returns
    rule), on the same curve the report's optimum is picked from (fabric in the scenario's list,
    N <= max-devices; anything else is outside the searched space)."""
    sc = scenario(track)
    threshold = require_positive("threshold", options.get("threshold", DEFAULT_THRESHOLD))
    fabrics = check_track_fabrics(sc.track, parse_fabrics(options.get("fabric"), track_fabrics(sc.track))
                                  or list(sc.fabrics))
    n_max = require_positive_int("max-devices", options.get("max_devices") or sc.n_max)
    fabric = [_attempt_fabric(sc.track, values.get("fabric"))]
    try:
        n = require_positive_int("devices", int(float(values.get("devices"))))
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"devices must be a positive whole number, got {values.get('devices')!r}") from None
    outside = []
    if fabric[0] not in fabrics:
        outside.append(f"fabric {fabric[0]} is outside the searched space, fabrics: {', '.join(fabrics)}")
    if n > n_max:
        outside.append(f"devices = {n} is outside the searched space, N <= {n_max}")
    setup = make_setup(sc, fabric[0], max(search_size(n_max), n + 1))
    x = [float(n_ * sc.samples_per_device / _eval(setup, sc, n_)["step_time"]) for n_ in (1, n, n + 1)]
    marg = (x[2] - x[1]) / x[0]
    near = _nearest_feasible(sc, setup, n, n_max, threshold) if marg < threshold or n > n_max else []
    con = Constraint("marginal speedup of one more device", marg, threshold, "x", ">=",
                     binding=abs(marg - threshold) < 0.05)
    return {"feasible": con.satisfied and not outside,
            "figures": {"samples_per_s": Figure(x[1], f"{sc.sample_word}s/s", "throughput"),
                        "efficiency": Figure(x[1] / (n * x[0]), "fraction", "scaling efficiency")},
            "violations": [] if con.satisfied else [con], "outside_space": outside, "objective": x[1],
            "objective_name": "samples_per_s", "sense": "max",
            # one change at a time: N - 1 or N + 1 on the attempt's fabric, or the same N on each other fabric the
            # scenario compares (InfiniBand instead of 10 Gb Ethernet on cloud: the part's question is which fabric
            # moves the communication wall, and N +- 1 alone never asked it)
            "neighbours": [{"fabric": fabric[0], "devices": m} for m in (n - 1, n + 1) if 1 <= m <= n_max]
            # and the nearest N on the same fabric that meets the rule within N <= max-devices, each side (1,024 for
            # 1,100 on InfiniBand: n +- 1 alone left 'no single move reduces the violation')
            + [{"fabric": fabric[0], "devices": m} for m in near if m not in (n - 1, n + 1)]
            + [{"fabric": f, "devices": n} for f in fabrics if f != fabric[0]]}


def _nearest_feasible(sc: ScalingScenario, setup: Setup, n: int, n_max: int, threshold: float) -> list[int]:
    """The N <= n_max nearest to n on each side at which one more device still adds at least `threshold` of one
    device's speedup (the rule evaluate_attempt scores), on the attempt's fabric (`setup`), from the same cost model
    over N = 1..n_max + 1; [] where no N meets it."""
    grid = np.arange(1, n_max + 2, dtype=float)
    x = grid * sc.samples_per_device / np.asarray(_eval(setup, sc, grid)["step_time"], dtype=float)
    ok = np.flatnonzero(np.diff(x) / x[0] >= threshold) + 1  # N whose N -> N + 1 meets the rule
    below, above = ok[ok < n], ok[ok > n]
    return [int(v) for v in ((below[-1] if below.size else None), (above[0] if above.size else None))
            if v is not None]
