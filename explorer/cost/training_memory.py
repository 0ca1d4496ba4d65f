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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from explorer.cost import memory as mem
from explorer.cost import step as stp
from explorer.cost import time as tm
from explorer.cost.setup import OPTIMIZER_BYTES, Setup
from explorer.errors import UsageError
from explorer.models.architecture import DecoderModel

BASE_OPTIMIZERS = ("sgd", "momentum", "adam")
OPTIMIZER_VARIANTS = ("adam", "adam8bit", "adafactor", "momentum", "sgd")
PRECISION_CHOICES = ("fp32", "bf16", "fp16")
RECOMPUTE_CHOICES = ("none", "selective", "full")
FP32_VALUE_BYTES = 4
INT8_VALUE_BYTES = 1


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
    h, kvd, f = model.hidden, model.kv_dim, model.ffn
    layer = [(h, h), (h, h), (h, kvd), (h, kvd)] + [(h, f)] * model.mlp_matrices
    mats = layer * trainable_layers
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


def trainable_params(model: DecoderModel, trainable_layers: int) -> int:
    """Parameters updated when only the top `trainable_layers` layers (and the head) are trained."""
    if not 0 <= trainable_layers <= model.layers:
        raise UsageError(f"trainable layers must lie in [0, {model.layers}], got {trainable_layers}")
    if trainable_layers == model.layers:
        return model.params
    mats, vectors = _matrices_and_vectors(model, trainable_layers)
    return sum(r * c for r, c in mats) + vectors


def state_bytes_per_trainable_param(model: DecoderModel, optimizer: str, trainable_layers: int,
                                    int8_block: int = 2048) -> float:
    """Optimizer-state bytes per trainable parameter, master weights excluded."""
    if optimizer not in OPTIMIZER_VARIANTS:
        raise UsageError(f"optimizer {optimizer!r} unknown; valid: {', '.join(OPTIMIZER_VARIANTS)}")
    n = state_values_per_param(optimizer)
    if optimizer in BASE_OPTIMIZERS:
        return float(n * FP32_VALUE_BYTES)
    if optimizer == "adam8bit":
        return n * (INT8_VALUE_BYTES + FP32_VALUE_BYTES / int8_block)
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

    @property
    def grad_bytes(self) -> float:  # type: ignore[override]
        return self.weight_bytes * self.trainable_fraction

    @property
    def optimizer_bytes(self) -> float:  # type: ignore[override]
        return (master_bytes_per_param(self.mixed) + self.state_bytes) * self.trainable_fraction


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
    trainable_layers: int


def training_setup(base: Setup, choice: Choice, int8_block: int = 2048) -> TrainingSetup:
    m = base.model
    tf = trainable_params(m, choice.trainable_layers) / m.params
    base_opt = choice.optimizer if choice.optimizer in BASE_OPTIMIZERS else "adam"
    return TrainingSetup(
        model=m, cluster=base.cluster, seq_len=base.seq_len, precision=choice.precision, optimizer=base_opt,
        usable_memory_fraction=base.usable_memory_fraction, flash_attention=base.flash_attention,
        efficiency=base.efficiency, variant=choice.optimizer, trainable_fraction=tf,
        state_bytes=state_bytes_per_trainable_param(m, choice.optimizer, choice.trainable_layers, int8_block),
    )


MEMORY_TERMS = ("weights", "gradients", "optimizer", "activations", "working", "buffers")


