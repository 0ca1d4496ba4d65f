"""5G downloads on the downlink in lab 06's fleet collective (session 18, item 1): federated.server_sync_time took one
link rate for the download (server -> device, the model's M bytes) and the upload, so lab 06's star charged a 5G
download at the uplink's rate while the fleet 3D model (Tier.down) already ran it on lte_5g_down. Expected figures
from hardware/data/links.toml: 5G uplink line rate 50 Mb/s x 0.70 = 35 Mb/s = 4.375 MB/s, 50 nJ per bit sent;
downlink (Ookla Q3 2023 median 203 Mb/s down) 200 Mb/s x 0.70 = 140 Mb/s = 17.5 MB/s, 12.5 nJ per bit received;
30 ms latency both ways."""

from __future__ import annotations

import dataclasses
import types

import pytest

from explorer.cost import federated
from explorer.errors import UsageError

UP = 50e6 * 0.70 / 8  # 4.375e6 B/s
DOWN = 200e6 * 0.70 / 8  # 17.5e6 B/s
A = 0.030


def test_server_sync_time_charges_the_download_at_the_downlink_rate():
    # K = 1,000 vehicles, M = 172 MB each way, aggregator 100 Gb/s = 12.5 GB/s.
    # device: 0.03 + 172e6 / 17.5e6 + 0.03 + 172e6 / 4.375e6 = 0.06 + 9.8286 + 39.3143 = 49.203 s
    # aggregator: 1,000 x 344e6 / 12.5e9 = 27.52 s; the round waits for the device: 49.203 s
    t = federated.server_sync_time(1000, 172e6, 172e6, A, UP, 12.5e9, DOWN, A)
    assert t == pytest.approx(49.203, abs=1e-3)
    # one rate both ways (no downlink given): 2 x 0.03 + 344e6 / 4.375e6 = 78.69 s, the behaviour kept for Wi-Fi
    assert federated.server_sync_time(1000, 172e6, 172e6, A, UP, 12.5e9) == pytest.approx(78.69, abs=1e-2)
    # the aggregator still binds where it is slower: K = 10,000 -> 10,000 x 344e6 / 12.5e9 = 275.2 s
    assert federated.server_sync_time(10000, 172e6, 172e6, A, UP, 12.5e9, DOWN, A) == pytest.approx(275.2, rel=1e-9)


def test_server_sync_time_refuses_a_zero_downlink():
    with pytest.raises(UsageError, match="downlink bandwidth"):
        federated.server_sync_time(10, 1e6, 1e6, A, UP, 12.5e9, 0.0)


def test_a_faster_downlink_moves_or_removes_the_star_ring_crossover():
    # the aggregator never binds (B_server 1e15 B/s): star = 2a + M (1/B_down + 1/B), wire ring = 2 (K-1) a +
    # 2 (K-1)/K M/B. K = 10, a = 10 ms, B = 1 MB/s.
    k, a, b, big = 10, 0.01, 1e6, 1e15
    # one rate: M* = 2 (K-2) a / (2/B - 1.8/B) = 0.16 / 0.2e-6 = 800,000 B
    assert federated.star_ring_crossover(k, a, b, big) == pytest.approx(800e3, rel=1e-6)
    # downlink 1.1 B: star slope (1/1.1 + 1)/B = 1.9091/B: M* = 0.16 / (0.10909e-6) = 0.16 x 1.1e6 / 0.12 = 1.4667 MB
    assert federated.star_ring_crossover(k, a, b, big, down_bandwidth=1.1e6) == pytest.approx(
        0.16 * 1.1e6 / 0.12, rel=1e-6)
    # downlink 4 B: star slope 1.25/B < the ring's 1.8/B and its latency 2a < 18a: the star wins at every size
    assert federated.star_ring_crossover(k, a, b, big, down_bandwidth=4e6) is None


def test_lab06_star_over_5g_downloads_on_the_downlink():
    from explorer.puzzles.fleetlens import lab06
    from explorer.puzzles.fleetlens.common import optimum

    res = optimum("edge")
    cell = res.per_tier["cellular"]  # the 5G path at its own best configuration
    assert cell["tier"].link.key == "lte_5g"
    v = lab06.crossover(types.SimpleNamespace(scenario={}, track="edge"), dataclasses.replace(res, best=cell))
    m = v.figures["fleet_update_bytes"].value
    k = v.figures["fleet_selected"].value
    device = A + m / DOWN + A + m / UP  # 171.95 MB: 0.06 + 9.826 + 39.303 = 49.19 s (was 0.06 + 2M/UP = 78.7 s)
    server = k * 2 * m / 12.5e9
    assert v.figures["fleet_star_time_s"].value == pytest.approx(max(device, server), rel=1e-9)
    assert 49.0 < device < 49.4
    # the same device part as the fleet 3D model's own 5G sync (hierarchy's table), its median vehicle's since the
    # 5G rate spreads over the fleet (links.toml throughput_sigma)
    assert device == pytest.approx(cell["t_sync"], rel=1e-9)
    # energy: bits sent at 50 nJ, received at 12.5 nJ: M x 8 x 62.5e-9 = 86.0 J (was M x 16 x 50e-9 = 137.6 J)
    assert v.figures["fleet_star_energy_j"].value == pytest.approx(m * 8 * (50e-9 + 12.5e-9), rel=1e-9)
    per = 2 * (k - 1) / k * m  # ring: 2 (K-1)/K M each way
    assert v.figures["fleet_ring_energy_j"].value == pytest.approx(per * 8 * (50e-9 + 12.5e-9), rel=1e-9)
    why = v.findings[0].answer
    assert "5G downlink at 17.50 MB/s" in why and "5G uplink at 4.38 MB/s" in why
    assert "2 alpha + 2M/B" not in why
    assert "over 5G uplink (the star's download on 5G downlink)" in v.headline


def test_lab06_star_on_wifi_keeps_one_rate():
    from explorer.puzzles.fleetlens import lab06
    from explorer.puzzles.fleetlens.common import optimum

    res = optimum("edge")
    depot = res.per_tier["depot"]
    lk = depot["tier"].link
    v = lab06.crossover(types.SimpleNamespace(scenario={}, track="edge"), dataclasses.replace(res, best=depot))
    m, k = v.figures["fleet_update_bytes"].value, v.figures["fleet_selected"].value
    srv = depot["tier"].server_bytes_per_s
    star = max(2 * lk.latency_s + 2 * m / lk.effective_bandwidth, k * 2 * m / srv)
    assert v.figures["fleet_star_time_s"].value == pytest.approx(star, rel=1e-9)
    assert "2 alpha + 2M/B" in v.findings[0].answer
