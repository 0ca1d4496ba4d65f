"""Whose energy the relayed ring's is: in each of its 2 (k-1) steps every ring member sends a chunk of M/k to its
successor over a shortest radio path in the contact graph, and every device on the path but the receiver
transmits it (and every one but the sender receives it). A relay thus sends 1 + (ring edges it relays) chunks a
step. The fleet model charges the busiest relay, as it charges gossip's busiest earbud (every wearer takes part
in every step, so the syncs a day stop when the one that relays most has spent its budget); degree='mean' keeps
the wearers' mean load, sum(hops) / k, for narration."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.cost import gossip
from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleet3d import solve_fleet

# Bluetooth LE 1M PHY: 23.5 nJ per payload bit, the mean of the nRF52840's 14.4 mW sending and 13.8 mW receiving
# over 1 Mb/s x 0.60 of goodput (test_fleet_gossip_energy_who derives it)
BLE_J_PER_BIT = (4.8e-3 + 4.6e-3) / 2 * 3.0 / (1e6 * 0.60)


def _path_graph(n: int) -> np.ndarray:
    adj = np.zeros((n, n), dtype=bool)
    for i in range(n - 1):
        adj[i, i + 1] = adj[i + 1, i] = True
    return adj


def test_relay_load_on_a_five_node_path_by_hand():
    # Path graph 0 - 1 - 2 - 3 - 4, devices on a line at x = 0, 1, 2, 3, 4. The nearest-neighbour tour from 0 is
    # 0 -> 1 -> 2 -> 3 -> 4 -> back to 0; the closing edge 4 -> 0 is 4 hops, relayed by 3, 2 and 1.
    # Chunks each device transmits a step:
    #   0: its own (to 1)                         = 1
    #   1: its own (to 2) + relays 4->0 (to 0)    = 2
    #   2: its own (to 3) + relays 4->0 (to 1)    = 2
    #   3: its own (to 4) + relays 4->0 (to 2)    = 2
    #   4: its own (4 -> 3, first hop of 4->0)    = 1
    # Sum 8 = the hops 1 + 1 + 1 + 1 + 4; mean 8/5 = 1.6; busiest 2.
    pts = np.array([[float(i), 0.0] for i in range(5)])
    adj = _path_graph(5)
    assert gossip.ring_tour(pts) == [0, 1, 2, 3, 4]
    assert gossip.ring_tour_hops(adj, pts) == [1, 1, 1, 1, 4]
    assert gossip.ring_relay_paths(adj, pts)[-1] == [4, 3, 2, 1, 0]
    load = gossip.ring_relay_loads(adj, pts)
    assert load.tolist() == [1.0, 2.0, 2.0, 2.0, 1.0]
    assert load.mean() == pytest.approx(1.6)


def test_relay_load_on_a_star_by_hand():
    # Star: hub 0 at the centre, leaves 1..4 at the corners (1, 1), (-1, 1), (-1, -1), (1, -1), each in range of
    # the hub only. Tour from 0: nearest is leaf 1 (all at distance sqrt 2, lowest index), then 2 (distance 2,
    # beating 4 at 2 and 3 at 2 sqrt 2 by index), then 3, 4, back to 0. Edges 0->1 (1 hop), 1->2, 2->3, 3->4
    # (2 hops each, via the hub), 4->0 (1 hop). Chunks transmitted a step:
    #   hub 0: its own (to 1) + relays 1->2, 2->3, 3->4 = 4
    #   each leaf: its own, first hop to the hub       = 1
    # Sum 8 = hops 1 + 2 + 2 + 2 + 1; mean 8/5 = 1.6; busiest 4, 2.5x the mean.
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    adj = np.zeros((5, 5), dtype=bool)
    adj[0, 1:] = adj[1:, 0] = True
    assert gossip.ring_tour(pts) == [0, 1, 2, 3, 4]
    assert gossip.ring_tour_hops(adj, pts) == [1, 2, 2, 2, 1]
    assert gossip.ring_relay_loads(adj, pts).tolist() == [4.0, 1.0, 1.0, 1.0, 1.0]


def test_relay_load_needs_a_connected_graph():
    adj = np.zeros((3, 3), dtype=bool)
    adj[0, 1] = adj[1, 0] = True
    with pytest.raises(Exception, match="disconnected"):
        gossip.ring_relay_loads(adj, np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]))


@pytest.fixture(scope="module")
def tiny():
    return solve_fleet("tiny")


def test_tiny_ring_charges_the_busiest_relay(tiny):
    res = tiny
    tb, scn = res.tables, res.scenario
    j = next(j for j, t in enumerate(scn.tiers) if t.graph == "ring_relayed")
    assert scn.tiers[j].link.energy_j_per_bit == pytest.approx(BLE_J_PER_BIT)
    ring = tb.graphs["ring"]
    # the seeded wearer graph's ring (test_fleet3d: 50 wearers, edges up to 6 hops) sums 67 hops: mean load
    # 67/50 = 1.34 chunks a step; its busiest relay sends 3 (no choice among equal shortest paths does better:
    # checked by enumerating the 4 x 2 x 4 routings of its three ambiguous edges when this was written)
    assert ring["wearers"] == 50
    assert ring["mean_relay_load"] == pytest.approx(67 / 50)
    assert ring["max_relay_load"] == 3
    i = scn.placements.index(res.best["placement"])
    assert res.best["split"] < scn.layers  # split across the pair: no NFMI swap, the ring is all BLE
    m = max(tb.values["sync_bytes_device"][i], tb.values["sync_bytes_partner"][i])
    k = 50
    # 2 (k-1) = 98 steps, load chunks of M/k each way, 8 bits a byte, 23.5 nJ a bit
    per_chunk_load = 98 * (m / k) * 2 * 8 * BLE_J_PER_BIT
    assert tb.values["e_sync"][i, j] == pytest.approx(3 * per_chunk_load, rel=1e-9)
    e_mean = fm.sync_costs(tb, 1.0, degree="mean")[1][i, j]
    assert e_mean == pytest.approx(1.34 * per_chunk_load, rel=1e-9)
    # time is the longest edge's either way
    assert fm.sync_costs(tb, 1.0, degree="mean")[0][i, j] == pytest.approx(tb.values["t_sync"][i, j])


def test_narration_says_busiest_relay(tiny):
    from types import SimpleNamespace

    import explorer
    from explorer.puzzles.fleetlens import lab06

    view = lab06._gossip_crossover(SimpleNamespace(data={}), tiny)
    assert "for the wearer that relays the most (3 chunks a step" in view.headline
    assert "mean load" not in view.tables["fleet_paths"].title
    assert "the busiest relay sends 3 chunks a step, the mean 1.34" in view.tables["fleet_paths"].title
    r = explorer.solve("sync", track="tiny")
    text = " ".join(f.answer for f in r.findings)
    assert "mean relay load" not in text + r.tables["sync_paths"].title
    assert "the wearer that relays the most chunks" in r.tables["sync_paths"].title
    assert "sends 3 chunks a step against the wearers' mean 1.34" in text


def test_energy_labels_say_whose_figure_it_is():
    """Tiny's optimum syncs over the relayed ring, whose energy is the busiest relay's: the 3D report's energy
    figures say so; edge's star through the server loads every vehicle alike, and says nothing of the kind."""
    import explorer

    tiny = explorer.solve("3d", track="tiny").figures
    edge = explorer.solve("3d", track="edge").figures
    assert "(the busiest earbud's)" in tiny["energy_per_round_j"].label
    assert "busiest" not in edge["energy_per_round_j"].label
