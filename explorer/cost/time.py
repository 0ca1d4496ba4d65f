"""Step-time components in seconds (float; scalars or numpy arrays).

The step is composed in explorer/cost/step.py:
  t_chunk  = (stage_layers x t_layer + t_logits) / v + t_p2p   (the rank with the output layer)
  t_fill   = stage_layers x t_layer / v + t_p2p                 (any other rank)
  t_pipe   = v m x t_chunk + (p - 1) x t_fill                   (1F1B / interleaved schedule)
  t_step   = t_pipe + max(0, t_dp - overlap x backward of the last micro-batch) + t_optimizer
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost.collectives import (
    all_to_all_time,
    nccl_all_to_all_time,
    nccl_allreduce_time,
    nccl_reduce_scatter_time,
    reduce_scatter_time,
    ring_allreduce_time,
)
from explorer.cost.eager import eager_chain_bytes
from explorer.cost.efficiency import gemm_efficiency, layer_gemm_efficiency
from explorer.cost.frameworks import TP_OVERLAP_FORWARD, TP_OVERLAP_USERBUFFERS, p2p_transfers_of
from explorer.cost.memory import params_per_device
from explorer.cost.setup import Setup


def allreduce(setup: Setup, m_bytes: ArrayLike, size: ArrayLike, stride: ArrayLike = 1, inner: ArrayLike = 1,
              inner_stride: ArrayLike = 1, tiled: bool = False) -> np.ndarray | float:
    """One NCCL all-reduce call of M bytes over a group (Setup.group: `size` ranks, `stride` apart, with
    `inner` members `inner_stride` apart inside): the faster of ring and tree with the group's rails
    bandwidth (explorer/cost/collectives.py)."""
    if setup.collectives == "textbook":
        alpha, bw = _slowest_link(setup, size, stride, inner, inner_stride, tiled)
        return ring_allreduce_time(m_bytes, size, alpha, bw)
    g = setup.group(size, stride, inner, inner_stride, tiled)
    return nccl_allreduce_time(m_bytes, size, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth,
                               g.nvls_bandwidth)


def reduce_scatter(setup: Setup, m_bytes: ArrayLike, size: ArrayLike, stride: ArrayLike = 1, inner: ArrayLike = 1,
                   inner_stride: ArrayLike = 1, tiled: bool = False) -> np.ndarray | float:
    """One NCCL reduce-scatter (or all-gather) call of M bytes in total over a group (ring; see allreduce)."""
    if setup.collectives == "textbook":
        alpha, bw = _slowest_link(setup, size, stride, inner, inner_stride, tiled)
        return reduce_scatter_time(m_bytes, size, alpha, bw)
    g = setup.group(size, stride, inner, inner_stride, tiled)
    return nccl_reduce_scatter_time(m_bytes, size, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth)


all_gather = reduce_scatter


def all_to_all(setup: Setup, m_bytes: ArrayLike, size: ArrayLike) -> np.ndarray | float:
    """One all-to-all over `size` consecutive ranks (the data-parallel world of a pure-DP plan), each rank holding
    M bytes: NCCL's grouped sends (collectives.nccl_all_to_all_time), or the textbook pairwise exchange over the
    slowest link the group spans. Across nodes each rank drives its own NIC (a NIC per GPU) or a share of the
    node's one NIC (links.toml shared_per_node); a half-duplex link halves the rate."""
    c = setup.cluster
    if setup.collectives == "textbook":
        alpha, bw = _slowest_link(setup, size, 1, 1, 1)
        return all_to_all_time(m_bytes, size, alpha, bw)
    k = np.minimum(np.asarray(size, dtype=float), float(c.devices_per_node))
    nic = c.inter.effective_bandwidth / (k if c.inter.shared_per_node else 1.0)
    nic = nic / (2.0 if c.inter.half_duplex else 1.0)
    intra = c.intra.effective_bandwidth / (2.0 if c.intra.half_duplex else 1.0)
    return nccl_all_to_all_time(m_bytes, size, k, c.intra.latency_s, c.inter.latency_s, intra, nic)


