"""Attempts files as students write them, graded on the real 3D puzzle (edge track: small and fast): only the
required columns, the rest from the scenario (said so); comma, semicolon or tab; UTF-8, UTF-8 with BOM, UTF-16
with BOM or Latin-1 (said so); each kind of bad row named by file, line and field while the others are graded;
file-level problems in one line."""

from __future__ import annotations

import tomllib
from pathlib import Path

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
    (b"#" * (1 << 20) + b"\n", "larger than 1,024 KiB"),
    # a header of words that names no column is a header, not a headerless attempt to grade as malformed
    (b"foo,bar\n1,2\n", "line 1: the file's header (foo, bar) names none of this puzzle's columns, which are: "),
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
    assert rows[1]["sequence_parallel"] == "no (assumed)" and rows[0]["sequence_parallel"] == "no"  # not False
    assert "cp" in rows[0] and rows[0]["cp"] == "1 (assumed)"
    # the malformed row: its cells as written, the reason under 'feasible' after words that say so, no 'gap'; no
    # column of its own, which stood empty beside every graded row
    assert rows[3]["tp"] == "x" and rows[3]["pp"] == str(b["pp"])
    assert rows[3]["feasible"].startswith("not graded: mine.csv, line 5, field 'tp': 'x' is not a number")
    assert rows[3]["gap"] == "" and not any(k.startswith("not graded") for k in rows[0])


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
    # the grader's names (threed.explain._parse): recompute modes, frameworks, ZeRO stages, flags; eleven columns
    # no longer fit one readable line, so each has its own
    # the searched values (build_space): TP divides the 64 heads, 8 KV heads, FFN 28672 and 1,024 devices within a
    # node of 8; the cloud scenario searches Megatron-LM only, so the other frameworks are read but outside the space
    for column in ("recompute: none | selective | full", "zero: 0-3", "sequence_parallel: no | yes",
                   "tp: 1 | 2 | 4 | 8", "dp: a whole number >= 1",
                   "framework: megatron (also read, outside the searched space: deepspeed, fsdp)"):
        assert f"#   {column}" in comments, (column, comments)
    assert any(c.startswith("# required: tp, pp, dp, micro_batch;") for c in comments)
    fleet = template("3d", track="edge")  # the fleet form: its tiers and searched values
    assert "#   tier: cellular | depot" in fleet and fleet.splitlines()[-1].startswith("split,")


def test_fleet_columns_on_the_cloud_track_are_named_as_such(tmp_path):
    # the reverse direction (datacenter columns on edge) already named them; cloud said "missing column 'tp'"
    f = tmp_path / "fleet.csv"
    f.write_text("micro_batch,local_steps,tier\n8,4,depot\n")
    code, _, err = explore("solve", "3d", "--track", "cloud", "--attempts", str(f))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "local_steps, tier: fleet column(s) of the 3D puzzle" in err and "recompute (none, selective, full)" in err
    assert "missing column" not in err


# --- every template's named columns: the values the grader accepts, derived here from the data files -------------

