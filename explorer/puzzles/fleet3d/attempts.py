"""Attempts at the fleet form of the 3D puzzle (edge, mobile, tiny), in the fleet's own variables.

The columns are the names of the report's configuration (`report.extra["configuration"]`): split (layers
on the fleet device), trainable_layers (the top ones), micro_batch, local_steps (between syncs),
participation (fraction of replicas selected per round), deadline_quantile (the quantile of a round at
which it closes) and tier (the aggregation path's key, as in explorer/data/tracks/<track>.toml
[fleet.tiers.<key>]). micro_batch and local_steps are required; the others default to the storyboard's
configuration (model.crisis: whole model, all layers trained, everyone selected, the latest deadline, the
storyboard's path), and the grading notes say which were assumed.

Every row is scored by model.evaluate, the one feasibility function the enumerator and CP-SAT solve
with, on the very tables of the solved scenario; a value off the searched grid is scored on a one-point
table of the same scenario (the same function) and said to be outside the searched space. This module
only translates between columns and table indices: reports/attempts.py does the grading.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from explorer.errors import UsageError
from explorer.puzzles.fleet3d import model
from explorer.puzzles.fleet3d.scenario import FleetScenario, Placement, load
from explorer.report import Constraint, Figure
from explorer.units import human_sci

ATTEMPT_VARIABLES = ["split", "trainable_layers", "micro_batch", "local_steps", "participation",
                     "deadline_quantile", "tier"]
ATTEMPT_REQUIRED = ["micro_batch", "local_steps"]  # the others default to the storyboard (attempt_defaults)
ATTEMPT_KINDS = {"split": "count0", "trainable_layers": "count", "micro_batch": "count", "local_steps": "count",
                 "participation": "value", "deadline_quantile": "value", "tier": "name"}
ATTEMPT_ALIASES = {"mb": "micro_batch", "micro_batch_size": "micro_batch", "h": "local_steps",
                   "sync_every": "local_steps", "trained_layers": "trainable_layers",
                   "layers_trained": "trainable_layers",
                   "split_layers_on_device": "split", "deadline": "deadline_quantile", "path": "tier",
                   "aggregation_path": "tier", "aggregation": "tier"}
# the datacenter form's columns: a file that names them was written for the cloud track
DATACENTER_COLUMNS = ("tp", "pp", "dp", "cp", "virtual_stages", "zero", "recompute", "sequence_parallel", "hsdp",
                      "framework")
MAX_ATTEMPTS = 10
# an off-grid value is scored on a one-point table; these bound that work (the order statistics of a sum
# of H step times grow with H)
MAX_OFF_GRID_LOCAL_STEPS = 1024
MAX_OFF_GRID_MICRO_BATCH = 1024
OBJECTIVE = "time_to_target_s"


@lru_cache(maxsize=8)
def _solved(track: str) -> tuple[FleetScenario, model.Tables]:
    """The scenario and tables of the track's fleet puzzle, as solve_fleet builds them."""
    scn = load(track)
    return scn, model.build_tables(scn)


def columns_hint(track: str) -> str:
    """One line: what a fleet attempt's columns are, with the values searched on this track."""
    scn, _ = _solved(track)
    return (f"on the {scn.track.key} track the 3D puzzle takes its fleet form; an attempt's columns are "
            f"micro_batch ({_listing(scn.micro_batches)}) and local_steps ({_listing(scn.local_steps)}), "
            f"optionally split ({_listing(sorted({p.split for p in scn.placements}))}), trainable_layers "
            f"({_listing(sorted({p.trainable for p in scn.placements}))}), participation "
            f"({_listing(scn.participation)}), deadline_quantile ({_listing(scn.deadline_quantiles)}) and tier "
            f"({_listing(tier_keys(scn))}); `explore attempts template 3d --track {scn.track.key}`")


def tier_keys(scn: FleetScenario) -> list[str]:
    """The aggregation paths an attempt's tier may name: the track's [fleet.tiers] keys (what _values accepts)."""
    return [t.key for t in scn.tiers]


