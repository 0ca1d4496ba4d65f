"""`explore estimate`: the figures of one configuration."""

from __future__ import annotations

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import framework_options
from explorer.tracks import TRACKS


@main.command("estimate")
@click.option("--track", type=click.Choice(TRACKS), default="cloud", show_default=True,
              help="Scenario whose defaults fill what is not given.")
@click.option("--model", default=None, help="Model name from the catalog.")
@click.option("--layers", type=V.LAYERS, default=None, help="Custom shape: layers.")
@click.option("--hidden", type=V.HIDDEN, default=None, help="Custom shape: hidden size.")
@click.option("--heads", type=V.HEADS, default=None, help="Custom shape: attention heads.")
@click.option("--kv-heads", type=V.HEADS, default=None, help="Custom shape: KV heads (default: heads).")
@click.option("--ffn", type=V.HIDDEN, default=None, help="Custom shape: FFN size (default 8/3 hidden, SwiGLU).")
@click.option("--vocab", type=V.VOCAB, default=None, help="Custom shape: vocabulary (default 32000).")
@click.option("--seq-len", type=V.SEQ_LEN, default=None)
@click.option("--gpu", default=None)
@click.option("--gpus", type=V.DEVICES, default=None)
@click.option("--gpus-per-node", type=V.DEVICES_PER_NODE, default=None)
@click.option("--network", default=None)
@click.option("--tp", type=V.DEGREE, default=1, show_default=True)
@click.option("--pp", type=V.DEGREE, default=1, show_default=True)
@click.option("--dp", type=V.DEGREE, default=None, help="Default: gpus / (TP x PP x CP).")
@click.option("--cp", type=V.DEGREE, default=1, show_default=True)
@click.option("--virtual-stages", type=V.DEGREE, default=1, show_default=True)
@click.option("--micro-batch", type=V.MICRO_BATCH, default=1, show_default=True)
@click.option("--global-batch", type=V.GLOBAL_BATCH, default=None)
@click.option("--zero", type=click.IntRange(0, 3), default=0, show_default=True)
@click.option("--recompute", type=click.Choice(["none", "selective", "full"]), default="none", show_default=True)
@click.option("--sequence-parallel/--no-sequence-parallel", default=True, show_default=True)
@click.option("--hsdp/--no-hsdp", default=False, show_default=True,
              help="FSDP2 only: shard inside a node, replicate across nodes.")
@framework_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def estimate_cmd(track, model, layers, hidden, heads, kv_heads, ffn, vocab, seq_len, gpu, gpus, gpus_per_node,
                 network, tp, pp, dp, cp, virtual_stages, micro_batch, global_batch, zero, recompute,
                 sequence_parallel, hsdp, framework, grad_reduce_dtype, in_network_reduction, fmt) -> None:
    """Evaluate one configuration: memory and time breakdowns, MFU, HFU, tokens/s."""
    from explorer.api import custom_model, estimate
    from explorer.errors import UsageError

    shape = (layers, hidden, heads)
    if any(x is not None for x in (layers, hidden, heads, kv_heads, ffn, vocab)):
        if model:
            raise UsageError("give either --model or a custom shape (--layers --hidden --heads ...), not both")
        if any(x is None for x in shape):
            raise UsageError("a custom shape needs at least --layers, --hidden and --heads")
        model = custom_model(layers, hidden, heads, kv_heads, ffn, vocab or 32000)
    e = estimate(track=track, model=model, gpu=gpu, gpus=gpus, gpus_per_node=gpus_per_node, network=network,
                 seq_len=seq_len, tp=tp, pp=pp, dp=dp, cp=cp, virtual_stages=virtual_stages, micro_batch=micro_batch,
                 global_batch=global_batch, zero=zero, recompute=recompute, sequence_parallel=sequence_parallel,
                 framework=framework, hsdp=hsdp, grad_reduce_dtype=grad_reduce_dtype,
                 in_network_reduction=in_network_reduction)
    if fmt == "json":
        click.echo(V.dumps(estimate_json(e), what="estimate", indent=2))
        return
    click.echo(estimate_text(e))


def estimate_json(e) -> dict:
    return {
        "configuration": e.plan.as_dict(), "framework": e.plan.framework, "mfu": e.mfu, "hfu": e.hfu,
        "dp_comm_total_s": e.dp_comm_total_s,
        "model_tflops_per_gpu": e.model_tflops_per_gpu, "hardware_tflops_per_gpu": e.hardware_tflops_per_gpu,
        "step_time_s": e.step_time_s, "tokens_per_s": e.tokens_per_s, "memory_per_gpu_gb": e.memory_total / 1e9,
        "memory_limit_gb": e.memory_limit / 1e9, "bubble_fraction": e.bubble_fraction,
        "fits_in_memory": e.fits_in_memory,
        "memory_breakdown_gb": {k: v / 1e9 for k, v in e.memory.items()},
        "time_breakdown_s": dict(e.time),
    }


def estimate_text(e) -> str:
    from explorer.cost.frameworks import framework

    lines = [f"Configuration: {e.plan.describe()}",
             f"Runs on {framework(e.plan.framework).name}; data-parallel traffic {e.dp_comm_total_s:.4f} s per step "
             f"(exposed {e.time['dp_exposed']:.4f} s)",
             f"MFU {e.mfu:.2%}   HFU {e.hfu:.2%}   model {e.model_tflops_per_gpu:.1f} / hardware "
             f"{e.hardware_tflops_per_gpu:.1f} TFLOP/s per GPU",
             f"Step {e.step_time_s:.4f} s   {e.tokens_per_s:,.0f} tokens/s   bubble {e.bubble_fraction:.1%}",
             "", "Memory per GPU (GB):"]
    lines += [f"  {k:<12}{v / 1e9:10.3f}" for k, v in e.memory.items()]
    lines.append(f"  {'total':<12}{e.memory_total / 1e9:10.3f}   limit {e.memory_limit / 1e9:.3f}")
    if not e.fits_in_memory:
        lines.append(f"  DOES NOT FIT: over the limit by {e.memory_over_bytes / 1e9:.3f} GB")
    lines += ["", "Step time (s):"] + [f"  {k:<12}{v:10.4f}" for k, v in e.time.items()]
    return "\n".join(lines) + "\n"
