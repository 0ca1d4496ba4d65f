"""Review 88 item 6: the memory audit's words follow its own figures.

6a: the sentence under the fix must let a reader redo the headline's time-to-quality change. It used to print both
step times but only the chosen configuration's steps-to-quality factor ('Step time 1.312 s vs 1.826 s;
steps-to-quality x2.5'), which multiplies to 1.312 x 2.5 / 1.826 = 1.796 (79.6% lost) against a headline of 19.7%:
the start's own factor (x1.5 with SGD) was never printed.
6b: 'largest model of this width that trains: 0 params' beside a chosen fit that trains the whole model: the figure
held the starting optimizer and precision without saying so, and '0' meant 'not even one layer fits'.
"""

from __future__ import annotations

import re

import pytest

from explorer.puzzles import memory as M

FIX_QUESTION = "Which changes make the model fit"
LARGEST_QUESTION = "What is the largest model"
NUM = r"([\d,]+(?:\.\d+)?)"
ARITH = re.compile(rf"Time-to-quality = step time x steps-to-quality: {NUM} s x {NUM} \([^)]*\) = {NUM} s against "
                   rf"the start's {NUM} s x {NUM} \([^)]*\) = {NUM} s; {NUM} / {NUM} = {NUM}, "
                   rf"(?:{NUM}% (longer|shorter)|the same)\.")


def _f(x: str) -> float:
    return float(x.replace(",", ""))


def _answer(report, question: str) -> str:
    return " ".join(next(f.answer for f in report.findings if f.question.startswith(question)).split())


@pytest.fixture(scope="module")
def reports():
    return {key: M.solve(key[0], memory_limit_gb=key[1])
            for key in (("cloud", None), ("mobile", None), ("mobile", 0.3), ("tiny", None))}


def test_tiny_prints_the_starts_factor_and_the_arithmetic_gives_the_headline(reports):
    # Hand: the start is SGD fp32 with all 5 layers trained: x1.5 (lab08_training.toml quality_steps_multiplier);
    # the fit is 8-bit Adam (x1) training 1 of 5 layers (trainable fraction 0.25 -> round(5 x 0.25) = 1 layer,
    # freeze multiplier x2.5): 1 x 2.5 = x2.5. At the Cortex-M4F's FP32 peak of 64 MFLOP/s (VMUL + VADD, 2 cycles
    # a multiply-add) the two steps are 2.1831 s and 3.6366 s (1.312 and 1.8262 s at the 128 counted before: the
    # start's step, almost all compute, doubles; the fit's, which trains 1 layer, less). 2.1831 s x 2.5 = 5.4577 s;
    # 3.6366 s x 1.5 = 5.4548 s; 5.4577 / 5.4548 = 1.0005 -> 0.1% longer, the headline's 'time-to-quality 0.1%
    # longer'. Without the x1.5 a reader would get 2.1831 x 2.5 / 3.6366 = 1.501 (50.1%).
    rep = reports[("tiny", None)]
    text = _answer(rep, FIX_QUESTION)
    assert "time-to-quality 0.1% longer" in text
    assert ("2.1831 s x 2.5 (8-bit Adam x1, 1 of 5 layers trained x2.5) = 5.4577 s against the start's 3.6366 s x 1.5 "
            "(SGD x1.5) = 5.4548 s; 5.4577 / 5.4548 = 1.0005, 0.1% longer.") in text
    assert rep.figure("baseline_quality_multiplier") == 1.5
    assert rep.figure("quality_multiplier") == 2.5
    # the figures table alone reproduces the lost fraction too
    t1, q1 = rep.figure("step_time"), rep.figure("quality_multiplier")
    t0, q0 = rep.figure("baseline_step_time"), rep.figure("baseline_quality_multiplier")
    assert t1 * q1 / (t0 * q0) - 1 == pytest.approx(rep.figure("time_to_quality_lost"), abs=1e-9)
    assert rep.figure("time_to_quality_lost") == pytest.approx(5.4577 / 5.4548 - 1, abs=5e-5)


@pytest.mark.parametrize("key", [("cloud", None), ("mobile", None), ("mobile", 0.3), ("tiny", None)])
def test_every_track_the_printed_arithmetic_gives_the_printed_change(reports, key):
    # On every track with a fix, the printed numbers multiply as printed (to the printed 5 significant digits) and
    # their ratio is the headline's percentage: cloud 48.06 x 1.2 / (55.427 x 1) = 1.0405 (4.0%); mobile
    # 0.70639 x 1.05 / (0.75502 x 1) = 0.98237 (1.8% shorter); mobile at 0.3 GB 0.5821 x 1.68 / 0.75502 = 1.2952.
    rep = reports[key]
    text = _answer(rep, FIX_QUESTION)
    m = ARITH.search(text)
    assert m, text
    t1, q1, p1, t0, q0, p0, n, d, r, pct, how = m.groups()
    assert _f(t1) * _f(q1) == pytest.approx(_f(p1), rel=2e-4)
    assert _f(t0) * _f(q0) == pytest.approx(_f(p0), rel=2e-4)
    assert (n, d) == (p1, p0)
    assert _f(p1) / _f(p0) == pytest.approx(_f(r), rel=2e-4)
    lost = rep.figure("time_to_quality_lost")
    assert _f(r) - 1 == pytest.approx(lost, abs=1e-4)
    assert float(pct) == pytest.approx(100 * abs(lost), abs=0.05)
    assert how == ("longer" if lost > 0 else "shorter")
    # the headline says the same percentage, in its own words
    head = f"time-to-quality {pct}% longer" if lost > 0 else f"time-to-quality {pct}% shorter"
    assert head in text
    assert q0 in ("1", "1.5") and _f(q0) == rep.figure("baseline_quality_multiplier")


