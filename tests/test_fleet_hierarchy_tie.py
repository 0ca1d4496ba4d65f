"""Hierarchy's fleet lens on mobile (sweep C item 3): its headline named a worn path while its figures were the
charging case's (7 h window), the fleet 3D optimum's path. The paths tie; the lens leads with the optimum's path
and says there is a tie. Since glasses and phone share the home Wi-Fi's airtime, the phone trains the whole model
(split 0): every path then syncs only the phone's model over Wi-Fi, and all three tie."""

from __future__ import annotations

import pytest

from explorer.puzzles import solve as solve_part
from explorer.puzzles.fleet3d import solve_fleet


@pytest.fixture(scope="module")
def mobile():
    return solve_part("hierarchy", "mobile"), solve_fleet("mobile")


def test_the_two_wifi_paths_tie_by_hand(mobile):
    # Every path runs the same rounds (214) of the same length: the aggregator's, 100 phones (10%) x 2 x
    # 103,497,728 B / 1.25e9 B/s = 16.5596 s; the worn window allows 36,000 / 16.5596 = 2,174 rounds a day, the
    # charging case's 25,200 / 16.5596 = 1,521.8, and 214 fits in either, so each takes 214 x 16.5596 s = 3,543.8 s
    # = 59.1 min on its first day: a tie, broken by the battery (the case draws none)
    _, res = mobile
    worn, case = res.per_tier["worn_wifi"], res.per_tier["charging_case"]
    d = 100 * 2 * 103_497_728 / 1.25e9
    for f in (worn, case, res.per_tier["worn_bluetooth"]):
        assert f["rounds"] == 214 and f["round_time"] == pytest.approx(d, rel=1e-9)
    assert worn["rounds_per_day"] == pytest.approx(36_000 / d) and case["rounds_per_day"] == pytest.approx(25_200 / d)
    assert worn["days"] == pytest.approx(214 * d / 86400, rel=1e-9)
    assert worn["days"] == pytest.approx(case["days"], rel=1e-12)
    assert res.best["tier"].key == "charging_case" and not res.best["tier"].uses_battery


def test_headline_names_the_optimums_path_and_the_tie(mobile):
    rep, res = mobile
    head = " ".join(rep.headline.split())
    best = res.best
    assert head.startswith(f"On the fleet the tiers are its aggregation paths: the fleet 3D optimum's path, "
                           f"{best['tier'].name}, reaches")
    assert f"({best['rounds_per_day']:,.0f} rounds a day" in head  # 3,044, the figure's 3,043.5
    before_tie = head.split(" tie with it")[0]
    assert f"({res.per_tier['worn_wifi']['rounds_per_day']:,.0f} rounds a day" not in before_tie
    bt, wifi = (res.per_tier[k]["tier"].name for k in ("worn_bluetooth", "worn_wifi"))
    # three tied paths: the two others are named together, and the plural verb agrees ("two other paths ... tie")
    assert f"two other paths ({bt}; {wifi}) tie with it" in head
    # the multiplier compares against the slowest untied path: every path ties here, so there is none
    assert "fleet_path_multiplier" not in rep.figures
