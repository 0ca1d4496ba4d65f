"""The Python API's Estimate in a notebook: to_dict beside as_dict, and an HTML view of its own figures."""

from __future__ import annotations

import dataclasses
import re

import pytest

import explorer
from explorer.api import custom_model


@pytest.fixture(scope="module")
def est():
    # Llama-3-8B on one DGX H100, pure data parallel: a step of several seconds, and it does not fit (ZeRO-0 Adam
    # keeps 16 bytes per parameter, 128 GB, beside the activations: more than an 80 GB H100 holds)
    return explorer.estimate(model="llama3_8b", gpus=8, tp=1, pp=1, micro_batch=1, global_batch=64)


def test_to_dict_is_the_cli_json(est):
    # to_dict is what `explore estimate --format json` writes (the stack inputs included); as_dict the raw bytes
    import json

    from click.testing import CliRunner

    from explorer.cli import main

    assert est.to_dict()["memory_per_gpu_gb"] == est.as_dict()["memory_total"] / 1e9
    assert est.to_dict()["step_time_s"] == est.step_time_s
    res = CliRunner().invoke(main, ["estimate", "--model", "llama3_8b", "--gpus", "8", "--tp", "1", "--pp", "1",
                                    "--micro-batch", "1", "--global-batch", "64", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == json.loads(json.dumps(est.to_dict()))
    assert {"recompute_every", "fp8_all_gather", "grad_accumulation_fusion", "cross_entropy"} <= set(est.to_dict())


def _balanced(html: str) -> bool:
    for tag in ("div", "table", "thead", "tbody", "tr", "td", "th", "p", "details", "summary", "ul", "li", "b"):
        opened = len(re.findall(rf"<{tag}[\s>]", html))
        if opened != html.count(f"</{tag}>"):
            return False
    return True


def test_the_html_view_shows_the_figures_the_estimate_holds(est):
    html = est._repr_html_()
    assert html.startswith("<div class='explorer-estimate'>") and html.endswith("</div>") and _balanced(html)
    assert 1 <= est.step_time_s < 3600  # shown in seconds with three decimals, as every report shows a step
    assert re.search(rf"<td>step time</td><td[^>]*>{est.step_time_s:.3f} s</td>", html)
    assert f"{100 * est.mfu:.1f}%" in html  # MFU as a percentage with one decimal
    assert est.tokens_per_s >= 1e4 and f">{est.tokens_per_s:,.0f}<" in html  # whole from 10,000 up: 76,095
    # memory against the limit, in GB (1e9 bytes, two decimals), and the verdict
    assert f"{est.memory_total / 1e9:.2f} GB of {est.memory_limit / 1e9:.2f} GB" in html
    assert ("does NOT fit" in html) == (est.memory_total > est.memory_limit)
    # both breakdowns: a row for every part the estimate holds
    assert html.count("<table>") == 3
    for part in est.memory:
        assert f"<td>{part}</td>" in html
    assert "<td>exposed data-parallel sync</td>" in html and "<td>optimizer step</td>" in html


def test_the_html_view_escapes_text():
    m = custom_model(layers=4, hidden=512, heads=8, name="<script>alert('x')</script> & co")
    html = explorer.estimate(model=m, gpus=1, micro_batch=1, global_batch=1)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; co" in html and _balanced(html)


def test_a_non_finite_estimate_is_refused_not_shown(est):
    bad = dataclasses.replace(est, step_time_s=float("nan"))
    html = bad._repr_html_()
    assert "refused" in html and "step_time_s" in html and "nan" not in html.lower().replace("non-finite", "")
    assert _balanced(html)


def test_estimate_repr_names_its_class_and_a_3d_answer_serialises():
    import json

    e = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=8, dp=16, micro_batch=2, global_batch=512)
    assert repr(e).startswith("<Estimate TP=8 PP=8 DP=16") and "MFU" in repr(e)
    res = explorer.solve_3d("cloud", gpus=64, model="llama3_8b", global_batch=64)
    assert res.to_dict()["puzzle"] == "3d" and json.loads(res.to_json())["track"] == "cloud"
