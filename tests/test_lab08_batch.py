"""Lab 08 part 3: numerics, critical batch and the scaling wall (known answers derived by hand)."""

from __future__ import annotations

import math

import pytest

from explorer.cost import convergence as conv
from explorer.cost import numerics as num
from explorer.errors import UsageError
from explorer.puzzles import batch as pb
from explorer.tracks import get_track


def test_format_limits():
    # IEEE 754 binary16: (2 - 2^-10) x 2^15 = 65504; smallest subnormal 2^-24.
    assert num.max_finite("fp16") == 65504.0 == (2 - 2 ** -10) * 2 ** 15
    assert num.min_positive("fp16") == 2 ** -24
    # bfloat16 keeps FP32's 8-bit exponent: max (2 - 2^-7) x 2^127 = 3.39e38.
    assert num.max_finite("bf16") == pytest.approx(3.3895e38, rel=1e-4)


def test_overflow_probability_by_hand():
    # log2|x| ~ N(log2 65504, 1): half of the values overflow; of two values at least one: 1 - 0.5^2 = 0.75.
    mu = math.log2(65504)
    assert num.overflow_probability("fp16", mu, 1.0, 1) == pytest.approx(0.5)
    assert num.overflow_probability("fp16", mu, 1.0, 2) == pytest.approx(0.75)
    # a loss scale of 2 halves the threshold: log2(65504/2) = mu - 1, one sigma below: Q(-1) = 0.8413.
    assert num.overflow_probability("fp16", mu, 1.0, 1, scale=2.0) == pytest.approx(0.841345, rel=1e-5)
    # underflow: median at 2^-24 -> half flush to zero; a scale of 2^8 moves it 8 sigma (sigma 1) away.
    assert num.underflow_fraction("fp16", -24.0, 1.0) == pytest.approx(0.5)
    assert num.underflow_fraction("fp16", -24.0, 1.0, scale=2.0 ** 8) < 1e-14


def test_edge_nan_crisis_is_fp16_overflow():
    # Edge track (lab08_training.toml): activations log2|x| ~ N(0, 2.6). ViT-B, micro-batch 8, 197 tokens,
    # 768 wide, 12 layers, 10 stored h-sized tensors per token and layer: n = 8 x 197 x 768 x 12 x 10
    # = 145,244,160 values per step. q = Q(log2(65504) / 2.6) = Q(6.1537) = 3.79e-10;
    # P(NaN) = 1 - exp(-n q) = 1 - exp(-0.0551) = 0.0536 -> NaN within ~19 steps. BF16: Q(127/2.6) = 0.
    rep = pb.solve("edge")
    p = rep.figure("fp16_no_scaling_p_nan")
    assert p == pytest.approx(0.0536, rel=0.03)
    # The lab's question as posed (one synchronous job over 5G) breaks the network limit on edge: its best
    # compromise is kept under 'datacenter', not offered as the answer to grade attempts against.
    assert "configuration" not in rep.extra and rep.extra["datacenter"]["configuration"]["precision"] == "bf16"
    nan = next(f for f in rep.findings if "NaN" in f.question)
    assert "P(NaN) = 0" in nan.answer


def test_clipping_does_not_cure_inf():
    # Pascanu et al. 2013 eq. 7: g x min(1, c/||g||); with ||g|| = inf: inf x 0 = NaN (IEEE 754).
    assert math.isnan(num.clipped_norm(math.inf, 1.0))
    assert num.clipped_norm(10.0, 1.0) == pytest.approx(1.0)
    assert num.clipped_norm(0.5, 1.0) == pytest.approx(0.5)


def test_critical_batch_by_hand():
    # Kaplan et al. 2020 eq. 1.4 at L = 2 nats: 2e8 / 2^(1/0.21) = 2e8 / 27.2 = 7.36e6 tokens = 898 x 8192.
    assert conv.kaplan_critical_batch_tokens(2.0) == pytest.approx(7.36e6, rel=0.01)
    inst = pb.make_instance("cloud")
    assert inst.b_crit == pytest.approx(898, abs=2)
    # McCandlish et al. 2018 eq. 2.11: at B = B_crit, twice the minimum steps and twice the minimum samples.
    assert conv.steps_multiplier(1000, 1000) == 2.0 == conv.samples_multiplier(1000, 1000)
    assert conv.noise_scale(8.0, 2.0) == 4.0


def test_comm_to_compute_halves_when_the_batch_doubles():
    # The all-reduce moves the gradient bytes once per step whatever the batch; compute is linear in it.
    inst = pb.make_instance("cloud")
    a = pb.evaluate_config(inst, "bf16", 1, 8)
    b = pb.evaluate_config(inst, "bf16", 1, 16)
    assert b["global_batch"] == 2 * a["global_batch"]
    assert b["comm_to_compute"] / a["comm_to_compute"] == pytest.approx(0.5, rel=1e-6)


