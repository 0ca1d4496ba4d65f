"""Every plot in an HTML report has a human title as its caption and alt text that says what it shows.

The alt text was the plot's program name (alt='parallelism_map', 'bubble_gauge') and the caption repeated it
('parallelism map'): a screen reader announced an identifier, and a reader without the image learnt nothing. The
readings below are worked by hand from the data written in each test, not taken from the code under test."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from explorer.reports.html import PLOT_TITLES, figure_html, plot_text


def fake(name: str, data: dict, track: str = "cloud") -> SimpleNamespace:
    return SimpleNamespace(data={name: data}, track=track)


def test_bubble_gauge_reads_its_fractions():
    # bubble (p - 1) / (v m + p - 1) = 3 / (64 + 3) = 4.5%; the rule 10%; the crisis shape's 30.4%
    title, alt = plot_text("bubble_gauge", fake("bubble_gauge", {
        "bubble_fraction": 3 / 67, "limit": 0.10, "crisis_bubble_fraction": 0.304, "p": 4, "m": 64, "v": 1}))
    assert title == "Pipeline bubble"
    assert "4.5%" in alt and "10.0%" in alt and "30.4%" in alt and "p=4, m=64, v=1" in alt
    assert alt.endswith("[cloud track]")


def test_parallelism_map_reads_the_split():
    # 8 x 4 x 32 = 1,024 GPUs, 80 layers over 4 stages
    _, alt = plot_text("parallelism_map", fake("parallelism_map", {
        "tp": 8, "pp": 4, "dp": 32, "cp": 1, "device_word": "GPU", "devices": 1024, "devices_per_node": 8,
        "layers": 80}))
    assert "1,024 GPUs (8 per node)" in alt
    assert "tensor parallel 8 x pipeline parallel 4 x data parallel 32" in alt and "context" not in alt
    assert "80 layers in 4 pipeline stages" in alt


def test_memory_heatmap_counts_what_fits():
    # a 2 x 2 grid, one shape invalid: 30 and 70 GB fit under 72 GB, 90 GB does not -> 2 of 3
    _, alt = plot_text("memory_heatmap", fake("memory_heatmap", {
        "tp": [4, 8], "pp": [1, 2], "memory_gb": [[None, 90.0], [70.0, 30.0]], "limit_gb": 72.0,
        "chosen": {"tp": 8, "pp": 2}}))
    assert "2 of 3 shapes fit" in alt and "limit of 72 GB" in alt and "TP=8 PP=2 needs 30 GB" in alt


def test_utilisation_gauge_names_the_bottleneck():
    _, alt = plot_text("utilisation_gauge", fake("utilisation_gauge", {
        "stages": ["prep", "ingest", "compute"], "rates": [4000.0, 9000.0, 3000.0],
        "utilisation": [0.75, 1 / 3, 1.0], "throughput": 3000.0, "bottleneck": "compute", "unit": "samples/s"}))
    assert "prep 4,000 samples/s, 75.0% busy" in alt and "ingest 9,000 samples/s, 33.3% busy" in alt
    assert "bottleneck is compute: 3,000 samples/s" in alt


def test_unexpected_data_falls_back_to_the_plot_modules_description():
    title, alt = plot_text("bubble_gauge", fake("bubble_gauge", {"bubble_fraction": "n/a"}))
    assert title == "Pipeline bubble"
    assert alt.startswith("Pipeline bubble gauge: the bubble fraction") and "_" not in alt.split(" [")[0]


def test_every_plot_module_has_a_title():
    from pathlib import Path

    import explorer.reports.plots as plots

    names = {p.stem for p in Path(plots.__file__).parent.glob("*.py") if p.stem not in ("__init__", "style")}
    assert names <= set(PLOT_TITLES), names - set(PLOT_TITLES)


def test_figure_html_uses_title_and_reading():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    html = figure_html(png, "bubble_gauge", fake("bubble_gauge", {
        "bubble_fraction": 0.012, "limit": 0.1, "p": 2, "m": 8, "v": 10}))
    alt = re.search(r"alt='([^']*)'", html).group(1)
    assert alt.startswith("Dial of the pipeline bubble: 1.2% of the step")
    assert "<figcaption>Pipeline bubble<span" in html


@pytest.fixture(scope="module")
def report_3d():
    import explorer

    return explorer.solve("3d", track="cloud")


def test_no_plot_of_a_real_report_is_named_by_its_program_name(report_3d):
    from explorer.reports.render import to_html

    html = to_html(report_3d)
    alts = re.findall(r"<img alt='([^']*)'", html)
    captions = re.findall(r"<figcaption>([^<]*)<", html)
    assert len(alts) == len(captions) == 3
    for alt in alts:
        assert "_" not in alt and len(alt) > 60 and re.search(r"\d", alt), alt
    assert captions == ["How the model is sliced over the devices",
                        "Memory per device over tensor and pipeline parallelism", "Pipeline bubble"]
    d = report_3d.data["parallelism_map"]
    assert f"tensor parallel {d['tp']} x pipeline parallel {d['pp']} x data parallel {d['dp']}" in alts[0]
