"""Lab 08 part 1, the state-management audit: the training-memory waterfall per device, and the
cheapest set of changes (optimizer, precision, recomputation, micro-batch, ZeRO, offload, frozen
layers) that makes the track's model fit, proven optimal by CP-SAT and re-checked exhaustively.

Objective (explorer/solvers/choice_tables.py), lexicographic: 1. the time-to-quality charged,
max(time-to-quality, the starting configuration's), so a fit no slower than the start loses nothing and
a gain beyond it is not sought for its own sake; 2. the fewest changes from the start; 3. a fixed
tie-break. Time-to-quality = step time (same samples per step for every choice) x the optimizer /
freezing / adapter steps-to-quality multiplier (data: lab08_training.toml [common]).

Adapters (LoRA, QLoRA) are offered only where the scenario lists them (memory_adapters), and only to a
fine-tuning job (memory_task; cloud: Llama-3-70B fine-tuned on one DGX H100 node): they reach full
fine-tuning's quality in as many steps there (Hu et al. 2021; Dettmers et al. 2023), not in pre-training
(Biderman et al. 2024), and the report says which task its answer is for.

The package: `scenario` (the choices searched, the starting configuration, the steps-to-quality multiplier),
`model` (the choice tables, the search and the closed-form figures), `narration` (how configurations, changes and
the time-to-quality arithmetic read), `report` (the questions answered and the Report's assembly), `attempts`
(reading and grading a student's file).
"""

from __future__ import annotations

from typing import Any

from explorer.puzzles.fleetlens import fleet_view
from explorer.puzzles.memory.attempts import (
    NAME_COLUMNS,
    attempt_choices,
    attempt_defaults,
    attempt_space,
    evaluate_attempt,
    name_choices,
    searched_values,
)
from explorer.puzzles.memory.attempts import (
    _cached_problem as _cached_problem,  # read by explorer/labs/kit/lab08.py
)
from explorer.puzzles.memory.model import (
    GRID_DIMS,
    TERM_DIMS,
    MemoryResult,
    base_step_time,
    build_problem,
    bytes_per_param,
    largest_layers,
    solve_memory,
)
from explorer.puzzles.memory.narration import ADAPTER_NAMES, TERM_TEXT
from explorer.puzzles.memory.narration import _lost_text as _lost_text  # read by the tests
from explorer.puzzles.memory.report import build_report
from explorer.puzzles.memory.scenario import (
    ATTEMPT_FIGURES,
    ATTEMPT_KINDS,
    ATTEMPT_OPTIONS,
    ATTEMPT_REQUIRED,
    ATTEMPT_VARIABLES,
    CHARGED_LABEL,
    ENGINES,
    MAX_ATTEMPTS,
    MILLI,
    NO_ADAPTED_LAYER,
    TIME_UNITS,
    MemoryInstance,
    make_instance,
    precision_moves,
    quality_multiplier,
    scenario_of,
)
from explorer.puzzles.memory.scenario import (
    _choice as _choice,  # read by the tests
)
from explorer.report import Report

__all__ = ["ADAPTER_NAMES", "ATTEMPT_FIGURES", "ATTEMPT_KINDS", "ATTEMPT_OPTIONS", "ATTEMPT_REQUIRED",
           "ATTEMPT_VARIABLES", "CHARGED_LABEL", "ENGINES", "GRID_DIMS", "MAX_ATTEMPTS", "MILLI", "NAME_COLUMNS",
           "NO_ADAPTED_LAYER", "TERM_DIMS", "TERM_TEXT", "TIME_UNITS", "MemoryInstance", "MemoryResult",
           "attempt_choices", "attempt_defaults", "attempt_space", "base_step_time", "build_problem", "build_report",
           "bytes_per_param", "evaluate_attempt", "largest_layers", "make_instance", "name_choices",
           "precision_moves", "quality_multiplier", "scenario_of", "searched_values", "solve", "solve_memory"]


@fleet_view("memory")
def solve(track: str = "cloud", **options: Any) -> Report:
    """Registry entry: the Report of the memory audit (options: engine, time_limit, memory_limit_gb, batch)."""
    res = solve_memory(track, **options)
    report = build_report(res)
    report.scenario = scenario_of(res.inst)
    return report

