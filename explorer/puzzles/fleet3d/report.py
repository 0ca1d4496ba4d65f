"""The Report of the fleet form of the 3D puzzle: where the model runs, how the fleet averages, what
binds, why model parallelism is or is not needed, the energy of a round, and the storyboard's
configuration beside the optimum. Narration only: every number comes from the model's tables."""

from __future__ import annotations

import math
from typing import Any

from explorer.puzzles.fleet3d.model import SECONDS_PER_DAY
from explorer.puzzles.fleetlens.common import busiest_note, energy_block
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as num
from explorer.units import human_percent as pct
from explorer.units import human_sci, plural


def span(seconds: float) -> str:
    """A duration in the unit a reader thinks in: s, min, h or days."""
    if seconds < 120:
        return f"{num(seconds)} s"
    if seconds < 7200:
        return f"{num(seconds / 60)} min"
    if seconds < 2 * SECONDS_PER_DAY:
        return f"{num(seconds / 3600)} h"
    return f"{num(seconds / SECONDS_PER_DAY)} days"


def describe(res, f: dict) -> str:
    """One configuration in words."""
    scn = res.scenario
    p = f["placement"].describe(scn.layers, scn.partner_word)
    who = (f"{pct(f['participation'])} of the {scn.devices:,} {scn.track.device_plural} selected per round"
           if f["tier"].graph == "server" else f"every {scn.track.device_word} in range takes part")
    return (f"{p}; micro-batch {f['micro_batch']}, {f['local_steps']} local step{'s' if f['local_steps'] > 1 else ''}"
            f" between syncs, {who}, {deadline_words(f)}; path: {f['tier'].name}")


def deadline_words(f: dict) -> str:
    """How a round ends: 'deadline at the 80.0% quantile of a round (4,000 replicas on time, late ones dropped)',
    or, on an all-reduce path, 'no deadline: the ring waits for the slowest of its 50 replicas'."""
    if f["waits_for_all"]:
        return f"no deadline: the ring waits for the slowest of its {num(f['participants'])} replicas"
    return (f"deadline at the {pct(f['deadline_quantile'])} quantile of a round ({num(f['participants'])} replicas "
            "on time, late ones dropped)")


def binds(f: dict) -> str:
    """What limits the time to the target: the round time alone when the run fits in its first window (no daily
    limit is reached), else the limit that caps the rounds of a day."""
    return "nothing daily: the run fits in one window" if f["fits_one_window"] else f["binding"]


def timing(f: dict) -> str:
    """'556 rounds of 23.3 s, all in the first 12 h window' or '3,000 rounds over 2 days; energy budget binds'."""
    if f["fits_one_window"]:
        return (f"{num(f['rounds'])} rounds of {span(f['round_time'])}, all in the first "
                f"{span(f['window_s'])} window")
    n = math.ceil(f["days_average"] - 1e-9)
    return f"{num(f['rounds'])} rounds over {n} days of training; {f['binding']} binds"


SCOPE = "over uncompressed updates"  # what the proof covers (compression_scope says why)


def compression_scope(res) -> str:
    """Why the proven optimum is one over uncompressed updates, and where compression is answered. The searched
    space sends every update in the working precision. The compression part prices the track's compressed updates
    at this optimum; they are not searched here because what they cost in steps is not a table of this model:
    1-bit's extra steps are that part's seeded simulation, 8-bit is taken as lossless there (an assumption),
    and compressed gossip's slower consensus (CHOCO-SGD, Koloskova et al. 2019) is not modelled."""
    scn = res.scenario
    names = ", ".join(n for c, n in zip(scn.compression, scn.compression_names) if c > 1)
    return (f"The proof covers uncompressed updates only: compressed ones ({names}) are priced at this optimum by "
            f"`explore solve compression --track {scn.track.key}`, which charges 1-bit the extra steps its simulation "
            "measures; they are not searched here because this model has no table of what compression costs in "
            "steps (1-bit's is that simulation's, 8-bit's is an assumption, compressed gossip's slower consensus is "
            "not modelled), so a compressed plan may reach the target sooner than this optimum.")


