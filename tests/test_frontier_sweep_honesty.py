"""Review items 3, 5 and 6: a time-limited frontier is not labelled optimal in its files, a sweep with no usable
point fails (and draws no blank figure), and a resumed sweep reuses only the logged rows it can trust."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from click.testing import CliRunner

from explorer.cli import main

# Frontier of the cloud track (Llama-3-70B) at 128 GPUs: proving a solve takes about 0.3 s on 2 cores, so at a
# 0.05 s limit CP-SAT stops with a plan it has not proven (the precondition is asserted, not assumed).
FRONTIER = {"gpu_counts": [128], "levels": 2}
UNPROVEN_LIMIT_S = 0.05


def _texts(fig) -> list[str]:
    """Every text a reader sees on the figure: suptitle, titles, axis labels, legend entries, annotations."""
    out = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), *(t.get_text() for t in ax.texts)]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    return [t for t in out if t]


def _claims_optimal(texts: list[str]) -> list[str]:
    return [t for t in texts if "optimal" in t.lower().replace("not proven optimal", "")]


@pytest.fixture(scope="module")
def frontiers():
    from explorer.frontier import frontier

    return (frontier("3d", "cloud", time_limit=UNPROVEN_LIMIT_S, **FRONTIER),
            frontier("3d", "cloud", **FRONTIER))


# ---------------------------------------------------------------- item 3: an unproven frontier says so

def test_unproven_frontier_csv_has_a_status_column_and_the_plot_claims_no_proof(frontiers):
    from explorer.reports.frontier import frontier_report, to_csv
    from explorer.reports.plots import draw

    unproven, proven = frontiers
    assert not unproven.all_optimal and proven.all_optimal  # the precondition of the test
    rows = list(csv.DictReader(io.StringIO(to_csv(unproven))))
    assert rows and {r["status"] for r in rows} == {"feasible"}
    assert {r["status"] for r in csv.DictReader(io.StringIO(to_csv(proven)))} == {"optimal"}

    rep = frontier_report(unproven)
    assert rep.status == "feasible" and "Optimal" not in rep.title
    texts = _texts(draw("frontier", rep))
    assert "frontier (best found, not proven)" in texts  # the legend names what the points are
    assert _claims_optimal(texts) == []
    assert any("% of the best found (not proven)" in t for t in texts)  # the right panel's scale
    fig = draw("frontier", frontier_report(proven))
    assert _claims_optimal(_texts(fig)) != []  # the check can tell: a proven frontier is labelled optimal
    assert any(c.get_label() == "frontier point (proven optimal)" for c in fig.axes[0].collections)


def test_a_point_with_its_own_proven_status_is_drawn_apart_from_unproven_ones(frontiers):
    from explorer.reports.frontier import frontier_report, to_csv
    from explorer.reports.plots import draw

    from explorer.frontier import FrontierResult

    unproven = frontiers[0]
    pts = [dict(unproven.points[0], status="optimal"), dict(unproven.points[0], gpus=64, tokens_per_s=1.0)]
    mixed = FrontierResult(unproven.puzzle, unproven.track, unproven.objectives, pts, unproven.solved, 0, [],
                           False, unproven.note)
    assert [r["status"] for r in csv.DictReader(io.StringIO(to_csv(mixed)))] == ["optimal", "feasible"]
    labels = {c.get_label() for c in draw("frontier", frontier_report(mixed)).axes[0].collections}
    assert {"frontier point (proven optimal)", "frontier point (best found, not proven)"} <= labels


def test_the_files_of_a_time_limited_frontier_run_say_not_proven(tmp_path):
    out = tmp_path / "tla"
    r = CliRunner().invoke(main, ["frontier", "3d", "--gpus", "128", "--levels", "2", "--time-limit",
                                  str(UNPROVEN_LIMIT_S), "--out", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "frontier-3d-cloud.json").read_text())
    assert report["status"] == "feasible" and report["title"].startswith("Best-found frontier")
    assert report["data"]["frontier"]["proven"] is False
    header, *rows = list(csv.reader((out / "frontier-3d-cloud.csv").open()))
    assert header[-1] == "status" and rows and all(row[-1] == "feasible" for row in rows)


# ---------------------------------------------------------------- item 5: no usable point, no success

def _sweep(tmp_path, *args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["sweep", *args, "--workers", "0", "--out", str(tmp_path), "--no-progress"],
                              env=env)


def test_a_gpu_count_above_the_limit_is_refused_before_any_work(tmp_path):
    out = tmp_path / "huge"
    r = _sweep(out, "--model", "llama3_8b", "--gpus", "1e9")
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "'1e9'" in r.stderr and "1,048,576" in r.stderr
    assert not out.exists()  # refused with the grid: nothing solved, nothing written


def test_an_all_infeasible_sweep_exits_1_and_draws_no_blank_figure(tmp_path):
    # Llama-3-405B on 8 or 16 H100s: 405e9 x 2 B of BF16 weights alone is 810 GB, above 16 x 76.4 GB usable
    (tmp_path / "mfu_vs_gpus.png").write_bytes(b"an earlier run's figure")
    r = _sweep(tmp_path, "--model", "llama3_405b", "--gpus", "8,16")
    assert r.exit_code == 1, r.output
    assert "no point of the sweep has a feasible plan: all 2 points are infeasible" in r.stderr
    assert r.stderr.count("\n") == 1
    assert "no figures: no point has a feasible plan to draw" in r.stdout
    assert not list(tmp_path.glob("*.png")) and ".png" not in r.stdout
    assert (tmp_path / "results.csv").exists()  # the rows and their messages are still written


def test_an_all_refused_sweep_exits_2(tmp_path):
    # GPT-3 has 2,048 learned positions (Brown et al. 2020): a 4,096-token point is refused by its own setup
    r = _sweep(tmp_path, "--model", "gpt3_175b", "--seq-len", "4096", "--gpus", "64", "--format", "json")
    assert r.exit_code == 2, r.output
    assert json.loads(r.stdout)["statuses"] == {"error": 1}
    assert r.stderr.startswith("error: no point of the sweep was solved") and "2,048" in r.stderr


def test_sweep_output_wraps_and_says_what_the_command_line_replaces(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text('kind = "3d"\n[grid]\nmodel = ["llama3_8b"]\ngpus = [16]\nglobal-batch = 64\n')
    out = tmp_path / "o"
    r = _sweep(out, "--grid", str(grid), "--gpus", "8", "--no-figures", env={"COLUMNS": "40"})
    assert r.exit_code == 0, r.output
    prose = r.stdout.split("files:")[0]
    assert "note: --gpus 8 replaces the grid file's gpus = [16]" in " ".join(prose.split())
    assert max(len(line) for line in prose.splitlines()) <= 40
    assert "statuses: optimal 1" in prose


# ---------------------------------------------------------------- item 6: resume trusts only sound rows

GRID = {"model": "llama3_8b", "gpus": [8, 16], "global_batch": 64}


@pytest.fixture()
def logged(tmp_path):
    from explorer.sweep.grid import expand_grid
    from explorer.sweep.runner import LOG, run_sweep

    pts = expand_grid("3d", GRID)
    first = run_sweep(pts, tmp_path, workers=0, progress=False, figures=False)
    assert first.statuses() == {"optimal": 2}
    return pts, tmp_path, tmp_path / LOG, first


def _rows(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _rewrite(log, rows) -> None:
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))  # json writes NaN as NaN, as an editor would


def test_every_logged_row_carries_todays_model_and_a_checksum(logged):
    from explorer.model_version import model_version
    from explorer.sweep.log import row_checksum

    _, _, log, first = logged
    for row in _rows(log):
        assert row["model_version"] == model_version() and row["checksum"] == row_checksum(row)
    assert set(first.frame["model_version"]) == {model_version()}


def test_an_untouched_log_is_reused_whole(logged):
    from explorer.sweep.runner import comparable, run_sweep

    pts, out, _, first = logged
    again = run_sweep(pts, out, workers=0, progress=False, figures=False)
    assert (again.resumed, again.solved, again.distrusted) == (2, 0, {})
    assert comparable(again.frame).equals(comparable(first.frame))


def test_an_edited_and_a_nan_row_are_solved_again_not_trusted(logged):
    from explorer.sweep.log import EDITED, INVALID
    from explorer.sweep.runner import comparable, run_sweep

    pts, out, log, first = logged
    rows = _rows(log)
    rows[0]["mfu"] = 0.99  # the review's edit: MFU 0.99 with the step time unchanged
    rows[1]["step_time_s"] = math.nan
    _rewrite(log, rows)
    again = run_sweep(pts, out, workers=0, progress=False, figures=False)
    assert (again.resumed, again.solved) == (0, 2)
    assert again.distrusted == {EDITED: [""], INVALID: ["step_time_s is nan"]}
    assert comparable(again.frame).equals(comparable(first.frame))  # today's answers, not the edited ones
    assert 0.5 < again.frame["mfu"].max() < 0.6


def test_a_re_signed_edit_is_caught_by_the_rows_own_arithmetic(logged):
    from explorer.sweep.log import INVALID, sign
    from explorer.sweep.runner import run_sweep

    pts, out, log, _ = logged
    rows = _rows(log)
    rows[0]["tokens_per_s"] *= 2  # the checksum recomputed: only tokens/s x step time = tokens per step is left
    _rewrite(log, [sign(r) for r in rows])
    again = run_sweep(pts, out, workers=0, progress=False, figures=False)
    assert (again.resumed, again.solved) == (1, 1)
    assert list(again.distrusted) == [INVALID] and "64 x 8,192 tokens per step" in again.distrusted[INVALID][0]


def test_rows_of_another_model_or_an_older_log_are_solved_again_and_the_summary_says_why(logged):
    from explorer.sweep.log import CHECKSUM, OLD_LOG, OTHER_MODEL, sign

    pts, out, log, _ = logged
    rows = _rows(log)
    rows[0]["model_version"] = "0123456789ab"
    sign(rows[0])  # a sound row, of another model
    del rows[1]["model_version"], rows[1][CHECKSUM]  # as logged before rows carried them
    _rewrite(log, rows)
    r = _sweep(out, "--model", "llama3_8b", "--gpus", "8,16", "--global-batch", "64", "--no-figures",
               "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["resumed"], d["solved_now"]) == (0, 2)
    assert d["not_reused"] == {OTHER_MODEL: 1, OLD_LOG: 1}
    assert any(n.startswith("2 logged rows not reused and solved again") and "0123456789ab, today" in n
               for n in d["notes"])
