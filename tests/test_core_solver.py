"""The 3D puzzle: CP-SAT's optimum equals the exhaustive optimum (tracks and random instances),
pinned variables are respected, infeasible puzzles name their conflicting constraints."""

from dataclasses import replace
from fractions import Fraction

import pytest
from explorer.hardware import build_cluster
from explorer.models.architecture import DecoderModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.cost import step
from explorer.cost.setup import Setup
from explorer.errors import InfeasibleError
from explorer.puzzles.threed import solve_3d, solve_instance
from explorer.puzzles.threed.space import Instance


def _agree(inst):
    """Both engines: same feasibility, same optimal step time (within the ns rounding of CP-SAT)."""
    try:
        a = solve_instance(inst, engine="cpsat", top=1, explain=False)
    except InfeasibleError:
        a = None
    try:
        b = solve_instance(inst, engine="enumerate", top=1, explain=False)
    except InfeasibleError:
        b = None
    assert (a is None) == (b is None)
    if a is not None:
        assert a.status == "optimal"
        assert a.best.step_time_s == pytest.approx(b.best.step_time_s, rel=1e-6)
        assert a.best.fits_in_memory and a.best.memory_total <= inst.limit
        assert a.best.bubble_fraction <= float(inst.max_bubble) + 1e-12
    return a


@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_cpsat_equals_exhaustive_on_track_defaults(track):
    a = solve_3d(track, engine="cpsat", top=1)
    b = solve_3d(track, engine="enumerate", top=1, explain=False)
    assert a.status == "optimal"
    assert a.best.step_time_s == pytest.approx(b.best.step_time_s, rel=1e-6)
    assert a.binding["cross_check_ok"]


