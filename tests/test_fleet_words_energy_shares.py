"""The energy sentence puts the shares of the daily budget and of a charge beside the day's joules they are shares of
(defect 4 of the fleet words review). Tiny had printed "spends 730 x 100.0% x 0.099 J = 72.3 J in all, 100.0% of its
86.4 J daily budget, 10.2% of a 846 J charge": the shares were 86.4 J's (a day of rounds), read as 72.3 J's (the
run), which is 83.6% of 86.4 J and 8.5% of 846 J."""

from __future__ import annotations

import re
from dataclasses import replace

from explorer.puzzles.fleetlens.common import battery_j, energy_block, optimum
from explorer.units import human_number as num
from explorer.units import human_percent as pct


def _text(res) -> str:
    return energy_block(res)[1][0].answer


def test_shares_follow_the_daily_joules_not_the_run_total():
    res = optimum("tiny")
    b = res.best
    assert b["budget_j"] is not None and b["tier"].uses_battery
    # a run shorter than a day of rounds, so that the run's own total is said too (the case the review met)
    short = replace(res, best={**b, "rounds": max(1.0, round(0.5 * b["rounds_per_day"]))})
    sb = short.best
    text = _text(short)
    cap = battery_j(res.scenario.track)
    day = f"= {num(sb['energy_day'])} J a day ({pct(sb['energy_day'] / sb['budget_j'])} of its " \
          f"{num(sb['budget_j'])} J daily budget, {pct(sb['energy_day'] / cap)} of a {num(cap)} J charge)"
    assert day in text
    run = re.search(r"= ([\d,.]+) J in all([^.;]*)", text)
    assert run, text
    # nothing after the run total claims a share of the budget or the charge
    assert "daily budget" not in run.group(2) and "charge" not in run.group(2)
    assert text.index("daily budget") < text.index("in all")


def test_a_fleet_without_a_budget_or_battery_names_no_share():
    res = optimum("edge")
    text = _text(res)
    assert "daily budget" not in text and "of a " not in text.split("J a day")[1].split(".")[0]
