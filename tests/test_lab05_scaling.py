"""Lab 05 part 1 (the communication wall): checked against hand derivations of the ring all-reduce
(docs/conventions.md 'Collectives') and of the speedup definitions ('Scaling')."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from explorer.models.catalog import get_model

from explorer.errors import UsageError
from explorer.puzzles import scaling
from explorer.report import Report

# Llama-3-8B: 8,030,261,248 parameters (Meta, arXiv 2407.21783 Table 3: 8.03B; derived from the shape).
P_8B = 8_030_261_248
M_GRAD = 2 * P_8B  # bf16 gradients: 16,060,522,496 B
BUCKETS = math.ceil(M_GRAD / 25e6)  # 642.4 -> 643 buckets of 25 MB (PyTorch DDP default)


def test_llama3_8b_parameter_count_is_the_published_one():
    assert get_model("llama3_8b").params == P_8B
    assert BUCKETS == 643


def _textbook():
    from dataclasses import replace

    return replace(scaling.scenario("cloud"), collectives="textbook")


def test_ring_allreduce_over_infiniband_by_hand():
    # The lab text's flat ring (textbook collectives), kept for the lab's formula:
    # NDR 400 Gb/s = 50e9 B/s line rate x 0.94 achievable = 47e9 B/s; alpha 5 us; N = 64 (8 nodes).
    # alpha part: 2 (N-1) alpha K = 2 x 63 x 5e-6 x 643 = 0.405090 s
    # M/B part:   2 (N-1)/N M / B = 126/64 x 16.0605e9 / 47e9 = 1.96875 x 0.3417133 = 0.6727481 s
    sc = _textbook()
    b = scaling.breakdown(sc, "ib_ndr", 8, 64)[64]
    assert b["dp_latency"] == pytest.approx(2 * 63 * 5e-6 * 643, rel=1e-9)
    assert b["dp_latency"] == pytest.approx(0.405090, rel=1e-6)
    assert b["dp_bandwidth"] == pytest.approx(1.96875 * M_GRAD / 47e9, rel=1e-9)
    assert b["dp_bandwidth"] == pytest.approx(0.6727481, rel=1e-6)
    assert b["dp_total"] == pytest.approx(0.405090 + 0.6727481, rel=1e-6)


def test_ring_allreduce_over_shared_10g_ethernet_by_hand():
    # 10 GbE per node = 1.25e9 B/s x 0.90 = 1.125e9 B/s. A flat data-parallel ring of consecutive
    # ranks (8 per node) leaves each node over one edge, so the ring runs at the whole NIC's rate.
    # M/B part at N = 64: 1.96875 x 16.0605e9 / 1.125e9 = 28.106 s; alpha: 2 x 63 x 50e-6 x 643 = 4.0509 s
    b = scaling.breakdown(_textbook(), "eth_10g", 8, 64)[64]
    assert b["dp_bandwidth"] == pytest.approx(28.1059, rel=1e-4)
    assert b["dp_latency"] == pytest.approx(4.0509, rel=1e-4)


def test_nccl_sync_over_infiniband_by_hand():
    # As NCCL and Megatron-LM run it (the cloud scenario): ZeRO-1 = per bucket of max(40M, 1M x 64) = 64M
    # parameters (ceil(8.03e9 / 64e6) = 126 calls), a reduce-scatter of FP32 gradients and an all-gather of bf16
    # weights. 64 GPUs in 8 nodes with a NIC each: bus bandwidth min(NVLink 450e9 x 0.82 = 369e9, 8 x 47e9) =
    # 369e9 B/s; latency per call 8.4 us + (63 - 7) x 2 us + 7 x 5 us = 155.4 us.
    sc = scaling.scenario("cloud")
    assert sc.collectives == "nccl"
    b = scaling.breakdown(sc, "ib_ndr", 8, 64)[64]
    calls = math.ceil(P_8B / 64e6)
    per = P_8B / calls
    lat = 8.4e-6 + (63 - 7) * 2e-6 + 7 * 5e-6
    rs = lat + 63 / 64 * per * 4 / 369e9
    ag = lat + 63 / 64 * per * 2 / 369e9
    assert b["dp_total"] == pytest.approx(calls * (rs + ag), rel=1e-6)
    # all of it hides behind the backward pass but the last bucket's reduce-scatter (the first layers' gradients
    # are ready only when the backward ends: Megatron-Core param_and_grad_buffer.py) and the first bucket's
    # all-gather the next forward waits for: rs + ag = 2 x 155.4 us + 63/64 x 63.7e6 x 6 B / 369e9 = 1.33 ms.
    # The hidden rest slows the backward and forward it runs under by 18.9 % of itself (Lee et al., arXiv
    # 2507.03114; Efficiency.overlap_interference): 0.189 x (167.7 - 1.33) ms = 31.4 ms.
    assert 1.2e-3 < rs + ag < 1.45e-3
    assert b["dp_exposed"] == pytest.approx(rs + ag + 0.189 * (calls * (rs + ag) - (rs + ag)), rel=1e-6)
    assert 0.030 < b["dp_exposed"] < 0.034
    r = scaling.solve("cloud", fabric="ib_ndr")
    assert r.figure("speedup_8_to_64_ib_ndr") == pytest.approx(8.0, rel=0.01)
    # the exposed bucket grows with DP (Megatron's bucket is max(40M, 1M x DP) parameters), but returns diminish
    # only beyond the track's 1,024 GPUs
    assert r.figures.get("n_diminishing_ib_ndr") is None or r.figure("n_diminishing_ib_ndr") > 1024


def test_ten_gig_ethernet_is_the_wall():
    # One 10 GbE NIC per node: 8 -> 64 GPUs puts the 16 GB gradient sync on it (2 x 16e9 B / 1.125e9 B/s ~ 28 s
    # against ~5 s of compute): the step grows ~8x and the throughput barely moves.
    r = scaling.solve("cloud", fabric="eth_10g")
    gain = r.figure("speedup_8_to_64_eth_10g")
    assert gain < 2.0 and r.findings[0].answer.startswith("No")
    assert ("(slower)" in r.headline) == (gain < 1.0)
    assert r.figure("n_diminishing_eth_10g") == 8  # the node boundary


def test_strong_scaling_by_hand():
    # The 4M-token batch (1,024 sequences) on N GPUs: S(N) = t(1)/t(N), eta = S/N.
    sc = scaling.scenario("cloud")
    st = scaling.strong_curve(sc, "ib_ndr", 1024, 1024)
    assert list(st["n"]) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    k = list(st["n"]).index(64)
    assert st["speedup"][k] == pytest.approx(st["step_time"][0] / st["step_time"][k])
    assert st["efficiency"][k] == pytest.approx(st["speedup"][k] / 64)
    assert st["samples_per_device"][-1] == 1
    eth = scaling.strong_curve(sc, "eth_10g", 1024, 1024)
    assert eth["efficiency"][-1] < 0.05 < st["efficiency"][-1]


def test_critical_batch_warning_by_hand():
    # Kaplan et al. 2020 eq. 1.4 at 2.0 nats: B_crit = 2e8 / 2^(1/0.21) tokens = 7.36e6 tokens = 1,797 sequences of
    # 4,096; weak scaling (16 per GPU) passes it at N = 1,797 / 16 = 112; the time to the loss can shrink by at
    # most 1 + B_crit / 16 = 113x however many GPUs are added.
    sc = scaling.scenario("cloud")
    bc = 2e8 / 2.0 ** (1 / 0.21) / 4096
    assert sc.b_crit == pytest.approx(bc)
    r = scaling.solve("cloud")
    # the first whole N whose batch N x 16 exceeds B_crit: floor(1,799.7 / 16) + 1 = 113 (112 x 16 = 1,792 < B_crit)
    assert r.figure("critical_batch_devices") == math.floor(bc / 16) + 1 == 113
    q = r.figure("quality_speedup_1024_ib_ndr")
    c = scaling.curve(sc, "ib_ndr", 0.5, 1024, 1024)
    s1024 = c.speedup[1023]  # samples/s over one GPU
    # Q = S(N) / N x (1 + B_crit/16) / (1 + B_crit/(16 N)): ten times less than the samples/s speedup here
    assert q == pytest.approx(s1024 / 1024 * (1 + bc / 16) / (1 + bc / (16 * 1024)), rel=1e-9)
    assert q < 1 + bc / 16 and q < s1024 / 9
    assert "Warning" in r.headline


@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_every_track_answers_in_text_and_json(track):
    from explorer.reports.render import render

    r = scaling.solve(track)
    assert len(r.scenario["fabric"]) >= 2
    assert r.formulas and r.assumptions and r.findings
    d = json.loads(render(r, "json"))
    again = Report.from_dict(d)
    assert again.headline == r.headline
    assert "scaling_efficiency" in r.plots and r.data["scaling_efficiency"]["fabrics"]
    assert render(r, "text").startswith("Lab 05 part 1")


def test_fabric_option_accepts_repeats_and_commas():
    assert scaling.parse_fabrics(["eth_10g,ib", "roce"]) == ["eth_10g", "ib_ndr", "roce_400g"]


@pytest.mark.parametrize("kwargs, word", [({"fabric": "token-ring"}, "fabric"), ({"max_devices": 0}, "0"),
                                          ({"threshold": 0}, "threshold"), ({"n_from": 64, "n_to": 8}, "--to")])
def test_bad_inputs_are_one_line_usage_errors(kwargs, word):
    with pytest.raises(UsageError) as e:
        scaling.solve("cloud", **kwargs)
    assert word in str(e.value) and "\n" not in str(e.value)


def test_attempt_is_scored_against_the_diminishing_returns_rule():
    ok = scaling.evaluate_attempt({"fabric": "ib_ndr", "devices": "64"}, "cloud")
    bad = scaling.evaluate_attempt({"fabric": "eth_10g", "devices": "64"}, "cloud")
    assert ok["feasible"] and not bad["feasible"]
    assert ok["objective"] > bad["objective"]


def test_plot_draws():
    pytest.importorskip("matplotlib")
    from explorer.reports.plots import render_png

    png = render_png("scaling_efficiency", scaling.solve("edge"))
    assert png[:4] == b"\x89PNG"


def test_regimes_rule_by_hand():
    # marginals S(N+1) - S(N) for N = 1..12, threshold 0.5, regimes of at least w = 3 N:
    # above for N = 1..4, below for N = 5..12 but for one step at N = 8 -> diminishing from 5, for good from 5,
    # and N = 8 named as an isolated step (not 'recovers', not 'for good from 9')
    m = np.array([1, 1, 1, 1, .1, .1, .1, .9, .1, .1, .1, .1])
    assert scaling.regimes(m, 0.5, 3) == (5, 5, [8])
    # a real recovery: above again for N = 8..11 (4 >= 3 in a row) and still above at the end -> not for good
    m = np.array([1, 1, 1, 1, .1, .1, .1, .9, .9, .9, .9])
    assert scaling.regimes(m, 0.5, 3) == (5, None, [])
    # ... or below again from N = 12 for good: diminishing from 5, recovered over 8..11, for good from 12
    m = np.array([1, 1, 1, 1, .1, .1, .1, .9, .9, .9, .9, .1, .1, .1])
    assert scaling.regimes(m, 0.5, 3) == (5, 12, [])
    # a one-N dip in a curve that keeps up is not where returns diminish
    m = np.array([1, 1, 1, 1, .0, 1, 1, 1])
    assert scaling.regimes(m, 0.5, 3) == (None, None, [5])


def test_cloud_ethernet_diminishes_for_good_at_the_node_boundary():
    """On 10 GbE the marginal speedup is about 0.14 for every N from 9 to 20,000 but one: 4,015 -> 4,016 adds
    0.879x, because Megatron-Core's DDP buckets of max(40M, 1M x DP) parameters (distributed_data_parallel.py)
    go from ceil(8.03e9 / 4.015e9) = 3 to ceil(8.03e9 / 4.016e9) = 2 there: one all-reduce call fewer, one
    call's latency less, a single step in S(N). The report said 'for good from 4,016' and 'Past that first dip
    the marginal speedup recovers' before."""
    sc = scaling.scenario("cloud")
    p = get_model(sc.model_key).params
    assert math.ceil(p / 4_015e6) == 3 and math.ceil(p / 4_016e6) == 2
    c = scaling.curve(sc, "eth_10g", 0.5, 1024, 20_000)
    assert c.marginal[4014] > 0.5 and (c.marginal[8:4014] < 0.5).all() and (c.marginal[4015:] < 0.5).all()
    assert (c.n_diminishing, c.n_sustained, c.isolated) == (8, 8, [4015])
    r = scaling.solve("cloud")
    dr = next(f.answer for f in r.findings if "diminish" in f.question and "Ethernet" in f.question)
    # the step the narration quotes is the curve's own (0.879x with FlashAttention-2, 0.814x with cuDNN's kernel)
    assert "recovers" not in dr and "for good" not in r.headline
    assert f"4,015 -> 4,016 adds +{c.marginal[4014]:.3g}x" in dr
    assert "N = 8 on 10 Gb Ethernet" in r.headline


