"""The validation as text, JSON or CSV, and its figure (no physics here)."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from explorer.errors import UsageError
from explorer.validate.judge import overall
from explorer.validate.results import ERROR_RULE, TableResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("text", "json", "csv")


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%" if round(100 * x, 1) else "0.0%"


def _num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _sample_note(t: TableResult) -> str:
    if t.out_rows:
        return "fitted without this table"
    if t.kind == "memory":
        return "no fitted parameter enters"
    return "no fit used this table"


def render_text(results: list[TableResult], width: int | None = None) -> str:
    """The tables as terminal text that fits `width` (default: the terminal's, else 80 columns): every row with
    its in-sample error and, for a calibrated table, its out-of-sample error; then the per-table summary."""
    from explorer.reports.text import TextDoc

    doc = TextDoc()
    doc.line(f"{ERROR_RULE[0].upper()}{ERROR_RULE[1:]}.").line()
    for t in results:
        doc.line(f"{t.title}  [{t.key}]", style="bold").line(f"source: {t.source}", indent=2)
        outs = t.out_rows or ()
        rows = []
        for i, r in enumerate(t.rows):
            row = [r.label, _num(r.published), _num(r.predicted), _pct(r.error)]
            if outs:
                row.append(_pct(outs[i].error))
            row.append("over target" if r.abs_error > t.target_max else "")
            rows.append(row)
        head = ["row", f"published ({t.unit})", f"predicted ({t.unit})", "error"]
        doc.table(head + (["out of sample"] if outs else []) + [""], rows, indent=2)
        verdict = "meets target" if t.meets_target else "MISSES TARGET"
        # a table no fit used is predicted by the shipped parameters out of sample: 'in sample' would overstate it
        first = "in sample" if t.in_fit or t.kind == "memory" else "with the shipped parameters (none fitted on it)"
        doc.line(f"{first}: median |error| {100 * t.median_error:.1f}% (target {100 * t.target_median:.0f}%), "
                 f"max |error| {100 * t.max_error:.1f}% (target {100 * t.target_max:.0f}%): {verdict}", indent=2)
        if t.kind == "throughput":
            verdict = "meets target" if t.meets_out_target else "MISSES TARGET"
            doc.line(f"out of sample ({_sample_note(t)}): median |error| {100 * t.out_median_error:.1f}%, "
                     f"max |error| {100 * t.out_max_error:.1f}%: {verdict}", indent=2)
        if not (t.meets_target and t.meets_out_target):
            over = t.rows_over()
            doc.line(f"{len(over)} of {len(t.rows)} rows over the {100 * t.target_max:.0f}% target in sample.",
                     indent=2)
            if t.miss:
                doc.line(f"why: {t.miss}", indent=2)
        doc.line()
    doc.line("Per table (out of sample: predicted with the efficiency parameters fitted without that table, "
             "explorer/calibrate.py):")
    doc.line("(median and max |error|, in sample / out of sample; a table marked * was in no fit, so its 'in' "
             "figures, from the shipped parameters, are out of sample too; met: both out-of-sample figures within "
             "the table's target, median / max)", indent=2)
    doc.table(["table", "rows", "in med", "in max", "out med", "out max", "target", "met"],
              [[t.key + ("*" if t.kind == "throughput" and not t.in_fit else ""), len(t.rows),
                f"{100 * t.median_error:.1f}%", f"{100 * t.max_error:.1f}%",
                f"{100 * t.out_median_error:.1f}%", f"{100 * t.out_max_error:.1f}%",
                f"{100 * t.target_median:.0f}/{100 * t.target_max:.0f}%", "yes" if t.meets_out_target else "no"]
               for t in results], indent=2)
    doc.line()
    for kind in ("throughput", "memory"):
        o = overall(results, kind)
        if o["rows"]:
            text = (f"All {kind} rows ({o['rows']}): median |error| {100 * o['median_error']:.1f}%, "
                    f"max |error| {100 * o['max_error']:.1f}%")
            if kind == "throughput":
                oo = overall(results, kind, out_of_sample=True)
                text += (f" in sample; {100 * oo['median_error']:.1f}% and {100 * oo['max_error']:.1f}% "
                         f"out of sample")
            doc.line(text)
    from explorer.accuracy import summarize

    summary = summarize(results)
    groups = summary["groups"]
    ws = summary["weak_scaling"]
    if ws["series"]:
        doc.line()
        doc.line(f"Weak scaling: along {len(ws['series'])} series (runs of one table that differ only in GPU count "
                 f"and DP degree, {ws['gpus'][0]:,}-{ws['gpus'][1]:,} GPUs), per-GPU throughput from each series' "
                 f"smallest run to its largest changed by {_pct(ws['median_published_change'])} published and "
                 f"{_pct(ws['median_predicted_change'])} predicted at the median.")
    if groups:
        doc.line()
        doc.line("By framework and GPU family, out of sample (the accuracy line every estimate and solve 3d report "
                 "quotes; an FP8 plan's quotes the FP8 runs):")
        doc.table(["framework", "GPUs", "precision", "rows", "median |error|", "max |error|", "within 15%",
                   "median error"],
                  [[g["framework"], g["family"], g["precision"], g["rows"], f"{100 * g['median_abs_error']:.1f}%",
                    f"{100 * g['max_abs_error']:.1f}%", g["within_good"], _pct(g["median_error"])]
                   for g in groups], indent=2)
    return doc.render(width)


def render_json(results: list[TableResult]) -> str:
    from explorer.accuracy import summarize

    summary = summarize(results)
    doc = {"error_rule": ERROR_RULE, "tables": [t.as_dict() for t in results],
           "overall": [overall(results, k) for k in ("throughput", "memory")]
           + [overall(results, "throughput", out_of_sample=True)],
           "by_framework_family": summary["groups"], "weak_scaling": summary["weak_scaling"]}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def render_csv(results: list[TableResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "row", "unit", "published", "predicted", "error", "target_max", "over_target",
                "predicted_out_of_sample", "error_out_of_sample", "in_fit"])
    for t in results:
        outs = t.out_rows or t.rows
        for r, o in zip(t.rows, outs, strict=True):
            w.writerow([t.key, r.label, t.unit, r.published, f"{r.predicted:.6g}", f"{r.error:.4f}",
                        t.target_max, int(r.abs_error > t.target_max), f"{o.predicted:.6g}", f"{o.error:.4f}",
                        int(t.in_fit and r.fitted)])
    return buf.getvalue()


def render(results: list[TableResult], fmt: str = "text") -> str:
    """The validation table in one of FORMATS."""
    if fmt not in FORMATS:
        raise UsageError(f"format {fmt!r} unknown; valid: {', '.join(FORMATS)}")
    return {"text": render_text, "json": render_json, "csv": render_csv}[fmt](results)


def plot_data(results: list[TableResult]) -> dict:
    """What the 'validation' figure draws (reports/plots/validation.py): per throughput table, the signed error
    of every row out of sample (fitted without the table, or judged by a fit that never used it), its targets and
    its out-of-sample median and max |error|. Memory tables are left out (their 2 % target is another scale)."""
    tables = []
    for t in results:
        if t.kind != "throughput":
            continue
        tables.append({"key": t.key, "unit": t.unit, "errors": [r.error for r in (t.out_rows or t.rows)],
                       "target_median": t.target_median, "target_max": t.target_max,
                       "median_abs_error": t.out_median_error, "max_abs_error": t.out_max_error,
                       "meets": t.meets_out_target})
    o = overall(results, "throughput", out_of_sample=True)
    return {"tables": tables, "rows": o["rows"], "median_abs_error": o.get("median_error"),
            "max_abs_error": o.get("max_error")}


def figure(results: list[TableResult]) -> Figure:
    """The 'validation' figure of `plot_data(results)` (matplotlib, Agg), for a notebook or `validate --out`:
    `from explorer.validate import validate, figure; figure(validate())`."""
    from explorer.reports.plots import load

    return load("validation").draw(plot_data(results), None)
