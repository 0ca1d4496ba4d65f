"""Lab 06 part 3, compression and error feedback: what compressing the data-parallel synchronisation
saves on each track's link, what it costs to compute, and what it does to convergence, measured end to
end: the time to reach a target loss, not the time of one message.

Convergence comes from a real, small, seeded, non-convex distributed training run
(explorer/sim/compressed_adam.py: a two-layer MLP trained with Adam, 1-bit Adam with and without its
full-precision warm-up and error feedback, top-k, FP16). The time of a step on the track comes from
the track's scenario: compute per step, the data-parallel all-reduce (as NCCL runs it where the track
names a plan), and the compression kernels (explorer/cost/compression.py).
"""

from __future__ import annotations

import time
from typing import Any

from explorer import validation as V
from explorer.cost import compression as cc
from explorer.cost.radio import frames_lost
from explorer.errors import UsageError
from explorer.hardware.catalog import get_link
from explorer.puzzles.collective_scenario import (
    CollectiveScenario,
    get_scenario,
    simulation_settings,
)
from explorer.puzzles.fleetlens import fleet_view
from explorer.report import Assumption, Figure, Finding, Formula, Report, Table
from explorer.sim import compressed_adam as ca
from explorer.units import human_duration as dur
from explorer.units import human_number, plural

WIRE = {"adam": "fp32", "fp16": "fp16", "onebit_noef": "onebit", "onebit": "onebit", "onebit_nowarmup": "onebit",
        "topk": "topk"}


def _overlap_window(sc: CollectiveScenario) -> tuple[float, int]:
    """Backward time of the step's last micro-batch, behind which DDP hides its bucketed all-reduce (Li et
    al. VLDB 2020, sec. 3.2.3), for the largest micro-batch that divides the per-device batch and fits."""
    per_device = max(1, int(round(sc.samples_per_device)))
    fits = [b for b in range(1, per_device + 1) if per_device % b == 0
            and sc.fixed_memory_bytes + b * sc.activation_bytes_per_sample <= sc.memory_limit_bytes]
    b = max(fits) if fits else 1
    return b * sc.backward_s_per_sample, b


def step_times(sc: CollectiveScenario, frac: float, inter_link: str | None = None) -> dict[str, dict[str, float]]:
    """Per-step time of each wire scheme on the track: compute + exposed synchronisation + compression kernels.
    The native-precision all-reduce overlaps the last micro-batch's backward (DDP buckets); a compressed
    momentum exists only after the backward pass, so its all-reduce does not overlap (Tang et al. 2021,
    Algorithm 1)."""
    hide, _ = _overlap_window(sc)
    native_bits = 8.0 * sc.gradient_bytes_per_param
    mem_bw = _memory_bandwidth(sc)
    n = _participants(sc)
    out = {}
    for s in cc.SCHEMES:
        bits = cc.bits_per_element(s, frac)
        nbytes = sc.params * bits / 8.0
        # top-k's workers keep different indices: their (value, index) pairs are all-gathered, not all-reduced
        # (explorer/cost/compression.py, 'What the synchronisation moves')
        # 1-bit Adam's compressed all-reduce: an all-to-all of the sign chunks, then an all-gather of the servers'
        # re-compressed chunks (explorer/cost/compression.py); the scales' all-gather (N floats) is left out
        sync = (_allgather_time(sc, cc.topk_allgather_bytes(sc.params, frac, n), inter_link)
                if s in cc.ALLGATHER_SCHEMES else
                _alltoall_time(sc, nbytes, inter_link) + _allgather_time(sc, nbytes, inter_link)
                if s in cc.ALLTOALL_SCHEMES else sc.dp_sync_time(nbytes, inter_link))
        kernels = cc.compression_time(s, sc.params, n, mem_bw, native_bits, frac)
        exposed = max(0.0, sync - hide) if s in ("fp32", "fp16") else sync
        out[s] = {"bits": bits, "bytes": nbytes, "received": cc.received_bytes_per_worker(s, sc.params, n, frac),
                  "collective": ("all-gather" if s in cc.ALLGATHER_SCHEMES else "all-to-all + all-gather"
                                 if s in cc.ALLTOALL_SCHEMES else "all-reduce"), "sync_s": sync,
                  "compress_s": kernels, "exposed_s": exposed, "step_s": sc.compute_s_per_step + exposed + kernels}
    return out


