"""What the lab apps compute, without marimo: one `Part` per lab part, each with the plan's controls, the
prediction asked first (the lock), the live instruments, the move that is graded, "check" and the reflection.

Nothing here is physics and nothing draws: the numbers come from the explorer's public entry points
(`explorer.estimate`, `explorer.solve(puzzle, track=...)`, each puzzle's `evaluate_attempt`, the same calls the
CLI makes) and every instrument is a figure of `explorer.reports.plots`, drawn from the same data the reports
draw it from (for the 3D puzzle the data helpers of `explorer.puzzles.threed.report`). "Check" solves the
puzzle (cached per track and scenario) and grades the moves with `explorer.reports.attempts` beside the
optimum, as `explore solve PUZZLE --attempts` does. An estimate takes milliseconds, so the instruments are
computed on every move: there are no precomputed grids.

The package: `base` (the control, question, instrument and outcome types, the workbench's wording, the cached solve
and the helpers the parts share), `part` (the `Part` base class), `lab05`, `lab06`, `lab08` (one `Part` per lab
part), `state` (the move log and what is kept across reloads); the registry of the parts (`PARTS`, `parts`) is here.
"""

from __future__ import annotations

from explorer.labs.kit.base import (
    Checked,
    Control,
    Live,
    Plot,
    Question,
    bin_of,
    finding,
    fixed_values,
    nearest,
    plain,
    plain_name,
    powers_of_two,
    shown_value,
    solved,
    space_controls,
    unique,
)
from explorer.labs.kit.lab05 import FleetThreeD, Scaling, Sync, ThreeD
from explorer.labs.kit.lab06 import Compression, Crossover, Hierarchy
from explorer.labs.kit.lab08 import Batch, Dataloader, Memory
from explorer.labs.kit.part import Part
from explorer.labs.kit.state import (
    MOVES_SHOWN,
    STATE_ENV,
    Saved,
    forget,
    log_move,
    record_run,
    state_dir,
    state_file,
)

__all__ = ["MOVES_SHOWN", "PARTS", "STATE_ENV", "Batch", "Checked", "Compression", "Control", "Crossover",
           "Dataloader", "FleetThreeD", "Hierarchy", "Live", "Memory", "Part", "Plot", "Question", "Saved", "Scaling",
           "Sync", "ThreeD", "bin_of", "finding", "fixed_values", "forget", "log_move", "nearest", "parts", "plain",
           "plain_name", "powers_of_two", "record_run", "shown_value", "solved", "space_controls", "state_dir",
           "state_file", "unique"]


# ----------------------------------------------------------------------------------------------- registry

PARTS: dict[str, list[type[Part]]] = {"05": [Scaling, ThreeD, Sync], "06": [Crossover, Hierarchy, Compression],
                                      "08": [Memory, Dataloader, Batch]}


def parts(lab: str, track: str) -> list[Part]:
    """The three parts of a lab for a track."""
    from explorer.labs import lab_key
    from explorer.puzzles.fleet3d import is_fleet
    from explorer.tracks import get_track

    get_track(track)
    fleet = is_fleet(track)
    return [(FleetThreeD if cls is ThreeD and fleet else cls)(track) for cls in PARTS[lab_key(lab)]]

