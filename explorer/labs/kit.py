"""What the lab apps compute, without marimo: one `Part` per lab part, each with the plan's controls, the
prediction asked first (the lock), the live instruments, the move that is graded, "check" and the reflection.

Nothing here is physics and nothing draws: the numbers come from the explorer's public entry points
(`explorer.estimate`, `explorer.solve(puzzle, track=...)`, each puzzle's `evaluate_attempt`, the same calls the
CLI makes) and every instrument is a figure of `explorer.reports.plots`, drawn from the same data the reports
draw it from (for the 3D puzzle the data helpers of `explorer.puzzles.threed.report`). "Check" solves the
puzzle (cached per track and scenario) and grades the moves with `explorer.reports.attempts` beside the
optimum, as `explore solve PUZZLE --attempts` does. An estimate takes milliseconds, so the instruments are
computed on every move: there are no precomputed grids.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from explorer.errors import ExplorerError
from explorer.report import Finding, Formula, Report, Table
from explorer.reports.attempts import violation_text
from explorer.units import human_bytes, human_percent

MOVES_SHOWN = 12  # the move log lists the last moves; the grader grades them all


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


def _plain_checked(part: Part, c: Checked) -> Checked:
    c.verdict = [Finding(plain(f.question), part.words(plain(f.answer))) for f in c.verdict]
    c.headline = plain(c.report.headline)
    return c


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


# ----------------------------------------------------------------------------------------------- the part

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


# ----------------------------------------------------------------------------------------------- lab 05

class Scaling(Part):
    """Lab 05 part 1, the communication wall: throughput against devices on two fabrics."""

    puzzle = "scaling"
    # An observation part (its report is 'computed'): the moves are read against the curves, not graded. The
    # scaling puzzle's attempt grader treats the diminishing-returns rule as a feasibility constraint and offers
    # only N - 1 and N + 1 on the same fabric as fixes, so past the wall it grades every point infeasible and
    # suggests "16 -> 17 (still infeasible)"; its optimum (N = 1,024 on the fast fabric) put the student's 5.5
    # sequences/s at the foot of a linear axis.
    graded = False
    reflection_needles = ("Which fabric", "cut training time")
    reflect = ('Why does scaling past one node on the slower fabric lose so much of the ideal speedup, and '
               'which fabric would you buy for this job?')
    intro = ("Scale a data-parallel job and watch where the network eats the speedup. Pick a fabric and a "
             "device count; the explorer's scaling curve marks your point.")

    def __init__(self, track: str = "cloud") -> None:
        super().__init__(track)
        from explorer.puzzles.scaling import scenario

        self.sc = scenario(track)

    def fabrics(self) -> list[str]:
        return list(self.sc.fabrics)

    def controls(self) -> list[Control]:
        from explorer.hardware import get_link

        fabrics = self.fabrics()
        return [Control("fabric", "fabric (the interconnect)", "choice", fabrics, fabrics[0],
                        {f: get_link(f).name for f in fabrics}),
                Control("devices", f"{self.t.device_plural} N", "steps",
                        powers_of_two(self.sc.n_max), self.sc.n_from)]

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import scaling

        move = {"fabric": values["fabric"], "devices": int(values["devices"])}
        r = scaling.evaluate_attempt(move, self.track)
        rep = self.report()
        data = dict(rep.data["scaling_efficiency"])
        data["yours"] = {"fabric": move["fabric"], "n": move["devices"],
                         "samples_per_s": r["objective"], "efficiency": r["figures"]["efficiency"].value}
        eff = r["figures"]["efficiency"].value
        live = Live(plots=[Plot("scaling_efficiency", data, f"scaling efficiency at N={move['devices']}: "
                                f"{human_percent(eff)}")], move=move)
        live.readouts = [("throughput", f"{r['objective']:,.1f} {self.sc.sample_word}s/s"),
                         ("scaling efficiency S(N)/N", human_percent(eff))]
        live.alerts = [self._wall(c) for c in r["violations"]]
        return live

    def _wall(self, c: Any) -> str:
        adds = f"adds only {c.value:.2f}" if c.value >= 0 else f"loses {-c.value:.2f}"
        return (f"Past the wall: one more {self.t.device_word} {adds} of a {self.t.device_word}'s throughput (the "
                f"rule: it must add at least {c.limit:g}).")

    def verdict(self, report: Report, moves: list[dict[str, Any]]) -> list[Finding]:
        """The explorer's curves, and the student's fastest point read against them (throughput, efficiency,
        whether one more device still pays its way there)."""
        from explorer.hardware import get_link
        from explorer.puzzles import scaling

        out = [Finding("What does the explorer find?", report.headline)]
        if not moves:
            return [*out, Finding("Your moves?", "No move yet: change a control, then check again.")]
        opts = {k: report.scenario[k] for k in ("fabric", "threshold", "max_devices") if k in report.scenario}
        seen = {(m["fabric"], int(m["devices"])): m for m in moves}
        rows = [(m, scaling.evaluate_attempt(m, self.track, **opts)) for m in seen.values()]
        m, r = max(rows, key=lambda mr: mr[1]["objective"])
        dev = self.t.device_word if m["devices"] == 1 else self.t.device_plural
        where = (" ".join(self._wall(c) for c in r["violations"]) if r["violations"] else
                 f"One more {self.t.device_word} still adds at least {opts.get('threshold', 0.5):g} of a "
                 f"{self.t.device_word}'s throughput there.")
        out.append(Finding(f"Your fastest point (of {len(rows)} you tried)?",
                           f"{m['devices']:,} {dev} on {get_link(m['fabric']).name}: {r['objective']:,.1f} "
                           f"{self.sc.sample_word}s/s, {human_percent(r['figures']['efficiency'].value)} of the ideal "
                           f"N x X(1). {where}"))
        return out

    def _speedup_ratio(self) -> tuple[float, str]:
        from explorer.puzzles import scaling

        f = self.fabrics()[0]
        a, b = self.sc.n_from, self.sc.n_to
        xa = scaling.evaluate_attempt({"fabric": f, "devices": a}, self.track)["objective"]
        xb = scaling.evaluate_attempt({"fabric": f, "devices": b}, self.track)["objective"]
        return (xb / xa) / (b / a), f

    @property
    def lock(self) -> Question:
        from explorer.hardware import get_link

        f = get_link(self.fabrics()[0]).name
        a, b = self.sc.n_from, self.sc.n_to

        def answer(part: Part) -> tuple[int, str]:
            ratio, _ = self._speedup_ratio()
            return 3 - bin_of(ratio, [0.3, 0.6, 0.9]), (
                f"{a} -> {b} {self.t.device_plural} on {f}: {ratio * b / a:.2f}x faster of an ideal {b / a:g}x "
                f"({human_percent(ratio)} of ideal).")

        return Question(f"Going from {a} to {b} {self.t.device_plural} on {f}, how much of the ideal {b / a:g}x "
                        f"speedup do you get?",
                        ["90% or more: more devices always help", "60-90%: some network overhead",
                         "30-60%: the network eats a large share", "under 30%: communication dominates the step"],
                        answer)


class ThreeD(Part):
    """Lab 05 part 2, the parallelism puzzle: TP x PP x DP (x CP) and micro-batch, live on the cost model."""

    puzzle = "3d"
    rule = 10
    reflection_needles = ("Does PP increase or decrease",)
    reflect = ('Does pipeline parallelism increase or decrease the total memory the weights take across the '
               'whole cluster? Why?')
    intro = ("Start from the crisis configuration and find the plan with the highest MFU that fits in memory "
             "with a pipeline bubble under 10%. Every configuration you run is one move, one estimate of the cost "
             "model; find it in 10 moves.")

    LABELS = {"tp": "tensor parallel TP", "pp": "pipeline parallel PP", "cp": "context parallel CP",
              "micro_batch": "micro-batch (sequences)", "virtual_stages": "virtual stages v (interleaving)",
              "zero": "ZeRO stage", "recompute": "activation recomputation",
              "sequence_parallel": "sequence parallelism (with TP)",
              "hsdp": "hybrid sharding (HSDP: shard inside a node, replicate across)", "framework": "framework"}
    PLAN = ("tp", "pp", "cp", "micro_batch", "virtual_stages", "zero", "recompute", "sequence_parallel", "hsdp",
            "framework")

    def space(self) -> dict[str, list]:
        """The values the 3D solver searches on this track (threed.attempt_space: build_space's candidate lists),
        which are also the values its grader's single-change moves ("Next: ...") are drawn from."""
        return _space_3d(self.track)

    def controls(self) -> list[Control]:
        from explorer.cost.frameworks import BY_KEY
        from explorer.puzzles import threed

        p = self.t.crisis_plan
        start = {**threed.attempt_defaults(self.track), "tp": p.tp, "pp": p.pp, "cp": p.cp,
                 "micro_batch": p.micro_batch, "virtual_stages": p.virtual_stages, "zero": p.zero,
                 "recompute": p.recompute, "sequence_parallel": p.sequence_parallel}
        names = {k: fw.name for k, fw in BY_KEY.items()}
        return space_controls(self.space(), self.LABELS, start, names)

    def live(self, values: dict[str, Any]) -> Live:
        import explorer
        from explorer.puzzles.threed.report import bubble_gauge_data, memory_heatmap_data, parallelism_map_data

        fixed = fixed_values(self.space())
        v = {k: values[k] if k in values else fixed[k] for k in self.PLAN if k in values or k in fixed}
        v["virtual_stages"] = v["virtual_stages"] if v["pp"] > 1 else 1
        n = self.t.cluster.devices
        group = v["tp"] * v["pp"] * v["cp"]
        if n % group:
            return Live(error=f"TP x PP x CP = {group:,} does not divide the {n:,} {self.t.device_plural}")
        try:
            e = explorer.estimate(track=self.track, **v)
        except ExplorerError as exc:
            return Live(error=str(exc))
        s, limit, word = e.setup, self.t.usable_memory_bytes, self.t.device_word
        crisis = self._crisis()
        gauge = bubble_gauge_data(e, 0.10, crisis)
        heat = memory_heatmap_data(s, e.plan, n, e.plan.global_batch, limit, word)
        pmap = parallelism_map_data(e.plan, s, n, word)
        move = {**v, "dp": e.plan.dp}
        live = Live(move=move, plots=[
            Plot("bubble_gauge", gauge, f"pipeline bubble gauge: {human_percent(e.bubble_fraction)} at PP={e.plan.pp}"),
            Plot("memory_heatmap", heat, f"memory heatmap: {human_bytes(e.memory_total)} per {word} at "
                                         f"TP={e.plan.tp} PP={e.plan.pp}"),
            Plot("parallelism_map", pmap, f"parallelism map: TP={e.plan.tp} CP={e.plan.cp} PP={e.plan.pp} "
                                          f"DP={e.plan.dp}")])
        live.readouts = [("plan", e.plan.describe()), ("MFU", human_percent(e.mfu)),
                         ("step time", f"{e.step_time_s:.3f} s"), ("bubble", human_percent(e.bubble_fraction)),
                         (f"memory per {word}", f"{human_bytes(e.memory_total)} of {human_bytes(limit)}")]
        if e.memory_total > limit:
            live.alerts.append(f"Out of memory: {human_bytes(e.memory_total)} per {word} > {human_bytes(limit)} "
                               f"usable. Raise TP or PP, shard with ZeRO, or recompute activations.")
        if e.bubble_fraction > 0.10:
            p, m, vs = e.plan.pp, e.plan.num_micro_batches, e.plan.virtual_stages
            live.alerts.append(f"Pipeline bubble {human_percent(e.bubble_fraction)} > 10%: with {p} stages and "
                               f"{m} micro-batches (v = {vs}), (p - 1)/(v m + p - 1) of the step is idle. More "
                               f"micro-batches, interleaving or fewer stages.")
        return live

    def _crisis(self) -> Any:
        import explorer

        p = self.t.crisis_plan
        return _crisis_estimate(self.track, p.tp, p.pp, p.cp, p.micro_batch, p.virtual_stages, p.zero, p.recompute,
                                explorer.estimate)

    def frontier_plots(self, graded: Report, moves: list[dict[str, Any]]) -> list[tuple[str, Report]]:
        """The moves on the optimal frontier (tokens/s against memory headroom) at the track's device count."""
        from explorer.reports.frontier import attempt_points, frontier_report

        res = _frontier_3d(self.track)
        skipped: list[str] = []
        pts = attempt_points(res, graded, moves, skipped)
        return [("frontier", frontier_report(res, pts, skipped))]

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            x = r.figures["speedup_vs_crisis"].value if "speedup_vs_crisis" in r.figures else 1.0
            return bin_of(x, [1.1, 1.3, 1.6]), f"The proven optimum is {x:.2f}x faster: {r.headline}"

        return Question(f"The crisis plan ({self.t.crisis_plan.describe()}) is what the team runs. How much faster "
                        "can the best plan that fits (bubble <= 10%) train?",
                        ["barely (under 1.1x)", "1.1-1.3x", "1.3-1.6x", "more than 1.6x"], answer)


class FleetThreeD(ThreeD):
    """Lab 05 part 2 on a fleet track (edge, mobile, tiny): the fleet form's choices (explorer/puzzles/fleet3d),
    each move scored by its attempts module, the same evaluation the grader and the solver use."""

    reflection_needles = ("What replaces MFU",)
    reflect = ("On a fleet the devices idle while the radio works: what replaces MFU as the measure of a good "
               "configuration, and why does synchronising less often not always reach the target sooner?")
    intro = ("Start from the storyboard (whole model, synchronise after every step, wait for every device) and find "
             "the configuration that reaches the training target soonest within memory, the staleness the lab's "
             "step tolerates and each device's daily window and energy budget. Every configuration you run is one "
             "move, one evaluation of the fleet model; find it in 10 moves.")

    def controls(self) -> list[Control]:
        from explorer.puzzles.fleet3d.attempts import _solved, attempt_defaults

        scn, d = _solved(self.track)[0], attempt_defaults(self.track)
        mb = self.t.crisis_plan.micro_batch
        out = []
        for name, label, values in (("split", f"layers on the {self.t.device_word}", {p.split for p in scn.placements}),
                                    ("trainable_layers", "layers trained (the top ones)",
                                     {p.trainable for p in scn.placements})):
            if len(values) > 1:
                out.append(Control(name, label, "steps", sorted(values), d[name]))
        out += [Control("micro_batch", "micro-batch per local step", "steps", list(scn.micro_batches),
                        mb if mb in scn.micro_batches else scn.micro_batches[0]),
                Control("local_steps", "local steps between synchronisations H", "steps", list(scn.local_steps),
                        scn.local_steps[0])]
        if len(scn.participation) > 1:
            out.append(Control("participation", "replicas selected per round", "steps", list(scn.participation),
                               d["participation"]))
        out += [Control("deadline_quantile", "round deadline (quantile of a round)", "steps",
                        list(scn.deadline_quantiles), d["deadline_quantile"]),
                Control("tier", "aggregation path", "choice", [t.key for t in scn.tiers], d["tier"],
                        {t.key: t.name for t in scn.tiers})]
        return out

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles.fleet3d.attempts import evaluate_attempt
        from explorer.reports.format import fmt_value

        move = {c.name: values[c.name] for c in self.controls()}
        try:
            r = evaluate_attempt(move, self.track)
        except ExplorerError as exc:
            return Live(error=str(exc))
        days = r["objective"] / 86400
        data = {**self.report().data["fleet_tradeoff"], "yours": {"local_steps": move["local_steps"], "days": days}}
        reading = f"time to the target {fmt_value(r['objective'], 's')} at H = {move['local_steps']}"
        live = Live(move=move, plots=[Plot("fleet_tradeoff", data, reading)])
        live.readouts = [(x.label, fmt_value(x.value, x.unit)) for x in r["figures"].values()]
        live.alerts = [f"Outside the searched space: {x}." for x in r["outside_space"]]
        live.alerts += [f"Over a limit: {violation_text(c)}." for c in r["violations"]]
        return live

    def frontier_plots(self, graded: Report, moves: list[dict[str, Any]]) -> list[tuple[str, Report]]:
        return []  # one objective: the optimum is the frontier

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            x = r.figures["speedup_vs_crisis"].value if "speedup_vs_crisis" in r.figures else 1.0
            return bin_of(x, [2.0, 5.0, 20.0]), f"The proven optimum reaches the target {x:.1f}x sooner: {r.headline}"

        return Question("The storyboard holds the whole model on every device, synchronises after every step and "
                        "waits for the slowest. How much sooner can the best configuration reach the target?",
                        ["under 2x", "2-5x", "5-20x", "more than 20x"], answer)


@lru_cache(maxsize=8)
def _space_3d(track: str) -> dict[str, list]:
    from explorer.puzzles import threed

    return threed.attempt_space(track)


@lru_cache(maxsize=8)
def _space_batch(track: str) -> dict[str, list]:
    from explorer.puzzles import batch
    from explorer.puzzles.threed import instance_for
    from explorer.puzzles.threed.space import build_space

    inst = batch.make_instance(track)
    out = batch.searched_values(inst)
    if batch.fixed_plan(inst) is None:
        sp = build_space(instance_for(track))
        out.update(tp=list(sp.tp), pp=list(sp.pp), cp=list(sp.cp), virtual_stages=list(sp.v))
    return out


@lru_cache(maxsize=8)
def _crisis_estimate(track: str, tp: int, pp: int, cp: int, mb: int, v: int, zero: int, rc: str, fn: Any) -> Any:
    try:
        return fn(track=track, tp=tp, pp=pp, cp=cp, micro_batch=mb, virtual_stages=v, zero=zero, recompute=rc)
    except ExplorerError:
        return None


@lru_cache(maxsize=8)
def _frontier_3d(track: str) -> Any:
    from explorer.frontier import frontier
    from explorer.tracks import get_track

    return frontier("3d", track, gpu_counts=[get_track(track).cluster.devices], levels=4)


class Sync(Part):
    """Lab 05 part 3, the synchronization audit: wait for the slowest, or go asynchronous."""

    puzzle = "sync"
    graded = False
    reflection_needles = ("Stakeholder", "ZeRO", "Sync vs async")
    reflect = ('What do you tell the stakeholder: wait for every device, go asynchronous, or deal with the '
               'stragglers? Answer in dollars.')
    intro = ("Every synchronous step waits for the slowest device. Turn the straggler knobs and decide: "
             "wait for all, or go asynchronous (and pay in staleness)?")

    def controls(self) -> list[Control]:
        from explorer.puzzles.sync.audit import sync_data

        d = sync_data(self.track)
        f, s = float(d["straggler_fraction"]), float(d["slowdown"])
        return [Control("straggler_fraction", "straggler fraction", "steps",
                        sorted({0.0, 0.01, 0.02, 0.05, 0.1, 0.2, f}), f),
                Control("slowdown", "straggler slowdown (x)", "steps", sorted({1.0, 1.25, 1.5, 2.0, 3.0, 5.0, s}), s),
                Control("mode", "synchronisation", "choice", ["sync", "async"], "sync",
                        {"sync": "wait for all (sync SGD)", "async": "asynchronous SGD"})]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        # the slow ZeRO comparison (3D solves) exists on the cloud track only; a fleet track refuses zero=...
        return {"straggler_fraction": float(values["straggler_fraction"]), "slowdown": float(values["slowdown"]),
                **({"zero": False} if self.t.key == "cloud" else {})}

    def live(self, values: dict[str, Any]) -> Live:
        r = solved("sync", self.track, **self.scenario(values))
        d = r.data["straggler_wait"]
        wait = d["expected_max"][-1] / d["mean"] - 1 if d.get("mean") else 0.0
        live = Live(move={**values}, plots=[Plot("straggler_wait", d, f"straggler wait: sync step "
                                                  f"{human_percent(wait)} longer than the mean device's")])
        keys = [k for k in ("step_time_sync_s", "samples_per_s_sync", "samples_per_s_async_raw", "staleness",
                            "progress_per_update") if k in r.figures]
        live.readouts = [(r.figures[k].label or k, _fmt(r.figures[k].value, r.figures[k].unit)) for k in keys]
        f = finding(r, "Sync vs async")
        if f:
            live.readouts.append(("sync vs async", f.answer))
        if wait > 0.5:
            live.alerts.append(f"Every synchronous step waits {human_percent(wait)} longer than an average "
                               f"{self.t.device_word}'s step for the slowest one.")
        return live

    def verdict(self, report: Report, moves: list[dict[str, Any]]) -> list[Finding]:
        out = [Finding("What does the explorer find?", report.headline)]
        f = finding(report, "Stakeholder", "Sync vs async")
        if f:
            out.append(f)
        if moves:
            out.append(Finding("Your choice?", f"You last chose {moves[-1].get('mode')}."))
        return out

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            d = part.report().data["straggler_wait"]
            wait = d["expected_max"][-1] / d["mean"] - 1
            return bin_of(wait, [0.1, 0.5, 1.0]), (f"With {d['nodes']:,} {self.t.device_plural}, the expected "
                                                   f"slowest step is {human_percent(wait)} longer than the mean.")

        return Question(f"{self.t.cluster.devices:,} {self.t.device_plural} step together; a few are stragglers. "
                        "How much longer than an average device's step is the synchronous step?",
                        ["under 10%", "10-50%", "50-100%", "more than double"], answer)


# ----------------------------------------------------------------------------------------------- lab 06

class Crossover(Part):
    """Lab 06 part 1, the algorithm crossover: ring against tree over the message size."""

    puzzle = "crossover"
    graded = False
    reflection_needles = ("How does M* move", "more or less attractive")
    reflect = ('How does the crossover size M* move with the latency alpha, the bandwidth and the number of '
               'participants?')
    intro = ("Ring AllReduce is bandwidth-optimal, tree is latency-optimal. Move the message size and the "
             "cluster size, pick the algorithm you would run, and find where they cross.")

    def base(self) -> dict[str, Any]:
        return dict(solved("crossover", self.track).scenario)

    def controls(self) -> list[Control]:
        b = self.base()
        m0 = b["message_bytes"]
        sizes = sorted({float(2 ** k) for k in range(10, 31, 2)} | {float(m0)})
        ns = sorted({x for x in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)} | {int(b["n"])})
        return [Control("message_bytes", "message size M", "steps", sizes, float(m0),
                        {s: human_bytes(s) for s in sizes}),
                Control("n", "participants N", "steps", ns, int(b["n"])),
                Control("algorithm", "your algorithm", "choice", ["ring", "tree"], "ring",
                        {"ring": "ring AllReduce", "tree": "tree AllReduce"})]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"n": int(values["n"]), "message_bytes": float(values["message_bytes"])}

    def live(self, values: dict[str, Any]) -> Live:
        r = solved("crossover", self.track, **self.scenario(values))
        d = r.data["crossover"]
        m_star = d.get("crossover_bytes") or 0.0
        fastest = _fastest(r)
        live = Live(move={**values}, plots=[Plot("crossover", d, f"crossover: ring and tree break even at "
                                                 f"{human_bytes(m_star)} over N={values['n']}")])
        live.readouts = [("crossover M*", human_bytes(m_star)), ("fastest at this M", fastest or "-")]
        for k in ("ring_time_s", "tree_time_s"):
            if k in r.figures:
                live.readouts.append((r.figures[k].label or k, _fmt(r.figures[k].value, r.figures[k].unit)))
        if fastest and not fastest.startswith(values["algorithm"]):
            live.alerts.append(f"At {human_bytes(values['message_bytes'])} over {values['n']} participants your "
                               f"{values['algorithm']} is not the fastest ({fastest} is).")
        return live

    @property
    def lock(self) -> Question:
        b = self.base()

        def answer(part: Part) -> tuple[int, str]:
            m = part.report().figures["crossover_bytes"].value
            return bin_of(m, [1e4, 1e5, 1e6, 1e7]), part.report().findings[0].answer

        return Question(f"Over {int(b['n'])} participants, below what message size does tree AllReduce beat ring?",
                        ["under 10 KB", "10-100 KB", "100 KB - 1 MB", "1-10 MB", "over 10 MB"], answer)


