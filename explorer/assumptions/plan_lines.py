"""The lines about one plan's figures (explorer.api.evaluate adds them to an estimate): the memory verdict's caveat
and the memory limit, an uneven pipeline split (with the Megatron-LM end stages that run it), the pipeline bubble and
the FLOP convention of MFU, HFU and the FLOP/s figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.accuracy import memory_line
from explorer.cost.frameworks import MEGATRON
from explorer.cost.memory import stage_layers
from explorer.cost.setup import Setup
from explorer.plan import ParallelPlan
from explorer.report import Assumption
from explorer.units import FLOP_RATE_UNITS, human_params, unit_scale

if TYPE_CHECKING:
    from explorer.tracks import Track


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
