"""The registry of lab puzzles: one module per puzzle, each exposing `solve(track, **options) -> Report`.

Labs (numbered as in the course's lab plans): 05 distributed training, 06 collective
communication, 08 model training.

How a puzzle takes part in grading (`--attempts`, reports/attempts.py): the module exposes
- `ATTEMPT_VARIABLES` (the columns, in order), optionally `ATTEMPT_REQUIRED` (the columns an attempt must
  give; default: all) and `attempt_defaults(track, **scenario) -> dict` (values assumed for the others, from
  the scenario: the report says which were assumed), and `MAX_ATTEMPTS` (the lab's rule, or None);
- `evaluate_attempt(values, track, **scenario) -> dict` (feasible, figures, violations, outside_space,
  objective, objective_name, sense, neighbours), where `scenario` is the report's `Report.scenario`: every
  option that defines the instance, defaults resolved, so the attempt is graded against the instance the
  report was solved for.
One feasibility function per puzzle serves the solver's space, the exhaustive evaluator and the grader, so
an attempt is feasible exactly when the solver could have returned it: the 3D puzzle's is
`threed.feasibility.check_configuration` (build_space's candidate lists + structural_rules + the memory and bubble
limits on the cost model's figures); hierarchy's is `hierarchy.evaluate` (CP-SAT's tables and the exhaustive
search are built from it). A value the solver never searched goes in `outside_space` ("CP = 64 is outside
the searched space, CP divides the sequence 8192 and is at most 32"): the grader then does not compare it
with the optimum.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.errors import unknown_name
from explorer.validation import require_finite

if TYPE_CHECKING:
    from types import ModuleType

    from explorer.report import Report



@dataclass(frozen=True)
class PuzzleInfo:
    name: str
    lab: str
    part: int
    title: str
    module: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


LABS = {"05": "Distributed training: the Parallelism Paradox",
        "06": "Collective communication",
        "08": "Model training"}

PUZZLES: dict[str, PuzzleInfo] = {p.name: p for p in [
    PuzzleInfo("scaling", "05", 1, "The communication wall", "explorer.puzzles.scaling"),
    PuzzleInfo("3d", "05", 2, "The parallelism puzzle", "explorer.puzzles.threed"),
    PuzzleInfo("sync", "05", 3, "The synchronization audit", "explorer.puzzles.sync"),
    PuzzleInfo("crossover", "06", 1, "The algorithm crossover", "explorer.puzzles.crossover"),
    PuzzleInfo("hierarchy", "06", 2, "The hierarchical multiplier", "explorer.puzzles.hierarchy"),
    PuzzleInfo("compression", "06", 3, "Compression and error feedback", "explorer.puzzles.compression"),
    PuzzleInfo("memory", "08", 1, "The state-management audit", "explorer.puzzles.memory"),
    PuzzleInfo("dataloader", "08", 2, "The staged pipeline race", "explorer.puzzles.dataloader"),
    PuzzleInfo("batch", "08", 3, "The scaling wall", "explorer.puzzles.batch"),
]}


def get_puzzle(name: str) -> PuzzleInfo:
    """A puzzle by its canonical name; the entry points read it in any case and pass it on lower-cased (explorer.solve,
    the CLI's PUZZLE arguments), so every later use of the name agrees with the puzzle found."""
    if name not in PUZZLES:
        raise unknown_name("puzzle", name, list(PUZZLES))
    return PUZZLES[name]


def solve(puzzle: str, track: str = "cloud", **options: Any) -> Report:
    """Solve one lab part for one track and return its Report."""
    from explorer.keywords import check

    def cli_names() -> dict[str, str]:  # the CLI's spellings of this puzzle's keywords, read only on a mistake
        from explorer.api import cli_names

        return cli_names(info.name)

    info = get_puzzle(puzzle)
    fn = info.load().solve
    check(f"explorer.solve({puzzle!r})", fn, {"track": track, **options}, renames=cli_names)
    report = fn(track=track, **options)
    require_finite(report.to_dict(), f"{puzzle} report")  # never NaN or infinity in an answer
    return report
