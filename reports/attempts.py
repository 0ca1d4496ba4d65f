"""Grade a student's attempts (CSV or JSON, one attempt per row) beside the optimum.

The puzzle module supplies the physics: `ATTEMPT_VARIABLES` (columns, in order), `MAX_ATTEMPTS` (the
lab's iteration rule, or None), optionally `ATTEMPT_FIGURES` (the figures the table shows, in order: a
puzzle whose parts must add up to the total it checks names them all) and
`evaluate_attempt(values, track, **options) -> dict` with keys feasible, figures, violations, objective,
objective_name, sense, neighbours (and optionally read: the attempt's values as the puzzle read them, defaults
filled, which a move is compared with). This module only reads the
file, calls it, compares with `report.extra["objective"]` and writes a table and findings.

A malformed row becomes an error naming the file, line and field; the other rows are still graded.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.reports.attempts_file import FLAG_WORDS, KIND_TEXT, AttemptRow, AttemptSpec, read_file, show
from explorer.reports.format import fmt_value

from explorer.errors import ExplorerError, UsageError
from explorer.model_version import model_version
from explorer.report import Constraint, Finding, Report, Table
from explorer.units import join_words, plural

REL_TOL = 1e-6
NOT_GRADED = "not graded"  # what the feasible column says of a row that was not read or that the puzzle refused
MAX_FIGURE_COLUMNS = 5


@dataclass
class Grade:
    """One graded attempt."""

    number: int
    line: int
    values: dict[str, Any]
    error: str = ""
    feasible: bool = False
    objective: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    gap: float | None = None
    gap_text: str = ""
    reached_optimum: bool = False  # feasible and at the reference (within REL_TOL); never when better than it
    beats: bool = False  # feasible and better than the reference: an unproven one was cut short, a proven one is wrong
    second: float = 0.0  # the puzzle's second objective, oriented (larger is better); 0 where it has none
    on_frontier: bool | None = None
    best_move: str = ""
    beyond_limit: bool = False
    unit: str = ""
    objective_label: str = ""
    outside: list[str] = field(default_factory=list)  # values outside the space the solver searched
    assumed: list[str] = field(default_factory=list)  # variables taken from the scenario, not the file
    written: dict[str, str] = field(default_factory=dict)  # a row that could not be read: its cells as written


# ----------------------------------------------------------------------------------------------- reading

def puzzle_module(puzzle: str, track: str | None = None, form: str | None = None) -> Any:
    """The puzzle module, checked to expose the attempt interface; for a puzzle with another form on some
    tracks (the 3D puzzle's fleet form on edge, mobile and tiny) the module of that form's attempts: the
    `form` a report was solved in (report.extra['form']), else the track's own form."""
    from explorer.puzzles import get_puzzle

    mod = get_puzzle(puzzle).load()
    if track is not None and hasattr(mod, "attempt_module"):
        mod = mod.attempt_module(track, form)
    if not hasattr(mod, "ATTEMPT_VARIABLES") or not hasattr(mod, "evaluate_attempt"):
        raise UsageError(f"puzzle {puzzle!r} has no decision variables a student chooses, so it grades no attempts")
    return mod


def report_module(report: Report) -> Any:
    """The attempts module of a solved report: its puzzle's, in the form the report was solved in."""
    return puzzle_module(report.puzzle, report.track, str(report.extra.get("form") or ""))


def read_attempts(path: Path | str, spec: AttemptSpec | list[str]) -> list[AttemptRow]:
    """Rows of an attempts file (reports.attempts_file.read_file); a list of variables means all required."""
    if not isinstance(spec, AttemptSpec):
        spec = AttemptSpec(list(spec), list(spec))
    return read_file(path, spec).rows


def attempt_spec(report: Report, mod: Any) -> AttemptSpec:
    """The puzzle's columns, kinds and required set, with the defaults of the report's scenario."""
    defaults = {}
    if hasattr(mod, "attempt_defaults"):
        defaults = mod.attempt_defaults(report.track, **scenario_options(report))
    spec = AttemptSpec.of(mod, defaults)
    if hasattr(mod, "attempt_hint"):
        spec.hint = lambda unknown: mod.attempt_hint(report.track, unknown)
    return spec


def template(puzzle: str, fmt: str = "csv", track: str | None = None) -> str:
    """An empty attempts file for a puzzle (on `track`, for a puzzle whose form depends on it): CSV (the
    header row, the lab's rule and each column's values as comments) or JSON (a list with one attempt whose
    values are to be filled in)."""
    mod = puzzle_module(puzzle, track)
    limit = getattr(mod, "MAX_ATTEMPTS", None)
    if fmt == "json":
        return json.dumps([{v: None for v in mod.ATTEMPT_VARIABLES}], indent=2, allow_nan=False) + "\n"
    rule = f"up to {limit} attempts (the lab's rule); one attempt per row" if limit else "one attempt per row"
    lines = [f"attempts for puzzle {puzzle}: {rule}", *allowed_values(mod, track)]
    return "".join(f"# {line}\n" for line in lines) + ",".join(mod.ATTEMPT_VARIABLES) + "\n"


COMMENT_WIDTH = 100  # a template's comment lines, '# ' included: readable in a terminal or an editor


def _wrapped(text: str, indent: str = "", more: str = "  ") -> list[str]:
    """`text` as lines of at most COMMENT_WIDTH characters once '# ' is put before each (a word longer than
    that stays whole), the first indented by `indent`, the rest by `indent + more`."""
    return textwrap.wrap(text, COMMENT_WIDTH - 2, initial_indent=indent, subsequent_indent=indent + more,
                         break_long_words=False, break_on_hyphens=False) or [indent]


def _written(x: float) -> str:
    """A fraction as a file would hold it: 0.5, 1 (not 1.0), 0.00001 (not 1e-05)."""
    import numpy as np

    return np.format_float_positional(x, trim="-")


def listing(values: list) -> list[str]:
    """Values as a template lists them: a run of three or more consecutive whole numbers as 'first-last' (1-64), a
    fraction as written in a file (1, not 1.0)."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while (j + 1 < len(values) and all(isinstance(values[k], int) and not isinstance(values[k], bool)
                                           for k in (j, j + 1)) and values[j + 1] == values[j] + 1):
            j += 1
        out += [f"{values[i]}-{values[j]}"] if j - i >= 2 else [_written(x) if isinstance(x, float) else show(x)
                                                               for x in values[i:j + 1]]
        i = j + 1
    return out


def allowed_values(mod: Any, track: str | None = None) -> list[str]:
    """Comment lines (without '# ') for a template: each column with what it takes, and which columns may be left
    empty. A column the puzzle's attempt_space(track) lists takes the values its grader counts as inside the searched
    space (the lists evaluate_attempt checks with); a name the grader also reads but grades outside that space
    (attempt_choices, e.g. fp32 where the search tries bf16 and fp16) is said to be so. A column it does not list
    says its kind (a whole number, yes/no). One line when that fits COMMENT_WIDTH, else one column a line."""
    track = track or "cloud"
    choices: dict[str, Any] = mod.attempt_choices(track) if hasattr(mod, "attempt_choices") else {}
    space: dict[str, Any] = mod.attempt_space(track) if hasattr(mod, "attempt_space") else {}
    kinds = getattr(mod, "ATTEMPT_KINDS", {})
    required = list(getattr(mod, "ATTEMPT_REQUIRED", mod.ATTEMPT_VARIABLES))

    def one(v: str) -> str:
        if v in space:
            more = [x for x in choices.get(v, []) if x not in space[v]]
            return f"{v}: " + " | ".join(listing(list(space[v]))) + (
                f" (also read, outside the searched space: {', '.join(show(x) for x in more)})" if more else "")
        if v in choices:
            return f"{v}: " + " | ".join(show(x) for x in choices[v])
        return f"{v}: {KIND_TEXT.get(kinds.get(v, 'value'), 'a value')}"

    items = [one(v) for v in mod.ATTEMPT_VARIABLES]
    line = "values: " + "; ".join(items)
    if len(line) + 2 <= COMMENT_WIDTH:
        out = [line]
    else:
        out = ["values (one column a line):"] + [w for item in items for w in _wrapped(item, "  ", "  ")]
    if hasattr(mod, "columns_hint") and not set(mod.ATTEMPT_VARIABLES) <= set(space):
        out += _wrapped(mod.columns_hint(track))  # a form that says the values its search covers, where not above
    optional = [v for v in mod.ATTEMPT_VARIABLES if v not in required]
    if optional:
        out += _wrapped(f"required: {', '.join(required) or 'none'}; an empty cell or a column left out takes the "
                        f"scenario's value ({', '.join(optional)})")
    return out


# ----------------------------------------------------------------------------------------------- grading

def violation_text(c: Constraint) -> str:
    """'memory 91.20 GB > 72.00 GB by 19.20 GB (usable HBM)': a violated constraint with its margin."""
    op = {"<=": ">", ">=": "<"}.get(c.sense, "!=")
    if c.text and (" > " in c.text or " < " in c.text) and " by " in c.text:
        return c.text  # the puzzle already wrote the comparison with its margin
    if c.text and c.sense == "==" and c.value == c.limit == 0:
        return c.text  # a structural rule (the framework, the batch split): its text says what breaks it
    margin = abs(c.value - c.limit)
    text = f"{c.name} {fmt_value(c.value, c.unit)} {op} {fmt_value(c.limit, c.unit)} by {fmt_value(margin, c.unit)}"
    return text + (f" ({c.text})" if c.text else "")


def _oriented(value: float, sense: str) -> float:
    return value if sense == "max" else -value


def _objective_unit(name: str, result: dict, report: Report) -> str:
    for figs in (result.get("figures") or {}, report.figures):
        for k, f in figs.items():
            if name in (k, getattr(f, "label", None)):
                return getattr(f, "unit", "")
    for suffix, unit in (("_s", "s"), ("_bytes", "B"), ("_b", "B"), ("_usd", "USD"), ("_j", "J"), ("_w", "W")):
        if name.lower().endswith(suffix):
            return unit
    return ""


ACRONYMS = {"mfu": "MFU"}


def _objective_label(name: str, result: dict, report: Report) -> str:
    """The objective as the report labels it; a row without that figure (outside the searched space, not scored):
    its name in words, never the program's identifier (time_to_target -> time to target)."""
    for figs in (result.get("figures") or {}, report.figures):
        for k, f in figs.items():
            if name == k and getattr(f, "label", ""):
                return f.label
    words = name.removesuffix("_s").replace("_", " ").strip()
    return ACRONYMS.get(words, words)


def reference(report: Report) -> str:
    """What the attempts are compared with: "the optimum" only when the report proved one (or found it
    exhaustively); otherwise the solver's answer, said to be unproven."""
    if report.status in ("optimal", "computed"):
        return "the optimum"
    if report.status == "feasible":
        return "the best found (not proven optimal)"
    return "the report's answer (infeasible)"


def gap_amount(gap: float, unit: str, name: str = "") -> str:
    """The size of a gap: percentage points for fractions ('5.9 MFU points'), the objective's unit otherwise."""
    if unit == "fraction":
        return f"{100 * abs(gap):.1f} {name + ' ' if name else ''}points"
    return fmt_value(abs(gap), unit)


def gap_text(value: float, optimum: float, sense: str, unit: str, name: str = "",
             ref: str = "the optimum") -> tuple[float, str]:
    """Gap to the optimum (`ref`: what it is called; >= 0 when worse) and its text: percentage points for
    fractions (e.g. MFU points), the objective's unit otherwise, with the relative gap."""
    gap = (optimum - value) if sense == "max" else (value - optimum)
    if abs(gap) <= REL_TOL * max(1.0, abs(optimum)):
        return 0.0, f"at {ref}"
    rel = abs(gap) / abs(optimum) if optimum else float("inf")
    amount = gap_amount(gap, unit, name)
    if gap < 0:
        return gap, f"beats {ref} by {amount} ({100 * rel:.1f}%)"
    side = "below" if sense == "max" else "above"
    return gap, f"{amount} {side} {ref} ({100 * rel:.1f}% worse)"


def _capacity(c: Constraint) -> bool:
    """A limit on bytes held (device memory, host memory, flash, memory on a partner device): breaking it is not
    fitting."""
    return c.unit == "B" and c.sense == "<="


KEEPS_UP = re.compile(r"^(?P<who>.+) keeps up$")  # a rate requirement named as a clause: 'prep keeps up'


def if_met(violations: list[Constraint]) -> str:
    """The condition under which an infeasible attempt's gap is read, naming what it breaks: 'if it fitted' only
    when every violation is a memory (bytes) limit; otherwise each kind named: 'if it met its bubble limit' (an upper
    limit), 'if it fitted and met its bubble limit', 'if it reached its minimum MFU' (a lower one), 'if it kept its
    global batch rule' (an equality), 'if prep kept up' (a rate requirement named as a clause). An attempt that fits
    and breaks only the bubble limit (or misses only the batch puzzle's MFU target) was told 'if it fitted' before."""
    its: list[str] = []
    if any(_capacity(c) for c in violations):
        its.append("fitted")
    limits = list(dict.fromkeys(c.name for c in violations if not _capacity(c) and c.sense == "<="))
    if limits:
        its.append(f"met its {join_words(limits)} limit{'s' if len(limits) > 1 else ''}")
    floors = list(dict.fromkeys(c.name for c in violations if c.sense == ">=" and not KEEPS_UP.match(c.name)))
    if floors:
        its.append(f"reached its minimum {join_words(floors)}")
    rules = list(dict.fromkeys(c.name for c in violations if not _capacity(c) and c.sense == "=="))
    if rules:
        its.append(f"kept its {join_words(rules)} rule{'s' if len(rules) > 1 else ''}")
    rates = list(dict.fromkeys(m["who"] for c in violations if c.sense == ">=" and (m := KEEPS_UP.match(c.name))))
    clauses = ([f"it {join_words(its)}"] if its else []) + ([f"{join_words(rates)} kept up"] if rates else [])
    return "if " + (join_words(clauses) if clauses else "it met its limits")


def _violation_size(result: dict) -> float:
    total = float(len(result.get("outside_space") or []))  # each value outside the searched space counts 1
    for c in result.get("violations") or []:
        if c.sense == "==" and c.value == c.limit:  # a broken rule with no margin (e.g. a plan no framework runs)
            total += 1.0
        else:
            total += abs(c.value - c.limit) / max(abs(c.limit), 1e-30)
    return total


def _graded_feasible(result: dict) -> bool:
    """Feasible as the grade table says it: within every limit and inside the searched space."""
    return bool(result.get("feasible")) and not result.get("outside_space")


def _tier(result: dict) -> int:
    """2 feasible (inside the searched space), 1 scored but infeasible or outside the space, 0 not scored at all (a
    plan the puzzle cannot run): a move never counts as an improvement by leaving the plans the puzzle can score."""
    if _graded_feasible(result):
        return 2
    return 1 if result.get("objective") is not None else 0


def _same(a: Any, b: Any) -> bool:
    """The same value however it was written: 8 and '8', 'yes' and True, 'FSDP' and 'fsdp'."""
    if a == b:
        return True
    for x, y in ((a, b), (b, a)):
        if isinstance(x, bool) and str(y).strip().lower() in FLAG_WORDS:
            return FLAG_WORDS[str(y).strip().lower()] == x
    try:
        return float(a) == float(b)
    except (TypeError, ValueError, OverflowError):
        return str(a).strip().lower() == str(b).strip().lower()


def _shown(x: Any) -> str:  # whole numbers grouped (1,000,000,000), as the violations print them; a flag yes/no
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else show(x)


def _describe_move(values: dict, other: dict, derived: dict[str, str] | None = None) -> str:
    """'virtual_stages 1 -> 5'; a value that follows from the change (DP when TP changes, to keep the device count)
    after it: 'tp 16 -> 8 with dp 16 -> 32 to keep TP x CP x PP x DP = 1,024'."""
    derived = derived or {}
    changed = [k for k in other if not k.startswith("__") and k in values and not _same(other.get(k), values.get(k))]
    text = ", ".join(f"{k} {_shown(values.get(k))} -> {_shown(other[k])}" for k in changed if k not in derived)
    follows = [f"{k} {_shown(values.get(k))} -> {_shown(other[k])} {derived[k]}" for k in changed if k in derived]
    return (text + (f" with {'; '.join(follows)}" if follows else "")) or "(no change)"


def _remaining(result: dict, most: int = 2) -> str:
    """What still breaks after a move: its first values outside the space and violations, as the table says them."""
    texts = list(result.get("outside_space") or []) + [violation_text(c) for c in result.get("violations") or []]
    return "; ".join(texts[:most]) + (f"; {len(texts) - most} more" if len(texts) > most else "")


def _oriented_second(result: dict) -> float:
    """An attempt's second objective (result['second']: value and sense), oriented so larger is better; 0 for a
    puzzle with one objective (the dataloader's balance point has two: its throughput, then the fewest workers)."""
    sec = result.get("second")
    if not sec:
        return 0.0
    return _oriented(float(sec["value"]), sec.get("sense", "min"))


def _worse_second(result: dict, optimum: dict) -> bool:
    """Ties the optimum's graded figure but is worse on the puzzle's second objective (optimum['second'])."""
    ref = (optimum or {}).get("second")
    if not result.get("second") or not ref:
        return False
    best = _oriented(float(ref["value"]), ref.get("sense", "min"))
    return _oriented_second(result) < best - REL_TOL * max(1.0, abs(best))


def _second_gap_text(result: dict, optimum: dict, ref: str, label: str) -> str:
    """'ties the optimum's pipeline throughput with 40 workers, where the optimum has 20 (the fewest workers of
    those tied)'."""
    sec, best = result["second"], optimum["second"]
    unit = sec.get("unit", "")
    side = "fewest" if sec.get("sense", "min") == "min" else "most"
    return (f"ties {ref}'s {label} with {fmt_value(sec['value'], unit)}, where {ref} has "
            f"{fmt_value(best['value'], unit)} (the {side} {sec.get('label') or unit} of those tied)")


def best_move(mod, values: dict, result: dict, track: str, options: dict, unit: str = "", label: str = "",
              optimum: float | None = None, optimum_second: dict | None = None) -> str:
    """The single change that improves the attempt most, described with its verdict. The candidates are the puzzle's
    neighbours (each searched value of one variable, the others as written; a neighbour's '__derived__' names the
    values that follow from the change, such as DP when TP changes); each is evaluated once, whole, with the puzzle's
    own evaluate_attempt, so the verdict is the moved configuration's: feasible (in the searched space) beats
    infeasible, then the better objective (and, tied on it, the better second objective where the puzzle has one), or
    the smallest violation left."""
    sense = result.get("sense", "max")
    best: tuple | None = None
    seen: set[tuple] = set()
    # what a move is compared with: the attempt as the puzzle read it (defaults filled, numbers parsed), where it says
    read = {**(result.get("read") or {}), **values}
    for nb in result.get("neighbours") or []:
        derived = dict(nb.get("__derived__") or {})
        moved = {**read, **{k: v for k, v in nb.items() if not k.startswith("__")}}
        sig = tuple(sorted((k, str(moved[k])) for k in moved if not _same(moved[k], read.get(k))))
        if not sig or sig in seen:
            continue
        seen.add(sig)
        try:
            r = mod.evaluate_attempt(dict(moved), track=track, **options)
        except (ExplorerError, ValueError, KeyError, TypeError):
            continue
        tier = _tier(r)
        key = (tier, _oriented(float(r["objective"]), sense) if tier == 2 else -_violation_size(r),
               _oriented_second(r) if tier == 2 else 0.0)
        if best is None or key > best[0]:
            best = (key, moved, derived, r)
    if best is None:
        return "no valid single move"
    key, moved, derived, r = best
    fig = (r.get("figures") or {}).get(r.get("objective_name"))  # the moved plan's own label and unit, if it has them
    if fig is not None and getattr(fig, "label", ""):
        label, unit = fig.label, getattr(fig, "unit", unit)
    name = label or result.get("objective_name", "objective")
    move = _describe_move(read, moved, derived)
    reach = ""
    # only a feasible move (tier 2) has an objective to compare; an infeasible one has none (None)
    at = key[0] == 2 and optimum is not None and abs(float(r["objective"]) - optimum) <= REL_TOL * max(1.0,
                                                                                                    abs(optimum))
    if key[0] == 2 and at and not _worse_second(r, {"second": optimum_second}):
        reach = ": the optimum"
    if _graded_feasible(result):
        old = _oriented(float(result["objective"]), sense)
        tol = REL_TOL * max(1.0, abs(old))
        if key[0] == 2 and abs(key[1] - old) <= tol and key[2] > _oriented_second(result):  # the same, with less
            sec, was = r["second"], result["second"]
            return (f"{move} (the same {name} with {fmt_value(sec['value'], sec.get('unit', ''))} instead of "
                    f"{fmt_value(was['value'], was.get('unit', ''))}{reach})")
        if key[0] < 2 or key[1] <= old + tol:
            return "none: no single move improves it"
        return f"{move} ({name} {fmt_value(result['objective'], unit)} -> {fmt_value(r['objective'], unit)}{reach})"
    if key[0] == 2:
        how = "becomes feasible" if result.get("violations") or not result.get("outside_space") else \
            "inside the searched space and feasible"
        return f"{move} ({how}, {name} {fmt_value(r['objective'], unit)}{reach})"
    if key > (_tier(result), -_violation_size(result)):
        return f"{move} (still infeasible, the smallest violation a single change leaves: {_remaining(r)})"
    return "none: no single move reduces the violation"


def _frontier_flag(report: Report, mod, values: dict, result: dict, reached: bool, options: dict) -> bool | None:
    """On the Pareto frontier? A puzzle with a multi-objective frontier spec decides; otherwise the
    frontier of a single objective is its optimum."""
    if not result.get("feasible"):
        return False
    if reached:  # the optimum is not dominated at its own scale: no solve needed
        return True
    if getattr(mod, "ATTEMPT_FRONTIER", True) is False:  # one objective: its frontier is its optimum
        return reached
    from explorer.frontier import spec_for

    spec = spec_for(report.puzzle)
    if spec is None or spec.attempt_on_frontier is None:
        return reached
    try:
        flag = spec.attempt_on_frontier(values, result, report.track, **options)
    except ExplorerError:
        flag = None
    return flag


def _blamed_field(msg: str, values: dict) -> str | None:
    """The field an error message is about: the only variable it names, or the only one whose (non-numeric)
    value it quotes; None when that is ambiguous."""
    named = [v for v in values if v in msg]
    if len(named) == 1:
        return named[0]
    quoted = [v for v in (named or values) if isinstance(values[v], str) and repr(values[v]) in msg]
    return quoted[0] if len(quoted) == 1 else None


def scenario_options(report: Report) -> dict[str, Any]:
    """The options the report was solved for (Report.scenario; older saved reports: extra['options'])."""
    if report.scenario:
        return dict(report.scenario)
    opts = report.extra.get("options")
    return dict(opts) if isinstance(opts, dict) else {}


def check_model_version(report: Report) -> None:
    """Attempts are evaluated with today's model, so they are compared only with an optimum the same model computed:
    a report saved by another model version (or before reports carried one: 'unknown') is a one-line UsageError
    naming both versions and the command that re-solves and grades in one step. Comparing anyway gave "attempt 4
    reaches the optimum" and "beats the optimum by 1.4 MFU points" against an optimum an older model computed."""
    now = model_version()
    saved = str(report.model_version or "unknown")
    if saved == now and now != "unknown":
        return
    if now == "unknown":
        why = "this explorer cannot fingerprint its own model (its sources are not installed)"
    elif saved == "unknown":
        why = f"it was saved before reports carried a model version, and today's is {now}"
    else:
        why = (f"it was computed with model version {saved}, and today's is {now} (the cost model, puzzles or "
               f"catalogs changed since)")
    raise UsageError(f"--attempts grades only against an optimum today's model computed, and this report's optimum "
                     f"may come from another model: {why}; solve and grade again in one step with `explore solve "
                     f"{report.puzzle} --track {report.track} --attempts FILE` (with the options of its scenario)")


def grade_rows(report: Report, rows: list[AttemptRow], mod=None, source: str = "attempts") -> list[Grade]:
    """Grade each row with the puzzle's evaluate_attempt, against the optimum in report.extra['objective'].
    source names the file in error messages. A report from another model version is refused
    (check_model_version)."""
    check_model_version(report)
    mod = mod or report_module(report)
    options = scenario_options(report)
    optimum = report.extra.get("objective") or {}
    ref = reference(report)
    proven = ref == "the optimum"
    limit = getattr(mod, "MAX_ATTEMPTS", None)
    grades: list[Grade] = []
    for i, row in enumerate(rows, start=1):
        g = Grade(number=i, line=row.line, values=row.values or {}, error=row.error,
                  beyond_limit=bool(limit and i > limit), assumed=list(row.assumed), written=dict(row.written))
        grades.append(g)
        if row.values is None:
            continue
        try:
            res = mod.evaluate_attempt(dict(row.values), track=report.track, **options)
        except (ExplorerError, ValueError, KeyError, TypeError) as exc:
            msg = str(exc).strip() or type(exc).__name__
            fld = _blamed_field(msg, row.values)
            where = f", field '{fld}'" if fld and "field" not in msg else ""
            g.error = f"{source}, line {row.line}{where}: {msg}"
            continue
        g.outside = list(res.get("outside_space") or [])
        g.feasible = bool(res.get("feasible")) and not g.outside
        g.objective = float(res["objective"]) if res.get("objective") is not None else None
        g.second = _oriented_second(res)
        g.figures = {k: f for k, f in (res.get("figures") or {}).items()}
        g.violations = [violation_text(c) for c in res.get("violations") or []]
        sense = res.get("sense") or optimum.get("sense") or "max"
        obj_name = res.get("objective_name") or optimum.get("name", "")
        unit = g.unit = _objective_unit(obj_name, res, report)
        label = g.objective_label = _objective_label(obj_name, res, report)
        if g.outside:  # the solver never looked there: no comparison with its answer
            g.gap_text = "not compared: " + "; ".join(g.outside)
        elif optimum.get("value") is not None and g.objective is not None:
            g.gap, g.gap_text = gap_text(g.objective, float(optimum["value"]), sense, unit,
                                         str(res.get("objective_name") or optimum.get("name", "")).upper()
                                         if unit == "fraction" else "", ref=ref)
            # gap_text returns exactly 0.0 within REL_TOL: at the reference is gap == 0, better than it gap < 0
            g.reached_optimum = g.feasible and g.gap == 0
            g.beats = g.feasible and g.gap < 0
            if g.reached_optimum and _worse_second(res, optimum):
                # the optimum is lexicographic (the dataloader's balance point: its throughput, then fewest workers):
                # tying its first figure with more of the second is not the answer the puzzle asks for
                g.reached_optimum = False
                g.gap_text = _second_gap_text(res, optimum, ref, label)
            if not g.feasible:
                # a puzzle whose graded figure is what the attempt delivers, its breach included (the dataloader's
                # samples/s of a starved pipeline), marks it 'objective_measured': no 'if it met ...' condition then
                cond = "as it runs" if res.get("objective_measured") else if_met(list(res.get("violations") or []))
                g.gap_text = ("infeasible; it " + g.gap_text + " only by breaking a constraint") if g.gap < 0 \
                    else f"infeasible; {cond}: " + g.gap_text
            elif g.beats and proven:
                g.gap_text += f": check the optimum ({INCONSISTENT})"
        g.on_frontier = _frontier_flag(report, mod, row.values, res, g.reached_optimum and proven, options)
        # the puzzle's best single move, except at (or past) a proven optimum, where no move is to be sought
        found = "" if proven and (g.beats or g.reached_optimum) else best_move(
            mod, row.values, res, report.track, options, unit, label,
            float(optimum["value"]) if proven and optimum.get("value") is not None else None,
            optimum.get("second") if proven else None)
        g.best_move = _advice(g, ref, proven, report.status, found)
    return grades


INCONSISTENT = ("a feasible plan better than a proven optimum means the puzzle's evaluation and its solver disagree: "
                "a defect of the model, not a better answer")


def cut_short(status: str) -> str:
    """Why an attempt can beat the report's answer: the search stopped before proving it (status FEASIBLE)."""
    return (f"the solver's search was cut short (status {(status or 'feasible').upper()}: it stopped, e.g. at its "
            f"time limit, before proving its answer optimal; a longer --time-limit searches further)")


def _advice(g: Grade, ref: str, proven: bool, status: str, found: str) -> str:
    """The 'best single change' of a graded row; `found`: the puzzle's best single move (best_move). At a proven
    optimum nothing is to be changed; at an unproven answer, or better than it, a move may still help and is said
    with what the answer is; better than a proven optimum is flagged as the model's defect."""
    if g.beats and proven:
        return f"none: better than {ref}, which cannot be ({INCONSISTENT})"
    if g.reached_optimum and proven:
        return f"none: at {ref}"
    if not (g.beats or g.reached_optimum):
        return found
    improves = not found.startswith(("none", "no valid"))
    if g.beats:
        further = f"; a single change improves it further: {found}" if improves else "; no single change improves it"
        return f"none needed: better than {ref}, so {cut_short(status)}{further}"
    return f"{found}: better than {ref}" if improves else f"none: at {ref}, and no single change improves it"


def grade_file(report: Report, path: Path | str, mod=None) -> list[Grade]:
    """Read and grade an attempts file for a solved report."""
    return read_and_grade(report, path, mod)[0]


def read_and_grade(report: Report, path: Path | str, mod=None) -> tuple[list[Grade], list[str]]:
    """The graded attempts of a file and the notes on how it was read (encoding, delimiter, assumed values)."""
    check_model_version(report)  # before the file is read: its rows' errors would hide why nothing can be graded
    mod = mod or report_module(report)
    got = read_file(path, attempt_spec(report, mod))
    return grade_rows(report, got.rows, mod, source=Path(path).name), got.notes


# ----------------------------------------------------------------------------------------------- report

def _figure_text(f: Any) -> str:
    return fmt_value(getattr(f, "value", f), getattr(f, "unit", ""))


def grades_table(grades: list[Grade], variables: list[str], objective_name: str,
                 ref: str = "the optimum", figures: list[str] | None = None) -> Table:
    """The graded attempts, one row each. `figures`: the figure columns (the puzzle's ATTEMPT_FIGURES), else the
    first MAX_FIGURE_COLUMNS figures the attempts have."""
    fig_names: list[str] = list(figures or [])
    for g in grades if not figures else []:
        for k in g.figures:
            if k not in fig_names and len(fig_names) < MAX_FIGURE_COLUMNS:
                fig_names.append(k)
    labels = {}
    for g in grades:
        for k in fig_names:
            if k in g.figures and k not in labels:
                labels[k] = getattr(g.figures[k], "label", "") or k
    # a row that was not read (or that the puzzle refused) says why under "feasible", not under "gap": a column of its
    # own stood empty beside every graded row (and printed as an empty line in each narrow record)
    cols = ["#", "line", *variables, *[labels.get(k, k) for k in fig_names], "feasible", "gap",
            "on frontier", "violated constraints", "best single change"]
    rows = []
    for g in grades:
        num = f"{g.number}" + (" (past limit)" if g.beyond_limit else "")
        if g.error:  # the values as read, else as written
            rows.append([num, g.line, *[show(g.values[v]) if v in g.values else g.written.get(v, "")
                                        for v in variables], *["" for _ in fig_names],
                         f"{NOT_GRADED}: {g.error}", "", "", "", ""])
            continue
        frontier = {True: "yes", False: "no", None: "n/a"}[g.on_frontier]
        rows.append([num, g.line, *[f"{show(g.values.get(v))} (assumed)" if v in g.assumed else show(g.values.get(v))
                                    for v in variables],
                     # outside the searched space: what the model gives for it, not the figures of a valid plan
                     # a figure the model gives no value for (a plan it cannot run) and no gap: '-', as the
                     # report's other tables write a missing value (an empty cell read as a rendering fault)
                     *[_figure_text(g.figures[k]) + (" (if it ran)" if g.outside else "") if k in g.figures else "-"
                       for k in fig_names],
                     "yes" if g.feasible else ("outside space" if g.outside else "NO"),
                     g.gap_text or "-", frontier, "; ".join(g.outside + g.violations) or "none",
                     g.best_move])
    return Table(cols, rows, title=f"Attempts graded beside {ref} ({objective_name})")


def summary_findings(grades: list[Grade], limit: int | None, optimum: dict,
                     ref: str = "the optimum", status: str = "") -> list[Finding]:
    """The summary questions: how many rows were graded, whether the reference was reached (or beaten: the attempt's
    own figure, and what beating it means) and whether the file keeps the lab's rule. `status`: the report's."""
    ok = [g for g in grades if not g.error]
    bad = [g for g in grades if g.error]
    feasible = [g for g in ok if g.feasible]
    name = next((g.objective_label for g in ok if g.objective_label), optimum.get("name", "objective"))
    out = [Finding("How many attempts were graded?",
                   f"{len(ok)} of {len(grades)} rows graded; {len(feasible)} feasible"
                   + (f"; {len(bad)} malformed: " + "; ".join(g.error for g in bad) if bad else "") + ".")]
    unit = next((g.unit for g in ok if g.unit), "")
    reached = next((g for g in ok if g.reached_optimum), None)
    beaten = [g for g in ok if g.beats]
    proven = ref == "the optimum"

    def within(g: Grade) -> str:
        return "" if limit is None else (f" (within the lab's limit of {limit})" if g.number <= limit
                                         else f" (past the lab's limit of {limit})")
    if not ok:  # nothing was checked: "no attempt is feasible" would claim more than is known
        rows = "the only row" if len(bad) == 1 else f"each of the {len(bad)} rows"
        answer = ("Cannot tell: no attempt was given." if not grades else
                  f"Cannot tell: no attempt could be graded: {rows} is malformed or was refused by the puzzle "
                  f"({'first: ' if len(bad) > 1 else ''}{bad[0].error}).")
    elif optimum.get("value") is None:
        answer = ("Cannot tell: this report carries no optimum to compare with; "
                  f"{plural(len(feasible), 'attempt')} {'is' if len(feasible) == 1 else 'are'} feasible.")
    elif beaten:  # better than the reference: its own figure, and what that says of the reference
        sense = optimum.get("sense", "max")
        best = max(beaten, key=lambda g: _oriented(g.objective or 0.0, sense))
        points = str(optimum.get("name", "")).upper() if unit == "fraction" else ""  # '5.9 MFU points', as the table
        said = (f"attempt {best.number} (line {best.line}) has {name} {fmt_value(best.objective, unit)}{within(best)}, "
                f"{gap_amount(best.gap or 0.0, unit, points)} better than {ref}, {name} "
                f"{fmt_value(optimum.get('value'), unit)}")
        answer = (f"Beaten, which should not happen: {said}; check the optimum: {INCONSISTENT}." if proven else
                  f"Yes, and beaten: {said}: {cut_short(status)}.")
    elif reached is not None:
        answer = (f"Yes: attempt {reached.number} (line {reached.line}) reaches {ref}, {name} "
                  f"{fmt_value(reached.objective, unit)}{within(reached)}.")
    elif feasible:
        sense = optimum.get("sense", "max")
        best = max(feasible, key=lambda g: (_oriented(g.objective or 0.0, sense), g.second))
        answer = (f"No: the best feasible attempt is {best.number} (line {best.line}) with {name} "
                  f"{fmt_value(best.objective, unit)}, {best.gap_text}; {ref.removeprefix('the ')}: "
                  f"{fmt_value(optimum.get('value'), unit)}. "
                  f"Next: {best.best_move}.")
    else:
        answer = "No: no attempt is feasible yet" + (f"; first fix: {ok[0].best_move}." if ok else ".")
    out.append(Finding(f"Was {ref} reached, and when?", answer))
    if limit is not None:
        over = len(grades) - limit
        out.append(Finding(f"Does the attempts file keep the lab's rule (at most {limit} attempts)?",
                           f"Yes: {plural(len(grades), 'attempt')}." if over <= 0 else
                           f"No: {plural(len(grades), 'attempt')}, {over} past the limit of {limit} "
                           f"(attempts {limit + 1}-{len(grades)} are graded but marked)."))
    return out


def attach_attempts(report: Report, path: Path | str, mod=None) -> Report:
    """A copy of the report with the graded attempts as a table, findings, JSON data and a plot."""
    mod = mod or report_module(report)
    grades, notes = read_and_grade(report, path, mod)
    return attach_grades(report, grades, notes, Path(path).name, mod)


def attempt_rows(attempts: list[dict[str, Any]], report: Report, mod=None) -> list[AttemptRow]:
    """Attempts given as values (a lab app's moves, not a file): one row each, numbered from 1, with the
    scenario's defaults for the variables an attempt leaves out (said to be assumed, as for a file)."""
    mod = mod or report_module(report)
    spec = attempt_spec(report, mod)
    rows = []
    for i, values in enumerate(attempts, start=1):
        given = {k: v for k, v in values.items() if k in spec.variables and v is not None}
        assumed = [k for k in spec.variables if k not in given and k in spec.defaults]
        rows.append(AttemptRow(line=i, values={**{k: spec.defaults[k] for k in assumed}, **given}, assumed=assumed))
    return rows


def grade_attempts(report: Report, attempts: list[dict[str, Any]], mod=None, source: str = "moves") -> Report:
    """A copy of the report with attempts given as values graded beside its optimum, exactly as a file's."""
    mod = mod or report_module(report)
    grades = grade_rows(report, attempt_rows(attempts, report, mod), mod, source=source)
    return attach_grades(report, grades, [], source, mod)


# The questions summary_findings and attach_grades ask: a report graded before attach_grades recorded its questions in
# data['attempts']['findings'] has its earlier grading found by these.
GRADING_QUESTION = re.compile(r"(How many attempts were graded|Was .+ reached, and when"
                              r"|Does the attempts file keep the lab's rule \(at most \d+ attempts\)"
                              r"|How was .+ read|Whose attempts are graded here)\?")


def drop_grades(report: Report) -> tuple[int, str]:
    """Remove, in place, what an earlier grading added to `report` (its attempts table, findings, data, plot and
    extra); (how many rows it graded, the file it read or ''). (0, '') when the report held no graded attempts.
    A saved report regraded with another file kept both students' answers to every question before."""
    old = report.data.get("attempts")
    if not isinstance(old, dict) and "attempts" not in report.extra:
        return 0, ""
    old = old if isinstance(old, dict) else {}
    asked = old.get("findings")
    if isinstance(asked, list):
        report.findings = [f for f in report.findings if f.question not in asked]
    else:
        report.findings = [f for f in report.findings if not GRADING_QUESTION.fullmatch(f.question)]
    rows = old.get("attempts") if isinstance(old.get("attempts"), list) else report.extra.get("attempts")
    for store in (report.tables, report.data, report.extra):
        store.pop("attempts", None)
    report.plots = [p for p in report.plots if p != "attempts"]
    return len(rows) if isinstance(rows, list) else 0, str(old.get("source") or "")


def attach_grades(report: Report, grades: list[Grade], notes: list[str], source: str, mod=None) -> Report:
    """A copy of the report with graded attempts as a table, findings, JSON data and a plot. A report that already
    holds graded attempts has them replaced, and a finding says so: one grading per report, never two files'
    answers mixed."""
    mod = mod or report_module(report)
    variables = list(mod.ATTEMPT_VARIABLES)
    optimum = dict(report.extra.get("objective") or {})
    limit = getattr(mod, "MAX_ATTEMPTS", None)
    out = copy.deepcopy(report)
    replaced, old_source = drop_grades(out)
    label = next((g.objective_label for g in grades if g.objective_label), optimum.get("name", "objective"))
    unit = next((g.unit for g in grades if g.unit), "")
    out.tables["attempts"] = grades_table(grades, variables, label, reference(report),
                                          getattr(mod, "ATTEMPT_FIGURES", None))
    added: list[Finding] = []
    if replaced or old_source:
        earlier = plural(replaced, "graded attempt") + (f" of {old_source}" if old_source else "")
        added.append(Finding("Whose attempts are graded here?",
                             f"Only those of {source}: this report's earlier grades ({earlier}) were replaced, "
                             f"not added to."))
    added += summary_findings(grades, limit, optimum, reference(report), report.status)
    if notes:
        added.append(Finding(f"How was {source} read?", "; ".join(notes) + "."))
    out.findings = [*out.findings, *added]
    out.data["attempts"] = {
        "objective_name": optimum.get("name", "objective"), "objective_label": label,
        "objective_unit": unit, "sense": optimum.get("sense", "max"),
        "optimum": optimum.get("value"), "max_attempts": limit,
        "attempts": [{"number": g.number, "line": g.line, "objective": g.objective, "feasible": g.feasible,
                      "error": g.error or None, "on_frontier": g.on_frontier} for g in grades],
        "source": source, "findings": [f.question for f in added],  # what a later grading replaces
    }
    if "attempts" not in out.plots:
        out.plots = [*out.plots, "attempts"]
    out.extra["attempts"] = [{"number": g.number, "line": g.line, "values": g.values, "error": g.error or None,
                              "assumed": g.assumed, "outside_space": g.outside,
                              "feasible": g.feasible, "objective": g.objective, "gap": g.gap,
                              "gap_text": g.gap_text, "reached_optimum": g.reached_optimum, "beats": g.beats,
                              "on_frontier": g.on_frontier, "violations": g.violations,
                              "best_move": g.best_move, "beyond_limit": g.beyond_limit,
                              "figures": {k: {"value": getattr(f, "value", f), "unit": getattr(f, "unit", ""),
                                              "label": getattr(f, "label", "")} for k, f in g.figures.items()}}
                             for g in grades]
    return out
