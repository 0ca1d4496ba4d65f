"""Top-k sparsification is synchronised by an all-gather, not an all-reduce: every worker keeps a different index
set, so the (value, index) pairs are gathered (DGC's code: horovod allgather of values and indices; PyTorch's sparse
all-reduce: allgather of indices and values) and each worker receives the other N-1 workers' k pairs. The old model
priced top-k as an all-reduce of a 0.64-bit-per-element message (50x less than FP32 at any N). Hand derivations below.
"""

import pytest

from explorer.cost import collectives as col
from explorer.cost import compression as cc
from explorer.puzzles import compression
from explorer.puzzles.collective_scenario import get_scenario

P_8B = 8.03e9  # Llama-3-8B parameters (Llama 3 Herd of Models, Table 3), the cloud track's model


def test_received_bytes_at_128_gpus_by_hand():
    # N = 128, P = 8.03e9, k = 1% of P = 8.03e7 pairs of (FP32 value, int32 index) = 8 B: one message 6.424e8 B.
    # All-gather: each worker receives the other 127 messages: 127 x 6.424e8 = 81.5848e9 B.
    # Dense BF16 ring all-reduce of M = 2 P = 16.06e9 B: 2 x 127/128 x 16.06e9 = 1.984375 x 16.06e9 = 31.8690625e9 B.
    # Ratio: (N-1) 8 f P / (2 (N-1)/N 2 P) = 2 f N = 2 x 0.01 x 128 = 2.56 (= N / the crossover N of 50).
    assert cc.topk_message_bytes(P_8B, 0.01) == pytest.approx(6.424e8)
    topk = cc.topk_received_bytes_per_worker(P_8B, 0.01, 128)
    dense = col.ring_allreduce_bytes_per_device(2 * P_8B, 128)
    assert topk == pytest.approx(81.5848e9)
    assert dense == pytest.approx(31.8690625e9)
    assert topk / dense == pytest.approx(2.56)  # 2.56x MORE than the dense 16-bit all-reduce, not 25x less
    assert cc.received_bytes_per_worker("topk", P_8B, 128, 0.01) == pytest.approx(81.5848e9)
    assert cc.received_bytes_per_worker("fp16", P_8B, 128) == pytest.approx(31.8690625e9)
    # 1-bit: all-to-all + all-gather of sign chunks moves the all-reduce volume, 2 (N-1)/N x P/8 (+ the scale)
    assert cc.received_bytes_per_worker("onebit", P_8B, 128) == pytest.approx(2 * 127 / 128 * P_8B / 8, rel=1e-4)
    # the all-gather's M (all N messages) is what collectives' all-gather takes: 128 x 6.424e8 B
    assert cc.topk_allgather_bytes(P_8B, 0.01, 128) == pytest.approx(128 * 6.424e8)


def test_crossover_workers_by_hand():
    # (N-1) f P 8 = 2 (N-1)/N b P  <=>  N = 2 b / (8 f): b = 2 (16-bit), f = 0.01 -> N = 50; b = 4 (FP32) -> 100
    assert cc.topk_dense_crossover_workers(0.01, 2) == pytest.approx(50.0)
    assert cc.topk_dense_crossover_workers(0.01, 4) == pytest.approx(100.0)
    p = 1e6
    # at N = 50: 49 x 0.08 P = 3.92 P against 2 x 49/50 x 2 P = 3.92 P; one worker either side tips it
    assert cc.topk_received_bytes_per_worker(p, 0.01, 50) == pytest.approx(3.92 * p)
    assert col.ring_allreduce_bytes_per_device(2 * p, 50) == pytest.approx(3.92 * p)
    assert cc.topk_received_bytes_per_worker(p, 0.01, 49) < col.ring_allreduce_bytes_per_device(2 * p, 49)
    assert cc.topk_received_bytes_per_worker(p, 0.01, 51) > col.ring_allreduce_bytes_per_device(2 * p, 51)


def test_textbook_allgather_time_by_hand():
    # ring all-gather of N messages of 8 k B: (N-1) (alpha + 8 k / B). N = 10, P = 1e8, k = 1e6 pairs, alpha 30 ms,
    # B = 4.375e6 B/s: 9 x (0.03 + 8e6 / 4.375e6) = 9 x 1.858571 = 16.727 s
    t = cc.topk_allgather_time(1e8, 0.01, 10, 0.03, 4.375e6)
    assert t == pytest.approx(9 * (0.03 + 8e6 / 4.375e6))
    assert t == pytest.approx(16.7271, rel=1e-4)


def test_topk_kernel_bytes_scatter_the_gathered_pairs():
    # 4 passes of the radix select (16) + error read (4) + write (4) + gather pass (4) + zero the dense result (4)
    # = 32, then each of the N k gathered pairs: read 8 B, read and write its dense element 8 B: N = 128, f = 1%
    # -> 128 x 0.01 x 16 = 20.48 B per element
    assert cc.compression_bytes_per_element("topk", 128, topk_fraction=0.01) == pytest.approx(52.48)
    assert cc.compression_bytes_per_element("topk", 2, topk_fraction=0.01) == pytest.approx(32.32)


