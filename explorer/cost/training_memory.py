"""The training-memory waterfall of one device: weights, gradients, optimizer state (master weights
included), activations, working buffers; with optimizer choice (SGD, Momentum, Adam, 8-bit Adam,
Adafactor), precision (FP32, BF16, FP16 with loss scaling), activation recomputation, micro-batch,
ZeRO, CPU offload and frozen layers.

Bytes per parameter are NOT restated here: the base optimizers take them from
`explorer.cost.setup.OPTIMIZER_BYTES` (via `Setup`), and every term is computed by
`explorer.cost.memory` on a `TrainingSetup`, a `Setup` whose gradient and optimizer bytes per
parameter account for the frozen part of the model and for compressed optimizer states.
Derived variants:
  * master weights = OPTIMIZER_BYTES[("sgd", mixed)] (SGD keeps no state: what is left is the
    fp32 master copy, 4 bytes in mixed precision, 0 in FP32).
  * 8-bit states (Dettmers et al. 2022, arXiv 2110.02861, sec. 2): the fp32 states
    OPTIMIZER_BYTES[(opt, False)] / 4 values per parameter, 1 byte each, plus one fp32 absmax per
    block of 2048 values per state.
  * factored second moment (Adafactor, Shazeer & Stern 2018, arXiv 1804.04235, sec. 3, Alg. 4 with
    beta1 = 0): an r x c matrix keeps r + c fp32 values instead of r c; vectors keep their full v.
Frozen layers (bottom of the stack, forward only) have no gradient, no optimizer state and store
no activations (they run without autograd); where the track allows it, their weights stay in
flash and are read in place (Lin et al. 2022, 'On-device training under 256KB memory', sec. 3).
Offload (ZeRO-Offload, Ren et al. 2021, USENIX ATC, sec. 4): gradients and the optimizer state
(fp32 master, moments) live in host memory and the optimizer step runs on the CPU.
Adapters (parameter-efficient fine-tuning): the base model is frozen and low-rank adapters
W + B A (B: d_out x r, A: r x d_in) on every linear layer of the adapted layers are trained
(LoRA, Hu et al. 2021, arXiv 2106.09685, sec. 4); only the adapters carry gradients and optimizer
state. LoRA keeps the frozen base in the training precision (16 bits); QLoRA stores it in 4-bit
NormalFloat with double quantisation: 4 bits + an 8-bit absmax per block of 64 + an fp32 constant
per 256 absmaxes = 4 + 8/64 + 32/(64 x 256) = 4.127 bits per parameter (Dettmers et al. 2023,
arXiv 2305.14314, sec. 3), dequantised to the compute precision for every matmul.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost import frameworks as fwk
from explorer.cost import memory as mem
from explorer.cost import sharding as sh
from explorer.cost import step as stp
from explorer.cost import time as tm
from explorer.cost.collectives import nccl_allreduce_time, nccl_reduce_scatter_time
from explorer.cost.efficiency import layer_gemm_efficiency
from explorer.cost.setup import OPTIMIZER_BYTES, Setup
from explorer.errors import UsageError
from explorer.models.architecture import DecoderModel

BASE_OPTIMIZERS = ("sgd", "momentum", "adam")
OPTIMIZER_VARIANTS = ("adam", "adam8bit", "adafactor", "momentum", "sgd")
PRECISION_CHOICES = ("fp32", "bf16", "fp16")
RECOMPUTE_CHOICES = ("none", "selective", "full")
FP32_VALUE_BYTES = 4
INT8_VALUE_BYTES = 1
ADAPTERS = ("none", "lora", "qlora")
# QLoRA storage of a frozen weight (Dettmers et al. 2023, arXiv 2305.14314, sec. 3, 'Double Quantization'):
# NF4 values, one 8-bit absmax per block of 64, one fp32 constant per block of 256 absmaxes.
NF4_BITS_PER_PARAM = 4 + 8 / 64 + 32 / (64 * 256)
NF4_BYTES_PER_PARAM = NF4_BITS_PER_PARAM / 8


# --- bytes per parameter -------------------------------------------------------------------------
def master_bytes_per_param(mixed: bool) -> int:
    """FP32 master copy: what SGD (no state) keeps beyond the working weights (ZeRO paper sec. 3.1)."""
    return OPTIMIZER_BYTES[("sgd", mixed)]


def state_values_per_param(optimizer: str) -> int:
    """Number of optimizer-state values per parameter (Adam: m, v = 2; Momentum: 1; SGD: 0)."""
    base = {"adam8bit": "adam", "adafactor": "sgd"}.get(optimizer, optimizer)
    return OPTIMIZER_BYTES[(base, False)] // FP32_VALUE_BYTES


def _matrices_and_vectors(model: DecoderModel, trainable_layers: int) -> tuple[list[tuple[int, int]], int]:
    """The trainable weight matrices (rows, cols) and the count of trainable vector parameters."""
    h = model.hidden
    mats = layer_matrices(model) * trainable_layers
    vectors = trainable_layers * (model.layer_params - model.layer_matmul_params)
    norm_vectors = 1 if model.norm == "rms" else 2
    vectors += norm_vectors * h  # final norm
    if trainable_layers == model.layers:
        mats.append((model.vocab, h))
        if model.position == "learned":
            mats.append((model.max_seq, h))
        if not model.tied_embeddings:
            mats.append((model.vocab, h))
    else:
        mats.append((model.vocab, h))  # the output head (the shared embedding matrix when tied)
    return mats, vectors


def layer_matrices(model: DecoderModel) -> list[tuple[int, int]]:
    """(d_in, d_out) of one layer's linear maps: q, o (h x h), k, v (h x kv), the MLP's (h x ffn)."""
    h, kvd, f = model.hidden, model.kv_dim, model.ffn
    return [(h, h), (h, h), (h, kvd), (h, kvd)] + [(h, f)] * model.mlp_matrices


def adapter_params(model: DecoderModel, adapted_layers: int, rank: int) -> int:
    """LoRA parameters on every linear map of the top `adapted_layers` layers: r (d_in + d_out) per
    map (A: r x d_in, B: d_out x r; Hu et al. 2021 sec. 4.1); embeddings and head stay frozen."""
    if not 0 <= adapted_layers <= model.layers:
        raise UsageError(f"adapted layers must lie in [0, {model.layers}], got {adapted_layers}")
    return rank * adapted_layers * sum(a + b for a, b in layer_matrices(model))


def trainable_params(model: DecoderModel, trainable_layers: int) -> int:
    """Parameters updated when only the top `trainable_layers` layers (and the head) are trained."""
    if not 0 <= trainable_layers <= model.layers:
        raise UsageError(f"trainable layers must lie in [0, {model.layers}], got {trainable_layers}")
    if trainable_layers == model.layers:
        return model.params
    mats, vectors = _matrices_and_vectors(model, trainable_layers)
    return sum(r * c for r, c in mats) + vectors


def state_bytes_per_trainable_param(model: DecoderModel, optimizer: str, trainable_layers: int,
                                    int8_block: int = 2048, adapter_rank: int = 0) -> float:
    """Optimizer-state bytes per trainable parameter, master weights excluded (`adapter_rank` > 0:
    the trainable parameters are the LoRA adapters A (r x d_in) and B (d_out x r))."""
    if optimizer not in OPTIMIZER_VARIANTS:
        raise UsageError(f"optimizer {optimizer!r} unknown; valid: {', '.join(OPTIMIZER_VARIANTS)}")
    n = state_values_per_param(optimizer)
    if optimizer in BASE_OPTIMIZERS:
        return float(n * FP32_VALUE_BYTES)
    if optimizer == "adam8bit":
        return n * (INT8_VALUE_BYTES + FP32_VALUE_BYTES / int8_block)
    if adapter_rank:
        pairs = [(adapter_rank, a) for a, _ in layer_matrices(model)] + [(b, adapter_rank) for _, b in
                                                                          layer_matrices(model)]
        return FP32_VALUE_BYTES * sum(r + c for r, c in pairs) / sum(r * c for r, c in pairs)
    mats, vectors = _matrices_and_vectors(model, trainable_layers)
    factored = sum(r + c for r, c in mats) + vectors
    return FP32_VALUE_BYTES * factored / trainable_params(model, trainable_layers)


# --- the Setup that carries freezing and compressed states ---------------------------------------
@dataclass(frozen=True)
class TrainingSetup(Setup):
    """A Setup whose gradient and optimizer bytes per (total) parameter reflect freezing and states.

    `optimizer` stays one of sgd/momentum/adam for the base class; `variant` names the real one."""

    variant: str = "adam"
    trainable_fraction: float = 1.0
    state_bytes: float = 8.0  # per trainable parameter, master excluded
    adapter: str = "none"  # none / lora / qlora: what the trainable fraction is

    @property
    def value_bytes(self) -> int:
        """Bytes of one value in the training precision (the working copy of a trained weight)."""
        return 4 if self.precision == "fp32" else 2

    @property
    def weight_bytes(self) -> float:  # type: ignore[override]
        """Per (base) parameter: the working weights, or with adapters the frozen base (16-bit or NF4)
        plus the adapters in the training precision."""
        if self.adapter == "none":
            return self.value_bytes
        base = NF4_BYTES_PER_PARAM if self.adapter == "qlora" else self.value_bytes
        return base + self.value_bytes * self.trainable_fraction

    @property
    def grad_bytes(self) -> float:  # type: ignore[override]
        return self.value_bytes * self.trainable_fraction

    @property
    def updated_weight_bytes(self) -> float:
        """Per (base) parameter: the working weights the optimizer writes (the trained share)."""
        return self.value_bytes * self.trainable_fraction

    @property
    def optimizer_bytes(self) -> float:  # type: ignore[override]
        return (master_bytes_per_param(self.mixed) + self.state_bytes) * self.trainable_fraction


@dataclass(frozen=True)
class OptimizerPass(TrainingSetup):
    """The same setup as the optimizer step sees it: it reads and writes the states, reads the
    gradients and writes the working weights of the trained share only (frozen base weights, 16-bit or
    NF4, are never touched), so its weight bytes are the updated ones."""

    @property
    def weight_bytes(self) -> float:  # type: ignore[override]
        return self.updated_weight_bytes


def optimizer_pass(s: TrainingSetup) -> OptimizerPass:
    return OptimizerPass(**{f.name: getattr(s, f.name) for f in fields(s)})


@dataclass(frozen=True)
class Layout:
    """How the devices split the work in the memory audit, and what lies off the device."""

    tp: int
    pp: int
    dp: int
    batch_per_replica: int
    frozen_store: str = "device"  # "device" or "flash"
    pcie_bandwidth: float = 0.0
    host_memory_bandwidth: float = 0.0


@dataclass(frozen=True)
class Choice:
    """One point of the memory puzzle's design space."""

    optimizer: str
    precision: str
    recompute: str
    micro_batch: int
    zero: int
    offload: bool
    trainable_layers: int  # trained layers, or with adapters the layers that carry them (the top ones)
    adapter: str = "none"
    lora_rank: int = 64  # Dettmers et al. 2023 (QLoRA) sec. 5: r = 64 on every linear layer