def test_already_fits_prints_one_product():
    # tiny at 10 MB: the start (1.89 MB) fits; its time-to-quality 3.6366 s x 1.5 (SGD) = 5.4548 s
    rep = M.solve("tiny", memory_limit_gb=0.01)
    text = _answer(rep, "Which changes make the model fit")
    assert "already fits" in text
    assert "Time-to-quality = step time 3.6366 s x steps-to-quality 1.5 (SGD x1.5) = 5.4548 s." in text
    assert "against the start's" not in text


def test_mobile_largest_model_says_what_it_holds_and_none(reports):
    # Hand: with the starting adam fp16 (16 B/param) the embedding and output head alone are 32,834,560 x 16 B =
    # 525,352,960 B > 512 MB, so no model of this width trains: the figure says 'none' and why, not '0 params'. The
    # chosen fit (adafactor fp16, micro-batch 2) trains all 6 layers in 489 MB: the answer says the 'none' held
    # adam fp16 fixed.
    assert 32_834_560 * 16 == 525_352_960 > 512e6
    rep = reports[("mobile", None)]
    fig = rep.figures["largest_model_params"]
    assert fig.value == "none (not even the embedding and output head fit with Adam in FP16)"
    assert "Adam in FP16 as started" in fig.label and "micro-batch 1, full recomputation" in fig.label
    text = _answer(rep, LARGEST_QUESTION)
    assert "0 parameters" not in text and "0 layers" not in text
    assert "none: not even one layer of the 512-wide" in text
    assert ("This holds the starting Adam in FP16 fixed with every layer trained and no ZeRO or offload; the fit "
            "below, "
            "the track's 6-layer model in 489 MB, uses Adafactor in FP16 with every layer trained.") in text
    assert rep.extra["configuration"]["optimizer"] == "adafactor"
    assert rep.extra["configuration"]["trainable_layers"] == 6


def test_tiny_largest_model_none_one_layer(reports):
    # Hand (tests/test_memory_moves.py): a one-layer model with SGD fp32 at micro-batch 1, full recomputation needs
    # 204,544 B > 196,608 B, while the ends alone (25,088 B) fit: 'not even one layer fits', not 'the ends'.
    rep = reports[("tiny", None)]
    assert rep.figures["largest_model_params"].value == "none (not even one layer fits with SGD in FP32)"
    assert "SGD in FP32 as started" in rep.figures["largest_model_params"].label
    text = _answer(rep, LARGEST_QUESTION)
    assert ("the fit below, the track's 5-layer model in 195 kB, uses 8-bit Adam in FP16 with 1 of 5 layers trained."
            in text)


def test_cloud_largest_model_is_a_number_and_names_the_fit(reports):
    # Hand: 2 layers of the 8192-wide Llama-3-70B shape: 2 x 855,654,400 + the embedding and output head
    # 2 x 128,256 x 8,192 = 2,101,346,304 + the final norm 8,192 = 3,812,663,296 params. The chosen fit trains QLoRA
    # adapters on 60 of 80 layers with ZeRO-3, which the answer names beside the held adam bf16.
    assert 2 * 855_654_400 + 2 * 128_256 * 8_192 + 8_192 == 3_812_663_296
    rep = reports[("cloud", None)]
    assert rep.figure("largest_model_params") == 3_812_663_296
    assert "Adam in BF16 as started" in rep.figures["largest_model_params"].label
    text = _answer(rep, LARGEST_QUESTION)
    assert "uses Adam in BF16 with QLoRA adapters on 60 of 80 layers and ZeRO-3." in text


def test_edge_fits_with_room_and_says_no_held_fixed_sentence():
    # edge: 140 layers of the 768-wide shape fit with adam fp16 as started, more than the model's 12, so there is
    # nothing to reconcile with the chosen fit and no 'This holds' sentence.
    rep = M.solve("edge")
    text = _answer(rep, LARGEST_QUESTION)
    assert "trains with room to spare" in text and "This holds" not in text
    assert isinstance(rep.figure("largest_model_params"), int) and rep.figure("largest_model_params") > 86e6
