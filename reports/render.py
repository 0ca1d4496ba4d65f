"""Render a Report as text, JSON, Markdown or a self-contained HTML page, and write it to a directory.

`render(report, fmt)` returns one string (HTML with its plots embedded as PNG data URIs; Markdown
without images). `write_report(report, fmt, out_dir)` writes the file, and for Markdown also the
plots as PNG files beside it, linked from the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from explorer.reports.format import fmt_value

from explorer.report import STATUS_TEXT, Report, check_names, status_label  # noqa: F401  (STATUS_TEXT re-exported)
from explorer.validation import require_finite


def cell(c: Any) -> str:
    """One table cell as text (numbers formatted, None as a dash)."""
    if c is None:
        return "-"
    return c if isinstance(c, str) else fmt_value(c)


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(columns: list[str], rows: list[list]) -> list[str]:
    """A Markdown table; numeric columns aligned right (`---:`), the first (label) column left."""
    from explorer.reports.text import numeric_columns

    align = ["---:" if num else "---" for num in numeric_columns(columns, rows)]
    out = ["| " + " | ".join(_md_escape(str(c)) for c in columns) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(_md_escape(cell(c)) for c in r) + " |" for r in rows]
    return out


def constraint_rows(r: Report) -> list[list[str]]:
    return [[c.name, fmt_value(c.value, c.unit), f"{c.sense} {fmt_value(c.limit, c.unit)}",
             fmt_value(c.slack, c.unit), constraint_state(c)] for c in r.constraints]


TIGHT_SLACK = 0.01
"""A binding constraint is tight when its slack is within this fraction of its limit (constraint_state)."""


def constraint_state(c) -> str:
    """VIOLATED; BINDING (the answer would change without it); "BINDING (not tight)" where it binds with slack
    left, as an integer or discrete choice can (the 3D memory limit excludes the faster plan, yet the best
    plan within it sits below the limit); else ok."""
    if not c.satisfied:
        return "VIOLATED"
    if not c.binding:
        return "ok"
    tight = c.sense == "==" or abs(c.slack) <= TIGHT_SLACK * max(abs(c.limit), 1e-300)
    return "BINDING" if tight else "BINDING (not tight)"


def constraint_legend(r: Report) -> str:
    """One line under the constraints table saying what its states mean, the ones it shows only: BINDING is no
    synonym of 'at the limit' (a 3D memory limit binds with 25 GB of slack left, a TP-within-a-node limit met with
    none is ok), so the reader is told which is which. A puzzle that knows how it judged binding says so in
    extra['binding_means'] (the 3D puzzle re-solves without the limit); otherwise binding is the puzzle's
    at-or-near-the-limit call."""
    states = {constraint_state(c) for c in r.constraints}
    extra = r.extra if isinstance(r.extra, dict) else {}
    means = extra.get("binding_means")
    parts = []
    if states & {"BINDING", "BINDING (not tight)"}:
        parts.append(f"BINDING = {means}" if isinstance(means, str) and means else
                     "BINDING = the answer sits at or near this limit, and a looser one could change it")
    if "BINDING (not tight)" in states:
        parts.append(f"tight = slack within {TIGHT_SLACK:.0%} of the limit (not tight: it binds with slack left)")
    if "ok" in states:
        parts.append("ok = met and not binding, whatever its slack")
    if "VIOLATED" in states:
        parts.append("VIOLATED = not met")
    return ("State: " + "; ".join(parts) + ".") if parts else ""


def figure_rows(r: Report) -> list[list[str]]:
    return [[f.label or k, fmt_value(f.value, f.unit)] for k, f in r.figures.items()]


def to_text(r: Report, width: int | None = None, color: bool = False) -> str:
    """Terminal text wrapped to `width` columns (default: $COLUMNS, else the terminal's, else 80); tables
    too wide for it turn into records. color: ANSI styles (the CLI asks for them only on a terminal)."""
    from explorer.reports.text import to_text as text

    return text(r, width=width, color=color)


def to_markdown(r: Report, images: dict[str, str] | None = None) -> str:
    """Markdown (images: plot name -> relative PNG path to link)."""
    lines = [f"# Lab {r.lab} part {r.part}: {r.title} [{r.track}] ({r.puzzle})", "",
             f"Status: {status_label(r)}", "", r.headline, ""]
    if r.figures:
        lines += ["## Figures", ""] + _md_table(["figure", "value"], figure_rows(r)) + [""]
    if r.findings:
        lines += ["## Questions answered", ""]
        for f in r.findings:
            lines += [f"- **{f.question}**", f"  {f.answer}"]
        lines.append("")
    if r.constraints:
        lines += ["## Constraints", ""]
        lines += _md_table(["constraint", "value", "limit", "slack", "state"], constraint_rows(r)) + [""]
        legend = constraint_legend(r)
        if legend:
            lines += [legend, ""]
    for name, t in r.tables.items():
        lines += [f"## {t.title or name}", ""] + _md_table(t.columns, t.rows) + [""]
    if images:
        lines += ["## Plots", ""]
        for name, path in images.items():
            lines += [f"![{name.replace('_', ' ')}]({path})", ""]
    if r.formulas:
        lines += ["## Math peek", ""]
        for f in r.formulas:
            lines.append(f"- {f.name}: `{f.expression}`  [{f.source}]")
            if f.note:
                lines.append(f"  note: {f.note}")
        lines.append("")
    if r.assumptions:
        lines += ["## Assumptions", ""]
        for a in r.assumptions:
            lines.append(f"- {a.text}" + (f"  [{a.source}]" if a.source else ""))
        lines.append("")
    return "\n".join(lines)


def to_json(r: Report) -> str:
    return json.dumps(r.to_dict(), indent=2, sort_keys=False, default=_json_default, allow_nan=False) + "\n"


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_html(r: Report, pngs: dict[str, bytes | str] | None = None, full_page: bool = True) -> str:
    """A single self-contained page (no network access needed); plots embedded as PNG data URIs.
    full_page=False: the same report as a fragment (scoped styles, no <html>/<head>) for notebooks."""
    from explorer.reports.html import fragment, page

    return page(r, pngs) if full_page else fragment(r, pngs)


def render(r: Report, fmt: str, width: int | None = None, color: bool = False) -> str:
    """The report in one format; width and color apply to text only. A report with a NaN or infinite
    figure is refused (explorer.validation.NonFiniteError), never printed."""
    require_finite(r.to_dict(), f"{r.puzzle} report")
    if fmt == "json":
        return to_json(r)
    if fmt == "markdown":
        return to_markdown(r)
    if fmt == "html":
        return to_html(r)
    return to_text(r, width=width, color=color)


EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}


def stem_of(r: Report) -> str:
    """<puzzle>-<track>, from the validated names only (a saved report's fields never pick a path)."""
    check_names(r.puzzle, r.track)
    return f"{r.puzzle}-{r.track}"


def write_report(r: Report, fmt: str, out_dir: Path, stem: str | None = None,
                 pngs: dict[str, bytes | str] | None = None) -> list[Path]:
    """Write the report into out_dir as <puzzle>-<track>.<ext>; Markdown also writes its plots as PNGs
    beside it (<stem>-<plot>.png) and links them. pngs: plots already rendered (reports.plots.render_all)."""
    require_finite(r.to_dict(), f"{r.puzzle} report")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or stem_of(r)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", stem) or stem.startswith("."):
        raise ValueError(f"unsafe file name stem {stem[:40]!r}")
    path = out_dir / f"{stem}.{EXTENSIONS[fmt]}"
    written: list[Path] = []
    if fmt == "markdown":
        if pngs is None:
            from explorer.reports.plots import render_all

            pngs = render_all(r)
        images: dict[str, str] = {}
        for name, png in pngs.items():
            if isinstance(png, bytes):
                p = out_dir / f"{stem}-{name}.png"
                p.write_bytes(png)
                written.append(p)
                images[name] = p.name
        text = to_markdown(r, images=images)
        failed = {n: e for n, e in pngs.items() if not isinstance(e, bytes)}
        if failed:
            text += "\n" + "\n".join(f"- plot {n} could not be drawn: {e}" for n, e in failed.items()) + "\n"
        path.write_text(text, encoding="utf-8")
    elif fmt == "html":
        path.write_text(to_html(r, pngs), encoding="utf-8")
    else:
        path.write_text(render(r, fmt), encoding="utf-8")
    return [path, *written]
