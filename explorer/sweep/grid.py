"""The grid of a sweep: axes from options and/or a TOML/YAML file, expanded into points (dicts of inputs
in a canonical order), each with a stable key so that a resumed sweep skips what it already solved."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from explorer import validation as V
from explorer.cost.frameworks import GRAD_REDUCE_DTYPES, framework_choice
from explorer.errors import UsageError
from explorer.plan import OPTIMIZERS, PRECISIONS
from explorer.planner.inputs import parse_list

KINDS = ("3d", "plan")
MAX_POINTS = 100_000


POSITIVE_INT = V.Int(1)  # batches, sequence lengths
# Cluster sizes: solve 3d's own bound (validation.DEVICES), checked when the grid is read, so that a size no point
# could take (--gpus 1e9) is one usage error before any work, not a sweep of 'error' rows.
GPUS = V.Int(1, V.MAX_DEVICES, why=V.DEVICES.why)
POSITIVE = V.Real(0.0, lo_open=True)  # parameter counts


def _name(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(v)
    return v.strip()


def _model(v: Any) -> str:
    from explorer.models.catalog import get_model

    return get_model(_name(v)).key  # an unknown name: the catalog's one-line error, before any solve


def _gpu(v: Any) -> str:
    from explorer.planner.inputs import cluster_options

    cluster_options(_name(v))  # a GPU without a node preset is refused here
    return _name(v)


def _choice(name: str, valid: tuple[str, ...]) -> Any:
    def conv(v: Any) -> str:
        if _name(v) not in valid:
            raise UsageError(f"sweep input {name}: {v!r} unknown; valid: {', '.join(valid)}")
        return _name(v)

    return conv


_objective = _choice("objective", ("cost", "time"))


def _framework(v: Any) -> str:
    try:
        return framework_choice(_name(v))
    except UsageError as e:
        raise UsageError(f"sweep input framework: {e}") from None


def _network(v: Any) -> str:
    from explorer.hardware.catalog import get_link

    return get_link(_name(v)).key


def _params(v: Any) -> float:
    from explorer.models.shape_rule import shape_for_params

    parsed = POSITIVE.parse(v) if isinstance(v, str) else v
    if POSITIVE.problem(parsed):
        raise ValueError(v)  # parse_list names it with ALLOWED[_params]
    x = float(parsed)
    shape_for_params(x)  # out of the rule's range: refused here
    return x


# The inputs each kind of point takes, with their converters (one value each; lists make axes).
INPUTS = {
    "3d": {"model": _model, "params": _params, "gpu": _gpu, "gpus": GPUS, "network": _network,
           "global_batch": POSITIVE_INT, "seq_len": POSITIVE_INT, "max_bubble": V.FRACTION,
           "precision": _choice("precision", PRECISIONS), "optimizer": _choice("optimizer", OPTIMIZERS),
           "framework": _framework,
           "grad_reduce_dtype": _choice("grad_reduce_dtype", GRAD_REDUCE_DTYPES)},
    "plan": {"model": _model, "params": _params, "gpu": _gpu, "tokens": V.PLAN_TOKENS,
             "deadline_days": V.DEADLINE_DAYS, "budget_usd": V.BUDGET_USD, "objective": _objective,
             "global_batch": POSITIVE_INT, "seq_len": POSITIVE_INT,
             "network": _network},
}
# What each converter takes, for parse_list's one-line error (the Number kinds and the choices name their own).
ALLOWED = {_params: "a parameter count, e.g. 70e9", _name: "a name",
           GPUS: f"a whole number >= 1, at most {V.MAX_DEVICES:,} ({GPUS.why})"}
# Inputs that are a set per point rather than an axis: plan's candidate cluster sizes.
SETS = {"plan": {"gpus": GPUS}}
DEFAULTS = {"3d": {"gpu": "h100"}, "plan": {"gpu": "h100"}}


def read_grid_file(path: Path) -> dict[str, Any]:
    """{'kind': ..., 'grid': {...}} from a .toml, .yaml or .yml file."""
    if not path.is_file():
        raise UsageError(f"grid file {str(path)!r} not found")
    if path.stat().st_size > 1_000_000:
        raise UsageError(f"grid file {str(path)!r} is larger than 1 MB")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"grid file {str(path)!r} cannot be read as UTF-8 text: {exc}") from None
    try:
        if path.suffix == ".toml":
            d = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ModuleNotFoundError:
                raise UsageError("YAML grid files need PyYAML: pip install 'explorer[sweep]'") from None
            d = yaml.safe_load(text)
        else:
            raise UsageError(f"grid file {str(path)!r}: give a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise UsageError(f"grid file {str(path)!r}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # yaml.YAMLError without importing yaml at module level
        if type(exc).__module__.startswith("yaml"):
            raise UsageError(f"grid file {str(path)!r}: {str(exc).splitlines()[0]}") from None
        raise
    if not isinstance(d, dict) or not isinstance(d.get("grid", {}), dict):
        raise UsageError(f"grid file {str(path)!r}: expected a table 'grid' of input = value or [values]")
    unknown = set(d) - {"kind", "grid"}
    if unknown:
        raise UsageError(f"grid file {str(path)!r}: unknown keys {sorted(unknown)}; valid: kind, grid")
    return d


def axes_of(kind: str, raw: dict[str, Any]) -> tuple[dict[str, list], dict[str, list]]:
    """Validated axes (name -> list of values) and per-point sets, in a canonical order."""
    if kind not in KINDS:
        raise UsageError(f"sweep kind {kind!r} unknown; valid: {', '.join(KINDS)}")
    allowed, sets = INPUTS[kind], SETS.get(kind, {})
    axes: dict[str, list] = {}
    fixed_sets: dict[str, list] = {}
    for k, v in raw.items():
        if v is None:
            continue
        key = k.replace("-", "_")
        conv = sets.get(key) or allowed.get(key)
        if conv is None:
            raise UsageError(f"sweep {kind}: unknown input {k!r}; valid: {', '.join(sorted(allowed))}")
        out = parse_list(f"sweep input {key}", v if isinstance(v, (list, str)) else [v], conv, ALLOWED.get(conv))
        if not out:
            raise UsageError(f"sweep input {key}: no values")
        (fixed_sets if key in sets else axes)[key] = out
    if "model" in axes and "params" in axes:
        raise UsageError("sweep: give model or params, not both")
    if "model" not in axes and "params" not in axes:
        raise UsageError("sweep: give at least one model (--model NAME[,NAME...] or --params N[,N...])")
    if kind == "3d" and "gpus" not in axes:
        raise UsageError("sweep 3d: give the cluster sizes (--gpus 64,128,256)")
    if kind == "plan" and "tokens" not in axes:
        raise UsageError("sweep plan: give the token budget (--tokens 1e12[,...])")
    for k, v in DEFAULTS[kind].items():
        axes.setdefault(k, [v])
    order = [k for k in allowed if k in axes]
    return {k: axes[k] for k in order}, fixed_sets


def expand_grid(kind: str, raw: dict[str, Any], max_points: int = MAX_POINTS) -> list[dict[str, Any]]:
    """All points of the grid (Cartesian product, in axis order), at most max_points."""
    axes, sets = axes_of(kind, raw)
    size = math.prod(len(v) for v in axes.values())
    if size > max_points:
        raise UsageError(f"the grid has {size:,} points ({' x '.join(str(len(v)) for v in axes.values())}); "
                         f"at most {max_points:,} (--max-points)")
    pts = []
    for combo in itertools.product(*axes.values()):
        p = dict(zip(axes, combo))
        p.update({k: v for k, v in sets.items()})
        pts.append({"kind": kind, **p})
    return pts


def point_key(point: dict[str, Any]) -> str:
    """A stable key of a point's inputs (sorted JSON, SHA-1), the identity used to resume."""
    return hashlib.sha1(json.dumps(point, sort_keys=True).encode()).hexdigest()[:16]
