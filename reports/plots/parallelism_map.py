"""3D parallelism map: how the model is sliced over GPUs, nodes, racks and pods.

data = {"tp": 8, "pp": 4, "dp": 32, "cp": 1, "devices": 1024, "devices_per_node": 8, "nodes_per_rack": 4,
        "racks_per_pod": 8, "layers": 80}

Ranks follow the cost model's placement order (tensor fastest, then context, data, pipeline outermost:
TP, CP, DP, PP, as Megatron-LM, DeepSpeed and torchtitan build their groups; explorer/cost/sharding.py
dp_comm), so rank r sits on node r // devices_per_node and serves pipeline stage r // (tp cp dp);
data-parallel replica 0 is the first TP x CP group of every stage. Each cell is one device (or one node on very large
clusters), coloured by the pipeline stage (the slice of layers) it holds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from explorer.reports.plots import style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_CELLS = 4096  # above this, one cell per node instead of per device
MAX_PODS_SHOWN = 4  # above this, a coarse map: one cell per node, rack or pod, no boxes
MAX_COARSE_CELLS = 1200


def _stage_layers(stage: int, pp: int, layers: int | None) -> str:
    if not layers:
        return f"stage {stage}"
    lo, hi = stage * layers // pp, (stage + 1) * layers // pp - 1
    return f"stage {stage}: layers {lo}-{hi}"


def _stage(rank: int, tp: int, cp: int, pp: int, dp: int) -> int:
    """Pipeline stage of a rank under the TP, CP, DP, PP placement."""
    return min(rank // max(1, tp * cp * dp), max(0, pp - 1))


def draw(data: dict, report: Any) -> Figure:
    try:
        tp, pp, dp = int(data["tp"]), int(data["pp"]), int(data["dp"])
    except (KeyError, TypeError, ValueError):
        return style.no_data(report, "parallelism map", "no parallel plan in this report")
    from matplotlib.patches import Patch, Rectangle

    cp = int(data.get("cp") or 1)
    devices = int(data.get("devices") or tp * pp * dp * cp)
    dpn = max(1, int(data.get("devices_per_node") or 1))
    npr = max(1, int(data.get("nodes_per_rack") or 1))
    rpp = max(1, int(data.get("racks_per_pod") or 1))
    layers = data.get("layers")
    nodes = math.ceil(devices / dpn)
    per_node_cells = devices > MAX_CELLS  # aggregate to one cell per node
    cell_w = 1 if per_node_cells else dpn  # cells per node row
    pod_devices = dpn * npr * rpp
    pods = math.ceil(devices / pod_devices)
    racks = math.ceil(nodes / npr)
    shown_pods = min(pods, MAX_PODS_SHOWN)

    if pp <= 8:
        colours = [style.PALETTE[i % len(style.PALETTE)] for i in range(pp)]
    else:
        import matplotlib

        cmap = matplotlib.colormaps["viridis"]
        colours = [cmap(i / max(1, pp - 1)) for i in range(pp)]

    word = str(data.get("device_word") or "GPU")
    if pods > MAX_PODS_SHOWN:
        return _coarse(report, data, tp, cp, pp, dp, devices, dpn, npr, rpp, colours, word)

    rack_cols = min(rpp, 8)
    rack_rows_per_pod = math.ceil(rpp / rack_cols)
    rack_w, rack_h = cell_w + 1.0, npr + 1.4
    pod_w, pod_h = rack_cols * rack_w, rack_rows_per_pod * rack_h + 1.2
    pod_cols = max(1, min(shown_pods, int(36 // (pod_w + 1))))
    pod_rows = math.ceil(shown_pods / pod_cols)
    data_w = pod_cols * (pod_w + 1) - 0.2
    data_h = pod_rows * pod_h + 0.4
    width_in = min(11.0, max(7.0, 0.16 * data_w + 2.6))
    scale = min((width_in - 2.6) / data_w, 0.3)  # inches per cell
    height_in = min(14.0, max(2.6, data_h * scale + 1.3))
    fig, ax = style.new_figure(width_in, height_in)
    ax.grid(False)
    ax.axis("off")
    ax.set_aspect("equal")

    for pod in range(shown_pods):
        px, py = (pod % pod_cols) * (pod_w + 1), -(pod // pod_cols) * pod_h
        ax.text(px, py + 0.2, f"pod {pod}", fontsize=9, fontweight="bold", va="bottom")
        for rk in range(rpp):
            rack = pod * rpp + rk
            if rack >= racks:
                break
            rx = px + (rk % rack_cols) * rack_w
            ry = py - 0.4 - (rk // rack_cols) * rack_h
            ax.add_patch(Rectangle((rx - 0.2, ry - npr - 0.2), cell_w + 0.4, npr + 0.4, fill=False,
                                   ec=style.GREY, lw=0.8, ls=":"))
            for nd in range(npr):
                node = rack * npr + nd
                if node >= nodes:
                    break
                y = ry - nd - 1
                for c in range(cell_w):
                    rank = node * dpn + (0 if per_node_cells else c)
                    if rank >= devices:
                        break
                    stage = _stage(rank, tp, cp, pp, dp)
                    ax.add_patch(Rectangle((rx + c, y), 1, 1, fc=colours[stage], ec="white", lw=0.4))
                    if not per_node_cells and (rank // max(1, tp * cp)) % max(1, dp) == 0:  # DP replica 0
                        ax.add_patch(Rectangle((rx + c + 0.12, y + 0.12), 0.76, 0.76, fill=False, ec="black",
                                               lw=1.2))
                ax.add_patch(Rectangle((rx, y), cell_w, 1, fill=False, ec="black", lw=0.6))
    ax.set_xlim(-0.6, data_w)
    ax.set_ylim(-pod_rows * pod_h - 0.2, 1.2)

    handles = _stage_handles(pp, layers, colours)
    if not per_node_cells:
        handles.append(Patch(fc="white", ec="black", lw=1.2, label=f"DP replica 0 ({tp * cp * pp} GPUs)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              title="pipeline stage", title_fontsize=8)
    unit = "node" if per_node_cells else word
    def where(size: int) -> str:
        return "inside a node" if size <= dpn else f"across {math.ceil(size / dpn)} nodes"

    groups = f"TP group {where(tp)}" + (f", TP x CP group {where(tp * cp)}" if cp > 1 else "")
    summary = (f"TP={tp} x CP={cp} x PP={pp} x DP={dp} = {tp * cp * pp * dp} {word}s; {nodes} nodes of {dpn}, "
               f"{racks} racks of {npr} nodes, {pods} pod{'s' if pods != 1 else ''} of {rpp} racks. "
               f"{groups}. Cell = one {unit}, row = node, dotted box = rack.")
    fig.text(0.01, 0.005, summary, fontsize=8, va="bottom", ha="left", wrap=True)
    style.title(ax, report, f"How the model is sliced over {word}s, nodes, racks and pods")
    return fig


def _stage_handles(pp: int, layers: Any, colours: list) -> list:
    from matplotlib.patches import Patch

    stages = list(range(pp)) if pp <= 8 else [0, pp // 2, pp - 1]
    return [Patch(fc=colours[s], label=_stage_layers(s, pp, layers)) for s in stages]


def _coarse(report: Any, data: dict, tp: int, cp: int, pp: int, dp: int, devices: int, dpn: int, npr: int,
            rpp: int, colours: list, word: str) -> Figure:
    """Large clusters: one cell per node, rack or pod (the finest that fits), coloured by the pipeline stage
    of its first device, in rank order."""
    from matplotlib.patches import Rectangle

    per_stage = tp * cp * dp
    for unit, size in (("node", dpn), ("rack", dpn * npr), ("pod", dpn * npr * rpp)):
        units = math.ceil(devices / size)
        if units <= MAX_COARSE_CELLS and (unit != "node" or dpn > 1):
            break
    cols = min(units, 50 if units > 400 else 32 if units > 64 else 16)
    rows = math.ceil(units / cols)
    width_in = 9.5
    cell_in = min(0.35, (width_in - 2.8) / cols)
    fig, ax = style.new_figure(width_in, max(2.4, rows * cell_in + 1.5))
    ax.grid(False)
    ax.axis("off")
    ax.set_aspect("equal")
    mixed = 0
    for u in range(units):
        first, last = u * size, min(devices, (u + 1) * size) - 1
        s0 = _stage(first, tp, cp, pp, dp)
        mixed += _stage(last, tp, cp, pp, dp) != s0  # the unit holds more than one stage
        r, c = divmod(u, cols)
        ax.add_patch(Rectangle((c, -r - 1), 1, 1, fc=colours[s0], ec="white", lw=0.3))
    ax.set_xlim(-0.2, cols + 0.2)
    ax.set_ylim(-rows - 0.2, 0.2)
    ax.legend(handles=_stage_handles(pp, data.get("layers"), colours), loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize=8, title="pipeline stage", title_fontsize=8)
    pods = math.ceil(devices / (dpn * npr * rpp))
    note = f" {mixed} {unit}s hold several stages (coloured by the first)." if mixed else ""
    summary = (f"TP={tp} x CP={cp} x PP={pp} x DP={dp} = {tp * cp * pp * dp} {word}s on {math.ceil(devices / dpn)} "
               f"nodes of {dpn}, {math.ceil(devices / (dpn * npr))} racks, {pods} pods of {rpp} racks. "
               f"Cell = one {unit} ({size} {word}s), rank order row by row (TP, CP, DP, PP); a "
               f"pipeline stage holds {per_stage} {word}s in total.{note}")
    fig.text(0.01, 0.005, summary, fontsize=8, va="bottom", ha="left", wrap=True)
    style.title(ax, report, f"How the model is sliced over {word}s, nodes, racks and pods")
    return fig
