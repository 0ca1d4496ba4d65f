"""Assemble the synchronisation audit's Report from the common audit (cloud.py) and the track's
fleet form (fleet.py), with the data of the straggler plot."""

from __future__ import annotations

from typing import Any

import numpy as np

from explorer.cost.stragglers import expected_max
from explorer.puzzles.scaling import lab05_data
from explorer.puzzles.sync.audit import Audit
from explorer.puzzles.sync.cloud import audit_narration
from explorer.puzzles.sync.fleet import fleet_narration
from explorer.report import Report


def build_report(a: Audit, extra: dict, z: dict | None) -> Report:
    """The datacenter audit (cloud)."""
    base = audit_narration(a, z)
    return _assemble(a, base, [], {"zero_comparison": z, **{k: _jsonable(v) for k, v in extra.items()}})


def build_fleet_report(a: Audit, fa: dict) -> Report:
    """A fleet's audit (edge, mobile, tiny): its own narration only, no datacenter notion."""
    sw = lab05_data()[a.track.key]["sample_word"]
    fl = fleet_narration(a, fa, sw)
    keep = ("local_steps", "participation", "deadline_quantile", "days", "rounds", "rounds_per_day", "round_time",
            "energy_round", "energy_day", "participants", "split", "trainable_layers", "micro_batch")
    best = {k: fa["best"][k] for k in keep} | {"tier": fa["best"]["tier"].key}
    extra = {"fleet": _jsonable({"best": best, **{k: v for k, v in fa.items() if k in ("server_checkpoint",)}})}
    for k in ("edge", "mobile", "tiny"):
        if k in fa:
            extra[k] = _jsonable(_plain(fa[k]))
    return _assemble(a, fl, fl["constraints"], extra)


def _plain(x: Any) -> Any:
    """Figures fit for JSON: configurations (dicts with a tier) reduced to their numbers and keys."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k not in ("placement", "violations") or isinstance(v, list)}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if hasattr(x, "key") and hasattr(x, "graph"):
        return x.key
    return x


def _assemble(a: Audit, parts: dict, constraints: list, extra: dict) -> Report:
    t, m = a.track, a.model
    figures, findings, tables, headline = parts["figures"], parts["findings"], parts["tables"], parts["headline"]
    mc, se = a.mc_max_all
    plot_data = {"n": [], "expected_max": [], "mean": m.mean, "nodes": a.nodes, "group": a.group,
                 "device_word": t.device_word, "straggler_fraction": m.p, "slowdown": m.slowdown, "t0": m.t0,
                 "monte_carlo": {"n": a.nodes, "mean": mc, "se": se}}
    for k in sorted({int(x) for x in np.unique(np.round(np.geomspace(1, a.nodes, 40)))} | {a.nodes}):
        plot_data["n"].append(k)
        plot_data["expected_max"].append(expected_max(m, k))
    return Report(
        puzzle="sync", lab="05", part=3, track=t.key, title="The synchronization audit", status="computed",
        headline=headline, figures=figures, findings=findings, constraints=constraints,
        formulas=parts["formulas"], assumptions=parts["assumptions"], tables=tables, plots=["straggler_wait"],
        data={"straggler_wait": plot_data},
        scenario={"straggler_fraction": m.p, "slowdown": m.slowdown, "jitter": m.jitter, "nodes": a.nodes},
        extra=extra,
    )



def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    return x


