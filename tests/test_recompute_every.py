"""Full recompute of every k-th layer only (Setup.recompute_every): torchtitan's selective layer AC and fms-fsdp's
selective_checkpointing. A layer either replays its forward (keeping only its input) or keeps everything, so a
stage of such layers costs the two mixed: derived here by hand from the all-or-nothing figures."""

from __future__ import annotations

from dataclasses import replace

import pytest
from explorer.hardware.catalog import build_cluster
from explorer.models.catalog import get_model

from explorer.cost.setup import Setup
from explorer.cost.step import evaluate
from explorer.errors import UsageError


def _setup(**kw) -> Setup:
    return Setup(get_model("llama2_13b"), build_cluster("a100_80gb", 64, 8, "nvlink3", "ib_hdr"), 4096,
                 fused_kernels=False, **kw)


def _step(s: Setup, recompute: int) -> dict:
    # 64 GPUs, FSDP 64 (ZeRO-3, framework code 2), micro-batch 2, one micro-batch per step
    return evaluate(s, 1, 1, 1, 64, 1, 2, 1, 3, recompute, 0, 2, 0)


def test_every_second_layer_is_the_mean_of_none_and_full():
    none, full = _step(_setup(), 0), _step(_setup(), 2)
    half = _step(_setup(recompute_every=2), 2)
    # half the layers replay their forward: half the extra FLOPs of full recompute
    assert float(half["hardware_flops"] - none["hardware_flops"]) == pytest.approx(
        0.5 * float(full["hardware_flops"] - none["hardware_flops"]), rel=1e-12)
    assert float(half["model_flops"]) == float(none["model_flops"])
    # half the layers keep everything, half only their input
    assert float(half["memory_activations"]) == pytest.approx(
        0.5 * float(none["memory_activations"] + full["memory_activations"]), rel=1e-12)
    # the layers' compute is the mean (what is communicated per step does not depend on recompute here)
    assert float(half["time_compute"]) == pytest.approx(
        0.5 * float(none["time_compute"] + full["time_compute"]), rel=1e-12)
    assert float(none["step_time"]) < float(half["step_time"]) < float(full["step_time"])


def test_every_layer_is_plain_full_recompute_and_other_modes_are_untouched():
    base = _setup()
    for rc in (0, 1, 2):
        a, b = _step(base, rc), _step(replace(base, recompute_every=1), rc)
        assert float(a["step_time"]) == float(b["step_time"])
    # selective recompute and none do not change with k: only full recompute is thinned
    for rc in (0, 1):
        assert float(_step(_setup(recompute_every=4), rc)["step_time"]) == float(_step(base, rc)["step_time"])


@pytest.mark.parametrize("bad", [0, -1, 41, 2.5, True])
def test_recompute_every_is_a_layer_count(bad):
    with pytest.raises(UsageError, match="recompute every"):
        _setup(recompute_every=bad)


def test_estimate_takes_it_from_the_command_line_and_says_so():
    import json

    from click.testing import CliRunner

    from explorer.cli import main

    args = ["estimate", "--tp", "8", "--pp", "8", "--recompute", "full"]
    every = CliRunner().invoke(main, args + ["--recompute-every", "4", "--format", "json"])
    plain = CliRunner().invoke(main, args + ["--format", "json"])
    assert every.exit_code == plain.exit_code == 0, every.output
    a, b = json.loads(every.output), json.loads(plain.output)
    assert a["recompute_every"] == 4 and b["recompute_every"] == 1
    # fewer layers replayed: faster and more memory
    assert a["step_time_s"] < b["step_time_s"] and a["memory_per_gpu_gb"] > b["memory_per_gpu_gb"]
    text = CliRunner().invoke(main, args + ["--recompute-every", "4"]).output
    assert "one layer in 4" in " ".join(text.split())
    # it thins full recompute only, and counts layers
    for bad in (["--recompute-every", "2"], ["--recompute", "full", "--recompute-every", "81"]):
        r = CliRunner().invoke(main, ["estimate", "--tp", "8", "--pp", "8"] + bad)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output