def attempt_choices(track: str = "edge") -> dict[str, list]:
    """The values a named column takes (`explore attempts template`): the track's aggregation paths, the very
    list _values checks a tier against."""
    return {"tier": tier_keys(_solved(track)[0])}


def searched_values(scn: FleetScenario) -> dict[str, list]:
    """The values of each column the search covers, which _outside grades any other as outside of (a placement is
    searched as a pair of split and trained layers: columns_hint and the grading say which pairs)."""
    return {"split": sorted({p.split for p in scn.placements}),
            "trainable_layers": sorted({p.trainable for p in scn.placements}),
            "micro_batch": list(scn.micro_batches), "local_steps": list(scn.local_steps),
            "participation": list(scn.participation), "deadline_quantile": list(scn.deadline_quantiles),
            "tier": tier_keys(scn)}


def attempt_space(track: str = "edge") -> dict[str, list]:
    """What the template lists for each column on `track`: searched_values of the track's scenario."""
    return searched_values(_solved(track)[0])


def _listing(values) -> str:
    return ", ".join(f"{human_sci(v, 6)}" if isinstance(v, float) else str(v) for v in values)


def attempt_defaults(track: str = "edge", **_: Any) -> dict[str, Any]:
    """The storyboard's values (model.crisis) for the columns a file leaves out."""
    scn, _ = _solved(track)
    tier = next((t for t in scn.tiers if t.key == scn.data.get("crisis_tier")), scn.tiers[0])
    return {"split": scn.layers, "trainable_layers": scn.layers, "participation": 1.0,
            "deadline_quantile": max(scn.deadline_quantiles), "tier": tier.key}


def _fraction(name: str, x: Any) -> float:
    """A fraction in (0, 1], written 0.5 or '50%'."""
    text = str(x).strip()
    try:
        v = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"{name} {text[:40]!r} is not a fraction (write 0.5 or 50%)") from None
    if not 0 < v <= 1:
        raise UsageError(f"{name} {text[:40]} is not a fraction in (0, 1] (write 0.5 or 50%)")
    return v


def _values(scn: FleetScenario, values: dict[str, Any]) -> dict[str, Any]:
    given = [k for k in DATACENTER_COLUMNS if values.get(k) not in (None, "")]
    if given and any(values.get(k) in (None, "") for k in ATTEMPT_REQUIRED):
        raise UsageError(f"{', '.join(given)}: datacenter column(s); {columns_hint(scn.track.key)}")
    v = {**attempt_defaults(scn.track.key), **{k: x for k, x in values.items() if x not in (None, "")}}
    missing = [k for k in ATTEMPT_REQUIRED if k not in v]
    if missing:
        raise UsageError(f"attempt is missing {missing[0]!r}; {columns_hint(scn.track.key)}")
    out = {k: int(v[k]) for k in ("split", "trainable_layers", "micro_batch", "local_steps")}
    out["participation"] = _fraction("participation", v["participation"])
    out["deadline_quantile"] = _fraction("deadline_quantile", v["deadline_quantile"])
    if out["deadline_quantile"] >= 1:
        raise UsageError("deadline_quantile 1 waits for every device forever (the slowest is unbounded); "
                         f"searched: {_listing(scn.deadline_quantiles)}")
    keys = tier_keys(scn)
    tier = str(v["tier"]).strip().lower()
    if tier not in keys:
        raise UsageError(f"tier {tier[:40]!r} is not an aggregation path of the {scn.track.key} track; valid: "
                         f"{', '.join(keys)}")
    out["tier"] = tier
    return out


