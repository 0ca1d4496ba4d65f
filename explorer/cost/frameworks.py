"""The training frameworks a plan runs on: what each can run and its defaults, each with its source.

A proven optimum is only useful if a named framework runs it. Three are modelled, read from their own
sources (the versions named below):

- Megatron-LM / Megatron-Core (NVIDIA/Megatron-LM, main of 2026-08): TP, sequence parallel, CP (ring attention
  via TransformerEngine, `--cp-comm-type p2p` default), PP with interleaving (virtual stages), and data
  parallelism as plain DDP (ZeRO-0) or with the distributed optimizer (`--use-distributed-optimizer`,
  ZeRO-1-like: reduce-scatter of the gradients and all-gather of the updated weights once per step), or
  Megatron-FSDP for ZeRO-2/3 (`--use-megatron-fsdp --data-parallel-sharding-strategy optim_grads` or
  `optim_grads_params`, in Megatron-Core since core_r0.11, 2025-02, 'MCore Customized FSDP'; docs/user-guide/
  features/megatron_fsdp.md). Megatron-FSDP shards per TransformerLayer unit (mcore_fsdp_adapter.py
  fsdp_unit_modules), double-buffers and prefetches each unit's all-gather and reduce-scatters every micro-batch's
  gradients as its backward ends (megatron_fsdp.py: is_delay_grad_reduce only for no_shard and optim;
  overlap_grad_reduce forced on for optim_grads[_params]): optim_grads_params re-gathers each unit's weights
  for its forward and again for its backward, like FSDP2's reshard_after_forward, but keeps the non-unit weights
  (embedding, final norm, output layer) gathered across micro-batches (param_and_grad_buffer.py
  preserve_non_fsdp_units); optim_grads keeps the weights whole and all-gathers the updated ones once per step,
  as the distributed optimizer does. It reduces gradients in FP32 like the rest of Megatron-LM under --bf16 (its
  guide recommends --grad-reduce-in-bf16 to halve that).
  Not combined with PP here (MFSDP v2 rejects pipeline_model_parallel_size > 1, mcore_fsdp_adapter.py; NVIDIA's
  Megatron-Bridge recipes run FSDP = 1 with PP = 1 only).
  Defaults: with `--bf16` the gradients are accumulated and reduced in FP32 (megatron/training/arguments.py:
  "bfloat16 requires gradient accumulation and all-reduce to be done in fp32"; `--grad-reduce-in-bf16` halves
  it); DDP bucket = max(40,000,000, 1,000,000 x DP) parameters (megatron/core/distributed/
  distributed_data_parallel.py); gradient reduction overlapped with the backward pass and the weight
  all-gather with the next forward (`--overlap-grad-reduce --overlap-param-gather`, as Megatron-LM's own
  Llama 3 recipe examples/llama/train_llama3_8b_h100_fp8.sh sets them; the argparse default is off).
  Uneven pipeline splits run through `--pipeline-model-parallel-layout` (or `--decoder-first/last-pipeline-
  num-layers`); interleaving needs m a multiple of PP (INTERLEAVE_SOURCE).
- DeepSpeed (microsoft/DeepSpeed v0.16.5): ZeRO 0-3; its pipeline engine rejects ZeRO-2/3 ("ZeRO-2 and ZeRO-3
  are incompatible with pipeline parallelism", deepspeed/runtime/pipe/engine.py) and runs plain 1F1B (no
  interleaving); tensor and sequence parallelism through Megatron-DeepSpeed; no ring-attention CP (its
  sequence parallelism is Ulysses all-to-all, not modelled). Defaults (deepspeed/runtime/zero/config.py):
  reduce_bucket_size = allgather_bucket_size = 5e8 elements, stage3_prefetch_bucket_size = 5e7,
  overlap_comm on only for stage 3; with bf16 and ZeRO the gradients stay in bf16 and are communicated in bf16
  (engine.py get_data_types, communication_data_type), without ZeRO they accumulate in FP32 under the
  BF16_Optimizer, which shards the FP32 master and Adam states over DP anyway and all-gathers the bf16 weights
  after the step (bf16_optimizer.py); its process grid puts DP inside the pipeline stage (pipe/topology.py).
- PyTorch FSDP2 as torchtitan runs it (pytorch/torchtitan, main of 2026-08): FSDP (ZeRO-3-like,
  reshard_after_forward) composed with TP, SP, CP and PP (interleaved schedules too), HSDP (shard inside a
  node, replicate across nodes) as an option; one all-gather and one reduce-scatter per transformer block
  (each block is one fully_shard unit); gradients reduced in FP32 (`mixed_precision_reduce = "float32"`).
  Without PP every micro-batch re-gathers the weights for its forward and again for its backward and
  reduce-scatters its gradients (FSDP2's default requires_gradient_sync); activation recomputation does not
  gather a third time (torch/distributed/fsdp/_fully_shard/_fsdp_state.py _pre_forward: "the pre-backward hook
  is responsible for the unshard"). With PP torchtitan keeps the weights unsharded after the forward
  (torchtitan/distributed/fsdp.py: "For PP, by default do not reshard after forward to avoid per-microbatch
  all-gathers") and the pipeline stage neither reshards nor reduces until the last backward
  (torch/distributed/pipelining/stage.py backward_maybe_with_nosync): one gather and one reduce-scatter per
  step. ZeRO stage 2 here means reshard_after_forward=False (weights kept from forward to backward).
  Interleaved pipelines need m a multiple of max(1, m // PP), and run m < PP (INTERLEAVE_SOURCE).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.cost.efficiency import gpu_family
from explorer.cost.setup import FUSED_LOSS_BYTES_PER_LOGIT
from explorer.errors import UsageError

FRAMEWORK_CHOICES = ("megatron", "deepspeed", "fsdp", "any")
DEFAULT_FRAMEWORK = "megatron"
FRAMEWORK_ALIASES: dict[str, str] = {
    # the stacks that run Megatron-LM's model code and schedules: Megatron-Core, and NeMo, which trains through it
    "megatron-lm": "megatron", "megatron-core": "megatron", "mcore": "megatron", "nemo": "megatron",
    "nemo-megatron": "megatron",
    # DeepSpeed's engine and pipeline, also as Megatron-DeepSpeed (BLOOM, MT-NLG) runs them
    "megatron-deepspeed": "deepspeed",
    # PyTorch FSDP: FSDP2's fully_shard (torchtitan), and the FSDP1 wrappers of Composer / llm-foundry and fms-fsdp
    "fsdp2": "fsdp", "fsdp1": "fsdp", "pytorch-fsdp": "fsdp", "torch-fsdp": "fsdp", "torchtitan": "fsdp",
}
"""Other names users give the frameworks (case and '_' / '-' / ' ' ignored); each maps to the framework whose
model code and communication the cost model charges (FRAMEWORKS below)."""
GRAD_REDUCE_DTYPES = ("bf16", "fp32")


TP_OVERLAP_OFF = 0
TP_OVERLAP_USERBUFFERS = 1
"""Megatron-Core --tp-comm-overlap (Transformer Engine userbuffers): forward and backward TP collectives run
behind GEMMs (explorer/cost/time.py tp_overlap_exposed)."""
TP_OVERLAP_FORWARD = 2
"""torchtitan's AsyncTP (PyTorch's micro-pipelined all-gather-matmul / matmul-reduce-scatter): as published, it
speeds the forward pass and not the backward (explorer/cost/time.py async_tp_exposed)."""


@dataclass(frozen=True)
class Framework:
    """What one framework runs (the search space) and the defaults that shape its communication."""

    key: str
    code: int  # index in FRAMEWORKS, the integer the solvers carry
    name: str
    zero_stages: tuple[int, ...]
    sharded_with_pp: bool  # ZeRO-2/3 (FSDP) allowed together with PP > 1
    interleaving: bool  # virtual stages v > 1
    context_parallel: bool
    hsdp: bool
    grad_fp32: bool  # bf16 training accumulates and reduces gradients in FP32 by default
    overlap_grad: tuple[bool, bool, bool, bool]  # per ZeRO stage: step-level gradient sync hidden in backward
    overlap_param: tuple[bool, bool, bool, bool]  # per ZeRO stage: step-level weight gather hidden in forward
    source: str
    # GPU families (efficiency.GPU_FAMILIES) on which the framework pipelines the TP all-gathers and reduce-scatters
    # with the GEMMs by default (TP_OVERLAP_SOURCE); elsewhere off unless the user turns it on
    tp_comm_overlap_on: tuple[str, ...] = ()
    tp_overlap_mode: int = 1  # how it overlaps them when on (TP_OVERLAP_USERBUFFERS / TP_OVERLAP_FORWARD)
    # The model code the framework usually runs (Setup.fused_projections, Setup.selective_policy): fused QKV and
    # gate/up GEMMs and Megatron's attention-core selective recompute, or torchtitan's separate projections and
    # per-op selective activation checkpointing.
    fused_projections: bool = True
    selective_policy: str = "attention"
    loss_bytes_per_logit: int = 6  # Setup.loss_bytes_per_logit: Megatron's vocab-parallel cross-entropy
    compiled_loss_bytes_per_logit: int | None = None  # the same when torch.compile takes the loss (fused kernels)
    replay_early_stop: bool = False  # Setup.replay_early_stop: PyTorch's non-reentrant checkpoint (torchtitan)
    tp_saves_gathered_input: bool = False  # Setup.tp_saves_gathered_input: DTensor TP (torchtitan) saves the gathered
    # inputs of the column-parallel GEMMs; Megatron-LM / Transformer Engine save the sequence shard and gather again
    # Blocking transfers per pipeline exchange (explorer/cost/time.py p2p_time): 1 where a stage's send and receive
    # of one exchange run together (Megatron-LM's batched send_forward_recv_backward, torch.distributed.pipelining's
    # async isend/irecv), 2 where each is its own blocking call in turn (P2P_SEQUENTIAL_SOURCE)
    p2p_transfers: int = 1
    # GPU families (efficiency.GPU_FAMILIES) on which the framework's attention runs cuDNN's fused attention by
    # default (efficiency.CUDNN_ATTENTION_SPEED): Transformer Engine's DotProductAttention prefers it on compute
    # capability 9.0 and up (Hopper and Blackwell) unless NVTE_FUSED_ATTN=0; torchtitan's SDPA puts the cuDNN
    # backend first on capability 10.0 (Blackwell) only. Elsewhere FlashAttention-2 (flash-attn or PyTorch SDPA's
    # default backend)
    cudnn_attention_on: tuple[str, ...] = ()
    # The framework's own library for ZeRO-2/3 when it is not the framework itself (Megatron-LM: Megatron-FSDP)
    sharded_by: str = ""
    # Interleaving's rule on the micro-batch count m (INTERLEAVE_SOURCE): False, m a multiple of PP (Megatron-Core);
    # True, m a multiple of max(1, m // PP) (PyTorch's ScheduleInterleaved1F1B, which also runs m < PP)
    interleave_rounds: bool = False

    def label(self, zero: int) -> str:
        """The framework's name as a plan with this ZeRO stage runs it (ZeRO-2/3 through `sharded_by`, if any)."""
        return f"{self.name} with {self.sharded_by}" if self.sharded_by and zero >= 2 else self.name

    def why_not(self, *, tp: int = 1, cp: int = 1, pp: int = 1, v: int = 1, zero: int = 0, hsdp: bool = False,
                sp: bool = False, m: int | None = None) -> str | None:
        """None if this framework runs the plan, else the reason it does not (one short clause). m: the micro-batches
        per pipeline and step, where known (interleaving's rule on them, INTERLEAVE_SOURCE)."""
        if zero not in self.zero_stages:
            return (f"{self.name} offers ZeRO stages {', '.join(map(str, self.zero_stages))}, not {zero}")
        if zero >= 2 and pp > 1 and not self.sharded_with_pp:
            return f"{self.name} does not run ZeRO-{zero} with pipeline parallelism"
        if v > 1 and not self.interleaving:
            return f"{self.name} runs plain 1F1B pipelines (no virtual stages)"
        if v > 1 and pp > 1 and m is not None:
            if self.interleave_rounds:
                rounds = max(1, m // pp)
                if m % rounds:
                    return (f"{self.name}'s interleaved schedule (PyTorch's ScheduleInterleaved1F1B) needs the "
                            f"micro-batches per pipeline, m = {m}, to be a multiple of its rounds, max(1, m // PP) = "
                            f"{rounds}")
            elif m % pp:
                return (f"{self.name}'s interleaved schedule needs the micro-batches per pipeline, m = {m}, to be a "
                        f"multiple of PP = {pp} (Megatron-Core runs them in groups of PP per virtual stage)")
        if cp > 1 and not self.context_parallel:
            return f"{self.name} has no ring-attention context parallelism"
        if hsdp and not self.hsdp:
            return f"{self.name} has no HSDP"
        if hsdp and zero < 2:
            return "HSDP shards weights or gradients: it needs ZeRO stage 2 or 3"
        return None


MEGATRON = Framework(
    key="megatron", code=0, name="Megatron-LM", zero_stages=(0, 1, 2, 3), sharded_with_pp=False, interleaving=True,
    context_parallel=True, hsdp=True, grad_fp32=True,
    overlap_grad=(True, True, True, True), overlap_param=(True, True, True, True),
    source="NVIDIA/Megatron-LM: megatron/training/arguments.py (bf16 -> fp32 grads, --grad-reduce-in-bf16), "
           "megatron/core/distributed/distributed_data_parallel.py (bucket max(40M, 1M x DP) params), "
           "examples/llama/train_llama3_8b_h100_fp8.sh (--use-distributed-optimizer --overlap-grad-reduce "
           "--overlap-param-gather), docs/user-guide/features/dist_optimizer.md (18 and 6 + 12/d bytes/param); "
           "Megatron-FSDP for ZeRO-2/3 (docs/user-guide/features/megatron_fsdp.md, megatron/core/distributed/fsdp/"
           "mcore_fsdp_adapter.py, megatron_fsdp.py is_delay_grad_reduce; HSDP through "
           "--num-distributed-optimizer-instances: mcore_fsdp_adapter.py _init_dist_index, the outer group's "
           "all-reduce in the last micro-batch only, megatron_fsdp.py outer_fsdp_group_grad_reduce); "
           "TP communication overlap (--tp-comm-overlap, Transformer Engine userbuffers) on by default on Hopper "
           "and Blackwell only (TP_OVERLAP_SOURCE); attention through Transformer Engine "
           "(transformer_engine/pytorch/attention.py: cuDNN's fused attention preferred at compute capability "
           "9.0 since v1.2 of 2023-12, 'Select FusedAttention on sm90 and FlashAttention on others')",
    tp_comm_overlap_on=("hopper", "blackwell"), cudnn_attention_on=("hopper", "blackwell"),
    sharded_by="Megatron-FSDP")
DEEPSPEED = Framework(
    key="deepspeed", code=1, name="DeepSpeed", zero_stages=(0, 1, 2, 3), sharded_with_pp=False, interleaving=False,
    context_parallel=False, hsdp=False, grad_fp32=False,
    overlap_grad=(False, False, False, True), overlap_param=(False, False, False, True),
    source="microsoft/DeepSpeed v0.16.5: deepspeed/runtime/zero/config.py (bucket sizes, overlap_comm only for "
           "stage 3), deepspeed/runtime/pipe/engine.py (ZeRO-2/3 incompatible with PP), deepspeed/runtime/"
           "engine.py (bf16 gradient dtypes); deepspeed/runtime/pipe/schedule.py and p2p.py (blocking pipeline "
           "sends and receives, one call each)",
    p2p_transfers=2,
    # no TP overlap: DeepSpeed's engine runs the model's TP collectives as they come (Megatron-DeepSpeed's
    # mpu mappings, blocking all-reduces between the GEMMs); make_setup refuses --tp-comm-overlap with it
    tp_overlap_mode=TP_OVERLAP_OFF)
FSDP = Framework(
    key="fsdp", code=2, name="PyTorch FSDP2 (torchtitan)", zero_stages=(2, 3), sharded_with_pp=True,
    interleaving=True, context_parallel=True, hsdp=True, grad_fp32=True,
    overlap_grad=(True, True, False, False), overlap_param=(True, True, True, True),
    source="pytorch/torchtitan: torchtitan/config/configs.py (mixed_precision_reduce float32), "
           "torchtitan/distributed/fsdp.py (per-block fully_shard, no reshard after forward with PP); "
           "pytorch/pytorch: torch/distributed/fsdp/_fully_shard/_fsdp_state.py, "
           "torch/distributed/pipelining/stage.py; torchtitan/models/llama3/model.py (wq, wk, wv, w1, w3 as "
           "separate nn.Linear), torchtitan/distributed/activation_checkpoint.py (selective_ac_option 'op', "
           "_save_list: every second matmul and the elementwise ops rerun); AsyncTP (opt-in) speeds the forward "
           "only: PyTorch dev-discuss 'Introducing Async Tensor Parallelism in PyTorch' (2024-08); SDPA with "
           "the cuDNN backend first on compute capability 10.0 (pytorch/torchtitan PR 1196, 2025-05, "
           "torchtitan/models/attention.py), FlashAttention-2's first elsewhere",
    fused_projections=False, selective_policy="op", tp_overlap_mode=2, loss_bytes_per_logit=12,
    compiled_loss_bytes_per_logit=4, tp_saves_gathered_input=True, replay_early_stop=True,
    cudnn_attention_on=("blackwell",), interleave_rounds=True)
FRAMEWORKS = (MEGATRON, DEEPSPEED, FSDP)

INTERLEAVE_SOURCE = (
    "NVIDIA/Megatron-LM megatron/core/pipeline_parallel/schedules.py forward_backward_pipelining_with_interleaving: "
    "the group of micro-batches per virtual stage, microbatch_group_size_per_vp_stage (PP by default, "
    "model_parallel_config.py; --microbatch-group-size-per-virtual-pipeline-stage), must lie in [PP, m] (ValueError) "
    "and m mod the group must be 0 or at least PP (RuntimeError), so under the default group m must be a multiple of "
    "PP and m < PP never runs; a larger group runs other m with more chunks in flight, a schedule not priced here. "
    "pytorch/pytorch torch/distributed/pipelining/schedules.py ScheduleInterleaved1F1B (torchtitan's "
    "Interleaved1F1B): number_of_rounds = max(1, m // PP), ValueError unless m is a multiple of it, so m < PP "
    "runs (torchtitan/distributed/pipeline_parallel.py only warns that it 'may result in a bubble')")
BY_KEY = {f.key: f for f in FRAMEWORKS}

# Bucket sizes, in elements (parameters), and calls per transformer layer.
MEGATRON_BUCKET_MIN_PARAMS = 40_000_000
MEGATRON_BUCKET_PARAMS_PER_DP = 1_000_000
DEEPSPEED_BUCKET_PARAMS = 500_000_000  # reduce_bucket_size = allgather_bucket_size = 5e8


def megatron_bucket_params(dp: object) -> object:
    """Megatron-Core DDP's gradient bucket, in parameters: max(40M, 1M x DP) (distributed_data_parallel.py:
    bucket_size = max(40000000, 1000000 * dp_size)), elementwise over an array of DP degrees."""
    import numpy as np

    return np.maximum(MEGATRON_BUCKET_MIN_PARAMS, MEGATRON_BUCKET_PARAMS_PER_DP * np.asarray(dp)).astype(float)


def bucket_calls(size: object, bucket: object) -> object:
    """Collectives of one bucketed pass over `size` in buckets of `bucket` (both in parameters, or both in bytes):
    ceil(size / bucket), at least one."""
    import numpy as np

    return np.maximum(1.0, np.ceil(np.asarray(size) / bucket))
# DeepSpeed ZeRO-3 gathers per submodule (all_gather_coalesced per nn.Module); norms are below
# stage3_param_persistence_threshold (1e5 elements) and stay resident, so the calls per layer are its linear
# modules: q, k, v, o + the MLP matrices (Hugging Face Llama / GPT-NeoX layouts).
DEEPSPEED_ATTENTION_LINEARS = 4


P2P_SEQUENTIAL_SOURCE = (
    "DeepSpeed's pipeline engine runs TrainSchedule's instructions one by one (deepspeed/runtime/pipe/schedule.py: "
    "a forward step is RecvActivation, SendGrad, ForwardPass; a backward step SendActivation, RecvGrad, "
    "BackwardPass), and every SendActivation, RecvActivation, SendGrad and RecvGrad is a blocking torch.distributed "
    "send or recv of its own (deepspeed/runtime/pipe/p2p.py: async_op must be False): a stage's four transfers per "
    "micro-batch run in turn, where Megatron-LM batches each exchange's send and receive into one "
    "batch_isend_irecv (megatron/core/pipeline_parallel/p2p_communication.py send_forward_recv_backward).")


def p2p_transfers_of(fw: object) -> object:
    """Blocking transfers per pipeline exchange for framework codes (Framework.p2p_transfers)."""
    import numpy as np

    return np.asarray([f.p2p_transfers for f in FRAMEWORKS])[np.asarray(fw)]


TP_OVERLAP_SOURCE = (
    "Megatron-LM's --tp-comm-overlap runs Transformer Engine's userbuffers, whose initialize_ub raises unless the "
    "GPU supports CUDA multicast ('does not support comm+GEMM overlap with CUDA Multicast. Launch app with "
    "UB_SKIPMC=1 to try CUDA IPC instead', transformer_engine/pytorch/module/base.py since v1.9, 2024-07; "
    "multicast objects need NVSwitch-connected compute capability 9.0 and up, TransformerEngine issue 1071); "
    "NVIDIA's NeMo / Megatron-Bridge performance recipes turn it on for H100 and B200, and no published Ampere run "
    "of Megatron-LM in explorer/data/reference had it (SC'21, Korthikanti et al. 2022, NeMo 2022, MegaScale's "
    "baseline, Zero Bubble). torchtitan's AsyncTP is opt-in (parallelism.enable_async_tensor_parallel = false); "
    "DeepSpeed has none.")


def tp_overlap_of(setup_value: bool | None, fw: object, accelerator_key: str) -> object:
    """TP overlap mode per plan (TP_OVERLAP_*): off where the user turned it off or, by default, where the plan's
    framework does not run it on this GPU (Framework.tp_comm_overlap_on); else the way the plan's framework overlaps
    (fw: framework codes)."""
    import numpy as np

    modes = np.asarray([f.tp_overlap_mode for f in FRAMEWORKS])[np.asarray(fw)]
    if setup_value is not None:
        return modes * int(bool(setup_value))
    return modes * np.asarray([int(tp_overlap_default(f.key, accelerator_key)) for f in FRAMEWORKS])[np.asarray(fw)]


def tp_overlap_default(choice: str, accelerator_key: str) -> bool:
    """Whether TP communication overlap is on by default for a framework choice on this accelerator
    (TP_OVERLAP_SOURCE): Megatron-LM's on Hopper and Blackwell, off elsewhere; torchtitan's AsyncTP is opt-in;
    DeepSpeed has none; 'any' takes the choice that holds for every framework it may pick (off)."""
    family = gpu_family(accelerator_key)
    return all(family in f.tp_comm_overlap_on for f in frameworks_for(choice))


def attention_kernel_default(choice: str, accelerator_key: str) -> str:
    """The fused attention kernel a framework choice runs by default on this accelerator: cuDNN's where every
    framework of the choice prefers it on the GPU's family (Framework.cudnn_attention_on). Megatron-LM runs
    attention through Transformer Engine, which prefers cuDNN's FusedAttention at compute capability >= 9.0
    (Hopper, Blackwell; transformer_engine/pytorch/attention.py since v1.2 of 2023-12; NVIDIA's NeMo recipes since
    NeMo-Framework-Launcher 04b8d098, 2024-08-29, and the DGX Cloud recipes set NVTE_FUSED_ATTN=1 for Llama 3.1);
    torchtitan's SDPA puts cuDNN first on Blackwell only (PR 1196); Megatron-DeepSpeed runs FlashAttention-2, as TE
    and torchtitan do on Ampere. For 'any' this is the kernel every framework it may pick runs (flash2), which names
    the setup's kernel; the search prices each plan with its own framework's (Setup.attention_kernel_by_framework)."""
    family = gpu_family(accelerator_key)
    return "cudnn" if all(family in f.cudnn_attention_on for f in frameworks_for(choice)) else "flash2"


def attention_kernel_of(setup_kernel: str, by_framework: bool, accelerator_key: str, fw: object) -> object:
    """Attention kernel per plan (fw: framework codes): the setup's, or, where the setup leaves it to each plan's
    framework (Setup.attention_kernel_by_framework), that framework's default on this GPU. An object array shaped
    like fw."""
    import numpy as np

    codes = np.asarray(fw)
    if not by_framework:
        return np.full(codes.shape, setup_kernel, dtype=object)
    kernels = np.asarray([attention_kernel_default(f.key, accelerator_key) for f in FRAMEWORKS], dtype=object)
    return np.asarray(kernels[codes], dtype=object)


FP32_ATTENTION_SOURCE = (
    "NVIDIA/TransformerEngine transformer_engine/pytorch/attention/dot_product_attention/utils.py "
    "get_attention_backend ('Filter: Data type'): FlashAttention 2 and 4 are disabled for a qkv_dtype outside "
    "{float16, bfloat16}, FlashAttention 3 and FusedAttention (cuDNN) outside {float16, bfloat16, float8_e4m3fn}, so "
    "FP32 runs UnfusedDotProductAttention (the scores as a tensor); Dao-AILab/flash-attention csrc/flash_attn/"
    "flash_api.cpp: 'FlashAttention only support fp16 and bf16 data type' (Megatron-DeepSpeed's --use-flash-attn); "
    "pytorch/pytorch aten/src/ATen/native/transformers/cuda/sdp_utils.cpp: SDPA's flash and cuDNN backends take FP16 "
    "and BF16, its memory-efficient backend also FP32 (can_use_mem_efficient_attention), which keeps no scores")


def fp32_attention_overrides(choice: str, precision: str, accelerator_key: str, attention_kernel: str | None,
                             flash_attention: bool) -> dict[str, object]:
    """The attention a framework choice runs under FP32 training on a datacenter GPU, as make_setup keywords
    (FP32_ATTENTION_SOURCE): Megatron-LM (Transformer Engine) and DeepSpeed (flash-attn) fall back to unfused
    attention ({'flash_attention': False}); torchtitan's SDPA to its memory-efficient kernel, which keeps no scores,
    priced at FlashAttention-2's rate for want of an FP32 measurement ({'attention_kernel': 'flash2'}); 'any' prices
    the unfused attention two of the three run. Empty where the precision is not FP32, attention is already unfused,
    or the part runs no FlashAttention build (no datacenter stack). A fused kernel named for FP32 is a UsageError:
    none of them takes FP32."""
    from explorer.hardware.catalog import get_accelerator

    acc = get_accelerator(accelerator_key)
    if precision != "fp32" or not flash_attention or not (acc.datacenter_stack and acc.flash_attention_build):
        return {}
    if attention_kernel is not None:
        raise UsageError(f"--attention-kernel {attention_kernel} is a fused kernel, and none takes FP32 (Transformer "
                         "Engine's and flash-attn's take FP16 and BF16): leave it out under --precision fp32, which "
                         "runs attention unfused (Megatron-LM, DeepSpeed) or as SDPA's memory-efficient kernel "
                         "(--framework fsdp)")
    return {"attention_kernel": "flash2"} if choice == "fsdp" else {"flash_attention": False}


def zero_default(choice: str) -> int:
    """The ZeRO stage a plan gets when none is given: the lowest the framework offers. Megatron-LM and DeepSpeed
    start unsharded (no --use-distributed-optimizer; DeepSpeed's zero_optimization.stage defaults to 0); PyTorch
    FSDP2 has no unsharded mode, and fully_shard's default reshard_after_forward=True is ZeRO-3 (torchtitan's
    default), so fsdp gets 3 rather than its lowest, 2. 'any' starts from Megatron-LM's 0."""
    if choice == "fsdp":
        return 3
    return min(frameworks_for(choice)[0].zero_stages)


def stack_layout_default(choice: str, fused_kernels: bool = True, cross_entropy: str = "unfused") -> dict[str, object]:
    """Setup.fused_projections, Setup.selective_policy, Setup.loss_bytes_per_logit, Setup.tp_saves_gathered_input and
    Setup.replay_early_stop for a framework choice: the model code that framework runs (Megatron-LM / DeepSpeed:
    Megatron's fused linear_qkv and linear_fc1, attention-core selective recompute, vocab-parallel cross-entropy,
    sequence-parallel GEMM inputs saved as shards, a whole replay under full recompute; FSDP2: torchtitan's separate
    projections, per-op selective AC, cross_entropy on an FP32 copy of the logits, which torch.compile (fused_kernels)
    takes into one fused kernel, DTensor TP's gathered inputs, and PyTorch's checkpoint, whose replay stops before
    the last GEMM). A fused loss kernel (cross_entropy, Setup.cross_entropy) holds what that kernel holds instead
    (setup.FUSED_LOSS_BYTES_PER_LOGIT).
    'any' searches all three with one layer model, so it keeps Megatron's layout (the first framework) and says so in
    the report's assumptions."""
    f = frameworks_for(choice)[0]
    compiled = f.compiled_loss_bytes_per_logit if fused_kernels else None
    loss_bytes = FUSED_LOSS_BYTES_PER_LOGIT.get(cross_entropy, compiled or f.loss_bytes_per_logit)
    return {"fused_projections": f.fused_projections, "selective_policy": f.selective_policy,
            "loss_bytes_per_logit": loss_bytes,
            "tp_saves_gathered_input": f.tp_saves_gathered_input, "replay_early_stop": f.replay_early_stop}


def framework_key(text: str) -> str:
    """`text` lower-cased with '_', '-' and spaces as one '-', an alias replaced by its framework (not validated)."""
    key = "-".join(str(text).strip().lower().replace("_", " ").replace("-", " ").split())
    return FRAMEWORK_ALIASES.get(key, key)


def framework_choice(text: str) -> str:
    """A --framework value as one of FRAMEWORK_CHOICES: the choice itself or an alias (FRAMEWORK_ALIASES), case and
    separators ignored; anything else a one-line UsageError naming the choices and the aliases."""
    key = framework_key(text)
    if key not in FRAMEWORK_CHOICES:
        raise UsageError(f"framework {str(text)!r} unknown; valid: {', '.join(FRAMEWORK_CHOICES)} "
                         f"(also: {', '.join(FRAMEWORK_ALIASES)})")
    return key


def framework(key: str) -> Framework:
    """A framework by key (megatron, deepspeed, fsdp); one-line error naming the choices."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise UsageError(f"framework {key!r} unknown; valid: {', '.join(FRAMEWORK_CHOICES)}") from None


def frameworks_for(choice: str) -> tuple[Framework, ...]:
    """The frameworks a search covers: one, or all three for 'any'."""
    if choice == "any":
        return FRAMEWORKS
    return (framework(choice),)


def check_grad_reduce_dtype(value: str | None) -> str | None:
    if value is not None and value not in GRAD_REDUCE_DTYPES:
        raise UsageError(f"grad-reduce-dtype {value!r} unknown; valid: {', '.join(GRAD_REDUCE_DTYPES)}")
    return value
