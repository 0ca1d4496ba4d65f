"""The sum of H local step times (explorer/cost/stragglers.py: sum_of_steps, quantile_of_sum,
expected_max_of_sums) and the sync audit's --nodes message.

The deadline of a fleet round is a quantile of the time one device needs for H local steps. It was an
H-fold FFT convolution on a grid of width t0 / 400 that ran to slowdown x t0: at the largest allowed
slowdown (1,000) and H = 256, an FFT of ~1e8 points per configuration, and `explore solve sync --track edge
--slowdown 1000` ran for minutes. The grid now follows each term's own support; its size does not depend
on the slowdown (asserted on the cell count, not on seconds)."""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from explorer.cost import stragglers as st
from explorer.cost.stragglers import (
    StepTimeModel,
    expected_max,
    expected_max_of_sums,
    quantile_of_sum,
    sum_distribution,
    sum_of_steps,
)


# --- exact cases: no stragglers (p = 0) or all of them (p = 1) ---------------------------------------------
def _erlang_cdf(x: float, h: int) -> float:
    """P(G_h <= x) for G_h ~ Gamma(h, 1) with whole h (Erlang): 1 - exp(-x) sum_{i<h} x^i / i!."""
    return 1.0 - sum(math.exp(i * math.log(x) - x - math.lgamma(i + 1)) for i in range(h))  # terms in logs


