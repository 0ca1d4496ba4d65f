"""`ThreeDResult.binding` as the API returns it (Binding, BindingConstraint), and the API's form of a 3D result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from explorer.api.results import Estimate
from explorer.cost.step import StepEstimate
from explorer.puzzles.threed import ThreeDResult


@dataclass(frozen=True)
class BindingConstraint:
    """One limit of the 3D puzzle at its answer, as the report's Constraints table has it: the value against the
    limit in `unit` (B: bytes, fraction: a share of 1), the slack left (limit - value), whether it binds, and for a
    proven optimum the best plan without it (where it binds)."""

    constraint: str
    value: float
    limit: float
    unit: str
    slack: float
    binds: bool
    without_it: str = ""

    def row(self) -> list[str]:
        """constraint, value, limit, slack and binds as text, each number with its unit."""
        from explorer.reports.format import fmt_value

        return [self.constraint, fmt_value(self.value, self.unit), fmt_value(self.limit, self.unit),
                fmt_value(self.slack, self.unit), "yes" if self.binds else "no"]

    def __repr__(self) -> str:
        name, value, limit, slack, _ = self.row()
        tail = f" (without it: {self.without_it})" if self.without_it else ""
        return (f"<BindingConstraint {name}: {value} of {limit}, slack {slack}, "
                f"{'binds' if self.binds else 'does not bind'}{tail}>")


class Binding(Mapping):
    """`ThreeDResult.binding` as the API returns it: which limits bind at the answer, readable. It prints and shows in
    a notebook as a table (constraint, value, limit, slack, binds, the best plan without it); `.constraints` holds
    the rows (BindingConstraint), `.names` the constraints that bind. The explainer's own data (analysed, evaluated,
    enumeration_time_s, memory/bubble/both: the what-if re-solves, unrounded) is kept as `.raw`, and the mapping
    reads it (`binding["memory"]["binds"]`), so code written for the plain dict still works."""

    _KEYS = {"memory per device": "memory", "bubble fraction": "bubble"}  # report constraint -> explainer key
    COLUMNS = ["constraint", "value", "limit", "slack", "binds"]

    def __init__(self, raw: dict[str, Any], result: ThreeDResult) -> None:
        self.raw = dict(raw)
        self._result = result
        self._rows: list[BindingConstraint] | None = None

    def __getitem__(self, key: str) -> Any:
        try:
            return self.raw[key]
        except KeyError:
            valid = ", ".join(map(repr, self.raw)) or "none (nothing was analysed)"
            raise KeyError(f"{key!r} is not in the binding data; valid keys: {valid} (the constraints that bind: "
                           f".names; their rows: .constraints)") from None

    def __iter__(self):
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def constraints(self) -> list[BindingConstraint]:
        """The inequality limits at the answer (memory, bubble, TP within a node), from the report's Constraints:
        the equalities (devices, global batch) define the problem and always hold."""
        if self._rows is None:
            rows = []
            for c in self._result.report.constraints:
                if c.sense == "==":
                    continue
                info = self.raw.get(self._KEYS.get(c.name, ""), {}) if c.binding else {}
                without = (f"{info['plan']}, MFU {info['mfu']:.1%}" if isinstance(info, dict) and "plan" in info
                           and "mfu" in info else "")
                rows.append(BindingConstraint(c.name, float(c.value), float(c.limit), c.unit, float(c.slack),
                                              bool(c.binding), without))
            self._rows = rows
        return self._rows

    def to_dict(self) -> dict[str, Any]:
        """Plain data: each inequality limit at the answer (constraint, value, limit, unit, slack, binds,
        without_it: the best plan without it), the names of those that bind, and the explainer's data (.raw)."""
        from dataclasses import asdict

        return {"constraints": [asdict(c) for c in self.constraints], "binding": self.names, "raw": dict(self.raw)}

    @property
    def names(self) -> list[str]:
        """The constraints that bind (e.g. ['memory per device'])."""
        return [c.constraint for c in self.constraints if c.binds]

    def _lines(self) -> tuple[str, list[str]]:
        """The heading (what 'binds' means here) and, under the table, the best plan without each binding limit."""
        proven = self._result.status == "optimal"
        judged = proven and bool(self.raw.get("analysed", True))
        head = (f"Binding constraints at the {'optimum' if proven else 'answer'} (binds: "
                + ("lifting the limit would allow a faster step, the solver re-solved without it)" if judged else
                   "the answer sits on the limit; the design space is too large for the what-if run, so lifting a "
                   "limit was not judged)" if proven else
                   "the answer sits on the limit; not proven optimal, so lifting a limit was not judged)"))
        return head, [f"without the {c.constraint} limit: {c.without_it}" for c in self.constraints if c.without_it]

    def __repr__(self) -> str:
        from explorer.reports.text import TextDoc

        head, notes = self._lines()
        doc = TextDoc().line(head).table(self.COLUMNS, [c.row() for c in self.constraints])
        for n in notes:
            doc.line(n)
        return doc.line("(the explainer's data, unrounded: .raw)").render(100).strip("\n")

    def _repr_html_(self) -> str:
        from html import escape

        from explorer.reports.html import CSS, table_html

        head, notes = self._lines()
        return (f"<div class='explorer-report'><style>{CSS}</style><p><b>{escape(head)}</b></p>"
                f"{table_html(self.COLUMNS, [c.row() for c in self.constraints])}"
                + "".join(f"<p>{escape(n)}</p>" for n in notes) + "</div>")


def _readable(res: ThreeDResult) -> ThreeDResult:
    """The API's form of a 3D result: its plans as Estimates (so `.memory_gb`, `.time_s` and a notebook view with
    units come along; the same objects: res.best is res.top[0] stays true) and `.binding` as a Binding view."""
    setup = res.instance.setup
    seen: dict[int, Estimate] = {}

    def of(e: StepEstimate | None) -> Estimate | None:
        if e is None or isinstance(e, Estimate):
            return e
        if id(e) not in seen:
            seen[id(e)] = Estimate.of(setup, e)
        return seen[id(e)]

    res.top = [of(e) for e in res.top]
    res.best, res.crisis = of(res.best), of(res.crisis)
    if not isinstance(res.binding, Binding):
        res.binding = Binding(res.binding or {}, res)
    return res
