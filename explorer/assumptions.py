"""The inputs of a cost-model Setup stated as report assumptions: the node, the model shape, the software stack.

Every `explore solve 3d` and `explore estimate` report lists these lines (text, Markdown, HTML, JSON), so a
reader sees which node, which MLP and which kernels the figures assume. No physics here: the lines only name
what explorer/cost/ computes with, and where each choice comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.accuracy import accuracy_line, memory_line, scale_line
from explorer.cost.efficiency import (
    ATTENTION_KERNEL_NAMES,
    FITTED_FAMILIES,
    FP8_GEMM_SPEEDUP,
    FP8_MEASURED_PART,
    attention_kernel_speed,
    gpu_family,
)
from explorer.cost.frameworks import (
    DEEPSPEED,
    DEFAULT_FRAMEWORK,
    FP32_ATTENTION_SOURCE,
    MEGATRON,
    P2P_SEQUENTIAL_SOURCE,
)
from explorer.cost.frameworks import framework as framework_named
from explorer.cost.memory import _cdiv, in_flight_chunks, stage_layers
from explorer.cost.setup import Setup
from explorer.cost.sharding import FP8_PARAM_GATHER_SOURCE, TE_FP8_WEIGHT_CACHE_SOURCE, te_fp8_weight_cache_bytes
from explorer.cost.stragglers import GPU_SPEED_VARIABILITY_SOURCE
from explorer.cost.time import CROSS_ENTROPY_BYTES as ce_bytes
from explorer.hardware.catalog import get_accelerator, get_node
from explorer.models.architecture import MLP_LABELS
from explorer.plan import ParallelPlan
from explorer.report import Assumption
from explorer.units import FLOP_RATE_UNITS, human_params, unit_scale

if TYPE_CHECKING:
    from explorer.tracks import Track


def node_source(setup: Setup) -> str:
    c = setup.cluster
    node = f"{get_node(c.node).source}; " if c.node else ""
    return f"{node}{c.intra.source}; {c.inter.source}"


def setup_assumptions(setup: Setup, plan: ParallelPlan | None = None, one_plan: bool = False) -> list[Assumption]:
    """Node, model shape, precision, FlashAttention and TP overlap of one Setup, each with its source. plan: the
    plan the figures are for (None: Megatron-LM's way). Its framework decides how TP overlap runs, its ZeRO stage
    whether DeepSpeed runs its BF16_Optimizer, its pipeline whether DeepSpeed's blocking transfers apply, and its
    layout whether DeepSpeed ZeRO-3 shards across nodes. one_plan: the figures are of this plan alone (an estimate),
    so the lines speak of its recompute mode only, where a search's report describes selective recompute 'where
    chosen' among the plans it lists."""
    s, m = setup, setup.model
    framework, zero, pp = (plan.framework, plan.zero, plan.pp) if plan is not None else (None, None, None)
    acc = s.cluster.accelerator
    gated = m.gated  # SwiGLU's or GeGLU's gate and up projections (GELU, ReLU and squared ReLU have one up projection)
    mlp = f"{MLP_LABELS[m.mlp]} MLP ({m.mlp_matrices} matrices h x ffn)"
    if s.precision == "fp8":  # only an FP8 part has a BF16 peak to compare with (a microcontroller has neither)
        fp8_params = ((framework or DEFAULT_FRAMEWORK) == MEGATRON.key and bool(zero)  # _te_fp8_weight_cache
                      and s.fp8_param_gather)
        measured = get_accelerator(FP8_MEASURED_PART)
        prec = ("FP8 training (Transformer Engine): the transformer blocks' linear layers run FP8 GEMMs, "
                f"{s.gemm_peak_flops / s.cluster.accelerator.peak('bf16'):.3g}x as fast as BF16 ones of the same "
                f"shape with their inputs' quantization (measured {FP8_GEMM_SPEEDUP:g}x on the {measured.name}, "
                f"{measured.memory_bandwidth / 1e12:.2g} TB/s; the "
                "quantization is memory-bound, so its share follows this GPU's HBM bandwidth; the datasheet peaks "
                "say 2x); attention and the output layer stay in BF16; "
                + ("the layers' GEMM weights held as FP8 parameters (below)" if fp8_params else "weights kept in BF16")
                + " with FP32 master copies; MFU and HFU are fractions of the FP8 dense peak.")
    else:
        prec = {
            "bf16": "BF16 mixed precision: BF16 weights, activations and GEMMs, FP32 master weights and Adam states.",
            "fp16": "FP16 mixed precision with loss scaling: FP16 weights, activations and GEMMs, FP32 master "
                    "weights and Adam states.",
            "fp32": "FP32 training: 4-byte weights, activations and gradients, FP32 GEMMs.",
        }[s.precision]
        if s.precision in ("fp16", "bf16") and acc.peak_flops.get(s.precision, 0.0) < acc.peak_flops.get("fp32", 0.0):
            # a part whose 16-bit peak is below its FP32 one has no 16-bit arithmetic: its catalog entry prices the
            # conversions (hardware/data/accelerators.toml; the nRF52840's FPv4-SP widens FP16 with VCVTB/VCVTT)
            fp32 = acc.peak_flops["fp32"]
            sc32, unit32 = unit_scale(fp32, FLOP_RATE_UNITS)
            P = s.precision.upper()
            prec = (f"{P} as a storage format: the {acc.name} has no {P} arithmetic, so weights, activations and "
                    f"gradients are stored in {P} (half the bytes of FP32 in memory and over the link) and widened "
                    f"to FP32 as each is loaded, its GEMMs computed in FP32 at the cost of the conversions, slower "
                    f"than FP32 itself ({fp32 / sc32:,.1f} {unit32}); FP32 master weights and optimizer states.")
    scale, rate_unit = unit_scale(s.peak_flops, FLOP_RATE_UNITS)
    peak = f"{s.peak_flops / scale:,.1f} {rate_unit}"
    common = [
        Assumption(f"Node: {s.cluster.describe_node()}.", node_source(s)),
        Assumption(f"Model: {m.name}, {human_params(m.params)} parameters derived from its shape ({m.layers} layers, "
                   f"hidden {m.hidden}, {m.heads} heads, {m.kv_heads} KV heads, {mlp}, ffn {m.ffn}, vocabulary "
                   f"{m.vocab}"
                   + ("; attention and MLP in parallel on the same input, one TP reduction of their summed output "
                      "forward where a sequential block has two" if m.parallel_block else "") + ").", m.source),
        _sequence_length(s),
        Assumption(f"Precision: {prec} Dense peak {peak} per {s.cluster.accelerator.name}.",
                   "Micikevicius et al., Mixed Precision Training (ICLR 2018); NVIDIA Transformer Engine docs; "
                   f"{s.cluster.accelerator.source}"),
    ]
    if not acc.datacenter_stack:
        return common + _on_device(s, plan)
    speed = attention_kernel_speed(s.attention_kernel, acc.key)
    # where FlashAttention-2's rate on this part comes from (Setup.attention_efficiency): the fit, the part's own
    # kernel-benchmark figure (accelerators.toml), or the global value no measurement on the part has set
    fa2_rate = ("at the rate fitted on such runs" if any(acc.key in keys for keys in FITTED_FAMILIES.values()) else
                f"at {acc.attention_efficiency:.0%} of peak from kernel benchmarks on this part"
                if acc.attention_efficiency is not None else
                f"at the global {s.efficiency.attention_efficiency:.0%} of peak (no run or kernel benchmark on this "
                "part measured it)")
    kernel = (_own_loops(s) if not acc.flash_attention_build else
              f"{ATTENTION_KERNEL_NAMES['flash2']}, {fa2_rate}"
              if s.attention_kernel == "flash2" else
              f"{ATTENTION_KERNEL_NAMES[s.attention_kernel]}, {speed:.3g}x the speed of FlashAttention-2 forward + "
              f"backward on this GPU" if speed >= 1 else
              f"{ATTENTION_KERNEL_NAMES[s.attention_kernel]}, {1 / speed:.3g}x slower than FlashAttention-2 forward + "
              "backward on this GPU")
    fp32_dc = s.precision == "fp32" and acc.flash_attention_build  # no fused kernel takes FP32 (FP32_ATTENTION_SOURCE)
    if fp32_dc and s.flash_attention and framework == "fsdp":
        kernel = ("PyTorch SDPA's memory-efficient kernel, the one of its backends that takes FP32 (flash and cuDNN "
                  "take FP16 and BF16 only), priced at FlashAttention-2's rate for want of an FP32 measurement")
    lg = {"fp32": "FP32", "fp16": "FP16"}.get(s.precision, "BF16")  # the logits' dtype (FP8 runs keep BF16 ones)
    no_sp = plan is not None and plan.tp > 1 and not plan.sequence_parallel and s.tp_overlap_on
    overlap = (
        "TP communication overlap (on for this stack) not run: it needs sequence parallelism, which this plan runs "
        "without, so every TP all-reduce blocks the compute stream (Megatron-LM refuses --tp-comm-overlap without "
        "--sequence-parallel)."
        if no_sp else
        "TP communication overlap on, torchtitan's AsyncTP: with sequence parallelism the forward pass's TP "
        "all-gathers and reduce-scatters run micro-pipelined behind its GEMMs; the backward's (and a recomputed "
        "forward's) stay exposed, as the published speedups say (up to 20-29 % on the forward, 8 % on the step)."
        if s.tp_overlap_on and framework == "fsdp" else
        "TP communication overlap on (Megatron-Core --tp-comm-overlap with Transformer Engine userbuffers, on in "
        "NVIDIA's NeMo / Megatron-Bridge H100 recipes): with sequence parallelism "
        "the TP all-gathers and reduce-scatters run behind the GEMMs they feed; 1/4 of the forward "
        "reduce-scatters (TE's 4-way pipelined split) and whatever outlasts the GEMMs stay exposed."
        if s.tp_overlap_on else
        "TP communication overlap off: every TP all-reduce (or reduce-scatter + all-gather with sequence "
        "parallelism) blocks the compute stream (Megatron-LM without --tp-comm-overlap, its default except on Hopper "
        "and Blackwell: Transformer Engine's userbuffers need CUDA multicast; torchtitan without AsyncTP; DeepSpeed).")
    where = "" if one_plan and plan is not None else " (where chosen)"
    return common + [
        Assumption(f"FlashAttention on: the s x s attention scores are never written to HBM, so the backward "
                   f"recomputes them (2.5 forward passes of attention time, as FlashAttention counts it); {kernel}."
                   if s.flash_attention else
                   "Attention unfused: no fused kernel takes FP32 (Transformer Engine's fused and flash backends and "
                   "flash-attn take FP16 and BF16 only), so the s x s attention scores are stored (9as/h activation "
                   "term: the softmax and dropout outputs at 4 bytes, the dropout mask at 1) and stream through HBM; "
                   "QK^T and AV run as per-head batched GEMMs of head_dim by s."
                   if fp32_dc else
                   "FlashAttention off: the s x s attention scores are stored (5as/h activation term) and stream "
                   "through HBM; QK^T and AV run as per-head batched GEMMs of head_dim by s (runs before mid-2022).",
                   "Dao et al., FlashAttention (NeurIPS 2022); Dao, FlashAttention-2 (arXiv 2307.08691), Algorithm 2 "
                   "and fig. 4; Dao-AILab/flash-attention benchmarks/benchmark_flash_attention.py; Korthikanti et al. "
                   "2022, sec. 4.1"
                   + (f"; {acc.attention_efficiency_source}" if acc.attention_efficiency_source else "")
                   + (f"; {FP32_ATTENTION_SOURCE}" if fp32_dc else "")),
        Assumption("Fused memory-bound kernels (Transformer Engine / Apex fused norms and bias-dropout-add, or "
                   "torch.compile)." if s.fused_kernels else
                   "Eager PyTorch: every norm, residual add and activation is its own kernel and HBM pass "
                   "(llm-foundry/Composer of 2023)" + _eager_chains(s) + ".",
                   "explorer/cost/efficiency.py elementwise_bytes_per_hidden(_eager), fitted by explorer/calibrate.py"
                   + ("" if s.fused_kernels else "; explorer/cost/eager.py (counted from torchtitan's model code)")),
        Assumption(("Projections fused: Q, K and V by one GEMM"
                    + (f" and {MLP_LABELS[m.mlp]}'s gate and up by one" if gated else "")
                    + ", as Megatron-Core lays them out.") if s.fused_projections else
                   ("Projections separate: Q, K, V" + (f" and {MLP_LABELS[m.mlp]}'s gate and up" if gated else "")
                    + " each their own GEMM, as torchtitan's Llama runs them (--framework fsdp)."),
                   "explorer/cost/efficiency.py layer_gemm_efficiency; explorer/cost/frameworks.py "
                   "stack_layout_default"),
    ] + ([] if one_plan and plan is not None and plan.recompute != "selective" else [
        Assumption(f"Selective recompute{where} reruns the attention core (Megatron-LM "
                   "--recompute-granularity selective)." if s.selective_policy == "attention" else
                   f"Selective recompute{where} is torchtitan's per-op policy: every second matmul, the "
                   "elementwise ops and the TP all-gathers rerun in the backward; the attention output is saved.",
                   "Korthikanti et al. 2022 sec. 5; pytorch/torchtitan activation_checkpoint.py (_save_list)"),
    ]) + [
        Assumption(f"Loss memory: {s.loss_bytes_per_logit} bytes per logit element (tokens x vocabulary / TP) on top "
                   f"of the stored activations of {_loss_stage(plan)}, "
                   + (f"Transformer Engine's fused cross entropy (--cross-entropy te): the {lg} logits, overwritten "
                      f"in place by their gradient; its passes read and write {ce_bytes['te']:g} bytes per logit "
                      f"({ce_bytes['unfused']:g} unfused)."
                      if s.cross_entropy == "te" else
                      f"flash-attn's fused cross entropy (--cross-entropy flash-attn): the {lg} logits and the {lg} "
                      f"gradient its backward writes; its passes read and write {ce_bytes['flash-attn']:g} bytes per "
                      f"logit ({ce_bytes['unfused']:g} unfused)."
                      if s.cross_entropy == "flash-attn" else
                      f"Megatron-LM's vocab-parallel cross-entropy: the {lg} logits and the FP32 copy it works on in "
                      "place." if s.loss_bytes_per_logit == 6 else
                      "torchtitan's cross_entropy on an FP32 copy of the logits: the copy, its FP32 log-softmax and, "
                      "in the backward, their gradients." if s.loss_bytes_per_logit == 12 else
                      f"torchtitan's cross_entropy under torch.compile: the {lg} logits and the {lg} gradient of one "
                      "fused kernel." if s.loss_bytes_per_logit == 4 else "as given."),
                   "NVIDIA/Megatron-LM megatron/core/tensor_parallel/cross_entropy.py and pipeline_parallel/"
                   "schedules.py (warm-up per rank); pytorch/torchtitan train.py (loss_fn, 2024-12) and "
                   "torchtitan/components/loss.py (compiled with the model since 2025); torch/_functorch/"
                   "partitioners.py (min-cut); NVIDIA/TransformerEngine transformer_engine/pytorch/triton/"
                   "cross_entropy.py; Dao-AILab/flash-attention flash_attn/ops/triton/cross_entropy.py; "
                   "explorer/cost/memory.py peak_activations_and_working, explorer/cost/time.py logits_time"),
        Assumption(overlap, "PyTorch dev-discuss, 'Introducing Async Tensor Parallelism in PyTorch' (2024-08); "
                            "explorer/cost/time.py async_tp_exposed" if s.tp_overlap_on and framework == "fsdp" else
                            "NVIDIA/TransformerEngine transformer_engine/pytorch/module/base.py (initialize_ub "
                            "defaults and its CUDA multicast check); Megatron-LM arguments --tp-comm-overlap; "
                            "explorer/cost/frameworks.py TP_OVERLAP_SOURCE"),
        Assumption(f"Overlapped collectives are not free: the data-parallel gradient reduction and weight gathers, "
                   f"FSDP / ZeRO-3's per-layer gathers and reduce-scatters and the context-parallel ring slow the "
                   f"compute they hide behind by {s.efficiency.overlap_interference:.1%} of their own time (their NCCL "
                   f"kernels take SMs and HBM bandwidth); counted in the exposed data-parallel and CP time.",
                   "Lee et al., Characterizing Compute-Communication Overlap in GPU-Accelerated Distributed Deep "
                   "Learning (arXiv 2507.03114): 18.9 % average compute slowdown; explorer/cost/efficiency.py "
                   "overlap_interference"),
    ] + ([Assumption(
        "Pipeline split: the embedding and the output layer each take a layer's slot, so the last stage runs its "
        "output layer in place of a transformer layer" + (
            " (Megatron-Core --account-for-embedding-in-pipeline-split and --account-for-loss-in-pipeline-split)."
            if (framework or DEFAULT_FRAMEWORK) == "megatron" else
            ", as Meta's Llama 3 schedule places them (in Megatron-Core: --account-for-embedding-in-pipeline-split "
            "and --account-for-loss-in-pipeline-split; this framework needs its own stage split to match)."),
        "Chu et al. (Meta), Scaling Llama 3 Training with Efficient Parallelism Strategies (ISCA '25) sec. 3.1.2; "
        "Meta, arXiv 2407.21783 sec. 3.3.2; explorer/cost/setup.py embedding_pipeline_slot")]
        if s.embedding_pipeline_slot else []) + _recompute_every(s, plan) + _replay_early_stop(
        s, plan) + _bf16_optimizer(s, framework, zero) + _autograd_accumulation(
        s, framework, zero) + _deepspeed_pipeline(framework, pp) + _deepspeed_zero3_across_nodes(
        s, plan) + _megatron_fsdp(plan) + _hsdp(s, plan) + _fp8_all_gather(s) + _te_fp8_weight_cache(
        s, plan) + _dtensor_tp(s, plan) + _slowest_gpu(s) + [
        Assumption(accuracy_line(framework or DEFAULT_FRAMEWORK, s.cluster.accelerator.key,
                                 s.cluster.accelerator.name, s.precision),
                   "explorer/data/reference/accuracy.json (python -m explorer.accuracy), from explore validate: "
                   "leave-one-table-out predictions of the shipped reference tables"),
    ] + _scale(s)


def _loss_stage(plan: ParallelPlan | None) -> str:
    """Where the loss's copies of the logits sit, for the loss-memory line: the last pipeline stage (with fewer or as
    many micro-batches in flight as the first, explorer/cost/memory.py in_flight_chunks), or without a pipeline
    the one micro-batch in flight."""
    if plan is not None and plan.pp == 1:
        return ("the micro-batch in flight (no pipeline: the one stage runs each micro-batch's forward and backward in "
                "turn, so the loss sits on one micro-batch's activations)")
    if plan is not None:
        first, last = (int(in_flight_chunks(plan.pp, plan.virtual_stages, plan.num_micro_batches, end))
                       for end in (False, True))
        unit = "micro-batch" if plan.virtual_stages == 1 else "model chunk"
        held = (f"which holds {last} {unit}{'es' if unit == 'micro-batch' and last > 1 else 's' if last > 1 else ''}"
                f" in flight to the first's {first}" if last < first else
                f"which holds as many {unit}{'es' if unit == 'micro-batch' else 's'} in flight as the first, {first}")
        return f"the last pipeline stage, {held} (the memory shown is the end that peaks higher)"
    return ("the last pipeline stage, which holds fewer micro-batches in flight than the first (the memory shown is "
            "the end that peaks higher)")


def attention_kernel_assumption(setup: Setup) -> Assumption:
    """The attention kernel a puzzle's step time is priced with, for the puzzles that price steps on the track's own
    stack without the whole list of setup_assumptions (scaling, sync): the default framework's kernel on the part,
    as `solve 3d` and `estimate` price the same plan (frameworks.attention_kernel_default)."""
    acc = setup.cluster.accelerator
    if not acc.flash_attention_build or not acc.datacenter_stack:
        kernel = f"attention in the {acc.name}'s own loops (no FlashAttention build runs on it)"
    elif not setup.flash_attention:
        kernel = "attention unfused (the s x s scores written to HBM)"
    elif gpu_family(acc.key) is None:  # no datacenter family: no framework default is catalogued for the part
        kernel = f"on the {acc.name}, {ATTENTION_KERNEL_NAMES[setup.attention_kernel]}"
    else:
        kernel = (f"{ATTENTION_KERNEL_NAMES[setup.attention_kernel]}, the kernel the default framework "
                  f"({framework_named(DEFAULT_FRAMEWORK).name}) runs on the {acc.name}")
    return Assumption(f"Attention: {kernel}; `solve 3d` and `estimate` price the same plan with the same kernel.",
                      "explorer/cost/frameworks.py attention_kernel_default (Transformer Engine's FusedAttention on "
                      "Hopper and Blackwell; FlashAttention-2 elsewhere); explorer/cost/efficiency.py "
                      "attention_kernel_speed")


def memory_verdict_caveat(setup: Setup, plan: ParallelPlan, total: int, limit: int,
                          sequence_shard_total: int | None) -> list[Assumption]:
    """Where an estimate on the fsdp stack (the one Meta's Llama 3 runs are costed on) does not fit and its
    activations are counted in a way known to run high (docs/validation.md
    'Where it misses, and why', DTensor tensor parallelism keeps its gathered inputs): DTensor TP's gathered GEMM
    inputs (torchtitan's TP; sequence_shard_total: the total with the sequence shard kept instead, as Megatron-LM and
    Meta's own TP keep it), and a no-recompute pipeline, whose count is higher than Meta's Llama 3 405B runs held.
    The verdict stays the count's; the line says what is known about it. No physics: the totals are given."""
    if total <= limit:
        return []
    dtensor = sequence_shard_total is not None and sequence_shard_total < total
    no_ac_pipeline = plan.pp > 1 and plan.recompute == "none"
    if plan.framework != "fsdp" or not (dtensor or no_ac_pipeline):
        return []
    sc, unit = unit_scale(max(total, limit))
    parts = ["Memory verdict: the count's, and for this stack the count is known to run high."]
    if dtensor:
        alt = sequence_shard_total
        parts.append(
            f"Of the {total / sc:,.3f} {unit}, {(total - alt) / sc:,.3f} {unit} are DTensor's gathered GEMM inputs "
            "(torchtitan's tensor parallelism keeps the attention's and the MLP's inputs whole on every TP rank); a "
            "tensor parallelism that keeps the sequence shard (Megatron-LM's, and the count the reference table of "
            f"Meta's runs takes for Meta's own) would hold "
            f"{alt / sc:,.3f} {unit}, {'within' if alt <= limit else 'still over'} the {limit / sc:,.3f} {unit} limit.")
    if no_ac_pipeline:
        parts.append(
            "Meta trained Llama 3 405B at TP 8, PP 16, v 8 without activation recompute on 80 GB H100s, where this "
            "count gives 149-165 GB per GPU with DTensor's inputs and 89-98 GB without: no-recompute pipelines are "
            "counted above what that stack held, by a mechanism the paper does not detail (it names freeing the "
            "tensors no later computation uses, each pipeline stage's input and output among them). Read the "
            "verdict as the model's count, not as a measurement.")
    return [Assumption(" ".join(parts),
                       "docs/validation.md 'Where it misses, and why' (DTensor tensor parallelism keeps its gathered "
                       "inputs); Meta, The Llama 3 Herd of Models, arXiv 2407.21783 sec. 3.3.2 and Table 4; "
                       "explorer/cost/memory.py _per_token_numerator (Setup.tp_saves_gathered_input)")]


def memory_limit_assumption(setup: Setup, track: Track | None) -> Assumption:
    """What the memory limit of an estimate is: the usable fraction of the device's memory (Setup.
    usable_memory_fraction, Setup.memory_limit_bytes), where the fraction comes from (the track's [cluster]
    usable_memory_fraction, or as given: track None) and what the rest is held back for (the track's [cluster]
    held_back). No physics: the figures are the Setup's."""
    acc, frac = setup.cluster.accelerator, setup.usable_memory_fraction
    sc, unit = unit_scale(setup.memory_limit_bytes)
    source = track.sources.get("cluster", "") if track is not None else ""
    head = (f"Memory limit {setup.memory_limit_bytes / sc:,.3f} {unit} per device (the 'limit' of the memory "
            f"figures): {frac:.0%} of the {acc.memory_bytes / sc:,.4g} {unit} of memory the {acc.name} offers")
    if frac >= 1:
        rest = " (all of it)"
    else:
        held = f"the other {1 - frac:.0%}, {(1 - frac) * acc.memory_bytes / sc:,.3g} {unit}, is held back for"
        why = track.memory_held_back if track is not None else ""
        rest = (f"; {held} what the count leaves out (the {track.name} track: {why})" if track is not None and why
                else f"; {held} what the count leaves out (the {track.name} track's figure)" if track is not None
                else f"; {held} what the count leaves out (the usable memory fraction given)")
    where = (f"explorer/data/tracks/{track.key}.toml [cluster] usable_memory_fraction: {source}; "
             if track is not None else "usable_memory_fraction as given; ")
    measured = memory_line(acc.datacenter_stack)
    return Assumption(f"{head}{rest}. The memory figures count the model's own tensors (weights, gradients, "
                      "optimizer state, activations, working buffers) against it."
                      + (f" {measured}" if measured else ""),
                      f"{where}{acc.source}; explorer/cost/setup.py Setup.memory_limit_bytes"
                      + ("; explorer/data/reference/accuracy.json 'memory_peaks'" if measured else ""))


def megatron_end_stages(layers: int, pp: int, v: int) -> tuple[int, int, int] | None:
    """An uneven split Megatron-LM runs, (first, middle, last) layers per pipeline rank: its --decoder-first- and
    --decoder-last-pipeline-num-layers set the end ranks and the pp - 2 middle ones share the rest equally; under
    interleaving every rank's count is a multiple of the v virtual stages (megatron/core/transformer/
    transformer_block.py get_num_layers_to_build). Among those whose most loaded rank holds no more than the cost
    model's ceil(L / (pp v)) v (explorer/cost/memory.py stage_layers), the most balanced, the lighter end last (it
    also holds the output layer); None when there is none (only --pipeline-model-parallel-layout lays it out)."""
    heavy = -(-layers // (pp * v)) * v
    best = None
    for mid in range(heavy, 0, -v) if pp > 2 else (0,):
        rest = layers - (pp - 2) * mid
        if rest % v or rest < 2 * v:
            continue
        last = (rest // 2) // v * v
        first = rest - last
        if not (0 < last <= first <= heavy):
            continue
        sizes = (first, last) + ((mid,) if pp > 2 else ())
        key = (max(sizes) - min(sizes), -first)
        if best is None or key < best[0]:
            best = (key, (first, mid, last))
    return best[1] if best else None


def pipeline_split_assumptions(setup: Setup, plan: ParallelPlan) -> list[Assumption]:
    """A pipeline whose layers (with --embedding-slots: layers + 2 slots) do not split evenly over PP x v chunks:
    how the cost model splits them (explorer/cost/memory.py stage_layers: ceil-sized chunks, the most loaded rank
    counted and pacing every stage) and, under Megatron-LM, which flags run such a split. Empty for an even split."""
    m, pp, v = setup.model, plan.pp, plan.virtual_stages
    slots = setup.embedding_pipeline_slot
    units = m.layers + (2 if slots else 0)
    chunks = pp * v
    if pp < 2 or units % chunks == 0:
        return []
    per = -(-units // chunks)
    full = units - (per - 1) * chunks  # chunks of `per`; the others hold per - 1
    held = int(stage_layers(m.layers, pp, v))  # the layers whose memory is counted
    if slots:
        what = f"{m.layers} layers and the embedding and output slots ({units} slots)"
        counted = (f"the estimate paces every stage by the most loaded rank's {per * v} slots and counts the memory "
                   f"of {held} layers")
    else:
        what = f"{m.layers} layers"
        counted = f"the estimate counts the most loaded rank, {per * v} layers, for the memory shown and paces every " \
                  "stage by it"
    if v == 1:
        text = (f"Uneven pipeline split: PP {pp} takes the {what} as {full} stage{'s' if full > 1 else ''} of {per} "
                f"and {chunks - full} of {per - 1}; {counted} (the lighter stages' slack is not credited).")
    else:
        text = (f"Uneven pipeline split: PP {pp} x {v} virtual stages takes the {what} as {chunks} chunks, {full} of "
                f"{per} and {chunks - full} of {per - 1} ({units / pp:.3g} per rank on average); {counted}.")
    if plan.framework == MEGATRON.key and setup.cluster.accelerator.datacenter_stack:
        refused = ("Megatron-LM refuses this split as it stands: "
                   + (f"with --account-for-embedding-in-pipeline-split and --account-for-loss-in-pipeline-split the "
                      f"{units} slots must divide evenly over the {pp} ranks" if slots else
                      f"the layers must divide evenly over the {pp} ranks")
                   + (f" and each rank's over its {v} virtual stages" if v > 1 else ""))
        ends = None if slots else megatron_end_stages(m.layers, pp, v)
        if ends is not None:
            first, mid, last = ends
            # a flag for each end that differs from the middle ranks (PP 2: the first; the last takes the rest)
            flags = " ".join(f for f in (
                f"--decoder-first-pipeline-num-layers {first}" if pp == 2 or first != mid else "",
                f"--decoder-last-pipeline-num-layers {last}" if pp > 2 and last != mid else "") if f)
            split = "/".join(str(x) for x in [first] + [mid] * (pp - 2) + [last])
            text += (f" {refused}; it runs with {flags} ({split} layers, the ranks not named sharing the rest "
                     "equally" + (f", each rank's a multiple of {v}" if v > 1 else "") + ").")
        else:
            why = ("--decoder-first/last-pipeline-num-layers do not combine with those slots" if slots else
                   f"no first and last stage sizes leave the middle ranks equal with every rank's layers a multiple "
                   f"of {v}" if v > 1 else "no first and last stage sizes leave the middle ranks equal")
            text += (f" {refused}, and {why}: it needs --pipeline-model-parallel-layout, which names each chunk's "
                     "layers.")
    return [Assumption(text, "explorer/cost/memory.py stage_layers; NVIDIA/Megatron-LM megatron/training/arguments.py "
                             "(validate_args: 'Number of layers should be divisible by the pipeline-model-parallel "
                             "size'; --decoder-first-pipeline-num-layers, --decoder-last-pipeline-num-layers, "
                             "--pipeline-model-parallel-layout) and megatron/core/transformer/transformer_block.py "
                             "get_num_layers_to_build (the middle ranks share the rest equally, each rank's layers "
                             "divisible by the virtual stages, uneven ends not with the embedding and loss slots)")]


ATTENTION_SHARE_SAID = 0.10
"""Attention's share of the counted FLOPs from which the FLOP-convention line also gives the causal count's MFU."""


def _seconds(x: float) -> str:
    """Seconds as the estimate's time breakdown prints them (4 decimals), small ones to 3 significant digits."""
    return f"{x:.4f} s" if x >= 0.01 else f"{x:.3g} s"


def bubble_assumption(plan: ParallelPlan, bubble_fraction: float, bubble_s: float, step_s: float) -> list[Assumption]:
    """What the pipeline bubble figures mean (PP > 1): the headline's fraction is the schedule's idealised idle share
    of equal chunk slots, f / (v m + f) with f = p - 1 (more under interleaving with m < p: step.py), the figure the
    3D puzzle's bubble limit reads; beside it the share of this step's time the bubble takes (the time breakdown's
    bubble over the step), which the output layer on the pacing rank and the step's sync and optimizer time make
    smaller. No physics: the figures are the estimate's."""
    p, v, m = plan.pp, plan.virtual_stages, plan.num_micro_batches
    if p == 1:
        return []
    fills = p - 1 + ((v - 1) * max(0, p - m) if v > 1 else 0)
    chunks = v * m
    waits = (f", plus (v - 1)(p - m) = {fills - (p - 1)} waits of a rank for its first micro-batch to come round "
             f"(fewer micro-batches than stages)" if fills != p - 1 else "")
    share = bubble_s / step_s if step_s > 0 else 0.0
    text = (f"Pipeline bubble: the headline's {bubble_fraction:.1%} is the schedule's idealised share, {fills} idle "
            f"chunk slots of {chunks + fills} per rank (p - 1 = {p - 1} for the warm-up and cool-down{waits}, "
            f"against v m = {chunks} busy ones), the figure `explore solve 3d`'s bubble limit reads; in time the "
            f"bubble takes {_seconds(bubble_s)}, {share:.1%} of this {_seconds(step_s)} step.")
    if abs(share - bubble_fraction) >= 0.0005:
        text += (" The two differ: the warm-up and cool-down chunks run on the ranks without the output layer, while "
                 "the steady state runs at the pace of the rank that has it, and the step also holds the exposed "
                 "data-parallel sync and the optimizer.")
    return [Assumption(text, "Narayanan et al. SC'21 sec. 2.2 ((p - 1)/(v m)); docs/conventions.md 'Pipeline bubble'; "
                             "explorer/cost/step.py evaluate (t_fill, bubble_time_share)")]


def flop_convention_assumption(setup: Setup, mfu: float, model_flops_rate: float) -> Assumption:
    """How MFU, HFU and model FLOP/s count FLOPs (models/architecture.py DecoderModel.model_flops_per_token: PaLM's
    6N + 12 L h s per token, attention over the full s x s) and, where attention is a material share of that count
    (ATTENTION_SHARE_SAID), the MFU a causal count (the attention term halved) gives for the same step. Arithmetic
    on the model's own count only: the step time is untouched. model_flops_rate: model FLOP/s per device."""
    m, seq = setup.model, setup.seq_len
    total = m.model_flops_per_token(seq)
    attention = 3.0 * m.layers * m.attention_forward_flops_per_token(seq)  # forward + backward (2x): 3 passes
    weights = m.layers * m.layer_matmul_params + m.vocab * m.hidden  # the N of 6N: the matrices the GEMMs multiply
    share = attention / total
    text = (f"FLOPs as MFU, HFU and the FLOP/s figures count them: PaLM's 6N + 12 L h s per token (N = "
            f"{human_params(weights)} weights of the layers' and the output layer's matrices, L = {m.layers} layers, "
            f"h = {m.hidden}, s = {seq:,} tokens; the backward counted as twice the forward), attention's score and "
            "value matmuls over the whole s x s matrix, twice the work a causal kernel does."
            + (" Megatron-LM's papers (SC'21) and its code before 2025-03, NeMo's TFLOP/s and Llama 3's Table 4 "
               "count it so; Megatron-LM since 2025-03 halves the attention term."
               if setup.cluster.accelerator.datacenter_stack else "")  # on-device: no data-centre stack to name
            + f" Here attention is {share:.1%} of the counted FLOPs")
    if share >= ATTENTION_SHARE_SAID:
        causal = 1.0 - share / 2.0
        sc, unit = unit_scale(model_flops_rate * causal, FLOP_RATE_UNITS)
        text += (f": counted causal, the same step would be MFU {mfu * causal:.2%}, "
                 f"{model_flops_rate * causal / sc:,.1f} {unit} of model FLOPs per device.")
    else:
        text += "."
    return Assumption(text, "Chowdhery et al., PaLM (arXiv 2204.02311) Appendix B; Narayanan et al., SC'21 (arXiv "
                            "2104.04473) Appendix; NVIDIA/Megatron-LM megatron/training/training.py "
                            "num_floating_point_operations (commit 8873b55d, 2025-03-06: 'Only half of the attention "
                            "matrix is non-zero'); Meta, arXiv 2407.21783 Table 4 (explorer/data/reference/tables.toml "
                            "llama3_table4); docs/validation.md (NeMo's TFLOP/s count attention in full); "
                            "models/architecture.py DecoderModel.model_flops_per_token")


def _sequence_length(s: Setup) -> Assumption:
    """The sequence length against the model's context: a catalog model's native one and position scheme, from its
    source; a custom shape (DecoderModel.key 'custom') has neither from the user, so the line says what is assumed
    (DecoderModel's defaults: RoPE positions), not a context it was 'built for'."""
    m = s.model
    positions = {"alibi": "ALiBi", "rope": "RoPE"}.get(m.position, "learned")
    if m.key == "custom":
        text = (f"Sequence length {s.seq_len:,} tokens (a custom shape: the table of {m.max_seq:,} learned positions "
                "it was given bounds it)." if m.position == "learned" else
                f"Sequence length {s.seq_len:,} tokens (a custom shape: no native context length was given, and "
                f"{positions} positions are assumed, which run at any length).")
        return Assumption(text, f"{m.source}; models/architecture.py DecoderModel (position defaults to RoPE)")
    return Assumption(f"Sequence length {s.seq_len:,} tokens ({m.name} was built for {m.max_seq:,}: "
                      + ("learned position embeddings)." if m.position == "learned" else
                         f"{positions} positions, which run at other lengths too)."), m.source)


def _own_loops(s: Setup) -> str:
    """Attention on a part without a FlashAttention build (Accelerator.flash_attention_build false), as a clause."""
    return (f"no FlashAttention build runs on the {s.cluster.accelerator.name}: QK^T and AV as its own loops at "
            f"{s.attention_efficiency:.0%} of peak, the part's GEMM figure, the s x s scores kept on chip tile by tile "
            "as a fused kernel keeps them")


def _on_device(s: Setup, plan: ParallelPlan | None) -> list[Assumption]:
    """The kernel and stack lines for a part that runs none of the data-centre stack (Accelerator.datacenter_stack
    false: a microcontroller, a phone's or glasses' NPU or GPU): what the step is priced with, in the part's own terms,
    and no Megatron-LM, NCCL or Transformer Engine there is to name."""
    acc, m = s.cluster.accelerator, s.model
    gated = f" and {MLP_LABELS[m.mlp]}'s gate and up" if m.gated else ""
    attention = (
        f"Attention: {_own_loops(s)}, so the backward computes them again (2.5 forward passes of attention time)."
        if s.flash_attention else
        "Attention scores stored: the s x s scores are written to memory and read back in the backward (5as/h "
        "activation term); QK^T and AV run as per-head loops of head_dim by s.")
    lines = [
        Assumption(attention, "; ".join(x for x in (acc.attention_efficiency_source, acc.matmul_efficiency_source,
                                                     "Dao et al., FlashAttention (NeurIPS 2022)") if x)),
        Assumption("Memory-bound passes (norms, residual adds, activations) as fused loops, each reading and writing "
                   f"its tensors once at the part's {acc.memory_bandwidth / 1e9:.3g} GB/s; the bytes per token are "
                   "the count fitted on GPU runs, not measured on this part." if s.fused_kernels else
                   "Memory-bound passes (norms, residual adds, activations) each its own loop over memory, one pass "
                   f"per op at the part's {acc.memory_bandwidth / 1e9:.3g} GB/s" + _eager_chains(s) + ".",
                   "explorer/cost/efficiency.py elementwise_bytes_per_hidden(_eager); " + acc.source),
        Assumption(("Projections fused: Q, K and V by one matrix product" + (gated + " by one" if gated else "")
                    if s.fused_projections else
                    "Projections separate: Q, K, V" + gated + " each their own matrix product") + ".",
                   "explorer/cost/efficiency.py layer_gemm_efficiency"),
        Assumption("Selective recompute (where chosen) reruns the attention core in the backward.",
                   "Korthikanti et al. 2022 sec. 5"),
        Assumption(f"Loss memory: {s.loss_bytes_per_logit} bytes per logit element (tokens x vocabulary) on top of "
                   "the stored activations: the logits and the copy the cross-entropy works on.",
                   "explorer/cost/memory.py peak_activations_and_working"),
    ]
    if plan is not None and plan.tp > 1:
        lines.append(Assumption("Tensor-parallel reductions block the compute: nothing overlaps them on this part.",
                                "explorer/cost/time.py"))
    if plan is not None and plan.dp * plan.cp > 1:
        lines.append(Assumption(
            f"Overlapped collectives slow the compute they hide behind by {s.efficiency.overlap_interference:.1%} of "
            "their own time, a figure measured on GPUs (NCCL kernels taking SMs), not on this part.",
            "Lee et al., arXiv 2507.03114; explorer/cost/efficiency.py overlap_interference"))
    lines.append(Assumption(
        f"Accuracy: no published training run on the {acc.name} is among the reference tables (explore validate), "
        f"so nothing has checked these figures there. Its GEMM figure ({acc.matmul_efficiency:.0%} of peak) is the "
        "catalog's; the other efficiency parameters were fitted on A100 and H100 runs.",
        acc.matmul_efficiency_source or acc.source))
    return lines


def _scale(s: Setup) -> list[Assumption]:
    """How the tables' weak-scaling series lost per-GPU throughput against the model, for a plan on a few hundred
    datacenter GPUs or more (accuracy.scale_line)."""
    text = scale_line(s.cluster.devices, s.cluster.accelerator.key)
    return [Assumption(text, "explorer/data/reference/accuracy.json 'weak_scaling' (explorer/accuracy.py "
                             "_weak_scaling), from explore validate: runs of one table that differ only in GPU count "
                             "and DP degree")] if text else []


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


def _eager_chains(s: Setup) -> str:
    """The eager op chains of the model's layer that the step time counts (explorer/cost/eager.py), as a clause."""
    m = s.model
    parts = [name for name, on in (("RMSNorm", m.norm == "rms" and not s.fused_norm), ("rotary embedding",
                                    m.position == "rope"), (MLP_LABELS[m.mlp], m.gated)) if on]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"; this model's {listed} run as chains of PyTorch ops, their HBM traffic counted op by op"
