"""Lab 06 part 2: two-tier AllReduce by hand; CP-SAT optimum == exhaustive check over the same choices."""

import json
from dataclasses import replace

import pytest

from explorer.cost import collectives as col
from explorer.errors import InfeasibleError, UsageError
from explorer.puzzles import hierarchy as h
from explorer.puzzles.collective_scenario import get_scenario
from explorer.report import Report


def test_two_tier_time_by_hand():
    # g = 8 per node, 16 nodes, M = 1 GB; alpha = 0 on both tiers, B_intra = 100 GB/s, B_inter = 10 GB/s.
    # intra reduce-scatter: (7/8) * 1e9 / 1e11 = 8.75 ms (and the same for the all-gather)
    # inter ring on M/8 = 125 MB over 16: 2 * (15/16) * 1.25e8 / 1e10 = 23.4375 ms -> total 40.9375 ms
    ph = col.hierarchical_allreduce_phases(1e9, 8, 16, 0.0, 1e11, 0.0, 1e10)
    assert ph["intra_reduce"] == pytest.approx(8.75e-3)
    assert ph["inter"] == pytest.approx(23.4375e-3)
    assert col.hierarchical_allreduce_time(1e9, 8, 16, 0.0, 1e11, 0.0, 1e10) == pytest.approx(40.9375e-3)
    # tree intra: binomial reduce to a leader ceil(log2 8) * M/B = 3 * 10 ms = 30 ms; leaders ring on all of M:
    # 2 * (15/16) * 1e9 / 1e10 = 187.5 ms
    pt = col.hierarchical_allreduce_phases(1e9, 8, 16, 0.0, 1e11, 0.0, 1e10, intra="tree")
    assert pt["intra_reduce"] == pytest.approx(30e-3) and pt["inter"] == pytest.approx(187.5e-3)
    # g = 1 is the flat AllReduce
    assert col.hierarchical_allreduce_time(1e9, 1, 16, 0.0, 1e11, 0.0, 1e10) == pytest.approx(
        col.ring_allreduce_time(1e9, 16, 0.0, 1e10))


def _instances():
    out = []
    for t in ("cloud", "edge", "mobile", "tiny"):
        base = h.make_instance(get_scenario(t))
        out += [base, replace(base, bw_inter=base.bw_intra / 100),
                replace(base, message_bytes=base.message_bytes / 1e4),
                replace(base, backward_s_per_sample=base.backward_s_per_sample * 50)]
    return out


@pytest.mark.parametrize("inst", _instances(), ids=lambda i: f"{i.track}-{i.bw_inter:.3g}-{i.message_bytes:.3g}")
def test_cpsat_equals_exhaustive(inst):
    best, status, _ = h.solve_cpsat(inst, time_limit_s=20)
    check = h.exhaustive_best(inst)
    assert status == "optimal"
    assert best.feasible
    assert best.key == check.key  # (exposed us, sync us), both lexicographic stages


def test_pipelined_phases_by_hand():
    # Three stages of 1, 2 and 1 s with no latency: in series 4 s; in k chunks sum/k + (k-1) max/k -> 2 + 2/k.
    assert col.pipelined_stages_time([0, 0, 0], [1, 2, 1], 1) == (4.0, 1)
    t, k = col.pipelined_stages_time([0, 0, 0], [1, 2, 1], 100)
    assert k == 100 and t == pytest.approx(2.0 + 2.0 / 100)
    # with a latency per chunk the best k is finite: 10 ms per stage and chunk
    t, k = col.pipelined_stages_time([0.01] * 3, [1, 2, 1], 1000)
    assert 1 < k < 1000 and 2.0 < t < 4.0


