"""Render a Report as text, JSON, Markdown or a self-contained HTML page, and write it to a directory.

`render(report, fmt)` returns one string (HTML with its plots embedded as PNG data URIs; Markdown
without images). `write_report(report, fmt, out_dir)` writes the file, and for Markdown also the
plots as PNG files beside it, linked from the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from explorer.reports.format import fmt_value

from explorer.report import Report

STATUS_TEXT = {"optimal": "OPTIMAL (proven)", "feasible": "FEASIBLE, not proven optimal",
               "infeasible": "INFEASIBLE", "computed": "computed"}


def cell(c: Any) -> str:
    """One table cell as text (numbers formatted, None as a dash)."""
    if c is None:
        return "-"
    return c if isinstance(c, str) else fmt_value(c)


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _table_lines(columns: list[str], rows: list[list], md: bool = False) -> list[str]:
    cells = [[cell(c) for c in r] for r in rows]
    numeric = [[not isinstance(c, str) or c[:1].isdigit() or c[:2].startswith("-") for c in r] for r in rows]
    if md:
        out = ["| " + " | ".join(_md_escape(str(c)) for c in columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in cells]
        return out
    widths = [max(len(str(c)), *(len(r[i]) for r in cells if i < len(r))) if cells else len(str(c))
              for i, c in enumerate(columns)]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(columns, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, nums))
            for r, nums in zip(cells, numeric)]
    return out


def constraint_rows(r: Report) -> list[list[str]]:
    return [[c.name, fmt_value(c.value, c.unit), f"{c.sense} {fmt_value(c.limit, c.unit)}",
             fmt_value(c.slack, c.unit), constraint_state(c)] for c in r.constraints]


def constraint_state(c) -> str:
    if not c.satisfied:
        return "VIOLATED"
    return "BINDING" if c.binding else "ok"


def figure_rows(r: Report) -> list[list[str]]:
    return [[f.label or k, fmt_value(f.value, f.unit)] for k, f in r.figures.items()]


def to_text(r: Report, md: bool = False, images: dict[str, str] | None = None) -> str:
    """Terminal text, or Markdown when md is True (images: plot name -> relative PNG path to link)."""
    h1, h2 = ("# ", "## ") if md else ("", "")
    status = STATUS_TEXT[r.status]
    lines = [f"{h1}Lab {r.lab} part {r.part}: {r.title} [{r.track}] ({r.puzzle})", "",
             f"Status: {status}   solve time {r.solve_time_s:.3f} s" if r.solve_time_s else f"Status: {status}",
             "", r.headline, ""]
    if r.figures:
        lines += [f"{h2}Figures", ""] + _table_lines(["figure", "value"], figure_rows(r), md) + [""]
    if r.findings:
        lines += [f"{h2}Questions answered", ""]
        for f in r.findings:
            lines += [f"- **{f.question}**" if md else f"* {f.question}", f"  {f.answer}"]
        lines.append("")
    if r.constraints:
        lines += [f"{h2}Constraints", ""]
        lines += _table_lines(["constraint", "value", "limit", "slack", "state"], constraint_rows(r), md) + [""]
    for name, t in r.tables.items():
        lines += [f"{h2}{t.title or name}", ""] + _table_lines(t.columns, t.rows, md) + [""]
    if md and images:
        lines += [f"{h2}Plots", ""]
        for name, path in images.items():
            lines += [f"![{name.replace('_', ' ')}]({path})", ""]
    if r.formulas:
        lines += [f"{h2}Math peek", ""]
        for f in r.formulas:
            expr = f"`{f.expression}`" if md else f.expression
            lines.append(f"- {f.name}: {expr}  [{f.source}]")
            if f.note:
                lines.append(f"  note: {f.note}")
        lines.append("")
    if r.assumptions:
        lines += [f"{h2}Assumptions", ""]
        for a in r.assumptions:
            lines.append(f"- {a.text}" + (f"  [{a.source}]" if a.source else ""))
        lines.append("")
    return "\n".join(lines)


def to_json(r: Report) -> str:
    return json.dumps(r.to_dict(), indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_html(r: Report, pngs: dict[str, bytes | str] | None = None) -> str:
    """A single self-contained page (no network access needed); plots embedded as PNG data URIs."""
    from explorer.reports.html import page

    return page(r, pngs)


def render(r: Report, fmt: str) -> str:
    if fmt == "json":
        return to_json(r)
    if fmt == "markdown":
        return to_text(r, md=True)
    if fmt == "html":
        return to_html(r)
    return to_text(r)


EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}


def stem_of(r: Report) -> str:
    return f"{r.puzzle}-{r.track}"


def write_report(r: Report, fmt: str, out_dir: Path, stem: str | None = None,
                 pngs: dict[str, bytes | str] | None = None) -> list[Path]:
    """Write the report into out_dir as <puzzle>-<track>.<ext>; Markdown also writes its plots as PNGs
    beside it (<stem>-<plot>.png) and links them. pngs: plots already rendered (reports.plots.render_all)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or stem_of(r)
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
        text = to_text(r, md=True, images=images)
        failed = {n: e for n, e in pngs.items() if not isinstance(e, bytes)}
        if failed:
            text += "\n" + "\n".join(f"- plot {n} could not be drawn: {e}" for n, e in failed.items()) + "\n"
        path.write_text(text, encoding="utf-8")
    elif fmt == "html":
        path.write_text(to_html(r, pngs), encoding="utf-8")
    else:
        path.write_text(render(r, fmt), encoding="utf-8")
    return [path, *written]
