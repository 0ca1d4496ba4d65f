"""Render a Report as text, JSON, Markdown or a self-contained HTML page, and write it to a directory.

`render(report, fmt)` returns one string (HTML with its plots embedded as PNG data URIs; Markdown
without images). `write_report(report, fmt, out_dir)` writes the file, and for Markdown also the
plots as PNG files beside it, linked from the page.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from explorer.reports.format import fmt_cell, fmt_value

from explorer.errors import UsageError
from explorer.report import (  # noqa: F401  (STATUS_TEXT re-exported)
    INTEGRITY_WARNING,
    STATUS_TEXT,
    Report,
    check_names,
    status_label,
)
from explorer.validation import require_finite


def cell(c: Any, fmt: str = "") -> str:
    """One table cell as text: a number through its column's format (reports.format.CELL_FORMATS; none: fmt_value),
    None as a dash, text as it is."""
    return fmt_cell(c, fmt)


def column_formats(formats: Any, n: int) -> list[str]:
    """A table's per-column formats, one per column ('' where it has none: Table.formats may be empty)."""
    formats = list(formats or [])
    return (formats + [""] * n)[:n]


_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def md_text(s: Any) -> str:
    """Report text as Markdown shows it, never as markup: '<' becomes &lt; (a headline holding <script> was passed
    to the page as raw HTML, which Markdown renderers keep) and an '&' that would start an entity becomes &amp;
    (so '&lt;' in a report shows as written). The HTML renderer escapes the same text."""
    return _ENTITY.sub("&amp;", str(s)).replace("<", "&lt;")


def md_code(s: Any) -> str:
    """A Markdown code span holding s verbatim: fenced by one more backtick than the longest run inside it, so a
    backtick in the text cannot close the span and let what follows be read as markup (CommonMark 0.31, 6.1)."""
    s = " ".join(str(s).splitlines())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md_escape(s: str) -> str:
    return md_text(s).replace("|", "\\|").replace("\n", " ")


def _md_table(columns: list[str], rows: list[list], formats: list[str] | None = None) -> list[str]:
    """A Markdown table; numeric columns aligned right (`---:`), the first (label) column left; formats: each
    column's number format (Table.formats)."""
    from explorer.reports.text import numeric_columns

    fmts = column_formats(formats, len(columns))
    align = ["---:" if num else "---" for num in numeric_columns(columns, rows, fmts)]
    out = ["| " + " | ".join(_md_escape(str(c)) for c in columns) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(_md_escape(cell(c, f)) for c, f in zip(r, fmts + [""] * (len(r) - len(fmts))))
            + " |" for r in rows]
    return out


def constraint_rows(r: Report) -> list[list[str]]:
    rows = []
    for c in r.constraints:
        value, limit = _distinct(c.value, c.limit, c.unit)
        rows.append([c.name, value, f"{c.sense} {limit}", fmt_value(c.slack, c.unit), constraint_state(c)])
    return rows


def _distinct(value: float, limit: float, unit: str) -> tuple[str, str]:
    """A value and its limit as the table prints them; shares (unit 'fraction') that differ get the decimals it takes
    to print differently (a 0.098% bubble under a 0.1% limit reads 0.098% <= 0.100%, not 0.1% <= 0.1%)."""
    v, lim = fmt_value(value, unit), fmt_value(limit, unit)
    if unit == "fraction" and v == lim and value != limit:
        for d in range(2, 7):
            v, lim = f"{100 * value:.{d}f}%", f"{100 * limit:.{d}f}%"
            if v != lim:
                break
    return v, lim


TIGHT_SLACK = 0.01
"""A binding constraint is tight when its slack is within this fraction of its limit (constraint_state)."""


def constraint_state(c) -> str:
    """VIOLATED; BINDING (the answer would change without it); "BINDING (not tight)" where it binds with slack
    left, as an integer or discrete choice can (the 3D memory limit excludes the faster plan, yet the best
    plan within it sits below the limit); else ok."""
    if not c.satisfied:
        return "VIOLATED"
    if not c.binding:
        return "ok" if getattr(c, "judged", True) else "not judged"
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
    if "not judged" in states:
        parts.append("not judged = met, the answer not on it; whether a looser limit would allow a better answer was "
                     "not checked (the findings say why)")
    if "VIOLATED" in states:
        parts.append("VIOLATED = not met")
    return ("State: " + "; ".join(parts) + ".") if parts else ""


def figure_rows(r: Report) -> list[list[str]]:
    return [[f.label or k, fmt_value(f.value, f.unit)] for k, f in r.figures.items()]


