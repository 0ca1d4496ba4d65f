"""Megatron-LM's primary FP8 weights (--fp8-param-gather, NeMo's fp8_params): the distributed optimizer gathers the
layers' GEMM weights as their 1-byte FP8 data, and no Transformer Engine cached copy is held
(explorer/cost/sharding.py FP8_PARAM_GATHER_SOURCE, TE_FP8_WEIGHT_CACHE_SOURCE; Setup.fp8_param_gather).

Hand count for Llama-3-8B (hidden 4,096, 32 layers, 32 heads of 128, 8 KV heads, SwiGLU ffn 14,336, vocabulary
128,256, RMSNorm, no biases, untied embeddings) on one rank (TP = PP = 1):
  GEMM weights per layer  2 h^2 + 2 h (8 x 128) + 3 h ffn = 33,554,432 + 8,388,608 + 176,160,768 = 218,103,808
  norms per layer         2 h = 8,192
  GEMM weights, 32 layers 6,979,321,856
  all parameters          32 x 218,112,000 + 2 x 128,256 x 4,096 (embedding, output) + 4,096 (final norm)
                          = 8,030,261,248
  bytes gathered          6,979,321,856 x 1 + (8,030,261,248 - 6,979,321,856) x 2 = 9,081,200,640
  mean bytes per param    9,081,200,640 / 8,030,261,248 = 1.13087...
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from explorer.hardware import build_cluster
from explorer.models import get_model

from explorer.cli import main
from explorer.cost import sharding as sh
from explorer.cost.frameworks import MEGATRON
from explorer.cost.setup import Setup

GEMM_WEIGHTS = 6_979_321_856
PARAMS = 8_030_261_248
MEAN_FP8_BYTES = (GEMM_WEIGHTS * 1 + (PARAMS - GEMM_WEIGHTS) * 2) / PARAMS


def _setup(precision: str = "fp8", **kw) -> Setup:
    return Setup(get_model("llama3_8b"), build_cluster("h100", 64, 8, "nvlink4", "ib_ndr"), 8192, precision, **kw)


def test_fp8_weights_are_gathered_in_one_byte_and_the_rest_in_two():
    assert sh.fp8_param_gather_bytes(_setup(), 1, 1) == pytest.approx(MEAN_FP8_BYTES, rel=1e-12)
    assert MEAN_FP8_BYTES == pytest.approx(1.13087, abs=1e-5)
    # without primary FP8 weights, and under BF16, every weight travels in BF16
    assert sh.fp8_param_gather_bytes(_setup(fp8_param_gather=False), 1, 1) == 2
    assert sh.fp8_param_gather_bytes(_setup("bf16"), 1, 1) == 2


def test_the_distributed_optimizers_gather_moves_the_fp8_bytes():
    # ZeRO-1 over 64 GPUs (8 nodes of 8): the same buckets and calls either way, so the latency terms cancel and the
    # step's gather is shorter by the bandwidth term of the bytes FP8 saves: (2 - mean) P (n - 1) / n over the group's
    # bus bandwidth (NCCL's ring over the node's 8 rails, the link catalog's figure)
    s_on, s_off = _setup(), _setup(fp8_param_gather=False)
    on = float(sh.dp_comm(s_on, MEGATRON.code, 1, 1, 1, 64, 1)["param_step"])
    off = float(sh.dp_comm(s_off, MEGATRON.code, 1, 1, 1, 64, 1)["param_step"])
    bus = s_on.group(64, 1, 1, 1).bus_bandwidth
    assert off - on == pytest.approx((2 - MEAN_FP8_BYTES) * PARAMS * 63 / 64 / bus, rel=1e-6)
    assert on < off
    # the gradient reduce-scatter is unchanged (gradients reduce in BF16 or FP32 either way)
    g_on = sh.dp_comm(s_on, MEGATRON.code, 1, 1, 1, 64, 1)["grad_step"]
    g_off = sh.dp_comm(s_off, MEGATRON.code, 1, 1, 1, 64, 1)["grad_step"]
    assert float(g_on) == pytest.approx(float(g_off), rel=1e-12)


def test_without_fp8_params_the_te_weight_cache_is_held_at_zero_1():
    # Transformer Engine's cached FP8 copy and its transpose on Hopper: 2 bytes per GEMM weight of the rank
    w_on, _, _ = sh.model_state_bytes(_setup(), MEGATRON.code, 1, 1, 64, 1, 1)
    w_off, _, _ = sh.model_state_bytes(_setup(fp8_param_gather=False), MEGATRON.code, 1, 1, 64, 1, 1)
    assert int(w_off) - int(w_on) == 2 * GEMM_WEIGHTS


def test_cli_flag_reaches_the_estimate_and_its_json():
    args = ["estimate", "--model", "llama3_8b", "--gpus", "64", "--precision", "fp8", "--zero", "1",
            "--global-batch", "64", "--seq-len", "8192", "--format", "json"]
    r_on = CliRunner().invoke(main, args)
    r_off = CliRunner().invoke(main, [*args, "--no-fp8-param-gather"])
    assert r_on.exit_code == 0 and r_off.exit_code == 0, r_on.output + r_off.output
    on, off = json.loads(r_on.output), json.loads(r_off.output)
    assert on["fp8_param_gather"] is True and off["fp8_param_gather"] is False
    # the cached copy: 2 x 6,979,321,856 bytes = 13.96 GB more per GPU
    assert off["memory_per_gpu_gb"] - on["memory_per_gpu_gb"] == pytest.approx(2 * GEMM_WEIGHTS / 1e9, rel=1e-6)
    texts = " ".join(a["text"] for a in off["assumptions"])
    assert "--no-fp8-param-gather" in texts and "2 bytes each" in texts
    assert "1-byte FP8 data" in " ".join(a["text"] for a in on["assumptions"])
