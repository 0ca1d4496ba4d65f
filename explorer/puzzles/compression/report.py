"""The compression puzzle's Report: the schemes table, the figures, the lab's questions answered (bandwidth
saved, error feedback, the warm-up, the end-to-end speedup; on a radio, the energy and AR frames of a sync), the
assumptions and the Report's assembly."""

from __future__ import annotations

import math
import time

from explorer.cost.radio import frames_lost
from explorer.puzzles.compression.model import Measurement, _sync_energy_j
from explorer.puzzles.compression.narration import (
    _headline,
    ef_answer,
    noef_answer,
    report_formulas,
    speedup_text,
    topk_wire_text,
    warmup_answer,
    where_text,
)
from explorer.puzzles.compression.scenario import WIRE, CompressionInstance, sync_link
from explorer.report import Assumption, Figure, Finding, Report, Table
from explorer.sim import compressed_adam as ca
from explorer.units import human_duration as dur
from explorer.units import human_number, plural


def build_report(inst: CompressionInstance, m: Measurement, t0: float) -> Report:
    """The Report of the instance's measurement; t0: when the solve began (perf_counter), for its solve time."""
    sc, sim, frac, workers, steps, warm, seed = (inst.sc, inst.sim, inst.frac, inst.workers, inst.steps, inst.warm,
                                                 inst.seed)
    runs, native_sim, base_run, target, reach = m.runs, m.native_sim, m.base_run, m.target, m.reach
    native_wire, cost, t_full, ttt, speedup, contrast = m.native_wire, m.cost, m.t_full, m.ttt, m.speedup, m.contrast
    link = sync_link(sc)
    where = where_text(sc, link)

    # --- the table ----------------------------------------------------------------------------------------
    rows = []
    fp32_received = cost["fp32"]["received"]
    for s in ca.SCHEMES:
        w = cost[WIRE[s]]
        r = runs[s]
        rows.append([ca.LABELS[s], w["bits"], 32.0 / w["bits"], round(w["bytes"]), w["collective"],
                     round(w["received"]), fp32_received / w["received"], w["sync_s"], w["compress_s"], w["step_s"],
                     reach[s], ttt[s], speedup[s],  # None (shown '-'): the target is not reached in this run
                     r["final_loss"] if math.isfinite(r["final_loss"]) else None,  # None: the run diverged
                     r["accuracy"]])
    # the message (what one worker compresses its gradient to) is not what the sync moves: top-k's pairs are
    # all-gathered, so each worker receives N-1 of them; the 'received' columns are the wire traffic
    cols = ["scheme", "message bits/element (one worker)", "message ratio vs FP32", "message bytes (one worker)",
            "sync collective", "bytes received per worker per sync", "received ratio vs FP32 all-reduce", "sync (s)",
            "compression (s)", "step (s)", "steps to target", "time to target (s)", "end-to-end speedup",
            "final loss", "test accuracy"]
    n_sync, n_cross = m.n_sync, m.n_cross
    native_bytes = sc.gradient_bytes_per_param
    tk_w, nat_w = cost["topk"], cost[native_wire]
    topk_text = topk_wire_text(frac, n_sync, n_cross, native_bytes, tk_w, nat_w)

    one, noef = runs["onebit"], runs["onebit_noef"]
    ratio_native, volume = m.ratio_native, m.volume
    sp1 = speedup["onebit"]
    extra_steps = reach["onebit"] is not None and bool(reach[native_sim]) and reach["onebit"] > reach[native_sim]
    figures = {
        "compression_ratio_1bit": Figure(32.0 / cost["onebit"]["bits"], "x", "1-bit bits per message vs FP32"),
        "compression_ratio_1bit_native": Figure(ratio_native, "x",
                                                f"1-bit bits per message vs the track's "
                                                f"{int(8 * sc.gradient_bytes_per_param)}-bit gradients"),
        "volume_ratio_run": Figure(volume, "x", "bytes over the whole run, native / 1-bit Adam (warm-up included)"),
        "target_loss": Figure(target, "", "target training loss (full-precision Adam's at "
                              f"{human_number(100 * sim['target_fraction'])}% of the run)"),
        "steps_to_target_native": _steps_to_target(reach[native_sim], "native precision", steps),
        "steps_to_target_1bit": _steps_to_target(reach["onebit"], "1-bit Adam", steps),
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
        "speedup_1bit_end_to_end": (Figure(sp1, "x", "1-bit Adam: end-to-end speedup to the target loss")
                                    if sp1 is not None else
                                    Figure(0.0, "", "1-bit Adam: end-to-end speedup to the target loss: none, the "
                                           "target is not reached (0 stands for none)")),
    }
    if contrast and contrast["speedup"]["onebit"] is not None:
        figures["speedup_1bit_contrast"] = Figure(contrast["speedup"]["onebit"], "x",
                                                  f"1-bit Adam: end-to-end speedup on {contrast['name']}")
    findings = [
        Finding("How much bandwidth does compression save?",
                f"Per message, bits per element: FP32 32, FP16/BF16 16, 1-bit sign about 1 (one FP32 scale per "
                f"message), top-k {human_number(64 * frac)} (keeps {human_number(100 * frac)}%, value + index). "
                f"For {sc.model_name}, {human_number(sc.params / 1e6, 4)}M parameters, over {where}: a sync takes "
                f"{dur(cost[native_wire]['sync_s'])} at {int(8 * sc.gradient_bytes_per_param)} bits and "
                f"{dur(cost['onebit']['sync_s'])} at 1 bit ({human_number(32 / cost['onebit']['bits'])}x fewer bits "
                f"than FP32, {human_number(ratio_native)}x fewer than the track's own gradients). Over a whole run the "
                f"warm-up ({human_number(100 * warm / steps)}% of the steps) still sends full precision, so 1-bit Adam "
                f"moves {human_number(volume)}x fewer bytes in all, not {human_number(ratio_native)}x (Tang et al. "
                f"2021 report up to 5x for the same reason). " + topk_text),
        Finding("Does 1-bit compression without error feedback hurt convergence?", noef_answer(m, warm, steps)),
        Finding("Stakeholder challenge: does error feedback recover the accuracy while keeping the gain?",
                ef_answer(m, warm, steps, frac, link.name)),
        Finding("Why does 1-bit Adam need its full-precision warm-up?", warmup_answer(m, warm)),
        Finding("What does compressing cost, and what is the speedup end to end?",
                f"The 1-bit kernels (pack, error buffers, unpack; memory-bound) take "
                f"{dur(cost['onebit']['compress_s'])} per step, and the compressed all-reduce of the momentum cannot "
                f"hide behind the backward pass as the bucketed native all-reduce does: a compressed step takes "
                f"{dur(cost['onebit']['step_s'])} against {dur(t_full)} (compute {dur(sc.compute_s_per_step)}). "
                + speedup_text(m, warm, link.name)
                + f". A per-message ratio of {human_number(ratio_native)}x is not a speedup: what counts is the "
                "share of the step the synchronisation was, the warm-up, the kernels"
                + (" and the extra steps." if extra_steps else " and the steps to the target.")),
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
    formulas = report_formulas()
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
    headline = _headline(sc, link.name, m, warm, steps)
    return Report(puzzle="compression", lab="06", part=3, track=sc.track, title="Compression and error feedback",
                  status="computed", headline=headline, figures=figures, findings=findings, formulas=formulas,
                  assumptions=assumptions,
                  tables={"schemes": Table(cols, rows, "Compression schemes ('-': the target is not reached in this "
                                                       "run; a final loss '-': the run diverged)")},
                  plots=["convergence"], data=data,
                  scenario={"topk_ratio": 1.0 / frac, "workers": workers, "steps": steps, "seed": seed,
                            "warmup": warm},
                  solve_time_s=time.perf_counter() - t0)


def _steps_to_target(reached: int | None, scheme: str, steps: int) -> Figure:
    """Steps a scheme took to the target loss. A scheme that never reaches it within the run keeps the value 0 (the
    sentinel fleetlens/lab06_compression.py reads as 'not reached') but no unit, and its label says so: the reports
    showed '0 steps', which reads as reaching the target at once."""
    if reached:
        return Figure(reached, "steps", f"steps to target, {scheme}")
    return Figure(0, "", f"steps to target, {scheme}: not reached in the run's {plural(steps, 'step')} (0 stands "
                         "for not reached)")


def _finite(x: float) -> float | None:
    import math

    return x if math.isfinite(x) else None
