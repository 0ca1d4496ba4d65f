"""Lab 08 part 3 (explore solve batch), review 88 items 1 and 3: the words follow the figures.

Item 1: the network premise names what the starting step loses from its own breakdown (step_losses): the exposed
gradient sync where it is exposed, 'hides behind the backward pass' only where the backward hides it.
Item 3: with a batch cap (--batch) under which nothing reaches the target MFU, the cap is named as the conflicting
constraint, with the batch the uncapped search reaches the target at, and the Constraints table carries the cap."""

from __future__ import annotations

import pytest

from explorer.puzzles import batch

PREMISE = "Is the network 95% saturated"


def _finding(rep, start: str) -> str:
    return " ".join(next(f.answer for f in rep.findings if f.question.startswith(start)).split())


@pytest.fixture(scope="module")
def tiny():
    res = batch.solve_batch("tiny")
    return res, batch.build_report(res)


@pytest.fixture(scope="module")
def cloud():
    res = batch.solve_batch("cloud")
    return res, batch.build_report(res)


@pytest.fixture(scope="module")
def cloud_cap32():
    return batch.solve("cloud", batch=32)


# --- item 1: the network premise -------------------------------------------------------------------------------

def test_tiny_premise_names_the_exposed_sync(tiny):
    # Hand: the tiny crisis step is 6.152 s = 1.749 s compute + 4.402 s all-reduce + 0.0007 s optimizer, the three
    # back to back: nothing overlaps, so the whole sync is exposed, 4.402 / 6.152 = 71.6% of the step, the step's
    # largest loss (compute below peak is 1.749 - 0.425 s of the step's FLOPs at peak = 1.324 s, 21.5%). The compute
    # and the time at peak both doubled (from 0.878 and 0.213 s) with the Cortex-M4F's FP32 peak, 128 -> 64 MFLOP/s
    # (VMUL + VADD in 2 cycles, not a 1-cycle FMA); the all-reduce is unchanged. The old words said the all-reduce
    # 'hides behind the backward pass' and that the start loses 'compute below peak ..., not the network'.
    res, rep = tiny
    cr = res.crisis
    assert cr["step_time"] == pytest.approx(cr["compute_time"] + cr["comm_time"] + cr["optimizer_time"], rel=1e-6)
    assert cr["comm_time"] / cr["step_time"] == pytest.approx(4.402 / 6.152, abs=5e-4)
    _, losses, _ = batch.step_losses(res.inst, cr)
    assert next(iter(losses)) == "dp_exposed" and losses["dp_exposed"] == pytest.approx(cr["comm_time"], rel=1e-6)
    text = _finding(rep, PREMISE)
    assert text.startswith("No.")  # 71.6% is under the lab's 95%
    assert "and hides behind the backward pass" not in text
    assert "none of it hides behind the backward pass: the step waits for all of it" in text
    assert "exposed data-parallel sync (71.6% of the step) and compute below peak (21.5% of the step)" in text
    assert "waiting for the network is the step's largest loss" in text
    assert "not the network" not in text


def test_cloud_premise_splits_the_sync_it_hides_from_the_sync_it_exposes(cloud):
    # Hand: the cloud crisis step 5.711 s less its compute 4.003 s, bubble 1.600 s, TP 0.0527 s, PP 0.0230 s and
    # optimizer 0.0006 s leaves 0.0320 s of exposed sync; the all-reduce is 0.149 s, so the backward hides
    # 0.149 - 0.032 = 0.117 s of it; 0.032 / 5.711 = 0.561% of the step. The two largest losses are compute below
    # peak (2.009 s, 35.2%) and the bubble (1.600 s, 28.0%): there the network is not what the start loses.
    res, rep = cloud
    cr = res.crisis
    _, losses, _ = batch.step_losses(res.inst, cr)
    assert losses["dp_exposed"] == pytest.approx(0.0320, abs=5e-4)
    assert cr["comm_time"] - losses["dp_exposed"] == pytest.approx(0.117, abs=5e-4)
    text = _finding(rep, PREMISE)
    assert "the backward pass hides 0.117 s of it and 0.032 s are exposed, 0.561% of the step" in text
    assert "compute below peak (35.2% of the step) and pipeline bubble (28% of the step), not the network" in text


