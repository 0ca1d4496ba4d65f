"""Data parallelism as the frameworks run it: model-state memory, communication buffers and the data-parallel
collectives of one step, per framework (explorer/cost/frameworks.py) and ZeRO stage, per micro-batch where
the framework communicates per micro-batch (docs/conventions.md, "Sharded data parallelism, per
micro-batch").

Codes: fw = Framework.code (0 Megatron-LM, 1 DeepSpeed, 2 FSDP2/torchtitan); zero = ZeRO stage (for FSDP:
3 = reshard after forward, 2 = keep the gathered weights until backward); hsdp = 1 shards inside a node and
replicates across nodes. Every function takes scalars or numpy arrays of plan fields.

Per step (the gradient accumulation boundary; hidden behind the last micro-batch's backward or the first
micro-batch's forward where the framework overlaps them, explorer/cost/step.py):
  Megatron ZeRO-0: all-reduce of the gradients, one call per DDP bucket;
  Megatron ZeRO-1 (distributed optimizer), DeepSpeed ZeRO-1: reduce-scatter of the gradients and all-gather
    of the updated weights, one call per bucket each;
  Megatron-FSDP ZeRO-2 (optim_grads): the all-gather of the updated weights, as the distributed optimizer;
  DeepSpeed ZeRO-0: all-reduce (with bf16, its BF16_Optimizer also all-gathers the updated weights: it shards the
    optimizer state); DeepSpeed ZeRO-2: the weight all-gather (its gradients go per micro-batch); DeepSpeed under
    PP: the tied embedding's gradient all-reduce between the first and the last stage;
  FSDP with PP (torchtitan): every block's weights gathered once (first micro-batch) and its gradients
    reduce-scattered once (last backward).
Per micro-batch (PP = 1 only: no framework shards gradients or weights per micro-batch inside a pipeline):
  DeepSpeed ZeRO-2: the reduce-scatter of all gradients (overlap_comm off by default for stage 2: exposed);
  ZeRO-3 / FSDP / Megatron-FSDP: per layer, the weights all-gathered before the forward and again before the
    backward (FSDP ZeRO-2: forward only; Megatron-FSDP ZeRO-2: none), the gradients reduce-scattered after the
    backward (HSDP: then all-reduced across nodes). Prefetch overlaps the next layer's gather with this
    layer's compute; the first gather of each pass and the last reduce-scatter are never hidden
    (exposed_per_micro_batch).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost import frameworks as fwk
from explorer.cost import memory as mem
from explorer.cost.collectives import nccl_allreduce_time, nccl_reduce_scatter_time
from explorer.cost.efficiency import gpu_family
from explorer.cost.memory import _cdiv, params_per_device, stage_layers
from explorer.cost.setup import Setup
from explorer.cost.time import allreduce, optimizer_time

MEGATRON, DEEPSPEED, FSDP = (f.code for f in fwk.FRAMEWORKS)
FP32_BYTES = 4


def _a(x: ArrayLike) -> np.ndarray:
    return np.asarray(x)


def grad_bytes(setup: Setup, fw: ArrayLike, zero: ArrayLike) -> np.ndarray:
    """Bytes of one gradient element as the framework accumulates it in memory.

    fp32 training: 4. Megatron-LM with --bf16 (fp8 runs on top of bf16) accumulates and reduces in FP32
    (main_grads; arguments.py), with --fp16 in fp16; FSDP2/torchtitan reduces in FP32 (mixed_precision_reduce);
    DeepSpeed keeps the model dtype under ZeRO and accumulates bf16 in FP32 without it (engine.py
    get_data_types). `Setup.grad_reduce_dtype` overrides all of them (memory and traffic both follow)."""
    fw, zero = _a(fw), _a(zero)
    shape = np.broadcast(fw, zero).shape
    if setup.collectives == "textbook":
        return np.full(shape, setup.grad_bytes)
    if not setup.mixed:
        return np.full(shape, FP32_BYTES)
    if setup.grad_reduce_dtype is not None:
        return np.full(shape, 2 if setup.grad_reduce_dtype == "bf16" else FP32_BYTES)
    bf16 = setup.precision in ("bf16", "fp8")
    meg = FP32_BYTES if bf16 else setup.weight_bytes
    ds = np.where(zero >= 1, setup.weight_bytes, FP32_BYTES if bf16 else setup.weight_bytes)
    return np.where(fw == MEGATRON, meg, np.where(fw == DEEPSPEED, ds, FP32_BYTES))


def grad_comm_bytes(setup: Setup, fw: ArrayLike, zero: ArrayLike) -> np.ndarray:
    """Bytes of one gradient element on the wire: as in memory, except DeepSpeed, which communicates in its
    communication_data_type (bf16 for bf16 training) unless the user sets the reduce dtype."""
    g = grad_bytes(setup, fw, zero)
    if setup.mixed and setup.grad_reduce_dtype is None and setup.collectives != "textbook":
        return np.where(_a(fw) == DEEPSPEED, setup.weight_bytes, g)
    return g


def deepspeed_bf16_optimizer(setup: Setup, fw: ArrayLike, zero: ArrayLike) -> np.ndarray:
    """Where DeepSpeed runs its BF16_Optimizer: bf16 training with ZeRO stage 0 (engine.py
    _do_optimizer_sanity_check: a bf16 model with FP32 gradient accumulation, the default without ZeRO, gets the
    BFLOAT16 wrapper; BigScience's BLOOM config: 'bf16 must use z0! it implements its own zero stage 1
    equivalent'). deepspeed/runtime/bf16_optimizer.py (v0.7.0 to v0.16): the FP32 master weights and the Adam
    states are partitioned over the data-parallel group (fp32_groups_flat_partition), the FP32 gradients are
    kept whole (fp32_groups_gradients_flat) and all-reduced (pipe/engine.py _bf16_reduce_grads ->
    buffered_allreduce_fallback, in the communication_data_type, bf16), and after the step every rank
    all-gathers the updated bf16 weights (update_lp_params -> all_gather_dp_groups)."""
    fw, zero = _a(fw), _a(zero)
    on = setup.mixed and setup.precision in ("bf16", "fp8") and setup.collectives != "textbook"
    return (fw == DEEPSPEED) & (zero == 0) & on


def megatron_fsdp(fw: ArrayLike, zero: ArrayLike) -> np.ndarray:
    """Where Megatron-LM shards beyond ZeRO-1, through Megatron-FSDP (explorer/cost/frameworks.py: ZeRO-2 is its
    optim_grads, ZeRO-3 its optim_grads_params)."""
    return (_a(fw) == MEGATRON) & (_a(zero) >= 2)


def non_layer_params(setup: Setup, tp: ArrayLike, pp: ArrayLike, v: ArrayLike = 1) -> np.ndarray:
    """Parameters of the most loaded device outside its transformer layers (embedding, final norm, output layer):
    the FSDP2 root unit, the buckets Megatron-FSDP keeps outside its units."""
    layers = np.asarray(stage_layers(setup.model.layers, pp, v)) * _cdiv(setup.model.layer_params, _a(tp))
    return np.maximum(params_per_device(setup, tp, pp, v) - layers, 0)


def shard_group_size(setup: Setup, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, dp: ArrayLike,
                     hsdp: ArrayLike = 0) -> np.ndarray:
    """Ranks the sharded state is split over: DP x CP (Megatron's dp_cp group; torchtitan flattens dp_shard and
    cp into one FSDP dimension), or with HSDP the DP x CP members inside one node."""
    n = _a(dp) * _a(cp)
    k = setup.group(n, _a(tp) * _a(cp), cp, tp).per_node.astype(np.int64)
    return np.where(_a(hsdp).astype(bool), np.minimum(k, n), n)


def model_state_bytes(setup: Setup, fw: ArrayLike, tp: ArrayLike, pp: ArrayLike, dp: ArrayLike, cp: ArrayLike,
                      zero: ArrayLike, v: ArrayLike = 1, hsdp: ArrayLike = 0) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
    """(weights, gradients, optimizer state) bytes per device, exact integers.

    Megatron (docs/user-guide/features/dist_optimizer.md, bf16 params + fp32 grads): 18 bytes/param without
    the distributed optimizer, 6 + 12/d with it (the gradient buffer stays whole). DeepSpeed: the ZeRO paper's
    (Rajbhandari et al. 2020, Table 1) 2 + 2 + 12 sharded by stage (fp32 accumulation, 4 bytes, without ZeRO).
    FSDP2: the sharded parameter is the FP32 master (4/d), gradients sharded in the reduce dtype, optimizer
    states 8/d (Adam); ZeRO-2 (no reshard after forward) also holds every gathered bf16 weight of the stage
    until its backward; with PP the gathered weights and the unsharded accumulated gradients stay all step."""
    fw, zero, pp = _a(fw), _a(zero), _a(pp)
    s = shard_group_size(setup, tp, cp, pp, dp, hsdp)
    gb = grad_bytes(setup, fw, zero)
    # Megatron (ZeRO 0/1, and Megatron-FSDP's 2/3: bf16 weights 2, FP32 main weights 4, main gradients and Adam 8, each
    # sharded as its stage says) and DeepSpeed: ZeRO's form with the framework's gradient bytes
    w, g, o = mem.model_state_bytes(setup, tp, pp, dp, cp, zero, v, grad_bytes=gb, shard=s)
    if setup.collectives == "textbook":
        return w, g, o
    p = params_per_device(setup, tp, pp, v)
    wb, ob = setup.weight_bytes, setup.optimizer_bytes
    # Megatron-FSDP ZeRO-3 keeps its non-unit weights (embedding, final norm, output layer) gathered all step
    # (param_and_grad_buffer.py preserve_non_fsdp_units): whole in the weight dtype on top of their shard
    ends = non_layer_params(setup, tp, pp, v)
    w = w + np.where(megatron_fsdp(fw, zero) & (zero >= 3), ends * wb - _cdiv(ends * wb, s), 0)
    # DeepSpeed's BF16_Optimizer (ZeRO stage 0 in its config) shards the FP32 master and Adam states like ZeRO-1
    o = np.where(deepspeed_bf16_optimizer(setup, fw, zero), _cdiv(p * ob, s), o)
    # FSDP2
    master = FP32_BYTES if setup.mixed else 0
    keep = (zero == 2) | (pp > 1)  # the gathered bf16 (or FP8, fp8_all_gather) weights stay for the whole stage
    gathered = (p - ends) * fsdp_layer_gather_bytes(setup) + ends * wb
    w_f = _cdiv(p * FP32_BYTES, s) + np.where(keep, gathered, 0)
    g_f = _cdiv(p * gb, s) + np.where(pp > 1, p * gb, 0)
    o_f = _cdiv(p * (ob - master), s)
    is_f = fw == FSDP
    # Megatron-LM under FP8 without the distributed optimizer: Transformer Engine's cached FP8 copies of the layers'
    # GEMM weights (te_fp8_weight_cache_bytes); with it, primary FP8 weights (--fp8-param-gather) as NVIDIA's recipes
    # run them, 2 bytes per weight with their transpose, as the BF16 count already holds
    # (Setup.fp8_param_gather; without it the cached copies at every stage)
    cached = (zero == 0) | (not setup.fp8_param_gather)
    w = w + np.where((fw == MEGATRON) & cached, te_fp8_weight_cache_bytes(setup, tp, pp, v), 0)
    return np.where(is_f, w_f, w), np.where(is_f, g_f, g), np.where(is_f, o_f, o)


TE_FP8_WEIGHT_CACHE_SOURCE = (
    "NVIDIA/TransformerEngine transformer_engine/pytorch/module/linear.py (and layernorm_linear.py, "
    "layernorm_mlp.py): with is_first_microbatch not None the module quantizes its weight into a workspace kept in "
    "self._fp8_workspaces['weight'] across micro-batches and steps (cache_name = 'weight', base.py quantize_weight), "
    "with rowwise and, for the backward's dgrad GEMM, columnwise usage; tensor/float8_tensor.py holds those as _data "
    "and _transpose, two FP8 bytes per weight, except on Blackwell, whose FP8 GEMMs take non-TN layouts and one "
    "buffer serves both (utils.py is_non_tn_fp8_gemm_supported). NVIDIA/Megatron-LM megatron/core/extensions/"
    "transformer_engine.py passes is_first_microbatch to every TE linear unless --disable-parameter-transpose-cache. "
    "Primary FP8 weights (--fp8-param-gather) have no such copy: the parameter is the FP8 tensor, its data and "
    "transpose 2 bytes as BF16's 2; Megatron-LM's own examples/llama/train_llama3_8b_h100_fp8.sh, NeMo 2.0's and "
    "Megatron-Bridge's bf16_with_fp8_mixed (fp8_param_gather = True) run it, and megatron/training/arguments.py "
    "allows it only with the distributed optimizer or an FSDP ('--fp8-param-gather only supported with distributed "
    "optimizer, torch fsdp2, megatron fsdp'), so the copy is charged at ZeRO-0 only")


def te_fp8_weight_cache_bytes(setup: Setup, tp: ArrayLike, pp: ArrayLike, v: ArrayLike = 1) -> np.ndarray | int:
    """Bytes per device of Transformer Engine's cached FP8 weights under FP8 training with BF16 parameters
    (TE_FP8_WEIGHT_CACHE_SOURCE; model_state_bytes charges it to Megatron-LM at ZeRO-0, where --fp8-param-gather is
    not allowed): every GEMM weight of the most loaded rank's layers (their TP shard) held again in FP8, with its FP8
    transpose on Hopper and earlier (2 bytes per weight), without it on Blackwell (1). The output layer and the
    embedding stay BF16 (fp8_autocast covers the blocks' linears only). 0 under other precisions."""
    if setup.precision != "fp8" or setup.collectives == "textbook":
        return 0
    per_weight = 1 if gpu_family(setup.cluster.accelerator.key) == "blackwell" else 2
    m = setup.model
    return per_weight * _cdiv(np.asarray(stage_layers(m.layers, pp, v)) * m.layer_matmul_params, _a(tp))


FP8_PARAM_GATHER_SOURCE = (
    "NVIDIA/Megatron-LM megatron/core/distributed/distributed_data_parallel.py _allocate_buffers_for_parameters: a "
    "Float8Tensor parameter (--fp8-param-gather) gets a torch.uint8 parameter buffer, so the distributed optimizer's "
    "all-gather of the updated weights moves its 1-byte FP8 data; NVIDIA/NeMo nemo/core/optim/distributed_adam.py "
    "MegatronDistributedFusedAdam.init_params_bucket does the same for NeMo 1.x's Apex optimizer (FP8 parameters in "
    "buckets of param_sync_dtype torch.uint8, the others in the weight dtype). MXFP8 parameters, the Blackwell "
    "recipes' format (TE_FP8_WEIGHT_CACHE_SOURCE), are gathered in BF16: param_and_grad_buffer.py maps an MXFP8 "
    "buffer's param_data onto the gradient buffer as torch.bfloat16 ('only half of the buffer is used to store params "
    "in bf16') and each rank quantizes after the gather")


def _fp8_gathered(setup: Setup) -> bool:
    """Whether Megatron-LM's weight gathers move 1-byte FP8 data (FP8_PARAM_GATHER_SOURCE): FP8 training with primary
    FP8 weights on a part whose recipe keeps tensor-scaled FP8 parameters (not Blackwell's MXFP8)."""
    return (setup.precision == "fp8" and setup.collectives != "textbook" and setup.fp8_param_gather
            and gpu_family(setup.cluster.accelerator.key) != "blackwell")


def fp8_param_gather_bytes(setup: Setup, tp: ArrayLike, pp: ArrayLike, v: ArrayLike = 1) -> np.ndarray | float:
    """Mean bytes per parameter of Megatron-LM's weight all-gather (the distributed optimizer's once per step,
    Megatron-FSDP's per unit) on the most loaded rank: under FP8 training with primary FP8 weights, which NVIDIA's
    recipes run and model_state_bytes assumes with the distributed optimizer (TE_FP8_WEIGHT_CACHE_SOURCE), the
    layers' GEMM weights travel as 1 byte each (FP8_PARAM_GATHER_SOURCE), the norms, the embedding and the output
    layer in the weight dtype; the weight dtype's bytes under any other precision, without primary FP8 weights
    (Setup.fp8_param_gather False) and on Blackwell, whose MXFP8 parameters are gathered in BF16."""
    wb = float(setup.weight_bytes)
    if not _fp8_gathered(setup):
        return wb
    m = setup.model
    p = np.asarray(params_per_device(setup, tp, pp, v), dtype=float)
    fp8 = np.asarray(_cdiv(np.asarray(stage_layers(m.layers, pp, v)) * m.layer_matmul_params, _a(tp)), dtype=float)
    return (fp8 * 1.0 + (p - fp8) * wb) / np.maximum(p, 1.0)


def fp8_layer_gather_bytes(setup: Setup) -> float:
    """fp8_param_gather_bytes for one transformer layer's unit (Megatron-FSDP gathers one layer at a time): its GEMM
    weights as 1 byte under FP8, its norm weights in the weight dtype."""
    wb = float(setup.weight_bytes)
    if not _fp8_gathered(setup):
        return wb
    m = setup.model
    return (m.layer_matmul_params + (m.layer_params - m.layer_matmul_params) * wb) / m.layer_params


def fsdp_layer_gather_bytes(setup: Setup) -> int:
    """Bytes per parameter in which FSDP2 gathers (and holds gathered) a transformer layer's weights: the working
    copy's 2, or 1 under torchao's float8 all-gather (Setup.fp8_all_gather; the layers' linears are Float8Linear, their
    norm weights too few to count)."""
    return 1 if setup.fp8_all_gather else setup.weight_bytes


def buffer_bytes(setup: Setup, fw: ArrayLike, tp: ArrayLike, pp: ArrayLike, dp: ArrayLike, cp: ArrayLike,
                 zero: ArrayLike, v: ArrayLike = 1) -> np.ndarray:
    """Communication buffers on top of the model state (exact integers); none without data parallelism.

    Megatron: none (its buckets are views into the contiguous parameter and gradient buffers); Megatron-FSDP
    (ZeRO 2/3) as FSDP2: two gathered layers under ZeRO-3 (megatron_fsdp.py double-buffers the all-gather
    output) and one layer of unsharded gradients awaiting their reduce-scatter.
    DeepSpeed: one reduce bucket (5e8 elements in the gradient dtype, at most the gradients) and, under ZeRO-3,
    two layers of gathered weights (the prefetch). FSDP2 without PP: two gathered layers (the one computing and
    the one prefetched; ZeRO-2 holds them all already) and one layer of unsharded gradients."""
    if setup.collectives == "textbook":
        return mem.buffer_bytes(setup, tp, pp, zero, v, dp, cp)
    fw, zero, pp = _a(fw), _a(zero), _a(pp)
    p = params_per_device(setup, tp, pp, v)
    layer = _cdiv(setup.model.layer_params, tp)
    gb = grad_bytes(setup, fw, zero)
    reduced = _a(dp) * _a(cp) > 1
    ds = np.minimum(fwk.DEEPSPEED_BUCKET_PARAMS, p) * gb + np.where(zero >= 3, 2 * layer * setup.weight_bytes, 0)
    gathered = np.where(fw == FSDP, fsdp_layer_gather_bytes(setup), setup.weight_bytes)  # FSDP2's float8 all-gather
    fs = np.where(pp > 1, 0, np.where(zero >= 3, 2 * layer * gathered, 0) + layer * gb)
    # Megatron-FSDP (ZeRO 2/3): the same double-buffered unit gathers and one unit's unsharded gradients
    out = np.where(fw == DEEPSPEED, ds, np.where((fw == FSDP) | megatron_fsdp(fw, zero), fs, 0))
    return np.where(reduced, out, 0)


def _rs(setup: Setup, m: ArrayLike, n: ArrayLike, g) -> np.ndarray:
    return np.asarray(nccl_reduce_scatter_time(m, n, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth))


def _ar(setup: Setup, m: ArrayLike, n: ArrayLike, g) -> np.ndarray:
    return np.asarray(nccl_allreduce_time(m, n, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth,
                                          g.nvls_bandwidth))


def dp_comm(setup: Setup, fw: ArrayLike, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, dp: ArrayLike,
            zero: ArrayLike, v: ArrayLike = 1, hsdp: ArrayLike = 0) -> dict[str, np.ndarray]:
    """The data-parallel collectives of one step, in seconds (one NCCL call per bucket or per layer, the
    faster of ring and tree, rails bandwidth: explorer/cost/collectives.py).

    Placement: every framework nests data parallelism inside the pipeline stage, TP innermost, then CP, then DP,
    PP outermost, so a DP x CP group's members are TP (x CP) ranks apart: Megatron-LM initialize_model_parallel
    (DP groups range(start + j, end, TP) within each pipeline block of world / PP ranks; Megatron-Core's default
    order 'tp-cp-ep-dp-pp'), DeepSpeed's PipeModelDataParallelTopology (axes ['pipe', 'data', 'model']),
    torchtitan's device mesh ['pp', 'dp_replicate', 'dp_shard', 'cp', 'tp'].

    Returns grad_step, param_step (per step; overlap_grad / overlap_param say whether the framework hides them
    behind the backward / forward), and for frameworks that communicate per micro-batch (PP = 1): ag, ag_bwd
    and rs (one layer's forward gather, backward gather and gradient reduce-scatter) and mb_fixed (what every
    micro-batch pays that no compute hides: the first gather of each pass, the last reduce-scatter, the
    embedding and head, DeepSpeed ZeRO-2's whole reduce-scatter); grad_last and param_first, the one collective
    of the step-level sync no compute can hide (step_sync_exposed): the reduction of the bucket that fills last
    and the gather of the bucket the next forward needs first (both the first chunk's bucket of the first
    layers; FSDP2 with PP: the root unit's)."""
    if setup.collectives == "textbook":
        return _textbook_comm(setup, fw, tp, cp, pp, dp, zero, v)
    fw, zero, pp, hsdp = _a(fw), _a(zero), _a(pp), _a(hsdp).astype(bool)
    tp_a, cp_a, dp_a = _a(tp), _a(cp), _a(dp)
    n = dp_a * cp_a
    stride = tp_a * cp_a  # data parallelism inside the pipeline stage (dp_comm's docstring)
    p = np.asarray(params_per_device(setup, tp, pp, v), dtype=float)
    sl = np.asarray(stage_layers(setup.model.layers, pp, v), dtype=float)
    layer = np.asarray(_cdiv(setup.model.layer_params, tp_a), dtype=float)
    ends = np.asarray(non_layer_params(setup, tp, pp, v), dtype=float)
    gcb = grad_comm_bytes(setup, fw, zero).astype(float)
    wb = float(setup.weight_bytes)
    g_all = setup.group(n, stride, cp_a, tp_a)
    # HSDP (FSDP2, and Megatron-FSDP's --num-distributed-optimizer-instances): shard group = the members in one node
    # (NVLink), replicate group = one member per node; without HSDP the shard group is the whole DP x CP group
    k = np.where(hsdp, np.minimum(g_all.per_node, n), n)
    reps = np.maximum(n / k, 1.0)
    g_shard = setup.group(k, np.where(hsdp, 1, stride), np.where(hsdp, 1, cp_a), np.where(hsdp, 1, tp_a)) \
        if np.any(hsdp) else g_all
    g_rep = setup.group(reps, setup.cluster.devices_per_node) if np.any(hsdp) else None
    is_d, is_f = fw == DEEPSPEED, fw == FSDP
    # Megatron-FSDP (--use-megatron-fsdp, ZeRO 2/3) communicates per layer and per micro-batch like FSDP2;
    # is_m is Megatron's DDP / distributed optimizer (ZeRO 0/1)
    is_mf = megatron_fsdp(fw, zero)
    is_m = (fw == MEGATRON) & ~is_mf
    is_fl = is_f | is_mf  # per-layer units (fully_shard blocks, Megatron-FSDP's TransformerLayer units)

    def bucketed(bucket_elems, fn):
        calls = fwk.bucket_calls(p, bucket_elems)
        return calls * fn(p / calls)

    chunk0 = p / _a(v).astype(float)  # the first model chunk (all of the stage when v = 1)

    def last_bucket(bucket_elems, fn):
        """One collective over the bucket that fills last: the first chunk's parameters split into buckets of
        at most bucket_elems, in backprop order (param_and_grad_buffer.py), so the one holding the first
        layers."""
        return fn(chunk0 / fwk.bucket_calls(chunk0, bucket_elems))

    # each framework's collectives, computed only where some row runs on it (the exhaustive search scores
    # spaces of one framework; --framework any mixes them)
    meg_grad = meg_param = ds_rs_all = ds_grad = ds_param = ds_ag = ds_rs = ds_ends = mf_outer = mf_outer_last = 0.0
    meg_last = meg_first = ds_last = ds_first = 0.0
    f_ag = f_rs = f_ends_ag = f_ends_rs = f_param = f_grad = 0.0
    if np.any(fw == MEGATRON):  # Megatron: DDP buckets of max(40M, 1M x DP) parameters
        mb_bucket = fwk.megatron_bucket_params(dp_a)
        meg_grad = np.where(zero >= 1, bucketed(mb_bucket, lambda e: _rs(setup, e * gcb, n, g_all)),
                            bucketed(mb_bucket, lambda e: _ar(setup, e * gcb, n, g_all)))
        # the updated weights are gathered over the shard group (all of DP x CP, or Megatron-FSDP HSDP's inner group:
        # its replicas take the same optimizer step)
        # under FP8 the layers' GEMM weights are gathered as their 1-byte FP8 data (fp8_param_gather_bytes)
        pb = fp8_param_gather_bytes(setup, tp, pp, v)
        meg_param = np.where(zero >= 1, bucketed(mb_bucket, lambda e: _rs(setup, e * pb, k, g_shard)), 0.0)
        meg_last = np.where(zero >= 1, last_bucket(mb_bucket, lambda e: _rs(setup, e * gcb, n, g_all)),
                            last_bucket(mb_bucket, lambda e: _ar(setup, e * gcb, n, g_all)))
        meg_first = np.where(zero >= 1, last_bucket(mb_bucket, lambda e: _rs(setup, e * pb, k, g_shard)), 0.0)
    if np.any(is_d):  # DeepSpeed: 5e8-element reduce / all-gather buckets
        db = float(fwk.DEEPSPEED_BUCKET_PARAMS)
        bf16_opt = deepspeed_bf16_optimizer(setup, fw, zero)
        ds_rs_all = bucketed(db, lambda e: _rs(setup, e * gcb, n, g_all))
        ds_ar_all = bucketed(db, lambda e: _ar(setup, e * gcb, n, g_all))
        z1_ar = bool(setup.zero1_grad_allreduce)  # DeepSpeed 2021-2023 stage 1: an all-reduce (Setup)
        ds_grad = np.where(zero == 0, ds_ar_all, np.where(zero == 1, ds_ar_all if z1_ar else ds_rs_all, 0.0))
        gathers = (zero == 1) | (zero == 2) | bf16_opt  # BF16_Optimizer all-gathers the updated bf16 weights
        ds_param = np.where(gathers, bucketed(db, lambda e: _rs(setup, e * wb, n, g_all)), 0.0)
        ar_last = last_bucket(db, lambda e: _ar(setup, e * gcb, n, g_all))
        ds_last = np.where((zero == 0) | ((zero == 1) & z1_ar), ar_last,
                           np.where(zero == 1, last_bucket(db, lambda e: _rs(setup, e * gcb, n, g_all)), 0.0))
        ds_first = np.where(gathers, last_bucket(db, lambda e: _rs(setup, e * wb, n, g_all)), 0.0)
        linears = float(fwk.DEEPSPEED_ATTENTION_LINEARS + setup.model.mlp_matrices)
        ds_ag = linears * _rs(setup, layer / linears * wb, n, g_all)
        ds_rs_calls = fwk.bucket_calls(layer, db)
        ds_rs = ds_rs_calls * _rs(setup, layer / ds_rs_calls * gcb, n, g_all)
        ds_ends = 2.0 * _rs(setup, ends * wb, n, g_all) + _rs(setup, ends * gcb, n, g_all)
    if np.any(is_fl):  # FSDP2 / Megatron-FSDP: one call per transformer block (and one for the embedding and head)
        def outer_ar(elems):
            """HSDP: the replicas all-reduce the shard each of them reduced inside its node."""
            if g_rep is None:
                return 0.0
            return np.where(hsdp & (reps > 1), _ar(setup, elems * gcb / k, reps, g_rep), 0.0)

        def shard_ag(elems, bytes_per_elem=wb):
            return _rs(setup, elems * bytes_per_elem, k, g_shard)

        # FSDP2 reduces across the replicas in every backward; Megatron-FSDP only in the last micro-batch's
        # (megatron_fsdp.py: outer_fsdp_group_grad_reduce = use_hybrid_fsdp and is_last_microbatch), per unit on a
        # stream of its own: a step-level sync (mf_outer, grad_step below)
        o_layer, o_ends = outer_ar(layer), np.where(ends > 0, outer_ar(ends), 0.0)
        # FSDP2 under torchao's float8 all-gather gathers the layers' weights in FP8 (Setup.fp8_all_gather)
        # and Megatron-FSDP under FP8 its units' GEMM weights as FP8 (fp8_layer_gather_bytes)
        f_ag = shard_ag(layer, np.where(is_f, fsdp_layer_gather_bytes(setup),
                                        np.where(is_mf, fp8_layer_gather_bytes(setup), wb)))
        f_rs = _rs(setup, layer * gcb, k, g_shard) + np.where(is_mf, 0.0, o_layer)
        f_ends_ag = np.where(ends > 0, shard_ag(ends), 0.0)
        f_ends_rs = np.where(ends > 0, _rs(setup, ends * gcb, k, g_shard) + np.where(is_mf, 0.0, o_ends), 0.0)
        f_param = sl * f_ag + f_ends_ag
        f_grad = sl * f_rs + f_ends_rs
        mf_outer = np.where(is_mf, sl * o_layer + o_ends, 0.0)
        # the unit whose gradients are ready last: the embedding's (its buckets outside the layer units)
        mf_outer_last = np.where(is_mf, np.where(ends > 0, o_ends, o_layer), 0.0)

    per_mb = (pp == 1) & (((is_d | is_fl) & (zero >= 3)) | (is_fl & (zero == 2)) | (is_d & (zero == 2)))
    z = np.zeros(np.broadcast(fw, zero, pp, tp_a, cp_a, dp_a).shape)
    ds3, ds2 = is_d & (zero >= 3), is_d & (zero == 2)
    mf2 = is_mf & (zero == 2)  # Megatron-FSDP optim_grads: weights whole, no per-layer gathers
    ag = z + np.where(ds3, ds_ag, np.where(is_fl & ~mf2, f_ag, 0.0))
    ag_bwd = z + np.where(zero >= 3, ag, 0.0)
    rs = z + np.where(ds3, ds_rs, np.where(is_fl, f_rs, 0.0))
    # Megatron-FSDP keeps the buckets outside its units (embedding, final norm, output layer) gathered from one
    # micro-batch to the next (param_and_grad_buffer.py AllGatherPipeline.reset(preserve_non_fsdp_units=True)): they
    # are gathered once per step, not per micro-batch
    ends_ag = np.where(is_mf, 0.0, np.where(zero >= 3, 2.0, 1.0) * f_ends_ag)
    f_fixed = ag + ag_bwd + rs + ends_ag + f_ends_rs
    fixed = np.where(ds3, ag + ag_bwd + rs + ds_ends, np.where(is_fl, f_fixed, np.where(ds2, ds_rs_all, 0.0)))
    # Megatron-FSDP's optim_grads all-gathers the updated weights once per step, as the distributed optimizer does;
    # optim_grads_params its preserved non-unit buckets
    # Megatron-FSDP HSDP: the outer all-reduce of every unit in the last micro-batch's backward (mf_outer)
    grad_step = np.where(is_m, meg_grad, np.where(is_d, ds_grad, np.where(is_fl & (pp > 1), f_grad, mf_outer)))
    param_step = np.where(is_m | mf2, meg_param, np.where(is_mf, f_ends_ag, np.where(
        is_d, ds_param, np.where(is_fl & (pp > 1), f_param, 0.0))))
    # FSDP2 with PP: the root unit (embedding, final norm, head: `ends`) reduces last and gathers first
    f_edge_rs, f_edge_ag = np.where(ends > 0, f_ends_rs, f_rs), np.where(ends > 0, f_ends_ag, f_ag)
    grad_last = np.where(is_m, meg_last, np.where(is_d, ds_last, np.where(is_fl & (pp > 1), f_edge_rs,
                                                                          mf_outer_last)))
    param_first = np.where(is_m | mf2, meg_first, np.where(is_mf, f_ends_ag, np.where(
        is_d, ds_first, np.where(is_fl & (pp > 1), f_edge_ag, 0.0))))
    zi = np.clip(zero, 0, 3)
    by_fw = [fw == f.code for f in fwk.FRAMEWORKS]
    og = np.select(by_fw, [np.asarray(f.overlap_grad)[zi] for f in fwk.FRAMEWORKS])
    op = np.select(by_fw, [np.asarray(f.overlap_param)[zi] for f in fwk.FRAMEWORKS])
    none = n <= 1
    out = {"grad_step": grad_step, "param_step": param_step, "ag": np.where(per_mb, ag, 0.0),
           "ag_bwd": np.where(per_mb, ag_bwd, 0.0), "rs": np.where(per_mb, rs, 0.0),
           "mb_fixed": np.where(per_mb, fixed, 0.0),
           "grad_last": np.minimum(grad_last, grad_step / _a(v)),
           "param_first": np.minimum(param_first, param_step / _a(v))}
    out = {k_: z + np.where(none, 0.0, a) for k_, a in out.items()}
    if np.any(is_d):  # with or without data parallelism: DeepSpeed's pipeline engine syncs the tied embedding
        out["grad_step"] = out["grad_step"] + np.where(is_d, tied_embedding_sync(setup, fw, zero, tp_a, cp_a, pp,
                                                                                 dp_a), 0.0)
    out["overlap_grad"] = z.astype(bool) | og
    out["overlap_param"] = z.astype(bool) | op
    return out


def tied_embedding_sync(setup: Setup, fw: ArrayLike, zero: ArrayLike, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike,
                        dp: ArrayLike) -> np.ndarray:
    """Seconds of DeepSpeed's tied-weight gradient all-reduce under a pipeline: a model whose output layer shares the
    input embedding holds it on the first and the last stage (Megatron-DeepSpeed GPTModelPipe: TiedLayerSpec
    'embed'), and after the last backward the pipeline engine all-reduces its gradient between the two
    (deepspeed/runtime/pipe/engine.py _exec_reduce_tied_grads: dist.all_reduce(weight._hp_grad under the
    BF16_Optimizer, FP32; else weight.grad, the model dtype), before the data-parallel reduction and not overlapped
    (schedule.py TrainSchedule: ReduceTiedGrads, ReduceGrads, OptimizerStep after the last step). Size: the vocab
    x hidden / TP slice (VocabParallelEmbedding), over 2 ranks (TP x DP x CP) x (PP - 1) apart (the ['pipe',
    'data', 'model'] grid): across nodes whenever the pipeline is. 0 without PP or tied embeddings."""
    m = setup.model
    pp_a = _a(pp)
    if not m.tied_embeddings or setup.collectives == "textbook":
        return np.zeros(np.broadcast(_a(fw), _a(zero), pp_a, _a(tp), _a(cp), _a(dp)).shape)
    elems = m.vocab * m.hidden / _a(tp).astype(float)
    gb = grad_bytes(setup, fw, zero).astype(float)
    stride = _a(tp) * _a(cp) * _a(dp) * np.maximum(pp_a - 1, 1)
    t = _ar(setup, elems * gb, 2, setup.group(2, stride))
    return np.where(pp_a > 1, t, 0.0)


def _textbook_comm(setup: Setup, fw: ArrayLike, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, dp: ArrayLike,
                   zero: ArrayLike, v: ArrayLike) -> dict[str, np.ndarray]:
    """The lab texts' data parallelism (Setup.collectives = "textbook"): one all-reduce (the volume of a
    reduce-scatter + all-gather) of the working-precision gradients per step in PyTorch DDP's 25 MB buckets
    (Efficiency.bucket_bytes), ZeRO-3 1.5x that volume (Rajbhandari et al. 2020, sec. 7.2.2), hidden behind
    the last backward pass."""
    n = _a(dp) * _a(cp)
    grads = params_per_device(setup, tp, pp, v) * float(setup.grad_bytes)
    buckets = fwk.bucket_calls(grads, setup.efficiency.bucket_bytes)
    t = buckets * allreduce(setup, grads / buckets, n, _a(tp) * _a(cp) * _a(pp), cp, tp)
    t = np.where(_a(zero) >= 3, 1.5 * t, t)
    z = np.zeros(np.broadcast(_a(fw), _a(zero), _a(pp), _a(tp), _a(cp), _a(dp)).shape)
    return {"grad_step": z + np.where(n > 1, t, 0.0), "param_step": z, "ag": z, "ag_bwd": z, "rs": z,
            "mb_fixed": z, "grad_last": z, "param_first": z, "overlap_grad": z == 0, "overlap_param": z != 0}


BF16_HP_GRAD_BYTES = 18.0
"""HBM bytes per parameter of DeepSpeed's BF16_Optimizer accumulating one micro-batch's gradients into its FP32
copy (deepspeed/runtime/bf16_optimizer.py _update_hp_grad: hp_grad.data.add_(lp.grad.data.to(hp_grad.dtype)),
unchanged from its first release with pipeline parallelism, PR #1801, 2022-04, to v0.16): the cast reads the bf16
gradient (2) and writes an FP32 copy (4); add_ reads that copy and the FP32 accumulator (4 + 4) and writes the
accumulator (4)."""


AUTOGRAD_ACC_PASSES = 3.0
"""HBM passes, in gradient elements, of PyTorch autograd adding one micro-batch's weight gradient into a .grad that
already holds the earlier ones (torch/csrc/autograd/functions/accumulate_grad.h, accumulateGrad: a dense .grad
takes `variable_grad += new_grad` in place): read the accumulator and the new gradient, write the accumulator. The
first micro-batch after .grad was set to None costs nothing (the new gradient is stolen, not copied)."""


def autograd_accumulation(setup: Setup, fw: ArrayLike, zero: ArrayLike) -> np.ndarray:
    """Where each micro-batch's gradients are added into the parameters' own .grad by autograd: DeepSpeed's engine
    under ZeRO 0 or 1 when it does not run its BF16_Optimizer (fp16, or bf16 with ZeRO-1), with no Megatron-style
    gradient-accumulation fusion. ZeRO-1 reduces only at the accumulation boundary and leaves the other
    micro-batches' gradients in param.grad (deepspeed/runtime/zero/stage_1_and_2.py
    reduce_ready_partitions_and_remove_grads: `partition_gradients or is_gradient_accumulation_boundary`; the
    legacy zero/stage1.py of v0.3-v0.5 alike), and its zero_grad sets every .grad to None after the step
    (set_grads_to_None=True, as fp16/fused_optimizer.py's for ZeRO 0). Megatron-LM accumulates in the wgrad GEMM
    (--gradient-accumulation-fusion), FSDP reduces each micro-batch: neither pays it, except Megatron-LM from before
    that fusion (Setup.grad_accumulation_fusion off: the SC'21 scripts' fp16 LocalDDP without contiguous buffers
    let autograd accumulate into .grad and all-reduced it after the last micro-batch, megatron/model/distributed.py
    allreduce_gradients `param.main_grad = param.grad`, and zero_grad set .grad to None, optimizer.py)."""
    fw, zero = _a(fw), _a(zero)
    on = setup.collectives != "textbook"
    deepspeed = (fw == DEEPSPEED) & (zero <= 1) & ~deepspeed_bf16_optimizer(setup, fw, zero)
    megatron = (fw == MEGATRON) & (zero == 0) & (not setup.grad_accumulation_fusion)
    return (deepspeed | megatron) & on


def autograd_accumulation_time(setup: Setup, fw: ArrayLike, tp: ArrayLike, pp: ArrayLike, zero: ArrayLike,
                               v: ArrayLike = 1, params: ArrayLike | None = None) -> np.ndarray:
    """Seconds per micro-batch after a step's first that autograd spends adding the new weight gradients into
    .grad (autograd_accumulation), in the model's dtype: AUTOGRAD_ACC_PASSES x weight bytes per local parameter at
    HBM bandwidth. params: those of the stage that sets the pipeline's pace (default: the most loaded device's)."""
    t = _hbm_pass_time(setup, tp, pp, v, params, AUTOGRAD_ACC_PASSES * setup.weight_bytes)
    return np.where(autograd_accumulation(setup, fw, zero), t, 0.0)


def grad_accumulation_time(setup: Setup, fw: ArrayLike, tp: ArrayLike, pp: ArrayLike, zero: ArrayLike,
                           v: ArrayLike = 1, params: ArrayLike | None = None) -> np.ndarray:
    """Seconds per micro-batch that DeepSpeed's BF16_Optimizer spends adding the bf16 gradients into its FP32
    gradients, a pass over every local parameter after every micro-batch's backward: the pipeline engine calls
    update_hp_grads after each backward (pipe/engine.py _exec_backward_pass; the last stage and PP = 1 through
    engine.backward -> BF16_Optimizer.backward(update_hp_grads=True)), at HBM bandwidth (BF16_HP_GRAD_BYTES).
    Megatron-LM accumulates into its FP32 main_grad inside the weight-gradient GEMM
    (--gradient-accumulation-fusion) and FSDP2 reduces each micro-batch's gradients as it goes: no such pass.
    params: those of the stage that sets the pipeline's pace (default: the most loaded device's)."""
    t = _hbm_pass_time(setup, tp, pp, v, params, BF16_HP_GRAD_BYTES)
    return np.where(deepspeed_bf16_optimizer(setup, fw, zero), t, 0.0)


def _hbm_pass_time(setup: Setup, tp: ArrayLike, pp: ArrayLike, v: ArrayLike, params: ArrayLike | None,
                   bytes_per_param: float) -> np.ndarray:
    """Seconds of one memory-bound pass moving `bytes_per_param` HBM bytes for every local parameter (`params`, by
    default the most loaded device's), at the accelerator's memory bandwidth."""
    p = np.asarray(params_per_device(setup, tp, pp, v) if params is None else params, dtype=float)
    return p * bytes_per_param / setup.cluster.accelerator.memory_bandwidth


def dp_optimizer_time(setup: Setup, fw: ArrayLike, tp: ArrayLike, cp: ArrayLike, pp: ArrayLike, dp: ArrayLike,
                      zero: ArrayLike, v: ArrayLike = 1, hsdp: ArrayLike = 0) -> np.ndarray:
    """The optimizer step over the local shard with the framework's gradient bytes (explorer/cost/time.py);
    DeepSpeed's BF16_Optimizer steps its partition like ZeRO-1."""
    z_opt = np.where(deepspeed_bf16_optimizer(setup, fw, zero), 1, zero)
    return np.asarray(optimizer_time(setup, tp, cp, pp, dp, z_opt, v, grad_bytes=grad_bytes(setup, fw, zero),
                                     shard=shard_group_size(setup, tp, cp, pp, dp, hsdp)))


def exposed_per_micro_batch(comm: dict[str, np.ndarray], layers: ArrayLike, t_fwd: ArrayLike,
                            t_bwd: ArrayLike) -> np.ndarray:
    """Per micro-batch data-parallel time that compute does not hide (PP = 1 frameworks that gather and reduce
    per micro-batch): the fixed part plus, for each of the other L - 1 layers, what the prefetched gather of
    the next layer adds to this layer's forward, and the gather plus reduce-scatter to its backward.

    t_fwd, t_bwd: one layer's forward and backward (+ recompute) compute of one micro-batch; prefetch keeps one
    gather in flight (FSDP2 implicit prefetch; DeepSpeed stage3_prefetch_bucket_size)."""
    rest = np.maximum(np.asarray(layers, dtype=float) - 1.0, 0.0)
    fwd = np.maximum(0.0, comm["ag"] - t_fwd)
    bwd = np.maximum(0.0, comm["ag_bwd"] + comm["rs"] - t_bwd)
    return comm["mb_fixed"] + rest * (fwd + bwd)


def hidden_per_micro_batch(comm: dict[str, np.ndarray], layers: ArrayLike, t_fwd: ArrayLike,
                           t_bwd: ArrayLike) -> np.ndarray:
    """Per micro-batch seconds of the per-layer gathers and reduce-scatters that compute hides (the complement of
    exposed_per_micro_batch's layer terms): min(gather, forward) + min(gather + reduce-scatter, backward) for
    each of the other L - 1 layers."""
    rest = np.maximum(np.asarray(layers, dtype=float) - 1.0, 0.0)
    return rest * (np.minimum(comm["ag"], t_fwd) + np.minimum(comm["ag_bwd"] + comm["rs"], t_bwd))


def interference(setup: Setup, hidden: ArrayLike) -> np.ndarray:
    """Compute time lost to `hidden` seconds of overlapped collectives (Efficiency.overlap_interference)."""
    return setup.efficiency.overlap_interference * np.asarray(hidden, dtype=float)


def chunk_windows(fw: ArrayLike, pp: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(k_grad, q_param): how many chunk-backward and chunk-forward passes of one micro-batch hide each model
    chunk's step-level gradient reduction and weight gather under an interleaved pipeline (v > 1); see
    step_sync_exposed. k_grad = (v - 1) PP + 1; q_param = PP for Megatron-LM (its all-gathers run one chunk
    ahead), 1 for the others (each chunk gathers its own weights at its first forward)."""
    p, v_a = np.asarray(pp), np.asarray(v)
    return (v_a - 1) * p + 1, np.where(np.asarray(fw) == MEGATRON, p, 1) + 0 * v_a


def step_sync_exposed(comm: dict[str, np.ndarray], t_stage: ArrayLike, fw: ArrayLike, pp: ArrayLike,
                      v: ArrayLike, overlap: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Exposed seconds of the step-level gradient reduction (grad_step = G) and weight gather (param_step = P)
    of one pipeline stage, given its per-micro-batch compute t_stage (forward 1/3, backward 2/3) and v chunks.

    Gradients. Megatron-LM reduces them only in the last micro-batch's backward (schedules.py runs the others
    under no_sync), bucket by bucket as they fill (--overlap-grad-reduce). Without interleaving that one
    backward, b = 2/3 t_stage, is all that hides G: exposed G - b. With v chunks (interleaved 1F1B) each chunk
    is synchronised as soon as its own last backward ends (core_r0.8.0 schedules.py,
    forward_backward_pipelining_with_interleaving: grad_sync_func[chunk] at is_last_microbatch_for_model_chunk;
    distributed_data_parallel.py buckets only the first chunk, the others reduce as one call), and the
    cooldown runs the chunks' last backwards in order v-1, ..., 0, PP micro-batches each (b = 2/3 t_stage / v
    per chunk and micro-batch). The reductions queue on one stream, G / v each: either each finishes before
    the next chunk completes and only chunk 0's shows, G / v - b, or the queue never drains and it ends
    G - ((v - 1) PP + 1) b after the last backward: exposed = max(0, G/v - b, G - k_grad b). PyTorch's pipeline
    stages (torchtitan FSDP2 with PP) reduce each stage's gradients in its last backward the same way.

    Weights. Megatron's distributed optimizer (--overlap-param-gather, distrib_optimizer.py core_r0.8.0)
    all-gathers the first chunk's buckets behind its first forward (f = t_stage / (3 v) per chunk), and every
    further chunk's gather is dispatched when the previous chunk's first forward starts, which is PP chunk
    forwards before its own (the warm-up runs PP micro-batches per chunk): exposed max(0, P/v - f)
    + (v - 1) max(0, P/v - q_param f). FSDP2 gathers each chunk at its own first forward (q_param = 1).
    v = 1 reduces both to the stage-level forms. `overlap` scales every window (Efficiency.dp_overlap).

    The last bucket. No window hides everything: Megatron-Core lays its buckets out in backprop order
    (param_and_grad_buffer.py: parameters iterated in reverse, a bucket closes at bucket_size = max(40M,
    1M x DP) parameters, distributed_data_parallel.py) and a bucket's reduction starts only once every gradient
    in it is ready in the last micro-batch (register_grad_ready -> start_grad_sync), so the bucket of the first
    layers starts when the backward ends and its reduction is exposed whole (PyTorch DDP the same:
    reducer.cpp launches a bucket when its last gradient arrives, buckets in reverse parameter order). Likewise
    the next forward waits for the gather of the bucket holding its first layers before it can start (the
    forward pre-hook finishes that bucket's all-gather, the step has nothing left to hide it): exposed
    >= grad_last and >= param_first (dp_comm) where the framework overlaps them."""
    G, P = np.asarray(comm["grad_step"]), np.asarray(comm["param_step"])
    v_a = np.asarray(v, dtype=float)
    k, q = chunk_windows(fw, pp, v)
    b = overlap * (2.0 / 3.0) * np.asarray(t_stage) / v_a
    f = overlap * np.asarray(t_stage) / (3.0 * v_a)
    e_grad = np.maximum(np.asarray(comm.get("grad_last", 0.0)), np.maximum(G / v_a - b, G - k * b))
    e_param = (np.maximum(np.asarray(comm.get("param_first", 0.0)), P / v_a - f)
               + (v_a - 1.0) * np.maximum(0.0, P / v_a - q * f))
    return np.where(comm["overlap_grad"], e_grad, G), np.where(comm["overlap_param"], e_param, P)


def total_per_step(comm: dict[str, np.ndarray], layers: ArrayLike, num_micro_batches: ArrayLike) -> np.ndarray:
    """All data-parallel communication of one step (seconds of collectives, hidden or not)."""
    rest = np.maximum(np.asarray(layers, dtype=float) - 1.0, 0.0)
    per_mb = comm["mb_fixed"] + rest * (comm["ag"] + comm["ag_bwd"] + comm["rs"])
    return comm["grad_step"] + comm["param_step"] + np.asarray(num_micro_batches) * per_mb
