"""Attempts beside the optimum: the objective of each attempt in order, feasible or not, the optimum as a
line and the lab's attempt limit marked.

data = {"objective_name", "objective_label", "objective_unit", "sense", "optimum", "max_attempts",
        "attempts": [{"number", "objective", "feasible", "error", "on_frontier"}, ...]}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

from explorer.units import human_sci

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw(data: dict, report: Any) -> Figure:
    rows = data.get("attempts") or []
    if not rows:
        return style.no_data(report, "attempts", "no attempts graded")
    name = data.get("objective_name") or "objective"
    # the grader's unit for the objective (reports.attempts); an older saved report: the report's own figure
    unit = data.get("objective_unit") or next((f.unit for k, f in report.figures.items() if name in (k, f.label)), "")
    factor = 100.0 if unit == "fraction" else 1.0
    pct = "%" if unit == "fraction" else ""
    name = data.get("objective_label") or name
    fig, ax = style.new_figure(7.0, 4.0)
    good = [(r["number"], r["objective"] * factor) for r in rows if not r.get("error") and r.get("feasible")
            and r.get("objective") is not None]
    bad = [(r["number"], r["objective"] * factor) for r in rows if not r.get("error") and not r.get("feasible")
           and r.get("objective") is not None]
    errs = [r["number"] for r in rows if r.get("error")]
    if good:
        ax.plot(*zip(*sorted(good)), marker="o", color=style.GOOD, ls="-", lw=1, label="feasible attempt")
    if bad:
        ax.scatter(*zip(*bad), marker="X", s=70, color=style.VERMILION, label="infeasible attempt", zorder=3)
    opt = data.get("optimum")
    if opt is not None:
        ax.axhline(opt * factor, color=style.BLUE, ls="--", lw=1.5, label=f"optimum {human_sci(opt * factor, 4)}{pct}")
    for n in errs:
        ax.axvline(n, color=style.GREY, ls=":", lw=1)
    if errs:
        ax.plot([], [], color=style.GREY, ls=":", label="malformed row")
    limit = data.get("max_attempts")
    if limit:
        ax.axvspan(limit + 0.5, max(limit + 1, len(rows)) + 0.5, color=style.LIGHT, alpha=0.8,
                   label=f"past the lab's {limit}-attempt limit" if len(rows) > limit else None)
        ax.set_xlim(0.5, max(limit, len(rows)) + 0.5)
    ax.set_xticks(range(1, max(len(rows), limit or 0) + 1))
    ax.set_xlabel("attempt number")
    ax.set_ylabel(f"{name}" + (" (%)" if unit == "fraction" else f" ({unit})" if unit else ""))
    ax.legend(loc="best")
    goal = f"{data.get('sense', 'max')}imise {name}"
    # a long objective name goes on a second line so the title fits the figure's width
    style.title(ax, report, f"Attempts beside the optimum ({goal})" if len(goal) < 40 else
                f"Attempts beside the optimum\n({goal})")
    return fig
