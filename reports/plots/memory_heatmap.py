"""Parallelism memory heatmap: memory per GPU over TP x PP, the usable-HBM limit marked.

data = {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, ...], "memory_gb": [[per pp row, per tp column; None where
the shape is invalid]], "limit_gb": 72.0, "chosen": {"tp": 8, "pp": 4}}; optional "virtual_stages" (the grid of
each cell's v, shown in the cell where the grid has v > 1 anywhere) and "note" (printed under the plot).
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw(data: dict, report: Any) -> Figure:
    tp, pp, mem = data.get("tp") or [], data.get("pp") or [], data.get("memory_gb") or []
    if not tp or not pp or not mem:
        return style.no_data(report, "memory heatmap", "no memory grid in this report")
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    limit = float(data.get("limit_gb") or 0.0)
    grid = np.array([[math.nan if v is None else float(v) for v in row] for row in mem], dtype=float)
    # show the numbers in the unit that fits the device (GB for GPUs, kB for a microcontroller; SI, as units.py)
    unit, scale = next(((u, f) for u, f in (("GB", 1.0), ("MB", 1e3), ("kB", 1e6)) if limit * f >= 1.0),
                       ("kB", 1e6))
    limit, grid = limit * scale, grid * scale
    valid = ~np.isnan(grid)
    fig, ax = style.new_figure(max(6.0, 3.0 + 0.95 * len(tp)), max(3.2, 1.4 + 0.55 * len(pp)))
    ax.grid(False)
    finite = grid[valid]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    lo, hi = min(lo, limit * 0.5), max(hi, limit * 1.5)
    norm = TwoSlopeNorm(vmin=lo, vcenter=limit, vmax=hi) if lo < limit < hi else None
    masked = np.ma.masked_invalid(grid)
    import matplotlib

    cmap = matplotlib.colormaps["RdYlGn_r"].with_extremes(bad="#d9d9d9")
    im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", origin="lower")
    vs = data.get("virtual_stages") or []
    show_v = any((x or 1) > 1 for row in vs for x in row)
    chosen = data.get("chosen") or {}
    chosen_at = (pp.index(chosen["pp"]), tp.index(chosen["tp"])) \
        if chosen.get("tp") in tp and chosen.get("pp") in pp else None
    for i in range(len(pp)):
        for j in range(len(tp)):
            v = grid[i, j]
            if math.isnan(v):
                ax.text(j, i, "invalid", ha="center", va="center", fontsize=8, color=style.GREY)
                continue
            fits = v <= limit
            here = chosen_at == (i, j)
            cell_v = vs[i][j] if show_v and i < len(vs) and j < len(vs[i]) else None
            label = human_number(v) + (f" v={cell_v}" if cell_v else "") + \
                ("" if fits else "\nover") + ("\n(chosen)" if here else "")
            ax.text(j, i, label, ha="center",
                    va="center", fontsize=8.5, color="black", fontweight="normal" if fits and not here else "bold")
    if chosen_at is not None:
        from matplotlib.patches import Rectangle

        i, j = chosen_at
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=3, ec=style.BLUE))
    ax.set_xticks(range(len(tp)), [str(t) for t in tp])
    ax.set_yticks(range(len(pp)), [str(p) for p in pp])
    ax.set_xlabel("tensor-parallel degree TP (devices per group)")
    ax.set_ylabel("pipeline-parallel degree PP (stages)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    cb = fig.colorbar(im, ax=ax, shrink=0.9)
    word = data.get("device_word") or "GPU"
    cb.set_label(f"memory per {word} ({unit})")
    if norm is not None:
        cb.ax.axhline(limit, color="black", lw=2)
        cb.ax.text(-0.15, limit, f"limit {human_number(limit)} {unit} ", transform=cb.ax.get_yaxis_transform(),
                   ha="right", va="center", fontsize=8)
    note = str(data.get("note") or "")
    if note:  # how the cells were built (which v each uses): part of the layout, so never clipped
        width_chars = int(fig.get_figwidth() * 15)
        fig.supxlabel("\n".join(textwrap.wrap(note, width_chars)), fontsize=8, ha="left", x=0.01, color="#333333")
    style.title(ax, report, f"Memory per {word} over TP x PP, limit {human_number(limit)} {unit}")
    return fig