def _outside(scn: FleetScenario, tb: model.Tables, v: dict[str, Any]) -> list[str]:
    """The values the search never looked at, each said with what was searched."""
    out = []
    if (v["split"], v["trainable_layers"]) not in {(p.split, p.trainable) for p in scn.placements}:
        kept = {(p.split, p.trainable) for p in tb.scn.placements}
        out.append(f"placement split {v['split']}, {v['trainable_layers']} layers trained is not searched ("
                   + "; ".join(f"split {s}, {t} trained" for s, t in sorted(kept))[:300] + ")")
    server = _tier(scn, v).graph == "server"  # elsewhere participation does not apply (_no_selection)
    searched = searched_values(scn)
    for name, grid in (("micro_batch", searched["micro_batch"]), ("local_steps", searched["local_steps"]),
                       ("participation", searched["participation"] if server else (1.0,)),
                       ("deadline_quantile", searched["deadline_quantile"])):
        if not any(abs(v[name] - g) <= 1e-9 for g in grid):
            out.append(f"{name} {human_sci(v[name], 6)} is not searched ({_listing(grid)})")
    return out


def _tier(scn: FleetScenario, v: dict[str, Any]):
    return next(t for t in scn.tiers if t.key == v["tier"])


def _no_selection(scn: FleetScenario, v: dict[str, Any]) -> str | None:
    """On a gossip or relayed-ring path no server samples clients: every device in range takes part (model.py
    sets the selected fraction to 1 there), so a participation below 1 has no meaning. The attempt is graded at
    1 and the note says why."""
    tier = _tier(scn, v)
    notes = []
    if tier.graph != "server" and abs(v["participation"] - 1.0) > 1e-9:
        notes.append(f"participation {human_sci(v['participation'], 6)} does not apply on {tier.short}: every "
                     f"{scn.track.device_word} in range takes part (graded at 1)")
    if not tier.drops_late:  # an all-reduce drops nobody (tables._wait_unit): any deadline grades alike
        notes.append(f"deadline_quantile {human_sci(v['deadline_quantile'], 6)} does not apply on {tier.short}: a "
                     f"ring cannot "
                     "drop a late member, the round waits for the slowest")
    return "; ".join(notes) or None


def _check_placement(scn: FleetScenario, v: dict[str, Any]) -> None:
    layers = scn.layers
    if not 1 <= v["trainable_layers"] <= layers:
        raise UsageError(f"trainable_layers {v['trainable_layers']} is not 1-{layers} (the model has {layers} layers)")
    if scn.partner_setup is None and v["split"] != layers:
        raise UsageError(f"split {v['split']}: a {scn.track.device_word} has no partner to split the model with; "
                         f"split is {layers} (every layer on the {scn.track.device_word})")
    if not 0 <= v["split"] <= layers:
        raise UsageError(f"split {v['split']} is not 0-{layers} (layers on the {scn.track.device_word})")


def _score(scn: FleetScenario, tb: model.Tables, v: dict[str, Any], on_grid: bool) -> dict:
    """model.evaluate on the solved tables (on the grid) or on a one-point table of the same scenario."""
    tier = next(i for i, t in enumerate(scn.tiers) if t.key == v["tier"])
    if on_grid:
        s = tb.scn
        if scn.tiers[tier].graph != "server":  # every device takes part; the tables ignore the participation index
            v = {**v, "participation": next((g for g in s.participation if abs(g - 1.0) <= 1e-9), s.participation[0])}
        idx = {"placement": s.placements.index(Placement(v["split"], v["trainable_layers"])),
               "micro_batch": s.micro_batches.index(v["micro_batch"]),
               "local_steps": s.local_steps.index(v["local_steps"]),
               "participation": next(i for i, g in enumerate(s.participation) if abs(g - v["participation"]) <= 1e-9),
               "deadline": next(i for i, g in enumerate(s.deadline_quantiles)
                                if abs(g - v["deadline_quantile"]) <= 1e-9),
               "tier": tier}
        return model.evaluate(tb, idx)
    for name, top, grid in (("local_steps", MAX_OFF_GRID_LOCAL_STEPS, scn.local_steps),
                            ("micro_batch", MAX_OFF_GRID_MICRO_BATCH, scn.micro_batches)):
        if v[name] > top:
            raise UsageError(f"{name} {v[name]:,} is more than {top:,}, and off the searched grid "
                             f"({_listing(grid)})")
    one = replace(scn, placements=(Placement(v["split"], v["trainable_layers"]),), micro_batches=(v["micro_batch"],),
                  local_steps=(v["local_steps"],), participation=(v["participation"],),
                  deadline_quantiles=(v["deadline_quantile"],), tiers=(scn.tiers[tier],))
    return model.evaluate(model.build_tables(one, prune=False), dict.fromkeys(model.DIMS, 0))


