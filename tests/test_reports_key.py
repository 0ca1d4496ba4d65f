"""Answer keys: byte-identical reruns, every file linked from the index, failing puzzles listed not fatal."""

from __future__ import annotations

import sys

import _reports_fake as fake
import pytest
from explorer.reports.key import build_key

import explorer.puzzles as puzzles
from explorer.puzzles import PuzzleInfo


@pytest.fixture()
def small_registry(monkeypatch):
    monkeypatch.setitem(sys.modules, "_reports_fake", fake)
    monkeypatch.setattr(puzzles, "PUZZLES", {
        "fake": PuzzleInfo("fake", "05", 1, "Fake puzzle", "_reports_fake"),
        "ghost": PuzzleInfo("ghost", "05", 2, "Not written yet", "explorer.puzzles.ghost_not_written"),
        "other": PuzzleInfo("other", "06", 1, "Another lab", "_reports_fake"),
    })


def _files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_key_is_byte_identical_across_runs(small_registry, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ea = build_key(["05"], ["cloud", "tiny"], a)
    build_key(["05"], ["cloud", "tiny"], b)
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k]] == []
    # 2 tracks x (fake solved, ghost failed); lab 06 not selected.
    assert [(e.puzzle, e.track, bool(e.error)) for e in ea] == [("fake", "cloud", False), ("fake", "tiny", False),
                                                               ("ghost", "cloud", True), ("ghost", "tiny", True)]
    assert {"index.html", "index.md", "index.json", "lab05/fake-cloud.md", "lab05/fake-cloud.html",
            "lab05/fake-cloud.json", "lab05/fake-cloud.txt"} <= fa.keys()
    assert not any(k.endswith("math_peek.png") for k in fa)  # the math peek is a text section only
    assert not any(k.startswith("lab06") for k in fa)
    # The fake report's solve time (0.0123 s, in solve_time_s and in its headline) must not leak into the key.
    assert b"0.0123" not in fa["lab05/fake-cloud.json"] and b"solve time" not in fa["lab05/fake-cloud.md"]


def test_index_links_every_answer_and_lists_errors(small_registry, tmp_path):
    entries = build_key(["05", "06"], ["cloud"], tmp_path)
    index = (tmp_path / "index.html").read_text()
    for e in entries:
        for path in e.files.values():
            assert f"href='{path}'" in index and (tmp_path / path).exists()
    assert "ghost" in index and "not implemented yet" in index
    md = (tmp_path / "index.md").read_text()
    assert "## Lab 06" in md and "2 of 3 answers solved" in md
    page = (tmp_path / "lab05" / "fake-cloud.md").read_text()
    assert page.count("## Math peek") == 1 and "math_peek" not in page


def test_the_index_says_which_labs_and_tracks_it_covers():
    from explorer.reports.key import KeyEntry, index_html, index_markdown

    from explorer.tracks import track_names

    labs = {"05": "Distributed training", "06": "Collective communication", "08": "Model training"}

    def first_line(entries):
        return index_markdown(entries, labs).splitlines()[2]

    one = [KeyEntry("06", 1, "crossover", "The algorithm crossover", "edge")]
    assert first_line(one).startswith("Every part of lab 06 for the edge track, solved.")
    two = [KeyEntry(lab, 1, "x", "X", t) for lab in ("05", "06") for t in ("cloud", "tiny")]
    assert first_line(two).startswith("Every part of labs 05 and 06 for the cloud and tiny tracks, solved.")
    every = [KeyEntry(lab, 1, "x", "X", t) for lab in labs for t in track_names()]
    assert first_line(every).startswith("Every lab part for every track, solved.")
    failed = [KeyEntry("06", 1, "crossover", "The algorithm crossover", "edge", error="not implemented yet")]
    assert "<p>Every part of lab 06 for the edge track, solved." in index_html(failed, labs)


def test_parallel_key_writes_the_same_files(small_registry, tmp_path):
    build_key(["05"], ["cloud", "edge"], tmp_path / "serial")
    build_key(["05"], ["cloud", "edge"], tmp_path / "parallel", jobs=2)
    a, b = _files(tmp_path / "serial"), _files(tmp_path / "parallel")
    assert a.keys() == b.keys() and [k for k in a if a[k] != b[k]] == []


def test_key_of_a_real_puzzle_is_byte_identical(monkeypatch, tmp_path):
    # One real lab part (lab 06 part 2, tiny track: a small CP-SAT model) to keep the suite fast.
    real = puzzles.PUZZLES["hierarchy"]
    monkeypatch.setattr(puzzles, "PUZZLES", {"hierarchy": real})
    ea = build_key(["06"], ["tiny"], tmp_path / "a")
    if ea[0].error.startswith("not implemented"):
        pytest.skip(ea[0].error)
    assert ea[0].error == ""
    build_key(["06"], ["tiny"], tmp_path / "b")
    fa, fb = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert fa.keys() == fb.keys() and [k for k in fa if fa[k] != fb[k]] == []


def test_a_long_answer_folds_in_the_index_and_a_short_one_does_not():
    """The index is a table to scan: an answer of 700 characters (lab 08 part 2 on a tiny track runs that long)
    shows its first clause or words and opens to the whole; a one-line answer is shown whole."""
    from explorer.reports.key import SHORT_HEADLINE, KeyEntry, index_html

    files = {f: f"a.{f}" for f in ("html", "markdown", "json", "text")}
    long = "Prep 62.5 samples/s on one core, " + "ingest and compute take turns; " * 25 + "END-OF-ANSWER."
    short = "TP=8 PP=2 DP=64: MFU 51.5%."
    html = index_html([KeyEntry("08", 2, "dataloader", "T", "tiny", "optimal", long, files),
                       KeyEntry("08", 2, "dataloader", "T", "cloud", "optimal", short, files)], {"08": "x"})
    summary = html.split("<summary>")[1].split("</summary>")[0]
    assert len(summary) <= SHORT_HEADLINE + len(" &hellip;") and summary.startswith("Prep 62.5")
    assert "END-OF-ANSWER." in html.split("</summary>")[1]  # the whole answer is inside the fold
    assert html.count("<details>") == 1 and f"{short}<br>" in html
