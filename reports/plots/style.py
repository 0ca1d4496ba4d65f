"""Shared look of every figure: one palette, one font size, one way to make and finish a figure.

Every plot module calls `new_figure` and `finish` so that all figures read alike and nothing is
clipped (constrained layout); matplotlib is imported inside the functions (Agg backend).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.units import human_bytes_3, human_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design").
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW, BLACK = PALETTE
GREY = "#7f7f7f"
LIGHT = "#e8e8e8"
GOOD, BAD, WARN = GREEN, VERMILION, ORANGE

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": LIGHT,
    "grid.linewidth": 0.8,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.dpi": 100,
    "svg.hashsalt": "explorer",
}

DPI = 110


def use_agg() -> None:
    """Select the non-interactive Agg backend (idempotent, before pyplot is ever imported)."""
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)


def new_figure(width: float = 7.0, height: float = 4.2, **subplots: Any) -> tuple[Figure, Any]:
    """A Figure with constrained layout and the house style; returns (fig, ax) like plt.subplots."""
    use_agg()
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(**subplots) if subplots else fig.add_subplot()
    _apply_rc(fig)
    return fig, axes


def _apply_rc(fig: Figure) -> None:
    """rc_context only affects artists created inside it; style the axes explicitly as well."""
    for ax in fig.axes:
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(True, color=LIGHT, linewidth=0.8)
        ax.set_axisbelow(True)


def title(fig_or_ax: Any, report: Any, text: str) -> None:
    """Title with the track, so a figure cut out of a report still says what it shows."""
    track = getattr(report, "track", "")
    suffix = f"  [{track}]" if track else ""
    if hasattr(fig_or_ax, "suptitle"):  # a Figure: its own title, for which constrained layout keeps room
        fig_or_ax.suptitle(f"{text}{suffix}")
    else:
        fig_or_ax.set_title(f"{text}{suffix}")


def human_bytes(v: float) -> str:
    """Bytes for a figure label: three significant digits."""
    return human_bytes_3(v)


def human_count(v: float) -> str:
    v = float(v)
    for scale, name in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{human_number(v / scale)}{name}"
    return human_number(v)


def no_data(report: Any, name: str, why: str) -> Figure:
    """A small placeholder figure for a plot whose data is missing (a report never crashes on it)."""
    fig, ax = new_figure(6.0, 1.6)
    ax.axis("off")
    ax.text(0.5, 0.5, f"{name}: {why}", ha="center", va="center", wrap=True, color=GREY)
    return fig
