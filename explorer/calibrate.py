"""Calibration of the cost model's few global efficiency parameters on the shipped reference tables, and the
leave-one-table-out check that says how well it holds on a table the fit did not see.

The parameters (PARAMETERS below) are the same for every row, table and model: the large-GEMM efficiency of
each accelerator family (hardware/data/accelerators.toml, `matmul_efficiency`; parts built on one die share
one value) and the step-model parameters of explorer/cost/efficiency.py. Nothing is fitted per row, per table
or per model.

The fit: scipy.optimize.least_squares on r = log(predicted / published) for every compared row of every
throughput table in the training set, each table weighted 1/sqrt(rows) so that a 61-row table counts as much
as a 9-row one, with a soft-L1 loss (scale 5 %) so that one odd row cannot drag a global parameter. Bounds keep
every parameter physical (an efficiency in (0, 1], a byte count positive).

    python -m explorer.calibrate            # fit on all tables + leave-one-table-out; writes calibration.toml
    python -m explorer.calibrate --check    # refit and compare with the stored result (no write)

The stored result (explorer/data/reference/calibration.toml) records the global fit (whose values are written
into efficiency.py and accelerators.toml, and tests/test_validate.py checks they match) and, for every table,
the parameters fitted without it: `explore validate` evaluates each table with those to report its
out-of-sample error.
"""

from __future__ import annotations

import math
import sys
import time
import tomllib
from dataclasses import dataclass, replace

import numpy as np

from explorer.cost.efficiency import DEFAULT_EFFICIENCY, FITTED_FAMILIES, Efficiency
from explorer.hardware.catalog import get_accelerator
from explorer.validate import REFERENCE_DIR, load_table, table_names, validate_table

CALIBRATION_FILE = REFERENCE_DIR / "calibration.toml"


@dataclass(frozen=True)
class Parameter:
    name: str
    prior: float
    lower: float
    upper: float
    parts: tuple[str, ...] = ()  # accelerator keys sharing this value (empty: an Efficiency field)
    meaning: str = ""
    prior_source: str = ""

    @property
    def field(self) -> str:
        """The Efficiency field, or for a part parameter the Accelerator field, this parameter sets."""
        return self.name.split(".")[0]


HOPPER = FITTED_FAMILIES["hopper"]
AMPERE = FITTED_FAMILIES["ampere"]

# Every fit starts from the priors (each from a source, not from a fit), and a weak log-normal prior term keeps a
# parameter that the training tables cannot pin down near its prior (PRIOR_WEIGHT: a factor PRIOR_SPREAD away
# from the prior costs as much as one table 5 % off).
PRIOR_WEIGHT = 0.05
PRIOR_SPREAD = 3.0

