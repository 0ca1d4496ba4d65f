"""Attempts at the fleet form of the 3D puzzle (edge, mobile, tiny) are graded in the fleet's own variables by
the fleet model's one feasibility function, beside the proven optimum (the least time to the target)."""

from __future__ import annotations

import json

import pytest
from _attempts import attempts_csv
from click.testing import CliRunner
from explorer.reports.attempts import attach_attempts, grade_file

from explorer.cli import main
from explorer.errors import UsageError
from explorer.puzzles import solve
from explorer.puzzles.fleet3d import attempts as fa
from explorer.report import Report

TRACKS = ("edge", "mobile", "tiny")


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {t: solve("3d", track=t) for t in TRACKS}



def _optimum_row(report: Report) -> dict:
    cfg = report.extra["configuration"]
    return {k: cfg[k] for k in fa.ATTEMPT_VARIABLES}


@pytest.mark.parametrize("track", TRACKS)
def test_the_solvers_own_optimum_is_graded_at_the_optimum(tmp_path, reports, track):
    report = reports[track]
    assert report.extra["form"] == "fleet" and report.status == "optimal"
    graded = attach_attempts(report, attempts_csv(tmp_path, [_optimum_row(report)]))
    a = graded.extra["attempts"][0]
    assert a["error"] is None and a["feasible"] and a["reached_optimum"], a
    assert a["gap_text"] == "at the optimum"
    # the objective is the report's own time to the target (days -> seconds)
    assert a["objective"] == pytest.approx(report.figures["days_to_target"].value * 86400, rel=1e-9)
    said = " ".join(f.answer for f in graded.findings)
    assert "reaches the optimum" in said and "Yes: 1 attempt." in said
    assert "attempt(s)" not in said and "1 attempts" not in said


@pytest.mark.parametrize("track", TRACKS)
def test_another_searched_configuration_is_feasible_and_slower(tmp_path, reports, track):
    """One more local step between syncs is within every limit here (memory does not depend on it; no
    staleness bound limits local SGD's steps) yet differs from the optimum, which is proven the least."""
    report = reports[track]
    row = _optimum_row(report)
    steps = list(fa._solved(track)[0].local_steps)
    i = steps.index(row["local_steps"])
    row["local_steps"] = steps[i - 1] if i > 0 else steps[i + 1]
    g = grade_file(report, attempts_csv(tmp_path, [row]))[0]
    assert g.error == "" and g.feasible and not g.reached_optimum
    assert g.objective > report.extra["objective"]["value"]
    assert "above the optimum" in g.gap_text


@pytest.mark.parametrize("track,row,reason,at_least", [
    # the whole 51.7 M-parameter model trained on the glasses: 16 B a parameter under mixed-precision Adam
    # (2 weights + 2 gradients + 12 fp32 master and moments; ZeRO, Rajbhandari et al. 2020) = 828 MB > 512 MB
    ("mobile", {"split": 6, "trainable_layers": 6, "micro_batch": 1, "local_steps": 1}, "memory", 16 * 51_748_864),
    # all five layers of the 66,656-parameter net trained on one earbud: 4 B weights + 4 B gradients (fp32)
    # = 533 KB > 192 KB of usable SRAM
    ("tiny", {"split": 5, "trainable_layers": 5, "micro_batch": 1, "local_steps": 1}, "memory", 8 * 66_656),
])
def test_an_infeasible_row_names_its_reason(tmp_path, reports, track, row, reason, at_least):
    g = grade_file(reports[track], attempts_csv(tmp_path, [row]))[0]
    assert g.error == "" and not g.feasible and not g.outside
    assert g.violations and reason in g.violations[0]
    assert g.gap_text.startswith("infeasible")
    assert g.figures["memory_per_device"].value >= at_least