def training_setup(base: Setup, choice: Choice, int8_block: int = 2048) -> TrainingSetup:
    m = base.model
    if choice.adapter not in ADAPTERS:
        raise UsageError(f"adapter {choice.adapter!r} unknown; valid: {', '.join(ADAPTERS)}")
    rank = choice.lora_rank if choice.adapter != "none" else 0
    trained = adapter_params(m, choice.trainable_layers, rank) if rank else trainable_params(m, choice.trainable_layers)
    base_opt = choice.optimizer if choice.optimizer in BASE_OPTIMIZERS else "adam"
    # every field of the base Setup carries over (the software stack: attention kernel, fused kernels, gradient
    # dtype, TP overlap ...); the choice sets the precision and the optimizer
    stack = {f.name: getattr(base, f.name) for f in fields(Setup) if f.init}
    return TrainingSetup(
        **{**stack, "precision": choice.precision, "optimizer": base_opt}, variant=choice.optimizer,
        trainable_fraction=trained / m.params,
        state_bytes=state_bytes_per_trainable_param(m, choice.optimizer, choice.trainable_layers, int8_block, rank),
        adapter=choice.adapter,
    )


MEMORY_TERMS = ("weights", "gradients", "optimizer", "activations", "working", "buffers")


def waterfall(base: Setup, layout: Layout, choice: Choice, int8_block: int = 2048) -> dict[str, int]:
    """Bytes per device by term (MEMORY_TERMS), plus 'total' on the device, and what lies
    off the device: 'host' (offloaded gradients + optimizer) and 'flash' (frozen weights)."""
    g = waterfall_grid(base, layout, choice, choice.micro_batch, mem.RECOMPUTE_CODES[choice.recompute],
                       choice.zero, choice.offload, int8_block)
    return {k: int(v) for k, v in g.items()}