def _participants(sc: CollectiveScenario) -> int:
    """Workers in the data-parallel synchronisation: every device of the plan, else the crossover's N (the ring
    sc.dp_sync_time times)."""
    return sc.devices if sc.setup is not None else sc.crossover_n


def _setup_on(sc: CollectiveScenario, inter_link: str | None):
    """The track's step-model setup, its network swapped for `inter_link` (a catalog key) if given."""
    from dataclasses import replace

    from explorer.hardware.catalog import build_cluster

    c = sc.setup.cluster
    if inter_link is None:
        return sc.setup
    return replace(sc.setup, cluster=build_cluster(c.accelerator.key, c.devices, c.devices_per_node, c.intra.key,
                                                   inter_link))


def _allgather_time(sc: CollectiveScenario, total_bytes: float, inter_link: str | None = None) -> float:
    """One all-gather of total_bytes (N messages) over the workers sc.dp_sync_time all-reduces over: as NCCL runs
    it (ring, rails) on a step-model track, else the textbook ring over the crossover link."""
    from explorer.cost import collectives as col

    if sc.setup is not None:
        from explorer.cost.time import all_gather

        return float(all_gather(_setup_on(sc, inter_link), total_bytes, sc.devices))
    link = sc.crossover_link if inter_link is None else get_link(inter_link)
    # each ring step is an exchange (a member sends one message and receives another): half the rate on a
    # half-duplex radio (links.toml duplex; collectives.exchange_bandwidth)
    return float(col.all_gather_time(total_bytes, sc.crossover_n, link.latency_s,
                                     col.exchange_bandwidth(link.effective_bandwidth, link.half_duplex)))


def _alltoall_time(sc: CollectiveScenario, m_bytes: float, inter_link: str | None = None) -> float:
    """One all-to-all of each worker's m_bytes over the same workers: NCCL's grouped sends, each GPU's off-node
    blocks through its own NIC (time.all_to_all) on a step-model track, else the textbook pairwise exchange over
    the crossover link (collectives.all_to_all_time)."""
    from explorer.cost import collectives as col

    if sc.setup is not None:
        from explorer.cost.time import all_to_all

        return float(all_to_all(_setup_on(sc, inter_link), m_bytes, sc.devices))
    link = sc.crossover_link if inter_link is None else get_link(inter_link)
    return float(col.all_to_all_time(m_bytes, sc.crossover_n, link.latency_s, link.effective_bandwidth,
                                     link.half_duplex))


def _memory_bandwidth(sc: CollectiveScenario) -> float:
    if sc.setup is not None:
        return sc.setup.cluster.accelerator.memory_bandwidth
    from explorer.hardware.catalog import get_accelerator
    from explorer.tracks import get_track

    return get_accelerator(get_track(sc.track).cluster.accelerator.key).memory_bandwidth


def time_to_target(steps: int | None, warmup: int, compressed_from: int | None, t_full: float,
                   t_compressed: float) -> float | None:
    """Seconds to the target: the steps run at full precision (all of them, or the warm-up) at t_full, the
    rest at t_compressed; None when the run never reaches the target."""
    if steps is None:
        return None
    if compressed_from is None:
        return steps * t_full
    full = min(steps, compressed_from)
    return full * t_full + (steps - full) * t_compressed


