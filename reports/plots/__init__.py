"""Plot registry: `draw(name, report)` imports `reports.plots.<name>` and calls its `draw(data, report)`.

Every plot module exposes `draw(data: dict, report: Report) -> matplotlib.figure.Figure`, reading
`report.data[name]` (passed in as `data`). Figures use the Agg backend and the shared style in
`reports.plots.style`. `render_png` turns a figure into deterministic PNG bytes (fixed dpi, no
software/date metadata), so answer keys are byte-identical across runs.
"""

from __future__ import annotations

import importlib
import io
import re
from typing import TYPE_CHECKING, Any

from explorer.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Not drawn as pictures: the formulas are in every report's "Math peek" section as text (searchable, and
# no longer shown twice); a saved report that still lists the old picture is rendered without it.
TEXT_ONLY = ("math_peek",)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def plot_names(report: Any) -> list[str]:
    """The plots of a report, in order, each once."""
    return list(dict.fromkeys(n for n in report.plots if n not in TEXT_ONLY))


def load(name: str) -> Any:
    """The plot module for a name (UsageError if there is none)."""
    if not _NAME.match(name) or name == "style":
        raise UsageError(f"invalid plot name {name!r}")
    try:
        return importlib.import_module(f"explorer.reports.plots.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"explorer.reports.plots.{name}":
            raise UsageError(f"no plot module reports/plots/{name}.py for plot {name!r}") from None
        raise


def draw(name: str, report: Any) -> Figure:
    """Draw plot `name` of a report as a matplotlib Figure (Agg)."""
    from explorer.reports.plots.style import use_agg

    use_agg()
    module = load(name)
    data = report.data.get(name, {}) if isinstance(report.data, dict) else {}
    return module.draw(data if data is not None else {}, report)


def figure_png(fig: Figure, dpi: int | None = None) -> bytes:
    """PNG bytes of a figure, deterministic: fixed dpi and no Software/date metadata."""
    from explorer.reports.plots.style import DPI

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or DPI, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def render_png(name: str, report: Any, dpi: int | None = None) -> bytes:
    """Draw plot `name` of a report and return its PNG bytes."""
    return figure_png(draw(name, report), dpi)


def render_all(report: Any) -> dict[str, bytes | str]:
    """PNG bytes per plot name of a report; a plot that fails maps to its one-line error text."""
    out: dict[str, bytes | str] = {}
    for name in plot_names(report):
        try:
            out[name] = render_png(name, report)
        except Exception as exc:  # a broken figure must not sink the whole report
            out[name] = f"{type(exc).__name__}: {exc}"
    return out