def _status(res) -> str:
    cmd = f"compressed updates: explore solve compression --track {res.scenario.track.key}"
    if res.status == "optimal" and res.engine == "cpsat":
        return f"proven optimal by CP-SAT {SCOPE} ({cmd})"
    if res.status == "optimal":
        return f"optimal {SCOPE} ({res.problem.radix:,} configurations evaluated; {cmd})"
    return "feasible, not proven optimal (CP-SAT stopped; the exhaustive search's best is shown)"


def _crisis_text(res) -> str:
    c, b = res.crisis, res.best
    what = "whole model, every step, wait for all"
    if c["violations"]:
        return f" The storyboard ({what}) does not fit: {c['violations'][0]}."
    ratio = c["days"] / b["days"]
    if ratio >= 1:
        return (f" The storyboard ({what}) needs {span(c['days'] * SECONDS_PER_DAY)}: the optimum is "
                f"{num(ratio)}x sooner.")
    return (f" The storyboard ({what}) would need {span(c['days'] * SECONDS_PER_DAY)}, {num(1 / ratio)}x less, "
            "but it breaks the fleet's rules the optimum keeps.")


def _never_split(scn) -> str:
    """Where a stage boundary is never offered: across the links between fleet members or to the aggregator,
    not the local link a split does use (NFMI inside a pair of earbuds; glasses to their phone over the round's
    own link, Bluetooth LE or Wi-Fi, as model.build_tables prices it)."""
    devs = scn.track.device_plural
    why = "a stage boundary there would carry every micro-batch's activations over the radio in both directions."
    if scn.partner_setup is None:
        wide = ", ".join(sorted({t.link.name for t in scn.tiers}))
        return f"A pipeline stage across {wide} is never offered: {why}"
    local = {scn.local_link.name} if scn.local_link is not None else {t.link.name for t in scn.tiers}
    wide = sorted({t.link.name for t in scn.tiers} - local)
    if scn.partner_sync_link is not None:
        wide.append(f"{scn.partner_sync_link.name} from the {scn.partner_word} to the aggregator")
    inside = (f"between the two {devs} of a pair" if scn.partner_word == "other earbud" else
              f"between a {scn.track.device_word} and its {scn.partner_word}")
    return (f"A stage boundary is offered only {inside}, over {' or '.join(sorted(local))}; never between "
            f"{devs} or on the way to the aggregator ({', '.join(wide)}): {why}")


def _why_split(res) -> str:
    scn, b = res.scenario, res.best
    dev = scn.track.device_word
    never = _never_split(scn)
    whole_mem = None
    for r in res.tables.pruned:
        if r["placement"].split == scn.layers and r["placement"].trainable == scn.layers:
            whole_mem = r["memory_device"]
    if scn.partner_setup is None:
        return (f"No: the whole training state fits one {dev} ({hbytes(b['memory_device'])} of "
                f"{hbytes(scn.memory_limit)} usable), and a {dev} has no second accelerator on a local link to "
                f"split with. {never}")
    if whole_mem is not None:
        need = f"the whole model trained on one {dev} needs {hbytes(whole_mem)} of {hbytes(scn.memory_limit)}"
        if b["split"] == scn.layers:
            return (f"Not across the pair: {need}, so only the top {b['trainable_layers']} of {scn.layers} layers are "
                    f"trained on each {dev} (the frozen ones read from flash). {never}")
        where = (f"all {scn.layers} layers on the {scn.partner_word} (the {dev} only sends its samples)"
                 if b["split"] == 0 else
                 f"{b['split']} layers on the {dev} ({hbytes(b['memory_device'])}), {scn.layers - b['split']} and the "
                 f"head on the {scn.partner_word} ({hbytes(b['memory_partner'])})")
        return f"Yes: {need}. The optimum splits across the local link: {where}. {never}"
    if b["split"] == scn.layers:
        return (f"No: the training state fits one {dev} ({hbytes(b['memory_device'])} of "
                f"{hbytes(scn.memory_limit)}); splitting with the {scn.partner_word} would only add transfers. {never}")
    return (f"Not for memory (the whole model fits one {dev}), but the split to the {scn.partner_word} is faster: "
            f"{b['split']} layers stay on the {dev}. {never}")


