"""How the compression puzzle's figures read: losses, step counts and speedups in words, what top-k's
all-gather moves against the dense all-reduce, the headline, and the formulas with their sources."""

from __future__ import annotations

import math

from explorer.hardware.catalog import Link
from explorer.puzzles.collective_scenario import CollectiveScenario
from explorer.puzzles.compression.model import Measurement
from explorer.report import Formula
from explorer.units import human_bytes_3, human_number, human_sci, join_words, plural
from explorer.units import human_duration as dur


def where_text(sc: CollectiveScenario, link: Link) -> str:
    """Where the synchronisation runs: '16 GPUs, 8 per node, <link>' on a plan, else 'N x <link>'."""
    return (f"{sc.devices} GPUs, {sc.devices_per_group} per node, {link.name}" if sc.setup is not None
            else f"{sc.crossover_n} x {link.name}")


def topk_wire_text(frac: float, n_sync: int, n_cross: float, native_bytes: float, tk_w: dict[str, float],
                   nat_w: dict[str, float]) -> str:
    """What top-k's message is and what its all-gather moves against the dense all-reduce, and from which N on it
    moves more."""
    tk_vs = tk_w["received"] / nat_w["received"]
    return (f"Top-k's message is {human_number(64 * frac)} bits per element (keeps {human_number(100 * frac)}%, "
            f"an FP32 value + a 32-bit index each), but the workers keep different indices, so the pairs cannot "
            f"be summed on the way round a ring: they are all-gathered (DGC, Horovod and PyTorch's sparse "
            f"all-reduce do so) and each worker receives the other {n_sync - 1} workers' pairs, "
            f"(N-1) k x 8 = {_bytes(tk_w['received'])}, against {_bytes(nat_w['received'])} for the dense "
            f"{int(8 * native_bytes)}-bit all-reduce (2(N-1)/N x M): "
            + ("as many bytes" if round(tk_vs, 3) == 1.0 else f"{_ratio(tk_vs)}x more bytes" if tk_vs > 1 else
               f"{_ratio(1 / tk_vs)}x fewer bytes")
            + f" (sync {dur(tk_w['sync_s'])} vs {dur(nat_w['sync_s'])}). What it receives grows with N; "
            + (f"above N = {human_number(n_cross)} workers (2 x {human_number(native_bytes)} B / "
               f"({human_number(frac)} x 8 B)) top-k at {human_number(100 * frac)}% moves more than the dense "
               f"all-reduce" + (f", and here N = {n_sync}." if n_sync > n_cross else
                                f"; here N = {n_sync}, at it: the two move as much." if n_sync == n_cross else
                                f"; here N = {n_sync}, below it.")
               if n_cross >= 2 else
               f"top-k at {human_number(100 * frac)}% moves more than the dense all-reduce at every N "
               f"(8 B x {human_number(frac)} per element against {human_number(native_bytes)} B)."))


