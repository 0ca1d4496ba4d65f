"""Terminal text for a Report that fits the screen: prose wrapped to the width, tables that fit as
tables, wrap their cells when they can, and turn into records (one block of `column  value` lines per
row) when even wrapping cannot make them fit.

Layout is done by rich (https://github.com/Textualize/rich): it measures every cell, shrinks and wraps
columns, folds words longer than a line and handles wide characters, which is what a hand-written
`ljust` layout got wrong. The output is plain text (ASCII rules, no escape codes) unless `color` is
asked for, which the CLI does only when stdout is a terminal.
"""

from __future__ import annotations

import io
import re
import shutil
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

    from explorer.report import Report

DEFAULT_WIDTH = 80
MIN_WIDTH, MAX_WIDTH = 40, 500  # a width from $COLUMNS or the caller is clamped into this range
_NUMBER = re.compile(r"^[-+~]?[$]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?\s?(%|x|[a-zA-Z/]{1,6}(/s)?)?$")
# A number and its unit ("196.61 KB", "86.400 J", "12 tokens/s") and a comparison and its number ("<= 196.61")
# are never split over two lines (as a non-breaking space keeps them in typesetting, SI Brochure 9th ed.
# sec. 5.4.3: "a space separates the number and the unit"; they belong on one line).
_UNIT = (r"(?:[kKMGTPEZmunµ]i?)?(?:B|b|W|Wh|J|Hz|V|A|mAh|s|h|d|m|min|ms|us|ns|bit|bits|bytes?|FLOPs?|"
         r"USD|tokens|samples|steps|rounds|days|dB|dBm)(?:/(?:s|h|day|GPU|device|step|token|round|J|W))?|%|x")
_GLUE_UNIT = re.compile(r"(?<![\w.])([-+~]?[$]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?) (" + _UNIT + r")(?![\w/])")
_GLUE_OP = re.compile(r"(?<!\S)(<=|>=|==|!=|<|>|=|~|\u2264|\u2265) (?=[-+~]?[$]?\.?\d)")
GLUE = "\x1f"  # stands for a space no line may break at while a cell is measured and wrapped (never printed)


def terminal_width(default: int = DEFAULT_WIDTH) -> int:
    """$COLUMNS when set, else the terminal's width when stdout is one, else `default` (80)."""
    return clamp_width(shutil.get_terminal_size((default, 24)).columns)


def wrap(text: str, width: int | None = None, first: str = "", rest: str = "") -> list[str]:
    """Plain prose (not a Report) wrapped to `width` columns (the terminal's when None), the first line indented
    by `first` and the others by `rest`; words are never broken at hyphens, so option names (--max-bubble) and
    file names stay whole. An empty text gives no line."""
    return textwrap.wrap(text, width or terminal_width(), initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)


def want_color() -> bool:
    """ANSI styles only for a terminal (never into a file or a pipe), and not when NO_COLOR is set."""
    import os
    import sys

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def clamp_width(width: int) -> int:
    return max(MIN_WIDTH, min(MAX_WIDTH, int(width)))


