"""From a notebook: short reprs (the headline), HTML without the page chrome, the report in every format from
Python, the version from the installed metadata, and keyword mistakes as one-line TypeErrors."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

import explorer
from explorer.report import Report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny3d():
    return explorer.solve_3d("tiny", gpus=100)  # the datacenter form on the fleet's 100 earbuds, asked for by gpus


def one_line(s: str, limit: int = 300) -> bool:
    return "\n" not in s and len(s) <= limit


def test_version_comes_from_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert explorer.__version__ == cfg["metadata"]["version"]
    assert "__version__" in explorer.__all__


def test_result_reprs_are_the_headline(tiny3d):
    res = tiny3d
    r = repr(res)
    assert one_line(r) and r.startswith("<ThreeDResult [tiny] optimal:")
    assert res.best.plan.describe() in r and f"MFU {res.best.mfu:.1%}" in r
    e = repr(res.best)
    assert one_line(e) and res.best.plan.describe() in e and "per device (fits)" in e
    rep = res.report
    assert one_line(repr(rep)) and repr(rep).startswith("<Report 3d [tiny] optimal: ")
    assert str(rep) != repr(rep) and str(rep).startswith("Lab 05 part 2: The parallelism puzzle [tiny]")
    est = repr(explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=8, dp=16, micro_batch=2, global_batch=512))
    assert one_line(est) and est.startswith("<Estimate TP=8 PP=8 DP=16")
    t = repr(explorer.get_track("cloud"))
    assert one_line(t) and "1,024" in t


def test_long_headline_is_cut_in_the_repr():
    r = Report(puzzle="p", lab="05", part=1, track="cloud", title="T", status="computed", headline="word " * 100)
    assert one_line(repr(r), 220) and repr(r).endswith("...>")


def test_other_results_have_short_reprs():
    from explorer.validate import validate

    for table in validate():
        assert one_line(repr(table)) and table.key in repr(table) and "median |error|" in repr(table)


def test_report_formats_from_python(tiny3d):
    rep = tiny3d.report
    assert json.loads(rep.to_json())["puzzle"] == "3d"
    assert Report.from_dict(json.loads(rep.to_json())).headline == rep.headline
    md = rep.to_markdown()
    assert md.startswith("# Lab 05 part 2") and "## Constraints" in md
    text = rep.to_text(width=60)
    assert max(len(line) for line in text.splitlines()) <= 60
    page = rep.to_html()
    assert page.startswith("<!doctype html>") and "<body>" in page
    frag = rep._repr_html_()
    assert frag.startswith("<div class='explorer-report'>") and "<html" not in frag and "<body" not in frag
    assert "<h1>" in frag and "data:image/png;base64," in frag  # the plots come along
    # the styles are scoped: nothing in the fragment restyles the notebook around it
    style = frag[frag.index("<style>") + 7:frag.index("</style>")]
    # (an @media block's own rules count: its condition is not a selector, the rules inside it must be scoped)
    import re

    flat = re.sub(r"@media[^{]*\{", "", style.replace("\n", ""))
    rules = [r for r in flat.split("}") if r.strip()]
    assert all(sel.strip().startswith(".explorer-report") for r in rules for sel in r.split("{")[0].split(","))
    assert not re.search(r"@media[^{]*\{\s*(?!\.explorer-report)[a-z*#]", style)
    assert tiny3d._repr_html_() == frag


def test_misspelt_keyword_is_a_type_error_with_a_suggestion():
    with pytest.raises(TypeError) as exc:
        explorer.solve("scaling", threshhold=0.9)
    msg = str(exc.value)
    assert "\n" not in msg and "'threshhold'" in msg and "did you mean 'threshold'?" in msg
    assert "allowed: track, fabric, threshold" in msg


@pytest.mark.parametrize("call,match", [
    (lambda: explorer.solve_3d("cloud", gpu=128), r"gpu must be str or None, got int 128; valid: .*h100_sxm"),
    (lambda: explorer.solve_3d("cloud", gpus="128"), r"gpus must be int or None, got str '128'"),
    (lambda: explorer.solve_3d(128), r"track must be str or Track, got int 128"),
    (lambda: explorer.solve_3d("cloud", max_buble=0.2), r"unexpected keyword argument 'max_buble' \(did you mean "
                                                         r"'max_bubble'\?\); allowed: .*max_bubble"),
    (lambda: explorer.solve("3d", gpu_count=8), r"explorer.solve\('3d'\) got an unexpected keyword .*'gpu_count'"),
    (lambda: explorer.estimate(gpus_total=8), r"explorer.estimate\(\) got an unexpected keyword .*allowed: track"),
    (lambda: explorer.estimate(tp="8"), r"tp must be int, got str '8'"),
])
def test_bad_keywords_are_one_line_type_errors(call, match):
    with pytest.raises(TypeError, match=match) as exc:
        call()
    assert "\n" not in str(exc.value)


def test_every_puzzle_option_is_followed():
    """The keyword check follows each puzzle's options to where they are used; none is left unchecked."""
    from explorer.keywords import accepted
    from explorer.puzzles import PUZZLES

    for name, info in PUZZLES.items():
        allowed = accepted(info.load().solve)
        assert allowed is not None and "track" in allowed, name
    assert {"max_bubble", "gpu", "global_batch", "time_limit"} <= set(accepted(explorer.solve_3d))


def test_right_keywords_still_work(tiny3d):
    res = explorer.solve_3d("tiny", gpus=100, max_bubble=0.5, top=1, explain=False)
    assert res.best.step_time_s <= tiny3d.best.step_time_s + 1e-12  # a looser bubble limit never hurts
