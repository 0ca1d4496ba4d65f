"""Defects of a new-user sweep: frontier attempts at unsolved GPU counts, sweep resume of unproven rows and its
figure's label, the lab's editor URL, stray progress output and options refused before anything is written."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from explorer.cli import main
from explorer.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
ATTEMPTS_3D = ROOT / "docs" / "examples" / "attempts-3d-cloud.csv"


def _explore(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


# ---------------------------------------------------------------- 1. attempts at a GPU count never solved

def test_not_compared_names_the_gpu_count_the_frontier_never_solved():
    from explorer.frontier import OBJECTIVES_3D, FrontierResult, not_compared

    res = FrontierResult("3d", "cloud", OBJECTIVES_3D, [], sampled={"gpus": [64.0, 128.0, 256.0]})
    assert not_compared({"gpus": 1024.0}, res) == "no frontier point at 1,024 GPUs"
    assert not_compared({"gpus": 256.0}, res) is None


def test_an_attempt_at_an_unsolved_gpu_count_is_not_compared_never_on_the_frontier(tmp_path):
    # the example's attempt 4 is TP 8 x PP 4 x DP 32 x CP 1 = 1,024 GPUs; the frontier is solved at 64, 128 and
    # 256 GPUs only, so nothing was compared with it (with every count up to 1,024 it is dominated)
    out = tmp_path / "fr2"
    r = CliRunner().invoke(main, ["frontier", "3d", "--gpus", "64,128,256", "--levels", "1", "--attempts",
                                  str(ATTEMPTS_3D), "--out", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((out / "frontier-3d-cloud.csv").open()))
    attempts = {row["label"]: row for row in rows if row["kind"] == "attempt"}
    assert attempts["4"]["gpus"] == "1024"
    assert attempts["4"]["on_frontier"] == ""
    assert attempts["4"]["not_compared"] == "no frontier point at 1,024 GPUs"
    assert not any(row["on_frontier"] == "True" for row in attempts.values())
    report = json.loads((out / "frontier-3d-cloud.json").read_text())
    finding = next(f for f in report["findings"] if f["question"] == "Which attempts are on the frontier?")
    assert finding["answer"].startswith("none (of ")
    assert "attempt 4 not compared (no frontier point at 1,024 GPUs)" in finding["answer"]


# ---------------------------------------------------------------- 2. sweep resume of unproven rows

def _unprove(log: Path, limit: float) -> None:
    """Rewrite every logged row as CP-SAT stopping at `limit` s with a plan it had not proven ('feasible'), with
    the checksum such a row is logged with (an edit without it is not trusted: tests/test_frontier_sweep_honesty)."""
    from explorer.sweep.log import sign

    rows = [json.loads(line) for line in log.read_text().splitlines()]
    for row in rows:
        row.update(status="feasible", time_limit_s=limit)
        sign(row)
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_solve_again_only_unproven_rows_given_more_time():
    from explorer.sweep.points import SWEEP_TIME_LIMIT_S
    from explorer.sweep.runner import solve_again

    assert solve_again({"status": "feasible", "time_limit_s": 0.05}, None)  # default 600 s > 0.05 s
    assert solve_again({"status": "no answer", "time_limit_s": 0.05}, 1.0)
    assert not solve_again({"status": "feasible", "time_limit_s": 0.05}, 0.05)
    assert not solve_again({"status": "feasible", "time_limit_s": SWEEP_TIME_LIMIT_S}, None)
    assert not solve_again({"status": "optimal", "time_limit_s": 0.05}, None)
    assert not solve_again({"status": "infeasible", "time_limit_s": 0.05}, None)
    assert solve_again({"status": "feasible"}, 0.05)  # an older log without the limit: unknown, so again


def test_a_resumed_sweep_solves_unproven_rows_again_with_a_longer_time_limit(tmp_path):
    args = ["sweep", "--model", "llama3_8b", "--gpus", "8", "--global-batch", "64", "--workers", "0", "--out",
            str(tmp_path), "--no-progress", "--no-figures"]
    assert CliRunner().invoke(main, args).exit_code == 0
    _unprove(tmp_path / "points.jsonl", 0.05)
    shorter = CliRunner().invoke(main, [*args, "--time-limit", "0.01"])  # less time: nothing to gain
    assert "(1 already solved, 0 solved now" in shorter.output
    assert "from 1 of 1 points not proven optimal (time limit), so not a proven knee" in shorter.output
    r = CliRunner().invoke(main, args)  # the default 600 s
    assert r.exit_code == 0, r.output
    assert ("(0 already solved, 1 unproven (feasible or no answer) solved again with the longer time limit, "
            "1 solved now") in " ".join(r.output.split())  # the summary is wrapped to the terminal
    assert "statuses: optimal 1" in r.output


def test_the_mfu_figure_says_best_plan_found_when_a_point_is_unproven(tmp_path, monkeypatch):
    import explorer.reports.plots as plots
    from explorer.reports.sweep_figures import sweep_figures

    from explorer.sweep.grid import expand_grid
    from explorer.sweep.runner import run_sweep

    r = run_sweep(expand_grid("3d", {"model": "llama3_8b", "gpus": [8, 16], "global_batch": 64}), tmp_path,
                  workers=0, progress=False, figures=False)
    figs = []
    real = plots.figure_png
    monkeypatch.setattr(plots, "figure_png", lambda fig: (figs.append(fig), real(fig))[1])
    sweep_figures(r.frame, r.knees, tmp_path)
    assert figs[0].axes[0].get_ylabel() == "MFU of the proven optimum (%)"
    frame = r.frame.copy()
    frame.loc[1, "status"] = "feasible"
    figs.clear()
    sweep_figures(frame, r.knees, tmp_path)
    assert figs[0].axes[0].get_ylabel() == "MFU of the best plan found (%);\nunproven points hollow"
    assert "proven" not in figs[1].axes[0].get_ylabel().replace("unproven", "")


# ---------------------------------------------------------------- 3. the lab editor's URL opens

def test_lab_edit_prints_a_url_with_the_token_marimo_is_given(tmp_path, monkeypatch):
    pytest.importorskip("marimo")
    from marimo._cli.utils import resolve_token_password  # how marimo reads --token-password-file

    import explorer.cli.lab as lab

    seen = []

    def fake_execv(path, argv):
        seen.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(lab.os, "execv", fake_execv)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["lab", "08", "--edit", "--no-browser", "--port", "2799"])
    assert r.exit_code == 0, r.output
    url = next(w for w in r.output.split() if w.startswith("http://"))
    assert url.startswith("http://127.0.0.1:2799/?track=cloud&access_token=")
    token = url.split("access_token=")[1]
    argv = seen[0]
    path = argv[argv.index("--token-password-file") + 1]
    try:
        assert resolve_token_password(token_password=None, token_password_file=path) == token
    finally:
        os.close(int(path.rsplit("/", 1)[1]))
    assert token not in " ".join(argv)  # not in the process list

    seen.clear()
    r = CliRunner().invoke(main, ["lab", "08", "--no-browser", "--port", "2799"])  # marimo run: no token
    assert "http://127.0.0.1:2799/?track=cloud " in r.output and "--token-password-file" not in seen[0]


def test_lab_url_brackets_an_ipv6_host():
    from explorer.cli.lab import lab_url

    assert lab_url("::1", 2799, "edge", "t0k") == "http://[::1]:2799/?track=edge&access_token=t0k"


# ---------------------------------------------------------------- 4. stray output, options refused first

def test_key_prints_no_progress_label_when_stderr_is_not_a_terminal(tmp_path, monkeypatch):
    import explorer.reports.key as key

    monkeypatch.setattr(key, "selected", lambda labs, tracks: [])
    monkeypatch.setattr(key, "build_key", lambda *a, **k: [])
    r = CliRunner().invoke(main, ["key", "--lab", "05", "--track", "cloud", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert r.stderr == ""


def test_frontier_on_a_fleet_track_is_one_line():
    p = _explore("frontier", "3d", "--track", "edge")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error:") and "fleet" in p.stderr


def test_sweep_without_its_dependencies_creates_no_directory(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    out = tmp_path / "new"
    r = CliRunner().invoke(main, ["sweep", "--model", "llama3_8b", "--gpus", "8", "--workers", "0", "--out",
                                  str(out)])
    assert r.exit_code == 2 and "pyarrow" in r.stderr
    assert not out.exists()


def test_sweep_refuses_workers_with_a_scheduler(tmp_path):
    out = tmp_path / "x"
    p = _explore("sweep", "--model", "llama3_8b", "--gpus", "8", "--scheduler", "tcp://h:8786", "--workers", "5",
                 "--out", str(out), "--no-progress")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "--workers 5" in p.stderr and "--scheduler" in p.stderr
    assert not out.exists()
    from explorer.sweep.runner import run_sweep

    with pytest.raises(UsageError, match="give one or the other"):
        run_sweep([{"kind": "3d"}], tmp_path, workers=5, scheduler="tcp://h:8786")
