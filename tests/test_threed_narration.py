"""`explore solve 3d` narration against its own figures (review 85, items 1-3, 5, 6, 8): a time-limited answer the
exhaustive search proves wrong is replaced by the proven optimum; limits the what-if run never judged are said to be
not judged; a slower optimum names the user's pin, not a limit the crisis does not break; the weight-memory question
prints its bytes in a unit that shows them; the usable-memory assumption cites the node actually used; the repr
prints the instance's limit. Every case is a real solve (the cloud track unless said)."""

from __future__ import annotations

import pytest

from explorer.puzzles import threed
from explorer.puzzles.threed import explain as threed_explain
from explorer.puzzles.threed import model as threed_model
from explorer.tracks import get_track


def _first_solution(monkeypatch) -> None:
    """CP-SAT stops at its first solution, as a short --time-limit stops it (deterministic: one worker): status
    FEASIBLE, not proven. On the cloud default that first solution is TP=4 PP=1 DP=256 ZeRO-3, step 4.372 s,
    13% slower than the optimum (review 85 item 1 saw the same plan at --time-limit 0.6-0.8)."""
    # patched where _solve_cpsat looks it up (explorer/puzzles/threed/model.py)
    monkeypatch.setattr(threed_model, "CPSAT_PARAMS", {**threed_model.CPSAT_PARAMS, "stop_after_first_solution": True})


def _finding(report, start: str) -> str:
    hits = [f.answer for f in report.findings if f.question.startswith(start)]
    assert len(hits) == 1, [f.question for f in report.findings]
    return hits[0]


# --- item 1: the report knew the proven optimum and headlined a slower plan ----------------------------------------
def test_time_limited_answer_is_replaced_by_the_exhaustive_optimum(monkeypatch):
    _first_solution(monkeypatch)
    proven = threed.solve_3d("cloud")  # without the patch: CP-SAT's own proof
    monkeypatch.undo()
    reference = threed.solve_3d("cloud")
    assert reference.status == "optimal" and reference.proven_by == "CP-SAT"
    # The patched solve: CP-SAT stopped with an unproven plan; the exhaustive search covered the whole space (86,160
    # valid configurations of the default box, below EXPLAIN_MAX_SPACE), so its best is the proven optimum.
    assert proven.cpsat_unproven is not None
    assert proven.cpsat_unproven.step_time_s > proven.best.step_time_s * 1.05  # 4.372 s against 3.869 s
    assert proven.status == "optimal" and proven.proven_by == "exhaustive search"
    # the same step as CP-SAT's own proven optimum (TP=8 PP=2 DP=64 mb=1 v=10 ZeRO-1, 3.869 s, MFU 51.5%)
    assert proven.best.step_time_s == pytest.approx(reference.best.step_time_s, rel=1e-9)
    assert proven.gap == 0.0
    rep = proven.report
    assert rep.status == "optimal"
    assert "proven optimal by exhaustive search after CP-SAT stopped at its time limit" in rep.headline
    assert rep.headline.startswith(proven.best.plan.describe())
    # attempts are graded against report.extra['objective']: the proven optimum's MFU, not CP-SAT's 45.6%
    assert rep.extra["objective"]["value"] == pytest.approx(reference.best.mfu, rel=1e-9)
    assert rep.extra["proven_by"] == "exhaustive search"
    assert rep.extra["cpsat_unproven"]["plan"] == proven.cpsat_unproven.plan.describe()
    why = _finding(rep, "Is the optimum proven?")
    # honest about both engines: CP-SAT's unproven plan and how much faster the proven one is
    # (4.3718 / 3.8691 - 1 = 13.0%)
    assert why.startswith("Yes, by exhaustive search: CP-SAT stopped at its time limit with "
                          + proven.cpsat_unproven.plan.describe())
    assert f"{proven.cpsat_unproven.step_time_s / proven.best.step_time_s - 1:.1%} faster than CP-SAT's plan" in why
    assert "agrees" not in why
    # the what-if analysis now speaks of a proven optimum: the memory limit binds, judged by re-solving
    assert rep.extra["binding_judged"] is True
    assert _finding(rep, "Does the memory limit bind?").startswith("Yes: without it")


