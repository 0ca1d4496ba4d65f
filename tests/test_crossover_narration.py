"""Lab 06 part 1 (crossover), cloud: the words of 'Ring is saturated: does tree cut the alpha term?' agree with the
figures printed beside them, on the defaults and on overrides (N, M, B, alpha).

Cloud scenario: IB NDR per GPU, alpha = 5 us, B = 400 Gb/s / 8 x 0.94 = 47e9 B/s, N = 16 nodes, M = 25 MB DDP bucket,
full gradient Llama-3-8B in bf16 = 16,060,522,496 B; NCCL runs on DGX H100 nodes (8 GPUs, NVLink 4 at 450 GB/s x
0.82 = 369 GB/s, 8 NDR NICs); tuning.cc base latency 8.4 us, NVLink step 2 us, tree bandwidth factor 0.92.
"""

import pytest
from click.testing import CliRunner

from explorer.puzzles import crossover
from explorer.puzzles.collective_scenario import get_scenario

G = 16_060_522_496  # full gradient, bytes
Q = "Ring is saturated"


def _answer(r) -> str:
    return " ".join(next(f.answer for f in r.findings if f.question.startswith(Q)).split())


def test_defaults_past_mstar_and_bandwidth_term_larger():
    r = crossover.solve("cloud")
    text = _answer(r)
    # M* = 844,081.6 B (test_lab06_crossover); 25e6 / 844,081.6 = 29.62 -> '29.6x M* = 844 kB (past it)'
    assert "29.6x M* = 844 kB (past it)" in text
    # ring: alpha term 2 x 15 x 5 us = 150 us; bandwidth term 2 x 15/16 x 25e6 / 47e9 = 997.3 us -> the larger
    assert "ring's bandwidth term 2(N-1)/N M/B = 997 us outweighs its alpha term (150 us)" in text
    # tree 2 x 4 x (5 us + 25e6/47e9 = 531.9 us) = 4.295 ms > ring 1.147 ms
    assert r.figure("ring_time_s") == pytest.approx(1.1473e-3, rel=1e-3)
    assert r.figure("tree_time_s") == pytest.approx(4.2955e-3, rel=1e-3)
    assert "ring is faster" in text
    assert "keeps ring's bandwidth term" not in text


def test_n1000_is_below_mstar_and_alpha_term_larger():
    r = crossover.solve("cloud", n=1000)
    text = _answer(r)
    # L = ceil(log2 1000) = 10; M* = alpha B (N-1-L)/(L-(N-1)/N) = 235,000 x 989 / (10 - 0.999)
    #    = 232,415,000 / 9.001 = 25,821,020 B
    assert r.figure("crossover_closed_form_bytes") == pytest.approx(25_821_020, rel=1e-6)
    # M / M* = 25e6 / 25.821e6 = 0.968: below M*, so tree wins
    assert "0.968x M* = 25.8 MB (below it)" in text and "past" not in text.split("For the full")[0]
    # ring: alpha term 2 x 999 x 5 us = 9.99 ms, bandwidth term 2 x 999/1000 x 25e6/47e9 = 1.063 ms -> alpha larger
    assert "ring's alpha term (9.99 ms) outweighs its bandwidth term 2(N-1)/N M/B = 1.06 ms" in text
    assert "bandwidth term dominates" not in text and "bandwidth term 2(N-1)/N M/B = 1.06 ms outweighs" not in text
    # ring 9.99 + 1.063 = 11.05 ms; tree 2 x 10 x (5 + 531.9) us = 10.74 ms: tree is faster
    assert r.figure("ring_time_s") == pytest.approx(11.053e-3, rel=1e-3)
    assert r.figure("tree_time_s") == pytest.approx(10.738e-3, rel=1e-3)
    assert "ring takes 11.1 ms and the textbook tree 10.7 ms: tree is faster" in text