def waterfall_grid(base: Setup, layout: Layout, choice: Choice, micro_batch: ArrayLike, recompute: ArrayLike,
                   zero: ArrayLike, offload: ArrayLike, int8_block: int = 2048) -> dict[str, np.ndarray]:
    """`waterfall` over arrays of micro-batch, recompute code (0/1/2), ZeRO stage and offload (the
    choice's own values of these four are ignored): whole bytes per device, broadcast."""
    s = training_setup(base, choice, int8_block)
    m = s.model
    tp, pp, dp = layout.tp, layout.pp, layout.dp
    mb, rc, zero = np.asarray(micro_batch), np.asarray(recompute), np.asarray(zero)
    offload = np.asarray(offload, dtype=bool)
    if np.any(layout.batch_per_replica % mb):
        raise UsageError(f"micro-batch {micro_batch} does not divide the batch per replica {layout.batch_per_replica}")
    nmb = layout.batch_per_replica // mb
    sp = int(tp > 1)
    w, g, o = (np.asarray(x, dtype=float) for x in mem.model_state_bytes(s, tp, pp, dp, 1, zero))
    flash = np.zeros_like(w)
    if layout.frozen_store == "flash":
        flash = np.where(zero < 3, w * (1.0 - s.updated_weight_bytes / s.weight_bytes), 0.0)  # the frozen part
        w = w - flash
    act = np.asarray(mem.pipeline_activation_bytes(s, tp, 1, pp, 1, mb, nmb, rc, sp), dtype=float)
    act = act * choice.trainable_layers / m.layers
    if choice.trainable_layers < m.layers and choice.adapter == "none":
        act = act + mb * s.seq_len * m.hidden * s.act_bytes / tp  # the head's input, for its gradient
    # nothing trainable below the head: no layer is recomputed, so no layer is rebuilt either
    work = np.asarray(mem.working_bytes(s, tp, 1, mb, rc if choice.trainable_layers else 0, sp), dtype=float)
    if choice.adapter == "qlora":  # the largest weight matrix dequantised to the compute precision for its matmul
        work = work + max(a * b for a, b in layer_matrices(m)) * s.value_bytes / tp
    # gradient buckets exist only when gradients are communicated (data parallel)
    buf = np.asarray(mem.buffer_bytes(s, tp, pp, zero, dp=dp), dtype=float)
    host = np.where(offload, g + o, 0.0)
    g, o = np.where(offload, 0.0, g), np.where(offload, 0.0, o)
    out = {"weights": w, "gradients": g, "optimizer": o, "activations": act, "working": work, "buffers": buf}
    shape = np.broadcast_shapes(*(np.shape(v) for v in (mb, rc, zero, offload)))
    res = {k: np.broadcast_to(np.ceil(v), shape).astype(np.int64) for k, v in out.items()}
    res["total"] = sum(res[k] for k in MEMORY_TERMS)
    res["host"] = np.broadcast_to(np.ceil(host), shape).astype(np.int64)
    res["flash"] = np.broadcast_to(np.ceil(flash), shape).astype(np.int64)
    return res


