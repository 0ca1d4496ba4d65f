"""Sweep B review (cloud track, solve parts): batch, hierarchy, crossover, dataloader and scaling narration that
named the wrong cause, cited a configuration that breaks the other limits, or printed a rounding or a 0/0 as a
figure. Expected values are derived by hand in each test."""

from __future__ import annotations

import pytest

from explorer.errors import UsageError
from explorer.puzzles import batch as pb
from explorer.puzzles import crossover, dataloader


@pytest.fixture(scope="module")
def cloud_batch():
    return pb.solve("cloud")


@pytest.fixture(scope="module")
def cloud_batch_tight_network():
    return pb.solve("cloud", network_headroom=0.01)


def _finding(rep, start: str) -> str:
    return next(f.answer for f in rep.findings if f.question.startswith(start))


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
