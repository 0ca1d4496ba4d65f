"""Accuracy of the cost model: predictions against published training runs (`explore validate`).

The reference tables ship with the package (explorer/data/reference/: one CSV per table, its source in its
first line, unknown run details stated as assumptions; tables.toml says what each table measures, the cluster
and model family its rows share, and the targets). For every row the cost model is run as it is (same
efficiency parameters for every row: explorer/cost/efficiency.py and the hardware catalog), and the prediction
is set beside the published figure:

  error = (predicted - published) / published, counted beyond the printed precision of the published figure
          (half a unit in its last digit: "0.12" GB stands for anything in [0.115, 0.125)).

Per table: median and maximum |error|, against the targets of issue 7 (throughput: median <= 7 %,
max <= 15 %; model-state memory: within 2 %). Where a target is missed today, tables.toml records the
error as it stands (accepted_median / accepted_max) and says why (`miss`); the regression test fails if the
error grows beyond max(target, accepted).

A package of the single module it grew from (the house rule: past ~400 lines a module becomes a small package):
results.py, RowResult, TableResult and how an error is counted (ERROR_RULE); reference.py, the shipped tables
(tables.toml, load_table, compared_rows); rows.py, one row -> the cost model (_setup, _row_model, _row_estimate);
judge.py, the tables judged in and out of sample (validate_table, validate, overall); renderers.py, the text,
JSON and CSV output and the figure. Every name is read from here as before (explorer.validate.X), the private
ones included.
"""

from __future__ import annotations

from explorer.validate.judge import GB, _memory_table, _throughput_table, overall, validate, validate_table
from explorer.validate.reference import (
    REFERENCE_DIR,
    _flag,
    _grouped_names,
    _specs,
    compared_rows,
    load_table,
    table_names,
)
from explorer.validate.renderers import (
    FORMATS,
    _num,
    _pct,
    _sample_note,
    figure,
    plot_data,
    render,
    render_csv,
    render_json,
    render_text,
)
from explorer.validate.results import ERROR_RULE, RowResult, TableResult, _relative_error
from explorer.validate.rows import (
    SHARDING_STAGES,
    _framework,
    _gpt,
    _implied_mfu,
    _metric,
    _precision,
    _row_catalog_model,
    _row_custom_model,
    _row_estimate,
    _row_model,
    _row_run,
    _seq_len,
    _setup,
    _throughput_row,
    _with_part_efficiency,
)

__all__ = [
    "ERROR_RULE", "FORMATS", "GB", "REFERENCE_DIR", "SHARDING_STAGES", "RowResult", "TableResult", "_flag",
    "_framework", "_gpt", "_grouped_names", "_implied_mfu", "_memory_table", "_metric", "_num", "_pct",
    "_precision", "_relative_error", "_row_catalog_model", "_row_custom_model", "_row_estimate", "_row_model",
    "_row_run", "_sample_note", "_seq_len", "_setup", "_specs", "_throughput_row", "_throughput_table",
    "_with_part_efficiency", "compared_rows", "figure", "load_table", "overall", "plot_data", "render",
    "render_csv", "render_json", "render_text", "table_names", "validate", "validate_table",
]
