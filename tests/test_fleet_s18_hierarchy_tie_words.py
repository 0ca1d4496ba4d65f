"""The hierarchy headline's tie reads right for two and for three tied paths (session 18, item 4): on mobile all three
paths tie and it printed "<path> and <path> ties with it ... fit in either path's daily window". By hand (as in
tests/test_fleet_hierarchy_tie.py): every mobile path runs 214 rounds of the aggregator's 100 x 2 x 103,497,728 B /
1.25e9 B/s = 16.56 s, which fit in the worn 10 h window and in the case's 7 h one: each takes 214 x 16.56 s =
59.1 min."""

from __future__ import annotations

import dataclasses

import pytest

from explorer.puzzles.fleet3d import solve_fleet
from explorer.puzzles.fleetlens import lab06


@pytest.fixture(scope="module")
def res():
    return solve_fleet("mobile")


def _head(res) -> str:
    return " ".join(lab06.hierarchy(None, res).headline.split())


def test_three_tied_paths_take_the_plural(res):
    d = 100 * 2 * 103_497_728 / 1.25e9  # 16.5596 s
    assert 214 * d / 60 == pytest.approx(59.06, abs=0.01)
    assert all(r["days"] == pytest.approx(214 * d / 86400, rel=1e-9) for r in res.per_tier.values())
    head = _head(res)
    bt, wifi = res.per_tier["worn_bluetooth"]["tier"].name, res.per_tier["worn_wifi"]["tier"].name
    assert f"two other paths ({bt}; {wifi}) tie with it at the same 59.1 min" in head
    assert "fit in each path's daily window" in head
    assert " ties with it" not in head and "either path" not in head


def test_two_tied_paths_take_the_singular(res):
    two = dataclasses.replace(res, per_tier={k: res.per_tier[k] for k in ("charging_case", "worn_wifi")})
    head = _head(two)
    wifi = res.per_tier["worn_wifi"]["tier"].name
    assert f"; {wifi} ties with it at the same 59.1 min" in head
    assert "fit in either path's daily window" in head
    assert "other paths" not in head and " tie with it" not in head
