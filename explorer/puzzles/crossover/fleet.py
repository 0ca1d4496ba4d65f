"""Track extras of the crossover puzzle: edge (alpha random: expected time and p99), mobile (energy per
sync, AR frames lost), tiny (gossip rounds vs consensus error, BLE energy). Each adds its figures,
findings, tables, formulas, assumptions, plots and plot data to the report solve assembles.
"""

from __future__ import annotations

import math

import numpy as np

from explorer.cost import collectives as col
from explorer.cost import gossip
from explorer.cost.federated import consensus_rate
from explorer.cost.radio import frames_lost, radio_energy_j
from explorer.puzzles.collective_scenario import CollectiveScenario
from explorer.puzzles.crossover.model import MAX_GOSSIP_N, MAX_LATENCY_SIM_N, NAME, SIM_DRAWS, radio_costs
from explorer.puzzles.crossover.words import ring_terms
from explorer.report import Assumption, Figure, Finding, Formula, Table
from explorer.units import human_bytes_3 as _human  # three significant digits
from explorer.units import human_duration as dur
from explorer.units import human_sci


def edge_extras(sc: CollectiveScenario, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions,
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
        f"alpha ~ lognormal(mean {dur(alpha)}, CV {cv}; mu = {mu:.3f}, sigma = {sigma:.3f} for ln alpha in "
        f"seconds), {trials:,} seeded trials. At {small_words}: ring expected "
        f"{dur(ring_s['mean_s'])}, p99 {dur(ring_s['tail_s'])} ({ring_s['mean_s'] / ring_det:.2f}x its "
        f"deterministic {dur(ring_det)}); tree expected {dur(tree_s['mean_s'])}, p99 {dur(tree_s['tail_s'])} "
        f"({tree_s['mean_s'] / tree_det:.2f}x). Each synchronous step waits for its slowest message, so ring's "
        f"2(N-1) = {2 * (n - 1)} steps of {n} messages inflate more than tree's {2 * L} levels of at most "
        f"{n // 2}: {robust} is the robust choice for small messages, and the crossover of the expected times "
        f"moves from {from_words} to {_human(m_star_e)}. At the {_human(m)} bucket {ring_terms(m, n, alpha, bw)}: "
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


def mobile_extras(sc: CollectiveScenario, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions,
            plots, data) -> None:
    fps = float(sc.extra.get("frame_rate_hz", 60.0))
    battery = float(sc.extra.get("battery_j", 2124.0))
    g = sc.gradient_bytes
    costs = radio_costs(sc, n, alpha, bw, g)
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


def tiny_extras(sc: CollectiveScenario, n, alpha, bw, m, m_star, figures, findings, tables, formulas, assumptions,
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
    ar = radio_costs(sc, n, alpha, bw, g)["ring"]
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
        "error " + ", ".join(f"{human_sci(r[0], 6)}: {r[1]}" for r in rows) + f". One round moves the {g / 1e3:.0f} kB "
        f"gradient over {msgs} directed edges = {round_energy:.1f} J on BLE ({link.energy_j_per_bit * 1e9:.0f} "
        f"nJ/bit) and ~{dur(round_time)}; one ring AllReduce needs {ar['energy_j']:.1f} J and "
        f"{dur(ar['time_s'])} if every ring neighbour were in radio range; on the contact graph the ring's "
        f"neighbours are {relay:.2f} hops apart on average (max {max(ring_hops)}), so relayed it needs "
        f"{ar_mh_energy:.1f} J and ~{dur(ar_mh_time)}, and all {n} earbuds must stay in lock-step for "
        f"{2 * (n - 1)} steps. On this graph and under this model (full-duplex links) {vs}. Gossip needs only "
        "neighbours and tolerates drop-outs; its price is many rounds: "
        f"reaching {human_sci(k_mid[0], 6)} costs {k_mid[4] / ar_mh_energy:.0f}x the energy of one exact (relayed) "
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