@pytest.fixture(scope="module")
def cloud():
    return compression.solve("cloud", steps=20)


def test_cloud_topk_sync_is_slower_than_dense(cloud):
    sc = get_scenario("cloud")
    assert sc.devices == 128 and sc.params == pytest.approx(P_8B, rel=1e-3)
    received = cloud.figure("received_bytes_topk")
    assert received == pytest.approx(127 * 0.01 * sc.params * 8)
    assert cloud.figure("received_bytes_native") == pytest.approx(2 * 127 / 128 * 2 * sc.params)
    # NCCL runs both as rings through the same rails bandwidth (the 16 GB all-reduce picks ring over tree, 1/0.92
    # slower), latencies are microseconds against tens of ms: the times stand as the received bytes, 2.56x
    t_topk, t_dense = cloud.figure("sync_time_topk_s"), cloud.figure("sync_time_native_s")
    assert t_topk > t_dense
    assert t_topk / t_dense == pytest.approx(2.56, rel=0.03)
    # the old figure: an all-reduce of the 0.64-bit message, 50x less than FP32 = 3.9 ms; now over 50x that
    assert t_topk > 0.15
    assert cloud.figure("topk_dense_crossover_workers") == pytest.approx(50.0)


def test_cloud_table_says_message_and_received(cloud):
    t = cloud.tables["schemes"]
    cols = t.columns
    assert "message bits/element (one worker)" in cols and "bytes received per worker per sync" in cols
    row = next(r for r in t.rows if r[0].startswith("top-k"))
    cell = dict(zip(cols, row))
    assert cell["message bits/element (one worker)"] == pytest.approx(0.64)
    assert cell["sync collective"] == "all-gather"
    # received vs the FP32 all-reduce: 2 x 127/128 x 4 P / (127 x 0.08 P) = 0.78125 (top-k moves MORE than FP32)
    assert cell["received ratio vs FP32 all-reduce"] == pytest.approx(0.78125)
    text = cloud.findings[0].answer
    assert "all-gathered" in text and "grows with N" in text and "more bytes" in text and "here N = 128" in text


def test_edge_topk_sync_by_hand():
    r = compression.solve("edge", steps=20)
    sc = get_scenario("edge")
    p = sc.params
    # 5G: alpha 30 ms, B = 0.05e9/8 x 0.7 = 4.375e6 B/s, N = 10 (the ring sc.dp_sync_time uses)
    assert sc.crossover_n == 10
    assert sc.crossover_link.effective_bandwidth == pytest.approx(4.375e6)
    # 5G is TDD (links.toml duplex = "half"): each ring step's send and receive take turns, so the bandwidth
    # terms are twice the full-duplex ones (all-gather step: send k x 8 B, receive k x 8 B)
    topk = 9 * (0.03 + 2 * 0.01 * p * 8 / 4.375e6)
    dense = 2 * 9 * (0.03 + 2 * (2 * p / 10) / 4.375e6)
    assert r.figure("sync_time_topk_s") == pytest.approx(topk, rel=1e-9)
    assert r.figure("sync_time_native_s") == pytest.approx(dense, rel=1e-9)
    # below N = 50 top-k still receives less: 9 x 0.08 P = 0.72 P vs 3.6 P, 5x fewer bytes
    assert r.figure("received_bytes_native") / r.figure("received_bytes_topk") == pytest.approx(5.0)
    assert r.figure("sync_time_topk_s") < r.figure("sync_time_native_s")
    text = " ".join(f.answer for f in r.findings)
    assert "here N = 10, below it" in text


def test_tiny_fp32_topk_half_the_bytes():
    # N = 50 earbuds, FP32 gradients: 49 x 0.08 P = 3.92 P vs 2 x 49/50 x 4 P = 7.84 P: exactly half; crossover 100
    r = compression.solve("tiny", steps=20)
    assert r.figure("received_bytes_native") == pytest.approx(2 * r.figure("received_bytes_topk"))
    assert r.figure("topk_dense_crossover_workers") == pytest.approx(100.0)


def test_two_steps_run_with_the_default_warm_up_and_a_given_one_is_checked_against_the_steps():
    """--steps 2 was refused for a warm-up the user never gave: the default round(0.1 x 2) = 0 fell outside 1..1.
    The default now stays inside 1..steps-1; a warm-up the user gives is still refused outside it, naming the steps."""
    from explorer.errors import UsageError
    from explorer.puzzles import compression

    rep = compression.solve("cloud", steps=2)
    assert rep.status == "computed"
    with pytest.raises(UsageError, match=r"warmup must be a whole number in 1\.\.9 \(fewer than the 10 steps"):
        compression.solve("cloud", steps=10, warmup=10)