def build_report(res) -> Report:
    scn, b, c = res.scenario, res.best, res.crisis
    t = scn.track
    dev, devs = t.device_word, t.device_plural
    days = b["days"] * SECONDS_PER_DAY
    sel = (f"{pct(b['participation'])} selected, " if b["tier"].graph == "server" else "")
    headline = (f"{b['placement'].short(scn.layers, scn.partner_word, dev)}, micro-batch {b['micro_batch']}, "
                + (f"sync every {b['local_steps']} steps, " if b["local_steps"] > 1 else "sync after every step, ")
                + sel + ("waits for the slowest replica" if b["waits_for_all"] else
                         f"deadline at the {pct(b['deadline_quantile'])} quantile")
                + f", via {b['tier'].short}: target in {span(days)} "
                f"({timing(b)}); {_status(res)}." + _crisis_text(res))
    compute_share = b["local_steps"] * b["t_local"] / b["round_time"]
    busiest = busiest_note(b["tier"], dev)
    figs: dict[str, Figure] = {
        "days_to_target": Figure(b["days"], "days", "time to the training target (wall clock from a window's "
                                                    "opening)"),
        "rounds_to_target": Figure(round(b["rounds"]), "rounds", "rounds to the target (bound-scaled, rounded "
                                                                 "up: no partial round)"),
        "rounds_per_day": Figure(b["rounds_per_day"], "rounds/day", "rounds the fleet runs per day"),
        "round_time_s": Figure(b["round_time"], "s", "one round (deadline included)"),
        "local_step_s": Figure(b["t_local"], "s", "one local step of the local group"),
        "sync_time_s": Figure(b["t_sync"], "s", "one synchronisation (model down, update up / gossip)"),
        "compute_share": Figure(compute_share, "fraction", "share of a round spent computing (replaces MFU)"),
        "split_layers_on_device": Figure(b["split"], "layers", f"layers on the {dev}"),
        "trainable_layers": Figure(b["trainable_layers"], "layers", "layers trained (the top ones)"),
        "micro_batch": Figure(b["micro_batch"], "", "micro-batch per local step (samples)"),
        "local_steps": Figure(b["local_steps"], "steps", "local steps between synchronisations"),
        "participation": Figure(b["participation"], "fraction", "replicas selected per round"),
        **({} if b["waits_for_all"] else {
            "deadline_quantile": Figure(b["deadline_quantile"], "fraction", "round deadline (quantile of a round)")}),
        "participants_on_time": Figure(b["participants"], "replicas", "replicas averaged per round (every one: the "
                                                                      "ring waits for the slowest)"
                                       if b["waits_for_all"] else "replicas averaged per round (expected: late "
                                                                  "ones are dropped at the deadline)"),
        "memory_per_device": Figure(b["memory_device"], "B", f"memory per {dev}"),
        "energy_per_round_j": Figure(b["energy_round"], "J", f"energy of one participation per {dev}" + busiest),
        "energy_per_day_j": Figure(b["energy_day"], "J", f"training energy per {dev} per day at the daily rate"
                                   + busiest),
        "devices": Figure(scn.devices, devs, "fleet size"),
        "design_space": Figure(res.problem.radix, "configurations", "configurations searched"),
        "feasible_configurations": Figure(res.feasible_count, "configurations", "configurations within every limit"),
    }
    if scn.partner_setup is not None:
        figs["memory_on_partner"] = Figure(b["memory_partner"], "B", f"memory on the {scn.partner_word}")
    if c:
        figs["crisis_days_to_target"] = Figure(c["days"], "days", "storyboard configuration: time to target"
                                               + (", were it to fit" if c["violations"] else ""))
        figs["crisis_fits"] = Figure(not c["violations"], "", "storyboard configuration fits in memory")
        if not c["violations"]:
            figs["speedup_vs_crisis"] = Figure(c["days"] / b["days"], "x", "time to target, storyboard / optimum")
    findings = [Finding("Is model parallelism needed, and where may the model be split?", _why_split(res))]
    findings += _tier_findings(res)
    findings += _round_findings(res)
    e_figs, e_find = energy_block(res)
    figs.update({k: v for k, v in e_figs.items() if k not in ('fleet_energy_day_j',)})
    findings += e_find
    findings.append(Finding(
        "What replaces MFU on a fleet?",
        f"The time to the training target: a fleet's devices idle while the radio works, and the answer trades "
        f"rounds (convergence) against round time and energy. Here a round spends {pct(compute_share)} of its "
        f"{span(b['round_time'])} computing {plural(b['local_steps'], 'local step')} of {span(b['t_local'])}; the rest "
        + (f"is the aggregator's network: moving every selected model down and every update up takes "
           f"{span(b['server_time'])}, longer than the round's part on each {scn.track.device_word} "
           f"({span(b['device_round'])}: its synchronisation of {span(b['t_sync'])}, its local steps and "
           + ("the wait for the slowest replica" if b["waits_for_all"] else "the wait for the deadline") + ")"
           if b["server_bound"] else
           f"is the synchronisation ({span(b['t_sync'])}) and "
           + ("waiting for the slowest replica" if b["waits_for_all"] else "waiting for the deadline"))
        + ". ZeRO sharding and checkpoint restarts do not apply: devices keep no shard of each other's state, and "
        + ("a device that leaves stalls only the round it was in (the ring re-forms without it), not the run."
           if b["waits_for_all"] else
           "a device that drops out is left out of the round instead of stopping the fleet.")))
    how = (f"CP-SAT proved {res.cpsat_proved} in {num(res.cpsat_time_s or 0)} s; the exhaustive evaluation of "
           f"the time to the target of all {res.problem.radix:,} configurations (same tables) "
           + ("agrees." if res.exhaustive_agrees else "DISAGREES: a bug; please report it.")
           if res.engine == "cpsat" else
           f"Every one of the {res.problem.radix:,} configurations was evaluated (numpy, the same tables CP-SAT "
           f"solves with --engine cpsat): the enumeration is the proof of the optimum.")
    rings = [x.name for x in scn.tiers if not x.drops_late]
    if rings:
        how += (f" On {', '.join(rings)}, the round waits for every replica whatever the deadline, so its "
                f"{len(scn.deadline_quantiles)} deadlines are one configuration, counted once among those within "
                "every limit.")
    how += " " + compression_scope(res)
    how += (" Times are wall clock from the opening of a daily window: a run that fits in its first window takes "
            "rounds x round time; a longer one whole days until its last, then that day's remaining rounds "
            "(the formula under Math peek)"
            + (f"; the per-day average, rounds / rounds per day, would say {span(b['days_average'] * SECONDS_PER_DAY)}"
               if abs(b["days_average"] - b["days"]) > 1e-3 * b["days"] else "") + ".")
    n_out = len(res.tables.pruned)
    findings.append(Finding("How was it solved?", how + (
        f" {plural(n_out, 'placement')} {'was' if n_out == 1 else 'were'} left out before the search: "
        f"{'it does' if n_out == 1 else 'they do'} not fit in memory at any micro-batch (the table "
        "'Placements too large at every micro-batch')." if n_out else "")))
    cons = [Constraint(f"memory per {dev}", b["memory_device"], scn.memory_limit, "B", "<=",
                       binding=b["memory_device"] > 0.9 * scn.memory_limit)]
    if scn.partner_setup is not None:
        cons.append(Constraint(f"memory on the {scn.partner_word}", b["memory_partner"], scn.partner_limit, "B", "<=",
                               binding=b["memory_partner"] > 0.9 * scn.partner_limit))
    # the first (busiest) day's use: a run that ends in its first window reaches no daily limit
    multi = not b["fits_one_window"]
    cons.append(Constraint("training time on the first day within the daily window", b["first_day_s"],
                           b["window_s"], "s", "<=", binding=multi and b["binding"] in ("daily time window",
                                                                                        "aggregator network")))
    if b["budget_j"] is not None:
        cons.append(Constraint(f"training energy per {dev} on the first day", b["first_day_energy"], b["budget_j"],
                               "J", "<=", binding=multi and b["binding"] == "energy budget"))
    if b["budget_partner_j"] is not None:
        cons.append(Constraint(f"training energy per {scn.partner_word} on the first day",
                               b["first_day_energy_partner"], b["budget_partner_j"], "J", "<=",
                               binding=multi and b["binding"] == f"{scn.partner_word}'s energy budget"))
    tables = {
        "top": Table(["rank", "configuration", "days to target", "rounds", "round (s)", f"memory per {dev}"],
                     [[i + 1, describe(res, f), f["days"], round(f["rounds"]), f["round_time"],
                       hbytes(f["memory_device"])]
                      for i, f in enumerate(res.top)], "Best configurations (exhaustive ranking)"),
        "tiers": Table(["aggregation path", "days to target", "rounds/day", "round (s)", "sync (s)", "binds"],
                       [[scn.tiers[[x.key for x in scn.tiers].index(k)].name, f["days"], f["rounds_per_day"],
                         f["round_time"], f["t_sync"], binds(f)] for k, f in res.per_tier.items()],
                       "Best configuration on each aggregation path"),
    }
    if res.tables.pruned:
        tables["pruned"] = Table(["placement", f"smallest memory per {dev}", "on the partner"],
                                 [[r["placement"].describe(scn.layers, scn.partner_word), hbytes(r["memory_device"]),
                                   hbytes(r["memory_partner"])] for r in res.tables.pruned],
                                 f"Placements too large at every micro-batch ({hbytes(scn.memory_limit)} usable)")
    if c:
        tables["crisis"] = Table(["", "storyboard", "optimum"], [
            ["fits in memory", "no" if c["violations"] else "yes", "yes"],
            [f"memory per {dev}", hbytes(c["memory_device"]), hbytes(b["memory_device"])],
            ["round (s)", c["round_time"], b["round_time"]],
            ["rounds to target", round(c["rounds"]), round(b["rounds"])],
            ["days to target", c["days"], b["days"]],
            [f"energy per {dev} per day (J)", c["energy_day"], b["energy_day"]]], "Storyboard vs optimum")
    extra: dict[str, Any] = {
        "form": "fleet", "engine": res.engine, "cpsat_time_s": res.cpsat_time_s,
        "exhaustive_agrees": res.exhaustive_agrees,
        "objective": {"name": "time_to_target_s", "value": b["days"] * SECONDS_PER_DAY, "sense": "min",
                      "convention": "wall clock from the opening of a daily window"},
        "configuration": _cfg(b), "crisis": _cfg(c) | {"violations": c.get("violations", [])} if c else None,
        "graphs": res.tables.graphs, "proven_over": SCOPE}
    names = {x.key: x.name for x in scn.tiers}
    plot = {"local_steps": list(scn.local_steps), "paths": {names[k]: v for k, v in res.curve.items()},
            "best": {"local_steps": b["local_steps"], "days": b["days"], "path": b["tier"].name}}
    return Report(puzzle="3d", lab="05", part=2, track=t.key, title="The parallelism puzzle",
                  plots=["fleet_tradeoff"], data={"fleet_tradeoff": plot},
                  status=res.status, headline=headline, figures=figs, findings=findings, constraints=cons,
                  formulas=FORMULAS, assumptions=_assumptions(res), tables=tables, extra=extra,
                  solve_time_s=res.solve_time_s)


