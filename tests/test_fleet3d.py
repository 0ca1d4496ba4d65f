"""The fleet form of the 3D puzzle (explorer/puzzles/fleet3d) on the real edge, mobile and tiny tracks:
placements that respect the topology, one feasibility function for solver and evaluator, CP-SAT and
the enumeration agreeing, hand-checked round physics, and honest words about the storyboard."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from explorer.errors import UsageError
from explorer.puzzles import fleet3d
from explorer.puzzles.fleet3d import model, scenario
from explorer.solvers import log_tables


@pytest.fixture(scope="module")
def solved():
    return {t: fleet3d.solve_fleet(t) for t in ("edge", "mobile", "tiny")}


def test_no_stage_is_placed_across_the_wide_area_link():
    # a split is offered only inside the local group: none on a vehicle (one training SoC), glasses + phone,
    # the two earbuds of a pair over NFMI
    edge, mobile, tiny = (scenario.load(t) for t in ("edge", "mobile", "tiny"))
    assert all(p.split == edge.layers for p in edge.placements) and edge.partner_setup is None
    assert mobile.partner_word == "phone" and tiny.partner_word == "other earbud"
    assert tiny.local_link.key == "nfmi"


def test_model_parallelism_where_the_state_does_not_fit(solved):
    # tiny: the whole model trained on one earbud needs 869 kB of the 196.6 kB usable (767 kB more than a
    # single bud holds), so the answer splits across the pair or trains fewer layers
    tiny = solved["tiny"]
    whole = [r for r in tiny.tables.pruned if r["placement"].split == 5 and r["placement"].trainable == 5]
    assert whole and whole[0]["memory_device"] > tiny.scenario.memory_limit
    b = tiny.best
    assert b["memory_device"] <= tiny.scenario.memory_limit and b["memory_partner"] <= tiny.scenario.partner_limit
    # edge: the ViT-B state fits the vehicle's 16 GB, no split
    assert solved["edge"].best["split"] == 12 and solved["edge"].best["memory_device"] < 16e9 * 0.2
    # mobile: 857 MB at micro-batch 1 > 512 MB: the glasses cannot hold the whole model
    assert solved["mobile"].best["split"] < 6


@pytest.mark.parametrize("track", ["edge", "mobile"])
def test_cpsat_and_enumeration_agree(track):
    # the objective is the wall-clock time (federated.time_to_target_s); on edge and mobile the optimum fits in one
    # window, where it is R x D: CP-SAT proves the least ln R + ln D among the runs with R <= f
    cp = fleet3d.solve_fleet(track, engine="cpsat")
    en = fleet3d.solve_fleet(track, engine="enumerate")
    assert cp.status == "optimal" and cp.exhaustive_agrees and "fit in one daily window" in cp.cpsat_proved
    one = model.one_window_problem(cp.problem)
    assert one.score(_idx(cp))["feasible"] and en.best["fits_one_window"]
    # the wall-clock optimum is the least integer ln R + ln D among the one-window runs, what CP-SAT proves
    obj, ok, _ = log_tables.evaluate_all(one)
    assert one.score(_idx(en))["z"] == int(obj[ok].min() // one.radix)
    assert cp.best["days"] == pytest.approx(en.best["days"])
    assert en.best["days"] * model.SECONDS_PER_DAY == pytest.approx(en.best["rounds"] * en.best["round_time"])


def test_cpsat_and_enumeration_agree_on_tiny_where_no_run_fits_in_one_window():
    # tiny: an earbud's radio spends 23.5 nJ a payload bit (links.toml ble), so the relayed ring's 730 rounds draw
    # more than the 86.4 J a day the earbud may spend: no run fits in one window. CP-SAT proves that and the least
    # R / f, 2 days of training, within which the enumeration orders the runs; both engines agree on the optimum
    cp = fleet3d.solve_fleet("tiny", engine="cpsat")
    en = fleet3d.solve_fleet("tiny", engine="enumerate")
    assert cp.status == "optimal" and cp.exhaustive_agrees
    assert "no run fits in one window" in cp.cpsat_proved and "fewest days of training (2)" in cp.cpsat_proved
    assert not en.best["fits_one_window"] and math.ceil(en.best["rounds"] / en.best["rounds_per_day"]) == 2
    assert cp.best["days"] == pytest.approx(en.best["days"])


def _edge_on_5g_alone(hours: float):
    """Edge with its 5G path only, the vehicles on the road `hours` a day (the track's shift is 8 h)."""
    from dataclasses import replace

    scn = scenario.load("edge")
    scn = replace(scn, tiers=tuple(replace(t, hours_per_day=hours) for t in scn.tiers if t.key == "cellular"))
    tb = model.build_tables(scn)
    pr = model.build_problem(tb)
    listed, _ = model.ranked(tb, pr)
    return tb, pr, model.evaluate(tb, listed[0])


def test_cpsat_proves_the_day_count_when_no_run_fits_in_one_window():
    # edge on 5G alone with a 4 h shift: 55 s rounds (the aggregator moving 2,000 models down and updates up; the
    # median vehicle's sync is 49.19 s) in a 4 h window, 14,400 / 55 = 262 a day, fewer than the rounds the
    # best run needs (the assertion below): none fits in one window, so CP-SAT proves that (one_window_problem
    # infeasible) and the least R / f, whose 2 days of training must be the enumeration optimum's
    tb, pr, best = _edge_on_5g_alone(4.0)
    assert not best["fits_one_window"] and 1 < best["days_average"] <= 2
    status, _, agrees, proved = fleet3d._cpsat_check(pr, tb, best, None)
    assert status == "optimal" and agrees and "fewest days of training (2)" in proved
    # wall clock: one whole day, then the remaining R - f rounds of D on the second
    f = best["rounds_per_day"]
    assert best["days"] * model.SECONDS_PER_DAY == pytest.approx(
        86_400 + (best["rounds"] - f) * best["round_time"], rel=1e-12)


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_the_optimum_is_the_least_wall_clock_time_of_every_feasible_configuration(solved, track):
    # every feasible configuration through model.evaluate (the grader's function), not the vectorised ranking
    res = solved[track]
    tb, pr = res.tables, res.problem
    _, ok, grids = log_tables.evaluate_all(pr)
    days = [model.evaluate(tb, {d: int(grids[d][k]) for d in pr.sizes})["days"] for k in np.flatnonzero(ok)]
    # a ring waits for every replica whatever the deadline: its deadlines are one configuration, counted once
    ring = np.array([not t.drops_late for t in res.scenario.tiers])[grids["tier"]]
    n_d = len(res.scenario.deadline_quantiles)
    repeats = int((ok & ring).sum()) * (n_d - 1) // n_d
    assert res.best["days"] == min(days) and res.feasible_count == len(days) - repeats


def _idx(res) -> dict:
    scn, b = res.scenario, res.best
    return {"placement": scn.placements.index(b["placement"]), "micro_batch": scn.micro_batches.index(b["micro_batch"]),
            "local_steps": scn.local_steps.index(b["local_steps"]),
            "participation": scn.participation.index(b["participation"]),
            "deadline": scn.deadline_quantiles.index(b["deadline_quantile"]), "tier": scn.tiers.index(b["tier"])}


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_one_feasibility_function_for_solver_and_evaluator(solved, track):
    res = solved[track]
    tb, pr = res.tables, res.problem
    rng = np.random.default_rng(1)
    for _ in range(200):
        idx = {d: int(rng.integers(n)) for d, n in pr.sizes.items()}
        f = model.evaluate(tb, idx)
        assert pr.score(idx)["feasible"] == f["feasible"], (idx, f["violations"])
        # the per-day problem's integer objective is ln(R / f), the days of training, to 1e-4
        if f["feasible"]:
            z = pr.score(idx)["z"] / log_tables.SCALE
            assert z == pytest.approx(np.log(f["days_average"]), abs=5e-4 * len(pr.base) + 5e-4 * 4)
    # and the vectorised wall clock the enumeration ranks by is evaluate's, configuration by configuration
    secs, ok, grids = model.time_to_target_all(tb, pr)
    for k in np.flatnonzero(ok)[::97]:
        f = model.evaluate(tb, {d: int(grids[d][k]) for d in pr.sizes})
        assert secs[k] == pytest.approx(f["days"] * model.SECONDS_PER_DAY, rel=1e-12)


def test_edge_round_physics_by_hand(solved):
    # 5G tier, whole model: the sync moves the FP16 model down over the vehicle's 5G downlink and the update up over
    # its uplink, each at its own rate (links.toml lte_5g_down, lte_5g; Ookla Q3 2023 medians 203 / 18.9 Mb/s):
    # alpha + M / B_down + alpha + M / B_up = 0.030 + 171,950,592 B / (200 Mb/s x 0.70 / 8)
    #   + 0.030 + 171,950,592 B / (50 Mb/s x 0.70 / 8) = 0.06 + 9.826 + 39.303 = 49.19 s (78.67 s when the download
    # ran at the uplink's rate)
    res = solved["edge"]
    cell = res.per_tier["cellular"]
    assert cell["t_sync"] == pytest.approx(0.06 + 171_950_592 / (200e6 * 0.7 / 8) + 171_950_592 / (50e6 * 0.7 / 8),
                                           rel=1e-9)
    # the vehicle's radio energy: the update sent at the uplink's 50 nJ a bit, the model received at the
    # downlink's 12.5 nJ (the same assumed 1.75 W modem over 35 and 140 Mb/s)
    j = [t.key for t in res.scenario.tiers].index("cellular")
    i = res.scenario.placements.index(cell["placement"])
    # the median vehicle's; the 5G rate spreads over the fleet as a lognormal of sigma 0.897 (links.toml
    # throughput_sigma: Ookla's 10th and 90th percentiles 127 and 1,266.49 Mb/s, ln(9.97) / 2.563), so the mean
    # vehicle's airtime, and its radio energy, is e^(0.897^2 / 2) = 1.4957 of the median's
    median_j = 171_950_592 * 8 * (50e-9 + 12.5e-9)
    assert res.tables.values["e_sync"][i, j] == pytest.approx(median_j * math.exp(0.897 ** 2 / 2), rel=1e-9)
    # no staleness bound on local steps: each local step of FedAvg takes a fresh gradient at the vehicle's own
    # iterate (asynchronous SGD's bound, Lian et al. 2015 T <= sqrt(0.45)/0.1 = 6.7, is not theirs). Every H
    # from 1 to 256 has a feasible configuration, and the optimum is the least of the days-per-H curve
    curve = [min(v[i] for v in res.curve.values() if v[i] is not None) for i in range(len(res.scenario.local_steps))]
    assert all(d is not None for d in curve)
    assert res.best["days"] == pytest.approx(min(curve), rel=1e-12)
    assert not any("stale" in c.name for c in res.report.constraints)
    # the storyboard waits for the slowest of 10,000 over 5G and is outpaced, never called faster when slower
    assert res.crisis["days"] > res.best["days"]
    assert "sooner" in res.report.headline


@pytest.mark.parametrize("track", ["mobile", "tiny"])
def test_storyboard_that_does_not_fit_is_said_not_to_fit(solved, track):
    r = solved[track].report
    assert "does not fit" in r.headline and "reaches" not in r.headline and "faster" not in r.headline
    assert r.figure("crisis_fits") is False


def test_energy_is_a_first_class_figure_and_the_budget_holds(solved):
    tiny = solved["tiny"].best
    # 1 mW x 86,400 s = 86.4 J a day per earbud
    assert tiny["budget_j"] == pytest.approx(86.4)
    assert tiny["energy_day"] <= 86.4 * (1 + 1e-9)
    assert tiny["energy_round"] == pytest.approx(tiny["energy_compute"] + tiny["energy_radio"])
    r = solved["mobile"].report
    assert r.figure("energy_per_round_j") >= 0 and "J" in r.findings[4].answer


def test_speedup_below_one_is_never_called_faster(solved):
    from explorer.puzzles.fleet3d.report import _crisis_text

    res = solved["edge"]
    fake = type("R", (), {"crisis": dict(res.crisis, days=res.best["days"] / 2), "best": res.best,
                          "scenario": res.scenario})
    text = _crisis_text(fake)
    assert "faster" not in text and "sooner" not in text and "2x less" in text


def test_cli_dispatches_fleet_tracks_and_rejects_datacenter_options():
    from click.testing import CliRunner

    from explorer.cli import main

    r = CliRunner().invoke(main, ["solve", "3d", "--track", "tiny", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["extra"]["form"] == "fleet" and "MFU" not in d["headline"]
    r = CliRunner().invoke(main, ["solve", "3d", "--track", "edge", "--fix", "pp=8"])
    assert r.exit_code == 2 and "fleet form" in r.output and "Traceback" not in r.output
    with pytest.raises(UsageError):
        fleet3d.solve_fleet("cloud")


def test_registry_solve_refuses_datacenter_options_unless_they_are_the_defaults():
    # The defaults are read from make_setup / make_instance's signatures: max_bubble 0.10 and cross_entropy
    # "unfused" there, so passing exactly those is "not given", while any other value is a datacenter option.
    from explorer.puzzles import threed

    report = threed.solve("edge", max_bubble=0.10, cross_entropy="unfused", recompute_every=1, model=None)
    assert report.extra["form"] == "fleet"
    for key, value in (("max_bubble", 0.2), ("cross_entropy", "te"), ("recompute_every", 2),
                       ("grad_accumulation_fusion", False), ("gpus", 64)):
        with pytest.raises(UsageError, match=f"{key}: datacenter option"):
            threed.solve("edge", **{key: value})


@pytest.mark.parametrize("track", ["edge", "mobile"])
def test_the_report_times_are_wall_clock_and_no_daily_limit_binds_a_run_inside_one_window(solved, track):
    # every optimum here ends inside its first window (R <= f): its time is R x D, the report says which
    # convention it uses, and neither the window nor the energy budget is called binding
    res = solved[track]
    b, r = res.best, res.report
    assert b["fits_one_window"] and b["days"] * 86_400 == pytest.approx(b["rounds"] * b["round_time"])
    assert "all in the first" in r.headline and "binds" not in r.headline
    how = next(f.answer for f in r.findings if f.question == "How was it solved?")
    assert "wall clock from the opening of a daily window" in how
    assert r.extra["objective"]["convention"] == "wall clock from the opening of a daily window"
    daily = [c for c in r.constraints if "first day" in c.name]
    assert daily and not any(c.binding for c in daily)
    assert not any("rounds x round time" in c.name for c in r.constraints)


def test_tiny_runs_past_its_first_window_because_the_energy_budget_binds(solved):
    # tiny's relayed ring: each earbud's radio spends 23.5 nJ a payload bit (links.toml ble), so f = budget / (q E)
    # rounds a day fit the 86.4 J budget, fewer than the R the target needs: the first day is the budget's and the
    # time is 1 whole day + the last day's remaining rounds x D (federated.time_to_target_s, by hand here)
    b, r = solved["tiny"].best, solved["tiny"].report
    assert not b["fits_one_window"] and b["binding"] == "energy budget"
    assert b["rounds_per_day"] == pytest.approx(b["budget_j"] / (b["participation"] * b["energy_round"]))
    full_days = math.ceil(b["rounds"] / b["rounds_per_day"]) - 1
    assert full_days == 1
    hand = full_days * 86_400 + (b["rounds"] - full_days * b["rounds_per_day"]) * b["round_time"]
    assert b["days"] * 86_400 == pytest.approx(hand, rel=1e-12)
    assert "over 2 days of training" in r.headline and "energy budget binds" in r.headline


def test_the_window_binds_when_the_run_needs_more_than_one_day():
    # edge on 5G alone with a 4 h shift: the 5G rate spreads over the vehicles (links.toml throughput_sigma), so
    # the best run closes its rounds at the median (deadline 0.5) and selects 20 %: 2,000 vehicles x 2 x 171,950,592 B
    # / 12.5 GB/s = 55.02 s through the aggregator, longer than the median vehicle's 49.19 s sync + its local steps;
    # 14,400 / 55.02 = 261.7 rounds a day, fewer than the rounds the target needs: the first day is spent to the
    # window's close, and the constraint row names what sets the round's length, the aggregator's network
    from explorer.puzzles.fleet3d.report import binds, timing

    _, _, f = _edge_on_5g_alone(4.0)
    assert f["round_time"] == pytest.approx(2000 * 2 * 171_950_592 / 12.5e9, rel=1e-9) and f["server_bound"]
    assert f["rounds_per_day"] == pytest.approx(14_400 / f["round_time"], rel=1e-12)
    assert not f["fits_one_window"] and f["first_day_s"] == pytest.approx(f["window_s"])
    assert binds(f) == "aggregator network" and "over 2 days of training" in timing(f)


def test_the_local_link_a_split_uses_is_not_said_never_offered(solved):
    from explorer.puzzles.fleet3d.report import _never_split

    # mobile: the glasses reach their phone over the round's own link (Bluetooth LE or Wi-Fi, model.build_tables:
    # local_link None), and the optimum's split uses it: only the phone's link to the aggregator is never offered
    mobile = solved["mobile"]
    text = _never_split(mobile.scenario)
    offered, never = text.split("; never ")
    assert "Bluetooth LE 2M PHY" in offered and "Bluetooth LE" not in never
    assert "from the phone to the aggregator" in never
    assert mobile.best["split"] < mobile.scenario.layers  # the optimum does split with the phone
    # tiny: NFMI inside the pair is offered; BLE between wearers is not
    offered, never = _never_split(solved["tiny"].scenario).split("; never ")
    assert "Near-field magnetic induction" in offered and "Bluetooth LE 1M PHY" in never
    # edge: no partner, nothing to split with; the wide-area links are never offered
    assert _never_split(solved["edge"].scenario).startswith("A pipeline stage across 5G uplink")


def test_every_formula_of_the_math_peek_names_its_source():
    from explorer.puzzles.fleet3d.report import FORMULAS

    assert all(f.source.strip() for f in FORMULAS)
    t = next(f for f in FORMULAS if f.name.startswith("time to the target"))
    assert "time_to_target_s" in t.source and "R x D when R <= f" in t.expression


def test_tiny_sync_physics_by_hand_on_half_duplex_radios():
    # Every tiny sync path is radio: BLE 1M (7.5 ms, 1 Mb/s x 0.60 / 8 = 75,000 B/s) between earbuds and NFMI
    # (2 ms, 596 kb/s x 0.80 / 8 = 59,600 B/s) inside a pair, both half duplex (links.toml duplex). A device
    # sends AND receives every exchange's M on its one radio, in turn: an exchange is alpha + 2 M/B.
    # Contact graph (seed 0): wearer graph max degree 10, earbud graph 21, relayed ring over k = 50 wearers
    # with edges up to 6 hops.
    scn = scenario.load("tiny")
    tb = model.build_tables(scn)
    assert [t.key for t in tb.scn.tiers] == ["gossip", "pair_gossip", "full_sync"]
    assert (tb.graphs["wearers"]["max_degree"], tb.graphs["earbuds"]["max_degree"]) == (10, 21)
    assert (tb.graphs["ring"]["wearers"], tb.graphs["ring"]["max_hops"]) == (50, 6)
    ble = lambda m: 0.0075 + 2 * m / 75_000  # noqa: E731  one BLE exchange of m bytes each way
    # whole model on each earbud (no split): m = 51,072 B of trained weights on each earbud
    i = next(i for i, p in enumerate(tb.scn.placements) if p.split == scn.layers)
    m = 51_072.0
    assert tb.values["sync_bytes_device"][i] == m
    #   gossip between earbuds: 21 x (0.0075 + 2 x 51072/75000) = 21 x 1.369420 = 28.757820 s
    #   pair gossip: NFMI swap (both earbuds send on one carrier) 0.002 + 2 x 51072/59600 = 1.715826 s, hand back
    #   0.002 + 51072/59600 = 0.858913 s, then 10 BLE exchanges 13.694200 s: 16.268938 s
    #   relayed ring: the same NFMI 2.574738 s + 2 x 49 x 6 x (0.0075 + 2 x 51072/(50 x 75000)) = 588 x
    #   0.0347384 = 20.426179 s: 23.000917 s
    nfmi = (0.002 + 2 * m / 59_600) + (0.002 + m / 59_600)
    assert tb.values["t_sync"][i] == pytest.approx(
        [21 * ble(m), nfmi + 10 * ble(m), nfmi + 588 * (0.0075 + 2 * m / (50 * 75_000))], rel=1e-12)
    assert tb.values["t_sync"][i] == pytest.approx([28.757820, 16.268938, 23.000917], rel=1e-6)
    # split 4/1 with the other earbud, top 2 trained: each earbud gossips its own part with its side's earbuds
    # of the 10 wearers in range, m = max(50,816, 59,264) B: 10 x (0.0075 + 2 x 59264/75000) = 15.878733 s both
    # gossip tiers (no NFMI swap), ring 588 x (0.0075 + 2 x 59264/3.75e6) = 22.995190 s (full duplex: 13.70 s)
    j = next(j for j, p in enumerate(tb.scn.placements) if (p.split, p.trainable) == (4, 2))
    assert tb.values["t_sync"][j] == pytest.approx([15.878733, 15.878733, 22.995190], rel=1e-6)


def test_a_rounds_radio_energy_holds_no_compute_even_where_the_other_earbud_computes_more():
    """A pair of earbuds: each is a fleet member, so a round costs the busier earbud's compute (P x max(t_a, t_b))
    plus the split's radio (bytes x 8 x J/bit of the local link, energy.transfer_energy_j). The round's compute share
    took the device's own t_a, so where the partner computed more (split 1/4: one layer here, four there) its extra
    compute was reported as radio energy. Unpruned, the tiny track holds such splits."""
    from explorer.cost import energy

    scn = scenario.load("tiny")
    tb = model.build_tables(scn, prune=False)
    p_w = scn.setup.cluster.accelerator.tdp_w
    lk = scn.local_link
    seen_busier_partner = False
    for p in range(len(scn.placements)):
        for b in range(len(scn.micro_batches)):
            for t in range(len(scn.tiers)):
                idx = {"placement": p, "micro_batch": b, "local_steps": 0, "participation": 0, "deadline": 0,
                       "tier": t}
                t_a, t_b = float(tb.at("t_device", idx)), float(tb.at("t_partner", idx))
                seen_busier_partner |= t_b > t_a
                radio = float(tb.at("split_bytes", idx)) * 8 * (lk or scn.tiers[t].link).energy_j_per_bit
                assert float(tb.at("e_local_compute", idx)) == pytest.approx(p_w * max(t_a, t_b), rel=1e-12)
                assert float(tb.at("e_local", idx)) == pytest.approx(p_w * max(t_a, t_b) + radio, rel=1e-12)
                f = model.evaluate(tb, idx)
                h = f["local_steps"]
                assert f["energy_radio"] == pytest.approx(h * radio + float(tb.at("e_sync", idx)), rel=1e-9, abs=1e-15)
    assert seen_busier_partner and energy.compute_energy_j(p_w, 1.0) == p_w


def test_the_status_badge_says_what_the_proof_covers(solved):
    """The fleet 3D search leaves update compression out (its step cost comes from the compression part's simulation),
    so 'OPTIMAL (proven)' alone overstated: the badge, in every renderer and after a JSON round trip, says the proof
    is over uncompressed updates; a proof over the whole space (the cloud track's 3D puzzle) keeps the plain badge."""
    from explorer.reports.render import render

    from explorer.report import Report, status_label

    rep = solved["edge"].report
    assert rep.status == "optimal" and status_label(rep) == "OPTIMAL (proven over uncompressed updates)"
    for fmt in ("text", "markdown", "html"):
        assert "proven over uncompressed updates" in render(rep, fmt)
    again = Report.from_dict(json.loads(render(rep, "json")))
    assert status_label(again) == "OPTIMAL (proven over uncompressed updates)"
    from explorer.puzzles import solve as solve_part

    assert status_label(solve_part("3d", "cloud")) == "OPTIMAL (proven)"