def _fastest(r: Report) -> str | None:
    """Ring or tree, whichever the report finds faster at its message size."""
    t = {a: r.figures[f"{a}_time_s"].value for a in ("ring", "tree") if f"{a}_time_s" in r.figures}
    return min(t, key=t.get) if t else None


class Hierarchy(Part):
    """Lab 06 part 2, the hierarchical multiplier: aggregation, per-tier algorithms, accumulation."""

    puzzle = "hierarchy"
    rule = 10
    reflection_needles = ("100x slower", "hierarchical multiplier")
    reflect = 'Will a hierarchical strategy still help if the inter-node link is 100x slower? Why?'
    intro = ("Reduce inside each group over the fast link, all-reduce between groups over the slow one. Find the "
             "aggregation factor, the tier algorithms and the accumulation that hide the most communication, in "
             "10 moves.")

    def inst(self) -> Any:
        from explorer.puzzles import hierarchy
        from explorer.puzzles.collective_scenario import get_scenario

        return hierarchy.make_instance(get_scenario(self.track))

    def controls(self) -> list[Control]:
        from explorer.puzzles import hierarchy

        inst = self.inst()
        gs = list(inst.aggregation_choices)
        return [Control("aggregation", "aggregation factor g (hierarchical mode when g > 1)", "steps", gs, gs[0]),
                Control("intra_algorithm", "fast-tier algorithm", "choice", list(hierarchy.INTRA), "ring",
                        dict(hierarchy.NAMES)),
                Control("inter_algorithm", "slow-tier algorithm", "choice", list(hierarchy.INTER), "ring",
                        dict(hierarchy.NAMES)),
                # the solvers search every a in 1..max_accumulation (hierarchy.candidates), not powers of two
                Control("accumulation", "gradient accumulation steps", "steps",
                        list(range(1, inst.max_accumulation + 1)), 1)]

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import hierarchy

        inst = self.inst()
        move = {"aggregation": int(values["aggregation"]), "intra_algorithm": values["intra_algorithm"],
                "inter_algorithm": values["inter_algorithm"], "accumulation": int(values["accumulation"])}
        e = hierarchy.evaluate(inst, move["aggregation"], move["intra_algorithm"], move["inter_algorithm"],
                               move["accumulation"])
        flat = hierarchy.flat_time(inst)
        names = hierarchy.NAMES
        water = {"configs": [{"label": f"yours g={e.aggregation} ({names[e.intra]}/{names[e.inter]})",
                              "panel": "your plan", "phases": e.phases_s},
                             {"label": f"flat {names['ring']}", "panel": "your plan",
                              "phases": {"intra_reduce": 0.0, "inter": flat, "intra_gather": 0.0}}],
                 "phase_labels": {"intra_reduce": "intra-tier reduce(-scatter)", "inter": "inter-tier AllReduce",
                                  "intra_gather": "intra-tier all-gather / broadcast"}}
        topo = hierarchy._tier_topology(inst, e.aggregation)
        live = Live(move=move, plots=[
            Plot("comm_waterfall", water, f"communication waterfall: {e.sync_s * 1e3:.1f} ms against "
                                          f"{flat * 1e3:.1f} ms flat"),
            Plot("topology", topo, f"network topology: aggregation g = {e.aggregation}")])
        live.readouts = [("all-reduce time", f"{e.sync_s * 1e3:.2f} ms"),
                         ("exposed communication per step", f"{e.exposed_us / hierarchy.TIME_SCALE * 1e3:.2f} ms"),
                         ("flat ring", f"{flat * 1e3:.2f} ms"),
                         ("memory per device", human_bytes(e.memory_bytes))]
        live.alerts = [violation_text(c) for c in e.violations]
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            f = finding(r, "hierarchical multiplier")
            x = next((r.figures[k].value for k in r.figures if "multiplier" in k), 1.0)
            return bin_of(float(x), [1.1, 2.0, 5.0]), (f.answer if f else r.headline)

        return Question("How much faster can a two-tier (hierarchical) AllReduce be than the flat all-reduce here?",
                        ["no faster (under 1.1x)", "1.1-2x", "2-5x", "more than 5x"], answer)