def report_formulas() -> list[Formula]:
    """The report's formulas, each with its source."""
    return [
        Formula("1-bit compression", "C(u) = (||u||_2 / sqrt(d)) sign(u)",
                "1-bit Adam's compressed all-reduce (Tang et al. 2021; DeepSpeed: scale = norm / sqrt(numel))"),
        Formula("error feedback", "send C(u + e);  e <- u + e - C(u + e)  (on each worker and on the server)",
                "Seide et al. 2014; Karimireddy et al. 2019, Algorithm 2; Tang et al. 2021, Algorithm 1"),
        Formula("1-bit Adam", "T_w steps of Adam; then v frozen, m_t = beta1 m + (1 - beta1) g compressed, "
                "x <- x - lr m / (sqrt(v_Tw) + eps)", "Tang et al. 2021, Algorithm 1"),
        Formula("compressed sync time (1-bit)", "all-to-all of the compressed message M (M bits / 32 of FP32), "
                "then all-gather of the N re-compressed chunks: each worker receives 2(N-1)/N x M, as in an "
                "all-reduce, but the all-to-all sends each block straight to its owner, so every GPU pushes "
                "(N - k)/N x M through its own NIC (k GPUs a node) where a ring over rails puts about 2M/k on each",
                "DeepSpeed NcclBackend.compressed_allreduce (all_to_all_single, all_gather); NCCL grouped sends "
                "where the track names a plan, else the pairwise exchange (Thakur et al. 2005) and a ring "
                "(docs/conventions.md 'Collectives')",
                "explorer/cost/collectives.py nccl_all_to_all_time; the scales' all-gather (N floats) is left out"),
        Formula("compressed sync time (top-k)", "all-gather of N x k (value, index) pairs, 8 B each: each worker "
                "receives (N-1) k x 8 B, ring (N-1) (alpha + 8 k / B); more than the dense all-reduce's 2(N-1)/N x M "
                "once N > 2 M / (8 k)",
                "DGC (Lin et al. 2018; its code all-gathers values and indices), Horovod and PyTorch sparse "
                "all-reduce; Li & Hoefler 2022 (Ok-Topk), Shi et al. 2019 (gTop-k), Renggli et al. 2019 (SparCML): "
                "the all-gather grows with N; NCCL all-gather where the track names a plan, else ring",
                "each worker's top-k keeps different indices, so a ring reduce-scatter of the pairs does not stay k "
                "long; explorer/cost/compression.py"),
        Formula("step time", "native: compute + max(0, sync - backward of the last micro-batch); compressed: "
                "compute + sync + compression kernels", "DDP overlap (Li et al. VLDB 2020 sec. 3.2.3); momentum "
                "is compressed after the backward pass (Tang et al. 2021)"),
        Formula("time to target", "warm-up steps x native step + (steps to target - warm-up) x compressed step",
                "end to end, from the seeded run's steps to the target loss"),
        Formula("compression kernels", "elements x memory bytes per element / memory bandwidth (1-bit: about "
                "16.4 + 12.1/N bytes; top-k: 32 + 16 N k/P bytes, the scatter of the N k gathered pairs)",
                "explorer/cost/compression.py"),
    ]


def _bytes(x: float) -> str:

    return human_bytes_3(x)


def _loss_text(x: float) -> str:
    return human_number(x, 4) if math.isfinite(x) else "not a number (diverged)"


def _steps(n: int | None) -> str:
    return "never" if n is None else plural(n, "step")


def _ratio(x: float) -> str:
    """A speedup near 1 with the digits that tell it from 1 ('1.004', not '1'); others as human numbers."""
    return f"{x:.3f}" if abs(x - 1.0) < 0.05 else human_number(x)


def _pace(x: float, tail: str = "", faster: str = "faster", slower: str = "slower", same: str = "no faster") -> str:
    """An end-to-end speedup x (native time / compressed time) in words whose direction follows the figure:
    '1.4x faster<tail>', 'no faster<tail> (1.000x)', 'slower<tail> (speedup 0.848x: 1.18x as long)'. A speedup
    below 1 is never worded '0.848x slower' or '0.952x later': the ratio put beside 'slower' is the time's, 1/x."""
    if round(x, 3) == 1.0:
        return f"{same}{tail} (1.000x)"
    if x > 1.0:
        return f"{_ratio(x)}x {faster}{tail}"
    return f"{slower}{tail} (speedup {_ratio(x)}x: {_ratio(1.0 / x)}x as long)"


def _sooner(x: float, tail: str = "") -> str:
    """_pace in time-to-target words: '1.4x sooner', 'later (speedup 0.952x: 1.05x as long)', 'no sooner (1.000x)'."""
    return _pace(x, tail, "sooner", "later", "no sooner")


def _pct(x: float) -> str:
    return f"{human_number(100 * x)}%"


def _shown(x: float) -> float:
    """A percentage as the prose prints it (3 significant digits), so that a comparison agrees with the figures
    the reader sees: 81.24% and 81.16% both read 81.2%, and are equal."""
    return float(human_number(100 * x).replace(",", ""))


def _durs(a: float, b: float) -> tuple[str, str]:
    """Two durations for prose, with more digits when the usual three would print them equal."""
    da, db = dur(a), dur(b)
    return (f"{human_sci(a, 6)} s", f"{human_sci(b, 6)} s") if da == db and a != b else (da, db)


