"""Fleet trade-off: the time to the training target against the local steps between synchronisations,
one line per aggregation path (each point the best configuration with that path and that many local
steps), the optimum marked, and, where the lab's step bounds the staleness, the largest sync period it
allows.

data = {"local_steps": [1, 2, 4, ...], "paths": {"name": [days or None, ...]}, "best": {"local_steps": 4,
        "days": 0.3, "path": "name"}, "max_local_steps": 7 or None, optional "yours": {"local_steps": 8, "days": 0.5}
        (a lab app's move)}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_sci

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw(data: dict, report: Any) -> Figure:
    h = data.get("local_steps") or []
    paths = data.get("paths") or {}
    if not h or not paths:
        return style.no_data(report, "fleet trade-off", "no sync-period curve in this report")
    fig, ax = style.new_figure(7.0, 4.2)
    for i, (name, days) in enumerate(paths.items()):
        pts = [(x, y) for x, y in zip(h, days) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=4, lw=1.8,
                    color=style.PALETTE[i % len(style.PALETTE)], label=name if len(name) <= 48 else name[:45] + "...")
    best = data.get("best") or {}
    if best.get("days"):
        ax.plot([best["local_steps"]], [best["days"]], marker="*", ms=14, color=style.PALETTE[3], ls="none",
                label="optimum")
    yours = data.get("yours") or {}
    if yours.get("days"):  # a lab app's move
        ax.plot([yours["local_steps"]], [yours["days"]], marker="D", ms=8, color=style.PALETTE[1], ls="none",
                label="your move")
    hmax = data.get("max_local_steps")
    if hmax:
        ax.axvline(hmax + 0.5, color=style.GREY, ls=":", lw=1.2, label=f"staleness bound: H <= {hmax}")
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: human_sci(v))
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("local steps between synchronisations (H)")
    ax.set_ylabel("time to the training target (days)")
    ax.legend(loc="best", fontsize=8)
    style.title(ax, report, "Sync period and aggregation path: time to the target")
    return fig
