"""The compression puzzle's comparative sentences follow the figures they compare (a new-user audit found them
contradicting their own numbers). `explore solve compression --track cloud` answered "does error feedback
recover the accuracy while keeping the gain? Yes" under a headline saying 1-bit Adam is slower end to end
(0.848x); `--steps 2` said "in 1 step against 1 step", "Yes" and "converges to a worse loss" where 1-bit Adam
ends at 1.405 with and without error feedback, and "Frozen after one step instead of 1 step"; `--steps 10` called
a 0.952x speedup "0.952x later". Every case below runs the real puzzle and checks each comparison's words against
the report's own figures, on all four tracks, for --steps 2, 3, 10 and the default, and for the other options."""

from __future__ import annotations

import re
from functools import cache

import pytest

from explorer.puzzles import compression
from explorer.puzzles.collective_scenario import get_scenario
from explorer.puzzles.compression.narration import _pace, _sooner
from explorer.sim import compressed_adam as ca
from explorer.units import human_duration, human_number

TRACKS = ("cloud", "edge", "mobile", "tiny")
STEPS = (2, 3, 10, None)
OPTIONS = ({"topk_ratio": 1}, {"topk_ratio": 1000}, {"workers": 2}, {"seed": 1}, {"warmup": 1},
           {"steps": 20, "warmup": 10}, {"warmup": 199})
CASES = [(t, {"steps": s}) for t in TRACKS for s in STEPS] + [(t, o) for t in ("cloud", "mobile") for o in OPTIONS]


@cache
def _solve(track: str, items: tuple) -> object:
    return compression.solve(track, **dict(items))


def solved(track: str, opts: dict) -> object:
    return _solve(track, tuple(sorted(opts.items())))


def headline(r) -> str:
    """The compression headline: the report's own, or on a fleet track the lab's form kept in data."""
    return r.data.get("datacenter_headline") or r.headline


def answer(r, start: str) -> str:
    return next(f.answer for f in r.findings if f.question.startswith(start))


def own_text(r) -> str:
    """The compression puzzle's words: its headline and its answers (the fleet answers come from the fleet lens)."""
    return " ".join([headline(r)] + [f.answer for f in r.findings if not f.question.startswith("On the fleet")])


def steps_to_target(r, scheme: str) -> int | None:
    t = r.tables["schemes"]
    row = next(x for x in t.rows if x[0] == ca.LABELS[scheme])
    v = row[t.columns.index("steps to target")]
    return None if v == "not reached" else v


def loss_shown(x: float) -> str:
    return human_number(x, 4)


def pct_shown(x: float) -> float:
    return float(human_number(100 * x))


def accuracy(r, scheme: str) -> float:
    t = r.tables["schemes"]
    return next(x for x in t.rows if x[0] == ca.LABELS[scheme])[t.columns.index("test accuracy")]


IDS = [f"{t}-{'-'.join(f'{k}{v}' for k, v in o.items())}" for t, o in CASES]


def test_a_speedup_below_one_is_worded_with_the_time_ratio_by_hand():
    # 0.8482x: 1-bit Adam takes 1 / 0.8482 = 1.179 -> '1.18'x the native time to the target; 0.9517 -> 1.0508 ->
    # '1.05'; 2.225 reads '2.23x faster'; a speedup that rounds to 1.000 is neither
    assert _pace(0.8482) == "slower (speedup 0.848x: 1.18x as long)"
    assert _sooner(0.9517) == "later (speedup 0.952x: 1.05x as long)"
    assert _sooner(2.225, " end to end") == "2.23x sooner end to end"
    assert _pace(1.0004) == "no faster (1.000x)" and _sooner(0.9996, " end to end") == "no sooner end to end (1.000x)"


@pytest.mark.parametrize(("track", "opts"), CASES, ids=IDS)
def test_no_ratio_below_one_is_called_slower_later_faster_or_sooner(track, opts):
    r = solved(track, opts)
    text = own_text(r)
    assert not re.search(r"(?<![\d.])0\.\d+x,? (slower|later|faster|sooner)", text), text
    sp = r.figure("speedup_1bit_end_to_end")
    head = headline(r)
    if steps_to_target(r, "onebit") is not None:
        assert bool(re.search(r"\d(\.\d+)?x sooner end to end", head)) == (round(sp, 3) > 1.0), head
        assert ("later end to end" in head) == (round(sp, 3) < 1.0), head
        if round(sp, 3) < 1.0:  # the time ratio that goes with 'later' is above 1: 1 / speedup
            assert f"{human_number(1 / sp)}x as long" in head, head
    if "speedup_1bit_contrast" in r.figures:
        c = r.figure("speedup_1bit_contrast")
        name = r.figures["speedup_1bit_contrast"].label.split("end-to-end speedup on ", 1)[1]
        said = re.search(rf"On {re.escape(name)} it is ([^.]*(?:\.\d+[^.]*)*)\.", head)
        if said:
            assert said.group(1).startswith("later" if round(c, 3) < 1 else "no sooner" if round(c, 3) == 1 else
                                            f"{human_number(c)}x sooner"), head


@pytest.mark.parametrize(("track", "opts"), CASES, ids=IDS)
def test_the_stakeholder_yes_needs_both_the_accuracy_and_a_gain(track, opts):
    r = solved(track, opts)
    a = answer(r, "Stakeholder challenge")
    sp = r.figure("speedup_1bit_end_to_end")
    reached = steps_to_target(r, "onebit") is not None
    native = "fp16" if get_scenario(track).gradient_bytes_per_param == 2 else "adam"
    recovered = pct_shown(accuracy(r, "onebit")) >= pct_shown(accuracy(r, native))
    gain = reached and round(sp, 3) > 1.0
    assert a.startswith("Yes") == (gain and recovered and steps_to_target(r, "onebit") > r.scenario["warmup"]), a
    if reached and round(sp, 3) < 1.0:
        assert "keeps a gain" not in a and "no gain to keep" in a, a
    if gain:
        assert "no gain" not in a, a


