"""The memory audit's words: how a configuration and its changes from the start read, why not even one layer
fits, the time-to-quality arithmetic a reader can redo, and what the largest-model answer holds fixed."""

from __future__ import annotations

from dataclasses import replace

from explorer.cost import training_memory as tmem
from explorer.puzzles.memory.scenario import ATTEMPT_VARIABLES, MILLI, MemoryInstance, quality_multiplier
from explorer.units import human_bytes_3 as _gb  # three significant digits
from explorer.units import human_number

ADAPTER_NAMES = {"lora": "LoRA", "qlora": "QLoRA"}
# The choices as prose names them (the attempts file, JSON and the tables' first columns keep the keys adam, bf16, ...):
# Adam (Kingma & Ba 2015), 8-bit Adam (Dettmers et al. 2022, bitsandbytes), Adafactor (Shazeer & Stern 2018)
OPTIMIZER_NAMES = {"adam": "Adam", "adam8bit": "8-bit Adam", "adafactor": "Adafactor", "momentum": "SGD with momentum",
                   "sgd": "SGD"}
RECOMPUTE_NAMES = {"none": "no recomputation", "selective": "selective recomputation", "full": "full recomputation"}


def optimizer_name(key: str) -> str:
    """'adam8bit' -> '8-bit Adam' (the key itself when it has no name here)."""
    return OPTIMIZER_NAMES.get(key, key)


def setup_words(c: tmem.Choice) -> str:
    """'Adam in BF16': a configuration's optimizer and precision as a sentence says them (not 'adam bf16')."""
    return f"{optimizer_name(c.optimizer)} in {c.precision.upper()}"


def _adapter_text(c: tmem.Choice) -> str:
    base = "4-bit NF4 base" if c.adapter == "qlora" else f"{c.precision.upper()} base"
    return f"{ADAPTER_NAMES[c.adapter]} adapters (rank {c.lora_rank}, {base})"


def _describe(c: tmem.Choice, L: int) -> str:
    frozen = ""
    if c.adapter != "none":
        frozen = f", {_adapter_text(c)}" + (f" on the top {c.trainable_layers} of {L} layers"
                                              if 0 < c.trainable_layers < L else
                                              f" on none of the {L} layers (nothing trained)"
                                              if c.trainable_layers == 0 else "")
    elif c.trainable_layers < L:
        frozen = f", {L - c.trainable_layers}/{L} layers frozen"
    return (f"{setup_words(c)}, {RECOMPUTE_NAMES.get(c.recompute, c.recompute)}, micro-batch {c.micro_batch}, "
            f"ZeRO stage {c.zero}"
            f"{', CPU offload' if c.offload else ''}{frozen}")


def _changes(base: tmem.Choice, c: tmem.Choice, L: int) -> list[str]:
    out = []
    for f in ATTEMPT_VARIABLES:
        a, b = getattr(base, f), getattr(c, f)
        if a != b:
            if f == "trainable_layers":
                out.append(f"adapters on the top {b} of {L} layers only" if c.adapter != "none"
                           else f"freeze the bottom {L - b} of {L} layers")
            elif f == "offload":
                out.append("offload gradients + optimizer state to host memory")
            elif f == "adapter":
                out.append(f"train {_adapter_text(c)} instead of the weights" if b != "none"
                           else "train the weights instead of adapters")
            elif f == "optimizer":
                out.append(f"optimizer {optimizer_name(a)} -> {optimizer_name(b)}")
            elif f == "precision":
                out.append(f"precision {str(a).upper()} -> {str(b).upper()}")
            elif f == "recompute":
                out.append(f"recomputation {a} -> {b}")
            elif f == "zero":
                out.append(f"ZeRO stage {a} -> {b}")
            else:
                out.append(f"{f.replace('_', '-')} {a} -> {b}")
    return out


TERM_TEXT = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer state",
             "activations": "stored activations", "working": "working buffers", "buffers": "communication buffers"}


def _no_layer_fits(inst: MemoryInstance, lean: tmem.Choice, bpp: int) -> str:
    """Why not even one layer trains: the one-layer model's waterfall term by term (largest first), and whether the
    embedding and output head's states alone already exceed the limit (said only when they do)."""
    m = inst.base.model
    ends = m.params - m.layers * m.layer_params
    if ends * bpp > inst.limit:
        return (f" Not even the embedding and output head fit: {ends:,} params x {bpp} B = {_gb(ends * bpp)} > "
                f"{_gb(inst.limit)}.")
    one = tmem.waterfall(tmem.with_layers(inst.base, 1), inst.layout, replace(lean, trainable_layers=1),
                         inst.cm.int8_block_size)
    terms = sorted(((one[k], k) for k in tmem.MEMORY_TERMS if one[k] > 0), reverse=True)
    parts = []
    for v, k in terms:
        text = f"{TERM_TEXT[k]} {_gb(v)}"
        if k == "working":
            text += (" (the loss's copies of the logits" + (", and one layer's activations rebuilt for its backward "
                     "under full recomputation" if lean.recompute == "full" else "") + ")")
        parts.append(text)
    return (f" A one-layer model needs {_gb(one['total'])} > {_gb(inst.limit)}: {' + '.join(parts)}. The embedding "
            f"and output head's states alone ({ends:,} params x {bpp} B = {_gb(ends * bpp)}) fit; the layer's "
            f"weights, gradients, activations and working buffers are what exceed the limit.")