def test_time_limited_answer_stays_unproven_without_a_whole_enumeration(monkeypatch):
    """The what-if cap below the space: no exhaustive search, so nothing proves the answer: status stays FEASIBLE."""
    _first_solution(monkeypatch)
    monkeypatch.setattr(threed_explain, "EXPLAIN_MAX_SPACE", 1000)  # the default box has far more combinations
    res = threed.solve_3d("cloud")
    assert res.status == "feasible" and res.proven_by is None and res.cpsat_unproven is None
    rep = res.report
    assert rep.status == "feasible"
    assert "not proven optimal" in rep.headline and "exhaustive" not in rep.headline
    assert rep.extra["binding_judged"] is False
    assert not any(f.question == "Is the optimum proven?" for f in rep.findings)
    text = _finding(rep, "Do the memory and bubble limits bind?")
    assert text.startswith("Not judged: the design space of ") and "not proven optimal" in text


# --- items 2 and 7: limits the what-if run did not judge ---------------------------------------------------------
def test_limits_not_analysed_are_said_not_judged(monkeypatch):
    """The cloud default's memory limit binds (the what-if run finds TP=2 PP=1 DP=512 at 3.735 s < 3.869 s without
    it); with the what-if run skipped the report must not say 'No: lifting it would not allow a faster step'."""
    monkeypatch.setattr(threed_explain, "EXPLAIN_MAX_SPACE", 1000)
    res = threed.solve_3d("cloud")
    assert res.status == "optimal" and res.binding["analysed"] is False
    rep = res.report
    assert rep.extra["binding_judged"] is False
    assert not any(f.question.startswith("Does the memory limit bind?") for f in rep.findings)
    text = _finding(rep, "Do the memory and bubble limits bind?")
    assert text.startswith("Not judged: the design space of ")
    assert "too large for the what-if enumeration" in text
    assert "not judged" in rep.extra["binding_means"]
    # the table says it too: the cloud optimum's bubble (1.2% of 10%) is off its limit, so 'not judged', not 'ok'
    from explorer.reports.render import constraint_legend, constraint_rows

    states = {row[0]: row[-1] for row in constraint_rows(rep)}
    assert states["bubble fraction"] == "not judged" and "not judged = " in constraint_legend(rep)
    # and it survives a save and a load (the field is written only when False)
    from explorer.report import Report

    d = rep.to_dict()
    assert [c.get("judged", True) for c in d["constraints"]][:2] == [c.judged for c in rep.constraints][:2]
    assert Report.from_dict(d).integrity == "verified"
    assert {row[0]: row[-1] for row in constraint_rows(Report.from_dict(d))} == states
    from explorer.api import solve_3d as api_solve_3d

    assert "was not judged" in repr(api_solve_3d("cloud").binding)  # the notebook's view of the same


def test_reviewers_large_space_is_not_judged():
    """review 85 item 2 as given: 128,024,064 combinations > EXPLAIN_MAX_SPACE (50,000,000); about 3 s."""
    res = threed.solve_3d("cloud", gpus=131072, framework="any", global_batch=15728640, model="llama3_405b")
    assert res.space_size > threed_explain.EXPLAIN_MAX_SPACE
    text = _finding(res.report, "Do the memory and bubble limits bind?")
    assert f"design space of {res.space_size:,} combinations is too large" in text


