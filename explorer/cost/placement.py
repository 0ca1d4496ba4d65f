"""A model split across the local group of one fleet member (the devices joined by a local link: the
two earbuds of a pair over NFMI, a pair of glasses and its phone over Bluetooth), one training
iteration of that group, and the bytes and joules the split costs. Pure functions, SI units.

A split at layer s puts the input embedding and layers [0, s) on device A (the fleet device, where
the data is) and layers [s, L) with the output head on device B; s = L keeps everything on A, s = 0
ships the input samples to B. Only the top `trainable` layers (and the head) are trained; frozen
layers run their forward pass only (1 of the 3 forward-equivalents of a trained layer, docs/conventions.md:
backward = 2 x forward), keep no gradient, no optimizer state and no stored activation, and where
the track says so their weights are read in place from flash (Lin et al. 2022, "On-device training
under 256KB memory", NeurIPS, sec. 3).

With one micro-batch per local step the two halves run one after the other: forward on A, the
boundary activation to B (alpha + M/B), forward and backward on B, the activation gradient back to A,
backward on A; there is no pipeline to fill (Narayanan et al. SC'21: a pipeline needs m > 1
micro-batches to overlap stages). Per-layer time and memory come from the shared cost model
(explorer.cost.time.layer_time / logits_time, explorer.cost.memory.activation_bytes_per_layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost import memory as mem
from explorer.cost import time as tm
from explorer.cost.collectives import p2p_time
from explorer.cost.setup import Setup
from explorer.errors import UsageError


@dataclass(frozen=True)
class Stage:
    """The part of the model one device of the local group holds."""

    layers: int  # transformer layers held
    trainable: int  # of which trained (the top ones of the model)
    embedding: bool  # holds the input embedding
    head: bool  # holds the output head and the loss
    embedding_trained: bool = False  # only when every layer is trained

    @property
    def empty(self) -> bool:
        return self.layers == 0 and not self.embedding and not self.head


def split_stages(layers: int, split: int, trainable: int) -> tuple[Stage, Stage]:
    """(stage on A, stage on B) for a split at layer `split` with the top `trainable` layers trained;
    B is empty when split = layers (no split)."""
    if not 0 <= split <= layers:
        raise UsageError(f"split point must lie in [0, {layers}] layers, got {split}")
    if not 0 <= trainable <= layers:
        raise UsageError(f"trainable layers must lie in [0, {layers}], got {trainable}")
    frozen = layers - trainable
    all_trained = trainable == layers
    a_train = max(0, split - frozen)
    a = Stage(split, a_train, embedding=split > 0, head=split == layers, embedding_trained=all_trained and split > 0)
    b = Stage(layers - split, trainable - a_train, embedding=split == 0 and layers > 0, head=split < layers,
              embedding_trained=all_trained and split == 0)
    return a, b


def _tied_copy(setup: Setup, st: Stage) -> int:
    m = setup.model
    return m.vocab * m.hidden if (m.tied_embeddings and st.head and not st.embedding) else 0


def stage_params(setup: Setup, st: Stage) -> tuple[int, int]:
    """(parameters held, parameters trained) of a stage. A tied output head on another stage than the
    embedding is a second copy (Megatron-LM; explorer.cost.memory.params_per_device)."""
    m = setup.model
    held = st.layers * m.layer_params + (m.embedding_params if st.embedding else 0)
    held += (m.head_params + _tied_copy(setup, st)) if st.head else 0
    trained = st.trainable * m.layer_params + (m.embedding_params if st.embedding_trained else 0)
    trained += (m.head_params + _tied_copy(setup, st)) if st.head else 0
    return held, trained


def boundary_bytes(setup: Setup, micro_batch: ArrayLike) -> np.ndarray | float:
    """Activation (or its gradient) crossing a split for one micro-batch: b x s x h x bytes."""
    r = np.asarray(micro_batch, dtype=float) * setup.seq_len * setup.model.hidden * setup.act_bytes
    return float(r) if np.ndim(r) == 0 else r


def stage_memory(setup: Setup, st: Stage, micro_batch: ArrayLike, frozen_in_flash: bool = False,
                 sample_bytes: float = 0.0) -> dict:
    """Bytes a stage keeps in device memory for one micro-batch in flight: weights (frozen ones off the
    device when they stay in flash), gradients and optimizer state of the trained part, the stored
    activations of the trained layers (+ the head's input), the loss's copies of the logits where it is computed
    (Setup.loss_bytes_per_logit, as explorer/cost/memory.py working_bytes counts them).

    A frozen forward stores nothing for a backward, but it still needs its input and output buffers while it
    runs: a layer reads its b x s x h input and writes its b x s x h output, and the next layer reuses the pair
    (ping-pong buffers: a layer-by-layer forward peaks at a layer's input + output activation, the analysis of
    the SRAM bottleneck in Lin et al. 2021, MCUNetV2, NeurIPS); a frozen embedding reads the raw
    samples (sample_bytes each) and writes the first b x s x h buffer. The stage's activation memory is the larger
    of that frozen-forward peak and the training peak (stored activations, which come after it); the temporaries
    inside a layer (attention scores, the MLP's 4h) are taken as computed in place row by row (a lower bound)."""
    held, trained = stage_params(setup, st)
    b = np.asarray(micro_batch)
    resident = trained if frozen_in_flash else held
    per_layer = mem.activation_bytes_per_layer(setup, 1, 1, b, 0, 0)
    act = st.trainable * per_layer
    boundary_in = b * setup.seq_len * setup.model.hidden * setup.act_bytes
    if st.trainable < st.layers and (st.trainable or st.head):
        act = act + boundary_in  # below frozen layers: the input of the first trained block (or of the head)
    frozen_embedding = st.embedding and not st.embedding_trained
    if st.layers > st.trainable or frozen_embedding:  # a forward-only part runs: its input + output buffers
        peak = 2 * boundary_in if st.layers > st.trainable else 0 * boundary_in
        if frozen_embedding:
            peak = np.maximum(peak, b * float(sample_bytes) + boundary_in)
        act = np.maximum(act, peak)
    work = b * setup.seq_len * setup.model.vocab * setup.loss_bytes_per_logit if st.head else 0 * b
    out = {"weights": resident * setup.weight_bytes, "gradients": trained * setup.grad_bytes,
           "optimizer": trained * setup.optimizer_bytes, "activations": act, "working": work,
           "flash": (held - trained) * setup.weight_bytes if frozen_in_flash else 0}
    out["total"] = out["weights"] + out["gradients"] + out["optimizer"] + act + work
    return out


def stage_time(setup: Setup, st: Stage, micro_batch: ArrayLike) -> np.ndarray | float:
    """Seconds of one local step on one stage: forward + backward of its trained layers, forward of its
    frozen layers, the head and loss, and the optimizer pass over its trained parameters."""
    if st.empty:
        return 0.0 * np.asarray(micro_batch, dtype=float)
    comp, memb, _, _ = tm.layer_time(setup, 1, 1, micro_batch, 0, 0)
    layer = comp + memb
    frozen = st.layers - st.trainable
    t = st.trainable * layer + frozen * layer / 3.0
    if st.head:
        t = t + tm.logits_time(setup, 1, 1, micro_batch)
    _, trained = stage_params(setup, st)
    per_param = 2.0 * setup.optimizer_bytes + setup.grad_bytes + setup.weight_bytes
    return t + trained * per_param / setup.cluster.accelerator.memory_bandwidth


def split_transfer(setup: Setup, st_a: Stage, st_b: Stage, micro_batch: ArrayLike,
                   sample_bytes: float) -> tuple[np.ndarray | float, np.ndarray | float]:
    """(bytes A sends, bytes A receives) per local step across the split: the boundary activation
    forward and its gradient back; with nothing on A, the raw samples (sample_bytes each) only."""
    b = np.asarray(micro_batch, dtype=float)
    if st_b.empty:
        return 0.0 * b, 0.0 * b
    if st_a.empty:
        return b * sample_bytes, 0.0 * b
    m = boundary_bytes(setup, b)
    back = m if st_a.trainable else 0.0 * b  # no gradient is needed below a frozen boundary
    return m, back


def local_step_time(t_a: ArrayLike, t_b: ArrayLike, sent: ArrayLike, received: ArrayLike, link_latency_s: float,
                    link_bandwidth: float) -> np.ndarray | float:
    """One local step of the group: the two stages one after the other plus the transfers across the
    local link (alpha + M/B each way that carries bytes)."""
    s, r = np.asarray(sent, dtype=float), np.asarray(received, dtype=float)
    hop = np.where(s > 0, p2p_time(s, link_latency_s, link_bandwidth), 0.0) + np.where(
        r > 0, p2p_time(r, link_latency_s, link_bandwidth), 0.0)
    t = np.asarray(t_a, dtype=float) + np.asarray(t_b, dtype=float) + hop
    return float(t) if np.ndim(t) == 0 else t
