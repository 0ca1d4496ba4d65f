"""Data parallelism as the frameworks run it (explorer/cost/sharding.py, frameworks.py): known answers derived
by hand from the frameworks' own documentation and sources, cited in each test."""

from __future__ import annotations

import numpy as np
import pytest
from _pipeline_replay import replay
from explorer.hardware import build_cluster
from explorer.models import get_model

from explorer.api import estimate
from explorer.cost import sharding as sh
from explorer.cost.collectives import nccl_reduce_scatter_time
from explorer.cost.frameworks import DEEPSPEED, FSDP, MEGATRON
from explorer.cost.memory import params_per_device
from explorer.cost.setup import Setup
from explorer.errors import UsageError
from explorer.plan import ParallelPlan

M, D, F = MEGATRON.code, DEEPSPEED.code, FSDP.code


def _setup(gpus=64, **kw):
    return Setup(get_model("llama3_8b"), build_cluster("h100", gpus, 8, "nvlink4", "ib_ndr"), 4096, **kw)


def test_megatron_bytes_per_param_follow_its_distributed_optimizer_table():
    # NVIDIA/Megatron-LM docs/user-guide/features/dist_optimizer.md, bf16 parameters + fp32 gradients:
    # 18 bytes/param without the distributed optimizer, 6 + 12/d with it.
    s = _setup()
    p = params_per_device(s, 1, 1)
    for d in (1, 4, 64):
        w, g, o = sh.model_state_bytes(s, M, 1, 1, d, 1, 0)
        assert int(w + g + o) == 18 * p
        w, g, o = sh.model_state_bytes(s, M, 1, 1, d, 1, 1)
        assert int(w + g + o) == pytest.approx(6 * p + 12 * p / d, abs=2)
    # --grad-reduce-in-bf16: the gradient buffer halves (4 + 12/d)
    s16 = _setup(grad_reduce_dtype="bf16")
    w, g, o = sh.model_state_bytes(s16, M, 1, 1, 8, 1, 1)
    assert int(w + g + o) == pytest.approx(4 * p + 12 * p / 8, abs=2)


def test_deepspeed_keeps_the_zero_paper_bytes_and_fsdp_shards_all_sixteen():
    # ZeRO paper Table 1 (K = 12): 2 + 2 + 12 sharded by stage; DeepSpeed keeps bf16 gradients under ZeRO
    # (engine.py get_data_types). FSDP2: fp32 sharded parameter (the master, 4/d) + fp32 gradients (4/d) + Adam
    # (8/d) = 16/d; DeepSpeed ZeRO-3: (2 + 2 + 12)/d = 16/d as well.
    s = _setup()
    p = params_per_device(s, 1, 1)
    d = 16
    cases = {(D, 1): 4 * p + 12 * p / d, (D, 2): 2 * p + 14 * p / d, (D, 3): 16 * p / d, (F, 3): 16 * p / d}
    for (fw, z), expect in cases.items():
        w, g, o = sh.model_state_bytes(s, fw, 1, 1, d, 1, z)
        assert int(w + g + o) == pytest.approx(expect, abs=3), (fw, z)
    # FSDP2 without resharding after forward (ZeRO-2 here) also holds every gathered bf16 weight: + 2 bytes/param
    w, g, o = sh.model_state_bytes(s, F, 1, 1, d, 1, 2)
    assert int(w + g + o) == pytest.approx(2 * p + 16 * p / d, abs=3)


def test_zero3_traffic_per_step_grows_linearly_with_the_micro_batches():
    # FSDP2 (PP = 1): every micro-batch gathers each layer forward and backward and reduce-scatters its
    # gradients (docs/conventions.md "Sharded data parallelism, per micro-batch").
    s = _setup()
    comm = sh.dp_comm(s, F, 1, 1, 1, 64, 3)
    totals = [float(sh.total_per_step(comm, 32, m)) for m in (1, 2, 4, 8)]
    assert totals[1] == pytest.approx(2 * totals[0]) and totals[3] == pytest.approx(8 * totals[0])
    # By hand: one layer of Llama-3-8B is 218,112,000 parameters; 64 ranks on 8 nodes (8 per node: 8 rails,
    # min(369, 8 x 47) = 369 GB/s); a ring all-gather of 2-byte weights and a reduce-scatter of 4-byte (fp32)
    # gradients, each (n-1)/n M / B plus base + 56 NVLink hops + 7 network hops.
    layer = get_model("llama3_8b").layer_params
    ag = nccl_reduce_scatter_time(layer * 2, 64, 8, 2e-6, 5e-6, 369e9)
    rs = nccl_reduce_scatter_time(layer * 4, 64, 8, 2e-6, 5e-6, 369e9)
    assert float(comm["ag"]) == pytest.approx(ag) and float(comm["ag_bwd"]) == pytest.approx(ag)
    assert float(comm["rs"]) == pytest.approx(rs)
    assert ag == pytest.approx(8.4e-6 + 56 * 2e-6 + 7 * 5e-6 + 63 / 64 * layer * 2 / 369e9)


def test_distributed_optimizer_communicates_once_per_step_whatever_the_micro_batches():
    # Megatron's distributed optimizer: one reduce-scatter of the gradients and one all-gather of the weights
    # per step, in buckets of max(40M, 1M x DP) parameters (distributed_data_parallel.py).
    s = _setup()
    comm = sh.dp_comm(s, M, 1, 1, 1, 64, 1)
    assert float(sh.total_per_step(comm, 32, 1)) == float(sh.total_per_step(comm, 32, 64))
    p = float(params_per_device(s, 1, 1))
    buckets = np.ceil(p / 64e6)  # max(40M, 1M x 64) = 64M parameters per bucket
    rs = buckets * nccl_reduce_scatter_time(p / buckets * 4, 64, 8, 2e-6, 5e-6, 369e9)
    ag = buckets * nccl_reduce_scatter_time(p / buckets * 2, 64, 8, 2e-6, 5e-6, 369e9)
    assert float(comm["grad_step"]) == pytest.approx(rs) and float(comm["param_step"]) == pytest.approx(ag)
    assert float(comm["mb_fixed"]) == 0 and float(comm["ag"]) == 0


def test_grad_reduce_in_bf16_halves_megatrons_gradient_traffic():
    s32, s16 = _setup(), _setup(grad_reduce_dtype="bf16")
    b32 = float(sh.dp_comm(s32, M, 1, 1, 1, 64, 1)["grad_step"])
    b16 = float(sh.dp_comm(s16, M, 1, 1, 1, 64, 1)["grad_step"])
    # same calls and latency, half the bytes: the bandwidth part halves
    lat = float(sh.dp_comm(_setup(grad_reduce_dtype="bf16"), M, 1, 1, 1, 64, 1)["param_step"])  # 2-byte gather
    assert b16 == pytest.approx(lat)  # a bf16 reduce-scatter moves what the bf16 weight all-gather moves
    assert b16 < b32 < 2 * b16


def test_deepspeed_zero2_reduce_scatters_every_micro_batch_unhidden():
    # DeepSpeed ZeRO-2: gradients reduced into their partition during every micro-batch's backward;
    # overlap_comm is off by default for stage 2 (deepspeed/runtime/zero/config.py): fully exposed.
    s = _setup()
    comm = sh.dp_comm(s, D, 1, 1, 1, 64, 2)
    assert float(comm["mb_fixed"]) > 0 and float(comm["grad_step"]) == 0
    e = sh.exposed_per_micro_batch(comm, 32, 1.0, 2.0)  # plenty of compute: nothing of it hides
    assert float(e) == pytest.approx(float(comm["mb_fixed"]))


def test_prefetch_hides_all_but_the_first_gather_and_the_last_reduce_scatter():
    # Per layer the next layer's gather runs behind this layer's compute; what compute cannot hide is exposed.
    comm = {"ag": np.array(1.0), "ag_bwd": np.array(1.0), "rs": np.array(2.0), "mb_fixed": np.array(4.0)}
    # compute longer than the communication: only the fixed part (first gathers + last reduce-scatter)
    assert float(sh.exposed_per_micro_batch(comm, 10, 5.0, 10.0)) == 4.0
    # forward 0.5 (hides half a gather), backward 1.0 (hides a third of gather + reduce-scatter): 9 more layers
    assert float(sh.exposed_per_micro_batch(comm, 10, 0.5, 1.0)) == pytest.approx(4.0 + 9 * (0.5 + 2.0))


