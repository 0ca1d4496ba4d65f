"""Training-memory waterfall: stacked bytes per device by term for each configuration, limit marked.

data = {"terms": [...], "limit": bytes, "configs": [{"label": str, "bytes": {term: bytes}}], "unit": "B"}

The axis is linear: on a log axis the height of a stacked segment means nothing (and a term below the
axis floor vanishes). When the largest configuration dwarfs the usable memory, the axis stops at
CLIP x the limit, so the configurations near the limit stay readable, and each bar cut there is marked
and carries its total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLIP = 4.0  # the axis stops at 4 x the usable memory when some bar is far taller


def draw(data: dict, report: Any) -> Figure:
    configs, terms = data.get("configs") or [], data.get("terms") or []
    if not configs or not terms:
        return style.no_data(report, "memory waterfall", "no memory breakdown in this report")
    limit = float(data.get("limit") or 0)
    totals = [sum(c["bytes"].values()) for c in configs]
    top = max(totals + [limit])
    clip = CLIP * limit if limit and max(totals) > 2 * CLIP * limit else None
    shown = clip or top
    scale, unit = next(((s, u) for s, u in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")) if shown >= s),
                       (1.0, "B"))
    fig, ax = style.new_figure(max(6.5, 0.55 * len(configs) + 2.5), 4.6)
    x = list(range(len(configs)))
    bottom = [0.0] * len(configs)
    for i, term in enumerate(terms):
        vals = [c["bytes"].get(term, 0) / scale for c in configs]
        ax.bar(x, vals, bottom=bottom, color=style.PALETTE[i % len(style.PALETTE)], label=term, width=0.7)
        bottom = [b + v for b, v in zip(bottom, vals)]
    if limit:
        ax.axhline(limit / scale, color="black", ls="--", lw=1.2)
        ax.text(len(configs) - 0.5, limit / scale, f" usable {limit / scale:.3g} {unit}", va="bottom", ha="right",
                fontsize=8)
    if clip:
        ymax = clip / scale
        ax.set_ylim(0, ymax)
        for xi, t in zip(x, totals):
            if t > clip:  # a cut bar: a white break near the top, its real total written on it
                ax.plot([xi - 0.35, xi + 0.35], [ymax * 0.955, ymax * 0.975], color="white", lw=3)
                ax.text(xi, ymax * 0.99, style.human_bytes(t), ha="center", va="top", fontsize=7,
                        bbox={"fc": "white", "ec": "none", "pad": 1.0})
        ax.text(1.02, 0.0, f"bars taller than\n{clip / scale:.3g} {unit} are cut;\ntheir totals are\nwritten on them",
                transform=ax.transAxes, fontsize=8, va="bottom", ha="left", color=style.GREY)
    else:
        ax.set_ylim(0, top / scale * 1.08)
    ax.set_xticks(x)
    ax.set_xticklabels([c["label"] for c in configs], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"memory per device ({unit})")
    ax.set_xlabel("configuration")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    style.title(ax, report, "Training memory waterfall")
    return fig