def test_cloud_optimum_and_constraints_by_hand():
    r = h.solve("cloud")
    sc = get_scenario("cloud")
    # Llama-3-8B pure DP with ZeRO-1 on 128 GPUs: weights 16.06 GB + gradients 16.06 GB + optimizer
    # 12 x 8.03e9 / 128 = 0.75 GB (+ buffers) = 32.9 GB fixed; full recomputation ~7.5 GB per 8K sequence.
    assert sc.fixed_memory_bytes == pytest.approx(32.9e9, rel=0.01)
    assert 5e9 < sc.activation_bytes_per_sample < 10e9 and sc.accumulation_buffer_bytes == 0
    # G = 512 over N = 128 -> b x a = 4; b = 4 fits (32.9 + 4 x 7.5 = 62.9 <= 72 GB), and one accumulation step
    # is the simpler of the plans that hide the whole sync behind the backward.
    assert r.extra["configuration"]["aggregation"] == 8 and r.extra["configuration"]["accumulation"] == 1
    assert r.figure("exposed_comm_s") == 0
    assert r.status == "optimal" and r.extra["exhaustive_check"]["agrees"]
    # Pipelining: the three phases overlap chunk by chunk, so the sync is about the slowest phase, not the sum
    ph = r.data["comm_waterfall"]["configs"][0]["phases"]
    # in series: the three phases plus one NCCL call's base latency (8.4 us, tuning.cc), as the flat baseline pays
    assert sum(ph.values()) + 8.4e-6 == pytest.approx(r.figure("serial_time_s"))
    assert max(ph.values()) <= r.figure("sync_time_s") < 0.7 * r.figure("serial_time_s")
    # The flat baseline as NCCL runs it: one ring per rail, 8 NICs per node, bus bandwidth capped by NVLink:
    # 2 x 127/128 x 16.06e9 B / ~369e9 B/s = 86 ms. NCCL's flat ring is hierarchical in effect: multiplier ~1.
    assert 0.07 < r.figure("flat_time_s") < 0.11
    assert 0.8 < r.figure("hierarchical_multiplier") < 1.3
    # against the textbook flat ring through one NIC (47 GB/s): 2 x 127/128 x 16.06e9 / 47e9 = 0.678 s -> ~8x
    assert r.figure("textbook_flat_time_s") == pytest.approx(2 * 127 / 128 * 16.06e9 / 47e9, rel=0.02)
    assert r.figure("textbook_multiplier") > 6
    assert r.figure("multiplier_100x_slower") < 1.3  # rails make hierarchy redundant however slow the NICs
    reflection = next(f.answer for f in r.findings if "gradient-accumulation" in f.question)
    assert "premise does not hold" in reflection and "critical batch" in reflection


def test_attempts_use_the_same_evaluator():
    r = h.solve("cloud")
    ok = h.evaluate_attempt({k: str(v) for k, v in r.extra["configuration"].items()}, "cloud")
    assert ok["feasible"] and ok["objective"] == pytest.approx(r.extra["objective"]["value"])
    bad = h.evaluate_attempt({"aggregation": "8", "intra_algorithm": "ring", "inter_algorithm": "ring",
                              "accumulation": "3"}, "cloud")  # 512 / (128 x 3) is not a whole micro-batch
    assert not bad["feasible"] and [c.name for c in bad["violations"]] == ["global batch"]
    assert ok["neighbours"] and all(set(n) == set(h.ATTEMPT_VARIABLES) for n in ok["neighbours"])
    assert h.MAX_ATTEMPTS == 10


@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_every_track_reports(track):
    r = h.solve(track)
    d = json.loads(json.dumps(r.to_dict()))
    assert Report.from_dict(d).headline == r.headline and d["configuration"] == r.extra["configuration"]
    assert set(r.extra["configuration"]) == set(h.ATTEMPT_VARIABLES)
    assert "comm_waterfall" in r.plots


def test_infeasible_and_bad_inputs():
    with pytest.raises(InfeasibleError):
        h.solve("cloud", global_batch=100)  # 100 / 128 devices is not a whole micro-batch
    with pytest.raises(UsageError):
        h.solve("cloud", message_bytes=-1.0)
    # The rule that binds is named: fewer samples than devices is not a memory limit.
    with pytest.raises(InfeasibleError, match="smaller than the 128 devices"):
        h.solve("cloud", global_batch=1)
    with pytest.raises(InfeasibleError, match="multiple of 128"):
        h.solve("cloud", global_batch=130)
    # g = 3 is not among the aggregation choices CP-SAT searches: outside the space, not compared
    r = h.evaluate_attempt({"aggregation": 3, "intra_algorithm": "ring", "inter_algorithm": "ring",
                            "accumulation": 1}, "cloud")
    assert not r["feasible"] and r["outside_space"][0].startswith("aggregation = 3 is outside the searched space")
    with pytest.raises(UsageError):
        h.evaluate_attempt({"aggregation": 8, "intra_algorithm": "rng", "accumulation": 1}, "cloud")