def _more_steps(r1: int, rn: int) -> str:
    """'the run needs 16.8% more steps (146 against 125)', for r1 > rn > 0."""
    return f"the run needs {human_number(100 * (r1 / rn - 1))}% more steps ({r1:,} against {rn:,})"


def _sync_hidden(m: Measurement) -> bool:
    """Whether the native all-reduce hides at least partly behind the backward pass (what the compressed one loses)."""
    w = m.cost[m.native_wire]
    return w["exposed_s"] < w["sync_s"]


def _why_not_ratio(m: Measurement, warm: int) -> str:
    """Why the end-to-end speedup is not the per-message ratio: only the reasons that hold in these figures."""
    r1, rn = m.reach["onebit"], m.reach[m.native_sim]
    reasons = [f"the warm-up ({plural(warm, 'step')}) runs at full precision"]
    if m.cost["onebit"]["compress_s"] > 0:
        reasons.append(f"the compression kernels cost {dur(m.cost['onebit']['compress_s'])} per step")
    if _sync_hidden(m):
        reasons.append("the compressed sync no longer hides behind the backward pass")
    if r1 is not None and rn and r1 > rn:
        reasons.append(_more_steps(r1, rn))
    return join_words(reasons)


def _why_slower(m: Measurement) -> str:
    """Why 1-bit Adam reaches the target later than native precision: a longer compressed step, more steps, or
    both, as the figures say. Its time is warm x t_full + (r1 - warm) x t_1 against rn x t_full, so with
    t_1 <= t_full and r1 <= rn it cannot be later."""
    r1, rn = m.reach["onebit"], m.reach[m.native_sim]
    c1, k = m.cost["onebit"]["step_s"], m.cost["onebit"]["compress_s"]
    exposed = m.cost[m.native_wire]["exposed_s"]
    a, b = _durs(c1, m.t_full)
    more = r1 is not None and bool(rn) and r1 > rn
    if c1 > m.t_full:
        sync = dur(m.cost["onebit"]["sync_s"])
        step = (f"a compressed step takes {a} against {b} (its kernels' {dur(k)} and its {sync} sync"
                + ((", which no longer hides behind the backward pass as the native sync does entirely)"
                    if exposed <= 0 else f", no longer hidden behind the backward pass, add more than the native "
                    f"sync's exposed {dur(exposed)})") if _sync_hidden(m) else
                   f" add more than the native sync's {dur(exposed)})"))
        return join_words([step] + ([_more_steps(r1, rn)] if more else []))
    if more:
        return f"{_more_steps(r1, rn)}, more than a compressed step's {a} against {b} saves"
    return "the warm-up runs at full precision"  # not reached: see the docstring


def _ef_effect(one: dict, noef: dict, warm: int) -> str:
    """What dropping error feedback did in this run, from the two final losses and where each stood when
    compression began: 'same' (equal as printed), 'both_rise', 'diverges', 'worse' or 'better'."""
    a, b = noef["final_loss"], one["final_loss"]
    if math.isfinite(b) and _loss_text(a) == _loss_text(b):
        return "same"
    noef_up, one_up = not a <= noef["loss"][warm], not b <= one["loss"][warm]
    if noef_up and one_up:
        return "both_rise"
    if noef_up:
        return "diverges"
    return "worse" if not a <= b else "better"


def _too_short(steps: int, warm: int) -> str:
    """Why equal losses with and without error feedback say nothing: the run compressed too few steps."""
    n = steps - warm
    if n == 1:
        return ("the run compresses one step, and that first step is the same with or without error feedback (the "
                "error buffers start empty)")
    return f"the run's {plural(n, 'compressed step')} are too few to tell the two apart"


def _uncast(m: Measurement) -> str:
    """When the target falls inside the warm-up, 1-bit Adam's time differs from native precision's only by the
    steps: ' (10 steps against 11 at native precision: the simulated warm-up's gradients are not FP16-cast)', or ''
    when the two counts are equal."""
    r1, rn = m.reach["onebit"], m.reach[m.native_sim]
    if r1 is None or rn is None or r1 == rn:
        return ""
    cast = ": the simulated warm-up's gradients are not FP16-cast" if m.native_sim == "fp16" else ""
    return f" ({plural(r1, 'step')} against {rn:,} at native precision{cast})"


