"""Collectives as NCCL runs them (explorer/cost/collectives.py, Setup.group): known answers derived by hand
from NCCL's own tuning model (NVIDIA/nccl v2.30.7 src/graph/tuning.cc) and published rail measurements."""

from __future__ import annotations

import pytest
from explorer.hardware import build_cluster
from explorer.models import get_model

from explorer.cost.collectives import (
    NCCL_BASE_LATENCY_S,
    nccl_allreduce_time,
    nccl_reduce_scatter_time,
    nccl_ring_allreduce_time,
    nccl_tree_allreduce_time,
    ring_allreduce_time,
)
from explorer.cost.setup import Setup


def _setup(gpus=128, gpu="h100", intra="nvlink4", inter="ib_ndr", **kw):
    return Setup(get_model("llama3_8b"), build_cluster(gpu, gpus, 8, intra, inter), 4096, **kw)


def test_ring_over_16_nodes_of_8_pays_2x15_network_latencies_not_2x127():
    # tuning.cc: nsteps = 2 (nRanks - 1) = 254, nInterSteps = 2 (nNodes - 1) = 30. With alpha_intra = 0 and a
    # message of 0 bytes the ring costs base + 30 alpha_inter; the textbook flat ring charges 254 alpha_inter.
    a_inter = 5e-6
    t = nccl_ring_allreduce_time(0.0, 128, 8, 0.0, a_inter, 1e12)
    assert t == pytest.approx(NCCL_BASE_LATENCY_S + 30 * a_inter)
    assert ring_allreduce_time(0.0, 128, a_inter, 1e12) == pytest.approx(254 * a_inter)
    # with NVLink hops at 2 us: the other 224 steps stay inside the nodes
    t = nccl_ring_allreduce_time(0.0, 128, 8, 2e-6, a_inter, 1e12)
    assert t == pytest.approx(8.4e-6 + 224 * 2e-6 + 30 * 5e-6)


def test_setup_places_a_flat_dp_group_of_128_on_16_nodes():
    g = _setup().group(128, 1)
    assert int(g.per_node) == 8 and int(g.nodes) == 16
    # one member per node (stride = node size): 128 nodes, one NIC each
    g = _setup(gpus=1024).group(128, 8)
    assert int(g.per_node) == 1 and int(g.nodes) == 128


def test_eight_rails_give_eight_times_one_nic_until_nvlink_caps():
    # A100 + HDR: one NIC = 25e9 B/s x 0.96 = 24e9 B/s; NVLink 3 = 300e9 x 0.77 = 231e9 B/s.
    s = _setup(gpus=64, gpu="a100", intra="nvlink3", inter="ib_hdr")
    one = float(s.group(8, 8).bus_bandwidth)  # one member per node
    eight = float(s.group(64, 1).bus_bandwidth)  # eight members per node: eight rails
    assert one == pytest.approx(24e9)
    assert eight == pytest.approx(8 * 24e9)  # 192 GB/s < 231 GB/s: not capped
    four = float(s.group(32, 2).bus_bandwidth)  # four members per node
    # nccl-tests issue #100: 4 x HDR measured ~91 GB/s bus bandwidth; the model says 4 x 24 = 96 GB/s (5 %)
    assert four == pytest.approx(96e9) and abs(four - 91e9) / 91e9 < 0.06
    # H100 + NDR: 8 x 47e9 = 376e9 > NVLink 4 450e9 x 0.82 = 369e9: NVLink caps the group
    h = _setup()
    assert float(h.group(128, 1).bus_bandwidth) == pytest.approx(369e9)


def test_node_shared_ethernet_nic_is_split_among_the_groups_crossing_it():
    # One 10 GbE NIC per node (1.25e9 x 0.90 = 1.125e9 B/s): a flat ring (8 members per node) has it all;
    # eight groups of stride 8 (one member per node each) share it; a group inside a node uses NVLink.
    s = _setup(gpus=64, inter="eth_10g")
    assert float(s.group(64, 1).bus_bandwidth) == pytest.approx(1.125e9)
    assert float(s.group(8, 8).bus_bandwidth) == pytest.approx(1.125e9 / 8)
    assert float(s.group(8, 1).bus_bandwidth) == pytest.approx(450e9 * 0.82)


