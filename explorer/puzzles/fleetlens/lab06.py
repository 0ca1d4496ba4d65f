"""Lab 06 on a fleet: the collectives a fleet really runs.

* crossover: a server-aggregated fleet (edge, mobile) averages through an aggregator: each selected device
  downloads the model and uploads its update over its own link while the aggregator's network carries all of
  them (a star, FedAvg: McMahan et al. 2017), against a ring or a tree among the same devices over their
  radios; a gossiping fleet (tiny) averages with the devices in radio range (one gossip round, D-PSGD: Lian et
  al. 2017) against a ring relayed over the contact graph (an exact average);
* hierarchy: the fleet's tiers are its aggregation paths (vehicles -> depot edge server -> cloud, Liu et al.
  2020; glasses -> phone -> cloud; the two earbuds of a pair over NFMI, then gossip between pairs);
* compression: only the upload of a server round is compressed (the server broadcasts the full model);
  gossip compresses what each device sends its neighbours (CHOCO-SGD, Koloskova et al. 2019); each level is
  charged the convergence cost the compression puzzle measures, and priced in rounds a day and joules.

This module holds the crossover (a server round's star, a gossiping fleet's paths); the hierarchy is in
lab06_hierarchy.py, the compression in lab06_compression.py, each re-exported here, where the fleet view
(fleetlens.apply) and the tests read them.
"""

from __future__ import annotations

import math

from explorer.cost import energy, federated
from explorer.cost.collectives import (
    relayed_ring_allreduce_time,
    ring_allreduce_bytes_per_device,
    tree_allreduce_time,
)
from explorer.cost.gossip import gossip_ring_crossover
from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleet3d.scenario import downlink_of
from explorer.puzzles.fleetlens.common import View, contact_reach, contact_words, days, index, span
from explorer.puzzles.fleetlens.lab06_compression import compression as compression  # read by fleetlens.apply
from explorer.puzzles.fleetlens.lab06_hierarchy import _mean_earbud_energy
from explorer.puzzles.fleetlens.lab06_hierarchy import _pair_tiers as _pair_tiers  # read by the tests
from explorer.puzzles.fleetlens.lab06_hierarchy import hierarchy as hierarchy  # read by fleetlens.apply
from explorer.report import Figure, Finding, Formula, Table
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as num


def sync_path(res) -> tuple[float, object, str]:
    """(bytes the syncing device moves each way, its link, who syncs) at the fleet 3D optimum: the fleet device,
    or its phone when the glasses hold none of the trained model."""
    b, scn = res.best, res.scenario
    if b["sync_bytes"] <= 0 and scn.partner_sync_link is not None:
        return b["sync_bytes_partner"], scn.partner_sync_link, "phone"
    return max(b["sync_bytes"], b["sync_bytes_partner"]), b["tier"].link, scn.track.device_word


# the crossover options (explorer/cli/solve_crossover.py) by the flag a user typed
CROSSOVER_FLAGS = {"n": "--nodes", "alpha_s": "--alpha-us", "bandwidth_bps": "--bandwidth-gbs",
                   "message_bytes": "--message-mb"}


def _flags(given: dict, names: dict[str, str]) -> list[str]:
    return [flag for key, flag in names.items() if key in given]