def test_small_message_below_mstar():
    r = crossover.solve("cloud", message_bytes=1e5)  # --message-mb 0.1
    text = _answer(r)
    # 1e5 / 844,081.6 = 0.1185 -> below; ring 150 us + 2 x 15/16 x 1e5/47e9 = 3.99 us; tree 8 x (5 + 2.128) = 57.0 us
    assert "0.118x M* = 844 kB (below it)" in text
    assert "ring's alpha term (150 us) outweighs its bandwidth term 2(N-1)/N M/B = 3.99 us" in text
    assert "tree is faster" in text and "0x past" not in text and "bandwidth term dominates" not in text
    assert r.figure("tree_time_s") == pytest.approx(57.02e-6, rel=1e-3)


def test_past_mstar_while_alpha_term_is_still_larger():
    # M = 2 MB: past M* (2e6 / 844,081.6 = 2.37x) but below N alpha B = 3.76 MB, where ring's two terms are equal:
    # alpha term 150 us > bandwidth term 2 x 15/16 x 2e6/47e9 = 79.8 us; ring 229.8 us, tree 8 x (5 + 42.55) = 380 us
    r = crossover.solve("cloud", message_bytes=2e6)
    text = _answer(r)
    assert "2.37x M* = 844 kB (past it)" in text
    assert "ring's alpha term (150 us) outweighs its bandwidth term 2(N-1)/N M/B = 79.8 us" in text
    assert "ring is faster" in text and "Past M* ring wins even while its alpha term is the larger" in text


def test_no_crossover_at_n3_one_byte():
    r = crossover.solve("cloud", n=3, message_bytes=1.0)  # -n 3 --message-mb 0.000001
    text = _answer(r)
    # N = 3: L = 2 = N - 1, no M*; ring 2 x 2 x 5 us = 20 us + 4/3 B / 47e9, tree 2 x 2 x (5 us + 1/47e9): both 20 us
    assert "At N = 3 there is no M*" in text and "past" not in text.split("For the full")[0]
    assert "ring's alpha term (20 us) outweighs" in text and "the same to three digits" in text
    assert "bandwidth term dominates" not in text


def test_double_binary_tree_bandwidth_term_is_not_rings_at_small_n():
    r = crossover.solve("cloud", n=3)
    text = _answer(r)
    # DBT floor 2 M/B = 2 x 16.0605e9 / 47e9 = 683.4 ms; ring 2 x 2/3 x M/B = 455.6 ms; ratio N/(N-1) = 1.5
    assert "keeps ring's bandwidth term" not in text
    assert "2 M/B = 683 ms against ring's 2(N-1)/N M/B = 456 ms (N/(N-1) = 3/2 = 1.5x ring's" in text
    # the DBT at N = 3 (689 ms) is slower than ring (456 ms), as the words now allow
    assert r.data["crossover"]["n"] == 3
    text16 = _answer(crossover.solve("cloud"))
    assert "(N/(N-1) = 16/15 = 1.067x ring's: equal only as N grows)" in text16


def test_nccl_on_the_users_n_not_the_fixed_128_gpus():
    r = crossover.solve("cloud", n=1000)
    text = _answer(r)
    # NCCL on 1,000 DGX H100 nodes = 8,000 GPUs; bus = min(369, 8 x 47 = 376) = 369 GB/s.
    # ring: 8.4 us + (2 x 7999 - 2 x 999) x 2 us + 2 x 999 x 5 us + 2 x 7999/8000 x G / 369e9
    #     = 8.4 us + 28 ms + 9.99 ms + 87.03 ms = 125.0 ms
    # tree: 8.4 us + 2 (7 x 2 us + floor(log2 1000) = 9 x 5 us) + 2 G / (0.92 x 369e9) = 126.4 us + 94.62 ms
    #     = 94.745 ms -> NCCL picks the tree
    ring = 8.4e-6 + (2 * 7999 - 2 * 999) * 2e-6 + 2 * 999 * 5e-6 + 2 * 7999 / 8000 * G / 369e9
    tree = 8.4e-6 + 2 * (7 * 2e-6 + 9 * 5e-6) + 2 * G / (0.92 * 369e9)
    assert tree < ring
    assert r.figure("nccl_full_gradient_s") == pytest.approx(tree, rel=1e-9)
    label = r.figures["nccl_full_gradient_s"].label
    assert "8,000 GPUs" in label and "128" not in label
    assert "N = 1,000 of the track's nodes" in text and "8,000 GPUs" in text
    assert "over all 128 GPUs" not in text and "it picks its double binary tree" in text
    # textbook: 2 x 999 x 5 us + 2 x 999/1000 x G / 47e9 = 9.99 ms + 682.73 ms = 692.72 ms; 692.72 / 94.745 = 7.31x
    assert r.figure("ring_full_gradient_s") == pytest.approx(2 * 999 * 5e-6 + 2 * 999 / 1000 * G / 47e9, rel=1e-9)
    assert "is 7.31x that" in text


