"""Attempts grading against a small fake puzzle (tests/_reports_fake.py, optimum derived there by hand)."""

from __future__ import annotations

import json
import sys

import _reports_fake as fake
import pytest
from explorer.reports.attempts import attach_attempts, grade_file, read_attempts, template, violation_text
from explorer.reports.render import render

from explorer.errors import UsageError
from explorer.puzzles import PUZZLES, PuzzleInfo


@pytest.fixture()
def puzzle(monkeypatch):
    monkeypatch.setitem(sys.modules, "_reports_fake", fake)
    monkeypatch.setitem(PUZZLES, "fake", PuzzleInfo("fake", "05", 9, "Fake puzzle", "_reports_fake"))
    return fake.solve("cloud")


CSV = "tp,pp\n2,2\n8,4\n4,abc\n8,8\n"


def test_grades_feasible_infeasible_and_malformed(puzzle, tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text(CSV)
    g = grade_file(puzzle, f)
    assert [x.line for x in g] == [2, 3, 4, 5]
    # Row 1 (2, 2): memory 512/4 = 128 GB > 72 GB by 56 GB; the best single move is tp 2 -> 4
    # (neighbours: (1,2) 256 GB, (2,1) 256 GB infeasible; (4,2) -> 400+20-8 = 412; (2,4) -> 200+40-8 = 232).
    assert not g[0].feasible
    assert g[0].violations == ["memory 128.00 GB > 72.00 GB by 56.00 GB (usable HBM)"]
    assert g[0].best_move.startswith("tp 2 -> 4") and "412" in g[0].best_move
    assert g[0].on_frontier is False
    # Row 2 (8, 4): 800 + 40 - 32 = 808, feasible; gap 816 - 808 = 8 (8/816 = 0.98%); best move pp 4 -> 8.
    assert g[1].feasible and g[1].objective == 808
    assert g[1].gap == pytest.approx(8.0)
    assert g[1].gap_text == "8 tokens/s below the optimum (1.0% worse)"
    assert g[1].best_move.startswith("pp 4 -> 8")
    assert not g[1].reached_optimum and g[1].on_frontier is False
    # Row 3: 'abc' is not a degree: an error naming file, line and field; the rows after it are still graded.
    assert g[2].error.startswith("mine.csv, line 4, field 'pp'")
    # Row 4 (8, 8) reaches the optimum 816, but as attempt 4 of a 3-attempt rule.
    assert g[3].reached_optimum and g[3].on_frontier is True and g[3].beyond_limit
    assert g[3].best_move.startswith("none")


def test_malformed_rows_name_line_and_field(puzzle, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("# my attempts\ntp,pp\n8,\n8,8,8\n\n8,8\n")
    rows = read_attempts(f, fake.ATTEMPT_VARIABLES)
    assert rows[0].error == "bad.csv, line 3, field 'pp': empty"
    assert rows[1].error.startswith("bad.csv, line 4: expected 2 fields (tp, pp), got 3")
    assert rows[2].values == {"tp": 8, "pp": 8} and rows[2].line == 6


def test_headerless_csv_and_bad_header(puzzle, tmp_path):
    f = tmp_path / "plain.csv"
    f.write_text("8,8\n")
    assert read_attempts(f, fake.ATTEMPT_VARIABLES)[0].values == {"tp": 8, "pp": 8}
    f.write_text("tp,pipeline\n8,8\n")
    with pytest.raises(UsageError, match="line 1: missing column 'pp'; unknown column 'pipeline'"):
        read_attempts(f, fake.ATTEMPT_VARIABLES)


def test_json_attempts_with_lines(puzzle, tmp_path):
    f = tmp_path / "mine.json"
    f.write_text('[\n  {"tp": 8, "pp": 8},\n  {"tp": 8},\n  [2, 2]\n]\n')
    rows = read_attempts(f, fake.ATTEMPT_VARIABLES)
    assert rows[0].values == {"tp": 8, "pp": 8}
    assert rows[1].error == "mine.json, line 3, field 'pp': missing"
    assert rows[2].values == {"tp": 2, "pp": 2} and rows[2].line == 4


def test_attach_attempts_adds_table_findings_and_plot(puzzle, tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text(CSV)
    r = attach_attempts(puzzle, f)
    assert "attempts" in r.tables and "attempts" in r.plots and "attempts" not in puzzle.tables
    t = r.tables["attempts"]
    assert len(t.rows) == 4 and t.rows[2][t.columns.index("feasible")].startswith("not graded: mine.csv, line 4")
    answers = " ".join(x.answer for x in r.findings)
    assert "attempt 4 (line 5) reaches the optimum" in answers and "past the lab's limit of 3" in answers
    assert "4 attempts, 1 past the limit of 3" in answers
    text = render(r, "markdown")
    assert "memory 128.00 GB > 72.00 GB by 56.00 GB" in text
    data = json.loads(render(r, "json"))
    assert data["extra"]["attempts"][1]["gap"] == pytest.approx(8.0)


def test_template_lists_the_columns(puzzle):
    assert template("fake").splitlines()[-1] == "tp,pp"
    assert "up to 3 attempts" in template("fake")
    assert json.loads(template("fake", "json")) == [{"tp": None, "pp": None}]


def test_violation_text_for_a_lower_bound():
    from explorer.report import Constraint

    # 80 < 100 by 100 - 80 = 20.
    c = Constraint("throughput", 80, 100, "tokens/s", ">=")
    assert violation_text(c) == "throughput 80 tokens/s < 100 tokens/s by 20 tokens/s"


def test_error_blames_the_right_field_or_none():
    from explorer.reports.attempts import _blamed_field, gap_text

    vals = {"workers": 1, "devices": "x"}
    assert _blamed_field("workers and devices must be whole numbers, got {'workers': 1, 'devices': 'x'}", vals) \
        == "devices"
    assert _blamed_field("devices must be positive", {"workers": 1, "devices": -1}) == "devices"
    assert _blamed_field("workers and devices disagree", {"workers": 1, "devices": 2}) is None
    # Minimising: 62 s against an optimum of 60 s is 2 s (2/60 = 3.3%) above it.
    assert gap_text(62.0, 60.0, "min", "s") == (2.0, "2.000 s above the optimum (3.3% worse)")


def test_a_structural_rule_is_said_in_words_not_as_a_comparison_of_zeros():
    from explorer.reports.attempts import violation_text

    from explorer.report import Constraint

    text = "PyTorch FSDP2 (torchtitan) offers ZeRO stages 2, 3, not 1"
    rule = Constraint("framework_runs_it", 0, 0, "", "==", text=text)
    assert violation_text(rule) == text
    memory = Constraint("memory", 80e9, 72e9, "B", "<=", text="usable HBM")
    assert violation_text(memory).startswith("memory 80.00 GB > 72.00 GB by 8.00 GB")


def test_the_best_single_change_never_leaves_the_plans_the_puzzle_can_run():
    # Lab 05's 3d puzzle, cloud track. Attempt TP 2 PP 2 DP 256 with sequence parallelism misses memory and bubble;
    # halving TP to 1 would break a rule (sequence parallelism needs TP > 1), a plan with no step to score, so it is
    # no improvement however small its "violation" reads: the move offered keeps a runnable plan.
    from explorer.reports.attempts import best_move

    from explorer.puzzles import threed

    base = dict(tp=2, pp=2, dp=256, micro_batch=1, cp=1, virtual_stages=1, zero=1, recompute="none",
                sequence_parallel=True)
    move = best_move(threed, base, threed.evaluate_attempt(base), "cloud", {})
    assert "tp 2 -> 1" not in move and "zero 1 -> 2" not in move
    assert "(still infeasible, the smallest violation a single change leaves: " in move
    # A plan Megatron-LM cannot run (ZeRO-2 under a pipeline: Megatron-FSDP is not combined with PP) is helped
    # by the move that makes it runnable.
    bad = dict(tp=4, pp=4, dp=32, micro_batch=2, cp=2, virtual_stages=4, zero=2, recompute="none",
               sequence_parallel=True)
    r = threed.evaluate_attempt(bad)
    assert r["objective"] is None and [c.name for c in r["violations"]] == ["framework_runs_it"]
    assert best_move(threed, bad, r, "cloud", {}).startswith("zero 2 -> 1")
