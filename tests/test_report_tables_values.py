"""Report tables hold values, not text (a new-user audit): `r.tables["top"].rows[0]` was
`[1, 'TP=8 ...', '51.5%', '3.8694', '1.2%', '50.89 GB']`, so `.to_frame()` had str columns and sorting by memory
was alphabetical ('9.00 GB' after '10.00 GB'). Now rows hold fractions, seconds and bytes, and each column's format
(Table.formats, reports.format.CELL_FORMATS) prints them as the reports printed the strings before. Also: no computer
exponent (6.56e+03) in any report's alt text, whole tokens/s at a million, one spelling of a ratio, '-' in an
attempt's empty cells, and a bad figure or table name that lists the good ones.

Every expected string is derived by hand from the value (GB = 1e9 B as docs/conventions.md has it; a fraction x 100
with one decimal), never copied from the renderer's output."""

from __future__ import annotations

import copy
import pickle
import re
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from explorer.reports.format import fmt_cell, fmt_value
from explorer.reports.render import to_markdown, to_text

import explorer
from explorer.report import Report, Table, checksum_of

ROOT = Path(__file__).resolve().parents[1]
E_NOTATION = re.compile(r"\d[eE][+-]\d")


@cache
def _solve(puzzle: str, track: str) -> Report:
    return explorer.solve(puzzle, track=track)


# --- the column formats print what the strings said (hand-derived) ---------------------------------------------------

@pytest.mark.parametrize("value, fmt, text", [
    (0.515, "percent", "51.5%"),  # 0.515 x 100 = 51.5, one decimal
    (0.0049, "percent", "0.49%"),  # below 1%: two significant digits (human_percent), as the 3D table printed it
    (0.0, "percent", "0%"),  # PP = 1: no bubble, printed '0%' before as after
    (0.51494, "percent.2", "51.49%"),
    (0.012, "percent.1", "1.2%"),
    (50_890_000_000.0, "bytes", "50.89 GB"),  # 5.089e10 B / 1e9 B per GB = 50.89
    (50_891_000_000.0, "bytes3", "50.9 GB"),  # three significant digits
    (30.594, "fixed.2", "30.59"),
    (3.86944, "fixed.4", "3.8694"),
    (0.1234, "signed_percent", "+12.3%"),
    (-0.0004, "signed_percent", "0.0%"),  # -0.04% rounds to -0.0%: written 0.0%
    (None, "bytes", "-"),  # no value: a dash, as every table writes it
    ("50.89 GB", "bytes", "50.89 GB"),  # a report saved before: its string as it is
])
def test_cell_formats_print_the_value_as_the_strings_did(value, fmt, text):
    assert fmt_cell(value, fmt) == text


def test_a_table_refuses_formats_it_cannot_print():
    with pytest.raises(ValueError, match="2 columns has 1 formats"):
        Table(["a", "b"], [[1, 2]], "t", ["bytes"])
    with pytest.raises(ValueError, match="'{:9}' is not one of percent"):
        Table(["a"], [[1]], "t", ["{:9}"])


# --- the 3D and memory tables hold numbers ----------------------------------------------------------------------------

NUMERIC = {  # (puzzle, track, table) -> the columns that must be numeric
    ("3d", "cloud", "top"): ["rank", "MFU", "step (s)", "bubble", "memory"],
    ("3d", "cloud", "memory_breakdown"): ["optimum", "crisis"],
    ("3d", "cloud", "time_breakdown"): ["optimum (s)", "crisis (s)"],
    ("3d", "cloud", "micro_batch_sweep"): ["micro-batch", "micro-batches", "MFU", "bubble", "memory (GB)"],
    ("memory", "cloud", "by_optimizer"): ["memory", "time-to-quality change (-: shorter)"],
    ("memory", "cloud", "by_trainable_layers"): ["memory", "time-to-quality change (-: shorter)"],
    ("memory", "cloud", "by_adapter"): ["memory", "time-to-quality change (-: shorter)"],
}


@pytest.mark.parametrize("key", list(NUMERIC), ids=["-".join(k) for k in NUMERIC])
def test_the_tables_frames_are_numeric(key):
    puzzle, track, name = key
    df = _solve(puzzle, track).tables[name].to_frame()
    for col in NUMERIC[key]:
        assert pd.api.types.is_numeric_dtype(df[col]), f"{name}.{col} is {df[col].dtype}"
        assert not pd.api.types.is_bool_dtype(df[col])


