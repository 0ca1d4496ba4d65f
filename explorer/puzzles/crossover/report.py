"""The crossover report: the figures, the questions answered, tables, formulas and assumptions of
every track, with the track's extras (fleet.py) and the cloud narration (cloud.py), assembled into
the Report (its fleet form from explorer/puzzles/fleetlens).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from explorer import validation as V
from explorer.cost import collectives as col
from explorer.puzzles.collective_scenario import get_scenario
from explorer.puzzles.crossover.cloud import nccl_same_gradient, saturated_answer
from explorer.puzzles.crossover.fleet import edge_extras, mobile_extras, tiny_extras
from explorer.puzzles.crossover.model import ALGORITHMS, NAME, allreduce_times, find_crossover, ring_tree_crossover
from explorer.puzzles.crossover.words import apart_words, overridden_words, rate_unit, rate_words
from explorer.puzzles.fleetlens import fleet_view
from explorer.report import Assumption, Figure, Finding, Formula, Report, Table
from explorer.units import human_bytes_3 as _human  # three significant digits
from explorer.units import human_duration as dur


@fleet_view("crossover")
def solve(track: str = "cloud", *, n: int | None = None, alpha_s: float | None = None,
          bandwidth_bps: float | None = None, message_bytes: float | None = None, **_: Any) -> Report:
    """Crossover report for a track; n, alpha_s, bandwidth_bps (effective bytes/s) and message_bytes
    override the track's scenario."""
    t0 = time.perf_counter()
    sc = get_scenario(track)
    link = sc.crossover_link
    n = V.FLEET_PARTICIPANTS.check("participants N", n, sc.crossover_n)
    alpha = V.LATENCY_S.check("alpha", alpha_s, link.latency_s)
    bw = V.BANDWIDTH_BPS.check("bandwidth", bandwidth_bps, link.effective_bandwidth)
    m = V.MESSAGE_BYTES.check("message size", message_bytes, sc.bucket_bytes)
    L = math.ceil(math.log2(n))

    m_star = ring_tree_crossover(n, alpha, bw)
    m_closed = col.ring_tree_crossover_closed_form(n, alpha, bw)
    m_approx, m_lab = col.ring_tree_crossover_approx(n, alpha, bw), col.lab_text_crossover(n, alpha, bw)
    rel = abs(m_star - m_closed) / m_closed if m_closed > 0 else 0.0
    rel = 0.0 if rel < 1e-12 else rel  # below brentq's tolerance the difference is rounding, not a disagreement
    m_dbt = find_crossover(lambda x: col.double_binary_tree_allreduce_time(x, n, alpha, bw),
                           lambda x: col.ring_allreduce_time(x, n, alpha, bw), alpha * bw * n)
    at_m = allreduce_times(m, n, alpha, bw)
    at_grad = allreduce_times(sc.gradient_bytes, n, alpha, bw)
    best = min(at_m, key=at_m.get)

    figures = {
        "participants": Figure(n, "", "participants N"),
        "alpha": Figure(alpha, "s", "alpha (per-message latency)"),
        "bandwidth": Figure(bw, "B/s", f"bandwidth B ({link.name}, x{link.efficiency} efficiency)"),
        "crossover_bytes": Figure(m_star, "B", "crossover M* ring = tree (SciPy brentq)"),
        "crossover_closed_form_bytes": Figure(m_closed, "B", "crossover M* (closed form, docs/conventions.md)"),
        "crossover_relative_difference": Figure(rel, "fraction", "|SciPy - closed form| / closed form"),
        "crossover_approx_bytes": Figure(m_approx, "B", "approximation alpha B N / log2 N"),
        "lab_form_bytes": Figure(m_lab, "B", "lab text 'M ~ N alpha/beta' with beta = 1/B (s/byte)"),
        "dbt_crossover_bytes": Figure(m_dbt, "B", "ring vs NCCL double binary tree crossover (SciPy)"),
        "message_bytes": Figure(m, "B", "message size M (this scenario)"),
    }
    if m_closed <= 0:  # N <= 3: no size where tree beats ring; 'M* = 0 B' and a 0/0 difference would say otherwise
        figures["crossover_bytes"] = Figure("none (ring is never slower)", "",
                                            "crossover M* ring = tree (SciPy brentq)")
        figures["crossover_closed_form_bytes"] = Figure("none: N - 1 <= ceil(log2 N)", "",
                                                        "crossover M* (closed form, docs/conventions.md)")
        del figures["crossover_relative_difference"]
    if m_dbt is None:
        figures["dbt_crossover_bytes"] = Figure("none (ring is never slower)", "",
                                                "ring vs NCCL double binary tree crossover (SciPy)")
    for a in ALGORITHMS:
        figures[f"{a}_time_s"] = Figure(at_m[a], "s", f"{col.ALLREDUCE_LABELS[a]} at M")
    figures["best_algorithm"] = Figure(NAME[best], "", "fastest algorithm at M")

    # how M* moves with alpha, B and N
    # one format per column: sizes in whole bytes (the closed form's 188,000.00000001 read '188,000.0' beside
    # brentq's '188,000'), no crossover as None (JSON null, '-' in text: the table's title says what it means), alpha
    # in microseconds and B in the unit the scenario's B reaches (47 GB/s, not 47,000,000,000 B/s)
    b_scale, b_unit = rate_unit(bw)
    sens = []
    for label, (nn, aa, bb) in {"scenario": (n, alpha, bw), "alpha x 2": (n, 2 * alpha, bw),
                                "bandwidth x 2": (n, alpha, 2 * bw), "N x 2": (2 * n, alpha, bw),
                                "N / 2": (max(2, n // 2), alpha, bw)}.items():
        sens.append([label, nn, _us(aa), bb / b_scale, _whole_bytes(ring_tree_crossover(nn, aa, bb))])
    n_rows = []
    for nn in sorted({2, 4, 8, 16, 32, 64, 128, 256, 1024, n}):
        n_rows.append([nn, math.ceil(math.log2(nn)), _whole_bytes(col.ring_tree_crossover_closed_form(nn, alpha, bw)),
                       _whole_bytes(ring_tree_crossover(nn, alpha, bw)),
                       _whole_bytes(col.ring_tree_crossover_approx(nn, alpha, bw))])
    none_note = "; -: no crossover (N - 1 <= ceil(log2 N): ring is never slower than tree)"
    sizes = np.logspace(math.log10(max(8.0, min(m_star or m, m) / 1e3)),
                        math.log10(max(m, sc.gradient_bytes, 10 * (m_star or 1.0))), 41)
    curve = {a: [float(col.allreduce_time(a, x, n, alpha, bw)) for x in sizes] for a in ALGORITHMS}
    table_sizes = sorted({*(float(x) for x in np.logspace(2, 11, 10)), m, sc.gradient_bytes})
    time_rows = []
    for x in table_sizes:
        tt = allreduce_times(x, n, alpha, bw)
        time_rows.append([x] + [tt[a] for a in ALGORITHMS] + [NAME[min(tt, key=tt.get)]])

    big_ratio = L * n / (n - 1)
    small_gain = 2 * (n - 1 - L) * alpha
    findings = [
        Finding("At what message size M* do ring and tree AllReduce take the same time?",
                f"M* = {m_star:,.0f} bytes for N = {n:,}, alpha = {dur(alpha)}, B = {rate_words(bw)} "
                f"(SciPy brentq); the closed form alpha B (N-1-L)/(L-(N-1)/N) with L = {L} gives {m_closed:,.0f} "
                f"bytes, {apart_words(rel)}. Rough form alpha B N / log2 N = {m_approx:,.0f}."
                if m_closed > 0 else
                f"No crossover: with N = {n:,} <= 3, N - 1 <= ceil(log2 N) so ring is never slower than tree."),
        Finding("Does tree become more or less attractive as M grows?",
                f"Less. Below M* tree wins, by at most 2(N-1-L) alpha = {dur(small_gain)} (the alpha "
                f"term it cuts); above M* ring wins, and as M grows tree/ring tends to L N/(N-1) = "
                f"{big_ratio:.2f}x because the textbook tree sends the whole M at each of its 2L levels."
                if m_closed > 0 else
                f"It is never attractive at N = {n:,}: its 2L alpha = {dur(2 * L * alpha)} is ring's 2(N-1) alpha, so "
                f"it has no latency to cut at any M, and its bandwidth term is L N/(N-1) = {big_ratio:.2f}x ring's "
                "because the textbook tree sends the whole M at each of its 2L levels; tree/ring rises from 1x at "
                f"small M towards {big_ratio:.2f}x as M grows."),
        Finding("How does M* move with alpha, bandwidth and N?",
                "Linearly with alpha and with B (M* is proportional to alpha B: doubling either doubles M*); "
                "with N roughly as N / log2 N: " + ", ".join(f"N = {r[0]:,}: {r[3]:,} B" for r in n_rows
                                                               if r[0] in (4, 16, 64, 256, 1024) and r[3]) + "."),
        Finding(f"At this scenario's message (M = {m:,.0f} bytes), which algorithm is fastest?",
                ", ".join(f"{NAME[a]} {dur(at_m[a])}" for a in ALGORITHMS) + f": {NAME[best]}. Under the "
                "alpha-beta model (no contention) recursive halving-doubling has tree's log2 N alpha term and ring's "
                "bandwidth term, so for powers of two it is never worse than either; "
                + (f"NCCL's pipelined double binary tree beats ring below {m_dbt:,.0f} bytes." if m_dbt is not None
                   else f"NCCL's pipelined double binary tree never beats ring at N = {n:,} under this model.")),
    ]
    nccl_text = ""
    if sc.setup is not None:  # a step-model track: the same gradient as NCCL runs it on N of the track's nodes
        nccl_figs, nccl_text = nccl_same_gradient(sc, n, alpha, bw, at_grad["ring"])
        figures.update(nccl_figs)
    if sc.track == "cloud":
        findings.append(Finding("Ring is saturated: does tree cut the alpha term?",
                                saturated_answer(sc, n, alpha, bw, m, m_star, at_m, at_grad) + nccl_text))
    tables = {
        "times": Table(["message (B)"] + [f"{NAME[a]} (s)" for a in ALGORITHMS] + ["fastest"], time_rows,
                       "AllReduce time vs message size"),
        "crossover_vs_n": Table(["N", "L = ceil(log2 N)", "M* closed form (B)", "M* SciPy (B)",
                                 "alpha B N / log2 N (B)"], n_rows, "Crossover vs participants"
                                + (none_note if any(r[2] is None for r in n_rows) else "")),
        "sensitivity": Table(["change", "N", "alpha (us)", f"B ({b_unit})", "M* (B)"], sens,
                             "How M* moves" + (none_note if any(r[4] is None for r in sens) else "")),
    }
    formulas = [
        Formula("ring AllReduce", "T_ring = 2 (N-1) alpha + 2 (N-1)/N * M / B",
                "Patarasuk & Yuan 2009; Thakur et al. 2005; docs/conventions.md 'Collectives'"),
        Formula("tree AllReduce (binomial, unpipelined)", "T_tree = 2 ceil(log2 N) (alpha + M / B)",
                "docs/conventions.md 'Collectives' (textbook latency-optimal tree)"),
        Formula("crossover", "M* = alpha B (N - 1 - L) / (L - (N-1)/N),  L = ceil(log2 N);  ~ alpha B N / log2 N",
                "docs/conventions.md 'Collectives'; solved numerically with scipy.optimize.brentq",
                "The lab text writes M ~ N alpha / beta. That has the units of bytes only if beta is the "
                "inverse bandwidth in seconds per byte (then N alpha / beta = N alpha B); read as a bandwidth "
                "(bytes/s) it gives s^2/byte, not a size. It also drops the 1/log2 N factor: the lab form "
                f"gives {m_lab:,.0f} B here vs the exact {m_closed:,.0f} B."),
        Formula("recursive halving-doubling", "T_rhd = 2 log2(p) alpha + 2 (p-1)/p * M / B  (+ 2 (alpha + M/B) if N "
                "is not a power of two, p = 2^floor(log2 N))", "Thakur, Rabenseifner & Gropp 2005, sec. 4.4"),
        Formula("NCCL-style double binary tree", "T_dbt = 2 (D - 1 + k)(alpha + M/(k B)), k = max(1, sqrt((D-1) M "
                "/ (alpha B))), D = ceil(log2 N)", "Sanders, Speck & Traeff 2009; NCCL 2.4 (Jeaugey 2019)",
                "Pipelining model with a continuous chunk count; NCCL's tuner picks chunks differently."),
    ]
    assumptions = [
        Assumption(f"Scenario: {sc.scenario}", sc.source),
        Assumption(f"alpha and B from {link.name}: alpha = {dur(link.latency_s)}, "
                   f"B = {rate_words(link.effective_bandwidth)} (line rate x efficiency {link.efficiency})"
                   + overridden_words(alpha, bw, link), link.source),
        Assumption("No contention, full-duplex links, every step bounded by its slowest transfer "
                   "(alpha-beta model)", "Hockney 1994; Thakur et al. 2005"),
    ]
    plots = ["crossover"]
    data: dict[str, Any] = {"crossover": {
        "message_bytes": [float(x) for x in sizes], "times_s": curve,
        "labels": dict(col.ALLREDUCE_LABELS), "crossover_bytes": m_star if m_star > 0 else None,
        "closed_form_bytes": m_closed, "scenario_message_bytes": m, "n": n, "alpha_s": alpha,
        "bandwidth_bps": bw}}

    extra_fn = {"edge": edge_extras, "mobile": mobile_extras, "tiny": tiny_extras}.get(sc.track)
    if extra_fn is not None:
        extra_fn(sc, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions, plots, data)

    even = (f"Ring and tree AllReduce break even at M* = {_human(m_star)} over N = {n:,} ({link.name}); tree wins "
            "below, ring above." if m_star > 0 else
            f"With N = {n:,} ring AllReduce is never slower than the textbook tree ({link.name}).")
    headline = f"{even} At M = {_human(m)}, {NAME[best]} is fastest ({dur(at_m[best])})."
    return Report(puzzle="crossover", lab="06", part=1, track=sc.track, title="The algorithm crossover",
                  status="computed", headline=headline, figures=figures, findings=findings, formulas=formulas,
                  assumptions=assumptions, tables=tables, plots=plots, data=data,
                  scenario={"n": n, "alpha_s": alpha, "bandwidth_bps": bw, "message_bytes": m},
                  solve_time_s=time.perf_counter() - t0)


def _whole_bytes(x: float | None) -> int | None:
    """A crossover size in whole bytes for a table column; None where there is none (0 or None: N <= 3)."""
    return int(round(x)) if x and x > 0 else None


def _us(seconds: float) -> float | int:
    """A latency in microseconds for a table column: a whole number where it is one (5, not 5.0000000001)."""
    us = seconds * 1e6
    return int(round(us)) if math.isclose(us, round(us), rel_tol=1e-9, abs_tol=1e-9) else us
