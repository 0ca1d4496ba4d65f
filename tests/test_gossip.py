"""Gossip averaging (explorer/cost/gossip.py): known spectra by hand, simulation vs bound."""

import math

import numpy as np
import pytest

from explorer.cost import gossip
from explorer.errors import UsageError


def test_ring_metropolis_weights_and_slem_by_hand():
    # Ring: every degree is 2, so W_ij = 1/(1+2) = 1/3 on edges and W_ii = 1 - 2/3 = 1/3.
    # Eigenvalues of this circulant: 1/3 + (2/3) cos(2 pi k / n). For n = 10:
    # k = 1 -> 1/3 + (2/3)(0.809017) = 0.872678; k = 5 -> 1/3 - 2/3 = -1/3. SLEM = 0.872678.
    w = gossip.metropolis_weights(gossip.ring_graph(10))
    assert np.allclose(w[0, [0, 1, 9]], 1 / 3)
    assert np.allclose(w.sum(axis=0), 1) and np.allclose(w.sum(axis=1), 1)
    assert gossip.slem(w) == pytest.approx(0.872678, abs=1e-6)
    assert gossip.spectral_gap(w) == pytest.approx(0.127322, abs=1e-6)
    # rounds to eps = 0.01: ln(0.01)/ln(0.872678) = -4.60517 / -0.136184 = 33.82 -> 34
    assert gossip.rounds_to_consensus(w, 0.01) == 34


def test_ring4_and_complete_graph():
    # n = 4 ring: eigenvalues 1, 1/3, 1/3, -1/3 -> SLEM 1/3; eps 1e-3: ln(1e-3)/ln(1/3) = 6.29 -> 7
    w4 = gossip.metropolis_weights(gossip.ring_graph(4))
    assert gossip.slem(w4) == pytest.approx(1 / 3)
    assert gossip.rounds_to_consensus(w4, 1e-3) == 7
    # Complete graph K_5: degree 4, W_ij = 1/5, W_ii = 1 - 4/5 = 1/5 -> W = J/5: one round averages.
    k5 = ~np.eye(5, dtype=bool)
    w = gossip.metropolis_weights(k5)
    assert np.allclose(w, 0.2)
    assert gossip.consensus_error(w, 1) == pytest.approx(0.0, abs=1e-12)
    assert gossip.rounds_to_consensus(w, 1e-6) == 1


def test_simulation_respects_spectral_bound_and_is_seeded():
    adj = gossip.contact_graph(50, seed=3)
    assert gossip.is_connected(adj) and (adj == adj.T).all() and not adj.diagonal().any()
    assert (gossip.contact_graph(50, seed=3) == adj).all()
    w = gossip.metropolis_weights(adj)
    s = gossip.slem(w)
    errs = gossip.consensus_errors(w, 40, seed=1)
    assert errs[0] == 1.0
    # ||x(k) - xbar|| <= slem^k ||x(0) - xbar|| (Xiao & Boyd 2004, eq. 4)
    assert all(errs[k] <= s**k + 1e-12 for k in range(41))
    assert np.array_equal(errs, gossip.consensus_errors(w, 40, seed=1))
    k = gossip.rounds_to_consensus(w, 1e-2)
    assert gossip.consensus_error(w, k, seed=1) <= 1e-2
    # the mean is preserved by a doubly stochastic W
    x0 = np.arange(50.0)
    assert (w @ x0).mean() == pytest.approx(x0.mean())


def test_grid_and_messages():
    adj = gossip.grid_graph(2, 3)  # 7 edges: 2 rows x 2 + 3 columns x 1
    assert adj.sum() == 14
    assert gossip.messages_per_round(adj) == 14
    assert gossip.messages_per_round(adj, broadcast=True) == 6
    # a denser graph mixes faster: 5x10 grid vs 50-ring
    assert gossip.spectral_gap(gossip.metropolis_weights(gossip.grid_graph(5, 10))) > gossip.spectral_gap(
        gossip.metropolis_weights(gossip.ring_graph(50)))


def test_bad_inputs():
    with pytest.raises(UsageError):
        gossip.ring_graph(1)
    with pytest.raises(UsageError):
        gossip.rounds_to_consensus(gossip.metropolis_weights(gossip.ring_graph(4)), 1.5)
    disconnected = np.zeros((4, 4), dtype=bool)
    disconnected[0, 1] = disconnected[1, 0] = disconnected[2, 3] = disconnected[3, 2] = True
    with pytest.raises(UsageError):
        gossip.rounds_to_consensus(gossip.metropolis_weights(disconnected), 0.01)
    assert not math.isnan(gossip.slem(gossip.metropolis_weights(disconnected)))


def test_round_time_and_ring_tour_hops():
    # ring of 6: degree 2, so one round = 2 x (alpha + M/B) = 2 x (7.5 ms + 1000 B / 75,000 B/s) = 41.667 ms
    adj = gossip.ring_graph(6)
    assert gossip.round_time(adj, 7.5e-3, 1000.0, 75e3) == pytest.approx(2 * (7.5e-3 + 1000 / 75e3))
    # devices on a circle in ring order: the nearest-neighbour tour follows the ring, every edge one hop
    ang = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    pts = np.c_[np.cos(ang), np.sin(ang)]
    assert gossip.ring_tour_hops(adj, pts) == [1] * 6
    # a path graph 0-1-2-3 in a line: the tour 0,1,2,3 then back 3 -> 0 takes 3 hops
    path = np.zeros((4, 4), dtype=bool)
    for i in range(3):
        path[i, i + 1] = path[i + 1, i] = True
    assert gossip.ring_tour_hops(path, np.c_[np.arange(4.0), np.zeros(4)]) == [1, 1, 1, 3]


