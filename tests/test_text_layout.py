"""Text that fits the screen: prose wrapped to the width, tables that fit, wrap or turn into records, labels
left-aligned, numbers right-aligned, $COLUMNS respected, 80 columns when not a terminal, no escape codes in
a pipe."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from explorer.reports.text import column_widths, terminal_width, to_text

from explorer.report import Formula, Report, Table


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def report(**tables: Table) -> Report:
    return Report(puzzle="p", lab="05", part=1, track="cloud", title="A title", status="optimal",
                  headline="The headline says " + "something rather long " * 30 + "andaverylongwordthatcannotbreak" * 4,
                  formulas=[Formula("F", "x = " + "y + " * 60 + "z", "a source " * 20, "a note " * 30)],
                  tables=dict(tables))


LABELS = Table(["setting", "time", "share"], [["8 GPUs", 1.5, "12.5%"], ["1024 GPUs", 12.25, "100.0%"],
                                              ["1-bit", 0.001, "0.1%"]], "labels")


def lines_of(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    i = lines.index(title)
    out = []
    for line in lines[i + 2:]:
        if not line.strip():
            break
        out.append(line)
    return out


def test_labels_left_numbers_right():
    header, rule, *rows = lines_of(to_text(report(labels=LABELS), width=80), "labels")
    assert [r.split()[0] for r in rows] == ["8", "1024", "1-bit"]
    assert all(r.startswith(("8 GPUs ", "1024 GPUs ", "1-bit ")) for r in rows)  # left, even starting with a digit
    ends = {len(r) for r in rows}
    assert len(ends) == 1  # the last (numeric) column is right-aligned: every row ends in the same column
    assert rule.startswith("-") and header.startswith("setting")


@pytest.mark.parametrize("width", [40, 60, 80, 100, 132])
def test_everything_fits_the_width(width):
    wide = Table([f"column {i}" for i in range(14)], [[f"value {i} of row {j}" for i in range(14)] for j in range(3)],
                 "wide")
    text = to_text(report(labels=LABELS, wide=wide), width=width)
    assert widest(text) <= width
    assert "andaverylongwordthatcannotbreak" in text.replace("\n", "")  # folded, not dropped


def test_wide_table_turns_into_records():
    wide = Table([f"column {i}" for i in range(14)], [[f"v{i}.{j}" for i in range(14)] for j in range(2)], "wide")
    block = lines_of(to_text(report(wide=wide), width=80), "wide")
    assert block[0].split() == ["column", "0", "v0.0"] and block[13].split() == ["column", "13", "v13.0"]
    assert len(block) == 14  # one line per column for the first row, then a blank line before the next row


def test_a_record_leaves_out_its_blank_cells_but_keeps_its_first_column():
    """An attempt that was not read has no objective, gap or best move: its record printed those labels with nothing
    beside them (the narrow view of `solve batch --attempts`). Row 2 here has 13 blank cells of 14."""
    wide = Table([f"column {i}" for i in range(14)],
                 [[f"v{i}.0" for i in range(14)], ["", "not graded", *[""] * 12]], "wide")
    lines = to_text(report(wide=wide), width=80).splitlines()
    first = lines.index("wide") + 2
    second = lines[first + 15:first + 18]  # after the first record's 14 lines and the blank line between records
    assert lines[first + 14] == "" and second[0].split() == ["column", "0"], lines[first:]
    assert second[1].split() == ["column", "1", "not", "graded"] and not second[2].startswith("column"), second


def test_table_that_can_wrap_keeps_its_words_whole():
    t = Table(["option", "what it changes"], [["zero", "shard the optimizer state over the data-parallel group " * 3]],
              "wrap")
    block = lines_of(to_text(report(wrap=t), width=50), "wrap")
    assert len(block) > 3 and all(len(line) <= 50 for line in block)
    words = " ".join(line[8:].strip() for line in block[2:]).split()
    assert set(words) <= set(("shard the optimizer state over the data-parallel group").split())


def test_column_widths_rule():
    cells = [["a", "b"], ["x" * 10, "word " * 20]]
    assert column_widths(cells, 200) == [10, 100]  # natural widths when they fit
    w = column_widths(cells, 40)
    assert w[0] == 10 and sum(w) + 2 <= 40  # the short column keeps its word, the long one wraps
    assert column_widths([["h"], ["x" * 50]], 40) is None  # a word wider than the screen: records instead
    assert column_widths([["n", "v"], ["a", "12,345.6 GB"]], 14, nowrap=[False, True]) == [1, 11]


def test_width_comes_from_columns_else_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert terminal_width() == 100
    monkeypatch.setenv("COLUMNS", "7")
    assert terminal_width() == 40  # clamped: narrower is unreadable
    monkeypatch.delenv("COLUMNS")
    if not os.isatty(sys.__stdout__.fileno()):
        assert terminal_width() == 80


@pytest.mark.parametrize("columns", [None, "100"])
def test_cli_text_in_a_pipe_is_plain_and_fits(columns):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    if columns:
        env["COLUMNS"] = columns
    cmd = [sys.executable, "-c", "from explorer.cli import run; run()", "solve", "3d", "--track", "tiny"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    assert "\x1b" not in out  # no escape codes in a pipe
    width = int(columns or 80)
    assert widest(out) <= width and widest(out) > width - 10  # uses the width it has
    assert out.startswith("Lab 05 part 2: The parallelism puzzle [tiny] (3d)")


def test_real_reports_fit(tmp_path):
    import explorer

    for puzzle, track in (("3d", "cloud"), ("hierarchy", "tiny"), ("memory", "edge")):
        rep = explorer.solve(puzzle, track=track)
        for width in (40, 80, 100):
            assert widest(rep.to_text(width=width)) <= width, (puzzle, track, width)


def test_a_number_keeps_its_unit_and_its_comparison_on_one_line():
    # explore solve 3d --track tiny at 80 columns printed the limit '<= 196.61 kB' as '<= 196.61' over 'kB':
    # a number and its unit (and a comparison and its number) are never split, in a table and in records.
    from explorer.reports.text import glue, keep_units

    rows = [["memory per earbud with a rather long constraint name here", "171.26 kB", "<= 196.61 kB", "25.34 kB"],
            ["training energy per earbud per day and then some words", "83.238 J", "<= 86.400 J", "3.162 J"]]
    t = Table(["constraint", "value", "limit", "slack"], rows, "limits")
    for width in (40, 50, 60, 80):
        text = to_text(report(limits=t), width=width)
        block = text.split("\nlimits\n", 1)[1]  # the table, or its records (blank lines between them)
        assert widest(text) <= width
        for piece in ("<= 196.61 kB", "<= 86.400 J", "171.26 kB", "83.238 J"):
            assert piece in block, (width, block)
        assert not any(line.strip() in ("kB", "J", "<=") for line in block.splitlines()), block
    # a cell wrapped on its own: the break falls before the number, not between it and its unit
    assert keep_units("at most <= 196.61 kB of it", 12).splitlines() == ["at most", "<= 196.61 kB", "of it"]
    assert keep_units("2 of 5 layers", 4) == "2 of 5 layers"  # no unit: left to rich's own wrapping
    assert "\x1f" not in keep_units("<= 1.00 GB" * 3, 9)
    assert glue("8 local steps") == "8 local steps"  # a count of things is not a unit
