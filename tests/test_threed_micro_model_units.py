"""A micro-model's 3D answer in units that keep its digits (a new user's audit, 2026-12-08: `explore solve 3d --model
noise_profile_tiny` read 'step 0.000 s' beside a 129.22 us table value, and 'MFU 0.0% (step 0.000 s, 0.0 GB ...)').
Steps of 0.1 s and more keep their fixed three decimals (every real model's output is unchanged)."""

from __future__ import annotations

from explorer.reports.render import render

from explorer.puzzles import threed
from explorer.units import human_duration, human_step


def test_human_step_keeps_seconds_for_real_steps_and_digits_for_tiny_ones():
    assert human_step(3.869) == "3.869 s" and human_step(0.1) == "0.100 s"
    assert human_step(3.86912, ".4f") == "3.8691 s"
    assert human_step(129.22e-6) == "129 us" and human_step(0.0123) == "12.3 ms"


def test_micro_model_answer_shows_no_zero_seconds():
    res = threed.solve_3d("cloud", model="noise_profile_tiny")
    assert res.best.step_time_s < 1e-3  # the premise: a step far below a millisecond
    text = render(res.report, "text")
    assert "0.000 s" not in text and "0.0000 s" not in text and " 0.0 GB" not in text
    assert f"step {human_duration(res.best.step_time_s)}, bubble" in res.report.headline
