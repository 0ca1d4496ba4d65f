"""The 3-box gauge of the input pipeline: each stage's rate and busy fraction; the bottleneck is full.

data = {"stages": ["prep", "ingest", "compute"], "rates": [...], "utilisation": [...], "throughput": x,
        "bottleneck": "compute", "workers": w, "devices": n, "unit": "samples/s"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_number, plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def draw(data: dict, report: Any) -> Figure:
    stages, util = data.get("stages") or [], data.get("utilisation") or []
    if not stages or not util:
        return style.no_data(report, "utilisation gauge", "no pipeline stages in this report")
    from matplotlib.patches import Rectangle

    rates = data.get("rates") or [0] * len(stages)
    fig, ax = style.new_figure(7.0, 3.0)
    ax.axis("off")
    ax.grid(False)
    for i, (s, u, r) in enumerate(zip(stages, util, rates)):
        x0 = i * 1.3
        ax.add_patch(Rectangle((x0, 0), 1.0, 1.0, fill=False, lw=1.5))
        colour = style.BAD if s == data.get("bottleneck") else style.GOOD
        ax.add_patch(Rectangle((x0, 0), 1.0, min(max(float(u), 0.0), 1.0), color=colour, alpha=0.7))
        ax.text(x0 + 0.5, 1.08, s, ha="center", va="bottom", fontweight="bold")
        ax.text(x0 + 0.5, 0.5, f"{100 * float(u):.0f}% busy\n{human_number(float(r))} {data.get('unit', 'samples/s')}",
                ha="center", va="center", fontsize=9)
        if i < len(stages) - 1:
            ax.annotate("", xy=(x0 + 1.28, 0.5), xytext=(x0 + 1.02, 0.5), arrowprops={"arrowstyle": "->"})
    ax.text(1.95, -0.2, f"throughput {human_number(float(data.get('throughput', 0)))} samples/s with "
            f"{plural(int(data.get('workers') or 0), 'worker')}, {plural(int(data.get('devices') or 0), 'device')}; "
            f"bottleneck: {data.get('bottleneck')}",
            ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.1, 3.75)
    ax.set_ylim(-0.4, 1.3)
    style.title(ax, report, "Input pipeline: stage utilisation")
    return fig