# --- hostile-input sweep: fabrics a track's devices can have, the question's range, the dip wording -------------
# hardware/data/links.toml by hand: the radios (the entries with energy_nj_per_bit) are lte_5g, wifi6, bluetooth, ble
# and nfmi; nfmi is scope 'intra' (earbud to earbud inside a pair), the four others 'inter'. Which of those four a
# track's device carries (hardware/data/nodes.toml radios): the nRF52840 earbud Bluetooth LE only (its product
# specification's RADIO: 1M, 2M, Coded PHYs, no Wi-Fi or cellular), the AR1 glasses Bluetooth LE and Wi-Fi (no
# modem), the vehicle all four.
RADIOS_BETWEEN_NODES = {"tiny": "ble, bluetooth", "mobile": "ble, bluetooth, wifi6",
                        "edge": "ble, bluetooth, lte_5g, wifi6"}


@pytest.mark.parametrize("track, fabric, word", [("tiny", "nvlink4", "datacenter wire"),
                                                 ("mobile", "ib_ndr", "datacenter wire"),
                                                 ("edge", "eth_10g", "datacenter wire"),
                                                 ("tiny", "nfmi", "near-field link inside one node"),
                                                 ("tiny", "wifi6", "Nordic nRF52840 Product Specification"),
                                                 ("tiny", "lte_5g", "earbuds carry"),
                                                 ("mobile", "lte_5g", "Snapdragon AR1")])