def test_sorting_the_3d_top_table_by_memory_is_numeric():
    """Alphabetically '9.00 GB' sorts after '10.00 GB'; as bytes 9e9 < 1e10. The frame's order by memory is the
    order of the byte counts, smallest first, and the first is no larger than the top plan's own."""
    r = _solve("3d", "cloud")
    df = r.tables["top"].to_frame().sort_values("memory")
    assert df["memory"].is_monotonic_increasing and len(df) >= 2
    assert df["memory"].iloc[0] <= r.figure("memory_per_gpu")
    mixed = Table(["plan", "memory"], [["a", 10e9], ["b", 9e9]], "", ["", "bytes"])
    assert list(mixed.to_frame().sort_values("memory")["plan"]) == ["b", "a"]
    assert mixed.text_rows() == [["a", "10.00 GB"], ["b", "9.00 GB"]]


def test_the_3d_tables_agree_with_the_figures():
    r = _solve("3d", "cloud")
    top = r.tables["top"].rows[0]
    assert top[0] == 1
    assert top[2] == r.figure("mfu") and top[3] == r.figure("step_time_s")
    assert top[4] == r.figure("bubble_fraction") and top[5] == r.figure("memory_per_gpu")
    mem = {row[0]: row[1] for row in r.tables["memory_breakdown"].rows}
    assert mem["total"] == r.figure("memory_per_gpu")
    assert sum(v for k, v in mem.items() if k != "total") == pytest.approx(mem["total"], rel=1e-12)
    time = {row[0]: row[1] for row in r.tables["time_breakdown"].rows}
    assert time["step"] == r.figure("step_time_s")
    # the reports print the top row as the figures' own formats do: MFU to 0.1 point, memory in GB to 0.01
    md = r.to_markdown()
    row = next(line for line in md.splitlines() if line.startswith("| 1 | TP="))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[2] == f"{100 * r.figure('mfu'):.1f}%"
    assert cells[3] == f"{r.figure('step_time_s'):.4f}"
    assert cells[5] == f"{r.figure('memory_per_gpu') / 1e9:.2f} GB"


def test_the_memory_tables_agree_with_the_figures():
    """Restricted to the chosen optimizer, the cheapest fit is the chosen configuration: its row's memory is the
    optimum's total and its change the time-to-quality the figures give."""
    r = _solve("memory", "cloud")
    chosen = r.extra["configuration"]["optimizer"]
    row = next(row for row in r.tables["by_optimizer"].rows if row[0] == chosen)
    assert row[2] == pytest.approx(r.figure("optimum_total"), rel=1e-9)
    assert row[3] == pytest.approx(r.figure("time_to_quality_lost"), abs=1e-12)


# --- JSON carries numbers; reports saved before (strings) still render ------------------------------------------------

def test_json_carries_numbers_and_the_formats():
    r = _solve("3d", "cloud")
    d = r.to_dict()
    top = d["tables"]["top"]
    assert top["formats"] == ["", "", "percent", "fixed.4", "percent", "bytes"]
    assert all(isinstance(v, (int, float)) for v in top["rows"][0][2:])
    back = Report.from_dict(d)
    assert back.integrity == "verified" and back.tables == r.tables
    assert back.to_markdown() == r.to_markdown()
    assert "formats" not in d["tables"].get("sweep", {})  # a table without formats is saved as before


def _old_style(r: Report) -> dict:
    """The report as a file saved before this change held it: every cell of a formatted table the string the report
    printed, no formats, a checksum of that content."""
    d = copy.deepcopy(r.to_dict())
    for name, t in d["tables"].items():
        if "formats" in t:
            t["rows"] = r.tables[name].text_rows()
            del t["formats"]
    d["checksum"] = checksum_of(d)
    return d


@pytest.mark.parametrize("puzzle", ["3d", "memory"])
def test_a_report_saved_with_string_cells_renders_as_before(puzzle):
    r = _solve(puzzle, "cloud")
    old = Report.from_dict(_old_style(r))
    assert old.integrity == "verified"
    assert isinstance(old.tables[next(iter(old.tables))].rows[0][-1], (str, bool))
    assert old.to_markdown() == r.to_markdown()
    assert to_text(old, width=100) == to_text(r, width=100)
    assert old.to_html(full_page=False).count("<td") == r.to_html(full_page=False).count("<td")


