"""`explore report` on files that are not saved reports (sweep C items 9 and 10): the error names what the JSON is in
JSON's words (null, a number, a string), never Python's type names (NoneType, int, str); and a figure with a unit
must hold a number (or null), so an edited MFU of "abc" is refused (exit 2) as 1e999 is, not rendered as
"abc fraction" with exit 0."""

from __future__ import annotations

import json

import pytest
from _explore import explore

from explorer.puzzles import solve


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("saved")
    path = d / "crossover.json"
    path.write_text(json.dumps(solve("crossover", track="cloud").to_dict()))
    return path


@pytest.mark.parametrize("content,said", [
    ("null", "its JSON is null, not an object"),
    ("42", "its JSON is a number (42), not an object"),
    ("4.5", "its JSON is a number (4.5), not an object"),
    ('"s"', "its JSON is a string, not an object"),
    ("true", "its JSON is true, not an object"),
    ("[1]", "its JSON is a list, not an object"),
])
def test_a_json_that_is_not_an_object_is_named_in_json_words(tmp_path, content, said):
    p = tmp_path / "x.json"
    p.write_text(content)
    code, out, err = explore("report", str(p))
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert said in err, err
    for python_word in ("NoneType", "a int", "a str,", "a float", "a bool", "a dict"):
        assert python_word not in err, err


def _with_figure(saved, tmp_path, name: str, value) -> str:
    d = json.loads(saved.read_text())
    d["figures"][name]["value"] = value
    p = tmp_path / "edited.json"
    p.write_text(json.dumps(d))
    return str(p)


@pytest.mark.parametrize("value,given", [("abc", '"abc"'), ("0.5", '"0.5"'), (True, "true"),
                                         ([1, "x"], "a list with a string")])
def test_a_figure_with_a_unit_must_be_a_number(saved, tmp_path, value, given):
    # alpha is the crossover's latency, a figure in seconds
    assert json.loads(saved.read_text())["figures"]["alpha"]["unit"] == "s"
    code, out, err = explore("report", _with_figure(saved, tmp_path, "alpha", value))
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert f"figures.alpha.value must be a number or null (its unit is 's'), got {given}" in err, err


@pytest.mark.parametrize("name,value", [("alpha", None), ("alpha", 3e-6), ("best_algorithm", "ring")])
def test_a_number_null_or_a_unitless_name_is_still_rendered(saved, tmp_path, name, value):
    # null is 'not computed' (rendered '-'); a figure without a unit may be a name, as best_algorithm is
    d = json.loads(saved.read_text())
    assert d["figures"][name]["unit"] == ("s" if name == "alpha" else "")
    code, out, err = explore("report", _with_figure(saved, tmp_path, name, value))
    assert code == 0 and "UNVERIFIED" in out, err
    if name == "best_algorithm":
        assert "ring" in out


def test_the_saved_report_itself_loads(saved):
    code, out, err = explore("report", str(saved))
    assert code == 0 and err == "" and "UNVERIFIED" not in out
