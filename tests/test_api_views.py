"""What a notebook shows for the pieces of a result (sweep C items 7, 8, 11): ThreeDResult.binding is a readable
table of the limits at the answer, not the explainer's internal dict (kept as .raw); an estimate's breakdowns have
views whose names say their units; a report's Table prints as the text table, with an HTML view, never a numpy
repr; and the README's `>>> res` line is what `res` prints."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import explorer
from explorer.report import Table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cloud():
    return explorer.solve_3d("cloud")


@pytest.fixture(scope="module")
def tiny():
    return explorer.solve_3d("tiny", gpus=100)  # fast; the datacenter form on 100 devices


# --- item 7: res.binding -------------------------------------------------------------------------------------------
def test_binding_prints_the_limits_not_the_explainer_internals(tiny):
    b = tiny.binding
    text = repr(b)
    # the explainer's keys and its unrounded what-if data are not what a student reads
    for internal in ("analysed", "enumeration_time_s", "exhaustive_best_step_s", "cross_check_ok", "{'"):
        assert internal not in text, text
    assert text.startswith("Binding constraints at the optimum")
    assert "constraint" in text and "slack" in text and "binds" in text and ".raw" in text
    assert b._repr_html_().startswith("<div class='explorer-report'>") and "<table>" in b._repr_html_()
    assert "analysed" not in b._repr_html_()


def test_binding_rows_are_the_limits_with_units_and_slack(tiny):
    res = tiny
    rows = {c.constraint: c for c in res.binding.constraints}
    assert set(rows) == {"memory per device", "bubble fraction", "TP within a node"}
    mem = rows["memory per device"]
    assert (mem.value, mem.limit, mem.unit) == (res.best.memory_total, res.instance.limit, "B")
    assert mem.slack == mem.limit - mem.value  # slack of a <= limit: what is left under it
    p = res.best.plan
    bub = rows["bubble fraction"]
    # the 1F1B bubble with v interleaved chunks and m micro-batches: (p - 1) / (v m + p - 1) (Narayanan et al. 2021)
    assert bub.value == pytest.approx((p.pp - 1) / (p.virtual_stages * p.num_micro_batches + p.pp - 1))
    assert bub.unit == "fraction" and bub.limit == pytest.approx(float(res.instance.max_bubble))
    # which limits bind agrees with the report's Constraints table
    report_binds = {c.name for c in res.report.constraints if c.binding and c.sense != "=="}
    assert set(res.binding.names) == report_binds
    for c in res.binding.constraints:
        assert not re.search(r"\d{7,}", repr(c)), repr(c)  # rounded with units: never 50889987264 bytes


def test_binding_keeps_the_raw_dict_for_code_that_read_it(tiny):
    b = tiny.binding
    raw = b.raw
    assert isinstance(raw, dict) and raw["analysed"] is True
    assert b["cross_check_ok"] == raw["cross_check_ok"] and b.get("memory") == raw["memory"]
    assert dict(b) == raw and len(b) == len(raw)


def test_binding_names_the_best_plan_without_a_binding_limit(cloud):
    res = cloud
    for c in res.binding.constraints:
        key = {"memory per device": "memory", "bubble fraction": "bubble"}.get(c.constraint)
        info = res.binding.raw.get(key, {}) if key else {}
        if c.binds and info.get("plan"):
            assert info["plan"] in c.without_it and f"MFU {info['mfu']:.1%}" in c.without_it
            assert f"without the {c.constraint} limit: " in repr(res.binding)
        else:
            assert c.without_it == ""


def test_estimate_breakdowns_have_views_that_name_their_units(tiny):
    best = tiny.best
    assert best is tiny.top[0]  # the plans are the same objects after the API's conversion
    assert isinstance(best, explorer.api.Estimate)
    assert set(best.memory_gb) == set(best.memory)
    for k, v in best.memory.items():
        assert best.memory_gb[k] == pytest.approx(v / 1e9)  # GB = 1e9 bytes, as to_frame()'s memory_gb
    assert best.time_s == best.time and best.time_s is not best.time
    html = best._repr_html_()
    assert "Memory per device" in html and re.search(r">[\d.,]+ ([kKMG]B)<", html)
    # explorer.estimate's Estimate has them too
    e = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=8, dp=16, micro_batch=2, global_batch=512)
    assert e.memory_gb["weights"] == pytest.approx(e.memory["weights"] / 1e9)


# --- item 8: report.tables[...] ------------------------------------------------------------------------------------
NUMPY_ROWS = [[1, "yes", 700, np.float64(23.012652473261678), 1877.2281921953122, np.float64(0.18646458534580893)],
              [2, "no", np.int64(616), np.float32(23.25), np.int64(1871), None]]


def test_a_table_prints_as_the_text_table_never_a_numpy_repr():
    t = Table(["H", "allowed", "rounds", "round (s)", "rounds/day", "days to target"], NUMPY_ROWS,
              "Synchronisation period")
    text = repr(t)
    assert "np." not in text and "float64" not in text and "Table(columns" not in text
    lines = text.splitlines()
    assert lines[0] == "Synchronisation period" and lines[1].split() == ["H", "allowed", "rounds", "round", "(s)",
                                                                          "rounds/day", "days", "to", "target"]
    # the cells as the reports format them: 23.0127 -> 23.013 (3 decimals from 1 up, no padding zeros:
    # 23.25 stays 23.25), 1877.23 -> 1,877.2,
    # 0.186465 -> 0.1865 (4 significant digits below 1), None -> '-'
    assert lines[3].split() == ["1", "yes", "700", "23.013", "1,877.2", "0.1865"]
    assert lines[4].split() == ["2", "no", "616", "23.25", "1,871", "-"]
    assert str(t) == text
    assert max(len(line) for line in t.to_text(width=40).splitlines()) <= 40


def test_a_table_has_an_html_view_with_the_same_cells():
    t = Table(["H", "round (s)"], [[1, np.float64(23.012652473261678)]], "Synchronisation period")
    html = t._repr_html_()
    assert html.startswith("<div class='explorer-report'>") and "<table>" in html
    assert "<b>Synchronisation period</b>" in html and ">23.013<" in html and "np." not in html


def test_report_tables_show_formatted_in_a_notebook(tiny):
    for name, t in tiny.report.tables.items():
        assert "np.float" not in repr(t) and "np.float" not in t._repr_html_(), name
        assert t.to_frame().shape == (len(t.rows), len(t.columns))


def test_readme_names_the_dataframe_method_and_the_views():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ".to_frame()" in text.split("From Python or a notebook")[1].split("## ")[0]
    for name in (".binding", ".raw", "memory_gb", "time_s"):
        assert name in text, name


# --- item 11: the README's `>>> res` line is what res prints ----------------------------------------------------
def test_readme_res_line_is_what_res_prints(cloud):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^>>> res\n(<ThreeDResult .*>)$", text, re.M)
    assert m, "README lost its `>>> res` example"

    def without_time(s: str) -> str:  # the solver's wall time differs from run to run
        return re.sub(r"(cpsat|enumerate) \d+\.\d+ s>$", r"\1 N s>", s)

    assert without_time(m.group(1)) == without_time(repr(cloud))