def crossover(rep, res, given: dict | None = None) -> View:
    """The fleet's collective at its optimum: a star through the aggregator against a ring and a tree among the
    selected devices. Options the caller set (`given`: the lab's N, alpha, B and M) are applied to the fleet's
    collective (N selected devices, each one's link at alpha and B, an M update; the aggregator's network stays the
    fleet's), and the fleet 3D optimum's own figures are said beside them."""
    given = {k: v for k, v in (given or {}).items() if k in CROSSOVER_FLAGS}
    b, scn = res.best, res.scenario
    tier = b["tier"]
    if tier.graph != "server":
        return _gossip_crossover(rep, res, given)
    m_fleet, link, who = sync_path(res)
    # a download runs on the radio's downlink where it has its own entry (links.toml <key>_down: 5G's lte_5g_down,
    # Ookla Q3 2023 median 203 Mb/s down against 19 Mb/s up), as the fleet 3D model charges it (Tier.down)
    down = downlink_of(link) or link
    k_fleet = max(2, int(round(b["replicas"] * b["participation"])))
    srv = tier.server_bytes_per_s
    k = int(given.get("n", k_fleet))
    m = float(given.get("message_bytes", m_fleet))
    a = float(given.get("alpha_s", link.latency_s))
    bw = float(given.get("bandwidth_bps", link.effective_bandwidth))
    # options set one link, one latency and one rate both ways (the lab's alpha and B); else the downlink's own
    a_d = a if "alpha_s" in given else down.latency_s
    bw_d = bw if "bandwidth_bps" in given else down.effective_bandwidth
    star = federated.server_sync_time(k, m, m, a, bw, srv, bw_d, a_d)
    # the ring on the device's own radio: on a half-duplex one each step is an exchange (sends and receives take
    # turns), as the star's download and upload do (federated.server_sync_time). A ring's or a tree's hop between
    # two devices goes up the sender's uplink and down the receiver's downlink, so it runs at the slower, the
    # uplink's B (federated.star_ring_crossover); only the star's download comes from the aggregator at B_down
    ring = relayed_ring_allreduce_time(m, k, a, bw, 1, link.half_duplex)
    tree = tree_allreduce_time(m, k, a, bw)
    m_star = federated.star_ring_crossover(k, a, bw, srv, half_duplex=link.half_duplex, down_bandwidth=bw_d,
                                           down_alpha=a_d)
    # bits sent at the uplink's energy per bit, bits received at the downlink's (fleet3d.model.sync_costs)
    e_up, e_dn = link.energy_j_per_bit, down.energy_j_per_bit
    e_star = energy.transfer_energy_j(m, 0.0, e_up) + energy.transfer_energy_j(0.0, m, e_dn)
    per = ring_allreduce_bytes_per_device(m, k)
    e_ring = energy.transfer_energy_j(per, 0.0, e_up) + energy.transfer_energy_j(0.0, per, e_dn)
    best = min((star, "the star"), (ring, "a ring"), (tree, "a tree"))[1]
    whos = f"{who}s" if who == "phone" else scn.track.device_plural
    cross = (f"the star and a ring break even at M* = {hbytes(m_star)}" if m_star is not None else
             "the star is faster than a ring at every update size")
    over = (f"{link.name}'s radio at alpha {span(a)} and B {hbytes(bw)}/s" if {"alpha_s", "bandwidth_bps"} & set(given)
            else link.name if down is link else f"{link.name} (the star's download on {down.name})")
    head = (f"On the fleet the {k:,} selected {whos} average through the aggregator (FedAvg): at the {hbytes(m)} "
            f"update the star takes {span(star)}, a ring among them {span(ring)} and a tree {span(tree)} over "
            f"{over}, so {best} is fastest; {cross}.")
    if given:
        own = federated.server_sync_time(k_fleet, m_fleet, m_fleet, link.latency_s, link.effective_bandwidth, srv,
                                         down.effective_bandwidth, down.latency_s)
        own_rate = (f"B {hbytes(link.effective_bandwidth)}/s" if down is link else
                    f"B {hbytes(link.effective_bandwidth)}/s up, {hbytes(down.effective_bandwidth)}/s down on "
                    f"{down.name}")
        head = (f"With {', '.join(_flags(given, CROSSOVER_FLAGS))} as given: " + head[0].lower() + head[1:]
                + f" The fleet 3D optimum itself selects {k_fleet:,} of its {scn.devices:,} {scn.track.device_plural} "
                f"and syncs its {hbytes(m_fleet)} update over {link.name} (alpha {span(link.latency_s)}, "
                f"{own_rate}) by the star in {span(own)}.")
    ring_note = ("" if ring >= star else
                 f" The ring's {span(ring)} would need every {who} to reach two others directly, which over "
                 f"{link.name} goes through the access network (the operator's core over 5G, routers and address "
                 f"translation over Wi-Fi), and one {who} that "
                 "leaves mid-round stalls a ring for everyone while a star simply drops it (Bonawitz et al. 2019): "
                 "the star is what a fleet can run.")
    asym = bw_d != bw or a_d != a
    dev_part = (f"alpha + M/B_down + alpha + M/B_up = {span(a_d + m / bw_d + a + m / bw)} (the model comes down "
                f"{down.name} at {hbytes(bw_d)}/s, the update goes up {link.name} at {hbytes(bw)}/s)" if asym else
                f"2 alpha + 2M/B = {span(2 * a + 2 * m / bw)}")
    ring_rate = (f", up one {who}'s uplink and down the next one's downlink, at the slower uplink's "
                 f"{hbytes(bw)}/s" if asym else "")
    why = (f"Star (FedAvg): every {who} downloads the model and uploads its update over its own link at once, "
           f"{dev_part}, while the aggregator moves K x 2M through "
           f"{num(srv * 8 / 1e9)} Gb/s: {span(k * 2 * m / srv)}; the round waits for the slower of the two. A ring "
           f"among the {k:,} pays 2 (K-1) alpha = {span(2 * (k - 1) * a)} of latency alone (a lower bound: a "
           f"device-to-device hop crosses the access network twice{ring_rate}). Radio energy per {who}: star "
           f"{num(e_star)} J (M down, M up), ring {num(e_ring)} J (2 (K-1)/K M each way)"
           + (f", bits sent at {num(e_up * 1e9)} nJ and received at {num(e_dn * 1e9)} nJ a bit" if e_up != e_dn
              else "") + f".{ring_note}")
    at = " (the options given)" if given else ""
    figures = {
        "fleet_star_time_s": Figure(star, "s", f"aggregator (star) sync at the fleet's update{at}"),
        "fleet_ring_time_s": Figure(ring, "s", f"ring among the selected devices, same update{at}"),
        "fleet_tree_time_s": Figure(tree, "s", f"binomial tree among them, same update{at}"),
        "fleet_update_bytes": Figure(m, "B", f"update size each {who} moves each way{at}"),
        "fleet_selected": Figure(k, "devices", "devices selected per round"),
        "fleet_star_energy_j": Figure(e_star, "J", f"radio energy per {who}, star"),
        "fleet_ring_energy_j": Figure(e_ring, "J", f"radio energy per {who}, ring"),
    }
    if m_star is not None:
        figures["fleet_star_ring_crossover_bytes"] = Figure(m_star, "B", "star = ring crossover M*")
    findings = [Finding("On the fleet: which collective, and where is the crossover?", why + _posed(rep, k, m, link))]
    formulas = [Formula("aggregator round (star)",
                        "max(alpha_down + M_down/B_down + alpha + M_up/B, K (M_down + M_up)/B_server)",
                        "FedAvg (McMahan et al. 2017) through one aggregator; explorer/cost/federated.py "
                        "server_sync_time; B_down = B where the link has no downlink entry of its own "
                        "(hardware/data/links.toml: 5G's lte_5g_down)")]
    return View(head, findings, figures, formulas=formulas,
                extra={"crossover": {"star_s": star, "ring_s": ring, "tree_s": tree, "m_star": m_star}})


