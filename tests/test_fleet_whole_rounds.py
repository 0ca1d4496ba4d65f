"""A partial federated round does not exist (sweep A item 15): the fleet's time to the target counts whole
rounds, ceil(R) x D, wherever the fleet 3D model and its lensed parts compute it, and both engines solve the same
integer rounds.

Hand derivation (the review's mobile figures): the bound gives R = 327.56 rounds of D = 8.2798 s, 3,043.5
rounds a day fit the window. ceil(327.56) = 328 <= 3,043.5, so the run fits in the first window and takes
328 x 8.2798 s = 2,715.77 s (45.26 min), not 327.56 x 8.2798 s = 2,712.13 s."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explorer.cost import federated
from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleet3d import solve_fleet


def test_whole_rounds_by_hand():
    assert federated.whole_rounds(327.56) == 328.0
    assert federated.whole_rounds(328.0) == 328.0
    assert federated.whole_rounds(0.0) == 0.0
    # float noise on a whole number (a reference run's own rounds) is not a 1,001st round
    assert federated.whole_rounds(1000.0 * (1 + 1e-14)) == 1000.0
    assert list(federated.whole_rounds(np.array([0.2, 1.0, 1.01]))) == [1.0, 1.0, 2.0]


def test_time_to_target_counts_the_partial_round_whole():
    assert federated.time_to_target_s(327.56, 8.2798, 3043.5) == pytest.approx(328 * 8.2798, rel=1e-12)
    assert federated.time_to_target_s(327.56, 8.2798, 3043.5) == pytest.approx(2715.7744, abs=1e-4)
    # across days: R = 960.5 at f = 480 a day of 60 s rounds: 961 rounds = 2 whole days + 1 round
    assert federated.time_to_target_s(960.5, 60.0, 480.0) == pytest.approx(2 * 86_400 + 60.0)


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_fleet_rounds_are_whole_and_the_time_is_rounds_x_round(track):
    res = solve_fleet(track)
    r = res.tables.values["rounds"]
    assert np.all(r == np.round(r))
    b = res.best
    assert b["rounds"] == round(b["rounds"])
    # edge and mobile fit in one window: T = R x D exactly; tiny's energy budget holds f < R rounds a day, so its
    # whole rounds run over ceil(R / f) days: (ceil(R / f) - 1) days + the rest x D
    full_days = math.ceil(b["rounds"] / b["rounds_per_day"]) - 1
    assert b["fits_one_window"] == (track != "tiny") and full_days == (1 if track == "tiny" else 0)
    hand = full_days * 86_400 + (b["rounds"] - full_days * b["rounds_per_day"]) * b["round_time"]
    assert b["days"] * 86_400 == pytest.approx(hand, rel=1e-12)
    c = res.crisis
    assert c["rounds"] == round(c["rounds"])


def test_compression_lens_counts_whole_rounds():
    from types import SimpleNamespace

    from explorer.puzzles.fleetlens import lab06
    from explorer.report import Figure

    res = solve_fleet("tiny")
    # 1-bit charged 1.18x the steps: 730 x 1.18 = 861.4 -> 862 whole rounds
    rep = SimpleNamespace(figures={"steps_to_target_native": Figure(100, "steps", ""),
                                   "steps_to_target_1bit": Figure(118, "steps", "")})
    rows = lab06.compression(rep, res).tables["fleet_compression"].rows
    assert res.best["rounds"] == 730 and rows[-1][4] == 862 == math.ceil(730 * 1.18)


@pytest.mark.parametrize("track", ["mobile", "tiny"])
def test_cpsat_agrees_with_the_enumeration_on_whole_rounds(track):
    # both engines read the same (whole) rounds table: CP-SAT's ln_rounds is built from it (model.build_problem)
    res = solve_fleet(track, engine="cpsat")
    assert res.exhaustive_agrees and res.status == "optimal"
    assert fm.evaluate(res.tables, dict.fromkeys(fm.DIMS, 0))["rounds"] % 1 == 0