def waterfall(base: Setup, layout: Layout, choice: Choice, int8_block: int = 2048) -> dict[str, int]:
    """Bytes per device by term (MEMORY_TERMS), plus 'total' on the device, and what lies
    off the device: 'host' (offloaded gradients + optimizer) and 'flash' (frozen weights)."""
    s = training_setup(base, choice, int8_block)
    m = s.model
    tp, pp, dp = layout.tp, layout.pp, layout.dp
    if layout.batch_per_replica % choice.micro_batch:
        raise UsageError(f"micro-batch {choice.micro_batch} does not divide the batch per replica "
                         f"{layout.batch_per_replica}")
    nmb = layout.batch_per_replica // choice.micro_batch
    rc = mem.RECOMPUTE_CODES[choice.recompute]
    sp = int(tp > 1)
    w, g, o = (float(x) for x in mem.model_state_bytes(s, tp, pp, dp, 1, choice.zero))
    flash = 0.0
    if layout.frozen_store == "flash" and choice.zero < 3:
        flash = w * (1.0 - s.trainable_fraction)
        w -= flash
    act_all = float(mem.pipeline_activation_bytes(s, tp, 1, pp, 1, choice.micro_batch, nmb, rc, sp))
    act = act_all * choice.trainable_layers / m.layers
    if choice.trainable_layers < m.layers:  # the head's input is stored for its weight gradient
        act += choice.micro_batch * s.seq_len * m.hidden * s.act_bytes / tp
    # nothing trainable below the head: no layer is recomputed, so no layer is rebuilt either
    work = float(mem.working_bytes(s, tp, 1, choice.micro_batch, rc if choice.trainable_layers else 0, sp))
    # gradient buckets exist only when gradients are communicated (data parallel)
    buf = float(mem.buffer_bytes(s, tp, pp, choice.zero, dp=dp))
    host = 0.0
    if choice.offload:
        host, g, o = g + o, 0.0, 0.0
    out = {"weights": w, "gradients": g, "optimizer": o, "activations": act, "working": work, "buffers": buf}
    res = {k: int(math.ceil(v)) for k, v in out.items()}
    res["total"] = sum(res.values())
    res["host"] = int(math.ceil(host))
    res["flash"] = int(math.ceil(flash))
    return res


def frozen_compute_factor(layers: int, trainable_layers: int) -> float:
    """Fraction of a step's layer compute left when the bottom layers are frozen: frozen layers run
    the forward pass only (1 of the 3 forward-equivalents; backward = 2 x forward, CONVENTIONS)."""
    return (layers + 2 * trainable_layers) / (3 * layers)


def training_step(base: Setup, choice: Choice, tp: int, pp: int, dp: int, num_micro_batches: int, cp: int = 1,
                  v: int = 1, sp: bool | None = None, pcie_bandwidth: float = 0.0, host_memory_bandwidth: float = 0.0,
                  int8_block: int = 2048) -> dict[str, float]:
    """One training step of a choice on a parallel plan, from the step model (explorer.cost.step.evaluate)
    on the TrainingSetup, with the two departures this module models:
      * freezing: frozen layers run forward only, so the step loses (1 - f) of its compute time and of
        its model FLOPs, f = frozen_compute_factor (the MFU is step.evaluate's, rescaled accordingly);
      * offload: the on-device optimizer pass is replaced by PCIe transfers (gradients down, weights up)
        plus the same memory-bound pass at host-memory bandwidth (ZeRO-Offload, Ren et al. 2021 sec. 4).
    Seconds; 'time_main' is everything but the optimizer step."""
    s = training_setup(base, choice, int8_block)
    rc = mem.RECOMPUTE_CODES[choice.recompute]
    sp = (tp > 1) if sp is None else sp
    r = stp.evaluate(s, tp, cp, pp, dp, v, choice.micro_batch, num_micro_batches, choice.zero, rc, int(sp))
    f = frozen_compute_factor(s.model.layers, choice.trainable_layers)
    t_compute_full, t_step_full = float(r["time_compute"]), float(r["step_time"])
    t_opt = float(r["time_optimizer"])
    t_main = t_step_full - t_opt - (1.0 - f) * t_compute_full
    if choice.offload:
        if pcie_bandwidth <= 0 or host_memory_bandwidth <= 0:
            raise UsageError("offload needs a host link and host memory (not available on this track)")
        p = float(mem.params_per_device(s, tp, pp)) / (dp if choice.zero >= 1 else 1)
        pcie = p * (s.grad_bytes + s.weight_bytes) / pcie_bandwidth
        host = float(tm.optimizer_time(s, tp, cp, pp, dp, choice.zero)) * (
            s.cluster.accelerator.memory_bandwidth / host_memory_bandwidth)
        t_opt = pcie + host
    t_step = t_main + t_opt
    return {"step_time": t_step, "time_main": t_main, "time_optimizer": t_opt, "time_compute": f * t_compute_full,
            "time_dp_total": float(r["time_dp_total"]), "model_flops": f * float(r["model_flops"]),
            "mfu": float(r["mfu"]) * f * t_step_full / t_step}


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
