"""Lab 06 part 2, the hierarchical multiplier: a two-tier AllReduce (fast tier inside a group,
slow tier between groups) where CP-SAT chooses the aggregation factor g (devices that reduce
locally before the slow tier), the algorithm on each tier and the gradient-accumulation steps.

Instance (prepared before the model, CP-SAT primer style): N = devices, M = gradient bytes,
G = global batch, a memory limit; for every (g, intra, inter) the two-tier AllReduce time from
explorer/cost/collectives.hierarchical_allreduce_phases (docs/conventions.md "Collectives"), tabulated in
integer microseconds.

Variables: g in the track's aggregation choices (divisors of the group size; g = 1 is the flat
AllReduce over the slow tier), intra in {ring, tree}, inter in {ring, tree, halving_doubling,
double_binary_tree}, accumulation a in 1..max_accumulation, micro-batch b (samples per device
per micro-step).
Constraints: global batch N b a = G; memory fixed + b x activations/sample + [a > 1] x FP32
accumulation buffer <= limit.
Objective (lexicographic): minimise the exposed communication per step,
max(0, T_sync - b x t_backward/sample) (only the last micro-batch's backward overlaps the sync:
PyTorch DDP no_sync, Li et al. VLDB 2020 sec. 3.2.3), then T_sync itself, then the accumulation
steps (the simpler plan among ties). T_sync is the two-tier
all-reduce with its three phases pipelined chunk by chunk (collectives.pipelined_stages_time), as
NCCL runs its hierarchical algorithms, except where phases share a link resource (a ring's two intra
phases on each device's send direction, every intra phase on a half-duplex radio, the relayed slow-tier
bytes on the hub's link: collectives.hierarchical_phase_shares), which take turns. A half-duplex radio is
also one channel for its whole group (a Wi-Fi BSS, a hub's BLE piconet, an NFMI pair): an intra phase takes the
bytes all the group's devices put on the air over the channel's rate (collectives.shared_channel_phase_time),
and slow-tier bytes relayed through the hub cross it up and down for every device
(collectives.relayed_path_bandwidth; the flat baseline too). The flat baseline
is the all-reduce as NCCL runs it over all devices (rings per rail) where the track names a plan, and
the textbook flat ring otherwise.
The same choices are scored by a solver-independent evaluator (`evaluate`), which the exhaustive
search (`enumerate_all`) and every attempt use; tests assert CP-SAT == exhaustive.

The package: `scenario` (the instance and the choices searched), `model` (the evaluator, the exhaustive search and
CP-SAT), `narration` (the words), `report` (`solve` and the Report's assembly), `attempts` (grading a student's
attempts).
"""

from __future__ import annotations

from explorer.puzzles.hierarchy.attempts import (
    ATTEMPT_ALIASES,
    ATTEMPT_KINDS,
    ATTEMPT_REQUIRED,
    ATTEMPT_VARIABLES,
    MAX_ATTEMPTS,
    attempt_choices,
    attempt_defaults,
    evaluate_attempt,
)
from explorer.puzzles.hierarchy.model import (
    TIME_SCALE,
    Evaluation,
    candidates,
    enumerate_all,
    evaluate,
    exhaustive_best,
    flat_time,
    link_busy_s,
    phases,
    pipelined,
    shares,
    solve_cpsat,
)
from explorer.puzzles.hierarchy.narration import TIE_BREAK, _tie_short, _tie_text
from explorer.puzzles.hierarchy.report import _tier_topology, solve
from explorer.puzzles.hierarchy.scenario import (
    INTER,
    INTRA,
    MAX_CHUNKS,
    MIN_CHUNK_BYTES,
    NAMES,
    SLOW_FACTOR,
    Instance,
    make_instance,
)

__all__ = ["ATTEMPT_ALIASES", "ATTEMPT_KINDS", "ATTEMPT_REQUIRED", "ATTEMPT_VARIABLES", "INTER", "INTRA",
           "MAX_ATTEMPTS", "MAX_CHUNKS", "MIN_CHUNK_BYTES", "NAMES", "SLOW_FACTOR", "TIE_BREAK", "TIME_SCALE",
           "Evaluation", "Instance", "_tie_short", "_tie_text", "_tier_topology", "attempt_choices", "attempt_defaults",
           "candidates", "enumerate_all", "evaluate", "evaluate_attempt", "exhaustive_best", "flat_time", "link_busy_s",
           "make_instance", "phases", "pipelined", "shares", "solve", "solve_cpsat"]
