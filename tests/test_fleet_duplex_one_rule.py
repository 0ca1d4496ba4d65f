"""One duplex rule for every part (sweep A item 6): links.toml `duplex` decides how a ring's steps are priced, in
the lab's-question forms of batch, compression and hierarchy as in crossover and the fleet paths, and a radio's
energy counts the bits a device sends and those it receives. Expected values are derived by hand below."""

from __future__ import annotations

import pytest
from explorer.hardware.catalog import get_link

from explorer.puzzles import batch, compression
from explorer.puzzles import hierarchy as h
from explorer.puzzles.collective_scenario import get_scenario


def test_batch_mobile_all_reduce_on_half_duplex_ble():
    # mobile: 1,000 glasses, DP 1,000, each on Bluetooth LE 2M (2 Mb/s x 0.70 = 175 kB/s, alpha 7.5 ms, half
    # duplex: a connection event alternates the two sides' packets on one RF channel). FP16 gradients of the
    # 51,748,864 parameters: M = 103,497,728 B. A ring step sends M/1000 and receives M/1000 in turn:
    # 2 x 999 x 7.5 ms + 2 x 999/1000 x M / (175e3 / 2) = 14.985 + 2363.30 = 2378.28 s (the full-duplex
    # 1,196.6 s counted one send a step). NCCL's base latency adds microseconds.
    assert get_link("bluetooth").half_duplex
    inst = batch.make_instance("mobile")
    e = batch.evaluate_config(inst, "fp16", 1, 1)
    m = 51_748_864 * 2
    hand = 2 * 999 * 7.5e-3 + 2 * 999 / 1000 * m / (175e3 / 2)
    assert hand == pytest.approx(2378.28, abs=0.01)
    assert e["comm_time"] == pytest.approx(hand, rel=1e-6)


def test_cloud_links_are_full_duplex_and_unchanged():
    # NVLink and InfiniBand send and receive on separate lanes: a cloud group keeps the link's whole rate
    from explorer.puzzles.threed import make_setup
    from explorer.tracks import get_track

    s = make_setup(get_track("cloud"))
    assert not s.cluster.intra.half_duplex and not s.cluster.inter.half_duplex
    g = s.group(8)
    assert float(g.bus_bandwidth) == pytest.approx(s.cluster.intra.effective_bandwidth)


def test_edge_ring_priced_alike_in_compression_and_hierarchy():
    # edge's lab form: a ring of 10 vehicles over 5G (TDD, half duplex), 16-bit gradients M = 2 P:
    # 2 x 9 x (30 ms + 2 x (M/10) / 4.375e6). compression's sync and hierarchy's flat ring are the same exchange.
    sc = get_scenario("edge")
    m = sc.gradient_bytes
    hand = 2 * 9 * (0.03 + 2 * (m / 10) / 4.375e6)
    r = compression.solve("edge", steps=20)
    assert r.figure("sync_time_native_s") == pytest.approx(hand, rel=1e-9)
    assert h.flat_time(h.make_instance(sc)) == pytest.approx(hand, rel=1e-9)


def test_tiny_hierarchy_inter_tier_half_duplex_like_its_intra_tier():
    # tiny: 50 earbuds on BLE 1M (1 Mb/s x 0.6 = 75 kB/s, 7.5 ms, half duplex), FP32 gradients M = 4 x 66,655 B
    # = 266,620 B. Flat ring: 2 x 49 x (7.5 ms + 2 x (M/50) / 75e3) = 0.735 + 13.936 = 14.671 s; before, the
    # inter tier counted one send a step (7.703 s) while its NFMI intra tier took both in turn.
    sc = get_scenario("tiny")
    inst = h.make_instance(sc)
    assert inst.inter_half_duplex and inst.intra_half_duplex
    m = sc.gradient_bytes
    hand = 2 * 49 * (7.5e-3 + 2 * (m / 50) / 75e3)
    assert h.flat_time(inst) == pytest.approx(hand, rel=1e-9)


def test_compression_energy_counts_sent_and_received_bits():
    # edge: 16-bit M = 2 P; a ring all-reduce sends 2 x 9/10 x M from a vehicle and receives as much; 5G at
    # 50 nJ/bit: 2 x 1.8 M x 8 x 50e-9 J
    sc = get_scenario("edge")
    r = compression.solve("edge", steps=20)
    m = sc.gradient_bytes
    e_bit = get_link("lte_5g").energy_j_per_bit
    assert r.figure("energy_per_sync_native_j") == pytest.approx(2 * 1.8 * m * 8 * e_bit, rel=1e-9)
    text = next(f.answer for f in r.findings if f.question.startswith("Energy per sync"))
    assert "receives as much" in text