class Compression(Part):
    """Lab 06 part 3, compression and error feedback: a seeded distributed training, run on request."""

    puzzle = "compression"
    graded = False
    reflection_needles = ("Stakeholder", "error feedback")
    reflect = ('Does error feedback recover the accuracy while keeping the bandwidth gain? What does '
               'compression cost end to end?')
    intro = ("Send fewer bits per gradient: 1-bit Adam, top-k. Does it shorten the time to a target loss, and "
             "what does error feedback do? Each run trains a small network across the workers (seeded).")
    STEPS = 200  # a run of the seeded training, a second or two; the CLI's default is longer

    def controls(self) -> list[Control]:
        return [Control("topk_ratio", "compression ratio of top-k (x)", "steps", [4.0, 10.0, 30.0, 100.0, 300.0],
                        100.0),
                Control("workers", "workers", "steps", [4, 8, 16, 32], 16),
                Control("error_feedback", "error feedback", "switch", [True, False], True)]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"topk_ratio": float(values["topk_ratio"]), "workers": int(values["workers"]), "steps": self.STEPS}

    def live(self, values: dict[str, Any]) -> Live:
        r = solved("compression", self.track, **self.scenario(values))
        d = dict(r.data["convergence"])
        ef = bool(values["error_feedback"])
        series = d.get("series") or {}
        if not ef:  # the monitor without the runs that use error feedback
            d["series"] = {k: ys for k, ys in series.items()
                           if "error feedback" not in k or "no error feedback" in k} or series
        live = Live(move={**values}, plots=[Plot("convergence", d, f"convergence monitor: top-k "
                                                 f"{values['topk_ratio']:g}x, {values['workers']} workers")])
        keys = [k for k in r.figures if k.startswith(("steps_to_target", "speedup", "final_loss"))][:6]
        live.readouts = [(r.figures[k].label or k, _fmt(r.figures[k].value, r.figures[k].unit)) for k in keys]
        f = finding(r, "without error feedback")
        if not ef and f:
            live.alerts.append(f"Without error feedback: {f.answer}")
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            f = finding(r, "speedup end to end")
            x = next((r.figures[k].value for k in r.figures if k.startswith("speedup")), 1.0)
            return bin_of(float(x), [0.95, 1.5, 8.0]), (f.answer if f else r.headline)

        return Question("1-bit compression sends 16x fewer bits per gradient. How much sooner does training reach "
                        "its target loss end to end?",
                        ["not sooner (it is slower or diverges)", "about the same (0.95-1.5x)", "1.5-8x sooner",
                         "close to 16x sooner"], answer)


