"""Lab 06's hierarchy on a fleet: the fleet's tiers are its aggregation paths (vehicles -> depot edge server ->
cloud, Liu et al. 2020; glasses -> phone -> cloud; the two earbuds of a pair over NFMI, then gossip between pairs),
each at its own best configuration, with the energy of a round for the busiest device and the mean one."""

from __future__ import annotations

import math

from explorer.cost.collectives import exchange_bandwidth
from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleetlens.common import View, days, ratio_words, span
from explorer.report import Figure, Finding, Table
from explorer.units import human_number as num


def _mean_earbud_energy(res, r: dict) -> float:
    """Energy of one round of configuration r for the mean earbud: r's (the model's) charges the busiest one
    (fleet3d.model.sync_costs: the first to run out of its daily budget), on a gossip path the earbud with the
    most neighbours, on the relayed ring the wearer that relays the most chunks; this swaps in the sync energy
    of the mean-degree earbud, or of the wearers' mean relay load."""
    tb, scn = res.tables, res.scenario
    i, j = scn.placements.index(r["placement"]), scn.tiers.index(r["tier"])
    e_mean = fm.sync_costs(tb, 1.0, degree="mean")[1]
    return float(r["energy_round"] - tb.values["e_sync"][i, j] + e_mean[i, j])


def hierarchy(rep, res) -> View:
    scn = res.scenario
    dev = scn.track.device_word
    rows = list(res.per_tier.values())  # each path at its own best configuration
    rows = [r for r in rows if r.get("feasible", True)]
    # the fleet 3D optimum's path leads among equal times (model.ranked orders runs of equal time by the battery
    # they draw): a plain sort by days kept the first in dict order, so mobile's headline named the worn path
    # (499 rounds a day) over figures of the charging case's (3,043.5 rounds a day), both 45.2 min
    best_key = res.best["tier"].key
    rows.sort(key=lambda r: (r["days"], r["tier"].key != best_key))
    top, rest = rows[0], rows[1:]
    tied = [r for r in rest if math.isclose(r["days"], top["days"], rel_tol=1e-9)]
    rest_untied = [r for r in rest if r not in tied]
    # a path's name may hold a colon of its own ('full sync: a ring all-reduce ...'): its time follows after a comma
    others = "; ".join(f"{r['tier'].name}, in {days(r['days'])} ({num(r['rounds_per_day'])} rounds a day of "
                       f"{span(r['round_time'])}{'; tied' if r in tied else ''})" for r in rest)
    mult = (f"{ratio_words(rest_untied[-1]['days'], top['days'])} against the slowest path" if rest_untied else "")
    tie = ""
    if tied:
        # one other path: '<path> ties with it', either path's window; two or more (three paths tie, as on mobile):
        # 'two other paths (<a>; <b>) tie with it', each path's window (the names hold commas: ';' parts them)
        if len(tied) == 1:
            who, verb, each = tied[0]["tier"].name, "ties", "either"
        else:
            count = {2: "two", 3: "three", 4: "four"}.get(len(tied), f"{len(tied):,}")
            who = f"{count} other paths ({'; '.join(r['tier'].name for r in tied)})"
            verb, each = "tie", "each"
        fit = all(r.get("fits_one_window") for r in [top, *tied])
        tie = (f"; {who} {verb} with it at the same {days(top['days'])}"
               + (f" (the {num(top['rounds'])} rounds of {span(top['round_time'])} fit in {each} path's daily "
                  "window, whatever its rounds a day)" if fit else "")
               + ", and the fleet 3D optimum, which orders equal times by the battery they draw, takes "
               + (f"{top['tier'].short}, which draws none" if not top["tier"].uses_battery else top["tier"].short))
    # the path's name is a description ('in the charging case overnight, on Wi-Fi 6 (no battery drawn)'), not a noun
    # that can be the sentence's subject: 'the fastest path, <name>, reaches ...' (the 'mobile' audit read 'paths: in
    # the charging case overnight, on Wi-Fi 6 (no battery drawn) reaches the target', a sentence without a subject)
    first = "the fleet 3D optimum's path" if tied else "the fastest path"
    head = (f"On the fleet the tiers are its aggregation paths: {first}, {top['tier'].name}, reaches the target "
            f"in {days(top['days'])} ({num(top['rounds_per_day'])} rounds a day of {span(top['round_time'])}, sync "
            f"{span(top['t_sync'])}){tie}{'; it ' + mult if mult else ''}.")
    head += _options_note(rep)
    why = (f"Each path at its own best configuration: {top['tier'].name}, in {days(top['days'])}"
           + (f"; {others}" if others else "") + ". "
           + {"edge": "A depot's edge server averages its vehicles over Wi-Fi and forwards one model over fibre "
                      "(client-edge-cloud hierarchical FL, Liu et al. 2020): the slow tier then carries one model per "
                      "depot instead of one per vehicle, the fleet's form of the hierarchical multiplier.",
              "mobile": "The phone is the glasses' local tier: it can hold and train the model the glasses cannot, "
                        "and it reaches the cloud over its own Wi-Fi; the glasses' battery pays only for what crosses "
                        "Bluetooth.",
              "tiny": _pair_tiers(scn)}.get(scn.track.key, ""))
    figures = {"fleet_best_path_days": Figure(top["days"], "days", f"time to the target via {top['tier'].short}")}
    if rest_untied:
        figures["fleet_path_multiplier"] = Figure(rest_untied[-1]["days"] / top["days"], "x",
                                                  f"slowest path / best path ({rest_untied[-1]['tier'].short})")
    gossip_rows = any(r["tier"].graph.startswith("gossip") for r in rows)
    ring_rows = any(r["tier"].graph == "ring_relayed" for r in rows)
    busy = any(r["tier"].busiest(dev) for r in rows)
    e_head = f"J per round per {dev}" + (" (the busiest)" if busy else "")
    table = Table(["path", "days to target", "round (s)", "sync (s)", "rounds/day", e_head,
                   "binds"], [[r["tier"].short, round(r["days"], 4), round(r["round_time"], 2),
                               round(r["t_sync"], 3), round(r["rounds_per_day"], 1), round(r["energy_round"], 4),
                               r["binding"]] for r in rows],
                  "Aggregation paths (tiers), each at its best"
                  + ("; a round's energy is the busiest earbud's, the first to run out of its daily budget ("
                     + ", ".join(w for w, on in (("in gossip the one with the most neighbours", gossip_rows),
                                                   ("on the relayed ring the wearer that relays the most", ring_rows))
                                   if on)
                     + "; the mean earbud's: " + "; ".join(
                         f"{r['tier'].short} {num(_mean_earbud_energy(res, r))} J" for r in rows
                         if r["tier"].busiest(dev)) + ")"
                     if busy else ""))
    return View(head, [Finding("On the fleet: which tiers, and what does the hierarchy buy?", why)], figures,
                tables={"fleet_tiers": table})