def test_recomputation_does_not_gather_a_third_time():
    # FSDP2 _pre_forward returns early in PRE_BACKWARD ("the pre-backward hook is responsible for the unshard"):
    # full recompute changes the compute, not the data-parallel traffic.
    s = _setup()
    plans = [ParallelPlan(tp=1, dp=64, micro_batch=1, global_batch=256, zero=3, recompute=rc, framework="fsdp")
             for rc in ("none", "full")]
    from explorer.cost.step import estimate as est

    a, b = (est(s, p) for p in plans)
    assert a.dp_comm_total_s == pytest.approx(b.dp_comm_total_s)


def test_fsdp_with_a_pipeline_gathers_once_per_step():
    # torchtitan: with PP, no reshard after forward and no gradient sync until the last backward
    # (torchtitan/distributed/fsdp.py; torch/distributed/pipelining/stage.py): traffic independent of m.
    s = _setup()
    comm = sh.dp_comm(s, F, 1, 1, 2, 32, 3)
    assert float(comm["ag"]) == 0 and float(comm["mb_fixed"]) == 0
    assert float(comm["param_step"]) > 0 and float(comm["grad_step"]) > 0


def test_a_plan_the_framework_cannot_run_is_a_usage_error_naming_why():
    with pytest.raises(UsageError, match="Megatron-LM does not run ZeRO-3 with pipeline parallelism"):
        estimate(model="llama3_8b", gpus=64, tp=8, pp=2, dp=4, zero=3)
    with pytest.raises(UsageError, match="HSDP shards weights or gradients: it needs ZeRO stage 2 or 3"):
        estimate(model="llama3_8b", gpus=64, tp=8, dp=8, zero=1, hsdp=True)
    with pytest.raises(UsageError, match="DeepSpeed has no HSDP"):
        estimate(model="llama3_8b", gpus=64, tp=1, dp=64, zero=3, hsdp=True, framework="deepspeed")
    with pytest.raises(UsageError, match="PyTorch FSDP2 \\(torchtitan\\) offers ZeRO stages 2, 3, not 1"):
        estimate(model="llama3_8b", gpus=64, tp=8, dp=8, zero=1, framework="fsdp")
    with pytest.raises(UsageError, match="does not run ZeRO-2 with pipeline parallelism"):
        estimate(model="llama3_8b", gpus=64, tp=8, pp=2, dp=4, zero=2, framework="deepspeed")
    with pytest.raises(UsageError, match="no ring-attention context parallelism"):
        estimate(model="llama3_8b", gpus=64, tp=8, cp=2, dp=4, zero=1, framework="deepspeed")
    e = estimate(model="llama3_8b", gpus=64, tp=8, pp=2, dp=4, zero=3, framework="any")
    assert e.plan.framework == "fsdp"


def test_hsdp_shards_inside_a_node_and_all_reduces_across():
    # HSDP on 64 GPUs with TP = 1: shard group = the 8 GPUs of a node (NVLink), replicate across 8 nodes.
    s = _setup()
    assert int(sh.shard_group_size(s, 1, 1, 1, 64, 1)) == 8
    w, g, o = sh.model_state_bytes(s, F, 1, 1, 64, 1, 3, 1, 1)
    p = params_per_device(s, 1, 1)
    assert int(w + g + o) == pytest.approx(16 * p / 8, abs=3)
    full = sh.dp_comm(s, F, 1, 1, 1, 64, 3)
    hybrid = sh.dp_comm(s, F, 1, 1, 1, 64, 3, 1, 1)
    assert float(hybrid["ag"]) < float(full["ag"])  # gathers stay on NVLink


def test_megatron_fsdp_hsdp_reduces_across_nodes_once_per_step():
    # Megatron-FSDP's HSDP (--num-distributed-optimizer-instances = the nodes; mcore_fsdp_adapter.py _init_dist_index:
    # the inner group is a contiguous block of DP ranks, here one node's 8 GPUs) reduce-scatters each unit's
    # gradients inside the node in every backward and all-reduces the shard across the nodes only in the last
    # micro-batch's (megatron_fsdp.py: outer_fsdp_group_grad_reduce = use_hybrid_fsdp and is_last_microbatch).
    # FSDP2's HSDP all-reduces in every backward. 64 H100s in 8 DGX nodes, TP 1, ZeRO-3, Llama 3 8B.
    from explorer.cost.collectives import nccl_allreduce_time

    s = _setup()
    layer, layers = s.model.layer_params, s.model.layers
    ends = float(sh.non_layer_params(s, 1, 1))
    node, rep = s.group(8, 1, 1, 1), s.group(8, 8)  # the node's 8 GPUs on NVLink; one GPU in each of 8 nodes
    assert (int(node.nodes), int(rep.nodes)) == (1, 8)
    gcb = 4.0  # FP32 gradient reduction (Megatron-LM and FSDP2 under bf16: arguments.py, torchtitan configs)
    assert int(sh.grad_comm_bytes(s, M, 3)) == int(sh.grad_comm_bytes(s, F, 3)) == 4

    def rs(e):
        return float(nccl_reduce_scatter_time(e * gcb, 8, node.per_node, node.alpha_intra, node.alpha_inter,
                                              node.bus_bandwidth))

    def ar(e):  # each replica holds 1/8 of the unit's gradients
        return float(nccl_allreduce_time(e * gcb / 8, 8, rep.per_node, rep.alpha_intra, rep.alpha_inter,
                                         rep.bus_bandwidth))

    meg = sh.dp_comm(s, M, 1, 1, 1, 64, 3, 1, 1)
    fsdp = sh.dp_comm(s, F, 1, 1, 1, 64, 3, 1, 1)
    assert float(meg["rs"]) == pytest.approx(rs(layer))  # every micro-batch: inside the node only
    assert float(fsdp["rs"]) == pytest.approx(rs(layer) + ar(layer))  # FSDP2: the replicas too, every time
    assert float(meg["grad_step"]) == pytest.approx(layers * ar(layer) + ar(ends))  # once per step
    assert float(meg["grad_last"]) == pytest.approx(ar(ends))  # the embedding's gradients are ready last
    assert float(sh.dp_comm(s, M, 1, 1, 1, 64, 3)["grad_step"]) == 0.0  # without HSDP nothing is left for the step
    # state sharded over the node's 8 GPUs, not the 64: the same bytes as FSDP-style ZeRO-3 over DP = 8
    hsdp_state = sum(int(x) for x in sh.model_state_bytes(s, M, 1, 1, 64, 1, 3, 1, 1))
    assert hsdp_state == sum(int(x) for x in sh.model_state_bytes(s, M, 1, 1, 8, 1, 3))
    # the API runs it and says so
    e = estimate(model="llama3_8b", gpus=64, dp=64, zero=3, hsdp=True, global_batch=256)
    assert e.plan.hsdp and any(a.text.startswith("HSDP: weights, gradients and optimizer state are sharded over the "
                                                 "8") and "--num-distributed-optimizer-instances 8" in a.text
                               for a in e.assumptions())
    # inside one node there is nothing to replicate across, and the report says so instead of '1 nodes'
    one = estimate(model="llama3_8b", gpus=8, dp=8, zero=3, hsdp=True, global_batch=8)
    texts = [a.text for a in one.assumptions() if a.text.startswith("HSDP")]
    assert texts == ["HSDP: the group lies inside one node, so it is plain sharding over its 8 members (NVLink); there "
                     "are no replicas to reduce across."]
    assert float(sh.dp_comm(s, M, 1, 1, 1, 8, 3, 1, 1)["grad_step"]) == 0.0


# --- context parallelism (explorer/cost/time.py cp_exposed_time) ----------------------------------------------

