"""The fleet form of the 3D puzzle (explorer/puzzles/fleet3d) on the real edge, mobile and tiny tracks:
placements that respect the topology, one feasibility function for solver and evaluator, CP-SAT and
the enumeration agreeing, hand-checked round physics, and honest words about the storyboard."""

from __future__ import annotations

import json

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
    # tiny: the whole model trained on one earbud needs 869 KB of the 196.6 KB usable (767 KB more than a
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


@pytest.mark.parametrize("track", ["edge", "tiny"])
def test_cpsat_and_enumeration_agree(track):
    cp = fleet3d.solve_fleet(track, engine="cpsat")
    en = fleet3d.solve_fleet(track, engine="enumerate")
    assert cp.status == "optimal" and cp.exhaustive_agrees
    assert cp.problem.score(_idx(cp))["z"] == en.problem.score(_idx(en))["z"]
    assert cp.best["days"] == pytest.approx(en.best["days"])


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
        # the integer objective is ln(time to target) to 1e-4, up to the constant ln(seconds per day)
        if f["feasible"]:
            z = pr.score(idx)["z"] / log_tables.SCALE
            assert z == pytest.approx(np.log(f["days"]), abs=5e-4 * len(pr.base) + 5e-4 * 4)
    # and the optimum is the least time to target among every feasible configuration
    obj, ok, grids = log_tables.evaluate_all(pr)
    best_days = min(model.evaluate(tb, {d: int(grids[d][k]) for d in pr.sizes})["days"]
                    for k in np.argsort(obj)[:3] if ok[k])
    assert res.best["days"] == pytest.approx(best_days, rel=2e-3)


def test_edge_round_physics_by_hand(solved):
    # 5G tier, whole model: the sync moves the FP16 model down and the update up over the vehicle's uplink:
    # 2 alpha + 2 M / B = 2 x 0.030 + 2 x 171,950,592 B / (50 Mb/s x 0.70 / 8) = 0.06 + 78.61 = 78.67 s
    res = solved["edge"]
    cell = res.per_tier["cellular"]
    assert cell["t_sync"] == pytest.approx(0.06 + 2 * 171_950_592 / (50e6 * 0.7 / 8), rel=1e-9)
    # the staleness the lab's step tolerates (lr = 0.1 x stable): T <= sqrt(0.45)/0.1 = 6.7 -> H <= 7
    assert res.best["local_steps"] <= 7 and all(f["local_steps"] <= 7 for f in res.top)
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
