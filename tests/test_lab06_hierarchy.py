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


def test_cloud_optimum_and_constraints_by_hand():
    r = h.solve("cloud")
    # G = 512 over N = 128 devices -> b x a = 4. b = 4 (a = 1): 40 + 4 x 12 = 88 GB > 72 GB: infeasible;
    # b = 2, a = 2: 40 + 2 x 12 + 4 (FP32 accumulation buffer) = 68 GB <= 72 GB.
    assert r.extra["configuration"]["accumulation"] == 2
    assert r.figure("memory_bytes") == pytest.approx(68e9)
    assert r.extra["configuration"]["aggregation"] == 8
    assert r.status == "optimal" and r.extra["exhaustive_check"]["agrees"]
    # hierarchy helps, and more when the slow tier is 100x slower than NVLink
    assert r.figure("hierarchical_multiplier") > 2
    assert r.figure("multiplier_100x_slower") > r.figure("hierarchical_multiplier")
    wf = r.data["comm_waterfall"]["configs"][0]["phases"]
    assert sum(wf.values()) == pytest.approx(r.figure("sync_time_s"))


def test_attempts_use_the_same_evaluator():
    r = h.solve("cloud")
    ok = h.evaluate_attempt({k: str(v) for k, v in r.extra["configuration"].items()}, "cloud")
    assert ok["feasible"] and ok["objective"] == pytest.approx(r.extra["objective"]["value"])
    bad = h.evaluate_attempt({"aggregation": "8", "intra_algorithm": "ring", "inter_algorithm": "ring",
                              "accumulation": "1"}, "cloud")
    assert not bad["feasible"] and [c.name for c in bad["violations"]] == ["memory"]
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
    # g = 3 is not among the aggregation choices CP-SAT searches: outside the space, not compared
    r = h.evaluate_attempt({"aggregation": 3, "intra_algorithm": "ring", "inter_algorithm": "ring",
                            "accumulation": 1}, "cloud")
    assert not r["feasible"] and r["outside_space"][0].startswith("aggregation = 3 is outside the searched space")
    with pytest.raises(UsageError):
        h.evaluate_attempt({"aggregation": 8, "intra_algorithm": "rng", "accumulation": 1}, "cloud")
