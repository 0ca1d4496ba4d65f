"""Sweep B review (cloud track, solve parts): batch, hierarchy, crossover, dataloader and scaling narration that
named the wrong cause, cited a configuration that breaks the other limits, or printed a rounding or a 0/0 as a
figure. Expected values are derived by hand in each test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from explorer.errors import UsageError
from explorer.puzzles import batch as pb
from explorer.puzzles import crossover, dataloader, scaling


@pytest.fixture(scope="module")
def cloud_batch():
    return pb.solve("cloud")


@pytest.fixture(scope="module")
def cloud_batch_tight_network():
    return pb.solve("cloud", network_headroom=0.01)


def _finding(rep, start: str) -> str:
    return next(f.answer for f in rep.findings if f.question.startswith(start))


# --- scaling: a marginal below the threshold never prints as the threshold --------------------------------------

def test_regimes_merge_one_n_dips_into_the_run_around_them():
    # Every 8th added device adds 0.9999x, the 7 between add 1.002x (a node boundary recurring), threshold 1, runs of
    # at least w = 8. Each 1-long dip sits between two 7-long runs above: flipping the shortest first merges
    # everything into one run above, so returns never diminish (the old rule flipped both the dips and the 7-long
    # runs, calling N = 9 the first N below 1 where 9 -> 10 adds 1.002x). With 10 more N at 0.9999 after the fourth
    # dip, that dip (index 31, N = 32) opens the last run, 11 long, which stands: below 1 for good from N = 32.
    period = [1.002] * 7 + [0.9999]
    m = np.array(period * 4 + [1.002] * 7)
    assert scaling.regimes(m, 1.0, 8) == (None, None, [8, 16, 24, 32])
    m = np.array(period * 4 + [0.9999] * 10)
    assert scaling.regimes(m, 1.0, 8) == (32, 32, [8, 16, 24])
    assert m[32 - 1] < 1.0


def test_a_dip_below_one_is_not_printed_as_one():
    # a first dip of 0.9996x against a threshold of 1: three significant digits would print '+1x'
    c = scaling.curve(scaling.scenario("tiny"), "nvlink4", 0.5, 100, scaling.search_size(100))
    marg = np.full(len(c.n) - 1, 1.5)
    marg[0] = 0.9996
    fake = replace(c, marginal=marg, n_diminishing=1, n_sustained=None, threshold=1.0)
    head = scaling._dr_headline(fake, "NVLink 4")
    assert "(1 -> 2 adds +0.9996x)" in head and "+1x" not in head


def test_cloud_threshold_one_has_no_false_dip():
    # On InfiniBand the marginal at 961 -> 962 is 1.002x (above 1): it is no dip. Below 1 for good only where the
    # curve falls under it for a whole node's worth of N; the headline names no first dip.
    r = scaling.solve("cloud", threshold=1.0)
    assert "first dip at N = 961" not in r.headline and "+1x" not in r.headline


# --- crossover: no crossover at N <= 3 is printed as none ------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3])
def test_no_crossover_prints_none_not_zero(n):
    # N = 2: L = 1 = N - 1; N = 3: L = 2 = N - 1. Tree's 2L alpha equals ring's 2(N-1) alpha, so it cuts no latency,
    # and its bandwidth term 2L M/B is L N/(N-1) = 2 (N = 2) or 3 (N = 3) times ring's 2(N-1)/N M/B: no crossover.
    r = crossover.solve("cloud", n=n)
    assert str(r.figure("crossover_bytes")).startswith("none")
    assert str(r.figure("crossover_closed_form_bytes")).startswith("none")
    assert "crossover_relative_difference" not in r.figures
    text = _finding(r, "Does tree become more or less attractive")
    assert "Below M*" not in text and "= 0 us" not in text
    assert f"L N/(N-1) = {n:.2f}x" in text
    assert "below 0 bytes" not in _finding(r, "At this scenario's message")


# --- dataloader: no more devices than the pipeline's host --------------------------------------------------------

def test_dataloader_refuses_devices_past_the_host():
    # lab08_training.toml [cloud]: one DGX H100 node, 8 GPUs, 104 CPU workers and 25 GB/s of NVMe; 64 GPUs are 8
    # nodes with 8 x 104 workers, which one node's pool cannot stand for ('43 GPUs fed by 103 workers')
    with pytest.raises(UsageError) as e:
        dataloader.solve("cloud", devices=64)
    msg = str(e.value)
    assert "\n" not in msg and "devices 64" in msg and "valid: 1..8" in msg and "104 CPU workers" in msg
    r = dataloader.solve("cloud", devices=8)
    assert r.extra["configuration"] == {"workers": 20, "devices": 8}  # ceil(8 x 5 / 2.104) = ceil(19.01) = 20
