"""explore plan says how far to trust its answer: the accuracy line of explorer.accuracy, a size past the largest
published run, and a deadline or budget met by less than the model's stated error (reviewers' defect 1)."""

import json
from pathlib import Path

import pytest

from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import largest_published_run, plan_training

A = load_assumptions()
ACCURACY = json.loads((Path(__file__).resolve().parent.parent / "explorer" / "data" / "reference" /
                       "accuracy.json").read_text())
# The stated error of Megatron-LM on Hopper GPUs, as accuracy.json stores it (explore validate, out of sample)
HOPPER = next(g for g in ACCURACY["groups"] if (g["framework"], g["family"], g["precision"]) ==
              ("megatron", "Hopper", "all"))


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tight():
    # the reviewers' command, on the one size that meets it: Llama 3 405B, 15e12 tokens, 65 days
    return plan_training(resolve_model("llama3_405b"), 15e12, gpu_types=["h100"], sizes=[16384], deadline_days=65,
                         assumptions=A)


def test_a_deadline_met_by_less_than_the_median_miss_says_so(tight):
    b = tight.best
    assert b is not None and b.gpus == 16384
    # the room: a run whose throughput is e% below the prediction takes (1 + e) times as long, so it misses the
    # deadline when e > deadline / predicted time - 1
    margin = 65 * 86400 / b.train_s - 1
    t = tight.trust()
    assert t["margins"]["deadline"] == pytest.approx(margin)
    assert 0 < margin < HOPPER["median_abs_error"]  # 64.3 of 65 days: about 1% of room, under the 4.7% median
    text = _flat(tight.to_text())
    assert f"met with {margin:.1%} to spare, less than the model's median miss of " \
           f"{HOPPER['median_abs_error']:.1%}" in text
    assert f"at most {HOPPER['max_abs_error']:.1%}" in text
    # the accuracy line of solve 3d, word for word
    from explorer.accuracy import accuracy_line

    assert _flat(accuracy_line("megatron", "h100_sxm", "NVIDIA H100 SXM", "bf16"))[:120] in text
    assert tight.to_dict()["trust"]["model_error"]["median"] == HOPPER["median_abs_error"]


def test_a_size_past_the_largest_published_run_is_called_an_extrapolation():
    # Llama 3 Table 4 (arXiv 2407.21783): 16,384 H100s, the largest Hopper run in the reference tables
    big = largest_published_run("h100_sxm")
    assert big["gpus"] == 16384 and big["table"] == "llama3_table4"
    p = plan_training(resolve_model("llama3_405b"), 15e12, gpu_types=["h100"], sizes=[65536], budget_usd=120e6,
                      assumptions=A)
    text = _flat(p.to_text())
    assert "65,536 GPUs is 4x the largest published Hopper run" in text and "beyond the validated range" in text
    m = p.trust()["margins"]["budget"]
    assert m == pytest.approx(120e6 / p.best.usd - 1)
    assert HOPPER["median_abs_error"] < m < HOPPER["max_abs_error"]
    assert f"more than the model's median miss on {HOPPER['rows']} published runs" in text
    assert "less than its largest" in text


def test_a_margin_is_not_set_against_runs_that_do_not_check_the_plans_precision():
    # accuracy.json: every published Megatron-LM run on Blackwell trained in FP8; a BF16 plan on B200 is unchecked
    groups = {g["precision"]: g for g in ACCURACY["groups"] if (g["framework"], g["family"]) == ("megatron",
                                                                                                  "Blackwell")}
    assert groups["fp8"]["rows"] == groups["all"]["rows"]
    p = plan_training(resolve_model("llama3_8b"), 1e11, gpu_types=["b200"], sizes=[64], global_batch=256,
                      deadline_days=30, assumptions=A)
    assert p.best is not None and p.trust()["model_error"]["uncovered"] == "all of them trained in FP8"
    text = _flat(p.to_text())
    assert "all of them trained in FP8, so nothing has checked this plan's speed" in text
    assert "more than the model's largest miss" not in text


def test_no_size_line_within_the_published_range(tight):
    assert "beyond the validated range" not in tight.to_text()
