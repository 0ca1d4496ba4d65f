"""--out takes a directory: a path that names a file is refused before anything is solved or created.

`explore solve 3d --format html --out /tmp/r.html` made a directory r.html/ holding 3d-cloud.html, without a word.
Now a path that does not exist and ends in a file suffix (.html .json .md .txt .png .csv) is a one-line usage error
(exit 2) naming the file the command would have written; an existing directory of such a name is still used."""

from __future__ import annotations

import pytest
from _explore import explore


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("args, given, would", [
    (["solve", "sync", "--track", "edge", "--format", "html"], "r.html", "r.html/sync-edge.html"),
    (["solve", "crossover", "--format", "json"], "out/R.JSON", "out/R.JSON/crossover-cloud.json"),
    (["solve", "compression", "--format", "markdown"], "notes.md", "notes.md/compression-cloud.md"),
    (["frontier", "3d", "--gpus", "64", "--levels", "1"], "points.csv", "points.csv/frontier-3d-cloud.txt"),
])
def test_a_file_name_given_to_out_is_refused(tmp_path, args, given, would):
    code, out, err = explore(*args, "--out", given)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    assert "--out takes a directory" in lines[0] and would in lines[0], lines[0]
    assert not (tmp_path / given).exists()  # nothing created
    assert out == ""


def test_an_existing_directory_with_a_suffix_is_used(tmp_path):
    (tmp_path / "r.html").mkdir()
    code, out, err = explore("solve", "sync", "--format", "html", "--out", "r.html")
    assert code == 0, err
    assert (tmp_path / "r.html" / "sync-cloud.html").is_file()


def test_a_directory_without_a_file_suffix_is_created(tmp_path):
    code, out, err = explore("solve", "sync", "--format", "json", "--out", "reports.v2")
    assert code == 0, err
    assert (tmp_path / "reports.v2" / "sync-cloud.json").is_file()


@pytest.mark.parametrize("argv", [["validate"], ["key"], ["report", "nope.json"]])
def test_every_out_refuses_a_file_name(tmp_path, argv):
    # the commands outside the solve family take validation.OutDir: the same refusal, before anything is written
    code, out, err = explore(*argv, "--out", "r.html")
    assert code == 2 and "takes a directory, not a file" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r.html").exists()