def is_numeric(value: Any, text: str) -> bool:
    """A cell that reads as a number (with at most a short unit): right-aligned in a numeric column."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return bool(_NUMBER.match(text.strip()))


def numeric_columns(columns: Sequence[Any], rows: Sequence[Sequence[Any]],
                    formats: Sequence[str] | None = None) -> list[bool]:
    """Per column: True when every non-empty cell is a number. The first column holds labels and stays
    left-aligned even when a label starts with a digit ("8 GPUs", "1-bit"). formats: each column's number format
    (Table.formats)."""
    from explorer.reports.render import cell, column_formats

    fmts = column_formats(formats, len(columns))
    out = []
    for i in range(len(columns)):
        cells = [(r[i], cell(r[i], fmts[i])) for r in rows if i < len(r)]
        cells = [(v, t) for v, t in cells if t not in ("", "-")]
        out.append(i > 0 and bool(cells) and all(is_numeric(v, t) for v, t in cells))
    return out


def _box() -> Any:
    from rich.box import Box

    # ASCII: a dashed rule under the header, columns separated by spaces, no frame.
    return Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


GAP = 2  # spaces between two columns


def glue(text: str) -> str:
    """`text` with the spaces inside 'number unit' and 'comparison number' replaced by GLUE."""
    return _GLUE_OP.sub(lambda m: m.group(1) + GLUE, _GLUE_UNIT.sub(lambda m: m.group(1) + GLUE + m.group(2), text))


def _words(text: str) -> list[str]:
    """The unbreakable pieces of a cell (a number stays with its unit), as they print."""
    return [w.replace(GLUE, " ") for w in re.split(r"[ \t\n]+", glue(text)) if w]


def keep_units(text: str, width: int) -> str:
    """A cell wrapped to `width` at its spaces but never between a number and its unit (or a comparison and
    its number); a piece longer than the line is folded (cut), as rich folds a long word. textwrap breaks
    only at ASCII whitespace, so GLUE holds."""
    from rich.cells import cell_len

    glued = glue(text)
    if GLUE not in glued or cell_len(text) <= width:
        return text
    lines = []
    for para in glued.split("\n"):
        lines += textwrap.wrap(para, max(1, width), break_on_hyphens=False) or [""]
    return "\n".join(lines).replace(GLUE, " ")


def column_widths(cells: Sequence[Sequence[str]], width: int, nowrap: Sequence[bool] = ()) -> list[int] | None:
    """Content widths for the columns of `cells` (header row first) within `width`, or None when even
    each column at its longest word (at its whole width when `nowrap`: numbers) does not fit. Columns get
    their natural width when all fit; else each starts at its longest word and shares the rest in
    proportion to what it still lacks (as an HTML table does), so a word is never cut."""
    from rich.cells import cell_len

    n = len(cells[0])
    natural = [max(max((cell_len(line) for line in row[i].split("\n")), default=0) for row in cells) for i in range(n)]
    word = [max(max((cell_len(w) for w in _words(row[i])), default=0) for row in cells) for i in range(n)]
    for i in range(min(n, len(nowrap))):
        if nowrap[i]:  # a number is never split; its header may wrap
            word[i] = max(word[i], *(cell_len(row[i]) for row in cells[1:]))
    room = width - GAP * (n - 1)
    if sum(natural) <= room:
        return natural
    if sum(word) > room:
        return None
    widths = list(word)
    # the spare room goes first to columns of text (their cells wrap), then to the headers of numbers
    for group in ([i for i in range(n) if not (i < len(nowrap) and nowrap[i])], list(range(n))):
        spare = room - sum(widths)
        lack = {i: natural[i] - widths[i] for i in group if natural[i] > widths[i]}
        total = sum(lack.values())
        if spare <= 0 or not total:
            continue
        for i, k in lack.items():
            widths[i] += min(k, spare * k // total)
        for i in sorted(lack, key=lambda i: natural[i] - widths[i], reverse=True):
            if sum(widths) < room and widths[i] < natural[i]:
                widths[i] += 1
    return widths


def table(columns: Sequence[Any], rows: Sequence[Sequence[Any]], width: int,
          formats: Sequence[str] | None = None) -> RenderableType:
    """A table that fits `width`: as is, with wrapped cells, or as records when the columns cannot fit; formats: each
    column's number format (Table.formats)."""
    from explorer.reports.render import cell, column_formats
    from rich.table import Table
    from rich.text import Text

    head = [str(c) for c in columns]
    fmts = column_formats(formats, len(head))
    body = [[cell(v, f) for v, f in zip(r, fmts)] + [""] * (len(head) - len(r)) for r in rows]
    numeric = numeric_columns(columns, rows, fmts)
    widths = column_widths([head, *body], width, numeric)
    if widths is None:
        return records(columns, rows, width, fmts)
    t = Table(box=_box(), show_edge=False, pad_edge=False, padding=(0, GAP - 1, 0, 0), header_style="bold",
              expand=False)
    for c, num, w in zip(head, numeric, widths):
        t.add_column(Text(c), justify="right" if num else "left", overflow="fold", width=w)
    for r in body:
        t.add_row(*(Text(keep_units(c, w)) for c, w in zip(r, widths)))
    return t


