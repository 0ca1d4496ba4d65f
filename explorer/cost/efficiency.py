"""The cost model's efficiency parameters: few, named, the same for every model and run.

Peak FLOP/s, link line rates and per-part GEMM/link efficiencies are in the hardware catalog
(hardware/data/*.toml, each with its source). The parameters here describe how a training
step departs from those ideals; each has a physical meaning and a stated origin. The ones marked
"fitted" are calibrated together, once, on all shipped reference tables (explorer/calibrate.py: a
least-squares fit from priors with sources, values and provenance in explorer/data/reference/
calibration.toml; `explore validate` reports each table's error in sample and with the values fitted
without it), never per row, per table or per model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from explorer.errors import UsageError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Efficiency:
    """Efficiency parameters of the step-time model."""

    matmul_half_dim: float = 217.8
    """GEMM size roll-off: the size of a weight dimension (either side of the weight matrix on one device, e.g.
    h and 3h/TP for a fused QKV projection) at which a GEMM reaches half of the part's large-GEMM efficiency;
    each weight dimension n scales it by n / (n + n_half) (layer_gemm_efficiency). Small GEMMs under-fill the
    SMs and waste tile quantisation (NVIDIA Deep Learning Performance Guide, 'Matrix multiplication
    background', fig. 'Tensor Core performance vs. size'). Fitted (prior 192)."""

    matmul_half_tokens: float = 122.9
    """Same roll-off in the token dimension of a micro-batch (b x s / CP). Fitted (prior 128)."""

    elementwise_bytes_per_hidden: float = 34.7
    """Bytes of HBM traffic per token, per layer, per hidden unit from memory-bound kernels
    (norms, residual adds, dropout, rotary), forward + backward. About a
    dozen such passes over 2-byte activations (Korthikanti et al. 2022, sec. 4: layernorm,
    dropout and residual are the memory-bound part of a layer). These are the kernels sequence parallelism
    splits over TP; the MLP activation's traffic is counted from the shape (explorer/cost/time.py). Fitted
    (prior 30: Korthikanti et al. Table 4, sequence parallelism saves 0.6 ms of the 22B layer's 19.6 ms on A100,
    7/8 of this traffic at 8,192 tokens x 6,144 = 28 bytes); the fit lands near 37."""

    elementwise_bytes_per_hidden_eager: float = 215.1
    """The same traffic when every norm, residual add, activation and layout copy runs as its own PyTorch kernel
    (eager mode, no fusion; Setup.fused_kernels False): each op reads its inputs from HBM and writes its output
    back, FP32 up-casts in the norms included. Fitted on the three MosaicML tables (prior 150, about 5x the fused
    figure); the fit lands at about 5-6x, i.e. about a hundred passes over 2-byte h-vectors per layer."""

    attention_efficiency: float = 0.45
    """Fraction of dense peak at which the attention core's counted FLOPs (4 s h per token and layer forward, PaLM's
    count: no causal halving) complete, per pass: a fused kernel's backward takes 2.5 such passes, as it recomputes
    the scores (explorer/cost/time.py, FUSED_ATTENTION_BACKWARD_PASSES). FlashAttention-style kernels stay well
    below large-GEMM efficiency (head-dim-sized inner products, softmax between the two matmuls; Dao,
    FlashAttention-2, arXiv 2307.08691, sec. 4). Fitted once on the attention-dominated Llama 3 405B s = 131,072 row
    (`explore validate`, 57 % of FLOPs in attention). Parts with their own measured figure carry it in the catalog
    (accelerators.toml attention_efficiency, fitted for Hopper and Ampere); this one applies to the others."""

    attention_score_bytes: float = 44.92
    """HBM bytes per attention-score element per layer, forward + backward, when FlashAttention is off:
    QK^T writes 2, fused scale-mask-softmax reads and writes 2 + 2, dropout reads 2 and writes 2 + a 1-byte
    mask, AV reads 2 (13 forward) and about 20 backward (Korthikanti et al. 2022 sec. 4.1 list the stored
    tensors); about 33 bytes at full bandwidth, 48 at the ~70 % of HBM peak such strided kernels reach.
    Fitted (prior 48) on the tables without FlashAttention (Megatron SC'21, Korthikanti et al. 2022)."""

    overlap_interference: float = 0.189
    """Slowdown of the compute that runs while an overlapped NCCL collective is in flight, as a fraction of the
    collective's hidden time: NCCL kernels occupy SMs (one CTA per channel) and HBM bandwidth that the concurrent
    GEMMs lose, so hidden communication is not free (Lee et al., Characterizing Compute-Communication Overlap in
    GPU-Accelerated Distributed Deep Learning, arXiv 2507.03114: compute overlapped with communication ran 18.9 %
    slower on average, 40 % at most, on A100, H100, MI250 and MI210 with GPT and Llama layers; the prior). Charged
    on the data-parallel collectives that compute hides (the step-level gradient reduction and weight gather,
    FSDP / ZeRO-3 per-layer gathers and reduce-scatters) and on the context-parallel ring; not on tensor-parallel
    overlap, whose transfers run on the copy engines (Transformer Engine userbuffers ring exchange, PyTorch's
    symmetric-memory AsyncTP) rather than on SMs. Not fitted: the measured average (fitted with the other parameters
    it lands at 0.44, beyond the paper's largest measured slowdown; docs/validation.md)."""

    gpu_speed_cv: float = 0.01
    """Spread of GPU speed between the parts of one cluster, as a coefficient of variation: a synchronous job waits
    at every step for its slowest GPU, so its GPU-bound work takes 1 + cv E[max of N normals] of a typical GPU's
    time (explorer/cost/stragglers.py slowest_gpu_pace; Setup.pace): 1.4 % more on 8 GPUs, 3.2 % on 1,024. 1 %: Sinha
    et al., SC'22, 8 % average variation across each of five clusters' same-SKU GPUs, the conservative reading
    (stragglers.GPU_SPEED_VARIABILITY_SOURCE: 1 % to 1.35 %). Not fitted. Applies to datacenter GPUs (GPU_FAMILIES)."""

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

    def describe(self) -> str:
        """The parameters in words for a report (the field names are program names, not prose)."""
        return (f"GEMM half-efficiency width {self.matmul_half_dim:g} and micro-batch tokens "
                f"{self.matmul_half_tokens:g}; memory-bound traffic {self.elementwise_bytes_per_hidden:g} bytes per "
                f"token, layer and hidden unit fused ({self.elementwise_bytes_per_hidden_eager:g} eager); attention "
                f"at {self.attention_efficiency:.0%} of peak ({self.attention_score_bytes:g} bytes per score "
                f"element without FlashAttention); data-parallel overlap {self.dp_overlap:.0%} of the last "
                f"backward, hidden collectives slowing concurrent compute by {self.overlap_interference:.1%} of "
                f"their time, tensor-parallel overlap {self.tp_overlap:.0%}; gradient buckets of "
                f"{self.bucket_bytes / 1e6:g} MB")


DEFAULT_EFFICIENCY = Efficiency()
TYPICAL_GPU_EFFICIENCY = Efficiency(gpu_speed_cv=0.0)
"""The default parameters without the slowest-GPU pace (Setup.pace = 1): a typical GPU's rates, for the lab models
that price one device's work over a range of device counts (the scaling curve paces each N itself, step.paced; the
dataloader's per-GPU consumption; lab 06's compute backdrop) or carry their own spread between devices (the sync
audit's jitter and stragglers)."""

FITTED_FAMILIES: dict[str, tuple[str, ...]] = {
    "hopper": ("h100_sxm", "h100_hbm2e_96gb", "h200"),
    "ampere": ("a100_80gb", "a100_40gb"),
}
"""Accelerator families whose GEMM and attention efficiencies explorer/calibrate.py fits, one value per family
(hardware/data/accelerators.toml), and by which explorer/accuracy.py groups the validation rows."""

GPU_FAMILIES: dict[str, tuple[str, ...]] = {**FITTED_FAMILIES, "blackwell": ("b200",)}


def gpu_family(accelerator_key: str) -> str | None:
    """The GPU family (GPU_FAMILIES) of a catalog part, None for parts outside every family."""
    for family, keys in GPU_FAMILIES.items():
        if accelerator_key in keys:
            return family
    return None
"""Every accelerator family with per-family kernel figures (CUDNN_ATTENTION_SPEED, the frameworks' default attention
kernel); Blackwell's parts carry figures from kernel measurements, not from a fit (no published Blackwell training
table is in the fit)."""

ATTENTION_KERNEL_NAMES: dict[str, str] = {
    "flash2": "a FlashAttention-2-class kernel: flash-attn 2, PyTorch SDPA's default backend, or Transformer "
              "Engine with its cuDNN backend turned off",
    "flash1": "FlashAttention 1 (flash-attn 1.x)",
    "triton": "FlashAttention in Triton (as MosaicML's MPT ran it in 2023)",
    "cudnn": "cuDNN's fused attention (Transformer Engine's default on Hopper and Blackwell)",
}
ATTENTION_KERNELS: dict[str, float] = {
    "flash2": 1.0,
    "flash1": 1.0 / 2.25,
    "triton": 1.0 / 2.3,
}
"""Speed of a fused attention kernel's forward + backward relative to "flash2" on any part (cuDNN's depends on the
part: CUDNN_ATTENTION_SPEED; ATTENTION_KERNEL_NAMES lists every kernel), the rate the parts' attention_efficiency
describes: fitted end to end on runs of FlashAttention-2 (flash-attn 2, PyTorch SDPA's flash
backend in torchtitan) and of Transformer Engine's fused attention (Megatron-Core), which came out no faster end to
end although cuDNN's kernel is about twice FlashAttention-2's on Hopper in isolation (docs/validation.md).
Measured by Dao, FlashAttention-2 (arXiv 2307.08691), fig. 4 (flash-attention repository,
assets/flash2_a100_fwd_bwd_benchmark.png): A100 80GB, forward + backward, causal mask, head dimension 128 (that of
GPT-3, Llama and MPT shapes), TFLOP/s at s = 2k / 4k / 8k:
  FlashAttention-2                         155 / 173 / 182
  flash1: FlashAttention (flash-attn 1.x)   69 /  76 /  80  -> 2.25x, 2.28x, 2.28x slower: 2.25
  triton: FlashAttention in Triton          68 /  74 /  78  -> 2.28x, 2.34x, 2.33x slower: 2.3
The text of sec. 4.1 brackets them: FlashAttention-2 is 1.7-3.0x faster than FlashAttention and 1.3-2.5x faster
than FlashAttention in Triton. The Triton kernel benchmarked there is OpenAI's (triton.ops.flash_attention, the
repository's benchmarks/benchmark_flash_attention.py); MosaicML's MPT ran its derivative flash_attn_triton.py
(attn_impl 'triton'), of which llm-foundry's TUTORIAL.md (v0.3.0) says 'slightly faster than flash' (flash-attn
1.x): both land near the 2.3 used. On H100 (assets/flash2_h100_fwd_bwd_benchmark.png) flash1 is 2.3-2.45x slower
at the same shapes; FlashAttention-2 and the older kernels alike run Ampere-style mma instructions there (no wgmma
or TMA: FlashAttention-3, arXiv 2407.08608, sec. 1), so the same ratios serve both parts."""


CUDNN_ATTENTION_SPEED: dict[str, float] = {"hopper": 2.0, "ampere": 0.85, "blackwell": 4.0}
"""Speed of cuDNN's fused attention (forward + backward) relative to FlashAttention-2 on the same GPU family.
Hopper: 2.0, the middle of the 1.7-2.3x that huggingface/transformers PR 48163 (2026-08) measured for training
shapes on H100 when it made SDPA prefer cuDNN there; tritonbench's H100 forward at s = 4,608, head dimension 128,
gives 631 against 329 TFLOP/s (1.92x; pytorch/pytorch issue 142132). cuDNN's sm90 kernels use wgmma and TMA, which
FlashAttention-2 does not (FlashAttention-3, arXiv 2407.08608, sec. 1). Ampere: 0.85, slower than FlashAttention-2
(the same PR: 0.82x on A100; pytorch/pytorch PR 192799: 68.8 against 78.6 TFLOP/s forward + backward on sm80).
Transformer Engine picks it by default on sm90 when both backends can run the shape (transformer_engine/pytorch/
attention.py since v1.2 of 2023-12: 'Select FusedAttention on sm90 and FlashAttention on others for performance'; later
logged as 'Disabling FlashAttention to give FusedAttention preference on Hopper+') unless NVTE_FUSED_ATTN=0; NeMo's
recipes set NVTE_FUSED_ATTN per model.
Blackwell (B200): 4.0, carried over from Hopper's 2.0 through kernel measurements of the two parts, forward at head
dimension 128 (no forward + backward pair is published for B200): FlashAttention-2, which runs Ampere-style mma
instructions on both, is about as fast on B200 as on H100 (tritonbench: 352-362 TFLOP/s at s = 2,048-8,192 on B200,
meta-pytorch/tritonbench PR 171, against 329.5 on H100, pytorch/pytorch issue 142132: 1.07-1.10x; forward + backward
at head dimension 64, 333-346 TFLOP/s at 8-16K, Dao-AILab/flash-attention issue 1589, against FlashAttention-2's
'up to 335' on H100, arXiv 2307.08691 sec. 4.1), while cuDNN's Blackwell kernels run about twice its H100 rate
(1,428 TFLOP/s at s = 1,024, Dao-AILab/flash-attention PR 2605; 1,240 for cuDNN 9.13 at FlashAttention-4's best
shape, 1,613 / 1.3, as the abstract of FlashAttention-4, Zadouri et al., Dao-AILab/flash-attention
assets/fa4_paper.pdf, states; against 631 on H100: 1.97-2.26x): 2.0 x 2.11 / 1.07 =
3.9, rounded to 4.0. One end-to-end A/B on B200 reads lower: torchtitan switching Llama 3 8B (8 B200, FSDP, eager)
from FlashAttention-2 to cuDNN gained 12.0 % tokens/s (PR 1196, 2025-05: 10,902 -> 12,211), where the model gains
43 % at 4.0 (docs/validation.md 'B200: its memory and its attention'): that run's cuDNN predates the 9.13 of
the kernel figures, and the model's attention share of its step may be too large; the figure is kept at the
kernels' reading."""


FP8_GEMM_SPEEDUP = 1.66
"""Speed of an FP8 GEMM, its input's quantization included, relative to the BF16 GEMM of the same shape, on the part
it was measured on: FP8 training (Transformer Engine) runs each linear layer as a cast of its BF16 input to FP8
(with amax and scale) and an FP8 GEMM. Measured by pytorch/FBGEMM PR 2546 (2024-04, D56337896) on 'H100 500W',
'fp8 scale + row gemm' against 'bf16', TFLOP/s: 8192 x 8192 x 8192 932 / 585 (1.59x), 65536 x 8192 x 7168 1,024 / 575
(1.78x), 65536 x 3584 x 8192 877 / 546 (1.61x): mean 1.66. 500 W is the default power limit of Meta's HBM2e-based
SXM H100s (96 GB at 2.4 TB/s; pytorch/torchtitan benchmarks/llama3_h100_202412_torchtitan.md), the catalog's
h100_hbm2e_96gb; an 80 GB HBM3 H100 SXM ships at 700 W. Other parts: fp8_gemm_speedup."""

FP8_GEMM_ALONE_SPEEDUP = 1.965
"""The FP8 GEMM without the quantization of its input, relative to BF16, in the same measurement (FBGEMM PR 2546):
1,125 / 585 (1.92x), 1,083 / 575 (1.88x), 1,141 / 546 (2.09x): mean 1.965, near the 2x of the datasheet peaks.
What separates it from FP8_GEMM_SPEEDUP is the quantization pass, which reads the BF16 input and writes its FP8 copy
and scale: memory-bound work, timed by HBM bandwidth, not by the tensor cores."""

FP8_MEASURED_PART = "h100_hbm2e_96gb"
"""The catalog part FP8_GEMM_SPEEDUP was measured on (FBGEMM PR 2546's 'H100 500W'). Its dense BF16 peak over its HBM
bandwidth (912.5 TFLOP/s, the catalog's estimate between H100 SXM and NVL, over 2.4 TB/s) sets how long the
quantization pass takes against the GEMM: fp8_gemm_speedup reads both from its catalog entry."""


@cache
def _measured_fp8_part_flops_per_byte() -> float:
    from explorer.hardware.catalog import get_accelerator

    part = get_accelerator(FP8_MEASURED_PART)
    return part.peak("bf16") / part.memory_bandwidth


def fp8_gemm_speedup(bf16_peak_flops: float, memory_bandwidth: float) -> float:
    """Speed of an FP8 GEMM with its input's quantization, relative to the BF16 GEMM of the same shape, on a part
    with this BF16 dense peak (FLOP/s) and HBM bandwidth (B/s). Per unit of BF16 GEMM time the FP8 GEMM takes
    1 / FP8_GEMM_ALONE_SPEEDUP and the quantization 1 / FP8_GEMM_SPEEDUP - 1 / FP8_GEMM_ALONE_SPEEDUP on the measured
    part (0.0935). That pass moves bytes in proportion to the GEMM's FLOPs, so its share scales with the part's peak
    FLOPs per byte of HBM bandwidth against the measured part's: an H100 SXM (989.4 TFLOP/s, 3.35 TB/s) quantizes in
    0.78 of that share and runs FP8 GEMMs 1.72x its BF16 ones, an H200 (the same tensor cores, 4.8 TB/s) 1.79x, a
    B200 (2,250 TFLOP/s, 7.7 TB/s) 1.72x. Not capped here: Setup.gemm_peak_flops caps at the part's FP8 / BF16 peaks."""
    quant = (1.0 / FP8_GEMM_SPEEDUP - 1.0 / FP8_GEMM_ALONE_SPEEDUP) * (
        bf16_peak_flops / memory_bandwidth) / _measured_fp8_part_flops_per_byte()
    return 1.0 / (1.0 / FP8_GEMM_ALONE_SPEEDUP + quant)


def attention_kernel_speed(kernel: str, accelerator_key: str) -> float:
    """Forward + backward speed of a fused attention kernel relative to FlashAttention-2 on this accelerator
    (ATTENTION_KERNELS; cuDNN's depends on the GPU family: CUDNN_ATTENTION_SPEED). A family whose cuDNN rate is
    not measured here is a UsageError."""
    if kernel != "cudnn":
        return ATTENTION_KERNELS[kernel]
    family = gpu_family(accelerator_key)
    if family in CUDNN_ATTENTION_SPEED:
        return CUDNN_ATTENTION_SPEED[family]
    raise UsageError(f"attention kernel 'cudnn' has no measured speed on {accelerator_key}; "
                     f"valid on: {', '.join(k for f in CUDNN_ATTENTION_SPEED for k in GPU_FAMILIES[f])}")


def gemm_efficiency(
    part_efficiency: ArrayLike, width: ArrayLike, tokens: ArrayLike, eff: Efficiency = DEFAULT_EFFICIENCY,
    other: ArrayLike | None = None,
) -> np.ndarray | float:
    """Fraction of dense peak reached by one GEMM of `tokens` rows and a (width x other) weight.

    A GEMM's efficiency depends on all three of its dimensions (NVIDIA Deep Learning Performance Guide,
    'Matrix multiplication background': arithmetic intensity M N K / (M K + N K + M N), tile and wave
    quantisation on the output). With many tokens M the intensity tends to K N / (K + N), half the harmonic mean
    n = 2 K N / (K + N) of the weight's two sides (the narrower side when they differ much), so n rolls the
    efficiency off as n / (n + matmul_half_dim) and the token count M as M / (M + matmul_half_tokens). The
    backward's dgrad and wgrad GEMMs permute the same three dimensions, so one factor serves all three.
    other=None: a square weight of side `width` (n = width)."""
    import numpy as np

    w = np.asarray(width, dtype=float)
    side = w if other is None else 2.0 * w * other / (w + np.asarray(other, dtype=float))
    return part_efficiency * side / (side + eff.matmul_half_dim) * tokens / (tokens + eff.matmul_half_tokens)


def layer_gemm_efficiency(part_efficiency: ArrayLike, model, tp: ArrayLike, tokens: ArrayLike,
                          eff: Efficiency = DEFAULT_EFFICIENCY, fused_projections: bool = True) -> np.ndarray | float:
    """Efficiency of a transformer layer's GEMMs on one device: the FLOP-weighted harmonic mean of its four
    weight GEMMs' efficiencies (gemm_efficiency of each weight's two sides), i.e. the layer's GEMM time is
    the sum of each GEMM's FLOPs at its own efficiency. A tensor-parallel split narrows only one side of each
    weight (h x 3h/TP, h/TP x h, ...), so a wide model at large TP keeps large GEMMs where the width per device
    alone would say otherwise (Megatron-LM's README on its H100 weak scaling: MFU grows with model size
    'because larger GEMMs have higher arithmetic intensity').

    The GEMMs as Megatron-LM lays them out (megatron/core/transformer: linear_qkv is one fused column-parallel
    GEMM, linear_fc1 fuses SwiGLU's gate and up projections; llm-foundry's MPT fuses Wqkv too), split over TP:
      QKV  h -> (h + 2 kv_dim) / TP       proj  h / TP -> h
      FC1  h -> (matrices - 1) ffn / TP   FC2   ffn / TP -> h
    The weights of a GEMM are proportional to its FLOPs, so K x N is its weight.
    fused_projections=False: Q, K and V as three GEMMs and SwiGLU's gate and up projections as two, as torchtitan's
    Llama calls them (torchtitan/models/llama/model.py: wq, wk, wv, w1, w3 are separate nn.Linear):
      Q h -> h / TP, K and V h -> kv_dim / TP each, gate and up h -> ffn / TP each."""
    import numpy as np

    t = np.asarray(tp, dtype=float)
    h = float(model.hidden)
    if fused_projections:
        qkv = ((h, (h + 2.0 * model.kv_dim) / t),)
        up = ((h, (model.mlp_matrices - 1) * float(model.ffn) / t),)
    else:
        qkv = ((h, h / t), (h, model.kv_dim / t), (h, model.kv_dim / t))
        up = tuple((h, float(model.ffn) / t) for _ in range(model.mlp_matrices - 1))
    gemms = qkv + ((h / t, h),) + up + ((float(model.ffn) / t, h),)
    weight = sum(k * n for k, n in gemms)
    inv = sum(k * n / gemm_efficiency(1.0, k, tokens, eff, other=n) for k, n in gemms)
    return part_efficiency * weight / inv
