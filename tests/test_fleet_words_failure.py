"""What becomes of a device that fails is said per aggregation path (defect 7 of the fleet words review): tiny's sync
audit said "an earbud that fails or leaves coverage is dropped from its round (Bonawitz et al. 2019)" while its own
optimum is a ring all-reduce that "cannot drop a late one"."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from explorer.puzzles import sync
from explorer.puzzles.fleetlens.common import failure_words
from explorer.puzzles.sync.audit import sync_data
from explorer.units import human_percent as pct


def _b(graph: str) -> dict:
    return {"tier": SimpleNamespace(graph=graph)}


def test_failure_words_follow_the_path():
    assert "dropped from its round (Bonawitz et al. 2019)" in failure_words(_b("server"), "vehicle")
    g = failure_words(_b("gossip_devices"), "earbud")
    assert "neighbours' averaging" in g and "dropped from its round" not in g
    r = failure_words(_b("ring_relayed"), "earbud")
    assert "cannot drop an earbud part-way" in r and "dropped from its round" not in r


def _replaces(r) -> str:
    return next(f.answer for f in r.findings if f.question.startswith("What replaces the dollars"))


@pytest.mark.parametrize("track", ["edge", "tiny"])
def test_sync_audit_says_what_its_own_path_does(track):
    r = sync.solve(track)
    text = _replaces(r)
    waits = "every one: the ring waits" in r.figures["participants_on_time"].label
    if not waits:
        assert "cannot drop" not in text
        return
    assert "dropped from its round" not in text and "cannot drop" in text
    # a round of D seconds among n devices failing at 1/MTBF each loses one with probability 1 - exp(-n D / MTBF)
    mtbf_s = sync_data(track)["device_mtbf_h"] * 3600.0
    n = r.figure("nodes")  # every earbud takes part on the ring (no server selects)
    d = r.figure("round_time_s")
    assert f"= {pct(-math.expm1(-n * d / mtbf_s))}" in text
