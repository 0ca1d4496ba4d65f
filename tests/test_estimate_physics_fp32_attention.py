"""FP32 training runs no fused attention kernel: Transformer Engine's FlashAttention and cuDNN FusedAttention backends
and flash-attn take FP16 / BF16 only, so Megatron-LM and DeepSpeed run attention unfused (the scores stored); PyTorch
SDPA (torchtitan) runs its memory-efficient kernel, which takes FP32 (frameworks.FP32_ATTENTION_SOURCE)."""

import pytest
from explorer.hardware import build_cluster
from explorer.models import get_model

import explorer
from explorer.cost import memory as mem
from explorer.cost.setup import Setup
from explorer.errors import UsageError


def test_megatron_fp32_is_priced_unfused():
    """The FP32 estimate is the unfused one: the same figures as asking for it (flash_attention=False), slower than
    the cuDNN kernel the BF16 default would have priced, and its assumptions say why."""
    kw = dict(tp=8, pp=4, precision="fp32")
    e = explorer.estimate(**kw)
    assert e.setup.flash_attention is False
    unfused = explorer.estimate(flash_attention=False, **kw)
    assert e.step_time_s == pytest.approx(unfused.step_time_s, rel=1e-12)
    assert e.memory_total == unfused.memory_total
    text = " ".join(a.text for a in e.assumptions())
    assert "Attention unfused: no fused kernel takes FP32" in text and "cuDNN's fused attention" not in text


def test_fp32_scores_are_four_bytes_a_value():
    """Korthikanti et al.'s unfused score term, 5 a s per token (softmax output 2, dropout output 2, mask 1 byte per
    score), is 4 + 4 + 1 = 9 a s at FP32. Llama 3 8B (32 heads), s = 4096, micro-batch 1, TP 1, no recompute:
    9 x 32 x 4096 x 4096 = 4,831,838,208 bytes per layer more than a fused kernel keeps."""
    c = build_cluster("h100", 8, 8, "nvlink4", "ib_ndr")
    m = get_model("llama3_8b")
    unfused = Setup(m, c, 4096, "fp32", flash_attention=False)
    fused = Setup(m, c, 4096, "fp32", flash_attention=True)
    per_layer = mem.activation_bytes_per_layer
    extra = per_layer(unfused, 1, 1, 1, 0, 0) - per_layer(fused, 1, 1, 1, 0, 0)
    assert extra == 9 * 32 * 4096 * 4096
    bf16 = Setup(m, c, 4096, "bf16", flash_attention=False)
    assert (mem.activation_bytes_per_layer(bf16, 1, 1, 1, 0, 0)
            - mem.activation_bytes_per_layer(Setup(m, c, 4096, "bf16"), 1, 1, 1, 0, 0)) == 5 * 32 * 4096 * 4096


def test_torchtitan_fp32_runs_sdpa_memory_efficient_kernel():
    """On B200 torchtitan's SDPA puts cuDNN first under BF16; under FP32 only its memory-efficient backend runs: no
    scores stored, priced at FlashAttention-2's rate."""
    kw = dict(model="llama3_8b", gpus=8, gpu="b200", framework="fsdp", global_batch=8)
    assert explorer.estimate(**kw).setup.attention_kernel == "cudnn"
    e = explorer.estimate(precision="fp32", **kw)
    assert e.setup.flash_attention and e.setup.attention_kernel == "flash2"
    assert any("memory-efficient kernel" in a.text for a in e.assumptions())


def test_a_fused_kernel_named_for_fp32_is_refused():
    with pytest.raises(UsageError, match="none takes FP32"):
        explorer.estimate(tp=8, pp=4, precision="fp32", attention_kernel="cudnn")


def test_solve_3d_prices_fp32_as_the_estimate_does():
    res = explorer.solve_3d("cloud", precision="fp32", top=1, time_limit=30)
    assert res.instance.setup.flash_attention is False
