"""Every figure of every lab part and track (the real answers, not fakes) renders with a title, labelled axes
with their units, and no two annotations on top of each other. Checked on the matplotlib Figure objects."""

from __future__ import annotations

import re

import pytest
from explorer.reports.plots import draw, plot_names

from explorer.puzzles import PUZZLES

UNIT = re.compile(r"\(([^)]*)\)|\[[^\]]+\]| in [A-Za-z%]")  # "(GB)", "(s, log scale)", "[MB]", " in s"
PLACEHOLDER = "could not be drawn"


def titles(fig) -> list[str]:
    out = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    out += [t.get_text() for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)]
    out += [t.get_text() for t in fig.texts]  # a figure drawn as text (a gauge) titles itself with text
    return [t for t in out if t.strip()]


def categorical(axis) -> bool:
    """Ticks that name things (configurations, phases), not numbers on a scale."""
    texts = [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    return any(re.search(r"[A-Za-z]", t) and not t.startswith("$") for t in texts)


def label_problems(fig) -> list[str]:
    """Axes that show data on a numeric scale without a label, or with a label that gives no unit."""
    problems = []
    for ax in fig.axes:
        if not ax.axison or ax.get_label() == "<colorbar>" and not ax.get_ylabel() and not ax.get_xlabel():
            continue
        has_data = bool(ax.lines or ax.patches or ax.collections or ax.images)
        if not has_data:
            continue
        for name, axis, label in (("x", ax.xaxis, ax.get_xlabel()), ("y", ax.yaxis, ax.get_ylabel())):
            if not axis.get_visible() or categorical(axis) or not any(t.get_visible() and t.get_text()
                                                                        for t in axis.get_ticklabels()):
                continue
            if not label.strip():
                problems.append(f"{name} axis without a label")
            elif not UNIT.search(label):
                problems.append(f"{name} label {label!r} gives no unit")
    return problems


def overlaps(fig) -> list[str]:
    """Annotations (texts placed in an axes) that run into each other or are written across a data curve."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    out = []
    for ax in fig.axes:
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_visible() and t.get_text()]
        for i, (a, ba) in enumerate(boxes):
            for b, bb in boxes[i + 1:]:
                if ba.overlaps(bb) and ba.intersection(ba, bb).width * ba.intersection(ba, bb).height > 4:
                    out.append(f"{a!r} overlaps {b!r}")
        curves = [ln for ln in ax.lines if len(ln.get_xdata()) > 2 and ln.get_visible()]
        for text, box in boxes:
            inner = box.shrunk(0.9, 0.6).anchored("C", box)  # the glyphs, not the box's padding
            for ln in curves:
                path = ln.get_transform().transform_path(ln.get_path())
                if path.intersects_bbox(inner, filled=False):
                    out.append(f"{text!r} is written across the curve {ln.get_label()!r}")
    return out


@pytest.mark.parametrize("puzzle", list(PUZZLES))
def test_every_figure_of_every_track(all_reports, puzzle):
    import matplotlib

    matplotlib.use("Agg")
    problems = []
    for (p, track), report in all_reports.items():
        if p != puzzle:
            continue
        names = plot_names(report)
        assert names, f"{puzzle} [{track}] lists no figure"
        for name in names:
            fig = draw(name, report)
            where = f"{puzzle} [{track}] {name}"
            if not titles(fig):
                problems.append(f"{where}: no title")
            problems += [f"{where}: {p}" for p in label_problems(fig) + overlaps(fig)]
            texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts) + " ".join(titles(fig))
            if "no data" in texts.lower() or PLACEHOLDER in texts:
                problems.append(f"{where}: drew a placeholder instead of the figure")
    assert problems == [], "\n".join(problems)


def test_memory_waterfall_is_linear_and_shows_every_term_of_the_tallest_bar(all_reports):
    """The cloud audit's configurations run to terabytes against a 76 GB limit. The lower panel keeps the limit
    readable (GB); the upper one reaches the tallest total, so the top of every bar, its largest term
    (activations) included, is drawn: a cut axis hid 1.44 TB of activations behind the weights."""
    report = all_reports[("memory", "cloud")]
    data = report.data["memory_waterfall"]
    fig = draw("memory_waterfall", report)
    assert all(ax.get_yscale() == "linear" for ax in fig.axes)  # stacked segments on a log axis would distort
    limit = data["limit"]
    lo = next(ax for ax in fig.axes if "(GB)" in ax.get_ylabel())
    hi = next(ax for ax in fig.axes if "(TB)" in ax.get_ylabel())
    assert lo.get_ylim()[1] < 10 * limit / 1e9  # the axis keeps the usable memory readable
    tallest = max(sum(c["bytes"].values()) for c in data["configs"])
    assert tallest > 20 * limit  # the case this test is about
    assert hi.get_ylim()[1] >= tallest / 1e12  # the whole of the tallest bar is on the axis
    assert hi.get_ylim()[0] == pytest.approx(lo.get_ylim()[1] / 1e3)  # the panels meet: no byte is left out
    notes = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "changes scale" in notes and " TB" in notes  # the change of scale said; the tall totals written
