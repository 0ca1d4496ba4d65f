"""Groups that straddle a node boundary (review D, item 1) and TP overlap across nodes (item 3).

Megatron-LM numbers ranks TP innermost, so TP groups are aligned blocks of TP consecutive ranks. With 6 GPUs a
node and TP 4 the blocks are 0-3 | 4-7 | 8-11 ...: block 4-7 has ranks 4, 5 in node 0 and 6, 7 in node 1, so its
collectives cross the network, and the slowest TP group paces every step. Node boundaries fall at 6, 12, 18...:
12 is aligned with a block (12 = 3 x 4), 6 and 18 are not, so the split blocks alternate with whole ones and each
node's one Ethernet NIC carries one straddling group, with 2 of its members in each of its two nodes. That is
exactly what a node of 2 GPUs gives every TP 4 group (2 members a node, one group per NIC): the TP time must be
the same, and far above 8 GPUs a node, where every block is inside a node."""

from __future__ import annotations

import numpy as np
import pytest

import explorer

PLAN = dict(model="llama3_8b", gpus=96, global_batch=96, network="eth_100g", tp=4, micro_batch=1, zero=1,
            tp_comm_overlap=False)


def _tp(gpus_per_node: int) -> float:
    return explorer.estimate(gpus_per_node=gpus_per_node, **PLAN).time_s["tp_comm"]


def test_within_nodes_is_divisibility():
    setup = explorer.estimate(gpus_per_node=6, **PLAN).setup
    assert setup.within_nodes(np.array([1, 2, 3, 6])).all()        # divide 6: every block inside a node
    assert not setup.within_nodes(np.array([4, 5, 12])).any()       # 4, 5 straddle; 12 spans two nodes


def test_a_straddling_tp_group_crosses_the_network():
    straddling, split, aligned = _tp(6), _tp(2), _tp(8)
    assert straddling == pytest.approx(split, rel=1e-9)   # 2 members a node, one group per NIC, both ways
    assert straddling > 10 * aligned                      # 100 Gb Ethernet against NVLink


def test_the_3d_search_keeps_tp_groups_inside_nodes():
    r = explorer.solve("3d", model="llama3_8b", gpus=96, global_batch=96, gpus_per_node=6, network="eth_100g")
    assert r.status == "optimal"
    cfg = r.extra["configuration"]
    assert 6 % cfg["tp"] == 0          # at HEAD before this fix: TP=4 'proven optimal', priced as inside a node


def test_tp_overlap_needs_the_group_inside_a_node():
    """Transformer Engine's Userbuffers (and PyTorch's async TP) overlap TP only inside a node (NVIDIA/
    TransformerEngine issue #1071): TP 16 on 8-GPU nodes exposes the same TP time with the overlap on or off."""
    on = explorer.estimate(model="gpt3_175b", gpus=256, tp=16, pp=4, micro_batch=1, zero=1, tp_comm_overlap=True)
    off = explorer.estimate(model="gpt3_175b", gpus=256, tp=16, pp=4, micro_batch=1, zero=1, tp_comm_overlap=False)
    assert on.time_s["tp_comm"] == pytest.approx(off.time_s["tp_comm"], rel=1e-12)
    inside_on = explorer.estimate(model="gpt3_175b", gpus=256, tp=8, pp=8, micro_batch=1, zero=1,
                                  tp_comm_overlap=True)
    inside_off = explorer.estimate(model="gpt3_175b", gpus=256, tp=8, pp=8, micro_batch=1, zero=1,
                                   tp_comm_overlap=False)
    assert inside_on.time_s["tp_comm"] < inside_off.time_s["tp_comm"]  # inside a node the overlap still hides


def test_the_estimate_says_its_tp_groups_straddle_nodes():
    text = " ".join(a.text for a in explorer.estimate(gpus_per_node=6, **PLAN).notes)
    assert "TP = 4 does not divide the node's 6 GPUs" in text and "ranks 4-7 span two nodes" in text
    aligned = " ".join(a.text for a in explorer.estimate(gpus_per_node=8, **PLAN).notes)
    assert "does not divide" not in aligned
