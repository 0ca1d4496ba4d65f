"""How the compression puzzle's figures read: losses, step counts and speedups in words, what top-k's
all-gather moves against the dense all-reduce, the headline, and the formulas with their sources."""

from __future__ import annotations

from explorer.hardware.catalog import Link
from explorer.puzzles.collective_scenario import CollectiveScenario
from explorer.report import Formula
from explorer.units import human_duration as dur
from explorer.units import human_number, plural


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
            + (f"{human_number(tk_vs)}x more bytes" if tk_vs > 1 else f"{human_number(1 / tk_vs)}x fewer bytes")
            + f" (sync {dur(tk_w['sync_s'])} vs {dur(nat_w['sync_s'])}). What it receives grows with N; "
            + (f"above N = {human_number(n_cross)} workers (2 x {human_number(native_bytes)} B / "
               f"({human_number(frac)} x 8 B)) top-k at {human_number(100 * frac)}% moves more than the dense "
               f"all-reduce" + (f", and here N = {n_sync}." if n_sync > n_cross else
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
    from explorer.units import human_bytes_3

    return human_bytes_3(x)


def _loss_text(x: float) -> str:
    import math

    return human_number(x, 4) if math.isfinite(x) else "not a number (diverged)"


def _steps(n: int | None) -> str:
    return "never" if n is None else plural(n, "step")


def _ratio(x: float) -> str:
    """A speedup near 1 with the digits that tell it from 1 ('1.004', not '1'); others as human numbers."""
    return f"{x:.3f}" if abs(x - 1.0) < 0.05 else human_number(x)


def _speedup(x: float) -> str:
    """'1.47x faster', '0.912x slower', 'no faster (1.000x)'."""
    if round(x, 3) == 1.0:
        return "no faster (1.000x)"
    return f"{_ratio(x)}x {'faster' if x > 1.0 else 'slower'}"


def _headline(sc: CollectiveScenario, link: str, cost: dict, native: str, ratio: float, sp1: float | None,
              reach: dict, noef: dict, warm: int, contrast: dict | None) -> str:
    bits = int(8 * sc.gradient_bytes_per_param)
    head = (f"1-bit Adam sends {human_number(ratio)}x fewer bits than the {bits}-bit gradients (sync "
            f"{dur(cost[native]['sync_s'])} -> {dur(cost['onebit']['sync_s'])} on {link})")
    why = (f"the warm-up runs at full precision, the compression kernels cost {dur(cost['onebit']['compress_s'])} "
           f"per step, the compressed sync no longer hides behind the backward pass and the run needs "
           f"{_more_steps(reach)}")
    if sp1 is None:
        body = f" but never reaches the target loss: {why}."
    elif round(sp1, 3) == 1.0:
        body = f" but reaches the target loss no sooner end to end (1.000x), not {human_number(ratio)}x sooner: {why}."
    elif sp1 > 1.0:
        body = (f" and reaches the target loss {_ratio(sp1)}x sooner end to end, not {human_number(ratio)}x: "
                f"{why}.")
    else:
        body = f" but reaches the target loss later end to end ({_ratio(sp1)}x): {why}."
    if contrast and contrast["speedup"]["onebit"] is not None:
        c = contrast["speedup"]["onebit"]
        body += (f" On {contrast['name']} it is {_speedup(c).replace('faster', 'sooner').replace('slower', 'later')}."
                 if c != sp1 else "")
    diverged = not noef["final_loss"] <= noef["loss"][warm]
    return head + body + " Without error feedback it " + ("diverges." if diverged else "converges to a worse loss.")


def _more_steps(reach: dict) -> str:
    a, b = reach.get("fp16") or reach.get("adam"), reach.get("onebit")
    if a is None or b is None:
        return "more steps"
    if b <= a:
        return "no more steps"
    return f"{human_number(100 * (b / a - 1))}% more steps"
