"""Whose energy a gossip round's is (sweep A item 15): an earbud exchanges its update with each of its d
neighbours, so its radio energy is d x (M sent + M received) x 8 bit x energy per bit. The fleet model charges
the earbud with the most neighbours (the first to run out of its daily budget, which the budget must hold);
the narration says so and gives the mean earbud's too."""

from __future__ import annotations

import pytest

from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleet3d import solve_fleet

# Bluetooth LE 1M PHY, per payload bit, from nRF52840 PS v1.7 sec. 6.20.15 (radio-only, DC/DC, 3 V): TX 4.8 mA
# at 0 dBm = 14.4 mW, RX 4.6 mA = 13.8 mW, over the link's goodput 1 Mb/s x 0.60: 24.0 nJ sent, 23.0 nJ received,
# the one figure charged to both their mean, 23.5 nJ; checked below to be the link's figure.
BLE_J_PER_BIT = (4.8e-3 + 4.6e-3) / 2 * 3.0 / (1e6 * 0.60)


@pytest.fixture(scope="module")
def tiny():
    return solve_fleet("tiny")


def _gossip_tier(res, graph: str) -> int:
    return next(j for j, t in enumerate(res.scenario.tiers) if t.graph == graph)


def test_busiest_and_mean_earbud_by_hand(tiny):
    res = tiny
    tb, scn = res.tables, res.scenario
    j = _gossip_tier(res, "gossip_devices")
    link = scn.tiers[j].link
    assert link.energy_j_per_bit == pytest.approx(BLE_J_PER_BIT)
    i = scn.placements.index(res.best["placement"])
    assert res.best["split"] < scn.layers  # the optimum splits the model: gossip runs on the wearer graph
    w = tb.graphs["wearers"]
    # the seeded wearer graph: 50 wearers, the busiest in range of 10, the mean of 5.6 (scenario graph_seed)
    assert (w["nodes"], w["max_degree"]) == (50, 10)
    assert w["mean_degree"] == pytest.approx(5.6)
    m = max(tb.values["sync_bytes_device"][i], tb.values["sync_bytes_partner"][i])
    # each neighbour: M sent and M received, 8 bits a byte, 23.5 nJ a bit
    per_neighbour = 2 * m * 8 * BLE_J_PER_BIT
    e_max = tb.values["e_sync"][i, j]
    e_mean = fm.sync_costs(tb, 1.0, degree="mean")[1][i, j]
    assert e_max == pytest.approx(10 * per_neighbour, rel=1e-9)
    assert e_mean == pytest.approx(5.6 * per_neighbour, rel=1e-9)
    # the round's time is the busiest earbud's whichever energy is asked for
    assert fm.sync_costs(tb, 1.0, degree="mean")[0][i, j] == pytest.approx(tb.values["t_sync"][i, j])


def test_degree_argument_is_checked(tiny):
    with pytest.raises(ValueError, match="degree"):
        fm.sync_costs(tiny.tables, 1.0, degree="median")


def test_narration_names_the_busiest_earbud(tiny):
    from types import SimpleNamespace

    from explorer.puzzles.fleetlens import lab06

    view = lab06._gossip_crossover(SimpleNamespace(data={}), tiny)
    assert "the earbud with the most neighbours (10" in view.headline
    assert "mean 5.6" in view.headline
    t = view.tables["fleet_paths"]
    assert "J per round, busiest earbud" in t.columns and "J per round, mean earbud" in t.columns
    hv = lab06.hierarchy(None, tiny)
    assert "the busiest" in " ".join(hv.tables["fleet_tiers"].columns)


def test_sync_audit_says_whose_gossip_energy_it_prints():
    """The sync audit (lab 05 part 3, tiny) prints the gossip row's energy from the same busiest-earbud charge:
    its table and finding must say so, not 'per earbud' as if every earbud paid it."""
    import explorer

    r = explorer.solve("sync", track="tiny")
    text = " ".join(f.answer for f in r.findings)
    assert "J for the earbud with the most neighbours" in text
    assert "the earbud with the most neighbours" in r.tables["sync_paths"].title
