"""A single self-contained HTML page per Report: inline CSS, plots as base64 PNG data URIs, no scripts,
no network access needed to view it."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from explorer.units import plural

# Every rule is scoped to .explorer-report, so the same styles serve the page and the fragment a notebook shows
# without touching the notebook's own look. The report is a light card with its own background and an explicit
# colour on every kind of text it holds: in a dark notebook (VS Code, JupyterLab, marimo) the host's light text
# colour (inherited, or set on headings and tables by its own stylesheet: JupyterLab's odd table rows, marimo's
# prose headings) would otherwise meet the report's dark text or its light fills, and headings, answers and odd rows
# were near-invisible (#1b1b1b on #1e1e1e: contrast 1.1:1). A host's row stripes and hover colour are overridden
# (the cells' own fills are translucent, over the report's white). Checked in headless Chromium inside dark host
# pages by tests/test_html_a11y_dark.py.
# Wide tables scroll inside their box (.table-wrap), with a shadow at each edge that has more to scroll to (CSS
# scroll shadows: 'local' white covers over 'scroll' shadows, so a table that fits shows none); text cells wrap at a
# readable measure, so the page itself never scrolls sideways (checked at 390 and 1,280 px in headless Chromium by
# tests/test_reports_browser.py). On a phone (640 px and narrower) a table of three or more columns (class 'cards'
# on its box) shows each row as a card, every cell on its own line after its column's name (data-label), so no
# column is off-screen (the Constraints table's state, the optimum's MFU, step and memory were, behind a sideways
# scroll with no hint); a two-column table (the Figures) stays a table, its label column wrapping at 35% of the
# screen. The answer key's index (class 'stack') has cards of its own: part, puzzle, track and status on a line or
# two, the answer below. Plots shrink to the column on a wide screen and keep their natural size in a box that
# scrolls sideways on a phone (.plot-wrap), with a caption that says so.
# The status badges take the darker shades of their Okabe-Ito hues, so their white text reads at 4.5:1 or more
# (white on #E69F00 was 2.2:1).
# Each kind of text element the report holds, as '.explorer-report h1,...' (specificity 0,1,1: above a host's
# '.prose :where(h1)' or 'h1' alone; the report's own classes, .meta or .BINDING, above it).
_TEXT = ",".join(f".explorer-report {t}" for t in ("h1", "h2", "h3", "h4", "p", "dl", "dt", "dd", "ul", "ol", "li",
                                                     "table", "th", "td", "b", "strong", "em", "summary",
                                                     "figcaption", "caption", "code"))
CSS = """
.explorer-report{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1000px;margin:0 auto;
color:#1b1b1b;background:#fff;color-scheme:light;padding:.4em .9em .8em;border-radius:4px;line-height:1.45;
overflow-wrap:break-word;text-align:left}
TEXT{color:#1b1b1b;background-color:transparent}
.explorer-report h1{font-size:1.5em;margin-bottom:.2em}
.explorer-report h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.explorer-report .meta{color:#555;margin-top:0}
.explorer-report .headline{font-size:1.1em;background:#f3f7fb;border-left:4px solid #0072B2;padding:.6em .9em}
.explorer-report .badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-size:.85em;font-weight:600;
color:#fff}
.explorer-report .optimal{background:#009E73}.explorer-report .feasible{background:#E69F00}
.explorer-report .infeasible{background:#D55E00}.explorer-report .computed{background:#0072B2}
.explorer-report .badge.optimal{background:#00734f}.explorer-report .badge.feasible{background:#8a5a00}
.explorer-report .badge.infeasible{background:#b03000}
.explorer-report .table-wrap{max-width:100%;overflow-x:auto;margin:.5em 0 1em;
background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)) left center/40px 100% no-repeat local,
linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) right center/40px 100% no-repeat local,
radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.3),rgba(0,0,0,0)) left center/14px 100% no-repeat scroll,
radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.3),rgba(0,0,0,0)) right center/14px 100% no-repeat scroll}
.explorer-report table{border-collapse:collapse;font-size:.92em;width:max-content;max-width:none;margin:0;
table-layout:auto}
.explorer-report .table-wrap thead tr,.explorer-report .table-wrap tbody tr:nth-child(n){background:transparent}
.explorer-report th,.explorer-report td{border:1px solid #d0d0d0;padding:.3em .6em;text-align:left;
vertical-align:top;max-width:26em;background:transparent}
.explorer-report th{background:rgba(0,0,0,.05)}
.explorer-report td.num,.explorer-report th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.explorer-report tr:nth-child(even) td{background:rgba(0,0,0,.02)}
.explorer-report .VIOLATED,.explorer-report .bad,.explorer-report .NO,.explorer-report .ERROR,.explorer-report .no{
color:#b03000;font-weight:600}
.explorer-report .BINDING{color:#8a5a00;font-weight:600}
.explorer-report .ok,.explorer-report .good,.explorer-report .yes{color:#00734f}
.explorer-report dt{font-weight:600;margin-top:.6em}.explorer-report dd{margin-left:1.2em}
.explorer-report figure{margin:1em 0}
.explorer-report figure img{max-width:100%;height:auto;border:1px solid #eee;box-sizing:border-box}
.explorer-report .plot-wrap{max-width:100%;overflow-x:auto}
.explorer-report .plot-hint{display:none}
@media (max-width:640px){.explorer-report .plot-wrap img{max-width:none}
.explorer-report .plot-hint{display:inline}
.explorer-report td:first-child,.explorer-report th:first-child{max-width:35vw}
.explorer-report .cards table,.explorer-report .cards tbody,.explorer-report .cards tr,.explorer-report .cards td,
.explorer-report table.stack,.explorer-report table.stack tbody,.explorer-report table.stack tr,
.explorer-report table.stack td{display:block;width:auto;max-width:none}
.explorer-report .cards thead,
.explorer-report table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.explorer-report .cards tr{border:1px solid #d0d0d0;margin:0 0 .6em}
.explorer-report .cards td,.explorer-report .cards td.num{border:none;border-top:1px solid #eee;padding:.2em .6em;
text-align:left;white-space:normal}
.explorer-report .cards td:first-child{border-top:none;background:rgba(0,0,0,.05);font-weight:600}
.explorer-report .cards td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#555}
.explorer-report table.stack tr{border:1px solid #d0d0d0;margin:0 0 .7em}
.explorer-report table.stack td{border:none;border-bottom:1px solid #eee;padding:.15em .6em;background:none}
.explorer-report table.stack td:not(:last-child){display:inline-block;border:none;padding-right:.6em}
.explorer-report table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#555}
.explorer-report table.stack td[data-label=answer]::before{display:block}}
.explorer-report summary{cursor:pointer}
.explorer-report figcaption{color:#444;font-size:.9em}
.explorer-report code{background:#f4f4f4;padding:.05em .3em;border-radius:.2em;overflow-wrap:anywhere}
.explorer-report a{color:#0057a3}
.explorer-report .src{color:#595959;font-size:.88em}.explorer-report .note{color:#a04000;font-size:.9em}
.explorer-report .err{color:#b03000}.explorer-report .legend{color:#555;font-size:.9em;margin-top:-.5em}
.explorer-report .warn{background:#fdecea;border-left:4px solid #D55E00;padding:.5em .9em;font-weight:600}
""".replace("TEXT", _TEXT)
PAGE_CSS = "body{margin:2em auto;padding:0 1em;background:#fff}main.explorer-report{padding:0}"


VERDICT_COLUMNS = ("feasible", "state", "on frontier", "status")


def table_html(columns: list[str], rows: list[list[Any]], classes: dict[int, str] | None = None,
               formats: list[str] | None = None) -> str:
    """An HTML table in a box that scrolls sideways when the table is wider than the page; numeric columns
    right-aligned (the first, label column stays left); classes: column index -> css class from cell text;
    formats: each column's number format (Table.formats). Every cell carries its column's name (data-label): a
    table of three or more columns becomes cards on a phone (class 'cards' on its box, CSS above), each cell on its
    own line after that name."""
    from explorer.reports.render import cell, column_formats
    from explorer.reports.text import numeric_columns

    fmts = column_formats(formats, len(columns))
    numeric = numeric_columns(columns, rows, fmts)
    head = "".join(f"<th{' class=num' if num else ''}>{escape(str(c))}</th>" for c, num in zip(columns, numeric))
    if classes is None:  # verdict columns get coloured by their value
        classes = {i: "verdict" for i, c in enumerate(columns) if str(c) in VERDICT_COLUMNS}
    labels = [escape(str(c), quote=True) for c in columns]
    body = []
    for r in rows:
        tds = []
        for i, v in enumerate(r):
            text = cell(v, fmts[i] if i < len(fmts) else "")
            cls = []
            if i < len(numeric) and numeric[i]:
                cls.append("num")
            if classes and i in classes:
                cls.append(escape(text.split()[0] if text.split() else ""))
            attr = f" class='{' '.join(cls)}'" if cls else ""
            label = f" data-label='{labels[i]}'" if i < len(labels) else ""
            tds.append(f"<td{attr}{label}>{escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    box = "table-wrap cards" if len(columns) >= 3 else "table-wrap"
    return (f"<div class='{box}'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f"</table></div>")


def png_size(png: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels from a PNG's IHDR chunk (PNG spec, ISO/IEC 15948 sec. 11.2.2: the
    8-byte signature, then IHDR's length and type, then width and height as 4-byte big-endian integers)."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def img_tag(png: bytes, alt: str) -> str:
    """The plot inline, with its pixel size: on a wide screen it shrinks to the column (max-width:100%); on a
    phone it keeps that natural size inside its scrolling box (.plot-wrap), so its labels stay readable
    instead of shrinking with a 1,400 px figure to a quarter of their size."""
    size = png_size(png)
    dims = f" width='{size[0]}' height='{size[1]}'" if size else ""
    return f"<img alt='{escape(alt)}'{dims} src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


def figure_html(png: bytes, name: str, report: Any = None) -> str:
    """A plot in a box that scrolls sideways on a narrow screen, captioned with its title, its alt text the
    reading of what it shows in this report (plot_text)."""
    title, alt = plot_text(name, report)
    return (f"<figure><div class='plot-wrap'>{img_tag(png, alt)}</div><figcaption>{escape(title)}"
            f"<span class='plot-hint'> (at full size: scroll sideways)</span></figcaption></figure>")


# A human title for each plot (its caption), as the figure's own title says it without the track.
PLOT_TITLES = {
    "attempts": "Attempts beside the optimum",
    "bubble_gauge": "Pipeline bubble",
    "comm_ratio": "Communication against compute as the global batch grows",
    "comm_waterfall": "Communication waterfall: each AllReduce phase by tier",
    "convergence": "Training loss by compression scheme",
    "crossover": "Ring against tree AllReduce by message size",
    "fleet_tradeoff": "Time to the target by sync period and aggregation path",
    "frontier": "The optimal frontier",
    "memory_heatmap": "Memory per device over tensor and pipeline parallelism",
    "memory_waterfall": "Training memory per device by term",
    "parallelism_map": "How the model is sliced over the devices",
    "scaling_efficiency": "Throughput and scaling efficiency against accelerators",
    "straggler_wait": "Waiting for the slowest",
    "topology": "Topology",
    "utilisation_gauge": "Input pipeline: each stage's utilisation",
    "validation": "Accuracy against published runs",
}


def plot_text(name: str, report: Any = None) -> tuple[str, str]:
    """(title, alt text) of a report's plot: the title names the picture; the alt text says what kind of picture it
    is and what it reads in this report (the numbers a sighted reader takes from it), from the data the plot is
    drawn from. A plot without a reading here, or whose data does not have the expected shape, is described by
    its module's own first sentence (reports/plots/<name>.py), never by its program name alone."""
    data = report.data.get(name) if report is not None and isinstance(getattr(report, "data", None), dict) else None
    data = data if isinstance(data, dict) else {}
    title = PLOT_TITLES.get(name) or _module_title(name)
    if name == "convergence" and data.get("kind") == "gossip":
        title = "Gossip consensus error by round"
    if name == "topology":
        title = ("Contact graph of the gossip network" if data.get("kind") == "contact" else
                 "Two-tier groups of the hierarchical AllReduce" if data.get("kind") == "tiers" else title)
    reading = ""
    fn = _READINGS.get(name)
    if fn is not None and data:
        try:
            reading = fn(data, report)
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
            reading = ""
    if not reading:
        reading = _module_sentence(name) or title
    track = getattr(report, "track", "") if report is not None else ""
    return title, f"{reading}{f' [{track} track]' if track else ''}"


def _module_doc(name: str) -> str:
    try:
        from explorer.reports.plots import load

        doc = load(name).__doc__ or ""
    except Exception:  # an unknown or broken plot module: its name stands in
        return ""
    return " ".join(doc.split("data =")[0].split())


def _module_title(name: str) -> str:
    head = _module_doc(name).split(":")[0]
    return head if head and len(head) < 60 else name.replace("_", " ").capitalize()


def _module_sentence(name: str) -> str:
    doc = _module_doc(name)
    return doc.split(". ")[0].rstrip(".") + "." if doc else ""


def _v(value: Any, unit: str = "") -> str:
    """A number as the report's tables write it (fmt_value); anything else is data of an unexpected shape
    (TypeError: the plot is then described by its module's sentence)."""
    from explorer.reports.format import fmt_value

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return fmt_value(value, unit)


def _n(x: Any) -> str:
    """A number as prose writes it, three significant digits, never a computer's exponent (human_sci: 6,560, not
    6.56e+03, which a screen reader reads as 'six point five six e plus zero three'); not a number: a TypeError
    (the plot is then described by its module's sentence)."""
    from explorer.units import human_sci

    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"not a number: {x!r}")
    return human_sci(x, 3)


def _r_parallelism_map(d: dict, report: Any) -> str:
    word = d.get("device_word") or "device"
    split = f"tensor parallel {d['tp']} x pipeline parallel {d['pp']} x data parallel {d['dp']}"
    if (d.get("cp") or 1) > 1:
        split += f" x context parallel {d['cp']}"
    layers = f"; {d['layers']} layers in {d['pp']} pipeline stages" if d.get("layers") else ""
    return (f"Grid of {d['devices']:,} {word}s ({d.get('devices_per_node', '?')} per node), each coloured by the "
            f"pipeline stage it holds: {split}{layers}.")


def _r_memory_heatmap(d: dict, report: Any) -> str:
    word = d.get("device_word") or "device"
    grid, limit = d["memory_gb"], float(d["limit_gb"])
    cells = [(tp, pp, m) for pp, row in zip(d["pp"], grid) for tp, m in zip(d["tp"], row) if m is not None]
    fit = sum(1 for *_, m in cells if m <= limit)
    text = (f"Heatmap of memory per {word} in GB, tensor parallel {', '.join(map(str, d['tp']))} across and "
            f"pipeline parallel {', '.join(map(str, d['pp']))} down, against a limit of {_n(limit)} GB: {fit} of "
            f"{len(cells)} shapes fit.")
    chosen = d.get("chosen") or {}
    got = next((m for tp, pp, m in cells if tp == chosen.get("tp") and pp == chosen.get("pp")), None)
    if got is not None:
        text += f" The chosen TP={chosen['tp']} PP={chosen['pp']} needs {_n(got)} GB."
    return text


def _r_bubble_gauge(d: dict, report: Any) -> str:
    shape = (f" (p={d['p']}, m={d['m']}, v={d.get('v') or 1})" if isinstance(d.get("p"), int) and
             isinstance(d.get("m"), int) else "")
    text = (f"Dial of the pipeline bubble: {_v(d['bubble_fraction'], 'fraction')} of the step for the chosen plan"
            f"{shape} against the {_v(d.get('limit', 0.1), 'fraction')} rule")
    crisis = d.get("crisis_bubble_fraction")
    return text + (f"; the crisis configuration's is {_v(crisis, 'fraction')}." if crisis is not None else ".")


def _r_attempts(d: dict, report: Any) -> str:
    rows = d.get("attempts") or []
    unit = d.get("objective_unit") or ""
    name = d.get("objective_label") or d.get("objective_name") or "objective"
    ok = [r for r in rows if not r.get("error") and r.get("feasible") and r.get("objective") is not None]
    text = f"The {name} of each of {plural(len(rows), 'attempt')} in order, {len(ok)} feasible"
    if d.get("optimum") is not None:
        text += f", beside the optimum {_v(d['optimum'], unit)}"
    if ok:
        pick = max if d.get("sense", "max") == "max" else min
        best = pick(ok, key=lambda r: r["objective"])
        text += f"; the best attempt (number {best['number']}) reaches {_v(best['objective'], unit)}"
    return text + "."


def _r_comm_ratio(d: dict, report: Any) -> str:
    b, r = d["global_batch"], d["comm_to_compute"]
    text = (f"Communication-to-compute ratio and MFU against the global batch from {b[0]:,} to {b[-1]:,} samples: "
            f"the ratio falls from {_n(r[0])} to {_n(r[-1])}")
    mfu = d.get("mfu") or []
    if mfu:
        text += f", MFU rises from {_v(mfu[0], 'fraction')} to {_v(mfu[-1], 'fraction')}"
    if d.get("critical_batch"):
        text += f"; the critical batch {_v(d['critical_batch'])} is marked"
    if d.get("chosen_batch"):
        text += f", the answer {_v(d['chosen_batch'])}"
    return text + "."


def _r_comm_waterfall(d: dict, report: Any) -> str:
    labels = d.get("phase_labels") or {}
    panels: dict[str, list[str]] = {}
    for c in d["configs"]:
        ph = c["phases"]
        parts = ", ".join(f"{labels.get(k, k.replace('_', ' '))} {_v(v, 's')}" for k, v in ph.items() if v)
        panels.setdefault(c.get("panel") or "", []).append(f"{c['label']}: {_v(sum(ph.values()), 's')}"
                                                           + (f" ({parts})" if parts else ""))
    return "Horizontal bars of each configuration's AllReduce time, stacked by phase. " + " ".join(
        (f"{p[:1].upper()}{p[1:]}: " if p else "") + "; ".join(rows) + "." for p, rows in panels.items())


def _r_convergence(d: dict, report: Any) -> str:
    series = {k: v for k, v in d["series"].items() if v}
    what = "relative consensus error" if d.get("kind") == "gossip" else "training loss"
    steps = "rounds" if d.get("kind") == "gossip" else "steps"
    ends = "; ".join(f"{k} from {_v(v[0])} to {_v(v[-1])} after {len(v) - 1:,} {steps}" for k, v in series.items())
    return f"Curves of the {what} per {steps[:-1]}{' (log scale)' if d.get('log_y') else ''}: {ends}."


def _r_crossover(d: dict, report: Any) -> str:
    labels = d.get("labels") or {}
    algs = [labels.get(a, a) for a in d.get("times_s", {})]
    m = d["message_bytes"]
    text = (f"Log-log lines of AllReduce time against message size from {_v(m[0], 'B')} to {_v(m[-1], 'B')} for "
            f"{', '.join(algs)}")
    if d.get("crossover_bytes"):
        text += f"; ring and tree cross at {_v(d['crossover_bytes'], 'B')}"
    if d.get("scenario_message_bytes"):
        text += f"; the scenario's message, {_v(d['scenario_message_bytes'], 'B')}, is marked"
    return text + "."


def _r_fleet_tradeoff(d: dict, report: Any) -> str:
    ls = d["local_steps"]
    text = (f"Lines of the time to the training target in days against the local steps between synchronisations "
            f"({ls[0]} to {ls[-1]}), one per aggregation path ({len(d.get('paths') or {})} paths)")
    best = d.get("best") or {}
    if best.get("days"):
        text += (f"; the best: {best.get('path')}, synchronising every {best['local_steps']} local steps, "
                 f"{_n(best['days'])} days")
    if d.get("max_local_steps"):
        text += f"; the lab's step allows at most {d['max_local_steps']} local steps"
    return text + "."


def _r_frontier(d: dict, report: Any) -> str:
    objs, pts = d["objectives"], d["points"]
    mins = [o for o in objs if o["sense"] == "min"]
    maxs = [o for o in objs if o["sense"] == "max"]
    xo, yo = (mins[0] if mins else objs[1]), (maxs[0] if maxs else objs[0])
    text = f"Scatter of {yo['label']} against {xo['label']} for the {plural(len(pts), 'point')} of the frontier"
    rest = [o for o in objs if o is not xo and o is not yo]
    if rest:
        text += f", coloured by {rest[0]['label']}"
    if d.get("attempts"):
        text += f", with {plural(len(d['attempts']), 'attempt')} marked"
    return text + ("." if d.get("proven", True) else "; not every point is proven optimal.")


def _r_memory_waterfall(d: dict, report: Any) -> str:
    limit = float(d["limit"])
    totals = [(c["label"], sum(c["bytes"].values())) for c in d["configs"]]
    fit = sum(1 for _, t in totals if t <= limit)
    return (f"Stacked bars of memory per device by term ({', '.join(d['terms'])}) for "
            f"{plural(len(totals), 'configuration')} against the usable {_v(limit, 'B')}: {fit} fit. "
            + "; ".join(f"{k} {_v(t, 'B')}" for k, t in totals) + ".")


def _r_scaling_efficiency(d: dict, report: Any) -> str:
    dw, sw = d.get("device_word") or "device", d.get("sample_word") or "sample"
    parts = []
    for key, c in d["fabrics"].items():
        n, eff = c["n"], c["efficiency"]
        part = f"{c.get('label', key)}: efficiency {_v(eff[-1], 'fraction')} at {n[-1]:,}"
        if c.get("n_diminishing") is not None:
            part += f", diminishing returns from {c['n_diminishing']:,}"
        parts.append(part)
    return (f"Throughput in {sw}s/s against the number of {dw}s on log scales beside the ideal line, and the "
            f"scaling efficiency, one line per fabric. " + "; ".join(parts) + ".")


def _r_straggler_wait(d: dict, report: Any) -> str:
    n, e = d["n"], d["expected_max"]
    text = (f"The expected slowest step against the number of {d.get('device_word') or 'device'}s that must all "
            f"finish, 1 to {n[-1]:,}: from {_v(e[0], 's')} to {_v(e[-1], 's')}")
    if d.get("mean") is not None:
        text += f", against a mean step of {_v(d['mean'], 's')}"
    if d.get("straggler_fraction") is not None and d.get("slowdown") is not None:
        text += f" ({_v(d['straggler_fraction'], 'fraction')} stragglers, {_n(d['slowdown'])}x slower)"
    return text + "."


def _r_topology(d: dict, report: Any) -> str:
    n, edges = len(d["positions"]), d.get("edges") or []
    if d.get("kind") == "tiers":
        tiers = d.get("edge_tiers") or []
        text = (f"Graph of {n} devices in groups: {tiers.count('intra')} links inside the groups (fast tier), "
                f"{tiers.count('inter')} between them (slow tier).")
    else:
        text = f"Graph of {n} devices, a line between each pair in radio contact: {len(edges)} links."
    caption = str(d.get("caption") or "").strip()
    return text + (f" {caption.rstrip('.')}." if caption else "")


def _r_utilisation_gauge(d: dict, report: Any) -> str:
    unit = d.get("unit") or "samples/s"
    stages = "; ".join(f"{s} {_v(r)} {unit}, {_v(u, 'fraction')} busy"
                       for s, r, u in zip(d["stages"], d["rates"], d["utilisation"]))
    return (f"Three boxes, one per stage of the input pipeline, with its rate and how busy it is: {stages}. The "
            f"bottleneck is {d.get('bottleneck')}: {_v(d['throughput'])} {unit}.")


def _r_validation(d: dict, report: Any) -> str:
    tables = d["tables"]
    meets = sum(1 for t in tables if t.get("meets"))
    text = (f"Dots of the signed error of every published run, one line per table ({plural(len(tables), 'table')}, "
            f"{meets} within their targets)")
    if d.get("median_abs_error") is not None:
        text += f"; median |error| {_v(d['median_abs_error'], 'fraction')} over {d.get('rows', '?')} rows"
    return text + "."


_READINGS = {
    "attempts": _r_attempts, "bubble_gauge": _r_bubble_gauge, "comm_ratio": _r_comm_ratio,
    "comm_waterfall": _r_comm_waterfall, "convergence": _r_convergence, "crossover": _r_crossover,
    "fleet_tradeoff": _r_fleet_tradeoff, "frontier": _r_frontier, "memory_heatmap": _r_memory_heatmap,
    "memory_waterfall": _r_memory_waterfall, "parallelism_map": _r_parallelism_map,
    "scaling_efficiency": _r_scaling_efficiency, "straggler_wait": _r_straggler_wait, "topology": _r_topology,
    "utilisation_gauge": _r_utilisation_gauge, "validation": _r_validation,
}


def document(title: str, body: str) -> str:
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
            f"<style>{PAGE_CSS}{CSS}</style></head>\n<body>\n<main class='explorer-report'>\n{body}\n</main>\n"
            f"</body></html>\n")


def page(r, pngs: dict[str, bytes | str] | None = None) -> str:
    """The report as one self-contained HTML page (pngs: plot name -> PNG bytes or error text; drawn if None)."""
    return document(f"{r.title} [{r.track}]", body(r, pngs))


def fragment(r, pngs: dict[str, bytes | str] | None = None) -> str:
    """The report without the page chrome (no <html>, <head> or page margins), for a notebook cell."""
    return f"<div class='explorer-report'><style>{CSS}</style>\n{body(r, pngs)}\n</div>"


def body(r, pngs: dict[str, bytes | str] | None = None) -> str:
    """The report's content as HTML (headline, figures, answers, tables, plots, math peek, assumptions)."""
    from explorer.reports.render import constraint_legend, constraint_rows, figure_rows

    from explorer.report import INTEGRITY_WARNING, status_label

    if pngs is None:
        from explorer.reports.plots import render_all

        pngs = render_all(r)
    parts = [f"<h1>Lab {escape(r.lab)} part {r.part}: {escape(r.title)}</h1>",
             f"<p class='meta'>puzzle <code>{escape(r.puzzle)}</code> &middot; track <b>{escape(r.track)}</b> "
             + (f"</p><p class='warn'>{escape(status_label(r))}</p>" if r.integrity in INTEGRITY_WARNING else
                f"&middot; <span class='badge {escape(r.status)}'>{escape(status_label(r))}</span></p>"),
             f"<p class='headline'>{escape(r.headline)}</p>"]
    if r.figures:
        parts += ["<h2>Figures</h2>", table_html(["figure", "value"], figure_rows(r))]
    if r.findings:
        parts.append("<h2>Questions answered</h2><dl>")
        parts += [f"<dt>{escape(f.question)}</dt><dd>{escape(f.answer)}</dd>" for f in r.findings]
        parts.append("</dl>")
    if r.constraints:
        parts += ["<h2>Constraints</h2>",
                  table_html(["constraint", "value", "limit", "slack", "state"], constraint_rows(r), {4: "state"})]
        legend = constraint_legend(r)
        if legend:
            parts.append(f"<p class='legend'>{escape(legend)}</p>")
    for name, t in r.tables.items():
        parts += [f"<h2>{escape(t.title or name)}</h2>", table_html(t.columns, t.rows, formats=t.formats)]
    if pngs:
        parts.append("<h2>Plots</h2>")
        for name, png in pngs.items():
            if isinstance(png, bytes):
                parts.append(figure_html(png, name, r))
            else:
                title = escape(plot_text(name, r)[0])
                parts.append(f"<p class='err'>plot '{title}' could not be drawn: {escape(str(png))}</p>")
    if r.formulas:
        parts.append("<h2>Math peek</h2><dl>")
        for f in r.formulas:
            parts.append(f"<dt>{escape(f.name)}</dt><dd><code>{escape(f.expression)}</code>"
                         f"<br><span class='src'>source: {escape(f.source)}</span>"
                         + (f"<br><span class='note'>note: {escape(f.note)}</span>" if f.note else "") + "</dd>")
        parts.append("</dl>")
    if r.assumptions:
        parts.append("<h2>Assumptions</h2><ul>")
        parts += [f"<li>{escape(a.text)}" + (f" <span class='src'>[{escape(a.source)}]</span>" if a.source else "")
                  + "</li>" for a in r.assumptions]
        parts.append("</ul>")
    return "\n".join(parts)
