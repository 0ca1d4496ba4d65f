"""The registry of lab puzzles: one module per puzzle, each exposing `solve(track, **options) -> Report`.

Labs (numbered as in the course's lab plans): 05 distributed training, 06 collective
communication, 08 model training.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.errors import unknown_name

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
    if name not in PUZZLES:
        raise unknown_name("puzzle", name, list(PUZZLES))
    return PUZZLES[name]


def solve(puzzle: str, track: str = "cloud", **options: Any) -> Report:
    """Solve one lab part for one track and return its Report."""
    info = get_puzzle(puzzle)
    return info.load().solve(track=track, **options)
