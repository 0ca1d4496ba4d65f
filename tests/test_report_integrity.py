"""`explore report` and saved JSON: names validated before they pick a file, a checksum and the version that
made the report, and a warning instead of the status badge when the content does not match."""

from __future__ import annotations

import json
import re

import pytest
from _explore import explore

from explorer.puzzles import solve
from explorer.report import Report, checksum_of, explorer_version


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("saved")
    report = solve("crossover", track="cloud")
    path = d / "crossover.json"
    path.write_text(json.dumps(report.to_dict()))
    return path


def _edit(saved, tmp_path, name: str, change) -> str:
    d = json.loads(saved.read_text())
    change(d)
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return str(p)


def test_saved_report_carries_version_and_a_matching_checksum(saved):
    d = json.loads(saved.read_text())
    assert d["explorer_version"] == explorer_version() != ""
    assert d["checksum"].startswith("sha256:") and d["checksum"] == checksum_of(d)
    r = Report.from_dict(d)
    assert r.integrity == "verified" and r.explorer_version == d["explorer_version"]


def test_an_edited_report_is_rendered_with_a_warning_not_a_badge(saved, tmp_path):
    def forge(d):
        d["status"] = "optimal"
        d["headline"] = "forged"

    path = _edit(saved, tmp_path, "forged.json", forge)
    code, out, _ = explore("report", path)
    assert code == 0
    status = next(line for line in out.splitlines() if line.startswith("Status:"))
    assert "UNVERIFIED" in status and "does not match the checksum" in status
    assert not status.startswith("Status: OPTIMAL")
    html = explore("report", path, "--format", "html")[1]
    assert "class='warn'" in html and "class='badge" not in html
    # re-saving it through explore does not launder it: no checksum is vouched for its content, and the new file
    # still says it was edited (it loaded as 'no checksum', the edit hidden as a version question: review 80 item 9)
    again = json.loads(explore("report", path, "--format", "json")[1])
    assert again["checksum"] != checksum_of(again) and again["integrity"] == "mismatch"
    assert Report.from_dict(again).integrity == "mismatch"


def test_a_report_without_checksum_is_unverified(saved, tmp_path):
    path = _edit(saved, tmp_path, "bare.json", lambda d: d.pop("checksum"))
    assert "UNVERIFIED: no checksum" in explore("report", path)[1]


@pytest.mark.parametrize("field,value", [("puzzle", "../x"), ("track", "/tmp/evil"), ("puzzle", "3d/../../x"),
                                         ("track", 5)])
def test_forged_names_never_choose_the_output_path(saved, tmp_path, field, value):
    path = _edit(saved, tmp_path, "evil.json", lambda d: d.__setitem__(field, value))
    out_dir = tmp_path / "out"
    code, _, err = explore("report", path, "--out", str(out_dir))
    assert code == 2 and "not a saved report" in err and field in err and len(err.splitlines()) == 1
    written = [f for f in tmp_path.rglob("*") if f.is_file() and f.name != "evil.json"]
    assert written == []


@pytest.mark.parametrize("content,message", [(b"[1, 2]", "not an object"), (b"\xff\xfe\x00", "not UTF-8"),
                                             (b"{", "is not JSON"), (b"[" * 100000, "")])
def test_hostile_files_get_one_line(tmp_path, content, message):
    p = tmp_path / "x.json"
    p.write_bytes(content)
    code, _, err = explore("report", str(p))
    assert code == 2 and message in err and len(err.splitlines()) == 1


def _deep(n: int) -> list:
    x: list = []
    for _ in range(n):
        x = [x]
    return x


# Each tampering of a saved report and the field its one-line error must name. Before the loader checked the
# shape, these leaked Python's own words ("Finding() argument after ** must be a mapping, not str", "'list' object
# has no attribute 'items'") or crashed later in a renderer (internal error, exit 1).
TAMPERED = [
    ("findings", "abc", "findings must be a list of {question, answer}, got a string"),
    ("findings", [1], "findings[0] must be an object {question, answer}"),
    ("findings", [{"question": "q"}], "findings[0] has no 'answer'"),
    ("findings", [{"question": 1, "answer": "a"}], "findings[0].question must be a string, got 1"),
    ("tables", [1], "tables must be an object of {columns, rows, title, formats} entries, got a list"),
    ("tables", {"t": {"columns": ["a", "b"], "rows": [[1]]}}, "tables.t.rows[0] has 1 cells for 2 columns"),
    ("tables", {"t": {"columns": ["a"], "rows": [[{"x": 1}]]}}, "tables.t.rows[0][0] must be a number, string"),
    ("figures", [1], "figures must be an object of {value, unit, label} entries"),
    ("figures", {"x": {"value": {"a": 1}}}, "figures.x.value must be a number, string, true/false, null"),
    ("figures", {"x": {"value": 1, "unit": 5}}, "figures.x.unit must be a string, got 5"),
    ("figures", {"x": {"value": 10**400}}, "figures.x.value is a number too large for a float (401 digits)"),
    ("constraints", [{"name": "m", "value": "a", "limit": 1}], "constraints[0].value must be a number, got 'a'"),
    ("constraints", [{"name": "m", "value": 1, "limit": 2, "sense": "<>"}], "constraints[0].sense must be one of"),
    ("constraints", [{"name": "m", "value": 1e308, "limit": -1e308}], "constraints[0]: value and limit are too far"),
    ("formulas", "x", "formulas must be a list of {name, expression, source, note}"),
    ("assumptions", [[1]], "assumptions[0] must be an object {text, source}, got a list"),
    ("plots", [1], "plots[0] must be a string, got 1"),
    ("extra", [1], "extra must be an object, got a list"),
    ("scenario", "x", "scenario must be an object, got 'x'"),
    ("solve_time_s", "x", "solve_time_s must be a number of seconds >= 0, got 'x'"),
    ("part", True, "part must be a whole number, got true"),
    ("lab", 5, "lab must be a string, got 5"),
    ("title", None, "title must be a string, got null"),
    ("headline", {}, "headline must be a string, got an object"),
    ("status", [], "status must be a string, got a list"),
    ("checksum", 5, "checksum must be a string, got 5"),
    ("data", {"crossover": _deep(900)}, "is nested more than 64 levels deep"),
    ("title", "<missing>", "it has no 'title'"),
]


