"""The attempts grader's feedback, from a student sweep (items 3, 5, 6, 8 and 9 of its review): each test states the
right answer from a hand derivation or from the puzzle's own feasibility function and optimum, never from what the
grader printed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from explorer.reports.attempts import attach_attempts

from explorer.puzzles import get_puzzle


@cache
def _report(puzzle: str, track: str):
    return get_puzzle(puzzle).load().solve(track)


def _grade(tmp_path: Path, puzzle: str, track: str, text: str) -> list[dict]:
    f = tmp_path / "a.csv"
    f.write_text(text)
    return attach_attempts(_report(puzzle, track), f).extra["attempts"]


def _table(tmp_path: Path, puzzle: str, track: str, text: str):
    f = tmp_path / "a.csv"
    f.write_text(text)
    return attach_attempts(_report(puzzle, track), f).tables["attempts"]


# --- item 6: the memory attempts' parts add up to the total the grader checks ---------------------------------------

def test_memory_attempt_parts_add_up_to_the_device_memory_its_violation_quotes(tmp_path):
    """ZeRO-3 with Adam in bf16 and full recomputation on cloud: the waterfall's parts are weights, gradients,
    optimizer, activations, working and buffers (explorer/cost/training_memory.py MEMORY_TERMS); the violation is
    checked on their sum. The table left the buffers out, so its parts fell 3.47 GB short of the 163.87 GB quoted."""
    from explorer.puzzles import memory

    t = _table(tmp_path, "memory", "cloud", "optimizer,precision,recompute,micro_batch,zero\nadam,bf16,full,1,3\n")
    row = dict(zip(t.columns, t.rows[0]))
    parts = ("weights", "gradients", "optimizer", "activations", "working", "buffers")
    assert all(p in t.columns for p in parts) and "device memory" in t.columns, t.columns
    r = memory.evaluate_attempt({"optimizer": "adam", "precision": "bf16", "recompute": "full", "micro_batch": 1,
                                 "zero": 3}, "cloud")
    quoted = next(c.value for c in r["violations"] if c.name == "device memory")
    assert sum(r["figures"][p].value for p in parts) == quoted == r["figures"]["total"].value
    # the cells as printed (GB, two decimals) add up to the printed total within their rounding
    gb = [float(str(row[p]).split()[0]) for p in parts]
    assert abs(sum(gb) - float(str(row["device memory"]).split()[0])) <= 0.005 * len(parts)
