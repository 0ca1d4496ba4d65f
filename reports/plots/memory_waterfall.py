"""Training-memory waterfall: stacked bytes per device by term for each configuration, limit marked.

data = {"terms": [...], "limit": bytes, "configs": [{"label": str, "bytes": {term: bytes}}], "unit": "B"}

The axis is linear: on a log axis the height of a stacked segment means nothing (and a term below the
axis floor vanishes). When the largest configuration dwarfs the usable memory, one axis cannot show both the
configurations near the limit and the whole of the tall ones: the bars are then drawn in two panels that meet
at SPLIT x the limit, each linear, the lower one from 0 to the split (the limit readable), the upper one from
the split to the tallest total (every term of a tall bar visible, the largest included, and its total written
on it). The change of scale is marked on the axis and said beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SPLIT = 4.0  # the lower panel stops (and the upper one starts) at 4 x the usable memory when some bar is far taller


def _scale(v: float) -> tuple[float, str]:
    return next(((s, u) for s, u in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")) if v >= s), (1.0, "B"))


def _bars(ax: Any, configs: list[dict], terms: list[str], scale: float, legend: bool) -> None:
    x = list(range(len(configs)))
    bottom = [0.0] * len(configs)
    for i, term in enumerate(terms):
        vals = [c["bytes"].get(term, 0) / scale for c in configs]
        ax.bar(x, vals, bottom=bottom, color=style.PALETTE[i % len(style.PALETTE)], label=term if legend else None,
               width=0.7)
        bottom = [b + v for b, v in zip(bottom, vals)]


def draw(data: dict, report: Any) -> Figure:
    configs, terms = data.get("configs") or [], data.get("terms") or []
    if not configs or not terms:
        return style.no_data(report, "memory waterfall", "no memory breakdown in this report")
    limit = float(data.get("limit") or 0)
    totals = [sum(c["bytes"].get(t, 0) for t in terms) for c in configs]
    top = max(totals + [limit])
    split = SPLIT * limit if limit and max(totals) > 2 * SPLIT * limit else None
    width = max(6.5, 0.55 * len(configs) + 2.5)
    x = list(range(len(configs)))
    if split is None:
        fig, lo = style.new_figure(width, 4.6)
        hi = None
    else:
        fig, (hi, lo) = style.new_figure(width, 6.2, nrows=2, sharex=True, gridspec_kw={"height_ratios": [1.2, 1]})
    lo_scale, lo_unit = _scale(split or top)
    _bars(lo, configs, terms, lo_scale, legend=hi is None)
    if limit:
        lo.axhline(limit / lo_scale, color="black", ls="--", lw=1.2)
        lo.text(len(configs) - 0.5, limit / lo_scale, f" usable {style.human_bytes(limit)}", va="bottom",
                ha="right", fontsize=8)
    lo.set_ylabel(f"memory per device ({lo_unit})")
    if hi is None:
        lo.set_ylim(0, top / lo_scale * 1.08)
        lead = lo
    else:
        lo.set_ylim(0, split / lo_scale)
        hi_scale, hi_unit = _scale(top)
        _bars(hi, configs, terms, hi_scale, legend=True)
        hi.set_ylim(split / hi_scale, top / hi_scale * 1.1)
        hi.set_ylabel(f"memory per device ({hi_unit})")
        for xi, t in zip(x, totals):
            if t > split:  # a tall bar: its total written above it
                hi.text(xi, t / hi_scale, style.human_bytes(t), ha="center", va="bottom", fontsize=7)
        # the change of scale: slanted marks on both panels' left spine where they meet
        hi.spines["bottom"].set_visible(False)
        hi.tick_params(axis="x", which="both", bottom=False)
        mark = {"marker": [(-1, -0.5), (1, 0.5)], "markersize": 10, "linestyle": "none", "color": "k",
                "mec": "k", "mew": 1, "clip_on": False}
        hi.plot([0], [0], transform=hi.transAxes, **mark)
        lo.plot([0], [1], transform=lo.transAxes, **mark)
        at = f"{human_number(split / lo_scale)} {lo_unit}"
        lo.text(1.02, 0.0, f"the axis changes scale\nat {at}: below,\n0-{at}; above,\nup to the tallest bar",
                transform=lo.transAxes, fontsize=8, va="bottom", ha="left", color=style.GREY)
        lead = hi
    lo.set_xticks(x)
    lo.set_xticklabels([c["label"] for c in configs], rotation=45, ha="right", fontsize=8)
    lo.set_xlabel("configuration")
    lead.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    style.title(lead, report, "Training memory waterfall")
    return fig
