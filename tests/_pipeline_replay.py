"""Event replays of pipeline schedules for the tests (Megatron-LM's in test_core_costmodel.py, DeepSpeed's
TrainSchedule in test_cost_sharding.py): each rank runs its ops in program order, one at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def replay(programs: Sequence[Sequence], step: Callable[[int, object, list[int]], Sequence[int]]) -> None:
    """Run every rank's program until no rank can move. step(rank, op, pc) tries the rank's next op and returns the
    ranks whose program counters it advances (the rank itself; a rendezvous also its partner), or nothing while the
    op waits on another rank. Fails on a deadlock: every op of every program must run."""
    pc = [0] * len(programs)
    moved = True
    while moved:
        moved = False
        for r, prog in enumerate(programs):
            while pc[r] < len(prog):
                advanced = step(r, prog[pc[r]], pc)
                if not advanced:
                    break
                for q in advanced:
                    pc[q] += 1
                moved = True
    assert pc == [len(x) for x in programs], "deadlock: some op never ran"