PARAMETERS: tuple[Parameter, ...] = (
    Parameter("matmul_efficiency.hopper", 0.80, 0.40, 0.95, HOPPER,
              "large-GEMM fraction of the dense BF16 peak on Hopper parts (one die: H100 SXM, H100 96GB, H200)",
              "cuBLAS BF16 GEMM at 8192^3 on H100 SXM: about 790-800 TFLOP/s of 989"),
    Parameter("matmul_efficiency.ampere", 0.85, 0.40, 0.95, AMPERE,
              "large-GEMM fraction of the dense BF16 peak on A100 (40 and 80 GB: one die)",
              "Narayanan et al. SC'21 sec. 5.1: single-GPU GEMMs up to ~85 % of peak"),
    Parameter("attention_efficiency.hopper", 0.35, 0.15, 0.90, HOPPER,
              "fused-attention (FlashAttention-style) fraction of the dense BF16 peak on Hopper parts",
              "Shah et al., FlashAttention-3 (arXiv 2407.08608), abstract: FlashAttention-2 reaches 35 % of H100"),
    Parameter("attention_efficiency.ampere", 0.60, 0.15, 0.90, AMPERE,
              "fused-attention fraction of the dense BF16 peak on A100",
              "Dao, FlashAttention-2 (arXiv 2307.08691), abstract: 50-73 % of A100's peak"),
    Parameter("matmul_half_dim", 192.0, 16.0, 2048.0, (),
              "size of a GEMM's weight dimension (each side, per device) at which the GEMM reaches half of the "
              "large-GEMM efficiency",
              "NVIDIA Deep Learning Performance Guide, 'Matrix multiplication background' (tile quantisation)"),
    Parameter("matmul_half_tokens", 128.0, 16.0, 4096.0, (),
              "micro-batch tokens at which a GEMM reaches half of it", "as matmul_half_dim"),
    Parameter("elementwise_bytes_per_hidden", 30.0, 8.0, 200.0, (),
              "HBM bytes per token, layer and hidden unit of the fused memory-bound kernels (norms, residual adds, "
              "dropout), forward + backward",
              "Korthikanti et al. 2022 Table 4: sequence parallelism saves 0.6 ms of the 22B layer's 19.6 ms on A100 "
              "(tokens 8,192, h 6,144, TP 8): 7/8 of these kernels' traffic = 28 bytes per hidden unit"),
    Parameter("elementwise_bytes_per_hidden_eager", 150.0, 8.0, 800.0, (),
              "the same for eager (unfused) PyTorch",
              "assumption: about 5x the fused traffic (every op its own read and write pass)"),
    Parameter("attention_score_bytes", 48.0, 8.0, 200.0, (),
              "HBM bytes per attention score without FlashAttention",
              "Korthikanti et al. 2022 sec. 4.1 stored tensors: ~33 bytes at full bandwidth, 48 at ~70 % of it"),
)


def priors() -> dict[str, float]:
    return {p.name: p.prior for p in PARAMETERS}


def throughput_tables() -> list[str]:
    """Reference tables the fit may use: throughput tables not marked fit = false in tables.toml."""
    out = []
    for name in table_names():
        spec, _, _ = load_table(name)
        if spec["kind"] == "throughput" and spec.get("fit", True):
            out.append(name)
    return out


def current_values() -> dict[str, float]:
    """The values in the code now (efficiency.py defaults and the catalog)."""
    out = {}
    for p in PARAMETERS:
        if p.parts:
            value = getattr(get_accelerator(p.parts[0]), p.field)
            out[p.name] = DEFAULT_EFFICIENCY.attention_efficiency if value is None else value
        else:
            out[p.name] = getattr(DEFAULT_EFFICIENCY, p.name)
    return out


def split(values: dict[str, float]) -> tuple[Efficiency, dict[str, dict[str, float]]]:
    """(Efficiency, accelerator key -> {field: value}) for a parameter assignment."""
    eff = replace(DEFAULT_EFFICIENCY, **{p.name: values[p.name] for p in PARAMETERS if not p.parts})
    parts: dict[str, dict[str, float]] = {}
    for p in PARAMETERS:
        for key in p.parts:
            parts.setdefault(key, {})[p.field] = values[p.name]
    return eff, parts


def table_errors(name: str, values: dict[str, float]) -> np.ndarray:
    """log(predicted / published) for every compared row of one table that the fit may use (a row whose `fit` column
    is False is judged by `explore validate` but not fitted: its work is not known) under a parameter assignment."""
    eff, parts = split(values)
    t = validate_table(name, eff, parts)
    return np.array([math.log(r.predicted / r.published) for r in t.rows if r.fitted])


def _used(p: Parameter, tables: list[str]) -> bool:
    """Whether any training table can inform a parameter (a part absent from every table is left as it is)."""
    if not p.parts:
        if p.name == "attention_score_bytes":
            return any(not load_table(t)[0].get("flash_attention", True) for t in tables)
        if p.name == "elementwise_bytes_per_hidden_eager":
            return any(not load_table(t)[0].get("fused_kernels", True) for t in tables)
        return True
    return any(load_table(t)[0]["accelerator"] in p.parts for t in tables)