COMPUTE_PASSES = ("forward", "recompute", "input_gradient", "weight_gradient")


def frozen_compute_factor(layers: int, trainable_layers: int, adapter: str = "none",
                          layer_passes: tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike] = (1.0, 0.0, 1.0, 1.0),
                          head_passes: tuple[ArrayLike, ArrayLike, ArrayLike] = (0.0, 0.0, 0.0),
                          adapter_ratio: float = 0.0, adapter_replayed: ArrayLike = False) -> np.ndarray | float:
    """Fraction of full fine-tuning's compute a choice runs, priced pass by pass.

    layer_passes = (forward, recompute, input gradient, weight gradient) of one layer as full fine-tuning
    runs it (seconds or FLOPs, any one unit); head_passes = (forward, input gradient, weight gradient) of the
    output layer and loss. Full fine-tuning runs every pass of every layer and of the head. A choice runs:
      * trained layers (the top `trainable_layers`, adapter "none"): every pass;
      * adapted layers (the top `trainable_layers` with adapters): forward, recompute and input gradient,
        not the weight gradient: the base weight is frozen, so autograd skips its weight-gradient GEMM
        (requires_grad=False) and still computes the input gradient the adapters below need (LoRA, Hu et al.
        2021, arXiv 2106.09685, sec. 4.2: no gradient for the vast majority of the parameters, a 25% speed-up
        on GPT-3 175B; QLoRA, Dettmers et al. 2023, arXiv 2305.14314, sec. 3: only the adapters' gradients
        are needed, not the 4-bit weights', but the input gradient still dequantises them). The
        adapters B A cost adapter_ratio (their weights over the layer's, rank r (d_in + d_out) / d_in d_out
        summed over the maps) of the weight GEMMs in each of their forward, input and weight gradient, and in
        the recompute too when the layer's forward is replayed (adapter_replayed);
      * frozen layers below the lowest trained or adapted one: forward only. Nothing below them needs a
        gradient (the embedding is frozen, the input is data), so autograd's backward stops above them and
        activation checkpointing replays no checkpointed segment the backward does not pass through
        (torch.utils.checkpoint docs: the forward is rerun segment by segment 'during backward propagation';
        the non-reentrant variant, use_reentrant=False, which PyTorch recommends, needs no input with
        requires_grad=True; under the reentrant one HF PEFT's prepare_model_for_kbit_training calls
        enable_input_require_grads, which makes the embedding's output need a gradient and so pushes the
        backward, and every replay, down through all layers: not priced here);
      * the head: trained with frozen layers below trained ones (every pass), or alone (a linear probe:
        no input gradient); frozen under adapters (forward + input gradient; forward only with no adapted
        layer).
    The lowest trained (adapted) layer still computes the input gradient of its first GEMMs, which nothing
    uses (autograd skips it only for tensors that need no gradient): charged, at most one layer's QKV input
    gradient."""
    fwd, rec, ig, wg = (np.asarray(x, dtype=float) for x in layer_passes)
    h_fwd, h_ig, h_wg = (np.asarray(x, dtype=float) for x in head_passes)
    full = layers * (fwd + rec + ig + wg) + h_fwd + h_ig + h_wg
    frozen = (layers - trainable_layers) * fwd
    if adapter == "none":
        run = trainable_layers * (fwd + rec + ig + wg) + frozen + h_fwd + h_wg + (h_ig if trainable_layers else 0.0)
    else:
        adapters = adapter_ratio * wg * (3.0 + np.asarray(adapter_replayed, dtype=float))
        run = trainable_layers * (fwd + rec + ig + adapters) + frozen + h_fwd + (h_ig if trainable_layers else 0.0)
    out = run / full
    return float(out) if out.ndim == 0 else out


