"""Grading a saved report again, against the model that computed it, with the README's own attempts file.

One `explore solve 3d --track cloud --attempts docs/examples/attempts-3d-cloud.csv --format json` (5 rows, 1
feasible) is saved once for the module; every other step is `explore report SAVED --attempts FILE`, as an
instructor regrading saved reports runs it. A saved report is edited as a user would edit it, and resealed with
the project's own checksum (explorer.report.checksum_of) where the point is that a valid checksum is not enough.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _explore import explore

from explorer.errors import UsageError
from explorer.model_version import model_version
from explorer.report import Report, checksum_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "attempts-3d-cloud.csv"
GRADED = "How many attempts were graded?"
REACHED = "Was the optimum reached, and when?"
WHOSE = "Whose attempts are graded here?"
ONE_ROW = "tp,pp,dp,micro_batch\n8,8,16,2\n"  # the crisis shape; the scenario fills the rest: infeasible (bubble)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """The cloud 3d report with the 5 example attempts graded, as `--format json` saves it."""
    code, out, err = explore("solve", "3d", "--track", "cloud", "--attempts", str(EXAMPLE), "--format", "json")
    assert code == 0, err
    p = tmp_path_factory.mktemp("regrade") / "withatt.json"
    p.write_text(out)
    return p


def _answers(d: dict, question: str) -> list[str]:
    return [f["answer"] for f in d["findings"] if f["question"] == question]


def _write(tmp_path: Path, name: str, d: dict, reseal: bool = True) -> str:
    if reseal:
        d["checksum"] = checksum_of(d)
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return str(p)


def _regrade(path: str, attempts: Path) -> dict:
    code, out, err = explore("report", path, "--attempts", str(attempts), "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_the_saved_report_holds_the_first_students_grades(saved):
    # the premise of the regrading tests: 5 rows of the example graded, 1 of them feasible
    d = json.loads(saved.read_text())
    assert _answers(d, GRADED) == ["5 of 5 rows graded; 1 feasible."]
    assert len(d["tables"]["attempts"]["rows"]) == 5 and len(d["extra"]["attempts"]) == 5
    assert _answers(d, WHOSE) == []  # a first grading replaced nothing, so it says nothing about it


def test_regrading_replaces_the_earlier_grades(saved, tmp_path):
    one = tmp_path / "a_upper.csv"
    one.write_text(ONE_ROW)
    before = json.loads(saved.read_text())
    d = _regrade(str(saved), one)
    # each grading question answered once, for the new file only: the first student's counts are gone
    assert _answers(d, GRADED) == ["1 of 1 rows graded; 0 feasible."]
    assert len(_answers(d, REACHED)) == 1 and not any("attempt 4" in a for a in _answers(d, REACHED))
    assert not any("5 of 5" in f["answer"] for f in d["findings"])
    read = [f["question"] for f in d["findings"] if f["question"].startswith("How was ")]
    assert read == ["How was a_upper.csv read?"]
    # the table, the plot data and the per-row record are the new file's
    assert len(d["tables"]["attempts"]["rows"]) == 1
    assert len(d["data"]["attempts"]["attempts"]) == 1 and d["data"]["attempts"]["source"] == "a_upper.csv"
    assert len(d["extra"]["attempts"]) == 1 and d["plots"].count("attempts") == 1
    # and the report says what it replaced
    (whose,) = _answers(d, WHOSE)
    assert "a_upper.csv" in whose and "5 graded attempts of attempts-3d-cloud.csv" in whose and "replaced" in whose
    # the puzzle's own findings are kept, in order, before the grading's
    own = [f for f in before["findings"] if f["question"] not in before["data"]["attempts"]["findings"]]
    assert own and d["findings"][:len(own)] == own
    # the text says it once too
    code, out, _ = explore("report", str(saved), "--attempts", str(one))
    assert code == 0 and out.count(GRADED) == 1 and out.count(REACHED) == 1


def test_a_report_graded_before_the_record_is_regraded_cleanly(saved, tmp_path):
    # a report graded before attach_grades recorded which findings it added: found by their questions
    d = json.loads(saved.read_text())
    own = [f for f in d["findings"] if f["question"] not in d["data"]["attempts"]["findings"]]
    del d["data"]["attempts"]["findings"], d["data"]["attempts"]["source"]
    one = tmp_path / "b.csv"
    one.write_text(ONE_ROW)
    out = _regrade(_write(tmp_path, "older.json", d), one)
    assert _answers(out, GRADED) == ["1 of 1 rows graded; 0 feasible."]
    assert not any("attempts-3d-cloud.csv" in f["question"] for f in out["findings"])  # its "How was ... read?"
    (whose,) = _answers(out, WHOSE)
    assert "earlier grades (5 graded attempts)" in whose
    # the puzzle's own findings, then only this grading's (the old file's "How was ... read?" is gone)
    assert out["findings"][:len(own)] == own
    assert len(out["findings"]) == len(own) + len(out["data"]["attempts"]["findings"])


def test_a_saved_report_carries_its_model_version_under_the_checksum(saved, tmp_path):
    d = json.loads(saved.read_text())
    assert d["model_version"] == model_version() != "unknown"
    assert Report.from_dict(d).model_version == d["model_version"]
    d["model_version"] = "0" * 12  # edited without resealing: the checksum covers the field
    assert Report.from_dict(d).integrity == "mismatch"
    del d["model_version"], d["checksum"]
    assert Report.from_dict(d).model_version == "unknown"  # a file saved before the field still loads


@pytest.mark.parametrize("version", ["0123456789ab", None], ids=["another model", "no model version"])
def test_a_report_from_another_model_is_not_graded(saved, tmp_path, version):
    d = json.loads(saved.read_text())
    if version is None:
        del d["model_version"]
    else:
        d["model_version"] = version
    path = _write(tmp_path, "old.json", d)
    assert Report.from_dict(json.loads(Path(path).read_text())).integrity == "verified"
    one = tmp_path / "c.csv"
    one.write_text(ONE_ROW)
    code, out, err = explore("report", path, "--attempts", str(one))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert model_version() in err and (version or "saved before reports carried a model version") in err
    assert "explore solve 3d --track cloud --attempts FILE" in err
    # rendering it stays allowed (nothing is compared), and the Python API refuses to grade it too
    assert explore("report", path)[0] == 0
    from explorer.reports.attempts import attach_attempts, grade_attempts

    report = Report.from_dict(json.loads(Path(path).read_text()))
    with pytest.raises(UsageError, match="another model"):
        attach_attempts(report, one)
    with pytest.raises(UsageError, match="another model"):
        grade_attempts(report, [{"tp": 8, "pp": 8, "dp": 16, "micro_batch": 2}])


def _readme_row() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r'^\$ explore attempts template 3d > mine\.csv.*\n\$ echo "([^"]*)" >> mine\.csv', text, re.M)
    assert m, "the README's student quick-start (template, then echo a row) is gone"
    return m.group(1)


def test_the_readmes_quick_start_grades_its_row(saved, tmp_path):
    code, template, _ = explore("attempts", "template", "3d")
    assert code == 0
    mine = tmp_path / "mine.csv"
    mine.write_text(template + _readme_row() + "\n")
    d = _regrade(str(saved), mine)
    assert _answers(d, GRADED) == ["1 of 1 rows graded; 0 feasible."]
    (row,) = d["extra"]["attempts"]
    assert row["error"] is None and row["assumed"] == []  # every column written, none taken from the scenario


def test_no_graded_row_is_not_called_infeasible(saved, tmp_path):
    # the README's row as it was (9 fields under the template's 11 columns): nothing could be checked
    code, template, _ = explore("attempts", "template", "3d")
    mine = tmp_path / "short.csv"
    mine.write_text(template + "8,8,16,2,1,1,1,selective,true\n")
    d = _regrade(str(saved), mine)
    assert _answers(d, GRADED)[0].startswith("0 of 1 rows graded")
    (reached,) = _answers(d, REACHED)
    assert "feasible" not in reached
    assert reached.startswith("Cannot tell: no attempt could be graded") and "9 fields" in reached


def test_no_attempt_given_is_said_so():
    from explorer.reports.attempts import summary_findings

    (_, reached) = summary_findings([], None, {"value": 0.5, "name": "mfu", "sense": "max"})
    assert reached.answer == "Cannot tell: no attempt was given."