# ----------------------------------------------------------------------------------------------- lab 08

class Memory(Part):
    """Lab 08 part 1, the state-management audit: the training-memory waterfall."""

    puzzle = "memory"
    reflection_needles = ("4-8x the memory of serving", "serving")
    reflect = "Why does training need 4-8x the memory of serving? Reconcile it with your track's memory limit."
    intro = ("Weights are the small part of training memory. Toggle the optimizer and the precision, recompute, "
             "shard and freeze until the model fits; the waterfall shows every byte.")

    def inst(self) -> Any:
        from explorer.puzzles import memory

        return memory._cached_problem(self.track, None, None)[0]

    # the graded table's memory columns beside the control of the same name (optimizer): the bytes it holds
    figure_words = {"weights": "weights memory", "gradients": "gradients memory", "optimizer": "optimizer state",
                    "activations": "activations memory", "working": "working memory", "buffers": "buffers memory"}
    LABELS = {"optimizer": "optimizer", "precision": "precision", "recompute": "activation recomputation",
              "micro_batch": "micro-batch", "zero": "ZeRO stage",
              "offload": "offload gradients and optimizer state to CPU",
              "trainable_layers": "layers trained (the top ones)", "adapter": "adapter (the base frozen)"}
    OPTIONS = {"sgd": "SGD", "momentum": "Momentum", "adam": "Adam", "adam8bit": "8-bit Adam",
               "adafactor": "Adafactor", "fp32": "FP32", "bf16": "mixed BF16", "fp16": "mixed FP16",
               "lora": "LoRA", "qlora": "QLoRA (4-bit base)", False: "no", True: "yes"}

    def controls(self) -> list[Control]:
        from explorer.puzzles import memory

        inst = self.inst()
        base = memory.attempt_defaults(self.track)
        out = []
        for d in memory.ATTEMPT_VARIABLES:
            opts = list(inst.dims[d])
            label = self.LABELS.get(d, plain_name(d))
            if set(opts) == {False, True}:  # a flag the audit searches both ways: a switch
                out.append(Control(d, label, "switch", [True, False], base[d]))
                continue
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in opts)
            kind = "steps" if numeric else "choice"
            if kind == "steps":
                opts = sorted(opts)
            out.append(Control(d, label, kind, opts, base[d], {} if numeric else
                               {k: next((t for o, t in self.OPTIONS.items() if type(o) is type(k) and o == k), str(k))
                                for k in opts}))
        return out

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import memory

        inst = self.inst()
        move = {k: values[k] for k in memory.ATTEMPT_VARIABLES}
        r = memory.evaluate_attempt(move, self.track)
        if r.get("outside_space"):
            return Live(error="; ".join(r["outside_space"]))
        base = memory.evaluate_attempt(memory.attempt_defaults(self.track), self.track)
        figs = r["figures"]
        # the waterfall's terms are the parts of the device memory (their sum is 'total'); the attempt's other
        # figures are times
        terms = [k for k in memory.ATTEMPT_FIGURES if k != "total"]
        configs = [{"label": "starting point", "bytes": {k: base["figures"][k].value for k in terms}},
                   {"label": "yours", "bytes": {k: figs[k].value for k in terms}}]
        data = {"terms": terms, "limit": inst.limit, "configs": configs, "unit": "B"}
        total = figs["total"].value
        live = Live(move=move, plots=[Plot("memory_waterfall", data, f"training memory waterfall: "
                                           f"{human_bytes(total)} of {human_bytes(inst.limit)}")])
        times = [k for k in ("step_time", "time_to_quality_s", "time_to_quality_charged_s") if k in figs]
        charged = figs.get("time_to_quality_charged_s")
        if charged is not None and "time_to_quality_s" in figs and charged.value == figs["time_to_quality_s"].value:
            times.remove("time_to_quality_charged_s")  # the same number twice: the charge only differs when faster
        live.readouts = [("memory per " + self.t.device_word, f"{human_bytes(total)} of {human_bytes(inst.limit)}"),
                         *[(figs[k].label or plain_name(k), human_bytes(figs[k].value)) for k in terms],
                         *[(figs[k].label or plain_name(k), _fmt(figs[k].value, figs[k].unit)) for k in times]]
        live.alerts = [f"Does not fit: {violation_text(c)}" for c in r["violations"]]
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            from explorer.puzzles.memory import bytes_per_param

            b = bytes_per_param("adam", "fp32")["total"]
            f = finding(part.report(), "bytes per parameter")
            return [4, 8, 12, 16].index(b) if b in (4, 8, 12, 16) else 3, (f.answer if f else f"{b} bytes")

        return Question("Adam in FP32: how many bytes per parameter for weights, gradients and optimizer state "
                        "(before activations)?", ["4 bytes", "8 bytes", "12 bytes", "16 bytes"], answer)


