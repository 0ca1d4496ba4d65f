"""What is trained and where: the fixed inputs of the cost model (model, cluster, precision...)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from explorer.cost.efficiency import (
    ATTENTION_KERNEL_NAMES,
    DEFAULT_EFFICIENCY,
    Efficiency,
    attention_kernel_speed,
    fp8_gemm_speedup,
    gpu_family,
)
from explorer.errors import UsageError
from explorer.hardware.catalog import Cluster, Link
from explorer.models.architecture import DecoderModel
from explorer.plan import OPTIMIZERS, PRECISIONS

if TYPE_CHECKING:
    import numpy as np


# Bytes of optimizer state per parameter, master weights included (docs/conventions.md,
# "Training memory"; ZeRO paper, Rajbhandari et al. 2020, sec. 3.1: K = 12 for mixed-precision Adam).
#   mixed precision: fp32 master (4) + states: Adam m, v (8) / Momentum m (4) / SGD none.
#   fp32: the weights are the master copy, so only the states: Adam 8, Momentum 4, SGD 0.
OPTIMIZER_BYTES = {
    ("adam", True): 12,
    ("momentum", True): 8,
    ("sgd", True): 4,
    ("adam", False): 8,
    ("momentum", False): 4,
    ("sgd", False): 0,
}


COLLECTIVE_MODELS = ("nccl", "textbook")
SELECTIVE_POLICIES = ("attention", "op")
CROSS_ENTROPY_KERNELS = ("unfused", "te", "flash-attn")  # Setup.cross_entropy; their HBM bytes: time.py
FUSED_LOSS_BYTES_PER_LOGIT = {"te": 2, "flash-attn": 4}  # Setup.loss_bytes_per_logit a fused loss keeps (memory)


@dataclass(frozen=True)
class Setup:
    """Model + cluster + sequence length + numerics: everything but the parallel plan."""

    model: DecoderModel
    cluster: Cluster
    seq_len: int
    precision: str = "bf16"
    optimizer: str = "adam"
    usable_memory_fraction: float = 0.9
    flash_attention: bool = True
    attention_kernel: str = "flash2"
    """Which fused attention kernel runs when flash_attention is on: "flash2" (the rate fitted on runs of
    FlashAttention-2, PyTorch SDPA and Transformer Engine's fused attention), "flash1" (flash-attn 1.x) or
    "triton" (FlashAttention in Triton, as MosaicML's MPT ran it in 2023); explorer/cost/efficiency.py
    efficiency.attention_kernel_speed gives each one's speed relative to FlashAttention-2, with its source."""
    attention_kernel_by_framework: bool = False
    """Under --framework any with no kernel given: each plan's attention runs its own framework's default kernel on
    this GPU (frameworks.attention_kernel_default: cuDNN's for Megatron-LM on Hopper, FlashAttention-2 for DeepSpeed),
    as each plan's TP overlap is its framework's (frameworks.tp_overlap_of); step.evaluate and the CP-SAT tables
    price every plan so. attention_kernel then names the kernel every framework runs, for a text that needs one."""
    efficiency: Efficiency = DEFAULT_EFFICIENCY
    collectives: str = "nccl"
    """How collectives are costed: "nccl" (as NCCL runs them: per-tier ring latency, ring or tree, rails;
    explorer/cost/collectives.py) or "textbook" (a flat ring over the slowest link the group spans, one
    NIC per ring: 2(N-1) alpha + 2(N-1)/N M/B per call, the form of the lab texts, docs/conventions.md
    "Collectives"), for lab puzzles that ask for the textbook model."""
    grad_reduce_dtype: str | None = None
    """Gradient accumulation and reduction dtype, "bf16" or "fp32"; None = the framework's default (Megatron-LM
    and FSDP2 reduce in FP32 under bf16 training, DeepSpeed with ZeRO in bf16: explorer/cost/frameworks.py).
    Memory and traffic both follow it."""
    in_network_reduction: bool = False
    """NVLink SHARP (NVLS) in-switch all-reduce where the intra-node link has it in the catalog; off by
    default (NCCL enables NVLS only on NVSwitch systems with the fabric manager set up for it)."""
    tp_comm_overlap: bool | None = None
    """TP communication overlap: the sequence-parallel all-gathers and reduce-scatters of TP pipelined with the
    GEMMs they feed (Megatron-Core --tp-comm-overlap with Transformer Engine userbuffers; torchtitan's AsyncTP).
    None = the framework's default (explorer/cost/frameworks.py: on for Megatron-LM as NVIDIA's H100 recipes
    run it, off for FSDP2/torchtitan where AsyncTP is opt-in, unavailable in DeepSpeed); explorer/cost/time.py
    says how much stays exposed. Needs sequence parallelism."""

    fused_kernels: bool = True
    """Memory-bound kernels fused (Megatron-Core with Transformer Engine / Apex fused norms and bias-dropout-add,
    or torch.compile): False for eager PyTorch, where each elementwise op makes its own pass over HBM."""
    optimizer_state_dtype: str = "fp32"
    """Dtype of the optimizer's state, the master weights and the moments: "fp32" (Megatron-Core's distributed
    optimizer, PyTorch's Adam, DeepSpeed; the ZeRO paper's K = 12 for mixed-precision Adam) or "bf16": Apex's
    DistributedFusedAdam with dtype bf16 (its StateBucket allocates params_shard, exp_avg_shard and exp_avg_sq_shard
    in `dtype`), which NeMo 1.0's optim: distributed_fused_adam with dtype: bf16 runs (NVIDIA dgxc-benchmarking
    v24.11.1 nemotron4-340b-synth.yaml): 6 bytes per parameter for Adam."""
    fp8_param_gather: bool = True
    """Megatron-LM under FP8 with the distributed optimizer (ZeRO-1) or Megatron-FSDP: primary FP8 weights
    (--fp8-param-gather; NeMo's fp8_params), as NVIDIA's recipes since 2024 run them (NeMo 2.0 and Megatron-Bridge
    bf16_with_fp8_mixed, MLPerf Training v4.0 on): the layers' GEMM weights are Float8Tensors, gathered in 1 byte each
    (sharding.FP8_PARAM_GATHER_SOURCE) and without Transformer Engine's cached FP8 copy. False: BF16 weights, gathered
    in 2 bytes, with the cached copy at every ZeRO stage (sharding.TE_FP8_WEIGHT_CACHE_SOURCE), as NeMo ran FP8 before
    fp8_params (MLPerf Training v3.0 and v3.1). No effect under other precisions or frameworks."""
    fp8_all_gather: bool = False
    """FP8 training on PyTorch FSDP2 with torchao's float8 all-gather (enable_fsdp_float8_all_gather): each
    Float8Linear weight is cast to FP8 on its shard and gathered in 1 byte per parameter instead of bf16's 2, and the
    gathered copy is FP8 (torchao float8/fsdp_utils.py WeightWithDynamicFloat8CastTensor fsdp_pre_all_gather).
    The embedding, the norms and the output layer stay bf16 (torchtitan leaves `output` out of the conversion).
    Off by default, as in torchtitan's configs; its llama3_405b.toml of 2024-08 and 2024-12 turns it on."""
    recompute_every: int = 1
    """Under full recompute, every k-th layer is checkpointed (its forward replayed in the backward, only its input
    kept) and the others keep all their activations: torchtitan's selective layer AC (activation_checkpoint
    selective_ac_option = k: a TransformerBlock is wrapped when its index is a multiple of k,
    parallelisms/parallelize_llama.py) and fms-fsdp's selective_checkpointing = k (policies/ac_handler.py). 1 =
    every layer (plain full recompute). Megatron-LM's --recompute-method block --recompute-num-layers n recomputes n
    of each stage's layers, the same mix at k = layers per stage / n."""
    fused_norm: bool = False
    """Under eager PyTorch (fused_kernels False), the RMSNorm runs as one fused kernel, as torchtitan's norm_type
    "fused_rmsnorm" (a Triton kernel) does, rather than as the chain of PyTorch ops of its RMSNorm class
    (explorer/cost/eager.py). No effect on fused stacks or LayerNorm models."""
    embedding_pipeline_slot: bool = False
    """Under PP, the embedding and the output layer each take one layer's slot in the pipeline split, as
    Megatron-DeepSpeed's --pp-partition-method 'type:transformer|embedding' lays BLOOM out (DeepSpeed
    PipelineModule partition_method; tr11-176B-ml README: 'pp rank 0: [embed | 5 transformer blocks] ... pp
    rank 11: [5 transformer blocks | embed]'): ceil((L + 2) / PP) slots per stage, the last stage's output layer
    in place of a transformer layer. Under interleaving, ceil((L + 2) / (PP v)) slots per chunk: Meta's Llama 3
    405B ran 126 layers in 128 one-layer chunks over 16 ranks, the first chunk holding only the embedding and the
    last only the output projection and loss (arXiv 2407.21783 sec. 3.3.2; Chu et al., ISCA '25, sec. 3.1.2 and
    3.2: 'one transformer layer per virtual PP stage'), as Megatron-Core's --account-for-embedding-in-pipeline-
    split and --account-for-loss-in-pipeline-split do. Off: the last stage holds its full share of layers and the
    output layer (Megatron-LM's default split). Reference tables only: the 3D solvers do not search it."""

    grad_accumulation_fusion: bool = True
    """Megatron-LM adds each micro-batch's weight gradients into its main_grad inside the weight-gradient GEMM
    (--gradient-accumulation-fusion, NVIDIA/Megatron-LM commit 83b1e42f of 2022-02-13, on by default since; NeMo
    and Megatron-Core alike): no pass of its own. Off: Megatron-LM as it ran before, e.g. the SC'21 scripts
    (examples/sc21 at de7dc40f, --fp16 without --use-contiguous-buffers-in-ddp): the optimizer's zero_grad sets every
    .grad to None (set_to_none=True) and autograd keeps each micro-batch's gradients in .grad, adding every one after
    the first in place, as under DeepSpeed's fp16 / ZeRO-1 engine (sharding.autograd_accumulation). Reference tables
    only: the 3D solvers do not search it."""
    zero1_grad_allreduce: bool = False
    """DeepSpeed ZeRO-1 reduces the gradients with a full all-reduce (DeepSpeed releases of 2021-2023), not a
    reduce-scatter: engine.py ignored contiguous_gradients and overlap_comm for stage 1 from #1246 (2021-07-26)
    until #4887 (2024-01-06) ('Overlap and contiguous grads are meaningless in stage 1 and are ignored', v0.6.5
    engine.py _configure_zero_optimizer), so stage_1_and_2.py reduce_ipg_grads took buffered_reduce_fallback, an
    all-reduce over data parallelism of 5e8-element buckets; before #1246 the pipeline engine all-reduced them as
    well (buffered_allreduce_fallback). Off: today's DeepSpeed (v0.13 and later), whose stage 1 reduce-scatters
    into contiguous gradient partitions. Reference tables only: the 3D solvers do not search it."""

    fused_projections: bool = True
    """Q, K and V projected by one GEMM and SwiGLU's gate and up projections by one (Megatron-Core linear_qkv and
    linear_fc1, llm-foundry's Wqkv); False: as separate GEMMs, as torchtitan's Llama runs them (model.py: wq, wk,
    wv, w1, w3), each rolled off at its own, narrower shape (explorer/cost/efficiency.py layer_gemm_efficiency)."""

    selective_policy: str = "attention"
    """What selective recomputation (recompute = "selective") reruns: "attention" = the attention core, Megatron-LM's
    --recompute-granularity selective (Korthikanti et al. 2022 sec. 5); "op" = torchtitan's per-op selective
    activation checkpointing (activation_checkpoint.selective_ac_option = "op", the default of its Llama configs):
    the outputs of matmuls, attention and reduce-scatters are saved except every second matmul, everything else
    (every second matmul, every elementwise op, the TP all-gathers) runs again in the backward
    (torchtitan/parallelisms/parallelize_llama.py, _save_list). explorer/cost/time.py costs both."""

    loss_bytes_per_logit: int = 6
    """Peak bytes per logit element (tokens x vocabulary / TP) that the loss holds on top of the stored
    activations, the framework's loss code: 6 for Megatron-LM's vocab-parallel cross-entropy (Megatron-DeepSpeed runs
    the same code): megatron/core/tensor_parallel/cross_entropy.py calculate_logits_max casts the BF16 logits to
    an FP32 copy (2 + 4) and works on it in place (subtract max, exp, divide: the softmax it saves is that copy);
    in the backward the gradient is that buffer again, cast to BF16 for the output layer (4 + 2). 12 for
    torchtitan's loss, torch.nn.functional.cross_entropy(pred.float(), labels) (torchtitan train.py at 9dec370,
    2024-12; torchtitan/components/loss.py since): the FP32 copy and the FP32 log-softmax it saves beside the BF16
    logits in the forward (2 + 4 + 4; the train loop deletes the logits before backward), and in the backward the
    saved log-softmax, the gradient nll_loss hands it and the gradient it returns (4 + 4 + 4). 4 for that loss
    under torch.compile, which torchtitan applies to the loss with the model since 2025 (components/loss.py
    build_cross_entropy_loss at e7c0cae, 2025-06; config/configs.py CompileConfig.components = ["model", "loss"];
    the 2024-12 train.py left it eager, 'compiling loss function causes CUDA errors'): AOTAutograd's min-cut
    partitioner (torch/_functorch/partitioners.py) saves the BF16 logits and a per-row log-sum-exp rather than an
    FP32 softmax, and the fused backward writes a BF16 gradient (2 + 2); torchtitan's compiled 8B runs on H200
    (benchmarks/llama3-8b_h200_202506_trainy-whitefiber.md, 48.0 / 47.0 GiB reserved) leave room for no more."""

    cross_entropy: str = "unfused"
    """The loss kernel over the logits, which sets the loss's HBM traffic (explorer/cost/time.py
    CROSS_ENTROPY_BYTES): "unfused" = the chain of elementwise passes over an FP32 copy that Megatron-LM's
    default vocab-parallel cross entropy and PyTorch's F.cross_entropy run (Megatron-Core's JIT-fused 'native'
    variant, --cross-entropy-loss-fusion alone, keeps the FP32 passes and counts here too); "te" = Transformer
    Engine's Triton kernel, Megatron-Core --cross-entropy-loss-fusion --cross-entropy-fusion-impl te (on in
    Megatron-Bridge's Llama recipes and NeMo's performance scripts since 2025-04): an online softmax over the BF16
    logits, the gradient written in place; "flash-attn" = flash_attn.losses.cross_entropy's Triton kernel, which
    llm-foundry's MPT runs (loss_fn 'fused_crossentropy'). A fused kernel also holds less (FUSED_LOSS_BYTES_PER_LOGIT
    replaces loss_bytes_per_logit through frameworks.stack_layout_default). Reference tables and --cross-entropy: the
    3D solvers take it as given."""

    replay_early_stop: bool = False
    """Whether full recompute replays a layer's forward only up to the last tensor its backward needs. PyTorch's
    non-reentrant activation checkpoint stops the recomputation as soon as every saved activation of the region has
    been recomputed (torch/utils/checkpoint.py: _enable_checkpoint_early_stop = True, _recomputation_hook raising
    _StopRecomputationError once the last holder is filled; pytorch/pytorch PRs #90105 and #96866, first released in
    PyTorch 2.1; its docstring: 'Non-reentrant checkpoint stops recomputation as soon as all needed intermediate
    activations have been recomputed ... Reentrant checkpoint always recomputes function in its entirety').
    Autograd saves an op's inputs before it runs the op (tools/autograd/gen_variable_type.py emit_body:
    emit_save_inputs, then emit_call), so in a transformer block the replay stops before the MLP's down projection
    (w2, MPT's down_proj): that GEMM (DecoderModel.last_matmul_flops_per_token), the tensor-parallel reduction after
    it and the residual add are not run again. torchtitan (checkpoint_wrapper with use_reentrant=False), IBM's
    fms-fsdp (CheckpointImpl.NO_REENTRANT) and llm-foundry (activation_checkpointing_reentrant: false) run it;
    Megatron-LM's CheckpointFunction (megatron/core/tensor_parallel/random.py) replays the whole forward, as does
    PyTorch 2.0 and older. The residual add's few bytes per hidden unit are left in the fitted elementwise traffic."""

    tp_saves_gathered_input: bool = False
    """What a column-parallel GEMM keeps for its weight gradient under sequence parallelism. False: the local
    sequence shard of its input, all-gathered again in the backward (Korthikanti et al. 2022 sec. 4.2.3; Megatron-LM
    megatron/core/tensor_parallel/layers.py LinearWithGradAccumulationAndAsyncCommunication saves `input` before
    the all-gather; Transformer Engine the same). True: the gathered, full-sequence input on every TP rank, as
    PyTorch's DTensor tensor parallelism runs it (torchtitan: PrepareModuleInput redistributes the attention's and
    the MLP's input from Shard(1) to Replicate in a forward pre-hook, torch/distributed/tensor/parallel/style.py,
    and the ColwiseParallel linears save that replicated tensor), i.e. the QKV input and the MLP input at full
    width, not / TP (explorer/cost/memory.py _per_token_numerator)."""

    @property
    def op_sac(self) -> bool:
        """Whether selective recomputation is torchtitan's per-op policy (selective_policy "op") rather than
        Megatron-LM's attention-core recomputation."""
        return self.selective_policy == "op"

    def forward_replayed(self, recompute: ArrayLike) -> np.ndarray:
        """Whether the backward runs the layer's forward again, elementwise ops and TP all-gathers included
        (recompute coded 0/1/2): under full recompute, and under torchtitan's per-op selective policy (all but
        the saved ops rerun)."""
        import numpy as np

        rc = np.asarray(recompute)
        return (rc == 2) | ((rc == 1) & self.op_sac)

    def attention_replayed(self, recompute: ArrayLike) -> np.ndarray:
        """Whether the backward runs the attention core again: under full recompute and Megatron-LM's selective
        recompute; torchtitan's per-op policy saves the attention output."""
        import numpy as np

        rc = np.asarray(recompute)
        return (rc == 2) | ((rc == 1) & (not self.op_sac))

    def __post_init__(self) -> None:
        if self.optimizer_state_dtype not in ("fp32", "bf16"):
            raise UsageError(f"optimizer state dtype {self.optimizer_state_dtype!r} unknown; valid: fp32, bf16")
        if self.fp8_all_gather and self.precision != "fp8":
            raise UsageError(f"an FP8 all-gather needs FP8 training (precision fp8), got precision {self.precision}")
        if isinstance(self.recompute_every, bool) or not isinstance(self.recompute_every, int) or not (
                1 <= self.recompute_every <= max(1, self.model.layers)):
            raise UsageError(f"recompute every {self.recompute_every!r} layers: must be a whole number from 1 to the "
                             f"model's {self.model.layers} layers")
        if self.selective_policy not in SELECTIVE_POLICIES:
            raise UsageError(f"selective policy {self.selective_policy!r} unknown; valid: "
                             f"{', '.join(SELECTIVE_POLICIES)}")
        if self.attention_kernel not in ATTENTION_KERNEL_NAMES:
            raise UsageError(f"attention kernel {self.attention_kernel!r} unknown; valid: "
                             f"{', '.join(ATTENTION_KERNEL_NAMES)}")
        acc = self.cluster.accelerator
        if not acc.flash_attention_build and self.attention_kernel != "flash2":
            raise UsageError(f"attention kernel {self.attention_kernel!r}: no fused attention kernel runs on the "
                             f"{acc.name} ({acc.key}); its attention is its own loops at its GEMM figure (leave the "
                             "attention kernel unset)")
        attention_kernel_speed(self.attention_kernel, acc.key)  # a rate measured on this GPU
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision {self.precision!r} unknown; valid: {', '.join(PRECISIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"optimizer {self.optimizer!r} unknown; valid: {', '.join(OPTIMIZERS)}")
        if self.collectives not in COLLECTIVE_MODELS:
            raise UsageError(f"collectives {self.collectives!r} unknown; valid: {', '.join(COLLECTIVE_MODELS)}")
        if self.grad_reduce_dtype is not None and self.grad_reduce_dtype not in ("bf16", "fp32"):
            raise UsageError(f"grad-reduce-dtype {self.grad_reduce_dtype!r} unknown; valid: bf16, fp32")
        if self.cross_entropy not in CROSS_ENTROPY_KERNELS:
            raise UsageError(f"cross entropy {self.cross_entropy!r} unknown; valid: {', '.join(CROSS_ENTROPY_KERNELS)}")
        if not 2 <= self.loss_bytes_per_logit <= 32:
            raise UsageError(f"loss bytes per logit must lie in 2..32, got {self.loss_bytes_per_logit}")
        if not 0 < self.usable_memory_fraction <= 1:
            raise UsageError(f"usable memory fraction must lie in (0, 1], got {self.usable_memory_fraction}")

    @property
    def tp_overlap_on(self) -> bool:
        """Whether TP communication overlaps the GEMMs (None: the default framework's, Megatron-LM's, on this GPU:
        on for Hopper and Blackwell, frameworks.tp_overlap_default)."""
        if self.tp_comm_overlap is None:
            from explorer.cost.frameworks import DEFAULT_FRAMEWORK, tp_overlap_default

            return tp_overlap_default(DEFAULT_FRAMEWORK, self.cluster.accelerator.key)
        return bool(self.tp_comm_overlap)

    @property
    def gpu_paced(self) -> bool:
        """Whether the slowest GPU's pace applies at all: a datacenter GPU family's part under NCCL-style collectives
        (not the lab texts' textbook model, not a microcontroller, phone or Jetson)."""
        return self.collectives != "textbook" and gpu_family(self.cluster.accelerator.key) is not None

    @property
    def pace(self) -> float:
        """How much longer GPU-bound work takes than on a typical GPU because every step waits for the slowest of
        the cluster's GPUs (explorer/cost/stragglers.py slowest_gpu_pace, Efficiency.gpu_speed_cv); 1 on one GPU
        and where it does not apply (gpu_paced)."""
        if not self.gpu_paced:
            return 1.0
        from explorer.cost.stragglers import slowest_gpu_pace

        return slowest_gpu_pace(int(self.cluster.devices), self.efficiency.gpu_speed_cv)

    @property
    def mixed(self) -> bool:
        return self.precision != "fp32"

    @property
    def weight_bytes(self) -> int:
        """Bytes of the working copy of one weight (bf16/fp16/fp8 training keeps a 2-byte copy)."""
        return 4 if self.precision == "fp32" else 2

    grad_bytes = weight_bytes
    """Bytes of a gradient element in the working precision (the ZeRO paper's and the lab texts' figure). The
    training-step model takes the framework's gradient dtype instead (explorer/cost/sharding.grad_bytes)."""
    act_bytes = weight_bytes

    @property
    def optimizer_bytes(self) -> int:
        full = OPTIMIZER_BYTES[(self.optimizer, self.mixed)]
        return full // 2 if self.optimizer_state_dtype == "bf16" else full

    @property
    def peak_flops(self) -> float:
        """Dense peak of the training precision: the transformer blocks' linear layers (GEMMs) run at it."""
        return self.cluster.accelerator.peak(self.precision)

    @property
    def gemm_peak_flops(self) -> float:
        """The rate the transformer blocks' GEMMs are costed against (x their efficiency): the training precision's
        dense peak, except under FP8, where a GEMM with its input's quantization runs fp8_gemm_speedup x the BF16
        GEMM of the same shape (efficiency.py: 1.66x measured on a 500 W H100, the quantization's share scaled by
        the part's FLOPs per byte of HBM bandwidth), not the datasheet's 2x."""
        if self.precision == "fp8":
            acc = self.cluster.accelerator
            return min(acc.peak("fp8"), fp8_gemm_speedup(acc.peak("bf16"), acc.memory_bandwidth) * acc.peak("bf16"))
        return self.peak_flops

    @property
    def gemm_efficiency_params(self) -> Efficiency:
        """The Efficiency the GEMM roll-off reads (efficiency.gemm_efficiency): this Setup's, or, on a part whose
        matmul_efficiency already describes the small GEMMs it runs (Accelerator.gemm_size_rolloff False: a
        microcontroller's scalar FPU, the glasses' NPU), the same with no size roll-off (half sizes 0: factor 1)."""
        if self.cluster.accelerator.gemm_size_rolloff:
            return self.efficiency
        return replace(self.efficiency, matmul_half_dim=0.0, matmul_half_tokens=0.0)

    @property
    def attention_efficiency(self) -> float:
        """Fraction of peak at which the fused attention kernel completes a pass of the attention FLOPs counted for MFU
        (PaLM's 4 s h per token forward, no causal halving; its backward takes 2.5 passes): the part's own figure
        where the catalog has one (FlashAttention-2 reaches a smaller fraction of Hopper's peak than of Ampere's:
        Dao, arXiv 2307.08691, sec. 4; Shah et al., FlashAttention-3, arXiv 2407.08608, sec. 4), else the global
        Efficiency value, x the kernel's speed relative to FlashAttention-2 on this GPU
        (efficiency.attention_kernel_speed)."""
        own = self.cluster.accelerator.attention_efficiency
        base = self.efficiency.attention_efficiency if own is None else own
        return base * attention_kernel_speed(self.attention_kernel, self.cluster.accelerator.key)

    @property
    def non_gemm_peak_flops(self) -> float:
        """Peak of the attention core and the output layer. FP8 training casts only the transformer blocks'
        linear layers to FP8; FlashAttention and the output projection stay in BF16 (Transformer Engine
        fp8_autocast covers te.Linear / LayerNormLinear / LayerNormMLP; Micikevicius et al., FP8 Formats for
        Deep Learning, arXiv 2209.05433, sec. 4). Other precisions: the same peak as the GEMMs."""
        if self.precision == "fp8":
            return self.cluster.accelerator.peak("bf16")
        return self.peak_flops

    @property
    def memory_limit_bytes(self) -> int:
        return int(self.cluster.accelerator.memory_bytes * self.usable_memory_fraction)

    def link(self, span: int) -> Link:
        """Slowest link a group spanning `span` consecutive ranks crosses (TP innermost)."""
        return self.cluster.intra if span <= self.cluster.devices_per_node else self.cluster.inter

    def within_nodes(self, span: ArrayLike) -> np.ndarray:
        """Whether every group whose members span `span` consecutive ranks stays inside one node. The groups tile
        the ranks in aligned blocks of `span` (Megatron-LM's and torchtitan's rank order: TP innermost, then CP,
        DP, PP), so each block is inside a node only when `span` divides the node's devices: with 6 GPUs a node and
        TP 4, ranks 4-7 sit in two nodes, and the slowest group paces every step. A world that fits in one node
        has no boundary to cross."""
        import numpy as np

        dpn = self.cluster.devices_per_node
        span_i = np.maximum(np.rint(np.asarray(span, dtype=float)), 1).astype(np.int64)
        return (span_i <= dpn) & ((dpn % span_i == 0) | (self.cluster.devices <= dpn))

    def group(self, size: ArrayLike, stride: ArrayLike = 1, inner: ArrayLike = 1, inner_stride: ArrayLike = 1,
              tiled: bool = False) -> Group:
        """Where a communicator lives and what NCCL gets out of it (placement TP innermost, then CP, DP, PP
        outermost, as Megatron-LM, DeepSpeed and torchtitan build their groups: explorer/cost/sharding.py
        dp_comm). The group has `size` = inner x outer ranks: `inner` members `inner_stride` apart (CP inside a
        DP x CP group), repeated every `stride` ranks (inner = 1: a plain group of `size` members `stride` apart).

        per_node k: members in each node; nodes = ceil(size / k).
        bus_bandwidth: inside a node the intra-node link; across nodes min(intra, k x NIC) when every GPU has
        its own NIC (rails: NCCL runs one ring per NIC, so k members per node drive k NICs; NVIDIA/nccl issue
        #412, nccl-tests issue #100), and the node's one NIC shared by the dpn / k groups that cross it side
        by side when the link belongs to the node (`shared_per_node`, e.g. Ethernet). On a half-duplex link
        (links.toml `duplex`, a radio) the collective gets half the rate: each ring step's send and receive take
        turns on one channel (collectives.exchange_time; the rule crossover and the fleet paths follow).

        tiled: the group is one of many aligned blocks of `span` ranks (TP groups, TP x CP groups), which stay
        inside a node only when `span` divides it (`within_nodes`); otherwise (a data-parallel group that is
        the whole job, as the scaling part prices it) only its width against the node's matters."""
        import numpy as np

        dpn = self.cluster.devices_per_node
        intra, inter = self.cluster.intra, self.cluster.inter
        size_a = np.maximum(np.asarray(size, dtype=float), 1.0)
        inner_a = np.maximum(np.asarray(inner, dtype=float), 1.0)
        stride_a = np.maximum(np.asarray(stride, dtype=float), 1.0)
        istride = np.maximum(np.asarray(inner_stride, dtype=float), 1.0)
        outer = np.maximum(np.floor(size_a / inner_a), 1.0)
        span = np.where(outer > 1, outer * stride_a, inner_a * istride)
        inside = self.within_nodes(span) if tiled else span <= dpn
        k_inner = np.minimum(inner_a, np.maximum(1.0, np.floor(dpn / istride)))
        k = np.where(stride_a < dpn, inner_a * np.maximum(1.0, np.floor(dpn / stride_a)), k_inner)
        # a group no wider than a node that still straddles a boundary (span not dividing the node): the blocks
        # fall on the boundary in pieces of gcd(span, dpn) ranks, so its worst member set has that many ranks'
        # worth of members in a node (6 GPUs a node, TP 4: ranks 4-5 | 6-7, 2 a node)
        piece = np.gcd(np.rint(span).astype(np.int64), dpn).astype(float)
        step = np.where(outer > 1, stride_a, istride)
        k_piece = np.where(outer > 1, inner_a, 1.0) * np.maximum(1.0, np.floor(piece / step))
        straddle = (span < dpn) & ~inside
        k = np.where(straddle, np.minimum(k, k_piece), k)
        k = np.where(inside, size_a, np.minimum(k, size_a))
        nodes = np.ceil(size_a / k)
        if inter.shared_per_node:
            # side by side, dpn / k groups cross a node's one NIC; straddling groups only cross at node
            # boundaries that split a block, which alternate with aligned ones when span / gcd = 2 (one straddling
            # group per node) and can fall on both ends of a node otherwise (two)
            share_straddle = np.where(np.rint(span / piece) <= 2, 1.0, 2.0)
            across = inter.effective_bandwidth * np.where(straddle, 1.0 / share_straddle, np.minimum(k, dpn) / dpn)
        else:
            across = k * inter.effective_bandwidth
        # a half-duplex link (links.toml duplex = "half": a radio) sends or receives, never both: every step of a
        # ring (and of the pipelined trees NCCL runs) is an exchange, whose two sends take turns on the one channel,
        # alpha + 2 M/B (collectives.exchange_time), so the collective sees half the link's rate
        intra_bw = intra.effective_bandwidth / (2.0 if intra.half_duplex else 1.0)
        across = across / (2.0 if inter.half_duplex else 1.0)
        bw = np.where(inside, intra_bw, np.minimum(intra_bw, across))
        nvls = intra.effective_nvls_bandwidth if self.in_network_reduction else 0.0
        return Group(per_node=k, nodes=nodes, bus_bandwidth=bw, alpha_intra=intra.latency_s,
                     alpha_inter=np.where(inside, intra.latency_s, inter.latency_s), nvls_bandwidth=nvls)

    def edge(self, span: ArrayLike, stride: ArrayLike = 1, tiled: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(alpha, bandwidth) of the slowest edge of a point-to-point ring or chain (pipeline sends, ring
        attention) spanning `span` consecutive ranks with members `stride` apart. Across nodes one GPU sends
        to one GPU through its own NIC (rails: neighbouring groups use other NICs, so no sharing); a NIC
        shared by the node is split among the min(stride, dpn) groups that cross it side by side. tiled: as in
        `group` (a CP ring among aligned TP x CP blocks)."""
        import numpy as np

        dpn = self.cluster.devices_per_node
        intra, inter = self.cluster.intra, self.cluster.inter
        inside = self.within_nodes(span) if tiled else np.asarray(span) <= dpn
        share = np.minimum(np.asarray(stride), dpn) if inter.shared_per_node else 1
        bw = np.where(inside, intra.effective_bandwidth, inter.effective_bandwidth / share)
        return np.where(inside, intra.latency_s, inter.latency_s), bw

    def link_bandwidth(self, span: ArrayLike, stride: ArrayLike = 1) -> np.ndarray:
        """Per-device bandwidth (bytes/s) of the slowest link a group spanning `span` ranks with members
        `stride` apart crosses, one NIC per ring (the single-link view the lab puzzles use; the step model
        uses `group` and `edge`, which follow NCCL's rails)."""
        return self.edge(span, stride)[1]

    def link_latency(self, span: ArrayLike) -> np.ndarray:
        """Alpha of the slowest link a group spanning `span` consecutive ranks crosses."""
        return self.edge(span)[0]


@dataclass(frozen=True)
class Group:
    """A communicator as NCCL sees it (Setup.group): arrays broadcast like the plan fields."""

    per_node: np.ndarray
    nodes: np.ndarray
    bus_bandwidth: np.ndarray
    alpha_intra: float
    alpha_inter: np.ndarray
    nvls_bandwidth: float = 0.0