def fit(tables: list[str], start: dict[str, float] | None = None, max_nfev: int = 200) -> dict[str, float]:
    """Least-squares fit of PARAMETERS on the rows of `tables`, from the priors (see the module docstring)."""
    from scipy.optimize import least_squares

    start = dict(start or priors())
    free = [p for p in PARAMETERS if _used(p, tables)]
    lo = np.log([p.lower for p in free])
    hi = np.log([p.upper for p in free])
    x0 = np.clip(np.log([start[p.name] for p in free]), lo + 1e-9, hi - 1e-9)
    weights = {t: 1.0 / math.sqrt(len(load_table(t)[2])) for t in tables}

    prior_log = np.log([p.prior for p in free])

    def residuals(x: np.ndarray) -> np.ndarray:
        values = dict(start, **{p.name: float(math.exp(v)) for p, v in zip(free, x, strict=True)})
        rows = [weights[t] * table_errors(t, values) for t in tables]
        return np.concatenate(rows + [PRIOR_WEIGHT * (x - prior_log) / math.log(PRIOR_SPREAD)])

    res = least_squares(residuals, x0, bounds=(lo, hi), loss="soft_l1", f_scale=0.05, x_scale=1.0,
                        diff_step=1e-3, max_nfev=max_nfev)
    return dict(start, **{p.name: float(math.exp(v)) for p, v in zip(free, res.x, strict=True)})


def summary(name: str, values: dict[str, float]) -> tuple[float, float]:
    """(median, max) |relative error| of one table under a parameter assignment, as `explore validate` counts it."""
    eff, parts = split(values)
    t = validate_table(name, eff, parts)
    return t.median_error, t.max_error


def run(write: bool = True) -> dict:
    """Global fit on every table, then one fit per held-out table; returns (and writes) the result."""
    tables = throughput_tables()
    t0 = time.time()
    glob = fit(tables)
    held = {}
    for t in tables:
        held[t] = fit([u for u in tables if u != t])
        med, mx = summary(t, held[t])
        print(f"held out {t}: median {100 * med:.1f}% max {100 * mx:.1f}%", file=sys.stderr)
    result = {"tables": tables, "global": glob, "held_out": held, "seconds": round(time.time() - t0, 1)}
    if write:
        CALIBRATION_FILE.write_text(render_toml(result))
    return result


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def render_toml(result: dict) -> str:
    import scipy

    lines = [
        "# Calibration of the cost model's global efficiency parameters (explorer/calibrate.py; rerun with",
        "# `python -m explorer.calibrate`). Written by that script: do not edit by hand.",
        f"# scipy {scipy.__version__} least_squares, soft-L1 loss (scale 0.05) on log(predicted/published), each table",
        "# weighted 1/sqrt(rows). [global] is fitted on every table in `tables`; its values are the ones in",
        "# explorer/cost/efficiency.py and hardware/data/accelerators.toml (tests/test_validate.py checks they match).",
        "# [held_out.NAME] is fitted on every table but NAME: `explore validate` reports NAME's out-of-sample error",
        "# with those values.",
        f"tables = [{', '.join(repr(t).replace(chr(39), chr(34)) for t in result['tables'])}]",
        "",
        "[global]",
    ]
    lines += [f'"{k}" = {_fmt(v)}' for k, v in result["global"].items()]
    for t, vals in result["held_out"].items():
        lines += ["", f"[held_out.{t}]"] + [f'"{k}" = {_fmt(v)}' for k, v in vals.items()]
    return "\n".join(lines) + "\n"


def stored() -> dict:
    """The stored calibration ({} if none has been written)."""
    if not CALIBRATION_FILE.exists():
        return {}
    with open(CALIBRATION_FILE, "rb") as fh:
        return tomllib.load(fh)


def held_out_values(name: str) -> dict[str, float] | None:
    """The parameters fitted without table `name` (None if the stored calibration has none for it)."""
    return stored().get("held_out", {}).get(name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    result = run(write=not check)
    print(render_toml(result))
    if check:
        old = stored()
        worst = max(abs(result["global"][k] / old["global"][k] - 1) for k in old.get("global", {}))
        print(f"largest relative change against the stored global fit: {worst:.3%}", file=sys.stderr)
        return 0 if worst < 0.02 else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
