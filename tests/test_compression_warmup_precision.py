"""1-bit Adam's warm-up runs at the track's gradient precision (a helper's review, 2026-12-08): the warm-up is
vanilla Adam on the engine's uncompressed all-reduce (Tang et al. 2021, Algorithm 1), which under FP16 training
moves FP16 gradients, and the cost side already charges it at the FP16 step. The simulation ran it in full
precision against an FP16-cast baseline, so on the 2-byte tracks a run that never left its warm-up could 'beat'
the baseline (--steps 20 --warmup 10 on cloud: 10 steps against 11, '1.1x sooner')."""

from __future__ import annotations

import numpy as np

from explorer.sim import compressed_adam as ca


def _problem():
    return ca.make_problem(4, 16, 64, 7, 3, 8, 10.0, 0.05)


def test_warm_up_is_the_fp16_baseline_step_for_step_on_fp16_gradients():
    p = _problem()
    warm, steps = 10, 20
    base = ca.run(p, "fp16", steps, 0.01, warm)["loss"]
    for scheme in ("onebit", "onebit_noef", "topk"):
        one = ca.run(p, scheme, steps, 0.01, warm, native_fp16=True)["loss"]
        # the same gradients, cast the same way, through the same Adam: identical up to the last warm-up step
        assert np.array_equal(one[:warm + 1], base[:warm + 1]), scheme
        assert not np.array_equal(one, base)  # and compressed after it
    # on FP32 gradients (native_fp16 False) the warm-up is full-precision Adam, the 'adam' baseline
    full = ca.run(p, "adam", steps, 0.01, warm)["loss"]
    assert np.array_equal(ca.run(p, "onebit", steps, 0.01, warm)["loss"][:warm + 1], full[:warm + 1])


def test_a_run_inside_its_warm_up_is_not_sooner_than_the_baseline():
    from explorer.puzzles import solve

    r = solve("compression", track="cloud", steps=20, warmup=10)
    # every step to the target is a warm-up step (uncompressed, at the FP16 step) and a compressed step is longer:
    # 1-bit cannot arrive sooner than the FP16 baseline it equals until then
    assert r.figures["speedup_1bit_end_to_end"].value <= 1.0 + 1e-9
