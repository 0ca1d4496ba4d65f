"""explore plan's status says what was proven (reviewers' defect 5): each candidate's 3D plan is a proven optimum,
the cluster is only the best of the sizes tried; a top-level "optimal" claimed more."""

import json
import os
import subprocess
import sys

from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import BEST_OF_TRIED, plan_training

A = load_assumptions()


def test_a_size_between_the_powers_of_two_can_be_cheaper_so_the_status_does_not_say_optimal():
    # Llama 3 405B on 15e12 tokens, H100: the default sizes are powers of two, and 448 (not one) is cheaper than 512
    p = plan_training(resolve_model("llama3_405b"), 15e12, gpu_types=["h100"], sizes=[448, 512], assumptions=A)
    by = {c.gpus: c for c in p.candidates}
    assert by[448].status == by[512].status == "optimal"  # each 3D plan proven for its cluster
    assert by[448].usd < by[512].usd  # ... and the power of two is not the cheapest cluster
    assert p.status == BEST_OF_TRIED and p.plan_status == "optimal" and p.best.gpus == 448
    text = " ".join(p.to_text().split())
    assert "Best (cheapest) of the 2 candidates tried: 448 x NVIDIA H100 SXM5 80GB" in text
    assert "its 3D plan proven optimal for that cluster" in text
    assert "the GPU count is the best of the 2 sizes listed, not of every size" in text


def test_json_status_of_a_plan():
    p = subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", "plan", "--model", "llama3_8b",
                        "--tokens", "1e11", "--gpu", "h100", "--gpus", "64", "--global-batch", "256", "--format",
                        "json"], capture_output=True, text=True, timeout=120, cwd="/tmp", env=dict(os.environ))
    d = json.loads(p.stdout)
    assert (d["status"], d["plan_status"]) == ("best of the candidates tried", "optimal")
