"""Instructor answer keys: every lab part for every track, solved, as Markdown + HTML + JSON + text (100
columns), with an index.

Deterministic: the files carry no timestamps and no solve times (solve_time_s is zeroed and timing keys
are dropped from `extra`), plots are rendered with fixed dpi and no metadata, and everything is written
in a fixed order, so a rerun gives byte-identical files. A puzzle that is not implemented yet, or that
fails, is listed on the index page with its error instead of stopping the key.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from explorer.report import Report

TEXT_WIDTH = 100  # the text answers are wrapped to this many columns, whatever terminal writes the key
TIMING_KEYS = frozenset({"solve_time_s", "wall_time_s", "wall_time", "timestamp", "elapsed_s", "solver_time_s",
                         "solver_wall_time_s", "date", "time_of_run"})


@dataclass
class KeyEntry:
    lab: str
    part: int
    puzzle: str
    title: str
    track: str
    status: str = ""
    headline: str = ""
    files: dict[str, str] = field(default_factory=dict)  # format -> path relative to the key directory
    error: str = ""
    output_error: bool = False  # the error was writing its files (an OSError or OutputPathError), not the puzzle's
    plot_errors: dict[str, str] = field(default_factory=dict)  # plot name -> why it could not be drawn


# "proven optimal by CP-SAT in 8.02 s" -> "proven optimal by CP-SAT": a wall time in prose is not the answer.
_TIME_IN_TEXT = re.compile(r"((?:CP-SAT|solver|solved|search|enumerat\w*)[^.;:]{0,40}?) in \d+(?:\.\d+)? ?"
                           r"(?:s|ms|us|seconds|milliseconds)\b")


def scrub_text(text: str) -> str:
    return _TIME_IN_TEXT.sub(r"\1", text)


def _scrub(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


def deterministic(report: Report) -> Report:
    """A copy without solve times (the field, timing keys in extra, and wall times quoted in prose)."""
    r = copy.deepcopy(report)
    r.solve_time_s = 0.0
    r.extra = _scrub(r.extra)
    r.headline = scrub_text(r.headline)
    for f in r.findings:
        f.answer = scrub_text(f.answer)
    for t in r.tables.values():
        t.rows = [[scrub_text(c) if isinstance(c, str) else c for c in row] for row in t.rows]
    return r


def selected(labs: list[str], tracks: list[str]) -> list[tuple[Any, str]]:
    """(PuzzleInfo, track) pairs in lab, part, track order."""
    from explorer.puzzles import PUZZLES

    infos = sorted((p for p in PUZZLES.values() if p.lab in labs), key=lambda p: (p.lab, p.part, p.name))
    return [(p, t) for p in infos for t in tracks]


def _error_text(exc: BaseException, module: str) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name and module.startswith(exc.name):
        return f"not implemented yet (no module {module})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def key_entry(info: Any, track: str, out_dir: Path, solve: Callable[..., Report] | None = None) -> KeyEntry:
    """Solve one lab part for one track and write its Markdown, HTML and JSON (and PNGs) into out_dir/labNN/."""
    from explorer.reports.plots import render_all
    from explorer.reports.render import to_json, to_text, write_report

    entry = KeyEntry(info.lab, info.part, info.name, info.title, track)
    try:
        if solve is None:
            from explorer.puzzles import solve as solve_puzzle

            report = solve_puzzle(info.name, track)
        else:
            report = solve(info.name, track)
        report = deterministic(report)
        pngs = render_all(report)
        sub = out_dir / f"lab{info.lab}"
        stem = f"{info.name}-{track}"
        write_report(report, "markdown", sub, stem=stem, pngs=pngs)
        write_report(report, "html", sub, stem=stem, pngs=pngs)
        (sub / f"{stem}.json").write_text(to_json(report), encoding="utf-8")
        (sub / f"{stem}.txt").write_text(to_text(report, width=TEXT_WIDTH), encoding="utf-8")
    except Exception as exc:  # one failing puzzle must not sink the whole key
        from explorer.reports.render import OutputPathError

        entry.error = _error_text(exc, info.module)
        entry.output_error = isinstance(exc, (OSError, OutputPathError))
        return entry
    entry.status, entry.headline = report.status, report.headline
    entry.plot_errors = {n: e for n, e in pngs.items() if not isinstance(e, bytes)}
    entry.files = {fmt: f"lab{info.lab}/{stem}.{ext}" for fmt, ext in (("markdown", "md"), ("html", "html"),
                                                                        ("json", "json"), ("text", "txt"))}
    return entry


def _scope(entries: list[KeyEntry], labs: dict[str, str]) -> str:
    """What the key covers, in words: 'Every lab part for every track', 'Every part of lab 06 for the edge track'."""
    from explorer.tracks import track_names
    from explorer.units import join_words

    have_labs = sorted({e.lab for e in entries})
    have_tracks = list(dict.fromkeys(e.track for e in entries))
    parts = ("Every lab part" if set(have_labs) >= set(labs) else
             f"Every part of lab{'s' if len(have_labs) > 1 else ''} {join_words(have_labs)}")
    tracks = ("every track" if set(have_tracks) >= set(track_names()) else
              f"the {join_words(have_tracks)} track{'s' if len(have_tracks) > 1 else ''}")
    return f"{parts} for {tracks}, solved"


def index_markdown(entries: list[KeyEntry], labs: dict[str, str]) -> str:
    lines = ["# Answer key", "", f"{_scope(entries, labs)}. Each answer links to its Markdown, "
             "HTML (self-contained) and JSON report."]
    current = None
    for e in entries:
        if e.lab != current:
            current = e.lab
            lines += ["", f"## Lab {e.lab}: {labs.get(e.lab, '')}", "", "| part | puzzle | track | status | answer |",
                      "|---|---|---|---|---|"]
        if e.error:
            lines.append(f"| {e.part}: {e.title} | `{e.puzzle}` | {e.track} | ERROR | {e.error.replace('|', '/')} |")
        else:
            links = " / ".join(f"[{f}]({p})" for f, p in e.files.items())
            broken = "".join(f" PLOT {n} FAILED: {err}." for n, err in e.plot_errors.items()).replace("|", "/")
            lines.append(f"| {e.part}: {e.title} | `{e.puzzle}` | {e.track} | {e.status} | "
                         f"{e.headline.replace('|', '/')} ({links}){broken} |")
    ok = sum(1 for e in entries if not e.error)
    lines += ["", f"{ok} of {len(entries)} answers solved; {len(entries) - ok} listed with their error.", ""]
    return "\n".join(lines)


SHORT_HEADLINE = 180  # characters of an answer the index shows before "more": about two lines at 1,280 px


def _headline_html(headline: str) -> str:
    """The answer's headline for the index: whole when short; else its first ~180 characters (cut at a clause,
    else a word) in a <details> summary that opens to the whole, so one long answer doesn't stretch its row
    (some run to 700 characters) and the index stays a table to scan."""
    if len(headline) <= SHORT_HEADLINE + 40:
        return f"{escape(headline)}<br>"
    head = headline[:SHORT_HEADLINE]
    cut = max(head.rfind("; "), head.rfind(": "), head.rfind(", "))
    if cut < SHORT_HEADLINE // 2:
        cut = head.rfind(" ")
    return (f"<details><summary>{escape(headline[:cut].rstrip(' ,;:'))} &hellip;</summary>"
            f"{escape(headline)}</details>")


def index_html(entries: list[KeyEntry], labs: dict[str, str]) -> str:
    from explorer.reports.html import document

    parts = ["<h1>Answer key</h1>", f"<p>{escape(_scope(entries, labs))}. Each answer links to its "
             "self-contained HTML page, its Markdown and its JSON report.</p>"]
    current = None
    for e in entries:
        if e.lab != current:
            if current is not None:
                parts.append("</tbody></table></div>")
            current = e.lab
            parts += [f"<h2>Lab {escape(e.lab)}: {escape(labs.get(e.lab, ''))}</h2>",
                      # 'stack': on a phone each row becomes a card, every cell on its own line under its
                      # column's name (data-label), so the answer is read without a sideways scroll
                      "<div class='table-wrap'><table class='stack'><thead><tr><th>part</th><th>puzzle</th>"
                      "<th>track</th><th>status</th><th>answer</th>"
                      "</tr></thead><tbody>"]
        if e.error:
            parts.append(f"<tr><td data-label='part'>{e.part}: {escape(e.title)}</td>"
                         f"<td data-label='puzzle'><code>{escape(e.puzzle)}</code></td>"
                         f"<td data-label='track'>{escape(e.track)}</td><td data-label='status' class='bad'>ERROR</td>"
                         f"<td data-label='answer' class='err'>{escape(e.error)}</td></tr>")
        else:
            links = " &middot; ".join(f"<a href='{escape(p)}'>{escape(f)}</a>"
                                      for f, p in (("html", e.files["html"]), ("markdown", e.files["markdown"]),
                                                   ("json", e.files["json"]), ("text", e.files["text"])))
            broken = "".join(f"<br><span class='err'>plot {escape(n)} could not be drawn: {escape(err)}</span>"
                             for n, err in e.plot_errors.items())
            parts.append(f"<tr><td data-label='part'>{e.part}: {escape(e.title)}</td>"
                         f"<td data-label='puzzle'><code>{escape(e.puzzle)}</code></td>"
                         f"<td data-label='track'>{escape(e.track)}</td>"
                         f"<td data-label='status' class='good'>{escape(e.status)}</td>"
                         f"<td data-label='answer'>{_headline_html(e.headline)}{links}{broken}</td></tr>")
    if current is not None:
        parts.append("</tbody></table></div>")
    ok = sum(1 for e in entries if not e.error)
    parts.append(f"<p>{ok} of {len(entries)} answers solved; {len(entries) - ok} listed with their error.</p>")
    return document("Answer key", "\n".join(parts))


def _entries_parallel(jobs: int, work: list[tuple[Any, str]], out_dir: Path,
                      progress: Callable[[KeyEntry], None] | None) -> list[KeyEntry]:
    """key_entry over a pool of forked worker processes; results in input order (each writes its own files)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("fork")
    results: dict[int, KeyEntry] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(key_entry, info, track, out_dir): i for i, (info, track) in enumerate(work)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as exc:  # a worker that died: list it like any failing puzzle
                info, track = work[i]
                results[i] = KeyEntry(info.lab, info.part, info.name, info.title, track,
                                      error=_error_text(exc, info.module))
            if progress:
                progress(results[i])
    return [results[i] for i in range(len(work))]


