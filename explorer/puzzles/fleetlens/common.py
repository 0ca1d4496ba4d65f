"""What every fleet answer shares: the track's fleet 3D optimum (cached), the energy of a round and the battery
hours, the relabelling of datacenter-only notions, and the assembly of the fleet Report."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from explorer.cost import energy
from explorer.puzzles.fleet3d.model import SECONDS_PER_DAY
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_number as num
from explorer.units import human_percent as pct
from explorer.units import plural

SECONDS_PER_HOUR = 3600.0


@dataclass
class View:
    """A lab part's fleet answer: what leads the Report on a fleet track."""

    headline: str
    findings: list[Finding]
    figures: dict[str, Figure] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    formulas: list[Formula] = field(default_factory=list)
    assumptions: list[Assumption] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # None: the datacenter form's status stands
    drop_constraints: tuple[str, ...] = ()  # datacenter constraints with no meaning on the fleet
    fleet: Any = None  # the fleet result this answer stands on, where it is not the cached optimum's (None: it is)
    fleet_note: str = ""  # what makes it another fleet, added to the label of its time to the target


def a_word(word: str) -> str:
    """'a vehicle', 'an earbud', 'a pair of glasses': the indefinite article a device word takes."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def ratio_of(x: float, ref: float, what: str) -> str:
    """'2.89 times the track's average power budget' or '0.11% of local inference's draw': a ratio in words a
    reader takes in at a glance (a percentage below 1, never '0.00106x')."""
    r = x / ref
    return f"{num(r)} times {what}" if r >= 1 else f"{pct(r)} of {what}"


@functools.lru_cache(maxsize=16)
def optimum(track: str, devices: int | None = None) -> Any:
    """The fleet form of lab 05 part 2 on this track (explorer.puzzles.fleet3d.solve_fleet), cached: every lab
    part describes the same fleet."""
    from explorer.puzzles.fleet3d import solve_fleet

    return solve_fleet(track, devices=devices)


def span(seconds: float) -> str:
    from explorer.puzzles.fleet3d.report import span as _span

    return _span(seconds)


def days(d: float) -> str:
    return span(d * SECONDS_PER_DAY)


def ratio_words(before: float, after: float, noun: str = "time to the target") -> str:
    """'cuts the time to the target by 3.2x' or 'makes it 1.4x longer': a ratio below 1 is never called a gain."""
    r = before / after
    if r >= 1:
        return f"cuts the {noun} by {num(r)}x"
    return f"makes the {noun} {num(1 / r)}x longer"


def describe(res, f: dict | None = None) -> str:
    from explorer.puzzles.fleet3d.report import describe as _describe

    return _describe(res, res.best if f is None else f)


def index(res, f: dict | None = None) -> dict[str, int]:
    """The table indices of a configuration of the fleet 3D optimum's search."""
    scn, b = res.scenario, res.best if f is None else f
    return {"placement": scn.placements.index(b["placement"]), "micro_batch": scn.micro_batches.index(b["micro_batch"]),
            "local_steps": scn.local_steps.index(b["local_steps"]),
            "participation": scn.participation.index(b["participation"]),
            "deadline": scn.deadline_quantiles.index(b["deadline_quantile"]), "tier": scn.tiers.index(b["tier"])}


def battery_j(track) -> float | None:
    wh = track.raw.get("economics", {}).get("battery_wh")
    return float(wh) * SECONDS_PER_HOUR if wh else None


def reference_power_w(track) -> tuple[float, str, str] | None:
    """The power a device draws when it does not train: local inference (mobile, lab 05's sync data) or the
    track's whole average power budget (tiny), with its name and the power it names ('the draw of ...')."""
    from explorer.puzzles.sync.audit import sync_data

    p = sync_data(track.key).get("inference_power_w")
    if p:
        return float(p), "local inference", "the power local inference draws"
    budget = track.raw.get("economics", {}).get("power_budget_w")
    return (float(budget), "the track's average power budget", "the track's average power budget") if budget \
        else None

