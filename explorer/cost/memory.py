"""Memory per device in integer bytes (works on Python ints and numpy int64 arrays alike).

Integer arithmetic on purpose: the exhaustive evaluator and the CP-SAT model use these same
numbers, so both see exactly the same feasible set.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost.setup import Setup

RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2}


def _cdiv(a: ArrayLike, b: ArrayLike):
    """Ceiling division for ints and int arrays."""
    return -((-a) // b)


def stage_layers(layers: int, pp: ArrayLike, v: ArrayLike) -> np.ndarray | int:
    """Layers held by the most loaded device: v chunks of ceil(L / (pp v)) layers each.

    Uneven splits are allowed (Llama 3 405B on 16 stages: Meta, arXiv 2407.21783 sec. 3.3.2);
    the device with the most layers sets the pace, so that is what is counted."""
    return _cdiv(layers, pp * v) * v


def last_stage_head_params(model) -> int:
    """Parameters of the output end on the last pipeline stage: the head and final norm, plus a second copy of the
    embedding when the output layer is tied to it (Megatron-LM keeps one on the first and one on the last stage)."""
    return model.head_params + (model.vocab * model.hidden if model.tied_embeddings else 0)


def params_per_device(setup: Setup, tp: ArrayLike, pp: ArrayLike, v: ArrayLike = 1) -> np.ndarray | int:
    """Parameters on the most loaded device: its layers plus the embedding or output head / TP.

    With PP = 1 one device holds both ends; with PP > 1 the first stage holds the embedding and
    the last the head (a tied head is a second copy, as in Megatron-LM)."""
    m = setup.model
    ends = np.where(np.asarray(pp) == 1, m.embedding_params + m.head_params,
                    max(m.embedding_params, last_stage_head_params(m)))
    return _cdiv(stage_layers(m.layers, pp, v) * m.layer_params + ends, tp)


def full_model_state_bytes(setup: Setup) -> float:
    """Bytes of the weights, gradients and optimizer state of the whole model in the setup's precision and
    optimizer (2 + 2 + 12 = 16 per parameter for BF16 mixed-precision Adam: ZeRO paper, Rajbhandari et al. 2020,
    sec. 3.1). Fully sharded over N devices (ZeRO-3) each holds this / N at least, whatever the plan: the floor of
    `explore plan`'s memory bound and of `explore check`'s memory arithmetic (no offload to CPU or NVMe)."""
    return setup.model.params * (setup.weight_bytes + setup.grad_bytes + setup.optimizer_bytes)


def model_state_bytes(
    setup: Setup, tp: ArrayLike, pp: ArrayLike, dp: ArrayLike, cp: ArrayLike = 1, zero: ArrayLike = 0, v: ArrayLike = 1,
    grad_bytes: ArrayLike | None = None, shard: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, gradients and optimizer state per device, ZeRO's form (ZeRO shards over DP x CP).

    Returns (weights, gradients, optimizer) in bytes. ZeRO-1 shards the optimizer state,
    ZeRO-2 also gradients, ZeRO-3 also weights (Rajbhandari et al. 2020, sec. 5, Table 1).
    grad_bytes: bytes of one gradient element (default: the working precision, as in the ZeRO paper;
    frameworks that accumulate in FP32 pass 4, explorer/cost/sharding.py); shard: ranks the state is split
    over (default DP x CP)."""
    p = params_per_device(setup, tp, pp, v)
    shard = np.asarray(dp) * np.asarray(cp) if shard is None else np.asarray(shard)
    gb = setup.grad_bytes if grad_bytes is None else grad_bytes
    zero = np.asarray(zero)
    w = _cdiv(p * setup.weight_bytes, np.where(zero >= 3, shard, 1))
    g = _cdiv(p * gb, np.where(zero >= 2, shard, 1))
    o = _cdiv(p * setup.optimizer_bytes, np.where(zero >= 1, shard, 1))
    return w, g, o


