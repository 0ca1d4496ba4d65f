"""A single self-contained HTML page per Report: inline CSS, plots as base64 PNG data URIs, no scripts,
no network access needed to view it."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

# Every rule is scoped to .explorer-report, so the same styles serve the page and the fragment a notebook
# shows without touching the notebook's own look. Wide tables scroll inside their box (.table-wrap), text
# cells wrap at a readable measure, so the page itself never scrolls sideways (checked at 390 and 1,280 px
# in headless Chromium by tests/test_reports_browser.py). On a phone the first (label) column wraps at 35% of
# the screen, so a two-column table such as the Figures shows its values without a sideways scroll; a table
# wider than that still scrolls in its box, except a table of class 'stack' (the answer key's index), whose
# rows become cards (part, puzzle, track and status run on a line or two, each under its name; the answer
# below). Plots likewise: they shrink to the column on a wide
# screen and keep their natural size in a box that scrolls sideways on a phone (.plot-wrap).
CSS = """
.explorer-report{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1000px;margin:0 auto;
color:#1b1b1b;line-height:1.45;overflow-wrap:break-word}
.explorer-report h1{font-size:1.5em;margin-bottom:.2em}
.explorer-report h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.explorer-report .meta{color:#555;margin-top:0}
.explorer-report .headline{font-size:1.1em;background:#f3f7fb;border-left:4px solid #0072B2;padding:.6em .9em}
.explorer-report .badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-size:.85em;font-weight:600;
color:#fff}
.explorer-report .optimal{background:#009E73}.explorer-report .feasible{background:#E69F00}
.explorer-report .infeasible{background:#D55E00}.explorer-report .computed{background:#0072B2}
.explorer-report .table-wrap{max-width:100%;overflow-x:auto;margin:.5em 0 1em}
.explorer-report table{border-collapse:collapse;font-size:.92em;width:max-content;max-width:none}
.explorer-report th,.explorer-report td{border:1px solid #d0d0d0;padding:.3em .6em;text-align:left;
vertical-align:top;max-width:26em}
.explorer-report th{background:#f2f2f2}
.explorer-report td.num,.explorer-report th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.explorer-report tr:nth-child(even) td{background:#fafafa}
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
.explorer-report table.stack,.explorer-report table.stack tbody,.explorer-report table.stack tr,
.explorer-report table.stack td{display:block;width:auto;max-width:none}
.explorer-report table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.explorer-report table.stack tr{border:1px solid #d0d0d0;margin:0 0 .7em}
.explorer-report table.stack td{border:none;border-bottom:1px solid #eee;padding:.15em .6em;background:none}
.explorer-report table.stack td:not(:last-child){display:inline-block;border:none;padding-right:.6em}
.explorer-report table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#555}
.explorer-report table.stack td[data-label=answer]::before{display:block}}
.explorer-report summary{cursor:pointer}
.explorer-report figcaption{color:#555;font-size:.9em}
.explorer-report code{background:#f4f4f4;padding:.05em .3em;border-radius:.2em;overflow-wrap:anywhere}
.explorer-report .src{color:#666;font-size:.88em}.explorer-report .note{color:#a04000;font-size:.9em}
.explorer-report .err{color:#b03000}.explorer-report .legend{color:#555;font-size:.9em;margin-top:-.5em}
.explorer-report .warn{background:#fdecea;border-left:4px solid #D55E00;padding:.5em .9em;font-weight:600}
"""
PAGE_CSS = "body{margin:2em auto;padding:0 1em}"


VERDICT_COLUMNS = ("feasible", "state", "on frontier", "status")


def table_html(columns: list[str], rows: list[list[Any]], classes: dict[int, str] | None = None) -> str:
    """An HTML table in a box that scrolls sideways when the table is wider than the page; numeric columns
    right-aligned (the first, label column stays left); classes: column index -> css class from cell text."""
    from explorer.reports.render import cell
    from explorer.reports.text import numeric_columns

    numeric = numeric_columns(columns, rows)
    head = "".join(f"<th{' class=num' if num else ''}>{escape(str(c))}</th>" for c, num in zip(columns, numeric))
    if classes is None:  # verdict columns get coloured by their value
        classes = {i: "verdict" for i, c in enumerate(columns) if str(c) in VERDICT_COLUMNS}
    body = []
    for r in rows:
        tds = []
        for i, v in enumerate(r):
            text = cell(v)
            cls = []
            if i < len(numeric) and numeric[i]:
                cls.append("num")
            if classes and i in classes:
                cls.append(escape(text.split()[0] if text.split() else ""))
            attr = f" class='{' '.join(cls)}'" if cls else ""
            tds.append(f"<td{attr}>{escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
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


def figure_html(png: bytes, name: str) -> str:
    """A plot in a box that scrolls sideways on a narrow screen, with its caption."""
    caption = escape(name.replace("_", " "))
    return (f"<figure><div class='plot-wrap'>{img_tag(png, name)}</div><figcaption>{caption}"
            f"<span class='plot-hint'> (at full size: scroll sideways)</span></figcaption></figure>")


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
        parts += [f"<h2>{escape(t.title or name)}</h2>", table_html(t.columns, t.rows)]
    if pngs:
        parts.append("<h2>Plots</h2>")
        for name, png in pngs.items():
            caption = escape(name.replace("_", " "))
            if isinstance(png, bytes):
                parts.append(figure_html(png, name))
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
    return "\n".join(parts)
