"""Figures of a `solve 3d` sweep: MFU and cost per million tokens vs cluster size, one panel per model,
one line per GPU type (and any other input that varies), each curve's knee marked (explorer/sweep/knee.py).
No physics: only the rows the sweep computed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_PANELS = 12
MAX_LINES = 12
FIGURES = ("mfu_vs_gpus.png", "cost_vs_gpus.png")


def _curves(frame: Any, knees: Any) -> tuple[list[str], list[str]]:
    """Panel column (model or params) and the other inputs that vary (the line labels)."""
    from explorer.sweep.grid import INPUTS

    panel = "model" if frame["model"].notna().any() else "params"
    varying = [c for c in INPUTS["3d"] if c in frame and c not in ("gpus", panel)
               and frame[c].nunique(dropna=False) > 1]
    return [panel], varying


def sweep_figures(frame: Any, knees: Any, out_dir: Path) -> list[Path]:
    """mfu_vs_gpus.png and cost_vs_gpus.png in out_dir; returns their paths. None when no point has a plan (all
    infeasible, refused or unanswered): an empty set of axes would read as a figure of nothing."""
    from explorer.reports.plots import figure_png
    from explorer.reports.plots.style import new_figure

    ok = frame[frame["status"].isin(["optimal", "feasible"])]
    if ok.empty:
        return []
    # 'feasible' rows are the best plan CP-SAT found before its time limit, not a proven optimum: when any is
    # drawn, the label says so and those points are hollow
    unproven = bool((ok["status"] != "optimal").any())
    (panel,), varying = _curves(frame, knees)
    if "gpu" not in varying:
        varying = ["gpu", *varying]
    panels = list(dict.fromkeys(ok[panel].tolist()))[:MAX_PANELS]
    files = []
    mfu_label = ("MFU of the best plan found (%);\nunproven points hollow" if unproven else
                 "MFU of the proven optimum (%)")
    cost_label = ("USD per million tokens, best plan found;\nunproven points hollow" if unproven else
                  "USD per million tokens")
    for metric, ylabel, name in (("mfu", mfu_label, FIGURES[0]), ("usd_per_million_tokens", cost_label, FIGURES[1])):
        if ok[metric].isna().all():  # e.g. no price for any GPU drawn: no figure rather than empty axes
            continue
        cols = min(3, max(1, len(panels)))
        rows = max(1, -(-len(panels) // cols))
        fig, axes = new_figure(4.2 * cols, 3.3 * rows, nrows=rows, ncols=cols, squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        for ax, pv in zip(axes.flat, panels):
            sub = ok[ok[panel] == pv]
            for i, (label, g) in enumerate(sub.groupby(varying, dropna=False, sort=False)):
                if i >= MAX_LINES:
                    break
                g = g.sort_values("gpus")
                y = g[metric] * (100 if metric == "mfu" else 1)
                text = ", ".join(str(v) for v in (label if isinstance(label, tuple) else (label,)) if v == v)
                (line,) = ax.plot(g["gpus"], y, marker="o", markersize=3, label=text)
                weak = (g["status"] != "optimal").to_numpy()
                if weak.any():  # hollow: the best plan found, not proven optimal
                    ax.plot(g["gpus"][weak], y[weak], marker="o", markersize=6, linestyle="none",
                            markerfacecolor="white", markeredgecolor=line.get_color())
                k = _knee_of(knees, panel, pv, dict(zip(varying, label if isinstance(label, tuple) else (label,))))
                if k is not None and (g["gpus"] == k).any():
                    ax.plot([k], y[g["gpus"] == k].iloc[:1], marker="*", markersize=12, color=line.get_color(),
                            linestyle="none")
            ax.set_xscale("log", base=2)
            sizes = sorted(sub["gpus"].unique())
            ax.set_xticks(sizes, [f"{int(n):,}" for n in sizes], fontsize=7, rotation=45 if len(sizes) > 6 else 0)
            ax.minorticks_off()
            ax.set_ylim(bottom=0)  # honest scale: a 3-point drop in MFU is not drawn as a cliff
            ax.set_title(str(pv), fontsize=9)
            ax.set_xlabel("GPUs")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.legend(fontsize=7, title="star = knee" + (" (unproven where hollow)" if unproven else ""),
                      title_fontsize=7)
        path = out_dir / name
        path.write_bytes(figure_png(fig))
        files.append(path)
    return files


def _knee_of(knees: Any, panel: str, pv: Any, vals: dict) -> Any:
    if knees is None or knees.empty or "knee_gpus" not in knees:
        return None
    m = knees[panel] == pv
    for c, v in vals.items():
        if c in knees:
            m &= (knees[c] == v) if v == v else knees[c].isna()
    hit = knees[m]
    if hit.empty or hit["knee_gpus"].isna().all():
        return None
    return int(hit["knee_gpus"].dropna().iloc[0])
