"""The mobile sync audit's memory sentence says it is Adam's state, and what the memory part finds (defect 6 of the
fleet words review, its analogue in the sync audit): it said "The glasses also cannot hold that model's training
state (1.13 GB of 512 MB)" while `explore solve memory --track mobile` fits one pair of glasses (Adafactor,
micro-batch 2, 489 MB)."""

from __future__ import annotations

from explorer.puzzles import memory, sync
from explorer.tracks import get_track
from explorer.units import human_bytes as hbytes


def test_mobile_sync_names_adam_and_the_memory_parts_fit():
    r = sync.solve("mobile")
    answer = next(f.answer for f in r.findings if f.question.startswith("Mobile: does a global sync"))
    t = get_track("mobile")
    assert "cannot hold that model's training state" not in answer
    assert f"With {t.workload.optimizer.capitalize()}, {t.workload.precision.upper()}, micro-batch " \
           f"{t.crisis_plan.micro_batch}, as the lab starts" in answer
    m = memory.solve.__wrapped__("mobile")  # the memory part's own (datacenter-form) answer for one device
    limit = m.figure("memory_limit")
    fit = m.figure("optimum_total")
    assert m.figure("baseline_total") > limit >= fit  # as started it does not fit; the memory part's answer does
    assert f"({hbytes(m.figure('baseline_total'))} of {hbytes(limit)})" in answer
    assert f"{', '.join(m.extra['changes'])} ({hbytes(fit)})" in answer
