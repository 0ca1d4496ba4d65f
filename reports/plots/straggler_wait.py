"""Straggler wait: the expected slowest step E[max of n] (order statistics) against the mean step, as the
synchronous group grows; the replica size and the fleet size marked, with the Monte Carlo check.

data = {"n": [...], "expected_max": [...], "mean": 6.46, "nodes": 1024, "group": 64, "device_word": "GPU",
        "straggler_fraction": 0.05, "slowdown": 1.5, "t0": 6.18, "monte_carlo": {"n": 1024, "mean": ..., "se": ...}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_percent, human_sci

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def draw(data: dict, report: Any) -> Figure:
    n, e = data.get("n") or [], data.get("expected_max") or []
    if not n:
        return style.no_data(report, "straggler wait", "no order statistics in this report")
    dw = data.get("device_word", "device")
    fig, ax = style.new_figure(7.0, 4.2)
    ax.plot(n, e, color=style.BLUE, lw=2, label="E[max of n] (order statistics)")
    ax.axhline(data["mean"], color=style.GREY, ls="--", lw=1.2, label="E[T] of one device (what averaging assumes)")
    if data.get("t0"):
        ax.axhline(data["t0"], color=style.LIGHT, lw=1.2)
    mc = data.get("monte_carlo") or {}
    if mc.get("mean") is not None:
        ax.errorbar([mc["n"]], [mc["mean"]], yerr=[2 * mc.get("se", 0.0)], fmt="o", color=style.VERMILION,
                    ms=6, label="Monte Carlo (seeded, +-2 SE)")
    for k, text in ((data.get("group"), "replica"), (data.get("nodes"), "fleet")):
        if k and k > 1:
            ax.axvline(k, color=style.GREY, lw=1, ls=":")
            ax.annotate(f"{text}: {k:,}", (k, data["mean"]), textcoords="offset points", xytext=(-4, 6),
                        ha="right", fontsize=8, color=style.GREY)
    ax.set_xscale("log")
    ax.set_xlabel(f"devices that must all finish (n, {dw}s)")
    ax.set_ylabel("step time (s)")
    p, s = data.get("straggler_fraction"), data.get("slowdown")
    ax.legend(loc="upper left")
    style.title(ax, report, f"Waiting for the slowest ({human_percent(p)} stragglers at {human_sci(s)}x)"
                if p is not None else "Waiting for the slowest")
    return fig
