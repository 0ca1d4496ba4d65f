"""The scaling puzzle's Report: the questions answered for each fabric and their assembly (_build_report), with
the strong-scaling and critical-batch parts a track's scenario adds."""

from __future__ import annotations

import math

import numpy as np

from explorer.models.catalog import get_model
from explorer.puzzles.scaling.model import FabricCurve, _grid, make_setup, quality_speedup
from explorer.puzzles.scaling.narration import (
    FORMULAS,
    FORMULAS_NCCL,
    _apart_digits,
    _assumptions,
    _below,
    _best_text,
    _comes_back,
    _compute_words,
    _dr_headline,
    _eta_text,
    _isolated_text,
    _pace_words,
    _short,
    _speed,
    _unrecovered_drop,
)
from explorer.puzzles.scaling.workload import ScalingScenario
from explorer.report import Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_bytes, human_number, human_percent, human_sci, plural, plural_noun


def _build_report(sc: ScalingScenario, curves: dict[str, FabricCurve], parts: dict, threshold: float,
                  n_max: int, a: int, b: int) -> Report:
    t = sc.track
    dev, devs = t.device_word, sc.device_plural
    factor = b / a
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    rows_q1, rows_curve = [], []
    head_bits, dr_bits = [], []
    for f, c in curves.items():
        x_a, x_b = c.samples_per_s[a - 1], c.samples_per_s[b - 1]
        gain = x_b / x_a
        p = parts[f]
        pa, pb = p[a], p[b]
        lost = 1.0 - pa["step"] / pb["step"]  # share of the larger cluster's step that is not ideal
        nm = c.fabric.name
        figures[f"speedup_{a}_to_{b}_{f}"] = Figure(gain, "x", f"{a} -> {b} {devs}: throughput gain ({nm})")
        figures[f"efficiency_{b}_{f}"] = Figure(float(c.efficiency[b - 1]), "fraction",
                                                f"scaling efficiency at N = {b}, S({b})/{b} against one {dev} "
                                                f"({nm})")
        figures[f"mfu_{b}_{f}"] = Figure(pb["mfu"], "fraction", f"MFU at N = {b} ({nm}; {human_percent(pa['mfu'])} "
                                         f"at N = {a})")
        figures[f"samples_per_s_{b}_{f}"] = Figure(float(x_b), f"{sc.sample_word}s/s", f"throughput at N = {b} ({nm})")
        if c.n_diminishing is not None:
            figures[f"n_diminishing_{f}"] = Figure(c.n_diminishing, devs,
                                                   f"diminishing returns from N (marginal < "
                                                   f"{human_sci(threshold, 6)}) ({nm})")
        if c.n_star is not None:
            figures[f"n_star_{f}"] = Figure(c.n_star, devs,
                                            f"continuous crossing dS/dN = {human_sci(threshold, 6)} ({nm})")
        d_dp = pb["dp_exposed"] - pa["dp_exposed"]
        d_opt = pb["optimizer"] - pa["optimizer"]
        share = pb["dp_latency"] / pb["dp_total"] if pb["dp_total"] > 0 else 0.0
        findings.append(Finding(
            f"Does going from {a} to {b} {devs} cut training time by {human_sci(factor, 6)}x? ({c.fabric.name})",
            ("Yes, within half a percent" if gain >= 0.995 * factor else "No")
            + (f": by {human_number(gain, 4)}x ({human_number(100 * gain / factor, 4)}% of the ideal "
               f"{human_sci(factor, 6)}x; "
               + _eta_text(sc, c, a, b, factor, gain, pb["optimizer"] - pa["optimizer"]) + ")" if gain >= 1 else
               f": it gets slower, {human_number(gain)}x the throughput of {a} {devs} (scaling efficiency eta({b}) "
               f"= {human_number(c.efficiency[b - 1])} against one {dev})")
            + f". Per step each {dev} " + _compute_words(pa["compute"], pb["compute"], a)
            + "; the step goes from "
            + "{} s to {} s".format(*_apart_digits(pa["step"], pb["step"]))
            + f". What eats the rest ({human_number(100 * lost)}% of the step at N = {b}): "
            + "; ".join(_pace_words(pa["compute"], pb["compute"], b, devs) + [
                f"the gradient all-reduce now exposed {human_number(pb['dp_exposed'])} s (+{human_number(d_dp)} s; "
                f"of its {human_number(pb['dp_total'])} s total, latency alpha terms "
                f"{human_number(pb['dp_latency'])} s = {human_number(100 * share)}%, bandwidth M/B "
                f"{human_number(pb['dp_bandwidth'])} s, {human_number(pb['dp_hidden'])} s hidden behind the backward "
                "pass)" if pb["dp_exposed"] > 1e-9 else
                f"nothing of the all-reduce ({human_number(pb['dp_total'])} s), which hides behind the backward pass"])
            + (f"; the ZeRO-sharded optimizer step changes by {'+' if d_opt > 0 else '-'}"
               f"{human_number(abs(d_opt))} s." if abs(d_opt) > 1e-6 and max(c.efficiency[a - 1], c.efficiency[b - 1])
               <= 1.0 + 1e-9 else ".")))
        if c.n_diminishing is None:
            # 'keeps up' only where the figures say so: a curve that passes a low threshold everywhere can still have
            # lost most of the ideal (efficiency at the end of the grid below one half)
            eta_end = float(c.efficiency[-1])
            dr = (f"no run of N up to {len(c.n):,} where one more {dev} adds less than {human_sci(threshold, 6)}x"
                  + (": the fabric keeps up" if eta_end >= 0.5 else
                     f", yet the fabric does not keep up with the ideal: the scaling efficiency at N = {len(c.n):,} "
                     f"is {human_percent(eta_end)}")
                  + f" (the curve is still {human_number(c.marginal[-1])}x per {dev} at N = {len(c.n):,}"
                  + (f", efficiency {human_percent(eta_end)})" if eta_end >= 0.5 else ")"))
        elif c.crossing_kind == "jump":
            mj = float(c.marginal[c.n_diminishing - 1])  # below the threshold: shown with the digits that say so
            dr = (f"N = {c.n_diminishing}: going from {c.n_diminishing} to {c.n_diminishing + 1} {devs} adds "
                  f"{'+' + _below(mj, threshold) if mj >= 0 else '-' + human_number(-mj)}x, a jump rather than a "
                  "slope ("
                  + (f"the first {dev} beyond {sc.devices_per_node} puts the all-reduce on the fabric"
                     if c.n_diminishing == sc.devices_per_node else
                     f"the second {dev} starts the gradient all-reduce" if c.n_diminishing == 1 else
                     "the all-reduce stops hiding behind compute")
                  + f"); on the continuous model the crossing is that jump, at N = {human_sci(c.n_star, 6)}")
        else:
            dr = (f"N = {c.n_diminishing} (S({c.n_diminishing + 1}) - S({c.n_diminishing}) = "
                  f"{_below(c.marginal[c.n_diminishing - 1], threshold)} < {human_sci(threshold, 6)}); continuous "
                  f"model: dS/dN = "
                  f"{human_sci(threshold, 6)} at N* = {human_number(c.n_star, 4)} (scipy brentq)")
        if c.n_diminishing is not None and c.n_diminishing > n_max:
            dr += f", beyond the {n_max:,} {devs} of the track"
        if c.n_sustained is not None and c.n_sustained != c.n_diminishing:
            how = (f"dS/dN = {human_sci(threshold, 6)} at N* = {c.n_star_sustained:.2f} (scipy brentq)"
                   if c.crossing_kind_sustained == "smooth" else f"a jump at N = {human_sci(c.n_star_sustained, 6)}")
            dr += (f". Past that first dip the marginal speedup recovers; it stays below {human_sci(threshold, 6)} "
                   f"for good from "
                   f"N = {c.n_sustained:,} ({how})" + (f", beyond the {n_max:,} {devs} of the track"
                                                        if c.n_sustained > n_max else ""))
        elif c.n_sustained is None and c.n_diminishing is not None:
            dr += (f". The marginal speedup recovers above {human_sci(threshold, 6)} later and is still above it at "
                   f"N = {len(c.n):,}")
            drop = _unrecovered_drop(c, c.n_diminishing)
            if drop:  # the marginal comes back; the speedup lost at the drop does not
                dr += (f", but the speedup does not recover: {_comes_back(c, c.n_diminishing)}, and the scaling "
                       f"efficiency at N = {n_max:,} is {human_percent(c.efficiency[min(n_max, len(c.n)) - 1])}")
        if c.isolated:
            dr += ". " + _isolated_text(sc, c, threshold)
        if c.n_sustained is not None:
            figures[f"n_sustained_{f}"] = Figure(c.n_sustained, devs,
                                                 f"below {human_sci(threshold, 6)}x for good from N, isolated steps "
                                                 f"aside "
                                                 f"({nm})")
        if c.n_star_sustained is not None:
            figures[f"n_star_sustained_{f}"] = Figure(c.n_star_sustained, devs,
                                                      f"continuous crossing, sustained ({nm})")
        findings.append(Finding(f"Where do returns diminish (marginal speedup < {human_sci(threshold, 6)})? "
                                f"({c.fabric.name})",
                                dr if dr.endswith(".") else dr + "."))
        short = _short(c.fabric)
        head_bits.append(f"{human_number(gain)}x on {short}" + (" (slower)" if gain < 1 else ""))
        dr_bits.append(_dr_headline(c, short))
        rows_q1.append([c.fabric.name, pa["step"], pb["step"], pb["compute"], pb["dp_total"], pb["dp_latency"],
                        pb["dp_bandwidth"], pb["dp_hidden"], pb["dp_exposed"], pb["optimizer"], gain])
        for n in _grid(n_max):
            rows_curve.append([c.fabric.name, n, float(c.step_time[n - 1]), float(c.samples_per_s[n - 1]),
                               float(c.speedup[n - 1]), float(c.efficiency[n - 1]),
                               float(c.marginal[n - 1]) if n - 1 < len(c.marginal) else None])
    best = max(curves, key=lambda f: curves[f].samples_per_s[b - 1])
    worst = min(curves, key=lambda f: curves[f].samples_per_s[b - 1])
    if best != worst:
        r = curves[best].samples_per_s[b - 1] / curves[worst].samples_per_s[b - 1]
        findings.append(Finding(f"Which fabric, and by how much, at N = {b}?",
                                f"{curves[best].fabric.name}: {human_number(r)}x the throughput of "
                                f"{curves[worst].fabric.name} ({human_number(curves[best].samples_per_s[b - 1], 4)} vs "
                                f"{human_number(curves[worst].samples_per_s[b - 1], 4)} {sc.sample_word}s/s)."))
    # The attempt's optimum: the largest throughput among (fabric, N <= n_max) where one more device
    # still adds at least `threshold` of a device (the same rule evaluate_attempt scores).
    opt_f, opt_n, opt_x = None, None, -1.0
    for f, c in curves.items():
        ok = np.flatnonzero(c.marginal[:n_max] >= threshold)
        if ok.size:
            k = int(ok[np.argmax(c.samples_per_s[ok])])
            if c.samples_per_s[k] > opt_x:
                opt_f, opt_n, opt_x = f, k + 1, float(c.samples_per_s[k])
    if opt_f is None:
        # No N where one more device pays its way: a single device, on the fabric whose second device adds the most
        # (every fabric runs one device alike, with no communication; the one closest to meeting the rule is the
        # least violation), ties to the higher throughput at the curve's end. Never the first-listed fabric by order.
        opt_f = max(curves, key=lambda f: (float(curves[f].marginal[0]),
                                           float(curves[f].samples_per_s[min(n_max, len(curves[f].n)) - 1])))
        opt_n, opt_x = 1, float(curves[opt_f].samples_per_s[0])
    findings.append(Finding(f"Which fabric and N have the most throughput while one more {dev} still adds at least "
                            f"{human_sci(threshold, 6)}x?", _best_text(sc, curves, opt_f, opt_n, threshold, n_max)))
    eff_max = max(float(c.efficiency[:n_max].max()) for c in curves.values())
    if eff_max > 1.0 + 1e-9:
        findings.append(Finding("Why is the efficiency above 1 at small N?",
                                f"ZeRO-{sc.zero} shards the optimizer step over the data-parallel group, so each added "
                                f"device also shortens everyone's optimizer step (up to eta = "
                                f"{human_number(eff_max, 4)}) until the "
                                f"all-reduce outgrows what hides behind the backward pass."
                                if sc.zero else
                                f"eta reaches {human_number(eff_max, 4)}: the cost model's per-device step shrinks."))
    fit = {f: c.fits_from for f, c in curves.items()}
    any_fit = next(iter(fit.values()))
    limit = make_setup(sc, next(iter(curves.values())).fabric, sc.devices_per_node).memory_limit_bytes
    findings.append(Finding("What is scaled, and why this workload?",
                            f"{get_model(sc.model_key).name}, {sc.samples_per_device} {sc.sample_word}s per {dev} per "
                            f"step ({sc.micro_batch} x {sc.accumulation} micro-batches), pure data parallel"
                            f"{', ZeRO-' + str(sc.zero) if sc.zero else ''}. {sc.why} Memory: "
                            + (f"the replica fits in the {human_bytes(limit)} usable per {dev} from N = {any_fit}."
                               if any_fit else
                               f"the replica does not fit in the {human_bytes(limit)} usable per {dev} at any N here "
                               "(splitting it is part "
                               "2's puzzle); the times are what the cost model gives for the work.")))
    headline = (f"Weak scaling {a} -> {b} {devs}: "
                f"" + ", ".join(head_bits) + f" (ideal {human_sci(factor, 6)}x); diminishing "
                f"returns (< {human_sci(threshold, 6)}x per {dev}): " + "; ".join(dr_bits) + ".")
    plot = {"threshold": threshold, "device_word": dev, "sample_word": sc.sample_word, "n_max": n_max,
            "n_from": a, "n_to": b, "fabrics": {}}
    for f, c in curves.items():
        top = max(n_max, (c.n_diminishing or 0) + 1, (c.n_sustained or 0) + 1)
        marks = {m for m in (c.n_diminishing, c.n_sustained, a, b) if m is not None}
        grid = sorted(n for n in set(_plot_grid(len(c.n))) | marks if n <= top)
        plot["fabrics"][f] = {"label": c.fabric.name, "n": grid,
                              "samples_per_s": [float(c.samples_per_s[n - 1]) for n in grid],
                              "ideal_samples_per_s": [float(n * c.samples_per_s[0]) for n in grid],
                              "efficiency": [float(c.efficiency[n - 1]) for n in grid],
                              "n_diminishing": c.n_diminishing, "n_star": c.n_star,
                              "n_sustained": c.n_sustained,
                              "samples_per_s_at_sustained": (float(c.samples_per_s[c.n_sustained - 1])
                                                             if c.n_sustained else None),
                              "samples_per_s_at_diminishing": (float(c.samples_per_s[c.n_diminishing - 1])
                                                               if c.n_diminishing else None)}
    return Report(
        puzzle="scaling", lab="05", part=1, track=t.key, title="The communication wall", status="computed",
        headline=headline, figures=figures, findings=findings,
        constraints=[Constraint(f"marginal speedup of one more {dev} at the best fabric and N "
                                f"({_short(curves[opt_f].fabric)}, N = {opt_n:,})",
                                float(curves[opt_f].marginal[opt_n - 1]), threshold, "x", ">=",
                                binding=bool(curves[opt_f].marginal[opt_n - 1] < threshold + 0.05))],
        formulas=list(FORMULAS) if sc.collectives == "textbook" else list(FORMULAS_NCCL),
        assumptions=_assumptions(sc, curves),
        tables={"breakdown": Table(["fabric", f"step N={a} (s)", f"step N={b} (s)", "compute (s)", "all-reduce (s)",
                                    "alpha part (s)", "M/B part (s)", "hidden (s)", "exposed (s)", "optimizer (s)",
                                    f"{a}->{b} speedup"], rows_q1, f"Where the time goes at N = {b}"),
                "curve": Table(["fabric", "N", "step (s)", f"{sc.sample_word}s/s", "speedup S(N)", "efficiency",
                                "marginal S(N+1)-S(N)"], rows_curve, "Throughput and efficiency vs N")},
        plots=["scaling_efficiency"], data={"scaling_efficiency": plot},
        extra={"objective": {"name": "samples_per_s", "value": opt_x, "sense": "max"},
               "configuration": {"fabric": opt_f, "devices": opt_n},
               "workload": {"model": sc.model_key, "seq_len": sc.seq_len, "micro_batch": sc.micro_batch,
                            "accumulation": sc.accumulation, "zero": sc.zero, "recompute": sc.recompute}},
    )


