"""The one result type every puzzle returns, and that every report format renders.

A Report keeps its inputs beside its outputs (track, the full scenario it was solved for,
assumptions with sources), and round-trips through JSON (`Report.from_dict(report.to_dict())`), so a
saved answer can be re-rendered, and attempts graded against it, without solving again.

`scenario` holds every option that defines the puzzle's instance, defaults resolved, in the units the
puzzle's `solve` and `evaluate_attempt` take: `evaluate_attempt(values, track, **report.scenario)`
grades against exactly the instance the report was solved for (solver settings such as the engine
or time limit are not part of it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


STATUSES = ("optimal", "feasible", "infeasible", "computed")


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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")

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
        d = asdict(self)
        for c, obj in zip(d["constraints"], self.constraints):
            c["satisfied"] = obj.satisfied
            c["slack"] = obj.slack
        d.update({k: v for k, v in self.extra.items() if k not in d})  # extra never hides a field
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        d = dict(d)
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
        return cls(**d)