def layer_pass_seconds(s: Setup, tp: ArrayLike, cp: ArrayLike, micro_batch: ArrayLike, recompute: ArrayLike,
                       sp: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(forward, recompute, input gradient, weight gradient) seconds of one layer and micro-batch on one
    device, compute + memory-bound as explorer.cost.time.layer_time counts them (their sum is layer_time's
    under `recompute`). The forward is a third of the layer without recompute (time.layer_forward_time:
    backward = 2 x forward, docs/conventions.md); the recompute is what `recompute` adds to the layer; the
    weight gradient is the weight GEMMs' second backward GEMM, as many FLOPs as their forward
    (2 x layer_matmul_params per token) at the layer's GEMM efficiency, as layer_time rates them; the input
    gradient is the rest of the backward: the input-gradient GEMMs, the attention core's backward (it has
    no weights) and the elementwise backward passes."""
    m = s.model
    c0, m0, _, _ = tm.layer_time(s, tp, cp, micro_batch, 0, sp)
    c, mb_, _, _ = tm.layer_time(s, tp, cp, micro_batch, recompute, sp)
    t0 = np.asarray(c0 + m0, dtype=float)
    fwd = t0 / 3.0
    rec = np.asarray(c + mb_, dtype=float) - t0
    tp_a = np.asarray(tp)
    tokens = np.asarray(micro_batch, dtype=float) * s.seq_len / np.asarray(cp, dtype=float)
    e = layer_gemm_efficiency(s.cluster.accelerator.matmul_efficiency, m, tp_a, tokens, s.gemm_efficiency_params,
                              s.fused_projections)
    wg = tokens * 2.0 * m.layer_matmul_params / tp_a / (s.gemm_peak_flops * e)
    return fwd, rec, t0 - fwd - wg, wg


def adapter_ratio(model: DecoderModel, rank: int) -> float:
    """LoRA adapters' weights over the base weights of one layer's linear maps: their GEMMs' FLOPs over the
    base GEMMs' in each pass (2 FLOPs per weight and token either way; Hu et al. 2021 sec. 4.1)."""
    return adapter_params(model, 1, rank) / model.layer_matmul_params if rank else 0.0


def dequantisation_bytes(params: float, layers: int, adapted_layers: int, recompute_full: ArrayLike,
                         value_bytes: int) -> np.ndarray | float:
    """HBM bytes per micro-batch spent turning NF4 weights into compute-precision copies (QLoRA):
    each pass over a layer's weights reads NF4_BYTES_PER_PARAM and writes `value_bytes` per weight;
    every layer is dequantised for the forward pass, the adapted layers again for the input gradient,
    and once more for the recomputed forward under full recomputation."""
    passes = 1 + (adapted_layers / layers) * (1 + np.asarray(recompute_full, dtype=int))
    return params * (NF4_BYTES_PER_PARAM + value_bytes) * passes


def trained_gradient_elements(s: TrainingSetup, choice: Choice, tp: int, pp: int) -> tuple[float, float, float]:
    """(all, per trained or adapted layer, outside the layers) elements of the most loaded device that carry a
    gradient: the trained share of its parameters (PP = 1 in the memory audit: one device holds every layer)."""
    m = s.model
    n_t = s.trainable_fraction * float(mem.params_per_device(s, tp, pp))
    if choice.adapter != "none":
        per_layer = adapter_params(m, 1, choice.lora_rank) / tp
    else:
        per_layer = m.layer_params / tp
    layers = min(choice.trainable_layers, int(mem.stage_layers(m.layers, pp, 1)))
    return n_t, per_layer, max(n_t - layers * per_layer, 0.0)