def records(columns: Sequence[Any], rows: Sequence[Sequence[Any]], width: int,
            formats: Sequence[str] | None = None) -> RenderableType:
    """A table too wide for the screen, one block per row: `column  value` lines, a blank line between."""
    from explorer.reports.render import cell, column_formats
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    label_width = min(max(len(str(c)) for c in columns), max(10, width // 3))
    value_width = max(1, width - label_width - 2)
    fmts = column_formats(formats, len(columns))
    blocks: list[Any] = []
    for n, r in enumerate(rows):
        g = Table.grid(padding=(0, 2, 0, 0))
        g.add_column(width=label_width, overflow="fold", style="bold")
        g.add_column(overflow="fold")
        for i, (c, v) in enumerate(zip(columns, list(r) + [""] * (len(columns) - len(r)))):
            text = cell(v, fmts[i])
            if i and not text.strip():
                continue  # a blank cell says nothing in a record (an attempt that was not read has no gap)
            g.add_row(Text(str(c)), Text(keep_units(text, value_width)))
        if n:
            blocks.append(Text(""))
        blocks.append(g)
    return Group(*blocks)


def bullet(text: str, mark: str = "-", indent: int = 2) -> RenderableType:
    """A list item whose wrapped lines hang under its first word."""
    from rich.table import Table
    from rich.text import Text

    g = Table.grid()
    g.add_column(width=indent)
    g.add_column(overflow="fold")
    g.add_row(Text(mark), Text(text))
    return g


def _console(width: int, color: bool) -> Any:
    from rich.console import Console

    return Console(file=io.StringIO(), width=width, color_system="standard" if color else None,
                   force_terminal=color, no_color=not color, highlight=False, markup=False, emoji=False,
                   legacy_windows=False, soft_wrap=False, record=False)


class TextDoc:
    """Terminal text built from headings, paragraphs, list items and tables, rendered to fit a width:
    every command's text output goes through one of these (a Report's, `explore validate`'s)."""

    def __init__(self) -> None:
        self._parts: list[Any] = []  # each: width -> a rich renderable

    def heading(self, text: str) -> TextDoc:
        from rich.text import Text

        self._parts += [lambda w: Text(""), lambda w: Text(text, style="bold underline", overflow="fold"),
                        lambda w: Text("")]
        return self

    def line(self, text: Any = "", indent: int = 0, style: str = "") -> TextDoc:
        """A paragraph (str, or a rich Text for mixed styles) wrapped to the width, every line at `indent`."""
        from rich.padding import Padding
        from rich.text import Text

        t = text if isinstance(text, Text) else Text(str(text), style=style, overflow="fold")
        self._parts.append(lambda w: Padding(t, (0, 0, 0, indent)) if indent else t)
        return self

    def bullet(self, text: str, mark: str = "-", indent: int = 0) -> TextDoc:
        """A list item whose wrapped lines hang under its first word."""
        from rich.padding import Padding

        item = bullet(text, mark)
        self._parts.append(lambda w: Padding(item, (0, 0, 0, indent)) if indent else item)
        return self

    def table(self, columns: Sequence[Any], rows: Sequence[Sequence[Any]], indent: int = 0,
              formats: Sequence[str] | None = None) -> TextDoc:
        """A table that fits: as is, with wrapped cells, or as records; formats: each column's number format."""
        from rich.padding import Padding

        self._parts.append(lambda w: Padding(table(columns, rows, w - indent, formats), (0, 0, 0, indent)) if indent
                           else table(columns, rows, w, formats))
        return self

    def render(self, width: int | None = None, color: bool = False) -> str:
        """The text, no line wider than `width` (default: terminal_width()); ANSI styles only with color."""
        width = terminal_width() if width is None else clamp_width(width)
        console = _console(width, color)
        for part in self._parts:
            console.print(part(width))
        out = console.file.getvalue()
        return out if color else "\n".join(s.rstrip() for s in out.split("\n"))


def to_text(r: Report, width: int | None = None, color: bool = False, plots_note: str = "") -> str:
    """The report as terminal text no wider than `width` (default: terminal_width()); plots_note, when given, is
    said under a Plots heading where the other formats show the pictures (render.missing_plots_note)."""
    from explorer.reports.render import constraint_legend, constraint_rows, figure_rows
    from rich.text import Text

    from explorer.report import INTEGRITY_WARNING, status_label

    status_style = {"optimal": "bold green", "feasible": "bold yellow", "infeasible": "bold red"}.get(r.status, "bold")
    if r.integrity in INTEGRITY_WARNING:
        status_style = "bold red"
    doc = TextDoc().line(f"Lab {r.lab} part {r.part}: {r.title} [{r.track}] ({r.puzzle})", style="bold").line()
    status = Text("Status: ")
    status.append(status_label(r), style=status_style)
    if r.solve_time_s:
        status.append(f"   solve time {r.solve_time_s:.3f} s")
    doc.line(status).line().line(r.headline)
    if r.figures:
        doc.heading("Figures").table(["figure", "value"], figure_rows(r))
    if r.findings:
        doc.heading("Questions answered")
        for i, f in enumerate(r.findings):
            if i:
                doc.line()
            doc.bullet(f.question, "*").line(f.answer, indent=2)
    if r.constraints:
        doc.heading("Constraints").table(["constraint", "value", "limit", "slack", "state"], constraint_rows(r))
        legend = constraint_legend(r)
        if legend:
            doc.line().line(legend)
    for name, t in r.tables.items():
        doc.heading(t.title or name).table(t.columns, t.rows, formats=t.formats)
    if plots_note:
        doc.heading("Plots").line(plots_note)
    if r.formulas:
        doc.heading("Math peek")
        for f in r.formulas:
            doc.bullet(f"{f.name}: {f.expression}  [{f.source}]")
            if f.note:
                doc.line(f"note: {f.note}", indent=2)
    if r.assumptions:
        doc.heading("Assumptions")
        for a in r.assumptions:
            doc.bullet(a.text + (f"  [{a.source}]" if a.source else ""))
    return doc.render(width, color)
