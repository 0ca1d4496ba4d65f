"""The words of the cloud track's audit: percentages, savings and verdicts in words, and what the backup
replicas and the eviction of persistent stragglers do, read from the remedies' numbers (cloud_costs.py)."""

from __future__ import annotations

import math
from typing import Any

from explorer.puzzles.scaling import lab05_data
from explorer.puzzles.sync.audit import Audit
from explorer.units import human_number, human_percent, plural
from explorer.units import human_usd as _usd

# what each ZeRO stage shards over the data-parallel group (Rajbhandari et al. 2020, SC'20, sec. 5: P_os, P_os+g,
# P_os+g+p; docs/conventions.md 'Sharded data parallelism, per micro-batch'): the finding names the winning
# stage's, not all three
ZERO_SHARDS = {1: "the optimizer state", 2: "the optimizer state and the gradients",
               3: "the optimizer state, the gradients and the weights"}


def _signed_pct(x: float) -> str:
    text = f"{100 * x:+.1f}%"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


def _times_slower(ratio: float) -> str:
    """'20.4x slower' / '1.6x faster' from time-per-progress ratio (sync throughput / other)."""
    if ratio >= 1.0:
        return f"{human_number(ratio)}x slower"
    return f"{human_number(1.0 / ratio)}x faster"


def _saved_or_lost(usd: float) -> str:
    return f"saves {_usd(usd)}/month" if usd >= 0 else f"loses {_usd(-usd)}/month"


def _key(name: str) -> str:
    return name.split(" (")[0].replace(" ", "_")


def _verdict(usd_bits: list[tuple[str, float]]) -> str:
    """Which change saves the most per month (async under each staleness model, ZeRO, straggler remedies),
    in words, with the others beside it."""
    ranked = sorted(usd_bits, key=lambda kv: -kv[1])
    best_name, best_val = ranked[0]
    if best_val < 0.005:  # less than a cent is no saving
        if len(usd_bits) == 1:
            return f"{best_name[0].upper() + best_name[1:]} does not save money here."
        return "None of " + ", ".join(k for k, _ in usd_bits) + " saves money here."
    if len(ranked) == 1:
        return f"{best_name[0].upper() + best_name[1:]} saves {_usd(best_val)}/month."
    rest = "; ".join(f"{k} {_saved_or_lost(v)}" for k, v in ranked[1:])
    return f"Most saved: {best_name}, {_usd(best_val)}/month ({rest})."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _backup_text(a: Audit, remedies: list[dict[str, Any]]) -> str:
    """What the backup replicas of the remedies table do, read from its rows: the step each cuts, against the share
    of devices it adds, and which pay. A backup's net is spend (1 - t_b / t_sync) - spend b / R
    (`straggler_remedies`), so it pays exactly when it cuts the step by more than the share b / R of devices it
    adds: the rule the sentence states, its words chosen by the sign of each row's net (the sentence had said
    "help little ... barely faster" whatever the table said, beside a headline recommending a backup)."""
    backups = [r for r in remedies if r["kind"] == "backup"]
    if not backups:
        return ""
    m, devs, dev = a.model, lab05_data()[a.track.key]["device_plural"], a.track.device_word
    t_sync, big = a.t_sync, a.replicas
    cuts = "; ".join(f"with b = {r['backups']} the step is {human_percent(1 - r['step_s'] / t_sync)} shorter, for "
                     f"{human_percent(r['backups'] / big)} more {devs}" for r in backups)
    pay = [str(r["backups"]) for r in backups if r["net_usd"] > 0]
    lose = [str(r["backups"]) for r in backups if r["net_usd"] <= 0]
    if not pay:
        verdict = "none pays" if len(backups) > 1 else "it does not pay"
    else:
        best = max(backups, key=lambda r: r["net_usd"])
        verdict = (("all pay" if len(backups) > 1 else "it pays") if not lose else
                   f"b = {_and(pay)} {'pays' if len(pay) == 1 else 'pay'}, b = {_and(lose)} "
                   f"{'does' if len(lose) == 1 else 'do'} not")
        verdict += f" (the best, {best['name'].split(' (')[0]}, {_saved_or_lost(best['net_usd'])} net)"
    if a.group > 1:
        held = (f"{human_percent(1 - (1 - m.p) ** a.group)} of replicas hold at least one straggler in a step"
                if m.p > 0 else "with no stragglers, only the jitter spreads the replicas' steps" if m.jitter > 0
                else "with no stragglers and no jitter every replica steps alike")
        why = (f" A replica is {a.group} {devs} synchronous inside, so it steps at the slowest of its {a.group} "
               f"({held}), and a backup drops the slowest replica steps: the cut is the gap between the slowest of "
               f"{big} replica steps and the {_ordinal(big)} fastest of {big} + b (Chen et al. 2016 drop single "
               f"workers, not {a.group}-{dev} replicas).")
    else:
        why = (f" The cut is the gap between the slowest of {big} {devs} and the {_ordinal(big)} fastest of {big} + b "
               "(Chen et al. 2016)" + ("." if m.p > 0 else ": with no stragglers only the jitter spreads them."
                                       if m.jitter > 0 else ": with no stragglers and no jitter they step alike."))
    return (f"Backup replicas (run {big} + b replicas, keep the first {big} each step) pay when they cut the step by "
            f"more than the share b/{big} of {devs} they add: {cuts}; {verdict}.{why} ")


def _eviction_text(a: Audit, remedies: list[dict[str, Any]]) -> str:
    """How many spares eviction needs and why (see `eviction_spares`), and whether it pays."""
    m, dev, devs = a.model, a.track.device_word, lab05_data()[a.track.key]["device_plural"]
    hn = human_number
    transient = (f"transient stragglers (a different {dev} each step) cannot be evicted and leave only backups, "
                 f"smaller replicas or less jitter.")
    evict = next((r for r in remedies if r["kind"] == "evict"), None)
    if evict is None:
        return "With no stragglers there is nothing to evict."
    ev = evict["spares"]
    if ev["unit"] > 1:
        packed = math.ceil(m.p * a.nodes / ev["unit"] - 1e-9)
        need = (f"Evicting persistent stragglers needs a spare node for every node holding one: stragglers are "
                f"independent per {dev}, and a straggling {dev} of a TP={a.est.plan.tp} group leaves with its node "
                f"(tensor parallelism stays on the node's NVLink), so 1 - (1 - {hn(m.p)})^{ev['unit']} = "
                f"{human_percent(ev['hit_fraction'])} of the {ev['units']:,} nodes hold one: "
                f"{plural(ev['spare_nodes'], 'spare node')}"
                + (f", not the {packed:,} ({human_percent(m.p)} of the nodes) that would do if stragglers came packed "
                   f"{ev['unit']} to a node." if packed != ev["spare_nodes"] else "."))
    else:
        need = (f"Evicting persistent stragglers needs a spare {dev} for each: with TP = 1 a straggler's rank can "
                f"move to any spare {dev}, so {hn(m.p)} x {a.nodes:,} -> {ev['spare_units']:,} {devs} on "
                f"{plural(ev['spare_nodes'], 'spare node')}.")
    pays = ("It pays only if the stragglers are persistent; " if evict["net_usd"] >= 0 else
            f"The spares cost more than the faster step saves ({_saved_or_lost(evict['net_usd'])} net), and even "
            "a paying eviction needs persistent stragglers; ")
    return f"{need} {pays}{transient}"