def _slowest_link(setup: Setup, size: ArrayLike, stride: ArrayLike, inner: ArrayLike, inner_stride: ArrayLike,
                  tiled: bool = False):
    """The textbook view: one ring over the slowest link the group spans, one NIC per ring (a NIC shared by
    the node split among the groups that cross it side by side)."""
    outer = np.maximum(np.asarray(size, dtype=float) / np.asarray(inner, dtype=float), 1.0)
    span = np.where(outer > 1, outer * np.asarray(stride), np.asarray(inner) * np.asarray(inner_stride))
    return setup.edge(span, np.where(outer > 1, stride, inner_stride), tiled)


def _tokens(setup: Setup, cp: ArrayLike, micro_batch: ArrayLike):
    return np.asarray(micro_batch, dtype=float) * setup.seq_len / np.asarray(cp, dtype=float)


def layer_flops(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """(model FLOPs, hardware FLOPs) of one layer for one micro-batch on one device, fwd + bwd.

    Model: 3 x forward (backward = 2 x forward). Hardware adds the recomputed forward:
    full = the whole layer (Narayanan et al. SC'21 eq. 3), less its last matmul where the replay stops early
    (Setup.replay_early_stop: PyTorch's non-reentrant checkpoint), selective = the attention core
    (Korthikanti et al. 2022 sec. 5) or, under torchtitan's per-op policy, every second matmul
    (DecoderModel.op_sac_recomputed_matmul_params)."""
    m, s = setup.model, setup.seq_len
    tokens = _tokens(setup, cp, micro_batch)
    fwd = tokens * m.layer_forward_flops_per_token(s) / np.asarray(tp)
    if setup.op_sac:
        sel = tokens * 2.0 * m.op_sac_recomputed_matmul_params / np.asarray(tp)
    else:
        sel = tokens * 4.0 * s * m.hidden / np.asarray(tp)
    rc = np.asarray(recompute)
    replay = fwd - (tokens * m.last_matmul_flops_per_token / np.asarray(tp) if setup.replay_early_stop else 0.0)
    extra = np.where(rc == 2, replay, np.where(rc == 1, sel, 0.0))
    return 3.0 * fwd, 3.0 * fwd + extra


FUSED_ATTENTION_BACKWARD_PASSES = 2.5
"""Time of a fused (FlashAttention-style) attention backward in forward passes. The forward runs two matmuls per
block (S = Q K^T, O = P V); the backward keeps no scores, so it recomputes S (and P) and runs five: S, dV = P^T dO,
dP = dO V^T, dQ = dS K and dK = dS^T Q (Dao, FlashAttention-2, arXiv 2307.08691, Algorithm 2). FlashAttention's
own benchmark counts its backward as 2.5 x the forward's FLOPs and rates both at one TFLOP/s figure
(Dao-AILab/flash-attention benchmarks/benchmark_flash_attention.py: flops(mode='bwd') = 2.5 f); cuDNN's fused
attention and the Triton kernels follow the same algorithm. The unfused attention (QK^T and AV as batched GEMMs,
the scores stored) has the usual backward of two GEMMs per forward GEMM: 2 passes."""


def attention_passes(setup: Setup, replayed: ArrayLike) -> np.ndarray:
    """Forward-pass equivalents of time the attention core takes per layer and micro-batch: its forward, the
    forward again where recompute replays it, and its backward (FUSED_ATTENTION_BACKWARD_PASSES with a fused
    kernel, 2 without). The FLOPs counted for MFU and HFU stay the model's 3 (4 with the replay) forward passes:
    the kernel's internal recompute is not model work."""
    bwd = FUSED_ATTENTION_BACKWARD_PASSES if setup.flash_attention else 2.0
    return 1.0 + np.where(np.asarray(replayed), 1.0, 0.0) + bwd


def layer_time(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike, sp: ArrayLike,
    tp_overlap: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seconds for one layer's forward + backward (+ recompute) of one micro-batch on one device,
    split into (compute, memory-bound, TP communication, exposed CP communication). tp_overlap: whether TP
    communication overlaps the GEMMs, per row (the plan's framework decides; default Setup.tp_overlap_on).
    Under full recompute of every k-th layer only (Setup.recompute_every) the mean layer: 1/k of them replayed,
    the rest not (a layer is one or the other)."""
    return _mean_layer(setup, recompute, lambda rc: _layer_time(setup, tp, cp, micro_batch, rc, sp, tp_overlap))


def _mean_layer(setup: Setup, recompute: ArrayLike, parts_of: Callable[[ArrayLike], tuple]) -> tuple:
    """The mean layer's `parts_of(recompute)` under full recompute of every k-th layer only
    (Setup.recompute_every): 1/k of the layers replayed, the rest not (a layer is one or the other)."""
    parts = parts_of(recompute)
    k = setup.recompute_every
    if k == 1:
        return parts
    rc = np.asarray(recompute)
    share = np.where(rc == 2, 1.0 / k, 1.0)
    rest = parts_of(np.where(rc == 2, 0, rc))
    return tuple(share * a + (1.0 - share) * b for a, b in zip(parts, rest))


def _layer_time(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike, sp: ArrayLike,
    tp_overlap: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """layer_time of a layer that runs `recompute` as it is (recompute_every aside)."""
    m, acc, eff = setup.model, setup.cluster.accelerator, setup.efficiency
    tp_a = np.asarray(tp)
    tokens = _tokens(setup, cp, micro_batch)
    mf, hw = layer_flops(setup, tp, cp, micro_batch, recompute)
    e = layer_gemm_efficiency(acc.matmul_efficiency, m, tp_a, tokens, setup.gemm_efficiency_params,
                              setup.fused_projections)
    rc = np.asarray(recompute)
    # The attention core (QK^T, softmax, AV: 4 s h FLOPs per token forward, PaLM's count) is executed 4 times under
    # selective or full recompute. A fused (FlashAttention-style) kernel runs it at the part's attention efficiency
    # (Setup.attention_efficiency); without one, QK^T and AV are batched GEMMs of one head each: s queries against a
    # head_dim x s "weight" (K^T; for AV, s x head_dim), rolled off by gemm_efficiency as any GEMM of those sides
    # (Megatron-LM's CoreAttention: torch.baddbmm of [b*np, sq, hn] by [b*np, hn, sk], then torch.bmm by V; their
    # softmax traffic is in t_mem below).
    # Under FP8 training attention stays in BF16 (setup.non_gemm_peak_flops).
    # torchtitan's per-op policy saves the attention output (_save_list holds the SDPA flash/efficient ops): 3 passes.
    # Time is charged per pass of the kernel: a fused kernel's backward recomputes the scores and runs five
    # matmuls to the forward's two (attention_passes), the unfused backward four.
    attn_rerun = setup.attention_replayed(rc)
    attn_fwd = tokens * 4.0 * setup.seq_len * m.hidden / tp_a
    attn_hw = np.where(attn_rerun, 4.0, 3.0) * attn_fwd
    t_gemm = (hw - attn_hw) / (setup.gemm_peak_flops * e)
    t_gemm_fwd = (mf / 3.0 - attn_fwd) / (setup.gemm_peak_flops * e)
    attn_eff = (setup.attention_efficiency if setup.flash_attention
                else gemm_efficiency(acc.matmul_efficiency, m.head_dim, setup.seq_len, setup.gemm_efficiency_params,
                                     other=setup.seq_len))
    t_compute = t_gemm + attention_passes(setup, attn_rerun) * attn_fwd / (setup.non_gemm_peak_flops * attn_eff)
    sp_on = np.asarray(sp).astype(bool) & (tp_a > 1)
    replay = setup.forward_replayed(rc)
    passes = np.where(replay, 4.0 / 3.0, 1.0)
    per_hidden = eff.elementwise_bytes_per_hidden if setup.fused_kernels else eff.elementwise_bytes_per_hidden_eager
    elem_bytes = tokens * m.hidden * per_hidden * (setup.act_bytes / 2) * passes
    # Without FlashAttention every token's a x s attention scores stream through HBM (QK^T output, fused
    # scale-mask-softmax, dropout and its mask, AV input, and their backward), split over TP by heads.
    score_bytes = (
        0.0
        if setup.flash_attention
        else (tokens * m.heads * setup.seq_len * eff.attention_score_bytes * (setup.act_bytes / 2) * passes / tp_a)
    )
    # The MLP's activation function runs on the ffn-wide tensor inside the TP region, so it is split over TP with
    # or without sequence parallelism: GELU reads 1 and writes 1 ffn-vector forward, reads 2 and writes 1 backward;
    # SwiGLU reads 2 and writes 1 forward, reads 3 and writes 2 backward (the tensors of Megatron-LM's fused
    # bias_gelu / bias_swiglu kernels); full recompute runs the forward again. Squared ReLU (Nemotron-4) is one
    # fused kernel each way like GELU (megatron/core/activations.py squared_relu under jit_fuser).
    fwd_passes, bwd_passes = (3.0, 5.0) if m.gated else (2.0, 3.0)
    act_passes = fwd_passes * np.where(replay, 2.0, 1.0) + bwd_passes
    mlp_act_bytes = tokens * m.ffn * act_passes * setup.act_bytes / tp_a
    # Eager PyTorch runs a Llama layer's RMSNorm, rotary embedding and SwiGLU as chains of kernels
    # (explorer/cost/eager.py: their traffic counted op by op from torchtitan's and ibm-fms's model code).
    chain_bytes = eager_chain_bytes(setup, tokens, tp_a, sp_on, replay)
    t_mem = (elem_bytes / np.where(sp_on, tp_a, 1) + mlp_act_bytes + score_bytes + chain_bytes) / acc.memory_bandwidth
    msg = tokens * m.hidden * setup.act_bytes
    n_ar = tp_reductions(setup, rc, sp_on)
    # TP groups tile the ranks in aligned blocks (tiled): one that straddles a node boundary paces the step
    per_call = np.where(sp_on, 2.0 * reduce_scatter(setup, msg, tp_a, tiled=True),
                        allreduce(setup, msg, tp_a, tiled=True))
    t_tp = n_ar * per_call * (1.0 - eff.tp_overlap)
    mode = int(setup.tp_overlap_on) if tp_overlap is None else np.asarray(tp_overlap).astype(np.int64)
    if np.any(mode):
        # both overlaps need the TP group inside a node: Transformer Engine's Userbuffers run on CUDA IPC /
        # multicast handles, single-node tensor parallelism only (NVIDIA/TransformerEngine issue #1071, a
        # maintainer: "no way to do this" across nodes), and PyTorch's async TP on SymmetricMemory, NVLink peers
        can = sp_on & setup.within_nodes(tp_a)
        t_tp = np.where(can & (mode == TP_OVERLAP_USERBUFFERS), tp_overlap_exposed(t_tp, t_gemm, n_ar),
                        np.where(can & (mode == TP_OVERLAP_FORWARD), async_tp_exposed(t_tp, t_gemm_fwd, n_ar),
                                 t_tp))
    t_cp_exposed = cp_exposed_time(setup, tp, cp, micro_batch, recompute)
    # the GPU-bound work runs at the pace of the cluster's slowest GPU (Setup.pace)
    return t_compute * setup.pace, t_mem * setup.pace, t_tp, t_cp_exposed


def tp_reductions(setup: Setup, recompute: ArrayLike, sp_on: ArrayLike) -> np.ndarray:
    """Tensor-parallel collectives of one layer and micro-batch, in all-reduces of the layer's activation (with
    sequence parallelism an all-gather or a reduce-scatter counts one half: together they move what one all-reduce
    moves, Korthikanti et al. 2022 sec. 4.2.2).

    A sequential block (Shoeybi et al. 2019 fig. 4) reduces its attention output and its MLP output, r = 2
    reductions per forward pass; its two column-parallel inputs (QKV, FC1) are copies whose backward all-reduces:
    2 forward, 2 backward. A parallel block (DecoderModel.parallel_block: GPT-NeoX's gpt_j_residual, whose
    row-parallel outputs stay partial, parallel_output=True, and are summed before one reduce, EleutherAI/gpt-neox
    megatron/model/transformer.py; Black et al. 2022 sec. 2.1) has r = 1 and still two inputs: without sequence
    parallelism 1 forward, 2 backward; with it 2 all-gathers + 1 reduce-scatter forward and the reverse backward.
      forward  = r                (SP: 1 + r/2)       backward = 2        (SP: 1 + r/2)
    Full recompute replays the forward; a replay that stops before the MLP's down projection
    (Setup.replay_early_stop) skips the reduction after it (SP: 1/2, else 1). torchtitan's per-op policy saves the
    reduce-scatters' outputs (_save_list) and reruns the rest: the forward all-gathers (1) with SP, the r
    all-reduces without. Sequential block: 4, 6 under full recompute, 5 (SP) or 6 under the per-op policy."""
    rc, sp = np.asarray(recompute), np.asarray(sp_on).astype(bool)
    r = 1.0 if setup.model.parallel_block else 2.0
    fwd = np.where(sp, 1.0 + r / 2.0, r)
    bwd = np.where(sp, 1.0 + r / 2.0, 2.0)
    replay_full = fwd - (np.where(sp, 0.5, 1.0) if setup.replay_early_stop else 0.0)
    replay_op = np.where(sp, 1.0, r)
    replay = np.where(rc == 2, replay_full, np.where((rc == 1) & setup.op_sac, replay_op, 0.0))
    return fwd + bwd + replay


TP_OVERLAP_PIPELINE_SPLITS = 4
"""Chunks of Transformer Engine's pipelined reduce-scatter overlap (userbuffers default num_splits = 4 for the
'pipeline' method; transformer_engine/pytorch/module/base.py, initialize_ub)."""


def tp_overlap_exposed(t_tp: ArrayLike, t_gemm: ArrayLike, n_allreduce: ArrayLike) -> np.ndarray:
    """Exposed tensor-parallel time of a layer under Megatron-Core's --tp-comm-overlap (TE userbuffers).

    With sequence parallelism each TP all-reduce is an all-gather + reduce-scatter, 2 n_allreduce collectives
    per layer. TE's default overlap methods (transformer_engine/pytorch/module/base.py, initialize_ub):
      - the all-gathers before the QKV and FC1 GEMMs (forward) and before the projection / FC2 dgrad GEMMs
        (backward) by ring exchange in TP steps: each step's transfer runs behind the previous chunk's GEMM;
      - the backward reduce-scatters ('bulk') behind the independent weight-gradient GEMMs;
      - the forward reduce-scatters after the projection and FC2 GEMMs pipelined in 4 chunks: the last
        chunk's reduce-scatter has no GEMM left to hide behind.
    So 2 reduce-scatters per forward pass (2 passes under full recompute) leave 1/4 of themselves exposed:
    a fraction (forward passes / 4) / n_allreduce of the layer's TP time. Overlap cannot hide more than the
    GEMMs last: the exposed time is at least t_tp - t_gemm (Wang et al., Overlap Communication with Dependent
    Computation via Decomposition, ASPLOS 2023, sec. 3). The SMs the pipelined reduce-scatter occupies (16)
    are not charged to the GEMMs."""
    n = np.asarray(n_allreduce, dtype=float)
    forward_passes = np.where(n >= 6.0, 2.0, 1.0)
    fraction = forward_passes / TP_OVERLAP_PIPELINE_SPLITS / n
    t = np.asarray(t_tp, dtype=float)
    return np.maximum(t * fraction, t - np.asarray(t_gemm, dtype=float))


def async_tp_exposed(t_tp: ArrayLike, t_gemm_forward: ArrayLike, n_allreduce: ArrayLike) -> np.ndarray:
    """Exposed tensor-parallel time of a layer under torchtitan's AsyncTP (PyTorch's micro-pipelined
    all-gather-matmul and matmul-reduce-scatter, inductor's micro_pipeline_tp pass).

    As published it speeds the forward pass only: 'up to ~29 % forward pass speedup and ~8 % E2E speedup in Llama3
    7B; up to ~20 % forward pass speedup and ~8 % E2E speedup in Llama3 70B' (Wang, He, Wright, Wehrstedt, Liu,
    Liang, '[Distributed w/ TorchTitan] Introducing Async Tensor Parallelism in PyTorch', PyTorch dev-discuss,
    2024-08). With the forward a third of the step's compute, a 20-29 % faster forward is a 6-8 % faster step:
    the whole end-to-end gain, so the backward's collectives (the recomputed forward's included) stay as they
    were. The model hides the first forward's all-gathers and reduce-scatters (2 all-reduce volumes of the
    layer's n_allreduce) behind the forward GEMMs, never more than those GEMMs last, and leaves the rest exposed.
    Check against torchtitan's own June 2025 file (benchmarks/asyncTP_llama3_h100_2025-06_torchtitan.md): it
    gives 1.11x (Llama 3.1 8B, TP 8) and 1.06x (70B, TP 8, full AC) where the runs measured 1.10x and 1.09x;
    hiding the backward's too, as Transformer Engine does, would give 1.30x and 1.20x."""
    t = np.asarray(t_tp, dtype=float)
    fwd = t * 2.0 / np.asarray(n_allreduce, dtype=float)
    return t - fwd + np.maximum(0.0, fwd - np.asarray(t_gemm_forward, dtype=float))


