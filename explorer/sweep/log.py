"""Which rows of a sweep's resume log (points.jsonl) may be reused, and why the others are solved again.

A resumed sweep used to take every logged row as it was: a row whose MFU was edited to 0.99 (its step time
unchanged) came back 'optimal' with MFU 0.99, a NaN came back 'optimal' with an empty MFU, and rows of an older
cost model were mixed in with today's (the package version stays 0.1.0). A logged row is now reused only when

* its values are what a solve writes: the known statuses, finite numbers in range (MFU in (0, 1], step time
  and throughput > 0, ...) and consistent with each other where that is cheap to recompute (TP x CP x PP x DP =
  GPUs and DP x micro-batch x micro-batches = global batch, the solver's structure constraints in
  explorer/solvers/threed_cpsat.py; tokens/s x step time = global batch x sequence length, explorer/cost/step.py;
  USD per million tokens = GPUs x USD per GPU-hour / 3600 / tokens/s x 1e6, explorer/sweep/points.py);
* its checksum (SHA-256 of the row's other fields, written with the row) matches: an edit since it was logged
  is caught. It is a check against edits and corruption, not a signature: anyone can recompute it;
* its model version is today's (explorer/model_version.py).

Every other row is solved again, and the sweep says how many and why.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from explorer import validation as V
from explorer.model_version import model_version
from explorer.sweep.points import (
    DEFAULT_GLOBAL_BATCH,
    DEFAULT_SEQ_LEN,
    LIMIT_COLUMN,
    MODEL_COLUMN,
    TIMING_COLUMNS,
)

CHECKSUM = "checksum"
STATUSES = ("optimal", "feasible", "infeasible", "no answer", "error")
SOLVED = ("optimal", "feasible")  # statuses whose row carries a plan and its figures
REL = 1e-6  # relative tolerance of a recomputed identity (the row's floats went through JSON exactly)

# Why a row is not reused: the categories the summary counts, in the order it names them.
EDITED = "changed since it was logged (checksum does not match)"
OLD_LOG = "logged without a model version and checksum (an older log)"
OTHER_MODEL = "computed by another cost model version"
INVALID = "not a valid row"


def row_checksum(row: dict[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the row without its checksum, as sorted JSON."""
    body = {k: v for k, v in row.items() if k != CHECKSUM}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()[:16]


