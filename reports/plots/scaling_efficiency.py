"""Scaling wall: throughput (samples/s) vs accelerator count per fabric against the ideal line, with the
diminishing-returns point marked; scaling efficiency S(N)/N beside it.

data = {"threshold": 0.5, "device_word": "GPU", "sample_word": "sequence", "n_max": 1024, "n_from": 8, "n_to": 64,
        "fabrics": {"ib_ndr": {"label": ..., "n": [...], "samples_per_s": [...], "ideal_samples_per_s": [...],
                               "efficiency": [...], "n_diminishing": 8, "n_sustained": 291, ...}},
        optional "yours": {"fabric": "ib_ndr", "n": 16, "samples_per_s": 40.5, "efficiency": 1.006}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_sci

if TYPE_CHECKING:
    from matplotlib.figure import Figure



def _mark(ax, n_list: list, y_list: list, n: int | None, colour: str, marker: str, text: str) -> Any:
    """Mark the point at N on a curve; its meaning goes into the legend (labels written beside the points
    overlapped each other and the curves when two fabrics turn at the same N)."""
    if n is None or n not in n_list:
        return None
    y = y_list[n_list.index(n)]
    return ax.plot([n], [y], marker=marker, ms=8, mfc="white", mec=colour, mew=2, ls="none", zorder=5,
                   label=text)[0]


def draw(data: dict, report: Any) -> Figure:
    fabrics = data.get("fabrics") or {}
    if not fabrics:
        return style.no_data(report, "scaling efficiency", "no curves in this report")
    fig, (ax, ax2) = style.new_figure(11.0, 4.6, ncols=2)
    sw = data.get("sample_word", "sample")
    dw = data.get("device_word", "device")
    thr = data.get("threshold", 0.5)
    ideal_drawn = False
    marks = []
    n_top = max(max(c["n"]) for c in fabrics.values())
    for i, (key, c) in enumerate(fabrics.items()):
        colour = style.PALETTE[i % len(style.PALETTE)]
        n, x = c["n"], c["samples_per_s"]
        if not ideal_drawn:
            ax.plot(n, c["ideal_samples_per_s"], ls="--", color=style.GREY, lw=1.2, label="ideal N x X(1)")
            ideal_drawn = True
        ax.plot(n, x, color=colour, lw=2, label=c.get("label", key))
        ax2.plot(n, c["efficiency"], color=colour, lw=2, label=c.get("label", key))
        nd, ns = c.get("n_diminishing"), c.get("n_sustained")
        short = c.get("label", key).split(" (")[0]
        marks.append(_mark(ax, n, x, nd, colour, "o", f"{short}: from N={nd:,}, +1 {dw} adds <{human_sci(thr)}x"
                           if nd is not None else ""))
        if ns is not None and ns != nd:
            marks.append(_mark(ax, n, x, ns, colour, "s", f"{short}: from N={ns:,}, below {human_sci(thr)}x for good"))
    yours = data.get("yours") or {}
    if yours.get("n") and yours.get("samples_per_s"):  # a lab workbench's move, on the same (log) axes
        n, y = yours["n"], yours["samples_per_s"]
        ax.plot([n], [y], marker="D", ms=8, color=style.BLACK, ls="none", zorder=6, label=f"your point: N={n:,}")
        if yours.get("efficiency") is not None:
            ax2.plot([n], [yours["efficiency"]], marker="D", ms=8, color=style.BLACK, ls="none", zorder=6)
    for a in (ax, ax2):
        a.set_xscale("log")
        a.set_xlabel(f"accelerators N ({dw}s, log scale)")
        for n0 in (data.get("n_from"), data.get("n_to")):
            if n0:
                a.axvline(n0, color=style.LIGHT, lw=1.5, zorder=0)
    n_max = data.get("n_max")
    if n_max and n_max < n_top:
        for a in (ax, ax2):
            a.axvline(n_max, color=style.GREY, lw=1, ls=":")
        ax2.annotate(f"track: {n_max:,} {dw}s", (n_max, 0.05), textcoords="offset points", xytext=(-4, 0),
                     ha="right", fontsize=8, color=style.GREY)
    ax.set_yscale("log")
    ax.set_ylabel(f"throughput ({sw}s/s, log scale)")
    lines = ax.legend(handles=[h for h in ax.get_lines() if not h.get_label().startswith("_") and h not in marks],
                      loc="upper left")
    shown = [m for m in marks if m is not None]
    if shown:  # what each marked point means, away from the curves (lower right is below the ideal line)
        ax.add_artist(lines)
        ax.legend(handles=shown, loc="lower right", fontsize=7.5, title="diminishing returns",
                  title_fontsize=8)
    ax2.set_ylabel("scaling efficiency S(N)/N (fraction)")
    ax2.set_ylim(0, 1.1)
    style.title(ax, report, "Throughput vs accelerators")
    style.title(ax2, report, "Scaling efficiency")
    return fig
