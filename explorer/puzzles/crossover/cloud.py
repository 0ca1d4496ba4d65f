"""The cloud track's narration: the scenario's gradient as NCCL runs it on the track's nodes beside the
textbook ring, and the answer to 'Ring is saturated: does tree cut the alpha term?'.
"""

from __future__ import annotations

import math

from explorer.cost import collectives as col
from explorer.puzzles.crossover.words import rate_words, ring_terms
from explorer.report import Figure
from explorer.units import human_bytes_3 as _human  # three significant digits
from explorer.units import human_duration as dur
from explorer.units import human_number, human_sci


def nccl_same_gradient(sc, n: int, alpha: float, bw: float, t_textbook: float) -> tuple[dict[str, Figure], str]:
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
        given = " and ".join(x for x, same in ((f"alpha = {dur(alpha)}", same_alpha),
                                               (f"B = {rate_words(bw)}", same_bw)) if not same)
        verdict = (f"NCCL's figure is for the track's {nic} NICs (alpha = {dur(nic_alpha)}, "
                   f"B = {rate_words(nic_bw)} each), not the {given} given here, so it and the textbook ring's "
                   f"{dur(t_textbook)} are not like-for-like and no ratio is drawn: leave alpha and B at the "
                   "track's to compare them.")
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


def saturated_answer(sc, n: int, alpha: float, bw: float, m: float, m_star: float, at_m: dict[str, float],
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
    terms = ring_terms(m, n, alpha, bw)
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
           f"{human_sci(dbt_b / ring_gb, 4)}x ring's: equal only as N grows), and its latency is about 2 ceil(log2 "
           f"N) alpha "
           "only for small messages (pipelined in chunks it pays alpha once per chunk)")
    return (f"{'Yes' if L < n - 1 else 'No'} for the alpha term: 2 L alpha = {dur(tree_a)} vs ring's 2(N-1) alpha = "
            f"{dur(ring_a)} over {n:,} nodes. {where} {terms}; {race}.{why} For the full {_human(g)} gradient ring "
            f"takes {dur(at_grad['ring'])}, tree {dur(at_grad['tree'])}; {dbt}.")
