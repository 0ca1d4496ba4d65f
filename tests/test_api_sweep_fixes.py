"""Defects a new user's sweep of the Python API and `explore estimate` found: the datacenter 3D solver quietly run on a
fleet track, the track's crisis plan not filling estimate's plan options, --framework any choosing without saying,
--embedding-slots at PP=1, puzzle keywords spelt as the CLI spells them, and report widths out of range."""

from __future__ import annotations

import pytest

import explorer
from explorer.errors import UsageError
from explorer.report import Report


# --- 1. explorer.solve_3d on a fleet track ------------------------------------------------------------------------
@pytest.mark.parametrize("track", ["tiny", "edge", "mobile"])
def test_solve_3d_refuses_a_fleet_track_as_a_datacenter(track):
    # Before: the tiny track's 100 earbuds came back as 'optimal: TP=1 PP=5 DP=10 CP=2', one synchronous ring over
    # Bluetooth; explore solve 3d --track tiny and explorer.solve('3d', track='tiny') answer the fleet form.
    with pytest.raises(UsageError) as exc:
        explorer.solve_3d(track)
    msg = str(exc.value)
    assert "\n" not in msg and "is a fleet" in msg
    assert f"explorer.solve('3d', track={track!r})" in msg and f"explore solve 3d --track {track}" in msg


def test_solve_3d_on_a_fleet_track_with_devices_asked_for_still_answers():
    res = explorer.solve_3d("tiny", gpus=100, top=1, explain=False)  # the datacenter form, asked for by gpus
    p = res.best.plan
    assert p.tp * p.pp * p.dp * p.cp == 100 and res.track.key == "tiny"


# --- 5. Report.to_text width --------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [-1, 0, 10, 39, 501, 80.0, "80", True])
def test_report_text_width_out_of_range_is_refused(width):
    r = Report(puzzle="p", lab="05", part=1, track="cloud", title="T", status="computed", headline="h")
    with pytest.raises(UsageError) as exc:
        r.to_text(width=width)
    msg = str(exc.value)
    assert "\n" not in msg and "from 40 to 500" in msg and f"width {width!r} " in msg


def test_report_text_width_in_range_is_kept():
    r = Report(puzzle="p", lab="05", part=1, track="cloud", title="T", status="computed", headline="word " * 60)
    assert max(len(line) for line in r.to_text(width=40).splitlines()) <= 40
    assert r.to_text(width=None)
