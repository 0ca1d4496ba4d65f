"""Every row of a reference table against its published figure, in sample and out of sample (with the efficiency
parameters fitted without the table: leave-one-table-out), and the error over all rows of one kind."""

from __future__ import annotations

import re
import statistics

from explorer.cost.efficiency import DEFAULT_EFFICIENCY, Efficiency
from explorer.cost.frameworks import framework as get_framework
from explorer.cost.sharding import model_state_bytes
from explorer.validate.reference import _flag, compared_rows, load_table, table_names
from explorer.validate.results import RowResult, TableResult, _relative_error
from explorer.validate.rows import _framework, _gpt, _implied_mfu, _metric, _precision, _row_run, _setup

GB = 1e9  # the ZeRO paper's GB (16 bytes x 7.5e9 params = 120 GB)


def _throughput_table(spec: dict, rows: list[dict[str, str]], eff: Efficiency,
                      part_efficiency: dict[str, dict[str, float]] | None = None) -> list[RowResult]:
    out = []
    for row in compared_rows(spec, rows):
        label, est, model = _row_run(spec, row, eff, part_efficiency)
        predicted = _metric(spec, row, est)
        text = row[spec["published_column"]]
        gpus = int(row["gpus"])
        # the same run at another scale: the label without its GPU count and DP degree (plan.describe keeps the
        # micro-batches per rank, so a series holds the work per GPU fixed: weak scaling)
        series = re.sub(r" DP=\d+", "", label.replace(f" {gpus} GPUs ", " ", 1))
        out.append(RowResult(label, float(text), predicted, _relative_error(predicted, text), _framework(spec, row),
                             _flag(row.get("fit"), True), _precision(spec, row), gpus, series,
                             _implied_mfu(spec, est, predicted, float(text)), float(model.params)))
    return out


def _memory_table(spec: dict, rows: list[dict[str, str]], eff: Efficiency,
                  part_efficiency: dict[str, dict[str, float]] | None = None) -> list[RowResult]:
    """ZeRO Table 1: model-state bytes (weights + gradients + optimizer) per GPU for each DP degree and stage."""
    out = []
    for row in rows:
        dp = int(row["dp"])
        for column, text in row.items():
            if column == "dp":
                continue
            size, suffix = column.split("_", 1)
            hidden, layers, heads = spec["models"][size]
            model = _gpt(f"GPT {size}", hidden, layers, heads, spec, spec["seq_len"])
            setup = _setup(spec, model, 1, spec["seq_len"], eff)
            stage = spec["stages"][suffix]
            fw = get_framework(spec.get("framework", "deepspeed")).code
            w, g, o = model_state_bytes(setup, fw, 1, 1, dp, 1, stage)
            predicted = float(w + g + o) / GB
            label = f"{size} ({model.params / 1e9:.4g}e9 params) ZeRO-{stage} DP={dp}"
            out.append(RowResult(label, float(text), predicted, _relative_error(predicted, text)))
    return out


def validate_table(name: str, efficiency: Efficiency = DEFAULT_EFFICIENCY,
                   part_efficiency: dict[str, dict[str, float]] | None = None,
                   out_of_sample: bool = False) -> TableResult:
    """Run the cost model on every row of one reference table (part_efficiency: accelerator key -> field ->
    value replacing the catalog's, for calibration). With out_of_sample, also predict every row with the
    parameters the stored calibration fitted without this table (explorer/data/reference/calibration.toml)."""
    spec, comments, rows = load_table(name)
    # a table of runs (throughput, or a run's peak memory) names its metric; ZeRO's model-state table does not
    build = _throughput_table if "metric" in spec else _memory_table
    results = build(spec, rows, efficiency, part_efficiency)
    out: list[RowResult] = []
    in_fit = False
    if out_of_sample and spec["kind"] == "throughput":
        from explorer import calibrate

        in_fit = name in calibrate.stored().get("tables", [])
        held = calibrate.held_out_values(name)
        if held is not None:
            eff, parts = calibrate.split(held)
            out = build(spec, rows, eff, parts)
    return TableResult(
        key=name, title=spec["title"], source=spec["source"], kind=spec["kind"], unit=spec["unit"],
        rows=tuple(results), target_median=spec["target_median"], target_max=spec["target_max"],
        accepted_median=spec.get("accepted_median"), accepted_max=spec.get("accepted_max"),
        miss=spec.get("miss", ""), assumptions=tuple(c for c in comments[1:]), out_rows=tuple(out),
        in_fit=in_fit, accepted_out_median=spec.get("accepted_out_median"),
        accepted_out_max=spec.get("accepted_out_max"),
    )


def validate(names: list[str] | tuple[str, ...] | None = None,
             efficiency: Efficiency = DEFAULT_EFFICIENCY, out_of_sample: bool = True) -> list[TableResult]:
    """Validate the named tables (all shipped tables by default), in sample (the parameters in the code) and,
    with out_of_sample, with the parameters fitted without each table (leave-one-table-out)."""
    oos = out_of_sample and efficiency == DEFAULT_EFFICIENCY
    return [validate_table(n, efficiency, out_of_sample=oos) for n in (names or table_names())]


def overall(results: list[TableResult], kind: str = "throughput", out_of_sample: bool = False) -> dict:
    """Median and max |error| over all rows of all tables of one kind (the issue's 'over all rows')."""
    errs = [r.abs_error for t in results if t.kind == kind
            for r in ((t.out_rows or t.rows) if out_of_sample else t.rows)]
    if not errs:
        return {"kind": kind, "rows": 0}
    return {"kind": kind, "rows": len(errs), "median_error": statistics.median(errs), "max_error": max(errs),
            "sample": "out" if out_of_sample else "in"}

