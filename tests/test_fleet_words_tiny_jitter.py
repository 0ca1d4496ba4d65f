"""A jitter too small for double precision is computed stably (defect 8 of the fleet words review): `explore solve
sync --jitter 1e-310` passed validation and printed numpy "RuntimeWarning: overflow encountered in divide" from
stragglers.SumOfSteps._term_cdf ((t - offset) / (t0 x jitter) with a subnormal divisor), and below about 3e-17 the
mixture's grid collapsed onto its atoms (E[max of 100 sums of 16 steps] read 4% high at 1e-18). The limit is exact:
the sum of h steps with jitter j -> 0 is the jitter-free mixture of point masses t0 (h + (s - 1) k), k ~
Binomial(h, p), whose E[max of n] at h = 1 is t0 (1 + (s - 1)(1 - (1 - p)^n)) by hand."""

from __future__ import annotations

import warnings

import pytest

from explorer.cost.stragglers import JITTER_RESOLUTION, StepTimeModel, expected_max_of_sums, quantile_of_sum


def test_a_jitter_below_the_resolution_is_none_and_above_it_is_kept():
    assert StepTimeModel(1.0, JITTER_RESOLUTION / 10, 0.05, 3.0).jitter == 0.0
    assert StepTimeModel(1.0, JITTER_RESOLUTION, 0.05, 3.0).jitter == JITTER_RESOLUTION
    # just above it the continuous formulas still agree with the jitter-free limit to ~30 x jitter (measured bound)
    at = StepTimeModel(1.0, JITTER_RESOLUTION, 0.05, 3.0)
    none = StepTimeModel(1.0, 0.0, 0.05, 3.0)
    for h in (1, 16, 256):
        assert expected_max_of_sums(at, 100, h) == pytest.approx(expected_max_of_sums(none, 100, h), rel=1e-10)


@pytest.mark.parametrize("t0,jitter", [(1.0, 1e-310), (0.1, 5e-324), (1.0, 3e-17), (1.0, 1e-18)])
def test_subnormal_jitter_matches_the_jitter_free_limit_without_warnings(t0, jitter):
    tiny = StepTimeModel(t0, jitter, 0.05, 3.0)
    none = StepTimeModel(t0, 0.0, 0.05, 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        for h in (1, 4, 16):
            # E[max over 100 of the sums]: jitter-free, the slowest of 100 has a straggling step unless all 100 x h
            # steps are fast: t0 (h + 2 (1 - 0.95^(100 h))) for h = 1, and the mixture's atoms above it in general
            assert expected_max_of_sums(tiny, 100, h) == pytest.approx(expected_max_of_sums(none, 100, h), rel=1e-9)
            for q in (0.5, 0.8, 0.99):
                assert quantile_of_sum(tiny, h, q) == pytest.approx(quantile_of_sum(none, h, q), rel=1e-9)
    # the hand value at h = 1: E[max] = t0 (1 + 2 (1 - 0.95^100))
    assert expected_max_of_sums(none, 100, 1) == pytest.approx(t0 * (1 + 2 * (1 - 0.95 ** 100)), rel=1e-12)


def test_sync_cli_with_a_subnormal_jitter_prints_no_warning():
    from click.testing import CliRunner

    from explorer.cli import main

    for track in ("edge", "tiny"):
        res = CliRunner().invoke(main, ["solve", "sync", "--track", track, "--jitter", "1e-310"])
        assert res.exit_code == 0, res.output
        assert "RuntimeWarning" not in res.output and "overflow" not in res.output
