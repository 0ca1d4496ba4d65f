"""The lab workbenches (explorer/labs): `explore lab`, the parts' live instruments and checks, and every app
run headless as a script (marimo notebooks are Python files). The browser tests are in test_labs_browser.py."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest
from _explore import explore

from explorer.errors import UsageError

TRACKS = ("cloud", "edge", "mobile", "tiny")


def test_lab_command_rejects_an_unknown_lab_in_one_line():
    code, out, err = explore("lab", "07")
    assert code == 2 and "lab must be 05, 06 or 08, got '07'" in err and err.count("\n") == 1


def test_lab_command_without_marimo_says_how_to_install_it(monkeypatch):
    """The hint names what installs marimo from a clone (README: `pip install ".[lab]"`): explorer is not on PyPI, so
    the hint's former `pip install "explorer[lab]"` found no such package."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "marimo" else real(name, *a))
    code, out, err = explore("lab", "05", "--track", "cloud", "--no-browser")
    assert code == 2
    assert err.strip() == ('error: the lab apps need marimo: pip install ".[lab]" in the folder of your explorer '
                           'clone (or pip install marimo)')
    assert "explorer[lab]" not in err


@pytest.mark.parametrize("extra, named", [(["--edit"], "--edit"), (["--port", "3000"], "--port"),
                                           (["--no-browser", "--host", "0.0.0.0"], "--no-browser, --host")])
def test_serving_options_beside_export_are_refused_not_dropped(monkeypatch, tmp_path, extra, named):
    import explorer.cli.lab as cli_lab

    monkeypatch.setattr(cli_lab, "marimo_missing", lambda: "")
    monkeypatch.setattr(cli_lab, "export", lambda *a: pytest.fail("exported although the options conflict"))
    code, out, err = explore("lab", "05", "--export", str(tmp_path), *extra)
    assert code == 2 and err.count("\n") == 1 and named in err and "serves nothing" in err


def test_apps_ship_inside_the_package():
    from explorer.labs import LABS, app_path, lab_key

    for lab in LABS:
        p = app_path(lab)
        assert p.parent.name == "labs" and p.parent.parent.name == "explorer" and p.exists()
        assert "marimo.App(" in p.read_text()
    assert lab_key("5") == "05" and lab_key("lab08") == "08"
    with pytest.raises(UsageError, match="05, 06, 08"):
        app_path("07")


def test_3d_instruments_follow_the_pp_slider_with_the_bubble_formula():
    """Hand derivation (Narayanan et al. SC'21, 1F1B): 1,024 GPUs, TP=8, global batch 512, micro-batch 2.
    PP=8: DP=16, m = 512/(16 x 2) = 16 micro-batches, bubble (8-1)/(16+8-1) = 7/23 = 30.4%.
    PP=4: DP=32, m = 8, bubble (4-1)/(8+4-1) = 3/11 = 27.3%. Fewer stages also hold more layers each, so the
    memory per GPU rises."""
    from explorer.labs.kit import ThreeD

    part = ThreeD("cloud")
    v = part.defaults()
    assert (v["tp"], v["pp"], v["micro_batch"]) == (8, 8, 2)
    a = part.live(v)
    b = part.live({**v, "pp": 4})
    gauge = {p.name: p for p in a.plots}["bubble_gauge"].data
    gauge4 = {p.name: p for p in b.plots}["bubble_gauge"].data
    assert gauge["bubble_fraction"] == pytest.approx(7 / 23)
    assert gauge4["bubble_fraction"] == pytest.approx(3 / 11)
    heat, heat4 = ({p.name: p for p in x.plots}["memory_heatmap"].data for x in (a, b))
    assert heat["chosen"] == {"tp": 8, "pp": 8} and heat4["chosen"] == {"tp": 8, "pp": 4}
    assert a.move["dp"] == 16 and b.move["dp"] == 32
    assert any("bubble" in x.lower() for x in a.alerts)  # 30.4% > the 10% rule: the failure state shows


def test_3d_check_grades_the_moves_beside_the_proven_optimum():
    from explorer.labs.kit import ThreeD
    from explorer.tracks import get_track

    # cloud: on a fleet track the 3D puzzle takes its fleet form (explorer/puzzles/fleet3d), without tp/pp/dp
    part = ThreeD("cloud")
    best = part.report().extra["configuration"]
    keys = ("tp", "pp", "cp", "micro_batch", "virtual_stages", "zero", "recompute", "dp")
    crisis = get_track("cloud").crisis_plan
    moves = [{k: getattr(crisis, k) for k in keys}, {k: best[k] for k in keys}]
    checked = part.check(moves)
    text = " ".join(f.answer for f in checked.verdict)
    assert "move 2" in text and "reaches the optimum" in text  # the workbench says move, not attempt
    assert [name for name, _ in checked.plots] == ["attempts", "frontier"]
    assert checked.report.data["attempts"]["attempts"][1]["on_frontier"] is True