class Dataloader(Part):
    """Lab 08 part 2, the staged pipeline race: data preparation, ingestion, compute."""

    puzzle = "dataloader"
    rule = 5
    reflection_needles = ("Which stage is the bottleneck", "balance point")
    reflect = 'Which stage is your longest pole, and what moves the balance point?'
    intro = ("Data preparation, ingestion and compute run in series; the slowest stage sets the pace. Find the "
             "balance point, the fewest workers that keep every device fed, in 5 moves.")

    def inst(self, augment_x: float = 1.0) -> Any:
        from explorer.puzzles import dataloader

        base = dataloader.make_instance(self.track)
        return base if augment_x == 1.0 else dataloader.make_instance(self.track, augment_ms=base.augment_s * 1e3
                                                                      * augment_x)

    def controls(self) -> list[Control]:
        inst = self.inst()
        # the balance point's search covers every worker count 1..max_workers and device count 1..max_devices
        # (dataloader.solve_exhaustive), and the grader's moves are one worker or device more or fewer
        ws = list(range(1, inst.max_workers + 1))
        ns = list(range(1, inst.max_devices + 1))
        return [Control("workers", "data-loading workers", "steps", ws, ws[0]),
                Control("devices", self.t.device_plural, "steps", ns, ns[-1]),
                Control("augment_x", "augmentation complexity (x the track's)", "steps", [0.5, 1.0, 2.0, 4.0], 1.0)]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        x = float(values.get("augment_x", 1.0))
        return {} if x == 1.0 else {"augment_ms": self.inst().augment_s * 1e3 * x}

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.cost import input_pipeline as ip
        from explorer.puzzles import dataloader

        inst = self.inst(float(values["augment_x"]))
        w, n = int(values["workers"]), int(values["devices"])
        r = dataloader.evaluate_attempt({"workers": w, "devices": n}, self.track, **self.scenario(values))
        p = inst.pipeline(w, n)
        rates, util = ip.stage_rates(p), ip.utilisation(p)
        data = {"stages": list(ip.STAGES), "rates": [rates[s] for s in ip.STAGES],
                "utilisation": [util[s] for s in ip.STAGES], "throughput": ip.throughput(p),
                "bottleneck": ip.bottleneck(p), "workers": w, "devices": n, "unit": "samples/s"}
        live = Live(move={"workers": w, "devices": n}, plots=[Plot(
            "utilisation_gauge", data, f"pipeline utilisation gauge: bottleneck {data['bottleneck']}, compute "
                                       f"{human_percent(util['compute'])} busy")])
        live.readouts = [("throughput", f"{data['throughput']:,.4g} samples/s"),
                         *[(f"{s} busy", human_percent(util[s])) for s in ip.STAGES]]
        live.alerts = [f"Compute is starved: {c.name.replace(' keeps up', '')} cannot keep up "
                       f"({c.value:,.4g} < {c.limit:,.4g} samples/s)" for c in r["violations"]]
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            x = r.figures["second_device_speedup_saturated"].value
            f = finding(r, "second")
            return bin_of(float(x), [1.1, 1.9]), (f.answer if f else f"{x:.2f}x")

        return Question(f"Will adding a second {self.t.device_word} double the training speed if the CPU is already "
                        "saturated with data augmentation?",
                        ["no: barely faster (under 1.1x)", "partly (1.1-1.9x)", "yes: about 2x"], answer)


