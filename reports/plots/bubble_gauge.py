"""Pipeline bubble gauge: the bubble fraction (p - 1) / (v m + p - 1) of the chosen plan on a dial,
with the 10% rule and the crisis configuration marked.

data = {"bubble_fraction": 0.05, "limit": 0.10, "crisis_bubble_fraction": 0.304, "p": 4, "m": 64, "v": 1}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _angle(x: float, top: float) -> float:
    """Dial angle in degrees: 180 at 0, 0 at `top`."""
    return 180.0 * (1.0 - min(max(x, 0.0), top) / top)


def draw(data: dict, report: Any) -> Figure:
    if data.get("bubble_fraction") is None:
        return style.no_data(report, "bubble gauge", "no bubble fraction in this report")
    from matplotlib.patches import Wedge

    b = float(data["bubble_fraction"])
    limit = float(data.get("limit") or 0.10)
    crisis = data.get("crisis_bubble_fraction")
    top = max(0.4, 1.15 * max(b, limit, float(crisis or 0.0)))
    top = math.ceil(top * 10) / 10
    fig, ax = style.new_figure(6.4, 4.2)
    ax.grid(False)
    ax.set_aspect("equal")
    ax.axis("off")
    r_out, r_in = 1.0, 0.68
    ax.add_patch(Wedge((0, 0), r_out, _angle(limit, top), 180, width=r_out - r_in, fc="#b7e4c7", ec="white"))
    ax.add_patch(Wedge((0, 0), r_out, 0, _angle(limit, top), width=r_out - r_in, fc="#f4b6a6", ec="white"))
    step = 0.05 if top <= 0.5 else 0.1
    k = 0
    while k * step <= top + 1e-9:
        x = k * step
        a = math.radians(_angle(x, top))
        ax.plot([r_out * math.cos(a), 1.04 * r_out * math.cos(a)], [r_out * math.sin(a), 1.04 * r_out * math.sin(a)],
                color=style.GREY, lw=1)
        ax.text(1.13 * math.cos(a), 1.13 * math.sin(a), f"{100 * x:.0f}%", ha="center", va="center", fontsize=8)
        k += 1
    a = math.radians(_angle(limit, top))
    ax.plot([r_in * math.cos(a), r_out * math.cos(a)], [r_in * math.sin(a), r_out * math.sin(a)], color="black", lw=2)
    ax.text(0.55 * math.cos(a), 0.55 * math.sin(a), f"limit\n{100 * limit:.0f}%", ha="center", va="center",
            fontsize=8)
    if crisis is not None:
        a = math.radians(_angle(float(crisis), top))
        ax.plot([0.62 * math.cos(a), r_out * math.cos(a)], [0.62 * math.sin(a), r_out * math.sin(a)],
                color=style.VERMILION, lw=2, ls="--")
        # the label sits inside the dial beside its mark, moved aside when the needle or the limit's label points
        # within 15 degrees of it (the lab's first move shows the crisis plan itself: needle and mark at 30.4%)
        mark, taken = _angle(float(crisis), top), (_angle(b, top), _angle(limit, top))
        label = next((c for c in (mark, mark + 15, mark - 15, mark + 30, mark - 30, mark + 45, mark - 45)
                      if 10.0 <= c <= 170.0 and all(abs(c - t) >= 15.0 for t in taken)), mark)
        la = math.radians(label)
        ax.text(0.45 * math.cos(la), 0.45 * math.sin(la), f"crisis\n{100 * float(crisis):.1f}%", ha="center",
                va="center", fontsize=8, color=style.VERMILION)
    a = math.radians(_angle(b, top))
    colour = style.GOOD if b <= limit + 1e-12 else style.BAD
    ax.annotate("", xy=(0.93 * math.cos(a), 0.93 * math.sin(a)), xytext=(0, 0),
                arrowprops={"arrowstyle": "-|>", "lw": 2.5, "color": colour, "mutation_scale": 18})
    ax.add_patch(Wedge((0, 0), 0.06, 0, 360, fc="black"))
    p, m, v = data.get("p"), data.get("m"), data.get("v", 1)
    formula = ""
    if p is not None and m is not None:
        formula = f"(p - 1) / (v m + p - 1) = ({p} - 1) / ({v}x{m} + {p} - 1) = "
    ax.text(0, -0.2, f"{formula}{100 * b:.1f}% of the schedule idle", ha="center", va="center", fontsize=10,
            color=colour, fontweight="bold")
    verdict = "within" if b <= limit + 1e-12 else "over"
    ax.text(0, -0.36, f"{verdict} the {100 * limit:.0f}% bubble rule", ha="center", va="center", fontsize=9)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-0.45, 1.25)
    # a figure title, not the axes': constrained layout keeps no room above an equal-aspect axes that is off,
    # so the axes title was cut at the figure's top edge
    style.title(fig, report, "Pipeline bubble fraction")
    return fig
