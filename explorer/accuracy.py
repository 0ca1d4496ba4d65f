"""How far the step-time model has been from published training runs, per framework and GPU family: the
line every `estimate` and `solve 3d` report carries so that a reader knows how much to trust its figures.

The figures come from `explore validate`: each throughput row of the shipped reference tables predicted with the
efficiency parameters fitted WITHOUT that row's table (leave-one-table-out, explorer/calibrate.py; a table no fit
uses is out of sample as it stands). They are stored in explorer/data/reference/accuracy.json, which
`python -m explorer.accuracy` rewrites after a refit or a table change; tests/test_validate.py fails when the file
no longer matches what `explore validate` computes. No physics here: this module only counts errors.
"""

from __future__ import annotations

import json
import statistics
from functools import cache
from pathlib import Path
from typing import Any

from explorer.cost.efficiency import GPU_FAMILIES
from explorer.cost.frameworks import DEFAULT_FRAMEWORK

ACCURACY_FILE = Path(__file__).parent / "data" / "reference" / "accuracy.json"
GOOD = 0.15  # the per-row bar: |error| <= 15 %

FAMILY_OF = {key: family.capitalize() for family, keys in GPU_FAMILIES.items() for key in keys}
"""GPU family of each catalog part the reference tables ran on (the families the calibration fits its
efficiencies for, and Blackwell, whose runs are judged only)."""


TIME_METRICS = frozenset({"step_time_s"})
"""Table metrics that grow as a run slows (the rest are throughputs): their signed errors are flipped in the summary so
that positive always reads 'predicted faster than measured'."""


ALL_PRECISIONS = "all"
"""The precision key of a group that counts every run of its framework and family, whatever it trained in."""


def summarize(results: list) -> dict:
    """Out-of-sample error statistics of the throughput rows of `results` (validate.validate()), grouped by
    (framework, GPU family) over every precision, and again for the FP8 runs alone (precision 'fp8'): rows, tables,
    median |error|, max |error|, rows within GOOD, median signed error (positive: predicted faster than measured, for
    step-time tables too)."""
    tables = _throughput_tables(results)
    groups: dict[tuple[str, str, str], dict] = {}
    ranges: dict[str, dict[str, list[float]]] = {}  # table -> framework -> [least, greatest] signed error
    parts: dict[str, dict[str, dict]] = {}  # accelerator -> framework -> its runs' signed errors and tables
    for t, spec, family in tables:
        # a table of step times errs the other way round: a predicted time 5 % short is a run predicted faster
        sign = -1.0 if spec["metric"] in TIME_METRICS else 1.0
        for r in t.out_rows or t.rows:  # a table may compare stacks: each run counts under its own framework
            fw = r.framework or spec.get("framework", DEFAULT_FRAMEWORK)
            error = sign * r.error
            for precision in (ALL_PRECISIONS, "fp8") if r.precision == "fp8" else (ALL_PRECISIONS,):
                _collect(groups.setdefault((fw, family, precision), {"errors": [], "tables": []}), error, t.key)
            _collect(parts.setdefault(spec["accelerator"], {}).setdefault(fw, {"errors": [], "tables": []}), error,
                     t.key)
            lo_hi = ranges.setdefault(t.key, {}).setdefault(fw, [error, error])
            lo_hi[:] = [round(min(lo_hi[0], error), 4), round(max(lo_hi[1], error), 4)]
    scaling = _weak_scaling(tables)
    ceilings = _ceilings(tables)
    peaks = _memory_peaks(results)
    out = []
    for (fw, family, precision), g in sorted(groups.items()):
        errs = g["errors"]
        out.append({
            "framework": fw, "family": family, "precision": precision, "rows": len(errs), "tables": g["tables"],
            "median_abs_error": round(statistics.median(abs(e) for e in errs), 4),
            "max_abs_error": round(max(abs(e) for e in errs), 4),
            "within_good": sum(abs(e) <= GOOD for e in errs),
            "median_error": round(statistics.median(errs), 4),
        })
    by_part = {acc: {fw: {"rows": len(g["errors"]), "tables": g["tables"],
                          "median_error": round(statistics.median(g["errors"]), 4),
                          "least_error": round(min(g["errors"]), 4), "greatest_error": round(max(g["errors"]), 4)}
                     for fw, g in sorted(fws.items())}
               for acc, fws in sorted(parts.items())}
    return {"note": "written by `python -m explorer.accuracy` from `explore validate` (out of sample)",
            "good": GOOD, "groups": out, "ranges": ranges, "parts": by_part, "weak_scaling": scaling,
            "ceilings": ceilings, "memory_peaks": peaks}


