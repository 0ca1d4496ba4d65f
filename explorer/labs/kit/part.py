"""The `Part` base class: one lab part for one track, its answers (the solved report, the lock's answer, the
reflection), "check" (the moves graded beside the optimum) and the tables as the student reads them. A subclass per
lab part (`lab05`, `lab06`, `lab08`) gives the controls, the live instruments and the questions."""

from __future__ import annotations

import re
from typing import Any

from explorer.labs.kit.base import (
    Checked,
    Control,
    Live,
    Question,
    finding,
    nearest,
    plain,
    plain_name,
    shown_value,
    solved,
    unique,
)
from explorer.report import Finding, Formula, Report, Table


def _plain_checked(part: Part, c: Checked) -> Checked:
    c.verdict = [Finding(plain(f.question), part.words(plain(f.answer))) for f in c.verdict]
    c.headline = plain(c.report.headline)
    return c


class Part:
    """One lab part for one track. Subclasses give the controls, the live instruments and the questions."""

    puzzle = ""
    figure_words: dict[str, str] = {}  # a graded table's figure column -> what the student reads (kit.shown_table)
    rule: int | None = None  # the lab's iteration rule ("find it in 10 moves")
    graded = True  # moves graded by explorer.reports.attempts (the puzzle has ATTEMPT_VARIABLES)
    reflection_needles: tuple[str, ...] = ()
    reflect = ""  # the reflection question; the explorer's answer is a finding of the report (reflection_needles)
    intro = ""

    def __init__(self, track: str = "cloud") -> None:
        from explorer.puzzles import get_puzzle
        from explorer.tracks import get_track

        self.track = track
        self.t = get_track(track)
        self.info = get_puzzle(self.puzzle)

    # --- identity ---------------------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return f"Part {self.info.part}: {self.info.title}"

    def stand_in(self, data: dict[str, Any]) -> Report:
        """A report carrying only what a figure reads (its data, the track, the title)."""
        return Report(puzzle=self.puzzle, lab=self.info.lab, part=self.info.part, track=self.track,
                      title=self.info.title, status="computed", headline="", data=data)

    # --- what a subclass gives ----------------------------------------------------------------------------
    def controls(self) -> list[Control]:
        raise NotImplementedError

    def live(self, values: dict[str, Any]) -> Live:
        raise NotImplementedError

    lock: Question

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        """The options of the puzzle's solve for the environment the controls set (default: the track's)."""
        return {}

    # --- answers ------------------------------------------------------------------------------------------
    def report(self, values: dict[str, Any] | None = None) -> Report:
        return solved(self.puzzle, self.track, **self.scenario(values or self.defaults()))

    def defaults(self) -> dict[str, Any]:
        return {c.name: c.default for c in self.controls()}

    def settle(self, values: dict[str, Any] | None) -> dict[str, Any]:
        """The controls' values with each one an option its control offers: a number typed beside a slider snaps to
        the nearest step, a value no control offers (a saved move from another version) falls back to the default."""
        out = {}
        for c in self.controls():
            v = nearest(c.options, (values or {}).get(c.name, c.default)) if c.options else None
            out[c.name] = c.default if v is None else v
        return out

    def shown(self, values: dict[str, Any]) -> Live:
        """`live(values)` in the workbench's words (`plain`): what the app lays out."""
        live = self.live(values)
        live.error = plain(live.error)
        live.alerts = [plain(a) for a in live.alerts]
        live.readouts = [(plain(k), plain(v)) for k, v in live.readouts]
        return live

    def reflection(self) -> Finding:
        """The reflection question and the explorer's answer to it (a finding of the solved report)."""
        r = self.report()
        f = finding(r, *self.reflection_needles) or r.findings[0]
        return Finding(f.question, plain(f.answer))

    # --- what the student reads in the tables --------------------------------------------------------
    def move_rows(self, moves: list[dict[str, Any]]) -> list[dict[str, str]]:
        """The move log as the student reads it: each control's label for a column, its option's label for a
        value (never a program name such as eth_10g or a Python value such as False)."""
        ctrls = {c.name: c for c in self.controls()}
        names = unique([ctrls[k].label if k in ctrls else plain_name(k) for k in (moves[0] if moves else {})])
        return [{name: shown_value(ctrls.get(k), v) for name, (k, v) in zip(names, m.items())} for m in moves]

    def shown_table(self, t: Table) -> Table:
        """A graded table (the moves beside the optimum) as the student reads it: 'move' for the attempt number,
        no file line (the workbench has no file), the controls' labels and their options' labels, plain text."""
        ctrls = {c.name: c for c in self.controls()}
        keep = [i for i, c in enumerate(t.columns) if c != "line"]
        # a control's column is the first of its name (the attempt's values come before its figures, and a figure
        # may share the name: memory's 'optimizer' bytes beside the optimizer chosen)
        control_at = {i: ctrls[t.columns[i]] for i in keep if t.columns[i] in ctrls
                      and t.columns.index(t.columns[i]) == i}
        cols = unique([("move" if t.columns[i] == "#" else control_at[i].label if i in control_at else
                        plain(self.figure_words.get(t.columns[i], t.columns[i]))) for i in keep])
        rows = [[shown_value(control_at[i], row[i]) if i in control_at else
                 plain(row[i]) if isinstance(row[i], str) else row[i] for i in keep] for row in t.rows]
        return Table(cols, [[self.words(x) if isinstance(x, str) else x for x in row] for row in rows],
                     title=plain(t.title))

    def words(self, text: str) -> str:
        """Program names in a sentence ('fabric eth_10g -> ib_ndr', 'micro_batch 8 -> 4') as the controls label
        them. Only names with an underscore or a digit are replaced: a plain word (ring, none) is already read
        as itself, and replacing it could repeat its label."""
        for c in self.controls():
            for key, label in c.labels.items():
                if isinstance(key, str) and key != label and re.search(r"[_\d]", key):
                    text = re.sub(rf"(?<![\w-]){re.escape(key)}(?![\w-])", label, text)
            if "_" in c.name:
                text = re.sub(rf"(?<![\w-]){re.escape(c.name)}(?![\w-])", c.label, text)
        return text

    def formulas(self) -> list[Formula]:
        return list(self.report().formulas)

    def lock_answer(self) -> tuple[int, str]:
        idx, why = self.lock.answer(self)
        return idx, plain(why)

    def check(self, moves: list[dict[str, Any]], values: dict[str, Any] | None = None) -> Checked:
        """Solve the puzzle (the environment of `values`) and grade the moves beside the optimum."""
        from explorer.reports.attempts import grade_attempts

        report = self.report(values)
        if not self.graded or not moves:
            return _plain_checked(self, Checked(report, [], self.verdict(report, moves)))
        graded = grade_attempts(report, moves, source="your moves")
        n = len(report.findings)
        plots = [("attempts", graded)] + self.frontier_plots(graded, moves)
        table = graded.tables.get("attempts")
        return _plain_checked(self, Checked(graded, plots, graded.findings[n:],
                                      self.shown_table(table) if table is not None else None))

    def verdict(self, report: Report, moves: list[dict[str, Any]]) -> list[Finding]:
        """The explorer's answer when there are no moves to grade."""
        head = Finding("What does the explorer find?", report.headline)
        if self.graded and not moves:
            return [head, Finding("Your moves?", "No move yet: change a control, then check again.")]
        return [head]

    def frontier_plots(self, graded: Report, moves: list[dict[str, Any]]) -> list[tuple[str, Report]]:
        return []

