"""What a fleet round's time is spent on, as the fleet 3D report says it (a new user's audit, 2026-12-08): on the mobile
track the round is D = max(device part, aggregator part) = 16.6 s, set by the aggregator's network moving 100
models down and 100 updates up, yet the report said 'the rest is the synchronisation (13.8 s) and waiting for the
deadline', leaving 0.86 s to a deadline wait that was in fact the aggregator's link. Real solves."""

from __future__ import annotations

import pytest

from explorer.puzzles import fleet3d
from explorer.puzzles.fleet3d.report import span


def _rest_sentence(res) -> str:
    ans = [f.answer for f in res.report.findings if f.question == "What replaces MFU on a fleet?"]
    assert len(ans) == 1
    return ans[0]


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_round_time_is_the_larger_part_and_the_words_name_it(track):
    res = fleet3d.solve_fleet(track)
    b = res.best
    # D = max(device part, aggregator part) (fleet3d/model.py)
    assert b["round_time"] == pytest.approx(max(b["device_round"], b["server_time"]), rel=1e-12)
    text = _rest_sentence(res)
    if b["server_bound"]:
        assert "the rest is the aggregator's network" in text
        assert f"takes {span(b['server_time'])}" in text and f"({span(b['device_round'])}:" in text
        assert "the rest is the synchronisation" not in text
    else:
        assert f"the rest is the synchronisation ({span(b['t_sync'])})" in text
        assert "aggregator's network" not in text


def test_mobile_optimum_is_bound_by_the_aggregator():
    # 100 of 1,000 pairs of glasses selected (10 %), each moving its model down and its update up through the
    # aggregator's 10 Gb/s: K (M_down + M_up) / B exceeds the device part (Wi-Fi 6 sync + 16 local steps + deadline)
    b = fleet3d.solve_fleet("mobile").best
    assert b["server_bound"] and b["server_time"] > b["device_round"] > b["t_sync"]


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_a_storyboard_that_does_not_fit_has_its_time_to_target_marked_hypothetical(track):
    figs = fleet3d.solve_fleet(track).report.figures
    if "crisis_days_to_target" not in figs:
        pytest.skip("no storyboard on this track")
    fits = figs["crisis_fits"].value
    assert figs["crisis_days_to_target"].label.endswith(", were it to fit") == (not fits)