def test_ring_attention_exposes_what_the_attention_block_cannot_hide():
    # Llama-3-8B (hidden 4096, 8 KV heads x 128 = kv_dim 1024), s = 4,096, micro-batch 1, TP = 8, CP = 4:
    # TP x CP = 32 > 8 GPUs per node, so the ring crosses nodes and each step goes through one NIC
    # (47e9 B/s, alpha 5 us). Per step: K and V of 1,024 tokens x 1024/8 x 2 bytes = 524,288 B
    # -> 5 + 11.155 us forward, 5 + 22.31 us backward (dK, dV too).
    # Attention block: 1,024 tokens x 4 x 4,096 x 4,096 / 8 FLOPs at the H100's fused-attention efficiency
    # (accelerators.toml: 0.3733) x 989.4e12, over 4 steps = 5.814 us forward; the fused backward recomputes the
    # scores, 2.5 forward passes (FlashAttention-2, Algorithm 2): 14.536 us.
    # Exposed: 3 steps x ((16.155 - 5.814) + (27.310 - 14.536)) us = 3 x 23.115 us = 69.35 us; and the block's
    # attention runs under the whole transfer, slowed by sigma = 0.189 of it (Lee et al., arXiv 2507.03114):
    # 3 x 0.189 x (5.814 + 14.536) us = 11.54 us. Total 80.88 us.
    from explorer.cost.time import cp_exposed_time

    s = Setup(get_model("llama3_8b"), build_cluster("h100", 64, 8, "nvlink4", "ib_ndr"), 4096)
    assert s.attention_efficiency == pytest.approx(0.3733)
    assert s.efficiency.overlap_interference == pytest.approx(0.189)
    t_kv, t_kv2, block = 5e-6 + 524288 / 47e9, 5e-6 + 2 * 524288 / 47e9, 1024 * 4 * 4096 * 4096 / 8 / (
        989.4e12 * 0.3733) / 4
    assert block == pytest.approx(5.814e-6, rel=1e-3)
    expect = 3 * ((t_kv - block) + (t_kv2 - 2.5 * block) + 0.189 * (block + 2.5 * block))
    assert expect == pytest.approx(80.88e-6, rel=1e-3)
    assert float(cp_exposed_time(s, 8, 4, 1, 0)) == pytest.approx(expect)
    # selective recompute runs the forward ring again
    assert float(cp_exposed_time(s, 8, 4, 1, 1)) == pytest.approx(expect + 3 * (t_kv - block + 0.189 * block))
    assert float(cp_exposed_time(s, 8, 1, 1, 0)) == 0.0
    # at 32K tokens each block is 64x larger and hides the 8x larger transfers entirely: what is left is the
    # slowdown they cause, sigma x (forward + backward transfers) per step
    long = Setup(get_model("llama3_8b"), build_cluster("h100", 64, 8, "nvlink4", "ib_ndr"), 32768)
    t8, t8b = 5e-6 + 8 * 524288 / 47e9, 5e-6 + 16 * 524288 / 47e9
    assert 64 * block > t8b / 2
    assert float(cp_exposed_time(long, 8, 4, 1, 0)) == pytest.approx(3 * 0.189 * (t8 + t8b))


def test_a_cp_group_inside_a_node_runs_on_nvlink_one_that_spans_nodes_pays_the_network():
    from explorer.cost.time import cp_exposed_time

    s = Setup(get_model("llama3_8b"), build_cluster("h100", 64, 8, "nvlink4", "ib_ndr"), 8192)
    inside = float(cp_exposed_time(s, 2, 4, 1, 0))  # TP x CP = 8: one node
    across = float(cp_exposed_time(s, 8, 4, 1, 0))  # 32: four nodes, one NIC per edge
    assert across > inside


def test_interleaved_pipeline_syncs_each_chunk_behind_the_cooldown():
    # Megatron-LM core_r0.8.0 schedules.py (forward_backward_pipelining_with_interleaving): each model chunk's
    # gradients are reduced once its own last backward ends; the cooldown then runs PP more backwards of every
    # later chunk. Hand derivation for G = 0.39 s of reduce-scatter, P = 0.2 s of all-gather, a stage of
    # t = 0.24 s per micro-batch, v = 4 chunks, PP = 2: b = 2/3 x 0.24 / 4 = 0.04 s, f = 0.02 s per chunk;
    #   grad : max(0, 0.39/4 - 0.04, 0.39 - ((4 - 1) x 2 + 1) x 0.04) = max(0.0575, 0.11) = 0.11 s
    #   param (Megatron, gathers one chunk ahead): (0.05 - 0.02) + 3 x max(0, 0.05 - 2 x 0.02) = 0.06 s
    #   param (FSDP2, each chunk at its own first forward): 4 x (0.05 - 0.02) = 0.12 s
    comm = {"grad_step": np.array(0.39), "param_step": np.array(0.2), "overlap_grad": np.array(True),
            "overlap_param": np.array(True)}
    e_g, e_p = sh.step_sync_exposed(comm, 0.24, M, 2, 4)
    assert float(e_g) == pytest.approx(0.11)
    assert float(e_p) == pytest.approx(0.06)
    assert float(sh.step_sync_exposed(comm, 0.24, F, 2, 4)[1]) == pytest.approx(0.12)
    # without interleaving: the last micro-batch's backward (2/3 t) and the first one's forward (1/3 t)
    e_g1, e_p1 = sh.step_sync_exposed(comm, 0.24, M, 2, 1)
    assert (float(e_g1), float(e_p1)) == pytest.approx((0.39 - 0.16, 0.2 - 0.08))
    # interleaving never exposes more than one chunk per stage would, for any v and PP
    for v in (1, 2, 3, 8, 40):
        for pp in (2, 4, 16):
            for fw in (M, F):
                g, p = sh.step_sync_exposed(comm, 0.24, fw, pp, v)
                assert float(g) <= float(e_g1) + 1e-12 and float(p) <= float(e_p1) + 1e-12
    # a framework that does not overlap (DeepSpeed's ZeRO-1 default) exposes all of it
    off = dict(comm, overlap_grad=np.array(False), overlap_param=np.array(False))
    assert tuple(map(float, sh.step_sync_exposed(off, 0.24, D, 2, 4))) == (0.39, 0.2)


def test_the_last_gradient_bucket_and_the_first_weight_bucket_never_hide():
    # Megatron-Core (param_and_grad_buffer.py) lays the buckets out in backprop order and starts a bucket's
    # reduction when its last gradient of the last micro-batch is ready, so the bucket holding the first layers
    # starts only when the backward ends; the next forward waits for that bucket's all-gather. Hand derivation,
    # 64 GPUs, TP 8 (1.0e9 parameters per GPU of an 8B model), ZeRO-1, bucket max(40M, 1M x 8) = 40M parameters:
    # ceil(P / 40M) calls of P / calls parameters each, so the last bucket is exactly one call of grad_step.
    s = _setup()
    c = sh.dp_comm(s, M, 8, 1, 1, 8, 1)
    p = float(params_per_device(s, 8, 1))
    calls = np.ceil(p / 40e6)
    assert float(c["grad_last"]) == pytest.approx(float(c["grad_step"]) / calls, rel=1e-9)
    assert float(c["param_first"]) == pytest.approx(float(c["param_step"]) / calls, rel=1e-9)
    # a window far longer than the whole sync still leaves that one bucket of each exposed
    e_g, e_p = sh.step_sync_exposed(c, 1e3, M, 1, 1)
    assert (float(e_g), float(e_p)) == pytest.approx((float(c["grad_last"]), float(c["param_first"])))
    # interleaved (v = 4): only the first chunk is bucketed, P / 4 parameters in ceil(P / 4 / 40M) buckets
    c4 = sh.dp_comm(s, M, 8, 1, 2, 4, 1, v=4)
    p4 = float(params_per_device(s, 8, 2, 4)) / 4
    e4 = p4 / np.ceil(p4 / 40e6)
    g = s.group(4, 16, 1, 8)
    assert float(c4["grad_last"]) == pytest.approx(
        float(nccl_reduce_scatter_time(e4 * 4, 4, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth)),
        rel=1e-9)
    # no data parallelism, nothing to reduce
    assert float(sh.dp_comm(s, M, 8, 1, 8, 1, 1)["grad_last"]) == 0.0


def _bloom(precision="bf16", gpus=384):
    # BLOOM-176B on Jean Zay: 8 A100 80GB per node, 4 x 100 Gb/s Omni-Path per node (tr11-176B-ml README)
    return Setup(get_model("bloom_176b"), build_cluster("a100_80gb", gpus, 8, "nvlink3", "opa_4x100g"), 2048,
                 precision=precision)