TRACKS = ("cloud", "edge", "mobile", "tiny")
DATA = Path(__file__).resolve().parents[1] / "explorer" / "data"
LINKS = Path(__file__).resolve().parents[1] / "hardware" / "data" / "links.toml"
RECOMPUTE = {"none", "selective", "full"}  # Korthikanti et al. 2022: no, selective or full activation recomputation
PRECISIONS = {"fp32", "bf16", "fp16", "fp8"}  # the training precisions the cost model prices (explorer/plan.py)


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def _expected(puzzle: str, track: str) -> dict[str, set[str]]:
    """What each column that names its values must list on `track`, read from the data files, not the code."""
    lab08 = _toml(DATA / "lab08_training.toml")[track]
    t = _toml(DATA / "tracks" / f"{track}.toml")
    fleet = track != "cloud"
    if puzzle == "scaling":
        # links.toml: the radios are the links with an energy per bit; a fleet talks over those that reach another
        # node (scope 'inter'; NFMI is within one head), a GPU server over wires only
        # node (scope 'inter'; NFMI is within one head) and that the track's device carries (nodes.toml radios of
        # the track's node), a GPU server over wires only
        links = _toml(LINKS)
        radio = {k for k, e in links.items() if "energy_nj_per_bit" in e}
        if not fleet:
            return {"fabric": set(links) - radio}
        acc = t["cluster"]["accelerator"]  # the node built around the track's part (accelerators.toml `node`)
        node = _toml(LINKS.parent / "accelerators.toml")[acc]["node"]
        carried = set(_toml(LINKS.parent / "nodes.toml")[node]["radios"])
        return {"fabric": {k for k in radio if links[k]["scope"] == "inter"} & carried}
    if puzzle == "hierarchy":  # ring or binomial tree inside a node; between nodes also halving-doubling, NCCL's trees
        return {"intra_algorithm": {"ring", "tree"},
                "inter_algorithm": {"ring", "tree", "halving_doubling", "double_binary_tree"}}
    if puzzle == "memory":  # the track's workload choice first, then the audit's alternatives (lab08_training.toml)
        # precision: the start, and a format of another width (fp16 and bf16 are both 2 B a value: a switch between
        # them saves no memory, so the template lists it as read but outside the searched space; from FP32, of the
        # two 16-bit formats bf16, with FP32's exponent range)
        start, sixteen = t["workload"]["precision"], {"bf16", "fp16"}
        moves = {p for p in lab08["memory_precisions"] if (p in sixteen) != (start in sixteen)}
        if moves == sixteen:
            moves = {"bf16"}
        return {"optimizer": set(lab08["memory_optimizers"]) | {t["workload"]["optimizer"]},
                "precision": moves | {start},
                "recompute": RECOMPUTE, "adapter": set(lab08.get("memory_adapters", ["none"]))}
    if puzzle == "batch":  # the searched precisions; the others the cost model prices are read, outside the space
        out = {"precision": set(lab08["batch_precisions"])}
        if not fleet:  # the cloud part searches the parallel plan: recompute is the attempt's own
            return {**out, "recompute": RECOMPUTE}
        # a fleet's plan is fixed (every device holds the whole model, tracks/<track>.toml [crisis_plan]); an attempt
        # can only restate it
        plan = t["crisis_plan"]
        return {**out, **{k: {str(plan[k])} for k in ("tp", "pp", "dp", "cp", "virtual_stages", "zero", "recompute")}}
    if puzzle == "3d":
        if fleet:  # the fleet form: its aggregation paths, tracks/<track>.toml [fleet.tiers.<key>]
            return {"tier": set(t["fleet"]["tiers"])}
        return {"zero": {"0-3"}, "recompute": RECOMPUTE,
                "framework": {"megatron"},  # the cloud scenario's --framework (deepspeed and fsdp: outside the space)
                "sequence_parallel": {"yes", "no"}, "hsdp": {"yes", "no"}}
    return {}


def _listed(text: str) -> dict[str, list[str]]:
    """Each column of a template's 'values' comment with what it says it takes (a wrapped column's continuation
    lines joined), from the one-line form or the one-column-a-line form."""
    lines = [x[2:] for x in text.splitlines() if x.startswith("# ")]
    start = next(i for i, x in enumerate(lines) if x.startswith("values"))
    if lines[start].startswith("values: "):
        items = lines[start][len("values: "):].split("; ")
    else:
        items = []
        for x in lines[start + 1:]:
            if x.startswith("    "):
                items[-1] += " " + x.strip()
            elif x.startswith("  "):
                items.append(x.strip())
            else:
                break
    out = {}
    for item in items:
        name, _, what = item.partition(": ")
        out[name] = [v.strip() for v in what.split(" (also read, outside the searched space")[0].split("|")]
    return out


def _attempt_puzzles() -> list[str]:
    from explorer.puzzles import PUZZLES

    return sorted(PUZZLES)


