"""AllReduce time vs message size (log-log) for ring, tree, halving-doubling and the double binary
tree, with the ring/tree crossover M* marked (lab 06 part 1).

data = {"message_bytes": [...], "times_s": {alg: [...]}, "labels": {alg: label}, "crossover_bytes": M*,
        "scenario_message_bytes": M, "n": N, "alpha_s": a, "bandwidth_bps": B}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_duration

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def draw(data: dict, report: Any) -> Figure:
    if not data.get("message_bytes") or not data.get("times_s"):
        return style.no_data(report, "crossover", "no AllReduce times in this report")
    fig, ax = style.new_figure(7.4, 4.6)
    x = data["message_bytes"]
    labels = data.get("labels", {})
    for i, (alg, ys) in enumerate(data["times_s"].items()):
        ax.loglog(x, ys, color=style.PALETTE[i % len(style.PALETTE)], lw=2 if alg in ("ring", "tree") else 1.4,
                  ls="-" if alg in ("ring", "tree") else "--", label=labels.get(alg, alg))
    m_star = data.get("crossover_bytes") or 0.0
    if m_star > 0:
        # the vertical lines are named in the legend: labels written along them crossed the curves
        ax.axvline(m_star, color=style.BLACK, lw=1, ls=":", label=f"crossover M* = {style.human_bytes(m_star)}")
    m = data.get("scenario_message_bytes")
    if m:
        ax.axvline(m, color=style.GREY, lw=1, ls="-.", label=f"scenario M = {style.human_bytes(m)}")
    ax.set_xlabel("message size M (bytes)")
    ax.set_ylabel("AllReduce time (s)")
    n, a, b = data.get("n"), data.get("alpha_s"), data.get("bandwidth_bps")
    # the scenario heads the legend (as free text in a corner it ran into the M* label)
    scenario = f"N = {n}, alpha = {human_duration(a)}, B = {style.human_bytes(b)}/s" if n and a and b else None
    ax.legend(loc="upper left", fontsize=8, title=scenario, title_fontsize=8)
    style.title(ax, report, "Ring vs tree AllReduce")
    return fig
