"""The cost model's efficiency parameters: few, named, the same for every model and run.

Peak FLOP/s, link line rates and per-part GEMM/link efficiencies are in the hardware catalog
(hardware/data/*.toml, each with its source). The parameters here describe how a training
step departs from those ideals; each has a physical meaning and a stated origin. They are
calibrated once against explorer/data/reference/megatron_sc21_table1.csv (see `explore validate`),
never per row or per model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Efficiency:
    """Efficiency parameters of the step-time model."""

    matmul_half_dim: float = 192.0
    """GEMM size roll-off: the per-device matrix width (hidden / TP) at which a GEMM reaches half
    of the part's large-GEMM efficiency; efficiency scales as n / (n + n_half). Small GEMMs
    under-fill the SMs and waste tile quantisation (NVIDIA Deep Learning Performance Guide,
    'Matrix multiplication background', fig. 'Tensor Core performance vs. size')."""

    matmul_half_tokens: float = 128.0
    """Same roll-off in the token dimension of a micro-batch (b x s / CP)."""

    elementwise_bytes_per_hidden: float = 48.0
    """Bytes of HBM traffic per token, per layer, per hidden unit from memory-bound kernels
    (norms, residual adds, activation function, rotary, dropout), forward + backward. About a
    dozen such passes over 2-byte activations (Korthikanti et al. 2022, sec. 4: layernorm,
    dropout and residual are the memory-bound part of a layer)."""

    attention_efficiency: float = 0.45
    """Fraction of dense peak at which the attention core's counted FLOPs (4 s h per token and layer forward,
    PaLM's count: no causal halving) complete. FlashAttention-style kernels stay well below large-GEMM
    efficiency (head-dim-sized inner products, softmax between the two matmuls; Dao, FlashAttention-2,
    arXiv 2307.08691, sec. 4). Fitted once on the attention-dominated Llama 3 405B s = 131,072 row
    (`explore validate`, 57 % of FLOPs in attention), the same for every row."""

    attention_score_bytes: float = 48.0
    """HBM bytes per attention-score element per layer, forward + backward, when FlashAttention is off:
    QK^T writes 2, fused scale-mask-softmax reads and writes 2 + 2, dropout reads 2 and writes 2 + a 1-byte
    mask, AV reads 2 (13 forward) and about 20 backward (Korthikanti et al. 2022 sec. 4.1 list the stored
    tensors); about 33 bytes at full bandwidth, 48 at the ~70 % of HBM peak such strided kernels reach.
    Fitted once on Megatron SC'21 Table 1 (`explore validate`), the same for every row."""

    dp_overlap: float = 1.0
    """Fraction of the last micro-batch's backward pass behind which the data-parallel gradient
    reduction can hide (bucketed overlap: Li et al., PyTorch Distributed, VLDB 2020, sec. 3.2.3)."""

    tp_overlap: float = 0.0
    """Fraction of tensor-parallel communication hidden behind compute (0: Megatron-LM's default
    blocking all-reduce / reduce-scatter on the critical path; Narayanan et al. SC'21 sec. 3.3)."""

    bucket_bytes: float = 25e6
    """Gradient bucket size: one alpha per bucket (PyTorch DDP bucket_cap_mb default 25)."""

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_EFFICIENCY = Efficiency()


def gemm_efficiency(
    part_efficiency: ArrayLike, width: ArrayLike, tokens: ArrayLike, eff: Efficiency = DEFAULT_EFFICIENCY
) -> np.ndarray | float:
    """Fraction of dense peak reached by a layer's GEMMs of per-device width and token count."""
    return part_efficiency * width / (width + eff.matmul_half_dim) * tokens / (tokens + eff.matmul_half_tokens)