def test_cloud_mfu_crisis_and_dollars():
    # Cloud: 1024 H100 x 3 USD/h = 3072 USD/h; idle spend = 3072 x (1 - MFU).
    rep = pb.solve("cloud")
    mfu = rep.figure("crisis_mfu")
    assert mfu < 0.40
    assert rep.figure("crisis_idle_usd_per_hour") == pytest.approx(3072 * (1 - mfu))
    cfg = rep.extra["configuration"]
    assert 16 * cfg["micro_batch"] * cfg["accumulation"] <= rep.figure("critical_batch")
    assert rep.figure("mfu") >= mfu


def test_tiny_batch1_efficiency_is_about_one_percent():
    # The lab: "batch size 1 gives about 1% efficiency". On the nRF52840 what holds MFU down at micro-batch 1 is the
    # gradient all-reduce over BLE, exposed whole: the 32-wide model's trained gradients fit in one DDP bucket, which
    # fills only when the backward ends (Megatron-Core param_and_grad_buffer.py; PyTorch DDP alike), and the ring
    # over 100 earbuds at BLE's rate takes ten times the compute. Only the trained layers' gradients are reduced
    # (DDP buckets only params with requires_grad; since 6344ccc), which took the figure from 0.53 % to 2.2 %: still
    # "about 1 %" in the lab's sense (a few percent at most), and below a tenth of the compute-only rate.
    inst = pb.make_instance("tiny")
    e = pb.evaluate_config(inst, "fp32", 1, 1)
    assert e["comm_time"] > 5 * e["compute_time"]  # the BLE all-reduce dominates the step
    rep = pb.solve("tiny")
    one = rep.figure("batch1_mfu")
    compute_only = one * e["step_time"] / e["compute_time"]  # the same model FLOPs over the compute alone
    assert 0.005 < one < 0.05 and one < compute_only / 10  # "about 1%", held there by the network
    assert rep.figure("mfu") > one  # batching + accumulation raise it


def test_edge_and_mobile_hit_the_network_wall():
    # the lab's form (a synchronous all-reduce every step over the radio) hits the network wall; the fleet
    # answer that leads these tracks is not held to the 40% MFU target (tests/test_fleet_answers.py)
    for track in ("edge", "mobile"):
        rep = pb.solve(track)
        assert rep.status == "computed"
        assert "network" in rep.data["datacenter_headline"]
        assert not pb.solve_batch(track).reaches_target


def test_attempts():
    # tiny reaches a 1% MFU target (the lab's 40% is out of reach on an earbud: that puzzle is infeasible and
    # its closest answer is kept under 'datacenter', below), so its answer is graded against
    rep = pb.solve("tiny", target_mfu=0.01)
    v = pb.evaluate_attempt(rep.extra["configuration"], "tiny", target_mfu=0.01)
    assert v["feasible"]
    assert v["objective"] == pytest.approx(rep.extra["objective"]["value"])
    assert "configuration" not in pb.solve("tiny").extra
    with pytest.raises(UsageError):
        pb.evaluate_attempt({"precision": "fp64", "micro_batch": 1, "accumulation": 1}, "tiny")


def test_bad_inputs():
    with pytest.raises(UsageError, match="larger than the dataset"):
        pb.solve("tiny", batch=5000)
    with pytest.raises(UsageError):
        pb.solve("cloud", target_mfu=1.5)
    with pytest.raises(UsageError):
        pb.solve("cloud", loss_scaling="magic")


def test_cloud_frees_data_algorithm_and_machine():
    from explorer.puzzles import batch as pb

    res = pb.solve_batch("cloud")
    r = pb.build_report(res)
    # the parallel plan is a variable: the 3D solver's plan at each batch, exhaustive over its space
    assert res.planned and res.reaches_target
    e = res.best
    assert e["mfu"] >= 0.40 and e["global_batch"] <= res.inst.b_crit
    assert e["plan"].describe() != get_track("cloud").crisis_plan.describe()
    # freeing the plan can only help (the track's plan is one point of the free space), and here it does
    assert e["time_to_target"] < res.fixed_best["time_to_target"] and e["mfu"] > res.fixed_best["mfu"]
    assert ("the plan held MFU back" in r.headline) == (res.fixed_best["mfu"] < 0.40)
    # every candidate is the 3D solver's optimum at its batch: none of them is beaten by the crisis plan
    crisis_512 = next(c for c in res.planned if c["global_batch"] == 512)
    assert crisis_512["mfu"] > res.crisis["mfu"]
    # the lab's premise: the network is nowhere near 95% busy at the crisis configuration
    premise = next(f.answer for f in r.findings if "saturated" in f.question)
    assert premise.startswith("No.") and res.crisis["network_utilisation"] < 0.1
    # the Iron Law's three terms add up to the step
    tl = (r.figure("iron_law_compute_s") + r.figure("iron_law_data_movement_s") + r.figure("iron_law_overhead_s"))
    assert tl == pytest.approx(e["step_time"], rel=1e-9)
    assert any(f.name == "Iron Law of ML systems" for f in r.formulas)
    nan = next(f.answer for f in r.findings if "NaN" in f.question)
    assert "unscale_" in nan and "2^-40" in nan
    # the solver's own answer grades at the optimum
    v = pb.evaluate_attempt(r.extra["configuration"], "cloud")
    assert v["feasible"] and v["objective"] == pytest.approx(r.extra["objective"]["value"])


