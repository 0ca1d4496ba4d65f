"""Hierarchy's fleet lens on mobile (sweep C item 3): its headline named the worn path ('499 rounds a day') while
its figures were the charging case's (3,043.5 rounds a day, 7 h window), the fleet 3D optimum's path. The two
tie; the lens now leads with the optimum's path and says there is a tie."""

from __future__ import annotations

import pytest

from explorer.puzzles import solve as solve_part
from explorer.puzzles.fleet3d import solve_fleet


@pytest.fixture(scope="module")
def mobile():
    return solve_part("hierarchy", "mobile"), solve_fleet("mobile")


def test_the_two_wifi_paths_tie_by_hand(mobile):
    # Both Wi-Fi paths run the same rounds (328, one 8.28 s round each: the aggregator's 49.5 models a round set
    # it); the worn window allows 499 rounds a day, the charging case's 3,043.5, and 328 fits in either, so each
    # takes 328 x 8.28 s = 2,716 s = 45.3 min on its first day: a tie, broken by the battery (the case draws none)
    _, res = mobile
    worn, case = res.per_tier["worn_wifi"], res.per_tier["charging_case"]
    assert worn["rounds"] == pytest.approx(case["rounds"]) and worn["round_time"] == pytest.approx(case["round_time"])
    assert worn["rounds"] < worn["rounds_per_day"] < case["rounds_per_day"]
    assert worn["days"] == pytest.approx(worn["rounds"] * worn["round_time"] / 86400, rel=1e-9)
    assert worn["days"] == pytest.approx(case["days"], rel=1e-12)
    assert res.best["tier"].key == "charging_case" and not res.best["tier"].uses_battery


def test_headline_names_the_optimums_path_and_the_tie(mobile):
    rep, res = mobile
    head = " ".join(rep.headline.split())
    best = res.best
    assert head.startswith(f"On the fleet the tiers are its aggregation paths: {best['tier'].name} reaches")
    assert f"({best['rounds_per_day']:,.0f} rounds a day" in head  # 3,044, the figure's 3,043.5
    assert "499 rounds a day" not in head.split(" ties ")[0]
    assert f"{res.per_tier['worn_wifi']['tier'].name} ties with it" in head
    # the multiplier compares against the slowest path, never the tied one
    assert rep.figure("fleet_path_multiplier") == pytest.approx(res.per_tier["worn_bluetooth"]["days"] / best["days"])