def _cfg(f: dict) -> dict:
    keys = ("split", "trainable_layers", "micro_batch", "local_steps", "participation", "deadline_quantile",
            "days", "rounds", "rounds_per_day", "round_time", "energy_round", "energy_day", "memory_device",
            "memory_partner", "participants")
    out = {k: f[k] for k in keys if k in f}
    out["tier"] = f["tier"].key
    if f.get("waits_for_all"):  # an all-reduce path: its deadline (any searched one grades alike) does not apply
        out["waits_for_all"] = True
    return out


def _tier_findings(res) -> list[Finding]:
    scn, b = res.scenario, res.best
    rows = []
    for k, f in res.per_tier.items():
        name = next(x.name for x in scn.tiers if x.key == k)
        # a radio whose rate spreads (5G): t_sync is its median device's (model.evaluate)
        sync = f"the median {scn.track.device_word}'s sync" if f["radio_sigma"] > 0 else "sync"
        rows.append(f"{name}: {span(f['days'] * SECONDS_PER_DAY)} ({timing(f)}; up to {num(f['rounds_per_day'])} "
                    f"rounds a day, {sync} {span(f['t_sync'])})")
    missing = [x.name for x in scn.tiers if x.key not in res.per_tier]
    text = "; ".join(rows) + (f"; no feasible configuration on {', '.join(missing)}" if missing else "") + "."
    return [Finding("Which aggregation path, and why?",
                    f"Best on each path: {text} The optimum uses {b['tier'].name}.")]