def _per_token_numerator(setup: Setup, tp: ArrayLike, recompute: ArrayLike, sp: ArrayLike):
    """Activation bytes per token per layer, times TP (so the division by TP is exact last).

    Korthikanti et al. 2022 (arXiv 2205.05198) Table 2, generalised to the actual shapes:
      replicated under TP without sequence parallel: norms 4h, QKV input 2h, MLP input 2h,
        dropout masks 2h (only if the model uses dropout)  -> GPT: 10
      split by TP: Q 2h, K and V 4 kv_dim, attention output 2h, MLP hidden 4 ffn (GELU: fc1
        output + activation output) or 6 ffn (SwiGLU: gate, up, product) -> GPT: 24
      attention scores 5 a s (softmax + dropout mask + dropout output, split by TP; 9 a s under FP32, its two
        tensors at 4 bytes) unless FlashAttention (default) or selective recompute drops them.
    With sequence parallel everything is split by TP (sbh/t (34 + 5as/h)).
    Full recompute keeps only the layer input, 2h (split by TP with SP).
    Selective recompute as torchtitan runs it (Setup.selective_policy "op": torchtitan/parallelisms/
    parallelize_llama.py, _save_list) keeps the layer input (2h, split with SP) and the outputs of the ops it saves:
    every other matmul in call order (DecoderModel.layer_matmuls), for a Llama layer Q 2h, V 2 kv_dim and the gate
    projection 2 ffn (split by TP) and the down projection's output 2h, a partial sum of the full width on every TP
    rank before its reduce-scatter;
    the attention output 2h and its FP32 log-sum-exp 4 a (split); under TP the two reduce-scatters' outputs 4h
    (split). Everything else is rebuilt in the backward.
    FP8 (Transformer Engine): the inputs of the four GEMMs of a layer are kept for the weight-gradient GEMM in
    the FP8 copy the forward GEMM consumed, one byte per element (TE 1.x module/linear.py: under fp8 the saved
    input is the FP8 `inputmat` or its FP8 transpose `inputmat_t`, never both; layernorm_linear.py and
    layernorm_mlp.py save their norm output and the MLP activation output likewise in FP8): the QKV input and the
    MLP input (2h -> h each), the attention output entering the projection (2h -> h) and the input of the second
    MLP matrix (2 ffn -> ffn). Norm inputs, Q/K/V (kept by the BF16 attention kernel) and the first MLP matrix's
    outputs stay 2 bytes.
    DTensor TP (Setup.tp_saves_gathered_input, torchtitan): with sequence parallelism the QKV input and the MLP
    input are kept gathered, full sequence on every TP rank (2h each, or h under FP8), not split by TP.
    Eager PyTorch (Setup.fused_kernels False) keeps what its op chains' autograd nodes save (explorer/cost/eager.py,
    torchtitan's RMSNorm and FeedForward): an RMSNorm chain keeps the FP32 copy of its input (PowBackward0 and
    MulBackward0 of x.float()) and its BF16 output before the weight (the weight's MulBackward0): 6 bytes per
    element where a fused norm keeps its 2-byte input, 8h more per layer; SwiGLU keeps silu's input, silu's output
    and the up projection for the product (SiluBackward0, MulBackward0) and the product for the down projection:
    8 ffn where the fused kernel keeps 6, 2 ffn more. The rotary product keeps only the frequencies (they need no
    gradient). Full recompute and torchtitan's per-op policy rebuild them; Megatron's selective keeps them.
    """
    m = setup.model
    h, kvd, f, s = m.hidden, m.kv_dim, m.ffn, setup.seq_len
    ab = setup.act_bytes // 2  # Korthikanti counts 2-byte activations; fp32 doubles them
    fp8 = h if setup.precision == "fp8" else 0  # bytes saved per GEMM input of width h (one of two per element)
    repl = (8 * h + (2 * h if m.dropout else 0)) * ab - 2 * fp8
    split = (4 * h + 4 * kvd + (6 if m.gated else 4) * f) * ab - fp8 - (f if fp8 else 0)
    if not setup.fused_kernels:  # eager op chains' saved tensors (docstring)
        repl += 8 * h if (m.norm == "rms" and not setup.fused_norm and ab == 1) else 0
        split += 2 * f * ab if m.gated else 0
    # unfused scores: softmax output and dropout output at the activation width (2 bytes each in Korthikanti's count,
    # 4 under FP32, where no fused kernel runs: frameworks.fp32_attention_overrides) and the 1-byte dropout mask
    scores = 0 if setup.flash_attention else (4 * ab + 1) * m.heads * s
    recompute = np.asarray(recompute)
    sp = np.asarray(sp).astype(bool) & (np.asarray(tp) > 1)
    scores_kept = np.where(recompute == 0, scores, 0)
    full_num = np.where(sp, 2 * h * ab, 2 * h * ab * tp)
    normal = np.where(sp, repl + split + scores_kept, repl * tp + split + scores_kept)
    if setup.tp_saves_gathered_input:  # the two gathered GEMM inputs at full width (/ TP undone)
        normal = normal + np.where(sp, (4 * h * ab - 2 * fp8) * (np.asarray(tp) - 1), 0)
    if setup.op_sac:
        tp_a = np.asarray(tp)
        # output width of each matmul; the row-parallel ones (O, down) give a full-width partial sum per TP rank
        width = {"wq": h, "wk": kvd, "wv": kvd, "wo": h, "w1": f, "w3": f, "w2": h}
        saved = [name for i, (name, _) in enumerate(m.layer_matmuls) if i % 2 == 0]
        kept_split = sum(2 * width[n] for n in saved if n not in ("wo", "w2")) * ab
        kept_full = sum(2 * width[n] for n in saved if n in ("wo", "w2")) * ab
        op_num = (full_num + kept_split + kept_full * tp_a + 2 * h * ab + 4 * m.heads
                  + np.where(tp_a > 1, 4 * h * ab, 0))
        normal = np.where(recompute == 1, op_num, normal)
    return np.where(recompute == 2, full_num, normal)


