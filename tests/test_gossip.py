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