def _round_findings(res) -> list[Finding]:
    scn, b = res.scenario, res.best
    out = []
    late = b["participants"] / b["deadline_quantile"] - b["participants"]
    if b["waits_for_all"]:
        txt = (f"All {num(b['participants'])} replicas, and the round waits for the slowest: a ring all-reduce passes "
               f"every chunk through every member, so a member still on its local steps stalls it and none can be "
               f"dropped part-way (a star's aggregator drops late devices, Bonawitz et al. 2019; gossip averages "
               f"with those present). The local part of a round is the slowest replica's "
               f"{plural(b['local_steps'], 'step')}, {num(b['wait_factor'])}x their mean (order statistics of the "
               f"sums, lab 05 part 3), with an exact average (p = 1) in return.")
    elif b["tier"].graph == "server":
        sel = b["replicas"] * b["participation"]
        txt = (f"{num(sel)} of {b['replicas']:,} replicas are selected; the round closes at the "
               f"{pct(b['deadline_quantile'])} quantile of a device's round time, so {num(late)} late "
               f"{'one is' if num(late) == '1' else 'ones are'} dropped on average instead of waited for (waiting for "
               f"the slowest of {num(sel)} would stretch the "
               f"compute part by the order statistics of lab 05 part 3"
               + (", and the sync to the slowest radio's" if b["radio_sigma"] > 0 else "") + "). "
               + (f"The {b['tier'].link.name}'s rate spreads from {scn.track.device_word} to "
                  f"{scn.track.device_word} (a lognormal of sigma {num(b['radio_sigma'])}, hardware/data/links.toml "
                  f"gives the source), so the deadline is a quantile of compute and radio "
                  f"together: the median {scn.track.device_word} syncs in {span(b['t_sync'])}"
                  + (f", the one at the {pct(b['deadline_quantile'])} quantile in about {span(b['sync_at_deadline'])}. "
                     if abs(b["deadline_quantile"] - 0.5) > 1e-9
                     else ", and the round closes at the median of the two together. ")
                  if b["radio_sigma"] > 0 else "")
               + ("The aggregator's network, moving every selected model down and every update up, sets the round's "
                  "length." if b["server_bound"] else ""))
    else:
        txt = (f"Every {scn.track.device_word} in range takes part; the round closes at the "
               f"{pct(b['deadline_quantile'])} quantile, so {num(late)} late replicas skip it on average.")
    out.append(Finding("How many devices per round, and what happens to the late ones?", txt))
    stale = (" Local steps are not stale gradients: each takes a fresh gradient at the device's own iterate, so "
             "asynchronous SGD's staleness bound (Lian et al. 2015) does not limit them; their cost is the drift "
             "the bound charges (Stich 2019).")
    out.append(Finding(
        "How often to synchronise?",
        ("After every local step." if b["local_steps"] == 1 else f"Every {b['local_steps']} local steps.")
        + " More local steps make rounds "
        f"rarer but each costs more iterations: the Koloskova et al. 2020 bound (consensus rate "
        f"p = {num(b['consensus_rate'])}) charges client drift as tau/p; the optimum balances {num(b['rounds'])} "
        f"rounds against {span(b['round_time'])} per round.{stale}"))
    return out


