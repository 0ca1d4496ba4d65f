"""Attempts files as students write them, graded on the real 3D puzzle (edge track: small and fast): only the
required columns, the rest from the scenario (said so); comma, semicolon or tab; UTF-8, UTF-8 with BOM, UTF-16
with BOM or Latin-1 (said so); each kind of bad row named by file, line and field while the others are graded;
file-level problems in one line."""

from __future__ import annotations

import pytest
from _explore import explore
from explorer.reports.attempts import attach_attempts, grade_file

from explorer.errors import UsageError
from explorer.puzzles.threed import solve_3d

# The edge track: a 12-layer model on 10,000 vehicles; rows are built from the solver's own answer.


@pytest.fixture(scope="module")
def edge():
    return solve_3d("edge", top=1).report


def _best(report) -> dict:
    c = report.extra["configuration"]
    return {k: c[k] for k in ("tp", "pp", "dp", "micro_batch", "zero", "recompute")}


def _text(report, sep: str = ",") -> str:
    b = _best(report)
    return sep.join(b) + "\n" + sep.join(str(v) for v in b.values()) + "\n"


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "latin-1"])
def test_delimiters_and_encodings(edge, tmp_path, sep, encoding):
    f = tmp_path / "mine.csv"
    f.write_bytes(("# my attempts\n" + _text(edge, sep)).encode(encoding))
    out = attach_attempts(edge, f)
    g = out.extra["attempts"][0]
    assert g["error"] is None and g["reached_optimum"], g
    # the columns left out are taken from the scenario, and said so
    assert g["assumed"][:3] == ["cp", "virtual_stages", "sequence_parallel"] and "tp" not in g["assumed"]
    how = next(x.answer for x in out.findings if x.question == "How was mine.csv read?")
    assert "cp = 1, virtual_stages = 1, sequence_parallel = no" in how  # a flag in the file's own words
    assert ("separated by semicolons" in how) == (sep == ";") and ("separated by tabs" in how) == (sep == "\t")
    assert ("UTF-16" in how) == (encoding == "utf-16")
    assert ("with a byte-order mark" in how) == (encoding == "utf-8-sig")


def test_latin1_is_said_when_the_file_is_not_utf8(edge, tmp_path):
    f = tmp_path / "notes.csv"
    f.write_bytes(("tp,pp,dp,micro_batch,note\n1,8,1250,1,préféré\n").encode("latin-1"))
    out = attach_attempts(edge, f)
    how = next(x.answer for x in out.findings if x.question == "How was notes.csv read?")
    assert how.startswith("read as Latin-1 (it is not UTF-8)")
    assert out.extra["attempts"][0]["error"] is None


BAD_ROWS = [
    ("0", "field 'tp': 0 is not a positive whole number"),
    ("-2", "field 'tp': -2 is not a positive whole number"),
    ("inf", "field 'tp': 'inf' is not a finite number"),
    ("nan", "field 'tp': 'nan' is not a finite number"),
    ("1e300", "field 'tp': 1e+300 is absurdly large"),
    ("9" * 5000, "field 'tp': a 5000-character number is absurdly large"),
    ("2.5", "field 'tp': 2.5 is not a whole number"),
    ("eight", "field 'tp': 'eight' is not a number"),
]


@pytest.mark.parametrize("bad,message", BAD_ROWS, ids=[b[:8] for b, _ in BAD_ROWS])
def test_each_bad_row_is_named_and_the_others_are_graded(edge, tmp_path, bad, message):
    b = _best(edge)
    good = ",".join(str(v) for v in b.values())
    f = tmp_path / "rows.csv"
    rest = ",".join(str(v) for v in list(b.values())[1:])
    f.write_text(",".join(b) + f"\n{good}\n{bad},{rest}\n{good}\n")
    g = grade_file(edge, f)
    assert [x.line for x in g] == [2, 3, 4]
    assert g[1].error.startswith(f"rows.csv, line 3, {message}"), g[1].error
    assert g[0].reached_optimum and g[2].reached_optimum


