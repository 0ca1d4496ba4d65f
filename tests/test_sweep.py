"""explore sweep: grid bounds, the knee rule, resume, and a 2-worker Dask run identical to a serial one."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from explorer.cli import main
from explorer.errors import UsageError
from explorer.sweep.grid import expand_grid, point_key, read_grid_file
from explorer.sweep.knee import knee
from explorer.sweep.runner import LOG, comparable, require, run_sweep

# small and fast: two feasible 8B points and two 70B points that do not fit (70.6e9 x 16 B / 16 GPUs alone
# is 70.6 GB of the 72 GB usable, before activations)
GRID = {"model": ["llama3_8b", "llama3_70b"], "gpus": [8, 16], "global_batch": 64}


def test_grid_is_the_cartesian_product_in_axis_order_and_bounded():
    pts = expand_grid("3d", GRID)
    assert [(p["model"], p["gpus"]) for p in pts] == [("llama3_8b", 8), ("llama3_8b", 16), ("llama3_70b", 8),
                                                      ("llama3_70b", 16)]
    assert all(p["gpu"] == "h100" and p["global_batch"] == 64 for p in pts)
    assert len({point_key(p) for p in pts}) == 4
    with pytest.raises(UsageError, match="at most 3"):
        expand_grid("3d", GRID, max_points=3)
    for bad in ({"model": "x", "gpus": "0"}, {"model": "x", "colour": "red"}, {"gpus": "8"},
                {"model": "a", "params": "1e9"}, {"model": "x", "gpus": "1e400"}):
        with pytest.raises(UsageError):
            expand_grid("3d", bad)


def test_grid_files_toml_and_yaml(tmp_path):
    (tmp_path / "g.toml").write_text('kind = "3d"\n[grid]\nmodel = ["llama3_8b"]\ngpus = [8, 16]\n')
    (tmp_path / "g.yaml").write_text("kind: 3d\ngrid:\n  model: [llama3_8b]\n  gpus: [8, 16]\n")
    a, b = (read_grid_file(tmp_path / n) for n in ("g.toml", "g.yaml"))
    assert expand_grid(a["kind"], a["grid"]) == expand_grid(str(b["kind"]), b["grid"])
    (tmp_path / "bad.toml").write_text("[grid\n")
    with pytest.raises(UsageError):
        read_grid_file(tmp_path / "bad.toml")


def test_knee_by_the_diminishing_returns_rule():
    # hand: per-GPU throughput at 64 GPUs is 1; 64 -> 128 adds 64/64 = 1.0 GPU's worth per GPU,
    # 128 -> 256 adds 52/128 = 0.41 < 0.5: the knee is 128
    k = knee([64, 128, 256, 512], [64.0, 128.0, 180.0, 200.0])
    assert k["knee_gpus"] == 128 and k["next_gpus"] == 256 and k["marginal"] == pytest.approx(52 / 128)
    assert knee([8, 16, 32], [8.0, 15.0, 29.0])["knee_gpus"] is None  # every step pays >= 0.5
    assert knee([8], [8.0])["knee_gpus"] is None


def test_missing_extra_is_one_line():
    with pytest.raises(UsageError, match=r"pip install 'explorer\[sweep\]'"):
        require("no_such_module_for_explorer")


def test_dask_two_workers_identical_to_serial_and_resume(tmp_path):
    pts = expand_grid("3d", GRID)
    serial = run_sweep(pts, tmp_path / "s", workers=0, progress=False, figures=False)
    dask = run_sweep(pts, tmp_path / "d", workers=2, progress=False, figures=False)
    assert serial.statuses() == {"optimal": 2, "infeasible": 2}
    assert comparable(dask.frame).equals(comparable(serial.frame))
    assert list(serial.frame["key"]) == [point_key(p) for p in pts]  # grid order, whatever the finish order
    for f in ("results.parquet", "results.csv"):
        assert (tmp_path / "d" / f).exists()
    # resume: a cut-off last line is solved again, everything else is skipped
    log = tmp_path / "s" / LOG
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    again = run_sweep(pts, tmp_path / "s", workers=0, progress=False, figures=False)
    assert (again.resumed, again.solved) == (3, 1)  # the last line was cut
    assert comparable(again.frame).equals(comparable(serial.frame))


def test_cli_sweep_writes_tables_figures_and_knees(tmp_path):
    r = CliRunner().invoke(main, ["sweep", "--model", "llama3_8b", "--gpus", "8,16", "--global-batch", "64",
                                  "--workers", "0", "--out", str(tmp_path), "--no-progress", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["points"] == 2 and d["statuses"] == {"optimal": 2} and len(d["knees"]) == 1
    for f in ("results.parquet", "results.csv", "knees.csv", "mfu_vs_gpus.png", "cost_vs_gpus.png"):
        assert (Path(tmp_path) / f).stat().st_size > 0


def test_cli_sweep_says_why_a_point_was_refused(tmp_path):
    # GPT-3 has 2,048 learned positions (Brown et al. 2020, n_ctx = 2048): a 4,096-token point is refused by
    # the point's own setup, recorded as 'error', and the summary says why instead of only counting it
    r = CliRunner().invoke(main, ["sweep", "--model", "gpt3_175b", "--seq-len", "4096", "--gpus", "64",
                                  "--workers", "0", "--out", str(tmp_path), "--no-progress", "--no-figures"])
    assert r.exit_code == 2, r.output  # no point solved, because of its input: a usage error
    assert "statuses: error 1" in r.output
    assert "1 point refused its inputs" in r.output and "2,048 learned positions" in r.output


@pytest.mark.parametrize("args", [
    ["--model", "llama3_8b", "--gpus", "8", "--scheduler", "localhost:1"],
    ["--model", "llama3_8b", "--gpus", ",".join(str(8 * i) for i in range(1, 60)), "--global-batch",
     ",".join(str(i) for i in range(1, 60)), "--max-points", "1000"],
    ["--model", "nope", "--gpus", "8", "--workers", "0"],
])
def test_cli_sweep_bad_input_exit_2(tmp_path, args):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", "sweep", *args, "--out",
                        str(tmp_path), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error:")


def test_a_running_scheduler_is_used_as_is(tmp_path):
    from distributed import LocalCluster

    pts = expand_grid("3d", {"model": "llama3_8b", "gpus": 8, "global_batch": 64})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = run_sweep(pts, tmp_path, scheduler=cluster.scheduler_address, progress=False, figures=False)
    assert r.statuses() == {"optimal": 1} and r.scheduler.startswith("tcp://")
    assert comparable(r.frame).equals(comparable(run_sweep(pts, tmp_path / "s", workers=0, progress=False,
                                                           figures=False).frame))


@pytest.mark.parametrize("kind, raw, allowed", [
    ("3d", {"model": "llama3_8b", "gpus": "0"}, "bad value '0'; give a whole number >= 1"),
    ("3d", {"model": "llama3_8b", "gpus": "8", "max_bubble": "2"}, "bad value '2'; give a number in [0, 1]"),
    ("plan", {"model": "llama3_8b", "tokens": "-1"},
     "bad value '-1'; give a number in [1,000,000, 1,000,000,000,000,000]"),
    # plan's own range, checked before any point runs (a 5-token budget used to reach every point as an error)
    ("plan", {"model": "llama3_8b", "tokens": "5"},
     "bad value '5'; give a number in [1,000,000, 1,000,000,000,000,000]"),
    ("plan", {"model": "llama3_8b", "tokens": "1e12", "deadline_days": "0"},
     "bad value '0'; give a number in (0, 1,000,000,000,000,000] days"),
    ("3d", {"params": "0", "gpus": "8"}, "bad value '0'; give a parameter count"),
])
def test_a_refused_grid_value_says_what_is_allowed(kind, raw, allowed):
    with pytest.raises(UsageError, match=re.escape(allowed)):
        expand_grid(kind, raw)


def test_a_zero_bubble_bound_is_a_grid_value():
    assert expand_grid("3d", {"model": "llama3_8b", "gpus": "8", "max_bubble": "0,0.1"})[0]["max_bubble"] == 0.0
