"""The Python API as a new user meets it (audit of 2026-12-08): no scientific notation in what it prints, plan
variables pinned with fix= (a dict or the CLI's text), the error classes exported, arguments checked alike (switches
as bools, choice names in any case), a solver's plan evaluated again with estimate(plan=), and the objects
documented and convertible (str, to_text/to_markdown/to_html, to_json, to_dict)."""

from __future__ import annotations

import json
import re

import pytest

import explorer
from explorer.errors import InfeasibleError, UsageError

SCI = re.compile(r"\de[+-]\d")  # '2.007e+05', '3e+04', '1e-07'


@pytest.fixture(scope="module")
def res():
    return explorer.solve_3d("cloud")


# --- 1. no scientific notation ------------------------------------------------------------------------------------
def test_a_step_of_days_over_bluetooth_prints_without_an_exponent():
    # Llama 3 70B's gradients over BLE: the step is days long (before: 'step 2.007e+05 s', 'MFU 0.0%')
    e = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=8, micro_batch=2, global_batch=512,
                          network="ble")
    text = repr(e)
    assert not SCI.search(text), text
    step = re.search(r"step ([\d,]+) s", text)
    assert step and abs(float(step.group(1).replace(",", "")) - e.step_time_s) <= 0.5  # whole seconds
    mfu = re.search(r"MFU ([\d.]+)%", text)
    assert mfu and float(mfu.group(1)) > 0  # a share below 0.05 % keeps its digits: not '0.0%'
    assert abs(float(mfu.group(1)) / (100 * e.mfu) - 1) < 0.05  # two significant digits
    anyfw = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=8, micro_batch=2, global_batch=512,
                              network="ble", framework="any")
    note = next(a.text for a in anyfw.assumptions() if a.text.startswith("--framework any"))
    assert not SCI.search(note) and not SCI.search(repr(anyfw)), note


def test_the_crossover_legend_says_alpha_in_ms():
    from explorer.reports.plots import crossover

    # the edge track's alpha: 30 ms = 3e4 us (before: 'alpha = 3e+04 us')
    data = {"message_bytes": [1e3, 1e6], "times_s": {"ring": [0.1, 1.0], "tree": [0.05, 2.0]}, "n": 64,
            "alpha_s": 0.03, "bandwidth_bps": 1.25e6}
    fig = crossover.draw(data, None)
    title = fig.axes[0].get_legend().get_title().get_text()
    assert "alpha = 30 ms" in title and not SCI.search(title), title


def test_a_crossover_at_the_limits_of_its_inputs_reads_without_exponents():
    from explorer.reports.plots import draw

    # the largest alpha (10 s per message) over the slowest link allowed (1,000 B/s): 'alpha = 1e+07 us' before
    report = explorer.solve("crossover", track="cloud", alpha_s=10.0, bandwidth_bps=1000.0)
    assert not SCI.search(report.to_text()) and not SCI.search(report.to_markdown())
    title = draw("crossover", report).axes[0].get_legend().get_title().get_text()
    assert "alpha = 10 s" in title and "B = 1 kB/s" in title, title  # 1,000 B = 1 kB (SI)


def test_figure_and_prose_helpers_never_print_an_exponent():
    from explorer.reports.plots import style

    from explorer.puzzles.crossover.words import rate_words

    assert style.human_bytes(5e15) == "5,000 TB"  # 5e15 B / 1e12 B per TB
    assert style.human_count(2.5e12) == "2,500G"  # 2.5e12 / 1e9
    assert rate_words(3e16) == "30,000 TB/s"  # 3e16 / 1e12
    assert not SCI.search(rate_words(5e-3))


# --- 2. pinning from Python ---------------------------------------------------------------------------------------
def test_a_plan_variable_as_a_keyword_says_to_pin_it_with_fix():
    from explorer.puzzles.threed.space import FIXABLE

    for name in FIXABLE:
        if name == "framework":  # a keyword of solve_3d's own
            continue
        with pytest.raises(TypeError) as err:
            explorer.solve_3d("cloud", **{name: 2})
        msg = str(err.value)
        assert f"fix={{{name!r}:" in msg and "did you mean" not in msg, msg


def test_fix_takes_the_clis_text(res):
    by_text = explorer.solve_3d("cloud", fix="tp=4,pp=4", top=1)
    by_dict = explorer.solve_3d("cloud", fix={"tp": 4, "pp": 4}, top=1)
    assert (by_text.best.plan.tp, by_text.best.plan.pp) == (4, 4)  # the pins hold (the optimum has TP 8, PP 2)
    assert (res.best.plan.tp, res.best.plan.pp) != (4, 4)
    assert by_text.best.plan == by_dict.best.plan
    with pytest.raises(UsageError, match=r"fix: unknown name 'bogus'; valid: tp, pp"):
        explorer.solve_3d("cloud", fix="tp=8,bogus=1")


