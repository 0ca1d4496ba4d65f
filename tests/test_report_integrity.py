"""`explore report` and saved JSON: names validated before they pick a file, a checksum and the version that
made the report, and a warning instead of the status badge when the content does not match."""

from __future__ import annotations

import json

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
    # re-saving it through explore does not launder it: no checksum is vouched for its content
    again = json.loads(explore("report", path, "--format", "json")[1])
    assert "checksum" not in again and Report.from_dict(again).integrity == "missing"


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