@pytest.mark.parametrize("change,message", [
    ({"tp": True}, "field 'tp': true is not a number"),
    ({"dp": "DUP"}, "field 'dp': given twice"),
    ({"dp": "1" + "0" * 5000}, "field 'dp': a 5001-digit number"),
    ({"dp": "Infinity"}, "field 'dp': Infinity is not a finite number"),
    ({"dp": [1250]}, "field 'dp': a JSON list is not a value"),
    ({"recompute": 2}, "field 'recompute': 2 is not a name"),
    ({"micro_batch": None}, "field 'micro_batch': missing"),
])
def test_json_bad_rows(edge, tmp_path, change, message):
    import json

    best = _best(edge)
    raw = [k for k, v in change.items() if isinstance(v, str)]  # written into the text below
    row = {**best, **{k: v for k, v in change.items() if k not in raw}}
    text = json.dumps({k: v for k, v in row.items() if v is not None})
    for k, v in change.items():  # what json.dumps cannot write: a key twice, a huge literal, Infinity
        if v == "DUP":
            text = text.replace("{", '{"' + k + '": 1, ', 1)
        elif isinstance(v, str):
            text = text.replace(f'"{k}": {best[k]}', f'"{k}": {v}')
    f = tmp_path / "mine.json"
    f.write_text("[\n " + json.dumps(best) + ",\n " + text + "\n]\n")
    g = grade_file(edge, f)
    assert g[0].reached_optimum
    assert g[1].error.startswith(f"mine.json, line 3, {message}"), (g[1].error, text[:200])


@pytest.mark.parametrize("content,message", [
    (b"", "no attempts (the file is empty)"),
    (b"# nothing yet\n\n", "no attempts (the file is empty)"),
    # `explore solve 3d --track edge` is the 3D puzzle's fleet form: its columns (tests/test_fleet_attempts.py)
    (b"micro_batch,local_steps\n", "no attempts (only the header line)"),
    (b"[]", "no attempts (the list is empty)"),
    (b"micro_batch,local_steps,micro_batch\n8,4,8\n", "line 1, field 'micro_batch': the column is given twice"),
    (b"micro_batch,tier\n8,depot\n", "line 1: missing column 'local_steps'"),
    (b"\x00\x01\x02binary", "not a text file"),
    (b"micro_batch,local_steps\n" + b"8,4\n" * 101, "101 attempts; at most 100"),
    (b"#" * (1 << 20) + b"\n", "larger than 1,024 KB"),
    # a header of words that names no column is a header, not a headerless attempt to grade as malformed
    (b"foo,bar\n1,2\n", "line 1: a header naming none of this puzzle's columns (foo, bar)"),
])
def test_file_level_problems_are_one_line_exit_2(tmp_path, content, message):
    f = tmp_path / "a.csv"
    f.write_bytes(content)
    code, _, err = explore("solve", "3d", "--track", "edge", "--attempts", str(f))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_outside_space_and_partial_columns_through_the_cli(tmp_path):
    """tp,pp,dp,micro_batch only (the issue's 'missing column cp' case) on the cloud default, and v = 30 (beyond
    PP x v <= 80 layers at PP = 4: v <= 20)."""
    f = tmp_path / "student.csv"
    f.write_text("tp,pp,dp,micro_batch,v\n4,4,64,1,4\n4,4,64,1,30\n")
    code, out, err = explore("solve", "3d", "--attempts", str(f), "--format", "json")
    assert code == 0, err
    import json

    rows = json.loads(out)["extra"]["attempts"]
    assert rows[0]["error"] is None and "zero" in rows[0]["assumed"]
    assert rows[1]["outside_space"] == []
    assert any("PP x v = 120 > 80 layers" in str(v) for v in rows[1]["violations"]), rows[1]
    assert "beats" not in rows[1]["gap_text"]