@pytest.mark.parametrize(("track", "opts"), CASES, ids=IDS)
def test_equal_losses_are_not_called_worse(track, opts):
    r = solved(track, opts)
    noef, one = r.figure("final_loss_1bit_noef"), r.figure("final_loss_1bit")
    head, a = headline(r), answer(r, "Does 1-bit compression without error feedback")
    if loss_shown(noef) == loss_shown(one):
        assert "worse loss" not in head and "diverges" not in head and "same loss" in head, head
        assert not a.startswith("Yes"), a
    if "worse loss" in head:
        assert noef > one, head
    if "lower loss" in head:
        assert noef < one, head


@pytest.mark.parametrize(("track", "opts"), CASES, ids=IDS)
def test_step_counts_are_compared_in_words_that_follow_them(track, opts):
    r = solved(track, opts)
    text = own_text(r)
    assert not re.search(r"\b1 steps\b", text) and "instead of 1 step" not in text, text
    assert not re.search(r"\b(\d[\d,]*) steps? against \1 steps?\b", text), text
    n1, nw = steps_to_target(r, "onebit"), steps_to_target(r, "onebit_nowarmup")
    w = answer(r, "Why does 1-bit Adam need")
    if "more than with the warm-up" in w:
        assert nw is not None and n1 is not None and nw > n1, w
    if "as many as with the warm-up" in w:
        assert nw == n1, w
    if "fewer than with the warm-up" in w:
        assert nw is not None and n1 is not None and nw < n1, w
    m = re.search(r"the run needs ([\d.]+)% more steps \((\d+) against (\d+)\)", headline(r))
    if m:  # the percentage is the counts' own: (146 / 125 - 1) x 100 = 16.8
        a, b = int(m.group(2)), int(m.group(3))
        assert a > b and m.group(1) == human_number(100 * (a / b - 1)), m.group(0)


def test_cloud_default_answers_no_gain_and_says_why_by_hand():
    # Hand (test_lab06_compression: 8.03e9 bf16 gradients over 128 H100s; NCCL's all-reduce takes ~87 ms, against
    # a backward of the last micro-batch of ~1 s, so the native sync hides entirely). The compressed momentum
    # exists only after the backward pass (Tang et al. 2021, Algorithm 1): its sync and the 1-bit kernels
    # (8.03e9 x 16.47 B / 3.35e12 B/s = 39.5 ms) add to every compressed step; with more steps too, 1-bit Adam is
    # slower end to end here, and the error-feedback answer cannot keep a gain it does not have.
    r = solved("cloud", {"steps": None})
    assert r.figure("compression_time_1bit_s") == pytest.approx(8.03e9 * 16.4697 / 3.35e12, rel=2e-3)
    added = r.figure("step_time_1bit_s") - r.figure("step_time_native_s")
    assert added == pytest.approx(r.figure("compression_time_1bit_s") + r.figure("sync_time_1bit_s"), rel=1e-6)
    head, a = r.headline, answer(r, "Stakeholder challenge")
    assert r.figure("speedup_1bit_end_to_end") < 1.0 and not a.startswith("Yes")
    assert "It recovers the accuracy" in a and "but there is no gain to keep here" in a
    assert (f"a compressed step takes {human_duration(r.figure('step_time_1bit_s'))} against "
            f"{human_duration(r.figure('step_time_native_s'))} (its kernels' "
            f"{human_duration(r.figure('compression_time_1bit_s'))} and its "
            f"{human_duration(r.figure('sync_time_1bit_s'))} sync") in head and "native sync does entirely" in head
    # on 10 GbE per node the sync is tens of seconds and there 1-bit Adam is sooner: said as such, > 1
    assert r.figure("speedup_1bit_contrast") > 1.0 and "it is 1.4x sooner" in head


def test_two_steps_say_the_run_is_too_short():
    # --steps 2: warm-up 1 step (20% of 2 rounds to 0, raised to 1), target = Adam's loss after step 1, so the
    # target falls inside the warm-up, before any step is compressed; the one compressed step starts from empty
    # error buffers (e = 0: C(u + e) = C(u), Tang et al. 2021, Algorithm 1), so with and without error feedback
    # it is the same step and the two runs end at the same loss.
    r = solved("cloud", {"steps": 2})
    assert r.scenario["warmup"] == 1 and steps_to_target(r, "onebit") == 1
    assert r.figure("final_loss_1bit") == r.figure("final_loss_1bit_noef")
    assert "inside its full-precision warm-up (1 step)" in r.headline
    assert "same loss" in r.headline and "worse loss" not in r.headline
    assert answer(r, "Stakeholder challenge").startswith("This run cannot tell")
    assert answer(r, "Does 1-bit compression without error feedback").startswith("Not that this run can show")
    assert "the warm-up is itself one step" in answer(r, "Why does 1-bit Adam need")


def test_ten_steps_contrast_is_later_not_0952x_later():
    r = solved("cloud", {"steps": 10})
    c = r.figure("speedup_1bit_contrast")
    assert c < 1.0 and "0.952x later" not in r.headline
    assert f"it is later (speedup {human_number(c)}x: {human_number(1 / c)}x as long)" in r.headline