def _strong_scaling(report: Report, sc: ScalingScenario, strong: dict[str, dict], curves: dict) -> None:
    """Strong-scaling findings, figures and table: the same global batch on more devices."""
    dev, devs = sc.track.device_word, sc.device_plural
    rows, bits = [], []
    for f, st in strong.items():
        name = curves[f].fabric.name
        for k, n in enumerate(st["n"]):
            rows.append([name, int(n), st["samples_per_device"][k], st["step_time"][k], st["speedup"][k],
                         st["efficiency"][k], st["comm_share"][k]])
        last = len(st["n"]) - 1
        mid = int(np.flatnonzero(st["n"] <= 64)[-1])
        report.figures[f"strong_efficiency_{st['n'][last]}_{f}"] = Figure(
            float(st["efficiency"][last]), "fraction", f"strong-scaling efficiency at N = {st['n'][last]:,} ({name})")
        half = np.flatnonzero(st["efficiency"] < 0.5)
        per_dev = float(st["samples_per_device"][last])
        bits.append(f"on {name} {_speed(st['speedup'][mid])} at N = {st['n'][mid]:,} (efficiency "
                    f"{human_percent(st['efficiency'][mid])}) and {_speed(st['speedup'][last])} at N = "
                    f"{st['n'][last]:,} ({human_percent(st['efficiency'][last])}, "
                    f"{plural(per_dev, sc.sample_word)} per {dev}"
                    + (f"; efficiency below 50% from N = {st['n'][half[0]]:,}" if half.size else "") + ")")
    report.findings.append(Finding(
        f"Strong scaling: does a fixed batch of {sc.strong_batch:,} {plural_noun(sc.sample_word)} finish faster on "
        f"more {devs}?",
        f"The same work on N {devs}: " + "; ".join(bits) + ". Each " + dev + "'s compute shrinks as 1/N while the "
        "gradient all-reduce moves the whole gradient whatever N is, so the exposed communication's share grows "
        "until it sets the step: weak scaling (each device keeps its batch) is what keeps the efficiency."))
    report.tables["strong"] = Table(["fabric", "N", f"{plural_noun(sc.sample_word)} per {dev}", "step (s)",
                                     "speedup S(N)", "efficiency", "exposed all-reduce share"], rows,
                                    f"Strong scaling: {sc.strong_batch:,} {plural_noun(sc.sample_word)} per step")
    fast = max(strong, key=lambda f: strong[f]["efficiency"][-1])
    st = strong[fast]
    report.headline += (f" Strong scaling of {sc.strong_batch:,} {plural_noun(sc.sample_word)}: "
                        f"{human_percent(st['efficiency'][-1])} efficient at N = {st['n'][-1]:,} on "
                        f"{_short(curves[fast].fabric)}"
                        + "".join(f", {human_percent(strong[f]['efficiency'][-1])} on {_short(curves[f].fabric)}"
                                  for f in strong if f != fast) + ".")
    report.formulas.append(Formula("strong scaling", "S(N) = t_step(1) / t_step(N) at a fixed global batch B; "
                                   "eta(N) = S(N)/N", "docs/conventions.md 'Scaling'"))