def test_the_users_batch_cap_is_a_hard_limit_not_a_smaller_critical_batch():
    """--batch is the largest global batch allowed: the answer never exceeds it, the critical batch stays the
    track's (Kaplan's, not the cap), and a cap below the smallest batch any plan can take is infeasible and
    named (it was folded into the critical batch, a soft limit the fallback answer could break)."""
    from explorer.errors import InfeasibleError

    default = pb.make_instance("cloud")
    capped = pb.make_instance("cloud", batch=600)
    assert capped.b_crit == default.b_crit and capped.batch_cap == 600
    res = pb.solve_batch("cloud", batch=600)
    assert res.best["global_batch"] <= 600
    assert all(c.name != pb.BATCH_CAP for c in pb.violations(capped, res.best))
    with pytest.raises(InfeasibleError, match=r"largest batch \(--batch\)"):
        pb.solve_batch("cloud", batch=1)


def test_an_unreachable_mfu_target_is_infeasible_and_says_so():
    """--target-mfu 0.99 on cloud: an H100 cluster never runs at 99% of peak (the ceiling at any batch is near
    54% here), so the puzzle as posed is infeasible: status INFEASIBLE and exit 1, as for a --batch cap no plan
    can meet. By the lab's design the report still gives the closest answer, whose MFU is the highest within the
    other limits (checked here against every configuration the search evaluated), and the headline says the
    target is not reached. It read 'Status: computed', exit 0, before."""
    import json

    from click.testing import CliRunner

    from explorer.cli import main
    from explorer.report import Report

    out = CliRunner().invoke(main, ["solve", "batch", "--target-mfu", "0.99", "--format", "json"])
    assert out.exit_code == 1, out.output
    rep = Report.from_dict(json.loads(out.output))
    assert rep.status == "infeasible"
    assert rep.headline.startswith("Infeasible: no configuration reaches the 99% MFU target")
    res = pb.solve_batch("cloud", target_mfu=0.99)
    inst = res.inst
    within = [c for c in res.planned + res.configs if not pb.violations(inst, c, with_target=False)]
    top = max(c["mfu"] for c in within)
    assert 0.3 < top < 0.99 and rep.figure("mfu") == pytest.approx(top)
    assert f"highest MFU within the other limits is {100 * top:.1f}%" in rep.headline
    # the ceilings are labelled by what they hold fixed: an answer within every limit cannot beat the ceiling
    # with the plan free, while the track's own plan (TP=8 PP=8 DP=16, selective recompute) stays below it
    # ('highest MFU at any batch 44.5%' sat under 'MFU of the answer 52.6%' before)
    free, fixed = rep.figures["mfu_ceiling_free_plan"], rep.figures["mfu_ceiling"]
    assert free.value >= rep.figure("mfu") > fixed.value
    assert "track's plan" in fixed.label and "plan free" in free.label


def test_tiny_fp16_saves_bytes_not_time():
    # On the nRF52840 FP16 is a storage format (hardware/data/accelerators.toml: 2.5 FPU cycles per multiply-add
    # with the VCVTB/VCVTT widening, against 2 in FP32): the same step computes about 1.25x longer in FP16, while its
    # gradients (2 bytes instead of 4) take about half the radio time, and the report says what FP16 means here.
    inst = pb.make_instance("tiny")
    a, b = pb.evaluate_config(inst, "fp32", 1, 1), pb.evaluate_config(inst, "fp16", 1, 1)
    assert b["compute_time"] / a["compute_time"] == pytest.approx(2.5 / 2, rel=0.02)  # memory-bound kernels aside
    # half the bytes; each call's latency (the ring's 2 (N-1) BLE connection events) stays, so a little over half
    assert 0.5 < b["comm_time"] / a["comm_time"] < 0.55
    assert b["memory"] < a["memory"]
    rep = pb.solve("tiny")
    said = [x.text for x in rep.assumptions if x.text.startswith("FP16 on the Nordic nRF52840")]
    assert said and "storage format" in said[0] and "51.2 MFLOP/s peak against FP32's 64" in said[0]
    # a part with FP16 arithmetic (the cloud track's H100: 989 TFLOP/s FP16 dense against 67 FP32) says nothing
    assert not [x for x in pb.solve("cloud").assumptions if "storage format" in x.text]