def build_key(labs: list[str], tracks: list[str], out_dir: Path | str,
              progress: Callable[[KeyEntry], None] | None = None,
              solve: Callable[..., Report] | None = None, jobs: int = 1) -> list[KeyEntry]:
    """Write the answer key for the given labs and tracks into out_dir; returns one entry per lab part x track.
    progress is called after each entry (the CLI draws a progress bar with it). jobs > 1 solves and draws
    in that many forked processes (same files: each answer's files depend only on its own solve)."""
    import multiprocessing

    from explorer.puzzles import LABS

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = selected(labs, tracks)
    if jobs > 1 and solve is None and len(work) > 1 and "fork" in multiprocessing.get_all_start_methods():
        entries = _entries_parallel(jobs, work, out_dir, progress)
    else:
        entries = []
        for info, track in work:
            entry = key_entry(info, track, out_dir, solve)
            entries.append(entry)
            if progress:
                progress(entry)
    (out_dir / "index.md").write_text(index_markdown(entries, LABS), encoding="utf-8")
    (out_dir / "index.html").write_text(index_html(entries, LABS), encoding="utf-8")
    index = json.dumps([{k: v for k, v in e.__dict__.items() if k != "output_error"} for e in entries], indent=2,
                       allow_nan=False) + "\n"  # the error text says what it was
    (out_dir / "index.json").write_text(index, encoding="utf-8")
    return entries