def test_deepspeed_bf16_optimizer_shards_the_optimizer_and_gathers_the_weights():
    # deepspeed/runtime/bf16_optimizer.py: bf16 + ZeRO stage 0 -> FP32 master and Adam partitioned over DP
    # (12/d bytes/param), FP32 gradients whole (4), bf16 weights whole (2); after the step the bf16 weights are
    # all-gathered (all_gather_dp_groups), the same gather as ZeRO-1's. fp16 + stage 0 (FP16_Optimizer): 2 + 2 + 12.
    s, s16 = _bloom(), _bloom("fp16")
    p = params_per_device(s, 4, 12)
    w, g, o = sh.model_state_bytes(s, D, 4, 12, 8, 1, 0)
    assert (int(w), int(g)) == (2 * p, 4 * p)
    assert int(o) == pytest.approx(12 * p / 8, abs=2)
    assert int(sum(sh.model_state_bytes(s16, D, 4, 12, 8, 1, 0))) == 16 * p
    c0, c1 = sh.dp_comm(s, D, 4, 1, 12, 8, 0), sh.dp_comm(s, D, 4, 1, 12, 8, 1)
    assert float(c0["param_step"]) == pytest.approx(float(c1["param_step"])) and float(c0["param_step"]) > 0
    assert float(sh.dp_comm(s16, D, 4, 1, 12, 8, 0)["param_step"]) == 0.0


def test_deepspeed_bf16_optimizer_adds_each_micro_batch_into_fp32_gradients():
    # deepspeed/runtime/bf16_optimizer.py _update_hp_grad, run after every micro-batch's backward (pipe/engine.py
    # _exec_backward_pass -> update_hp_grads): hp_grad.add_(lp.grad.to(fp32)) reads 2 bytes of bf16 gradient,
    # writes a 4-byte FP32 copy, reads it and the FP32 accumulator (4 + 4) and writes the accumulator (4): 18 bytes
    # per local parameter. BLOOM TP 4 PP 12, most loaded stage: ceil(70 / 12) = 6 layers of 12 h^2 + 13 h =
    # 2,466,437,120 parameters (h = 14,336), / 4, plus the tied embedding 250,880 x 14,336 / 4 and its norm
    # 2 h / 4: 3,699,655,680 + 899,153,920 + 7,168 = 4,598,816,768 parameters x 18 bytes / 2,039 GB/s (A100 80GB
    # HBM) = 40.60 ms per micro-batch.
    from explorer.cost import step

    s = _bloom()
    p = int(params_per_device(s, 4, 12))
    assert p == 4_598_816_768
    t = float(sh.grad_accumulation_time(s, D, 4, 12, 0))
    assert t == pytest.approx(p * 18 / 2039e9, rel=1e-9) and t == pytest.approx(40.60e-3, rel=1e-3)
    # only DeepSpeed's BF16_Optimizer (bf16, ZeRO stage 0): not ZeRO-1, not fp16 (FP16_Optimizer accumulates in
    # .grad), not Megatron-LM (fused into the wgrad GEMM) or FSDP2
    assert float(sh.grad_accumulation_time(s, D, 4, 12, 1)) == 0.0
    assert float(sh.grad_accumulation_time(_bloom("fp16"), D, 4, 12, 0)) == 0.0
    assert float(sh.grad_accumulation_time(s, M, 4, 12, 0)) == 0.0
    assert float(sh.grad_accumulation_time(s, F, 4, 12, 0)) == 0.0
    # it runs once per micro-batch: 128 micro-batches add 128 t to the optimizer's share and to the step
    args = (s, 4, 1, 12, 8, 1, 2, 128, 0, 2, 0)
    ds, meg = step.evaluate(*args, fw=D), step.evaluate(*args, fw=M)
    t_opt = float(sh.dp_optimizer_time(s, D, 4, 1, 12, 8, 0))
    assert float(ds["time_optimizer"]) == pytest.approx(t_opt + 128 * t, rel=1e-9)
    assert float(meg["time_optimizer"]) == pytest.approx(float(sh.dp_optimizer_time(s, M, 4, 1, 12, 8, 0)))


def test_deepspeed_fp16_accumulates_later_micro_batches_into_grad_through_autograd():
    # DeepSpeed fp16 (FP16_Optimizer at ZeRO 0, stage_1_and_2.py at ZeRO 1) leaves each micro-batch's gradients in
    # param.grad until the accumulation boundary, and zero_grad sets .grad to None after the step. PyTorch's
    # AccumulateGrad steals the first micro-batch's gradient and adds each later one in place
    # (accumulate_grad.h: variable_grad += new_grad): read 2 + read 2 + write 2 bytes per local parameter.
    # BLOOM TP 4 PP 12 (4,598,816,768 parameters on the most loaded stage, see above) x 6 bytes / 2,039 GB/s
    # = 13.53 ms per micro-batch after the first.
    from explorer.cost import step

    s16 = _bloom("fp16")
    p = int(params_per_device(s16, 4, 12))
    t = float(sh.autograd_accumulation_time(s16, D, 4, 12, 1))
    assert t == pytest.approx(p * 6 / 2039e9, rel=1e-9) and t == pytest.approx(13.53e-3, rel=1e-3)
    assert float(sh.autograd_accumulation_time(s16, D, 4, 12, 0)) == pytest.approx(t)  # FP16_Optimizer alike
    # bf16 at ZeRO 1 runs the ZeRO optimizer on bf16 .grad: the same pass; at ZeRO 0 the BF16_Optimizer's own
    # 18-byte pass replaces it (its .grad is cleared after every micro-batch)
    assert float(sh.autograd_accumulation_time(_bloom(), D, 4, 12, 1)) == pytest.approx(t)
    assert float(sh.autograd_accumulation_time(_bloom(), D, 4, 12, 0)) == 0.0
    # not ZeRO-2/3 (gradients reduced every micro-batch), not Megatron-LM (fused into the wgrad GEMM), not FSDP
    for fw, z in ((D, 2), (D, 3), (M, 1), (F, 3)):
        assert float(sh.autograd_accumulation_time(s16, fw, 4, 12, z)) == 0.0
    # m - 1 passes per step: with 128 micro-batches the optimizer's share grows by 127 t; one micro-batch, none
    t_opt = float(sh.dp_optimizer_time(s16, D, 4, 1, 12, 8, 1))
    for m_, passes in ((128, 127), (1, 0)):
        e = step.evaluate(s16, 4, 1, 12, 8, 1, 2, m_, 1, 2, 0, fw=D)
        assert float(e["time_optimizer"]) == pytest.approx(t_opt + passes * t, rel=1e-9)


def test_megatron_before_gradient_accumulation_fusion_accumulates_into_grad_through_autograd():
    # Megatron-LM as the SC'21 scripts ran it (examples/sc21 at de7dc40f: --fp16, LocalDDP without contiguous
    # buffers): zero_grad(set_to_none=True) clears every .grad, autograd steals the first micro-batch's weight
    # gradient and adds each later one in place, and allreduce_gradients takes `param.main_grad = param.grad` after
    # the last. Gradient-accumulation fusion (83b1e42f, 2022-02-13) moved the add into the wgrad GEMM.
    # 529.6B, TP 8, PP 35, v = 3: 3 layers of (12 h^2 + 13 h) / 8 plus the embedding's (51,200 + 2,048) h / 8 on the
    # first stage, h = 20,480: 3 x 629,178,880 + 136,314,880 = 2,023,851,520 parameters; x (2 + 2 + 2) bytes /
    # 2,039 GB/s = 5.955 ms per micro-batch after the first.
    from dataclasses import replace

    from explorer.cost import step

    old = Setup(get_model("megatron_530b"), build_cluster("a100_80gb", 2520, 8, "nvlink3", "ib_hdr"), 2048,
                precision="fp16", grad_accumulation_fusion=False)
    new = replace(old, grad_accumulation_fusion=True)
    assert int(params_per_device(old, 8, 35, 3)) == 3 * (12 * 20480**2 + 13 * 20480) // 8 + (51200 + 2048) * 20480 // 8
    t = float(sh.autograd_accumulation_time(old, M, 8, 35, 0, 3))
    assert t == pytest.approx(2_023_851_520 * 6 / 2039e9, rel=1e-9) and t == pytest.approx(5.955e-3, rel=1e-3)
    assert float(sh.autograd_accumulation_time(new, M, 8, 35, 0, 3)) == 0.0  # fused (the default)
    assert float(sh.autograd_accumulation_time(old, F, 8, 35, 0, 3)) == 0.0  # FSDP reduces every micro-batch
    # m - 1 passes per step, not v m - 1: each of the v chunks' parameters takes m micro-batches' gradients, the
    # first stolen; with 280 micro-batches (run_table_1.sh's 529.6B row) the step grows by 279 t and nothing else
    a, b = (step.evaluate(s_, 8, 1, 35, 9, 3, 1, 280, 0, 2, 0, fw=M) for s_ in (old, new))
    assert float(a["step_time"]) - float(b["step_time"]) == pytest.approx(279 * t, rel=1e-9)
    assert float(a["time_optimizer"]) - float(b["time_optimizer"]) == pytest.approx(279 * t, rel=1e-9)


