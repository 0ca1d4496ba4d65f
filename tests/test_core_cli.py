"""`explore solve 3d` and `explore estimate`: output contract and one-line errors (exit 2 usage, 1 infeasible)."""

import json
import subprocess
import sys

import pytest


def run(*args):
    p = subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", *args],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_solve_3d_json_contract():
    code, out, err = run("solve", "3d", "--track", "cloud", "--format", "json", "--top", "2")
    assert code == 0, err
    d = json.loads(out)
    assert d["status"] == "optimal"
    assert isinstance(d["solve_time_s"], float)
    cfg = d["configuration"]
    assert cfg["tp"] * cfg["pp"] * cfg["dp"] * cfg["cp"] == 1024
    assert cfg["dp"] * cfg["micro_batch"] * cfg["num_micro_batches"] == 512
    assert 0 < d["figures"]["mfu"]["value"] < 1
    assert d["figures"]["bubble_fraction"]["value"] <= 0.10
    assert len(d["tables"]["top"]["rows"]) == 2


def test_estimate_json_keys_and_crisis_bubble():
    code, out, err = run("estimate", "--model", "llama3_70b", "--gpus", "1024", "--tp", "8", "--pp", "8",
                         "--dp", "16", "--micro-batch", "2", "--global-batch", "512", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    for k in ("mfu", "hfu", "model_tflops_per_gpu", "hardware_tflops_per_gpu", "step_time_s", "tokens_per_s",
              "memory_per_gpu_gb", "bubble_fraction", "fits_in_memory", "memory_breakdown_gb", "time_breakdown_s"):
        assert k in d
    assert d["bubble_fraction"] == pytest.approx(7 / 23)


def test_estimate_at_tp_1_says_the_default_batch_is_the_tracks_and_how_to_fix_it():
    # TP = PP = CP = 1 leaves DP = 1,024 on the cloud track, whose global batch is 512 sequences
    # (explorer/data/tracks/cloud.toml). The error names both defaults and the two ways out, in one line. (A bare
    # `explore estimate` evaluates the track's crisis plan: tests/test_estimate_cli_bubble.py.)
    code, out, err = run("estimate", "--tp", "1")
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line and "Traceback" not in err
    assert "global batch of 512" in line and "1,024 x 1" in line and "--global-batch" in line and "--tp" in line
    assert "explore solve 3d" in line  # the command that finds a plan, for the user who has none yet
    code, out, err = run("estimate", "--tp", "8", "--pp", "8")  # DP 16 divides 512: it runs
    assert code == 0, err


@pytest.mark.parametrize("track, link", [("edge", "5G"), ("mobile", "Bluetooth"), ("tiny", "Bluetooth")])
def test_estimate_refuses_a_fleet_as_a_datacenter_ring(track, link):
    # A fleet trains in federated rounds (explorer/puzzles/fleet3d), not by a ring all-reduce every step over its
    # radio: estimate points at the fleet form, and still runs the track's model on datacenter GPUs when asked.
    code, out, err = run("estimate", "--track", track)
    assert code == 2 and out == "", out
    assert "fleet" in err and link in err and f"solve 3d --track {track}" in err and "Traceback" not in err
    code, out, err = run("estimate", "--track", track, "--gpu", "h100", "--gpus", "8", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["node"]["preset"] == "dgx_h100"
    code, out, err = run("estimate", "--track", track, "--gpus", "1", "--format", "json")  # one device's local step
    assert code == 0, err
    assert json.loads(out)["configuration"]["dp"] == 1 and json.loads(out)["dp_comm_total_s"] == 0


def test_estimate_custom_shape():
    code, out, err = run("estimate", "--layers", "4", "--hidden", "512", "--heads", "8", "--gpus", "8",
                         "--format", "json", "--global-batch", "8")
    assert code == 0, err
    assert json.loads(out)["fits_in_memory"] is True


@pytest.mark.parametrize("args,needle", [
    (("solve", "3d", "--track", "moon"), "moon"),
    (("solve", "3d", "--model", "gpt5"), "llama3_70b"),
    (("solve", "3d", "--gpu", "tpu9"), "h100_sxm"),
    (("solve", "3d", "--network", "carrier-pigeon"), "ib_ndr"),
    (("solve", "3d", "--gpus", "0"), "gpus"),
    (("solve", "3d", "--gpus", "1001"), "gpus-per-node"),
    (("solve", "3d", "--fix", "tp=3x"), "tp"),
    (("solve", "3d", "--fix", "bogus=1"), "bogus"),
    (("estimate", "--tp", "3"), "TP 3"),
    (("estimate", "--gpus", "12", "--tp", "8"), "divisible"),
    (("solve", "3d", "--max-bubble", "1.5"), "max-bubble"),
])
def test_usage_errors_are_one_line_exit_2(args, needle):
    code, out, err = run(*args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_infeasible_exit_1_names_conflict():
    code, out, err = run("solve", "3d", "--model", "llama3_405b", "--gpus", "8", "--global-batch", "8")
    assert code == 1
    assert "memory" in err and "GB" in err and "Traceback" not in err


def test_estimate_that_does_not_fit_says_by_how_much():
    code, out, err = run("estimate", "--model", "llama3_70b", "--gpus", "8", "--tp", "8", "--global-batch", "8")
    assert code == 0
    assert "DOES NOT FIT" in out and "over the limit by" in out


def test_estimate_text_fits_a_narrow_terminal():
    """Every line of the estimate, its assumptions included (some run past 300 characters), wraps to $COLUMNS."""
    import os

    p = subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", "estimate", "--framework",
                        "fsdp", "--tp", "8", "--zero", "3", "--tp-comm-overlap"],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "60"})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert any("AsyncTP" in line for line in lines) and "Assumptions:" in lines


