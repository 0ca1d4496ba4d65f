"""The report commands through Click's CliRunner: attempts template, report re-rendering, key, frontier."""

from __future__ import annotations

import importlib
import json
import sys
import types

import _reports_fake as fake
import pytest
from click.testing import CliRunner

import explorer.puzzles as puzzles
from explorer.puzzles import PUZZLES, PuzzleInfo


def _load_cli():
    """Import the CLI; a required command module that has not landed yet is stubbed (only if missing)."""
    for _ in range(5):
        try:
            cli = importlib.import_module("explorer.cli")
            importlib.import_module("explorer.cli.reports_cmds")
            return cli.main
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("explorer.cli."):
                raise
            sys.modules[exc.name] = types.ModuleType(exc.name)
    raise RuntimeError("could not import explorer.cli")


@pytest.fixture()
def main(monkeypatch):
    monkeypatch.setitem(sys.modules, "_reports_fake", fake)
    monkeypatch.setitem(PUZZLES, "fake", PuzzleInfo("fake", "05", 9, "Fake puzzle", "_reports_fake"))
    return _load_cli()


def run(main, args):
    from explorer.errors import ExplorerError

    result = CliRunner().invoke(main, args, catch_exceptions=True)
    if isinstance(result.exception, ExplorerError):
        return result, f"error: {result.exception}"
    return result, result.output


def test_attempts_template(main):
    r, out = run(main, ["attempts", "template", "fake"])
    assert r.exit_code == 0 and out.splitlines()[-1] == "tp,pp"


def test_report_rerenders_saved_json(main, tmp_path):
    from explorer.reports.render import to_json

    f = tmp_path / "saved.json"
    f.write_text(to_json(fake.solve("edge")))
    r, out = run(main, ["report", str(f), "--format", "markdown"])
    assert r.exit_code == 0 and out.startswith("# Lab 05 part 9: Fake puzzle [edge]")
    r, out = run(main, ["report", str(f), "--format", "html", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0 and (tmp_path / "o" / "fake-edge.html").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r, out = run(main, ["report", str(bad)])
    assert "is not JSON (line 1" in out
    plan = tmp_path / "plan.json"  # the JSON of `explore plan`: no puzzle (was "puzzle 'None' is not one of ...")
    plan.write_text(json.dumps({"verdict": "CONSISTENT", "best": None}))
    r, out = run(main, ["report", str(plan)])
    assert r.exit_code == 2 and "has no 'puzzle'" in out


def test_key_command(main, tmp_path, monkeypatch):
    monkeypatch.setattr(puzzles, "PUZZLES", {"fake": PuzzleInfo("fake", "08", 1, "Fake", "_reports_fake")})
    r, out = run(main, ["key", "--lab", "08", "--track", "cloud", "--out", str(tmp_path)])
    assert r.exit_code == 0, out
    assert "1 of 1 answers written" in out
    assert json.loads((tmp_path / "index.json").read_text())[0]["files"]["html"] == "lab08/fake-cloud.html"


def test_frontier_command_writes_csv_and_png(main, tmp_path, monkeypatch):
    import test_reports_frontier as tf

    api = types.ModuleType("explorer.api")
    api.solve_3d = tf.fake_solve_3d
    monkeypatch.setitem(sys.modules, "explorer.api", api)
    r, out = run(main, ["frontier", "3d", "--track", "cloud", "--gpus", "16,32", "--out", str(tmp_path),
                        "--format", "markdown"])
    assert r.exit_code == 0, out
    assert (tmp_path / "frontier-3d-cloud.csv").exists() and (tmp_path / "frontier-3d-cloud-frontier.png").exists()
    r, out = run(main, ["frontier", "3d", "--gpus", "16,x"])
    assert "'--gpus'" in out and "got 'x'" in out and r.exit_code == 2


def test_frontier_text_fits_a_narrow_terminal(main, monkeypatch):
    # The text report used to end with the points as raw CSV: rows of about 150 characters on any terminal.
    monkeypatch.setenv("COLUMNS", "40")
    r = CliRunner().invoke(main, ["frontier", "3d", "--track", "cloud", "--gpus", "32", "--levels", "1"])
    assert r.exit_code == 0, r.output
    wide = [line for line in r.stdout.splitlines() if len(line) > 40]
    assert not wide and "--out DIR writes frontier-3d-cloud.csv" in " ".join(r.stdout.split())