MEASURED_MEMORY_METRIC = "peak_memory_gib"
"""The metric of a memory table whose figures were measured on running jobs (torchtitan's peaks); ZeRO's model-state
table, the paper's own arithmetic, names no metric."""


def _memory_peaks(results: list) -> dict:
    """Signed errors of the predicted memory against the measured peaks of the memory tables (negative: the count fell
    short of the measured figure): rows, tables, the parts they ran on, median, least and greatest."""
    from explorer.validate import load_table

    errs: list[float] = []
    tables: list[str] = []
    parts: list[str] = []
    for t in results:
        spec = load_table(t.key)[0] if t.kind == "memory" else {}
        if spec.get("metric") != MEASURED_MEMORY_METRIC:
            continue
        errs += [r.error for r in t.rows]
        tables.append(t.key)
        if spec["accelerator"] not in parts:
            parts.append(spec["accelerator"])
    if not errs:
        return {}
    return {"rows": len(errs), "tables": tables, "accelerators": parts,
            "median_error": round(statistics.median(errs), 4), "least_error": round(min(errs), 4),
            "greatest_error": round(max(errs), 4)}


def memory_line(datacenter_stack: bool = True) -> str:
    """One sentence: how the memory count compared with the measured peaks of the reference tables (accuracy.json
    'memory_peaks'), or '' when none is stored or the device runs no datacenter stack (the peaks are PyTorch's
    caching allocator's, which a microcontroller does not run)."""
    m = stored().get("memory_peaks") or {}
    if not m or not datacenter_stack:
        return ""
    from explorer.hardware import get_accelerator

    names = ", ".join(get_accelerator(a).name for a in m["accelerators"])
    if m["greatest_error"] < 0:  # every count below its measured peak
        how = (f"fell short of them by {-m['greatest_error']:.0%} to {-m['least_error']:.0%} (median "
               f"{-m['median_error']:.0%})")
    else:
        how = (f"differed from them by {m['least_error']:+.0%} to {m['greatest_error']:+.0%} (median "
               f"{m['median_error']:+.0%})")
    return (f"Against the {m['rows']} peaks measured on running jobs among the reference tables ({names}; explore "
            f"validate) the count {how}: those peaks are the caching allocator's reserved bytes, the tensors plus "
            "the blocks it keeps cached for reuse, which the held-back share has to cover.")


def precision_class(precision: str) -> str:
    """The precision whose peak an MFU is a fraction of, as the ceilings group runs: 'fp8', or '16-bit' (BF16 and FP16
    share one peak on every GPU the tables ran on)."""
    return "fp8" if precision == "fp8" else "16-bit"


def _ceilings(tables: list[tuple]) -> dict:
    """Per GPU family and precision class, for each model size the tables ran, the run with the highest MFU its
    published figure implies (validate.RowResult.measured_mfu): [parameters, MFU, table, model, GPUs], by size (two
    significant figures)."""
    best: dict[str, dict[str, dict[float, list]]] = {}
    for t, _spec, family in tables:
        for r in t.rows:
            if r.measured_mfu <= 0:
                continue
            size = float(f"{r.params:.2g}")
            sizes = best.setdefault(family, {}).setdefault(precision_class(r.precision), {})
            if size not in sizes or r.measured_mfu > sizes[size][1]:
                sizes[size] = [r.params, round(r.measured_mfu, 4), t.key, r.label.split(" s=")[0], r.gpus]
    return {fam: {pc: [sizes[k] for k in sorted(sizes)] for pc, sizes in sorted(by.items())}
            for fam, by in sorted(best.items())}


CEILING_SPAN = 2.0
"""Runs of models within this factor of a plan's parameter count (either way) are its comparables for ceiling_line."""