class Batch(Part):
    """Lab 08 part 3, the scaling wall: batch, precision and accumulation (and the plan) against MFU."""

    puzzle = "batch"
    reflection_needles = ("95% saturated", "Iron Law")
    reflect = 'Defend your configuration: is the network really 95% saturated, and why was raw TFLOPS not the answer?'
    intro = ("The target is MFU above 40% without saturating the network. Precision, micro-batch and "
             "accumulation are yours (and on the cloud the parallel plan); gradient clipping guards FP16.")

    def inst(self) -> Any:
        from explorer.puzzles import batch

        return batch.make_instance(self.track)

    LABELS = {"precision": "precision", "micro_batch": "micro-batch", "accumulation": "gradient accumulation",
              "tp": "tensor parallel TP", "pp": "pipeline parallel PP", "cp": "context parallel CP",
              "virtual_stages": "virtual stages v (interleaving)", "zero": "ZeRO stage",
              "recompute": "activation recomputation"}
    PRECISIONS = {"fp32": "FP32", "bf16": "mixed BF16", "fp16": "mixed FP16", "fp8": "FP8"}

    def space(self) -> dict[str, list]:
        """The values the batch puzzle searches and its grader's single-change moves are drawn from: its searched
        values (precision, micro-batch, every accumulation 1..max, and where the plan is the attempt's own the
        ZeRO stages and recomputation modes), and there the TP, PP, CP and virtual-stage lists of the 3D solver's
        space (batch._neighbours moves the plan along build_space's lists). DP is not a control: it is the devices
        over TP x PP x CP."""
        return _space_batch(self.track)

    def controls(self) -> list[Control]:
        from explorer.puzzles import batch

        base = {**batch.attempt_defaults(self.track), "micro_batch": self.inst().micro_batches[0], "accumulation": 1}
        return [*space_controls(self.space(), self.LABELS, base, self.PRECISIONS),
                Control("clipping", "gradient clipping", "switch", [True, False], True)]

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import batch

        # a column no control offers is the one value searched; where the plan is fixed, the grader prices that plan
        # itself (batch.attempt_defaults), so a move gives only what the student sets
        fixed = {k: v for k, v in fixed_values(self.space()).items() if k not in batch.PLAN_VARIABLES}
        move = {k: values[k] if k in values else fixed[k] for k in self.LABELS if k in values or k in fixed}
        if "tp" in values:  # the plan is the student's own: DP follows TP x PP x CP to keep the devices
            n = self.t.cluster.devices
            tp, pp, cp = int(move["tp"]), int(move["pp"]), int(move["cp"])
            if n % (tp * pp * cp):
                return Live(error=f"TP x PP x CP = {tp * pp * cp:,} does not divide the {n:,} {self.t.device_plural}")
            move.update(tp=tp, pp=pp, cp=cp, dp=n // (tp * pp * cp),
                        virtual_stages=int(move["virtual_stages"]) if pp > 1 else 1)
        try:
            r = batch.evaluate_attempt(move, self.track)
        except ExplorerError as exc:
            return Live(error=str(exc))
        rep = self.report()
        data = dict(rep.data["comm_ratio"])
        figs = r["figures"]
        if "global_batch" in figs:
            data["yours"] = figs["global_batch"].value
        live = Live(move=move, plots=[Plot("comm_ratio", data, f"communication / compute: global batch "
                                           f"{figs.get('global_batch').value if 'global_batch' in figs else '-'}")])
        live.readouts = [(f.label or k, _fmt(f.value, f.unit)) for k, f in figs.items()]
        live.alerts = [violation_text(c) for c in r["violations"]]
        live.alerts += [f"outside the searched space: {x}" for x in r.get("outside_space") or []]
        if not values.get("clipping", True) and move.get("precision") == "fp16":
            f = finding(rep, "NaN")
            live.alerts.append("FP16 without gradient clipping: " + (f.answer if f else "a spike can overflow."))
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            d = r.data["comm_ratio"]
            ratios = d["comm_to_compute"]
            trend = 0 if ratios[-1] < ratios[0] * 0.95 else (1 if ratios[-1] > ratios[0] * 1.05 else 2)
            f = finding(r, "communication-to-compute ratio")
            return trend, (f.answer if f else "")

        return Question("Does increasing the batch size improve or degrade the communication-to-compute ratio?",
                        ["improves it (less communication per unit of compute)", "degrades it",
                         "leaves it unchanged"], answer)