def test_the_accumulation_finding_charges_the_compute_of_the_batch_solved():
    # Each device computes G/N samples a step, so at twice the global batch the step's compute doubles while the
    # all-reduce of the same gradients (M bytes) does not: with nothing exposed (the cloud tiers hide behind the
    # backward), each tier's busy fraction halves. It stayed at the track default's (512) for every --global-batch.
    import re

    def busy(gb: int) -> float:
        r = h.solve("cloud", global_batch=gb)
        text = " ".join(next(f.answer for f in r.findings if "idles" in f.question).split())
        return float(re.search(r"and the inter tier ([0-9.]+)%", text).group(1))

    assert busy(512) / busy(1024) == pytest.approx(2.0, rel=0.05)


# --- phases on one link cannot overlap (half duplex; a ring's two phases on one send direction) ---------------
def test_pipelined_stages_on_a_shared_link_by_hand():
    # Stages of 1, 0.5 and 1 s, no latency; the first and the last share one half-duplex radio.
    # Overlapping all three (the old model): T(k) = 2.5/k + (k-1)/k x 1 -> 1.0015 s at k = 1000, below the 2 s
    # the radio must carry. Taking turns on the radio, the period is (1 + 1)/k: T(k) = 2.5/k + (k-1) 2/k
    # = 2 + 0.5/k -> 2.0005 s at k = 1000, never below the radio's 2 s.
    radio = [{"radio": 1.0}, {"inter": 1.0}, {"radio": 1.0}]
    t, k = col.pipelined_stages_time([0, 0, 0], [1, 0.5, 1], 1000, radio)
    assert k == 1000 and t == pytest.approx(2.0 + 0.5 / 1000) and t >= 2.0
    # a full-duplex link: reduce up and broadcast down on separate directions overlap as before, 1 + 1.5/k
    duplex = [{"up": 1.0}, {"inter": 1.0}, {"down": 1.0}]
    t, k = col.pipelined_stages_time([0, 0, 0], [1, 0.5, 1], 1000, duplex)
    assert k == 1000 and t == pytest.approx(1.0 + 1.5 / 1000)
    # with latencies the bound holds on the full phase times: 10 ms a stage and chunk, sum on the radio 2.02 s
    t, _ = col.pipelined_stages_time([0.01] * 3, [1, 0.5, 1], 1000, radio)
    assert t >= 2.02
    with pytest.raises(ValueError):
        col.pipelined_stages_time([0, 0], [1, 1], 10, [{"radio": 1.5}, {"radio": 1.0}])


def _hand_instance(track: str, half_duplex: bool, relayed: bool = False) -> h.Instance:
    # M = 1e8 B, alpha = 0, B_intra = B_inter = 1e7 B/s; chunks up to M // 1 MiB = 95
    # the slow tier full duplex here (these derivations are about the intra link; edge's 5G is half duplex,
    # test_edge_depot_wifi_and_half_duplex_5g_by_hand)
    return replace(h.make_instance(get_scenario(track)), message_bytes=1e8, alpha_intra=0.0, alpha_inter=0.0,
                   bw_intra=1e7, bw_inter=1e7, intra_half_duplex=half_duplex, inter_relayed=relayed,
                   inter_half_duplex=False)


