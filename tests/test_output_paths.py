"""Where the CLI writes, and what happens when it cannot (review 80, items 1, 4 and 9).

- A re-rendered report keeps the name its own command gives it: a frontier report's JSON through `explore report
  --out DIR` is frontier-3d-cloud.*, so it never replaces the `solve 3d` report saved as 3d-cloud.* in DIR.
- An output file that cannot be written (a directory in its place, a path through a regular file) is a one-line
  error naming the path, exit 2, checked before solving where --out's help promises it; never "internal error".
  `explore key` exits non-zero when an answer was not written (2 for the output's fault, 1 for a puzzle's).
- Re-saving an edited report keeps it unverified: the new JSON says 'mismatch', never just 'no checksum'.

Real CLI runs (tests/_explore.py) on tmp_path; root ignores chmod, so an unwritable path is made with a regular
file where a directory should be (NotADirectoryError for every user).
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import _reports_fake as fake
import pytest
from _explore import explore

import explorer.puzzles as puzzles
from explorer.puzzles import PuzzleInfo
from explorer.report import Report


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """A `solve 3d` report saved by --out, a `frontier 3d` report's JSON, and a `solve crossover` report's JSON."""
    d = tmp_path_factory.mktemp("saved")
    code, out, err = explore("solve", "3d", "--format", "json", "--out", str(d / "s3d"))
    assert code == 0, err
    code, out, err = explore("frontier", "3d", "--gpus", "64", "--levels", "1", "--format", "json")
    assert code == 0, err
    (d / "fr.json").write_text(out, encoding="utf-8")
    code, out, err = explore("solve", "crossover", "--format", "json")
    assert code == 0, err
    (d / "crossover.json").write_text(out, encoding="utf-8")
    return {"s3d": d / "s3d" / "3d-cloud.json", "fr": d / "fr.json", "crossover": d / "crossover.json"}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run from tmp_path, output paths given relative to it, as a user gives them."""
    monkeypatch.chdir(tmp_path)


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    return lines[0]


# --- item 1: a re-rendered report under its own command's name -----------------------------------------------
@pytest.mark.parametrize("fmt, ext", [("json", "json"), ("html", "html"), ("markdown", "md")])
def test_rerendered_frontier_report_does_not_replace_the_solve_report(saved, tmp_path, fmt, ext):
    out = tmp_path / "s3d"
    code, _, err = explore("report", str(saved["s3d"]), "--format", fmt, "--out", str(out))
    assert code == 0, err
    solve_file = out / f"3d-cloud.{ext}"
    before = solve_file.read_bytes()
    code, stdout, err = explore("report", str(saved["fr"]), "--format", fmt, "--out", str(out))
    assert code == 0, err
    assert stdout.splitlines()[0] == str(out / f"frontier-3d-cloud.{ext}")
    assert solve_file.read_bytes() == before  # the solve report survives, byte for byte
    assert "Optimal frontier" in (out / f"frontier-3d-cloud.{ext}").read_text(encoding="utf-8")
    if fmt == "markdown":  # its plot under the name `explore frontier --format markdown` gives it
        assert (out / "frontier-3d-cloud-frontier.png").is_file()


def test_rerendered_solve_report_keeps_the_solve_name(saved, tmp_path):
    code, stdout, err = explore("report", str(saved["fr"]), "--format", "json", "--out", str(tmp_path))
    assert code == 0, err
    code, stdout, err = explore("report", str(saved["s3d"]), "--format", "json", "--out", str(tmp_path))
    assert code == 0 and stdout.strip() == str(tmp_path / "3d-cloud.json"), (stdout, err)
    assert (tmp_path / "3d-cloud.json").read_bytes() == saved["s3d"].read_bytes()
    assert json.loads((tmp_path / "frontier-3d-cloud.json").read_text())["title"].startswith("Optimal frontier")


# --- item 4: an output path that cannot be written ------------------------------------------------------------
def test_report_target_that_is_a_directory(saved, tmp_path):
    (tmp_path / "clash" / "3d-cloud.html").mkdir(parents=True)
    code, stdout, err = explore("report", str(saved["s3d"]), "--format", "html", "--out", "clash")
    line = one_line_error(err)
    assert code == 2 and not stdout
    assert line == "error: --out clash: 3d-cloud.html is a directory, where the file goes; remove or rename it"