def contact_reach(scn) -> dict | None:
    """The contact graph a gossiping fleet (tiny) was built on, against the radio range its scenario assumes
    (tracks/<track>.toml [fleet] radio_range_m over area_m): gossip.contact_graph grows the radius by 10% steps
    until the wearers' graph connects, so where the assumed range leaves them in separate groups the graph links
    wearers that range does not reach. None for a fleet without a contact graph."""
    d = scn.data
    if "radio_range_m" not in d or "area_m" not in d:
        return None
    import numpy as np

    from explorer.cost import gossip
    from explorer.puzzles.fleet3d.scenario import wearer_graph

    adj, pts = wearer_graph(scn)
    n, seed, area, rng = int(adj.shape[0]), int(d["graph_seed"]), float(d["area_m"]), float(d["radio_range_m"])
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)) * area
    used = gossip.contact_radius(n, seed, rng / area) * area
    return {"nodes": n, "area_m": area, "range_m": rng, "used_m": used,
            "longest_m": float(dist[adj].max()) if adj.any() else 0.0,
            "groups": gossip.connected_groups(gossip.contact_graph_at(n, seed, rng / area)),
            "widened": used > rng * (1 + 1e-9)}


def contact_words(c: dict) -> str:
    """'linked within the track's 8 m radio range (longest link 7.99 m)', or, where the graph had to be widened,
    the radius it used, why, and how far beyond the assumed range that is."""
    if not c["widened"]:
        return f"linked within the track's {num(c['range_m'])} m radio range (longest link {num(c['longest_m'])} m)"
    return (f"linked within {num(c['used_m'])} m, {num(c['used_m'] / c['range_m'])}x the {num(c['range_m'])} m the "
            f"track assumes the radio reaches (longest link {num(c['longest_m'])} m): at that range the {c['nodes']} "
            f"wearers fall into {c['groups']} separate groups that cannot average with each other, so the graph's "
            "radius is grown by 10% steps until they connect (explorer/cost/gossip.contact_graph); links beyond "
            f"{num(c['range_m'])} m are beyond the track's radio assumption")


def failure_words(b: dict, dev: str) -> str:
    """What becomes of a device that fails, leaves coverage or is late, on the aggregation path of configuration b:
    through a server it is dropped at the round's deadline (Bonawitz et al. 2019 sec. 2.2); in gossip its
    neighbours average with those that reported; a ring all-reduce passes every chunk through every member
    (Patarasuk & Yuan 2009), so it cannot drop one part-way (federated.round_participants): the round waits for the
    slowest, and one that fails stalls it until the ring is re-formed without it."""
    graph = b["tier"].graph
    if graph == "server":
        return f"{a_word(dev)} that fails, leaves coverage or is late is dropped from its round (Bonawitz et al. 2019)"
    if graph.startswith("gossip"):
        return (f"{a_word(dev)} that fails or leaves coverage is left out of its neighbours' averaging, which proceeds "
                "with those that reported")
    return (f"a ring all-reduce cannot drop {a_word(dev)} part-way: the round waits for the slowest, and one that "
            "fails or leaves coverage stalls the round until the ring is re-formed without it (a redo this model does "
            "not price)")


def busiest_note(tier, dev: str) -> str:
    """' (the busiest earbud's)' where the tier loads devices unequally (Tier.busiest), '' where every device pays
    the same (a star through a server)."""
    return f" (the busiest {dev}'s)" if tier.busiest(dev) else ""


