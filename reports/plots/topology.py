"""Topology: the contact graph of a gossip network (tiny track) or the two-tier groups of a
hierarchical AllReduce (lab 06 part 2). Layout comes from the report; nothing is computed here.

data = {"kind": "contact" | "tiers", "positions": [[x, y], ...], "edges": [[i, j], ...],
        "edge_tiers": ["intra" | "inter", ...] (tiers only), "caption": str}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def draw(data: dict, report: Any) -> Figure:
    pos = data.get("positions") or []
    if not pos:
        return style.no_data(report, "topology", "no layout in this report")
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    fig, ax = style.new_figure(6.2, 6.0)
    ax.grid(False)
    ax.set_aspect("equal")
    edges = data.get("edges") or []
    tiers = data.get("edge_tiers") or ["link"] * len(edges)
    colours = {"intra": style.SKY, "inter": style.VERMILION, "link": style.GREY}
    widths = {"intra": 2.0, "inter": 1.4, "link": 0.8}
    handles = []
    for tier in dict.fromkeys(tiers):
        segs = [[pos[i], pos[j]] for (i, j), t in zip(edges, tiers) if t == tier]
        ax.add_collection(LineCollection(segs, colors=colours.get(tier, style.GREY), linewidths=widths.get(tier, 1),
                                         zorder=1))
        name = {"intra": "intra tier", "inter": "inter tier", "link": "radio contact"}.get(tier, tier)
        handles.append(Line2D([], [], color=colours.get(tier, style.GREY), lw=widths.get(tier, 1), label=name))
    xs, ys = [p[0] for p in pos], [p[1] for p in pos]
    ax.scatter(xs, ys, s=28, color=style.BLUE, zorder=2, edgecolors="white", linewidths=0.6)
    pad = 0.08 * max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_xticks([])
    ax.set_yticks([])
    if data.get("kind") == "contact":
        ax.set_xlabel("position (unit square, arbitrary units)")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=len(handles))
    for side in ax.spines.values():
        side.set_visible(False)
    if data.get("caption"):
        import textwrap

        ax.set_title("\n".join(textwrap.wrap(data["caption"], 70)), fontsize=9, fontweight="normal")
    track = getattr(report, "track", "")
    fig.suptitle(f"Topology  [{track}]" if track else "Topology", fontweight="bold")
    return fig
