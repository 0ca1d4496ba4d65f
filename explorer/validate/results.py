"""What `explore validate` judges with: one row's prediction beside its published figure (RowResult), a table's
rows with their error statistics and targets (TableResult), and how every error is counted (ERROR_RULE)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class RowResult:
    """One published figure and the cost model's prediction for it."""

    label: str
    published: float
    predicted: float
    error: float  # signed relative error beyond the printed precision of `published`
    framework: str = ""  # the stack the run used (a run of a throughput table); "" for memory rows
    fitted: bool = True  # whether the calibration may use the row (a `fit` column set to False: judged, not fitted)
    precision: str = ""  # the run's training precision (bf16, fp16, fp8); "" for memory rows
    gpus: int = 0  # the run's accelerators (a run of a throughput table); 0 for memory rows
    series: str = ""  # the run without its GPU count and DP degree: runs of one table sharing it scale weakly
    measured_mfu: float = 0.0  # the MFU the published figure implies in the model's FLOP count (_implied_mfu); 0: none
    params: float = 0.0  # the run's model parameters (a run of a throughput table); 0 for memory rows

    @property
    def abs_error(self) -> float:
        return abs(self.error)


@dataclass(frozen=True)
class TableResult:
    """All rows of one reference table with their error statistics and targets."""

    key: str
    title: str
    source: str
    kind: str  # "throughput" or "memory"
    unit: str
    rows: tuple[RowResult, ...]
    target_median: float
    target_max: float
    accepted_median: float | None = None
    accepted_max: float | None = None
    miss: str = ""
    assumptions: tuple[str, ...] = field(default=())
    out_rows: tuple[RowResult, ...] = field(default=())
    """The same rows predicted with the efficiency parameters fitted WITHOUT this table (leave-one-table-out,
    explorer/calibrate.py); empty when the calibration did not use the table (then `rows` are out of sample)."""
    in_fit: bool = False  # whether the global calibration used this table
    accepted_out_median: float | None = None
    accepted_out_max: float | None = None

    def __repr__(self) -> str:  # the headline; the rows are in .rows
        met = "meets" if self.meets_target else "misses"
        return (f"<TableResult {self.key}: {len(self.rows)} rows, median |error| {self.median_error:.1%}, max "
                f"{self.max_error:.1%}; {met} its target {self.target_median:.0%} / {self.target_max:.0%}>")

    @property
    def median_error(self) -> float:
        return statistics.median(r.abs_error for r in self.rows)

    @property
    def max_error(self) -> float:
        return max(r.abs_error for r in self.rows)

    @property
    def meets_target(self) -> bool:
        return self.median_error <= self.target_median and self.max_error <= self.target_max

    @property
    def guard_median(self) -> float:
        """The median error the regression test allows: the target, or the recorded miss if larger."""
        return max(self.target_median, self.accepted_median or 0.0)

    @property
    def guard_max(self) -> float:
        return max(self.target_max, self.accepted_max or 0.0)

    @property
    def out_median_error(self) -> float:
        """Median |error| out of sample: with the parameters fitted without this table (or, for a table no fit
        used, the in-sample figure, which then is out of sample)."""
        rows = self.out_rows or self.rows
        return statistics.median(r.abs_error for r in rows)

    @property
    def out_max_error(self) -> float:
        rows = self.out_rows or self.rows
        return max(r.abs_error for r in rows)

    @property
    def meets_out_target(self) -> bool:
        return self.out_median_error <= self.target_median and self.out_max_error <= self.target_max

    @property
    def guard_out_median(self) -> float:
        return max(self.target_median, self.accepted_out_median or 0.0)

    @property
    def guard_out_max(self) -> float:
        return max(self.target_max, self.accepted_out_max or 0.0)

    def rows_over(self, limit: float | None = None) -> list[RowResult]:
        """Rows whose |error| exceeds `limit` (default: the table's max target)."""
        limit = self.target_max if limit is None else limit
        return [r for r in self.rows if r.abs_error > limit]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        d["out_rows"] = [asdict(r) for r in self.out_rows]
        d.update(median_error=self.median_error, max_error=self.max_error, meets_target=self.meets_target,
                 out_of_sample_median_error=self.out_median_error, out_of_sample_max_error=self.out_max_error,
                 meets_target_out_of_sample=self.meets_out_target)
        return d


# How every "error" figure of explore validate is counted (_relative_error), stated in its --help, its text output and
# its JSON (error_rule): a published figure stands for the interval its printed digits round from, so only the gap
# beyond it counts. 129.1 predicted against a published 137 reads (7.9 - 0.5)/137 = -5.4 %, where the plain ratio
# is -5.8 %.
ERROR_RULE = ("error = (predicted - published)/published counted beyond half a unit of the published figure's last "
              "digit (a published 137 stands for 136.5-137.5, so 129.1 reads -5.4 %, not the plain -5.8 %; a "
              "prediction inside that interval reads 0)")


def _relative_error(predicted: float, published_text: str) -> float:
    """(predicted - published)/published beyond half a unit of the published figure's last digit (ERROR_RULE)."""
    published = float(published_text)
    decimals = len(published_text.split(".")[1]) if "." in published_text else 0
    half_unit = 0.5 * 10.0 ** (-decimals)
    gap = abs(predicted - published) - half_unit
    if gap <= 0:
        return 0.0
    return (gap if predicted > published else -gap) / published
