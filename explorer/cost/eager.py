"""HBM traffic of the op chains an eager-PyTorch Llama layer runs where a fused stack runs one kernel.

The eager elementwise figure (Efficiency.elementwise_bytes_per_hidden_eager) is fitted on MosaicML's MPT stacks:
torch LayerNorm (one kernel each way), GELU (one kernel each way) and ALiBi (inside the attention kernel, no pass of
its own). A Llama layer in eager PyTorch runs three things those layers do not, each as a chain of ATen kernels
that reads its inputs from HBM and writes its output back. Counted here op by op from the model code, per element,
with 2-byte (BF16) activations and the FP32 intermediates the code casts to; the backward is what autograd runs
for each op (a product's backward reads the incoming gradient and the saved other factor and writes one gradient
per input; a cast's backward casts back).

RMSNorm as torchtitan's RMSNorm class runs it (torchtitan/models/norms.py at d4c86e375, 2025-01, and
torchtitan/models/llama/model.py at 1ea476e9f, 2024-04: ``self._norm(x.float()).type_as(x) * self.weight`` with
``_norm(x) = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)``; ibm-fms LayerNormParameterized is the same
chain):
    forward:  float() 2 + 4, pow 4 + 4, mean 4, x * rsqrt 4 + 4, type_as 4 + 2, * weight 2 + 2          = 36
    backward: * weight 2 + 2 (+ 2 + 2 for the weight's gradient), type_as 2 + 4, x * r 4 + 4 (+ 4 + 4 for r's
              gradient), mean 4, pow 4 + 4 + 4, the two paths' sum 4 + 4 + 4, float() 4 + 2            = 64
against one fused norm kernel (read x, write y; read dy and x, write dx) 4 and 6: 32 and 58 more per element.
A norm runs twice per layer on the h-vector of each token; under sequence parallelism it is split over TP.

Rotary embedding as torchtitan's apply_rotary_emb runs it (model.py: ``view_as_complex(xq.float().reshape(...))``,
``xq_ * freqs_cis``, ``view_as_real(...).flatten(3)``, ``.type_as(xq)``; the reshapes and views move nothing):
    forward:  float() 2 + 4, complex product 4 + 4 (the frequencies are one row per position), type_as 4 + 2 = 20
    backward: type_as 2 + 4, product 4 + 4, float() 4 + 2                                                 = 20
on every element of the queries and the keys ((heads + kv_heads) x head_dim per token, split over TP by heads).
The MPT layers have no such pass, so all of it is extra.

SwiGLU as ``w2(F.silu(w1(x)) * w3(x))`` (torchtitan model.py FeedForward; ibm-fms GatedLinearUnit): silu 2 + 2 and
the product 2 + 2 + 2 forward (10), the product's two gradients 2 + 2 + 2 each and silu's 2 + 2 + 2 backward (18),
on each ffn element, against the 6 and 10 a fused SwiGLU kernel takes (explorer/cost/time.py counts those):
4 and 8 more, split over TP with the MLP.

A forward replayed in the backward (full recompute, torchtitan's per-op selective policy) runs the forward chains
again. torch.compile (Setup.fused_kernels) fuses all three chains; torchtitan's norm_type "fused_rmsnorm" (a Triton
kernel, Setup.fused_norm) fuses the norm alone.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost.setup import Setup

RMSNORM_EXTRA_BYTES = (32.0, 58.0)
"""Forward and backward HBM bytes per h-element per norm beyond one fused norm kernel (module docstring)."""
ROPE_BYTES = (20.0, 20.0)
"""Forward and backward HBM bytes per query or key element of the eager rotary embedding (module docstring)."""
SWIGLU_EXTRA_BYTES = (4.0, 8.0)
"""Forward and backward HBM bytes per ffn element of eager SwiGLU beyond the fused kernel's (module docstring)."""


def eager_chain_bytes(setup: Setup, tokens: ArrayLike, tp: ArrayLike, sp_on: ArrayLike,
                      replay: ArrayLike) -> np.ndarray | float:
    """HBM bytes one device moves for one layer's eager RMSNorm, rotary and SwiGLU chains beyond what the fitted
    eager figure holds (module docstring), for `tokens` tokens of one micro-batch; 0 for fused stacks and for
    layers without those parts."""
    if setup.fused_kernels:
        return 0.0
    m = setup.model
    tp_a = np.asarray(tp)
    f = np.where(np.asarray(replay), 2.0, 1.0)  # forward chains run twice when the forward is replayed
    total = 0.0
    if m.norm == "rms" and not setup.fused_norm:
        fwd, bwd = RMSNORM_EXTRA_BYTES
        total = total + 2.0 * m.hidden * (fwd * f + bwd) / np.where(np.asarray(sp_on), tp_a, 1)
    if m.position == "rope":
        fwd, bwd = ROPE_BYTES
        total = total + (m.heads + m.kv_heads) * m.head_dim * (fwd * f + bwd) / tp_a
    if m.gated:
        fwd, bwd = SWIGLU_EXTRA_BYTES
        total = total + m.ffn * (fwd * f + bwd) / tp_a
    return np.asarray(tokens) * total