def _constraints(scn: FleetScenario, f: dict) -> list[Constraint]:
    """The violated limits as constraints with their margins (the texts are model.violations')."""
    out = []
    dev = scn.track.device_word
    for text in f["violations"]:
        if text.startswith("memory per"):
            out.append(Constraint(f"memory per {dev}", f["memory_device"], scn.memory_limit, "B", "<="))
        elif text.startswith("memory on"):
            out.append(Constraint(f"memory on the {scn.partner_word}", f["memory_partner"], scn.partner_limit,
                                  "B", "<="))
        else:
            out.append(Constraint("on-time participants", f["participants"], 1.0, "replicas", ">="))
    return out


def _neighbours(scn: FleetScenario, v: dict[str, Any], raw: dict[str, Any]) -> list[dict[str, Any]]:
    """One change each: every other searched value of one variable (searched_values; a value outside the grid moves
    to any of them, the nearest below and above included), or another placement sharing its split or its trained
    layers (the other values as the attempt wrote them, so a move names only what it changes)."""
    searched = searched_values(scn)
    out = []
    for name in ("micro_batch", "local_steps", "participation", "deadline_quantile", "tier"):
        out += [{**raw, name: g} for g in searched[name] if g != v[name]]
    for p in scn.placements:
        if (p.split, p.trainable) != (v["split"], v["trainable_layers"]) and (
                p.split == v["split"] or p.trainable == v["trainable_layers"]):
            out.append({**raw, "split": p.split, "trainable_layers": p.trainable})
    return out


def evaluate_attempt(values: dict[str, Any], track: str = "edge", **_: Any) -> dict[str, Any]:
    """Score one fleet configuration (reports/attempts.py's interface): figures, the violated limits, the
    values outside the searched space, the time to the target and the one-change neighbours."""
    scn, tb = _solved(track)
    v = _values(scn, values)
    _check_placement(scn, v)
    note = _no_selection(scn, v)
    if note:
        v["participation"] = 1.0
    outside = _outside(scn, tb, v)
    on_grid = not outside and Placement(v["split"], v["trainable_layers"]) in tb.scn.placements
    f = _score(scn, tb, v, on_grid)
    dev = scn.track.device_word
    figures = {OBJECTIVE: Figure(f["days"] * model.SECONDS_PER_DAY, "s", "time to the training target")}
    if note:  # second, so that the grade table (five figure columns) shows it
        figures["participation_note"] = Figure(note, "", "choices that do not apply")
    figures |= {
        "rounds": Figure(f["rounds"], "rounds", "rounds to the target"),
        "round_time_s": Figure(f["round_time"], "s", "one round"),
        "memory_per_device": Figure(f["memory_device"], "B", f"memory per {dev}"),
        "energy_per_round_j": Figure(f["energy_round"], "J", f"energy per {dev} per round"),
        "rounds_per_day": Figure(f["rounds_per_day"], "rounds/day", f"rounds a day ({f['binding']} binds)"),
    }
    return {"feasible": f["feasible"], "figures": figures, "violations": _constraints(scn, f),
            "outside_space": outside, "objective": f["days"] * model.SECONDS_PER_DAY, "objective_name": OBJECTIVE,
            "sense": "min", "neighbours": _neighbours(scn, v, {**v, **values})}


ATTEMPT_FRONTIER = False  # one objective (the time to the target): its frontier is its optimum


def attempt_hint(track: str, unknown: list[str]) -> str | None:
    """What a file's datacenter columns (tp, pp, dp...) mean here: one line (reports/attempts_file.py)."""
    dc = [c for c in unknown if c in DATACENTER_COLUMNS]
    return f"{', '.join(dc)}: datacenter column(s) of the 3D puzzle; {columns_hint(track)}" if dc else None
