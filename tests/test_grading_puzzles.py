"""Grading on the real puzzles: every puzzle that takes --attempts grades the solver's own answer, under
scenario options other than the track defaults, as feasible and at the optimum, also from a saved report."""

from __future__ import annotations

import json

import pytest
from _attempts import attempts_csv
from explorer.reports.attempts import grade_file, report_module

from explorer.puzzles import solve
from explorer.report import Report

CASES = [
    ("scaling", "cloud", {"fabric": "ib_ndr", "threshold": 0.3, "max_devices": 256}),
    ("hierarchy", "cloud", {"global_batch": 2048, "inter_bandwidth_bps": 1e9}),  # graded infeasible before
    ("hierarchy", "edge", {"message_bytes": 5e6}),
    ("memory", "mobile", {"memory_limit_gb": 1.5}),
    ("memory", "edge", {"batch": 8}),
    ("dataloader", "cloud", {"workers": 16, "devices": 4, "augment_ms": 5.0}),
    ("dataloader", "tiny", {"storage_gbps": 1e-4}),
    ("batch", "cloud", {"target_mfu": 0.3, "network_headroom": 0.8, "max_accumulation": 8}),
]


def _write(tmp_path, report: Report) -> object:
    mod = report_module(report)
    cfg = report.extra["configuration"]
    cols = [k for k in mod.ATTEMPT_VARIABLES if k in cfg]
    return attempts_csv(tmp_path, [{k: cfg[k] for k in cols}], "answer.csv")


@pytest.mark.parametrize("puzzle,track,options", CASES, ids=[f"{p}-{t}-{'-'.join(o)}" for p, t, o in CASES])
def test_own_answer_is_at_the_optimum_under_non_default_options(tmp_path, puzzle, track, options):
    report = solve(puzzle, track=track, **options)
    assert report.status in ("optimal", "computed")
    for k, v in options.items():  # the scenario keeps what was asked (and resolves the rest)
        assert report.scenario[k] in (v, [v])
    f = _write(tmp_path, report)
    g = grade_file(report, f)[0]
    assert g.error == "" and g.feasible and g.reached_optimum and g.gap_text == "at the optimum", g
    saved = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert saved.integrity == "verified" and saved.scenario == report.scenario
    assert grade_file(saved, f)[0].reached_optimum
