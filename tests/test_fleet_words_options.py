"""Fleet headlines follow the options a user gives (defect 5 of the fleet words review): `explore solve crossover
--track edge --nodes 100 --alpha-us 100000 --bandwidth-gbs 0.001` still headed with "the 5,000 selected vehicles ...
star takes 22.9 s", and `explore solve batch --track tiny --critical-batch 1` printed "B_noise (critical batch) 512
samples" beside "critical batch size 1 sample"."""

from __future__ import annotations

import pytest

from explorer.puzzles import batch, crossover
from explorer.puzzles.fleetlens.common import optimum


def test_crossover_options_set_the_fleet_collective():
    rep = crossover.solve("edge", n=100, alpha_s=0.1, bandwidth_bps=1e6)
    res = optimum("edge")
    m = rep.figure("fleet_update_bytes")
    srv = res.best["tier"].server_bytes_per_s
    # FedAvg star (federated.server_sync_time): max(2 alpha + 2M/B, K 2M / B_server), here with K = 100 selected,
    # alpha = 0.1 s and B = 1 MB/s on each vehicle's link: 0.2 + 2 x 171.95 MB / 1 MB/s = 344.1 s
    assert rep.figure("fleet_star_time_s") == pytest.approx(max(0.2 + 2 * m / 1e6, 100 * 2 * m / srv), rel=1e-9)
    assert rep.figure("fleet_selected") == 100
    assert rep.headline.startswith("With --nodes, --alpha-us, --bandwidth-gbs as given")
    assert "the 100 selected vehicles" in rep.headline
    k_fleet = round(res.best["replicas"] * res.best["participation"])
    assert f"The fleet 3D optimum itself selects {k_fleet:,} of its" in rep.headline


def test_crossover_without_options_is_the_fleet_optimum():
    rep = crossover.solve("edge")
    res = optimum("edge")
    k_fleet = round(res.best["replicas"] * res.best["participation"])
    assert rep.headline.startswith(f"On the fleet the {k_fleet:,} selected vehicles")
    assert "as given" not in rep.headline


def test_tiny_crossover_says_the_options_set_the_lab_question():
    rep = crossover.solve("tiny", n=8)
    assert "(--nodes sets the lab's question as posed, below" in rep.headline


def test_batch_critical_batch_given_is_named_against_the_fleet_noise_scale():
    rep = batch.solve("tiny", critical_batch=1)
    bn = optimum("tiny").scenario.noise_batch
    assert bn != 1
    assert rep.figure("critical_batch") == 1  # the lab's question as posed takes the value given
    f = rep.figures["fleet_noise_batch"]
    assert f.value == bn and "not the one given" in f.label
    assert f"B_noise = {bn:,.0f} samples (the track's, at which the fleet 3D optimum is solved; --critical-batch 1 " \
           "sets only the lab's question as posed, below)" in rep.headline
    # the fleet's own B_noise given: nothing to set apart
    same = batch.solve("tiny", critical_batch=int(bn))
    assert "lab's question as posed" not in same.headline
