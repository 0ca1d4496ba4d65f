"""Every plot this issue owns renders (synthetic data shaped like the puzzles' report.data, every track,
edge cases), deterministically, and a missing plot module is a one-line error."""

from __future__ import annotations

import pytest
from explorer.reports.plots import plot_names, render_png

from explorer.errors import UsageError
from explorer.report import Formula, Report
from explorer.tracks import TRACKS

HEATMAP = {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, 8, 16],
           "memory_gb": [[None, None, 400, 220], [None, 310, 160, 95.5], [410, 160, 91.2, 55.1],
                         [210, 95, 50.3, 30.2], [120, 60, 30, 16]], "limit_gb": 72.0, "chosen": {"tp": 8, "pp": 4}}
GAUGE = {"bubble_fraction": 0.045, "limit": 0.10, "crisis_bubble_fraction": 0.304, "p": 4, "m": 64, "v": 1}
PMAP = {"tp": 8, "pp": 4, "dp": 32, "cp": 1, "devices": 1024, "devices_per_node": 8, "nodes_per_rack": 4,
        "racks_per_pod": 8, "layers": 80}
FRONTIER = {"objectives": [{"key": "tokens_per_s", "sense": "max", "label": "tokens/s", "unit": "tokens/s"},
                           {"key": "gpus", "sense": "min", "label": "GPUs", "unit": ""},
                           {"key": "memory_headroom_bytes", "sense": "max", "label": "headroom", "unit": "B"}],
            "points": [{"gpus": 16, "tokens_per_s": 1e5, "memory_headroom_bytes": 2e9},
                       {"gpus": 512, "tokens_per_s": 2e6, "memory_headroom_bytes": 9e9}],
            "attempts": [{"label": "1", "gpus": 64, "tokens_per_s": 2e5, "memory_headroom_bytes": 1e9,
                          "on_frontier": False}]}
ATTEMPTS = {"objective_name": "tokens/s", "sense": "max", "optimum": 816.0, "max_attempts": 3,
            "attempts": [{"number": 1, "objective": 232.0, "feasible": False, "error": None},
                         {"number": 2, "objective": 808.0, "feasible": True, "error": None},
                         {"number": 3, "objective": None, "feasible": False, "error": "bad row"},
                         {"number": 4, "objective": 816.0, "feasible": True, "error": None}]}
FORMULAS = [Formula("Pipeline bubble fraction", "(p - 1) / (v m + p - 1)", "Narayanan et al. SC'21",
                    "The lab writes (P - 1)/(P + M - 1), the v = 1 case; a $ sign stays literal"),
            Formula("Ring AllReduce", "2 (N - 1) alpha + 2 (N - 1)/N * M / B " * 4, "Thakur et al. 2005")]


def report(track: str, data: dict, plots: list[str]) -> Report:
    return Report(puzzle="3d", lab="05", part=2, track=track, title="The parallelism puzzle", status="optimal",
                  headline="h", formulas=FORMULAS, plots=plots, data=data)


def is_png(b: bytes) -> bool:
    return b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) > 2000


@pytest.mark.parametrize("track", TRACKS)
def test_every_owned_plot_renders_for_every_track(track):
    data = {"memory_heatmap": HEATMAP, "bubble_gauge": GAUGE, "parallelism_map": PMAP, "frontier": FRONTIER,
            "attempts": ATTEMPTS}
    r = report(track, data, list(data))
    assert plot_names(r) == list(data)  # the formulas are a text section, not a picture
    for name in plot_names(r):
        assert is_png(render_png(name, r)), name


@pytest.mark.parametrize("name,data", [
    ("parallelism_map", {"tp": 2, "pp": 2, "dp": 1, "devices": 4, "devices_per_node": 1, "nodes_per_rack": 1,
                         "racks_per_pod": 1}),  # tiny: 4 microcontrollers
    ("parallelism_map", {"tp": 8, "pp": 16, "dp": 128, "cp": 1, "devices": 16384, "devices_per_node": 8,
                         "nodes_per_rack": 4, "racks_per_pod": 8, "layers": 126}),  # many pods, pp > 8
    ("parallelism_map", {"tp": 1, "pp": 8, "dp": 1250, "devices": 10000, "devices_per_node": 1,
                         "nodes_per_rack": 4, "racks_per_pod": 8, "layers": 12, "device_word": "vehicle"}),
    ("memory_heatmap", {"tp": [1], "pp": [1, 2], "memory_gb": [[None], [None]], "limit_gb": 16.0}),
    ("memory_heatmap", {"tp": [1, 2], "pp": [1], "memory_gb": [[0.4, 0.2]], "limit_gb": 16.0,
                        "chosen": {"tp": 2, "pp": 1}}),  # everything far below the limit
    ("bubble_gauge", {"bubble_fraction": 0.55, "limit": 0.1, "crisis_bubble_fraction": None, "p": 8, "m": 4}),
    ("memory_heatmap", {}), ("bubble_gauge", {}), ("parallelism_map", {}), ("frontier", {}), ("attempts", {}),
])
def test_edge_cases_render(name, data):
    assert is_png(render_png(name, report("tiny", {name: data}, [name])))


def test_png_is_deterministic():
    r = report("cloud", {"parallelism_map": PMAP}, ["parallelism_map"])
    assert render_png("parallelism_map", r) == render_png("parallelism_map", r)


def test_unknown_plot_is_a_usage_error():
    with pytest.raises(UsageError, match="no plot module reports/plots/nope.py"):
        render_png("nope", report("cloud", {}, []))


def test_html_embeds_plots_and_needs_no_network():
    from explorer.reports.render import render

    page = render(report("cloud", {"bubble_gauge": GAUGE}, ["bubble_gauge"]), "html")
    assert page.count("data:image/png;base64,") == 1  # the gauge; the math peek is text, shown once
    assert page.count("Math peek") == 1 and "Ring AllReduce" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_parallelism_map_places_tp_and_cp_groups_apart():
    """TP = 8 on nodes of 8 stays inside a node; with CP = 2 the TP x CP group spans 2 nodes (the caption used to
    call that the TP group)."""
    from explorer.reports.plots.parallelism_map import draw

    r = report("cloud", {}, [])
    caption = " ".join(t.get_text() for t in draw(dict(PMAP, cp=2, dp=16), r).texts)
    assert "TP group inside a node, TP x CP group across 2 nodes" in caption
    caption = " ".join(t.get_text() for t in draw(dict(PMAP, tp=16, dp=16, devices_per_node=8), r).texts)
    assert "TP group across 2 nodes." in caption
