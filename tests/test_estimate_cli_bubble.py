"""The estimate headline's bubble: the schedule's idealised fraction and this step's time share, each what it says."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from explorer.cli import main


def _run(*argv: str):
    return CliRunner().invoke(main, list(argv), catch_exceptions=True)


def test_headline_bubble_names_both_figures_and_the_time_share_is_the_breakdowns():
    argv = ["estimate", "--model", "llama3_8b", "--gpus", "64", "--tp", "2", "--pp", "8", "--global-batch", "32"]
    res = _run(*argv)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    # Hand: DP = 64 / (2 x 8) = 4, m = 32 / 4 = 8 micro-batches of 1, v = 1: (p - 1)/(v m + p - 1) = 7/15 = 46.7%
    assert "bubble 46.7% of the schedule" in text
    data = json.loads(_run(*argv, "--format", "json").output)
    share = data["time_breakdown_s"]["bubble"] / data["step_time_s"]  # the breakdown's own bubble over its step
    assert data["bubble_time_share"] == share
    assert f"{100 * share:.1f}% of this step's time" in text
    assert abs(data["bubble_fraction"] - 7 / 15) < 1e-12


def test_no_pipeline_no_bubble_words():
    res = _run("estimate", "--model", "llama3_8b", "--gpus", "8", "--global-batch", "8")
    assert res.exit_code == 0, res.output
    assert "no pipeline bubble (PP = 1)" in res.output and not re.search(r"bubble \d", res.output)


def test_bare_estimate_is_the_tracks_crisis_plan():
    # README: students start from TP=8, PP=8, DP=16, micro-batch 2 (16 micro-batches, a 7/23 = 30.4% bubble); a bare
    # `explore estimate` evaluated TP = PP = 1 on 1,024 GPUs and could only fail (512 sequences over DP 1,024)
    res = _run("estimate")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert text.startswith("Configuration: TP=8 PP=8 DP=16 mb=2 (x16)")
    assert "bubble 30.4% of the schedule" in text and "No plan given: the Cloud Titan track's crisis plan" in text
    # any plan option given: the options as given (TP 1 on 1,024 GPUs cannot split the batch: one-line error)
    res = _run("estimate", "--tp", "1")
    assert res.exit_code == 2 and "give --global-batch as a multiple of 1,024" in res.output