def test_participation_on_a_path_without_a_server_is_said_not_to_apply_and_graded(tmp_path, reports):
    # the relayed ring and gossip have no server that samples clients: every earbud in range takes part, so
    # participation 0.1 is the optimum's own configuration, graded as such (not 'outside the space')
    report = reports["tiny"]
    row = _optimum_row(report) | {"participation": 0.1}
    assert report.extra["configuration"]["tier"] in ("full_sync", "gossip", "pair_gossip")
    g = grade_file(report, attempts_csv(tmp_path, [row]))[0]
    assert g.error == "" and not g.outside and g.feasible and g.reached_optimum, (g.outside, g.gap_text)
    assert g.gap_text == "at the optimum"
    note = g.figures["participation_note"].value
    assert "participation 0.1 does not apply on" in note and "every earbud in range takes part" in note
    # on a server path the same value is searched and stays a real choice (no note)
    edge = grade_file(reports["edge"], attempts_csv(tmp_path, [{"micro_batch": 8, "local_steps": 4,
                                                                  "participation": 0.1, "tier": "depot"}]))[0]
    assert "participation_note" not in edge.figures and not edge.outside


def test_values_off_the_searched_grid_are_said_to_be_outside(tmp_path, reports):
    g = grade_file(reports["edge"], attempts_csv(tmp_path, [{"micro_batch": 8, "local_steps": 3, "tier": "depot"}]))[0]
    assert not g.feasible and g.outside == ["local_steps 3 is not searched (1, 2, 4, 8, 16, 32, 64, 128, 256)"]
    assert g.gap_text.startswith("not compared")


def test_assumed_columns_are_the_storyboards_and_said(tmp_path, reports):
    report = reports["edge"]
    graded = attach_attempts(report, attempts_csv(tmp_path, [{"micro_batch": 8, "local_steps": 1}]))
    a = graded.extra["attempts"][0]
    assert set(a["assumed"]) == {"split", "trainable_layers", "participation", "deadline_quantile", "tier"}
    assert a["values"]["tier"] == report.extra["crisis"]["tier"] and a["values"]["participation"] == 1.0
    read = next(f.answer for f in graded.findings if f.question == "How was a.csv read?")
    assert "tier = cellular" in read


def test_bad_values_are_row_errors(tmp_path, reports):
    f = attempts_csv(tmp_path, [{"micro_batch": 8, "local_steps": 4, "participation": 1.5, "tier": "depot"},
                        {"micro_batch": 8, "local_steps": 4, "participation": "50%", "tier": "moon"}])
    g1, g2 = grade_file(reports["edge"], f)
    assert "participation" in g1.error and "(0, 1]" in g1.error
    assert "'moon'" in g2.error and "cellular, depot" in g2.error


def test_a_datacenter_file_on_a_fleet_track_says_what_the_columns_are(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("tp,pp,dp,micro_batch\n1,1,10000,8\n")
    out = CliRunner().invoke(main, ["solve", "3d", "--track", "edge", "--attempts", str(f)])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "tp, pp, dp: datacenter column(s)" in out.output and "local_steps" in out.output
    j = tmp_path / "a.json"
    j.write_text(json.dumps([{"tp": 1, "pp": 1, "dp": 10000, "micro_batch": 8}]))
    with pytest.raises(UsageError, match="datacenter column"):
        grade_file(solve("3d", track="tiny"), j)


def test_the_template_on_a_fleet_track_has_the_fleet_columns():
    out = CliRunner().invoke(main, ["attempts", "template", "3d", "--track", "mobile"])
    header = [line for line in out.output.splitlines() if line and not line.startswith("#")]
    assert out.exit_code == 0 and header == [",".join(fa.ATTEMPT_VARIABLES)]


@pytest.mark.parametrize("track", TRACKS)
def test_the_lab_workbench_grades_fleet_moves(track, reports):
    """Lab 05's 3D part on a fleet track offers the fleet form's choices; 'check' grades its moves (the storyboard
    start, then the optimum) beside the proven optimum."""
    from explorer.labs.kit import FleetThreeD, parts

    part = parts("05", track)[1]
    assert isinstance(part, FleetThreeD)
    start = part.defaults()
    live = part.live(start)
    assert not live.error and live.move == start and live.plots[0].name == "fleet_tradeoff"
    best = reports[track].extra["configuration"]
    moves = [live.move, {k: best[k] for k in start}]
    checked = part.check(moves)
    text = " ".join(f.answer for f in checked.verdict)
    # the workbench speaks of moves, not of an attempts file's lines (dafd96f)
    assert "move 2 reaches the optimum" in text and "line" not in text, text
    assert [name for name, _ in checked.plots] == ["attempts"]
    assert checked.report.extra["attempts"][0]["reached_optimum"] is False