def test_a_fleet_track_refuses_a_link_its_device_does_not_have(track, fabric, word):
    # was accepted: 'throughput gain (NVLink 4 (H100/H200, via NVSwitch)) 8.000 x' for earbuds, and earbuds over
    # Wi-Fi 6 or 5G, which an nRF52840 has no radio for
    with pytest.raises(UsageError) as e:
        scaling.solve(track, fabric=fabric)
    msg = str(e.value)
    assert "\n" not in msg and fabric in msg and word in msg
    assert msg.endswith(f"valid on it: {RADIOS_BETWEEN_NODES[track]}")
    with pytest.raises(UsageError):  # the attempt's scenario too
        scaling.evaluate_attempt({"fabric": "ble", "devices": 8}, track, fabric=fabric)


def test_the_cloud_track_refuses_a_radio_fabric():
    for fabric in ("wifi6", "lte_5g", "ble"):
        with pytest.raises(UsageError) as e:
            scaling.solve("cloud", fabric=fabric)
        msg = str(e.value)
        assert "\n" not in msg and "no radio" in msg and "ib_ndr" in msg and "wifi6" not in msg.split("valid on it")[1]


@pytest.mark.parametrize("track", ["tiny", "mobile", "edge"])
def test_every_radio_of_the_device_is_accepted_on_its_track(track):
    assert ", ".join(scaling.track_fabrics(scaling.scenario(track).track)) == RADIOS_BETWEEN_NODES[track]
    r = scaling.solve(track, fabric=RADIOS_BETWEEN_NODES[track].replace(" ", ""))
    assert r.scenario["fabric"] == RADIOS_BETWEEN_NODES[track].split(", ")


