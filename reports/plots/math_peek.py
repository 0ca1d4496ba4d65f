"""The math peek: the formulas a report used, each with its source (and a note where the lab differs).

Generic: drawn from `report.formulas` for every report, whatever the puzzle.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_IN = 8.0
LINE_IN = {"name": 0.27, "expr": 0.22, "source": 0.19, "note": 0.19}
SIZE = {"name": 10.5, "expr": 9.5, "source": 8, "note": 8.5}
WRAP = {"expr": 84, "source": 118, "note": 108}


def _lines(report: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for f in report.formulas:
        out.append(("name", f.name))
        out += [("expr", s) for s in textwrap.wrap(f.expression, WRAP["expr"], subsequent_indent="    ") or [""]]
        if f.source:
            out += [("source", s) for s in textwrap.wrap(f"source: {f.source}", WRAP["source"])]
        if f.note:
            out += [("note", s) for s in textwrap.wrap(f"note: {f.note}", WRAP["note"])]
        out.append(("gap", ""))
    return out[:-1] if out else out


def draw(data: dict, report: Any) -> Figure:
    if not report.formulas:
        return style.no_data(report, "math peek", "this report lists no formulas")
    style.use_agg()
    from matplotlib.figure import Figure

    lines = _lines(report)
    top, bottom, header = 0.25, 0.2, 0.42
    height = top + header + bottom + sum(LINE_IN.get(kind, 0.12) for kind, _ in lines)
    fig = Figure(figsize=(WIDTH_IN, height))
    y = height - top

    def put(x_in: float, text: str, **kw: Any) -> None:
        fig.text(x_in / WIDTH_IN, y / height, text, va="top", ha="left", parse_math=False, **kw)

    put(0.25, f"Math peek: {report.title}  [{report.track}]", fontsize=12, fontweight="bold")
    y -= header
    for kind, text in lines:
        if kind == "name":
            put(0.25, text, fontsize=SIZE[kind], fontweight="bold", color=style.BLUE)
        elif kind == "expr":
            put(0.45, text, fontsize=SIZE[kind], family="DejaVu Sans Mono")
        elif kind == "source":
            put(0.45, text, fontsize=SIZE[kind], color=style.GREY)
        elif kind == "note":
            put(0.45, text, fontsize=SIZE[kind], color=style.VERMILION, style="italic")
        y -= LINE_IN.get(kind, 0.12)
    return fig
