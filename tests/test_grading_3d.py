"""The 3D grader applies the solvers' own feasibility function (threed.feasibility.check_configuration) to the
scenario the report was solved for: the solver's answer under any options is graded at the optimum, and a
configuration outside the searched space is said to be so, never 'beats the optimum'."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _attempts import attempts_csv
from explorer.reports.attempts import attach_attempts, grade_file

from explorer.puzzles.threed import evaluate_attempt, instance_for, solve_3d
from explorer.puzzles.threed import space as rules
from explorer.puzzles.threed.feasibility import check_configuration
from explorer.puzzles.threed.space import build_space, candidate_arrays
from explorer.report import Report
from explorer.solvers.threed_enumerate import enumerate_space

RC = {0: "none", 1: "selective", 2: "full"}



def _answer(report: Report) -> dict:
    c = report.extra["configuration"]
    return {k: c[k] for k in ("tp", "pp", "dp", "micro_batch", "cp", "virtual_stages", "zero", "recompute",
                              "sequence_parallel", "framework", "hsdp")}


def test_check_configuration_agrees_with_the_exhaustive_search_row_by_row():
    """Every candidate the exhaustive search scores is feasible for the grader exactly when the search
    marks it feasible (edge track: 12-layer model, 10,000 devices)."""
    inst = instance_for("edge")
    en = enumerate_space(inst, rules=rules)
    c = en.columns
    assert en.feasible > 0 and en.evaluated > en.feasible  # both kinds are present
    rng = np.random.default_rng(0)
    rows = np.concatenate([np.arange(min(en.feasible, 150)),
                           rng.choice(np.arange(en.feasible, en.evaluated), size=150, replace=False)])
    space = build_space(inst)
    for i in rows:
        cfg = {"tp": int(c["tp"][i]), "pp": int(c["pp"][i]), "dp": int(c["dp"][i]), "micro_batch": int(c["mb"][i]),
               "cp": int(c["cp"][i]), "virtual_stages": int(c["v"][i]), "zero": int(c["zero"][i]),
               "recompute": RC[int(c["rc"][i])], "sequence_parallel": bool(c["sp"][i]), "hsdp": bool(c["hsdp"][i])}
        chk = check_configuration(inst, cfg, space)
        assert chk.feasible == bool(c["feasible"][i]), (cfg, chk)
        assert not chk.outside
        assert int(chk.figures["memory_total"]) == int(c["memory_total"][i])


def test_every_structurally_valid_configuration_is_a_candidate():
    """The converse on a small box: a configuration passing every per-variable and joint rule is among
    candidate_arrays (so the grader's feasible set is not larger than the solver's)."""
    inst = instance_for("cloud", gpus=16, global_batch=16, model="llama3_8b")
    space = build_space(inst)
    cand = candidate_arrays(inst, space)
    keys = set(zip(*(cand[k].tolist() for k in ("tp", "cp", "pp", "dp", "v", "mb", "zero", "rc", "sp"))))
    seen = 0
    for tp in (1, 2, 4, 8, 16):
        for pp in (1, 2, 4, 8, 16):
            for cp in (1, 2):
                for v in (1, 2, 5):
                    for mb in (1, 2, 3):
                        if 16 % (tp * pp * cp):
                            continue
                        dp = 16 // (tp * pp * cp)
                        cfg = {"tp": tp, "pp": pp, "dp": dp, "micro_batch": mb, "cp": cp, "virtual_stages": v,
                               "zero": 1, "recompute": "full", "sequence_parallel": tp > 1}
                        chk = check_configuration(inst, cfg, space)
                        structural = not chk.outside and not [x for x in chk.violations
                                                              if x.name not in ("memory", "bubble")]
                        key = (tp, cp, pp, dp, v, mb, 1, 2, int(tp > 1))
                        assert structural == (key in keys), cfg
                        seen += structural
    assert seen > 10


@pytest.mark.parametrize("options", [
    {"gpus": 512, "global_batch": 256},  # the case: was graded "devices 512 != 1,024"
    {"model": "llama3_8b", "gpus": 64, "global_batch": 128, "network": "roce_400g", "max_bubble": 0.2},
    {"gpus": 256, "global_batch": 128, "fix": {"zero": 3}, "framework": "any"},
    # a scenario's stack inputs travel with it: every 4th layer checkpointed, and FSDP2 at FP8 gathering in FP8
    {"gpus": 256, "global_batch": 128, "fix": {"recompute": "full"}, "recompute_every": 4},
    {"gpus": 256, "global_batch": 128, "framework": "fsdp", "precision": "fp8", "fp8_all_gather": True},
])
def test_the_solvers_own_answer_is_graded_at_the_optimum(tmp_path, options):
    report = solve_3d("cloud", top=1, **options).report
    assert report.status == "optimal"
    assert report.scenario["gpus"] == options["gpus"] and report.scenario["global_batch"] == options["global_batch"]
    g = grade_file(report, attempts_csv(tmp_path, [_answer(report)]))[0]
    assert g.error == "" and g.feasible and g.reached_optimum and g.gap_text == "at the optimum", g
    # ... and after a JSON round trip (a saved report keeps its scenario)
    saved = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert saved.scenario == report.scenario
    assert grade_file(saved, attempts_csv(tmp_path, [_answer(report)]))[0].reached_optimum


def test_a_hand_written_plan_for_a_non_default_model_and_cluster(tmp_path):
    """Llama-3-8B on 64 H100s over RoCE, global batch 128: TP=2 PP=2 DP=16 mb=2 (x4), ZeRO-1, selective
    recompute. Checked by hand: 2 x 2 x 16 = 64 devices; 16 x 2 x 4 = 128 sequences; PP x v = 2 <= 32
    layers; bubble (2-1)/(4+2-1) = 20% > 10% (the default limit), so it is graded infeasible on the
    bubble, and feasible once the scenario allows a 25% bubble."""
    plan = {"tp": 2, "pp": 2, "dp": 16, "micro_batch": 2, "cp": 1, "virtual_stages": 1, "zero": 1,
            "recompute": "selective", "sequence_parallel": 1}
    opts = {"model": "llama3_8b", "gpus": 64, "global_batch": 128, "network": "roce_400g"}
    r = evaluate_attempt(plan, "cloud", **opts)
    assert not r["feasible"] and [c.name for c in r["violations"]] == ["bubble"]
    assert r["figures"]["bubble_fraction"].value == pytest.approx(0.2)
    r = evaluate_attempt(plan, "cloud", **opts, max_bubble=0.25)
    assert r["feasible"] and 0 < r["objective"] < 1


def test_an_attempt_may_name_its_framework_as_its_users_do():
    # an attempts file that says 'NeMo' (Megatron-Core underneath) is graded as Megatron-LM, and one that says
    # 'torchtitan' as FSDP2; a name that is no framework stays a usage error
    plan = {"tp": 2, "pp": 2, "dp": 16, "micro_batch": 2, "cp": 1, "virtual_stages": 1, "zero": 1,
            "recompute": "selective", "sequence_parallel": 1}
    opts = {"model": "llama3_8b", "gpus": 64, "global_batch": 128, "max_bubble": 0.25}
    named = evaluate_attempt({**plan, "framework": "NeMo"}, "cloud", **opts)
    plain = evaluate_attempt({**plan, "framework": "megatron"}, "cloud", **opts)
    assert named["feasible"] and named["objective"] == plain["objective"]
    from explorer.errors import UsageError

    with pytest.raises(UsageError, match="'jax' is not one of"):
        evaluate_attempt({**plan, "framework": "jax"}, "cloud", **opts)


def test_outside_the_searched_space_is_never_beating_the_optimum(tmp_path):
    report = solve_3d("cloud", top=1).report
    best = _answer(report)
    cp64 = {**best, "cp": 64}  # the box ends at CP = 32
    f = attempts_csv(tmp_path, [cp64, best])
    out = attach_attempts(report, f)
    g = out.extra["attempts"][0]
    assert not g["feasible"] and "beats" not in g["gap_text"]
    assert "CP = 64 is outside the searched space: 64 exceeds 32, the largest CP searched" in g["gap_text"]
    assert out.extra["attempts"][1]["reached_optimum"]


def test_a_micro_batch_that_does_not_split_the_batch_is_moved_to_the_nearest_that_does(tmp_path):
    # DP 64 of the cloud's global batch 512 leaves 8 sequences per rank; micro-batches that divide 8 are 1, 2, 4, 8.
    # Every searched micro-batch is a candidate (the nearest, 2 and 4, among them); both attempts are the optimum
    # with its micro-batch 1 changed, so the best single change is back to 1, which reaches the optimum; the numbers
    # are printed grouped, as the violation prints them.
    report = solve_3d("cloud", top=1).report
    best = _answer(report)
    odd, huge = {**best, "dp": 64, "micro_batch": 3}, {**best, "dp": 64, "micro_batch": 10**9}
    odd["tp"], odd["pp"], odd["cp"] = huge["tp"], huge["pp"], huge["cp"] = 8, 2, 1
    r = evaluate_attempt(odd, "cloud")
    assert {w["micro_batch"] for w in r["neighbours"]} >= {2, 4}
    for bad in (0, -2):  # through the API no file check runs first: graded infeasible, no move divides by it
        assert not evaluate_attempt({**odd, "micro_batch": bad}, "cloud")["feasible"]
    out = attach_attempts(report, attempts_csv(tmp_path, [odd, huge]))
    moves = [g["best_move"] for g in out.extra["attempts"]]
    assert best["micro_batch"] == 1, best
    assert moves[0].startswith("micro_batch 3 -> 1 (becomes feasible") and moves[0].endswith(": the optimum)"), moves
    assert moves[1].startswith("micro_batch 1,000,000,000 -> 1 (becomes feasible"), moves
    assert "DP x micro-batch = 64,000,000,000" in " ".join(map(str, out.extra["attempts"][1]["violations"]))


def test_edge_pp_beyond_the_layers_is_outside_the_space():
    r = evaluate_attempt({"tp": 1, "pp": 20, "dp": 500, "micro_batch": 1}, "edge")
    assert not r["feasible"]
    assert any(t.startswith("PP = 20 is outside the searched space") and "12 layers" in t for t in r["outside_space"])


def test_missing_columns_default_to_the_scenario_pins():
    """--fix zero=3 in the scenario: an attempt without a zero column is graded at ZeRO-3."""
    a = evaluate_attempt({"tp": 8, "pp": 1, "dp": 32, "micro_batch": 1}, "cloud", gpus=256, global_batch=128,
                         fix={"zero": 3})
    b = evaluate_attempt({"tp": 8, "pp": 1, "dp": 32, "micro_batch": 1, "zero": 3}, "cloud", gpus=256,
                         global_batch=128, fix={"zero": 3})
    assert a["objective"] == b["objective"]
    c = evaluate_attempt({"tp": 8, "pp": 1, "dp": 32, "micro_batch": 1, "zero": 1}, "cloud", gpus=256,
                         global_batch=128, fix={"zero": 3})
    assert any("ZeRO = 1 is outside the searched space: pinned to 3" in t for t in c["outside_space"])


def test_frontier_places_an_attempt_at_its_own_gpu_count(tmp_path):
    """A 256-GPU plan on a frontier over 256 and 1,024 GPUs sits at 256 GPUs (it was graded against the track's
    1,024 and dropped before); a malformed row is listed, not silently lost."""
    from explorer.reports.frontier import attempt_points, frontier_report

    from explorer.frontier import frontier

    result = frontier("3d", "cloud", gpu_counts=[256], levels=1)
    report = frontier_report(result)
    best = result.points[0]
    f = tmp_path / "f.csv"
    f.write_text("tp,pp,dp,cp,micro_batch,virtual_stages,zero,recompute\n"
                 f"{best['tp']},{best['pp']},{best['dp']},{best['cp']},{best['micro_batch']},"
                 f"{best['virtual_stages']},{best['zero']},{best['recompute']}\n0,1,1,1,1,1,1,none\n")
    skipped: list[str] = []
    pts = attempt_points(result, report, f, skipped)
    assert [p["gpus"] for p in pts] == [256]
    assert pts[0]["on_frontier"] and pts[0]["tokens_per_s"] == pytest.approx(best["tokens_per_s"], rel=1e-9)
    assert len(skipped) == 1 and "field 'tp'" in skipped[0]