def test_two_tier_pipelining_respects_the_intra_link_by_hand():
    # Edge: 2 groups of 5. Full duplex (a link per device and direction), ring: reduce-scatter 4/5 x 1e8 / 1e7 =
    # 8 s, the same for the all-gather; inter ring of M/5 between 2 groups: 2 x 1/2 x 2e7 / 1e7 = 2 s. Both ring
    # phases send 4/5 M from every device on its send direction: T(k) = 18/k + (k-1) 16/k = 16 + 2/k.
    t, k = h.pipelined(_hand_instance("edge", False), 5, "ring", "ring")
    assert k == 95 and t == pytest.approx(16.0 + 2.0 / 95)
    # Half duplex, one channel for the 5 (Wi-Fi BSS): every step all 5 send M/5 in turn, so a ring phase puts
    # 4 x 5 x M/5 = 4e8 B on the air: 40 s (was 8 s, as if each had its own link); inter 2 s as before:
    # T(k) = 82/k + (k-1) 80/k = 80 + 2/k.
    t, k = h.pipelined(_hand_instance("edge", True), 5, "ring", "ring")
    assert k == 95 and t == pytest.approx(80.0 + 2.0 / 95)
    # Tree: full duplex, binomial reduce ceil(log2 5) = 3 x 1e8 / 1e7 = 30 s, broadcast 30 s, inter ring of M:
    # 10 s; the root only receives in the reduce and only sends in the broadcast, so they overlap (NCCL's tree,
    # up and down at once): T(k) = 70/k + (k-1) 30/k = 30 + 40/k.
    t, k = h.pipelined(_hand_instance("edge", False), 5, "tree", "ring")
    assert k == 95 and t == pytest.approx(30.0 + 40.0 / 95)
    # Half duplex, one channel: the 4 non-roots each send M once per phase, one at a time: 4 x 10 = 40 s each
    # way (was 30 s), taking turns: T(k) = 90/k + (k-1) 80/k = 80 + 10/k.
    t, k = h.pipelined(_hand_instance("edge", True), 5, "tree", "ring")
    assert k == 95 and t == pytest.approx(80.0 + 10.0 / 95)
    # Mobile: 4 groups of 4, the slow tier reached through the hub over the same half-duplex channel at the same
    # bandwidth. Ring phases: 3 steps x 4 sends of M/4 = 3e8 B on the air, 30 s each. Inter ring of M/4 over 4
    # groups: each of the 4 devices sends and receives 2 x 3/4 x 2.5e7 = 3.75e7 B through the hub, up and down
    # the one channel: 4 x 2 x 3.75e7 = 3e8 B, 30 s (the path gives min(1e7, 1e7/2)/4 = 2.5e6 B/s to each).
    # Every byte on the one channel: T(k) = 90/k + (k-1) 90/k = 90 s whatever k (1 chunk). (Each with its own
    # link, as before: 7.5 + 3.75 + 7.5 = 18.75 s.)
    assert h.pipelined(_hand_instance("mobile", True, relayed=True), 4, "ring", "ring") == (pytest.approx(90.0), 1)


@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_no_pipelined_sync_beats_its_intra_link(track):
    # Over the whole design space: a ring's two intra phases (and on a half-duplex link a tree's) take turns on
    # the intra link, so the sync is never shorter than both together; where the slow tier is reached through the
    # hub over that link at its own bandwidth (mobile), every phase is on it and the sync is the serial time.
    inst = h.make_instance(get_scenario(track))
    assert inst.intra_half_duplex == (track != "cloud")  # Wi-Fi 6, Bluetooth LE and NFMI radios; NVLink
    for e in h.enumerate_all(inst):
        if e.aggregation == 1 or e.accumulation != 1:
            continue
        intra = e.phases_s["intra_reduce"] + e.phases_s["intra_gather"]
        if e.intra == "ring" or inst.intra_half_duplex:
            assert e.sync_s >= intra * (1 - 1e-12), (e.config, e.sync_s, intra)
        if inst.inter_relayed and inst.bw_inter == inst.bw_intra:
            assert e.sync_s == pytest.approx(e.serial_s, rel=1e-9)
        assert e.sync_s <= e.serial_s * (1 + 1e-12)


def test_every_radio_link_has_a_duplex_decision():
    # A radio (a catalog link with a radio energy per bit) shares its channel in time unless shown otherwise:
    # each one states its duplex, with a source, in hardware/data/links.toml and does not fall through to full
    # duplex. The raw TOML is read, so a default cannot stand in for a statement.
    from explorer.hardware.catalog import _links, get_link, link_names

    radios = {k for k, e in _links().items() if "energy_nj_per_bit" in e}
    # 5G's downlink is a radio entry of its own (links.toml lte_5g_down: its own rate and energy per bit)
    assert radios == {"lte_5g", "lte_5g_down", "wifi6", "bluetooth", "ble", "nfmi"}
    for k in radios:
        assert _links()[k].get("duplex") in ("half", "full") and _links()[k].get("duplex_source"), k
    # Wi-Fi 6 (802.11 DCF), Bluetooth LE (Core Spec Vol 6 Part B 4.5.1), NFMI (one carrier) and TDD 5G (n78)
    assert all(get_link(k).half_duplex for k in radios)
    assert not any(get_link(k).half_duplex for k in ("nvlink4", "ib_ndr", "eth_10g"))
    assert {k for k in link_names() if get_link(k).half_duplex} == radios


