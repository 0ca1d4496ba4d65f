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
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import tomllib
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from explorer.cost.efficiency import DEFAULT_EFFICIENCY, Efficiency
from explorer.cost.frameworks import framework as get_framework
from explorer.cost.setup import Setup
from explorer.cost.sharding import model_state_bytes
from explorer.cost.step import estimate
from explorer.errors import UsageError
from explorer.hardware.catalog import build_cluster
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import ParallelPlan

REFERENCE_DIR = Path(__file__).parent / "data" / "reference"
FORMATS = ("text", "json", "csv")
GB = 1e9  # the ZeRO paper's GB (16 bytes x 7.5e9 params = 120 GB)


@dataclass(frozen=True)
class RowResult:
    """One published figure and the cost model's prediction for it."""

    label: str
    published: float
    predicted: float
    error: float  # signed relative error beyond the printed precision of `published`

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

    def rows_over(self, limit: float | None = None) -> list[RowResult]:
        """Rows whose |error| exceeds `limit` (default: the table's max target)."""
        limit = self.target_max if limit is None else limit
        return [r for r in self.rows if r.abs_error > limit]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        d.update(median_error=self.median_error, max_error=self.max_error, meets_target=self.meets_target)
        return d


# --- reference data -----------------------------------------------------------------------------------------

@cache
def _specs() -> dict:
    with open(REFERENCE_DIR / "tables.toml", "rb") as fh:
        specs = tomllib.load(fh)
    for key, spec in specs.items():
        missing = [k for k in ("title", "file", "kind", "unit", "target_median", "target_max", "source",
                               "accelerator", "devices_per_node", "intra_link", "inter_link") if k not in spec]
        if missing:
            raise ValueError(f"reference table {key!r} in tables.toml lacks {', '.join(missing)}")
        if spec["kind"] not in ("throughput", "memory"):
            raise ValueError(f"reference table {key!r}: kind must be throughput or memory, got {spec['kind']!r}")
    return specs


def table_names() -> list[str]:
    """Keys of the reference tables shipped with the package."""
    return list(_specs())


def load_table(name: str) -> tuple[dict, list[str], list[dict[str, str]]]:
    """(spec from tables.toml, the CSV's '#' comment lines (source first), data rows as dicts)."""
    specs = _specs()
    if name not in specs:
        raise UsageError(f"unknown reference table {name!r}; valid: {', '.join(specs)}")
    spec = specs[name]
    text = (REFERENCE_DIR / spec["file"]).read_text()
    comments = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")]
    data = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return spec, comments, list(csv.DictReader(data))


# --- one row -> the cost model ------------------------------------------------------------------------------

def _gpt(name: str, hidden: int, layers: int, heads: int, spec: dict, seq_len: int) -> DecoderModel:
    """GPT-2/3-shaped decoder (the shape of every model in the shipped tables; see their assumptions)."""
    return DecoderModel(name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=heads, ffn=4 * hidden,
                        vocab=spec["vocab"], mlp="gelu", norm="layer", bias=True, tied_embeddings=True,
                        position="learned", max_seq=seq_len, dropout=spec.get("dropout", True), key="reference",
                        source="shape from a reference table (explorer/data/reference)")


def _setup(spec: dict, model: DecoderModel, gpus: int, seq_len: int, eff: Efficiency) -> Setup:
    cluster = build_cluster(spec["accelerator"], gpus, spec["devices_per_node"], spec["intra_link"],
                            spec["inter_link"])
    return Setup(model=model, cluster=cluster, seq_len=seq_len, precision=spec.get("precision", "bf16"),
                 flash_attention=spec.get("flash_attention", True),
                 tp_comm_overlap=spec.get("tp_comm_overlap", False), efficiency=eff,
                 grad_reduce_dtype=spec.get("grad_reduce_dtype"))


def _throughput_row(spec: dict, row: dict[str, str], eff: Efficiency) -> tuple[str, float]:
    """Label and predicted figure (spec['metric']) of one throughput row."""
    gpus = int(row["gpus"])
    seq_len = int(row.get("seq_len") or spec["seq_len"])
    if "catalog_model" in spec:
        model = get_model(spec["catalog_model"])
        name = model.name
    else:
        if "model" in row:
            hidden, layers, heads = spec["models"][row["model"]]
            name = f"MPT-{row['model']}"
        else:
            hidden, layers, heads = int(row["hidden"]), int(row["layers"]), int(row["heads"])
            name = f"GPT {row['params_b']}B"
        model = _gpt(name, hidden, layers, heads, spec, seq_len)
    tp, cp, pp = int(row.get("tp", 1)), int(row.get("cp", 1)), int(row.get("pp", 1))
    dp = int(row.get("dp") or gpus // (tp * cp * pp))
    if tp * cp * pp * dp != gpus:
        raise ValueError(f"{spec['file']}: tp x cp x pp x dp = {tp * cp * pp * dp} != gpus {gpus} in row {row}")
    global_batch = int(row["global_batch"]) if "global_batch" in row else dp * int(row["batch_per_dp"])
    if "recompute" in spec:
        recompute = spec["recompute"]
    else:
        recompute = "full" if row["activation_checkpointing"] == "True" else "none"
    plan = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, micro_batch=int(row["micro_batch"]),
                        global_batch=global_batch, virtual_stages=int(row.get("virtual_stages", 1)),
                        zero=int(spec.get("zero", 0)), recompute=recompute,
                        sequence_parallel=spec.get("sequence_parallel", True),
                        framework=spec.get("framework", "megatron"))
    est = estimate(_setup(spec, model, gpus, seq_len, eff), plan)
    metric = spec["metric"]
    if metric == "hardware_tflops_per_gpu":
        predicted = est.hardware_tflops_per_gpu
    elif metric == "model_tflops_per_gpu":
        predicted = est.model_tflops_per_gpu
    elif metric == "tokens_per_s_per_gpu":
        predicted = est.tokens_per_s / gpus
    else:
        raise ValueError(f"{spec['file']}: unknown metric {metric!r}")
    label = f"{name} s={seq_len} {gpus} GPUs {plan.describe()}"
    return label, predicted


