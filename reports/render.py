"""Render a Report as text, JSON, Markdown or a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path

from explorer.report import Report
from reports.format import fmt_value


def _table_lines(columns: list[str], rows: list[list], md: bool = False) -> list[str]:
    cells = [[fmt_value(c) if not isinstance(c, str) else c for c in r] for r in rows]
    if md:
        out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(r) + " |" for r in cells]
        return out
    widths = [max(len(str(c)), *(len(r[i]) for r in cells)) if cells else len(str(c)) for i, c in enumerate(columns)]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(columns, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return out


def to_text(r: Report, md: bool = False) -> str:
    h1, h2 = ("# ", "## ") if md else ("", "")
    status = {"optimal": "OPTIMAL (proven)", "feasible": "FEASIBLE, not proven optimal",
              "infeasible": "INFEASIBLE", "computed": "computed"}[r.status]
    lines = [f"{h1}Lab {r.lab} part {r.part}: {r.title} [{r.track}] ({r.puzzle})", "",
             f"Status: {status}   solve time {r.solve_time_s:.3f} s" if r.solve_time_s else f"Status: {status}",
             "", r.headline, ""]
    if r.figures:
        lines += [f"{h2}Figures", ""]
        rows = [[f.label or k, fmt_value(f.value, f.unit)] for k, f in r.figures.items()]
        lines += _table_lines(["figure", "value"], rows, md) + [""]
    if r.findings:
        lines += [f"{h2}Questions answered", ""]
        for f in r.findings:
            lines += [f"- {f.question}" if md else f"* {f.question}", f"  {f.answer}"]
        lines.append("")
    if r.constraints:
        lines += [f"{h2}Constraints", ""]
        rows = [[c.name, fmt_value(c.value, c.unit), f"{c.sense} {fmt_value(c.limit, c.unit)}",
                 fmt_value(c.slack, c.unit), "BINDING" if c.binding else ("ok" if c.satisfied else "VIOLATED")]
                for c in r.constraints]
        lines += _table_lines(["constraint", "value", "limit", "slack", "state"], rows, md) + [""]
    for name, t in r.tables.items():
        lines += [f"{h2}{t.title or name}", ""] + _table_lines(t.columns, t.rows, md) + [""]
    if r.formulas:
        lines += [f"{h2}Math peek", ""]
        for f in r.formulas:
            lines.append(f"- {f.name}: {f.expression}  [{f.source}]")
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


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_html(r: Report) -> str:
    """A single self-contained page (no network access needed); plots embedded as PNG data URIs."""
    import html

    from reports.html import page

    return page(r, html.escape)


def render(r: Report, fmt: str) -> str:
    if fmt == "json":
        return to_json(r)
    if fmt == "markdown":
        return to_text(r, md=True)
    if fmt == "html":
        return to_html(r)
    return to_text(r)


EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}


def write_report(r: Report, fmt: str, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{r.puzzle}-{r.track}.{EXTENSIONS[fmt]}"
    path.write_text(render(r, fmt), encoding="utf-8")
    return [path]