def _headline(sc: CollectiveScenario, link: str, m: Measurement, warm: int, steps: int) -> str:
    """The report's headline: what 1-bit Adam sends, whether it reaches the target loss sooner end to end and why
    not by the per-message ratio, and what dropping error feedback did; each comparison worded from its figures."""
    cost, native, ratio, sp1 = m.cost, m.native_wire, m.ratio_native, m.speedup["onebit"]
    r1, rn = m.reach["onebit"], m.reach[m.native_sim]
    bits = int(8 * sc.gradient_bytes_per_param)
    head = (f"1-bit Adam sends {human_number(ratio)}x fewer bits than the {bits}-bit gradients (sync "
            f"{dur(cost[native]['sync_s'])} -> {dur(cost['onebit']['sync_s'])} on {link})")
    if sp1 is None:
        body = (f" but does not reach the target loss within the run's {plural(steps, 'step')}." if r1 is None else
                " but there is no end-to-end comparison: the native run "
                + ("never reaches the target loss." if rn is None else "starts at the target loss."))
    elif r1 <= warm:
        body = (f" but reaches the target loss at step {r1:,}, inside its full-precision warm-up "
                f"({plural(warm, 'step')}), before any step is compressed: {_sooner(sp1, ' end to end')}"
                + _uncast(m) + ".")
    elif round(sp1, 3) == 1.0:
        body = (f" but reaches the target loss no sooner end to end (1.000x), not {human_number(ratio)}x sooner: "
                f"{_why_not_ratio(m, warm)}.")
    elif sp1 > 1.0:
        body = (f" and reaches the target loss {_ratio(sp1)}x sooner end to end, not {human_number(ratio)}x: "
                f"{_why_not_ratio(m, warm)}.")
    else:
        body = f" but reaches the target loss {_sooner(sp1, ' end to end')}: {_why_slower(m)}."
    c = m.contrast["speedup"]["onebit"] if m.contrast else None
    if c is not None and (sp1 is None or f"{c:.3f}" != f"{sp1:.3f}"):
        body += f" On {m.contrast['name']} it is {_sooner(c)}."
    one, noef = m.runs["onebit"], m.runs["onebit_noef"]
    effect = _ef_effect(one, noef, warm)
    a, b = _loss_text(noef["final_loss"]), _loss_text(one["final_loss"])
    tail = {"same": f"With and without error feedback it ends at the same loss ({b}): {_too_short(steps, warm)}.",
            "both_rise": f"With and without error feedback it ends above where it stood when compression began "
                         f"({b} with it, {a} without).",
            "diverges": "Without error feedback it diverges.",
            "worse": f"Without error feedback it converges to a worse loss ({a} against {b} with it).",
            "better": f"Without error feedback it ends at a lower loss here ({a} against {b} with it)."}[effect]
    return head + body + " " + tail


def noef_answer(m: Measurement, warm: int, steps: int) -> str:
    """Does 1-bit compression without error feedback hurt convergence? The answer from the two runs' losses."""
    one, noef, base = m.runs["onebit"], m.runs["onebit_noef"], m.base_run
    a, b, n = _loss_text(noef["final_loss"]), _loss_text(one["final_loss"]), _loss_text(base["final_loss"])
    acc = (f"test accuracy {_pct(noef['accuracy'])} without error feedback, {_pct(one['accuracy'])} with it, "
           f"{_pct(base['accuracy'])} at native precision")
    why = (" The scaled sign moves every coordinate by the same amount, so without the error buffer the momentum's "
           "small coordinates are pushed as hard as its large ones.")
    effect = _ef_effect(one, noef, warm)
    if effect == "same":
        return (f"Not that this run can show: after the same warm-up, 1-bit Adam ends at loss {b} with and without "
                f"error feedback (native {n}; {acc}): {_too_short(steps, warm)}.")
    if effect == "diverges":
        return (f"Yes: after the same warm-up, 1-bit Adam without error feedback ends at loss {a}, above where it "
                f"stood when compression began ({_loss_text(noef['loss'][warm])}): the biased compressor makes it "
                f"diverge, where with error feedback it ends at {b} (native {n}; {acc})." + why)
    if effect == "both_rise":
        return (f"Not as this run can tell: after the same warm-up, 1-bit Adam ends above where it stood when "
                f"compression began with and without error feedback ({b} with it, {a} without, from "
                f"{_loss_text(one['loss'][warm])}; native {n}; {acc}).")
    if effect == "worse":
        return (f"Yes: after the same warm-up, 1-bit Adam without error feedback ends at loss {a} against {b} with "
                f"it (native {n}; {acc})." + why)
    return (f"No, not in this run: after the same warm-up, 1-bit Adam without error feedback ends at loss {a}, below "
            f"the {b} it reaches with error feedback (native {n}; {acc}).")