def _assumptions(res) -> list[Assumption]:
    scn = res.scenario
    d = scn.data
    out = [Assumption(f"Fleet: {d['source']}", f"explorer/data/tracks/{scn.track.key}.toml [fleet]")]
    out += [Assumption(f"{t.name}: {human_sci(t.hours_per_day, 6)} h a day, {t.link.name}. {t.source}",
                       f"explorer/data/tracks/{scn.track.key}.toml [fleet.tiers.{t.key}]") for t in scn.tiers]
    out += [Assumption(f"{t.link.name}: a {scn.track.device_word}'s rate spreads over the fleet as a lognormal around "
                       f"the catalog's rate (its median {scn.track.device_word}), sigma "
                       f"{human_sci(t.link.throughput_sigma, 6)}: "
                       f"{t.link.throughput_sigma_source}", f"hardware/data/links.toml [{t.link.key}]")
            for t in scn.tiers if t.link.throughput_sigma > 0]
    from explorer.puzzles.sync.audit import straggler_text  # lab 05 part 3's words for its step model

    m = scn.step_model
    jitter = f"shifted exponential jitter {pct(m.jitter)}" if m.jitter > 0 else "no jitter (a deterministic step)"
    out.append(Assumption(f"A local step's time varies as in lab 05 part 3: {jitter}, "
                          f"{straggler_text(m.p, m.slowdown, m.jitter)}.",
                          "explorer/data/lab05_distributed.toml"))
    out.append(Assumption(f"Gradient noise scale B_noise = {num(scn.noise_batch)} samples (the track's critical "
                          "batch), heterogeneity z = zeta/sigma_1 = "
                          f"{human_sci(d['heterogeneity'], 6)}; the bound's "
                          "O-constants set to 1 and its scale fixed by the reference run: only ratios between "
                          "configurations are read from it.", "explorer/data/lab08_training.toml; Koloskova et al. "
                          "2020 Theorem 2"))
    out.append(Assumption("Idle listening and connection events of the radio are not counted; a round's energy is a "
                          "lower bound. Devices are available together in the window (not staggered).", ""))
    return out