def cp_exposed_time(setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike
                    ) -> np.ndarray | float:
    """Ring-attention traffic of context parallelism that the attention compute does not hide, per layer and
    micro-batch (the P2P ring of Megatron-Core / TransformerEngine, `--cp-comm-type p2p`; Liu et al., Ring
    Attention, arXiv 2310.01889, sec. 3).

    Forward: cp - 1 steps; in each, every rank sends its K and V block (2 x tokens/cp x kv_dim/TP elements) to
    its ring neighbour while it computes attention against the block it holds. Backward: cp - 1 steps that
    move K, V and their gradients dK, dV (twice the bytes) against the backward's work (FUSED_ATTENTION_BACKWARD_
    PASSES forward passes with a fused kernel, 2 without). Recompute (selective or full) runs the forward ring
    again. Causal masking would halve a rank's work per step and leave ranks idle
    unless the sequence is load-balanced; Megatron-Core/TransformerEngine (2 x cp chunks, rank i holding chunks
    i and 2cp - 1 - i) and torchtitan (context_parallel_load_balancer = "headtail") balance it, so every step
    carries an equal share: the layer's attention forward time / cp (its counted FLOPs, PaLM's 4 s h per token,
    run at attention_efficiency, which absorbs the causal halving). Exposed per step: max(0, transfer - compute).
    The ring's slowest edge sets the transfer: NVLink inside a node, one GPU's NIC once the CP group spans nodes
    (each GPU sends through its own rail; Setup.edge)."""
    e_first, e_back, _, _ = _cp_ring(setup, tp, cp, micro_batch, recompute)
    return e_first + e_back