@pytest.mark.parametrize("track", TRACKS)
@pytest.mark.parametrize("puzzle", _attempt_puzzles())
def test_every_template_lists_the_names_its_grader_accepts(puzzle, track, tmp_path):
    """Was 'a name' for batch (precision, recompute), memory (optimizer, precision, recompute, adapter), hierarchy
    (both algorithms), scaling (fabric) and the fleet 3D tier: every named column now lists the values its grader
    accepts on that track, in lines of at most 100 characters, and the template still reads back as a file."""
    from explorer.reports.attempts import puzzle_module, template
    from explorer.reports.attempts_file import AttemptSpec, read_file

    try:
        mod = puzzle_module(puzzle, track)
    except UsageError as e:  # sync, crossover, compression: nothing for a student to choose
        assert "grades no attempts" in str(e)
        return
    text = template(puzzle, track=track)
    assert "a name" not in text, text
    assert all(len(line) <= 100 for line in text.splitlines()[:-1]), text
    listed = _listed(text)
    assert list(listed) == list(mod.ATTEMPT_VARIABLES)
    expected = _expected(puzzle, track)
    for column, values in listed.items():
        if column in expected:
            assert set(values) == expected[column], (column, values)
        elif mod.ATTEMPT_KINDS.get(column) == "flag":
            assert values and set(values) <= {"no", "yes"}, (column, values)  # the searched ones (edge: no offload)
        elif column in getattr(mod, "attempt_space", lambda t: {})(track):  # the searched values (test_attempts_sweep)
            assert values and not any(v.startswith("a ") for v in values), (column, values)
        else:  # a column without a list says its kind
            assert values[0] in ("a whole number >= 1", "a whole number >= 0", "a number"), (column, values)
    assert {c for c in mod.ATTEMPT_VARIABLES if mod.ATTEMPT_KINDS.get(c) == "name"} <= set(expected)
    f = tmp_path / "template.csv"  # the template as written, with one row: its comments are skipped
    f.write_text(text + ",".join("1" for _ in mod.ATTEMPT_VARIABLES) + "\n")
    spec = AttemptSpec.of(mod)
    assert read_file(f, spec).rows[0].line == text.count("\n") + 1


# the required columns of one attempt (any valid value): the rows below vary one named column at a time
REQUIRED = {"batch": {"micro_batch": 1, "accumulation": 1}, "memory": {},
            "hierarchy": {"aggregation": 1, "accumulation": 1}, "scaling": {"devices": 4},
            "3d": {"micro_batch": 1, "local_steps": 1}}


@pytest.mark.parametrize("track", TRACKS)
@pytest.mark.parametrize("puzzle", ["batch", "memory", "hierarchy", "scaling", "3d"])
def test_every_listed_name_is_graded_and_any_other_is_a_one_line_error(puzzle, track):
    from explorer.reports.attempts import puzzle_module

    mod = puzzle_module(puzzle, track)
    required = REQUIRED[puzzle]
    choices = mod.attempt_choices(track)
    if puzzle == "3d" and track == "cloud":  # the datacenter form: the crisis plan (tracks/cloud.toml), its names
        required = {"tp": 8, "pp": 8, "dp": 16, "micro_batch": 2}
        choices = {k: v for k, v in choices.items() if mod.ATTEMPT_KINDS[k] == "name"}
    for column, values in choices.items():
        for v in values:
            r = mod.evaluate_attempt({**required, column: v}, track=track)
            assert "objective_name" in r, (column, v)
        if isinstance(values[0], str):
            bad = "bogusname"
        else:  # a fixed plan's column: any other number
            bad = values[0] + 1
        with pytest.raises(UsageError) as e:
            mod.evaluate_attempt({**required, column: bad}, track=track)
        msg = str(e.value)
        assert "\n" not in msg and str(bad) in msg and all(str(v) in msg for v in values), msg


@pytest.mark.parametrize("puzzle,track", [("scaling", "cloud"), ("scaling", "tiny"), ("batch", "edge"),
                                          ("memory", "cloud"), ("hierarchy", "mobile"), ("3d", "tiny")])