def _relative_error(predicted: float, published_text: str) -> float:
    """(predicted - published)/published beyond half a unit of the published figure's last digit."""
    published = float(published_text)
    decimals = len(published_text.split(".")[1]) if "." in published_text else 0
    half_unit = 0.5 * 10.0 ** (-decimals)
    gap = abs(predicted - published) - half_unit
    if gap <= 0:
        return 0.0
    return (gap if predicted > published else -gap) / published


def _throughput_table(spec: dict, rows: list[dict[str, str]], eff: Efficiency) -> list[RowResult]:
    out = []
    for row in rows:
        label, predicted = _throughput_row(spec, row, eff)
        text = row[spec["published_column"]]
        out.append(RowResult(label, float(text), predicted, _relative_error(predicted, text)))
    return out


def _memory_table(spec: dict, rows: list[dict[str, str]], eff: Efficiency) -> list[RowResult]:
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


def validate_table(name: str, efficiency: Efficiency = DEFAULT_EFFICIENCY) -> TableResult:
    """Run the cost model on every row of one reference table."""
    spec, comments, rows = load_table(name)
    build = _throughput_table if spec["kind"] == "throughput" else _memory_table
    results = build(spec, rows, efficiency)
    return TableResult(
        key=name, title=spec["title"], source=spec["source"], kind=spec["kind"], unit=spec["unit"],
        rows=tuple(results), target_median=spec["target_median"], target_max=spec["target_max"],
        accepted_median=spec.get("accepted_median"), accepted_max=spec.get("accepted_max"),
        miss=spec.get("miss", ""), assumptions=tuple(c for c in comments[1:]),
    )


def validate(names: list[str] | tuple[str, ...] | None = None,
             efficiency: Efficiency = DEFAULT_EFFICIENCY) -> list[TableResult]:
    """Validate the named tables (all shipped tables by default)."""
    return [validate_table(n, efficiency) for n in (names or table_names())]


def overall(results: list[TableResult], kind: str = "throughput") -> dict:
    """Median and max |error| over all rows of all tables of one kind (the issue's 'over all rows')."""
    errs = [r.abs_error for t in results if t.kind == kind for r in t.rows]
    if not errs:
        return {"kind": kind, "rows": 0}
    return {"kind": kind, "rows": len(errs), "median_error": statistics.median(errs), "max_error": max(errs)}


# --- rendering (no physics here) ----------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%" if round(100 * x, 1) else "0.0%"


def _num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def render_text(results: list[TableResult], width: int | None = None) -> str:
    """The tables as terminal text that fits `width` (default: the terminal's, else 80 columns)."""
    from explorer.reports.text import TextDoc

    doc = TextDoc()
    for t in results:
        doc.line(f"{t.title}  [{t.key}]", style="bold").line(f"source: {t.source}", indent=2)
        rows = [[r.label, _num(r.published), _num(r.predicted), _pct(r.error),
                 "over target" if r.abs_error > t.target_max else ""] for r in t.rows]
        doc.table(["row", f"published ({t.unit})", f"predicted ({t.unit})", "error", ""], rows, indent=2)
        verdict = "meets target" if t.meets_target else "MISSES TARGET"
        doc.line(f"median |error| {100 * t.median_error:.1f}% (target {100 * t.target_median:.0f}%), "
                 f"max |error| {100 * t.max_error:.1f}% (target {100 * t.target_max:.0f}%): {verdict}", indent=2)
        if not t.meets_target:
            over = t.rows_over()
            doc.line(f"{len(over)} of {len(t.rows)} rows over the {100 * t.target_max:.0f}% target.", indent=2)
            if t.miss:
                doc.line(f"why: {t.miss}", indent=2)
        doc.line()
    for kind in ("throughput", "memory"):
        o = overall(results, kind)
        if o["rows"]:
            doc.line(f"All {kind} rows ({o['rows']}): median |error| {100 * o['median_error']:.1f}%, "
                     f"max |error| {100 * o['max_error']:.1f}%")
    return doc.render(width)


def render_json(results: list[TableResult]) -> str:
    doc = {"tables": [t.as_dict() for t in results],
           "overall": [overall(results, k) for k in ("throughput", "memory")]}
    return json.dumps(doc, indent=2) + "\n"


def render_csv(results: list[TableResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "row", "unit", "published", "predicted", "error", "target_max", "over_target"])
    for t in results:
        for r in t.rows:
            w.writerow([t.key, r.label, t.unit, r.published, f"{r.predicted:.6g}", f"{r.error:.4f}",
                        t.target_max, int(r.abs_error > t.target_max)])
    return buf.getvalue()


def render(results: list[TableResult], fmt: str = "text") -> str:
    """The validation table in one of FORMATS."""
    if fmt not in FORMATS:
        raise UsageError(f"format {fmt!r} unknown; valid: {', '.join(FORMATS)}")
    return {"text": render_text, "json": render_json, "csv": render_csv}[fmt](results)
