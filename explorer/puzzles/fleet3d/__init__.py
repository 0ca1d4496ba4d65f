"""Lab 05 part 2 on a fleet (edge, mobile, tiny): the parallelism puzzle in the form a fleet poses it.

A fleet is not a small datacenter: its devices are joined by radio, drop in and out, and run on
batteries. A model is split only across a local link (the two earbuds of a pair over NFMI, a pair of
glasses and its phone), never across the wide-area link; data parallelism runs over the fleet's real
aggregation path (vehicles -> depot edge server or cloud; glasses -> phone -> cloud; earbud <->
earbud gossip). The puzzle searches the split point and the trained layers, the micro-batch, the local
steps between synchronisations, the participants per round, the round deadline and the aggregation
tier for the shortest time to the training target, within memory, the staleness the lab's step
tolerates, each device's daily time window and energy budget.

Engines: the space is a product of a few small choices (2,500-15,000 configurations on the track
defaults), so the exhaustive evaluator scores all of them in milliseconds and that enumeration is the
proof of the optimum; `engine="cpsat"` solves the same integer tables with CP-SAT
(explorer/solvers/log_tables.py) and checks that both agree. CP-SAT is not the default here: on these
tables its proof takes 0.2-10 s (benchmarks/bench_fleet.py), longer than enumerating every
configuration. The physics is in explorer/cost (federated, placement, energy, gossip, stragglers).
"""

from __future__ import annotations

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

    @property
    def report(self) -> Report:
        from explorer.puzzles.fleet3d.report import build_report

        return build_report(self)


def restricted_best(problem: log_tables.LogProblem, tb: model.Tables, keep) -> dict | None:
    """The best configuration among those whose index passes keep(idx) (exhaustive, same tables)."""
    obj, ok, grids = log_tables.evaluate_all(problem)
    mask = ok & keep(grids)
    if not mask.any():
        return None
    k = int(obj[mask].argmin())
    k = int(mask.nonzero()[0][k])
    return model.evaluate(tb, {d: int(grids[d][k]) for d in problem.sizes})


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
        scn = replace(scn, fleet_size=int(devices))
    if step_model is not None:
        scn = replace(scn, step_model=StepTimeModel(1.0, step_model.jitter, step_model.p, step_model.slowdown))
    tb = model.build_tables(scn)
    pr = model.build_problem(tb)
    listed, n_feasible = log_tables.solve_exhaustive(pr, top=max(1, top))
    if not listed:
        raise InfeasibleError(f"infeasible: no configuration of the {scn.track.key} fleet meets every limit")
    z_exh = pr.score(listed[0])["z"]
    status, cp_time, agrees = "optimal", None, True
    best_idx = listed[0]
    if engine == "cpsat":
        t1 = time.perf_counter()
        cs, out = log_tables.solve_cpsat(pr, time_limit_s=30.0 if time_limit is None else time_limit,
                                         params=CPSAT_PARAMS)
        cp_time = time.perf_counter() - t1
        if cs is None:
            status = "feasible"  # CP-SAT stopped before any proof: the enumeration is the answer
        else:
            z_cp = pr.score(cs)["z"]
            agrees = z_cp == z_exh
            status = "optimal" if out.status == "optimal" else "feasible"
            best_idx = log_tables.canonical(pr, z_cp) or cs
    best = model.evaluate(tb, best_idx)
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
    obj, ok, grids = log_tables.evaluate_all(pr)
    curve = {}
    for j, tier in enumerate(scn.tiers):
        days = []
        for i in range(len(scn.local_steps)):
            mask = ok & (grids["tier"] == j) & (grids["local_steps"] == i)
            if not mask.any():
                days.append(None)
                continue
            k = int(mask.nonzero()[0][int(obj[mask].argmin())])
            days.append(model.evaluate(tb, {d: int(grids[d][k]) for d in pr.sizes})["days"])
        curve[tier.key] = days
    return FleetResult(scenario=tb.scn, tables=tb, problem=pr, best=best, top=topl, crisis=model.crisis(scn),
                       status=status, engine=engine, solve_time_s=time.perf_counter() - t0, cpsat_time_s=cp_time,
                       exhaustive_agrees=agrees, feasible_count=n_feasible, per_tier=per_tier, unsplit=unsplit,
                       curve=curve)


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
