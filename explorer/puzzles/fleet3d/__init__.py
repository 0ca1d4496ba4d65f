"""Lab 05 part 2 on a fleet (edge, mobile, tiny): the parallelism puzzle in the form a fleet poses it.

A fleet is not a small datacenter: its devices are joined by radio, drop in and out, and run on
batteries. A model is split only across a local link (the two earbuds of a pair over NFMI, a pair of
glasses and its phone), never across the wide-area link; data parallelism runs over the fleet's real
aggregation path (vehicles -> depot edge server or cloud; glasses -> phone -> cloud; earbud <->
earbud gossip). The puzzle searches the split point and the trained layers, the micro-batch, the local
steps between synchronisations, the participants per round, the round deadline and the aggregation
tier for the shortest time to the training target, within memory, each device's daily time window and
energy budget. Update compression is not searched (the compression part prices it at this optimum, and the
status says the proof is over uncompressed updates); a ring all-reduce waits for its slowest member.

The objective is the wall-clock time to the target from the opening of a daily window
(explorer.cost.federated.time_to_target_s): R x D when the R rounds of D seconds fit in the first
window, else whole days plus the last day's rounds.

Engines: the space is a product of a few small choices (2,500-15,000 configurations on the track
defaults), so the exhaustive evaluator scores all of them in milliseconds and that enumeration is the
proof of the optimum; `engine="cpsat"` solves the same integer tables with CP-SAT
(explorer/solvers/log_tables.py; model.one_window_problem: the least R x D among the runs that fit in
one window, or, when none fits, the least number of training days R / f) and checks that both agree.
CP-SAT is not the default here: on these tables its proof takes 0.2-10 s (benchmarks/bench_fleet.py),
longer than enumerating every configuration. The physics is in explorer/cost (federated, placement,
energy, gossip, stragglers).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from explorer.cost.stragglers import StepTimeModel
from explorer.errors import InfeasibleError, UsageError
from explorer.puzzles.fleet3d import model
from explorer.puzzles.fleet3d.scenario import FLEET_TRACKS, FleetScenario, load
from explorer.report import Report
from explorer.solvers import log_tables

# measured on the three track defaults (benchmarks/bench_fleet.py): presolve off, linear relaxation at
# level 1 and one worker were the fastest proofs and keep the answer deterministic
CPSAT_PARAMS = {"linearization_level": 1, "cp_model_presolve": False}
ENGINES = ("cpsat", "enumerate")


@dataclass
class FleetResult:
    scenario: FleetScenario
    tables: model.Tables
    problem: log_tables.LogProblem
    best: dict
    top: list[dict]
    crisis: dict
    status: str
    engine: str
    solve_time_s: float
    cpsat_time_s: float | None
    exhaustive_agrees: bool
    feasible_count: int
    per_tier: dict[str, dict] = field(default_factory=dict)
    unsplit: dict | None = None
    curve: dict[str, list] = field(default_factory=dict)  # tier key -> best days per local-steps value
    cpsat_proved: str = ""  # what CP-SAT proved with engine="cpsat" (one-window optimum, or the training days)

    @property
    def report(self) -> Report:
        from explorer.puzzles.fleet3d.report import build_report

        return build_report(self)


def restricted_best(problem: log_tables.LogProblem, tb: model.Tables, keep) -> dict | None:
    """The configuration of least time to the target among those whose index passes keep(grids) (exhaustive,
    same tables and objective as the optimum)."""
    listed, _ = model.ranked(tb, problem, keep)
    return model.evaluate(tb, listed[0]) if listed else None


def _cpsat_check(pr: log_tables.LogProblem, tb: model.Tables, best: dict, time_limit: float | None) -> tuple:
    """CP-SAT on the same tables (model.one_window_problem): (status, seconds, agrees, what it proved).
    First the least R x D among the runs that fit in one window; when CP-SAT proves there is none, the least
    R / f (the fewest days of training), whose day count must be the enumeration optimum's."""
    limit = 30.0 if time_limit is None else time_limit
    t1 = time.perf_counter()
    cs, out = log_tables.solve_cpsat(model.one_window_problem(pr), time_limit_s=limit, params=CPSAT_PARAMS)
    if cs is not None:
        f = model.evaluate(tb, cs)
        # the same time to the target to the tables' resolution (each factor rounded to 1e-4 in its logarithm)
        agrees = bool(best["fits_one_window"]) and abs(f["days"] - best["days"]) <= 1e-3 * best["days"]
        return (out.status if out.status == "optimal" else "feasible", time.perf_counter() - t1, agrees,
                "the least rounds x round time among the runs that fit in one daily window")
    if out.status != "infeasible":
        return "feasible", time.perf_counter() - t1, True, "nothing (it stopped before a proof)"
    cs, out = log_tables.solve_cpsat(pr, time_limit_s=limit, params=CPSAT_PARAMS)
    if cs is None:
        return "feasible", time.perf_counter() - t1, True, "that no run fits in one window"
    f = model.evaluate(tb, cs)

    def days_of(x: dict) -> float:
        return math.ceil(x["days_average"] - 1e-9)

    agrees = not best["fits_one_window"] and days_of(f) == days_of(best)
    return (out.status if out.status == "optimal" else "feasible", time.perf_counter() - t1, agrees,
            f"that no run fits in one window and the fewest days of training ({days_of(f)}); the enumeration "
            "orders the runs within the last day")