def _posed(rep, k: int, m: float, link) -> str:
    """The lab's question as posed (further down the report) is another scenario than the fleet answer: its own N,
    link and message (explorer/data/lab06_collective.toml). Said, so that two rings of different sizes over
    different links are not read as one contradicting the other."""
    from explorer.puzzles.collective_scenario import get_scenario

    sc = rep.scenario or {}
    n, mm = sc.get("n"), sc.get("message_bytes")
    if n is None or mm is None:
        return ""
    lab_link = get_scenario(rep.track).crossover_link.name
    return (f" The lab's question as posed, further down, is another scenario: one synchronous job of N = {n:,} "
            f"over {lab_link} with an M = {hbytes(mm)} message, not the {k:,} selected here over {link.name} with the "
            f"{hbytes(m)} update; its ring and tree times are for that job.")


def _tier_rows(res) -> list[dict]:
    scn, tb = res.scenario, res.tables
    idx = index(res)
    return [fm.evaluate(tb, {**idx, "tier": j}) for j in range(len(scn.tiers))]


def _gossip_who(res, r: dict, again: bool = False) -> str:
    """Whose energy r's figure is: on a gossip path the earbud with the most neighbours, on the relayed ring the
    wearer that relays the most chunks (empty through a server); again=True: gossip's short form, once its long
    one has been said (the ring, one path, has its long one)."""
    if r["tier"].graph == "ring_relayed":
        ring = res.tables.graphs.get("ring", {})
        if "max_relay_load" not in ring:
            return f" for the busiest relay ({num(_mean_earbud_energy(res, r))} J for the mean one)"
        return (f" for the wearer that relays the most ({ring['max_relay_load']} chunks a step, the first to run "
                f"out of its daily budget; {num(_mean_earbud_energy(res, r))} J for a wearer at the mean relay load "
                f"of {num(ring['mean_relay_load'])} chunks a step)")
    if not r["tier"].graph.startswith("gossip"):
        return ""
    if again:
        return f" for the busiest earbud ({num(_mean_earbud_energy(res, r))} J for the mean one)"
    g = res.tables.graphs
    gr = g["wearers"] if (r["split"] < res.scenario.layers or r["tier"].graph == "gossip_pairs") else g["earbuds"]
    return (f" for the earbud with the most neighbours ({gr['max_degree']}, the first to run out of its daily "
            f"budget; {num(_mean_earbud_energy(res, r))} J for one with the mean {num(gr['mean_degree'])})")