def to_text(r: Report, width: int | None = None, color: bool = False, plots_note: str = "") -> str:
    """Terminal text wrapped to `width` columns (default: $COLUMNS, else the terminal's, else 80); tables
    too wide for it turn into records. color: ANSI styles (the CLI asks for them only on a terminal). plots_note:
    the line said under a Plots heading in place of the pictures text cannot show (missing_plots_note)."""
    from explorer.reports.text import to_text as text

    return text(r, width=width, color=color, plots_note=plots_note)


def missing_plots_note(r: Report, fmt: str) -> str:
    """What a report printed without its pictures says in their place, so a reader learns they exist and how to get
    them: Markdown on standard output links no PNG (only `--out DIR` writes them beside the page), and text draws
    none. Names the plots by their titles; '' for a report without plots, or a format that carries them (HTML embeds
    them, JSON holds their data)."""
    from explorer.reports.html import plot_text
    from explorer.reports.plots import plot_names

    from explorer.units import plural

    names = plot_names(r)
    if not names or fmt not in ("markdown", "text"):
        return ""
    them = "it" if len(names) == 1 else "them"
    files = "a PNG file" if len(names) == 1 else "PNG files"
    what = f"{plural(len(names), 'plot')} ({'; '.join(plot_text(n, r)[0] for n in names)})"
    if fmt == "markdown":
        return (f"{what}: not embedded in Markdown on standard output; `--out DIR` writes {them} as {files} beside "
                f"the report, linked from it, and `--format html` embeds {them} in the page.")
    if kind_of(r) == "frontier":  # explore frontier --out writes the plot beside a report of any format
        return (f"{what}: not drawn in text; --out DIR writes {them} as {files} beside the report, --format html "
                f"embeds {them} in the page.")
    return (f"{what}: not drawn in text; --format html embeds {them} in the page, --format markdown --out DIR writes "
            f"{them} as {files} beside the report.")


def to_markdown(r: Report, images: dict[str, str] | None = None, plots_note: str = "") -> str:
    """Markdown (images: plot name -> relative PNG path to link; without them, plots_note is said under the Plots
    heading in their place: missing_plots_note)."""
    lines = [f"# Lab {md_text(r.lab)} part {r.part}: {md_text(r.title)} [{r.track}] ({r.puzzle})", "",
             f"Status: {md_text(status_label(r))}", "", md_text(r.headline), ""]
    if r.figures:
        lines += ["## Figures", ""] + _md_table(["figure", "value"], figure_rows(r)) + [""]
    if r.findings:
        lines += ["## Questions answered", ""]
        for f in r.findings:
            lines += [f"- **{md_text(f.question)}**", f"  {md_text(f.answer)}"]
        lines.append("")
    if r.constraints:
        lines += ["## Constraints", ""]
        lines += _md_table(["constraint", "value", "limit", "slack", "state"], constraint_rows(r)) + [""]
        legend = constraint_legend(r)
        if legend:
            lines += [md_text(legend), ""]
    for name, t in r.tables.items():
        lines += [f"## {md_text(t.title or name)}", ""] + _md_table(t.columns, t.rows, t.formats) + [""]
    if images:
        lines += ["## Plots", ""]
        from explorer.reports.html import plot_text

        for name, path in images.items():
            title, alt = plot_text(name, r)  # what the picture reads, as the HTML page's alt text says it
            lines += [f"**{md_text(title)}**", "", f"![{md_text(alt)}]({path})", ""]
    elif plots_note:
        lines += ["## Plots", "", md_text(plots_note), ""]
    if r.formulas:
        lines += ["## Math peek", ""]
        for f in r.formulas:
            lines.append(f"- {md_text(f.name)}: {md_code(f.expression)}  [{md_text(f.source)}]")
            if f.note:
                lines.append(f"  note: {md_text(f.note)}")
        lines.append("")
    if r.assumptions:
        lines += ["## Assumptions", ""]
        for a in r.assumptions:
            lines.append(f"- {md_text(a.text)}" + (f"  [{md_text(a.source)}]" if a.source else ""))
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
    if fmt == "markdown":  # on standard output: no PNG files beside it, so the Plots section says where they are
        return to_markdown(r, plots_note=missing_plots_note(r, fmt))
    if fmt == "html":
        return to_html(r)
    return to_text(r, width=width, color=color, plots_note=missing_plots_note(r, fmt))


EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}


def kind_of(r: Report) -> str:
    """'frontier' for a frontier report (explore frontier: its points under data['frontier']), else 'solve'."""
    return "frontier" if isinstance(r.data, dict) and isinstance(r.data.get("frontier"), dict) else "solve"


