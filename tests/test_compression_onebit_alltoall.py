"""1-bit Adam's compressed all-reduce is DeepSpeed's all-to-all of the sign chunks then an all-gather of the servers'
re-compressed chunks (deepspeed/runtime/comm/nccl.py NcclBackend.compressed_allreduce: dist.all_to_all_single, then
dist.all_gather). Same bytes per worker as a ring all-reduce, a different path: the all-to-all sends each block to
its owner, so every GPU pushes its off-node blocks through its own NIC, where a ring over rails spreads 2 M / k
over the k NICs of a node."""

from __future__ import annotations

import pytest

from explorer.cost.collectives import NCCL_BASE_LATENCY_S, all_to_all_time
from explorer.cost.time import all_gather, all_to_all, allreduce
from explorer.puzzles import compression as cp
from explorer.puzzles.collective_scenario import get_scenario


def test_nccl_all_to_all_by_hand_on_the_cloud_cluster():
    sc = get_scenario("cloud")
    c = sc.setup.cluster
    n, k, m = sc.devices, c.devices_per_node, 1.0e9
    assert (n, k) == (128, 8)
    # per GPU: (k-1)/n M over NVLink, (n-k)/n M = 120/128 GB through its own NIC; both at once, the NIC's is longer
    nic, nvl = c.inter.effective_bandwidth, c.intra.effective_bandwidth
    expected = NCCL_BASE_LATENCY_S + c.inter.latency_s + max(7 / 128 * m / nvl, 120 / 128 * m / nic)
    assert all_to_all(sc.setup, m, n) == pytest.approx(expected, rel=1e-9)
    # a ring all-reduce of the same M over rails puts 2 (127/128) M / 8 = 0.248 M on each NIC: the all-to-all's
    # 0.9375 M is 3.78x that, so it takes at least 3x as long (latencies aside)
    assert all_to_all(sc.setup, m, n) > 3.0 * allreduce(sc.setup, m, n)


def test_one_nic_per_node_is_shared_by_the_nodes_gpus():
    """10 GbE, one NIC per node (links.toml shared_per_node): the node's 8 GPUs send 8 x 120/128 M through it."""
    sc = get_scenario("cloud")
    setup = cp._setup_on(sc, "eth_10g")
    c = setup.cluster
    assert c.inter.shared_per_node
    m = 1.0e8
    expected = NCCL_BASE_LATENCY_S + c.inter.latency_s + 8 * (120 / 128) * m / c.inter.effective_bandwidth
    assert all_to_all(setup, m, 128) == pytest.approx(expected, rel=1e-9)


def test_textbook_pairwise_exchange():
    # Thakur et al. 2005: (p - 1) alpha + (p - 1)/p M/B; 4 devices, 1 ms, 1 MB at 1 MB/s: 3 ms + 0.75 s
    assert all_to_all_time(1e6, 4, 1e-3, 1e6) == pytest.approx(0.753)
    assert all_to_all_time(1e6, 4, 1e-3, 1e6, half_duplex=True) == pytest.approx(0.003 + 1.5)
    assert all_to_all_time(1e6, 1, 1e-3, 1e6) == 0.0


def test_the_compression_puzzle_prices_one_bit_as_all_to_all_plus_all_gather():
    sc = get_scenario("cloud")
    costs = cp.step_times(sc, 0.01)
    one = costs["onebit"]
    assert one["collective"] == "all-to-all + all-gather"
    m = one["bytes"]
    assert one["sync_s"] == pytest.approx(all_to_all(sc.setup, m, sc.devices) + all_gather(sc.setup, m, sc.devices))
    # and no longer the all-reduce of the compressed message (what it was priced as before: 6.0 ms vs 23 ms)
    assert one["sync_s"] > 2.0 * allreduce(sc.setup, m, sc.devices)