@pytest.mark.parametrize("lab", ["05", "06", "08"])
@pytest.mark.parametrize("track", TRACKS)
def test_every_part_has_live_instruments_on_every_track(lab, track):
    from explorer.labs.kit import parts

    for part in parts(lab, track):
        live = part.live(part.defaults())
        assert not live.error, (part.puzzle, live.error)
        assert live.plots and live.move is not None, part.puzzle
        q = part.lock
        assert len(q.options) >= 3 and q.text.endswith("?")
        assert "?" in part.reflect


def test_dataloader_gauge_moves_with_the_workers():
    """Cloud image path: the balance needs about 25 of the node's 104 workers for 8 GPUs (README); one worker
    starves compute, so preparation is the bottleneck; 64 workers keep all 8 GPUs fed."""
    from explorer.labs.kit import Dataloader

    part = Dataloader("cloud")
    v = part.defaults()
    one = part.live({**v, "workers": 1}).plots[0].data
    many = part.live({**v, "workers": 64}).plots[0].data
    assert one["bottleneck"] == "prep" and many["bottleneck"] != "prep"
    assert many["throughput"] > 8 * one["throughput"]


def test_move_log_keeps_distinct_moves_in_order():
    from explorer.labs.kit import log_move

    moves = []
    for m in ({"a": 1}, {"a": 1}, {"a": 2}, None, {"a": 1}):
        moves = log_move(m)(moves)
    assert moves == [{"a": 1}, {"a": 2}, {"a": 1}]


@pytest.mark.parametrize("lab,track", [("05", "edge"), ("06", "mobile"), ("08", "tiny")])
def test_app_runs_headless_with_every_cell(lab, track):
    """The notebook itself, run by marimo without a browser (app.run), every part unlocked."""
    pytest.importorskip("marimo")
    import importlib

    app = importlib.import_module("explorer.labs.workbench").app
    _, defs = app.run(defs={"lab": lab, "track": track, "unlocked": True})
    for p in ("p1", "p2", "p3"):
        live = defs[f"{p}_live"]
        assert not live.error and live.plots, (lab, p, live.error)
    assert [part.puzzle for part in defs["lab_parts"]] == [c.puzzle for c in
                                                           __import__("explorer.labs.kit").labs.kit.PARTS[lab]]


