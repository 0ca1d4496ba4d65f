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
import difflib
import io
import json
import re
import statistics
import tomllib
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.cost.efficiency import DEFAULT_EFFICIENCY, Efficiency
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, stack_layout_default
from explorer.cost.frameworks import framework as get_framework
from explorer.cost.setup import Setup
from explorer.cost.sharding import model_state_bytes
from explorer.cost.step import StepEstimate, estimate
from explorer.errors import UsageError
from explorer.hardware.catalog import build_cluster
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import PRECISIONS, ParallelPlan

if TYPE_CHECKING:
    from collections.abc import Iterable

    from matplotlib.figure import Figure

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


def _grouped_names(names: Iterable[str]) -> str:
    """The table names for an error line, those sharing a first word written once: mosaic_{a100_40gb, h100_fp8}.
    Forty-odd names in full would run the line past what a terminal shows."""
    groups: dict[str, list[str]] = {}
    for n in sorted(names):
        head, _, rest = n.partition("_")
        groups.setdefault(head, []).append(rest)
    return ", ".join(f"{head}_{rests[0]}" if len(rests) == 1 else f"{head}_{{{', '.join(rests)}}}"
                     for head, rests in groups.items())


def load_table(name: str) -> tuple[dict, list[str], list[dict[str, str]]]:
    """(spec from tables.toml, the CSV's '#' comment lines (source first), data rows as dicts)."""
    specs = _specs()
    if name not in specs:
        close = difflib.get_close_matches(str(name), list(specs), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown reference table {name!r}{hint}; valid: {_grouped_names(specs)}")
    spec = specs[name]
    text = (REFERENCE_DIR / spec["file"]).read_text()
    comments = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")]
    data = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return spec, comments, list(csv.DictReader(data))


# --- one row -> the cost model ------------------------------------------------------------------------------

def _gpt(name: str, hidden: int, layers: int, heads: int, spec: dict, seq_len: int) -> DecoderModel:
    """GPT-2/3-shaped decoder (4h GELU MLP, LayerNorm, biases; tied embedding, learned positions and no embedding
    norm unless the table says otherwise): the shape of every custom model in the shipped tables (see their
    assumptions)."""
    return DecoderModel(name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=heads, ffn=4 * hidden,
                        vocab=spec["vocab"], mlp="gelu", norm="layer", bias=True,
                        tied_embeddings=spec.get("tied_embeddings", True), position=spec.get("position", "learned"),
                        embedding_norm=spec.get("embedding_norm", False), max_seq=seq_len,
                        dropout=spec.get("dropout", True), key="reference",
                        source="shape from a reference table (explorer/data/reference)")


def _with_part_efficiency(cluster, part_efficiency: dict[str, dict[str, float]] | None):
    """The cluster with its accelerator's efficiencies (matmul_efficiency, attention_efficiency) replaced
    (a calibration candidate)."""
    if not part_efficiency or cluster.accelerator.key not in part_efficiency:
        return cluster
    acc = replace(cluster.accelerator, **part_efficiency[cluster.accelerator.key])
    return replace(cluster, accelerator=acc)


def _setup(spec: dict, model: DecoderModel, gpus: int, seq_len: int, eff: Efficiency,
           row: dict[str, str] | None = None, part_efficiency: dict[str, dict[str, float]] | None = None) -> Setup:
    row = row or {}
    if (row.get("ddp_impl") or spec.get("ddp_impl")) == "local":
        # Megatron-LM's LocalDDP of 2021-22 (--DDP-impl local, the default until Megatron-Core): train_step
        # all-reduces the gradients after the whole forward-backward (megatron/training.py), so no backward hides
        # any of it
        eff = replace(eff, dp_overlap=0.0)
    # a row's own network (a table that gathers one benchmark's runs on several clusters) wins over the table's
    cluster = build_cluster(spec["accelerator"], gpus, spec["devices_per_node"], spec["intra_link"],
                            row.get("inter_link") or spec["inter_link"])
    cluster = _with_part_efficiency(cluster, part_efficiency)
    grad = spec.get("grad_reduce_dtype")
    fused = _flag(row.get("compile"), spec.get("fused_kernels", True))
    if "mp_mode" in row and "mp_mode_reduce" in spec:
        grad = spec["mp_mode_reduce"][row["mp_mode"]]
    cross_entropy = spec.get("cross_entropy", "unfused")
    # the framework's model code (and the loss kernel's memory), unless the table says
    layout = stack_layout_default(_framework(spec, row), fused, cross_entropy)
    return Setup(model=model, cluster=cluster, seq_len=seq_len,
                 precision=_precision(spec, row),
                 flash_attention=spec.get("flash_attention", True),
                 attention_kernel=row.get("attention_kernel") or spec.get("attention_kernel", "flash2"),
                 tp_comm_overlap=_flag(row.get("tp_comm_overlap"), spec.get("tp_comm_overlap", False)),
                 efficiency=eff, grad_reduce_dtype=grad, selective_policy=spec.get("selective_policy", "attention"),
                 fused_projections=spec.get("fused_projections", True),
                 fused_kernels=fused, fused_norm=_flag(row.get("fused_norm"), spec.get("fused_norm", False)),
                 recompute_every=int(row.get("recompute_every") or 1),
                 fp8_all_gather=_flag(row.get("fp8_all_gather"), spec.get("fp8_all_gather", False)),
                 fp8_param_gather=_flag(row.get("fp8_param_gather"), spec.get("fp8_param_gather", True)),
                 optimizer_state_dtype=row.get("optimizer_state_dtype") or spec.get("optimizer_state_dtype", "fp32"),
                 embedding_pipeline_slot=_flag(row.get("embedding_pipeline_slot"),
                                               spec.get("embedding_pipeline_slot", False)),
                 zero1_grad_allreduce=spec.get("zero1_grad_allreduce", False),
                 grad_accumulation_fusion=spec.get("grad_accumulation_fusion", True),
                 cross_entropy=cross_entropy,
                 loss_bytes_per_logit=spec.get("loss_bytes_per_logit") or layout["loss_bytes_per_logit"],
                 tp_saves_gathered_input=spec.get("tp_saves_gathered_input", layout["tp_saves_gathered_input"]),
                 replay_early_stop=_flag(row.get("replay_early_stop"),
                                         spec.get("replay_early_stop", layout["replay_early_stop"])))


def _framework(spec: dict, row: dict[str, str]) -> str:
    """The row's framework (a `framework` column, for tables that compare stacks), else the table's."""
    return row.get("framework") or spec.get("framework", DEFAULT_FRAMEWORK)


def _flag(text: str | None, default: bool) -> bool:
    """A True/False column, or the table's default when the column is absent."""
    if text is None or text == "":
        return bool(default)
    if text not in ("True", "False"):
        raise ValueError(f"expected True or False, got {text!r}")
    return text == "True"


SHARDING_STAGES = {"FULL_SHARD": 3, "SHARD_GRAD_OP": 2, "NO_SHARD": 0}  # PyTorch FSDP ShardingStrategy -> ZeRO


def _row_model(spec: dict, row: dict[str, str], seq_len: int) -> DecoderModel:
    """The row's model; a catalog model with a `layers` value in the row is that model cut to so many layers (a
    reduced-depth proxy run, as NVIDIA's DGX Cloud recipes run Llama 3.1 405B on 32-192 GPUs)."""
    model = _row_catalog_model(spec, row)
    if model is None:
        return _row_custom_model(spec, row, seq_len)
    if row.get("layers") and int(row["layers"]) != model.layers:
        cut = f"{model.name} ({row['layers']} of {model.layers} layers)"
        return replace(model, layers=int(row["layers"]), name=cut)
    return model


def _row_catalog_model(spec: dict, row: dict[str, str]) -> DecoderModel | None:
    if "catalog_model" in spec:
        return get_model(spec["catalog_model"])
    if spec.get("model_column") == "catalog":
        return get_model(row["model"])
    if row.get("model") in spec.get("catalog_models", {}):  # the table's name for a catalog model
        return get_model(spec["catalog_models"][row["model"]])
    return None


def _row_custom_model(spec: dict, row: dict[str, str], seq_len: int) -> DecoderModel:
    if "model" in row and "models" in spec:
        hidden, layers, heads = spec["models"][row["model"]]
        return _gpt(f"{spec.get('model_prefix', 'MPT-')}{row['model']}", hidden, layers, heads, spec, seq_len)
    name = f"GPT {row.get('params_b') or row.get('model_size') or row.get('model')}".replace("BB", "B")
    return _gpt(name, int(row["hidden"]), int(row["layers"]), int(row["heads"]), spec, seq_len)


def _throughput_row(spec: dict, row: dict[str, str], eff: Efficiency,
                    part_efficiency: dict[str, dict[str, float]] | None = None) -> tuple[str, float]:
    """Label and predicted figure (spec['metric']: a throughput, a step time or the peak memory per GPU) of one run.
    Every run detail is read from the row's columns where the table has them, else from the table's entry in
    tables.toml."""
    label, est = _row_estimate(spec, row, eff, part_efficiency)
    return label, _metric(spec, row, est)


def _metric(spec: dict, row: dict[str, str], est: StepEstimate) -> float:
    """The table's metric (spec['metric']) of one run's estimate."""
    gpus = int(row["gpus"])
    metric = spec["metric"]
    if metric == "hardware_tflops_per_gpu":
        predicted = est.hardware_tflops_per_gpu
    elif metric == "model_tflops_per_gpu":
        predicted = est.model_tflops_per_gpu
    elif metric == "tokens_per_s_per_gpu":
        predicted = est.tokens_per_s / gpus
    elif metric == "tokens_per_s":
        predicted = est.tokens_per_s
    elif metric == "samples_per_s_per_gpu":  # sequences of the row's length
        predicted = est.tokens_per_s / gpus / _seq_len(spec, row)
    elif metric == "step_time_s":
        predicted = est.step_time_s
    elif metric == "peak_memory_gib":
        predicted = est.memory_total / 2**30
    else:
        raise ValueError(f"{spec['file']}: unknown metric {metric!r}")
    return predicted


def _implied_mfu(spec: dict, est: StepEstimate, predicted: float, published: float) -> float:
    """The MFU the published figure implies, in the model's FLOP count (explorer/cost: PaLM's 6N + attention over the
    full s x s): the estimate's MFU scaled by published / predicted for a throughput, predicted / published for a
    step time; 0 for a memory metric."""
    if spec["metric"] == "peak_memory_gib" or predicted <= 0 or published <= 0:
        return 0.0
    ratio = predicted / published if spec["metric"] == "step_time_s" else published / predicted
    return est.mfu * ratio


def _row_estimate(spec: dict, row: dict[str, str], eff: Efficiency,
                  part_efficiency: dict[str, dict[str, float]] | None = None) -> tuple[str, StepEstimate]:
    """Label and the cost model's whole estimate of one run (_throughput_row reads its metric from it)."""
    label, est, _model = _row_run(spec, row, eff, part_efficiency)
    return label, est


def _row_run(spec: dict, row: dict[str, str], eff: Efficiency,
             part_efficiency: dict[str, dict[str, float]] | None = None) -> tuple[str, StepEstimate, DecoderModel]:
    """_row_estimate's label and estimate, with the run's model (its parameters: RowResult.params)."""
    gpus = int(row["gpus"])
    seq_len = _seq_len(spec, row)
    model = _row_model(spec, row, seq_len)
    tp, cp, pp = int(row.get("tp", 1)), int(row.get("cp", 1)), int(row.get("pp", 1))
    dp = int(row.get("dp") or row.get("fsdp") or gpus // (tp * cp * pp))
    if tp * cp * pp * dp != gpus:
        raise ValueError(f"{spec['file']}: tp x cp x pp x dp = {tp * cp * pp * dp} != gpus {gpus} in row {row}")
    global_batch = int(row["global_batch"]) if "global_batch" in row else dp * int(row["batch_per_dp"])
    if "recompute" in row:
        recompute = row["recompute"]
    elif "recompute" in spec:
        recompute = spec["recompute"]
    else:
        recompute = "full" if row["activation_checkpointing"] == "True" else "none"
    if "sharding_strategy" in row:
        zero = SHARDING_STAGES[row["sharding_strategy"]]
    else:  # a row's own optimizer sharding (a `zero` column) wins over the table's
        zero = int(row.get("zero") or spec.get("zero", 0))
    plan = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, micro_batch=int(row["micro_batch"]),
                        global_batch=global_batch, virtual_stages=int(row.get("virtual_stages") or 1),
                        zero=zero, recompute=recompute,
                        sequence_parallel=_flag(row.get("sequence_parallel"), spec.get("sequence_parallel", True))
                        and tp > 1,
                        framework=_framework(spec, row), hsdp=_flag(row.get("hsdp"), spec.get("hsdp", False)))
    setup = _setup(spec, model, gpus, seq_len, eff, row, part_efficiency)
    est = estimate(setup, plan)
    label = f"{model.name} s={seq_len} {gpus} GPUs {plan.describe()}"
    if setup.recompute_every > 1 and plan.recompute == "full":
        label += f" (one layer in {setup.recompute_every})"
    extra = [f"{k}={row[k]}" for k in spec.get("label_columns", ()) if row.get(k)]
    if extra:
        label += " [" + ", ".join(extra) + "]"
    return label, est, model


def _seq_len(spec: dict, row: dict[str, str]) -> int:
    """The run's sequence length: the row's `seq_len` column where it has one, else the table's."""
    return int(row.get("seq_len") or spec["seq_len"])


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


def compared_rows(spec: dict, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows the cost model is judged on: all, unless the table has a `compare` column (False: transcribed for
    completeness, e.g. a precision the model is not calibrated for; the table's notes say why). A table that reads
    another table's file names its rows instead (`select`: column -> the values it takes), whatever their
    `compare`."""
    if "select" in spec:
        return [r for r in rows if all(r.get(k) in allowed for k, allowed in spec["select"].items())]
    return [r for r in rows if _flag(r.get("compare"), True)]


def _precision(spec: dict, row: dict[str, str]) -> str:
    """The run's training precision: the row's `precision` column where it names one, else the table's."""
    return row.get("precision") if row.get("precision") in PRECISIONS else spec.get("precision", "bf16")


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


# --- rendering (no physics here) ----------------------------------------------------------------------------

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
