"""Lab 05 part 2, the parallelism puzzle: the DP x PP x TP (x CP) x micro-batch split that fits
in memory with the pipeline bubble under a limit at the highest MFU, proven optimal by CP-SAT.

Objective: the shortest step. With the model, global batch and device count fixed, the model
FLOPs per step are fixed, so the shortest step is the highest MFU (docs/conventions.md, "Utilisation").

The package: `instance` (the cost-model Setup and the Instance of a track with its overrides, the scenario a
report keeps), `space` (the design space both engines search, shared with explorer/solvers), `feasibility` (the
one feasibility function, check_configuration, that grades a configuration against that space), `model` (the
search: CP-SAT and the exhaustive evaluation, the answer ThreeDResult, the registry's `solve`), `explain` (what
binds, why a puzzle is infeasible, an attempt's verdict), `attempts` (the grading of a student's attempts file),
`narration` (the report's words) and `report` (the Report's assembly, its plots' data and assumptions).
"""

from __future__ import annotations

from explorer.puzzles.threed.attempts import (
    ATTEMPT_ALIASES,
    ATTEMPT_KINDS,
    ATTEMPT_REQUIRED,
    ATTEMPT_VARIABLES,
    MAX_ATTEMPTS,
    attempt_choices,
    attempt_defaults,
    attempt_hint,
    attempt_module,
    attempt_neighbours,
    attempt_space,
    evaluate_attempt,
)
from explorer.puzzles.threed.instance import (
    RC_NAMES,
    SCENARIO_KEYS,
    instance_for,
    make_instance,
    make_setup,
    plan_of,
    scenario_of,
)
from explorer.puzzles.threed.model import (
    CPSAT_PARAMS,
    ENGINES,
    ThreeDResult,
    micro_batch_question,
    recompute_every_unused,
    solve,
    solve_3d,
    solve_instance,
)
from explorer.puzzles.threed.space import Instance, Space, build_space

__all__ = ["ATTEMPT_ALIASES", "ATTEMPT_KINDS", "ATTEMPT_REQUIRED", "ATTEMPT_VARIABLES", "CPSAT_PARAMS", "ENGINES",
           "MAX_ATTEMPTS", "RC_NAMES", "SCENARIO_KEYS", "Instance", "Space", "ThreeDResult", "attempt_choices",
           "attempt_defaults", "attempt_hint", "attempt_module", "attempt_neighbours", "attempt_space", "build_space",
           "evaluate_attempt", "instance_for", "make_instance", "make_setup", "micro_batch_question", "plan_of",
           "recompute_every_unused", "scenario_of", "solve", "solve_3d", "solve_instance"]
