"""Parallelism memory heatmap: memory per GPU over TP x PP, the usable-HBM limit marked.

data = {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, ...], "memory_gb": [[per pp row, per tp column; None where
the shape is invalid]], "limit_gb": 72.0, "chosen": {"tp": 8, "pp": 4}}
"""

from __future__ import annotations

import math
from typing import Any

from reports.plots import style


def draw(data: dict, report: Any):
    tp, pp, mem = data.get("tp") or [], data.get("pp") or [], data.get("memory_gb") or []
    if not tp or not pp or not mem:
        return style.no_data(report, "memory heatmap", "no memory grid in this report")
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    limit = float(data.get("limit_gb") or 0.0)
    grid = np.array([[math.nan if v is None else float(v) for v in row] for row in mem], dtype=float)
    valid = ~np.isnan(grid)
    fig, ax = style.new_figure(1.6 + 0.95 * len(tp) + 1.4, 1.4 + 0.55 * len(pp))
    ax.grid(False)
    finite = grid[valid]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    lo, hi = min(lo, limit * 0.5), max(hi, limit * 1.5)
    norm = TwoSlopeNorm(vmin=lo, vcenter=limit, vmax=hi) if lo < limit < hi else None
    masked = np.ma.masked_invalid(grid)
    import matplotlib

    cmap = matplotlib.colormaps["RdYlGn_r"].copy()
    cmap.set_bad("#d9d9d9")
    im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", origin="lower")
    for i in range(len(pp)):
        for j in range(len(tp)):
            v = grid[i, j]
            if math.isnan(v):
                ax.text(j, i, "invalid", ha="center", va="center", fontsize=8, color=style.GREY)
                continue
            fits = v <= limit
            ax.text(j, i, f"{v:.3g}" + ("" if fits else "\nover"), ha="center", va="center", fontsize=8.5,
                    color="black", fontweight="normal" if fits else "bold")
    chosen = data.get("chosen") or {}
    if chosen.get("tp") in tp and chosen.get("pp") in pp:
        from matplotlib.patches import Rectangle

        j, i = tp.index(chosen["tp"]), pp.index(chosen["pp"])
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=3, ec=style.BLUE))
        ax.annotate("chosen", (j, i + 0.5), xytext=(0, 2), textcoords="offset points", ha="center",
                    va="bottom", fontsize=8, color=style.BLUE, fontweight="bold", annotation_clip=False)
    ax.set_xticks(range(len(tp)), [str(t) for t in tp])
    ax.set_yticks(range(len(pp)), [str(p) for p in pp])
    ax.set_xlabel("tensor-parallel degree TP")
    ax.set_ylabel("pipeline-parallel degree PP")
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    cb = fig.colorbar(im, ax=ax, shrink=0.9)
    cb.set_label("memory per GPU (GB)")
    if norm is not None:
        cb.ax.axhline(limit, color="black", lw=2)
        cb.ax.text(-0.15, limit, f"limit {limit:.3g} GB ", transform=cb.ax.get_yaxis_transform(),
                   ha="right", va="center", fontsize=8)
    style.title(ax, report, f"Memory per GPU over TP x PP (usable HBM {limit:.3g} GB)")
    return fig
