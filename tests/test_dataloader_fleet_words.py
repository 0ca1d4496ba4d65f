"""The dataloader puzzle's fleet answer says one thing in every place: the headline, the 3-box gauge, the figures and
the constraints state the prep rate for a named worker count, agree where they describe the same configuration, and
no sentence compares two figures it prints alike ('25.6 h instead of 25.6 h' on tiny; 'prep 4,000 samples/s (2
workers, 0.42% busy)' in the mobile headline beside the gauge's 'prep 2,000 samples/s (0.84% busy)'; 'all 2
workers')."""

from __future__ import annotations

import html
import math
import re

import pytest
from explorer.reports.render import render

from explorer.puzzles import dataloader as pd
from explorer.puzzles.fleetlens import lab08

FLEET = ("edge", "mobile", "tiny")
RATE = r"([\d,]+(?:\.\d+)?) samples/s"
WORDS = {"one": 1, "both": 2}


def _count(words: str) -> int:
    """'4 of its 6', 'its one', 'both of its', 'all 6 of its' -> 4, 1, 2, 6."""
    parts = words.split()
    head = parts[1] if parts[0] in ("its", "all") else parts[0]
    return WORDS.get(head) or int(head)


def _number(s: str) -> float:
    return float(s.replace(",", ""))


def _headline_prep(rep, text: str | None = None) -> tuple[float, int, float]:
    """(rate, workers, busy %) the fleet headline (or `text`) gives the prep stage."""
    m = re.search(RATE + r" on (?:its own CPU|the same core as the training step) \((\d+ of its \d+|its one|both of "
                  r"its|all \d+ of its) workers?[^)]*?, ([\d.]+)% busy\)", text or rep.headline)
    assert m, text or rep.headline
    return _number(m.group(1)), _count(m.group(2)), float(m.group(3))


def _gauge(rep) -> tuple[float, int, float, int]:
    """(prep rate, workers, busy %, devices) the 3-box gauge's answer gives."""
    ans = next(f.answer for f in rep.findings if "3-box gauge" in f.question)
    m = re.search(r"^prep " + RATE + r" from (\d+) workers? \(([\d.]+)% busy\).*compute " + RATE + r" on (\d+) ", ans)
    assert m, ans
    return _number(m.group(1)), int(m.group(2)), float(m.group(3)), int(m.group(5))


# Hand figures (explorer/data/lab08_training.toml; the fleet 3D optimum's local step, lab 05 part 2):
# edge: 6 workers, 25 ms a frame -> 40 frames/s each; the local step eats 8 frames in ~64 ms = ~125/s, so the fewest
#   that feed one vehicle are ceil(125 x 0.025) = ceil(3.125) = 4: 4 / 0.025 = 160 samples/s, 125 / 160 = 78.1% busy
#   (the old headline's 6 workers gave 240 samples/s, 52.1%: all of its workers, not the answer's 4).
# mobile: 2 workers, 0.5 ms a sentence -> 2,000/s each; the local step eats 2 in ~0.119 s = ~16.9/s, so one worker
#   feeds it: 2,000 samples/s, 16.9 / 2,000 = 0.84% busy (the old headline: 2 workers, 4,000 samples/s, 0.42%).
# tiny: one core, one worker, 16 ms a clip -> 62.5 samples/s.
HAND = {"edge": (160.0, 4, 6), "mobile": (2000.0, 1, 2), "tiny": (62.5, 1, 1)}


@pytest.mark.parametrize("track", FLEET)
def test_headline_and_gauge_state_one_prep_rate_for_one_worker_count(track):
    rep = pd.solve(track)
    rate, w, total = HAND[track]
    h_rate, h_w, h_busy = _headline_prep(rep)
    g_rate, g_w, g_busy, g_n = _gauge(rep)
    assert g_n == 1  # the balance point feeds one device on every fleet track: the same configuration as the fleet's
    assert (h_rate, h_w) == (g_rate, g_w) == (pytest.approx(rate), w)
    assert h_busy == pytest.approx(g_busy, abs=0.01)
    assert rep.figure("workers") == w
    assert rep.figure("fleet_prep_rate") == pytest.approx(rate)
    # every figure of the prep stage names its worker count
    want = "its one worker" if total == 1 else f"{w} of its {total} workers"
    assert want in rep.figures["fleet_prep_rate"].label
    assert f"({w} worker{'s' if w > 1 else ''})" in rep.figures["utilisation_prep"].label
    assert rep.figure("utilisation_prep") == pytest.approx(g_busy / 100, abs=5e-4)
    assert rep.data["utilisation_gauge"]["workers"] == w
    assert rep.extra["fleet"]["pipeline"]["workers"] == w