def _quality_text(inst: MemoryInstance, c: tmem.Choice) -> str:
    """'2.5 (adam8bit x1, 1 of 5 layers trained x2.5)': the steps-to-quality multiplier and the factors it is
    the product of (quality_multiplier: optimizer x frozen depth x adapter)."""
    cm, L = inst.cm, inst.base.model.layers
    levels = [int(round(L * f)) for f in cm.trainable_fractions]
    parts = [f"{optimizer_name(c.optimizer)} x{human_number(cm.quality_steps_multiplier[c.optimizer])}"]
    depth = cm.freeze_steps_multiplier[levels.index(c.trainable_layers)]
    if c.trainable_layers < L or depth != 1:
        what = "adapted" if c.adapter != "none" else "trained"
        parts.append(f"{c.trainable_layers} of {L} layers {what} x{human_number(depth)}")
    if c.adapter != "none":
        parts.append(f"{ADAPTER_NAMES[c.adapter]} x{human_number(cm.adapter_steps_multiplier[c.adapter])}")
    q = quality_multiplier(inst, c.optimizer, c.trainable_layers, c.adapter)
    return f"{human_number(q)} ({', '.join(parts)})"


def _ttq_arithmetic(inst: MemoryInstance, c: tmem.Choice, sc: dict, base_score: dict, u: float, lost: float,
                    changed: bool) -> str:
    """The sentence that lets a reader redo the headline's time-to-quality change: step time x steps-to-quality
    for the chosen configuration and for the start, and their ratio (review 88 item 6a: printing the chosen
    configuration's factor alone beside both step times multiplied to another percentage)."""
    t1, t0 = sc["time"] * u, base_score["time"] * u
    q1, q0 = sc["quality"] / MILLI, base_score["quality"] / MILLI
    if not changed:
        return (f" Time-to-quality = step time {human_number(t0, 5)} s x steps-to-quality "
                f"{_quality_text(inst, inst.baseline)} = {human_number(t0 * q0, 5)} s.")
    ratio = (t1 * q1) / (t0 * q0)
    how = (f"{100 * lost:.1f}% longer" if lost > 0 else f"{100 * -lost:.1f}% shorter" if lost < 0 else
           "the same")
    return (f" Time-to-quality = step time x steps-to-quality: {human_number(t1, 5)} s x "
            f"{_quality_text(inst, c)} = {human_number(t1 * q1, 5)} s against the start's {human_number(t0, 5)} s x "
            f"{_quality_text(inst, inst.baseline)} = {human_number(t0 * q0, 5)} s; {human_number(t1 * q1, 5)} / "
            f"{human_number(t0 * q0, 5)} = {human_number(ratio, 5)}, {how}.")


def _largest_vs_chosen(inst: MemoryInstance, best: tmem.Choice | None, lay: int) -> str:
    """When the largest-model answer falls short of the track's model but a fit exists, say what that answer held
    fixed and what the chosen fit changes to fit anyway (review 88 item 6b: '0 params' beside a chosen fit of all
    6 layers read as a contradiction)."""
    b, L = inst.baseline, inst.base.model.layers
    if best is None or lay >= L:
        return ""
    if best.adapter != "none":
        trained = f"{ADAPTER_NAMES[best.adapter]} adapters on {best.trainable_layers} of {L} layers"
    else:
        trained = ("every layer trained" if best.trainable_layers == L else
                   f"{best.trainable_layers} of {L} layers trained")
    uses = [trained]
    if best.zero:
        uses.append(f"ZeRO-{best.zero}")
    if best.offload:
        uses.append("CPU offload")
    total = tmem.waterfall(inst.base, inst.layout, best, inst.cm.int8_block_size)["total"]
    return (f" This holds the starting {setup_words(b)} fixed with every layer trained and no ZeRO or "
            f"offload; the fit below, the track's {L}-layer model in {_gb(total)}, uses {setup_words(best)} "
            f"with {' and '.join(uses)}.")


def _lost_text(lost: float, c: tmem.Choice | None = None, layers: int | None = None) -> str:
    """'time-to-quality 12.3% longer' (the fix's time to the same quality over the start's, less 1) or, when the fix
    is faster than the start, what it gains and why."""
    if lost >= 0:
        return f"time-to-quality {100 * lost:.1f}% longer than the starting point's"
    if c is not None and c.adapter != "none":
        why = "the adapted layers skip the weight-gradient GEMMs of their frozen base weights"
    elif c is not None and layers is not None and c.trainable_layers < layers:
        why = ("the frozen layers skip their backward pass, and any replayed forward, more than the extra steps "
               "cost")
    else:
        why = "its shorter step outweighs any extra steps"
    return f"time-to-quality {100 * -lost:.1f}% shorter than the starting point's ({why})"

