"""Frontier: non-domination (generic and property-based) and the 3D epsilon-constraint sweep against a
fake solve_3d whose plans are listed here (so the exact frontier can be worked out by hand)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import InfeasibleError, UsageError
from explorer.frontier import (
    OBJECTIVES_3D,
    Objective,
    check_non_dominated,
    dominates,
    frontier,
    pareto_filter,
)

OBJ2 = (Objective("t", "max", "throughput"), Objective("g", "min", "GPUs"))


def test_dominates_is_strict():
    assert dominates({"t": 2, "g": 1}, {"t": 1, "g": 1}, OBJ2)
    assert not dominates({"t": 1, "g": 1}, {"t": 1, "g": 1}, OBJ2)
    assert not dominates({"t": 2, "g": 2}, {"t": 1, "g": 1}, OBJ2)  # a trade-off, neither dominates


def test_pareto_filter_small_case():
    # (t, g): (5,4) and (3,2) and (1,1) trade off; (2,2) is dominated by (3,2); (5,8) by (5,4); (3,2) twice.
    pts = [{"t": 5, "g": 4}, {"t": 2, "g": 2}, {"t": 3, "g": 2}, {"t": 1, "g": 1}, {"t": 5, "g": 8},
           {"t": 3, "g": 2}]
    assert pareto_filter(pts, OBJ2) == [{"t": 5, "g": 4}, {"t": 3, "g": 2}, {"t": 1, "g": 1}]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_no_frontier_point_dominates_another_and_every_other_point_is_covered(raw):
    objs = (Objective("a", "max", "a"), Objective("b", "min", "b"), Objective("c", "max", "c"))
    pts = [{"a": a, "b": b, "c": c} for a, b, c in raw]
    front = pareto_filter(pts, objs)
    assert front and check_non_dominated(front, objs) == []
    for p in pts:  # every dropped point is dominated by, or equal to, a frontier point
        assert any(dominates(q, p, objs) or q == p for q in front)


# --- 3D sweep with a fake solve_3d -----------------------------------------------------------------

@dataclass
class Plan:
    tp: int
    pp: int
    dp: int
    cp: int = 1
    micro_batch: int = 1
    virtual_stages: int = 1
    zero: int = 1
    recompute: str = "none"


@dataclass
class Est:
    tokens_per_s: float
    step_time_s: float
    mfu: float
    memory_total: float
    memory_limit: float
    plan: Plan


LIMIT = 72e9
# Plans per GPU count: (tokens/s, memory used). Headroom = 72 GB - memory.
PLANS = {
    8: [],  # nothing fits on 8 GPUs
    16: [(100.0, 70e9), (80.0, 40e9)],
    32: [(190.0, 71e9), (185.0, 50e9), (120.0, 20e9)],
    64: [(180.0, 71e9)],  # fewer tokens/s than 32 GPUs at the same or better headroom: dominated
}


def fake_solve_3d(track="cloud", *, gpus=None, min_memory_headroom_bytes=None, max_bubble=0.1, time_limit=None,
                  **kw):
    ok = [(t, m) for t, m in PLANS[gpus] if LIMIT - m >= (min_memory_headroom_bytes or 0)]
    if not ok:
        raise InfeasibleError(f"nothing fits on {gpus} GPUs", ["memory"])
    t, m = max(ok)
    return types.SimpleNamespace(best=Est(t, 1.0, 0.4, m, LIMIT, Plan(gpus, 1, 1)), status="optimal")


@pytest.fixture()
def api(monkeypatch):
    mod = types.ModuleType("explorer.api")
    mod.solve_3d = fake_solve_3d
    monkeypatch.setitem(sys.modules, "explorer.api", mod)
    return mod


def test_3d_frontier_is_exact_and_non_dominated(api):
    res = frontier("3d", "cloud", gpu_counts=[8, 16, 32, 64], levels=5)
    assert check_non_dominated(res.points, OBJECTIVES_3D) == []
    got = sorted((p["gpus"], p["tokens_per_s"], round(p["memory_headroom_bytes"] / 1e9)) for p in res.points)
    # By hand (usable HBM 80 GB x 0.9 = 72 GB, so each epsilon step is 0.05 x 72 GB = 3.6 GB):
    # 16 GPUs: (100, 2 GB); headroom >= 5.6 GB -> (80, 32 GB); >= 35.6 GB -> infeasible.
    # 32 GPUs: (190, 1 GB); headroom >= 4.6 GB -> (185, 22 GB); >= 25.6 GB -> (120, 52 GB).
    # 64 GPUs: (180, 1 GB) is dominated by 32 GPUs' (190, 1 GB). 8 GPUs: infeasible.
    assert got == [(16, 80.0, 32), (16, 100.0, 2), (32, 120.0, 52), (32, 185.0, 22), (32, 190.0, 1)]
    assert res.dominated == 1 and any("8 GPUs" in s for s in res.infeasible)
    # Dollars per million tokens = GPUs x 3 USD/h / 3600 / (tokens/s) x 1e6 (cloud price 3.00 USD/GPU-hour).
    p = next(p for p in res.points if p["gpus"] == 16 and p["tokens_per_s"] == 100.0)
    assert p["usd_per_million_tokens"] == pytest.approx(16 * 3.0 / 3600 / 100.0 * 1e6)


def test_frontier_report_csv_and_plot(api, tmp_path):
    from explorer.reports.frontier import frontier_report, write_frontier

    res = frontier("3d", "cloud", gpu_counts=[16, 32], levels=3)
    rep = frontier_report(res)
    paths = write_frontier(rep, res, tmp_path, "html")
    names = sorted(p.name for p in paths)
    assert names == ["frontier-3d-cloud.csv", "frontier-3d-cloud.html", "frontier-3d-cloud.png"]
    lines = (tmp_path / "frontier-3d-cloud.csv").read_text().splitlines()
    assert lines[0].startswith("kind,label,gpus,tokens_per_s") and len(lines) == 1 + len(res.points)
    assert "data:image/png;base64," in (tmp_path / "frontier-3d-cloud.html").read_text()


def test_frontier_report_names_what_is_trained_and_each_unit_once(api):
    from explorer.reports.frontier import frontier_report

    rep = frontier_report(frontier("3d", "cloud", gpu_counts=[16, 32], levels=3))
    # the cloud track (tracks/cloud.toml): Llama-3-70B, global batch 512 of 8,192-token sequences, BF16 on H100
    assert rep.headline.startswith("Llama-3-70B, global batch 512 x 8,192 tokens, BF16 on NVIDIA H100")
    top = next(f for f in rep.findings if f.question.startswith("Highest"))
    assert top.question == "Highest throughput?" and top.answer.count("tokens/s") == 1


def test_frontier_of_a_puzzle_without_one_is_a_usage_error(monkeypatch):
    import _reports_fake as fake

    from explorer.puzzles import PUZZLES, PuzzleInfo

    monkeypatch.setitem(sys.modules, "_reports_fake", fake)
    monkeypatch.setitem(PUZZLES, "fake", PuzzleInfo("fake", "05", 9, "Fake puzzle", "_reports_fake"))
    with pytest.raises(UsageError, match="defines no multi-objective frontier"):
        frontier("fake", "cloud")
    with pytest.raises(UsageError, match="unknown puzzle"):
        frontier("nonexistent-puzzle", "cloud")


def test_3d_attempt_frontier_flag(api):
    from explorer.frontier import attempt_on_frontier_3d
    from explorer.report import Figure

    def result(tps, mem):
        return {"feasible": True, "figures": {"tokens_per_s": Figure(tps, "tokens/s", "throughput"),
                                              "memory_per_gpu": Figure(mem, "B", "memory per GPU")}}

    values = {"tp": 32, "pp": 1, "dp": 1, "cp": 1}
    # 185 tokens/s with 72 - 50 = 22 GB headroom on 32 GPUs: the best plan with >= 22 GB headroom is that one.
    assert attempt_on_frontier_3d(values, result(185.0, 50e9), "cloud") is True
    # 150 tokens/s with 12 GB headroom: (185 tokens/s, 22 GB) has more of both, so it is dominated.
    assert attempt_on_frontier_3d(values, result(150.0, 60e9), "cloud") is False


def test_complete_frontier_finds_points_the_sampled_one_steps_over(api, monkeypatch):
    # Add a 16-GPU plan with 90 tokens/s and 72 - 67 = 5 GB headroom. Sampled: after (100, 2 GB) the next level
    # is 2 + 3.6 = 5.6 GB > 5 GB, so it is stepped over; complete (2 GB + 1 byte) finds it.
    monkeypatch.setitem(PLANS, 16, [(100.0, 70e9), (90.0, 67e9), (80.0, 40e9)])
    sampled = frontier("3d", "cloud", gpu_counts=[16], levels=5)
    complete = frontier("3d", "cloud", gpu_counts=[16], complete=True)
    pts = lambda r: sorted(p["tokens_per_s"] for p in r.points)  # noqa: E731
    assert pts(sampled) == [80.0, 100.0] and pts(complete) == [80.0, 90.0, 100.0]
    assert check_non_dominated(complete.points, OBJECTIVES_3D) == []
    assert "complete" in complete.note and "sampled" in sampled.note


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_the_3d_frontier_refuses_a_fleet_track(track):
    """A fleet's 3D answer is a federated plan (`explore solve 3d --track tiny` names a pipeline stage across
    Bluetooth as never offered); a frontier of datacenter plans over GPU counts of earbuds would contradict it."""
    from explorer.errors import UsageError

    with pytest.raises(UsageError, match=f"is a fleet.*explore solve 3d --track {track}"):
        frontier("3d", track)


def test_frontier_plot_keeps_its_size_on_a_phone(api, tmp_path):
    # The 3D frontier figure is wider than a phone (1,386 px on the cloud track): squeezed to a 360 px column its
    # 12 px labels read at about 3 px. The page gives the img its pixel size (from the PNG's IHDR) inside a box
    # that scrolls sideways, and the CSS drops the 100% cap below 640 px, so a phone shows it at full size.
    import base64
    import re

    from explorer.reports.frontier import frontier_report, write_frontier
    from explorer.reports.html import CSS, png_size

    res = frontier("3d", "cloud", gpu_counts=[16, 32], levels=3)
    write_frontier(frontier_report(res), res, tmp_path, "html")
    html = (tmp_path / "frontier-3d-cloud.html").read_text()
    png = (tmp_path / "frontier-3d-cloud.png").read_bytes()
    # (the alt text says what the frontier shows, test_html_a11y_figures.py; here only the size matters)
    m = re.search(r"<div class='plot-wrap'><img alt='Scatter of [^']+' width='(\d+)' height='(\d+)' "
                  r"src='data:image/png;base64,([^']+)'></div>", html)
    assert m, html[html.find("<h2>Plots"):][:300]
    assert base64.b64decode(m.group(3)) == png
    assert (int(m.group(1)), int(m.group(2))) == png_size(png) and int(m.group(1)) > 640
    assert ".plot-wrap{max-width:100%;overflow-x:auto}" in CSS
    assert re.search(r"@media \(max-width:640px\)\{\.explorer-report \.plot-wrap img\{max-width:none\}", CSS)
    assert png_size(b"not a png") is None


def test_frontier_plot_in_a_browser_at_390_and_1280_px(api, browser):
    from explorer.reports.frontier import frontier_report
    from explorer.reports.render import to_html

    html = to_html(frontier_report(frontier("3d", "cloud", gpu_counts=[16, 32], levels=3)))
    got = {}
    for width in (390, 1280):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.set_content(html, wait_until="load")
            got[width] = page.evaluate("""() => { const i = document.querySelector('figure img');
                return {shown: i.getBoundingClientRect().width, natural: i.naturalWidth,
                        box: i.parentElement.clientWidth, scroll: document.scrollingElement.scrollWidth}; }""")
        finally:
            page.close()
    phone, desk = got[390], got[1280]
    assert phone["shown"] == phone["natural"] > phone["box"] and phone["scroll"] <= 390  # the box scrolls, not the page
    assert desk["shown"] == desk["box"] <= 1000 and desk["scroll"] <= 1280  # desktop: fitted to the column, as before
