"""`explore solve 3d`: the parallelism puzzle."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import solve
from explorer.cli.common import (
    choice,
    cluster_options,
    emit,
    framework_options,
    model_options,
    parse_assignments,
    puzzle_options,
    recompute_every_option,
    stack_options,
    time_limit_option,
)
from explorer.puzzles.threed.pins import FIX_TYPES  # the names --fix takes, and how each is read


@solve.command("3d")
@puzzle_options
@model_options
@cluster_options
@stack_options
@click.option("--global-batch", type=V.GLOBAL_BATCH, default=None, help="Global batch in sequences.")
@click.option("--seq-len", type=V.SEQ_LEN, default=None,
              help="Sequence length in tokens (default: the track's, or the model's context if shorter).")
@click.option("--max-bubble", type=V.FRACTION, default=0.10, show_default=True,
              help="Largest pipeline bubble fraction (p-1)/(v m + p - 1).")
@click.option("--fix", default=None, help="Pin variables, e.g. 'tp=8,pp=4,zero=1,recompute=full'.")
@recompute_every_option
@framework_options
@click.option("--engine", type=choice(["cpsat", "enumerate"]), default=None,
              help="CP-SAT (proven optimum) or the exhaustive numpy evaluator [default: cpsat on cloud; enumerate "
                   "on the fleet tracks, whose few thousand configurations it scores in milliseconds].")
@click.option("--top", type=V.TOP, default=5, show_default=True, help="How many configurations to list.")
@time_limit_option
def solve_3d_cmd(track, fmt, out_dir, attempts_file, model, layers, hidden, heads, kv_heads, ffn, vocab, mlp,
                 parallel_block, gpu, gpus, gpus_per_node, network, intra_network, precision, flash_attention,
                 attention_kernel,
                 tp_comm_overlap, fused_kernels, global_batch, seq_len, max_bubble, fix, recompute_every,
                 fp8_all_gather, fp8_param_gather, grad_accumulation_fusion, cross_entropy, framework,
                 grad_reduce_dtype, in_network_reduction, engine, top, time_limit) -> None:
    """The 3D puzzle: DP x PP x TP (x CP) x micro-batch at the highest MFU, fitting memory, bubble <= limit.
    On edge, mobile and tiny: the fleet form (split inside the local group, participants, local steps,
    deadline, aggregation path; explorer/puzzles/fleet3d)."""
    from explorer.puzzles.fleet3d import is_fleet

    if is_fleet(track):
        _fleet(track, fmt, out_dir, attempts_file, engine, top, time_limit)
        return
    engine = engine or "cpsat"
    from explorer.api import solve_3d

    fixed = parse_assignments(fix, FIX_TYPES, "--fix")
    if "framework" in fixed and click.get_current_context().get_parameter_source("framework") \
            == click.core.ParameterSource.DEFAULT:
        framework = str(fixed["framework"])  # the pinned framework is the one searched (api._framework_from_pin)
    res = solve_3d(track, model=model, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ffn=ffn,
                   vocab=vocab, mlp=mlp, parallel_block=parallel_block, gpu=gpu, gpus=gpus,
                   gpus_per_node=gpus_per_node, network=network,
                   intra_network=intra_network, precision=precision, flash_attention=flash_attention,
                   attention_kernel=attention_kernel, tp_comm_overlap=tp_comm_overlap, fused_kernels=fused_kernels,
                   global_batch=global_batch, seq_len=seq_len,
                   max_bubble=max_bubble, fix=fixed, engine=engine, top=top, time_limit=time_limit,
                   framework=framework, grad_reduce_dtype=grad_reduce_dtype, in_network_reduction=in_network_reduction,
                   recompute_every=recompute_every, fp8_all_gather=fp8_all_gather,
                   fp8_param_gather=fp8_param_gather,
                   grad_accumulation_fusion=grad_accumulation_fusion, cross_entropy=cross_entropy)
    emit(res.report, fmt, out_dir, attempts_file)


FLEET_OPTIONS = ("track", "fmt", "out_dir", "attempts_file", "engine", "top", "time_limit")


def _fleet(track, fmt, out_dir, attempts_file, engine, top, time_limit) -> None:
    """The fleet form: the datacenter options given on the command line are a one-line error."""
    from click.core import ParameterSource

    from explorer.puzzles.fleet3d import fleet_options_error, solve_fleet

    ctx = click.get_current_context()
    given = {p.opts[0]: True for p in ctx.command.params if p.name not in FLEET_OPTIONS
             and ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE}
    fleet_options_error(track, given)
    emit(solve_fleet(track, engine=engine or "enumerate", top=top, time_limit=time_limit).report, fmt, out_dir,
         attempts_file)