def test_nccl_at_the_tracks_n_is_hierarchys_sync():
    r = crossover.solve("cloud", n=16)
    assert r.figure("nccl_full_gradient_s") == pytest.approx(get_scenario("cloud").dp_sync_time(G), rel=1e-12)
    assert "hierarchy's and compression's sync" in r.figures["nccl_full_gradient_s"].label


def test_nccl_not_compared_when_bandwidth_is_not_the_clusters():
    r = crossover.solve("cloud", bandwidth_bps=5e12)  # --bandwidth-gbs 5000
    text = _answer(r)
    # textbook ring at 5 TB/s: 150 us + 2 x 15/16 x G / 5e12 = 6.17 ms; NCCL on the track's 47 GB/s NICs: 87 ms.
    # 6.17 / 87 = 0.071 is not a like-for-like ratio, so none is printed and no 'rails make the difference'
    assert r.figure("ring_full_gradient_s") == pytest.approx(150e-6 + 2 * 15 / 16 * G / 5e12, rel=1e-9)
    assert "x that" not in text and "make the difference" not in text
    assert "not like-for-like" in text and "not the B = 5 TB/s given here" in text
    assert "not the alpha/B given" in r.figures["nccl_full_gradient_s"].label
    assert any("overridden here: B = 5 TB/s" in a.text for a in r.assumptions)
    # 25e6 / M*: M* = 5e-6 x 5e12 x 11 / 3.0625 = 89.8 MB -> below M*, tree faster (80 us vs 159 us)
    assert "(below it)" in text and "tree is faster" in text


def test_alpha_override_also_drops_the_ratio():
    text = _answer(crossover.solve("cloud", alpha_s=50e-6))
    assert "x that" not in text and "not the alpha = 50 us given here" in text


def test_cli_n1000_words():
    from explorer.cli import main

    out = " ".join(CliRunner().invoke(main, ["solve", "crossover", "--track", "cloud", "-n", "1000"]).output.split())
    assert "(below it)" in out and "1x past M*" not in out and "over all 128 GPUs" not in out


def test_edge_bucket_words_follow_the_terms():
    # edge: 5G uplink alpha 30 ms, N = 10; at 10 KB ring's alpha term 2 x 9 x 30 ms = 540 ms outweighs its bandwidth
    # term 2 x 9/10 x 1e4 / 4.375e6 = 4.11 ms
    r = crossover.solve("edge", message_bytes=1e4)
    text = " ".join(" ".join(f.answer for f in r.findings).split())
    assert "bandwidth term dominates" not in text
    assert "ring's alpha term (540 ms) outweighs its bandwidth term 2(N-1)/N M/B = 4.11 ms" in text


def test_edge_figure_labels_name_no_m_star_when_there_is_none():
    """At N = 3 ring is never slower than the textbook tree (N - 1 <= ceil(log2 N)), so there is no M*: the labels of
    the small-message figures must name the size used, not 'M*/10'."""
    from _explore import explore

    code, out, _ = explore("solve", "crossover", "--track", "edge", "-n", "3")
    assert code == 0
    assert "at M*/10" not in out and "ring p99 at 1 B (no M* at N = 3)" in " ".join(out.split())
    code, out, _ = explore("solve", "crossover", "--track", "edge")
    assert code == 0 and "ring p99 at M*/10" in out
