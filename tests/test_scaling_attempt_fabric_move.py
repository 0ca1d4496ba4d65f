"""Lab 05 part 1's attempt grader offers the other fabric, not only N +- 1 on the attempt's own.

The part asks which fabric moves the communication wall; a student's (fabric, N) had been told only 'devices
N -> N - 1' or 'N -> N + 1', even where the other fabric the scenario compares makes the same N feasible."""

from __future__ import annotations

import pytest
from explorer.reports.attempts import grade_attempts

from explorer.puzzles import scaling


@pytest.fixture(scope="module")
def cloud():
    return scaling.solve("cloud")


def _moves(report, rows):
    out = grade_attempts(report, rows)
    return [a["best_move"] for a in out.extra["attempts"]], out.extra["attempts"]


def test_neighbours_include_the_other_fabric_at_the_same_n():
    # cloud compares 10 Gb Ethernet and InfiniBand NDR (explorer/data/lab05_distributed.toml [cloud.scaling])
    r = scaling.evaluate_attempt({"fabric": "eth_10g", "devices": 32}, "cloud")
    assert {"fabric": "ib_ndr", "devices": 32} in r["neighbours"]
    assert {"fabric": "eth_10g", "devices": 31} in r["neighbours"]
    assert {"fabric": "eth_10g", "devices": 33} in r["neighbours"]
    # a fleet track's two radios alike (edge: the 5G uplink vs the depot's Wi-Fi 6)
    r = scaling.evaluate_attempt({"fabric": "lte_5g", "devices": 16}, "edge")
    assert {"fabric": "wifi6", "devices": 16} in r["neighbours"]


def test_ethernet_attempt_is_told_to_switch_to_infiniband(cloud):
    # N = 8 is one node of 8 GPUs (tracks/cloud.toml): its all-reduce never reaches the fabric, so 8 GPUs on
    # InfiniBand step exactly as fast as on 10 GbE; the 9th GPU puts the all-reduce on the fabric, which 10 GbE
    # cannot carry (one more GPU loses throughput: infeasible) and InfiniBand can. The best single change is the
    # fabric, at the same throughput, rather than dropping to 7 GPUs (7/8 of it).
    moves, graded = _moves(cloud, [{"fabric": "eth_10g", "devices": 8}, {"fabric": "eth_10g", "devices": 32}])
    assert not graded[0]["feasible"] and not graded[1]["feasible"]
    assert moves[0].startswith("fabric eth_10g -> ib_ndr (becomes feasible, throughput ")
    tp8 = graded[0]["objective"]
    ib8 = scaling.evaluate_attempt({"fabric": "ib_ndr", "devices": 8}, "cloud")
    assert ib8["feasible"] and ib8["objective"] == pytest.approx(tp8, rel=1e-9)
    # N = 32 on 10 GbE: N - 1 and N + 1 are still past the wall (the old suggestion left it infeasible);
    # InfiniBand at 32 is feasible
    assert moves[1].startswith("fabric eth_10g -> ib_ndr (becomes feasible")
    assert "still infeasible" not in moves[1]


def test_a_slower_fabric_is_not_suggested(cloud):
    # on InfiniBand, 10 GbE at the same N only loses throughput: the move stays N + 1 on InfiniBand
    moves, _ = _moves(cloud, [{"fabric": "ib_ndr", "devices": 16}])
    assert moves[0].startswith("devices 16 -> 17 (throughput ")