@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_no_track_reports_a_link_busy_more_than_the_whole_step(track):
    # edge read 'the intra tier is busy 176.0% of the step' and mobile 195.8%: the pipelined sync (10.4 s, 453 s)
    # was shorter than the intra phases alone (18.4 s, 887 s).
    import re

    r = h.solve(track)
    text = " ".join(next(f.answer for f in r.findings if "idles" in f.question).split())
    shares = [float(x) for x in re.findall(r"([0-9.]+)%", text)]
    assert shares and max(shares) <= 100.0, text
    if r.figure("intra_algorithm") == "ring" or track != "cloud":  # the two intra phases take turns on their link
        assert r.figure("intra_time_s") <= r.figure("sync_time_s") * (1 + 1e-9)
    assert r.figure("sync_time_s") <= r.figure("serial_time_s") * (1 + 1e-9)


# --- a half-duplex radio is one channel its group shares (shared medium) -----------------------------------
def test_ring_allreduce_on_one_shared_channel_by_hand():
    # g = S = 4 stations on one channel of B = 1e5 B/s, M = 1e6 B, alpha = 10 ms. Each of the g-1 = 3 steps of a
    # phase has all 4 stations send M/4 one after the other: 10 ms + 4 x 2.5e5 / 1e5 = 10.01 s, a phase 30.03 s.
    # All-reduce (two phases): 2 (g-1) alpha + 2 (g-1) (M/g) g / B = 0.06 + 60 = 60.06 s; full duplex,
    # 2 (g-1) alpha + 2 (g-1)/g M/B = 0.06 + 15 = 15.06 s: the bandwidth term g = 4 times longer.
    assert col.shared_channel_phase_time(1e6, 4, 4, 0.01, 1e5) == pytest.approx(30.03)
    ph = col.hierarchical_allreduce_phases(1e6, 4, 1, 0.01, 1e5, 0.0, 1e9, channel_stations=4)
    assert ph["intra_reduce"] + ph["intra_gather"] == pytest.approx(60.06) and ph["inter"] == 0.0
    full = col.hierarchical_allreduce_phases(1e6, 4, 1, 0.01, 1e5, 0.0, 1e9)
    assert full["intra_reduce"] + full["intra_gather"] == pytest.approx(15.06)
    assert col.ring_allreduce_time(1e6, 4, 0.01, 1e5) == pytest.approx(15.06)  # the textbook ring: unchanged
    # Two rings of g = 2 on one channel of S = 4: one step, 4 sends of M/2 = 2e6 B on the air: 10 ms + 20 s.
    assert col.shared_channel_phase_time(1e6, 2, 4, 0.01, 1e5) == pytest.approx(20.01)
    # A half-duplex pair (g = S = 2, NFMI): both send M/2 in turn, alpha + M/B = 10.01 s, twice the
    # full-duplex bandwidth term (alpha + M/(2B) = 5.01 s); a tree's single send is alpha + M/B either way.
    assert col.shared_channel_phase_time(1e6, 2, 2, 0.01, 1e5) == pytest.approx(10.01)
    assert col.reduce_scatter_time(1e6, 2, 0.01, 1e5) == pytest.approx(5.01)
    assert col.shared_channel_phase_time(1e6, 2, 2, 0.01, 1e5, "tree") == pytest.approx(
        col.binomial_reduce_time(1e6, 2, 0.01, 1e5)) == pytest.approx(10.01)
    # Binomial tree over g = S = 5: ceil(log2 5) = 3 rounds of latency, 4 non-roots each send M once, one at a
    # time: 0.03 + 40 s (full duplex: 3 x (0.01 + 10) = 30.03 s).
    assert col.shared_channel_phase_time(1e6, 5, 5, 0.01, 1e5, "tree") == pytest.approx(40.03)
    assert col.shared_channel_phase_time(1e6, 1, 5, 0.01, 1e5) == 0.0
    with pytest.raises(ValueError):
        col.shared_channel_phase_time(1e6, 2, 5, 0.01, 1e5)  # 5 stations are not groups of 2
    with pytest.raises(ValueError):
        col.shared_channel_phase_time(1e6, 4, 2, 0.01, 1e5)