def test_unknown_names_in_a_list_file_raise_nothing_for_other_rows(edge, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("tp,pp,dp,micro_batch,recompute\n1,8,1250,1,sometimes\n1,8,1250,1,none\n")
    g = grade_file(edge, f)
    assert "field 'recompute'" in g[0].error and g[1].error == ""


def test_read_attempts_keeps_its_old_list_form(tmp_path):
    from explorer.reports.attempts import read_attempts

    f = tmp_path / "a.csv"
    f.write_text("a,b\n1,x\n")
    assert read_attempts(f, ["a", "b"])[0].values == {"a": 1, "b": "x"}
    f.write_text("a\n1\n")
    with pytest.raises(UsageError, match="missing column 'b'"):
        read_attempts(f, ["a", "b"])


def _table_rows(out) -> list[dict]:
    t = out.tables["attempts"]
    return [dict(zip(t.columns, r)) for r in t.rows]


def test_blank_cells_short_rows_and_flags_are_said_as_they_are(edge, tmp_path):
    # A hostile-input sweep found: a blank cell reported as 'not in the file'; a row one field short padded
    # silently; assumed flags printed 'False (assumed)' beside given ones printed 'no'; the parse error of a row
    # under the label 'gap' with its cells blank.
    b = _best(edge)
    cols = [*b, "sequence_parallel", "hsdp"]
    full = ",".join(str(v) for v in b.values())
    f = tmp_path / "mine.csv"
    f.write_text(",".join(cols) + f"\n{full},no,no\n{full},,no\n{full},no\nx,{full.split(',', 1)[1]},no,no\n")
    out = attach_attempts(edge, f)
    how = next(x.answer for x in out.findings if x.question == "How was mine.csv read?")
    # line 3 has the column, its cell is blank; cp and virtual_stages are the columns the file does not have
    assert "blank on line 3, so taken from the scenario: sequence_parallel = no" in how
    assert "not in the file, so taken from the scenario: cp = 1, virtual_stages = 1, framework" in how
    assert "sequence_parallel = False" not in how and "sequence_parallel" not in how.split("blank on")[0]
    g = out.extra["attempts"]
    assert g[0]["error"] is None and g[1]["error"] is None
    assert "sequence_parallel" in g[1]["assumed"] and "sequence_parallel" not in g[0]["assumed"]
    # line 4: 7 fields under an 8-column header: refused (a dropped field shifts every value after it)
    assert g[2]["error"].startswith("mine.csv, line 4: 7 fields for the header's 8 columns (no value for hsdp")
    rows = _table_rows(out)
    assert rows[1]["sequence_parallel"] == "no (assumed)" and rows[0]["sequence_parallel"] is False
    assert "cp" in rows[0] and rows[0]["cp"] == "1 (assumed)"
    # the malformed row: its cells as written, the reason under a label that says so, no 'gap'
    assert rows[3]["tp"] == "x" and rows[3]["pp"] == str(b["pp"]) and rows[3]["feasible"] == "ERROR"
    assert rows[3]["not graded: why"].startswith("mine.csv, line 5, field 'tp': 'x' is not a number")
    assert rows[3]["gap"] == "" and rows[0]["not graded: why"] == ""


def test_a_headerless_short_row_says_which_values_it_left_out(edge, tmp_path):
    b = _best(edge)
    f = tmp_path / "plain.csv"
    f.write_text(",".join(str(b[k]) for k in ("tp", "pp", "dp", "micro_batch")) + "\n")
    out = attach_attempts(edge, f)
    how = next(x.answer for x in out.findings if x.question == "How was plain.csv read?")
    assert how.startswith("not in the file, so taken from the scenario: cp = 1,") and "= False" not in how


def test_template_lists_the_values_each_column_takes():
    from explorer.reports.attempts import template

    text = template("3d", track="cloud")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert text.splitlines()[-1].startswith("tp,pp,dp,micro_batch,cp")
    # the grader's names (threed_explain._parse): recompute modes, frameworks, ZeRO stages, flags
    assert any("recompute: none | selective | full" in c and "zero: 0 | 1 | 2 | 3" in c
               and "sequence_parallel: yes | no" in c and "tp: a whole number >= 1" in c for c in comments)
    assert any(c.startswith("# required: tp, pp, dp, micro_batch;") for c in comments)
    fleet = template("3d", track="edge")  # the fleet form: its tiers and searched values
    assert "tier (cellular, depot)" in fleet and fleet.splitlines()[-1].startswith("split,")


def test_fleet_columns_on_the_cloud_track_are_named_as_such(tmp_path):
    # the reverse direction (datacenter columns on edge) already named them; cloud said "missing column 'tp'"
    f = tmp_path / "fleet.csv"
    f.write_text("micro_batch,local_steps,tier\n8,4,depot\n")
    code, _, err = explore("solve", "3d", "--track", "cloud", "--attempts", str(f))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "local_steps, tier: fleet column(s) of the 3D puzzle" in err and "recompute (none, selective, full)" in err
    assert "missing column" not in err