def test_tree_beats_ring_for_small_messages_at_large_n_and_ring_wins_for_large():
    # 2048 nodes x 8 GPUs, alpha 2 us / 5 us, busbw 369 GB/s.
    n, k, ai, ae, bw = 16384, 8, 2e-6, 5e-6, 369e9
    small, large = 1e6, 1e10
    # ring latency: base + (2 x 16383 - 2 x 2047) x 2 us + 2 x 2047 x 5 us = 8.4 us + 57.344 ms + 20.47 ms
    assert nccl_ring_allreduce_time(0, n, k, ai, ae, bw) == pytest.approx(8.4e-6 + 28672 * 2e-6 + 4094 * 5e-6)
    # tree latency: base + 2 (7 x 2 us + floor(log2 2048) x 5 us) = 8.4 + 2 (14 + 55) us = 146.4 us
    assert nccl_tree_allreduce_time(0, n, k, ai, ae, bw) == pytest.approx(146.4e-6)
    assert nccl_tree_allreduce_time(small, n, k, ai, ae, bw) < nccl_ring_allreduce_time(small, n, k, ai, ae, bw)
    # Large messages on 16 nodes: tree moves M / (0.92 busbw / 2) = 58.9 ms for 10 GB, ring 2 (n-1)/n M / busbw
    # = 53.8 ms plus its 0.61 ms latency (8.4 + 224 x 2 + 30 x 5 us): ring wins. (At 16,384 ranks the ring's
    # 78 ms latency makes the tree faster even at 10 GB.)
    n = 128
    assert nccl_ring_allreduce_time(large, n, k, ai, ae, bw) == pytest.approx(606.4e-6 + 254 / 128 * 1e10 / 369e9)
    assert nccl_ring_allreduce_time(large, n, k, ai, ae, bw) < nccl_tree_allreduce_time(large, n, k, ai, ae, bw)
    assert nccl_tree_allreduce_time(small, n, k, ai, ae, bw) < nccl_ring_allreduce_time(small, n, k, ai, ae, bw)
    # NCCL picks the faster per call
    for m in (small, large):
        assert nccl_allreduce_time(m, n, k, ai, ae, bw) == pytest.approx(
            min(nccl_ring_allreduce_time(m, n, k, ai, ae, bw), nccl_tree_allreduce_time(m, n, k, ai, ae, bw)))


def test_reduce_scatter_crosses_the_network_once_per_node():
    # nsteps = n - 1 = 127 of which nNodes - 1 = 15 on the network; (n-1)/n M / busbw
    t = nccl_reduce_scatter_time(1e9, 128, 8, 2e-6, 5e-6, 100e9)
    assert t == pytest.approx(8.4e-6 + 112 * 2e-6 + 15 * 5e-6 + 127 / 128 * 1e9 / 100e9)


def test_in_network_reduction_only_where_the_fabric_has_it_and_switched_on():
    # NVLS: nvlink4 has it in the catalog (~480 GB/s busbw), off by default; A100's NVLink 3 has none.
    m = 1e9
    off = _setup(gpus=8)
    on = _setup(gpus=8, in_network_reduction=True)
    g_off, g_on = off.group(8, 1), on.group(8, 1)
    assert g_off.nvls_bandwidth == 0 and g_on.nvls_bandwidth == pytest.approx(450e9 * 1.07)
    t_off = nccl_allreduce_time(m, 8, 8, 2e-6, 2e-6, float(g_off.bus_bandwidth), g_off.nvls_bandwidth)
    t_on = nccl_allreduce_time(m, 8, 8, 2e-6, 2e-6, float(g_on.bus_bandwidth), g_on.nvls_bandwidth)
    # 1 GB: ring 14/8 x 1e9 / 369e9 = 4.74 ms; NVLS 25 us + 14/8 x 1e9 / 481.5e9 = 3.66 ms
    assert t_on == pytest.approx(25e-6 + 1.75 * 1e9 / (450e9 * 1.07))
    assert t_on < t_off
    a100 = Setup(get_model("llama3_8b"), build_cluster("a100", 8, 8, "nvlink3", "ib_hdr"), 4096,
                 in_network_reduction=True)
    assert a100.group(8, 1).nvls_bandwidth == 0


def test_textbook_mode_keeps_the_flat_ring_of_the_lab_texts():
    from explorer.cost import time as tm

    nccl, book = _setup(), _setup(collectives="textbook")
    # 128 ranks on 16 nodes, 1 GB: the textbook ring runs at one NIC (47 GB/s) and pays 254 x 5 us
    assert float(tm.allreduce(book, 1e9, 128)) == pytest.approx(254 * 5e-6 + 254 / 128 * 1e9 / 47e9)
    assert float(tm.allreduce(nccl, 1e9, 128)) < float(tm.allreduce(book, 1e9, 128))


def test_tree_chain_is_the_busiest_nodes_so_one_more_rank_never_speeds_the_call():
    """The tree's intra-node chain runs through every rank of its node; on 9 ranks in nodes of 8 the full node's
    chain has 7 hops (tuning.cc's mean nRanks/nNodes = 4.5 would give 3.5 and make 9 ranks faster than 8).
    Hand derivation, 1 kB (bandwidth term 2 x 1e3 / (0.92 x 50e9) = 0.0435 us):
      8 ranks, 1 node:  8.4 + 2 (7 x 2 + 0 x 5) = 36.4 us
      9 ranks, 2 nodes: 8.4 + 2 (7 x 2 + 1 x 5) = 46.4 us."""
    ai, ae, bw = 2e-6, 5e-6, 50e9
    band = 2 * 1e3 / (0.92 * bw)
    assert nccl_tree_allreduce_time(1e3, 8, 8, ai, ae, bw) == pytest.approx(36.4e-6 + band)
    assert nccl_tree_allreduce_time(1e3, 9, 8, ai, ae, bw) == pytest.approx(46.4e-6 + band)
    for m in (1e3, 25e6):
        times = [nccl_allreduce_time(m, n, 8, ai, ae, bw) for n in range(2, 200)]
        assert all(b >= a - 1e-12 for a, b in zip(times, times[1:]))