def test_estimate_prints_an_earbud_in_its_own_units():
    """256 KB of RAM and 64 MFLOP/s: the estimate's text reads kB and MFLOP/s there (not 'limit 0.000 GB')."""
    import explorer
    from explorer.cli.estimate import estimate_text

    text = estimate_text(explorer.estimate(track="tiny", gpus=1, dp=1), width=200)
    assert "Memory per device (kB):" in text and "MFLOP/s per device" in text
    assert "limit 196.608" in text  # the track's usable 0.75 x 262,144 bytes, in kB
    cloud = estimate_text(explorer.estimate(track="cloud", global_batch=1024), width=200)
    assert "Memory per device (GB):" in cloud and "TFLOP/s per device" in cloud


def test_estimate_on_a_device_without_the_datacenter_stack_names_none_of_it():
    """An earbud's and a pair of glasses' local step run no Megatron-LM, NCCL or Transformer Engine: the estimate
    says it is an on-device loop and names none of those, while a cloud estimate still names its stack. The
    glasses' rate is in GFLOP/s: the AR1's 1 TFLOP/s FP16 peak at about a third of it is some 330 GFLOP/s."""
    import explorer
    from explorer.cli.estimate import estimate_text

    stack_words = ("Megatron-LM", "NCCL", "Transformer Engine", "Hopper", "HBM", "SMs", "torchtitan")
    for track in ("tiny", "mobile"):
        text = estimate_text(explorer.estimate(track=track, gpus=1, dp=1), width=200)
        assert "On-device training loop" in text
        assumptions = text.split("Assumptions:")[1]
        assert not [w for w in stack_words if w in assumptions], (track, assumptions)
        assert "no FlashAttention build runs on the" in assumptions
    glasses = estimate_text(explorer.estimate(track="mobile", gpus=1, dp=1), width=200)
    assert "GFLOP/s per device" in glasses
    cloud = estimate_text(explorer.estimate(track="cloud", global_batch=1024), width=200)
    assert "Runs on Megatron-LM" in cloud and "Transformer Engine" in cloud.split("Assumptions:")[1]


def test_a_fused_attention_kernel_is_refused_where_none_runs():
    """--attention-kernel picks among FlashAttention builds and cuDNN's kernel; a microcontroller has none, so naming
    one there is an input error (exit 2, one line naming the value), not a rate scaled from a GPU benchmark."""
    code, out, err = run("estimate", "--track", "tiny", "--gpus", "1", "--attention-kernel", "triton")
    assert code == 2 and not out
    assert "'triton'" in err and "nRF52840" in err and len(err.strip().splitlines()) == 1


