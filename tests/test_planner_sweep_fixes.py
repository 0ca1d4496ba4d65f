"""explore check / plan: defects of a new-user sweep (memory floor always tested, fractions given as percentages,
GPU aliases solved twice, plan's --precision help naming a track it does not have)."""

import os
import subprocess
import sys

import pytest

from explorer.errors import UsageError
from explorer.planner.check import check_claim
from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import plan_training

A = load_assumptions()
# Parameter counts (models.toml, the released configs): Llama-3-405B 405,853,388,800; Llama-3-70B 70,553,706,496.
P405, P70 = 405_853_388_800, 70_553_706_496
# H100 SXM: 84.94e9 bytes of HBM in the catalog (hardware/data/accelerators.toml); the cloud track uses 90% of it
# (explore plan's memory bound, Setup.memory_limit_bytes): 0.9 x 84.94 = 76.446 GB usable.
USABLE_H100_GB = 0.9 * 84.94


def _cli(args):
    return subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", *args], capture_output=True,
                          text=True, timeout=120, cwd="/tmp", env=dict(os.environ))


# --- 1. the memory floor is tested whatever the claim ------------------------------------------------------------
@pytest.mark.parametrize("key,params,gpus,claim", [
    ("llama3_405b", P405, 64, {"tokens_per_s_per_gpu": 100}),
    ("llama3_70b", P70, 8, {"mfu": 0.3}),
])
def test_check_says_impossible_when_the_model_state_cannot_fit(key, params, gpus, claim):
    # hand: BF16 mixed-precision Adam keeps 2 + 2 + 12 = 16 bytes per parameter (ZeRO paper, Rajbhandari et al.
    # 2020, sec. 3.1); fully sharded (ZeRO-3): 405,853,388,800 x 16 / 64 = 101.46 GB per GPU, and
    # 70,553,706,496 x 16 / 8 = 141.1 GB per GPU, both > 76.4 GB usable on an H100. No plan fits, so the claim is
    # impossible on that hardware; it was "BEYOND THE MODEL ... (a plan exists under the model)".
    floor_gb = params * 16 / gpus / 1e9
    assert floor_gb > USABLE_H100_GB
    r = check_claim(resolve_model(key), gpu="h100", gpus=gpus, assumptions=A, **claim)
    assert r.verdict == "impossible"
    assert r.implied["memory_floor_gb_state_sharded"] == pytest.approx(floor_gb)
    text = " ".join(r.to_text().split())
    assert f"{floor_gb:,.1f} GB per GPU" in text and f"{USABLE_H100_GB:.1f} GB usable" in text
    assert "Verdict: IMPOSSIBLE" in text and "no plan fits" in text
    assert "a plan exists" not in text and "arithmetically possible" not in text
    d = r.to_dict()
    assert d["verdict"] == "impossible" and "no plan fits" in d["verdict_reason"]
    # the same with --no-bound: the floor is arithmetic, not the solve
    nb = check_claim(resolve_model(key), gpu="h100", gpus=gpus, assumptions=A, bound=False, **claim)
    assert nb.verdict == "impossible" and "--no-bound" not in nb.to_text()


def test_check_floor_passes_where_the_state_fits():
    # hand: 70,553,706,496 x 16 / 256 = 4.41 GB per GPU <= 76.4 GB usable: the test holds, and a 42.8% MFU claim of
    # 1,000 tokens/s per GPU (6 x 70.55e9 x 1,000 / 989.4e12) stays consistent with a claimed 45%
    r = check_claim(resolve_model("llama3_70b"), gpu="h100", gpus=256, tokens_per_s=256000, mfu=0.45, assumptions=A,
                    bound=False)
    assert r.implied["memory_floor_gb_state_sharded"] == pytest.approx(P70 * 16 / 256 / 1e9)
    floor = [t for t in r.tests if "fully sharded" in t.name]
    assert len(floor) == 1 and floor[0].ok
    assert r.verdict == "consistent"


