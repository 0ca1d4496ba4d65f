"""Lab 06 part 1, the algorithm crossover: ring vs tree AllReduce (and recursive halving-doubling,
NCCL-style double binary tree) against message size M and participants N under the alpha-beta
model. The crossover M* is found as a root with SciPy (brentq) and checked against the closed
form of docs/conventions.md. Track extras: edge (alpha random: expected time and p99),
mobile (energy per sync, AR frames lost), tiny (gossip rounds vs consensus error, BLE energy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from explorer import validation as V
from explorer.cost import collectives as col
from explorer.cost import gossip
from explorer.cost.federated import consensus_rate
from explorer.cost.radio import frames_lost, radio_energy_j
from explorer.puzzles.collective_scenario import (
    CollectiveScenario,
    get_scenario,
)
from explorer.puzzles.fleetlens import fleet_view
from explorer.report import Assumption, Figure, Finding, Formula, Report, Table
from explorer.units import human_bytes_3 as _human  # three significant digits
from explorer.units import human_duration as dur
from explorer.units import human_number

ALGORITHMS = tuple(col.ALLREDUCE_ALGORITHMS)
NAME = col.ALLREDUCE_NAMES
MAX_LATENCY_SIM_N = 128  # edge random-latency simulation: beyond this the report skips it
MAX_GOSSIP_N = 512  # tiny contact-graph simulation: beyond this the report skips it
SIM_DRAWS = 1e7  # about this many latency draws per (algorithm, size) in the edge simulation (at least 500 trials)


# --- the numerical crossover --------------------------------------------------------------------
def find_crossover(t_small: Callable[[float], float], t_large: Callable[[float], float],
                   scale: float) -> float | None:
    """The M > 0 where t_small(M) = t_large(M), with t_small faster below and t_large faster above
    (SciPy brentq on the time difference). None when t_small is never faster (no positive root)."""
    from scipy.optimize import brentq

    def diff(m: float) -> float:
        return t_small(m) - t_large(m)

    if diff(0.0) >= 0.0:
        return None
    hi = max(scale, 1.0)
    for _ in range(200):
        if diff(hi) > 0.0:
            return float(brentq(diff, 0.0, hi, xtol=1e-12, rtol=1e-14, maxiter=500))
        hi *= 2.0
    return None


def ring_tree_crossover(n: int, alpha: float, bandwidth: float) -> float:
    """Numerical ring/tree crossover M* (bytes); 0 when ring is never slower (N <= 3)."""
    m = find_crossover(lambda m: col.tree_allreduce_time(m, n, alpha, bandwidth),
                       lambda m: col.ring_allreduce_time(m, n, alpha, bandwidth), alpha * bandwidth * n)
    return 0.0 if m is None else m


def _times(m: float, n: int, alpha: float, bw: float) -> dict[str, float]:
    return {a: float(col.allreduce_time(a, m, n, alpha, bw)) for a in ALGORITHMS}


# --- the puzzle ---------------------------------------------------------------------------------
def _nccl_same_gradient(sc, n: int, alpha: float, bw: float, t_textbook: float) -> tuple[dict[str, Figure], str]:
    """The scenario's full gradient all-reduced as NCCL runs it on N of the track's nodes (the collective form of the
    3D model, which hierarchy and compression time their sync with: CollectiveScenario.dp_sync_time, on the track's
    own node count), set beside this part's textbook ring, with the reasons the two differ. The textbook question
    counts N nodes as members, each with one NIC that carries the whole message; NCCL spreads the message over every
    GPU of those N nodes, one ring per rail (each of a node's NICs carries its share), picks ring or its double
    binary tree per call, and reduces in the switch (SHARP) only where the scenario turns it on.

    NCCL runs on the track's links. Where alpha or B is overridden to something else, the textbook figures no
    longer describe those links, so the two times are set side by side with that said, and no ratio is drawn."""
    from explorer.cost.time import allreduce

    setup, m = sc.setup, sc.gradient_bytes
    c = setup.cluster
    k = int(c.devices_per_node)
    d = n * k  # the user's N nodes, each a node of the track's cluster (as the track's N = 16 nodes are 128 GPUs)
    g = setup.group(d)
    args = (m, d, g.per_node, g.alpha_intra, g.alpha_inter, g.bus_bandwidth)
    ring, tree = float(col.nccl_ring_allreduce_time(*args)), float(col.nccl_tree_allreduce_time(*args))
    t = float(allreduce(setup, m, d))  # on the track's own node count this is sc.dp_sync_time(m)
    own = d == sc.devices
    nodes, bus = int(round(float(g.nodes))), float(g.bus_bandwidth)
    nic, nic_bw, nic_alpha = c.inter.name.split(" (")[0], c.inter.effective_bandwidth, c.inter.latency_s
    intra, rails = c.intra.effective_bandwidth, k * nic_bw
    bus_words = (f"min({c.intra.name.split(' (')[0]} {intra / 1e9:,.0f} GB/s, {k} NICs x "
                 f"{nic_bw / 1e9:,.0f} GB/s = {rails / 1e9:,.0f} GB/s) = {bus / 1e9:,.0f} GB/s"
                 if math.isclose(bus, min(intra, rails), rel_tol=1e-9) else f"{bus / 1e9:,.0f} GB/s")
    bw_part = 2 * (d - 1) / d * m / bus
    picked = (f"ring, faster here than its double binary tree ({dur(tree)})" if ring <= tree else
              f"its double binary tree, faster here than ring ({dur(ring)})")
    sharp = ("with in-switch reduction (NVLink SHARP) on" if float(g.nvls_bandwidth) > 0 else
             "without in-switch reduction (no SHARP: the scenario does not turn it on)")
    where = (f"as the 3D model, hierarchy and compression time the same {_human(m)} on the same cluster, takes "
             f"{dur(t)}: it runs over all {d:,} GPUs ({nodes} nodes of {k})" if own else
             f"on N = {n:,} of the track's nodes ({k} GPUs and {k} {nic} NICs each: {d:,} GPUs, where the track's "
             f"cluster, which hierarchy and compression time, has {sc.devices:,}), takes {dur(t)} for the same "
             f"{_human(m)}: it runs over all {d:,} GPUs")
    same_alpha = math.isclose(alpha, nic_alpha, rel_tol=1e-6)
    same_bw = math.isclose(bw, nic_bw, rel_tol=1e-6)
    if same_alpha and same_bw:
        ratio = t_textbook / t
        verdict = (f"The textbook ring's {dur(t_textbook)} is {human_number(ratio)}x that: "
                   + (f"the rails ({k} NICs a node against one), not the algorithm, make the difference."
                      if ratio > 1 else "the textbook ring is not the slower here."))
    else:
        given = " and ".join(x for x, same in ((f"alpha = {dur(alpha)}", same_alpha), (f"B = {_rate(bw)}", same_bw))
                             if not same)
        verdict = (f"NCCL's figure is for the track's {nic} NICs (alpha = {dur(nic_alpha)}, B = {_rate(nic_bw)} "
                   f"each), not the {given} given here, so it and the textbook ring's {dur(t_textbook)} are not "
                   "like-for-like and no ratio is drawn: leave alpha and B at the track's to compare them.")
    text = (f" That is this part's textbook question: {n:,} nodes as the members, each with one NIC carrying the "
            f"whole message. NCCL, {where}, one ring per rail, so each of a node's {k} NICs carries 1/{k} of the "
            f"message and the bus bandwidth is {bus_words}; "
            f"2 x {d - 1}/{d} x {_human(m)} / {bus / 1e9:,.0f} GB/s = {dur(bw_part)} plus per-tier latency "
            f"(NVLink steps inside a node, NIC steps between nodes), {sharp}; it picks {picked}. {verdict}")
    links = "" if same_alpha and same_bw else f"; the track's {nic} NICs, not the alpha/B given"
    figures = {
        "ring_full_gradient_s": Figure(t_textbook, "s", f"textbook ring, full gradient, N = {n:,} (one NIC each)"),
        "nccl_full_gradient_s": Figure(t, "s", (f"the same gradient as NCCL runs it ({d:,} GPUs, one ring per rail; "
                                                "hierarchy's and compression's sync" if own else
                                                f"the same gradient as NCCL runs it on N = {n:,} of the track's "
                                                f"nodes ({d:,} GPUs, one ring per rail")
                                       + links + ")"),
    }
    return figures, text


def _saturated_answer(sc, n: int, alpha: float, bw: float, m: float, m_star: float, at_m: dict[str, float],
                      at_grad: dict[str, float]) -> str:
    """The cloud question 'Ring is saturated: does tree cut the alpha term?', answered from the figures: where M
    lies against M* (below, at, past, or no crossover at all), which of ring's two terms is the larger at M, which
    algorithm is faster there, and what the double binary tree's bandwidth term is against ring's."""
    L = math.ceil(math.log2(n))
    ring_a = float(col.ring_allreduce_time(0.0, n, alpha, bw))  # ring's alpha term 2(N-1) alpha (M = 0)
    tree_a = float(col.tree_allreduce_time(0.0, n, alpha, bw))  # tree's 2 L alpha
    ring_b = at_m["ring"] - ring_a  # ring's bandwidth term 2(N-1)/N M/B
    ring_t, tree_t = at_m["ring"], at_m["tree"]
    bucket = f"a {_human(m)} DDP bucket"
    if m_star <= 0:
        where = f"At N = {n:,} there is no M* (ring is never slower than the textbook tree); at {bucket}"
    elif math.isclose(m, m_star, rel_tol=1e-3):
        where = f"At {bucket}, at M* = {_human(m_star)},"
    else:
        where = (f"At {bucket}, {human_number(m / m_star)}x M* = {_human(m_star)} "
                 f"({'past' if m > m_star else 'below'} it),")
    terms = _ring_terms(m, n, alpha, bw)
    if dur(ring_t) == dur(tree_t):
        race = f"ring takes {dur(ring_t)} and the textbook tree {dur(tree_t)}, the same to three digits"
    else:
        race = (f"ring takes {dur(ring_t)} and the textbook tree {dur(tree_t)}: "
                f"{'ring' if ring_t < tree_t else 'tree'} is faster")
    why = ""
    if m_star > 0 and m > m_star and ring_b < ring_a and ring_t < tree_t:
        why = (" Past M* ring wins even while its alpha term is the larger: the tree pays M/B at each of its "
               "2L levels.")
    elif m_star > 0 and m < m_star and tree_t < ring_t:
        why = " Below M* the alpha term tree cuts is worth more than the bandwidth it adds."
    # the pipelined double binary tree's bandwidth term: each rank moves about M each way in each of its two phases,
    # 2 M/B as its chunks grow (collectives.double_binary_tree_allreduce_time), against ring's 2(N-1)/N M/B
    g = sc.gradient_bytes
    dbt_b = float(col.p2p_time(2.0 * g, 0.0, bw))
    ring_gb = at_grad["ring"] - ring_a
    dbt = (f"the pipelined double binary tree ({dur(at_grad['double_binary_tree'])}) has a bandwidth term of "
           f"2 M/B = {dur(dbt_b)} against ring's 2(N-1)/N M/B = {dur(ring_gb)} (N/(N-1) = {n:,}/{n - 1:,} = "
           f"{dbt_b / ring_gb:.4g}x ring's: equal only as N grows), and its latency is about 2 ceil(log2 N) alpha "
           "only for small messages (pipelined in chunks it pays alpha once per chunk)")
    return (f"{'Yes' if L < n - 1 else 'No'} for the alpha term: 2 L alpha = {dur(tree_a)} vs ring's 2(N-1) alpha = "
            f"{dur(ring_a)} over {n:,} nodes. {where} {terms}; {race}.{why} For the full {_human(g)} gradient ring "
            f"takes {dur(at_grad['ring'])}, tree {dur(at_grad['tree'])}; {dbt}.")


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
    at_m = _times(m, n, alpha, bw)
    at_grad = _times(sc.gradient_bytes, n, alpha, bw)
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
    sens = []
    for label, (nn, aa, bb) in {"scenario": (n, alpha, bw), "alpha x 2": (n, 2 * alpha, bw),
                                "bandwidth x 2": (n, alpha, 2 * bw), "N x 2": (2 * n, alpha, bw),
                                "N / 2": (max(2, n // 2), alpha, bw)}.items():
        sens.append([label, nn, aa, bb, ring_tree_crossover(nn, aa, bb) or "none"])
    n_rows = []
    for nn in sorted({2, 4, 8, 16, 32, 64, 128, 256, 1024, n}):
        num = ring_tree_crossover(nn, alpha, bw)
        n_rows.append([nn, math.ceil(math.log2(nn)), col.ring_tree_crossover_closed_form(nn, alpha, bw) or "none",
                       num or "none", col.ring_tree_crossover_approx(nn, alpha, bw)])
    sizes = np.logspace(math.log10(max(8.0, min(m_star or m, m) / 1e3)),
                        math.log10(max(m, sc.gradient_bytes, 10 * (m_star or 1.0))), 41)
    curve = {a: [float(col.allreduce_time(a, x, n, alpha, bw)) for x in sizes] for a in ALGORITHMS}
    table_sizes = sorted({*(float(x) for x in np.logspace(2, 11, 10)), m, sc.gradient_bytes})
    time_rows = []
    for x in table_sizes:
        tt = _times(x, n, alpha, bw)
        time_rows.append([x] + [tt[a] for a in ALGORITHMS] + [NAME[min(tt, key=tt.get)]])

    big_ratio = L * n / (n - 1)
    small_gain = 2 * (n - 1 - L) * alpha
    findings = [
        Finding("At what message size M* do ring and tree AllReduce take the same time?",
                f"M* = {m_star:,.0f} bytes for N = {n:,}, alpha = {dur(alpha)}, B = {_rate(bw)} "
                f"(SciPy brentq); the closed form alpha B (N-1-L)/(L-(N-1)/N) with L = {L} gives {m_closed:,.0f} "
                f"bytes, {_apart(rel)}. Rough form alpha B N / log2 N = {m_approx:,.0f}."
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
                "with N roughly as N / log2 N: " + ", ".join(f"N = {r[0]:,}: {r[3]:,.0f} B" for r in n_rows
                                                               if r[0] in (4, 16, 64, 256, 1024)) + "."),
        Finding(f"At this scenario's message (M = {m:,.0f} bytes), which algorithm is fastest?",
                ", ".join(f"{NAME[a]} {dur(at_m[a])}" for a in ALGORITHMS) + f": {NAME[best]}. Under the "
                "alpha-beta model (no contention) recursive halving-doubling has tree's log2 N alpha term and ring's "
                "bandwidth term, so for powers of two it is never worse than either; "
                + (f"NCCL's pipelined double binary tree beats ring below {m_dbt:,.0f} bytes." if m_dbt is not None
                   else f"NCCL's pipelined double binary tree never beats ring at N = {n:,} under this model.")),
    ]
    nccl_text = ""
    if sc.setup is not None:  # a step-model track: the same gradient as NCCL runs it on N of the track's nodes
        nccl_figs, nccl_text = _nccl_same_gradient(sc, n, alpha, bw, at_grad["ring"])
        figures.update(nccl_figs)
    if sc.track == "cloud":
        findings.append(Finding("Ring is saturated: does tree cut the alpha term?",
                                _saturated_answer(sc, n, alpha, bw, m, m_star, at_m, at_grad) + nccl_text))
    tables = {
        "times": Table(["message (B)"] + [f"{NAME[a]} (s)" for a in ALGORITHMS] + ["fastest"], time_rows,
                       "AllReduce time vs message size"),
        "crossover_vs_n": Table(["N", "L = ceil(log2 N)", "M* closed form (B)", "M* SciPy (B)",
                                 "alpha B N / log2 N (B)"], n_rows, "Crossover vs participants"),
        "sensitivity": Table(["change", "N", "alpha (s)", "B (B/s)", "M* (B)"], sens, "How M* moves"),
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
                   f"B = {_rate(link.effective_bandwidth)} (line rate x efficiency {link.efficiency})"
                   + _overridden(alpha, bw, link), link.source),
        Assumption("No contention, full-duplex links, every step bounded by its slowest transfer "
                   "(alpha-beta model)", "Hockney 1994; Thakur et al. 2005"),
    ]
    plots = ["crossover"]
    data: dict[str, Any] = {"crossover": {
        "message_bytes": [float(x) for x in sizes], "times_s": curve,
        "labels": dict(col.ALLREDUCE_LABELS), "crossover_bytes": m_star if m_star > 0 else None,
        "closed_form_bytes": m_closed, "scenario_message_bytes": m, "n": n, "alpha_s": alpha,
        "bandwidth_bps": bw}}

    extra_fn = {"edge": _edge, "mobile": _mobile, "tiny": _tiny}.get(sc.track)
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




def _rate(bps: float) -> str:
    for scale, unit in ((1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} B/s"


def _overridden(alpha: float, bw: float, link) -> str:
    """'; overridden here: ...' when alpha or B is not the link's (the figures then use the values given)."""
    given = []
    if not math.isclose(alpha, link.latency_s, rel_tol=1e-6):
        given.append(f"alpha = {dur(alpha)}")
    if not math.isclose(bw, link.effective_bandwidth, rel_tol=1e-6):
        given.append(f"B = {_rate(bw)}")
    return f"; overridden here: {' and '.join(given)}" if given else ""


def _ring_terms(m: float, n: int, alpha: float, bw: float) -> str:
    """Which of ring's two terms is the larger at M, with both figures (from the cost function: the alpha term is
    its time at M = 0, the bandwidth term the rest)."""
    a = float(col.ring_allreduce_time(0.0, n, alpha, bw))
    b = float(col.ring_allreduce_time(m, n, alpha, bw)) - a
    if math.isclose(a, b, rel_tol=1e-3):
        return f"ring's alpha term and its bandwidth term 2(N-1)/N M/B are level ({dur(a)} each)"
    if b > a:
        return f"ring's bandwidth term 2(N-1)/N M/B = {dur(b)} outweighs its alpha term ({dur(a)})"
    return f"ring's alpha term ({dur(a)}) outweighs its bandwidth term 2(N-1)/N M/B = {dur(b)}"


# --- track extras -------------------------------------------------------------------------------
def _edge(sc: CollectiveScenario, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions,
          plots, data) -> None:
    from explorer.sim.random_latency_collectives import (
        SCHEDULED,
        expected_crossover,
        lognormal_params,
        simulate_times,
        summarize,
    )

    cv = sc.crossover_link.latency_cv
    trials, seed = int(sc.extra.get("latency_samples", 20000)), int(sc.extra.get("latency_seed", 0))
    if n > MAX_LATENCY_SIM_N:
        findings.append(Finding("alpha is a random variable on the noisy 5G link: tree vs ring, expected time and "
                                "tail?", f"Not simulated for N = {n:,} (the seeded simulation draws 2(N-1) x N "
                                f"latencies per trial; it runs up to N = {MAX_LATENCY_SIM_N})."))
        return
    # keep the draw count bounded (ring draws 2 (N-1) N latencies per trial); the seed keeps it deterministic
    trials = max(500, min(trials, int(SIM_DRAWS // (2 * (n - 1) * n))))
    mu, sigma = lognormal_params(alpha, cv)
    rows, summ = [], {}
    for size in sorted({max(1.0, m_star / 10), m_star, 10 * m_star, m}):
        for a in SCHEDULED:
            s = summarize(simulate_times(a, size, n, alpha, cv, bw, trials=trials, seed=seed))
            det = float(col.allreduce_time(a, size, n, alpha, bw))
            rows.append([size, NAME[a], det, s["mean_s"], s["tail_s"], s["tail_s"] / s["mean_s"]])
            summ[(size, a)] = s
    small = max(1.0, m_star / 10)
    ring_s, tree_s = summ[(small, "ring")], summ[(small, "tree")]
    L = math.ceil(math.log2(n))
    m_star_e = expected_crossover(n, alpha, cv, bw, trials=trials, seed=seed)
    figures["crossover_expected_bytes"] = Figure(m_star_e, "B", "crossover of the expected times (random alpha)")
    ring_b, tree_b = summ[(m, "ring")], summ[(m, "tree")]
    figures["alpha_cv"] = Figure(cv, "", "coefficient of variation of alpha")
    at_small = "M*/10" if m_star > 0 else f"{_human(small)} (no M* at N = {n})"  # the size the sentence below names
    figures["ring_expected_small_s"] = Figure(ring_s["mean_s"], "s", f"ring expected time at {at_small}")
    figures["tree_expected_small_s"] = Figure(tree_s["mean_s"], "s", f"tree expected time at {at_small}")
    figures["ring_p99_small_s"] = Figure(ring_s["tail_s"], "s", f"ring p99 at {at_small}")
    figures["tree_p99_small_s"] = Figure(tree_s["tail_s"], "s", f"tree p99 at {at_small}")
    robust = "tree" if tree_s["tail_s"] < ring_s["tail_s"] else "ring"
    # N <= 3: no deterministic crossover (ring is never slower), so 'M*/10' and 'from 0 B' would name a size that is
    # not there
    small_words = f"M*/10 = {_human(small)}" if m_star > 0 else f"{_human(small)} (no M* at N = {n})"
    from_words = (_human(m_star) if m_star > 0 else
                  f"none (with alpha fixed, ring is never slower at N = {n})")
    ring_det = float(col.ring_allreduce_time(small, n, alpha, bw))
    tree_det = float(col.tree_allreduce_time(small, n, alpha, bw))
    findings.append(Finding(
        "alpha is a random variable on the noisy 5G link: tree vs ring, expected time and tail?",
        f"alpha ~ lognormal(mean {alpha * 1e3:.3g} ms, CV {cv}; mu = {mu:.3f}, sigma = {sigma:.3f} for ln alpha in "
        f"seconds), {trials:,} seeded trials. At {small_words}: ring expected "
        f"{dur(ring_s['mean_s'])}, p99 {dur(ring_s['tail_s'])} ({ring_s['mean_s'] / ring_det:.2f}x its "
        f"deterministic {dur(ring_det)}); tree expected {dur(tree_s['mean_s'])}, p99 {dur(tree_s['tail_s'])} "
        f"({tree_s['mean_s'] / tree_det:.2f}x). Each synchronous step waits for its slowest message, so ring's "
        f"2(N-1) = {2 * (n - 1)} steps of {n} messages inflate more than tree's {2 * L} levels of at most "
        f"{n // 2}: {robust} is the robust choice for small messages, and the crossover of the expected times "
        f"moves from {from_words} to {_human(m_star_e)}. At the {_human(m)} bucket {_ring_terms(m, n, alpha, bw)}: "
        f"ring {dur(ring_b['mean_s'])} (p99 {dur(ring_b['tail_s'])}), tree "
        f"{dur(tree_b['mean_s'])} (p99 {dur(tree_b['tail_s'])})."))
    tables["latency_variance"] = Table(["message (B)", "algorithm", "deterministic (s)", "expected (s)", "p99 (s)",
                                        "p99 / expected"], rows, "AllReduce with random alpha (seeded simulation)")
    formulas.append(Formula("random alpha", "alpha ~ LogNormal(mu, sigma), sigma^2 = ln(1 + CV^2), "
                            "mu = ln E[alpha] - sigma^2/2; step time = max_i alpha_i + bytes/B",
                            "lognormal moments (Johnson, Kotz & Balakrishnan 1994, ch. 14)"))
    assumptions.append(Assumption(f"alpha CV {cv} on the 5G link, lognormal, seed {seed}",
                                  sc.crossover_link.source))
    data["crossover"]["jitter"] = {"rows": rows}


def _apart(rel: float) -> str:
    """How far the numeric root lies from the closed form, in words: below a part in a billion it is the same
    number to the precision of the root finder."""
    return "the same to within a part in a billion" if rel < 1e-9 else f"{human_number(100 * rel)}% apart"


def _radio_costs(sc: CollectiveScenario, n: int, alpha: float, bw: float, m: float) -> dict[str, dict[str, float]]:
    """Per algorithm: time (s), radio bits sent by every device together, energy (J) for one AllReduce of M."""
    e = sc.crossover_link.energy_j_per_bit
    out = {}
    for a in ("ring", "tree", "halving_doubling"):
        from explorer.sim.random_latency_collectives import schedule

        sent = sum(c * b for c, b in schedule(a, m, n))  # bytes on the air, all devices
        out[a] = {"time_s": float(col.allreduce_time(a, m, n, alpha, bw)), "bytes": sent,
                  "energy_j": radio_energy_j(sent, e)}
    return out


def _mobile(sc: CollectiveScenario, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions,
            plots, data) -> None:
    fps = float(sc.extra.get("frame_rate_hz", 60.0))
    battery = float(sc.extra.get("battery_j", 2124.0))
    g = sc.gradient_bytes
    costs = _radio_costs(sc, n, alpha, bw, g)
    rows = [[NAME[a], c["time_s"], c["bytes"] / n, c["energy_j"] / n, c["energy_j"] / n / battery,
             frames_lost(c["time_s"], fps)] for a, c in costs.items()]
    ring = costs["ring"]
    figures["energy_per_sync_j"] = Figure(ring["energy_j"] / n, "J", "radio energy per sync per pair of glasses (ring)")
    figures["frames_lost"] = Figure(frames_lost(ring["time_s"], fps), "",
                                    f"AR frames lost per sync at {fps:.0f} Hz (ring)")
    findings.append(Finding(
        "Energy per sync and AR frames lost over Bluetooth?",
        f"One AllReduce of the {g / 1e6:.1f} MB FP16 gradient over {n} glasses: ring sends "
        f"{ring['bytes'] / n / 1e6:.1f} MB per pair = {ring['energy_j'] / n:.1f} J "
        f"({100 * ring['energy_j'] / n / battery:.2f}% of a {battery:.0f} J battery) and keeps the radio busy "
        f"{ring['time_s']:.0f} s = {frames_lost(ring['time_s'], fps):,} frames at {fps:.0f} Hz. Tree sends the same "
        "bytes in total (reduce + broadcast, 2(N-1) M) "
        + (f"but takes longer ({dur(costs['tree']['time_s'])})" if costs["tree"]["time_s"] > ring["time_s"] else
           f"and is faster here ({dur(costs['tree']['time_s'])}: the gradient is below M*)")
        + "; only compression (part 3) shrinks both."))
    tables["radio_cost"] = Table(["algorithm", "time (s)", "bytes sent per device", "energy per device (J)",
                                  "battery fraction", "AR frames lost"], rows, "Energy and frames per sync")
    formulas.append(Formula("radio energy", "E = bits sent x energy per bit; frames lost = ceil(T_sync x frame rate)",
                            sc.crossover_link.source, "Frames lost assumes the AR stream stalls while the radio "
                            "carries the sync (assumption)."))


def _tiny(sc: CollectiveScenario, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions,
          plots, data) -> None:
    if n > MAX_GOSSIP_N:
        findings.append(Finding("AllReduce is too expensive: how many gossip rounds for a given consensus quality?",
                                f"Not simulated for N = {n:,} (the contact graph is simulated up to N = "
                                f"{MAX_GOSSIP_N})."))
        return
    seed = int(sc.extra.get("gossip_seed", 0))
    eps_list = [float(x) for x in sc.extra.get("gossip_eps", [0.1, 0.01, 0.001])]
    rounds = int(sc.extra.get("gossip_rounds", 200))
    adj = gossip.contact_graph(n, seed=seed)
    pts = gossip.contact_points(n, seed=seed)
    w = gossip.metropolis_weights(adj)
    lam2 = gossip.slem(w)
    errs = gossip.consensus_errors(w, rounds, seed=seed)
    g = sc.gradient_bytes
    link = sc.crossover_link
    msgs = gossip.messages_per_round(adj)
    deg = adj.sum(axis=1)
    round_energy = radio_energy_j(msgs * g, link.energy_j_per_bit)
    round_time = gossip.round_time(adj, alpha, g, bw)  # a device talks to its neighbours one after another
    ar = _radio_costs(sc, n, alpha, bw, g)["ring"]
    # the same ring laid over the contact graph: out-of-range ring neighbours are relayed over shortest paths
    ring_hops = gossip.ring_tour_hops(adj, pts)
    relay = sum(ring_hops) / n  # mean radio transmissions per ring edge
    ar_mh_energy = ar["energy_j"] * relay
    ar_mh_time = col.relayed_ring_allreduce_time(g, n, alpha, bw, max(ring_hops))
    # where one gossip round and the relayed ring take the same time on this graph (the same alpha-beta model,
    # full duplex, as round_time and relayed_ring_allreduce_time above)
    g_star = gossip.gossip_ring_crossover(int(deg.max()), n, max(ring_hops), alpha, bw)
    p_cons = consensus_rate(lam2)  # of one round (Koloskova et al. 2020, Assumption 4)
    rows = []
    for eps in eps_list:
        k = gossip.rounds_to_consensus(w, eps)
        rows.append([eps, k, float(errs[min(k, rounds)]) if k <= rounds else None, k * round_time,
                     k * round_energy, k * round_energy / n])
    k_mid = rows[min(1, len(rows) - 1)]
    lab = f"the lab's contact graph: {n} hearables, seed {seed}"
    figures["gossip_slem"] = Figure(lam2, "", f"|lambda_2| of the Metropolis gossip matrix ({lab})")
    figures["gossip_spectral_gap"] = Figure(1 - lam2, "", f"spectral gap 1 - |lambda_2| ({lab})")
    figures["gossip_consensus_rate"] = Figure(p_cons, "", f"consensus rate p = 1 - |lambda_2|^2 ({lab})")
    figures["gossip_energy_per_round_j"] = Figure(round_energy, "J",
                                                  f"BLE energy per gossip round (all earbuds; {lab})")
    figures["gossip_rounds_1pct"] = Figure(k_mid[1], "", f"rounds to consensus error {k_mid[0]} ({lab})")
    figures["allreduce_energy_j"] = Figure(ar["energy_j"], "J", "BLE energy of one ring AllReduce (all earbuds)")
    figures["allreduce_multihop_energy_j"] = Figure(ar_mh_energy, "J", "BLE energy of one ring AllReduce relayed "
                                                    f"over {lab}")
    if g_star is not None:
        figures["gossip_ring_crossover_bytes"] = Figure(g_star, "B",
                                                        f"gossip round = relayed ring crossover M* ({lab})")
    if g_star is None:
        vs = ("one gossip round is faster than the relayed ring at every message size" if round_time <= ar_mh_time
              else "the relayed ring is faster than one gossip round at every message size")
    else:
        vs = (f"one gossip round and the relayed ring take the same time at M* = {_human(g_star)}: gossip is faster "
              f"below, the ring above, so at the {_human(g)} gradient "
              + (f"the relayed ring is faster per synchronisation (~{dur(ar_mh_time)} against ~{dur(round_time)})"
                 if ar_mh_time < round_time else
                 f"gossip is faster per synchronisation (~{dur(round_time)} against ~{dur(ar_mh_time)})"))
    findings.append(Finding(
        "AllReduce is too expensive: how many gossip rounds for a given consensus quality, at what energy? (the "
        "lab's scenario as posed: its own contact graph and the full gradient)",
        f"Contact graph of {n} hearables, one node per earbud (seed {seed}, uniform in a unit square; mean degree "
        f"{deg.mean():.1f}, max {int(deg.max())}); Metropolis weights give |lambda_2| = {lam2:.4f}, gap "
        f"{1 - lam2:.4f}, consensus rate p = 1 - |lambda_2|^2 = {p_cons:.4f}. Rounds to relative consensus "
        "error " + ", ".join(f"{r[0]:g}: {r[1]}" for r in rows) + f". One round moves the {g / 1e3:.0f} KB "
        f"gradient over {msgs} directed edges = {round_energy:.1f} J on BLE ({link.energy_j_per_bit * 1e9:.0f} "
        f"nJ/bit) and ~{dur(round_time)}; one ring AllReduce needs {ar['energy_j']:.1f} J and "
        f"{dur(ar['time_s'])} if every ring neighbour were in radio range; on the contact graph the ring's "
        f"neighbours are {relay:.2f} hops apart on average (max {max(ring_hops)}), so relayed it needs "
        f"{ar_mh_energy:.1f} J and ~{dur(ar_mh_time)}, and all {n} earbuds must stay in lock-step for "
        f"{2 * (n - 1)} steps. On this graph and under this model (full-duplex links) {vs}. Gossip needs only "
        "neighbours and tolerates drop-outs; its price is many rounds: "
        f"reaching {k_mid[0]:g} costs {k_mid[4] / ar_mh_energy:.0f}x the energy of one exact (relayed) "
        "AllReduce, so on this energy budget gossip pays off only with compressed or partial (one-neighbour) "
        "exchanges; its case is robustness, not energy."))
    tables["gossip"] = Table(["target error", "rounds (bound)", "simulated error at those rounds", "time (s)",
                              "energy all earbuds (J)", "energy per earbud (J)"], rows,
                             "Gossip rounds vs consensus error")
    formulas += [
        Formula("Metropolis-Hastings weights", "W_ij = 1 / (1 + max(d_i, d_j)) on edges, W_ii = 1 - sum_j W_ij",
                "Xiao & Boyd 2004, eq. 13"),
        Formula("gossip rounds", "k(eps) = ceil(ln eps / ln |lambda_2(W)|);  ||x(k) - xbar|| <= |lambda_2|^k "
                "||x(0) - xbar||", "Boyd, Ghosh, Prabhakar & Shah 2006, sec. II; Xiao & Boyd 2004, eq. 4"),
    ]
    assumptions.append(Assumption(f"Contact graph: {n} devices uniform in a unit square, radio range 1.5x the "
                                  "random-geometric connectivity radius (seeded)", "Gupta & Kumar 1998"))
    plots += ["topology", "convergence"]
    iu = np.argwhere(np.triu(adj))
    # the lab's gossip scenario, for the fleet answer that leads the report (fleetlens.lab06) to set it apart
    data["gossip_scenario"] = {"nodes": n, "seed": seed, "max_degree": int(deg.max()), "slem": lam2,
                               "consensus_rate": p_cons, "message_bytes": g, "round_s": round_time,
                               "relayed_ring_s": float(ar_mh_time), "crossover_bytes": g_star,
                               "half_duplex": False}
    data["topology"] = {"kind": "contact", "positions": pts.tolist(), "edges": iu.tolist(),
                        "caption": f"{n} hearables, |lambda_2| = {lam2:.3f}"}
    data["convergence"] = {"kind": "gossip", "x_label": "gossip rounds (count)",
                           "y_label": "relative consensus error (fraction of the initial)",
                           "log_y": True, "series": {"simulated": errs.tolist(),
                                                     "bound |lambda_2|^k": (lam2 ** np.arange(rounds + 1)).tolist()}}