def test_fp32_is_a_precision_a_part_without_16_bit_training_can_be_given():
    """The earbud MCU has FP32 and FP16 peaks (64 and 51.2 MFLOP/s, FP16 widened) and no BF16: the error for the
    default bf16 names only training precisions (not its int8 peak), and --precision fp32 is accepted."""
    code, out, err = run("estimate", "--gpu", "nrf52840", "--gpus", "1", "--model", "noise_profile_tiny")
    assert code == 2 and "give --precision fp32 or --precision fp16" in err and "int8" not in err
    code, out, err = run("estimate", "--gpu", "nrf52840", "--gpus", "1", "--model", "noise_profile_tiny",
                         "--precision", "fp32")
    assert code == 0, err
    assert "FP32 training" in out


def test_a_pin_outside_the_space_names_the_rule_it_breaks():
    """--fix tp=16 on 8-GPU nodes: the infeasibility says TP stays within a node of 8, not only 'pinned to 16'."""
    code, out, err = run("solve", "3d", "--fix", "tp=16")
    assert code == 1
    assert "pinned to 16 (--fix), but" in err and "within a node of 8" in err and err.count("pinned to 16") == 1


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_the_fleet_hint_of_estimate_gives_one_local_step(track):
    # The hint said "--gpus 1 gives the local step of one vehicle"; that ran the fleet's whole batch (80,000
    # sequences on the edge track) on one device. The command it now names must run one micro-batch.
    import re

    import explorer
    from explorer.errors import UsageError

    with pytest.raises(UsageError) as exc:
        explorer.estimate(track=track)
    # (the Python caller's spelling: keywords.python_spelling)
    mb, gb = map(int, re.search(r"micro_batch=(\d+) global_batch=(\d+)", str(exc.value)).groups())
    e = explorer.estimate(track=track, gpus=1, micro_batch=mb, global_batch=gb)
    assert e.plan.num_micro_batches == 1 and e.plan.global_batch == e.plan.micro_batch == mb
    # one device runs none of a framework's parallel machinery: the text names no framework run and no DP traffic
    from explorer.cli.estimate import estimate_text

    head = estimate_text(e, width=200).splitlines()[1]
    assert not head.startswith("Runs on") and "data-parallel traffic" not in head


@pytest.mark.parametrize("fix, both", [("tp=8,tp=4", ("tp=8", "tp=4")),
                                       ("mb=2,micro_batch=1", ("mb=2", "micro_batch=1")),
                                       ("sp=1, sequence-parallel=0", ("sp=1", "sequence_parallel=0"))])
def test_a_pin_given_twice_is_refused_naming_both_values(fix, both):
    # 'tp=8,tp=4' solved with TP=4 (the last one won, exit 0): which one the user meant is theirs to say
    code, out, err = run("solve", "3d", "--fix", fix)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "given twice" in err and all(b in err for b in both), err


def test_a_pin_given_twice_through_an_alias_is_refused_by_the_api_too():
    from explorer.errors import UsageError
    from explorer.puzzles.threed import solve_3d

    with pytest.raises(UsageError, match="micro_batch given twice, mb=2 and micro_batch=1"):
        solve_3d("cloud", fix={"mb": 2, "micro_batch": 1}, top=1, explain=False)


def test_zero3_with_a_pipeline_pinned_names_megatrons_rule_not_the_batch():
    # Megatron-LM runs ZeRO-2/3 as Megatron-FSDP, without pipeline parallelism (explorer/cost/frameworks.py
    # Framework.sharded_with_pp; `explore estimate --zero 3 --pp 2` says so): the pins conflict with that rule, and
    # the global batch 512 divides fine (DP 64 x micro-batch 1 x 8 micro-batches at TP 8, PP 2)
    code, out, err = run("solve", "3d", "--fix", "zero=3,pp=2")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "Megatron-LM does not run ZeRO-3 with pipeline parallelism" in err and "zero=3,pp=2" in err, err
    assert "not divisible" not in err and "--framework fsdp" in err  # FSDP2 runs ZeRO-3 under PP (torchtitan)