def test_a_filled_in_template_is_graded_through_the_cli(puzzle, track, tmp_path):
    """The template, one row per listed value of each named column, then a row with a name it does not list: exit 0,
    every listed value graded, the last row a one-line error naming its value."""
    import json

    from explorer.reports.attempts import puzzle_module, template
    from explorer.reports.attempts_file import show

    mod = puzzle_module(puzzle, track)
    cols = list(mod.ATTEMPT_VARIABLES)
    rows = [{**REQUIRED[puzzle], k: v} for k, vs in mod.attempt_choices(track).items() for v in vs]
    named = next(k for k in cols if mod.ATTEMPT_KINDS.get(k) == "name")
    rows.append({**REQUIRED[puzzle], named: "bogusname"})
    f = tmp_path / "mine.csv"
    f.write_text(template(puzzle, track=track)
                 + "".join(",".join(show(r[c]) if c in r else "" for c in cols) + "\n" for r in rows))
    code, out, err = explore("solve", puzzle, "--track", track, "--attempts", str(f), "--format", "json")
    assert code == 0, err
    graded = json.loads(out)["extra"]["attempts"]
    assert len(graded) == len(rows)
    assert all(g["error"] is None for g in graded[:-1]), [g["error"] for g in graded]
    last = graded[-1]["error"]
    assert "\n" not in last and "'bogusname'" in last and f"field '{named}'" in last, last


def test_a_fabric_the_track_cannot_have_is_refused_not_graded():
    """Was graded as 'outside the searched space' with a throughput (Wi-Fi 6 between H100 servers); now a one-line
    error naming the link, why, and the track's list: a radio on cloud, a datacenter wire on a fleet."""
    from explorer.puzzles import scaling

    with pytest.raises(UsageError) as e:
        scaling.evaluate_attempt({"fabric": "wifi6", "devices": 8}, "cloud")
    assert "wifi6" in str(e.value) and "no radio" in str(e.value) and "valid on it: eth_100g" in str(e.value)
    with pytest.raises(UsageError) as e:
        scaling.evaluate_attempt({"fabric": "ib_ndr", "devices": 8}, "tiny")
    assert "ib_ndr" in str(e.value) and str(e.value).endswith("valid on it: ble, bluetooth")  # an earbud's radios


def test_a_fleet_batch_attempt_cannot_change_the_plan_it_is_priced_on():
    """Was silently ignored: tp = 2 or recompute = full on the edge track was priced on the fixed plan (TP 1, no
    recomputation) and graded as if written; now refused in one line saying what the column takes."""
    from explorer.puzzles import batch

    for column, value, allowed in (("tp", 2, "tp takes 1"), ("recompute", "full", "recompute takes none")):
        with pytest.raises(UsageError) as e:
            batch.evaluate_attempt({"micro_batch": 1, "accumulation": 1, column: value}, "edge")
        assert allowed in str(e.value) and "\n" not in str(e.value)
    ok = batch.evaluate_attempt({"micro_batch": 1, "accumulation": 1, "tp": 1, "recompute": "none"}, "edge")
    assert ok["objective"] is not None


def test_a_zero_stage_that_does_not_exist_is_a_bad_row_not_an_attempt_outside_the_space(tmp_path):
    """ZeRO has stages 0-3 (Rajbhandari et al. 2020: optimizer states, + gradients, + parameters); the template lists
    them. 'zero 4' was graded 'outside the searched space' with a best single change 'zero 4 -> 3'; it is a value no
    system has, so the row is named as malformed and the rest of the file is still graded."""
    f = tmp_path / "z.csv"
    f.write_text("tp,pp,dp,micro_batch,zero\n8,2,64,1,4\n8,2,64,1,1\n")
    code, out, err = explore("solve", "3d", "--track", "cloud", "--attempts", str(f))
    assert code == 0, err
    assert "1 of 2 rows graded" in out
    assert "z.csv, line 2, field 'zero': zero 4 is not a ZeRO stage; one of 0, 1, 2, 3" in " ".join(out.split())
