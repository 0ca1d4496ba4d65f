"""A single self-contained HTML page per Report: inline CSS, plots as base64 PNG data URIs, no scripts,
no network access needed to view it."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.6em}
.meta{color:#555;margin-top:0}.headline{font-size:1.1em;background:#f3f7fb;border-left:4px solid #0072B2;
padding:.6em .9em}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-size:.85em;font-weight:600;color:#fff}
.optimal{background:#009E73}.feasible{background:#E69F00}.infeasible{background:#D55E00}.computed{background:#0072B2}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.92em}
th,td{border:1px solid #d0d0d0;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafafa}
.VIOLATED,.bad,.NO,.ERROR,.no{color:#b03000;font-weight:600}.BINDING{color:#8a5a00;font-weight:600}
.ok,.good,.yes{color:#00734f}
dt{font-weight:600;margin-top:.6em}dd{margin-left:1.2em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}code{background:#f4f4f4;padding:.05em .3em;border-radius:.2em}
.src{color:#666;font-size:.88em}.note{color:#a04000;font-size:.9em}.err{color:#b03000}
"""


VERDICT_COLUMNS = ("feasible", "state", "on frontier", "status")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def table_html(columns: list[str], rows: list[list[Any]], classes: dict[int, str] | None = None) -> str:
    """An HTML table; numeric-looking cells right-aligned; classes: column index -> css class from cell text."""
    from explorer.reports.render import cell

    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    if classes is None:  # verdict columns get coloured by their value
        classes = {i: "verdict" for i, c in enumerate(columns) if str(c) in VERDICT_COLUMNS}
    body = []
    for r in rows:
        tds = []
        for i, v in enumerate(r):
            text = cell(v)
            cls = []
            if _is_num(v) or (text[:1].isdigit() or text[:1] == "-" and text[1:2].isdigit()):
                cls.append("num")
            if classes and i in classes:
                cls.append(escape(text.split()[0] if text.split() else ""))
            attr = f" class='{' '.join(cls)}'" if cls else ""
            tds.append(f"<td{attr}>{escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def img_tag(png: bytes, alt: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


def document(title: str, body: str) -> str:
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def page(r, pngs: dict[str, bytes | str] | None = None) -> str:
    """The report as one self-contained HTML page (pngs: plot name -> PNG bytes or error text; drawn if None)."""
    from explorer.reports.render import STATUS_TEXT, constraint_rows, figure_rows

    if pngs is None:
        from explorer.reports.plots import render_all

        pngs = render_all(r)
    parts = [f"<h1>Lab {escape(r.lab)} part {r.part}: {escape(r.title)}</h1>",
             f"<p class='meta'>puzzle <code>{escape(r.puzzle)}</code> &middot; track <b>{escape(r.track)}</b> "
             f"&middot; <span class='badge {escape(r.status)}'>{escape(STATUS_TEXT[r.status])}</span></p>",
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
    for name, t in r.tables.items():
        parts += [f"<h2>{escape(t.title or name)}</h2>", table_html(t.columns, t.rows)]
    if pngs:
        parts.append("<h2>Plots</h2>")
        for name, png in pngs.items():
            caption = escape(name.replace("_", " "))
            if isinstance(png, bytes):
                parts.append(f"<figure>{img_tag(png, name)}<figcaption>{caption}</figcaption></figure>")
            else:
                parts.append(f"<p class='err'>plot {caption} could not be drawn: {escape(str(png))}</p>")
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
    return document(f"{r.title} [{r.track}]", "\n".join(parts))
