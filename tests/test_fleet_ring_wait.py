"""Sweep A items 1-3 on the fleet form of the 3D puzzle.

1. A ring all-reduce cannot drop a late member part-way (every chunk passes through every member), so a round on the
   relayed ring waits for the slowest replica: D = t_sync + t_local x E[max over K of the sum of H step times], all
   K averaged; a star (aggregator) still closes at the deadline quantile and drops the late ones.
2. The proof covers uncompressed updates only, and the status line says so and names the compression part.
3. Local SGD's local steps are not stale gradients: no staleness bound (Lian et al. 2015, asynchronous SGD) limits H.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from explorer.cost import federated
from explorer.puzzles.fleet3d import model, solve_fleet


@pytest.fixture(scope="module")
def solved():
    return {t: solve_fleet(t) for t in ("edge", "tiny")}


def _sum_cdf(t: float, h: int, jitter: float, p: float, s: float) -> float:
    """P(sum of h step times <= t), t in units of t0, by hand from the step model (a step is (1 + X) t0,
    X ~ Exp(mean jitter), times s with probability p): with k straggling steps (Binomial(h, p)) the sum is
    (m + s k) + jitter (G_m + s G_k), G_a ~ Gamma(a, 1), m = h - k; P(G_m + s G_k <= w) is the integral over
    G_k's density of P(G_m <= w - s x) (scipy quad)."""
    total = 0.0
    for k in range(h + 1):
        m = h - k
        weight = math.comb(h, k) * p ** k * (1 - p) ** m
        if weight < 1e-18:
            continue
        w = (t - (m + s * k)) / jitter
        if w <= 0:
            continue
        if k == 0:
            c = special.gammainc(m, w)
        elif m == 0:
            c = special.gammainc(k, w / s)
        else:
            c, _ = integrate.quad(lambda x, k=k, m=m, w=w: stats.gamma.pdf(x, k) * special.gammainc(m, w - s * x),
                                  0, w / s, limit=200)
        total += weight * c
    return total


def _expected_max_of_sums(n: int, h: int, jitter: float, p: float, s: float) -> float:
    """E[max of n i.i.d. sums] = lo + integral from lo of (1 - F(t)^n) dt, lo = h (the least sum: no jitter, no
    straggler), F = _sum_cdf; the tail is below 1e-12 past s h (1 + jitter x 40)."""
    hi = s * h * (1 + jitter * 40)
    val, _ = integrate.quad(lambda t: 1.0 - _sum_cdf(t, h, jitter, p, s) ** n, h, hi, limit=400,
                            points=[h * (1 + jitter), s * h])
    return h + val


def test_an_all_reduce_averages_every_member_and_a_star_the_ones_on_time():
    # 100 selected, deadline at the 90% quantile: a star keeps 100 x 0.9 = 90, a ring all 100
    assert federated.round_participants(100, 0.9, True) == pytest.approx(90.0)
    assert federated.round_participants(100, 0.9, False) == pytest.approx(100.0)
    both = federated.round_participants(np.array([100.0, 100.0]), 0.5, np.array([True, False]))
    assert list(both) == pytest.approx([50.0, 100.0])


def test_tiny_ring_round_waits_for_the_slowest_replica_by_hand(solved):
    res = solved["tiny"]
    b, m = res.best, res.scenario.step_model
    assert b["tier"].graph == "ring_relayed" and b["waits_for_all"]
    # lab05 [tiny.sync]: jitter 5%, 5% stragglers at 2x; the split pairs are 100 / 2 = 50 replicas
    assert (m.jitter, m.p, m.slowdown) == (0.05, 0.05, 2.0)
    k, h = b["replicas"], b["local_steps"]
    assert k == 50 and b["participants"] == pytest.approx(50.0)  # nobody dropped: n = K, not K x phi = 49.5
    e_max = _expected_max_of_sums(k, h, 0.05, 0.05, 2.0)
    # the slowest of 50 sums of 8 steps lies above their mean, 8 x 1.05 x (0.95 + 0.05 x 2) = 8.82 t0
    assert e_max > h * 1.05 * 1.05
    # (the 99% quantile of one replica's 8 steps, what the ring was priced at before, is 10.78 t0; E[max] 10.84 t0)
    assert (b["round_time"] - b["t_sync"]) / b["t_local"] == pytest.approx(e_max, rel=1e-4)
    assert b["round_time"] == pytest.approx(b["t_sync"] + b["t_local"] * e_max, rel=1e-5)
    assert b["wait_factor"] == pytest.approx(e_max / (h * 1.05 * 1.05), rel=1e-4)
    # the deadline does not apply: every searched deadline gives the ring the same round and the same rounds
    idx = {"placement": res.scenario.placements.index(b["placement"]),
           "micro_batch": res.scenario.micro_batches.index(b["micro_batch"]),
           "local_steps": res.scenario.local_steps.index(h), "participation": 0, "deadline": 0,
           "tier": res.scenario.tiers.index(b["tier"])}
    rows = [model.evaluate(res.tables, {**idx, "deadline": j}) for j in range(len(res.scenario.deadline_quantiles))]
    assert {round(r["round_time"], 9) for r in rows} == {round(b["round_time"], 9)}
    assert {round(r["rounds"], 9) for r in rows} == {round(b["rounds"], 9)}
    # ... so the ranking lists it once, not once per deadline
    top = [(f["placement"], f["micro_batch"], f["local_steps"], f["tier"].key) for f in res.top]
    assert len(top) == len(set(top))


