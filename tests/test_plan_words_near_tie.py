"""explore plan names a near tie (reviewers' defect 6): 'cheapest' picked a 1,145-day run on 16 H100s over a
143-day run on 128 that costs 0.23% more, far inside the model's stated error, without a word."""

import json
from pathlib import Path

from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import plan_training

A = load_assumptions()
ACCURACY = json.loads((Path(__file__).resolve().parent.parent / "explorer" / "data" / "reference" /
                       "accuracy.json").read_text())
MEDIAN = next(g for g in ACCURACY["groups"] if (g["framework"], g["family"], g["precision"]) ==
              ("megatron", "Hopper", "all"))["median_abs_error"]


def test_a_runner_up_within_the_error_and_much_faster_is_named_without_changing_the_objective():
    p = plan_training(resolve_model("llama3_8b"), 15e12, gpu_types=["h100"], sizes=[16, 128], assumptions=A)
    by = {c.gpus: c for c in p.candidates}
    assert p.best is by[16]  # cheapest: the objective is kept
    excess = by[128].usd / by[16].usd - 1
    assert 0 < excess < MEDIAN  # 0.23% more, under the 4.7% median miss
    assert by[16].train_s / by[128].train_s > 7  # 8 times the GPUs, nearly 8 times faster
    tie = p.near_tie()
    assert tie["candidate"] is by[128] and tie["objective_excess"] == excess
    text = " ".join(p.to_text().split())
    assert (f"near tie: 128 x NVIDIA H100 SXM5 80GB on InfiniBand NDR 400 Gb/s (per GPU) costs $1.32M, {excess:.2%} "
            "more") in text
    assert f"within the model's median miss of {MEDIAN:.1%} on " in text and "The objective stays cost" in text
    assert p.to_dict()["near_tie"]["gpus"] == 128


def test_no_near_tie_when_the_runner_up_is_far_dearer():
    # 16 and 4,096 H100s: a 256x larger cluster cannot keep the cost within 5% (MFU and goodput fall with size)
    p = plan_training(resolve_model("llama3_8b"), 15e12, gpu_types=["h100"], sizes=[16, 4096], assumptions=A)
    by = {c.gpus: c for c in p.candidates}
    assert by[4096].usd > by[16].usd * (1 + MEDIAN)
    assert p.near_tie() is None and "near tie" not in p.to_text()
