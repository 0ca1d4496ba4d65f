"""`explore estimate`: the figures of one configuration."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import (
    choice,
    cluster_options,
    framework_options,
    model_options,
    recompute_every_option,
    stack_options,
)
from explorer.tracks import TRACKS
from explorer.units import MS, US


@main.command("estimate")
@click.option("--track", type=choice(TRACKS), default="cloud", show_default=True,
              help="Scenario whose defaults fill what is not given: the model, the cluster, the sequence length and "
                   "the global batch; with the track's own model and GPU also --zero and --recompute, from its crisis "
                   "plan (the assumptions say so). TP, PP, CP and the micro-batch default as shown, except that "
                   "with no plan, model or cluster option at all the track's whole crisis plan is evaluated.")
@model_options
@click.option("--seq-len", type=V.SEQ_LEN, default=None,
              help="Sequence length in tokens (default: the track's, or the model's context if shorter).")
@cluster_options
@stack_options
@click.option("--tp", type=V.DEGREE, default=1, show_default=True)
@click.option("--pp", type=V.DEGREE, default=1, show_default=True)
@click.option("--dp", type=V.DEGREE, default=None, help="Default: gpus / (TP x PP x CP).")
@click.option("--cp", type=V.DEGREE, default=1, show_default=True)
@click.option("--virtual-stages", type=V.DEGREE, default=1, show_default=True)
@click.option("--micro-batch", type=V.MICRO_BATCH, default=1, show_default=True)
@click.option("--global-batch", type=V.GLOBAL_BATCH, default=None)
@click.option("--zero", type=V.ZERO_STAGE, default=None,
              help="ZeRO stage (default: the track's crisis plan's for its own model and GPU, else the framework's: "
                   "3 for fsdp, FSDP2's fully_shard; 0 otherwise). Megatron-LM runs 2 and 3 as Megatron-FSDP, "
                   "without PP.")
@click.option("--recompute", type=choice(["none", "selective", "full"]), default=None,
              help="Activation recompute (default: the track's crisis plan's for its own model and GPU, else none).")
@recompute_every_option
@click.option("--sequence-parallel/--no-sequence-parallel", default=True, show_default=True)
@click.option("--hsdp/--no-hsdp", default=False, show_default=True,
              help="Shard inside a node, replicate across nodes: FSDP2 (ZeRO 2/3), and Megatron-LM's ZeRO 2/3 "
                   "through Megatron-FSDP (--num-distributed-optimizer-instances = nodes).")
@click.option("--embedding-slots/--no-embedding-slots", default=False, show_default=True,
              help="Under PP the embedding and the output layer each take a layer's slot (Megatron-Core "
                   "--account-for-embedding-in-pipeline-split and --account-for-loss-in-pipeline-split; Llama 3 "
                   "405B: 126 layers in 128 slots of PP 16 x V 8). No effect at PP=1 (said so).")
@framework_options
@click.option("--format", "fmt", type=choice(["text", "json"]), default="text", show_default=True)
def estimate_cmd(track, model, layers, hidden, heads, kv_heads, ffn, vocab, mlp, parallel_block, seq_len,
                 gpu, gpus, gpus_per_node,
                 network, intra_network, precision, flash_attention, attention_kernel, tp_comm_overlap, fused_kernels,
                 tp, pp, dp, cp, virtual_stages, micro_batch, global_batch, zero, recompute, recompute_every,
                 sequence_parallel, hsdp, fp8_all_gather, fp8_param_gather, grad_accumulation_fusion, cross_entropy,
                 embedding_slots, framework, grad_reduce_dtype, in_network_reduction, fmt) -> None:
    """Evaluate one configuration: memory and time breakdowns, MFU, HFU, tokens/s."""
    from explorer.api import estimate

    crisis = _crisis_if_bare(track)
    if crisis is not None:  # `explore estimate` alone: the track's crisis plan, not TP = PP = 1 on 1,024 GPUs
        tp, pp, cp, virtual_stages, micro_batch = (crisis.tp, crisis.pp, crisis.cp, crisis.virtual_stages,
                                                   crisis.micro_batch)
    e = estimate(track=track, model=model, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ffn=ffn,
                 vocab=vocab, mlp=mlp, parallel_block=parallel_block, gpu=gpu, gpus=gpus,
                 gpus_per_node=gpus_per_node, network=network,
                 intra_network=intra_network, seq_len=seq_len, tp=tp, pp=pp, dp=dp, cp=cp,
                 virtual_stages=virtual_stages, micro_batch=micro_batch, global_batch=global_batch, zero=zero,
                 recompute=recompute, recompute_every=recompute_every, sequence_parallel=sequence_parallel,
                 precision=precision,
                 flash_attention=flash_attention, attention_kernel=attention_kernel, tp_comm_overlap=tp_comm_overlap,
                 fused_kernels=fused_kernels, framework=framework, hsdp=hsdp,
                 grad_reduce_dtype=grad_reduce_dtype, in_network_reduction=in_network_reduction,
                 embedding_pipeline_slot=embedding_slots, fp8_all_gather=fp8_all_gather,
                 fp8_param_gather=fp8_param_gather,
                 grad_accumulation_fusion=grad_accumulation_fusion, cross_entropy=cross_entropy)
    if crisis is not None:
        from dataclasses import replace

        from explorer.assumptions import Assumption
        from explorer.tracks import get_track

        t = get_track(track)
        e = replace(e, notes=(Assumption(
            f"No plan given: the {t.name} track's crisis plan, TP={crisis.tp} PP={crisis.pp} CP={crisis.cp} "
            f"micro-batch {crisis.micro_batch}" + (f" v={crisis.virtual_stages}" if crisis.virtual_stages > 1 else "")
            + ", the configuration the lab and solve 3d start from (give --tp, --pp, --cp, --micro-batch or "
            "--virtual-stages to evaluate another; explore solve 3d finds the best).",
            f"explorer/data/tracks/{t.key}.toml [crisis_plan]"), *e.notes))
    if fmt == "json":
        click.echo(V.dumps(e.to_dict(), what="estimate", indent=2))
        return
    click.echo(estimate_text(e))


# the options that say which plan, model or cluster to evaluate: given none, a bare `explore estimate` evaluates the
# track's crisis plan (TP = PP = CP = 1 on the cloud track's 1,024 GPUs cannot split its 512 sequences)
_PLAN_OPTIONS = ("tp", "pp", "dp", "cp", "virtual_stages", "micro_batch", "global_batch", "model", "layers", "hidden",
                 "heads", "gpu", "gpus", "gpus_per_node", "seq_len")


def _crisis_if_bare(track: str):
    """The track's crisis plan when no plan, model or cluster option came from the command line (and the track is
    a datacenter: a fleet's bare estimate keeps its one-line hint), else None."""
    from click.core import ParameterSource

    from explorer.puzzles.fleet3d import is_fleet
    from explorer.tracks import get_track

    ctx = click.get_current_context()
    if is_fleet(track) or any(ctx.get_parameter_source(n) not in (ParameterSource.DEFAULT, None)
                              for n in _PLAN_OPTIONS):
        return None
    return get_track(track).crisis_plan