def test_tiny_ring_narration_drops_nobody(solved):
    rep = solved["tiny"].report
    assert "waits for the slowest replica" in rep.headline and "quantile" not in rep.headline
    said = " ".join(f.answer for f in rep.findings)
    assert "late replicas skip it" not in said and "none can be dropped part-way" in said
    assert "deadline_quantile" not in rep.figures
    top = rep.tables["top"].rows[0][1]
    assert "no deadline: the ring waits for the slowest of its 50 replicas" in top and "late ones dropped" not in top
    assert rep.extra["configuration"]["waits_for_all"] is True


def test_a_star_still_drops_late_devices_at_the_deadline(solved):
    # edge's depot Wi-Fi is a star: n = selected x phi and D = t_sync + t_local x Q_phi (one device's H-step
    # time's phi-quantile), and the aggregator's part when that is longer
    res = solved["edge"]
    b = res.best
    assert b["tier"].graph == "server" and not b["waits_for_all"]
    assert b["participants"] == pytest.approx(b["replicas"] * b["participation"] * b["deadline_quantile"])
    from explorer.cost.stragglers import quantile_of_sum

    q = quantile_of_sum(res.scenario.step_model, b["local_steps"], b["deadline_quantile"])
    assert b["round_time"] == pytest.approx(max(b["t_sync"] + b["t_local"] * q, b["server_time"]), rel=2e-3)
    assert "deadline at the" in res.report.headline


@pytest.mark.parametrize("track", ["edge", "tiny"])
def test_status_says_the_proof_is_over_uncompressed_updates(solved, track):
    res = solved[track]
    # the searched space has no compression axis (the track lists compression options that are not searched)
    assert "compression" not in res.problem.sizes and any(c > 1 for c in res.scenario.compression)
    rep = res.report
    assert f"optimal over uncompressed updates ({res.problem.radix:,} configurations evaluated; compressed " \
           f"updates: explore solve compression --track {track})" in rep.headline
    how = next(f.answer for f in rep.findings if f.question == "How was it solved?")
    assert "The proof covers uncompressed updates only" in how and "not searched" in how


def test_edge_local_steps_are_not_limited_by_a_staleness_bound(solved):
    # asynchronous SGD's bound at lr = 0.1 x stable, T = sqrt(0.45)/0.1 = 6.7, would allow at most 7 local steps;
    # local SGD's steps take fresh gradients, so every H is searched and the optimum may exceed 7
    res = solved["edge"]
    assert "staleness_limit" not in vars(res.scenario)
    assert all(not any("stale" in v for v in model.evaluate(res.tables, {
        "placement": 0, "micro_batch": 3, "local_steps": i, "participation": 5, "deadline": 1, "tier": 1})[
        "violations"]) for i in range(len(res.scenario.local_steps)))
    days = res.curve["depot"]
    h = list(res.scenario.local_steps)
    # the days-per-H curve on depot Wi-Fi: H = 8 and 16 reach the target sooner than H = 4 (the old bound's pick)
    assert days[h.index(8)] < days[h.index(4)] and days[h.index(16)] < days[h.index(4)]
    assert res.best["local_steps"] > 7
    assert not any("stale" in c.name for c in res.report.constraints)