def test_deepspeed_dp_groups_sit_inside_a_pipeline_stage():
    # PipeModelDataParallelTopology(axes=['pipe', 'data', 'model']): DP members are TP = 4 ranks apart, so a
    # DP group of 8 has 2 members in each of 4 nodes. Omni-Path is the node's (400 Gb/s x 0.80 = 40 GB/s shared
    # by 8 GPUs): each of the 4 groups crossing a node gets 2/8 of it, 10 GB/s of bus bandwidth. fp16 ZeRO-0
    # (FP16_Optimizer): one all-reduce of the 2-byte gradients in 5e8-element buckets, 2 (n-1)/n M / busbw.
    s = _bloom("fp16")
    p = float(params_per_device(s, 4, 12))
    expect = 2 * 7 / 8 * p * 2 / 10e9
    tied = float(sh.tied_embedding_sync(s, D, 0, 4, 1, 12, 8))
    got = float(sh.dp_comm(s, D, 4, 1, 12, 8, 0)["grad_step"]) - tied
    assert got == pytest.approx(expect, rel=0.01)


def test_deepspeed_all_reduces_the_tied_embedding_between_first_and_last_stage():
    # pipe/engine.py _exec_reduce_tied_grads: all_reduce(weight._hp_grad) (FP32 under the BF16_Optimizer) over the
    # 2 ranks holding the tied embedding, after the last backward. BLOOM, TP 4: 250,880 x 14,336 / 4 elements
    # x 4 bytes = 3.597 GB; the two ranks are on different nodes, one GPU of 8 per node in the group, all 8 GPUs
    # of the node doing the same: 40 GB/s / 8 = 5 GB/s; ring all-reduce of 2 ranks moves 2 (1/2) M: 0.719 s.
    s = _bloom()
    elems = 250880 * 14336 / 4
    assert float(sh.tied_embedding_sync(s, D, 0, 4, 1, 12, 8)) == pytest.approx(elems * 4 / 5e9, rel=0.01)
    # fp16 (FP16_Optimizer): weight.grad, 2 bytes; no pipeline: no second copy
    assert float(sh.tied_embedding_sync(_bloom("fp16"), D, 0, 4, 1, 12, 8)) == pytest.approx(elems * 2 / 5e9,
                                                                                            rel=0.01)
    assert float(sh.tied_embedding_sync(s, D, 0, 4, 1, 1, 96)) == 0.0
    # with DP = 1 too (the pipeline engine reduces tied weights whatever the data parallelism)
    s48 = _bloom(gpus=48)
    assert float(sh.dp_comm(s48, D, 4, 1, 12, 1, 0)["grad_step"]) == pytest.approx(elems * 4 / 5e9, rel=0.01)