FORMULAS = [
    Formula("iterations to the target (a bound)",
            "T/(L F0/eps) = B/(n b) + sqrt(B)(z tau/p + sqrt(tau/(p b))) + tau/p + tau (1 - S/N) z^2 B/S",
            "Koloskova et al. 2020 (ICML) Theorem 2; client sampling: Karimireddy et al. 2020 (SCAFFOLD) Theorem I",
            "an upper bound with its O-constants set to 1, scaled by one reference run; tau = local steps, "
            "p = consensus rate"),
    Formula("consensus rate of gossip", "p = 1 - |lambda_2(W)|^2, W Metropolis-Hastings on the contact graph",
            "Koloskova et al. 2020 Assumption 4; Xiao & Boyd 2004; D-PSGD: Lian et al. 2017"),
    Formula("round time", "D = max(t_sync + t_local x Q_phi(sum of H step times), K (M_down + M_up) / B_server); "
            "a ring: D = t_sync + t_local x E[max over K of the sum of H step times]; over a radio whose rate "
            "spreads (5G): D = Q_phi(alpha's + t_local x the sum + t_transfer x L), L lognormal of median 1",
            "deadline as a quantile: Bonawitz et al. 2019 sec. 2.2 (late devices dropped); a ring all-reduce cannot "
            "drop a member and waits for the slowest (explorer/cost/federated.py round_participants); the rate "
            "spread: hardware/data/links.toml throughput_sigma (federated.device_round_quantile)"),
    Formula("sync through a server", "t_sync = alpha + M_down / B_down + alpha + M_up / B_up (5G: its downlink's "
            "and its uplink's rate; one rate B both ways elsewhere); a phone syncing its part on the same Wi-Fi: "
            "2 alpha + (both devices' M_down + M_up) / B",
            "FedAvg: McMahan et al. 2017; 5G rates: Ookla Q3 2023 medians (hardware/data/links.toml lte_5g, "
            "lte_5g_down); stations of one channel take turns on it: IEEE 802.11-2020 DCF, Bianchi 2000 "
            "(explorer/cost/collectives.py, collectives on a half-duplex shared medium)"),
    Formula("rounds per day", "f = min(window / D, budget / (q E_round))", "explorer/cost/federated.py"),
    Formula("time to the target (wall clock from a window's opening)",
            "(ceil(R/f) - 1) days + (R - (ceil(R/f) - 1) f) x D; = R x D when R <= f, with R = T / H",
            "explorer/cost/federated.py time_to_target_s (daily training windows: Bonawitz et al. 2019 sec. 2)",
            "R rounds, f rounds per day, D one round; the per-day average R / f overstates a run that ends within "
            "its first window"),
    Formula("local step with a split", "t_A + t_B + (alpha + M/B) each way, M = b s h bytes",
            "explorer/cost/placement.py (one micro-batch: no pipeline to fill)"),
]
