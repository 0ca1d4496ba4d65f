"""The fleet radios' figures follow from their cited sources (review of the fleet tracks, items 1-3).

Energy per payload bit: the model charges one figure to every bit a device sends and every bit it receives
(explorer/cost/energy.py transfer_energy_j), so each links.toml figure is the radio's power while it transfers
over the link's goodput, P / (gbps x efficiency), with P the mean of transmit and receive power where both are
published. 5G is asymmetric: its downloads run on lte_5g_down. Glasses and phone on one home Wi-Fi share its
airtime, so their syncs add."""

from __future__ import annotations

import numpy as np
import pytest
from explorer.hardware.catalog import get_link


def _per_payload_bit(p_tx_w: float, p_rx_w: float, gbps: float, efficiency: float) -> float:
    return (p_tx_w + p_rx_w) / 2 / (gbps * 1e9 * efficiency)


@pytest.mark.parametrize("key, p_tx, p_rx, nj", [
    # nRF52840 PS v1.7 sec. 6.20.15, radio only, DC/DC, 3 V: TX 4.8 mA at 0 dBm, RX 4.6 mA at 1M, 5.2 mA at 2M
    ("ble", 4.8e-3 * 3.0, 4.6e-3 * 3.0, 23.5),        # (14.4 + 13.8) / 2 mW / 0.6 Mb/s
    ("bluetooth", 4.8e-3 * 3.0, 5.2e-3 * 3.0, 10.7),  # (14.4 + 15.6) / 2 mW / 1.4 Mb/s = 10.71
    # ESP32-C6 datasheet Table 4-5, 3.3 V: TX 802.11ax MCS9 252 mA, RX HE20 78 mA, over 200 Mb/s x 0.60
    ("wifi6", 0.252 * 3.3, 0.078 * 3.3, 4.5),         # (0.8316 + 0.2574) / 2 W / 120 Mb/s = 4.54
    # NxH2280: 1.5 mW streaming, one figure both ways, over 596 kb/s x 0.80
    ("nfmi", 1.5e-3, 1.5e-3, 3.1),                    # 1.5 mW / 476.8 kb/s = 3.15
    # 5G: an assumed 1.75 W modem over each direction's rate (no datasheet figure found)
    ("lte_5g", 1.75, 1.75, 50.0),                     # 1.75 W / 35 Mb/s
    ("lte_5g_down", 1.75, 1.75, 12.5),                # 1.75 W / 140 Mb/s
])
def test_energy_per_payload_bit_follows_from_power_and_goodput(key, p_tx, p_rx, nj):
    lk = get_link(key)
    derived = _per_payload_bit(p_tx, p_rx, lk.bandwidth * 8 / 1e9, lk.efficiency)
    assert derived * 1e9 == pytest.approx(nj, abs=0.05)           # the figure the catalog states, to its digits
    assert lk.energy_j_per_bit == pytest.approx(nj * 1e-9, rel=1e-12)
    assert lk.energy_j_per_bit == pytest.approx(derived, rel=0.02)


def test_5g_downlink_is_its_own_rate_and_wifi_is_one_rate_both_ways():
    from explorer.puzzles.fleet3d.scenario import downlink_of

    up, down = get_link("lte_5g"), get_link("lte_5g_down")
    # Ookla Q3 2023 global medians: 203.04 Mb/s down, 18.93 up; the catalog's line rates 200 and 50 Mb/s
    assert down.bandwidth * 8 == pytest.approx(200e6) and up.bandwidth * 8 == pytest.approx(50e6)
    assert down.half_duplex and down.latency_s == up.latency_s
    assert downlink_of(up) is down
    assert all(downlink_of(get_link(k)) is None for k in ("wifi6", "bluetooth", "ble", "nfmi", "ib_ndr"))


def test_glasses_and_phone_on_one_wifi_add_their_transfers_by_hand():
    # mobile, split 3/3 (the glasses train layers 1-3, the phone 4-6 and the head), on the worn Wi-Fi path: both
    # sync over the one home Wi-Fi 6 channel (15e6 B/s reached, alpha 5 ms), so the glasses' and the phone's bytes
    # take turns: 2 x 0.005 + 2 (M_glasses + M_phone) / 15e6. On the Bluetooth path the glasses sync over
    # Bluetooth LE 2M (175,000 B/s, alpha 7.5 ms) while the phone uses the Wi-Fi: the longer of the two.
    from explorer.puzzles.fleet3d import solve_fleet

    res = solve_fleet("mobile")
    scn, tb = res.scenario, res.tables
    i = next(k for k, p in enumerate(scn.placements) if p.split == 3)
    m_a, m_b = tb.values["sync_bytes_device"][i], tb.values["sync_bytes_partner"][i]
    assert m_a > 0 and m_b > 0 and m_a + m_b == 2 * 51_748_864   # the whole FP16 model between them
    tiers = [t.key for t in scn.tiers]
    wifi, bt = tiers.index("worn_wifi"), tiers.index("worn_bluetooth")
    assert tb.values["t_sync"][i, wifi] == pytest.approx(0.010 + 2 * (m_a + m_b) / 15e6, rel=1e-12)
    assert tb.values["t_sync"][i, bt] == pytest.approx(
        max(0.015 + 2 * m_a / 175_000, 0.010 + 2 * m_b / 15e6), rel=1e-12)
    # each device's radio energy is its own bytes, both ways, at its link's energy per bit
    assert tb.values["e_sync"][i, wifi] == pytest.approx(2 * m_a * 8 * 4.5e-9, rel=1e-9)
    assert tb.values["e_sync_partner"][i, wifi] == pytest.approx(2 * m_b * 8 * 4.5e-9, rel=1e-9)
    # with the channel shared, no split beats the phone training the whole model: the optimum is split 0
    assert res.best["split"] == 0
    assert np.isfinite(res.best["days"])
