"""Narration that must agree with its own figures (a hostile student review, items 2, 4, 11 and 12): every
sentence's arithmetic is recomputed here from the result's data or by hand, never from the sentence's numbers
alone."""

from __future__ import annotations

import re

import pytest

from explorer.puzzles import solve as solve_part
from explorer.puzzles.fleet3d import solve_fleet
from explorer.puzzles.fleetlens.common import index


def _finding(rep, start: str) -> str:
    hits = [f.answer for f in rep.findings if f.question.startswith(start)]
    assert hits, [f.question for f in rep.findings]
    return hits[0]


# --- item 4: the compute joules of a fleet round can be reproduced from the numbers printed -------------------
@pytest.mark.parametrize("track", ["tiny", "mobile", "edge"])
def test_fleet_round_compute_energy_is_steps_x_own_compute_x_power(track):
    res = solve_fleet(track)
    b, scn = res.best, res.scenario
    idx = index(res)
    t_own = float(res.tables.at("t_device", idx))  # the device's own compute per local step (its stage only)
    power = scn.setup.cluster.accelerator.tdp_w
    h = b["local_steps"]
    # energy_compute = H x t_device x P (model.evaluate), by hand from the tables
    assert b["energy_compute"] == pytest.approx(h * t_own * power, rel=1e-9)
    rep = solve_part("3d", track)
    text = _finding(rep, "Energy: what does a round cost")
    m = re.search(r"([\d.]+) J computing \((\d+) local steps (?:x its own|of) ([\d.]+) s (?:of compute )?at ([\d.]+) W",
                  text)
    assert m, text
    joules, steps, t_printed, w_printed = (float(m.group(i)) for i in range(1, 5))
    assert steps == h and w_printed == pytest.approx(power)
    assert t_printed == pytest.approx(t_own, rel=5e-3)  # the device's own step, not the local group's
    # the reader's multiplication of the printed numbers gives the printed joules (3 significant digits)
    assert steps * t_printed * w_printed == pytest.approx(joules, rel=1e-2)
    if scn.partner_setup is not None and b["split"] > 0:
        # with a split the local group's step (the figure) is named, and the parts it holds add up to it
        assert float(res.tables.at("t_local", idx)) > 1.5 * t_own  # the review's case: 0.421 s vs 0.178 s
        parts = re.search(r"each ([\d.]+) s local step of the local group also holds the [\w ]+'s ([\d.]+) s of "
                          r"compute and ([\d.]+) s on", text)
        assert parts, text
        step, partner, link = (float(parts.group(i)) for i in range(1, 4))
        assert step == pytest.approx(rep.figure("local_step_s"), rel=5e-3)
        assert partner == pytest.approx(float(res.tables.at("t_partner", idx)), rel=5e-3)
        assert t_printed + partner + link == pytest.approx(step, rel=1e-2)