def test_solve_target_that_is_a_directory_is_refused_before_solving(tmp_path, monkeypatch):
    import explorer.puzzles.crossover as crossover

    calls = []
    monkeypatch.setattr(crossover, "solve", lambda *a, **k: calls.append(1))
    (tmp_path / "out" / "crossover-cloud.txt").mkdir(parents=True)
    code, stdout, err = explore("solve", "crossover", "--out", "out")
    line = one_line_error(err)
    assert code == 2 and not calls, (code, calls)
    assert "--out out: crossover-cloud.txt is a directory" in line


def test_frontier_target_that_is_a_directory_is_refused_before_solving(tmp_path, monkeypatch):
    import explorer.frontier

    calls = []
    monkeypatch.setattr(explorer.frontier, "frontier", lambda *a, **k: calls.append(1))
    for name in ("frontier-3d-cloud.csv", "frontier-3d-cloud.png", "frontier-3d-cloud.txt"):
        out = name.replace(".", "_")
        (tmp_path / out / name).mkdir(parents=True)
        code, stdout, err = explore("frontier", "3d", "--gpus", "64", "--levels", "1", "--out", out)
        line = one_line_error(err)
        assert code == 2 and not calls, (name, code, calls)
        assert f"--out {out}: {name} is a directory" in line


def test_out_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "afile").write_text("x")
    for args in (("solve", "crossover"), ("frontier", "3d", "--gpus", "64", "--levels", "1"),
                 ("key", "--lab", "06", "--track", "cloud")):
        code, _, err = explore(*args, "--out", "afile/sub")  # NotADirectoryError, for root too
        line = one_line_error(err)
        assert code == 2 and "afile/sub" in line and "not a writable directory" in line, (args, line)


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root ignores chmod 0o500")
def test_read_only_target_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = explore("solve", "crossover", "--out", "ro")
    finally:
        ro.chmod(0o700)
    line = one_line_error(err)
    assert code == 2 and "--out" in line and "ro" in line and "not a writable directory" in line


def _dangling_through_a_file(tmp_path: Path, link: Path) -> None:
    """link -> tmp_path/afile/x: passes every check that does not write (it does not exist), and writing it is a
    NotADirectoryError (a path through a regular file), for root too."""
    (tmp_path / "afile").write_text("x")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(tmp_path / "afile" / "x")


def test_write_failure_after_solving_is_a_one_line_error(tmp_path):
    _dangling_through_a_file(tmp_path, tmp_path / "out" / "crossover-cloud.txt")
    code, stdout, err = explore("solve", "crossover", "--out", "out")
    line = one_line_error(err)
    assert code == 2 and line == "error: cannot write out/crossover-cloud.txt: not a directory"


def test_frontier_write_failure_is_a_one_line_error(tmp_path):
    _dangling_through_a_file(tmp_path, tmp_path / "out" / "frontier-3d-cloud.csv")
    code, stdout, err = explore("frontier", "3d", "--gpus", "64", "--levels", "1", "--out", "out")
    line = one_line_error(err)
    assert code == 2 and line == "error: out/frontier-3d-cloud.csv: not a directory"


@pytest.fixture()
def fake_key(monkeypatch):
    """The key over two fake puzzles (each solved in microseconds): 'fake' and 'fake2'."""
    monkeypatch.setitem(sys.modules, "_reports_fake", fake)
    monkeypatch.setattr(puzzles, "PUZZLES", {"fake": PuzzleInfo("fake", "08", 1, "Fake", "_reports_fake"),
                                             "fake2": PuzzleInfo("fake2", "08", 2, "Fake 2", "_reports_fake")})


def test_key_output_clash_is_refused_before_solving(fake_key, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fake, "solve", lambda *a, **k: calls.append(1))
    (tmp_path / "key" / "lab08" / "fake2-cloud.html").mkdir(parents=True)
    code, stdout, err = explore("key", "--lab", "08", "--track", "cloud", "--out", "key", "-j", "1")
    line = one_line_error(err)
    assert code == 2 and not calls and "--out key: lab08/fake2-cloud.html is a directory" in line