def ceiling_line(mfu: float, accelerator_key: str, precision: str, params: float) -> str:
    """One sentence when a plan's MFU is above every published run of a model within CEILING_SPAN of its size on its
    GPU family at its precision class (the MFU each published figure implies, accuracy.json 'ceilings'); else ''.
    Such a plan is an extrapolation: the calibration never saw a run that fast on models of that size."""
    family = FAMILY_OF.get(accelerator_key)
    runs = [r for r in stored().get("ceilings", {}).get(family or "", {}).get(precision_class(precision), [])
            if params / CEILING_SPAN <= r[0] <= params * CEILING_SPAN]
    if not runs:
        return ""
    top = max(runs, key=lambda r: r[1])
    if mfu <= top[1]:
        return ""
    lo, hi = min(r[0] for r in runs), max(r[0] for r in runs)
    sizes = f"{_billions(lo)}" if lo == hi else f"{_billions(lo)}-{_billions(hi)}"
    return (f"Beyond the evidence: MFU {mfu:.1%} is above every published {precision_class(precision)} run of a "
            f"model of {sizes} parameters on {family} GPUs in the reference tables ({len(runs)} model "
            f"size{'s' if len(runs) > 1 else ''}; the highest, {top[1]:.1%} in the model's FLOP count: {top[3]} on "
            f"{top[4]:,} GPUs, {top[2]}), so the figure extrapolates the calibration to a plan faster than any it was "
            f"checked on.")


def ceiling_assumption(setup: Any, mfu: float) -> list:
    """ceiling_line for a plan of `setup` (explorer.cost.setup.Setup) at `mfu`, as a report's Assumption ([] when the
    plan is within the published runs' MFU, or none is comparable)."""
    from explorer.report import Assumption

    text = ceiling_line(mfu, setup.cluster.accelerator.key, setup.precision, setup.model.params)
    return [Assumption(text, "explorer/data/reference/accuracy.json 'ceilings' (explorer/accuracy.py _ceilings), "
                             "from explore validate: the MFU each published figure implies")] if text else []


def _billions(params: float) -> str:
    return f"{params / 1e9:.3g}B"


def _collect(bucket: dict, error: float, table: str) -> None:
    """Add one run's signed error to a group's (or a part's) bucket and its table to the bucket's tables, once."""
    bucket["errors"].append(error)
    if table not in bucket["tables"]:
        bucket["tables"].append(table)


WEAK_SCALING_MIN_SPAN = 4
"""A weak-scaling series counts when its largest run has at least this many times the GPUs of its smallest."""


def _throughput_tables(results: list) -> list[tuple]:
    """(table result, its tables.toml entry, GPU family) of each throughput table in `results` that ran on a family
    of FAMILY_OF, each entry read once."""
    from explorer.validate import load_table

    out = []
    for t in results:
        if t.kind != "throughput":
            continue
        spec = load_table(t.key)[0]
        family = FAMILY_OF.get(spec["accelerator"])
        if family is not None:
            out.append((t, spec, family))
    return out


def _weak_scaling(tables: list[tuple]) -> dict:
    """How per-GPU throughput changes along the tables' weak-scaling series (runs of one table that differ only in
    GPU count and data-parallel degree, validate.RowResult.series: the work per GPU fixed), published against
    predicted, from each series' smallest run to its largest; and the medians over the series. `tables`:
    _throughput_tables."""
    series = []
    for t, spec, _family in tables:
        by: dict[str, list] = {}
        for r in t.out_rows or t.rows:
            by.setdefault(r.series, []).append(r)
        for runs in by.values():
            lo, hi = min(runs, key=lambda r: r.gpus), max(runs, key=lambda r: r.gpus)
            if hi.gpus < WEAK_SCALING_MIN_SPAN * lo.gpus:
                continue
            series.append({"table": t.key, "run": lo.label, "gpus": [lo.gpus, hi.gpus],
                           "published_change": round(_per_gpu(spec, hi.published, hi.gpus)
                                                     / _per_gpu(spec, lo.published, lo.gpus) - 1, 4),
                           "predicted_change": round(_per_gpu(spec, hi.predicted, hi.gpus)
                                                     / _per_gpu(spec, lo.predicted, lo.gpus) - 1, 4)})
    if not series:
        return {"series": []}
    return {"series": series,
            "median_published_change": round(statistics.median(x["published_change"] for x in series), 4),
            "median_predicted_change": round(statistics.median(x["predicted_change"] for x in series), 4),
            "median_gap": round(statistics.median(x["published_change"] - x["predicted_change"] for x in series), 4),
            "gpus": [min(x["gpus"][0] for x in series), max(x["gpus"][1] for x in series)]}