def _steps_against(r: int, rn: int | None) -> str:
    """'146 steps, 21 more than native precision's 125' (or 'as many as', 'fewer than')."""
    if rn is None:
        return f"{plural(r, 'step')}, where native precision does not reach it"
    if r == rn:
        return f"{plural(r, 'step')}, as many as native precision"
    return f"{plural(r, 'step')}, {abs(r - rn):,} {'more' if r > rn else 'fewer'} than native precision's {rn:,}"


def ef_answer(m: Measurement, warm: int, steps: int, frac: float, link: str) -> str:
    """Does error feedback recover the accuracy while keeping the gain? 'Yes' only when the figures say both:
    the accuracy back to native precision's and an end-to-end speedup above 1."""
    one, noef, base = m.runs["onebit"], m.runs["onebit_noef"], m.base_run
    r1, rn, sp1, target = m.reach["onebit"], m.reach[m.native_sim], m.speedup["onebit"], _loss_text(m.target)
    acc = (f"test accuracy {_pct(one['accuracy'])} with error feedback, {_pct(noef['accuracy'])} without it, "
           f"{_pct(base['accuracy'])} at native precision")
    a1, a0, an = _shown(one["accuracy"]), _shown(noef["accuracy"]), _shown(base["accuracy"])
    full = a1 >= an
    recovery = ("it recovers the accuracy" if full else
                "it recovers most of the accuracy" if a1 > a0 and a1 - a0 >= an - a1 else
                "it recovers part of the accuracy" if a1 > a0 else "it does not recover the accuracy")
    if r1 is None:
        text = (f"No: 1-bit Adam with error feedback does not reach the target loss {target} in the run's "
                f"{plural(steps, 'step')} (it ends at {_loss_text(one['final_loss'])}, native "
                f"{_loss_text(base['final_loss'])}), so there is no end-to-end gain to keep; {recovery} ({acc}).")
    elif r1 <= warm:
        text = (f"This run cannot tell: 1-bit Adam reaches the target loss {target} at step {r1:,}, inside its "
                f"full-precision warm-up ({plural(warm, 'step')}), before any step is compressed, so error feedback "
                f"has nothing to recover by then"
                + (f" and there is no gain either: {_sooner(sp1, ' end to end')}" if sp1 is not None
                   and round(sp1, 3) <= 1.0 else f"; end to end it is {_sooner(sp1)}" if sp1 is not None else "")
                + _uncast(m) + f". After {plural(steps - warm, 'compressed step')} it ends at "
                f"{_loss_text(one['final_loss'])} (without error feedback {_loss_text(noef['final_loss'])}, native "
                f"{_loss_text(base['final_loss'])}; {acc}).")
    else:
        recovery += f" ({acc}) and reaches the target loss {target} in {_steps_against(r1, rn)}"
        c = m.contrast["speedup"]["onebit"] if m.contrast else None
        other = (f"; on {m.contrast['name']} it would be {_sooner(c, ' end to end')}"
                 if c is not None and sp1 is not None and f"{c:.3f}" != f"{sp1:.3f}" else "")
        gain = sp1 is not None and round(sp1, 3) > 1.0
        if gain:
            keep = f"and keeps a gain: {_ratio(sp1)}x sooner end to end on {link}"
        elif sp1 is None:
            keep = "but there is no end-to-end comparison (native precision does not reach the target)"
        elif round(sp1, 3) == 1.0:
            keep = f"but there is no gain to keep: no sooner end to end on {link} (1.000x)"
        else:
            keep = (f"but there is no gain to keep here: on {link} 1-bit Adam is {_pace(sp1, ' end to end')}, "
                    f"because {_why_slower(m)}")
        yes = "Yes, with the warm-up: " if warm > 1 else "Yes: "
        text = ((yes if full and gain else "No: " if not gain and a1 <= a0 else "") + f"{recovery}, {keep}{other}.")
        text = text[0].upper() + text[1:]
    tk, rt = m.runs["topk"], m.reach["topk"]
    return (text + f" Top-k keeping {human_number(100 * frac)}% with error feedback: "
            + (f"does not reach the target (final loss {_loss_text(tk['final_loss'])})." if rt is None else
               f"{_steps(rt)} to the target, inside the warm-up, before any step is compressed." if rt <= warm else
               f"reaches the target in {_steps_against(rt, rn)}."))