# --- 3. exceptions ------------------------------------------------------------------------------------------------
def test_the_error_classes_are_exported_and_usage_errors_are_value_errors():
    for name in ("ExplorerError", "UsageError", "InfeasibleError", "NoAnswerError", "NonFiniteError"):
        assert name in explorer.__all__ and issubclass(getattr(explorer, name), Exception)
    assert explorer.UsageError is UsageError and explorer.InfeasibleError is InfeasibleError
    assert issubclass(UsageError, ValueError) and not issubclass(InfeasibleError, ValueError)
    with pytest.raises(ValueError, match="TP 3 must divide the heads"):  # Llama 3 70B: 64 query heads
        explorer.estimate(model="llama3_70b", gpus=1024, tp=3, pp=1, dp=None, global_batch=1024 * 3)


def test_an_unknown_binding_key_names_the_valid_ones(res):
    with pytest.raises(KeyError) as err:
        res.binding["x"]
    assert "'memory'" in str(err.value) and "'bubble'" in str(err.value)
    d = res.binding.to_dict()
    assert d["binding"] == res.binding.names and len(d["constraints"]) == len(res.binding.constraints)
    json.dumps(d, allow_nan=False)


# --- 4. argument checks alike ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: explorer.estimate(sequence_parallel=0),
    lambda: explorer.solve("sync", zero=-1),
    lambda: explorer.solve("sync", zero=10**12),
    lambda: explorer.solve("dataloader", check=-1),
])
def test_a_switch_takes_a_bool_only(call):
    with pytest.raises(TypeError, match=r"must be bool \(True or False\)( or None)?, got int"):
        call()


def test_choice_names_are_read_in_any_case(res):
    plan = res.best.plan
    lower = explorer.estimate(plan=plan, precision="fp8")
    upper = explorer.estimate(plan=plan, precision="FP8")
    assert upper.setup.precision == "fp8" and upper.step_time_s == lower.step_time_s
    full = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=8, micro_batch=2, global_batch=512,
                             recompute="FULL")
    assert full.plan.recompute == "full"  # not the track's crisis plan's selective
    report = explorer.solve("DATALOADER")
    assert report.puzzle == "dataloader"


# --- 5. estimate(plan=) -------------------------------------------------------------------------------------------
def test_estimate_of_the_solvers_plan_reproduces_its_figures(res):
    for e in res.top:
        again = explorer.estimate(plan=e.plan)
        assert abs(again.step_time_s - e.step_time_s) <= 1e-9 and abs(again.mfu - e.mfu) <= 1e-12
    with pytest.raises(UsageError, match=r"tp=4 beside plan= \(whose tp=8\)"):
        explorer.estimate(plan=res.best.plan, tp=4)
    # None is 'not given' (as the CLI passes an unset option): the plan's value stands
    assert explorer.estimate(plan=res.best.plan, recompute=None).plan == res.best.plan
    with pytest.raises(TypeError, match="plan must be ParallelPlan"):
        explorer.estimate(plan={"tp": 8})


# --- 6. discoverability -------------------------------------------------------------------------------------------
def test_help_names_the_calls_the_puzzles_and_their_keywords():
    doc = explorer.__doc__
    for word in ("solve_3d", "estimate", "UsageError", "InfeasibleError", "NoAnswerError", "fix="):
        assert word in doc, word
    sdoc = explorer.solve.__doc__
    from explorer.puzzles import PUZZLES

    for name in PUZZLES:
        assert re.search(rf"^{re.escape(name)} +lab 0\d part \d", sdoc, re.M), name
    assert "threshold" in sdoc and "max_devices" in sdoc  # scaling's keywords, read from its solve()


def test_the_3d_answer_renders_as_its_report(res):
    assert str(res) == res.report.to_text()
    assert res.to_markdown() == res.report.to_markdown()
    assert res.to_html(full_page=False) == res.report.to_html(full_page=False)
    assert repr(res).startswith("<ThreeDResult [cloud] optimal:")


def test_estimate_to_json_and_its_memory_table_header(res):
    e = explorer.estimate(plan=res.best.plan)
    assert json.loads(e.to_json()) == json.loads(json.dumps(e.to_dict()))
    html = e._repr_html_()
    assert "<th style='text-align:right'>memory</th>" in html and ">bytes<" not in html