def energy_block(res) -> tuple[dict[str, Figure], list[Finding]]:
    """Joules of one round (compute and radio) on the fleet device and, where it runs on a battery, the hours a
    charge lasts while it takes part in rounds back to back against its normal draw."""
    scn, b = res.scenario, res.best
    t = scn.track
    dev = t.device_word
    figs = {
        "fleet_energy_round_compute_j": Figure(b["energy_compute"], "J", f"compute energy of one round per {dev}"),
        "fleet_energy_round_radio_j": Figure(b["energy_radio"], "J", f"radio energy of one round per {dev}"
                                             + busiest_note(b["tier"], dev)),
        "fleet_energy_day_j": Figure(b["energy_day"], "J", f"training energy per {dev} per day of rounds"),
    }
    who = compute_words(res, b)
    # energy a day = rounds a day x the share of them a device takes part in x joules a round (model.evaluate:
    # f x selected x E_round); the share is the server's participation, 1 in gossip (every device every round)
    share = b["energy_day"] / (b["rounds_per_day"] * b["energy_round"]) if b["energy_round"] > 0 else 1.0
    joins = b["rounds_per_day"] * share
    if share < 1 - 1e-9:
        days_text = (f"it takes part in {pct(share)} of the {num(b['rounds_per_day'])} rounds a day: "
                     f"{num(joins)} x {num(b['energy_round'])} J = {num(b['energy_day'])} J a day")
    else:
        days_text = (f"it takes part in all {num(b['rounds_per_day'])} rounds a day: "
                     f"{num(joins)} x {num(b['energy_round'])} J = {num(b['energy_day'])} J a day")
    # the shares of the daily budget and of a charge are the day's joules': said beside them, before the run's
    # total (they had followed '= 72.3 J in all', read as 72.3 J = 100% of 86.4 J)
    cap = battery_j(t)
    ref = reference_power_w(t)
    on_battery = bool(cap and b["tier"].uses_battery and ref)
    shares = ([f"{pct(b['energy_day'] / b['budget_j'])} of its {num(b['budget_j'])} J daily budget"]
              if b["budget_j"] is not None else []) + (
        [f"{pct(b['energy_day'] / cap)} of a {num(cap)} J charge"] if on_battery else [])
    if shares:
        days_text += f" ({', '.join(shares)})"
    # the whole run: its rounds x the same share x joules a round; a run shorter than a day of rounds spends less
    # than the daily rate says (edge: 485 rounds of a possible 890 a day)
    run_j = b["rounds"] * share * b["energy_round"]
    figs["fleet_energy_run_j"] = Figure(run_j, "J", f"training energy per {dev} over the whole run "
                                                    "(its rounds x share x J a round)")
    if b["rounds"] < b["rounds_per_day"] - 1e-9:
        days_text += (f" while rounds run; the run itself takes {num(b['rounds'])} rounds, so it spends "
                      f"{num(b['rounds'])} x {pct(share)} x {num(b['energy_round'])} J = {num(run_j)} J in all")
    # whose figure it is where the devices' sync work differs (fleet3d.model.sync_costs charges the busiest)
    busiest = b["tier"].busiest(dev)
    at_most = (f" at most (the busiest's figure: {busiest}, the first to run out of its daily budget)"
               if busiest else "")
    text = (f"One round costs each {dev} that takes part {num(b['energy_round'])} J{at_most}: "
            f"{num(b['energy_compute'])} J "
            f"computing ({who}) and "
            f"{num(b['energy_radio'])} J on the radio (its bytes x the link's energy per bit); {days_text}")
    if scn.partner_word == "phone" and b["energy_round_partner"] > 0:
        figs["fleet_energy_round_partner_j"] = Figure(b["energy_round_partner"], "J", "energy of one round per phone")
        phone = (f". Its phone spends {num(b['energy_round_partner'])} J in each of those rounds, "
                 f"{num(b['energy_day_partner'])} J a day"
                 + (f" of its {num(b['budget_partner_j'])} J budget" if b["budget_partner_j"] else ""))
    else:
        phone = ""
    if on_battery:
        p_train = energy.average_power_w(b["energy_round"], b["round_time"])
        h_train = energy.battery_hours(cap, p_train)
        h_ref = energy.battery_hours(cap, ref[0])
        figs["fleet_training_power_w"] = Figure(p_train, "W", f"average power of {a_word(dev)} during a round")
        figs["fleet_battery_hours_training"] = Figure(h_train, "h", "battery hours, rounds back to back")
        figs["fleet_battery_hours_reference"] = Figure(h_ref, "h", f"battery hours of {ref[1]}")
        figs["fleet_battery_share_day"] = Figure(b["energy_day"] / cap, "fraction", "share of a charge a day")
        text += (f". During a round the {dev} draws "
                 f"{num(p_train)} W on average, so a charge would last {num(h_train)} h of rounds back to back "
                 f"against {num(h_ref)} h of {ref[1]} ({num(ref[0])} W): training draws "
                 f"{ratio_of(p_train, ref[0], ref[2])}")
    elif not b["tier"].uses_battery:
        text += ", drawn from mains or the charger, not the battery"
    text += phone
    q = f"Energy: what does a round cost {a_word(dev)}" + (", and how long does a battery last?" if
                                                        "fleet_battery_hours_training" in figs else "?")
    return figs, [Finding(q, text + ".")]


