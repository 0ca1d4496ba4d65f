"""The fleet 3D puzzle's tables: every figure of every configuration as numpy arrays over the choices (DIMS:
placement, micro-batch, local steps, participation, deadline, tier), each over the dims it depends on, built once
per scenario (build_tables) and read by the one feasibility function and the integer problem (model.py, whose
docstring gives the physics and its sources).

Here: a local step's memory, time and energy on each side of the split (placement, energy); one synchronisation's
time, radio energy and consensus rate on each aggregation path (sync_costs: through a server, gossip, the relayed
ring); a radio whose rate spreads over the fleet (5G: radio_sigma, sync_latency, spread_round_times); and the
tables that follow from them (derive: participants, rounds, round time, energy per round, windows and budgets).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from explorer.cost import energy, federated, gossip, placement
from explorer.cost.collectives import exchange_time, p2p_time, relayed_ring_allreduce_time
from explorer.cost.stragglers import quantile_of_sum
from explorer.puzzles.fleet3d.scenario import (
    FleetScenario,
    earbud_graph,
    graph_figures,
    ring_hops,
    ring_relay_loads,
    wearer_graph,
)

DIMS = ("placement", "micro_batch", "local_steps", "participation", "deadline", "tier")
NO_BUDGET_J = 1e30  # a tier that draws no battery: the energy rate never binds
SECONDS_PER_DAY = 86400.0


@dataclass
class Tables:
    """Float tables of every figure, indexed by the dims named in `dims[name]`."""

    scn: FleetScenario
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    graphs: dict[str, dict] = field(default_factory=dict)
    pruned: list[dict] = field(default_factory=list)  # placements that fit at no micro-batch

    def put(self, name: str, dims: tuple[str, ...], arr: Any) -> None:
        a = np.asarray(arr, dtype=float)
        shape = tuple(self.sizes[d] for d in dims)
        self.values[name], self.dims[name] = np.broadcast_to(a, shape).copy(), dims

    def at(self, name: str, idx: dict[str, int]) -> float:
        return float(self.values[name][tuple(idx[d] for d in self.dims[name])])

    @property
    def sizes(self) -> dict[str, int]:
        s = self.scn
        return {"placement": len(s.placements), "micro_batch": len(s.micro_batches),
                "local_steps": len(s.local_steps), "participation": len(s.participation),
                "deadline": len(s.deadline_quantiles), "tier": len(s.tiers)}


def _trained_bytes(scn: FleetScenario, st: placement.Stage, setup) -> float:
    return float(placement.stage_params(setup, st)[1]) * setup.weight_bytes


def placement_memory(scn: FleetScenario, p, micro_batch) -> tuple:
    """(bytes on the fleet device, bytes on the partner) of a placement at the given micro-batch(es)."""
    sa, sb = placement.split_stages(scn.layers, p.split, p.trainable)
    flash = bool(scn.data["frozen_in_flash"])
    mem_a = placement.stage_memory(scn.setup, sa, micro_batch, flash, scn.sample_bytes)["total"]
    mem_b = placement.stage_memory(scn.partner_setup, sb, micro_batch, flash, scn.sample_bytes)["total"] \
        if scn.partner_setup else 0
    return mem_a, mem_b


def build_tables(scn: FleetScenario, prune: bool = True) -> Tables:
    """Every figure of every configuration (numpy over the dims each one depends on). A placement that
    fits at no micro-batch is taken out of the space before the search (an exact reduction: no
    configuration with it is feasible); `pruned` keeps it and its smallest footprint for the report."""
    b = np.array(scn.micro_batches, dtype=float)
    keep, pruned = [], []
    for p in scn.placements:
        ma, mb = (np.asarray(x) for x in placement_memory(scn, p, b))
        fits = (ma <= scn.memory_limit) & (mb <= (scn.partner_limit if scn.partner_setup else 0))
        (keep if fits.any() or not prune else pruned).append(p)
        if prune and not fits.any():
            pruned[-1] = {"placement": p, "memory_device": int(ma.min()), "memory_partner": int(np.min(mb))}
    if not keep:
        from explorer.errors import InfeasibleError

        best = min(pruned, key=lambda r: max(r["memory_device"] / scn.memory_limit, 0))
        raise InfeasibleError(
            f"infeasible: memory per {scn.track.device_word}: no placement fits at any micro-batch; the smallest "
            f"footprint ({best['placement'].describe(scn.layers, scn.partner_word)}) needs "
            f"{best['memory_device']:,} B of {scn.memory_limit:,} B usable")
    scn = replace(scn, placements=tuple(keep))
    tb = Tables(scn, pruned=pruned)
    s, ps = scn.setup, scn.partner_setup
    n_p, n_t = len(scn.placements), len(scn.tiers)
    mem_a, mem_b, t_a, t_b, sent, recv, m_a, m_b = ([] for _ in range(8))
    for p in scn.placements:
        sa, sb = placement.split_stages(scn.layers, p.split, p.trainable)
        flash = bool(scn.data["frozen_in_flash"])
        mem_a.append(placement.stage_memory(s, sa, b, flash, scn.sample_bytes)["total"])
        mem_b.append(placement.stage_memory(ps, sb, b, flash, scn.sample_bytes)["total"] if ps is not None else 0 * b)
        t_a.append(placement.stage_time(s, sa, b))
        t_b.append(placement.stage_time(ps, sb, b) if ps is not None else 0 * b)
        out, back = placement.split_transfer(s, sa, sb, b, scn.sample_bytes)
        sent.append(out)
        recv.append(back)
        m_a.append(_trained_bytes(scn, sa, s))
        m_b.append(_trained_bytes(scn, sb, ps) if ps is not None else 0.0)
    pb = ("placement", "micro_batch")
    tb.put("memory_device", pb, np.array(mem_a))
    tb.put("memory_partner", pb, np.array(mem_b))
    tb.put("t_device", pb, np.array(t_a))
    tb.put("t_partner", pb, np.array(t_b))
    tb.put("split_bytes", pb, np.array(sent) + np.array(recv))
    m_a, m_b = np.array(m_a), np.array(m_b)
    tb.put("sync_bytes_device", ("placement",), m_a)
    tb.put("sync_bytes_partner", ("placement",), m_b)
    pair = scn.partner_word == "other earbud"
    # the local step and its energy on the fleet device (and on the partner earbud, a fleet member too)
    t_loc = np.zeros((n_p, len(b), n_t))
    e_loc = np.zeros((n_p, len(b), n_t))
    e_par = np.zeros((n_p, len(b), n_t))
    c_loc = np.zeros((n_p, len(b), n_t))  # e_local's compute share (the rest is the split's radio)
    for j, tier in enumerate(scn.tiers):
        lk = scn.local_link or tier.link
        sn, rv = np.array(sent), np.array(recv)
        hop = np.where(sn > 0, p2p_time(sn, lk.latency_s, lk.effective_bandwidth), 0.0) + np.where(
            rv > 0, p2p_time(rv, lk.latency_s, lk.effective_bandwidth), 0.0)
        t_loc[:, :, j] = np.array(t_a) + np.array(t_b) + hop
        radio = energy.transfer_energy_j(sn, rv, lk.energy_j_per_bit)
        # a pair of earbuds: each is a fleet member, and a round costs the busier one's compute
        busy = np.maximum(np.array(t_a), np.array(t_b)) if pair else np.array(t_a)
        c_loc[:, :, j] = energy.compute_energy_j(s.cluster.accelerator.tdp_w, busy)
        e_loc[:, :, j] = c_loc[:, :, j] + radio
        if ps is not None and not pair:  # the phone: its own battery, its own power figure
            e_par[:, :, j] = energy.compute_energy_j(ps.cluster.accelerator.tdp_w, np.array(t_b)) + radio
    pbt = ("placement", "micro_batch", "tier")
    tb.put("t_local", pbt, t_loc)
    tb.put("e_local", pbt, e_loc)
    tb.put("e_local_compute", pbt, c_loc)
    tb.put("e_local_partner", pbt, e_par)
    _sync_tables(tb, m_a, m_b)
    # replicas, the consensus rate and the quality of training only the top layers
    tb.put("replicas", ("placement",), [scn.replicas(p) for p in scn.placements])
    tb.put("quality", ("placement",), [scn.quality(p) for p in scn.placements])
    # deadlines: quantiles of the sum of H unit step times (the step time scales the distribution)
    q_unit = np.array([[quantile_of_sum(scn.step_model, h, phi) for phi in
                        scn.deadline_quantiles] for h in scn.local_steps])
    tb.put("deadline_unit", ("local_steps", "deadline"), q_unit)
    tb.put("wait_unit", ("placement", "local_steps", "deadline", "tier"), _wait_unit(scn, q_unit))
    derive(tb)
    return tb


def _wait_unit(scn: FleetScenario, q_unit: np.ndarray) -> np.ndarray:
    """The local part of a round in units of one step's t0, per (placement, local steps, deadline, tier): the
    deadline quantile where the round may drop late devices (a star, gossip), and where it may not (an
    all-reduce: the relayed ring) the expected H-step time of the slowest of its members, every replica
    (federated.round_participants, federated.slowest_member_steps), whatever the deadline."""
    n_p, n_t = len(scn.placements), len(scn.tiers)
    w = np.broadcast_to(q_unit[None, :, :, None], (n_p, *q_unit.shape, n_t)).copy()
    slowest: dict[tuple[int, int], float] = {}
    for j, tier in enumerate(scn.tiers):
        if tier.drops_late:
            continue
        for i, p in enumerate(scn.placements):
            k = scn.replicas(p)
            for a, h in enumerate(scn.local_steps):
                if (k, h) not in slowest:
                    slowest[(k, h)] = federated.slowest_member_steps(scn.step_model, k, h)
                w[i, a, :, j] = slowest[(k, h)]
    return w


def _sync_tables(tb: Tables, m_a: np.ndarray, m_b: np.ndarray) -> None:
    """Time, device energy and consensus rate of one synchronisation per (placement, tier): the whole
    trained part in the working precision (update compression is the sync audit's question)."""
    t_sync, e_sync, e_sync_p, p_cons = sync_costs(tb, 1.0)
    tb.put("t_sync", ("placement", "tier"), t_sync)
    tb.put("t_sync_fixed", ("placement", "tier"), sync_latency(tb))
    tb.put("radio_sigma", ("tier",), [radio_sigma(t) for t in tb.scn.tiers])
    tb.put("e_sync", ("placement", "tier"), e_sync)
    tb.put("e_sync_partner", ("placement", "tier"), e_sync_p)
    tb.put("consensus_rate", ("placement", "tier"), p_cons)


def sync_costs(tb: Tables, compression: float = 1.0, degree: str = "max") -> tuple[np.ndarray, ...]:
    """(time, fleet device's radio energy, phone's radio energy, consensus rate) of one synchronisation per
    (placement, tier) with updates `compression` times smaller: through a server only the upload shrinks (the
    server broadcasts the full model); in gossip and on the relayed ring every message does (CHOCO-SGD,
    Koloskova et al. 2019, compresses what each device sends its neighbours).

    A phone that trains part of the model syncs that part too. Where it reaches the aggregator over the very link
    the glasses sync on (both on the home Wi-Fi), the two are stations of one half-duplex channel and take turns
    on it: the sync lasts 2 alpha + (glasses' bytes + phone's bytes) / B. Where the glasses use another link
    (Bluetooth), each transfer runs on its own channel and the sync lasts the longer of the two.

    Whose energy, in gossip: an earbud exchanges its update with each of its d neighbours, so its radio energy
    grows with its own degree d. degree="max" (the model's, and what the energy budget checks) charges the
    earbud with the most neighbours: every earbud takes part in every synchronous gossip round, so the rounds a
    day stop when the busiest one has spent its budget (it runs out first). degree="mean" charges the earbud of
    mean degree (the graph's average), for narration. The round's time is the busiest earbud's either way (it
    exchanges with its d_max neighbours one after another, round_time_for_degree).

    Whose energy, on the relayed ring: in each of its 2 (k-1) steps every wearer sends a chunk of M/k to its
    ring successor, over the successor's shortest radio path in the wearer graph; each wearer on the path but the
    last transmits it, each but the first receives it (gossip.ring_relay_loads). A wearer's radio thus sends and
    receives 1 + (ring edges it relays) chunks a step: 2 (k-1) x load x M/k bytes each way a sync. The rule is
    gossip's: every wearer takes part in every step, so the syncs a day stop when the wearer that relays most has
    spent its budget; degree="max" charges that busiest relay (max load: 3 chunks a step on the tiny track's
    seeded graph), degree="mean" the wearers' mean load (sum of the ring edges' hops / k: 1.34 on tiny), for
    narration. The time is the longest edge's hops per step either way (relayed_ring_allreduce_time); the
    busiest relay's radio has fewer exchanges a step (its load, 3 on tiny) than that edge has hops (6)."""
    if degree not in ("max", "mean"):
        raise ValueError(f"degree must be 'max' or 'mean', got {degree!r}")
    scn = tb.scn
    m_a, m_b = tb.values["sync_bytes_device"], tb.values["sync_bytes_partner"]
    c = float(compression)
    n_p, n_t = len(scn.placements), len(scn.tiers)
    t_sync, e_sync, p_cons = np.zeros((n_p, n_t)), np.zeros((n_p, n_t)), np.ones((n_p, n_t))
    e_sync_p = np.zeros((n_p, n_t))
    split = np.array([p.split < scn.layers for p in scn.placements])
    for j, tier in enumerate(scn.tiers):
        lk = tier.link
        a, bw, eb = lk.latency_s, lk.effective_bandwidth, lk.energy_j_per_bit
        if tier.graph == "server":
            # the global model down, the (compressed) update up, over the device's own link (FedAvg), each way at its
            # own rate: a 5G download on the downlink (tier.down: links.toml lte_5g_down), its upload on the uplink
            dl = tier.down
            a_d, bw_d = dl.latency_s, dl.effective_bandwidth
            down, up = m_a, m_a / c
            t = np.where(down > 0, federated.server_device_sync_time(down, up, a_d, bw_d, a, bw), 0.0)
            if scn.partner_sync_link is not None:  # the phone syncs its part too
                pl = scn.partner_sync_link
                if pl.key == lk.key:
                    # glasses and phone on one network (home Wi-Fi): two stations of one channel, whose airtime
                    # they share, so their transfers add (one transmission at a time: IEEE 802.11-2020 DCF; Bianchi
                    # 2000; explorer/cost/collectives.py, collectives on a half-duplex shared medium): both models
                    # down, then both updates up, each one send of the two stations' bytes on the channel
                    both = (m_a > 0) | (m_b > 0)
                    t = np.where(both, federated.server_device_sync_time(down + m_b, up + m_b / c, a_d, bw_d, a, bw),
                                 0.0)
                else:  # a link of its own (the glasses on Bluetooth, the phone on Wi-Fi): the two run meanwhile
                    tp_ = np.where(m_b > 0, 2.0 * pl.latency_s + m_b * (1 + 1 / c) / pl.effective_bandwidth, 0.0)
                    t = np.maximum(t, tp_)
                e_sync_p[:, j] = energy.transfer_energy_j(m_b / c, m_b, pl.energy_j_per_bit)
            t_sync[:, j] = t
            # bits sent at the uplink's energy per bit, bits received at the downlink's (the same link where symmetric)
            # a radio whose rate spreads over the fleet: the mean device spends e^(sigma^2/2) of the median's airtime
            # (and energy: its power over its rate) on the same bytes (federated.radio_time_mean_factor)
            spread = federated.radio_time_mean_factor(radio_sigma(tier))
            e_sync[:, j] = (energy.transfer_energy_j(up, 0.0, eb)
                            + energy.transfer_energy_j(0.0, down, dl.energy_j_per_bit)) * spread
            continue
        wear = graph_figures(scn, wearer_graph(scn)[0])
        buds = graph_figures(scn, earbud_graph(scn))
        tb.graphs.update({"wearers": wear, "earbuds": buds})
        m = np.maximum(m_a, m_b) / c  # each earbud exchanges its own (compressed) part
        nf = scn.track.cluster.intra  # NFMI inside the pair
        # before: the two earbuds swap their parts over NFMI (both send on its one carrier: an exchange, in turn
        # where half duplex); after: the earbud that gossiped hands the average back (one send)
        nfmi_t = exchange_time(m, nf.latency_s, nf.effective_bandwidth, nf.half_duplex) + p2p_time(
            m, nf.latency_s, nf.effective_bandwidth)
        nfmi_e = energy.transfer_energy_j(m, m, nf.energy_j_per_bit)
        deg = f"{degree}_degree"  # whose energy: the busiest earbud's (max) or the mean one's (docstring)
        if tier.graph == "gossip_devices":
            g = np.where(split, wear["max_degree"], buds["max_degree"])
            ge = np.where(split, wear[deg], buds[deg])
            t_sync[:, j] = gossip.round_time_for_degree(g, a, m, bw, lk.half_duplex)  # an exchange per neighbour
            e_sync[:, j] = energy.transfer_energy_j(ge * m, ge * m, eb)
            p_cons[:, j] = np.where(split, wear["consensus_rate"], buds["consensus_rate"])
        elif tier.graph == "gossip_pairs":
            g, ge = wear["max_degree"], wear[deg]
            pre = np.where(split, 0.0, nfmi_t)  # swap over NFMI before, hand back after
            t_sync[:, j] = pre + gossip.round_time_for_degree(g, a, m, bw, lk.half_duplex)
            e_sync[:, j] = np.where(split, 0.0, 1.5 * nfmi_e) + energy.transfer_energy_j(ge * m, ge * m, eb)
            p_cons[:, j] = wear["consensus_rate"]
        else:  # ring_relayed: reduce-scatter + all-gather around a ring laid over the wearer graph
            hops = np.array(ring_hops(scn), dtype=float)
            k = hops.size
            steps = 2.0 * (k - 1)
            pre = np.where(split, 0.0, nfmi_t)
            t_sync[:, j] = pre + relayed_ring_allreduce_time(m, k, a, bw, int(hops.max()), lk.half_duplex)
            load = ring_relay_loads(scn)  # chunks each wearer sends (and receives) a step, relays included
            who = load.max() if degree == "max" else load.mean()  # the busiest relay, or the mean (docstring)
            per_node = steps * who * (m / k)  # bytes sent (and received) a sync
            e_sync[:, j] = np.where(split, 0.0, 1.5 * nfmi_e) + energy.transfer_energy_j(per_node, per_node, eb)
            tb.graphs["ring"] = {"wearers": k, "max_hops": int(hops.max()), "mean_hops": float(hops.mean()),
                                 "max_relay_load": int(load.max()), "mean_relay_load": float(load.mean())}
    return t_sync, e_sync, e_sync_p, p_cons


def radio_sigma(tier) -> float:
    """The spread of a device's rate on this path (links.toml throughput_sigma: 5G's 0.897), 0 where every device
    syncs at the catalog's rate. Up- and downlink must spread alike (one device's signal sets both). Only a star
    (through a server: a device's own transfers set its round) is modelled with a spread; a ring or gossip over such
    a radio is refused (each of its steps would wait for the slowest link, not modelled here)."""
    sigma = tier.link.throughput_sigma
    if tier.down.throughput_sigma != sigma:
        raise ValueError(f"tier {tier.key}: uplink and downlink throughput_sigma differ ({sigma} vs "
                         f"{tier.down.throughput_sigma})")
    if sigma > 0 and tier.graph != "server":
        raise ValueError(f"tier {tier.key}: a rate spread (throughput_sigma) is modelled only through a server")
    return float(sigma)


def sync_latency(tb: Tables) -> np.ndarray:
    """The latency part of each (placement, tier)'s sync through a server: the download's and the upload's alpha
    (federated.server_device_sync_time with no bytes, the formula sync_costs times the sync by; 0 where nothing is
    synced and on paths whose rate does not spread, where it is not needed); the rest of t_sync is transfer time,
    which a spreading radio stretches device by device."""
    scn = tb.scn
    out = np.zeros((len(scn.placements), len(scn.tiers)))
    m_a = tb.values["sync_bytes_device"]
    for j, tier in enumerate(scn.tiers):
        if radio_sigma(tier) > 0:
            if scn.partner_sync_link is not None:
                raise ValueError(f"tier {tier.key}: a rate spread with a partner's own sync is not modelled")
            dl, up = tier.down, tier.link  # the sync's time with no bytes: its two alphas (sync_costs' formula)
            fixed = federated.server_device_sync_time(0.0, 0.0, dl.latency_s, dl.effective_bandwidth, up.latency_s,
                                                      up.effective_bandwidth)
            out[:, j] = np.where(m_a > 0, fixed, 0.0)
    return out


def spread_round_times(tb: Tables, t_sync: np.ndarray) -> dict[int, np.ndarray]:
    """The device part of a round on each path whose radio spreads (radio_sigma > 0), per (placement, micro-batch,
    local steps, deadline): the deadline quantile phi of a device's round time, latencies + t_local x the sum of H
    unit steps + transfers x a lognormal of median 1 (federated.device_round_quantile), where the other paths add
    the sync to t_local x the quantile of the steps alone. t_sync: each (placement, tier)'s median sync."""
    scn, v = tb.scn, tb.values
    out = {}
    for j in range(len(scn.tiers)):
        sigma = float(v["radio_sigma"][j])
        if sigma == 0:
            continue
        arr = np.zeros((len(scn.placements), len(scn.micro_batches), len(scn.local_steps),
                        len(scn.deadline_quantiles)))
        for i in range(len(scn.placements)):
            fixed = float(v["t_sync_fixed"][i, j])
            spread = float(t_sync[i, j]) - fixed
            for bi in range(len(scn.micro_batches)):
                t_loc = float(v["t_local"][i, bi, j])
                for a, h in enumerate(scn.local_steps):
                    for d, phi in enumerate(scn.deadline_quantiles):
                        arr[i, bi, a, d] = federated.device_round_quantile(scn.step_model, h, phi, t_loc, fixed,
                                                                            spread, sigma)
        out[j] = arr
    return out


def _anchor(scn: FleetScenario) -> float:
    """S in T = S x bound: the reference run of the scenario (rounds x local steps iterations) divided by
    the bound at that run (all selected devices report; exact averaging)."""
    d = scn.data
    n_ref = d["reference_participation"] * scn.track.cluster.devices  # the reference run's fleet, whatever N
    it = d["reference_rounds"] * d["reference_local_steps"]
    return it / federated.iterations_bound(scn.noise_batch, d["reference_micro_batch"], n_ref,
                                           d["reference_local_steps"], 1.0, d["heterogeneity"],
                                           d["reference_participation"])


def derive(tb: Tables) -> None:
    """Every table that follows from the per-configuration times and sizes (participants, rounds, round time,
    energy, ...), in place: build_tables calls it, and a caller that changes an input table (a starved local
    step, fleetlens.lab08) calls it again."""
    scn = tb.scn
    v = tb.values
    b = np.array(scn.micro_batches, dtype=float)[None, :, None, None, None, None]
    h = np.array(scn.local_steps, dtype=float)[None, None, :, None, None, None]
    q = np.array(scn.participation)[None, None, None, :, None, None]
    phi = np.array(scn.deadline_quantiles)[None, None, None, None, :, None]
    rep = v["replicas"][:, None, None, None, None, None]
    p = v["consensus_rate"][:, None, None, None, None, :]
    server = np.array([t.graph == "server" for t in scn.tiers])[None, None, None, None, None, :]
    drops = np.array([t.drops_late for t in scn.tiers])[None, None, None, None, None, :]
    sel = np.where(server, q, 1.0)
    n = federated.round_participants(rep * sel, phi, drops)  # an all-reduce averages every member
    bound = federated.iterations_bound(scn.noise_batch, b, np.maximum(n, 1e-9), h, p, scn.data["heterogeneity"],
                                       np.minimum(n / rep, 1.0))
    # whole rounds (federated.whole_rounds: no fraction of a round runs), so the figure reported, R x D and the
    # integer tables both engines solve (ln_rounds) all count the same rounds
    rounds = federated.whole_rounds(_anchor(scn) * bound * v["quality"][:, None, None, None, None, None] / h)
    tb.put("participants", DIMS[:6], n)
    tb.put("rounds", DIMS[:6], rounds)
    # round time and energy per participation
    t_loc = v["t_local"][:, :, None, None, :]  # (P, b, 1, 1, T)
    dl = v["wait_unit"][:, None, :, :, :]  # a deadline quantile, or an all-reduce's slowest member
    ts = v["t_sync"][:, None, None, None, :]
    rt = np.array(np.broadcast_to(ts + t_loc * dl, tuple(tb.sizes[d] for d in DIMS if d != "participation")))
    for j, arr in spread_round_times(tb, v["t_sync"]).items():  # a radio whose rate spreads (5G)
        rt[..., j] = arr
    tb.put("round_time", ("placement", "micro_batch", "local_steps", "deadline", "tier"), rt)
    e = np.array(scn.local_steps, dtype=float)[None, None, :, None] * v["e_local"][:, :, None, :] \
        + v["e_sync"][:, None, None, :]
    tb.put("energy_round", ("placement", "micro_batch", "local_steps", "tier"), e)
    ep = np.array(scn.local_steps, dtype=float)[None, None, :, None] * v["e_local_partner"][:, :, None, :] \
        + v["e_sync_partner"][:, None, None, :]
    tb.put("energy_round_partner", ("placement", "micro_batch", "local_steps", "tier"), ep)
    pbud = float(scn.data.get("partner_energy_budget_j_per_day", 0.0))
    tb.put("budget_partner", ("tier",), [pbud if (t.uses_battery and pbud > 0) else NO_BUDGET_J for t in scn.tiers])
    tb.put("window", ("tier",), [federated.available_seconds(t.hours_per_day) for t in scn.tiers])
    budget = scn.data["energy_budget_j_per_day"]
    tb.put("budget", ("tier",), [budget if (t.uses_battery and budget > 0) else NO_BUDGET_J for t in scn.tiers])
    tb.put("selected", ("participation", "tier"), np.where(server[0, 0, 0, 0, :, :], np.array(scn.participation)[
        :, None], 1.0))
    # the aggregator moves every selected replica's model down and its update up through its own network
    srv = np.array([t.server_bytes_per_s for t in scn.tiers])
    per_replica = (v["sync_bytes_device"] + v["sync_bytes_partner"])[:, None, None] * 2.0
    k = v["replicas"][:, None, None] * np.array(scn.participation)[None, :, None]
    t_srv = np.where(srv[None, None, :] > 0, k * per_replica / np.where(srv > 0, srv, 1.0)[None, None, :], 0.0)
    tb.put("server_time", ("placement", "participation", "tier"), np.maximum(t_srv, 1e-9))