# --- item 3: the pin, not the limits, makes the optimum slower than the crisis --------------------------------------
def test_slower_optimum_names_the_pin_not_a_limit():
    """Crisis TP=8 PP=8 DP=16 mb=2 (16 micro-batches): bubble (P-1)/(m+P-1) = 7/23 = 30.4% < 90%, and 53.07 GB of
    76.45 GB: it breaks no limit; only --fix cp=32 (it runs CP = 1) rules it out."""
    res = threed.solve_3d("cloud", fix={"cp": 32}, max_bubble=0.9)
    assert res.crisis.fits_in_memory and res.crisis.bubble_fraction == pytest.approx(7 / 23)
    assert res.crisis.step_time_s < res.best.step_time_s  # the optimum is slower
    rep = res.report
    assert "slower, the price of --fix cp=32 (the crisis runs CP = 1)." in rep.headline
    assert "crisis breaks" not in rep.headline
    assert "--fix cp=32" in _finding(rep, "Why is the optimum slower per step")


def test_slower_optimum_names_the_pin_and_the_limit_the_crisis_breaks():
    """At the default max-bubble 10% the crisis's 30.4% bubble breaks the limit too: both reasons named."""
    rep = threed.solve_3d("cloud", fix={"cp": 32}).report
    assert "the price of --fix cp=32 (the crisis runs CP = 1) and of the limit the crisis breaks (bubble 30.4% > " \
           "10%" in rep.headline


# --- item 5: the weight-memory question in readable units, its verb following the numbers ----------------------------
def test_weight_memory_question_prints_its_bytes():
    """4 layers, hidden 1024, vocab 256,000 on 8 GPUs at TP=2: params = 2 x 256,000 x 1,024 (embedding and head,
    524.3M) + 4 x ~12.6M (layers) = ~574.6M; BF16 weights over TP=2: 574.6M x 2 B / 2 = 574.62 MB per device, x 8
    devices = 4.60 GB in total (the old text printed 0.00 TB). Totals 4.60 > 2.30 > 2.20 GB: 'decreases'."""
    from explorer.api import custom_model

    res = threed.solve_3d("cloud", model=custom_model(layers=4, hidden=1024, heads=8, vocab=256000), gpus=8,
                          global_batch=64, seq_len=2048)
    assert res.best.plan.tp == 2
    text = _finding(res.report, "Does PP increase or decrease")
    assert "TB in total" not in text
    assert "PP=1: 574.62 MB/device, 4.60 GB in total; PP=2: 287.31 MB/device, 2.30 GB in total; PP=4: " in text
    assert "the cluster-wide weight memory decreases:" in text


def test_usable_memory_cites_the_node_used():
    res = threed.solve_3d("cloud", model="llama3_8b", gpus=64, gpu="a100")
    a = res.report.assumptions[0]
    assert a.text.startswith("Usable memory is 90% of HBM")
    assert "DGX A100" in a.source and "DGX H100" not in a.source
    assert "HBM: NVIDIA A100" in a.source and "the cloud track's" in a.source
    # the track's own node keeps the track's source
    own = threed.solve_3d("cloud", model="llama3_8b", gpus=64).report.assumptions[0]
    assert own.source == get_track("cloud").sources["cluster"]


# --- item 8: the repr's limit is the instance's ------------------------------------------------------------------
def test_repr_prints_the_instance_limit():
    """memory_limit_bytes 1e13 = 10.00 TB (GB = 1e9 B, TB = 1e12 B); the device's own 76.45 GB is not the limit."""
    res = threed.solve_3d("cloud", model="llama3_8b", gpus=64, memory_limit_bytes=10**13)
    assert " of 10.00 TB per device" in repr(res)
    assert "76.45 GB per device" not in repr(res)
    assert res.report.assumptions[0].text.startswith("Usable memory is 10.00 TB per device, the limit given")


def test_a_share_just_under_its_limit_prints_apart_from_it():
    """--max-bubble 0.001 on 64 GPUs: the optimum's bubble is 0.098% (binding, not tight); at one decimal both read
    0.1%, so the table widens to 0.098% <= 0.100%."""
    from explorer.reports.render import constraint_rows

    rep = threed.solve_3d("cloud", gpus=64, max_bubble=0.001).report
    row = next(r for r in constraint_rows(rep) if r[0] == "bubble fraction")
    value, limit = row[1], row[2].removeprefix("<= ")
    assert value != limit and float(value.rstrip("%")) < float(limit.rstrip("%"))
