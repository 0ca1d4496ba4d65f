"""The aggregator (star) against a ring on a fleet's radio (a reviewer's D1): the star's download and upload take turns
on a half-duplex radio, (M_down + M_up)/B (federated.server_sync_time), and the ring was priced on a wire,
2 (K-1)(alpha + M/(K B)), so it was credited with sending and receiving at once: on edge it printed M* = 1.87 TB,
(K-2) alpha K B exactly, the full-duplex credit and nothing physical. On a half-duplex radio each ring step is an
exchange, alpha + 2 M/(K B) (collectives.relayed_ring_allreduce_time, exchange_time)."""

from __future__ import annotations

import pytest

from explorer.cost import federated
from explorer.puzzles import solve as solve_part


def test_crossover_by_hand_where_the_aggregator_is_the_bottleneck():
    # K = 10 devices, alpha = 10 ms, B = 1 MB/s per device, B_server = 1 MB/s: past a few kB the star is server-bound,
    # K 2M / B_server, and the ring 2 (K-1) alpha + 2 (K-1) x (1 or 2) M / (K B). Equal at
    # M* = 2 (K-1) alpha / (2K / B_server - 2 (K-1) d / (K B)), d = 1 on a wire, 2 on a half-duplex radio.
    k, a, b, bs = 10, 0.01, 1e6, 1e6
    wire = 2 * (k - 1) * a / (2 * k / bs - 2 * (k - 1) * 1 / (k * b))  # 9,890 B
    radio = 2 * (k - 1) * a / (2 * k / bs - 2 * (k - 1) * 2 / (k * b))  # 10,976 B
    assert federated.star_ring_crossover(k, a, b, bs) == pytest.approx(wire, rel=1e-6)
    assert federated.star_ring_crossover(k, a, b, bs, half_duplex=True) == pytest.approx(radio, rel=1e-6)
    # the star at M*: server-bound there (2 alpha + 2M/B is the smaller side)
    assert 2 * a + 2 * radio / b < k * 2 * radio / bs


@pytest.mark.parametrize("track", ["edge", "mobile"])
def test_fleet_ring_on_a_half_duplex_radio_never_beats_a_star_that_the_link_binds(track):
    rep = solve_part("crossover", track)
    x = rep.extra["fleet"]["crossover"] if "fleet" in rep.extra else rep.extra["crossover"]
    k = int(rep.figure("fleet_selected"))
    m = rep.figure("fleet_update_bytes")
    from explorer.puzzles.fleet3d import solve_fleet
    from explorer.puzzles.fleetlens.lab06 import sync_path

    _, link, _ = sync_path(solve_fleet(track))
    assert link.half_duplex  # Wi-Fi 6 (CSMA/CA) on both tracks' server tier
    a, b = link.latency_s, link.effective_bandwidth
    assert x["ring_s"] == pytest.approx(2 * (k - 1) * (a + 2 * m / (k * b)), rel=1e-9)
    # the aggregator is not the bottleneck (K / B_server < 2 (K-1) / (K B)), so no update size lets the ring win
    assert x["m_star"] is None and "faster than a ring at every update size" in rep.headline + " ".join(
        f.answer for f in rep.findings)
