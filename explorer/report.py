"""The one result type every puzzle returns, and that every report format renders.

A Report keeps its inputs beside its outputs (track, the full scenario it was solved for,
assumptions with sources), and round-trips through JSON (`Report.from_dict(report.to_dict())`), so a
saved answer can be re-rendered, and attempts graded against it, without solving again.

`scenario` holds every option that defines the puzzle's instance, defaults resolved, in the units the
puzzle's `solve` and `evaluate_attempt` take: `evaluate_attempt(values, track, **report.scenario)`
grades against exactly the instance the report was solved for (solver settings such as the engine
or time limit are not part of it).

A saved report (`to_dict`, `--format json`) carries the explorer version that made it, the model version its
figures were computed with (explorer.model_version: a fingerprint of the cost model, puzzles, solvers, data and
catalogs, since the package version stays put while they change; "unknown" in a file saved before it) and a
checksum (SHA-256 of its canonical JSON without the checksum itself, so it covers both versions). `from_dict`
recomputes it: `integrity` is "verified", "mismatch" (the content was changed after it was saved) or "missing"
(no checksum: hand written, or saved by a version before checksums). Renderers show a warning instead of the
status badge for a report that is not verified (`status_label`). The checksum detects edits, not forgery: anyone
can recompute it, so it proves nothing about who made the file. Attempts are graded only against a report of
today's model version (explorer.reports.attempts.check_model_version).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from explorer.errors import short
from explorer.model_version import model_version
from explorer.reports.format import CELL_FORMATS

if TYPE_CHECKING:
    import pandas as pd


STATUSES = ("optimal", "feasible", "infeasible", "computed")
STATUS_TEXT = {"optimal": "OPTIMAL (proven)", "feasible": "FEASIBLE, not proven optimal",
               "infeasible": "INFEASIBLE", "computed": "computed"}
UNVERIFIED_CHECKSUM = "none: re-saved from a report whose content did not match the checksum it was saved with"
"""The checksum a re-saved edited report carries: no SHA-256 matches it, so the file loads as 'mismatch' again."""
INTEGRITY_WARNING = {
    "mismatch": "UNVERIFIED: the content does not match the checksum it was saved with (edited after saving)",
    "missing": "UNVERIFIED: no checksum (not saved by explore, or by a version before checksums)",
}


@cache
def explorer_version() -> str:
    """The installed explorer's version (package metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("explorer")
    except PackageNotFoundError:
        return "unknown"


