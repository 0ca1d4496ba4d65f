"""The lab kit's vocabulary: the control, question, instrument and outcome types a `Part` hands to the app, the
workbench's wording (`plain`: no command-line flag or file line, 'move' for 'attempt'; a control's value as the
student reads it), the cached solve every part answers from, and the small helpers the parts build their controls
and questions with."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from explorer.report import Finding, Report
from explorer.units import human_bytes, human_percent

if TYPE_CHECKING:
    from explorer.labs.kit.part import Part


# ----------------------------------------------------------------------------------------------- data types

@dataclass
class Control:
    """One slider (kind 'steps': the values it stops at), drop-down or radio ('choice') or switch ('switch')."""

    name: str
    label: str
    kind: str
    options: list[Any] = field(default_factory=list)
    default: Any = None
    labels: dict[Any, str] = field(default_factory=dict)  # value -> what the student reads


@dataclass
class Question:
    """A multiple-choice question whose right option the explorer computes (`answer(part) -> index, why`)."""

    text: str
    options: list[str]
    answer: Callable[[Part], tuple[int, str]]


@dataclass
class Plot:
    """An instrument: a figure of explorer.reports.plots with its data, and a one-line reading (its alt text)."""

    name: str
    data: dict[str, Any]
    reading: str


@dataclass
class Live:
    """What the instruments show for one setting of the controls."""

    plots: list[Plot] = field(default_factory=list)
    readouts: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)  # failure states ("over memory", "bubble > 40%")
    move: dict[str, Any] | None = None  # what the grader grades; None: not a configuration (error)
    error: str = ""


@dataclass
class Checked:
    """The outcome of "check": the solved (and graded) report, the figures to show, the verdict lines."""

    report: Report
    plots: list[tuple[str, Report]]
    verdict: list[Finding]
    table: Any = None  # the graded moves (explorer.report.Table) when the part grades moves
    headline: str = ""  # the report's headline in the workbench's words (plain)


# ----------------------------------------------------------------------------------------------- wording

# The reports and errors are written for the command line; the workbench has no flags, no attempts file and its
# graded attempts are the student's moves. `plain` rewrites what a student would otherwise read as their own
# setting or a file they never saw.
_REWRITES: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"ZeRO comparison not run \(--no-zero\)\.?"),
     "ZeRO comparison not run: the workbench skips the slow 3D solves it needs."),
    (re.compile(r"--framework ([a-z][a-z0-9-]*)"), lambda m: _framework_name(m.group(1))),
    (re.compile(r" \(line \d+\)"), ""),  # a file line: the workbench has no file
    (re.compile(r"\bDoes the attempts file keep\b"), "Do your moves keep"),
    (re.compile(r"\b(the|your) attempts file\b"), "your moves"),
    (re.compile(r"\b(\d[\d,]*) of (\d[\d,]*) rows graded"), r"\1 of \2 moves graded"),
    (re.compile(r"limit of (\d+)\)"), r"limit of \1 moves)"),
    (re.compile(r"\b([Aa])ttempt(s?)\b"), lambda m: ("M" if m.group(1) == "A" else "m") + "ove" + m.group(2)),
    (re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)"), lambda m: m.group(1).replace("-", " ")),
]


def _framework_name(key: str) -> str:
    from explorer.cost.frameworks import BY_KEY

    fw = BY_KEY.get(key)
    return fw.name if fw is not None else key


def plain(text: Any) -> Any:
    """Text for the workbench: no command-line flag (--no-zero, --framework megatron), no file line, 'move' for
    'attempt'. Anything but a string is returned as it is."""
    if not isinstance(text, str) or not text:
        return text
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    return text


def unique(names: list[str]) -> list[str]:
    """Column names made unique (a table with two columns of one name is refused by marimo's table, so the whole
    check failed): a repeated name gets its count, 'optimizer (2)'."""
    out, seen = [], {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def plain_name(name: str) -> str:
    """A program name as words: 'trainable_layers' -> 'trainable layers'."""
    return name.replace("_", " ")


def shown_value(control: Control | None, v: Any) -> str:
    """A control's value as the student reads it: its option's label, yes/no for a flag, the number otherwise."""
    if control is not None:  # by type as well as value: True == 1 would otherwise read a 1 as 'yes'
        label = next((t for k, t in control.labels.items() if type(k) is type(v) and k == v), None)
        if label is not None:
            return label
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return f"{v:g}"
    return plain(str(v)) if isinstance(v, str) else str(v)


def _fmt(v: Any, unit: str) -> str:
    """A figure's value with its unit as a student reads it: yes/no, %, bytes, a time in s/min/h/days, never
    scientific notation (explorer.reports.format.fmt_value)."""
    from explorer.reports.format import fmt_value

    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, (int, float)):
        return plain(str(v))
    if not math.isfinite(float(v)):
        return "-"
    if unit == "fraction":
        return human_percent(float(v))
    if unit == "B":
        return human_bytes(float(v))
    return fmt_value(v, unit)


# ----------------------------------------------------------------------------------------------- cached solves

@lru_cache(maxsize=64)
def _solved(puzzle: str, track: str, options: tuple) -> Report:
    import explorer

    return explorer.solve(puzzle, track=track, **dict(options))


def solved(puzzle: str, track: str, **options: Any) -> Report:
    """explorer.solve(puzzle, track=..., **options), solved once per (puzzle, track, options)."""
    return _solved(puzzle, track, tuple(sorted(options.items())))


def finding(report: Report, *needles: str) -> Finding | None:
    """The first finding whose question contains one of the needles (in order of the needles)."""
    for needle in needles:
        for f in report.findings:
            if needle.lower() in f.question.lower():
                return f
    return None


def bin_of(x: float, edges: list[float]) -> int:
    """Index of the bin of x among ascending edges (len(edges) + 1 bins)."""
    return sum(1 for e in edges if x >= e)


def powers_of_two(top: int, first: int = 1) -> list[int]:
    out, k = [], first
    while k <= top:
        out.append(k)
        k *= 2
    return out or [first]


def space_controls(space: dict[str, list], labels: dict[str, str], defaults: dict[str, Any],
                   option_labels: dict[Any, str] | None = None) -> list[Control]:
    """One control per variable of a puzzle's searched space (`space`: name -> the values its solver searches, the
    lists its grader's single-change moves are drawn from), offering exactly those values, in the order of `labels`.
    A variable the space holds at one value gets no control (it is fixed: `fixed_values`). Yes/no values make a
    switch, numbers a slider, names a drop-down; the default is `defaults[name]` where searched, else the first."""
    out = []
    for name, label in labels.items():
        values = list(space.get(name) or [])
        if len(values) < 2:
            continue
        start = defaults.get(name)
        if all(isinstance(x, bool) for x in values):
            out.append(Control(name, label, "switch", [True, False], bool(start) if start in values else values[0]))
            continue
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)
        opts = sorted(set(values)) if numeric else values
        out.append(Control(name, label, "steps" if numeric else "choice", opts,
                           start if start in opts else opts[0],
                           {} if numeric else {v: (option_labels or {}).get(v, str(v)) for v in opts}))
    return out


def fixed_values(space: dict[str, list]) -> dict[str, Any]:
    """The variables a searched space holds at one value (no control offers them): name -> that value."""
    return {k: v[0] for k, v in space.items() if len(v) == 1}


def nearest(options: list[Any], value: Any) -> Any:
    """`value` as one of a control's options: the option itself if offered, else the nearest number (a typed 20.4
    -> 20), else None (a name or flag no option has)."""
    for o in options:
        if type(o) is type(value) and o == value:
            return o
    nums = [o for o in options if isinstance(o, (int, float)) and not isinstance(o, bool)]
    if isinstance(value, bool) or not nums:
        return next((o for o in options if o == value), None)
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return min(nums, key=lambda o: (abs(o - x), o)) if math.isfinite(x) else None