# ----------------------------------------------------------------------------------------------- registry

PARTS: dict[str, list[type[Part]]] = {"05": [Scaling, ThreeD, Sync], "06": [Crossover, Hierarchy, Compression],
                                      "08": [Memory, Dataloader, Batch]}


def parts(lab: str, track: str) -> list[Part]:
    """The three parts of a lab for a track."""
    from explorer.labs import lab_key
    from explorer.puzzles.fleet3d import is_fleet
    from explorer.tracks import get_track

    get_track(track)
    fleet = is_fleet(track)
    return [(FleetThreeD if cls is ThreeD and fleet else cls)(track) for cls in PARTS[lab_key(lab)]]


def log_move(move: dict[str, Any] | None) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """A state update for the move log: append `move` when it differs from the last one logged. The workbench calls
    it once per configuration the student runs (the controls sit in a form: nothing is estimated, or counted,
    until "run"), so one move is one configuration run, whether the controls were dragged, typed or keyed."""

    def update(moves: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if move is None or (moves and moves[-1] == move):
            return moves
        return [*moves, dict(move)]

    return update


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


# ----------------------------------------------------------------------------------------------- kept across reloads

STATE_ENV = "EXPLORER_LAB_STATE"  # a directory for the saved workbenches (tests, or a student's own choice)


def state_dir() -> Path:
    """Where the workbenches keep each lab's locked predictions and moves: $EXPLORER_LAB_STATE, else the user's
    state directory (XDG Base Directory Specification 0.8: $XDG_STATE_HOME, default ~/.local/state; on Windows
    %LOCALAPPDATA%) under explorer/labs. Never the package: it may be installed read-only and shared."""
    given = os.environ.get(STATE_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    return (Path(base) if base else Path.home() / ".local" / "state") / "explorer" / "labs"


def state_file(lab: str, track: str) -> Path:
    return state_dir() / f"lab{lab}-{track}.json"


def _jsonable(x: Any) -> Any:
    """numpy numbers as Python ones (a move's DP from the plan), anything else as its text."""
    return x.item() if hasattr(x, "item") else str(x)


class Saved:
    """One part's locked prediction, its move log and the configuration last run, kept in a small JSON file per lab
    and track (state_file: {"parts": {"1": {"kept": ..., "moves": [...], "values": {...}}}}), so that a reload of
    the page, or a new session, finds the lock and the moves where they were. `enabled=False` (an exported page, a
    headless run) reads and writes nothing. A file that cannot be read starts the part afresh; one that cannot be
    written leaves `error` saying so (the workbench tells the student that a reload will lose the part)."""

    def __init__(self, lab: str, track: str, number: int, enabled: bool = True) -> None:
        self.path = state_file(lab, track)
        self.key = str(number)
        self.enabled = enabled
        self.error = ""

    def _read_all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and isinstance(data.get("parts"), dict) else {}

    def load(self, part: Part) -> dict[str, Any]:
        """{"kept": the locked answer or None, "moves": the log (its first entry the starting point), "values": the
        controls as last run, settled on today's controls, or None}. An answer that is no longer an option of the
        question (another version of the lab) is not kept."""
        got = (self._read_all().get("parts") or {}).get(self.key) if self.enabled else None
        got = got if isinstance(got, dict) else {}
        kept = got.get("kept") if got.get("kept") in part.lock.options else None
        moves = [m for m in got.get("moves") or [] if isinstance(m, dict)] if kept is not None else []
        values = got.get("values") if isinstance(got.get("values"), dict) and moves else None
        return {"kept": kept, "moves": moves, "values": part.settle(values) if values else None}

    def save(self, **fields: Any) -> bool:
        """Merge `fields` (kept, moves, values) into this part's entry and write the file atomically."""
        if not self.enabled:
            return True
        data = self._read_all() or {"parts": {}}
        data["parts"][self.key] = {**(data["parts"].get(self.key) or {}), **fields}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, default=_jsonable))
            os.replace(tmp, self.path)
        except OSError as exc:
            self.error = f"cannot write {self.path} ({exc.strerror or exc}): a reload will start this part afresh"
            return False
        self.error = ""
        return True