# the hierarchy options (explorer/cli/solve_hierarchy.py) by the flag a user typed
HIERARCHY_FLAGS = {"message_bytes": "--message-gb", "inter_bandwidth_bps": "--inter-gbs",
                   "global_batch": "--global-batch"}


def _options_note(rep) -> str:
    """One sentence naming the options the caller set (the hierarchy report records them in extra['options_given']):
    they set the lab's question as posed (below); the fleet's aggregation paths keep the track's links, message and
    batch, so an option is never dropped without a word."""
    options = (getattr(rep, "extra", None) or {}).get("options_given") or {}
    given = [flag for key, flag in HIERARCHY_FLAGS.items() if key in options]
    if not given:
        return ""
    verb = "sets" if len(given) == 1 else "set"
    return (f" ({', '.join(given)} {verb} the lab's question as posed, below; the fleet's aggregation paths keep the "
            "track's links, update and batch.)")


def _pair_tiers(scn) -> str:
    """The tiny fleet's two tiers, named by what they are (inside a pair, between pairs), with which is faster
    read from the links' figures: an exchange between two earbuds (each sends its update, each receives the
    other's) sees half a half-duplex link's rate (collectives.exchange_bandwidth), on NFMI and on BLE alike."""
    nf, ble = scn.track.cluster.intra, scn.track.cluster.inter
    r_nf = float(exchange_bandwidth(nf.effective_bandwidth, nf.half_duplex))
    r_ble = float(exchange_bandwidth(ble.effective_bandwidth, ble.half_duplex))
    if math.isclose(r_nf, r_ble, rel_tol=0.05):
        cmp, role = "about as fast as", "the local tier, not a faster one"
    elif r_nf > r_ble:
        cmp, role = "faster than", "the fast tier"
    else:
        cmp, role = "slower than", "the local tier, not the fast one"
    duplex = " (both half duplex)" if nf.half_duplex and ble.half_duplex else ""
    return (f"The two earbuds of a pair average exactly over NFMI: {num(r_nf / 1e3)} kB/s each way when the two "
            f"swap their updates, {cmp} BLE's {num(r_ble / 1e3)} kB/s between pairs{duplex}, so NFMI is {role}; "
            "then the pairs gossip over BLE: the mixing matrix is W_pairs x (1 1^T)/2, so one round mixes like the "
            "pairs' graph at half the BLE radio work per earbud.")