def warmup_answer(m: Measurement, warm: int) -> str:
    """Why does 1-bit Adam need its full-precision warm-up? What the no-warm-up run shows against the warm-up's,
    compared in words that follow the step counts."""
    one, nowu = m.runs["onebit"], m.runs["onebit_nowarmup"]
    r1, rw = m.reach["onebit"], m.reach["onebit_nowarmup"]
    text = ("Adam's second moment v is non-linear in the gradient, so it cannot be error-compensated; 1-bit Adam "
            "freezes it once it has settled and compresses only the momentum (Tang et al. 2021, sec. 3). ")
    if warm == 1:
        return text + ("Here the warm-up is itself one step, so the run frozen after one step is this run ("
                       + (f"{_steps(r1)} to the target" if r1 is not None else "it never reaches the target")
                       + "): it cannot show what a longer warm-up buys.")
    text += f"Frozen after one step instead of {plural(warm, 'step')}: "
    if rw is None and r1 is None:
        return text + (f"neither reaches the target (final loss {_loss_text(nowu['final_loss'])} without the "
                       f"warm-up, {_loss_text(one['final_loss'])} with it).")
    if rw is None:
        return text + (f"the target is never reached (final loss {_loss_text(nowu['final_loss'])}), where with the "
                       f"warm-up it is reached in {_steps(r1)}.")
    if r1 is None:
        return text + (f"{_steps(rw)} to the target, which the run with the warm-up does not reach (final loss "
                       f"{_loss_text(one['final_loss'])}): here the warm-up does not pay off.")
    if rw > r1:
        return text + f"{_steps(rw)} to the target, {rw - r1:,} more than with the warm-up ({r1:,})."
    if rw == r1:
        return text + (f"{_steps(rw)} to the target, as many as with the warm-up: this run does not show what the "
                       "warm-up buys.")
    return text + (f"{_steps(rw)} to the target, {r1 - rw:,} fewer than with the warm-up ({r1:,}): here the warm-up "
                   "costs steps rather than saving them.")


def _on(x: float, where: str) -> str:
    """_pace with the link after the words: '1.4x faster on <link>', 'no faster on <link> (1.000x)', 'slower
    (speedup 0.848x: 1.18x as long) on <link>' (a link's name may end in parentheses of its own)."""
    return f"{_pace(x)} on {where}" if round(x, 3) <= 1.0 else _pace(x, f" on {where}")


def speedup_text(m: Measurement, warm: int, link: str) -> str:
    """'To the target loss: ...' of the cost question: the end-to-end speedup on the track's link and on the
    contrast link, each worded from its figure."""
    sp1, r1, rn = m.speedup["onebit"], m.reach["onebit"], m.reach[m.native_sim]
    c = m.contrast["speedup"]["onebit"] if m.contrast else None
    text = ("To the target loss, end to end: "
            + (_on(sp1, link) if sp1 is not None else
               "no speedup (1-bit Adam does not reach the target)" if r1 is None else
               "no comparison (native precision does not reach the target)" if rn is None else
               "no comparison (native precision starts at the target)")
            + (f"; {_on(c, m.contrast['name'])}, where the sync takes "
               f"{dur(m.contrast['cost'][m.native_wire]['sync_s'])}" if c is not None else ""))
    if r1 is not None and r1 <= warm:
        text += "; the target is reached inside the warm-up, before any step is compressed"
    return text
