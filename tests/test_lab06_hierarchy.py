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
    assert sum(ph.values()) == pytest.approx(r.figure("serial_time_s"))
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
