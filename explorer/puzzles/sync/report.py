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
    t, m = a.track, a.model
    sw = lab05_data()[t.key]["sample_word"]
    base = audit_narration(a, z)
    fl = fleet_narration(a, extra, sw)
    figures = {**base["figures"], **fl["figures"]}
    findings = base["findings"] + fl["findings"]
    tables = {**base["tables"], **fl["tables"]}
    headline = fl["headline"] + base["headline"]
    mc, se = a.mc_max_all
    plot_data = {"n": [], "expected_max": [], "mean": m.mean, "nodes": a.nodes, "group": a.group,
                 "device_word": t.device_word, "straggler_fraction": m.p, "slowdown": m.slowdown, "t0": m.t0,
                 "monte_carlo": {"n": a.nodes, "mean": mc, "se": se}}
    for k in sorted({int(x) for x in np.unique(np.round(np.geomspace(1, a.nodes, 40)))} | {a.nodes}):
        plot_data["n"].append(k)
        plot_data["expected_max"].append(expected_max(m, k))
    return Report(
        puzzle="sync", lab="05", part=3, track=t.key, title="The synchronization audit", status="computed",
        headline=headline, figures=figures, findings=findings, constraints=fl["constraints"],
        formulas=base["formulas"] + fl["formulas"],
        assumptions=base["assumptions"], tables=tables, plots=["straggler_wait"], data={"straggler_wait": plot_data},
        scenario={"straggler_fraction": m.p, "slowdown": m.slowdown, "jitter": m.jitter, "nodes": a.nodes},
        extra={"zero_comparison": z, **{k: _jsonable(v) for k, v in extra.items()}},
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