def compute_words(res, b: dict) -> str:
    """What the compute joules of a round are, in numbers a reader can multiply: local steps x the device's own
    compute time per step x its power (model.evaluate: energy_compute = H x t_device x P). With a split the local
    step of the local group also holds the partner's compute and the split's link, which the device's compute
    power is not charged for: both are named, so '8 x 0.178 s x 0.0097 W' is not read off the 0.421 s step."""
    scn = res.scenario
    p_dev = scn.setup.cluster.accelerator.tdp_w
    h = b["local_steps"]
    steps = plural(h, "local step")
    if b["split"] == 0 and scn.partner_setup is not None:
        return f"the {scn.partner_word} runs every layer"
    t_dev = b.get("t_device", b["t_local"])
    t_part = b.get("t_partner", 0.0)
    if scn.partner_setup is None or t_part <= 0:
        return f"{steps} of {span(t_dev)} at {num(p_dev)} W"
    if scn.partner_word == "other earbud" and t_part > t_dev:  # a round costs the busier earbud's compute
        return (f"{steps} x the busier earbud's {span(t_part)} of compute at {num(p_dev)} W (the other computes "
                f"{span(t_dev)})")
    step = b.get("t_compute", b["t_local"])  # the local group's step (a starved step's wait excluded)
    link = scn.local_link.name if scn.local_link is not None else b["tier"].link.name
    hop = max(0.0, step - t_dev - t_part)
    return (f"{steps} x its own {span(t_dev)} of compute at {num(p_dev)} W; each {span(step)} local step of the "
            f"local group also holds the {scn.partner_word}'s {span(t_part)} of compute and {span(hop)} on {link}")


def _binds(b: dict) -> str:
    """What binds, by the fleet 3D report's one rule (fleet3d.report.binds: nothing daily when the run fits in its
    first window, else the limit that caps a day's rounds), worded for a figure label."""
    from explorer.puzzles.fleet3d.report import binds

    text = binds(b)
    return text if text.startswith("nothing daily") else f"{text} binds"


def fleet_figures(res, note: str = "") -> dict[str, Figure]:
    """The fleet 3D optimum's figures every lab part leads with (`note`: what makes it another fleet)."""
    b = res.best
    t = res.scenario.track
    compute = b["local_steps"] * b.get("t_compute", b["t_local"]) / b["round_time"]  # a starved step's wait excluded
    return {
        "fleet_days_to_target": Figure(b["days"], "days",
                                       "time to the training target (fleet 3D optimum, lab 05 part 2"
                                       + (f"; {note})" if note else ")")),
        "fleet_rounds": Figure(round(b["rounds"]), "rounds", "rounds to the target (a bound scaled by a reference "
                               "run, rounded up: no partial round)"),
        "fleet_round_s": Figure(b["round_time"], "s", "one round (deadline included)"),
        "fleet_rounds_per_day": Figure(b["rounds_per_day"], "rounds/day",
                                       f"rounds a day ({_binds(b)}; {num(b['window_s'] / 3600)} h window)"),
        **({} if b["waits_for_all"] else {
            "fleet_deadline_quantile": Figure(b["deadline_quantile"], "fraction", "round deadline (quantile; late "
                                              "ones dropped)")}),
        "fleet_participants": Figure(b["participants"], "replicas", "replicas averaged per round (every one: the ring "
                                     "waits for the slowest)" if b["waits_for_all"] else
                                     "replicas averaged per round (expected: late ones are dropped at the deadline)"),
        "fleet_local_steps": Figure(b["local_steps"], "steps", "local steps between synchronisations"),
        "fleet_compute_share": Figure(compute, "fraction", "share of a round spent computing (replaces MFU)"),
        "fleet_devices": Figure(res.scenario.devices, t.device_plural, f"{t.device_plural} in the fleet"),
    }