@pytest.mark.parametrize("field,value,message", TAMPERED, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(TAMPERED)])
def test_a_tampered_field_is_one_line_naming_it(saved, tmp_path, field, value, message):
    def change(d):
        if value == "<missing>":
            d.pop(field)
        else:
            d[field] = value

    path = _edit(saved, tmp_path, "tampered.json", change)
    code, out, err = explore("report", path)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert "not a saved report: " in err and message in err, err
    with pytest.raises(ValueError, match=re.escape(message)):  # the Python API says the same
        Report.from_dict(json.loads(open(path).read()))


@pytest.mark.parametrize("literal,what", [("NaN", "is NaN"), ("Infinity", "is infinite"), ("-Infinity", "is infinite"),
                                          ("1e400", "is infinite")])
def test_a_non_finite_number_in_the_file_is_the_file_s_fault(saved, tmp_path, literal, what):
    # exit 2 naming the field, where it was exit 1 blaming "the inputs are outside what the cost model covers"
    d = json.loads(saved.read_text())
    d["figures"]["participants"]["value"] = "@@"
    p = tmp_path / "nan.json"
    p.write_text(json.dumps(d).replace('"@@"', literal))
    code, _, err = explore("report", str(p))
    assert code == 2 and len(err.splitlines()) == 1
    assert f"not a saved report: figures.participants.value {what}" in err and "cost model" not in err


def test_an_integer_past_python_s_digit_limit_is_one_line(saved, tmp_path):
    # json.loads raises a plain ValueError (int_max_str_digits, 4,300 digits), not JSONDecodeError
    d = json.loads(saved.read_text())
    d["figures"]["participants"]["value"] = "@@"
    p = tmp_path / "big.json"
    p.write_text(json.dumps(d).replace('"@@"', "1" + "0" * 5000))
    code, _, err = explore("report", str(p))
    assert code == 2 and "not a saved report" in err and "4300 digits" in err and len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def hierarchy_attempt(tmp_path_factory):
    p = tmp_path_factory.mktemp("att") / "h.csv"
    p.write_text("aggregation,intra_algorithm,inter_algorithm,accumulation\n8,ring,halving_doubling,1\n")
    return str(p)


def test_attempts_are_refused_for_a_report_relabelled_as_another_puzzle(saved, tmp_path, hierarchy_attempt):
    # A crossover report with "puzzle" changed to "hierarchy" rendered the crossover's title and graded the
    # hierarchy attempt against it; with or without a recomputed checksum it is now refused.
    edited = _edit(saved, tmp_path, "relabelled.json", lambda d: d.__setitem__("puzzle", "hierarchy"))
    code, out, err = explore("report", edited, "--attempts", hierarchy_attempt)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "--attempts grades only a verified report" in err and "does not match the checksum" in err

    def relabel_and_reseal(d):
        d["puzzle"] = "hierarchy"
        d["checksum"] = checksum_of(d)

    resealed = _edit(saved, tmp_path, "resealed.json", relabel_and_reseal)
    code, out, err = explore("report", resealed, "--attempts", hierarchy_attempt)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "names puzzle hierarchy (Lab 06 part 2: The hierarchical multiplier)" in err
    assert "'Lab 06 part 1: The algorithm crossover'" in err
    # rendering it without grading stays allowed, with its warning
    code, out, _ = explore("report", edited)
    assert code == 0 and "UNVERIFIED" in out


def test_attempts_are_refused_for_a_report_without_checksum(saved, tmp_path, hierarchy_attempt):
    path = _edit(saved, tmp_path, "bare.json", lambda d: d.pop("checksum"))
    code, _, err = explore("report", path, "--attempts", hierarchy_attempt)
    assert code == 2 and "verified report" in err and "it has no checksum" in err and len(err.splitlines()) == 1


def test_attempts_are_graded_against_a_verified_report(tmp_path, hierarchy_attempt):
    report = solve("hierarchy", track="cloud")
    p = tmp_path / "hierarchy.json"
    p.write_text(json.dumps(report.to_dict()))
    code, out, err = explore("report", str(p), "--attempts", hierarchy_attempt)
    assert code == 0 and err == "" and "How many attempts were graded?" in out


def test_the_python_api_keeps_an_edit_visible_too(saved):
    """Report.to_dict (the notebook's and the API's form) says what to_json says: a report loaded with a checksum
    that does not match stays 'mismatch' through to_dict -> from_dict, never 'missing' or verified."""
    from explorer.report import INTEGRITY_WARNING, UNVERIFIED_CHECKSUM, Report

    d = json.loads(saved.read_text())
    assert Report.from_dict(d).integrity == "verified"
    d["headline"] = d["headline"] + " (edited)"
    edited = Report.from_dict(d)
    assert edited.integrity == "mismatch"
    again = edited.to_dict()
    assert again["integrity"] == "mismatch" and again["integrity_warning"] == INTEGRITY_WARNING["mismatch"]
    assert again["checksum"] == UNVERIFIED_CHECKSUM
    assert Report.from_dict(again).integrity == "mismatch"
