"""The cloud track's remedies in numbers: what async saves per month under each staleness model, the hot spares
that evicting persistent stragglers needs, and what each straggler remedy costs and saves (the words are in
cloud_words.py, the narration's assembly in cloud.py)."""

from __future__ import annotations

import math
from typing import Any

from explorer.cost.stragglers import (
    StepTimeModel,
    expected_kth_of_group_max,
    expected_max,
    expected_units_with_straggler,
    implicit_momentum_progress,
)
from explorer.puzzles.sync.audit import Audit, _saving
from explorer.units import plural


def staleness_models(a: Audit) -> dict[str, dict[str, float]]:
    """Async's progress per update under two staleness models, and what async then saves per month:
    the worst-case bound (Lian et al. 2015, the audit's r) and, where the track names the momentum the
    run is tuned for, the implicit-momentum model measured on CNNs (Mitliagkas et al. 2016)."""
    out = {"worst case (Lian et al. 2015)": {"r": a.progress_at_lr, "x": a.x_async, "usd": a.usd_async}}
    if "tuned_momentum" in a.data:
        r = float(implicit_momentum_progress(a.replicas, a.data["tuned_momentum"]))
        x = a.x_async_raw * r
        out["measured (implicit momentum, Mitliagkas et al. 2016)"] = {"r": r, "x": x,
                                                                         "usd": _saving(a.spend_usd, a.x_sync, x)}
    out["free (no staleness cost)"] = {"r": 1.0, "x": a.x_async_raw, "usd": a.usd_async_raw}
    return out


def eviction_spares(a: Audit) -> dict[str, Any]:
    """The hot spares that evicting every persistent straggler needs.

    Derivation. The audit's straggler model is independent per device (`StepTimeModel`: each device is a
    straggler with probability p, whatever its neighbours do), so stragglers do not pack whole nodes. What
    has to be replaced is the smallest unit a straggler can leave the job in:

    * TP > 1 (the cloud plan is TP=8 on 8-GPU nodes): a tensor-parallel group exchanges activations every
      layer and stays inside a node on NVLink (Narayanan et al., SC'21, arXiv 2104.04473, sec. 3.2,
      takeaway #1: TP up to the GPUs of one server), so a straggling GPU cannot be swapped for a GPU
      elsewhere; its whole node goes, as the Llama 3 report (sec. 3.3.4) isolates slow hosts. Unit = the
      node of d devices. The expected number of nodes holding at least one straggler is N_nodes q with
      q = 1 - (1 - p)^d (`expected_units_with_straggler`): 128 x (1 - 0.95^8) = 43.08 -> 44 spare nodes
      at p = 5%, not ceil(5% x 1,024 / 8) = 7, which would need the stragglers packed 8 to a node.
    * TP = 1: a pipeline or data-parallel rank talks over the network anyway, so a straggling GPU's rank can
      move to any spare GPU. Unit = the GPU: ceil(p N) spare GPUs, on ceil(ceil(p N) / d) spare nodes.

    Either way the count is Binomial(units, q) (q = p for a GPU unit); the audit costs its expectation,
    rounded up to whole units, because dollars per month average over which nodes happen to be slow; an
    operator who must cover the bad draws too would keep a few more (2 standard deviations of
    sqrt(units q (1 - q)) = 5.3 nodes here: ~11 more). Spares are assumed screened (burned in) before they
    join, so they carry no persistent straggler."""
    m, dpn = a.model, a.setup.cluster.devices_per_node
    unit = dpn if a.est.plan.tp > 1 and a.nodes % dpn == 0 else 1
    units = a.nodes // unit
    expected = expected_units_with_straggler(m.p, a.nodes, unit)
    spare_units = math.ceil(expected - 1e-9 * units) if expected > 0 else 0
    return {"unit": unit, "units": units, "hit_fraction": expected / units, "expected": expected,
            "spare_units": spare_units, "spare_nodes": math.ceil(spare_units * unit / dpn)}


def straggler_remedies(a: Audit) -> list[dict[str, Any]]:
    """What practice does about stragglers, each costed in dollars per month (net of what it costs):

    * backup replicas (Chen et al. 2016): run R + b data-parallel replicas and take the first R each step
      (the k-th order statistic of the replicas' step times); pays for b replicas of `group` devices;
    * evict persistent stragglers onto hot spares: if the slow devices stay slow (throttling, a flaky NIC,
      ECC retries), detect and swap their nodes for spare ones (the Llama 3 report, sec. 3.3.4, isolates
      slow nodes this way): the step is then the slowest of devices without stragglers; pays for the spare
      nodes (one per node holding a straggler, see `eviction_spares`) and one restart per swapped node;
    * neither helps the other kind: transient stragglers (a different device each step) cannot be evicted."""
    d, m = a.data, a.model
    out: list[dict[str, Any]] = []
    t_sync = a.t_sync
    for b in d.get("backup_replicas", []):
        t = expected_kth_of_group_max(m, a.group, a.replicas, a.replicas + b) + a.comm_sync_s
        cost = a.spend_usd * b / a.replicas
        out.append({"name": f"{plural(b, 'backup replica')} ({b * a.group:,} {a.track.device_word}s)",
                    "kind": "backup", "backups": b, "step_s": t, "extra_usd": cost,
                    "net_usd": a.spend_usd * (1.0 - t / t_sync) - cost})
    dpn = a.setup.cluster.devices_per_node
    spares = eviction_spares(a)
    spare_nodes = spares["spare_nodes"]
    if spare_nodes:
        clean = StepTimeModel(m.t0, m.jitter, 0.0, 1.0)
        t = expected_max(clean, a.nodes) + a.comm_sync_s
        restarts = spare_nodes * d["restart_s"] / (d["hours_per_month"] * 3600.0)  # one restart per swapped node
        cost = a.spend_usd * spare_nodes * dpn / a.nodes + a.spend_usd * restarts
        out.append({"name": f"evict persistent stragglers onto {plural(spare_nodes, 'hot spare node')}",
                    "kind": "evict", "spares": spares, "step_s": t, "extra_usd": cost,
                    "net_usd": a.spend_usd * (1.0 - t / t_sync) - cost})
    return out