def _per_gpu(spec: dict, value: float, gpus: int) -> float:
    """A row's figure as per-GPU throughput up to a factor the series shares (the work per GPU is fixed along a
    weak-scaling series): a whole job's tokens/s over its GPUs, a step time inverted, a per-GPU rate as it is."""
    if spec["metric"] == "tokens_per_s":
        return value / gpus
    if spec["metric"] in TIME_METRICS:
        return 1.0 / value
    return value


def error_range(table: str, framework: str) -> tuple[float, float] | None:
    """(least, greatest) signed out-of-sample error of one table's runs of one framework (accuracy.json), or None."""
    lo_hi = stored().get("ranges", {}).get(table, {}).get(framework)
    return None if lo_hi is None else (lo_hi[0], lo_hi[1])


@cache
def stored() -> dict:
    """The shipped summary (accuracy.json)."""
    return json.loads(ACCURACY_FILE.read_text())


def _group(framework: str, family: str | None, precision: str) -> dict | None:
    return next((g for g in stored()["groups"] if g["framework"] == framework and g["family"] == family
                 and g["precision"] == precision), None)


RUNS_OF: dict[str, str] = {
    "fsdp": "PyTorch FSDP (torchtitan's FSDP2, MosaicML's and IBM's FSDP1)",
    "deepspeed": "DeepSpeed (Megatron-DeepSpeed, gpt-neox and GLM-130B's stack)",
}
"""How the accuracy line names a framework's published runs where the group holds more than the plan's own stack:
the fsdp group judges the FSDP1 wrappers of Composer / llm-foundry and fms-fsdp alongside torchtitan's FSDP2; the
deepspeed group, the two model codes that ran on DeepSpeed's engine (MT-NLG, BLOOM and SC'21's ZeRO-3 runs on
Megatron-DeepSpeed, GPT-NeoX-20B on EleutherAI's gpt-neox)."""


def accuracy_line(framework: str, accelerator_key: str, accelerator_name: str = "this accelerator",
                  precision: str = "bf16") -> str:
    """One sentence: how the model fared on published runs of this framework on this GPU's family (an FP8 plan: on
    the FP8 runs among them, where there are any; else on all of them, and it says so)."""
    from explorer.cost.frameworks import framework as framework_named

    name = framework_named(framework).name
    family = FAMILY_OF.get(accelerator_key)
    group = _group(framework, family, ALL_PRECISIONS)
    if group is None:
        where = f"{family} GPUs" if family else accelerator_name
        return (f"Accuracy: no published {name} run on {where} is among the reference tables (explore validate), "
                "so nothing has checked these figures there; the efficiency parameters were fitted on A100 and "
                "H100 runs.")
    name = RUNS_OF.get(framework_named(framework).key, name)
    fp8 = _group(framework, family, "fp8") if precision == "fp8" else None
    caveat = ""
    if fp8 is not None:
        group, name = fp8, f"FP8 {name}"
    elif precision == "fp8":
        caveat = " None of them trained in FP8, so nothing has checked this plan's FP8 speed there."
    elif (_group(framework, family, "fp8") or {}).get("rows") == group["rows"]:  # every run of the family was FP8
        caveat = (f" All of them trained in FP8, so nothing has checked this plan's {precision.upper()} speed "
                  "there.")
    n = group["rows"]
    return (f"Accuracy: on {n} published {name} runs on {family} GPUs ({len(group['tables'])} reference "
            f"table{'s' if len(group['tables']) > 1 else ''}, explore validate), throughput predicted with the "
            f"parameters fitted without each run's table missed by {group['median_abs_error']:.1%} at the median "
            f"and {group['max_abs_error']:.1%} at most ({group['within_good']} of {n} within "
            f"{stored()['good']:.0%}); the median run was predicted {_faster_or_slower(group['median_error'])} than "
            f"measured.{caveat}{_part_sentence(framework, accelerator_key, accelerator_name)}")


