"""Options and output shared by every `explore solve PUZZLE` command."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from explorer import validation as V
from explorer.cost.efficiency import ATTENTION_KERNEL_NAMES
from explorer.cost.setup import CROSS_ENTROPY_KERNELS
from explorer.cost.time import CROSS_ENTROPY_BYTES as CE_BYTES
from explorer.errors import UsageError
from explorer.keywords import parse_assignments  # noqa: F401  (the CLI's --fix, --set and sweeps read it here)
from explorer.models.architecture import MLP_KINDS
from explorer.plan import PRECISIONS
from explorer.tracks import TRACKS


def choice(values: Iterable[str]) -> click.Choice:
    """A click.Choice that takes its names in any case and hands the command the canonical one (`--precision FP8`
    is fp8), as the Python API reads them."""
    return click.Choice(list(values), case_sensitive=False)


FORMATS = ("text", "json", "markdown", "html")
# a student's attempts file must exist and be readable before anything is solved
ATTEMPTS_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def track_option(f: Callable) -> Callable:
    return click.option("--track", "-t", type=choice(TRACKS), default="cloud", show_default=True,
                        help="Lab track (scenario defaults).")(f)


names_a_file = V.names_a_file


class OutDirNotFile(V.OutDir):
    """--out DIR, as validation.OutDir checks it (exists or creatable, writable), except that a path which names a
    file (names_a_file) is neither checked nor created here: the command refuses it once its options are all parsed
    (refuse_file_out), naming the file it would have written."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        p = Path(str(value))
        if names_a_file(p):
            return p
        return super().convert(value, param, ctx)


OUT_DIR_NOT_FILE = OutDirNotFile()


def would_write(out_dir: Path, params: dict) -> str:
    """The report file a command writes into out_dir, from its parsed options (a solve command's <puzzle>-<track>,
    frontier's frontier-<puzzle>-<track>; reports/render.py stem_for), or '' when they name no puzzle or format."""
    from explorer.reports.render import EXTENSIONS, stem_for

    ctx = click.get_current_context(silent=True)
    command = ctx.command.name if ctx is not None else None
    kind = "frontier" if command == "frontier" else "solve"
    puzzle = params.get("puzzle") if kind == "frontier" else command
    try:
        return str(out_dir / f"{stem_for(str(puzzle), str(params.get('track')), kind)}.{EXTENSIONS[params['fmt']]}")
    except (ValueError, KeyError):
        return ""


def given_path(path: str | Path) -> str:
    """A path as the user wrote it (made from their --out), so a message names the file they typed: '/tmp/nu/x.html'
    stays absolute, not 'nu/x.html' relative to where the command ran. Only a path too long to survive the message's
    cut of long runs (errors.one_line: over MAX_QUOTE + 4 characters) is shown by reports.render.shown_path, relative
    to the working directory when that is shorter."""
    from explorer.errors import MAX_QUOTE

    text = str(path)
    if len(text) <= MAX_QUOTE + 4:
        return text
    from explorer.reports.render import shown_path

    return shown_path(text)


def refuse_file_out(f: Callable) -> Callable:
    """Before the command runs: an --out that names a file (names_a_file) is a one-line usage error (exit 2) saying
    --out takes a directory and which file the command would have written into it."""
    @functools.wraps(f)
    def wrapper(*args: object, **params: object) -> object:
        out = params.get("out_dir")
        if isinstance(out, Path) and names_a_file(out):
            target = would_write(out, params)
            parent = given_path(out.parent) if str(out.parent) else "."
            raise UsageError(f"--out takes a directory, not a file: {given_path(out)} would be made a directory"
                             + (f" and the report written to {given_path(target)}" if target else "")
                             + f"; give the directory, e.g. --out {parent}")
        return f(*args, **params)
    return wrapper


def output_options(f: Callable) -> Callable:
    f = refuse_file_out(f)
    f = click.option("--out", "out_dir", type=OUT_DIR_NOT_FILE, default=None,
                     help="Write the report into this directory instead of printing it (created if missing; "
                          "checked before solving). A path ending in a file suffix (.html, .json, .md, .txt, "
                          ".png, .csv) that does not exist is refused: --out takes a directory.")(f)
    f = click.option("--format", "fmt", type=choice(FORMATS), default="text", show_default=True,
                     help="Report format.")(f)
    return f