def _bubble(e) -> str:
    """The pipeline bubble's two figures (explorer/cost/step.py): the schedule's idealised (p - 1)/(v m + p - 1), which
    solve 3d's bubble limit reads, and the share of this step's time the fill and drain take (no output layer in the
    fill chunks; the step also holds sync and the optimizer), so the headline never quotes one beside a breakdown
    that shows the other."""
    if e.plan.pp == 1:
        return "no pipeline bubble (PP = 1)"
    return (f"bubble {e.bubble_fraction:.1%} of the schedule ((p - 1)/(v m + p - 1)), "
            f"{e.bubble_time_share:.1%} of this step's time")


def _runs_on(e) -> str:
    """What runs the plan: the framework, or on a part without the data-centre stack an on-device training loop
    priced with the framework's layer layout (Accelerator.datacenter_stack)."""
    from explorer.cost.frameworks import framework

    fw = framework(e.plan.framework)
    acc = e.setup.cluster.accelerator if e.setup else None
    if acc is not None and not acc.datacenter_stack:
        return f"On-device training loop (no data-centre framework runs here; layers laid out as in {fw.name})"
    p = e.plan
    if p.tp == p.pp == p.cp == p.dp == 1:  # nothing of the framework's parallel machinery runs (a local step)
        return f"One device, no parallelism: a plain training step, layers laid out as in {fw.name}"
    return f"Runs on {fw.label(e.plan.zero)}"


