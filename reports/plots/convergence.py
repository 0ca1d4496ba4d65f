"""Convergence curves: training loss per step for each compression scheme (lab 06 part 3), or the
gossip consensus error per round with its spectral bound (tiny track).

data = {"kind": "loss" | "gossip", "x_label": str, "y_label": str, "log_y": bool, "series": {name: [y0, y1, ...]}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def draw(data: dict, report: Any) -> Figure:
    series = data.get("series") or {}
    if not series:
        return style.no_data(report, "convergence", "no curves in this report")
    fig, ax = style.new_figure(7.4, 4.4)
    dashed = ("bound", "no error feedback")
    for i, (name, ys) in enumerate(series.items()):
        ls = "--" if any(w in name for w in dashed) else "-"
        ax.plot(range(len(ys)), ys, color=style.PALETTE[i % len(style.PALETTE)], lw=1.6, ls=ls, label=name)
    if data.get("log_y"):
        ax.set_yscale("log")
    elif data.get("kind") == "loss":  # zoom on the tail where the schemes differ
        tail = [y for ys in series.values() for y in ys[len(ys) // 10:]]
        lo, hi = min(tail), max(tail)
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_xlabel(data.get("x_label", "step"))
    ax.set_ylabel(data.get("y_label", "value"))
    ax.legend(loc="upper right")
    title = "Gossip consensus error" if data.get("kind") == "gossip" else "Training loss by compression scheme"
    style.title(ax, report, title)
    return fig