def cohort_choices(scn, devices: int) -> tuple[float, ...]:
    """The participation fractions a server may select from a fleet of `devices`: the track's fractions, and the
    fractions that select the same cohorts (counts of devices) as from the track's own fleet. A federated server
    selects a target count of devices per round (Bonawitz et al. 2019, Towards Federated Learning at Scale, sec.
    2; McMahan et al. 2017's fraction C of K clients is the same count for one K), so a fleet 10x the track's
    may still select the track's smallest cohort (1% of 1,000 phones: 10 of 10,000, not 100)."""
    base = scn.track.cluster.devices
    same = (q * base / devices for q in scn.participation)
    return tuple(sorted(set(scn.participation) | {x for x in same if 0 < x <= 1 and x * devices >= 1}))


def solve_fleet(track: str, *, engine: str = "enumerate", top: int = 5, time_limit: float | None = None,
                devices: int | None = None, step_model: StepTimeModel | None = None) -> FleetResult:
    """Solve the fleet form of the 3D puzzle for an edge, mobile or tiny track (optionally with another
    fleet size, or another jitter and straggler model for a local step: t0 is rescaled per configuration)."""
    if engine not in ENGINES:
        raise UsageError(f"engine {engine!r} unknown; valid: {', '.join(ENGINES)}")
    t0 = time.perf_counter()
    scn = load(track)
    if devices is not None:
        pair = scn.partner_word == "other earbud"
        if pair and devices % 2:
            raise UsageError(f"nodes {devices} must be even on the {scn.track.key} track (pairs of earbuds)")
        scn = replace(scn, fleet_size=int(devices), participation=cohort_choices(scn, int(devices)))
    if step_model is not None:
        scn = replace(scn, step_model=StepTimeModel(1.0, step_model.jitter, step_model.p, step_model.slowdown))
    tb = model.build_tables(scn)
    pr = model.build_problem(tb)
    listed, n_feasible = model.ranked(tb, pr, top=max(1, top))
    if not listed:
        raise InfeasibleError(f"infeasible: no configuration of the {scn.track.key} fleet meets every limit")
    status, cp_time, agrees, proved = "optimal", None, True, ""
    best = model.evaluate(tb, listed[0])  # the enumeration's optimum: the answer whichever engine checks it
    if engine == "cpsat":
        status, cp_time, agrees, proved = _cpsat_check(pr, tb, best, time_limit)
    topl = [model.evaluate(tb, i) for i in listed]
    per_tier = {}
    for j, tier in enumerate(scn.tiers):
        r = restricted_best(pr, tb, lambda g, j=j: g["tier"] == j)
        if r is not None:
            per_tier[tier.key] = r
    unsplit = None
    whole = [i for i, p in enumerate(scn.placements) if p.split == scn.layers]
    if whole:
        unsplit = restricted_best(pr, tb, lambda g: (g["placement"][:, None] == whole).any(axis=1))
    secs, ok, grids = model.time_to_target_all(tb, pr)
    curve = {}
    for j, tier in enumerate(scn.tiers):
        days = []
        for i in range(len(scn.local_steps)):
            mask = ok & (grids["tier"] == j) & (grids["local_steps"] == i)
            days.append(float(secs[mask].min()) / model.SECONDS_PER_DAY if mask.any() else None)
        curve[tier.key] = days
    return FleetResult(scenario=tb.scn, tables=tb, problem=pr, best=best, top=topl, crisis=model.crisis(scn),
                       status=status, engine=engine, solve_time_s=time.perf_counter() - t0, cpsat_time_s=cp_time,
                       exhaustive_agrees=agrees, feasible_count=n_feasible, per_tier=per_tier, unsplit=unsplit,
                       curve=curve, cpsat_proved=proved)


def fleet_options_error(track: str, given: dict[str, Any]) -> None:
    """The datacenter options of the 3D puzzle have no meaning in its fleet form: say so in one line."""
    used = [k for k, v in given.items() if v not in (None, {}, "")]
    if used:
        raise UsageError(f"{', '.join(used)}: datacenter option(s) of the 3D puzzle; on the {track} track it takes its "
                         f"fleet form (options: --engine, --top, --time-limit); the scenario is "
                         f"explorer/data/tracks/{track}.toml [fleet]")


def is_fleet(track: str) -> bool:
    from explorer.tracks import get_track

    return get_track(track).key in FLEET_TRACKS


def fleet_phrase(track: str) -> str:
    """'the Tiny Pioneer track is a fleet (100 earbuds over Bluetooth LE 1M PHY, trained in federated rounds)':
    the opening of an error that refuses to treat a fleet track as a datacenter."""
    from explorer.tracks import get_track

    t = get_track(track)
    return (f"the {t.name} track is a fleet ({t.cluster.devices:,} {t.device_plural} over {t.cluster.inter.name}, "
            "trained in federated rounds)")


def solve(track: str = "edge", *, engine: str = "enumerate", top: int = 5, time_limit: float | None = None,
          **_: Any) -> Report:
    """Registry entry: the Report of the fleet form of the 3D puzzle."""
    return solve_fleet(track, engine=engine, top=top, time_limit=time_limit).report