def test_relay_through_a_shared_hub_channel_by_hand():
    # P = 4 devices reach the slow tier through their hub over one half-duplex channel of 1e7 B/s, far link 1e7:
    # each sends X and receives X, both over the channel: 8 X on the air, so 1e7 / 8 = 1.25e6 B/s each.
    assert col.relayed_path_bandwidth(1e7, 1e7, 4, True) == pytest.approx(1.25e6)
    assert col.relayed_path_bandwidth(1e7, 1e7, 4, False) == 1e7  # a link per device and direction: unchanged
    # far link 1e6 (path min(1e6, 1e7) = 1e6): the hub's far link carries the 4, 2.5e5 B/s each; the channel
    # carries 8 X in 8 X / 1e7 while the path takes X / 2.5e5 = 4 X / 1e6: busy 0.2 of it (= 2 x path / hop);
    # a full-duplex hop (each device its own) is busy X / 1e7 of X / 1e6: 0.1.
    assert col.relayed_path_bandwidth(1e6, 1e7, 4, True) == pytest.approx(2.5e5)
    assert col.relay_hop_share(1e6, 1e7, True) == pytest.approx(0.2)
    assert col.relay_hop_share(1e6, 1e7, False) == pytest.approx(0.1)
    assert col.relay_hop_share(1e7, 1e7, True) == 1.0


def test_edge_depot_wifi_and_half_duplex_5g_by_hand():
    # Wi-Fi 6 (one stream): 200 Mb/s x 0.60 = 15 MB/s for the depot's channel, shared by its 5 vehicles;
    # 5G uplink 50 Mb/s x 0.70 = 4.375 MB/s per vehicle (links.toml), TDD: half duplex like the Wi-Fi.
    # A ring phase of the 5 puts 4 M on the air: 4 alpha + 4 M / 15e6 = 45.9 s for M = 172 MB.
    # The flat 5G ring over 10 on a half-duplex radio: each of its 2 x 9 steps is an exchange of M/10 whose two
    # sends take turns, 18 x (30 ms + 2 x M/10 / 4.375e6) = 0.54 + 3.6 M / 4.375e6 = 142.0 s (the full-duplex
    # 71.3 s counted one send a step, the rule sweep A item 6 found applied here and dropped in the intra tier).
    # Two-tier g = 5: the inter ring of M/5 between 2 groups, 2 x (30 ms + 2 x (M/5) / (2 x 4.375e6)) = 15.8 s,
    # runs on the 5G radio and pipelines against the intra phases on the Wi-Fi channel, which take turns: the sync
    # is at least 2 x 45.9 = 91.7 s and below the flat 142 s, so local aggregation wins (g = 5).
    from explorer.hardware.catalog import get_link

    sc = get_scenario("edge")
    inst = h.make_instance(sc)
    wifi, g5 = get_link("wifi6"), get_link("lte_5g")
    assert wifi.effective_bandwidth == pytest.approx(15e6) and g5.effective_bandwidth == pytest.approx(4.375e6)
    assert g5.half_duplex and inst.inter_half_duplex
    m = sc.gradient_bytes
    e = h.evaluate(inst, 5, "ring", "ring", 1)
    intra = 4 * 5e-3 + 4 * m / 15e6
    assert e.phases_s["intra_reduce"] == pytest.approx(intra)
    assert e.phases_s["inter"] == pytest.approx(2 * (0.03 + 2 * (m / 5) / (2 * 4.375e6)))
    flat = 18 * (0.03 + 2 * (m / 10) / 4.375e6)
    assert flat == pytest.approx(0.54 + 3.6 * m / 4.375e6)
    assert h.flat_time(inst) == pytest.approx(flat)
    best = h.exhaustive_best(inst)
    assert best.aggregation == 5 and 2 * intra <= best.sync_s < flat


