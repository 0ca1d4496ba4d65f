"""The one result type every puzzle returns, and that every report format renders.

A Report keeps its inputs beside its outputs (track, the full scenario it was solved for,
assumptions with sources), and round-trips through JSON (`Report.from_dict(report.to_dict())`), so a
saved answer can be re-rendered, and attempts graded against it, without solving again.

`scenario` holds every option that defines the puzzle's instance, defaults resolved, in the units the
puzzle's `solve` and `evaluate_attempt` take: `evaluate_attempt(values, track, **report.scenario)`
grades against exactly the instance the report was solved for (solver settings such as the engine
or time limit are not part of it).

A saved report (`to_dict`, `--format json`) carries the explorer version that made it and a checksum
(SHA-256 of its canonical JSON without the checksum itself). `from_dict` recomputes it: `integrity` is
"verified", "mismatch" (the content was changed after it was saved) or "missing" (no checksum: hand
written, or saved by a version before checksums). Renderers show a warning instead of the status badge
for a report that is not verified (`status_label`). The checksum detects edits, not forgery: anyone
can recompute it, so it proves nothing about who made the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


STATUSES = ("optimal", "feasible", "infeasible", "computed")
STATUS_TEXT = {"optimal": "OPTIMAL (proven)", "feasible": "FEASIBLE, not proven optimal",
               "infeasible": "INFEASIBLE", "computed": "computed"}
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


def status_label(r: Report) -> str:
    """The status as shown to the reader: the badge text, or a warning when a loaded report is not verified."""
    if r.integrity in INTEGRITY_WARNING:
        return f"{INTEGRITY_WARNING[r.integrity]}; it claims: {STATUS_TEXT.get(r.status, r.status)}"
    return STATUS_TEXT[r.status]


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


@dataclass
class Assumption:
    text: str
    source: str = ""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    title: str = ""

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


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
    tables: dict[str, Table] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    solve_time_s: float = 0.0
    scenario: dict[str, Any] = field(default_factory=dict)
    explorer_version: str = field(default_factory=explorer_version)
    integrity: str = ""  # set by from_dict: "verified", "mismatch" or "missing"; "" for a report made here

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {str(self.status)[:40]!r} not in {STATUSES}")

    def figure(self, name: str) -> Any:
        return self.figures[name].value

    # --- presentation (renderers live in explorer.reports.render; imported on use) ----------------------
    def __repr__(self) -> str:  # the headline; print(report) or report.to_text() gives the whole report
        head = self.headline if len(self.headline) <= 160 else self.headline[:157].rstrip() + "..."
        return f"<Report {self.puzzle} [{self.track}] {self.status}: {head}>"

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, width: int | None = None) -> str:
        """The report as plain text wrapped to `width` columns (default: the terminal's, else $COLUMNS, else 80)."""
        from explorer.reports.render import to_text

        return to_text(self, width=width)

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
        """The report as plain data, with its checksum (the JSON of `--format json`)."""
        d = asdict(self)
        d.pop("integrity")
        for c, obj in zip(d["constraints"], self.constraints):
            c["satisfied"] = obj.satisfied
            c["slack"] = obj.slack
        d.update({k: v for k, v in self.extra.items() if k not in d})  # extra never hides a field
        d = json.loads(json.dumps(d, default=_plain))  # plain JSON values, as a reader of the file sees them
        if self.integrity not in INTEGRITY_WARNING:  # never vouch for content loaded unverified
            d["checksum"] = checksum_of(d)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """A report from saved data; `integrity` says whether its checksum matches its content."""
        saved = d.get("checksum")
        integrity = "missing" if not saved else ("verified" if saved == checksum_of(d) else "mismatch")
        d = dict(d)
        d.pop("integrity", None)
        d.setdefault("explorer_version", "unknown")
        check_names(d.get("puzzle"), d.get("track"))
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
        return cls(**d, integrity=integrity)
