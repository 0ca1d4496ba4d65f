"""The data-parallel gradient sync of LoRA / QLoRA / frozen-layer steps reduces the trained parameters' gradients
only (PyTorch DDP and FSDP, Megatron-Core's DDP and distributed optimizer build their buckets from the parameters
with requires_grad): explorer/cost/training_memory.py trained_dp_comm. Expectations derived by hand below."""

import math

import pytest

from explorer.cost import sharding as sh
from explorer.cost import step as stp
from explorer.cost import training_memory as tmem
from explorer.puzzles import memory as M


@pytest.fixture(scope="module")
def inst():
    return M.make_instance("cloud")


def _choice(precision, zero, layers, adapter, mb=4):
    return tmem.Choice("adam", precision, "full", mb, zero, False, layers, adapter, 64)


def test_qlora_zero1_sync_is_the_adapters_reduce_scatter_and_gather_by_hand(inst):
    # Llama-3-70B: one layer's linear maps (d_in, d_out): q, o 8192 x 8192; k, v 8192 x 1024; 3 MLP 8192 x 28672.
    # LoRA rank 64: 64 x [2 (8192 + 8192) + 2 (8192 + 1024) + 3 (8192 + 28672)] = 64 x 161,792 = 10,354,688 per layer;
    # on the top 60 layers 621,281,280 trained parameters (the 70,553,706,496 frozen ones have no gradient).
    per_layer = 64 * (2 * (8192 + 8192) + 2 * (8192 + 1024) + 3 * (8192 + 28672))
    assert per_layer == 10_354_688
    n_t = 60 * per_layer
    # Megatron-Core buckets of max(40M, 1M x 8) = 40M parameters: ceil(621.28M / 40M) = 16 calls of 38,830,080.
    calls = math.ceil(n_t / 40e6)
    assert calls == 16
    each = n_t / calls
    # ZeRO-1 under bf16: reduce-scatter of FP32 main_grads (4 B), all-gather of the updated bf16 adapters (2 B).
    # NCCL ring on one DGX H100 node (8 GPUs): 8.4 us base + 7 x 2 us (NVLink 4 hops) + 7/8 x M / 369 GB/s
    # (450 GB/s x 0.82 ring bus efficiency, the NVLink 4 catalog entry).
    def ring(m_bytes):
        return 8.4e-6 + 7 * 2e-6 + 7 / 8 * m_bytes / 369e9

    expected = calls * (ring(each * 4) + ring(each * 2))  # = 16 x (390.7 + 206.6) us = 9.556 ms
    assert expected == pytest.approx(9.556e-3, rel=1e-3)
    r = tmem.training_step(inst.base, _choice("bf16", 1, 60, "qlora"), 1, 1, 8, 2)
    assert r["time_dp_total"] == pytest.approx(expected, rel=1e-9)
    # the whole model's would have been 70.55B x 4 B reduce-scattered + 70.55B x NF4 bytes gathered: over 80x more
    s = tmem.training_setup(inst.base, _choice("bf16", 1, 60, "qlora"))
    full = stp.evaluate(s, 1, 1, 1, 8, 1, 4, 2, 1, 2, 0)["time_dp_total"]
    assert full > 80 * r["time_dp_total"]


def test_sync_depends_on_the_adapters_not_on_how_the_frozen_base_is_stored(inst):
    # LoRA (16-bit base) and QLoRA (NF4 base) train the same 828M adapters: under ZeRO-0 the same all-reduce of
    # their fp16 gradients (2 B each), whatever the frozen base weighs (it was priced at the setup's mean weight
    # bytes, 0.54 B under QLoRA against 2.02 B under LoRA: 0.243 s vs 0.741 s)
    lora = tmem.training_step(inst.base, _choice("fp16", 0, 80, "lora"), 1, 1, 8, 2)["time_dp_total"]
    qlora = tmem.training_step(inst.base, _choice("fp16", 0, 80, "qlora"), 1, 1, 8, 2)["time_dp_total"]
    assert lora == pytest.approx(qlora, rel=1e-12)
    # and a bf16 run reduces FP32 main_grads (4 B), twice the fp16 bytes: bandwidth term doubles, latency does not
    bf16 = tmem.training_step(inst.base, _choice("bf16", 0, 80, "lora"), 1, 1, 8, 2)["time_dp_total"]
    assert 1.5 * lora < bf16 < 2.0 * lora


def test_frozen_layers_reduce_the_trained_layers_and_head_only(inst):
    # freezing the bottom 20 of 80 layers (no adapters): the trained share is 60 layers + the head + the final
    # norm = (60 x 855,654,400 + 128,256 x 8192 + 8192) / 70,553,706,496 = 0.7426 of the parameters; Megatron's
    # bucketed all-reduce is bandwidth-bound here (1,765 vs 1,311 buckets of 40M), so the sync scales with it
    frac = (60 * 855_654_400 + 128_256 * 8192 + 8192) / 70_553_706_496
    assert frac == pytest.approx(0.7426, abs=1e-4)
    full = tmem.training_step(inst.base, _choice("bf16", 0, 80, "none"), 1, 1, 8, 2)["time_dp_total"]
    part = tmem.training_step(inst.base, _choice("bf16", 0, 60, "none"), 1, 1, 8, 2)["time_dp_total"]
    assert part / full == pytest.approx(frac, rel=2e-3)


def test_full_training_keeps_the_step_models_sync(inst):
    c = _choice("bf16", 3, 80, "none")
    s = tmem.training_setup(inst.base, c)
    r = stp.evaluate(s, 1, 1, 1, 8, 1, 4, 2, 3, 2, 0)
    t = tmem.training_step(inst.base, c, 1, 1, 8, 2)
    assert t["time_dp_total"] == r["time_dp_total"]


@pytest.mark.parametrize("zero", [0, 1, 2, 3])
def test_exposed_time_reproduces_the_step_model(inst, zero):
    # dp_exposed_seconds is how the correction prices both syncs: on the step model's own collectives it must give
    # step.evaluate's time_dp_exposed, so the correction is the sync's difference and nothing else
    c = _choice("bf16", zero, 60, "qlora")
    s = tmem.training_setup(inst.base, c)
    r = stp.evaluate(s, 1, 1, 1, 8, 1, 4, 2, zero, 2, 0)
    mine = tmem.dp_exposed_seconds(s, sh.dp_comm(s, 0, 1, 1, 1, 8, zero), 1, 1, 1, 1, 4, 2, 2, 0)
    assert mine == pytest.approx(r["time_dp_exposed"], rel=1e-12)


def test_zero3_still_gathers_the_frozen_base(inst):
    # ZeRO-3 shards the frozen NF4 base too: every layer is gathered for the forward, so the sync cannot shrink
    # to the adapters' (the per-layer gathers of 855.7M x 0.516 B stay)
    c = _choice("bf16", 3, 60, "qlora")
    z1 = tmem.training_step(inst.base, _choice("bf16", 1, 60, "qlora"), 1, 1, 8, 2)["time_dp_total"]
    z3 = tmem.training_step(inst.base, c, 1, 1, 8, 2)["time_dp_total"]
    assert z3 > 10 * z1