def _gossip_crossover(rep, res, given: dict | None = None) -> View:
    scn, tb, b = res.scenario, res.tables, res.best
    rows = _tier_rows(res)
    by = {r["tier"].graph: r for r in rows}
    g, ring = by.get("gossip_devices"), by.get("ring_relayed")
    m = max(b["sync_bytes"], b["sync_bytes_partner"])
    link = b["tier"].link
    wear = tb.graphs["wearers"]
    hops = tb.graphs.get("ring", {})
    deg = wear["max_degree"] if b["split"] < scn.layers else tb.graphs["earbuds"]["max_degree"]
    m_star = gossip_ring_crossover(deg, hops.get("wearers", wear["nodes"]), hops.get("max_hops", 1),
                                   link.latency_s, link.effective_bandwidth, half_duplex=link.half_duplex)
    first_gossip = next((k for k, r in enumerate(rows) if r["tier"].graph.startswith("gossip")), None)
    parts = [f"{r['tier'].short}: sync {span(r['t_sync'])}, consensus rate p = {num(r['consensus_rate'])}, "
             f"{num(r['rounds'])} rounds, {num(r['energy_round'])} J a round"
             f"{_gossip_who(res, r, again=k != first_gossip)}, target in "
             f"{days(r['days']) if r['feasible'] else 'never (' + r['violations'][0] + ')'}"
             for k, r in enumerate(rows)]
    head = (f"On the fleet the {scn.devices} earbuds average over their contact graph (who hears whom): at the "
            f"{hbytes(m)} update, " + "; ".join(parts[:3]) + f". The fleet 3D optimum syncs by {b['tier'].short}.")
    if given:
        flags = _flags(given, CROSSOVER_FLAGS)
        head += (f" ({', '.join(flags)} {'sets' if len(flags) == 1 else 'set'} the lab's question as posed, below: "
                 f"the fleet's contact graph, {link.name} and update stay the track's.)")
    cross = (f"one gossip round (each earbud unicasts to its {deg} neighbours at most) and the relayed ring "
             f"(2 (k-1) steps, each waiting for its longest relay of {hops.get('max_hops', 1)} hops) take the same "
             f"time at M* = {hbytes(m_star)}" if m_star is not None else
             "one gossip round is faster than the relayed ring at every message size")
    on_pairs = b["split"] < scn.layers
    gr = wear if on_pairs else tb.graphs["earbuds"]
    d = scn.data
    nodes = "wearers (one node per pair of earbuds)" if on_pairs else "earbuds"
    reach = contact_reach(scn)
    linked = contact_words(reach) if reach else f"in range within {num(d['radio_range_m'])} m"
    graph = (f"the fleet's contact graph: {gr['nodes']} {nodes} in a {num(d['area_m'])} m x {num(d['area_m'])} m "
             f"space (seed {d['graph_seed']}), {'' if on_pairs else 'the wearers '}{linked}; most neighbours "
             f"{gr['max_degree']}, |lambda_2| = {gr['slem']:.4f}, "
             f"consensus rate p = {num(gr['consensus_rate'])}")
    duplex = "half duplex: a radio sends or receives, never both" if link.half_duplex else "full duplex"
    why = (f"On {graph}; {link.name}, {duplex}; each earbud exchanges the {hbytes(m)} update of the part it trains. "
           f"Time per synchronisation: {cross}. But they do not buy the same: the ring is an exact average (p = 1), "
           f"one gossip round mixes only by p = 1 - |lambda_2|^2 of the graph's Metropolis matrix, and the "
           "Koloskova et al. 2020 bound charges tau/p more iterations for it; the table below prices both in rounds, "
           "joules and days.")
    pairs = by.get("gossip_pairs")
    if g is not None and pairs is not None and b["split"] < scn.layers and math.isclose(
            g["t_sync"], pairs["t_sync"]) and math.isclose(g["consensus_rate"], pairs["consensus_rate"]):
        why += (f" {g['tier'].short.capitalize()} and {pairs['tier'].short} coincide here, by construction: this "
                "placement splits the model across the two earbuds of a pair, so a pair is one replica, its earbuds "
                "hold different layers and have nothing to average with each other over NFMI; gossip between "
                "earbuds is then gossip between wearers, on the same wearer graph.")
    lab = rep.data.get("gossip_scenario")
    if lab:
        there = (f"there one gossip round and the relayed ring break even at M* = {hbytes(lab['crossover_bytes'])}, "
                 + ("so at its gradient the relayed ring is the faster sync" if lab["relayed_ring_s"] < lab["round_s"]
                    else "so at its gradient gossip is the faster sync")
                 if lab["crossover_bytes"] is not None else
                 "there too " + ("gossip" if lab["round_s"] <= lab["relayed_ring_s"] else "the relayed ring")
                 + " is faster at every size")
        why += (f" The lab's question as posed, further down, is another scenario: its own contact graph of "
                f"{lab['nodes']} hearables, one node per earbud (seed {lab['seed']}; most neighbours "
                f"{lab['max_degree']}, |lambda_2| = {lab['slem']:.4f}, p = {num(lab['consensus_rate'])}), the full "
                f"{hbytes(lab['message_bytes'])} gradient and the lab's full-duplex alpha-beta links; {there}. The "
                "two do not contradict each other: they are different graphs, message sizes and radio models.")
    fleet_g = "the fleet's graph"
    figures = {"fleet_update_bytes": Figure(m, "B", "update size each earbud exchanges (the fleet's)"),
               "fleet_max_degree": Figure(deg, "neighbours", f"most neighbours of one earbud ({fleet_g})"),
               "fleet_consensus_rate": Figure(gr["consensus_rate"], "", f"consensus rate p of one gossip round "
                                                                       f"({fleet_g})")}
    if m_star is not None:
        figures["fleet_gossip_ring_crossover_bytes"] = Figure(m_star, "B", "gossip round = relayed ring crossover M* "
                                                                           f"({fleet_g})")
    if g is not None and ring is not None:
        figures["fleet_gossip_sync_s"] = Figure(g["t_sync"], "s", f"one gossip round ({fleet_g}, the fleet's update)")
        figures["fleet_ring_sync_s"] = Figure(ring["t_sync"], "s", f"relayed ring all-reduce ({fleet_g}, the fleet's "
                                                                   "update)")
    table = Table(["path", "sync (s)", "consensus rate p", "rounds", "J per round, busiest earbud",
                   "J per round, mean earbud", "days to target"],
                  [[r["tier"].short, round(r["t_sync"], 3), round(r["consensus_rate"], 4), round(r["rounds"]),
                    round(r["energy_round"], 4), round(_mean_earbud_energy(res, r), 4),
                    round(r["days"], 3) if r["feasible"] else None]
                   for r in rows], "Synchronisation paths at the fleet 3D optimum's placement and local steps ("
                  f"gossip: the busiest earbud swaps with its {deg} neighbours, the mean one with "
                  f"{num(gr['mean_degree'])}; the relayed ring: the busiest relay sends "
                  f"{tb.graphs.get('ring', {}).get('max_relay_load', 1)} chunks a step, the mean "
                  f"{num(tb.graphs.get('ring', {}).get('mean_relay_load', 1))}; the energy budget holds the busiest, "
                  "the first to run out" + ("; days to target -: the path is infeasible (a number column holds no "
                                            "words: its limit is said in the answer above)"
                                            if any(not r["feasible"] for r in rows) else "") + ")")
    return View(head, [Finding("On the fleet: gossip or a full sync, and where is the crossover?", why)], figures,
                tables={"fleet_paths": table})