def record_run(part: Part, ran: dict[str, Any] | None, start: dict[str, Any],
               moves: Callable[[], list[dict[str, Any]]], log: Callable[[list[dict[str, Any]]], Any],
               saved: Saved) -> tuple[dict[str, Any], Live, int]:
    """One pass of a part's workbench (ui.run_part, the same for every part): the configuration last run, its
    instruments and the moves counted so far, as (values, live, moves).

    `ran` is the controls' form value, None before the first run of this session: the controls then stand at
    `start` (the configuration last run in an earlier session, else the defaults). `moves` reads the move log and
    `log` sets it (a marimo state pair); `saved` keeps it across reloads (Saved). A run is a move: its move is
    appended unless it repeats the last one logged (log_move), and the log and the configuration are saved (the
    configuration after every run, a move or not). The
    first entry of the log is the starting point, not a move, logged when the log is empty; a session that opens on
    the moves kept from an earlier one (a reload) shows the configuration last run without counting it again."""
    values = part.settle(ran if ran is not None else start)
    live = part.shown(values)
    was = moves()
    now = log_move(live.move)(was) if ran is not None or not was else was
    if len(now) != len(was):
        log(now)
    if len(now) != len(was) or ran is not None:
        # a run that changes only a control outside the move (lab 08 part 2's augmentation cost) is no move, but
        # its configuration is what a reload must bring back
        saved.save(moves=now, values=values)
    return values, live, max(len(now) - 1, 0)


def forget(lab: str, track: str) -> Path | None:
    """Delete a lab's saved predictions and moves on a track (`explore lab 05 --reset`); the file removed, or None."""
    path = state_file(lab, track)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