@pytest.mark.parametrize("h", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_quantile_without_stragglers_is_the_shifted_erlang_quantile(h, q):
    # T = t0 (1 + X), X ~ Exp(mean j): the sum of h is t0 (h + j G_h), G_h ~ Erlang(h, 1). So the q-quantile d
    # satisfies P(G_h <= (d / t0 - h) / j) = q, checked with the Erlang CDF written out above (no scipy).
    t0, j = 2.0, 0.1
    d = quantile_of_sum(StepTimeModel(t0, j, 0.0, 3.0), h, q)
    assert _erlang_cdf((d / t0 - h) / j, h) == pytest.approx(q, abs=1e-9)


def test_quantile_of_one_and_two_steps_by_hand():
    # h = 1: t0 (1 + j ln(1 / (1 - q))); t0 = 1, j = 0.1, q = 0.9: 1 + 0.1 ln 10 = 1.2302585093
    m = StepTimeModel(1.0, 0.1, 0.0, 1.0)
    assert quantile_of_sum(m, 1, 0.9) == pytest.approx(1.2302585093, rel=1e-9)
    # h = 2, q = 1 - 2/e^1: P(G_2 <= 1) = 1 - e^-1 (1 + 1) = 1 - 2/e, so the quantile is t0 (2 + j x 1) = 2.1
    assert quantile_of_sum(m, 2, 1.0 - 2.0 / math.e) == pytest.approx(2.1, rel=1e-9)


def test_every_step_a_straggler_is_the_erlang_scaled_by_the_slowdown():
    # p = 1: every step takes s t0 (1 + X): the sum is s t0 (h + j G_h); at s = 1,000 and h = 256 (the range's
    # extremes on the edge track) the median solves the Erlang CDF = 0.5
    t0, j, s, h = 1.0, 0.1, 1000.0, 256
    d = quantile_of_sum(StepTimeModel(t0, j, 1.0, s), h, 0.5)
    assert _erlang_cdf((d / (s * t0) - h) / j, h) == pytest.approx(0.5, abs=1e-9)


def test_no_jitter_is_point_masses():
    # j = 0: the sum of h = 4 steps is t0 (4 + (s - 1) k), k ~ Binomial(4, p); p = 0.5, s = 3: P(k = 0) = 1/16,
    # P(k <= 1) = 5/16, P(k <= 2) = 11/16. The 0.5 quantile is k = 2: 4 + 2 x 2 = 8 t0
    m = StepTimeModel(1.0, 0.0, 0.5, 3.0)
    assert quantile_of_sum(m, 4, 0.5) == pytest.approx(8.0)
    assert quantile_of_sum(m, 4, 0.3) == pytest.approx(6.0)
    # E[max of 2 sums]: P(max <= t) = F(t)^2 over the atoms 4, 6, 8, 10, 12 with F = 1, 5, 11, 15, 16 / 16
    f = np.array([1, 5, 11, 15, 16]) / 16.0
    want = float(np.sum(np.array([4, 6, 8, 10, 12]) * np.diff(np.concatenate([[0.0], f ** 2]))))
    assert expected_max_of_sums(m, 2, 4) == pytest.approx(want, rel=1e-12)


# --- stragglers: against a seeded Monte Carlo ---------------------------------------------------------------
@pytest.mark.parametrize("p, s, h", [(0.05, 3.0, 8), (0.3, 5.0, 16), (0.05, 1000.0, 64), (0.001, 1000.0, 256),
                                     (0.5, 1000.0, 256)])
def test_mixture_quantiles_agree_with_a_large_monte_carlo(p, s, h):
    # 200,000 seeded sums (100,000 of 256 steps): the share of sums at or below each computed quantile is q
    # within 4 standard errors of a proportion, sqrt(q (1 - q) / draws) <= 0.0016
    m = StepTimeModel(1.0, 0.1, p, s)
    rng = np.random.default_rng(7)
    draws = 200_000 if h <= 64 else 100_000
    rows = max(1, 2_000_000 // h)
    sums = np.concatenate([m.sample(rng, (rows, h)).sum(axis=1) for _ in range(-(-draws // rows))])[:draws]
    for q in (0.5, 0.8, 0.9, 0.95, 0.99):
        d = quantile_of_sum(m, h, q)
        se = math.sqrt(q * (1 - q) / sums.size)
        assert abs(np.mean(sums <= d) - q) < 4 * se + 1e-4, (q, d)


def test_expected_max_of_one_step_sums_is_the_quadrature_and_of_many_the_monte_carlo():
    m = StepTimeModel(1.0, 0.1, 0.05, 1000.0)
    assert expected_max_of_sums(m, 10_000, 1) == pytest.approx(expected_max(m, 10_000), rel=1e-6)
    m = StepTimeModel(1.0, 0.1, 0.05, 2.0)  # the tiny track's model, a 50-member ring, H = 64
    mc, se = st.monte_carlo_max(m, 50, 4000, seed=1, h=64)
    assert abs(expected_max_of_sums(m, 50, 64) - mc) < 4 * se


# --- the grid is bounded whatever the slowdown ---------------------------------------------------------------
def test_grid_size_does_not_grow_with_the_slowdown():
    # the old grid had slowdown x (1 + j (ln n + 40)) x 400 cells per step, times h: 5 x 10^5 x 256 at s = 1,000
    sizes = {}
    for s in (2.0, 10.0, 1000.0):
        m = StepTimeModel(1.0, 0.1, 0.05, s)
        d = sum_of_steps(m, 256)
        sizes[s] = d.cells
        assert len(d.weights) <= 257 and d.cells <= len(d.weights) * (st.TERM_CELLS + 2)
        values, cdf = sum_distribution(m, 256)
        assert values.size <= st.MAX_GRID_POINTS and cdf[-1] == pytest.approx(1.0) and np.all(np.diff(cdf) >= 0)
    assert sizes[1000.0] == sizes[2.0]
    # all stragglers, or none: one exact Gamma term, no grid at all
    assert sum_of_steps(StepTimeModel(1.0, 0.1, 1.0, 1000.0), 256).cells == 0


# --- the sync audit's --nodes message names the track's allowed counts --------------------------------------
def _cli(*args):
    from explorer.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=True)


@pytest.mark.parametrize("nodes", ["0", "1", "5", "514"])
def test_tiny_nodes_message_names_every_rule_of_the_track(nodes):
    # was: 0 -> 'must be a whole number in 1..131,072' (a range that holds 1, 3, 5, ... which the track then refused)
    r = _cli("solve", "sync", "--track", "tiny", "--nodes", nodes)
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "131,072" not in line
    assert "at least 4 on the tiny track" in line and "a multiple of 2" in line and "at most 512" in line
    assert line.endswith(f"got {nodes}")


def test_cloud_nodes_message_names_the_replica_size():
    r = _cli("solve", "sync", "--no-zero", "--nodes", "0")
    assert r.exit_code == 2
    assert "at least 128 on the cloud track" in r.stderr and "a multiple of 64" in r.stderr
    assert r.stderr.strip().endswith("got 0")


def test_edge_nodes_message():
    r = _cli("solve", "sync", "--track", "edge", "--nodes", "1")
    assert r.exit_code == 2
    assert r.stderr.strip() == ("error: nodes must be at least 2 on the edge track (two replicas to average) and at "
                                "most 131,072, got 1")