@fleet_view("compression")
def solve(track: str = "cloud", *, topk_ratio: float | None = None, workers: int | None = None,
          steps: int | None = None, seed: int | None = None, warmup: int | None = None, **_: Any) -> Report:
    """Compression report for a track. topk_ratio: top-k keeps 1/ratio of the elements (>= 1)."""
    t0 = time.perf_counter()
    sc = get_scenario(track)
    sim = simulation_settings()
    # top-k keeps 1/ratio of the elements
    frac = sim["topk_fraction"] if topk_ratio is None else 1.0 / V.COMPRESSION_RATIO.check("ratio", topk_ratio)
    workers = V.COMPRESSION_WORKERS.check("workers", workers, sc.compression_workers)
    steps = V.COMPRESSION_STEPS.check("steps", steps, int(sim["steps"]))
    if workers * steps > V.MAX_COMPRESSION_WORK:
        raise UsageError(f"workers x steps = {workers:,} x {steps:,} = {workers * steps:,} is above the simulation's "
                         f"budget of {V.MAX_COMPRESSION_WORK:,} worker-steps (about 30 s of simulation)")
    # the default warm-up stays inside 1..steps-1 (round(0.1 x 2) = 0 refused --steps 2 for a value never given)
    warm_default = min(steps - 1, max(1, int(round(sim["warmup_fraction"] * steps))))
    warm = V.Int(1, steps - 1, unit=f"(fewer than the {steps:,} steps of --steps)").check("warmup", warmup,
                                                                                        warm_default)
    seed = V.SEED.check("seed", seed, int(sim["seed"]))

    # --- the convergence experiment (seeded numpy) ------------------------------------------------
    prob = ca.make_problem(workers, int(sim["features"]), int(sim["samples_per_worker"]), seed,
                           int(sim["classes"]), int(sim["hidden"]), float(sim["condition"]), float(sim["label_noise"]))
    runs = {s: ca.run(prob, s, steps, float(sim["learning_rate"]), warm, frac) for s in ca.SCHEMES}
    native_sim = "fp16" if sc.gradient_bytes_per_param == 2 else "adam"
    base_run = runs[native_sim]
    target = runs["adam"]["loss"][int(round(sim["target_fraction"] * steps))]
    reach = {s: ca.steps_to_target(r["loss"], target) for s, r in runs.items()}
    compressed_from = {"adam": None, "fp16": None, "onebit_noef": warm, "onebit": warm, "onebit_nowarmup": 1,
                       "topk": warm}

    # --- what a step costs on the track's link ---------------------------------------------------------------
    native_wire = "fp16" if sc.gradient_bytes_per_param == 2 else "fp32"
    cost = step_times(sc, frac)
    t_full = cost[native_wire]["step_s"]
    ttt = {s: time_to_target(reach[s], warm, compressed_from[s], t_full if compressed_from[s] else
                             cost[WIRE[s]]["step_s"], cost[WIRE[s]]["step_s"]) for s in ca.SCHEMES}
    t_base = ttt[native_sim]
    speedup = {s: (t_base / v if (v and t_base) else None) for s, v in ttt.items()}

    link = sc.inter if sc.setup is not None else sc.crossover_link
    where = (f"{sc.devices} GPUs, {sc.devices_per_group} per node, {link.name}" if sc.setup is not None
             else f"{sc.crossover_n} x {link.name}")
    contrast_key = sc.extra.get("compression_contrast_link")
    contrast = None
    if contrast_key:
        c_cost = step_times(sc, frac, contrast_key)
        c_full = c_cost[native_wire]["step_s"]
        c_t = {s: time_to_target(reach[s], warm, compressed_from[s], c_full, c_cost[WIRE[s]]["step_s"])
               for s in ("onebit", "topk")}
        c_base = time_to_target(reach[native_sim], warm, None, c_full, 0.0)
        contrast = {"name": get_link(contrast_key).name, "cost": c_cost,
                    "speedup": {s: (c_base / v if v and c_base else None) for s, v in c_t.items()}}

    # --- the table ----------------------------------------------------------------------------------------
    rows = []
    fp32_received = cost["fp32"]["received"]
    for s in ca.SCHEMES:
        w = cost[WIRE[s]]
        r = runs[s]
        rows.append([ca.LABELS[s], w["bits"], 32.0 / w["bits"], round(w["bytes"]), w["collective"],
                     round(w["received"]), fp32_received / w["received"], w["sync_s"], w["compress_s"], w["step_s"],
                     reach[s] if reach[s] is not None else "not reached",
                     ttt[s] if ttt[s] is not None else "never",
                     speedup[s] if speedup[s] is not None else "-", _loss_text(r["final_loss"]),
                     r["accuracy"]])
    # the message (what one worker compresses its gradient to) is not what the sync moves: top-k's pairs are
    # all-gathered, so each worker receives N-1 of them; the 'received' columns are the wire traffic
    cols = ["scheme", "message bits/element (one worker)", "message ratio vs FP32", "message bytes (one worker)",
            "sync collective", "bytes received per worker per sync", "received ratio vs FP32 all-reduce", "sync (s)",
            "compression (s)", "step (s)", "steps to target", "time to target (s)", "end-to-end speedup",
            "final loss", "test accuracy"]
    n_sync = _participants(sc)
    native_bytes = sc.gradient_bytes_per_param
    n_cross = cc.topk_dense_crossover_workers(frac, native_bytes)
    tk_w, nat_w = cost["topk"], cost[native_wire]
    tk_vs = tk_w["received"] / nat_w["received"]
    topk_text = (f"Top-k's message is {human_number(64 * frac)} bits per element (keeps {human_number(100 * frac)}%, "
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

    one, noef, nowu, tk = runs["onebit"], runs["onebit_noef"], runs["onebit_nowarmup"], runs["topk"]
    ratio_native = 8.0 * sc.gradient_bytes_per_param / cost["onebit"]["bits"]
    volume = 1.0 / (warm / steps + (1 - warm / steps) / ratio_native)
    sp1 = speedup["onebit"]
    figures = {
        "compression_ratio_1bit": Figure(32.0 / cost["onebit"]["bits"], "x", "1-bit bits per message vs FP32"),
        "compression_ratio_1bit_native": Figure(ratio_native, "x",
                                                f"1-bit bits per message vs the track's "
                                                f"{int(8 * sc.gradient_bytes_per_param)}-bit gradients"),
        "volume_ratio_run": Figure(volume, "x", "bytes over the whole run, native / 1-bit Adam (warm-up included)"),
        "target_loss": Figure(target, "", "target training loss (full-precision Adam's at "
                              f"{human_number(100 * sim['target_fraction'])}% of the run)"),
        "steps_to_target_native": Figure(reach[native_sim] or 0, "steps", "steps to target, native precision"),
        "steps_to_target_1bit": Figure(reach["onebit"] or 0, "steps", "steps to target, 1-bit Adam"),
        "final_loss_native": Figure(base_run["final_loss"], "", "final training loss, native precision"),
        "final_loss_1bit_noef": Figure(_finite(noef["final_loss"]), "", "final training loss, 1-bit without error "
                                       "feedback"),
        "final_loss_1bit": Figure(one["final_loss"], "", "final training loss, 1-bit Adam"),
        "sync_time_native_s": Figure(cost[native_wire]["sync_s"], "s",
                                     f"sync time, {int(8 * sc.gradient_bytes_per_param)}-bit gradients"),
        "sync_time_1bit_s": Figure(cost["onebit"]["sync_s"], "s", "sync time, 1-bit (all-to-all + all-gather)"),
        "sync_time_topk_s": Figure(tk_w["sync_s"], "s", f"sync time, top-k {human_number(100 * frac)}% "
                                   "(all-gather of the kept pairs)"),
        "received_bytes_native": Figure(nat_w["received"], "B", f"bytes each worker receives per sync, "
                                        f"{int(8 * native_bytes)}-bit all-reduce"),
        "received_bytes_topk": Figure(tk_w["received"], "B", f"bytes each worker receives per sync, top-k "
                                      f"{human_number(100 * frac)}% (all-gather, (N-1) k x 8)"),
        "topk_dense_crossover_workers": Figure(n_cross, "workers", f"workers above which top-k "
                                               f"{human_number(100 * frac)}% receives more bytes than the dense "
                                               f"{int(8 * native_bytes)}-bit all-reduce"),
        "compression_time_1bit_s": Figure(cost["onebit"]["compress_s"], "s", "1-bit compression kernels per step"),
        "step_time_native_s": Figure(t_full, "s", "step time, native precision (sync overlapped)"),
        "step_time_1bit_s": Figure(cost["onebit"]["step_s"], "s", "step time, 1-bit compressed stage"),
        "speedup_1bit_end_to_end": Figure(sp1 if sp1 is not None else 0.0, "x",
                                          "1-bit Adam: end-to-end speedup to the target loss"),
    }
    if contrast and contrast["speedup"]["onebit"] is not None:
        figures["speedup_1bit_contrast"] = Figure(contrast["speedup"]["onebit"], "x",
                                                  f"1-bit Adam: end-to-end speedup on {contrast['name']}")
    findings = [
        Finding("How much bandwidth does compression save?",
                f"Per message, bits per element: FP32 32, FP16/BF16 16, 1-bit sign about 1 (one FP32 scale per "
                f"message), top-k {human_number(64 * frac)} (keeps {human_number(100 * frac)}%, value + index). "
                f"For {sc.model_name} ({human_number(sc.params / 1e6, 4)}M parameters) over {where}: a sync takes "
                f"{dur(cost[native_wire]['sync_s'])} at {int(8 * sc.gradient_bytes_per_param)} bits and "
                f"{dur(cost['onebit']['sync_s'])} at 1 bit ({human_number(32 / cost['onebit']['bits'])}x fewer bits "
                f"than FP32, {human_number(ratio_native)}x fewer than the track's own gradients). Over a whole run the "
                f"warm-up ({human_number(100 * warm / steps)}% of the steps) still sends full precision, so 1-bit Adam "
                f"moves {human_number(volume)}x fewer bytes in all, not {human_number(ratio_native)}x (Tang et al. "
                f"2021 report up to 5x for the same reason). " + topk_text),
        Finding("Does 1-bit compression without error feedback hurt convergence?",
                "Yes: after the same warm-up, 1-bit Adam without error feedback "
                + (f"ends at loss {_loss_text(noef['final_loss'])}, above where it stood when compression began "
                   f"({_loss_text(noef['loss'][warm])}): the biased compressor makes it diverge"
                   if not noef["final_loss"] <= noef["loss"][warm] else
                   f"ends at loss {_loss_text(noef['final_loss'])} against {_loss_text(base_run['final_loss'])}")
                + f" (test accuracy {human_number(100 * noef['accuracy'])}% vs "
                f"{human_number(100 * base_run['accuracy'])}%). The scaled sign moves every coordinate by the same "
                "amount, so without the error buffer the momentum's small coordinates are pushed as hard as its large "
                "ones."),
        Finding("Stakeholder challenge: does error feedback recover the accuracy while keeping the gain?",
                (f"Yes, with the warm-up: 1-bit Adam with error feedback reaches the target loss "
                 f"{_loss_text(target)} in {_steps(reach['onebit'])} against {_steps(reach[native_sim])} at native "
                 f"precision" if reach["onebit"] is not None else
                 f"Not within the run: 1-bit Adam with error feedback does not reach the target loss "
                 f"{_loss_text(target)} in {plural(steps, 'step')}")
                + f" and ends at {_loss_text(one['final_loss'])} (native {_loss_text(base_run['final_loss'])}; test "
                f"accuracy {human_number(100 * one['accuracy'])}% vs {human_number(100 * base_run['accuracy'])}%). "
                f"Top-k keeping {human_number(100 * frac)}% with error feedback: "
                + (f"{_steps(reach['topk'])} to the target." if reach["topk"] is not None else
                   f"does not reach the target (final loss {_loss_text(tk['final_loss'])}).")),
        Finding("Why does 1-bit Adam need its full-precision warm-up?",
                f"Adam's second moment v is non-linear in the gradient, so it cannot be error-compensated; 1-bit "
                f"Adam freezes it once it has settled and compresses only the momentum (Tang et al. 2021, sec. 3). "
                f"Frozen after one step instead of {plural(warm, 'step')}: "
                + (f"{_steps(reach['onebit_nowarmup'])} to the target." if reach["onebit_nowarmup"] is not None else
                   f"the target is never reached (final loss {_loss_text(nowu['final_loss'])}).")),
        Finding("What does compressing cost, and what is the speedup end to end?",
                f"The 1-bit kernels (pack, error buffers, unpack; memory-bound) take "
                f"{dur(cost['onebit']['compress_s'])} per step, and the compressed all-reduce of the momentum cannot "
                f"hide behind the backward pass as the bucketed native all-reduce does: a compressed step takes "
                f"{dur(cost['onebit']['step_s'])} against {dur(t_full)} (compute {dur(sc.compute_s_per_step)}). To "
                f"the target loss: "
                + (f"{_speedup(sp1)} end to end on {link.name}"
                   if sp1 is not None else "no end-to-end speedup (1-bit Adam does not reach the target)")
                + (f", {_speedup(contrast['speedup']['onebit'])} on "
                   f"{contrast['name']}, where the sync takes {dur(contrast['cost'][native_wire]['sync_s'])}"
                   if contrast and contrast["speedup"]["onebit"] is not None else "")
                + f". A per-message ratio of {human_number(ratio_native)}x is not a speedup: what counts is the "
                "share of the step the synchronisation was, the warm-up, the kernels and the extra steps."),
    ]
    if link.energy_j_per_bit:
        # a ring all-reduce sends 2(N-1)/N x M from each device and receives as much (1-bit's all-to-all +
        # all-gather: (N-1)/N x M each way in each, the same); a radio's receiver draws
        # about what its transmitter does, so both count (explorer/cost/energy.py transfer_energy_j)
        e_nat = _sync_energy_j(cost[native_wire]["bytes"], sc, link.energy_j_per_bit)
        e_1 = _sync_energy_j(cost["onebit"]["bytes"], sc, link.energy_j_per_bit)
        fps = sc.extra.get("frame_rate_hz")
        figures["energy_per_sync_native_j"] = Figure(e_nat, "J", "radio energy per sync per device (uncompressed)")
        figures["energy_per_sync_1bit_j"] = Figure(e_1, "J", "radio energy per sync per device (1-bit)")
        q = f"Energy per sync{' and AR frames lost' if fps else ''} on {link.name}?"
        a = (f"Each device sends 2(N-1)/N x M and receives as much (a radio's receiver draws about what its "
             f"transmitter does): {human_number(e_nat)} J uncompressed vs {human_number(e_1)} J with "
             f"1-bit ({human_number(link.energy_j_per_bit * 1e9)} nJ/bit, sent and received bits)")
        if fps:
            f_nat, f_1 = frames_lost(cost[native_wire]["sync_s"], fps), frames_lost(cost["onebit"]["sync_s"], fps)
            figures["frames_lost_native"] = Figure(f_nat, "frames", f"AR frames lost per sync at "
                                                   f"{human_number(fps)} Hz (uncompressed)")
            figures["frames_lost_1bit"] = Figure(f_1, "frames", f"AR frames lost per sync at {human_number(fps)} Hz "
                                                 "(1-bit)")
            battery = float(sc.extra.get("battery_j", 0.0)) or None
            a += (f"; the radio is busy {dur(cost[native_wire]['sync_s'])} vs {dur(cost['onebit']['sync_s'])}: "
                  f"{f_nat:,} vs {f_1:,} AR frames lost at {human_number(fps)} Hz")
            if battery:
                a += (f"; {human_number(100 * e_nat / battery)}% vs {human_number(100 * e_1 / battery)}% of the "
                      "battery per sync")
        findings.append(Finding(q, a + "."))
    formulas = [
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
    assumptions = [
        Assumption(f"Experiment: {sim['problem']}, {workers} workers, {sim['features']} features, "
                   f"{sim['samples_per_worker']} samples per worker, {steps} steps, Adam lr "
                   f"{human_number(sim['learning_rate'])}, warm-up {plural(warm, 'step')}, seed {seed}; target = "
                   f"full-precision Adam's training loss at {human_number(100 * sim['target_fraction'])}% of the run",
                   sim["source"]),
        Assumption("The run's step counts stand for the track's: the ratio of steps to the target, not their "
                   "number, carries over (the experiment is small; the optimizer's behaviour is what it measures)",
                   "model choice"),
        Assumption(f"Link: {where}", link.source),
        Assumption(f"Synchronisation: {n_sync} workers in one collective ("
                   + ("as NCCL runs it across the nodes" if sc.setup is not None else f"a ring over {link.name}")
                   + "): FP32 and FP16 all-reduce their message; 1-bit all-to-alls its sign chunks and all-gathers "
                   "the re-compressed ones (DeepSpeed's compressed all-reduce); top-k all-gathers each worker's k "
                   "pairs"
                   + ("" if sc.setup is not None else
                      ". This is the lab's form, one ring among the devices; in a fleet's server round each device "
                      "would upload its k pairs and the server sum them (there top-k does shrink the uplink, k x 8 "
                      "B, whatever N), and in gossip each device sends its neighbours k pairs; the fleet answer "
                      "above prices the 8-bit and 1-bit updates, not top-k"),
                   "explorer/cost/compression.py ('What the synchronisation moves')"),
        Assumption(f"Scenario: {sc.scenario}", sc.source),
        *([Assumption(f"Plan: {sc.derivation}", "explorer/cost/step.py")] if sc.derivation else []),
    ]
    data = {"convergence": {"kind": "loss", "x_label": "training step (iterations)",
                            "y_label": "training loss (cross-entropy)", "log_y": False,
                            "series": {ca.LABELS[s]: [_finite(x) for x in runs[s]["loss"]] for s in ca.SCHEMES}}}
    headline = _headline(sc, link.name, cost, native_wire, ratio_native, sp1, reach, noef, warm, contrast)
    return Report(puzzle="compression", lab="06", part=3, track=sc.track, title="Compression and error feedback",
                  status="computed", headline=headline, figures=figures, findings=findings, formulas=formulas,
                  assumptions=assumptions, tables={"schemes": Table(cols, rows, "Compression schemes")},
                  plots=["convergence"], data=data,
                  scenario={"topk_ratio": 1.0 / frac, "workers": workers, "steps": steps, "seed": seed,
                            "warmup": warm},
                  solve_time_s=time.perf_counter() - t0)


def _per_device_bytes(m_bytes: float, sc: CollectiveScenario) -> float:
    """Bytes one device sends in a ring all-reduce of m_bytes (and as many it receives): 2(N-1)/N x M."""
    from explorer.cost.collectives import ring_allreduce_bytes_per_device

    return float(ring_allreduce_bytes_per_device(m_bytes, sc.crossover_n))


def _sync_energy_j(m_bytes: float, sc: CollectiveScenario, j_per_bit: float) -> float:
    """Radio joules of one device in one ring all-reduce of m_bytes: its sent and its received bytes
    (energy.transfer_energy_j, the rule the crossover and fleet answers use)."""
    from explorer.cost.energy import transfer_energy_j

    b = _per_device_bytes(m_bytes, sc)
    return float(transfer_energy_j(b, b, j_per_bit))


def _bytes(x: float) -> str:
    from explorer.units import human_bytes_3

    return human_bytes_3(x)


def _finite(x: float) -> float | None:
    import math

    return x if math.isfinite(x) else None


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
