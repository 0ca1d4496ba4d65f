"""How a student's attempt at the 3D puzzle is graded (reports/attempts.py reads these names from the package):
the columns an attempts file takes, the values assumed for those it leaves out, the template's lists, and the
verdict with its one-change neighbours (the feasibility function: threed.feasibility.check_configuration)."""

from __future__ import annotations

from typing import Any

from explorer.cost.frameworks import frameworks_for
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.plan import ZERO_STAGES
from explorer.puzzles.threed.feasibility import degree_moves
from explorer.puzzles.threed.instance import instance_for
from explorer.puzzles.threed.space import FRAMEWORK_CODES, Instance, Space, build_space
from explorer.tracks import get_track

ATTEMPT_VARIABLES = ["tp", "pp", "dp", "micro_batch", "cp", "virtual_stages", "zero", "recompute",
                     "sequence_parallel", "framework", "hsdp"]
ATTEMPT_REQUIRED = ["tp", "pp", "dp", "micro_batch"]  # the others default to the scenario (attempt_defaults)
ATTEMPT_KINDS = {"tp": "count", "pp": "count", "dp": "count", "micro_batch": "count", "cp": "count",
                 "virtual_stages": "count", "zero": "count0", "recompute": "name", "sequence_parallel": "flag",
                 "framework": "name", "hsdp": "flag"}
ATTEMPT_ALIASES = {"mb": "micro_batch", "micro_batch_size": "micro_batch", "v": "virtual_stages",
                   "virtual_pipeline_stages": "virtual_stages", "zero_stage": "zero", "sp": "sequence_parallel"}
MAX_ATTEMPTS = 10


def attempt_module(track: str, form: str | None = None) -> Any:
    """The module whose attempts are graded: the fleet form's (explorer/puzzles/fleet3d/attempts.py) for a
    report solved in that form (report.extra['form'] == 'fleet'), or with no report on edge, mobile and tiny
    (form None); this package otherwise (a datacenter 3D report, also one solved with solve_3d on a fleet track)."""
    import sys

    from explorer.puzzles import fleet3d

    if form == "fleet" or (form is None and fleet3d.is_fleet(track)):
        from explorer.puzzles.fleet3d import attempts

        return attempts
    return sys.modules[__package__]


def attempt_defaults(track: str = "cloud", **options: Any) -> dict[str, Any]:
    """Values assumed for the columns an attempts file leaves out: a variable pinned by the scenario's
    --fix, else the track's starting (crisis) configuration, else 1 (CP, virtual stages)."""
    inst = instance_for(track, **options)
    crisis = get_track(track).crisis_plan
    out = {"cp": crisis.cp, "virtual_stages": crisis.virtual_stages, "zero": crisis.zero,
           "recompute": crisis.recompute, "sequence_parallel": crisis.sequence_parallel,
           "framework": frameworks_for(inst.framework)[0].key, "hsdp": False}
    for k in ATTEMPT_VARIABLES:
        if k in inst.fix:
            out[k] = inst.fix[k]
    return {k: v for k, v in out.items() if k not in ATTEMPT_REQUIRED}


def attempt_choices(track: str = "cloud") -> dict[str, list]:
    """The values a named or bounded column takes (`explore attempts template`): ZeRO stages 0-3, the recompute
    modes and the frameworks the grader reads (threed.explain._parse)."""
    return {"zero": list(ZERO_STAGES), "recompute": list(RECOMPUTE_CODES), "framework": list(FRAMEWORK_CODES)}


def attempt_space(track: str = "cloud") -> dict[str, list]:
    """What the template lists for each column on `track`: the candidate lists of build_space for the track's
    scenario, the lists check_configuration grades an attempt's values against (DP is not listed: it is the devices
    over TP x CP x PP)."""
    space = build_space(instance_for(track))
    return {"tp": list(space.tp), "pp": list(space.pp), "micro_batch": list(space.mb), "cp": list(space.cp),
            "virtual_stages": list(space.v), "zero": list(space.zero),
            "recompute": [r for r, code in RECOMPUTE_CODES.items() if code in space.rc],
            "sequence_parallel": [bool(x) for x in space.sp],
            "framework": [k for k, code in FRAMEWORK_CODES.items() if code in space.fw],
            "hsdp": [bool(x) for x in space.hsdp]}


def attempt_hint(track: str, unknown: list[str]) -> str | None:
    """What a file's fleet columns (split, local_steps, tier...) mean on a datacenter track: one line naming this
    form's columns and values, as the fleet form names the datacenter ones (fleet3d/attempts.py attempt_hint)."""
    from explorer.puzzles.fleet3d import attempts as fleet

    named = [c for c in unknown if c in fleet.ATTEMPT_VARIABLES or c in fleet.ATTEMPT_ALIASES]
    if not named:
        return None
    choices = attempt_choices(track)
    listing = ", ".join(f"{k} ({', '.join(map(str, v))})" for k, v in choices.items())
    return (f"{', '.join(named)}: fleet column(s) of the 3D puzzle, its form on the edge, mobile and tiny tracks; on "
            f"the {track} track an attempt's columns are {', '.join(ATTEMPT_REQUIRED)} (whole numbers, TP x CP x PP "
            f"x DP = the track's devices), optionally cp and virtual_stages (whole numbers), {listing}, "
            f"sequence_parallel and hsdp (yes/no); `explore attempts template 3d --track {track}`")


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    """Score a student's configuration against the scenario `options` (a report's `scenario`):
    figures, violated constraints with margins, values outside the searched space, neighbours."""
    from explorer.puzzles.threed.explain import attempt_verdict

    inst = instance_for(track, **options)
    space = build_space(inst)  # one space for the verdict and the neighbours
    out = attempt_verdict(inst, {**attempt_defaults(track, **options), **values}, space)
    out["neighbours"] = attempt_neighbours(inst, out["read"], space)
    return out


def attempt_neighbours(inst: Instance, v: dict[str, Any], space: Space | None = None) -> list[dict[str, Any]]:
    """One change each, the other values as the attempt has them (`v`, parsed): every other candidate of one variable
    in build_space's lists (the searched values; a value outside them moves to any of them, the nearest included). TP,
    CP or PP moves with DP following to keep the devices (named in '__derived__', so the move is said as one change);
    DP alone where the degrees do not cover the devices. Bounded by the candidate lists (about 80 on cloud)."""
    space = build_space(inst) if space is None else space
    out = degree_moves(space, inst.devices, v)
    names = {code: name for name, code in RECOMPUTE_CODES.items()}
    frameworks = {code: name for name, code in FRAMEWORK_CODES.items()}
    for k, dom in (("virtual_stages", space.v), ("micro_batch", space.mb), ("zero", space.zero),
                   ("recompute", [names[c] for c in space.rc]), ("sequence_parallel", [bool(x) for x in space.sp]),
                   ("framework", [frameworks[c] for c in space.fw]), ("hsdp", [bool(x) for x in space.hsdp])):
        out += [{**v, k: x} for x in dom if x != v[k]]
    return out