def test_a_gossip_round_on_a_half_duplex_radio_takes_the_sends_and_the_receives():
    # A gossip round needs every device to send its M to each neighbour AND receive each neighbour's M. On a
    # Bluetooth LE radio (half duplex: a connection event alternates the two sides' packets on one RF channel,
    # Core Spec 5.x Vol 6 Part B 4.5.1) each exchange puts 2 M on the air in turn. Ring of 6 (degree 2), alpha =
    # 7.5 ms (BLE connection interval), B = 75,000 B/s (1 Mb/s x 0.60 / 8), M = 1000 B:
    #   full duplex  2 x (0.0075 + 1000/75000)     = 2 x 0.0208333 = 0.0416667 s (the test above)
    #   half duplex  2 x (0.0075 + 2 x 1000/75000) = 2 x 0.0341667 = 0.0683333 s
    adj = gossip.ring_graph(6)
    assert gossip.round_time(adj, 7.5e-3, 1000.0, 75e3, half_duplex=True) == pytest.approx(0.0683333333, rel=1e-9)
    assert gossip.round_time(adj, 7.5e-3, 1000.0, 75e3) == pytest.approx(0.0416666667, rel=1e-9)
    # per placement (arrays), as the fleet 3D model calls it: degree 10 and 4, M = 1000 and 0 B
    t = gossip.round_time_for_degree(np.array([10, 4]), 7.5e-3, np.array([1000.0, 0.0]), 75e3, True)
    assert t == pytest.approx([10 * (0.0075 + 2000 / 75e3), 4 * 0.0075], rel=1e-12)


def test_an_nfmi_pair_swap_is_both_sends_on_one_carrier():
    # The two earbuds swap M = 1000 B over NFMI: NxH2280 596 kb/s x 0.80 goodput / 8 = 59,600 B/s, alpha 2 ms.
    # One carrier, each frame split into the two directions: both sends in turn, 0.002 + 2000/59600 = 0.0355570 s,
    # where a full-duplex pair would take 0.002 + 1000/59600 = 0.0187785 s.
    from explorer.hardware import get_link

    from explorer.cost.collectives import exchange_time

    nf = get_link("nfmi")
    assert nf.half_duplex and nf.effective_bandwidth == pytest.approx(59_600.0)
    assert exchange_time(1000.0, nf.latency_s, nf.effective_bandwidth, nf.half_duplex) == pytest.approx(
        0.0355570470, rel=1e-9)
    assert exchange_time(1000.0, 0.002, 59_600.0) == pytest.approx(0.0187785235, rel=1e-9)


def test_a_relayed_ring_on_a_half_duplex_radio_sends_and_receives_each_chunk_in_turn():
    # Ring AllReduce over N = 4 wearers, longest ring edge h = 2 radio hops, M = 3000 B, alpha = 7.5 ms,
    # B = 75,000 B/s. 2 (N-1) = 6 steps, each waits for its longest edge, h hops of one chunk M/N = 750 B:
    #   full duplex  6 x 2 x (0.0075 + 750/75000)     = 12 x 0.0175 = 0.21 s
    #   half duplex  6 x 2 x (0.0075 + 2 x 750/75000) = 12 x 0.0275 = 0.33 s (each radio sends its chunk and
    #   receives its predecessor's, a relay receives and forwards, one direction at a time)
    from explorer.cost.collectives import relayed_ring_allreduce_time

    assert relayed_ring_allreduce_time(3000.0, 4, 7.5e-3, 75e3, 2) == pytest.approx(0.21, rel=1e-12)
    assert relayed_ring_allreduce_time(3000.0, 4, 7.5e-3, 75e3, 2, half_duplex=True) == pytest.approx(0.33, rel=1e-12)


def test_the_gossip_ring_crossover_on_a_half_duplex_radio():
    # d = 6, k = 50 wearers, h = 3, alpha = 7.5 ms, B = 1e5 B/s. Full duplex: M* = (294 - 6) x 0.0075 x 1e5 /
    # (6 - 294/50) = 216 / 0.12 x 1e3 = 1.8e6 B. Both bandwidth terms double on half duplex, so M* halves to
    # 9e5 B; there gossip 6 x (0.0075 + 2 x 9e5/1e5) = 108.045 s = ring 294 x (0.0075 + 2 x 9e5/(50 x 1e5)).
    from explorer.cost.collectives import relayed_ring_allreduce_time

    assert gossip.gossip_ring_crossover(6, 50, 3, 0.0075, 1e5) == pytest.approx(1.8e6, rel=1e-12)
    m = gossip.gossip_ring_crossover(6, 50, 3, 0.0075, 1e5, half_duplex=True)
    assert m == pytest.approx(9e5, rel=1e-12)
    assert 6 * (0.0075 + 2 * m / 1e5) == pytest.approx(108.045, rel=1e-12)
    assert relayed_ring_allreduce_time(m, 50, 0.0075, 1e5, 3, half_duplex=True) == pytest.approx(108.045, rel=1e-12)