def _relabel(key: str, f: Figure, dev: str) -> Figure | None:
    """A datacenter figure on a fleet: MFU is one device's compute efficiency during its local step (kept and
    said so); dollars of idle device time have no meaning (dropped: joules replace them)."""
    if "USD" in f.unit:
        return None
    if "mfu" in key.lower() or "MFU" in f.label:
        return replace(f, label=f"{f.label} (the local step of one {dev}; not a fleet measure)")
    return f


def compose(rep: Report, res, view: View) -> Report:
    """The Report on a fleet track: the fleet answer first, then the lab's question as the datacenter form
    poses it (one synchronous job over the radio), its MFU figures labelled as one device's, no dollars."""
    res = view.fleet or res
    t = res.scenario.track
    dev = t.device_word
    e_figs, e_find = energy_block(res)
    figures = {**view.figures, **fleet_figures(res, view.fleet_note), **e_figs}
    dropped = []
    for k, f in rep.figures.items():
        g = _relabel(k, f, dev)
        if g is None:
            dropped.append(f.label)
        elif k not in figures:
            figures[k] = g
    mfu_q = [f for f in rep.findings if "MFU" in f.question or "USD" in f.answer]
    kept = [f for f in rep.findings if f not in mfu_q]
    posed = Finding("The lab's question as posed: one synchronous job over the radio (no rounds, no deadline, no "
                    "energy)", rep.headline)
    replaced = ["MFU -> the share of a round spent computing and the time to the training target"]
    if dropped:
        replaced.append(f"dollars ({', '.join(dropped)}) -> joules per round and per day")
    replaced.append(f"a job restarted on any failure -> {failure_words(res.best, dev)}")
    asked = ", ".join(f"'{f.question}'" for f in mfu_q)
    repl = Finding("What replaces the datacenter's measures on this fleet?",
                   "; ".join(replaced) + "." + (f" The lab's MFU and dollar questions ({asked}) are answered by the "
                                                "fleet form above." if mfu_q else ""))
    FLEET_FORMULAS = _fleet_formulas()  # noqa: N806 - the fleet form's formulas, shown with every fleet answer
    constraints = view.constraints + [c for c in rep.constraints if c.name not in view.drop_constraints]
    extra = {**rep.extra, "fleet": {**view.extra, "best": _plain(res.best)}}
    if view.status and view.status != rep.status and rep.status == "infeasible":
        # The datacenter form proved the lab's question infeasible on this fleet: its best compromise breaks a
        # limit, so it is not an answer to grade attempts against (kept under 'datacenter' for the record).
        extra["datacenter"] = {k: extra.pop(k) for k in ("configuration", "objective") if k in extra}
    data = {**rep.data, "datacenter_headline": rep.headline}
    asm = view.assumptions + [Assumption(
        "Fleet answer: the fleet form of lab 05 part 2 on this track (participants, deadline, local steps, "
        "aggregation path, energy budget), the same fleet as the synchronisation audit.",
        f"explorer/data/tracks/{t.key}.toml [fleet]")] + rep.assumptions
    return replace(rep, headline=view.headline, status=view.status or rep.status, figures=figures,
                   findings=view.findings + e_find + [repl, posed] + kept, constraints=constraints,
                   formulas=view.formulas + [f for f in FLEET_FORMULAS if f.name not in {g.name for g in view.formulas}]
                   + rep.formulas, assumptions=asm, tables={**view.tables, **rep.tables},
                   extra=extra, data=data)


def _fleet_formulas() -> list[Formula]:
    from explorer.puzzles.fleet3d.report import FORMULAS

    return [f for f in FORMULAS if f.name in ("iterations to the target (a bound)", "consensus rate of gossip",
                                              "round time", "rounds per day")]


def _plain(f: dict) -> dict:
    keys = ("split", "trainable_layers", "micro_batch", "local_steps", "participation", "deadline_quantile", "days",
            "rounds", "rounds_per_day", "round_time", "energy_round", "energy_compute", "energy_radio", "energy_day",
            "participants", "t_sync", "t_local")
    return {k: f[k] for k in keys} | {"tier": f["tier"].key}
