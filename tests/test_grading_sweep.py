"""The 'Done when' of grading over many scenarios: every puzzle that takes --attempts grades the solver's own
answer as feasible and at the optimum, on every track and under non-default options, also from a saved report.
About two minutes: run with EXPLORER_SWEEPS=1 (CI runs the small set in test_grading_puzzles.py)."""

from __future__ import annotations

import json
import os

import pytest
from explorer.reports.attempts import grade_rows, report_module
from explorer.reports.attempts_file import AttemptRow

from explorer.errors import InfeasibleError
from explorer.puzzles import solve
from explorer.report import Report

pytestmark = pytest.mark.skipif(not os.environ.get("EXPLORER_SWEEPS"), reason="set EXPLORER_SWEEPS=1 to run")

CASES = [(p, t, {}) for t in ("cloud", "edge", "mobile", "tiny")
         for p in ("3d", "hierarchy", "memory", "dataloader", "batch", "scaling")]
CASES += [("3d", "cloud", o) for o in (
    {"gpus": 128, "global_batch": 64, "max_bubble": 0.3}, {"gpus": 2048, "global_batch": 1024, "max_bubble": 0.05},
    {"gpus": 96, "global_batch": 96, "max_bubble": 0.2}, {"gpus": 256, "global_batch": 256, "framework": "any"},
    {"gpus": 512, "global_batch": 512, "fix": {"pp": 4}},
    {"model": "llama3_8b", "gpus": 32, "global_batch": 64, "seq_len": 4096})]
CASES += [("3d", "tiny", {"engine": "cpsat"}), ("hierarchy", "cloud", {"message_bytes": 1e6}),
          ("hierarchy", "mobile", {"inter_bandwidth_bps": 1e5}), ("hierarchy", "tiny", {"global_batch": 400}),
          ("memory", "cloud", {"memory_limit_gb": 20, "batch": 4}),
          ("memory", "tiny", {"memory_limit_gb": 0.0005}), ("batch", "tiny", {"target_mfu": 0.01}),
          ("batch", "cloud", {"critical_batch": 2000, "loss_scaling": "static"}),
          ("scaling", "edge", {"threshold": 0.8}),
          ("scaling", "cloud", {"fabric": "eth_10g,ib_ndr", "max_devices": 64})]


@pytest.mark.parametrize("puzzle,track,options", CASES)
def test_own_answer_everywhere(puzzle, track, options):
    try:
        report = solve(puzzle, track=track, **({"top": 1} if puzzle == "3d" else {}), **options)
    except InfeasibleError:
        return  # nothing to grade
    cfg = report.extra.get("configuration")
    if report.status == "infeasible" or not cfg:
        return  # a proven infeasible answer: its best compromise breaks a limit by construction
    values = {k: cfg[k] for k in report_module(report).ATTEMPT_VARIABLES if k in cfg}
    for r in (report, Report.from_dict(json.loads(json.dumps(report.to_dict())))):
        g = grade_rows(r, [AttemptRow(2, values)])[0]
        assert g.feasible and g.reached_optimum and g.gap_text == "at the optimum", (g.error, g.gap_text)
