"""Lab 06 part 3: the seeded compression experiment reproduces the lab's claims; bandwidth accounting by hand."""

import numpy as np
import pytest

from explorer.errors import UsageError
from explorer.puzzles import compression
from explorer.puzzles.collective_scenario import get_scenario
from explorer.sim import compressed_sgd as cs

TOL = 0.02  # the lab's "error feedback recovers the accuracy": final loss within 2% of full precision


@pytest.fixture(scope="module")
def runs():
    p = cs.make_problem(workers=10, features=40, samples_per_worker=200, seed=2024, condition=20.0, label_noise=0.05)
    return {s: cs.run(p, s, 300, 0.5) for s in ("fp32", "sign", "sign_ef")}


def test_deterministic():
    p1 = cs.make_problem(4, 10, 50, 7, 10.0, 0.05)
    p2 = cs.make_problem(4, 10, 50, 7, 10.0, 0.05)
    assert np.array_equal(cs.run(p1, "sign_ef", 30, 0.5)["loss"], cs.run(p2, "sign_ef", 30, 0.5)["loss"])


def test_one_bit_without_error_feedback_is_measurably_worse(runs):
    fp, s1 = runs["fp32"]["final_loss"], runs["sign"]["final_loss"]
    assert s1 > fp * 1.01  # at least 1% higher final loss
    assert runs["sign"]["accuracy"] < runs["fp32"]["accuracy"]


def test_error_feedback_recovers_full_precision(runs):
    fp, ef = runs["fp32"]["final_loss"], runs["sign_ef"]["final_loss"]
    assert abs(ef - fp) <= TOL * fp
    assert abs(runs["sign_ef"]["accuracy"] - runs["fp32"]["accuracy"]) <= 0.01
    # every scheme actually trains: from log 2 = 0.693 at w = 0 to well below
    assert runs["fp32"]["loss"][0] == pytest.approx(np.log(2.0))
    assert fp < 0.5


def test_scaled_sign_and_topk_by_hand():
    v = np.array([[3.0, -1.0, 0.0, -2.0]])
    # ||v||_1 / d = 6 / 4 = 1.5; sign with sign(0) = +1
    assert np.allclose(cs._scaled_sign(v), [[1.5, -1.5, 1.5, -1.5]])
    assert np.allclose(cs._topk(v, 2), [[3.0, 0.0, 0.0, -2.0]])
    # bits: 1 + 32/2^20 per element -> 32 / 1.0000305 = 31.999x vs FP32; top-k 1%: 0.64 bits -> 50x
    assert 32 / cs.bits_per_element("sign") == pytest.approx(31.999, abs=1e-3)
    assert 32 / cs.bits_per_element("topk_ef", 0.01) == pytest.approx(50.0)


def test_report_claims_and_bandwidth():
    r = compression.solve("edge")
    sc = get_scenario("edge")
    assert r.figure("loss_gap_1bit") > 0.01 and abs(r.figure("loss_gap_1bit_ef")) <= TOL
    assert r.figure("compression_ratio_1bit") == pytest.approx(32.0, rel=1e-3)
    assert r.figure("compression_ratio_1bit_native") == pytest.approx(16.0, rel=1e-3)  # FP16 gradients
    # 5G: alpha 30 ms, B = 0.05e9/8 x 0.7 = 4.375e6 B/s, N = 10; 1-bit message = P/8 (1 + 32/2^20) bytes
    m = sc.params / 8 * (1 + 32 / 2**20)
    assert r.figure("sync_time_1bit_s") == pytest.approx(2 * 9 * 0.03 + 2 * 9 / 10 * m / 4.375e6, rel=1e-9)
    assert "convergence" in r.plots and len(r.data["convergence"]["series"]) == len(cs.SCHEMES)


@pytest.mark.parametrize("track", ["cloud", "mobile", "tiny"])
def test_every_track(track):
    r = compression.solve(track, steps=60)
    assert r.status == "computed" and r.findings


def test_mobile_energy_and_frames():
    r = compression.solve("mobile", steps=20)
    assert get_scenario("mobile").params == 51_748_864
    # FP16: M = 103,497,728 B; per device 2*15/16 M = 194,058,240 B x 8 x 20 nJ/bit = 31.05 J; 1-bit: /16 = 1.94 J
    assert r.figure("energy_per_sync_native_j") == pytest.approx(31.049, rel=1e-3)
    assert r.figure("energy_per_sync_1bit_j") == pytest.approx(31.049 / 16, rel=1e-3)
    # frames lost = ceil(T x 60 Hz); T_fp16 = 2*15*7.5 ms + 194,058,240 / 175,000 B/s = 0.225 + 1108.90 = 1109.13 s
    assert r.figure("frames_lost_native") == 66548


def test_bad_inputs():
    with pytest.raises(UsageError, match="ratio"):
        compression.solve("cloud", topk_ratio=0.5)
    with pytest.raises(UsageError, match="workers"):
        compression.solve("cloud", workers=1)
    with pytest.raises(UsageError, match="steps"):
        compression.solve("cloud", steps=0)
