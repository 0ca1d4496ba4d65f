"""Whole nodes above one node, a part of one node below it, said the same way by plan and check (reviewers' defects
10 and 14): --gpus 12 was 'not a multiple of gpus-per-node 8' while 7 was priced as 7 GPUs without a word, and check
advised a --gpus-per-node it does not have."""

import os
import subprocess
import sys

from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import CANNOT_RUN, plan_training

A = load_assumptions()


def _cli(args):
    return subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", *args], capture_output=True,
                          text=True, timeout=120, cwd="/tmp", env=dict(os.environ))


def test_a_partial_node_is_said_and_a_count_between_nodes_cannot_run():
    # DGX H100: 8 GPUs per node (NVIDIA DGX H100 user guide). 7 < 8: part of one node; 12 = 1.5 nodes: neither
    p = plan_training(resolve_model("llama3_8b"), 1e11, gpu_types=["h100"], sizes=[7, 12], global_batch=252,
                      assumptions=A)
    by = {c.gpus: c for c in p.candidates}
    assert by[12].status == CANNOT_RUN and "12 GPUs are not whole 8-GPU DGX H100 nodes" in by[12].reason
    assert "(8 or 16)" in by[12].reason
    assert by[7].status == "optimal" and p.best is by[7]
    text = " ".join(p.to_text().split())
    assert "7 GPUs are part of one 8-GPU DGX H100 node: priced per GPU-hour" in text


def test_plan_with_only_counts_between_nodes_is_exit_2():
    p = _cli(["plan", "--model", "llama3_8b", "--tokens", "1e11", "--gpu", "h100", "--gpus", "12"])
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "not whole 8-GPU" in p.stderr, p.stderr


def test_check_names_counts_it_takes_not_an_option_it_lacks():
    # DGX H100, 8 GPUs per node: 12 is 1.5 nodes; check has no --gpus-per-node, so the advice is the counts it takes
    p = _cli(["check", "--model", "llama3_8b", "--gpu", "h100", "--gpus", "12", "--mfu", "0.4"])
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "--gpus-per-node" not in p.stderr and "give 8 or 16 (whole nodes), or 7 or fewer" in p.stderr
    # following the advice works
    ok = _cli(["check", "--model", "llama3_8b", "--gpu", "h100", "--gpus", "16", "--mfu", "0.4", "--no-bound"])
    assert ok.returncode == 0, ok.stderr