def _plain(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy scalars and arrays
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _canonical(d: dict[str, Any]) -> str:
    """The JSON text a checksum is taken of: sorted keys, no spaces, numpy values as plain numbers."""
    return json.dumps(d, sort_keys=True, separators=(",", ":"), default=_plain, ensure_ascii=True)


def checksum_of(d: dict[str, Any]) -> str:
    """'sha256:<hex>' of a saved report's content (every key but 'checksum')."""
    body = {k: v for k, v in d.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


def check_names(puzzle: Any, track: Any) -> None:
    """A report's puzzle and track must be names the explorer knows (they name its output files)."""
    from explorer.puzzles import PUZZLES
    from explorer.tracks import TRACKS

    if puzzle not in PUZZLES:
        raise ValueError(f"puzzle {str(puzzle)[:40]!r} is not one of {', '.join(PUZZLES)}")
    if track not in (*TRACKS, "custom"):
        raise ValueError(f"track {str(track)[:40]!r} is not one of {', '.join(TRACKS)}, custom")


# --- a saved report's shape (checked before anything reads it) ------------------------------------------
MAX_DEPTH = 64  # a saved report nests 6 levels (an attempts report a few more); a file nested deeper is no report
_SCALAR = (str, int, float, bool, type(None))


def _kind(v: Any) -> str:
    """What a JSON value is, as a message names it."""
    if isinstance(v, bool):
        return "true/false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _given(v: Any) -> str:
    """A value as a message quotes it: JSON's spelling of true, false and null, a container by its kind."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    return _kind(v) if isinstance(v, (dict, list, tuple)) else short(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _scan(d: Any) -> None:
    """Depth, non-finite and oversized numbers anywhere in the file (without recursion: a deep file must not
    overflow the stack here); the first problem as a ValueError naming where it is."""
    stack: list[tuple[Any, str, int]] = [(d, "", 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            where = path if len(path) <= 60 else path[:60] + "..."
            raise ValueError(f"{where} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(v, float) and not math.isfinite(v):
            what = "NaN" if math.isnan(v) else "infinite (Infinity, or a number beyond 1.8e308)"
            raise ValueError(f"{path or 'the file'} is {what}")
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**1024:
            raise ValueError(f"{path} is a number too large for a float ({len(str(abs(v)))} digits)")
        if isinstance(v, dict):
            stack += [(x, f"{path}.{k}" if path else str(k), depth + 1) for k, x in v.items()]
        elif isinstance(v, (list, tuple)):
            stack += [(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)]


# A checker takes (value, path) and raises a ValueError naming the path, what is allowed and the value given.
Checker = Callable[[Any, str], None]


def _typed(test: Callable[[Any], bool], want: str) -> Checker:
    def check(v: Any, path: str) -> None:
        if not test(v):
            raise ValueError(f"{path} must be {want}, got {_given(v)}")
    return check


def _list_of(item: Checker, want: str) -> Checker:
    def check(v: Any, path: str) -> None:
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"{path} must be a list of {want}, got {_kind(v)}")
        for i, x in enumerate(v):
            item(x, f"{path}[{i}]")
    return check


_STR = _typed(lambda v: isinstance(v, str), "a string")
_NUM = _typed(_is_number, "a number")
_BOOL = _typed(lambda v: isinstance(v, bool), "true or false")
_OBJECT = _typed(lambda v: isinstance(v, dict), "an object")
_CELL = _typed(lambda v: isinstance(v, _SCALAR), "a number, string, true/false or null")
_FIGURE_VALUE = _typed(lambda v: isinstance(v, _SCALAR) or (isinstance(v, (list, tuple)) and all(
    isinstance(x, _SCALAR) for x in v)), "a number, string, true/false, null or a list of them")
_RECORDS: dict[str, tuple[str, dict[str, tuple[Checker, bool]]]] = {  # each record's keys: checker, required
    "figures": ("{value, unit, label}", {"value": (_FIGURE_VALUE, True), "unit": (_STR, False),
                                         "label": (_STR, False)}),
    "findings": ("{question, answer}", {"question": (_STR, True), "answer": (_STR, True)}),
    "constraints": ("{name, value, limit, unit, sense, binding, text}", {
        "name": (_STR, True), "value": (_NUM, True), "limit": (_NUM, True), "unit": (_STR, False),
        "sense": (_typed(lambda v: v in ("<=", ">=", "=="), "one of '<=', '>=', '=='"), False),
        "binding": (_BOOL, False), "text": (_STR, False), "judged": (_BOOL, False),
        "satisfied": (_BOOL, False), "slack": (_NUM, False)}),  # written by to_dict, recomputed on load
    "formulas": ("{name, expression, source, note}", {"name": (_STR, True), "expression": (_STR, True),
                                                      "source": (_STR, True), "note": (_STR, False)}),
    "assumptions": ("{text, source}", {"text": (_STR, True), "source": (_STR, False)}),
    "tables": ("{columns, rows, title, formats}", {
        "columns": (_list_of(_STR, "column names"), True),
        "rows": (_list_of(_list_of(_CELL, "cells"), "rows"), True),
        "title": (_STR, False),
        "formats": (_list_of(_typed(lambda v: isinstance(v, str) and (v == "" or v in CELL_FORMATS),
                                    "'' or one of " + ", ".join(repr(f) for f in CELL_FORMATS)),
                             "column formats"), False)}),
}
_TOP: dict[str, tuple[Checker, bool]] = {
    "puzzle": (_STR, True), "track": (_STR, True), "lab": (_STR, True),
    "part": (_typed(lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"), True),
    "title": (_STR, True), "status": (_STR, True), "headline": (_STR, True),
    "plots": (_list_of(_STR, "plot names"), False),
    "data": (_OBJECT, False), "extra": (_OBJECT, False), "scenario": (_OBJECT, False),
    "solve_time_s": (_typed(lambda v: _is_number(v) and v >= 0, "a number of seconds >= 0"), False),
    "explorer_version": (_STR, False), "model_version": (_STR, False), "checksum": (_STR, False),
}


def _check_keys(obj: dict, spec: dict[str, tuple[Checker, bool]], where: str) -> None:
    for k, (check, required) in spec.items():
        if k in obj:
            check(obj[k], f"{where}.{k}" if where else k)
        elif required:
            raise ValueError(f"{where + ' has' if where else 'it has'} no {k!r}")


def _check_record(rec: Any, spec: dict[str, tuple[Checker, bool]], shape: str, where: str) -> None:
    if not isinstance(rec, dict):
        raise ValueError(f"{where} must be an object {shape}, got {_kind(rec)}")
    unknown = [k for k in rec if k not in spec]
    if unknown:
        raise ValueError(f"{where} has an unknown key {str(unknown[0])[:40]!r} (allowed: {', '.join(spec)})")
    _check_keys(rec, spec, where)
    if "rows" in rec:  # a table: every row as long as the columns, a format for each column (or none)
        n = len(rec["columns"])
        for i, row in enumerate(rec["rows"]):
            if len(row) != n:
                raise ValueError(f"{where}.rows[{i}] has {len(row)} cells for {n} columns")
        if rec.get("formats") and len(rec["formats"]) != n:
            raise ValueError(f"{where}.formats has {len(rec['formats'])} entries for {n} columns")


def check_saved(d: Any) -> None:
    """A saved report's shape, checked field by field: a ValueError naming the first field that is missing, of
    the wrong type, NaN, infinite or too deep (the loader never meets a value it would choke on)."""
    if not isinstance(d, dict):
        raise ValueError(f"a saved report is a JSON object, got {_kind(d)}")
    _scan(d)
    _check_keys(d, _TOP, "")
    for name, (shape, spec) in _RECORDS.items():
        if name not in d:
            continue
        v = d[name]
        if name in ("figures", "tables"):
            if not isinstance(v, dict):
                raise ValueError(f"{name} must be an object of {shape} entries, got {_kind(v)}")
            for k, rec in v.items():
                _check_record(rec, spec, shape, f"{name}.{k}")
        else:
            if not isinstance(v, (list, tuple)):
                raise ValueError(f"{name} must be a list of {shape}, got {_kind(v)}")
            for i, rec in enumerate(v):
                _check_record(rec, spec, shape, f"{name}[{i}]")


def status_label(r: Report) -> str:
    """The status as shown to the reader: the badge text, or a warning when a loaded report is not verified."""
    text = STATUS_TEXT.get(r.status, r.status)
    scope = r.extra.get("proven_over") if isinstance(r.extra, dict) else None
    if r.status == "optimal" and isinstance(scope, str) and scope:  # a proof over part of the question's space
        text = f"OPTIMAL (proven {scope})"
    if r.integrity in INTEGRITY_WARNING:
        return f"{INTEGRITY_WARNING[r.integrity]}; it claims: {text}"
    return text


@dataclass
class Figure:
    """One number with its unit and a human label (e.g. MFU 0.52 'fraction')."""

    value: Any
    unit: str = ""
    label: str = ""


@dataclass
class Finding:
    """A lab question and its computed answer."""

    question: str
    answer: str


@dataclass
class Constraint:
    """A constraint of a puzzle at the answer: value vs limit, slack, binding or violated."""

    name: str
    value: float
    limit: float
    unit: str = ""
    sense: str = "<="  # "<=", ">=" or "=="
    binding: bool = False
    text: str = ""
    judged: bool = True  # False: whether a looser limit would change the answer was not checked (saved only then)

    @property
    def satisfied(self) -> bool:
        tol = 1e-9 * max(1.0, abs(self.limit))
        if self.sense == "<=":
            return self.value <= self.limit + tol
        if self.sense == ">=":
            return self.value >= self.limit - tol
        return abs(self.value - self.limit) <= tol

    @property
    def slack(self) -> float:
        return self.limit - self.value if self.sense == "<=" else self.value - self.limit


@dataclass
class Formula:
    """A formula shown in the math peek, with its source (and a note where a lab text differs)."""

    name: str
    expression: str
    source: str
    note: str = ""


def check_text_width(width: Any) -> int | None:
    """A text width as given (None: the terminal's), or a one-line UsageError naming the value and the range the
    renderer draws in (reports.text MIN_WIDTH..MAX_WIDTH, the range it clamps a terminal's width into): a width
    outside it was clamped without a word, so width=10 gave 40-column text."""
    if width is None:
        return None
    from explorer.reports.text import MAX_WIDTH, MIN_WIDTH

    if isinstance(width, bool) or not isinstance(width, int) or not MIN_WIDTH <= width <= MAX_WIDTH:
        from explorer.errors import UsageError

        raise UsageError(f"width {short(width)} is not allowed: a whole number of columns from {MIN_WIDTH} to "
                         f"{MAX_WIDTH} (None: the terminal's width)")
    return width


@dataclass
class Assumption:
    text: str
    source: str = ""


class UnknownName(KeyError):
    """A name a report does not hold (a figure, a table): a KeyError whose message lists the names it does."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _unknown(what: str, name: Any, names: Any) -> UnknownName:
    known = ", ".join(repr(k) for k in names) or "none"
    return UnknownName(f"no {what} {short(name)} in this report; its {what}s: {known}")


class Tables(dict):
    """A report's tables by name (a dict); a name it does not hold is a KeyError listing the ones it does."""

    def __missing__(self, key: Any) -> Any:
        raise _unknown("table", key, self)


@dataclass
class Table:
    """A table of a report. `rows` hold the values (numbers in the unit the column's name or format says: bytes,
    seconds, fractions), `formats` how each column prints them in every report (reports.format.CELL_FORMATS: '51.5%'
    for the fraction 0.515, '50.89 GB' for 5.089e10 bytes; empty: every cell as fmt_value prints it); `to_frame()`
    gives a DataFrame of the values, `text_rows()` the cells as the reports print them."""

    columns: list[str]
    rows: list[list[Any]]
    title: str = ""
    formats: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.formats:
            if len(self.formats) != len(self.columns):
                raise ValueError(f"a table of {len(self.columns)} columns has {len(self.formats)} formats")
            bad = [f for f in self.formats if f and f not in CELL_FORMATS]
            if bad:
                raise ValueError(f"column format {short(bad[0])} is not one of {', '.join(CELL_FORMATS)}")

    def to_frame(self) -> pd.DataFrame:
        """The values as a pandas DataFrame (numbers stay numbers: sort or sum them)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def text_rows(self) -> list[list[str]]:
        """The cells as the reports print them (each column through its format)."""
        from explorer.reports.render import cell, column_formats

        fmts = column_formats(self.formats, len(self.columns))
        return [[cell(v, f) for v, f in zip(r, fmts)] for r in self.rows]

    # --- presentation: the table as the reports render it (numbers with their units, never a numpy repr) ---------
    def __repr__(self) -> str:  # a notebook cell's value, the REPL: the text table; .rows holds the values
        return self.to_text()

    def to_text(self, width: int | None = None) -> str:
        """The table as the text report draws it (its title, then the columns fitted to `width`, default the
        terminal's), cells formatted as there; .to_frame() gives a DataFrame of the values."""
        from explorer.reports.text import TextDoc

        doc = TextDoc()
        if self.title:
            doc.line(self.title, style="bold")
        return doc.table(self.columns, self.rows, formats=self.formats).render(check_text_width(width)).strip("\n")

    def _repr_html_(self) -> str:  # Jupyter, marimo, VS Code notebooks: the table as the HTML report has it
        from html import escape

        from explorer.reports.html import CSS, table_html

        title = f"<p><b>{escape(self.title)}</b></p>" if self.title else ""
        return (f"<div class='explorer-report'><style>{CSS}</style>{title}"
                f"{table_html(self.columns, self.rows, formats=self.formats)}</div>")


@dataclass
class Report:
    """A solved lab part for one track."""

    puzzle: str
    lab: str
    part: int
    track: str
    title: str
    status: str
    headline: str
    figures: dict[str, Figure] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    formulas: list[Formula] = field(default_factory=list)
    assumptions: list[Assumption] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=Tables)  # a Tables: a missing name's KeyError lists them
    plots: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    solve_time_s: float = 0.0
    scenario: dict[str, Any] = field(default_factory=dict)
    explorer_version: str = field(default_factory=explorer_version)
    model_version: str = field(default_factory=model_version)  # the cost model's fingerprint its figures come from
    integrity: str = ""  # set by from_dict: "verified", "mismatch" or "missing"; "" for a report made here

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {str(self.status)[:40]!r} not in {STATUSES}")
        if not isinstance(self.tables, Tables):
            self.tables = Tables(self.tables)

    def figure(self, name: str) -> Any:
        """The value of the figure `name` (a key of `figures`: 'mfu', 'step_time_s', ...), in its unit
        (`figures[name].unit`: a fraction, seconds, bytes). A name the report does not hold is a KeyError listing
        the ones it does."""
        if name not in self.figures:
            raise _unknown("figure", name, self.figures)
        return self.figures[name].value

    # --- presentation (renderers live in explorer.reports.render; imported on use) ----------------------
    def __repr__(self) -> str:  # the headline; print(report) or report.to_text() gives the whole report
        head = self.headline if len(self.headline) <= 160 else self.headline[:157].rstrip() + "..."
        return f"<Report {self.puzzle} [{self.track}] {self.status}: {head}>"

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, width: int | None = None) -> str:
        """The report as plain text wrapped to `width` columns (default: the terminal's, else $COLUMNS, else 80).
        A width is a whole number from 40 to 500 (check_text_width): narrower, prose wraps a word to a line and tables
        turn unreadable; anything else is a one-line UsageError."""
        from explorer.reports.render import to_text

        return to_text(self, width=check_text_width(width))

    def to_markdown(self) -> str:
        from explorer.reports.render import to_markdown

        return to_markdown(self)

    def to_html(self, *, full_page: bool = True) -> str:
        """A self-contained HTML page (plots embedded), or with full_page=False the fragment a notebook shows."""
        from explorer.reports.render import to_html

        return to_html(self, full_page=full_page)

    def to_json(self) -> str:
        from explorer.reports.render import to_json

        return to_json(self)

    def _repr_html_(self) -> str:  # Jupyter, marimo, VS Code notebooks
        return self.to_html(full_page=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, with its checksum (the JSON of `--format json`). A report loaded unverified
        (integrity 'mismatch' or 'missing') keeps saying so: no checksum vouches for it, an 'integrity' field and
        its warning say why, and an edited report's checksum stays one that cannot match (UNVERIFIED_CHECKSUM), so
        loading it again says 'edited after saving' (not 'no checksum', which would launder the edit) and grading
        with it stays refused."""
        d = asdict(self)
        d.pop("integrity")
        for t in d["tables"].values():
            if not t.get("formats"):  # a table without formats is saved as before they existed
                t.pop("formats", None)
        for c, obj in zip(d["constraints"], self.constraints):
            c["satisfied"] = obj.satisfied
            c["slack"] = obj.slack
            if obj.judged:  # the usual case stays out of the file (reports saved before the field read the same)
                c.pop("judged")
        d.update({k: v for k, v in self.extra.items() if k not in d})  # extra never hides a field
        d = json.loads(json.dumps(d, default=_plain))  # plain JSON values, as a reader of the file sees them
        if self.integrity not in INTEGRITY_WARNING:  # never vouch for content loaded unverified
            d["checksum"] = checksum_of(d)
        else:
            d["integrity"] = self.integrity
            d["integrity_warning"] = INTEGRITY_WARNING[self.integrity]
            if self.integrity == "mismatch":
                d["checksum"] = UNVERIFIED_CHECKSUM
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """A report from saved data; `integrity` says whether its checksum matches its content. Data that is not
        a saved report (a field missing or of the wrong type, a NaN or infinite number, nested too deeply) is a
        ValueError naming the field."""
        check_saved(d)
        check_names(d.get("puzzle"), d.get("track"))
        saved = d.get("checksum")
        integrity = "missing" if not saved else ("verified" if saved == checksum_of(d) else "mismatch")
        d = dict(d)
        d.pop("integrity", None)
        d.setdefault("explorer_version", "unknown")
        d.setdefault("model_version", "unknown")  # saved before reports carried it: which model made it is not known
        known = {f for f in cls.__dataclass_fields__}
        for k in [k for k in d if k not in known]:
            d.pop(k)
        d["figures"] = {k: Figure(**v) for k, v in d.get("figures", {}).items()}
        d["findings"] = [Finding(**f) for f in d.get("findings", [])]
        d["constraints"] = [Constraint(**{k: v for k, v in c.items() if k not in ("satisfied", "slack")})
                            for c in d.get("constraints", [])]
        d["formulas"] = [Formula(**f) for f in d.get("formulas", [])]
        d["assumptions"] = [Assumption(**a) for a in d.get("assumptions", [])]
        d["tables"] = {k: Table(**t) for k, t in d.get("tables", {}).items()}
        for i, c in enumerate(d["constraints"]):
            if not math.isfinite(c.slack):  # finite value and limit whose difference is not (1e308 vs -1e308)
                raise ValueError(f"constraints[{i}]: value and limit are too far apart to subtract")
        return cls(**d, integrity=integrity)