# the units a step time is shown in, largest first (explorer/units.py unit_scale): 1 s, 1 ms = 1e-3 s, 1 us = 1e-6 s
TIME_UNITS = ((1.0, "s"), (MS, "ms"), (US, "us"))


def estimate_text(e, width: int | None = None) -> str:
    """The estimate as terminal text, each line wrapped to `width` columns (default: the terminal's); a width outside
    the renderer's 40-500 columns is a one-line UsageError, as for Report.to_text."""
    from explorer.report import check_text_width
    from explorer.reports.text import terminal_width, wrap
    from explorer.units import FLOP_RATE_UNITS, unit_scale

    width = check_text_width(width) or terminal_width()

    # units that suit the device: a datacentre GPU in GB and TFLOP/s, a microcontroller's 256 KB in KB and MFLOP/s;
    # memory in the unit of the smaller of the total and the limit, so a tiny model on a GPU reads '0.133' MB of
    # weights, not '0.000' GB (a model over its limit, and the usual one under it, keep the limit's unit)
    mem_scale, mem_unit = unit_scale(min(e.memory_total, e.memory_limit) or e.memory_limit)
    flop_scale, flop_unit = unit_scale(e.model_tflops_per_gpu * 1e12, FLOP_RATE_UNITS)
    # times in the unit the step time reaches (TIME_UNITS): a step of a second or more in seconds as before, a
    # micro-model's 2 us step in us ('2.0494 us', not '0.0000 s')
    t_scale, t_unit = unit_scale(e.step_time_s, TIME_UNITS)
    lines = [f"Configuration: {e.plan.describe()}",
             _runs_on(e) + ("" if e.plan.dp == 1 else
                            f"; data-parallel traffic {e.dp_comm_total_s / t_scale:.4f} {t_unit} per step "
                            f"(exposed {e.time['dp_exposed'] / t_scale:.4f} {t_unit}, with what the hidden part "
                            "slows compute)"),
             f"Node: {e.setup.cluster.describe_node()}" if e.setup else "",
             f"MFU {e.mfu:.2%}   HFU {e.hfu:.2%}   model {e.model_tflops_per_gpu * 1e12 / flop_scale:.1f} / hardware "
             f"{e.hardware_tflops_per_gpu * 1e12 / flop_scale:.1f} {flop_unit} per device",
             f"Step {e.step_time_s / t_scale:.4f} {t_unit}   {e.tokens_per_s:,.0f} tokens/s   " + _bubble(e),
             "", f"Memory per device ({mem_unit}):"]
    lines += [f"  {k:<12}{v / mem_scale:10.3f}" for k, v in e.memory.items()]
    lines.append(f"  {'total':<12}{e.memory_total / mem_scale:10.3f}   limit {e.memory_limit / mem_scale:,.3f}")
    if not e.fits_in_memory:
        lines.append(f"  DOES NOT FIT: over the limit by {e.memory_over_bytes / mem_scale:.3f} {mem_unit}")
    # the step's parts by the names the reports give them (threed/narration.py TIME_PART_NAMES: 'tensor-parallel
    # communication', not the StepEstimate key tp_comm, which JSON keeps)
    from explorer.puzzles.threed.narration import TIME_PART_NAMES

    names = {k: TIME_PART_NAMES.get(k, k.replace("_", " ")) for k in e.time}
    pad = max(12, *(len(n) + 2 for n in names.values()))
    lines += ["", f"Step time ({t_unit}):"] + [f"  {names[k]:<{pad}}{v / t_scale:10.4f}" for k, v in e.time.items()]
    lines += ["", "Assumptions:"] + [f"  - {a.text}" for a in e.assumptions()]
    wrapped = []
    for line in lines:
        indent = "    " if line.startswith("  - ") else "  "
        wrapped += wrap(line, width, rest=indent) or [""]
    return "\n".join(wrapped) + "\n"