def test_check_no_plan_under_the_model_is_not_called_a_plan_that_exists():
    # hand: 405,853,388,800 x 16 / 96 = 67.6 GB per GPU <= 76.4 GB: the floor holds, but the solve finds no plan
    # once activations and buffers are added (the model may be pessimistic): "beyond the model", whose reason must
    # say no plan fits, never "(a plan exists under the model)" as it did
    assert P405 * 16 / 96 / 1e9 < USABLE_H100_GB
    r = check_claim(resolve_model("llama3_405b"), gpu="h100", gpus=96, tokens_per_s_per_gpu=100, assumptions=A)
    assert r.verdict == "beyond the model"
    text = " ".join(r.to_text().split())
    assert "(a plan exists under the model)" not in text
    assert "no plan of the cost model fits on 96 x h100_sxm" in r.to_dict()["verdict_reason"]


def test_check_cli_impossible_exit_zero_one_sentence():
    p = _cli(["check", "--model", "llama3_405b", "--gpu", "h100", "--gpus", "64", "--tokens-per-s-per-gpu", "100"])
    assert p.returncode == 0, p.stderr
    verdict = " ".join(p.stdout.split("Verdict:")[1].split())
    assert verdict.startswith("IMPOSSIBLE") and "101.5 GB per GPU" in verdict and "76.4 GB usable" in verdict


# --- 2. a fraction given as a percentage is a usage error ---------------------------------------------------------
@pytest.mark.parametrize("args,msg", [
    (["check", "--model", "llama3_70b", "--gpu", "h100", "--gpus", "256", "--mfu", "45"],
     "mfu 45 must be a fraction in (0, 1]; did you mean 0.45?"),
    (["check", "--model", "llama3_70b", "--gpu", "h100", "--gpus", "256", "--mfu", "0.45", "--tolerance", "10"],
     "tolerance 10 must be a fraction in (0, 1); did you mean 0.1?"),
    (["plan", "--model", "llama3_8b", "--tokens", "1e9", "--gpus", "8", "--max-bubble", "25"],
     "max-bubble 25 must be a fraction in [0, 1]; did you mean 0.25?"),
])
def test_fractions_given_as_percentages_are_refused_with_a_hint(args, msg):
    p = _cli(args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert msg in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_fraction_api_and_no_hint_past_100():
    with pytest.raises(UsageError, match=r"mfu 45 must be a fraction in \(0, 1\]; did you mean 0\.45\?"):
        check_claim(resolve_model("llama3_70b"), gpu="h100", gpus=256, mfu=45, assumptions=A, bound=False)
    with pytest.raises(UsageError) as e:  # 4500% is no percentage of a fraction either: no guess offered
        check_claim(resolve_model("llama3_70b"), gpu="h100", gpus=256, mfu=4500, assumptions=A, bound=False)
    assert "did you mean" not in str(e.value) and "mfu 4500 must be a fraction" in str(e.value)
    # 1.0 (100%) is still a claim to test, not a usage error
    assert check_claim(resolve_model("llama3_70b"), gpu="h100", gpus=256, mfu=1.0, assumptions=A,
                       bound=False).verdict == "consistent"


# --- 3. aliases of one part (or one network) are solved once -------------------------------------------------------
def test_plan_deduplicates_gpu_and_network_aliases():
    # Llama-3-405B on 8 GPUs: 405.85e9 x 16 / 8 = 811.7 GB per GPU > 76.4 GB, skipped by the memory bound (no solve);
    # h100 and h100_sxm are one part (accelerators.toml aliases), ib_ndr and ndr one network (links.toml): one
    # candidate, not four
    p = plan_training(resolve_model("llama3_405b"), 1e12, gpu_types=["h100", "h100_sxm"], sizes=[8],
                      networks=["ib_ndr", "ndr"], assumptions=A)
    assert [(c.gpu, c.gpus, c.network) for c in p.candidates] == [("h100_sxm", 8, "ib_ndr")]
    assert p.gpu_types == ["h100_sxm"]
    text = " ".join(p.to_text().split())
    assert "h100 and h100_sxm are the same part" in text and "ib_ndr and ndr are the same network" in text
    assert text.count("h100 and h100_sxm are the same part") == 1


# --- 4. plan's and check's --precision help names their default, not a track's ------------------------------------
@pytest.mark.parametrize("cmd", ["plan", "check"])
def test_precision_help_names_the_default_of_the_command(cmd):
    from click.testing import CliRunner

    from explorer.cli import main

    out = CliRunner().invoke(main, [cmd, "--help"], terminal_width=200).output
    line = " ".join(out.split("--precision", 1)[1].split())
    assert "earbud" not in line and "the track's" not in line.split("fp8:")[0]
    assert "default bf16" in line.split("fp8:")[0]
