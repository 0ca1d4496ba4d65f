"""Accuracy at a glance: every published run of the throughput tables as one dot at its signed out-of-sample
error, one line per table, with the 7 % / 15 % targets shaded; each table's median and max |error| on the right.

data = {"tables": [{"key": "megatron_sc21_table1", "unit": "TFLOP/s", "errors": [-0.1, 0.05, ...],
                    "target_median": 0.07, "target_max": 0.15, "median_abs_error": 0.061,
                    "max_abs_error": 0.101, "meets": True}, ...],
        "rows": 582, "median_abs_error": 0.043, "max_abs_error": 2.87}
(built by explorer.validate.plot_data). Errors beyond +-LIMIT are drawn as arrows at the edge with their value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LIMIT = 40.0  # percent: the x-axis runs -LIMIT..+LIMIT; rows beyond it are arrows with their value written
_JITTER = (0.0, 0.18, -0.18, 0.09, -0.09, 0.27, -0.27)  # deterministic vertical spread: byte-stable PNGs


def draw(data: dict, report: Any) -> Figure:
    tables = data.get("tables") or []
    if not tables:
        return style.no_data(report, "validation", "no throughput table validated")
    fig, ax = style.new_figure(8.0, 1.9 + 0.3 * len(tables))
    n = len(tables)
    t_med = max(t["target_median"] for t in tables) * 100
    t_max = max(t["target_max"] for t in tables) * 100
    ax.axvspan(-t_med, t_med, color=style.GREEN, alpha=0.10, lw=0, zorder=0)
    for x in (-t_max, t_max):
        ax.axvline(x, color=style.GREY, lw=1, ls="--", zorder=1)
    ax.axvline(0, color=style.BLACK, lw=0.8, zorder=1)
    for i, t in enumerate(tables):
        y = n - 1 - i
        for j, e in enumerate(t["errors"]):
            pct = 100 * e
            yy = y + _JITTER[j % len(_JITTER)]
            colour = style.BLUE if abs(e) <= t["target_max"] else style.VERMILION
            if abs(pct) <= LIMIT:
                ax.plot([pct], [yy], "o", ms=4, color=colour, alpha=0.75, mew=0, zorder=3)
            else:
                edge = LIMIT - 1.2 if pct > 0 else 1.2 - LIMIT  # inside the frame, clear of the right-hand labels
                ax.plot([edge], [yy], ">" if pct > 0 else "<", ms=6, color=colour, zorder=3)
        far = [100 * e for e in t["errors"] if abs(100 * e) > LIMIT]
        if far:
            worst = max(far, key=abs)
            ax.annotate(f"{len(far)} beyond, to {worst:+.0f}%", (LIMIT if worst > 0 else -LIMIT, y),
                        textcoords="offset points", xytext=(-14 if worst > 0 else 14, 7),
                        ha="right" if worst > 0 else "left", fontsize=7, color=style.VERMILION)
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{t['key']} ({t['unit']}, {len(t['errors'])})" for t in reversed(tables)], fontsize=7.5)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(range(n))
    right.set_yticklabels([f"{100 * t['median_abs_error']:.1f} / {100 * t['max_abs_error']:.1f}%"
                           + ("" if t["meets"] else " miss") for t in reversed(tables)], fontsize=7.5)
    right.spines["right"].set_visible(False)
    right.grid(False)
    for lab, t in zip(right.get_yticklabels(), reversed(tables), strict=True):
        lab.set_color(style.BLACK if t["meets"] else style.VERMILION)
    right.set_ylabel("median / max |error|", fontsize=8)
    ax.set_xlabel("(predicted - published) / published, % (in a table of times, + is slower); "
                  f"shaded +-{t_med:.0f}%, dashed +-{t_max:.0f}%", fontsize=8)
    head = "Cost model vs published runs, out of sample"
    if data.get("rows"):
        head += (f": {data['rows']} runs, median {100 * data['median_abs_error']:.1f}%, "
                 f"max {100 * data['max_abs_error']:.0f}%")
    ax.set_title(head, fontsize=10)
    return fig