PART_MINORITY = 0.5
"""A part whose own runs are fewer than this share of its family's (the H200's 4 among some 330 Hopper runs of
Megatron-LM) gets a sentence of its own in the accuracy line: the family's median can hide a lean of that part."""


def _part_sentence(framework: str, accelerator_key: str, accelerator_name: str) -> str:
    """' On the <part> itself, N runs (tables) were predicted m % slower/faster than measured at the median (a to b
    %).' where the plan's own part is a minority of its family's published runs of this framework (PART_MINORITY),
    else ''."""
    part = stored().get("parts", {}).get(accelerator_key, {}).get(framework)
    family = _group(framework, FAMILY_OF.get(accelerator_key), ALL_PRECISIONS)
    if part is None or family is None or part["rows"] >= PART_MINORITY * family["rows"]:
        return ""
    runs = f"{part['rows']} run{'s' if part['rows'] > 1 else ''}"
    return (f" On the {accelerator_name} itself, {runs} ({', '.join(part['tables'])}) were predicted "
            f"{_faster_or_slower(part['median_error'])} than measured at the median "
            f"({_faster_or_slower(part['least_error'])} to {_faster_or_slower(part['greatest_error'])}).")


def _faster_or_slower(error: float) -> str:
    """A signed error as the accuracy line says it: '4.5% faster' (positive: predicted faster than measured)."""
    return f"{abs(error):.1%} {'faster' if error > 0 else 'slower'}"


SCALE_LINE_MIN_GPUS = 256
"""Plans on at least this many GPUs carry the weak-scaling line (scale_line): a few hundred GPUs is where the
tables' series start to lose per-GPU throughput the model does not charge."""
SCALE_LEAN_NOISE = 0.005
"""A median weak-scaling gap smaller than this (half a point) is not called a lean either way."""


def scale_line(gpus: int, accelerator_key: str) -> str:
    """One sentence for a plan on `gpus` accelerators of a family the tables ran on (SCALE_LINE_MIN_GPUS or more;
    else ''): how per-GPU throughput fell along the tables' weak-scaling series, published against predicted
    (accuracy.json)."""
    ws = stored().get("weak_scaling", {})
    if gpus < SCALE_LINE_MIN_GPUS or FAMILY_OF.get(accelerator_key) is None or not ws.get("series"):
        return ""
    lo, hi = ws["gpus"]
    return (f"Scale: along {len(ws['series'])} weak-scaling series of the reference tables ({lo:,}-{hi:,} GPUs, the "
            f"work per GPU fixed; explore validate), per-GPU throughput fell by {-ws['median_published_change']:.1%} "
            f"at the median from each series' smallest run to its largest where the model's fell by "
            f"{-ws['median_predicted_change']:.1%}" + _scale_lean(ws["median_gap"], gpus))


def _scale_lean(gap: float, gpus: int) -> str:
    """The end of scale_line: which way the median weak-scaling gap (published minus predicted change) leans."""
    charged = ("the model charges the collectives and the slowest GPU's pace (a normal spread of GPU speed); "
               "jitter, rarer outliers and the fabric's congestion are not in these figures")
    if gap <= -SCALE_LEAN_NOISE:
        return (f": {charged}, so on {gpus:,} GPUs they lean optimistic, by about the {-gap:.1%} median gap, against "
                "the same work per GPU on fewer GPUs.")
    if gap >= SCALE_LEAN_NOISE:
        return (f": {charged}, and still the model loses more with scale than the runs did, so on {gpus:,} GPUs "
                f"these figures lean pessimistic, by about the {gap:.1%} median gap.")
    return f": {charged}, and the two agree within {SCALE_LEAN_NOISE:.1%} at the median."


def write() -> dict:
    """Recompute the summary from `explore validate` and store it."""
    from explorer.validate import validate

    summary = summarize(validate())
    ACCURACY_FILE.write_text(json.dumps(summary, indent=1) + "\n")
    stored.cache_clear()
    return summary


if __name__ == "__main__":
    for g in write()["groups"]:
        print(f"{g['framework']:9s} {g['family']:7s} {g['precision']:4s} {g['rows']:4d} rows  median |e| "
              f"{g['median_abs_error']:.1%}  "
              f"max {g['max_abs_error']:.1%}  signed median {g['median_error']:+.1%}")
