"""Communication-to-compute ratio and MFU against the global batch, with the critical batch marked.

data = {"global_batch": [...], "comm_to_compute": [...], "mfu": [...], "network_utilisation": [...],
        "critical_batch": B, "target_mfu": 0.4, "headroom": 0.95, "chosen_batch": B}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def draw(data: dict, report: Any) -> Figure:
    b, r = data.get("global_batch") or [], data.get("comm_to_compute") or []
    if not b or not r:
        return style.no_data(report, "comm ratio", "no batch sweep in this report")
    fig, ax = style.new_figure(7.0, 4.2)
    ax.loglog(b, r, color=style.BLUE, marker="o", ms=3, label="communication / compute time")
    ax.set_xlabel("global batch (samples)")
    ax.set_ylabel("communication / compute (ratio)", color=style.BLUE)
    if data.get("critical_batch"):
        ax.axvline(float(data["critical_batch"]), color=style.VERMILION, ls="--", lw=1.2,
                   label=f"critical batch {data['critical_batch']:,}")
    if data.get("chosen_batch"):
        ax.axvline(float(data["chosen_batch"]), color=style.GREEN, ls=":", lw=1.5, label="answer")
    ax2 = ax.twinx()
    ax2.plot(b, [100 * m for m in data.get("mfu") or []], color=style.ORANGE, label="MFU")
    if data.get("target_mfu"):
        ax2.axhline(100 * float(data["target_mfu"]), color=style.ORANGE, ls="--", lw=1)
    ax2.set_ylabel("MFU (%)", color=style.ORANGE)
    ax2.spines["right"].set_visible(True)
    ax2.grid(False)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="best")
    style.title(ax, report, "Scaling wall: communication vs compute")
    return fig