def test_bloom_partition_gives_the_output_layer_a_layer_slot():
    # Megatron-DeepSpeed --pp-partition-method 'type:transformer|embedding' (tr11-176B-ml README): 70 layers + 2
    # embedding slots over PP 72 stages is one slot each, so the last stage runs the output layer alone where
    # Megatron's default split puts it on top of a transformer layer. Per micro-batch the pacing stage shrinks from
    # t_layer + t_logits to max(t_layer, t_logits): the step by m min(t_layer, t_logits). The fill and drain cross
    # the other stages, one layer each either way (step.py t_fill), so the bubble does not change.
    from dataclasses import replace

    from explorer.cost import time as tm
    from explorer.cost.step import estimate as step_estimate

    off = _bloom(gpus=288)
    on = replace(off, embedding_pipeline_slot=True)
    plan = ParallelPlan(tp=1, pp=72, dp=4, micro_batch=1, global_batch=2048, zero=0, recompute="full",
                        sequence_parallel=False, framework="deepspeed")
    parts = tm.layer_time(off, 1, 1, 1, 2, 0, False)
    t_layer, t_logits = float(sum(parts)), float(tm.logits_time(off, 1, 1, 1))
    m = 2048 // 4  # micro-batches per step (PP 72, DP 4, micro-batch 1)
    # BF16_Optimizer's FP32 gradient accumulation after each micro-batch runs over the pacing stage's parameters:
    # the stage with the embedding and a layer (default split), the output layer's or a layer's own (slots)
    mdl = off.model
    head = mdl.head_params + mdl.vocab * mdl.hidden  # tied: the last stage's copy of the embedding

    def acc(tp, pp, params):
        return float(sh.grad_accumulation_time(off, D, tp, pp, 0, 1, params))

    acc_off = acc(1, 72, params_per_device(off, 1, 72))
    acc_on = acc(1, 72, head if t_logits >= t_layer else mdl.layer_params)
    saved = step_estimate(off, plan).step_time_s - step_estimate(on, plan).step_time_s
    assert saved == pytest.approx(m * min(t_layer, t_logits) + m * (acc_off - acc_on), rel=1e-6)
    assert step_estimate(on, plan).time["bubble"] == pytest.approx(step_estimate(off, plan).time["bubble"])
    # PP = 12: 72 slots / 12 = 6; the last stage runs 5 layers and the output layer (BLOOM's layout)
    plan12 = replace(plan, tp=4, pp=12, dp=8, micro_batch=2)
    parts = tm.layer_time(off, 4, 1, 2, 2, 0, False)
    t_layer, t_logits = float(sum(parts)), float(tm.logits_time(off, 4, 1, 2))
    saved = step_estimate(off, plan12).step_time_s - step_estimate(on, plan12).step_time_s
    stage_off, stage_on = 6 * t_layer + t_logits, max(6 * t_layer, 5 * t_layer + t_logits)
    last_paces = 5 * t_layer + t_logits >= 6 * t_layer
    acc_off = acc(4, 12, params_per_device(off, 4, 12))
    acc_on = acc(4, 12, -(-((5 * mdl.layer_params + head) if last_paces else 6 * mdl.layer_params) // 4))
    assert saved == pytest.approx(128 * (stage_off - stage_on) + 128 * (acc_off - acc_on), rel=1e-6)


def test_data_parallelism_nests_inside_the_pipeline_stage():
    # Megatron-LM initialize_model_parallel: DP groups are range(start + j, end, TP) inside each block of
    # world / PP consecutive ranks (PP outermost); torchtitan's mesh ['pp', 'dp_replicate', 'dp_shard', 'cp', 'tp']
    # and DeepSpeed's ['pipe', 'data', 'model'] likewise. TP 2, PP 2, DP 16 on 64 GPUs (8 per node): a node's 8
    # consecutive ranks are 2 TP ranks x 4 DP ranks of one stage, so an HSDP shard group (the DP members inside
    # one node) has 4 members, not the 2 a DP-outside-PP layout (members TP x PP = 4 apart) would give.
    s = _setup()
    assert int(sh.shard_group_size(s, 2, 1, 2, 16, 1)) == 4
    assert int(sh.shard_group_size(s, 4, 1, 4, 4, 1)) == 2


def test_pipeline_sends_carry_one_tp_share_with_or_without_sequence_parallelism():
    """Megatron-LM's scatter/gather optimization (Narayanan et al., SC'21 sec. 4.1: the receiving stage
    all-gathers over NVLink what each TP rank sent alone) and DeepSpeed's partitioned pipeline buffers send 1/TP of
    the activation per TP rank across nodes; sequence parallelism splits it the same way without the gather.
    GPT-3 175B (h = 12,288), one 2,048-token micro-batch, BF16: 50,331,648 bytes, 6,291,456 per rank at TP 8.
    Over HDR (25 GB/s x 0.96 = 24 GB/s, alpha 5 us): 5 us + 262.144 us per send, activation + gradient per
    micro-batch = 534.288 us. Before this, the model sent the whole tensor without SP: 8 x the IB bytes."""
    from explorer.cost.time import all_gather, p2p_time

    s = Setup(get_model("gpt3_175b"), build_cluster("a100_80gb", 64, 8, "nvlink3", "ib_hdr"), 2048)
    with_sp = p2p_time(s, 8, 1, 8, 1, 1)
    assert with_sp == pytest.approx(2 * (5e-6 + 6_291_456 / 24e9), rel=1e-9)
    assert with_sp == pytest.approx(534.288e-6, rel=1e-6)
    without_sp = p2p_time(s, 8, 1, 8, 1, 0)
    assert without_sp == pytest.approx(with_sp + 2 * all_gather(s, 50_331_648, 8), rel=1e-9)
    # the NVLink gather is far cheaper than sending the whole tensor over the NIC
    assert without_sp < 2 * (5e-6 + 50_331_648 / 24e9) / 3
    assert p2p_time(s, 8, 1, 1, 1, 0) == 0.0  # no pipeline, no sends


def test_deepspeeds_blocking_pipeline_transfers_take_turns():
    """DeepSpeed's pipeline engine sends and receives each activation and gradient with its own blocking call
    (deepspeed/runtime/pipe/schedule.py TrainSchedule: RecvActivation, SendGrad, ForwardPass / SendActivation,
    RecvGrad, BackwardPass; pipe/p2p.py asserts async_op False), so a stage's two transfers of an exchange run one
    after the other, where Megatron-LM posts both in one batch_isend_irecv. Same GPT-3 175B micro-batch as above
    (6,291,456 bytes per TP rank over HDR, 5 us + 262.144 us per transfer): Megatron 2 x 267.144 = 534.288 us per
    micro-batch; DeepSpeed 4 x 267.144 = 1,068.576 us. Without SP the receiver's NVLink all-gather of the partitioned
    tensor is paid once per exchange either way."""
    from explorer.cost.frameworks import DEEPSPEED, FSDP, MEGATRON
    from explorer.cost.time import all_gather, p2p_time

    s = Setup(get_model("gpt3_175b"), build_cluster("a100_80gb", 64, 8, "nvlink3", "ib_hdr"), 2048)
    assert p2p_time(s, 8, 1, 8, 1, 1, MEGATRON.code) == pytest.approx(534.288e-6, rel=1e-6)
    assert p2p_time(s, 8, 1, 8, 1, 1, FSDP.code) == pytest.approx(534.288e-6, rel=1e-6)
    assert p2p_time(s, 8, 1, 8, 1, 1, DEEPSPEED.code) == pytest.approx(1068.576e-6, rel=1e-6)
    gather = 2 * all_gather(s, 50_331_648, 8)
    assert p2p_time(s, 8, 1, 8, 1, 0, DEEPSPEED.code) == pytest.approx(1068.576e-6 + gather, rel=1e-6)
    assert p2p_time(s, 8, 1, 1, 1, 0, DEEPSPEED.code) == 0.0


def _deepspeed_train_schedule_makespan(stages: int, m: int, t_f: float | list[float], t_b: float | list[float],
                                       c: float) -> float:
    """Event simulation of DeepSpeed's TrainSchedule (deepspeed/runtime/pipe/schedule.py, _step_to_micro_batch and
    steps()) with every send and receive a blocking rendezvous of c seconds between neighbouring stages. t_f and t_b
    are one stage's forward and backward, or a list with each stage's."""
    t_f = [t_f] * stages if isinstance(t_f, (int, float)) else list(t_f)
    t_b = [t_b] * stages if isinstance(t_b, (int, float)) else list(t_b)
    def mb_of(step, st):
        if step % 2 == 0 and st % 2 == 0:
            return step // 2 - st // 2, True
        if step % 2 and st % 2:
            return (step - 1) // 2 - st // 2, True
        if step % 2 == 0:
            return step // 2 - stages + (st + 1) // 2, False
        return (step - 1) // 2 - stages + 1 + st // 2, False

    def program(st):
        ops, prev = [], -1
        for step in range(2 * (m + stages - 1)):
            mb, fwd = mb_of(step, st)
            valid, pvalid = 0 <= mb < m, 0 <= prev < m
            if fwd:
                ops += [("recvA", mb)] * (valid and st > 0) + [("sendG", prev)] * (pvalid and st > 0)
            else:
                ops += [("sendA", prev)] * (pvalid and st < stages - 1) + [("recvG", mb)] * (valid and st < stages - 1)
            ops += [("F" if fwd else "B", mb)] * valid
            prev = mb
        return ops

    partner = {"sendA": (1, "recvA"), "recvA": (-1, "sendA"), "sendG": (-1, "recvG"), "recvG": (1, "sendG")}
    progs = [program(st) for st in range(stages)]
    t = [0.0] * stages

    def step(st, instruction, pc):
        op, mb = instruction
        if op in ("F", "B"):
            t[st] += t_f[st] if op == "F" else t_b[st]
            return (st,)
        d, other_op = partner[op]
        o = st + d
        if pc[o] < len(progs[o]) and progs[o][pc[o]] == (other_op, mb):  # both sides there: the transfer runs
            t[st] = t[o] = max(t[st], t[o]) + c
            return (st, o)
        return ()

    replay(progs, step)
    return max(t)


@pytest.mark.parametrize("stages, m, c", [(4, 32, 0.05), (12, 128, 0.1), (24, 256, 0.05), (6, 64, 0.2)])
def test_deepspeeds_schedule_pays_four_transfers_per_micro_batch(stages, m, c):
    """The closed form step.py uses for DeepSpeed, (m + p - 1)(t_f + t_b + t_p2p) with t_p2p = 4 transfers of c
    (p2p_time with Framework.p2p_transfers = 2), against an event simulation of DeepSpeed's own TrainSchedule with
    blocking rendezvous sends: within 1.5 %. With c = 0 the schedule is the ideal 1F1B, (m + p - 1)(t_f + t_b)."""
    t_f, t_b = 1.0, 3.0  # full recompute: backward = recompute + 2 x forward
    assert _deepspeed_train_schedule_makespan(stages, m, t_f, t_b, 0.0) == pytest.approx((m + stages - 1) * 4.0)
    sim = _deepspeed_train_schedule_makespan(stages, m, t_f, t_b, c)
    assert sim == pytest.approx((m + stages - 1) * (t_f + t_b + 4 * c), rel=0.015)
    # and clearly above what two batched exchanges (Megatron's count) would give
    assert sim > (m + stages - 1) * (t_f + t_b + 2 * c) * (1 + 0.25 * c)


def test_deepspeeds_schedule_with_a_heavier_last_stage():
    """With free transfers and the last stage slower than the rest (it carries the output layer), DeepSpeed's
    synchronous 1F1B takes (m - 1) t_max + the sum of every stage's t_f + t_b: micro-batch 0 crosses every stage on
    its way in and out, and the steady state runs at the slowest stage's pace. Hand check at p = 4, m = 8, the last
    stage 1.2 + 3.4 against 1 + 3: 7 x 4.6 + (3 x 4 + 4.6) = 32.2 + 16.6 = 48.8. step.py charges
    (m + p - 1) t_max = 50.6, i.e. (p - 1)(t_max - t_mid) = 1.8 more (docs/validation.md, 'Investigated,
    nothing charged (2026-12-06)')."""
    for stages, m in [(4, 8), (12, 64), (35, 240)]:
        t_f = [1.0] * (stages - 1) + [1.2]
        t_b = [3.0] * (stages - 1) + [3.4]
        sim = _deepspeed_train_schedule_makespan(stages, m, t_f, t_b, 0.0)
        assert sim == pytest.approx((m - 1) * 4.6 + (stages - 1) * 4.0 + 4.6)
    assert _deepspeed_train_schedule_makespan(4, 8, [1.0, 1.0, 1.0, 1.2], [3.0, 3.0, 3.0, 3.4], 0.0) == \
        pytest.approx(48.8)
    # the same surplus on the first stage costs less: the replay finishes (p - 1)(t_max - t_mid) sooner, 47.0 here,
    # so (m + p - 1) t_max overstates a heavier first stage by twice as much
    assert _deepspeed_train_schedule_makespan(4, 8, [1.2, 1.0, 1.0, 1.0], [3.4, 3.0, 3.0, 3.0], 0.0) == \
        pytest.approx(48.8 - 3 * 0.6)


def test_the_report_says_when_deepspeeds_bf16_optimizer_runs():
    # the per-micro-batch FP32 accumulation lands in the 'optimizer' share of the step: the assumptions say why,
    # for DeepSpeed bf16 ZeRO-0 plans only
    kw = dict(model="llama3_8b", gpus=16, tp=2, pp=2, micro_batch=1, global_batch=64, framework="deepspeed")
    texts = [" ".join(a.text for a in estimate(zero=z, **kw).assumptions()) for z in (0, 1)]
    assert "BF16_Optimizer" in texts[0] and "18 bytes per local parameter" in texts[0]
    assert "BF16_Optimizer" not in texts[1]
    # ZeRO-1 instead leaves each micro-batch's gradients to autograd's in-place add into .grad (6 bytes in bf16)
    assert "6 bytes per local parameter" in texts[1] and "6 bytes per local parameter" not in texts[0]
    assert "BF16_Optimizer" not in " ".join(a.text for a in estimate(zero=0, **{**kw, "framework": "megatron"})
                                            .assumptions())


def test_the_report_says_when_deepspeeds_pipeline_transfers_take_turns():
    kw = dict(model="llama3_8b", gpus=16, tp=2, micro_batch=1, global_batch=64, zero=1)

    def text(**more):
        return " ".join(a.text for a in estimate(**{**kw, **more}).assumptions())

    assert "four transfer times per micro-batch" in text(pp=2, framework="deepspeed")
    assert "four transfer times" not in text(pp=1, framework="deepspeed")
    assert "four transfer times" not in text(pp=2, framework="megatron")
    # and the step pays it: with the same plan, DeepSpeed's pipeline sends take twice Megatron's transfer time
    ds = estimate(**kw, pp=2, framework="deepspeed").time["pp_comm"]
    mg = estimate(**kw, pp=2, framework="megatron").time["pp_comm"]
    assert ds == pytest.approx(2 * mg, rel=0.05)  # SP on in both: no receiver gather, all transfer


# --- overlap interference (Efficiency.overlap_interference) ------------------------------------------------------

def _with_sigma(s: Setup, sigma: float, **eff) -> Setup:
    from dataclasses import replace

    return replace(s, efficiency=replace(s.efficiency, overlap_interference=sigma, **eff))


def test_overlap_interference_charges_only_the_hidden_part_of_the_data_parallel_traffic():
    # Lee et al., arXiv 2507.03114: compute that runs under an overlapped collective is 18.9 % slower on average.
    # The model charges sigma x (seconds of collectives that compute hid). Hidden = all data-parallel traffic of
    # the step (dp_comm_total_s) less what shows (dp_exposed at sigma = 0), both reported by the model, so at
    # PP = 1 (every micro-batch a pipeline slot) the step grows by exactly sigma x hidden.
    from explorer.cost.step import estimate as step_estimate

    base = _setup(64)
    plan = ParallelPlan(tp=1, pp=1, dp=64, micro_batch=1, global_batch=128, zero=3, recompute="none",
                        sequence_parallel=False, framework="fsdp")
    e0 = step_estimate(_with_sigma(base, 0.0), plan)
    e1 = step_estimate(_with_sigma(base, 0.2), plan)
    hidden = e0.dp_comm_total_s - e0.time["dp_exposed"]
    assert hidden > 0.1 * e0.dp_comm_total_s  # FSDP2 hides most of its per-layer gathers here
    assert e1.step_time_s - e0.step_time_s == pytest.approx(0.2 * hidden, rel=1e-6)
    assert e1.time["dp_exposed"] - e0.time["dp_exposed"] == pytest.approx(0.2 * hidden, rel=1e-6)
    # nothing hidden, nothing charged: Megatron-LM's LocalDDP all-reduces after the whole backward (dp_overlap 0)
    plan_m = ParallelPlan(tp=1, pp=1, dp=64, micro_batch=1, global_batch=128, zero=0, recompute="none",
                          sequence_parallel=False, framework="megatron")
    e0 = step_estimate(_with_sigma(base, 0.0, dp_overlap=0.0), plan_m)
    e1 = step_estimate(_with_sigma(base, 0.2, dp_overlap=0.0), plan_m)
    assert e0.time["dp_exposed"] == pytest.approx(e0.dp_comm_total_s)
    assert e1.step_time_s == pytest.approx(e0.step_time_s, rel=1e-12)


def test_deepspeed_zero1_of_2021_to_2023_all_reduces_its_gradients():
    # microsoft/DeepSpeed v0.6.5 deepspeed/runtime/engine.py _configure_zero_optimizer: 'Overlap and contiguous
    # grads are meaningless in stage 1 and are ignored' (contiguous_gradients = False, from #1246 2021-07 until
    # #4887 2024-01), so zero/stage_1_and_2.py reduce_ipg_grads takes buffered_reduce_fallback: an all-reduce over
    # DP, 5e8-element buckets. Today's stage 1 reduce-scatters. Llama 3 8B on 64 GPUs, TP 1, DP 64, fp16 gradients:
    # 8.03e9 parameters in ceil(8.03e9 / 5e8) = 17 buckets.
    s_new, s_old = _setup(64), _setup(64, zero1_grad_allreduce=True)
    p = float(params_per_device(s_new, 1, 1))
    calls = np.ceil(p / 5e8)
    g = s_new.group(64, 1, 1, 1)
    gb = float(sh.grad_comm_bytes(s_new, D, 1))
    ar = calls * float(sh._ar(s_new, p / calls * gb, 64, g))
    rs = calls * float(sh._rs(s_new, p / calls * gb, 64, g))
    assert ar > 1.8 * rs  # an all-reduce moves twice a reduce-scatter's bytes
    assert float(sh.dp_comm(s_old, D, 1, 1, 1, 64, 1)["grad_step"]) == pytest.approx(ar)
    assert float(sh.dp_comm(s_new, D, 1, 1, 1, 64, 1)["grad_step"]) == pytest.approx(rs)
    # ZeRO-0 all-reduces either way; the weight all-gather after the step is the same
    assert float(sh.dp_comm(s_old, D, 1, 1, 1, 64, 0)["grad_step"]) == pytest.approx(
        float(sh.dp_comm(s_new, D, 1, 1, 1, 64, 0)["grad_step"]))
    assert float(sh.dp_comm(s_old, D, 1, 1, 1, 64, 1)["param_step"]) == pytest.approx(
        float(sh.dp_comm(s_new, D, 1, 1, 1, 64, 1)["param_step"]))


def test_interleaved_pipeline_gives_the_output_layer_a_chunk_of_its_own():
    # Llama 3 405B as Meta ran it (arXiv 2407.21783 sec. 3.3.2; Chu et al., ISCA '25 sec. 3.1.2 and 3.2): 126
    # layers plus the embedding and the output chunk in 128 one-slot chunks, PP 16 x V 8. Megatron's default split
    # puts ceil(126 / 128) x 8 = 8 layers AND the output layer on the last rank; with the slots the last rank runs
    # 7 layers and the output chunk, which for this shape is lighter than a layer (2 h V = 4.2 GFLOP per token
    # against about 6.5 for a layer), so the pacing rank runs 8 layers and nothing else. The compute of a step
    # shrinks by exactly M x t_logits (M = 32 micro-batches per pipeline), and so does the pipeline: its fill and
    # drain cross ranks of 8 layers either way (step.py t_fill).
    from dataclasses import replace

    from explorer.cost import time as tm
    from explorer.cost.step import estimate as step_estimate
    from explorer.puzzles.threed import make_setup
    from explorer.tracks import get_track

    off = make_setup(get_track("cloud"), model="llama3_405b", gpus=8192, seq_len=8192, tp_comm_overlap=False)
    on = replace(off, embedding_pipeline_slot=True)
    plan = ParallelPlan(tp=8, pp=16, dp=64, micro_batch=1, global_batch=2048, virtual_stages=8, zero=2,
                        recompute="none", sequence_parallel=True, framework="fsdp")
    t_logits = float(tm.logits_time(off, 8, 1, 1))
    t_layer = float(sum(tm.layer_time(off, 8, 1, 1, 0, True, 0)))
    assert t_logits < t_layer
    e_off, e_on = step_estimate(off, plan), step_estimate(on, plan)
    assert e_off.time["compute"] - e_on.time["compute"] == pytest.approx(32 * t_logits, rel=1e-9)
    assert e_on.time["bubble"] == pytest.approx(e_off.time["bubble"], rel=1e-12)
    # the step saves the same, less the little more of the step-level sync that the shorter stage leaves exposed
    exposed_more = e_on.time["dp_exposed"] - e_off.time["dp_exposed"]
    assert 0 <= exposed_more < 0.01 * 32 * t_logits
    assert e_off.step_time_s - e_on.step_time_s == pytest.approx(32 * t_logits - exposed_more, rel=1e-9)


# --- Megatron-FSDP (--use-megatron-fsdp): Megatron-LM's ZeRO-2/3 ------------------------------------------------

def test_megatron_fsdp_bytes_per_param_shard_as_its_stage_says():
    # Megatron-FSDP keeps Megatron's buffers (docs/user-guide/features/megatron_fsdp.md): bf16 model weights (2),
    # FP32 main weights (4, --megatron-fsdp-main-params-dtype fp32), FP32 main gradients (4, Megatron's --bf16
    # default; --grad-reduce-in-bf16 halves them) and Adam's two FP32 moments (8). optim_grads (ZeRO-2) shards all
    # but the bf16 weights: 2 + 16/d; optim_grads_params (ZeRO-3) shards all 18: 18/d, except that the weights outside
    # its TransformerLayer units (embedding, final norm, output layer: Llama 3 8B's 2 x 128,256 x 4,096 + 4,096) stay
    # gathered all step (param_and_grad_buffer.py preserve_non_fsdp_units), whole in bf16: + 2 (1 - 1/d) bytes each.
    s = _setup()
    p = params_per_device(s, 1, 1)
    ends = 2 * 128_256 * 4_096 + 4_096
    assert p - s.model.layers * s.model.layer_params == ends
    for d in (4, 64):
        w, g, o = sh.model_state_bytes(s, M, 1, 1, d, 1, 2)
        assert int(w + g + o) == pytest.approx(2 * p + 16 * p / d, abs=3)
        w, g, o = sh.model_state_bytes(s, M, 1, 1, d, 1, 3)
        assert int(w + g + o) == pytest.approx(18 * p / d + 2 * ends * (1 - 1 / d), abs=3)


def test_megatron_fsdp_zero3_gathers_and_reduces_per_layer_and_micro_batch_like_fsdp2():
    # optim_grads_params: one all-gather per TransformerLayer unit before its forward and again before its backward,
    # one reduce-scatter after it, every micro-batch (megatron_fsdp.py: is_delay_grad_reduce is False for it). Same
    # units and collectives as FSDP2's per-block fully_shard; FP32 gradients both (Megatron's --bf16 default,
    # torchtitan's mixed_precision_reduce).
    s = _setup()
    meg, fsdp = sh.dp_comm(s, M, 1, 1, 1, 64, 3), sh.dp_comm(s, F, 1, 1, 1, 64, 3)
    layer = s.model.layer_params
    g = s.group(64, 1)
    one_gather = nccl_reduce_scatter_time(layer * 2, 64, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth)
    one_rs = nccl_reduce_scatter_time(layer * 4, 64, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth)
    assert float(meg["ag"]) == pytest.approx(one_gather) and float(meg["ag_bwd"]) == pytest.approx(one_gather)
    assert float(meg["rs"]) == pytest.approx(one_rs)
    for key in ("ag", "ag_bwd", "rs"):
        assert float(meg[key]) == pytest.approx(float(fsdp[key]))
    # Unlike FSDP2's root unit, the embedding and output layer stay gathered between micro-batches: one gather per
    # step, none per micro-batch (their gradients are still reduced every micro-batch).
    ends = 2 * 128_256 * 4_096 + 4_096
    ends_gather = nccl_reduce_scatter_time(ends * 2, 64, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth)
    assert float(meg["grad_step"]) == 0 and float(meg["param_step"]) == pytest.approx(ends_gather)
    assert float(fsdp["mb_fixed"]) - float(meg["mb_fixed"]) == pytest.approx(2 * ends_gather)


def test_megatron_fsdp_zero2_reduces_every_micro_batch_and_gathers_the_weights_once_per_step():
    # optim_grads: gradients reduce-scattered per layer every micro-batch, no per-layer weight gathers (the bf16
    # weights stay whole), and the updated weights all-gathered once per step in the distributed optimizer's buckets.
    s = _setup()
    z2, z1 = sh.dp_comm(s, M, 1, 1, 1, 64, 2), sh.dp_comm(s, M, 1, 1, 1, 64, 1)
    assert float(z2["ag"]) == 0 and float(z2["ag_bwd"]) == 0 and float(z2["rs"]) > 0
    assert float(z2["grad_step"]) == 0
    assert float(z2["param_step"]) == pytest.approx(float(z1["param_step"]))
    # so its traffic grows with the micro-batches where the distributed optimizer's does not
    layers = s.model.layers
    assert float(sh.total_per_step(z2, layers, 8)) > float(sh.total_per_step(z2, layers, 1))
    assert float(sh.total_per_step(z1, layers, 8)) == pytest.approx(float(sh.total_per_step(z1, layers, 1)))


def test_megatron_fsdp_fits_what_the_distributed_optimizer_cannot():
    # Megatron-Bridge runs Llama 3 8B on one DGX H100 with FSDP = 1 (docs/performance-summary.md, 25.09-25.11,
    # GBS 128, MBS 1, s = 8,192, TP = PP = CP = 1): 6 + 12/8 bytes per parameter of the distributed optimizer do
    # not leave room for the activations of an 8,192-token micro-batch, 18/8 do.
    kw = dict(model="llama3_8b", gpu="h100_sxm", gpus=8, seq_len=8192, micro_batch=1, global_batch=128,
              precision="fp8")
    assert not estimate(zero=1, **kw).fits_in_memory
    e = estimate(zero=3, **kw)
    assert e.fits_in_memory and e.plan.framework == "megatron"


def test_fsdp2_float8_all_gather_moves_and_holds_the_layers_weights_in_one_byte():
    # torchao's enable_fsdp_float8_all_gather (torchtitan llama3_405b.toml): each Float8Linear weight is cast to FP8 on
    # its shard and gathered in 1 byte per parameter; the embedding and the output layer stay bf16 (2 bytes).
    # Llama 3 8B, 64 H100s, FSDP over all of them, FP8 training.
    from dataclasses import replace

    s = replace(_setup(), precision="fp8")
    s8 = replace(s, fp8_all_gather=True)
    layer = s.model.layer_params
    g = s.group(64, 1, 1, 1)

    def gather(nbytes):
        return float(nccl_reduce_scatter_time(nbytes, 64, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth))

    assert float(sh.dp_comm(s, F, 1, 1, 1, 64, 3)["ag"]) == pytest.approx(gather(2 * layer))
    assert float(sh.dp_comm(s8, F, 1, 1, 1, 64, 3)["ag"]) == pytest.approx(gather(1 * layer))
    # the two gathered layers FSDP2 holds (the one computing and the one prefetched) are FP8 too
    grads = layer * int(sh.grad_bytes(s, F, 3))
    assert int(sh.buffer_bytes(s8, F, 1, 1, 64, 1, 3)) == 2 * layer * 1 + grads
    assert int(sh.buffer_bytes(s, F, 1, 1, 64, 1, 3)) == 2 * layer * 2 + grads
    # under PP FSDP2 keeps the stage's gathered weights all step: layers in FP8, the embedding / output in bf16
    p, ends = int(params_per_device(s, 1, 2)), int(sh.non_layer_params(s, 1, 2))
    w8, w = (int(sh.model_state_bytes(x, F, 1, 2, 32, 1, 3)[0]) for x in (s8, s))
    assert w - w8 == (p - ends) * (2 - 1)
    # Megatron-LM and DeepSpeed are not modelled with it; it needs FP8 training
    with pytest.raises(UsageError, match="modelled for framework='fsdp'"):  # a Python caller's spelling
        estimate(model="llama3_8b", gpus=64, precision="fp8", fp8_all_gather=True)
    with pytest.raises(UsageError, match="needs FP8 training"):
        estimate(model="llama3_8b", gpus=64, framework="fsdp", fp8_all_gather=True)