def test_edge_with_two_vehicles_fed_says_each_configuration():
    """--augment-ms 10 on edge: a vehicle needs ceil(125 x 0.010) = 2 of its 6 workers (200 samples/s), while the lab's
    question as posed feeds both SoCs, 2 x 125 = 250/s, with ceil(2 x 10 / 8) = 3 workers (300 samples/s): two
    configurations, each named with its workers and devices."""
    rep = pd.solve("edge", augment_ms=10.0)
    h_rate, h_w, _ = _headline_prep(rep)
    g_rate, g_w, _, g_n = _gauge(rep)
    assert (h_rate, h_w) == (pytest.approx(200.0), 2)
    assert (g_rate, g_w, g_n) == (pytest.approx(300.0), 3, 2)


def test_starved_fleet_headline_uses_every_worker():
    """No worker count feeds a starved device, so its answer is for all of them: edge at --storage-gbps 0.01 keeps
    6 x 40 = 240 samples/s of prep, 'all 6 of its workers'."""
    rep = pd.solve("edge", storage_gbps=0.01)
    h_rate, h_w, _ = _headline_prep(rep, " ".join(rep.findings[0].answer.split()))  # the gauge: fleet finding
    assert (h_rate, h_w) == (pytest.approx(240.0), 6)
    assert "all 6 of its workers" in rep.headline


def _prose(rep) -> list[str]:
    return [rep.headline] + [f.answer for f in rep.findings] + [f.label for f in rep.figures.values()]


# '<number> [up to three words] instead of <number> [unit]': '25.6 h instead of 25.6 h', '540 rounds a day instead
# of 540'
SAME = re.compile(r"(\d[\d,]*(?:\.\d+)?)((?: [a-z/%]+){0,3}) instead of (\d[\d,]*(?:\.\d+)?)((?: [a-z/%]+)?)")
CASES = [("tiny", {}), ("mobile", {}), ("edge", {}), ("cloud", {}), ("tiny", {"augment_ms": 1000.0}),
         ("edge", {"augment_ms": 100.0}), ("edge", {"storage_gbps": 0.01}), ("cloud", {"workers": 2})]


@pytest.mark.parametrize("track,opts", CASES)
def test_no_sentence_compares_a_figure_with_itself(track, opts):
    for text in _prose(pd.solve(track, **opts)):
        flat = " ".join(text.split())
        for na, ua, nb, ub in SAME.findall(flat):  # the second figure's unit may be left out
            assert not (na == nb and ub in ("", ua[: len(ub)])), flat
        # and no 'all 1' / 'all 2': one worker is 'one worker', two are 'both'
        assert not re.search(r"\ball [12] (?:of its )?(?:workers?|\w+s)\b", flat), flat


def test_tiny_time_to_target_says_no_measurable_change_and_why():
    """On tiny the one core also prepares: a local step of 1 clip takes 697 + 16 = 713 ms instead of 697 ms, but the
    energy budget caps the rounds a day (f = budget / (q E_round): explorer/cost/federated.py), and a waiting core's
    round costs the same joules, so f stays; T = (ceil(R / f) - 1) day + (R - (ceil(R / f) - 1) f) D
    (federated.time_to_target_s): only the last day's rounds run later, by their count x the longer round."""
    rep = pd.solve("tiny")
    d_new, d_old = rep.figure("fleet_days_serialised"), rep.figure("fleet_days_to_target")
    f, r = rep.figure("fleet_rounds_per_day"), rep.figure("fleet_rounds")
    last = r - (math.ceil(r / f) - 1) * f
    assert 0 < last < f  # the run spans two windows: 730 rounds at ~540 a day
    assert d_new > d_old and (d_new - d_old) / d_old < 1e-3  # under 0.1%: 'no measurable change'
    flat = " ".join(rep.headline.split())
    assert "25.6 h instead of 25.6 h" not in flat
    assert "no measurable change: 25.6 h either way" in flat
    assert f"last day's {round(last)} rounds" in flat and "energy budget" in flat