def _critical_batch(report: Report, sc: ScalingScenario, curves: dict, n_max: int) -> None:
    """The weak-scaling warning: the global batch grows with N and passes the critical batch."""
    bc = sc.b_crit
    dev, devs = sc.track.device_word, sc.device_plural
    # the first whole N whose global batch N x b exceeds B_crit (112.5 GPUs is not a cluster size)
    n_cross = math.floor(bc / sc.samples_per_device) + 1
    bits = []
    for f, c in curves.items():
        q = quality_speedup(sc, c)
        k = min(n_max, len(c.n)) - 1
        report.figures[f"quality_speedup_{n_max}_{f}"] = Figure(float(q[k]), "x",
                                                                f"time-to-loss speedup at N = {n_max:,} "
                                                                f"({c.fabric.name})")
        bits.append(f"on {c.fabric.name} {human_number(c.speedup[k])}x the {plural_noun(sc.sample_word)} per second "
                    f"but {human_number(q[k])}x sooner to the target loss")
    ceiling = 1.0 + bc / sc.samples_per_device
    fast = max(curves, key=lambda f: curves[f].speedup[min(n_max, len(curves[f].n)) - 1])
    k = min(n_max, len(curves[fast].n)) - 1
    report.figures["critical_batch_samples"] = Figure(bc, plural_noun(sc.sample_word), "critical batch B_crit")
    report.figures["critical_batch_devices"] = Figure(n_cross, devs, "weak scaling passes B_crit from N (the first "
                                                      "whole N with N x b > B_crit)")
    report.formulas.append(Formula("critical batch", "S = S_min (1 + B_crit / B);  Q(N) = (1 + B_crit/B(1)) t(1) / "
                                   "((1 + B_crit/B(N)) t(N))", "McCandlish et al. 2018, eq. 2.11; Kaplan et al. "
                                   "2020, eq. 1.4"))
    if n_max < n_cross:  # the curve ends before the batch reaches B_crit: nothing to warn about in this range
        report.findings.append(Finding(
            "Does weak scaling reach the critical batch in this range?",
            f"No. Weak scaling grows the global batch with N ({sc.samples_per_device} "
            f"{plural_noun(sc.sample_word)} per {dev}), and at N = {n_max:,}, the curve's end, it is "
            f"{n_max * sc.samples_per_device:,} {plural_noun(sc.sample_word)}, below the critical batch B_crit = "
            f"{human_number(bc)} {plural_noun(sc.sample_word)} (Kaplan et al. 2020 eq. 1.4; McCandlish et al. 2018), "
            f"which it would pass from N = {n_cross:,}. Steps to the target still fall as 1 + B_crit/B rather than "
            f"1/B, so at N = {n_max:,}: " + "; ".join(bits) + "."))
        return
    report.headline += (f" Warning: from N = {n_cross:,} the batch exceeds the critical batch; at "
                        f"{n_max:,}, {human_number(curves[fast].speedup[k])}x the {plural_noun(sc.sample_word)}/s "
                        f"buys {human_number(quality_speedup(sc, curves[fast])[k])}x sooner to the loss.")
    report.findings.append(Finding(
        "Warning: does weak scaling stay useful past the critical batch?",
        f"No. Weak scaling grows the global batch with N ({sc.samples_per_device} {plural_noun(sc.sample_word)} per "
        f"{dev}), and from N = {n_cross:,} ({n_cross * sc.samples_per_device:,} {plural_noun(sc.sample_word)}) it "
        f"passes the critical batch B_crit = {human_number(bc)} {plural_noun(sc.sample_word)} (Kaplan et al. 2020 "
        "eq. 1.4; McCandlish et al. 2018). Past it each step is "
        f"worth less: steps to the target fall as 1 + B_crit/B, not as 1/B, so at N = {n_max:,}: "
        + "; ".join(bits) + f". However many {devs} are added, the time to the loss can shrink by at most "
        f"1 + B_crit/b = {human_number(ceiling)}x over one {dev}: beyond B_crit, grow the model or the "
        "sequence, or scale strongly, rather than the batch."))


def _plot_grid(n_max: int) -> list[int]:
    pts = np.unique(np.round(np.geomspace(1, n_max, 120)).astype(int))
    return sorted(set(int(p) for p in pts) | set(_grid(n_max)))
