"""The software-stack lines of setup_assumptions, each empty unless the plan runs what it describes: full recompute
thinned or replayed, DeepSpeed's BF16_Optimizer, autograd's accumulation, DeepSpeed's pipeline transfers and ZeRO-3
across nodes, Megatron-FSDP, HSDP, FP8 all-gather, Transformer Engine's FP8 weight cache, DTensor TP and the slowest
GPU's pace."""

from __future__ import annotations

from explorer.cost.frameworks import DEEPSPEED, DEFAULT_FRAMEWORK, MEGATRON, P2P_SEQUENTIAL_SOURCE
from explorer.cost.memory import _cdiv, stage_layers
from explorer.cost.setup import Setup
from explorer.cost.sharding import FP8_PARAM_GATHER_SOURCE, TE_FP8_WEIGHT_CACHE_SOURCE, te_fp8_weight_cache_bytes
from explorer.cost.stragglers import GPU_SPEED_VARIABILITY_SOURCE
from explorer.plan import ParallelPlan
from explorer.report import Assumption
from explorer.units import unit_scale


def _recompute_every(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """Full recompute thinned to every k-th layer (Setup.recompute_every), where the plan recomputes in full."""
    if s.recompute_every == 1 or (plan is not None and plan.recompute != "full"):
        return []
    return [Assumption(
        f"Full recompute of one layer in {s.recompute_every} only: those layers keep their input and replay their "
        "forward in the backward, the others keep all their activations (torchtitan's selective layer AC, "
        "fms-fsdp's selective_checkpointing).",
        "pytorch/torchtitan parallelize_llama.py (selective_ac_option = k); explorer/cost/setup.py recompute_every")]


def _replay_early_stop(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """How far full recompute replays the forward, where the plan recomputes in full (Setup.replay_early_stop)."""
    if plan is not None and plan.recompute != "full":
        return []
    if s.replay_early_stop:
        text = ("Full recompute as PyTorch's non-reentrant checkpoint runs it (PyTorch 2.1 and later): the replay in "
                "the backward stops once the last activation the backward needs is rebuilt, before each layer's "
                "MLP down projection, so that GEMM (and the TP reduction after it) is not run again.")
    else:
        text = ("Full recompute replays each layer's whole forward in the backward (Megatron-LM's "
                "CheckpointFunction, PyTorch's reentrant checkpoint and PyTorch 2.0 and older).")
    return [Assumption(text, "pytorch/pytorch torch/utils/checkpoint.py (_enable_checkpoint_early_stop, PRs #90105 "
                             "and #96866); Megatron-LM megatron/core/tensor_parallel/random.py CheckpointFunction; "
                             "explorer/cost/setup.py replay_early_stop")]


def _bf16_optimizer(s: Setup, framework: str | None, zero: int | None) -> list[Assumption]:
    """DeepSpeed's BF16_Optimizer, where the plan runs it (bf16, ZeRO stage 0): what it shards and what it adds to
    every micro-batch (explorer/cost/sharding.py deepspeed_bf16_optimizer, grad_accumulation_time)."""
    from explorer.cost.sharding import BF16_HP_GRAD_BYTES, deepspeed_bf16_optimizer

    if framework != DEEPSPEED.key or zero is None or not bool(deepspeed_bf16_optimizer(s, DEEPSPEED.code, zero)):
        return []
    return [Assumption(
        "DeepSpeed's BF16_Optimizer (bf16 with ZeRO stage 0): FP32 master weights and Adam states sharded over data "
        "parallelism, FP32 gradients whole; after every micro-batch's backward it adds the bf16 gradients into them, "
        f"{BF16_HP_GRAD_BYTES:g} bytes per local parameter at HBM bandwidth, counted under 'optimizer'.",
        "microsoft/DeepSpeed deepspeed/runtime/bf16_optimizer.py (_update_hp_grad), runtime/pipe/engine.py "
        "(_exec_backward_pass)")]


def _autograd_accumulation(s: Setup, framework: str | None, zero: int | None) -> list[Assumption]:
    """Autograd's accumulation into .grad, where the plan leaves it to PyTorch (DeepSpeed without its BF16_Optimizer at
    ZeRO 0 or 1, Megatron-LM without gradient-accumulation fusion: explorer/cost/sharding.py autograd_accumulation,
    autograd_accumulation_time)."""
    from explorer.cost.sharding import AUTOGRAD_ACC_PASSES, autograd_accumulation

    fw = {DEEPSPEED.key: DEEPSPEED, MEGATRON.key: MEGATRON}.get(framework or "")
    if fw is None or zero is None or not bool(autograd_accumulation(s, fw.code, zero)):
        return []
    per_param = f"{AUTOGRAD_ACC_PASSES * s.weight_bytes:g} bytes per local parameter at HBM bandwidth"
    if fw is MEGATRON:
        return [Assumption(
            "Megatron-LM without gradient-accumulation fusion (as before 2022-02; --no-grad-accumulation-fusion): "
            "each micro-batch's weight gradients land in .grad and PyTorch adds every one after the first in place, "
            f"{per_param}, counted under 'optimizer'. Since --gradient-accumulation-fusion the weight-gradient GEMM "
            "adds them into main_grad itself.",
            "NVIDIA/Megatron-LM megatron/model/distributed.py and megatron/optimizer/optimizer.py at de7dc40f "
            "(examples/sc21); commit 83b1e42f (gradient accumulation fusion, 2022-02-13); pytorch/pytorch "
            "torch/csrc/autograd/functions/accumulate_grad.h")]
    return [Assumption(
        "DeepSpeed at ZeRO stage 1 (or 0 in fp16) keeps each micro-batch's gradients in the parameters' own .grad "
        f"until the last one: PyTorch adds every micro-batch's after the first in place, {per_param}, counted under "
        "'optimizer' (Megatron-LM fuses it into the weight-gradient GEMM; FSDP reduces every micro-batch).",
        "pytorch/pytorch torch/csrc/autograd/functions/accumulate_grad.h (accumulateGrad); microsoft/DeepSpeed "
        "deepspeed/runtime/zero/stage_1_and_2.py (reduce_ready_partitions_and_remove_grads, zero_grad)")]


def _deepspeed_pipeline(framework: str | None, pp: int | None) -> list[Assumption]:
    """DeepSpeed's pipeline transfers, where the plan pipelines under DeepSpeed (Framework.p2p_transfers)."""

    if framework != DEEPSPEED.key or not pp or pp < 2:
        return []
    return [Assumption(
        "DeepSpeed's pipeline engine sends and receives each activation and gradient with its own blocking call, one "
        "after another: four transfer times per micro-batch on every stage, where Megatron-LM's batched exchanges "
        "take two.", P2P_SEQUENTIAL_SOURCE)]


def _dtensor_tp(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """What DTensor tensor parallelism keeps for the backward, where the plan runs it (TP with sequence parallelism
    under a framework whose TP is DTensor's: Setup.tp_saves_gathered_input)."""
    if not s.tp_saves_gathered_input or (plan is not None and (plan.tp < 2 or not plan.sequence_parallel)):
        return []
    return [Assumption(
        "Tensor parallelism as PyTorch's DTensor runs it (torchtitan): the attention's and the MLP's inputs are "
        "all-gathered over the sequence before their column-parallel GEMMs and kept whole for the backward, on "
        "every TP rank (Megatron-LM keeps the sequence shard and gathers it again).",
        "pytorch/pytorch torch/distributed/tensor/parallel/style.py (ColwiseParallel, PrepareModuleInput); "
        "Korthikanti et al. 2022 sec. 4.2.3; explorer/cost/setup.py tp_saves_gathered_input")]


def _megatron_fsdp(plan: ParallelPlan | None) -> list[Assumption]:
    """Megatron-LM beyond ZeRO-1 runs Megatron-FSDP: how it is costed and how little of it is checked."""
    if plan is None or plan.framework != MEGATRON.key or plan.zero < 2:
        return []
    what = ("re-gathers each transformer layer's weights for its forward and again for its backward and "
            "reduce-scatters its gradients, every micro-batch" if plan.zero >= 3 else
            "reduce-scatters each transformer layer's gradients every micro-batch and all-gathers the updated weights "
            "once per step")
    return [Assumption(
        f"ZeRO-{plan.zero} under Megatron-LM is Megatron-FSDP (--use-megatron-fsdp --data-parallel-sharding-strategy "
        f"{'optim_grads_params' if plan.zero >= 3 else 'optim_grads'}): it {what}, prefetched behind the layers' "
        "compute, costed as FSDP2's per-block units. The only Megatron-FSDP runs published, NVIDIA's on H100 "
        "(NeMo 25.09 and 25.11: Llama 3 8B at FP8 on 8 GPUs, reference table bridge_nemo_h100_fp8), are predicted "
        "10-13 % slow; nothing is fitted to them.",
        "NVIDIA/Megatron-LM docs/user-guide/features/megatron_fsdp.md, megatron/core/distributed/fsdp/"
        "mcore_fsdp_adapter.py and megatron_fsdp.py; NVIDIA-NeMo/Megatron-Bridge docs/performance-summary-archive.md "
        "(explorer/data/reference/bridge_nemo_h100_fp8.csv)")]


def _te_fp8_weight_cache(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """Megatron-LM under FP8: how its GEMM weights are held (explorer/cost/sharding.py te_fp8_weight_cache_bytes):
    BF16 weights plus Transformer Engine's cached FP8 copies at ZeRO-0, primary FP8 weights (--fp8-param-gather) with
    the distributed optimizer or Megatron-FSDP."""
    framework = plan.framework if plan is not None else DEFAULT_FRAMEWORK
    if framework != MEGATRON.key or s.precision != "fp8":
        return []
    tp, pp, v, zero = (plan.tp, plan.pp, plan.virtual_stages, plan.zero) if plan is not None else (1, 1, 1, 0)
    cache = int(te_fp8_weight_cache_bytes(s, tp, pp, v))
    if not cache:
        return []
    per = cache // max(1, int(_cdiv(stage_layers(s.model.layers, pp, v) * s.model.layer_matmul_params, tp)))
    sc, unit = unit_scale(cache)
    copy = (f"an FP8 copy of each GEMM weight and its FP8 transpose, {per} bytes per weight" if per == 2 else
            "an FP8 copy of each GEMM weight, 1 byte per weight under Megatron-LM's default tensor-scaling recipe "
            "(Blackwell's FP8 GEMMs read it in either layout, so no transpose is kept; MXFP8 would keep two)")
    if zero == 0:
        text = (f"FP8 weight cache: beside the BF16 weights of this rank's layers, Transformer Engine keeps {copy}, "
                f"across micro-batches and steps: {cache / sc:,.3f} {unit} per device, counted in the weights "
                "(Megatron-LM allows primary FP8 weights, --fp8-param-gather, which hold no such copy, only with the "
                "distributed optimizer: ZeRO-1 and up).")
    elif not s.fp8_param_gather:
        text = (f"FP8 weight cache (--no-fp8-param-gather): the weights stay BF16 and Transformer Engine keeps {copy} "
                f"beside them, across micro-batches and steps: {cache / sc:,.3f} {unit} per device, counted in the "
                "weights; the distributed optimizer gathers the updated BF16 weights, 2 bytes each.")
    else:
        held = ("an FP8 tensor with its FP8 transpose, the 2 bytes per weight the BF16 count holds" if per == 2 else
                "an FP8 tensor, counted at the 2 bytes per weight of BF16 (MXFP8, the Blackwell recipes' format, "
                "keeps a rowwise and a columnwise copy, each with a scale per 32 values; tensor scaling would keep "
                "one byte)")
        gather = ("gathers the updated weights in BF16, 2 bytes each (Megatron-Core all-gathers MXFP8 parameters in "
                  "BF16 and quantizes them after)" if per != 2 else
                  "gathers the updated weights as their 1-byte FP8 data (the norms, embedding and output layer in "
                  "BF16)")
        text = ("FP8 weights: primary FP8 parameters (--fp8-param-gather, as Megatron-LM's own FP8 example and NeMo "
                f"2.0's and Megatron-Bridge's FP8 recipes run them; Megatron-LM's flag is off by default): each GEMM "
                f"weight is {held}, and the FP32 master copy stays in the distributed optimizer, which {gather}; "
                "without that flag (--no-fp8-param-gather) "
                f"Transformer Engine would keep {copy} beside BF16 weights, {cache / sc:,.3f} {unit} more per device "
                "here" + (", and the gather would move 2 bytes per weight." if per == 2 else "."))
    return [Assumption(text, f"{TE_FP8_WEIGHT_CACHE_SOURCE}; {FP8_PARAM_GATHER_SOURCE}")]


def _slowest_gpu(s: Setup) -> list[Assumption]:
    """The pace of the slowest GPU (Setup.pace), where it is charged."""
    if s.pace == 1.0:
        return []
    n = int(s.cluster.devices)
    return [Assumption(
        f"Slowest GPU: every step waits for the slowest of the {n:,} GPUs; with GPU speeds spread normally by "
        f"{s.efficiency.gpu_speed_cv:.1%} (same SKU, one cluster), the compute and memory-bound work takes "
        f"{s.pace - 1:.1%} longer than on a typical GPU (1 + cv x the expected maximum of {n:,} normals); rarer "
        "outliers, up to 1.5x slower, are not in it.",
        f"{GPU_SPEED_VARIABILITY_SOURCE}; explorer/cost/stragglers.py slowest_gpu_pace")]


def _fp8_all_gather(s: Setup) -> list[Assumption]:
    if not s.fp8_all_gather:
        return []
    return [Assumption(
        "FP8 all-gather: FSDP2 gathers each layer's Float8Linear weights in FP8, 1 byte per parameter, and holds the "
        "gathered copy in FP8; the embedding, the norms and the output layer are gathered in bf16.",
        "torchao float8/fsdp_utils.py (enable_fsdp_float8_all_gather); torchtitan train_configs/llama3_405b.toml "
        "(2024-08, 2024-12); explorer/cost/sharding.py fsdp_layer_gather_bytes")]


def _hsdp(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """HSDP: where the shards live and when the replicas reduce (explorer/cost/sharding.py dp_comm)."""
    if plan is None or not plan.hsdp:
        return []
    g = s.group(plan.dp * plan.cp, plan.tp * plan.cp, plan.cp, plan.tp)
    inner, nodes = int(min(g.per_node, plan.dp * plan.cp)), int(g.nodes)
    when = ("once per step, each unit's in the last micro-batch's backward (Megatron-FSDP with "
            f"--num-distributed-optimizer-instances {nodes}: megatron_fsdp.py outer_fsdp_group_grad_reduce)"
            if plan.framework == MEGATRON.key else
            "in every backward, each unit's after its reduce-scatter (FSDP2's HSDP mesh)" if plan.pp == 1 else
            "once per step, after the pipeline's last backward (FSDP2 under torch.distributed.pipelining)")
    state = f"{'weights, ' if plan.zero >= 3 else ''}gradients and optimizer state"
    if nodes < 2:
        return [Assumption(f"HSDP: the group lies inside one node, so it is plain sharding over its {inner} members "
                           "(NVLink); there are no replicas to reduce across.",
                           "explorer/cost/sharding.py dp_comm (the replicate group has one member)")]
    text = (f"HSDP: {state} are sharded over the {inner} members of the group inside a node (NVLink) and "
            f"replicated across its {nodes} nodes; the replicas all-reduce their gradient shards over one NIC each "
            f"{when}." if inner > 1 else
            f"HSDP: the group has one member per node, so nothing is sharded: each GPU holds all of its {state}, "
            f"replicated across the {nodes} nodes, and the replicas all-reduce their gradients over one NIC each "
            f"{when}.")
    return [Assumption(
        text,
        "NVIDIA/Megatron-LM megatron/core/distributed/fsdp/mcore_fsdp_adapter.py (_init_dist_index) and "
        "src/megatron_fsdp/megatron_fsdp.py; pytorch/pytorch torch/distributed/fsdp/_fully_shard (HSDP with a 2-D "
        "mesh)")]


ZERO3_SCALE_TABLE = "megatron_sc21_table2"
"""The reference table of DeepSpeed ZeRO-3 runs across many nodes (Narayanan et al., SC'21, Table 2)."""


def _deepspeed_zero3_across_nodes(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """DeepSpeed ZeRO-3 whose sharding group spans nodes: what the only published runs of that regime measured
    against this model (accuracy.json ranges of ZERO3_SCALE_TABLE)."""
    from explorer.accuracy import error_range

    if plan is None or plan.framework != DEEPSPEED.key or plan.zero != 3:
        return []
    # the sharding group's nodes, placed as explorer/cost/sharding.py dp_comm places it (DP x CP members TP x CP apart)
    nodes = int(s.group(plan.dp * plan.cp, plan.tp * plan.cp, plan.cp, plan.tp).nodes)
    span = error_range(ZERO3_SCALE_TABLE, DEEPSPEED.key)
    if nodes < 2 or span is None:
        return []
    return [Assumption(
        f"DeepSpeed ZeRO-3 sharded across {nodes} nodes: its per-layer gathers and reduce-scatters are charged at NCCL "
        f"ring rates over every NIC of a node. The only published DeepSpeed ZeRO-3 runs across nodes (SC'21 Table 2: "
        f"GPT 175B and 530B on 48-280 nodes of A100s, DeepSpeed of 2021) took {1 + span[0]:.1f}-{1 + span[1]:.1f}x "
        "the step time this model gives them. DeepSpeed has since coalesced its gathers (v0.5.5) and mended its "
        "prefetch (v0.6.0), and no published run checks today's across nodes: read this plan's speed as an upper "
        "bound.",
        "Narayanan et al., Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM (SC'21, "
        "arXiv 2104.04473) Table 2; explore validate --table megatron_sc21_table2; microsoft/DeepSpeed "
        "deepspeed/runtime/zero/partition_parameters.py and stage3.py (v0.3.12-v0.4.0, v0.5.5, v0.6.0)")]
