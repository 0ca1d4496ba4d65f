"""Communication waterfall: each configuration's AllReduce as stacked phases (intra-tier reduce,
inter-tier AllReduce, intra-tier gather), as horizontal bars, one panel per scenario so that a
much slower what-if does not flatten today's bars (lab 06 part 2).

data = {"configs": [{"label": str, "panel": str, "phases": {"intra_reduce": s, "inter": s,
                     "intra_gather": s}}, ...], "phase_labels": {phase: label}}
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_duration as dur

if TYPE_CHECKING:
    from matplotlib.figure import Figure


ORDER = ("intra_reduce", "inter", "intra_gather")




def draw(data: dict, report: Any) -> Figure:
    configs = data.get("configs") or []
    if not configs:
        return style.no_data(report, "comm waterfall", "no phases in this report")
    labels = data.get("phase_labels", {})
    colours = {"intra_reduce": style.SKY, "inter": style.VERMILION, "intra_gather": style.BLUE}
    panels = list(dict.fromkeys(c.get("panel", "") for c in configs))
    fig, axes = style.new_figure(8.0, 1.6 + 1.0 * len(configs), nrows=len(panels), ncols=1, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        rows = [c for c in configs if c.get("panel", "") == panel][::-1]
        totals = []
        for row, c in enumerate(rows):
            left = 0.0
            for ph in ORDER:
                w = float(c["phases"].get(ph, 0.0))
                ax.barh(row, w, left=left, color=colours[ph], edgecolor="white", height=0.6)
                left += w
            totals.append(left)
        top = max(totals) or 1.0
        for row, t in enumerate(totals):
            ax.text(t + 0.01 * top, row, dur(t), va="center", fontsize=8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(["\n".join(textwrap.wrap(c["label"], 28)) for c in rows], fontsize=8)
        ax.set_xlim(0, top * 1.2)
        ax.set_xlabel("time per AllReduce (s)")
        if panel:
            ax.set_title(panel, fontsize=9, fontweight="normal", loc="left")
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color=colours[p], label=labels.get(p, p)) for p in ORDER], loc="outside lower center",
               ncol=3, fontsize=8)
    track = getattr(report, "track", "")
    fig.suptitle(f"Communication waterfall (intra vs inter tier){f'  [{track}]' if track else ''}",
                 fontweight="bold")
    return fig