def test_key_exits_non_zero_when_an_answer_is_not_written(fake_key, tmp_path):
    _dangling_through_a_file(tmp_path, tmp_path / "key" / "lab08" / "fake2-cloud.json")
    code, stdout, err = explore("key", "--lab", "08", "--track", "cloud", "--out", str(tmp_path / "key"),
                                "-j", "1")
    assert code == 2, (code, stdout, err)  # the output's fault, not the puzzle's
    assert "1 of 2 answers written" in stdout and "internal error" not in err
    index = {e["puzzle"]: e for e in json.loads((tmp_path / "key" / "index.json").read_text())}
    assert not index["fake"]["error"] and "NotADirectoryError" in index["fake2"]["error"]


def test_key_exits_1_when_a_puzzle_fails(fake_key, tmp_path, monkeypatch):
    def solve(track="cloud", **options):
        raise ValueError("the fake solver broke")

    monkeypatch.setattr(puzzles, "PUZZLES", {**puzzles.PUZZLES,
                                             "boom": PuzzleInfo("boom", "08", 3, "Boom", "_reports_boom")})
    boom = types.ModuleType("_reports_boom")
    boom.solve = solve
    monkeypatch.setitem(sys.modules, "_reports_boom", boom)
    code, stdout, err = explore("key", "--lab", "08", "--track", "cloud", "--out", str(tmp_path), "-j", "1")
    assert code == 1, (code, stdout, err)
    assert "2 of 3 answers written" in stdout and "the fake solver broke" in err


# --- item 9: re-saving an edited report keeps it unverified ---------------------------------------------------
def _edited(saved, tmp_path: Path, checksum: bool = True) -> Path:
    d = json.loads(saved["crossover"].read_text())
    d["headline"] = "EDITED <script>alert(1)</script> " + d["headline"]
    if not checksum:
        d.pop("checksum")
    f = tmp_path / ("edited.json" if checksum else "nochecksum.json")
    f.write_text(json.dumps(d), encoding="utf-8")
    return f


def test_resaving_an_edited_report_keeps_it_unverified(saved, tmp_path):
    edited = _edited(saved, tmp_path)
    src = edited
    for round_ in ("first", "second"):  # re-saving a re-saved file launders nothing either
        out = tmp_path / round_
        code, stdout, err = explore("report", str(src), "--format", "json", "--out", str(out))
        assert code == 0, err
        src = out / "crossover-cloud.json"
        data = json.loads(src.read_text())
        assert data["integrity"] == "mismatch", round_
        assert Report.from_dict(data).integrity == "mismatch", round_
        code, text, err = explore("report", str(src))
        assert code == 0 and "edited after saving" in " ".join(text.split()), round_
        assert "no checksum" not in text
    attempts = tmp_path / "a.csv"
    attempts.write_text("x\n1\n")
    code, _, err = explore("report", str(src), "--attempts", str(attempts))
    assert code == 2 and "grades only a verified report" in err and "edited after saving" in err


def test_resaving_a_report_without_checksum_keeps_saying_so(saved, tmp_path):
    code, _, err = explore("report", str(_edited(saved, tmp_path, checksum=False)), "--format", "json",
                           "--out", str(tmp_path / "o"))
    assert code == 0, err
    data = json.loads((tmp_path / "o" / "crossover-cloud.json").read_text())
    assert data["integrity"] == "missing" and "checksum" not in data
    assert Report.from_dict(data).integrity == "missing"


def test_resaving_a_verified_report_keeps_it_verified(saved, tmp_path):
    code, _, err = explore("report", str(saved["crossover"]), "--format", "json", "--out", str(tmp_path))
    assert code == 0, err
    data = json.loads((tmp_path / "crossover-cloud.json").read_text())
    assert "integrity" not in data and Report.from_dict(data).integrity == "verified"


# --- minor: Markdown shows report text, never passes it on as HTML; report's --out help -----------------------
def test_markdown_does_not_pass_raw_html(saved, tmp_path):
    code, md, err = explore("report", str(_edited(saved, tmp_path)), "--format", "markdown")
    assert code == 0, err
    assert "<script>" not in md and "&lt;script>alert(1)&lt;/script>" in md


def test_report_help_does_not_promise_checking_before_solving():
    code, out, _ = explore("report", "--help")
    text = " ".join(out.split())
    assert code == 0 and "before solving" not in text and "frontier-3d-cloud.html" in text