def sign(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its checksum (what runner.record writes to points.jsonl)."""
    row[CHECKSUM] = row_checksum(row)
    return row


def _number(row: dict, col: str, lo: float, hi: float = math.inf, *, lo_open: bool = True,
            optional: bool = False) -> str | None:
    v = row.get(col)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return f"{col} {v!r} is not a finite number"
    if v < lo or (lo_open and v == lo) or v > hi:
        return f"{col} {v!r} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    return None


def _whole(row: dict, col: str, lo: int, hi: int = V.MAX_DEVICES) -> str | None:
    v = row.get(col)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        return f"{col} {v!r} is not a whole number in {lo}..{hi:,}"
    return None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b))


def _problem_3d(row: dict) -> str | None:
    checks = [_whole(row, "gpus", 1), *(_whole(row, c, 1) for c in ("tp", "pp", "dp", "cp", "micro_batch",
                                                                    "num_micro_batches", "virtual_stages")),
              _whole(row, "zero", 0, 3), _number(row, "mfu", 0.0, 1.0), _number(row, "step_time_s", 0.0),
              _number(row, "tokens_per_s", 0.0), _number(row, "memory_gb", 0.0),
              _number(row, "params_total", 0.0), _number(row, "usd_per_gpu_hour", 0.0, optional=True),
              _number(row, "usd_per_million_tokens", 0.0, optional=True)]
    bad = next((c for c in checks if c), None)
    if bad:
        return bad
    batch = row.get("global_batch") or DEFAULT_GLOBAL_BATCH
    seq = row.get("seq_len") or DEFAULT_SEQ_LEN
    if row["tp"] * row["pp"] * row["dp"] * row["cp"] != row["gpus"]:
        return f"TP x PP x DP x CP = {row['tp'] * row['pp'] * row['dp'] * row['cp']:,} is not its {row['gpus']:,} GPUs"
    if row["dp"] * row["micro_batch"] * row["num_micro_batches"] != batch:
        return (f"DP x micro-batch x micro-batches = {row['dp'] * row['micro_batch'] * row['num_micro_batches']:,} "
                f"is not its global batch {batch:,}")
    if not _close(row["tokens_per_s"] * row["step_time_s"], float(batch) * seq):
        return (f"tokens/s x step time = {row['tokens_per_s'] * row['step_time_s']:,.0f} tokens is not its "
                f"{batch:,} x {seq:,} tokens per step")
    price, cost = row.get("usd_per_gpu_hour"), row.get("usd_per_million_tokens")
    if (price is None) != (cost is None) or (
            price is not None and not _close(row["gpus"] * price / 3600.0 / row["tokens_per_s"] * 1e6, cost)):
        return f"usd_per_million_tokens {cost!r} does not follow from its GPUs, price and tokens/s"
    return None


def _problem_plan(row: dict) -> str | None:
    checks = [_number(row, "mfu", 0.0, 1.0), _number(row, "tokens_per_s", 0.0), _number(row, "goodput", 0.0, 1.0),
              _number(row, "train_days", 0.0), _number(row, "usd", 0.0, lo_open=False),
              _whole(row, "best_gpus", 1), _number(row, "params_total", 0.0)]
    return next((c for c in checks if c), None)


def problem(row: Any, kind: str) -> str | None:
    """Why a logged row's values are not what a solve writes (None when they are)."""
    if not isinstance(row, dict) or not isinstance(row.get("key"), str):
        return "not a row with a key"
    if row.get("kind") != kind:
        return f"kind {row.get('kind')!r} is not this sweep's {kind!r}"
    status = row.get("status")
    if status not in STATUSES:
        return f"status {status!r} is not one of {', '.join(STATUSES)}"
    for col, v in row.items():  # a NaN or infinity anywhere (json reads NaN and Infinity)
        if isinstance(v, float) and not math.isfinite(v):
            return f"{col} is {v!r}"
    for col in (LIMIT_COLUMN, *TIMING_COLUMNS):
        bad = _number(row, col, 0.0, lo_open=col == LIMIT_COLUMN, optional=True)
        if bad:
            return bad
    if status in SOLVED:
        return (_problem_3d if kind == "3d" else _problem_plan)(row)
    if not isinstance(row.get("message"), str):
        return f"status {status!r} without its message"
    return None


def distrust(row: Any, kind: str) -> tuple[str, str] | None:
    """(category, detail) of why a logged row must be solved again, or None to reuse it."""
    why = problem(row, kind)
    if why:
        return INVALID, why
    if MODEL_COLUMN not in row and CHECKSUM not in row:
        return OLD_LOG, ""
    try:
        ok = row.get(CHECKSUM) == row_checksum(row)
    except (TypeError, ValueError):  # not JSON-serialisable as logged: not what record() wrote
        ok = False
    if not ok:
        return EDITED, ""
    today = model_version()
    if row.get(MODEL_COLUMN) != today:
        return OTHER_MODEL, f"{row.get(MODEL_COLUMN)!s}, today {today}"
    return None


def note(distrusted: dict[str, list[str]]) -> str:
    """One line: how many logged rows were solved again and why (the first detail of each reason)."""
    n = sum(len(v) for v in distrusted.values())
    if not n:
        return ""
    parts = []
    for cat in (EDITED, INVALID, OTHER_MODEL, OLD_LOG):
        details = distrusted.get(cat) or []
        if details:
            first = next((d for d in details if d), "")
            parts.append(f"{len(details):,} {cat}" + (f" ({'e.g. ' if len(details) > 1 else ''}{first})"
                                                      if first else ""))
    return (f"{n:,} logged row{'s' if n > 1 else ''} not reused and solved again: " + "; ".join(parts))