def test_a_dip_the_curve_recovers_from_is_not_called_diminishing_returns():
    # Earbuds over NVLink 4 (the sweep's case, through the curve: solve refuses the fabric now). N = 2 is one pair:
    # its all-reduce runs over the pair's NFMI (596 kb/s), so S(2) < S(1) + 0.5; from N = 3 the ring is on the
    # fabric and every earbud adds a whole one (marginals >= 0.5 to the end of the grid). By the regimes rule the
    # first run below is N = 1 alone and the curve stays above afterwards: (1, None). The headline said
    # 'diminishing returns (< 0.5x per earbud): N = 1' beside '8x (ideal 8x)'.
    sc = scaling.scenario("tiny")
    c = scaling.curve(sc, "nvlink4", 0.5, 100, scaling.search_size(100))
    assert c.marginal[0] < 0.5 and (c.marginal[1:] >= 0.5).all()
    assert (c.n_diminishing, c.n_sustained) == (1, None)
    bit = scaling._dr_headline(c, "NVLink 4")
    assert bit.startswith(f"none for good up to N = {len(c.n):,} on NVLink 4, only a first dip at N = 1 (1 -> 2 "
                          "adds -")


def test_a_first_dip_before_returns_diminish_for_good_is_named_as_one():
    # Wi-Fi 6 between pairs of earbuds: the pair's NFMI step 1 -> 2 is below 0.5, the curve recovers over the
    # fabric and falls below 0.5 for good later (was 'N = 1, for good from ..., on Wi-Fi 6')
    # (through the curve: an nRF52840 earbud has no Wi-Fi radio, so solve refuses the fabric now)
    c = scaling.curve(scaling.scenario("tiny"), "wifi6", 0.5, 100, scaling.search_size(100))
    assert c.n_diminishing == 1 and c.n_sustained > 1
    head = scaling._dr_headline(c, "Wi-Fi 6")
    assert f"N = {c.n_sustained:,} on Wi-Fi 6, past a first dip at N = 1 (1 -> 2 adds" in head
    assert head.endswith("x) that the curve recovers from")
    assert "N = 1," not in head and "N = 1 on" not in head


