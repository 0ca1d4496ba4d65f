"""A radio whose rate spreads over a fleet's devices (hardware/data/links.toml throughput_sigma): the deadline of a
round through a server is a quantile of compute and radio together, and a round that waits for every device waits
for the slowest radio. Every expected figure below is derived by hand from the lognormal's closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from explorer.hardware.catalog import get_link
from scipy.stats import norm

from explorer.cost import federated as F
from explorer.cost.stragglers import StepTimeModel, expected_max_of_sums, quantile_of_sum

SIGMA = 0.897  # ln(1,266.49 / 127) / (2 x 1.2816): Ookla's 10th and 90th percentiles of one 5G network's users
STEP = StepTimeModel(1.0, 0.1, 0.05, 3.0)


def test_5g_spread_is_ooklas_ten_fold_between_its_deciles():
    sigma = math.log(1266.49 / 127) / (2 * norm.ppf(0.9))  # 2.29983 / 2.56310 = 0.8973
    assert get_link("lte_5g").throughput_sigma == pytest.approx(sigma, abs=5e-4)
    assert get_link("lte_5g_down").throughput_sigma == get_link("lte_5g").throughput_sigma
    assert "1,266.49" in get_link("lte_5g").throughput_sigma_source
    for steady in ("wifi6", "ble", "bluetooth", "ib_ndr", "nvlink4"):
        assert get_link(steady).throughput_sigma == 0.0


def test_mean_airtime_is_the_lognormal_mean():
    # E[e^(sigma Z)] = e^(sigma^2 / 2): 0.897^2 / 2 = 0.40230, e^0.40230 = 1.4953
    assert F.radio_time_mean_factor(SIGMA) == pytest.approx(1.4953, abs=1e-4)
    assert F.radio_time_mean_factor(0.0) == 1.0
    with pytest.raises(Exception, match="sigma"):
        F.radio_time_mean_factor(-0.1)


def test_without_spread_the_deadline_is_the_old_sum():
    # sigma = 0: t_fixed + t_transfer + t_local x Q_phi(sum of H steps), the formula the model had
    d = F.device_round_quantile(STEP, 16, 0.8, 0.064, 0.06, 22.9, 0.0)
    assert d == 0.06 + 22.9 + 0.064 * quantile_of_sum(STEP, 16, 0.8)
    e = F.device_round_expected_max(STEP, 1, 50, 0.064, 0.06, 22.9, 0.0)
    assert e == 0.06 + 22.9 + 0.064 * expected_max_of_sums(STEP, 50, 1)


def test_radio_alone_is_the_lognormal_quantile():
    # compute negligible: the q-quantile is t_fixed + t_transfer e^(sigma Phi^-1(q)); q = 0.9: e^(0.897 x 1.28155)
    # = e^1.14955 = 3.1567
    d = F.device_round_quantile(STEP, 1, 0.9, 1e-12, 0.06, 10.0, SIGMA)
    assert d == pytest.approx(0.06 + 10.0 * 3.1567, rel=1e-4)
    assert F.radio_time_quantile(10.0, SIGMA, 0.5) == pytest.approx(10.0)


def test_compute_and_radio_together_against_a_seeded_simulation():
    # the quantile of t_fixed + t_local S_16 + t_transfer L, checked against 400,000 seeded draws of both
    rng = np.random.default_rng(1)
    s = STEP.sample(rng, (400_000, 16)).sum(axis=1)
    big_l = np.exp(SIGMA * rng.standard_normal(400_000))
    sim = np.quantile(0.06 + 0.064 * s + 22.9 * big_l, 0.8)
    assert F.device_round_quantile(STEP, 16, 0.8, 0.064, 0.06, 22.9, SIGMA) == pytest.approx(sim, rel=5e-3)
    # and it lies above both parts at their own quantile apart, below their sum at (1 + q) / 2
    d = F.device_round_quantile(STEP, 16, 0.8, 0.064, 0.06, 22.9, SIGMA)
    assert d > 0.06 + 22.9 * math.exp(SIGMA * norm.ppf(0.8))


def test_waiting_for_every_device_waits_for_the_slowest_radio():
    # radio alone: E[max of 1 lognormal] = e^(sigma^2/2); of 2 i.i.d.: 2 e^(sigma^2/2) Phi(sigma / sqrt 2)
    # (the maximum of two lognormals; Nadarajah & Kotz 2008): 2 x 1.4953 x Phi(0.63427) = 2.2402
    one = F.device_round_expected_max(STEP, 1, 1, 1e-12, 0.0, 1.0, SIGMA)
    two = F.device_round_expected_max(STEP, 1, 2, 1e-12, 0.0, 1.0, SIGMA)
    assert one == pytest.approx(math.exp(SIGMA ** 2 / 2), rel=1e-3)
    assert two == pytest.approx(2 * math.exp(SIGMA ** 2 / 2) * norm.cdf(SIGMA / math.sqrt(2)), rel=1e-3)
    # the slowest of more devices grows without bound: 10,000 vehicles wait ~30x the median radio
    many = F.device_round_expected_max(STEP, 1, 10_000, 1e-12, 0.0, 1.0, SIGMA)
    assert 25 < many < 40


def test_edge_5g_rounds_are_quantiles_of_compute_and_radio():
    from explorer.puzzles.fleetlens.common import optimum

    res = optimum("edge")
    cell = res.per_tier["cellular"]
    scn, tb = res.scenario, res.tables
    assert cell["radio_sigma"] == pytest.approx(SIGMA)
    # the device part of its round: the deadline quantile of 0.06 s latencies + t_local x the sum of H steps + the
    # median vehicle's 49.13 s of transfers x L (tables' own t_local and t_sync)
    fixed = 0.03 + 0.03
    device = F.device_round_quantile(scn.step_model, cell["local_steps"], cell["deadline_quantile"], cell["t_local"],
                                     fixed, cell["t_sync"] - fixed, SIGMA)
    assert max(device, cell["server_time"]) == pytest.approx(cell["round_time"], rel=1e-9)
    assert cell["sync_at_deadline"] == pytest.approx(
        fixed + (cell["t_sync"] - fixed) * math.exp(SIGMA * norm.ppf(cell["deadline_quantile"])), rel=1e-9)
    # the storyboard waits for all 10,000 vehicles every step over 5G: the slowest radio sets its round
    c = res.crisis
    assert c["tier"].link.key == "lte_5g" and c["participants"] == 10_000
    slowest = F.device_round_expected_max(scn.step_model, 1, 10_000, c["t_local"], fixed, c["t_sync"] - fixed, SIGMA)
    assert c["round_time"] == pytest.approx(max(slowest, c["server_time"]), rel=1e-9)
    assert c["round_time"] > 20 * c["t_sync"]
    # the depot's Wi-Fi keeps one rate for every vehicle: its rounds add the sync to the compute's quantile
    j = [t.key for t in scn.tiers].index("depot")
    assert tb.values["radio_sigma"][j] == 0.0


def test_a_spread_on_a_ring_is_refused_not_mispriced():
    from dataclasses import replace

    from explorer.puzzles.fleet3d import model, scenario

    scn = scenario.load("tiny")
    ring = next(t for t in scn.tiers if t.graph == "ring_relayed")
    spread = replace(ring, link=replace(ring.link, throughput_sigma=0.5))
    with pytest.raises(ValueError, match="only through a server"):
        model.radio_sigma(spread)


def test_a_5g_round_says_its_deadline_covers_the_radio():
    import dataclasses

    from explorer.puzzles.fleet3d.report import _round_findings
    from explorer.puzzles.fleetlens.common import optimum

    res = optimum("edge")
    cell = res.per_tier["cellular"]  # the 5G path at its own best configuration
    text = " ".join(_round_findings(dataclasses.replace(res, best=cell))[0].answer.split())
    assert "and the sync to the slowest radio's" in text
    assert "a lognormal of sigma 0.897, hardware/data/links.toml gives the source" in text
    # the median vehicle's sync is the tables' t_sync; at the deadline quantile, t_fixed + transfers x e^(s z_phi)
    assert "the median vehicle syncs in 49.2 s" in text
    if cell["deadline_quantile"] == 0.5:  # the best 5G run closes at the median: said once, not as two equal figures
        assert "closes at the median of the two together" in text and "quantile in about" not in text
    else:
        assert "quantile in about" in text
    # the depot's Wi-Fi (one rate for every vehicle) says nothing of a spread
    depot = " ".join(_round_findings(dataclasses.replace(res, best=res.per_tier["depot"]))[0].answer.split())
    assert "lognormal" not in depot and "slowest radio" not in depot


def test_lab05_wait_or_drop_counts_the_slowest_radio():
    # E[max of 10,000 lognormals of sigma 0.897] over the median: at least e^(sigma E[max Z]) by Jensen, E[max of
    # 10,000 standard normals] = 3.8506 (Harter 1961's tables): e^(0.897 x 3.8506) = 31.6; a seeded simulation of
    # 2,000 fleets gives the figure itself; n = 1 is the lognormal mean e^(sigma^2/2)
    x = F.radio_time_expected_max(1.0, SIGMA, 10_000)
    assert x > math.exp(SIGMA * 3.8506)
    rng = np.random.default_rng(3)
    sim = np.exp(SIGMA * rng.standard_normal((2_000, 10_000))).max(axis=1).mean()
    assert x == pytest.approx(sim, rel=0.03)
    assert F.radio_time_expected_max(1.0, SIGMA, 1) == pytest.approx(math.exp(SIGMA ** 2 / 2), rel=1e-3)
    assert F.radio_time_expected_max(2.0, 0.0, 10_000) == 2.0
    # lab 05 part 3 on edge says so, with the figure rounded as the report rounds it
    from click.testing import CliRunner

    from explorer.cli import main

    text = " ".join(CliRunner().invoke(main, ["solve", "sync", "--track", "edge"]).output.split())
    assert "Waiting over the 5G uplink is longer still" in text
    assert f"the slowest of 10,000 vehicles syncs in {round(x)}x the median one's time" in text


def test_the_paths_line_says_whose_5g_sync_it_gives():
    from explorer.puzzles.fleet3d.report import _tier_findings
    from explorer.puzzles.fleetlens.common import optimum

    text = " ".join(_tier_findings(optimum("edge"))[0].answer.split())
    cell, depot = text.split("; depot")[0], text.split("; depot")[1]
    assert "the median vehicle's sync 49.2 s" in cell  # 5G: the median vehicle's (the rate spreads)
    assert "median" not in depot  # Wi-Fi: one rate for every vehicle


def test_a_5g_sync_is_its_two_latencies_plus_its_transfers():
    # one exchange through the server (FedAvg): the model down on 5G's downlink, 200 Mb/s line x 0.70 reached =
    # 17.5 MB/s, the update up on its uplink, 50 Mb/s x 0.70 = 4.375 MB/s, 30 ms each (links.toml lte_5g_down,
    # lte_5g): 35 MB take 2 s down and 8 s up
    assert F.server_device_sync_time(35e6, 35e6, 0.03, 17.5e6, 0.03, 4.375e6) == pytest.approx(0.06 + 2.0 + 8.0)
    # no bytes: the latency part alone, which the fleet model reads apart where the rate spreads
    assert F.server_device_sync_time(0.0, 0.0, 0.03, 17.5e6, 0.03, 4.375e6) == pytest.approx(0.06)
    from explorer.puzzles.fleet3d.scenario import load
    from explorer.puzzles.fleet3d.tables import build_tables

    tb = build_tables(load("edge"))
    j = [t.key for t in tb.scn.tiers].index("cellular")
    m = tb.values["sync_bytes_device"]  # the update goes up whole (no compression in the tables)
    assert (m > 0).all()
    np.testing.assert_allclose(tb.values["t_sync_fixed"][:, j], 0.06, rtol=1e-12)
    np.testing.assert_allclose(tb.values["t_sync"][:, j], 0.06 + m / 17.5e6 + m / 4.375e6, rtol=1e-12)