def test_a_saved_report_with_a_bad_format_is_refused_by_name():
    d = _solve("3d", "cloud").to_dict()
    d["tables"]["top"]["formats"][2] = "{:999999999}"
    with pytest.raises(ValueError, match=r"tables\.top\.formats\[2\] must be '' or one of"):
        Report.from_dict(d)
    d["tables"]["top"]["formats"] = ["bytes"]
    with pytest.raises(ValueError, match="tables.top.formats has 1 entries for 6 columns"):
        Report.from_dict(d)


# --- no computer exponent in any report (alt text included) -----------------------------------------------------------

def test_the_comm_ratio_alt_text_says_6562_not_6_56e03():
    from explorer.reports.html import _r_comm_ratio

    text = _r_comm_ratio({"global_batch": [80_000, 2_000_000], "comm_to_compute": [6561.7, 262.3]}, None)
    assert "the ratio falls from 6,562 to 262" in text  # three significant digits, whole above 1,000


def test_no_report_prints_a_computer_exponent(all_reports):
    from explorer.reports.html import body
    from explorer.reports.plots import plot_names

    for (puzzle, track), r in all_reports.items():
        names = plot_names(r)
        md = to_markdown(r, images={n: f"{n}.png" for n in names})  # the alt text of every plot, as --out writes
        html = re.sub(r"src='data:[^']*'", "", body(r, {n: b"\x89PNG" for n in names}))
        for fmt, text in (("markdown", md), ("html", html)):
            hit = E_NOTATION.search(text)
            assert hit is None, f"{puzzle} {track} {fmt}: ...{text[max(0, hit.start() - 60):hit.end() + 20]}..."


# --- nits ------------------------------------------------------------------------------------------------------------

def test_a_million_tokens_per_second_is_whole_and_a_ratio_is_spelled_as_the_headline():
    assert fmt_value(1_083_976.1, "tokens/s") == "1,083,976 tokens/s"  # .1 rounds down
    assert fmt_value(1_083_976.6, "tokens/s") == "1,083,977 tokens/s"
    assert fmt_value(523.46, "tokens/s") == "523.5 tokens/s"  # below 10,000: one decimal, as before
    # a ratio: the digits every number of its size gets (three decimals at most), the x on the number as the prose
    # spells it ('1.48x faster', not '1.476 x'); the headline says the figure in the same words
    assert fmt_value(1.476, "x") == "1.476x"
    assert fmt_value(4.163, "x") == "4.163x"  # beside a Monte Carlo 4.156x: the digits that tell them apart stay
    assert fmt_value(2.0, "x") == "2x"
    r = _solve("3d", "cloud")
    ratio = r.figure("speedup_vs_crisis")
    assert 1 < ratio < 100  # three decimals at most, no trailing zeros (1.476x)
    shown = f"{ratio:.3f}".rstrip("0").rstrip(".") + "x"
    assert f"is {shown} faster" in r.headline
    assert f"| speedup vs crisis | {shown} |" in r.to_markdown()
    assert ".1 tokens/s" not in r.to_markdown()


def test_an_attempt_the_model_cannot_run_shows_dashes_in_markdown():
    from explorer.reports.attempts import attach_attempts

    r = attach_attempts(_solve("3d", "cloud"), ROOT / "docs/examples/attempts-3d-cloud.csv")
    lines = [line for line in r.to_markdown().splitlines() if "does not run ZeRO-2 with pipeline" in line]
    assert lines
    cells = [c.strip() for c in lines[0].strip().strip("|").split(" | ")]
    assert "" not in cells and cells.count("-") >= 2  # the figures it has none of, and its gap


def test_a_bad_figure_or_table_name_lists_the_names():
    r = _solve("3d", "cloud")
    assert Report.figure.__doc__
    with pytest.raises(KeyError) as e:
        r.figure("x")
    assert "no figure 'x' in this report" in str(e.value) and "'mfu'" in str(e.value)
    with pytest.raises(KeyError) as e:
        r.tables["x"]
    assert "no table 'x' in this report" in str(e.value) and "'top'" in str(e.value)
    assert r.tables.get("x") is None and "top" in r.tables
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.tables == dict(r.tables)
    with pytest.raises(KeyError, match="'top'"):
        back.tables["x"]
    loaded = Report.from_dict(r.to_dict())
    with pytest.raises(KeyError, match="'top'"):
        loaded.tables["x"]