def _cp_ring(setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The CP ring of one layer and micro-batch (cp_exposed_time), split by where it runs: (exposed in the first
    forward, exposed in the backward with its replayed forward, transfer time in the first forward, transfer
    time in the backward)."""
    m = setup.model
    tp_a, cp_a, rc = np.asarray(tp), np.asarray(cp), np.asarray(recompute)
    tokens = _tokens(setup, cp, micro_batch)
    kv_bytes = 2.0 * tokens * m.kv_dim / tp_a * setup.act_bytes
    alpha, bw = setup.edge(tp_a * cp_a, tp_a, tiled=True)  # aligned TP x CP blocks: a straddling one crosses
    t_kv = alpha + kv_bytes / bw
    t_kv_grad = alpha + 2.0 * kv_bytes / bw
    attn_rate = setup.non_gemm_peak_flops * setup.attention_efficiency  # attention stays BF16 under FP8
    t_block = tokens * 4.0 * setup.seq_len * m.hidden / tp_a / attn_rate / cp_a
    # exposed: what the block's attention does not hide; the hidden part slows that attention
    # (Efficiency.overlap_interference: the ring's NCCL send/recv kernels take SMs)
    sigma = setup.efficiency.overlap_interference
    fwd = np.maximum(0.0, t_kv - t_block) + sigma * np.minimum(t_kv, t_block)
    t_block_bwd = (FUSED_ATTENTION_BACKWARD_PASSES if setup.flash_attention else 2.0) * t_block
    bwd = np.maximum(0.0, t_kv_grad - t_block_bwd) + sigma * np.minimum(t_kv_grad, t_block_bwd)
    replays = np.where(setup.attention_replayed(rc), 1.0, 0.0)
    steps = np.where(cp_a > 1, cp_a - 1, 0)
    return steps * fwd, steps * (replays * fwd + bwd), steps * t_kv, steps * (replays * t_kv + t_kv_grad)


def sharded_dp_windows(setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike,
                       sp: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) windows of one layer and micro-batch behind which per-layer sharded data parallelism
    (FSDP2, Megatron-FSDP, DeepSpeed ZeRO-3) hides its prefetched weight gather and its gradient reduce-scatter
    (sharding.exposed_per_micro_batch). The collectives run on their own stream for as long as the layer lasts:
    its compute (forward a third of the layer without recompute, layer_forward_time; the backward, with any
    replayed forward, the rest) plus the CP ring's exposed wait. Where the ring crosses nodes it holds the same
    NIC (each GPU's rail) for its transfers, so the data-parallel traffic gets the link for the layer less the
    ring's transfer time: the layer then lasts max(compute + ring's exposed, ring + data-parallel traffic), as two
    transfers on one link must. Either way a faster attention kernel never lengthens the step (it did when each
    exposure took the attention as its own window; review D item 2)."""
    t_c, t_m, _, _ = layer_time(setup, tp, cp, micro_batch, recompute, sp)
    fwd = layer_forward_time(setup, tp, cp, micro_batch, sp)
    # the mean layer's ring, as layer_time mixes its parts
    e_f, e_b, x_f, x_b = _mean_layer(setup, recompute, lambda rc: _cp_ring(setup, tp, cp, micro_batch, rc))
    cp_a = np.asarray(cp)
    shared = (cp_a > 1) & ~setup.within_nodes(np.asarray(tp) * cp_a)
    win_f = np.maximum(0.0, fwd + e_f - np.where(shared, x_f, 0.0))
    win_b = np.maximum(0.0, t_c + t_m - fwd + e_b - np.where(shared, x_b, 0.0))
    return win_f, win_b


CROSS_ENTROPY_BYTES_PER_LOGIT = 52.0
"""HBM bytes per logit element (token x vocab entry) of the loss, forward + backward, as the frameworks run it
unfused. Megatron-LM's vocab-parallel cross entropy (megatron/core/tensor_parallel/cross_entropy.py, core_r0.8.0;
its fused variant, --cross-entropy-loss-fusion, is off by default): forward .float() (read 2, write 4), max
(read 4), subtract the max in place (4 + 4), exp in place (4 + 4), sum (4), divide in place (4 + 4) = 38;
backward: multiply by the loss gradient in place (4 + 4) and the cast back to BF16 (read 4, write 2) = 14.
PyTorch's F.cross_entropy on `logits.float()` (torchtitan, llm-foundry under autocast) comes to about 48
(the cast 6, log_softmax 16 each way, the dense nll gradient 4, the cast back 6); one figure serves both.
Megatron-Core's JIT-fused 'native' variant (megatron/core/fusions/fused_cross_entropy.py) runs the same FP32 passes
in fewer kernels, about 44 by the same count: it stays under this figure (Setup.cross_entropy "unfused")."""

TE_CROSS_ENTROPY_BYTES_PER_LOGIT = 10.0
"""The same for Transformer Engine's fused cross entropy (transformer_engine/pytorch/triton/cross_entropy.py,
TE 2.x, which Megatron-Core calls as te_parallel_cross_entropy under --cross-entropy-fusion-impl te) on the BF16
logits: online_softmax_kernel reads them once for the row's max and sum (2); cross_entropy_kernel reads them again
and writes the gradient over them in place (2 + 2); the backward's element_mul_kernel scales that gradient by the
per-token loss gradient Megatron hands it, in place (2 + 2; skipped only when the gradient is the scalar 1)."""

FLASH_ATTN_CROSS_ENTROPY_BYTES_PER_LOGIT = 6.0
"""The same for flash-attn's Triton cross entropy (flash_attn/ops/triton/cross_entropy.py, which
flash_attn.losses.cross_entropy.CrossEntropyLoss runs; llm-foundry's loss_fn 'fused_crossentropy'): the forward
kernel reads the BF16 logits once (the row fits one block) and keeps a per-row log-sum-exp (2); the backward kernel
reads them again and writes the gradient (2 + 2)."""

CROSS_ENTROPY_BYTES = {"unfused": CROSS_ENTROPY_BYTES_PER_LOGIT, "te": TE_CROSS_ENTROPY_BYTES_PER_LOGIT,
                       "flash-attn": FLASH_ATTN_CROSS_ENTROPY_BYTES_PER_LOGIT}
"""HBM bytes per logit of each Setup.cross_entropy kernel (setup.CROSS_ENTROPY_KERNELS)."""


def logits_time(setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike) -> np.ndarray | float:
    """Output projection + cross-entropy of one micro-batch (vocab-parallel over TP), fwd + bwd (BF16 under FP8):
    the projection's GEMMs at the efficiency of their shape, the loss's passes over the logits at HBM bandwidth
    (CROSS_ENTROPY_BYTES of Setup.cross_entropy: 52 bytes per logit unfused, 10 with Transformer Engine's kernel)."""
    m, acc = setup.model, setup.cluster.accelerator
    tokens = _tokens(setup, cp, micro_batch)
    tp_a = np.asarray(tp)
    # the output projection: tokens x h times h x V/TP (vocab-parallel)
    e = gemm_efficiency(acc.matmul_efficiency, m.hidden, tokens, setup.gemm_efficiency_params, other=m.vocab / tp_a)
    flops = 3.0 * tokens * m.logits_forward_flops_per_token() / tp_a
    softmax_bytes = CROSS_ENTROPY_BYTES[setup.cross_entropy] * tokens * m.vocab / tp_a
    return (flops / (setup.non_gemm_peak_flops * e) + softmax_bytes / acc.memory_bandwidth) * setup.pace


def p2p_time(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, micro_batch: ArrayLike, sp: ArrayLike,
    fw: ArrayLike = 0,
) -> np.ndarray | float:
    """Pipeline send/recv per chunk and micro-batch: activations forward + gradients backward,
    alpha + M/B each, over the link between neighbouring stages. PP is the outermost dimension (Megatron-LM,
    DeepSpeed and torchtitan nest DP inside the stage: explorer/cost/sharding.py dp_comm), so neighbours are
    world / PP = TP x CP x DP ranks apart.

    Each TP rank sends 1/TP of the tensor: with sequence parallelism the tensor is already split; without it
    Megatron-LM's scatter/gather optimization (Narayanan et al., SC'21 sec. 4.1; --scatter-gather-tensors-in-
    pipeline, on by default: p2p_communication.py splits the tensor into TP equal chunks before the send and
    all-gathers them after the receive) and DeepSpeed's partitioned pipeline buffers (pipe/engine.py:
    is_pipe_partitioned and is_grad_partitioned = is_model_parallel) do the same, and the receiver all-gathers
    the full tensor over the TP group (inside the node).

    fw (framework codes): a stage's two exchanges per chunk and micro-batch each move an activation one way and a
    gradient the other. Megatron-LM and torch.distributed.pipelining run the two directions of an exchange
    together (one transfer time each); DeepSpeed's pipeline engine sends and receives them in turn with blocking
    calls (frameworks.P2P_SEQUENTIAL_SOURCE), two transfer times per exchange (Framework.p2p_transfers)."""
    tp_a, pp_a = np.asarray(tp), np.asarray(pp)
    tokens = _tokens(setup, cp, micro_batch)
    sp_on = np.asarray(sp).astype(bool) & (tp_a > 1)
    full = tokens * setup.model.hidden * setup.act_bytes
    msg = full / tp_a
    gather = np.where(sp_on | (tp_a == 1), 0.0, all_gather(setup, full, np.maximum(tp_a, 2), tiled=True))
    n = setup.cluster.devices
    alpha, bw = setup.edge(n, np.maximum(n // np.maximum(pp_a, 1), 1))
    t = 2.0 * (p2p_transfers_of(fw) * (alpha + msg / bw) + gather)
    return np.where(pp_a > 1, t, 0.0)


def optimizer_time(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, dp: ArrayLike, zero: ArrayLike, v: ArrayLike = 1,
    grad_bytes: ArrayLike | None = None, shard: ArrayLike | None = None,
) -> np.ndarray | float:
    """Optimizer step: memory-bound pass over the local shard (read + write the states, read the
    gradient, write the working weights), at HBM bandwidth. grad_bytes: bytes of a gradient element
    (default the working precision); shard: ranks the optimizer state is split over (default DP x CP)."""
    p = np.asarray(params_per_device(setup, tp, pp, v), dtype=float)
    n = np.asarray(dp) * np.asarray(cp) if shard is None else np.asarray(shard)
    shard_ = np.where(np.asarray(zero) >= 1, n, 1)
    gb = setup.grad_bytes if grad_bytes is None else np.asarray(grad_bytes)
    per_param = 2.0 * setup.optimizer_bytes + gb + setup.weight_bytes
    return p / shard_ * per_param / setup.cluster.accelerator.memory_bandwidth


def layer_forward_time(setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, sp: ArrayLike
                       ) -> np.ndarray | float:
    """Compute and memory-bound time of one layer's forward pass for one micro-batch (a third of the
    forward + backward without recompute: backward = 2 x forward), the window behind which a prefetched
    weight gather of the next layer can hide."""
    t_c, t_m, _, _ = layer_time(setup, tp, cp, micro_batch, 0, sp)
    return (t_c + t_m) / 3.0