@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("options", [{"fix": {"recompute": "full"}},
                                     {"framework": "fsdp", "fused_kernels": False, "fix": {"recompute": "full"}}])
def test_the_3d_solver_and_the_exhaustive_evaluator_agree_on_it(k, options):
    # CP-SAT reads the same mixed layer time and activations (time.layer_time, memory.activation_bytes_per_layer)
    # as the evaluator, so both engines find the same optimum; thinning full recompute never makes it slower
    from explorer.puzzles.threed import solve_3d

    a = solve_3d("cloud", engine="cpsat", top=1, explain=False, recompute_every=k, **options)
    b = solve_3d("cloud", engine="enumerate", top=1, explain=False, recompute_every=k, **options)
    every = solve_3d("cloud", engine="enumerate", top=1, explain=False, **options)
    assert a.status == "optimal" and a.best.plan.recompute == "full"
    assert a.best.step_time_s == pytest.approx(b.best.step_time_s, rel=1e-6)
    assert a.best.step_time_s <= every.best.step_time_s * (1 + 1e-9)


def _finding(report, start: str) -> str:
    hits = [f.answer for f in report.findings if f.question.startswith(start)]
    assert len(hits) == 1, [f.question for f in report.findings]
    return hits[0]


def test_the_3d_report_says_when_recompute_every_did_not_act_and_what_it_would_cost():
    # The cloud default's optimum recomputes nothing (it fits without), so thinning full recompute changes nothing:
    # the report must say so (the option was silently ignored), with the best plan that recomputes one layer in 4.
    # That plan is what the search pinned to full recompute finds: a second solve, by CP-SAT, checks it.
    from explorer.puzzles.threed import solve_3d

    res = solve_3d("cloud", recompute_every=4)
    assert res.best.plan.recompute != "full"
    text = _finding(res.report, "Did --recompute-every 4")
    assert text.startswith("No:") and "one layer in 4" in text and "--fix recompute=full" in text
    pinned = solve_3d("cloud", recompute_every=4, fix={"recompute": "full"}, top=1, explain=False)
    assert pinned.status == "optimal"
    assert pinned.best.plan.describe() in text and f"{pinned.best.step_time_s:.3f} s" in text
    slower = pinned.best.step_time_s / res.best.step_time_s - 1
    assert slower > 0 and f"{slower:.1%} slower" in text
    # pinned to full it acts, and the report says so beside the assumption line
    forced = solve_3d("cloud", recompute_every=4, fix={"recompute": "full"}, top=1)
    assert _finding(forced.report, "Did --recompute-every 4").startswith("Yes:")
    assert any("one layer in 4" in a.text for a in forced.report.assumptions)
    # without the option no such question is asked
    assert not [f for f in solve_3d("cloud", top=1, explain=False).report.findings if "recompute-every" in f.question]


def test_recompute_every_beside_a_pin_that_rules_full_recompute_out_is_refused():
    from click.testing import CliRunner

    from explorer.cli import main
    from explorer.puzzles.threed import solve_3d

    with pytest.raises(UsageError, match="recompute=selective rules full"):
        solve_3d("cloud", recompute_every=2, fix={"recompute": "selective"})
    with pytest.raises(UsageError, match="allow full"):
        solve_3d("cloud", recompute_every=2, allow={"recompute": ["none", "selective"]})
    r = CliRunner().invoke(main, ["solve", "3d", "--recompute-every", "4", "--fix", "recompute=none"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    # a pin to full recompute, or no pin, is what the option is for
    r = CliRunner().invoke(main, ["solve", "3d", "--recompute-every", "4", "--top", "1"])
    assert r.exit_code == 0 and "Did --recompute-every 4" in r.output, r.output