def trained_dp_comm(s: TrainingSetup, choice: Choice, tp: int, cp: int, pp: int, dp: int,
                    zero: ArrayLike) -> dict[str, np.ndarray]:
    """The data-parallel collectives of a step in which only the trained share of the model has gradients:
    explorer.cost.sharding.dp_comm's pieces for Megatron-LM (the framework training_step prices, hsdp off), with
    the gradient reductions and the updated-weight gathers over the trained parameters alone.

    Megatron-Core's DDP and distributed optimizer build their gradient buffers and buckets from the trainable
    parameters only (megatron/core/distributed/distributed_data_parallel.py: 'Collect all trainable parameters',
    `if not param.requires_grad: continue`), as PyTorch DDP does (torch/nn/parallel/distributed.py
    _build_params_for_reducer keeps parameters with requires_grad): a frozen base weight (LoRA/QLoRA, frozen
    layers) is never reduced, and the
    distributed optimizer (ZeRO 1 and 2) gathers back only the weights it updated (each rank keeps the frozen ones
    whole). What stays: ZeRO-3 still gathers every layer's frozen weights for the forward (at their stored bytes,
    NF4 under QLoRA), and again for the backward of the layers the backward reaches (the trained or adapted ones:
    nothing below them is re-gathered). A gradient element is as many bytes as the framework reduces for a trained
    weight of this precision (sharding.grad_comm_bytes: FP32 main_grads under bf16, fp16 under fp16). Per-layer
    pieces are the stage's mean: the trained layers reduce their gradients, the frozen ones nothing."""
    m = s.model
    plain = Setup(**{f.name: getattr(s, f.name) for f in fields(Setup) if f.init})  # a trained weight's bytes
    full = sh.dp_comm(s, 0, tp, cp, pp, dp, zero)
    zero = np.asarray(zero)
    n = dp * cp
    if n <= 1:
        return full
    gcb = np.asarray(sh.grad_comm_bytes(plain, 0, zero), dtype=float)
    g = s.group(n, tp * cp, cp, tp)
    n_t, layer_t, ends_t = trained_gradient_elements(s, choice, tp, pp)

    def ar(b):
        return np.asarray(nccl_allreduce_time(b, n, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth,
                                              g.nvls_bandwidth))

    def rs(b):  # reduce-scatter, and all-gather (the same time: collectives.nccl_all_gather_time)
        return np.asarray(nccl_reduce_scatter_time(b, n, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth))

    z = np.zeros(np.shape(zero))
    bucket = fwk.megatron_bucket_params(dp)
    calls = fwk.bucket_calls(n_t, bucket)
    each = n_t / calls
    if n_t > 0:  # Megatron DDP (ZeRO 0) all-reduces, the distributed optimizer (ZeRO 1) reduce-scatters
        grad_step = calls * np.where(zero >= 1, rs(each * gcb), ar(each * gcb))
        grad_last = np.where(zero >= 1, rs(each * gcb), ar(each * gcb))  # the bucket that fills last
        updated, updated_first = calls * rs(each * s.value_bytes), rs(each * s.value_bytes) + z
    else:
        grad_step = grad_last = updated = updated_first = z
    L = int(mem.stage_layers(m.layers, pp, 1))
    share = min(choice.trainable_layers, L) / L  # the stage's layers that reduce gradients (and re-gather)
    reached = float(choice.trainable_layers > 0)  # whether the backward runs at all below the head
    rs_layer = rs(layer_t * gcb) * reached if layer_t > 0 else 0.0
    rs_ends = rs(ends_t * gcb) if ends_t > 0 else 0.0
    per_mb = pp == 1
    is_m = zero <= 1  # Megatron DDP / distributed optimizer; Megatron-FSDP above (sharding.megatron_fsdp)
    mf2, mf3 = (zero == 2) & per_mb, (zero >= 3) & per_mb
    gathers_updated = (is_m & (zero >= 1)) | mf2
    ag = np.asarray(full["ag"])
    # what no compute hides each micro-batch: the first gathers (the top layer is trained or adapted, so the
    # backward's first re-gather runs whenever any layer is), the lowest trained layer's reduce-scatter, the ends'
    fixed = np.where(mf2 | mf3, ag + np.where(mf3, reached * ag, 0.0) + rs_layer + rs_ends, 0.0)
    out = dict(full)
    out.update({
        "grad_step": np.where(is_m, grad_step, full["grad_step"]),
        "grad_last": np.where(is_m, np.minimum(grad_last, grad_step), full["grad_last"]),
        "param_step": np.where(gathers_updated, updated, full["param_step"]),
        "param_first": np.where(gathers_updated, np.minimum(updated_first, updated), full["param_first"]),
        "ag_bwd": np.where(mf3, share * ag, 0.0) + z,
        "rs": np.where(per_mb & (zero >= 2), share * rs_layer, 0.0) + z,
        "mb_fixed": fixed + z})
    return out