def stem_for(puzzle: str, track: str, kind: str = "solve") -> str:
    """The file name stem the command that makes a report gives it: <puzzle>-<track> for `explore solve`,
    frontier-<puzzle>-<track> for `explore frontier`."""
    check_names(puzzle, track)
    return f"frontier-{puzzle}-{track}" if kind == "frontier" else f"{puzzle}-{track}"


def stem_of(r: Report) -> str:
    """The stem its own command gives the report (stem_for), from the validated names only (a saved report's fields
    never pick a path). A re-rendered frontier report is frontier-3d-cloud.*, as `explore frontier` wrote it: under
    the solve report's name, `explore report fr.json --out DIR` replaced the solve report saved there."""
    return stem_for(r.puzzle, r.track, kind_of(r))


class OutputPathError(UsageError):
    """An output file that cannot be written (a directory in its place, no permission, a read-only file system):
    a usage error naming the path and why (exit 2), never an internal error."""


def _why(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def shown_path(path: str | os.PathLike) -> str:
    """A path as a message names it: relative to the working directory when that is shorter (a message cuts any
    run of over 80 characters, errors.one_line, and a long absolute path lost its file name)."""
    text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:  # another drive (Windows)
        return text
    return rel if len(rel) < len(text) else text


def check_targets(out_dir: Path | str, names: Iterable[str], option: str = "--out") -> None:
    """Before any solving: each file `names` (relative to out_dir; a name may hold a subdirectory, lab05/x.md)
    can be written: no directory sits where it goes, no file where a directory of its path goes, and an existing
    file (or the directory a new one goes into) is writable. An OutputPathError naming the path and why otherwise.
    out_dir itself was checked when the option was parsed (validation.check_out_dir)."""
    out_dir = Path(out_dir)
    for name in names:
        path = out_dir / name
        where = f"{option} {shown_path(out_dir)}: {name}"  # the file by its name in DIR: a long path is cut
        for parent in reversed(Path(name).parents[:-1]):  # subdirectories between, outermost first
            d = out_dir / parent
            if d.exists() and not d.is_dir():
                raise OutputPathError(f"{where} cannot be written: {parent} is a file, not a directory")
        if path.is_dir():
            raise OutputPathError(f"{where} is a directory, where the file goes; remove or rename it")
        if path.exists():
            if not path.is_file():
                raise OutputPathError(f"{where} is not a regular file (a device, pipe or socket); remove it")
            try:  # opened to append, nothing written: the file stays as it is (os.access says yes to root)
                with open(path, "ab"):
                    pass
            except OSError as exc:
                raise OutputPathError(f"{where} is not writable: {_why(exc)}") from None
            continue
        existing = next((p for p in path.parents if p.exists()), None)
        if existing is not None and existing != out_dir and not os.access(existing, os.W_OK | os.X_OK):
            raise OutputPathError(f"{where} cannot be created: {shown_path(existing)} is not writable")


def report_targets(r: Report, fmt: str, stem: str | None = None) -> list[str]:
    """The file names write_report(r, fmt) writes: the report, and for Markdown its plots."""
    stem = stem or stem_of(r)
    names = [f"{stem}.{EXTENSIONS[fmt]}"]
    if fmt == "markdown":
        names += [f"{stem}-{p}.png" for p in r.plots if isinstance(p, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", p)]
    return names


def _write(path: Path, data: str | bytes) -> None:
    """Write one output file; an OSError (a directory in its place, no permission, a full or read-only disk) is an
    OutputPathError naming the path and why."""
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise OutputPathError(f"cannot write {shown_path(path)}: {_why(exc)}") from None


def write_report(r: Report, fmt: str, out_dir: Path, stem: str | None = None,
                 pngs: dict[str, bytes | str] | None = None) -> list[Path]:
    """Write the report into out_dir as <stem>.<ext> (stem_of: the name its own command gives it); Markdown also
    writes its plots as PNGs beside it (<stem>-<plot>.png) and links them. pngs: plots already rendered
    (reports.plots.render_all). A file that cannot be written is an OutputPathError naming it (exit 2)."""
    require_finite(r.to_dict(), f"{r.puzzle} report")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create the directory {shown_path(out_dir)}: {_why(exc)}") from None
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
                _write(p, png)
                written.append(p)
                images[name] = p.name
        text = to_markdown(r, images=images)
        failed = {n: e for n, e in pngs.items() if not isinstance(e, bytes)}
        if failed:
            text += "\n" + "\n".join(f"- plot {n} could not be drawn: {e}" for n, e in failed.items()) + "\n"
        _write(path, text)
    elif fmt == "html":
        _write(path, to_html(r, pngs))
    else:
        _write(path, render(r, fmt))
    return [path, *written]