def test_instead_shows_the_digits_that_tell_two_figures_apart():
    """25.625 h against 25.616 h: three and four significant digits print both alike (25.6, 25.62), five do not."""
    assert lab08.instead(25.625 * 3600, 25.616 * 3600) == "25.625 h instead of 25.616 h"
    assert lab08.instead(41.4, 30.6) == "41.4 s instead of 30.6 s"
    assert lab08.instead(30.0, 30.0) == "the same 30 s"


def test_target_change_below_a_tenth_of_a_percent():
    """Hand: 0.0002 day = 17.28 s later on 1 day (0.02%); rounds a day held at 100 by the energy budget while a
    round grows from 30 to 31 s; 150 rounds need ceil(1.5) = 2 windows, the last with 150 - 100 = 50 rounds."""
    old = {"days": 1.0, "rounds_per_day": 100.0, "rounds": 150.0, "round_time": 30.0, "binding": "energy budget"}
    new = {**old, "days": 1.0002, "round_time": 31.0}
    words = lab08.target_change(new, old)
    assert words.startswith("reaches the target with no measurable change: 24 h either way (17.3 s later, 0.02")
    assert "last day's 50 rounds" in words
    assert lab08.target_change({**new, "days": 1.01}, old) == "reaches the target in 24.2 h instead of 24 h"
    # rounds a day that do not change are said to stay, not 'N instead of N'
    assert lab08.rounds_change(new, old) == ("the fleet still runs 100 rounds a day (its energy budget caps them, "
                                             "not the round time)")


def test_every_worker_says_both_for_two():
    assert lab08.every_worker(1, "its ") == "its one worker"
    assert lab08.every_worker(2, "its ") == "both of its workers"
    assert lab08.every_worker(6, "its ") == "all 6 of its workers"
    rep = pd.solve("mobile")  # 2 workers on the glasses (lab08_training.toml [mobile])
    second = next(f.answer for f in rep.findings if f.question.startswith("Does a second"))
    assert "both workers deliver 4,000 samples/s" in " ".join(second.split())  # 2 / 0.5 ms


@pytest.mark.parametrize("track", ["edge", "mobile"])
def test_the_two_prep_constraints_agree(track):
    """The fleet's 'input pipeline >= local step' and the lab's 'prep rate >= compute rate' price the same prep rate
    (prep is the smaller of prep and ingest on both tracks): same value, same state. On mobile one worker's 2,000
    samples/s against the 16.9 a local step eats binds nothing (no fewer workers exist); on edge 4 workers are the
    fewest (3 give 120 < 125), so it binds."""
    rep = pd.solve(track)
    cs = {c.name.split(" (")[0]: c for c in rep.constraints}
    fleet, lab = cs["input pipeline >= local step"], cs["prep rate >= compute rate"]
    assert fleet.value == pytest.approx(lab.value) and fleet.limit == pytest.approx(lab.limit)
    assert fleet.binding == lab.binding == (track == "edge")


@pytest.mark.parametrize("track", FLEET)
@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_every_format_carries_the_same_worker_count(track, fmt):
    rep = pd.solve(track)
    out = render(rep, fmt)
    if fmt == "html":
        out = html.unescape(re.sub(r"<[^>]+>", " ", out))
    flat = " ".join(out.split())
    rate, w, total = HAND[track]
    want = "its one worker" if total == 1 else f"{w} of its {total} workers"
    assert want in flat
    assert f"from {w} worker" in flat  # the gauge
    if total > 1:
        assert f"({total} workers," not in flat  # the old headline's '(6 workers, 52.1% busy)': every worker
