"""Batch's step breakdown on a plan that trains some layers only (tiny: 1 of its layers trained): the exposed
sync is the configuration's own, whose all-reduce carries the trained layers' gradients only (6344ccc), so no
loss exceeds the step and the parts sum to (1 - MFU) x step, as step_losses' docstring states."""

from __future__ import annotations

import pytest

from explorer.puzzles import batch


def test_tiny_batch_one_losses_fit_inside_the_step():
    inst = batch.make_instance("tiny")
    assert inst.plan_choice.trainable_layers < batch._setup("tiny", "fp32").model.layers  # frozen layers below
    e = batch.evaluate_config(inst, "fp32", 1, 1)
    ideal, losses, _ = batch.step_losses(inst, e)
    step = e["step_time"]
    # model FLOPs at peak + every loss = the step (losses = (1 - MFU) x step)
    assert ideal + sum(losses.values()) == pytest.approx(step, rel=1e-9)
    assert all(0.0 <= x <= step for x in losses.values())
    # the exposed sync cannot exceed the all-reduce the step runs (it was 9.79 s against a 2.24 s all-reduce)
    assert losses["dp_exposed"] <= e["comm_time"] + 1e-12
    text = batch._batch_one(inst, e).answer
    assert "% of the step)" in text and "403%" not in text and "398%" not in text
