"""Transformer Engine's cached FP8 weights under Megatron-LM's FP8 training (explorer/cost/sharding.py
te_fp8_weight_cache_bytes): TE keeps the quantized copy of every GEMM weight in module._fp8_workspaces['weight'] while
Megatron passes is_first_microbatch, with its FP8 transpose on Hopper."""

import pytest

import explorer

# Llama 3 70B's GEMM weights per layer, by hand (h 8192, 8 KV heads of 128, ffn 28672, SwiGLU):
# QKV 8192 x (8192 + 2 x 1024) = 83,886,080; O 8192 x 8192 = 67,108,864; gate, up, down 3 x 8192 x 28672 =
# 704,643,072; together 855,638,016.
LLAMA3_70B_GEMM_WEIGHTS = 83_886_080 + 67_108_864 + 704_643_072


def test_hand_count_matches_the_model():
    from explorer.models import get_model

    assert get_model("llama3_70b").layer_matmul_params == LLAMA3_70B_GEMM_WEIGHTS


def test_megatron_fp8_holds_an_fp8_copy_and_its_transpose_on_hopper():
    """TP 8, PP 4 on H100 without the distributed optimizer (ZeRO-0, where Megatron-LM refuses --fp8-param-gather):
    20 layers per rank, 855,638,016 / 8 = 106,954,752 weights each, 2 FP8 bytes per weight: 2 x 20 x 106,954,752 =
    4,278,190,080 bytes more than BF16 training, which keeps the same BF16 weights."""
    kw = dict(tp=8, pp=4, zero=0, recompute="selective")
    fp8 = explorer.estimate(precision="fp8", **kw)
    bf16 = explorer.estimate(precision="bf16", **kw)
    assert fp8.memory["weights"] - bf16.memory["weights"] == 2 * 20 * (LLAMA3_70B_GEMM_WEIGHTS // 8)
    assert any(a.text.startswith("FP8 weight cache") and "4.278 GB" in a.text for a in fp8.assumptions())
    assert not any(a.text.startswith("FP8 weight") for a in bf16.assumptions())


def test_with_the_distributed_optimizer_the_weights_are_fp8_parameters():
    """ZeRO-1: primary FP8 weights (--fp8-param-gather, as NVIDIA's FP8 recipes run it): FP8 data and its transpose,
    2 bytes per GEMM weight, the BF16 count's 2; no copy beside them. The assumptions say what the flag's absence would
    add (4.278 GB here)."""
    kw = dict(tp=8, pp=4, zero=1, recompute="selective")
    fp8 = explorer.estimate(precision="fp8", **kw)
    assert fp8.memory["weights"] == explorer.estimate(precision="bf16", **kw).memory["weights"]
    said = [a.text for a in fp8.assumptions() if a.text.startswith("FP8 weights:")]
    assert len(said) == 1 and "--fp8-param-gather" in said[0] and "4.278 GB more" in said[0]


def test_blackwell_keeps_no_transpose():
    """On B200 one FP8 buffer serves both GEMM layouts (TE is_non_tn_fp8_gemm_supported): 1 byte per weight."""
    kw = dict(tp=8, pp=4, zero=0, recompute="selective", gpu="b200")
    fp8 = explorer.estimate(precision="fp8", **kw)
    bf16 = explorer.estimate(precision="bf16", **kw)
    assert fp8.memory["weights"] - bf16.memory["weights"] == 20 * (LLAMA3_70B_GEMM_WEIGHTS // 8)


@pytest.mark.parametrize("framework, zero", [("fsdp", 3), ("deepspeed", 1)])
def test_other_frameworks_keep_no_te_cache(framework, zero):
    """torchtitan's Float8Linear (torchao) and DeepSpeed run no Transformer Engine weight workspace: FP8 and BF16
    hold the same weights."""
    kw = dict(model="llama3_8b", gpus=8, tp=1, pp=1, zero=zero, framework=framework, global_batch=8)
    assert (explorer.estimate(precision="fp8", **kw).memory["weights"]
            == explorer.estimate(precision="bf16", **kw).memory["weights"])
