"""The optimal frontier as a Report (table + plot) and as CSV, with a student's attempts overlaid."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from explorer.reports.format import fmt_value

from explorer.errors import ExplorerError
from explorer.frontier import FrontierResult, not_compared, on_frontier, spec_for
from explorer.report import Assumption, Figure, Finding, Report, Table
from explorer.units import plural

SHOW = ("gpus", "tp", "pp", "dp", "cp", "micro_batch", "virtual_stages", "zero", "recompute", "tokens_per_s",
        "mfu", "step_time_s", "memory_headroom_bytes", "usd_per_million_tokens", "usd_per_run")
UNITS = {"memory_headroom_bytes": "B", "memory_total_bytes": "B", "memory_limit_bytes": "B", "mfu": "fraction",
         "step_time_s": "s", "usd_per_million_tokens": "USD", "usd_per_run": "USD", "tokens_per_s": "tokens/s",
         "min_headroom_level_bytes": "B"}
HEADERS = {"gpus": "GPUs", "tokens_per_s": "tokens/s", "mfu": "MFU", "step_time_s": "step time",
           "memory_headroom_bytes": "headroom/GPU", "usd_per_million_tokens": "USD per 1M tokens",
           "usd_per_run": "USD per run", "micro_batch": "micro-batch", "virtual_stages": "v"}


def _lower_article(title: str) -> str:
    """'The parallelism puzzle' -> 'the parallelism puzzle', to follow 'Optimal frontier of'."""
    return "t" + title[1:] if title.startswith("The ") else title


def columns(points: list[dict]) -> list[str]:
    cols: list[str] = []
    for p in points:
        cols += [k for k in p if k not in cols]
    return cols


def point_status(point: dict, all_optimal: bool) -> str:
    """'optimal' only for a point proven so: its own status when the solve recorded one, else 'optimal' when
    every solve of the frontier was proven and 'feasible' (best found, not proven) when any stopped at its time
    limit (a frontier does not record which of its solves were proven)."""
    if point.get("status") in ("optimal", "feasible"):
        return point["status"]
    return "optimal" if all_optimal else "feasible"


def to_csv(result: FrontierResult, attempts: list[dict] | None = None) -> str:
    """Frontier points (kind=frontier) then attempts (kind=attempt), one row each; raw SI values. The last
    column, status, says what each row is: a frontier point 'optimal' (proven) or 'feasible' (the best plan
    found before the time limit, not proven); an attempt 'feasible' or 'infeasible'."""
    cols = columns(result.points + (attempts or []))
    cols = [c for c in cols if c not in ("kind", "label", "status")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "label", *cols, "status"])
    for i, p in enumerate(result.points, start=1):
        w.writerow(["frontier", i, *[_csv_value(p.get(c)) for c in cols], point_status(p, result.all_optimal)])
    for a in attempts or []:
        st = "" if a.get("feasible") is None else "feasible" if a.get("feasible") else "infeasible"
        w.writerow(["attempt", a.get("label", ""), *[_csv_value(a.get(c)) for c in cols], st])
    return buf.getvalue()


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e16 else str(int(v))
    return "" if v is None else v


def attempt_points(result: FrontierResult, report: Report, path: Path | list[dict[str, Any]],
                   skipped: list[str] | None = None) -> list[dict]:
    """Each attempt (of a file, or given as values: a lab app's moves) as a point in objective space, flagged
    on/off the computed frontier; the attempts that cannot be placed are appended to `skipped` with the reason."""
    from explorer.reports.attempts import attempt_rows, attempt_spec, puzzle_module, read_attempts

    mod = puzzle_module(result.puzzle)
    spec = spec_for(result.puzzle)
    rows = (attempt_rows(path, report, mod) if isinstance(path, list)
            else read_attempts(path, attempt_spec(report, mod)))
    skipped = [] if skipped is None else skipped
    out = []
    for i, row in enumerate(rows, start=1):
        if row.values is None:
            skipped.append(f"attempt {i}: {row.error}")
            continue
        try:
            options = spec.attempt_scenario(row.values) if spec and spec.attempt_scenario else {}
            res = mod.evaluate_attempt(dict(row.values), track=result.track, **options)
        except (ExplorerError, ValueError, KeyError, TypeError) as exc:
            skipped.append(f"attempt {i} (line {row.line}): {str(exc)[:200]}")
            continue
        point = spec.attempt_point(row.values, res, result.track) if spec and spec.attempt_point else None
        if point is None:
            point = {k: float(res["objective"]) for k in [result.objectives[0].key]} if res.get("objective") else {}
        if not all(o.key in point for o in result.objectives):
            why = "; ".join(res.get("outside_space") or []) or "; ".join(
                getattr(c, "text", "") or getattr(c, "name", "") for c in res.get("violations") or [])
            skipped.append(f"attempt {i} (line {row.line}): no figures to place it" + (f" ({why})" if why else ""))
            continue
        point = dict(point)
        point.update({k: v for k, v in row.values.items() if k not in point})
        point["label"] = str(i)
        point["feasible"] = bool(res.get("feasible"))
        point["on_frontier"] = bool(res.get("feasible")) and on_frontier(point, result.points, result.objectives)
        why = not_compared(point, result) if point["on_frontier"] else None
        if why:  # undominated only because nothing was solved at its GPU count: unknown, not on the frontier
            point["on_frontier"] = None
            point["not_compared"] = why
        out.append(point)
    return out


def _bare(label: str) -> str:
    """An objective's label without its '(unit)' where the value beside it carries the unit:
    'throughput 1.08M tokens/s', not 'throughput (tokens/s) 1.08M tokens/s'."""
    return label.split(" (")[0] if label.endswith(")") and " (" in label else label


def frontier_report(result: FrontierResult, attempts: list[dict] | None = None,
                    skipped: list[str] | None = None) -> Report:
    """A Report of the frontier: table of points, findings, the frontier plot."""
    from explorer.puzzles import get_puzzle

    info = get_puzzle(result.puzzle)
    objs = result.objectives
    cols = [c for c in SHOW if any(c in p for p in result.points)]
    cols += [o.key for o in objs if o.key not in cols]
    rows = [[fmt_value(p.get(c), UNITS.get(c, "")) if isinstance(p.get(c), (int, float)) else p.get(c)
             for c in cols] for p in result.points]
    tables = {"frontier": Table([HEADERS.get(c, c) for c in cols], rows,
                                title="Frontier points (each proven optimal for its constraints)" if
                                result.all_optimal else "Frontier points (not all proven optimal: time limit)")}
    obj_text = ", ".join(f"{o.sense} {o.label}" for o in objs)
    solves = (plural(result.solved, "exact solve") if result.all_optimal else
              f"{plural(result.solved, 'solve')}, not all proven optimal (time limit)")
    kept = plural(len(result.points), "non-dominated point")
    findings = [Finding("Which objectives trade off?", f"{obj_text}; {kept} "
                        f"from {solves} ({plural(result.dominated, 'dominated solved point')} dropped).")]
    first_max = next((o for o in objs if o.sense == "max"), objs[0])
    top = max(result.points, key=lambda p: p[first_max.key])
    findings.append(Finding(f"Highest {_bare(first_max.label)}" + ("?" if result.all_optimal else
                                                                  " found (not proven optimal)?"),
                            ", ".join(f"{_bare(o.label)} {fmt_value(top[o.key], UNITS.get(o.key, o.unit))}"
                                      for o in objs)))
    if any("usd_per_million_tokens" in p for p in result.points):
        cheap = min(result.points, key=lambda p: p["usd_per_million_tokens"])
        findings.append(Finding("Cheapest tokens on the frontier?",
                                f"{fmt_value(cheap['usd_per_million_tokens'])} USD per million tokens on "
                                f"{cheap.get('gpus')} GPUs at {fmt_value(cheap['tokens_per_s'])} tokens/s."))
    if getattr(result, "unanswered", None):
        findings.append(Finding("Which settings got no answer within the time limit?",
                                f"{'; '.join(x.split(':')[0] for x in result.unanswered)}: CP-SAT stopped before "
                                f"finding any plan (not a proof that none fits); raise --time-limit."))
    if result.infeasible:
        heads = [s.split(":")[0] for s in result.infeasible]
        findings.append(Finding("Which settings have no feasible plan at all?",
                                f"{', '.join(heads)}: nothing fits. First reason: {result.infeasible[0]}"))
    if skipped:
        findings.append(Finding("Which attempts could not be placed on the frontier?", "; ".join(skipped) + "."))
    if attempts:
        on = [str(a["label"]) for a in attempts if a.get("on_frontier")]
        unknown = [f"attempt {a['label']} not compared ({a['not_compared']})" for a in attempts
                   if a.get("not_compared")]
        findings.append(Finding("Which attempts are on the frontier?",
                                (f"attempt {', '.join(on)}" if on else "none") + f" (of {len(attempts)} graded); "
                                + "".join(f"{u}; " for u in unknown) + "the others are dominated or infeasible."))
        tables["attempts"] = Table(["attempt", *[o.label for o in objs], "feasible", "on frontier"],
                                   [[a["label"], *[fmt_value(a[o.key], UNITS.get(o.key, o.unit)) for o in objs],
                                     "yes" if a.get("feasible") else "NO",
                                     "yes" if a.get("on_frontier") else
                                     f"not compared ({a['not_compared']})" if a.get("not_compared") else "no"]
                                    for a in attempts], title="Attempts against the frontier")
    data = {"objectives": [{"key": o.key, "sense": o.sense, "label": o.label, "unit": UNITS.get(o.key, o.unit)}
                           for o in objs],
            "points": [{**p, "status": point_status(p, result.all_optimal)} for p in result.points],
            "attempts": attempts or [], "proven": result.all_optimal}
    return Report(
        puzzle=result.puzzle, lab=info.lab, part=info.part, track=result.track,
        title=(f"Optimal frontier of {_lower_article(info.title)}" if result.all_optimal else
               f"Best-found frontier of {_lower_article(info.title)} (not proven optimal)"),
        status="optimal" if result.all_optimal else "feasible",
        headline=(f"{result.scenario}: " if result.scenario else "") + (
                  f"{plural(len(result.points), 'Pareto-optimal point')} ({obj_text}); no point dominates another."
                  if result.all_optimal else f"{plural(len(result.points), 'non-dominated point')} found "
                  f"({obj_text}); not every solve was proven optimal before the time limit, so "
                  f"{'it is' if len(result.points) == 1 else 'they are'} feasible, not proven Pareto-optimal."),
        figures={"points": Figure(len(result.points), "", "frontier points"),
                 "solves": Figure(result.solved, "", "exact solves" if result.all_optimal else
                                  "solves (not all proven optimal)")},
        findings=findings, tables=tables, plots=["frontier"], data={"frontier": data},
        assumptions=[Assumption("Epsilon-constraint method: one objective optimised with the others as "
                                "constraints, dominated points dropped.",
                                "Haimes, Lasdon & Wismer 1971, IEEE Trans. SMC 1(3); Miettinen 1999, sec. 3.2"),
                     *([Assumption(result.note)] if result.note else [])],
    )


def write_frontier(report: Report, result: FrontierResult, out_dir: Path, fmt: str,
                   attempts: list[dict] | None = None) -> list[Path]:
    """CSV + PNG of the frontier, and the report in the chosen format, into out_dir."""
    from explorer.reports.plots import render_png
    from explorer.reports.render import write_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"frontier-{result.puzzle}-{result.track}"
    csv_path = out_dir / f"{stem}.csv"
    csv_path.write_text(to_csv(result, attempts), encoding="utf-8")
    png = render_png("frontier", report)
    paths = [csv_path]
    if fmt != "markdown":  # Markdown writes its plots beside the page itself
        png_path = out_dir / f"{stem}.png"
        png_path.write_bytes(png)
        paths.append(png_path)
    paths += write_report(report, fmt, out_dir, stem=stem, pngs={"frontier": png})
    return paths