def activation_bytes_per_layer(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike, sp: ArrayLike
) -> np.ndarray | int:
    """Stored activation bytes of one layer for one micro-batch on one device; under full recompute of every k-th
    layer only (Setup.recompute_every) the mean layer's, rounded up: 1/k of them keep their input, the rest all."""
    tokens = np.asarray(micro_batch) * setup.seq_len // np.asarray(cp)
    kept = _cdiv(tokens * _per_token_numerator(setup, tp, recompute, sp), tp)
    k = setup.recompute_every
    if k == 1:
        return kept
    rc = np.asarray(recompute)
    rest = _cdiv(tokens * _per_token_numerator(setup, tp, np.where(rc == 2, 0, rc), sp), tp)
    return np.where(rc == 2, -((-(kept + (k - 1) * rest)) // k), kept)


def in_flight_chunks(pp: ArrayLike, v: ArrayLike, num_micro_batches: ArrayLike, last: bool = False) -> np.ndarray:
    """Model chunks (of ceil(L / (p v)) layers each) whose activations a pipeline end holds at its peak: its
    warm-up forwards plus the first steady-state one, capped by all the forwards of the step. First rank by
    default, the last with last=True.

    Megatron-LM megatron/core/pipeline_parallel/schedules.py get_pp_rank_microbatches: rank r warms up with
    p - r - 1 forwards under 1F1B and 2 (p - r - 1) + (v - 1) N under interleaving, N the micro-batch group per
    virtual stage (microbatch_group_size_per_vp_stage = p by default), and `if num_warmup_microbatches >=
    total_num_microbatches: num_warmup_microbatches = total_num_microbatches` with total = m v. So the first rank
    holds min(p, m) micro-batches of its stage under 1F1B (Narayanan et al. SC'21 sec. 2.2) and min(p v + p - 1,
    m v) chunks under interleaving: p (1 + (p - 1)/(p v)) micro-batches of its v chunks once m >= 2p (Korthikanti
    et al. 2022 sec. 4.2.3), and only m v chunks, p micro-batches, when m = p: every forward runs before the first
    backward. The last rank holds one micro-batch under 1F1B and min((v - 1) p + 1, m v) chunks interleaved.
    PyTorch's ScheduleInterleaved1F1B (torchtitan) warms up the same way with its round of m / max(1, m // p)
    micro-batches for N (torch/distributed/pipelining/schedules.py _get_warmup_ops, microbatches_per_round): the
    same count where m is a multiple of p (micro_batch_group)."""
    m = np.asarray(num_micro_batches)
    return np.minimum(in_flight_cap(pp, v, last, micro_batch_group(pp, m)), m * np.asarray(v))


def micro_batch_group(pp: ArrayLike, num_micro_batches: ArrayLike) -> np.ndarray:
    """Micro-batches a rank runs on one virtual stage before it moves to its next under interleaving, N: Megatron-
    Core's microbatch_group_size_per_vp_stage, PP by default (schedules.py; with m a multiple of PP, which its
    interleaved schedule needs and explorer/api/evaluate.py enforces: frameworks.Framework.why_not); PyTorch's
    ScheduleInterleaved1F1B's round, microbatches_per_round = m // max(1, m // PP) (torch/distributed/pipelining/
    schedules.py, which needs m a multiple of its rounds): PP where m is a multiple of PP, m where m < PP, between
    PP and 2 PP otherwise."""
    m = np.asarray(num_micro_batches)
    return m // np.maximum(1, m // np.asarray(pp))


def in_flight_cap(pp: ArrayLike, v: ArrayLike, last: bool = False, group: ArrayLike | None = None) -> np.ndarray:
    """The chunks a pipeline end holds before the cap of the step's m v forwards (in_flight_chunks): the first
    rank p (1F1B) or (v - 1) N + 2 (p - 1) + 1 (interleaved; p v + p - 1 with the default group N = p), the last
    rank 1 or (v - 1) N + 1. group: N (micro_batch_group), PP where None."""
    pp, v = np.asarray(pp), np.asarray(v)
    g = pp if group is None else np.asarray(group)
    if last:
        return np.where(v > 1, (v - 1) * g + 1, 1)
    return np.where(v > 1, (v - 1) * g + 2 * (pp - 1) + 1, pp)


def pipeline_activation_bytes(
    setup: Setup,
    tp: ArrayLike,
    cp: ArrayLike,
    pp: ArrayLike,
    v: ArrayLike,
    micro_batch: ArrayLike,
    num_micro_batches: ArrayLike,
    recompute: ArrayLike,
    sp: ArrayLike,
    last: bool = False,
) -> np.ndarray | int:
    """Activations a pipeline end holds at its peak, the first stage (the most loaded) by default: in-flight chunks
    x layers per chunk."""
    per_layer = activation_bytes_per_layer(setup, tp, cp, micro_batch, recompute, sp)
    chunk_layers = _cdiv(setup.model.layers, np.asarray(pp) * np.asarray(v))
    return per_layer * chunk_layers * in_flight_chunks(pp, v, num_micro_batches, last)


def loss_bytes(setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike) -> np.ndarray | int:
    """The loss's copies of one micro-batch's logits (vocab-parallel, / TP), on the last pipeline stage:
    Setup.loss_bytes_per_logit per element, 6 for Megatron-LM's cross-entropy, 12 for torchtitan's."""
    tokens = np.asarray(micro_batch) * setup.seq_len // np.asarray(cp)
    return _cdiv(tokens * setup.model.vocab * setup.loss_bytes_per_logit, tp)


def working_bytes(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike, sp: ArrayLike,
    loss: bool = True,
) -> np.ndarray | int:
    """Transient buffers of one micro-batch: the loss's copies of the logits (loss_bytes; loss=False leaves them
    out, for a stage that computes no loss); under full recompute, one layer's full activations rebuilt during
    backward; with context parallelism, the K/V blocks in flight around the ring (one being sent, one received:
    TransformerEngine's double buffer)."""
    m = setup.model
    tokens = np.asarray(micro_batch) * setup.seq_len // np.asarray(cp)
    logits = loss_bytes(setup, tp, cp, micro_batch) if loss else 0
    rebuilt = activation_bytes_per_layer(setup, tp, cp, micro_batch, 0, sp)
    # under full recompute the rebuilt layer runs from its checkpoint, the stored input the activations already
    # count (torch.utils.checkpoint and Megatron's CheckpointFunction hand the saved tensor to the replayed
    # forward, no copy): the rebuild adds the layer's activations less that input
    checkpoint = _cdiv(tokens * _per_token_numerator(setup, tp, 2, sp), tp)
    rebuilt = np.where(np.asarray(recompute) == 2, rebuilt - checkpoint, rebuilt)
    kv_ring = np.where(np.asarray(cp) > 1, 2 * _cdiv(2 * tokens * m.kv_dim * setup.act_bytes, tp), 0)
    return logits + np.where(setup.forward_replayed(recompute), rebuilt, 0) + kv_ring  # per-op policy rebuilds too


def peak_activations_and_working(
    setup: Setup, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, v: ArrayLike, micro_batch: ArrayLike,
    num_micro_batches: ArrayLike, recompute: ArrayLike, sp: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """(activations, working bytes) of the pipeline end whose memory peaks higher: the first stage holds the most
    micro-batches in flight (in_flight_chunks), the last one fewer but also the loss's copies of the logits. The
    model state is taken as the most loaded device's at both ends (params_per_device), so this decides which end
    binds. With PP = 1 both ends are the one device: its activations plus the loss."""
    first = pipeline_activation_bytes(setup, tp, cp, pp, v, micro_batch, num_micro_batches, recompute, sp)
    last = pipeline_activation_bytes(setup, tp, cp, pp, v, micro_batch, num_micro_batches, recompute, sp, last=True)
    other = working_bytes(setup, tp, cp, micro_batch, recompute, sp, loss=False)
    loss = loss_bytes(setup, tp, cp, micro_batch)
    last_binds = last + loss > first
    return np.where(last_binds, last, first), np.where(last_binds, loss + other, other)


def buffer_bytes(
    setup: Setup, tp: ArrayLike, pp: ArrayLike, zero: ArrayLike, v: ArrayLike = 1, dp: ArrayLike = 2, cp: ArrayLike = 1
) -> np.ndarray | int:
    """Communication buffers: with data parallelism (DP x CP > 1), two gradient buckets (capped by
    the gradients themselves; PyTorch DDP double-buffers its buckets) and, under ZeRO-3, two layers
    of gathered weights prefetched (DeepSpeed stage-3 prefetch bucket). Without data parallelism no
    gradient is reduced, so no bucket is allocated."""
    p = params_per_device(setup, tp, pp, v)
    reduced = np.asarray(dp) * np.asarray(cp) > 1
    bucket = np.where(reduced, np.minimum(int(setup.efficiency.bucket_bytes), p * setup.grad_bytes), 0)
    prefetch = np.where(np.asarray(zero) >= 3, 2 * _cdiv(setup.model.layer_params * setup.weight_bytes, tp), 0)
    return 2 * bucket + prefetch