def test_mobile_flat_ring_relays_every_glasses_bytes_through_the_phone_piconet():
    # 4 glasses per phone reach Wi-Fi only through it over Bluetooth LE 2M (2 Mb/s x 0.70 = 175 kB/s, one
    # piconet): in the flat ring over 16 each sends and receives 2 x 15/16 M, all of it up and down the piconet
    # for all 4: 4 x 2 x 2 x 15/16 M = 15 M on the air, i.e. 175e3 / 8 = 21,875 B/s per glasses, where each had
    # the whole 175 kB/s before. Latency: 30 steps x (5 ms Wi-Fi + 7.5 ms BLE).
    sc = get_scenario("mobile")
    inst = h.make_instance(sc)
    m = sc.gradient_bytes
    assert inst.bw_intra == pytest.approx(175e3) and inst.channel_stations == 4
    assert h.flat_time(inst) == pytest.approx(30 * 12.5e-3 + 2 * 15 / 16 * m / 21_875)
    # g = 4, ring: each phase 3 x 4 x M/4 on the piconet = 3 M / 175e3; the inter ring of M/4 over 4 phones at
    # 21,875 B/s each: 2 x 3/4 x (M/4) / 21,875 = 3 M / 175e3 too; in series (every byte on the piconet)
    e = h.evaluate(inst, 4, "ring", "ring", 1)
    assert e.phases_s["intra_reduce"] == pytest.approx(3 * 7.5e-3 + 3 * m / 175e3)
    assert e.phases_s["inter"] == pytest.approx(6 * 12.5e-3 + 3 * m / 175e3)
    assert e.sync_s == pytest.approx(e.serial_s, rel=1e-9)


def test_full_duplex_tracks_keep_a_link_per_device():
    # NVLink: no shared channel, no relay, the phases are the textbook formulas (test_two_tier_time_by_hand)
    inst = h.make_instance(get_scenario("cloud"))
    assert inst.channel_stations == 0 and inst.relay_fraction == 0.0
    assert inst.inter_bandwidth(8) == inst.bw_inter
    ph = h.phases(inst, 8, "ring", "ring")
    assert ph["intra_reduce"] == pytest.approx(7 * inst.alpha_intra + 7 / 8 * inst.message_bytes / inst.bw_intra)


def test_two_tier_pays_nccls_call_latency_like_the_flat_baseline():
    """Against NCCL's flat all-reduce (which pays tuning.cc's 8.4 us base latency per call) the two-tier sync pays it
    once too, so a 1-byte message gains only what its hops save. Hand derivation at M = 1 B on the cloud track
    (128 GPUs, nodes of 8; NVLink alpha 2 us, NDR alpha 5 us): the best plan's textbook phases cost 52.1 us (binomial
    reduce and broadcast, 3 + 3 NVLink hops = 12 us, and halving-doubling over 16 leaders, 2 log2 16 = 8 hops x
    5 us = 40 us) + 8.4 = 60.5 us; NCCL's flat tree: 8.4 + 2 (7 x 2 + 4 x 5) = 76.4 us; 76.4 / 60.5 = 1.26x
    (it claimed 1.46x when the base latency was the flat baseline's alone)."""
    r = h.solve("cloud", message_bytes=1.0)
    assert r.figure("sync_time_s") == pytest.approx(60.5e-6, rel=0.01)
    assert r.figure("flat_time_s") == pytest.approx(76.4e-6, rel=0.01)
    assert r.figure("hierarchical_multiplier") == pytest.approx(76.4 / 60.5, rel=0.01)


def test_the_100x_what_if_says_when_it_speeds_the_given_tier_up():
    """The lab's what-if puts the slow tier at 1/100 of NVLink 4's effective rate (about 3.7 GB/s). Given 0.5 GB/s,
    that what-if is 7x FASTER than the input, and the text must say so; at the default NDR (about 47 GB/s) it is
    slower and nothing is added."""
    slow = h.solve("cloud", inter_bandwidth_bps=0.5e9)
    assert "faster than the 500 MB/s given" in slow.headline
    assert any("faster than the 500 MB/s given" in f.answer for f in slow.findings)
    assert "given" not in h.solve("cloud").headline
