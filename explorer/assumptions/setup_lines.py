"""The lines of setup_assumptions: the node, the model shape, the sequence length, the precision, the attention
kernel, the fused kernels and projections, recompute, the loss memory, TP overlap and overlap interference (and a
part without the data-centre stack: _on_device), then the software-stack lines (stack_lines.py), the accuracy and
the weak-scaling lines; and attention_kernel_assumption, the kernel line alone for the puzzles that price steps on
the track's own stack."""

from __future__ import annotations

from explorer.accuracy import accuracy_line, scale_line
from explorer.assumptions.stack_lines import (
    _autograd_accumulation,
    _bf16_optimizer,
    _deepspeed_pipeline,
    _deepspeed_zero3_across_nodes,
    _dtensor_tp,
    _fp8_all_gather,
    _hsdp,
    _megatron_fsdp,
    _recompute_every,
    _replay_early_stop,
    _slowest_gpu,
    _te_fp8_weight_cache,
)
from explorer.cost.efficiency import (
    ATTENTION_KERNEL_NAMES,
    FITTED_FAMILIES,
    FP8_GEMM_SPEEDUP,
    FP8_MEASURED_PART,
    attention_kernel_speed,
    gpu_family,
)
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, FP32_ATTENTION_SOURCE, MEGATRON
from explorer.cost.frameworks import framework as framework_named
from explorer.cost.memory import in_flight_chunks
from explorer.cost.setup import Setup
from explorer.cost.time import CROSS_ENTROPY_BYTES as ce_bytes
from explorer.hardware.catalog import get_accelerator, get_node
from explorer.models.architecture import MLP_LABELS
from explorer.plan import ParallelPlan
from explorer.report import Assumption
from explorer.units import FLOP_RATE_UNITS, human_params, unit_scale


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


def _eager_chains(s: Setup) -> str:
    """The eager op chains of the model's layer that the step time counts (explorer/cost/eager.py), as a clause."""
    m = s.model
    parts = [name for name, on in (("RMSNorm", m.norm == "rms" and not s.fused_norm), ("rotary embedding",
                                    m.position == "rope"), (MLP_LABELS[m.mlp], m.gated)) if on]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"; this model's {listed} run as chains of PyTorch ops, their HBM traffic counted op by op"