@pytest.mark.parametrize("track", ["tiny", "cloud", "mobile", "edge"])
def test_premise_words_follow_the_breakdown_on_every_track(track, tiny, cloud):
    # The property on every track: 'hides behind the backward pass' (unqualified) only where the exposed sync is
    # under 0.05% of the all-reduce; 'not the network' only where the exposed sync is not among the losses named
    res, rep = {"tiny": tiny, "cloud": cloud}.get(track) or (lambda r: (r, batch.build_report(r)))(
        batch.solve_batch(track))
    cr = res.crisis
    _, losses, _ = batch.step_losses(res.inst, cr)
    text = _finding(rep, PREMISE)
    exposed = losses["dp_exposed"]
    assert ("and hides behind the backward pass" in text) == (exposed <= 0.0005 * cr["comm_time"])
    named = [k for k, x in list(losses.items())[:2] if x >= 0.01 * cr["step_time"]]
    assert ("not the network" in text) == ("dp_exposed" not in named)
    assert ("exposed data-parallel sync (" in text) == ("dp_exposed" in named)


def test_sync_words_all_three_cases():
    # the three cases of the helper on made-up seconds: hidden whole, exposed whole, split 0.3 / 0.7 of a 2 s step
    hidden = batch._sync_words("GPU", "IB", 1.0, 0.0, 10.0)
    assert hidden.endswith("and hides behind the backward pass")
    whole = batch._sync_words("GPU", "IB", 1.0, 1.0, 2.0)
    assert "none of it hides" in whole
    split = batch._sync_words("GPU", "IB", 1.0, 0.3, 2.0)
    assert "the backward pass hides 0.7 s of it and 0.3 s are exposed, 15% of the step" in split


# --- item 3: the batch cap as the conflicting constraint -------------------------------------------------------

def test_cap_is_named_as_the_conflict_with_the_uncapped_answer(cloud, cloud_cap32):
    # Hand, from the uncapped run's tables: the 3D solver's best plan at batch 64 reaches MFU 42.3% >= 40% with the
    # network 50.9% busy and 64 <= 899 (critical batch), the smallest batch of its grid (64, 128, ...) to do so; the
    # track's plan first reaches 40% at batch 496. Batch 128 reaches 46.0% with less time per sample to the target
    # than at 64: the uncapped answer is 128. Under --batch 32 nothing does (the ceiling is 11.4% at 32).
    _, uncapped = cloud
    assert uncapped.status == "computed" and uncapped.figure("global_batch") == 128
    rep = cloud_cap32
    assert rep.status == "infeasible"
    head = " ".join(rep.headline.split())
    assert "The conflicting constraint is the batch cap (--batch 32)" in head
    assert "reaches the target at global batch 128" in head and "MFU 46%" in head
    assert "the smallest batch that reaches it within every other limit is 64 (MFU 42.3%)" in head
    text = _finding(rep, "What would the target MFU take")
    assert "No batch up to the dataset" not in text and "not by the batch" not in text
    assert "No batch up to the cap (--batch 32)" in text and "global batch 64 reaches MFU 42.3%" in text
    assert "with --batch 64 or more the puzzle is feasible" in text
    assert rep.figure("batch_for_target") == 64
    cap = next(c for c in rep.constraints if c.name == batch.BATCH_CAP)
    assert cap.value == 32 and cap.limit == 32 and cap.binding


def test_the_cap_the_report_names_is_enough():
    # the claim 'with --batch 64 or more the puzzle is feasible', run: at --batch 64 the target is reached
    rep = batch.solve("cloud", batch=64)
    assert rep.status == "computed" and rep.figure("mfu") >= 0.40 and rep.figure("global_batch") <= 64


def test_capped_ceiling_compares_with_the_uncapped_one():
    # --target-mfu 0.9: no batch reaches it, capped or not. The capped ceiling is the track's plan at batch 32
    # (11.4%); the uncapped one is the 3D solver's plan at 2,048 (53.6%), still short of 90%: the cap lowers the
    # ceiling, so 'up to the dataset' would misstate what was searched under the cap.
    rep = batch.solve("cloud", batch=32, target_mfu=0.9)
    assert rep.status == "infeasible" and "conflicting constraint is the batch cap" not in rep.headline
    text = _finding(rep, "What would the target MFU take")
    assert "No batch up to the cap (--batch 32, accumulation <= 64)" in text
    assert "Without the cap (--batch 32) the ceiling is MFU 53.6%, at global batch 2,048" in text
    assert "still short of the target" in text
    assert any(c.name == batch.BATCH_CAP for c in rep.constraints)