def dp_exposed_seconds(s: Setup, comm: dict[str, np.ndarray], tp: int, cp: int, pp: int, v: int,
                       micro_batch: ArrayLike, num_micro_batches: ArrayLike, recompute: ArrayLike,
                       sp: int) -> np.ndarray:
    """The data-parallel time a step shows (hidden collectives' interference included) for the collectives
    `comm`, with the windows step.evaluate gives them (Megatron-LM, PP = 1 layout): its time_dp_exposed."""
    fw = 0
    overlap = fwk.tp_overlap_of(s.tp_comm_overlap, fw, s.cluster.accelerator.key)
    kern, kern_setups = stp.attention_setups(s, fw)
    t_c, t_m, t_tp, t_cp = stp.by_attention_kernel(
        kern, kern_setups, lambda s_: tm.layer_time(s_, tp, cp, micro_batch, recompute, sp, overlap))
    t_fwd, t_bwd = stp.by_attention_kernel(
        kern, kern_setups, lambda s_: tm.sharded_dp_windows(s_, tp, cp, micro_batch, recompute, sp))
    layers = mem.stage_layers(s.model.layers, pp, v)
    t_stage = layers * (t_c + t_m + t_tp + t_cp) + tm.logits_time(s, tp, cp, micro_batch)
    e_mb = (sh.exposed_per_micro_batch(comm, layers, t_fwd, t_bwd)
            + sh.interference(s, sh.hidden_per_micro_batch(comm, layers, t_fwd, t_bwd)))
    e_grad, e_param = sh.step_sync_exposed(comm, t_stage, fw, pp, v, s.efficiency.dp_overlap)
    e_sync = e_grad + e_param + sh.interference(s, comm["grad_step"] + comm["param_step"] - e_grad - e_param)
    return e_sync + v * np.asarray(num_micro_batches) * e_mb


def training_step(base: Setup, choice: Choice, tp: int, pp: int, dp: int, num_micro_batches: int, cp: int = 1,
                  v: int = 1, sp: bool | None = None, pcie_bandwidth: float = 0.0, host_memory_bandwidth: float = 0.0,
                  int8_block: int = 2048) -> dict[str, float]:
    """One training step of a choice on a parallel plan, from the step model (explorer.cost.step.evaluate)
    on the TrainingSetup, with the departures this module models:
      * freezing and adapters: frozen layers below the trained ones run the forward pass only (no recompute,
        no backward), adapted layers skip the weight gradient of their base weights (forward, recompute and
        input gradient remain), priced pass by pass (frozen_compute_factor over layer_pass_seconds; model
        FLOPs over the passes' FLOPs; the MFU is step.evaluate's, rescaled accordingly); QLoRA adds the
        dequantisation passes (memory-bound, at HBM bandwidth) of every micro-batch; the data-parallel sync
        reduces the trained parameters' gradients only (trained_dp_comm; its exposed time replaces the whole
        model's in the step, dp_exposed_seconds);
      * offload: the on-device optimizer pass is replaced by PCIe transfers (gradients down, weights up)
        plus the same memory-bound pass at host-memory bandwidth (ZeRO-Offload, Ren et al. 2021 sec. 4).
    Seconds; 'time_main' is everything but the optimizer step."""
    r = training_step_grid(base, choice, tp, pp, dp, choice.micro_batch, num_micro_batches,
                           mem.RECOMPUTE_CODES[choice.recompute], choice.zero, choice.offload, cp=cp, v=v, sp=sp,
                           pcie_bandwidth=pcie_bandwidth, host_memory_bandwidth=host_memory_bandwidth,
                           int8_block=int8_block)
    return {k: float(x) for k, x in r.items()}