def attempts_option(f: Callable) -> Callable:
    return click.option("--attempts", "attempts_file", type=ATTEMPTS_FILE,
                        default=None, help="A student's attempts (CSV or JSON) to grade beside the optimum.")(f)


def time_limit_option(f: Callable) -> Callable:
    return click.option("--time-limit", type=V.TIME_LIMIT, default=None,
                        help="Solver time limit in seconds (default 30). The report's solve time also counts "
                             "building the model, so it can exceed the limit. Past it the answer is 'feasible, not "
                             "proven optimal' with the gap, or exit 3 if none was found.")(f)


def graded_nothing_options(f: Callable) -> Callable:
    """--track, --format, --out: a solve command whose puzzle has no choice a student makes (sync,
    compression, crossover), so no --attempts to grade."""
    return track_option(output_options(f))


def puzzle_options(f: Callable) -> Callable:
    """--track, --format, --out, --attempts: what a solve command whose puzzle grades attempts takes."""
    return graded_nothing_options(attempts_option(f))


# A custom model shape, shared by estimate, solve 3d and the planner (explore plan / check).
SHAPE_KEYS = ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "mlp", "parallel_block")


def shape_options(f: Callable) -> Callable:
    """--layers --hidden --heads [--kv-heads --ffn --vocab --mlp --parallel-block]: a custom shape (SHAPE_KEYS)."""
    opts = [
        click.option("--layers", type=V.LAYERS, default=None, help="Custom shape: layers."),
        click.option("--hidden", type=V.HIDDEN, default=None, help="Custom shape: hidden size."),
        click.option("--heads", type=V.HEADS, default=None, help="Custom shape: attention heads."),
        click.option("--kv-heads", type=V.HEADS, default=None, help="Custom shape: KV heads (default: heads)."),
        click.option("--ffn", type=V.HIDDEN, default=None,
                     help="Custom shape: MLP width (default 4 x hidden for GELU, ReLU and squared ReLU, 8/3 x hidden "
                          "for SwiGLU and GeGLU)."),
        click.option("--vocab", type=V.VOCAB, default=None, help="Custom shape: vocabulary (default 32000)."),
        click.option("--mlp", type=choice(MLP_KINDS), default=None,
                     help="Custom shape: GELU MLP (2 matrices: GPT-3, BLOOM, MT-NLG), ReLU (2: OPT), squared ReLU "
                          "(2: Nemotron-4) or a gated unit, SwiGLU (3: Llama) or GeGLU (3: GLM-130B, Gemma); "
                          "default swiglu. Catalog models carry their own."),
        click.option("--parallel-block/--sequential-block", default=None,
                     help="Custom shape: attention and MLP side by side on the same input, outputs summed (GPT-J, "
                          "GPT-NeoX, PaLM): one tensor-parallel reduction of the block's output forward where the "
                          "sequential block has two. Default sequential; catalog models carry their own."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def model_options(f: Callable) -> Callable:
    """--model, or a custom shape (shape_options)."""
    return click.option("--model", default=None, help="Model name from the catalog (default: the track's).")(
        shape_options(f))


def cluster_options(f: Callable) -> Callable:
    """--gpu (brings its usual node), --gpus, --gpus-per-node, --network, --intra-network."""
    opts = [
        click.option("--gpu", default=None,
                     help="Accelerator from the catalog (default: the track's); brings its usual node "
                          "(devices per node, NVLink, NIC per GPU) unless the options below say otherwise."),
        click.option("--gpus", type=V.DEVICES, default=None, help="Number of accelerators."),
        click.option("--gpus-per-node", type=V.DEVICES_PER_NODE, default=None,
                     help="Accelerators per node (fast intra-node link)."),
        click.option("--network", default=None, help="Inter-node link name from the catalog (per NIC)."),
        click.option("--intra-network", default=None, help="Intra-node link name from the catalog."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def stack_options(f: Callable,
                  precision_default: str = "default: the track's: bf16 in the cloud, fp32 on the earbud") -> Callable:
    """Software stack: --precision, --flash-attention/--no-..., --attention-kernel, --tp-comm-overlap/--no-...,
    --fused-kernels/--no-..., --fp8-all-gather/--no-..., --fp8-param-gather/--no-...,
    --grad-accumulation-fusion/--no-..., --cross-entropy.
    precision_default: what --precision's help says of its default (a command without --track says its own)."""
    opts = [
        click.option("--precision", type=choice(list(PRECISIONS)), default=None,
                     help=f"Training precision ({precision_default}). fp8: "
                          "Transformer Engine FP8 GEMMs, attention and output layer in BF16 (H100 and later); "
                          "fp32: no mixed precision (a part without a 16-bit peak)."),
        click.option("--flash-attention/--no-flash-attention", default=True, show_default=True,
                     help="Fused attention kernel (off: scores stored and streamed through HBM, pre-2022 runs)."),
        click.option("--attention-kernel", type=choice(list(ATTENTION_KERNEL_NAMES)), default=None,
                     help="Which fused kernel: flash2 (FlashAttention-2 class: flash-attn 2, PyTorch SDPA's "
                          "default), flash1 (flash-attn 1.x, 2.25x slower), triton (FlashAttention in Triton as MPT "
                          "ran it in 2023, 2.3x slower; FlashAttention-2 paper, fig. 4), cudnn (cuDNN fused "
                          "attention, Transformer Engine's default on H100 and B200: 2x FlashAttention-2 on "
                          "Hopper, 4x on Blackwell, 0.85x on Ampere). Default: the framework's (cudnn for "
                          "megatron on Hopper and Blackwell GPUs and for fsdp on Blackwell, else flash2; under "
                          "--framework any, each plan's own framework's)."),
        click.option("--tp-comm-overlap/--no-tp-comm-overlap", default=None,
                     help="TP communication overlap (Megatron-Core userbuffers, torchtitan AsyncTP; needs sequence "
                          "parallelism). Default: the framework's on this GPU (on for megatron on Hopper and "
                          "Blackwell, whose userbuffers need CUDA multicast; off on Ampere and for fsdp and "
                          "deepspeed)."),
        click.option("--fused-kernels/--no-fused-kernels", default=True, show_default=True,
                     help="Memory-bound kernels fused (Transformer Engine / Apex / torch.compile); off: eager "
                          "PyTorch, one HBM pass per elementwise op."),
        click.option("--fp8-all-gather/--no-fp8-all-gather", default=False, show_default=True,
                     help="With --precision fp8 on --framework fsdp (or any: its FSDP2 plans): gather the layers' "
                          "weights in FP8, 1 byte per parameter (torchao's enable_fsdp_float8_all_gather, on in "
                          "torchtitan's 405B config)."),
        click.option("--fp8-param-gather/--no-fp8-param-gather", default=True, show_default=True,
                     help="With --precision fp8 on --framework megatron at ZeRO-1 (the distributed optimizer): "
                          "primary FP8 weights, gathered in 1 byte per GEMM weight (in BF16 on Blackwell, whose "
                          "MXFP8 parameters Megatron-Core gathers so), no cached FP8 copy (Megatron-LM "
                          "--fp8-param-gather, off by default there; on in NeMo 2.0's and Megatron-Bridge's FP8 "
                          "recipes and MLPerf v4.0 on). Off: BF16 weights, gathered in 2 bytes, plus Transformer "
                          "Engine's cached FP8 copy (NeMo 1.x's default, MLPerf v3.x)."),
        click.option("--grad-accumulation-fusion/--no-grad-accumulation-fusion", default=True, show_default=True,
                     help="Megatron-LM adds each micro-batch's weight gradients into its FP32 main_grad inside the "
                          "weight-gradient GEMM (on since 2022-02). Off: Megatron-LM of 2021 (the SC'21 runs), where "
                          "autograd adds them into .grad, one HBM pass over the local parameters per micro-batch "
                          "after the first. Charged on ZeRO-0 plans only, the 2021 LocalDDP the SC'21 runs used; "
                          "ZeRO-1 plans and DeepSpeed and FSDP2 are unaffected."),
        click.option("--cross-entropy", type=choice(list(CROSS_ENTROPY_KERNELS)), default="unfused",
                     show_default=True,
                     help=f"The loss kernel. unfused: FP32 passes over the logits, {CE_BYTES['unfused']:g} bytes "
                          "per logit (Megatron-LM's default, PyTorch's F.cross_entropy). te: Transformer Engine's "
                          f"fused kernel, {CE_BYTES['te']:g} bytes (Megatron-Core --cross-entropy-loss-fusion "
                          "--cross-entropy-fusion-impl te, on in Megatron-Bridge's and NeMo's performance recipes "
                          f"since 2025). flash-attn: flash-attn's Triton kernel, {CE_BYTES['flash-attn']:g} bytes "
                          "(llm-foundry's fused_crossentropy)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def emit(report, fmt: str, out_dir: Path | None, attempts_file: Path | None = None) -> None:
    """Render a Report (with graded attempts when given) to stdout or into out_dir."""
    from explorer.reports.render import render, write_report

    if attempts_file is not None:
        from explorer.reports.attempts import attach_attempts

        report = attach_attempts(report, attempts_file)
    if out_dir is not None:
        paths = write_report(report, fmt, out_dir)
        for p in paths:
            click.echo(str(p))
    else:
        from explorer.reports.text import want_color

        click.echo(render(report, fmt, color=fmt == "text" and want_color()), nl=False)
    exit_for(report)


def exit_for(report) -> None:
    """Exit 1 after an answer that is proven infeasible (the report is still written): exit codes are 0
    answered, 1 infeasible, 2 usage error, 3 no answer within the time limit (NoAnswerError), for every command."""
    if report.status == "infeasible":
        click.get_current_context().exit(1)


def recompute_every_option(f: Callable) -> Callable:
    """--recompute-every (Setup.recompute_every), shared by `estimate` and `solve 3d`."""
    return click.option("--recompute-every", type=click.IntRange(1, 100_000), default=1, show_default=True,
                        help="With --recompute full: checkpoint only every k-th layer, the rest keep their "
                             "activations (torchtitan's selective layer AC, fms-fsdp's selective_checkpointing).")(f)


def _framework_value(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--framework as one of the choices (explorer/cost/frameworks.py framework_choice: aliases such as nemo or
    torchtitan accepted); anything else a usage error naming the choices."""
    from explorer.cost.frameworks import framework_choice

    try:
        return framework_choice(value)
    except UsageError as e:
        raise click.BadParameter(str(e)) from None


def framework_options(f: Callable) -> Callable:
    """--framework, --grad-reduce-dtype, --in-network-reduction (explorer/cost/frameworks.py)."""
    from explorer.cost.frameworks import DEFAULT_FRAMEWORK, FRAMEWORK_CHOICES, GRAD_REDUCE_DTYPES

    f = click.option("--in-network-reduction/--no-in-network-reduction", default=False, show_default=True,
                     help="NVLink SHARP (NVLS) all-reduce where the intra-node fabric has it (NCCL_NVLS_ENABLE).")(f)
    f = click.option("--grad-reduce-dtype", type=choice(GRAD_REDUCE_DTYPES), default=None,
                     help="Gradient accumulation and reduction dtype (default: the framework's; Megatron-LM and "
                          "FSDP2 reduce bf16 training's gradients in fp32).")(f)
    f = click.option("--framework", default=DEFAULT_FRAMEWORK, show_default=True, callback=_framework_value,
                     metavar="[" + "|".join(FRAMEWORK_CHOICES) + "]",
                     help="The training framework that runs the plan; 'any' searches all three. Also named: "
                          "nemo, megatron-lm, megatron-core, mcore (megatron); megatron-deepspeed (deepspeed); "
                          "fsdp2, fsdp1, pytorch-fsdp, torchtitan (fsdp).")(f)
    return f


def option_keys(decorator: Callable[[Callable], Callable]) -> tuple[str, ...]:
    """The keyword arguments an options decorator gives a command (read from the options it adds), so a command
    that forwards them (plan, check) cannot fall behind one added to the decorator."""
    return tuple(p.name for p in getattr(decorator(lambda: None), "__click_params__", ()) if p.name)


# What stack_options and framework_options give a command, as make_setup and solve_3d take them.
STACK_KEYS = option_keys(stack_options)
FRAMEWORK_KEYS = option_keys(framework_options)
