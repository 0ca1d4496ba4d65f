"""The optimal frontier: the first maximised objective against the first minimised one (e.g. tokens/s
against GPU count), coloured by a third objective (e.g. memory headroom), with the student's attempts
overlaid; a second panel shows the trade-off against the third objective.

data = {"objectives": [{"key", "sense", "label", "unit"}, ...], "points": [{key: value, ..., "status"}, ...],
        "attempts": [{"label": "1", key: value, ..., "on_frontier": bool}, ...], "proven": bool}

A frontier is labelled optimal only when every solve was proven ("proven", else the report's status): a point
whose status is not "optimal" (CP-SAT stopped at its time limit) is drawn as a diamond and named "best found,
not proven", and the "% of the best" panel says its best is the best found, not a proven optimum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_sci

if TYPE_CHECKING:
    from matplotlib.figure import Figure


PROVEN_LABEL = "frontier point (proven optimal)"
UNPROVEN_LABEL = "frontier point (best found, not proven)"


def point_status(point: dict, data: dict, report: Any) -> str:
    """A frontier point's status: its own when it has one, else the frontier's ("optimal" only when every solve
    was proven: data["proven"], or for a report saved without it, the report's status)."""
    if point.get("status") in ("optimal", "feasible"):
        return point["status"]
    proven = data.get("proven")
    if proven is None:
        proven = str(getattr(report, "status", "")).lower() == "optimal"
    return "optimal" if proven else "feasible"


def _scale(unit: str) -> tuple[float, str]:
    if unit == "B":
        return 1e-9, "GB"
    if unit == "fraction":
        return 100.0, "%"
    return 1.0, unit


def _axis_label(o: dict) -> str:
    f, u = _scale(o.get("unit", ""))
    return f"{o['label']}" + (f" ({u})" if u and u not in o["label"] else "")


def draw(data: dict, report: Any) -> Figure:
    objs = data.get("objectives") or []
    pts = data.get("points") or []
    if len(objs) < 2 or not pts:
        return style.no_data(report, "frontier", "no frontier points in this report")
    mins = [o for o in objs if o["sense"] == "min"]
    maxs = [o for o in objs if o["sense"] == "max"]
    xo = mins[0] if mins else objs[1]
    yo = maxs[0] if maxs else objs[0]
    rest = [o for o in objs if o is not xo and o is not yo]
    co = rest[0] if rest else None
    attempts = data.get("attempts") or []
    ncols = 2 if co else 1
    fig, axes = style.new_figure(6.0 * ncols + 0.6, 4.6, ncols=ncols)
    axes = list(axes) if ncols > 1 else [axes]
    xs_f, xu = _scale(xo.get("unit", ""))
    ys_f, yu = _scale(yo.get("unit", ""))
    ax = axes[0]
    import matplotlib
    from matplotlib.ticker import FuncFormatter

    cmap = matplotlib.colormaps["viridis"]
    cvals = [p[co["key"]] for p in pts] if co else None
    cf = _scale(co.get("unit", ""))[0] if co else 1.0
    if co:
        lo, hi = min(cvals), max(cvals)
        pad = 0.0 if hi > lo else abs(lo * cf) * 0.05 or 1.0  # one value: a band around it, not 1 byte wide
        norm = matplotlib.colors.Normalize(vmin=lo * cf - pad, vmax=hi * cf + pad)
    x = [p[xo["key"]] * xs_f for p in pts]
    y = [p[yo["key"]] * ys_f for p in pts]
    statuses = [point_status(p, data, report) for p in pts]
    proven = all(s == "optimal" for s in statuses)
    sc = None
    for want, marker, size, label in ((True, "o", 46, PROVEN_LABEL), (False, "D", 40, UNPROVEN_LABEL)):
        idx = [i for i, s in enumerate(statuses) if (s == "optimal") == want]
        if not idx:
            continue
        drawn = ax.scatter([x[i] for i in idx], [y[i] for i in idx],
                           c=[cvals[i] * cf for i in idx] if co else style.BLUE, cmap=cmap if co else None,
                           norm=norm if co else None, s=size, marker=marker, edgecolor="black", linewidth=0.5,
                           zorder=3, label=label)
        sc = sc or drawn
    # The 2-objective staircase: best y for each x, ignoring the third objective.
    best: dict[float, float] = {}
    for xi, yi in zip(x, y):
        best[xi] = max(best.get(xi, yi), yi) if yo["sense"] == "max" else min(best.get(xi, yi), yi)
    sx = sorted(best)
    ax.plot(sx, [best[v] for v in sx], color=style.GREY, lw=1, zorder=2)
    if len(set(x)) > 2 and min(x) > 0 and max(x) / min(x) >= 16:
        ax.set_xscale("log", base=2)
        ax.set_xticks(sx, [human_sci(v) for v in sx])
        ax.minorticks_off()
    for a in attempts:
        if xo["key"] in a and yo["key"] in a:
            if a.get("feasible") is False:
                ax.scatter([a[xo["key"]] * xs_f], [a[yo["key"]] * ys_f], marker="x", s=60, zorder=4,
                           color=style.GREY, linewidth=1.5)
            elif a.get("on_frontier") is None:  # at a GPU count the frontier was not solved at: hollow, grey
                ax.scatter([a[xo["key"]] * xs_f], [a[yo["key"]] * ys_f], marker="X", s=80, zorder=4,
                           facecolor="none", edgecolor=style.GREY, linewidth=1.0)
            else:
                ax.scatter([a[xo["key"]] * xs_f], [a[yo["key"]] * ys_f], marker="X", s=80, zorder=4,
                           color=style.GOOD if a.get("on_frontier") else style.VERMILION, edgecolor="black",
                           linewidth=0.5)
            ax.annotate(str(a.get("label", "")), (a[xo["key"]] * xs_f, a[yo["key"]] * ys_f), xytext=(5, 4),
                        textcoords="offset points", fontsize=8)
    if "usd_per_million_tokens" in pts[0]:  # dollars: the cost of a token at each GPU count's best point
        for xv in sx:
            p = max((p for p in pts if p[xo["key"]] * xs_f == xv), key=lambda p: p[yo["key"]])
            ax.annotate(f"${p['usd_per_million_tokens']:.2f}/Mtok", (xv, best[xv]), xytext=(-4, 7),
                        textcoords="offset points", fontsize=7.5, ha="right", color=style.GREY)
    ax.set_xlabel(_axis_label(xo))
    ax.set_ylabel(_axis_label(yo))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: style.human_count(v)))
    ax.set_title(f"{yo['label']} vs {xo['label']}" + ("" if proven else "\n(best found, not proven optimal)"))
    if co:
        cb = fig.colorbar(sc, ax=ax, pad=0.01)
        cb.set_label(_axis_label(co))
        ax2 = axes[1]
        c_f = cf
        groups: dict[float, list[dict]] = {}
        for p in pts:
            groups.setdefault(p[xo["key"]], []).append(p)
        # Relative to the best of each group, so that the price of headroom reads the same at every scale.
        group_best = {gx: max(abs(p[yo["key"]]) for p in grp) or 1.0 for gx, grp in groups.items()}
        for i, (gx, grp) in enumerate(sorted(groups.items())):
            grp = sorted(grp, key=lambda p: p[co["key"]])
            colour = style.PALETTE[i % len(style.PALETTE)]
            ax2.plot([p[co["key"]] * c_f for p in grp], [100 * p[yo["key"]] / group_best[gx] for p in grp],
                     marker="o", color=colour, label=f"{human_sci(gx * xs_f)} {xu or xo['label']}".strip(), ms=5)
        for a in attempts:  # feasible ones only: an infeasible attempt has no place on this trade-off
            gb = group_best.get(a.get(xo["key"]))
            if co["key"] in a and yo["key"] in a and gb and a.get("feasible") is not False:
                ax2.scatter([a[co["key"]] * c_f], [100 * a[yo["key"]] / gb], marker="X", s=80, zorder=4,
                            color=style.GOOD if a.get("on_frontier") else style.VERMILION, edgecolor="black",
                            linewidth=0.5)
                ax2.annotate(str(a.get("label", "")), (a[co["key"]] * c_f, 100 * a[yo["key"]] / gb),
                             xytext=(5, 4), textcoords="offset points", fontsize=8)
        ax2.set_xlabel(_axis_label(co))
        short = yo["label"].split(" (")[0]
        ax2.set_ylabel(f"{short}, % of the best at that {xo['label']} count" if proven else
                       f"{short}, % of the best found (not proven)\nat that {xo['label']} count")
        ax2.set_title(f"{short} given up for {co['label']}")
        if len(groups) <= 12:
            ax2.legend(fontsize=7, ncols=2 if len(groups) > 6 else 1, loc="best")
    if attempts or not proven:  # an unproven frontier always says so in its legend
        from matplotlib.lines import Line2D

        frontier_handles = [Line2D([], [], marker=m, ls="", color=style.BLUE, label=label)
                            for want, m, label in ((True, "o", "frontier (optimal)"),
                                                   (False, "D", "frontier (best found, not proven)"))
                            if any((s == "optimal") == want for s in statuses)]
        on_label = "attempt on frontier" if proven else "attempt on the frontier found"
        ax.legend(handles=[*frontier_handles,
                           *([Line2D([], [], marker="X", ls="", color=style.GOOD, label=on_label),
                              Line2D([], [], marker="X", ls="", color=style.VERMILION, label="attempt dominated"),
                              Line2D([], [], marker="x", ls="", color=style.GREY, label="attempt infeasible")]
                             if attempts else []),
                           *([Line2D([], [], marker="X", ls="", markerfacecolor="none", color=style.GREY,
                                     label="attempt not compared (GPU count not solved)")]
                             if any(a.get("on_frontier") is None and a.get("feasible") is not False
                                    for a in attempts) else [])],
                  loc="best", fontsize=8)
    fig.suptitle(f"{report.title}  [{report.track}]", fontweight="bold")
    return fig