def test_app_runs_as_a_python_script():
    pytest.importorskip("marimo")
    from explorer.labs import app_path

    done = subprocess.run([sys.executable, str(app_path("06")), "--lab", "06", "--track", "tiny", "--export"],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_export_writes_a_self_contained_page(tmp_path):
    """...and writes nothing into the package: marimo's export saved a 215 KB session snapshot beside the notebook
    it ran (explorer/labs/__marimo__/session/workbench.py.json), in site-packages for an installed explorer."""
    pytest.importorskip("marimo")
    from explorer.labs import app_path

    snapshot = app_path().parent / "__marimo__" / "session" / "workbench.py.json"
    before = snapshot.stat().st_mtime_ns if snapshot.exists() else None
    code, out, err = explore("lab", "08", "--track", "tiny", "--export", str(tmp_path))
    assert code == 0, err
    page = tmp_path / "lab08-tiny.html"
    assert out.strip().endswith(str(page))
    text = page.read_text()
    assert "<html" in text and "Lab 08" in text and "pipeline utilisation gauge" in text
    assert "data:image/png;base64," in text  # the instruments are inside the page
    # offline the page was blank (marimo's scripts come from its CDN): a note inside marimo's mount point says why,
    # and the app's first render replaces it (test_labs_browser.py::test_exported_page_says_why_it_is_blank_offline)
    root = text[text.index('<div id="root">'):]
    note = root[:root.index("</div></div>")]
    assert 'id="explorer-offline-note"' in note and "cdn.jsdelivr.net" in note and "network connection" in note
    assert "<code>explore lab 08 --track tiny</code>" in note and "Lab 08: Model training (track tiny)" in note
    assert (snapshot.stat().st_mtime_ns if snapshot.exists() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab08-tiny.html"]


def test_offline_note_goes_inside_the_mount_point_once_or_not_at_all():
    from explorer.cli.lab import with_offline_note

    page = '<html><body><div id="root"></div><script src="x.js"></script></body></html>'
    noted = with_offline_note(page, "05", "edge")
    assert noted.startswith('<html><body><div id="root"><div id="explorer-offline-note"')
    assert noted.endswith('</div></div><script src="x.js"></script></body></html>')
    assert "Lab 05: Distributed training (track edge)" in noted and "explore lab 05 --track edge" in noted
    other = '<html><body><div id="app"></div></body></html>'  # another marimo's page: left as it was
    assert with_offline_note(other, "05", "edge") == other


def test_a_lab_given_as_5_with_an_unknown_track_is_named_05():
    """`?track=nope` said 'Cannot open lab 5' (marimo's cli_args reads '--lab 05' as the number 5) where the page
    and the command line say 05."""
    pytest.importorskip("marimo")
    import importlib

    app = importlib.import_module("explorer.labs.workbench").app
    outputs, defs = app.run(defs={"lab": "5", "track": "nope", "unlocked": True})
    texts = [html.unescape(getattr(o, "text", "") or "") for o in outputs]
    said = [t for t in texts if "Cannot open" in t]
    assert len(said) == 1 and "Cannot open lab 05: unknown track 'nope'; valid: cloud, edge, mobile, tiny" in said[0]
    assert "lab 5:" not in said[0]


@pytest.mark.parametrize("track, suggested, listed", [("edge", "cloud", "cloud, mobile, tiny"),
                                                      ("cloud", "edge", "edge, mobile, tiny"),
                                                      ("tiny", "cloud", "cloud, edge, mobile")])
def test_the_banner_suggests_another_track_than_the_one_open(track, suggested, listed):
    """On the edge track the banner said 'add ?track=edge': the track already open."""
    mo = pytest.importorskip("marimo")
    from explorer.labs import ui

    text = html.unescape(ui.header(mo, "05", "Distributed training", track, exported=False).text)
    assert f"Another track: add <code>?track={suggested}</code> ({listed}) to the address." in text
    assert f"?track={track}<" not in text


# ------------------------------------------------------------------------------------------- kept across reloads

@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_LAB_STATE", str(tmp_path))
    return tmp_path


def test_a_part_keeps_its_lock_moves_and_configuration_in_the_state_file(state):
    """What a reload reads back (a new marimo session starts from kit.Saved.load): the answer locked, the move log
    and the configuration last run. An answer that is not an option of the question is not a lock."""
    from explorer.labs.kit import Dataloader, Saved, state_file

    part = Dataloader("cloud")
    moves = [{"workers": 1, "devices": 8}, {"workers": 20, "devices": 8}]
    saved = Saved("08", "cloud", 2)
    assert saved.load(part) == {"kept": None, "moves": [], "values": None}
    assert saved.save(kept=part.lock.options[1]) and saved.save(moves=moves, values={**part.defaults(), "workers": 20})
    assert state_file("08", "cloud") == state / "lab08-cloud.json"
    back = Saved("08", "cloud", 2).load(part)
    assert back["kept"] == part.lock.options[1] and back["moves"] == moves and back["values"]["workers"] == 20
    assert Saved("08", "cloud", 1).load(part)["kept"] is None  # another part of the lab: its own entry
    assert Saved("08", "edge", 2).load(part)["kept"] is None  # another track: its own file
    assert Saved("08", "cloud", 2, enabled=False).load(part)["kept"] is None  # an exported page reads nothing
    Saved("08", "cloud", 2).save(kept="42 bytes")
    assert Saved("08", "cloud", 2).load(part) == {"kept": None, "moves": [], "values": None}
    (state / "lab08-cloud.json").write_text("{not json")
    assert Saved("08", "cloud", 2).load(part)["kept"] is None  # unreadable: the part starts afresh


def test_a_state_file_that_cannot_be_written_is_said(tmp_path, monkeypatch):
    from explorer.labs.kit import Dataloader, Saved

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("EXPLORER_LAB_STATE", str(blocker / "labs"))  # a directory inside a file: cannot exist
    saved = Saved("08", "cloud", 2)
    assert saved.save(kept=Dataloader("cloud").lock.options[0]) is False
    assert str(blocker / "labs") in saved.error and "reload will start this part afresh" in saved.error


def test_a_run_is_a_move_logged_and_kept_and_a_reload_counts_none(state):
    """kit.record_run, the pass every part's workbench cell makes (ui.run_part): the starting point is logged but is
    not a move; each run of a new configuration is one move, saved with the configuration; running the same
    configuration again is not; a new session opening on the kept log (a reload, no run yet) counts nothing."""
    from explorer.labs.kit import Dataloader, Saved, record_run

    part = Dataloader("cloud")
    start = part.defaults()
    n = start["devices"]
    log: list = []
    pair = (lambda: log, lambda new: log.__setitem__(slice(None), new))
    saved = Saved("08", "cloud", 2)
    saved.save(kept=part.lock.options[0])  # the workbench opens once the prediction is locked
    values, live, count = record_run(part, None, start, *pair, saved)  # the page opens: no run yet
    assert (values, count, log) == (start, 0, [{"workers": 1, "devices": n}])
    values, live, count = record_run(part, {**start, "workers": 20.4}, start, *pair, saved)  # typed 20.4: runs 20
    assert values["workers"] == 20 and live.move == {"workers": 20, "devices": n} and count == 1
    assert Saved("08", "cloud", 2).load(part)["values"]["workers"] == 20
    values, live, count = record_run(part, {**start, "workers": 3}, start, *pair, saved)
    _, _, again = record_run(part, {**start, "workers": 3}, start, *pair, saved)  # the same configuration again
    assert count == again == 2 and len(log) == 3
    back = Saved("08", "cloud", 2).load(part)
    assert back["moves"] == [{"workers": 1, "devices": n}, {"workers": 20, "devices": n},
                             {"workers": 3, "devices": n}] and back["values"]["workers"] == 3
    kept = list(back["moves"])  # a reload: the log as kept, the controls where they were last run, no run yet
    values, _, count = record_run(part, None, back["values"], lambda: kept, kept.append, saved)
    assert values["workers"] == 3 and count == 2 and len(kept) == 3
    # a run that changes only the augmentation cost (a scenario control, not part of the graded move) is no move,
    # but a reload brings it back
    _, live, count = record_run(part, {**start, "workers": 3, "augment_x": 4.0}, start, *pair, saved)
    assert count == 2 and live.move == {"workers": 3, "devices": n}
    assert Saved("08", "cloud", 2).load(part)["values"]["augment_x"] == 4.0


def test_settle_snaps_a_typed_value_to_the_controls_options():
    from explorer.labs.kit import Dataloader, ThreeD

    part = Dataloader("cloud")
    assert part.settle({"workers": 20.4, "devices": "8", "augment_x": 3.0}) == {"workers": 20, "devices": 8,
                                                                                "augment_x": 2.0}
    three = ThreeD("cloud")
    got = three.settle({"recompute": "sometimes", "tp": 8})
    assert got["recompute"] == three.defaults()["recompute"] and got["tp"] == 8


def test_app_restores_a_locked_part_from_the_state_file(state):
    """The notebook itself, run headless (app.run) as a reload would: part 2 was locked with two moves; the part
    opens unlocked on the configuration last run with its move log, part 1 (never locked) stays locked."""
    pytest.importorskip("marimo")
    import importlib

    from explorer.labs.kit import Dataloader, Saved

    part = Dataloader("tiny")
    moves = [{"workers": 1, "devices": 1}, {"workers": 1, "devices": 1, "note": "a second entry"}]
    Saved("08", "tiny", 2).save(kept=part.lock.options[0], moves=moves, values={**part.defaults(), "augment_x": 2.0})
    app = importlib.import_module("explorer.labs.workbench").app
    _, defs = app.run(defs={"lab": "08", "track": "tiny", "unlocked": False})
    assert defs["p2_kept"]() == part.lock.options[0] and defs["p2_moves"]() == moves
    assert defs["p2_values"]["augment_x"] == 2.0 and not defs["p2_live"].error
    assert defs["p1_kept"]() is None and "p1_live" not in defs


def test_reset_forgets_the_lab_on_that_track_only(state, monkeypatch):
    import explorer.cli.lab as cli_lab

    (state / "lab05-cloud.json").write_text('{"parts": {}}')
    (state / "lab05-edge.json").write_text('{"parts": {}}')
    monkeypatch.setattr(cli_lab, "marimo_missing", lambda: "")
    monkeypatch.setattr(cli_lab.os, "execv", lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    monkeypatch.setattr(cli_lab, "free_port", lambda host: 2718)
    code, out, err = explore("lab", "05", "--track", "cloud", "--reset", "--no-browser")
    assert code == 0, err
    assert f"forgot the predictions and moves kept in {state / 'lab05-cloud.json'}" in out
    assert not (state / "lab05-cloud.json").exists() and (state / "lab05-edge.json").exists()
    code, out, err = explore("lab", "05", "--track", "cloud", "--reset", "--no-browser")
    assert code == 0 and "no prediction or move was kept" in out
    code, out, err = explore("lab", "05", "--track", "edge", "--reset", "--export", str(state))
    assert code == 2 and "--reset" in err and (state / "lab05-edge.json").exists()