@pytest.mark.parametrize("track, kwargs, words", [
    # two earbuds are one pair, one replica (was 'gossip needs at least 2 devices (a whole number), got 1')
    ("tiny", {"n_from": 2, "n_to": 8}, ["--from 2:", "whole nodes of 2 earbuds", "from 4", "to 100"]),
    ("tiny", {"n_from": 3, "n_to": 8}, ["--from 3:", "from 4"]),  # half a pair (was 'cannot run a round')
    ("tiny", {"n_to": 200}, ["--to 200:", "the track's fleet of 100"]),  # beyond the fleet (was 'cannot run')
    ("mobile", {"n_from": 1}, ["--from 1:", "from 2", "to 1,000"]),
    ("mobile", {"max_devices": 16}, ["--to 64 (the track's default)", "to 16 (--max-devices 16)"]),
    # the curve ends at --max-devices: --to past it was met by raising the end silently to --to
    ("cloud", {"max_devices": 16}, ["--to 64 (the track's default) is beyond the curve's end, --max-devices 16"]),
    ("cloud", {"n_to": 2000}, ["--to 2,000 is beyond", "--max-devices 1,024 (the track's default)"]),
])
def test_the_question_range_is_checked_in_the_tracks_unit(track, kwargs, words):
    with pytest.raises(UsageError) as e:
        scaling.solve(track, **kwargs)
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_the_reported_range_is_the_one_asked_for():
    r = scaling.solve("cloud", max_devices=16, n_from=8, n_to=16)
    assert r.scenario["max_devices"] == 16 and (r.scenario["n_from"], r.scenario["n_to"]) == (8, 16)
    assert max(row[1] for row in r.tables["curve"].rows) == 16  # the curve table ends where it was asked to
    r = scaling.solve("tiny", n_from=4, n_to=100)  # the whole range a fleet of 100 earbuds allows
    assert (r.scenario["n_from"], r.scenario["n_to"]) == (4, 100) and "4 -> 100 earbuds" in r.headline
