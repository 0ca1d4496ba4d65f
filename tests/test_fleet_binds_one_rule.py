"""Sweep A item 12: 'binds' said one thing in the fleet 3D report and another in the other parts for the same
configuration (mobile: 3d 'nothing daily', batch/hierarchy 'aggregator network binds'). Every part's rounds-a-day
figure now follows the fleet 3D report's rule (fleet3d.report.binds). By hand: mobile's optimum needs 214 rounds
and the charging case's 7 h window holds 7 x 3600 / 16.56 s = 1,521 of them, so the run fits in its first window
and nothing daily binds."""

from __future__ import annotations

import pytest

from explorer.puzzles import batch
from explorer.puzzles.fleet3d import solve_fleet
from explorer.puzzles.fleet3d.report import binds
from explorer.puzzles.fleetlens.common import fleet_figures


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_rounds_a_day_label_follows_the_3d_rule(track):
    res = solve_fleet(track)
    label = fleet_figures(res)["fleet_rounds_per_day"].label
    assert binds(res.best) in label


def test_mobile_fits_one_window_by_hand():
    b = solve_fleet("mobile").best
    assert b["rounds"] < 7 * 3600 / b["round_time"]
    rep = batch.solve("mobile")
    assert "nothing daily" in rep.figures["fleet_rounds_per_day"].label
    assert "aggregator network binds" not in rep.figures["fleet_rounds_per_day"].label
