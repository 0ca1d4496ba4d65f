"""Report commands: `explore frontier`, `explore key`, `explore attempts template`, `explore report`.

A thin Click layer: each command parses its options and calls one library function (explorer.frontier,
reports.key, reports.attempts, reports.render); heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import ATTEMPTS_FILE, FORMATS, choice, output_options, track_option
from explorer.errors import UsageError

LAB_CHOICES = ("05", "06", "08", "all")
TRACK_CHOICES = ("cloud", "edge", "mobile", "tiny", "all")


@main.command("frontier")
@click.argument("puzzle", callback=lambda _ctx, _param, v: v.lower())  # any case, as solve's
@track_option
@output_options
@click.option("--attempts", "attempts_file", type=ATTEMPTS_FILE, default=None,
              help="A student's attempts (CSV or JSON) to overlay on the frontier.")
@click.option("--gpus", "gpu_counts", type=V.GPU_COUNTS, default=None, help="GPU counts to solve for, e.g. 64,128,256 "
              "(default: powers of two up to the cluster).")
@click.option("--levels", type=V.Int(1, 20), default=4, show_default=True,
              help="Memory-headroom levels (epsilon constraints) per GPU count.")
@click.option("--complete", is_flag=True, default=False,
              help="Every non-dominated point: raise the headroom by one byte each time, not 5% of HBM.")
@click.option("--run-tokens", type=V.RUN_TOKENS, default=None,
              help="Tokens in one training run, to add dollars per run (default: dollars per million tokens).")
@click.option("--time-limit", type=V.TIME_LIMIT, default=None, help="Time limit per CP-SAT solve in seconds.")
def frontier_cmd(puzzle: str, track: str, fmt: str, out_dir: Path | None, attempts_file: Path | None,
                 gpu_counts: list[int] | None, levels: int, complete: bool, run_tokens: float | None,
                 time_limit: float | None) -> None:
    """The optimal (Pareto) frontier of PUZZLE: CSV and a plot with --out DIR, a report on stdout otherwise."""
    from explorer.frontier import frontier
    from explorer.reports.frontier import attempt_points, frontier_report, write_frontier
    from explorer.reports.render import render

    options: dict = {}
    if attempts_file is not None and not attempts_file.exists():
        raise UsageError(f"attempts file {attempts_file} does not exist")
    if out_dir is not None:  # before solving, as --out's help promises: the files write_frontier writes
        check_targets(out_dir, frontier_targets(puzzle, track, fmt))
    if puzzle == "3d":
        from explorer.frontier import check_3d

        options = {"gpu_counts": gpu_counts, "levels": levels, "complete": complete, "run_tokens": run_tokens,
                   "time_limit": time_limit}
        counts = check_3d(track, **options)[0]  # before the progress bar: a refusal is its one line alone
        options["gpu_counts"] = counts
        with progress_bar(len(counts), f"frontier {puzzle} [{track}]") as bar:
            result = frontier(puzzle, track, progress=bar.update, **options)
    elif gpu_counts or run_tokens or complete:
        raise UsageError("--gpus, --complete and --run-tokens apply to the 3d frontier only")
    else:
        result = frontier(puzzle, track)
    report = frontier_report(result)
    skipped: list[str] = []
    attempts = attempt_points(result, report, attempts_file, skipped) if attempts_file is not None else None
    if attempts is not None:
        report = frontier_report(result, attempts, skipped)
    if out_dir is not None:
        for p in write_frontier(report, result, out_dir, fmt, attempts):
            click.echo(str(p))
    elif fmt == "text":
        from explorer.reports.text import want_color

        click.echo(render(report, "text", color=want_color()), nl=False)
        # The points as CSV go to a file (--out), not into the text: rows of 19 raw columns overran any
        # terminal, and every column is in the points table above.
        from explorer.reports.text import wrap

        click.echo("\n" + "\n".join(wrap(f"The points as CSV: --out DIR writes frontier-{puzzle}-{track}.csv; "
                                          "--format json prints them.")))
    else:
        click.echo(render(report, fmt), nl=False)


def frontier_targets(puzzle: str, track: str, fmt: str) -> list[str]:
    """The files `explore frontier PUZZLE --out DIR` writes (reports/frontier.py write_frontier): the points as CSV,
    the plot as PNG (beside a Markdown page, under the page's own name for it) and the report."""
    from explorer.reports.render import EXTENSIONS, stem_for

    try:
        stem = stem_for(puzzle, track, "frontier")
    except ValueError:  # not a puzzle's name: frontier() refuses it with the list of names
        return []
    png = f"{stem}-frontier.png" if fmt == "markdown" else f"{stem}.png"
    return [f"{stem}.csv", png, f"{stem}.{EXTENSIONS[fmt]}"]


def check_targets(out_dir: Path, names: list[str]) -> None:
    from explorer.reports.render import check_targets as check

    check(out_dir, names)


class _Quiet:
    """A progress bar that shows nothing (stderr is a file or a pipe)."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int, item: object = None) -> None:
        return None


def progress_bar(length: int, label: str, **options: Any) -> Any:
    """click's progress bar on a terminal's stderr; nothing otherwise (click prints the bare label when stderr is
    not a terminal, a stray line in a captured log)."""
    if not sys.stderr.isatty():
        return _Quiet()
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True, **options)


def _expand(value: str, allowed: tuple[str, ...]) -> list[str]:
    return [v for v in allowed if v != "all"] if value == "all" else [value]


@main.command("key")
@click.option("--lab", type=choice(LAB_CHOICES), default="all", show_default=True, help="Which lab.")
@click.option("--track", "-t", type=choice(TRACK_CHOICES), default="all", show_default=True,
              help="Which track.")
@click.option("--out", "out_dir", type=V.OUT_DIR, required=True,
              help="Directory for the key (index.html, index.md, labNN/...).")
@click.option("--jobs", "-j", type=V.Int(1, 64), default=None,
              help="Worker processes (default: the number of CPUs, at most 4); the files do not depend on it.")
def key_cmd(lab: str, track: str, out_dir: Path, jobs: int | None) -> None:
    """Answer keys: every lab part x track solved, as Markdown + HTML + JSON + text, with an index page."""
    from explorer.reports.key import build_key, selected

    labs, tracks = _expand(lab, LAB_CHOICES), _expand(track, TRACK_CHOICES)
    work = selected(labs, tracks)
    total = len(work)
    # before solving: every file the key writes (reports/key.py key_entry, build_key) can be written
    check_targets(out_dir, [*(f"lab{info.lab}/{info.name}-{t}.{ext}" for info, t in work
                              for ext in ("md", "html", "json", "txt")),
                            "index.md", "index.html", "index.json"])
    with progress_bar(total, "answer key", item_show_func=lambda e: e and f"{e.puzzle}/{e.track}") as bar:
        def step(entry) -> None:
            bar.update(1, entry)

        entries = build_key(labs, tracks, out_dir, progress=step, jobs=jobs or min(4, os.cpu_count() or 1))
    failed = [e for e in entries if e.error]
    for e in failed:
        click.echo(f"  {e.puzzle} [{e.track}]: {e.error}", err=True)
    for e in entries:
        for name, err in e.plot_errors.items():
            click.echo(f"  {e.puzzle} [{e.track}]: plot {name} could not be drawn: {err}", err=True)
    click.echo(f"{len(entries) - len(failed)} of {len(entries)} answers written; index: {out_dir / 'index.html'}"
               + (f" (listing the {len(failed)} not written, each with its error)" if failed else ""))
    if failed:  # an incomplete key is no success: a `key && publish` script must not publish it
        click.get_current_context().exit(2 if all(e.output_error for e in failed) else 1)


@main.group("attempts")
def attempts_group() -> None:
    """Student attempts: a template to fill in (grade it with `explore solve PUZZLE --attempts FILE`)."""


@attempts_group.command("template")
@click.argument("puzzle", callback=lambda _ctx, _param, v: v.lower())  # any case, as solve's
@click.option("--format", "fmt", type=choice(("csv", "json")), default="csv", show_default=True,
              help="File format to fill in.")
@track_option
def attempts_template(puzzle: str, fmt: str, track: str) -> None:
    """Print an empty attempts file with PUZZLE's columns on TRACK, in order (the 3D puzzle's fleet form on
    edge, mobile and tiny has its own)."""
    from explorer.reports.attempts import template

    click.echo(template(puzzle, fmt, track), nl=False)


MAX_REPORT_BYTES = 64 * 2**20  # a saved report is a few hundred KB; refuse anything far larger


def report_output_options(f: Callable) -> Callable:
    """--format and --out for `explore report`, which solves nothing (output_options' --out says 'checked before
    solving')."""
    f = click.option("--out", "out_dir", type=V.OUT_DIR, default=None,
                     help="Write the report into this directory instead of printing it (created if missing), as "
                          "the command that made it names it: 3d-cloud.html for a `solve 3d` report, "
                          "frontier-3d-cloud.html for a `frontier 3d` one. Checked before anything is written.")(f)
    return click.option("--format", "fmt", type=choice(FORMATS), default="text", show_default=True,
                        help="Report format.")(f)


@main.command("report")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@report_output_options
@click.option("--attempts", "attempts_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A student's attempts (CSV or JSON) to grade against the scenario the report was solved for.")
def report_cmd(file: Path, fmt: str, out_dir: Path | None, attempts_file: Path | None) -> None:
    """Re-render a saved JSON report (from `--format json`) without solving again."""
    from explorer.cli.common import emit
    from explorer.report import Report
    from explorer.reports.attempts_file import read_at_most

    raw = read_at_most(file, MAX_REPORT_BYTES, "saved report", "not a saved report")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UsageError(f"{file} is not UTF-8 text; a saved report is the JSON of --format json") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{file} is not JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise UsageError(f"{file} is nested too deeply to be a saved report") from None
    except ValueError as exc:  # an integer literal past Python's 4,300 digits (int_max_str_digits)
        raise UsageError(f"{file} is not a saved report: {str(exc).split(';')[0][:120]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{file} is not a saved report: its JSON is {json_kind(data)}, not an object (a saved report "
                         f"is the {{...}} of `explore solve PUZZLE --format json`)")
    if "puzzle" not in data:  # e.g. the JSON of `explore plan` or `explore check`, which are not puzzle reports
        raise UsageError(f"{file} is not a saved report: it has no 'puzzle' (a report is the JSON of `explore solve "
                         f"PUZZLE --format json`; plan, check and estimate JSON are not re-rendered)")
    try:
        report = Report.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise UsageError(f"{file} is not a saved report: {str(exc)[:200]}") from None
    bad = figure_value_problem(report)
    if bad:
        raise UsageError(f"{file} is not a saved report: {bad}")
    if attempts_file is not None:
        refuse_grading(report, file)
    if out_dir is not None:
        from explorer.reports.render import report_targets

        check_targets(out_dir, report_targets(report, fmt))
    emit(report, fmt, out_dir, attempts_file)


def json_kind(v) -> str:
    """A JSON value as a user names it: null, true, false, a number, a string, a list (not Python's type names)."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return f"a number ({json.dumps(v)[:20]})"
    if isinstance(v, str):
        return "a string"
    return "a list" if isinstance(v, list) else "an object"


def figure_value_problem(report) -> str:
    """The first figure whose value cannot be what it claims, as a message naming it, or "". A figure with a unit
    (s, B, fraction, GB/s ...) is a measurement: a number, a list of numbers (a figure per item), or null (not
    computed); NaN and infinity were refused on load (report.check_saved). A figure without a unit may also be a
    name or a yes/no (the best algorithm: 'ring'; whether the crisis plan fits: true), as the puzzles write them.
    Otherwise an edited report printed 'abc fraction' as an MFU, with exit 0."""

    def number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    for name, f in report.figures.items():
        v = f.value
        if not f.unit or v is None or number(v) or (isinstance(v, list) and all(number(x) for x in v)):
            continue
        given = json.dumps(v)[:40] if not isinstance(v, list) else "a list with " + json_kind(
            next(x for x in v if not number(x)))
        return (f"figures.{name[:40]}.value must be a number or null (its unit is {f.unit[:20]!r}), got {given}")
    return ""


def refuse_grading(report, file: Path) -> None:
    """--attempts grades against the scenario a report keeps, so only a report that is what it says: its checksum
    matches (an edited scenario or puzzle would grade against an instance nobody solved), and its lab, part and
    title are those of the puzzle it names (a crossover report relabelled 'hierarchy' graded hierarchy attempts
    under the crossover's title). Rendering an unverified report, with its warning, stays allowed."""
    from explorer.puzzles import PUZZLES

    if report.integrity != "verified":
        why = ("its content does not match the checksum it was saved with (edited after saving)"
               if report.integrity == "mismatch" else "it has no checksum")
        raise UsageError(f"--attempts grades only a verified report, and {file} is not: {why}; solve again with "
                         f"`explore solve {report.puzzle} --format json` (or grade with `explore solve "
                         f"{report.puzzle} --attempts FILE`)")
    info = PUZZLES[report.puzzle]  # a known name: from_dict checked it
    if (report.lab, report.part, report.title) != (info.lab, info.part, info.title):
        said = f"Lab {str(report.lab)[:8]} part {report.part}: {report.title[:60]}"
        raise UsageError(f"--attempts grades a puzzle's own report: {file} names puzzle {report.puzzle} "
                         f"(Lab {info.lab} part {info.part}: {info.title}) but is '{said}'")
