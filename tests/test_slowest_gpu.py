"""The slowest GPU paces a synchronous job (explorer/cost/stragglers.py slowest_gpu_pace, Setup.pace): GPUs of one
SKU spread in speed (Sinha et al., SC'22: 8 % average variation across a cluster's GPUs, read as a 1 % coefficient
of variation), and every step waits for the slowest, so GPU-bound work takes 1 + cv E[max of N normals] of a
typical GPU's time."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from explorer.hardware import build_cluster
from explorer.models import get_model

from explorer.cost.efficiency import DEFAULT_EFFICIENCY
from explorer.cost.setup import Setup
from explorer.cost.step import evaluate, paced
from explorer.cost.stragglers import expected_max_normal, slowest_gpu_pace, slowest_gpu_pace_of
from explorer.errors import UsageError


@pytest.mark.parametrize("n, expected", [
    (1, 0.0),
    (2, 1 / math.sqrt(math.pi)),  # E[max(X1, X2)] = 1 / sqrt(pi)
    (3, 1.5 / math.sqrt(math.pi)),  # 3 / (2 sqrt(pi))
    (8, 1.42360),  # Harter (1961), Expected values of normal order statistics, Biometrika 48, table
    (100, 2.50759),  # the same table
    (1000, 3.24144),  # the same table
])
def test_expected_maximum_of_normals_matches_the_tables(n, expected):
    assert expected_max_normal(n) == pytest.approx(expected, abs=2e-5)


def test_pace_is_one_plus_cv_times_the_expected_maximum():
    assert slowest_gpu_pace(1, 0.01) == 1.0
    assert slowest_gpu_pace(1000, 0.01) == pytest.approx(1 + 0.01 * 3.24144, abs=1e-6)
    assert slowest_gpu_pace(1000, 0.0) == 1.0
    with pytest.raises(UsageError):
        slowest_gpu_pace(8, -0.01)
    # a continuous curve: exact at whole N, between its neighbours elsewhere, never below 1
    grid = slowest_gpu_pace_of(np.array([1.0, 1.5, 2.0, 8.0]), 0.01)
    assert grid[0] == 1.0 and grid[2] == pytest.approx(1 + 0.01 / math.sqrt(math.pi))
    assert grid[0] < grid[1] < grid[2] and grid[3] == pytest.approx(1.0142360, abs=1e-6)


def _setup(gpu: str = "h100", n: int = 1024, **kw) -> Setup:
    return Setup(get_model("llama3_8b"), build_cluster(gpu, n, 8, "nvlink4" if gpu == "h100" else "nvlink3",
                                                       "ib_ndr" if gpu == "h100" else "ib_hdr"), 4096, **kw)


def test_setup_pace_follows_the_cluster_and_the_part():
    assert DEFAULT_EFFICIENCY.gpu_speed_cv == 0.01  # Sinha et al.'s 8 % spread over ~4 standard deviations each side
    assert _setup(n=1024).pace == pytest.approx(1 + 0.01 * expected_max_normal(1024))
    assert _setup(n=1024).pace == pytest.approx(1.0325, abs=1e-4)
    assert _setup(n=1).pace == 1.0
    assert _setup(n=1024, collectives="textbook").pace == 1.0  # the lab texts' model: no spread
    assert _setup(n=1024, efficiency=replace(DEFAULT_EFFICIENCY, gpu_speed_cv=0.0)).pace == 1.0


def test_only_the_gpu_bound_work_slows():
    # TP 8 x PP 1 x DP 128 on 1,024 GPUs: compute and memory-bound time grow by the pace, communication does not
    slow = _setup()
    even = _setup(efficiency=replace(DEFAULT_EFFICIENCY, gpu_speed_cv=0.0))
    args = (8, 1, 1, 128, 1, 1, 16, 1, 0, 1)
    a, b = evaluate(slow, *args), evaluate(even, *args)
    assert float(a["time_compute"]) == pytest.approx(slow.pace * float(b["time_compute"]), rel=1e-12)
    assert float(a["time_tp_comm"]) == pytest.approx(float(b["time_tp_comm"]), rel=1e-12)
    assert float(a["time_dp_total"]) == pytest.approx(float(b["time_dp_total"]), rel=1e-12)
    assert float(a["step_time"]) > float(b["step_time"])


def test_a_curve_of_job_sizes_is_paced_per_size():
    # the scaling lab prices every N with one Setup, so each N takes its own pace (step.paced): one GPU none, and the
    # step grows by (pace(N) - 1) x its GPU-bound time
    even = _setup(efficiency=replace(DEFAULT_EFFICIENCY, gpu_speed_cv=0.0))
    n = np.array([1.0, 8.0, 1024.0])
    r = evaluate(even, 1, 1, 1, n, 1, 1, 4, 1, 0, 0)
    p = paced(r, n, 0.01)
    extra = (np.array([1.0, 1.0142360, 1.0324815]) - 1.0) * np.asarray(r["time_compute"])
    assert np.asarray(p["step_time"]) == pytest.approx(np.asarray(r["step_time"]) + extra, rel=1e-6)
    assert float(p["step_time"][0]) == float(r["step_time"][0])
    assert np.asarray(p["mfu"]) == pytest.approx(np.asarray(r["mfu"]) * np.asarray(r["step_time"])
                                                 / np.asarray(p["step_time"]), rel=1e-12)


def test_the_estimate_says_so():
    import explorer

    e = explorer.estimate(tp=8, pp=1)
    text = next(a.text for a in e.assumptions() if a.text.startswith("Slowest GPU"))
    assert "slowest of the 1,024 GPUs" in text and "3.2% longer" in text
    assert not any(a.text.startswith("Slowest GPU") for a in explorer.estimate(gpus=1, tp=1).assumptions())


def test_a_long_curve_reads_a_table_within_its_stated_error():
    # slowest_gpu_pace_of interpolates E[max] in ln n on a table (expected_max_table): within 3e-5 of the quadrature
    # anywhere, exact at whole n up to 64, and cheap for 20,000 job sizes (the scaling lab's grid)
    ns = np.array([65, 100, 777, 1000, 1023, 4097, 131072, 999_999, 12_345_678])
    got = slowest_gpu_pace_of(ns, 1.0) - 1.0
    assert np.max(np.abs(got - [expected_max_normal(int(k)) for k in ns])) < 3e-5
    small = np.arange(1, 65)
    assert slowest_gpu_pace_of(small, 1.0) - 1.0 == pytest.approx([expected_max_normal(int(k)) for k in small],
                                                                   abs=1e-12)
    curve = slowest_gpu_pace_of(np.linspace(1.0, 20_000.0, 200_001), 0.01)
    assert np.all(np.diff(curve) >= 0)
