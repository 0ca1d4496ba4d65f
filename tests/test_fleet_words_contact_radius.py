"""The contact graph states the radius it was built at (defect 2 of the fleet words review). gossip.contact_graph
grows its radius by 10% until the graph connects; the tiny track's reports said "an earbud hears those within 8 m"
whatever radius the graph used (8.8 m at the track's 50 wearers, 27.6 m with --nodes 8). The least radius that
connects points is the longest edge of their Euclidean minimum spanning tree (the bottleneck edge: below it the
tree's two sides share no edge, at it every tree edge is in), the independent check used here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree

from explorer.cost import gossip
from explorer.puzzles import sync
from explorer.units import human_number as num


def _bottleneck(n: int, seed: int) -> float:
    pts = gossip.contact_points(n, seed)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    return float(minimum_spanning_tree(d).toarray().max())


@pytest.mark.parametrize("n", [4, 25, 50, 100])
def test_contact_radius_is_the_first_10_percent_step_past_the_bottleneck(n):
    r0 = 8.0 / 40.0
    need = _bottleneck(n, 0)
    r = gossip.contact_radius(n, 0, r0)
    if need <= r0:  # connected at the radio's own range: not widened
        assert r == r0
    else:  # r0 x 1.1^k with k the least such that it reaches the bottleneck edge
        k = int(np.ceil(np.log(need / r0) / np.log(1.1) - 1e-12))
        assert r == pytest.approx(r0 * 1.1 ** k, rel=1e-12)
        assert r >= need > r / 1.1
    assert (gossip.contact_graph(n, 0, r0) == gossip.contact_graph_at(n, 0, r)).all()


def test_connected_groups_counts_components():
    adj = np.zeros((5, 5), dtype=bool)
    adj[0, 1] = adj[1, 0] = adj[2, 3] = adj[3, 2] = True  # {0, 1}, {2, 3}, {4}
    assert gossip.connected_groups(adj) == 3
    assert gossip.connected_groups(gossip.ring_graph(6)) == 1


@pytest.mark.parametrize("nodes", [None, 8])
def test_tiny_sync_report_states_the_radius_and_the_wearers_it_used(nodes):
    r = sync.solve("tiny", nodes=nodes)
    wearers = (nodes or 100) // 2
    used = gossip.contact_radius(wearers, 0, 8.0 / 40.0) * 40.0
    widened = _bottleneck(wearers, 0) * 40.0 > 8.0
    text = " ".join([r.headline] + [f.answer for f in r.findings] + [x.text for x in r.assumptions])
    assert f"on the {wearers}-wearer contact graph" in r.headline
    assert f"This run's contact graph: {wearers} wearers" in text
    if widened:
        assert f"links up to {num(used)} m, {num(used / 8.0)}x the track's 8 m radio range" in r.headline
        assert f"linked within {num(used)} m" in text and "beyond the track's radio assumption" in text
    else:
        assert "linked within the track's 8 m radio range" in text