def test_the_largest_batch_on_65536_gpus_is_modelled_not_an_overflow():
    """DP x mb x m = B once failed CP-SAT's 64-bit overflow check (65,536 GPUs: DP up to 2**16; B = 2**24, so m up
    to 2**24): the model must still be built, and agree with the exhaustive engine."""
    from explorer.puzzles.threed import make_instance
    from explorer.tracks import get_track

    inst = make_instance(get_track("cloud"), gpus=65536, global_batch=16_777_216)
    a = _agree(inst)
    p = a.best.plan
    assert p.dp * p.micro_batch * p.num_micro_batches == 16_777_216


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.integers(2, 24),
    heads=st.sampled_from([4, 8, 16]),
    head_dim=st.sampled_from([32, 64, 128]),
    kv_div=st.sampled_from([1, 2, 4]),
    ffn_mult=st.sampled_from([2, 3, 4]),
    gpus=st.sampled_from([8, 16, 32, 64, 96]),
    per_node=st.sampled_from([4, 8]),
    batch=st.sampled_from([8, 16, 24, 64, 128]),
    seq=st.sampled_from([512, 1024, 2048]),
    gpu=st.sampled_from(["h100", "a100"]),
    mem_frac=st.sampled_from([0.02, 0.05, 0.2, 0.9]),
    bubble=st.sampled_from([0.05, 0.1, 0.25, 1.0]),
    framework=st.sampled_from(["megatron", "deepspeed", "fsdp", "any"]),
    network=st.sampled_from(["ib_ndr", "eth_100g"]),
    old_box=st.booleans(),
)
def test_cpsat_equals_exhaustive_on_random_instances(layers, heads, head_dim, kv_div, ffn_mult, gpus, per_node,
                                                     batch, seq, gpu, mem_frac, bubble, framework, network, old_box):
    """Random instances inside the old box (CP <= 8, v <= 2 here, micro-batch <= 8) and in the whole box
    (CP <= 32, v up to layers / PP, any micro-batch that divides the batch), every framework."""
    h = heads * head_dim
    m = DecoderModel(name="r", layers=layers, hidden=h, heads=heads, kv_heads=max(1, heads // kv_div),
                     ffn=ffn_mult * h, vocab=32000)
    c = build_cluster(gpu, gpus, per_node, "nvlink4", network)
    box = {"max_cp": 8, "max_micro_batch": 8, "max_virtual_stages": 2} if old_box else {}
    inst = Instance(Setup(m, c, seq, "bf16", "adam", mem_frac), gpus, batch,
                    max_bubble=Fraction(bubble).limit_denominator(100), framework=framework, **box)
    _agree(inst)


@pytest.mark.parametrize("pp", [1, 2])
def test_cpsat_equals_exhaustive_with_deepspeeds_bf16_gradient_accumulation(pp):
    # DeepSpeed's BF16_Optimizer (bf16, ZeRO 0) adds every micro-batch's gradients into FP32
    # (sharding.grad_accumulation_time): the CP-SAT model counts it m times as step.py does, with and without PP.
    m = DecoderModel(name="r", layers=8, hidden=1024, heads=8, kv_heads=8, ffn=4096, vocab=32000)
    inst = Instance(Setup(m, build_cluster("a100", 16, 8, "nvlink3", "ib_hdr"), 1024, "bf16", "adam", 0.9), 16, 64,
                    max_bubble=Fraction(1), framework="deepspeed", fix={"zero": 0, "pp": pp})
    a = _agree(inst)
    assert a.best.plan.zero == 0 and a.best.plan.pp == pp and a.best.plan.framework == "deepspeed"
    assert a.best.time["optimizer"] > 0


@pytest.mark.parametrize("pp", [1, 2])
def test_cpsat_equals_exhaustive_with_autograd_accumulation_under_deepspeed_fp16(pp):
    # DeepSpeed fp16 at ZeRO 1: autograd adds every micro-batch's gradients but the first into .grad
    # (sharding.autograd_accumulation_time): (m - 1) passes in the CP-SAT model as in step.py.
    m = DecoderModel(name="r", layers=8, hidden=1024, heads=8, kv_heads=8, ffn=4096, vocab=32000)
    inst = Instance(Setup(m, build_cluster("a100", 16, 8, "nvlink3", "ib_hdr"), 1024, "fp16", "adam", 0.9), 16, 64,
                    max_bubble=Fraction(1), framework="deepspeed", fix={"zero": 1, "pp": pp, "micro_batch": 1})
    a = _agree(inst)
    assert a.best.plan.zero == 1 and a.best.plan.pp == pp and a.best.plan.num_micro_batches > 1


@pytest.mark.parametrize("v", [1, 2])
def test_cpsat_equals_exhaustive_for_megatron_before_gradient_accumulation_fusion(v):
    # Megatron-LM of 2021 (Setup.grad_accumulation_fusion off): autograd adds every micro-batch's gradients but the
    # first into .grad, m - 1 passes over the local parameters however many chunks interleaving gives each rank
    # (each chunk's parameters take m micro-batches); CP-SAT as step.py, with and without interleaving.
    m = DecoderModel(name="r", layers=8, hidden=1024, heads=8, kv_heads=8, ffn=4096, vocab=32000)
    inst = Instance(Setup(m, build_cluster("a100", 16, 8, "nvlink3", "ib_hdr"), 1024, "fp16", "adam", 0.9,
                          grad_accumulation_fusion=False), 16, 64,
                    max_bubble=Fraction(1), framework="megatron", fix={"pp": 2, "v": v, "micro_batch": 1, "zero": 0})
    a = _agree(inst)
    assert (a.best.plan.pp, a.best.plan.virtual_stages) == (2, v) and a.best.plan.num_micro_batches > 1
    fused = replace(inst.setup, grad_accumulation_fusion=True)
    e_old = step.estimate(inst.setup, a.best.plan)
    e_new = step.estimate(fused, a.best.plan)
    assert e_old.time["optimizer"] > e_new.time["optimizer"]


def test_cpsat_equals_exhaustive_with_transformer_engines_fused_cross_entropy():
    # Setup.cross_entropy "te": the last stage's loss reads and writes 10 bytes per logit, not 52; the CP-SAT model
    # costs the pipeline's last stage from the same logits_time, so both engines keep agreeing, and the fused loss
    # makes the same plan faster and holds 2 bytes per logit instead of Megatron's 6.
    m = DecoderModel(name="r", layers=8, hidden=1024, heads=8, kv_heads=8, ffn=4096, vocab=128000)
    inst = Instance(Setup(m, build_cluster("h100_sxm", 16, 8, "nvlink4", "ib_ndr"), 2048, "bf16", "adam", 0.9,
                          cross_entropy="te", loss_bytes_per_logit=2), 16, 64,
                    max_bubble=Fraction(1), framework="megatron", fix={"pp": 2, "zero": 1})
    a = _agree(inst)
    unfused = replace(inst.setup, cross_entropy="unfused", loss_bytes_per_logit=6)
    e_fused = step.estimate(inst.setup, a.best.plan)
    e_unfused = step.estimate(unfused, a.best.plan)
    assert e_fused.step_time_s < e_unfused.step_time_s


def test_fix_pins_variables():
    r = solve_3d("cloud", fix={"tp": 8, "pp": 8, "zero": 1, "recompute": "selective"}, top=1)
    p = r.best.plan
    assert (p.tp, p.pp, p.zero, p.recompute) == (8, 8, 1, "selective")
    assert r.best.bubble_fraction <= 0.1


def test_jeff_dean_micro_batch_change():
    # All but the micro-batch pinned at the crisis shape: the solver must cut the micro-batch to
    # fill the pipeline (more micro-batches -> smaller bubble), never raise it.
    r = solve_3d("cloud", fix={"tp": 8, "pp": 8, "dp": 16, "zero": 1, "recompute": "selective", "sp": 1, "v": 1,
                               "cp": 1}, max_bubble=1.0, top=1)
    assert r.best.plan.micro_batch == 1 and r.best.plan.num_micro_batches == 32
    crisis = r.crisis
    assert r.best.mfu > crisis.mfu


def test_infeasible_names_memory():
    with pytest.raises(InfeasibleError) as exc:
        solve_3d("cloud", model="llama3_405b", gpus=8, global_batch=8, top=1)
    assert "memory" in str(exc.value) and "memory" in exc.value.conflicts


def test_infeasible_names_bubble_and_memory():
    # 70B without ZeRO, CP or interleaving on 64 GPUs needs PP >= 2 to fit (16 bytes/param:
    # 70.6e9 x 16 / (8 x 2) = 70.6 GB of model state at TP=8, PP=2); with 8 sequences per step
    # the bubble is then >= 1/3 (m <= 2).
    with pytest.raises(InfeasibleError) as exc:
        solve_3d("cloud", gpus=64, global_batch=8, max_bubble=0.05, top=1,
                 allow={"zero": [0], "cp": [1], "virtual_stages": [1]})
    assert "bubble" in exc.value.conflicts


def test_time_limit_reports_feasible_not_optimal():
    # A tiny time limit stops CP-SAT before its proof: the status must then not claim "optimal".
    from explorer.puzzles.threed import make_instance
    from explorer.puzzles.threed import space as rules
    from explorer.puzzles.threed.space import build_space
    from explorer.solvers import cpsat
    from explorer.solvers.threed_cpsat import build_model
    from explorer.tracks import get_track

    inst = make_instance(get_track("cloud"))
    built = build_model(inst, build_space(inst), rules=rules)
    _, out = cpsat.run(built.model, time_limit_s=0.001)
    assert out.status in ("feasible", "unknown")


def test_a_pinned_pipeline_against_a_zero_bubble_bound_names_the_pin():
    # --fix pp=4 --max-bubble 0: every pipeline idles (P-1)/(v m + P-1) > 0 of the step. The smallest bubble of PP 4
    # on 1,024 GPUs with a global batch of 512: m = 512 micro-batches (DP = 1: TP 8 x CP 32 x PP 4) and v = 80/4 = 20
    # virtual stages, 3/(20 x 512 + 3) = 3/10243 = 0.029%, printed as 0.03% (not 0.0%, which read as 0.0% > 0.0%).
    with pytest.raises(InfeasibleError) as exc:
        solve_3d("cloud", max_bubble=0, fix={"pp": 4}, top=1)
    msg = str(exc.value)
    assert "at least 0.03%" in msg and "> max-bubble 0%" in msg and "--fix pp=4" in msg, msg
    assert "PP = 1" in msg
    assert "pp" in exc.value.conflicts and "bubble" in exc.value.conflicts
    assert "memory" not in exc.value.conflicts  # the bound fails whatever the memory: the pin, not memory, conflicts


def test_percentages_in_a_conflict_differ_where_the_numbers_do():
    from explorer.puzzles.threed.feasibility import percent_pair

    assert percent_pair(3 / 10243, 0) == ("0.03%", "0%")
    assert percent_pair(0.1004, 0.1) == ("10.04%", "10%")
    assert percent_pair(0.25, 0.1) == ("25.0%", "10%")


def test_zero3_with_pp_pinned_is_infeasible_by_the_framework_rule():
    # Megatron-LM: no ZeRO-2/3 (Megatron-FSDP) with PP > 1 (Framework.sharded_with_pp); DeepSpeed the same
    with pytest.raises(InfeasibleError) as exc:
        solve_3d("cloud", fix={"zero": 3, "pp": 2}, top=1)
    assert "Megatron-LM does not run ZeRO-3 with pipeline parallelism" in str(exc.value)
    assert {"framework", "zero", "pp"} <= set(exc.value.conflicts)
    with pytest.raises(InfeasibleError, match="DeepSpeed does not run ZeRO-2 with pipeline parallelism"):
        solve_3d("cloud", framework="deepspeed", fix={"zero": 2, "pp": 4}, top=1)