def training_step_grid(base: Setup, choice: Choice, tp: int, pp: int, dp: int, micro_batch: ArrayLike,
                       num_micro_batches: ArrayLike, recompute: ArrayLike, zero: ArrayLike, offload: ArrayLike,
                       cp: int = 1, v: int = 1, sp: bool | None = None, pcie_bandwidth: float = 0.0,
                       host_memory_bandwidth: float = 0.0, int8_block: int = 2048) -> dict[str, np.ndarray]:
    """`training_step` over arrays of micro-batch, micro-batches per step, recompute code (0/1/2), ZeRO
    stage and offload (the choice's own values of these are ignored)."""
    s = training_setup(base, choice, int8_block)
    mb, nmb, rc = np.asarray(micro_batch), np.asarray(num_micro_batches), np.asarray(recompute)
    zero, offload = np.asarray(zero), np.asarray(offload, dtype=bool)
    sp = (tp > 1) if sp is None else sp
    r = stp.evaluate(s, tp, cp, pp, dp, v, mb, nmb, zero, rc, int(sp))
    m, L, T = s.model, s.model.layers, choice.trainable_layers
    ratio = adapter_ratio(m, choice.lora_rank if choice.adapter != "none" else 0)
    # time: each pass at its own seconds (layer_pass_seconds); the head's forward, input and weight gradient a
    # third each of its time (backward = 2 x forward). step.evaluate's time_compute is n_mb x (the paced rank's
    # layers x the layer + the head): its layer part scales with the layers' share, its head part with the head's
    # (every track's setup puts the output layer on the paced rank; with PP > 1 its layers are taken as the
    # model's mix of trained and frozen ones)
    passes = layer_pass_seconds(s, tp, cp, mb, rc, int(sp))
    t_head = nmb * tm.logits_time(s, tp, cp, mb)
    t_compute_full, t_step_full = r["time_compute"], r["step_time"]
    t_layers = t_compute_full - t_head
    f_layers = frozen_compute_factor(L, T, choice.adapter, passes, adapter_ratio=ratio,
                                     adapter_replayed=s.forward_replayed(rc))
    f_head = frozen_compute_factor(L, T, choice.adapter, (0.0, 0.0, 0.0, 0.0), (1 / 3, 1 / 3, 1 / 3))
    t_compute = f_layers * t_layers + f_head * t_head
    t_main = t_step_full - r["time_optimizer"] - (t_compute_full - t_compute)
    t_dp_total = r["time_dp_total"]
    # the memory audit's layout (PP = 1: with PP > 1 the trained layers would sit on the top stages, not modelled);
    # textbook collectives already reduce Setup.grad_bytes, the trained share
    if s.trainable_fraction < 1.0 and dp * cp > 1 and pp == 1 and v == 1 and s.collectives != "textbook":
        # step.evaluate reduced every parameter's gradient; only the trained ones have any (trained_dp_comm)
        full, trained = sh.dp_comm(s, 0, tp, cp, pp, dp, zero), trained_dp_comm(s, choice, tp, cp, pp, dp, zero)
        t_main = t_main + (dp_exposed_seconds(s, trained, tp, cp, pp, v, mb, nmb, rc, int(sp))
                           - dp_exposed_seconds(s, full, tp, cp, pp, v, mb, nmb, rc, int(sp)))
        t_dp_total = sh.total_per_step(trained, mem.stage_layers(m.layers, pp, v), nmb)
    # model FLOPs (no recompute, docs/conventions.md): a layer's forward G + A (weight GEMMs, attention core),
    # input gradient G + 2A (the attention core's backward has no weight), weight gradient G; the head 2 V h a pass
    g, a = 2.0 * m.layer_matmul_params, m.attention_forward_flops_per_token(s.seq_len)
    head = m.logits_forward_flops_per_token()
    f_flops = frozen_compute_factor(L, T, choice.adapter, (g + a, 0.0, g + 2 * a, g), (head, head, head),
                                    adapter_ratio=ratio)
    t_opt = tm.optimizer_time(optimizer_pass(s), tp, cp, pp, dp, zero, v)
    if choice.adapter == "qlora":
        deq = dequantisation_bytes(float(mem.params_per_device(s, tp, pp)), s.model.layers, choice.trainable_layers,
                                   rc == 2, s.value_bytes)
        t_main = t_main + nmb * deq / s.cluster.accelerator.memory_bandwidth
    if np.any(offload):
        if pcie_bandwidth <= 0 or host_memory_bandwidth <= 0:
            raise UsageError("offload needs a host link and host memory (not available on this track)")
        p = float(mem.params_per_device(s, tp, pp)) / np.where(zero >= 1, dp, 1)
        pcie = p * (s.grad_bytes + s.updated_weight_bytes) / pcie_bandwidth  # gradients down, updated weights up
        host = t_opt * (s.cluster.accelerator.memory_bandwidth / host_memory_bandwidth)
        t_opt = np.where(offload, pcie + host, t_opt)
    t_step = t_main + t_opt
    shape = np.broadcast_shapes(*(np.shape(x) for x in (mb, nmb, rc, zero, offload)))
    out = {"step_time": t_step, "time_main": t_main, "time_optimizer": t_opt, "time_compute": t_compute,
           "time_dp_total": t_dp_total, "model_flops": f_flops * r["model_flops"],
           "mfu": r["mfu"] * f_flops * t_step_full / t_step}
    return {k: np.broadcast_to(np.asarray(x, dtype=float), shape) for k, x in out.items()}


def step_time_parts(base: Setup, layout: Layout, choice: Choice, int8_block: int = 2048) -> tuple[float, float]:
    """(everything but the optimizer step, the optimizer step) in seconds on the audit's layout."""
    r = training_step(base, choice, layout.tp, layout.pp, layout.dp, layout.batch_per_replica // choice.micro_batch,
                      pcie_bandwidth=layout.pcie_bandwidth, host_memory_bandwidth=layout.host_memory_bandwidth,
                      int8_block=int8_block)
    return r["time_main"], r["time_optimizer"]


def with_layers(base: Setup, layers: int) -> Setup:
    """The same setup with a deeper or shallower model of the same width (for 'largest model')."""
    return replace(base, model=replace(base.model, layers=layers))


def serving_weight_bytes(model: DecoderModel, bytes_per_weight: int = 2) -> int:
    """Weights alone, as for inference in 16-bit (the 'serving' side of the 4-8x comparison)."""
    return model.params * bytes_per_weight
