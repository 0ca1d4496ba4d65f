"""The optimal (Pareto) frontier of a puzzle over two or more objectives, by the epsilon-constraint method.

Each frontier point is solved to optimality (CP-SAT) with the other objectives held as constraints
(Haimes, Lasdon & Wismer 1971, "On a bicriterion formulation of the problems of integrated system
identification and system optimization", IEEE Trans. SMC 1(3): the epsilon-constraint method; Miettinen,
"Nonlinear Multiobjective Optimization", 1999, sec. 3.2). Points dominated by another solved point are
then dropped (`pareto_filter`), so no frontier point dominates another.

Frontiers are defined per puzzle by a `FrontierSpec`. `3d` is built in (tokens/s against GPU count and
memory headroom, via `explorer.api.solve_3d`); any puzzle module may add its own by exposing
`FRONTIER_OBJECTIVES = [(key, sense, label, unit), ...]` and `frontier_points(track, **options) -> list[dict]`
(and optionally `attempt_on_frontier(values, result, track, **options) -> bool`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from explorer import validation as V
from explorer.errors import ExplorerError, InfeasibleError, NoAnswerError, UsageError
from explorer.units import plural

REL_TOL = 1e-9


@dataclass(frozen=True)
class Objective:
    key: str
    sense: str  # "max" or "min"
    label: str
    unit: str = ""

    def __post_init__(self) -> None:
        if self.sense not in ("max", "min"):
            raise ValueError(f"objective sense must be 'max' or 'min', got {self.sense!r}")


@dataclass(frozen=True)
class FrontierSpec:
    puzzle: str
    objectives: tuple[Objective, ...]
    points: Callable[..., list[dict]]
    attempt_on_frontier: Callable[..., bool] | None = None
    attempt_point: Callable[..., dict | None] | None = None  # (values, result, track) -> objective point
    attempt_scenario: Callable[[dict], dict] | None = None  # attempt values -> the scenario to grade it in
    note: str = ""
    describe: Callable[..., str] | None = None  # (**options) -> how the points were sampled
    scenario: Callable[[str], str] | None = None  # track -> what is trained, on what (the report's first words)
    # Objectives solved only at the values asked for (the 3D frontier's GPU counts): an attempt elsewhere on
    # them has no frontier point to be compared with, so not being dominated proves nothing there.
    sampled: tuple[str, ...] = ()


@dataclass
class FrontierResult:
    puzzle: str
    track: str
    objectives: tuple[Objective, ...]
    points: list[dict]  # the frontier, sorted by the first minimised objective then the first maximised
    solved: int = 0  # how many exact solves ran
    dominated: int = 0  # solved points dropped as dominated
    infeasible: list[str] = field(default_factory=list)
    all_optimal: bool = True
    note: str = ""
    unanswered: list[str] = field(default_factory=list)  # settings with no answer within the time limit
    scenario: str = ""  # what is trained, on what: "Llama-3-70B, global batch 512 x 8,192 tokens, BF16 on H100"
    sampled: dict[str, list[float]] = field(default_factory=dict)  # sampled objective -> values it was solved at

    def __repr__(self) -> str:  # the headline; the points are in .points
        objectives = " vs ".join(f"{o.sense} {o.key}" for o in self.objectives)
        proven = "all proven optimal" if self.all_optimal else "not all proven optimal"
        return (f"<FrontierResult {self.puzzle} [{self.track}]: {len(self.points)} non-dominated points "
                f"({objectives}) from {self.solved} solves, {proven}>")


# ------------------------------------------------------------------------------------- non-domination

def _better_or_equal(a: float, b: float, sense: str) -> bool:
    tol = REL_TOL * max(1.0, abs(a), abs(b))
    return a >= b - tol if sense == "max" else a <= b + tol


def _strictly_better(a: float, b: float, sense: str) -> bool:
    tol = REL_TOL * max(1.0, abs(a), abs(b))
    return a > b + tol if sense == "max" else a < b - tol


def dominates(a: dict, b: dict, objectives: tuple[Objective, ...] | list[Objective]) -> bool:
    """True if a is at least as good as b in every objective and strictly better in one."""
    return (all(_better_or_equal(a[o.key], b[o.key], o.sense) for o in objectives)
            and any(_strictly_better(a[o.key], b[o.key], o.sense) for o in objectives))


def _same(a: dict, b: dict, objectives) -> bool:
    return all(_better_or_equal(a[o.key], b[o.key], o.sense) and _better_or_equal(b[o.key], a[o.key], o.sense)
               for o in objectives)


def pareto_filter(points: list[dict], objectives: tuple[Objective, ...] | list[Objective]) -> list[dict]:
    """The non-dominated points (first of any set of equal points kept), in input order."""
    keep: list[dict] = []
    for p in points:
        if any(dominates(q, p, objectives) for q in points) or any(_same(q, p, objectives) for q in keep):
            continue
        keep.append(p)
    return keep


def on_frontier(point: dict, frontier: list[dict], objectives) -> bool:
    """True if no frontier point dominates `point`."""
    return not any(dominates(q, point, objectives) for q in frontier)


def not_compared(point: dict, result: FrontierResult) -> str | None:
    """Why `point` cannot be called on the frontier although no frontier point dominates it: it sits at a value
    of a sampled objective (a GPU count) the frontier was never solved at, so nothing there was compared with
    it. None when it can be compared."""
    for key, solved in (getattr(result, "sampled", None) or {}).items():
        v = point.get(key)
        if v is None or any(_better_or_equal(float(v), s, "max") and _better_or_equal(s, float(v), "max")
                            for s in solved):  # equal within REL_TOL: solved there
            continue
        at = plural(int(v), "GPU") if key == "gpus" and float(v) == int(v) else f"{key} = {v:g}"
        return f"no frontier point at {at}"
    return None


# ------------------------------------------------------------------------------------- 3D puzzle

OBJECTIVES_3D = (
    Objective("tokens_per_s", "max", "throughput (tokens/s)", "tokens/s"),
    Objective("gpus", "min", "GPUs", ""),
    Objective("memory_headroom_bytes", "max", "memory headroom per GPU", "B"),
)
# One CP-SAT solve per point: the best plan only, no what-if enumeration (explorer.puzzles.threed.solve_3d).
FAST = {"top": 1, "explain": False}
HEADROOM_STEP = 0.05  # next epsilon level: previous headroom + 5% of usable HBM
COMPLETE_MAX_LEVELS = 200


def default_gpu_counts(devices: int) -> list[int]:
    """Powers of two up to the cluster, and the cluster size itself."""
    counts = [2 ** k for k in range(int(math.log2(devices)) + 1)]
    return sorted(set(counts + [devices]))


def _point_3d(best: Any, gpus: int, usd_per_device_hour: float, level: int, run_tokens: float | None) -> dict:
    tps = float(best.tokens_per_s)
    plan = best.plan
    usd_per_s = gpus * usd_per_device_hour / 3600.0
    p = {
        "gpus": gpus,
        "tokens_per_s": tps,
        "memory_headroom_bytes": float(best.memory_limit) - float(best.memory_total),
        "memory_total_bytes": float(best.memory_total),
        "memory_limit_bytes": float(best.memory_limit),
        "mfu": float(best.mfu),
        "step_time_s": float(best.step_time_s),
        "usd_per_million_tokens": usd_per_s / tps * 1e6 if tps > 0 else math.inf,
        "tp": plan.tp, "pp": plan.pp, "dp": plan.dp, "cp": plan.cp, "micro_batch": plan.micro_batch,
        "virtual_stages": plan.virtual_stages, "zero": plan.zero, "recompute": plan.recompute,
        "min_headroom_level_bytes": level,
    }
    if run_tokens:
        p["usd_per_run"] = usd_per_s * run_tokens / tps if tps > 0 else math.inf
    return p


def check_3d(track: str = "cloud", *, gpu_counts: list[int] | None = None, levels: int = 4, complete: bool = False,
             max_bubble: float = 0.10, time_limit: float | None = None, run_tokens: float | None = None,
             **_: Any) -> tuple[list[int], int, float | None, float, float | None]:
    """The 3D frontier's options checked before any solve or progress output: (GPU counts, levels, run tokens,
    max bubble, time limit); a UsageError names the first that cannot be."""
    from explorer.puzzles.fleet3d import fleet_phrase, is_fleet
    from explorer.tracks import get_track

    t = get_track(track)
    if is_fleet(t.key):  # its 3D answer is a federated plan (time to target, energy), not a GPU count's tokens/s
        raise UsageError(f"{fleet_phrase(t.key)}: the 3D frontier trades tokens/s against GPUs and memory headroom "
                         f"of datacenter plans, which does not describe it; `explore solve 3d --track {t.key}` "
                         "evaluates the fleet")
    counts = V.GPU_COUNTS.check("gpu-counts", gpu_counts) or default_gpu_counts(t.cluster.devices)
    levels = COMPLETE_MAX_LEVELS if complete else V.Int(1, 20).check("levels", levels)
    run_tokens = V.RUN_TOKENS.check("run-tokens", run_tokens)
    max_bubble = V.FRACTION.check("max-bubble", max_bubble)
    time_limit = V.TIME_LIMIT.check("time-limit", time_limit)
    if len(counts) * levels > V.MAX_FRONTIER_SOLVES:
        raise UsageError(f"{len(counts)} GPU counts x {levels} headroom levels{' (--complete)' if complete else ''} "
                         f"is up to {len(counts) * levels:,} solves, above the limit of {V.MAX_FRONTIER_SOLVES:,} "
                         f"(each one is a CP-SAT solve); give fewer --gpus")
    return counts, levels, run_tokens, max_bubble, time_limit


def points_3d(track: str = "cloud", *, gpu_counts: list[int] | None = None, levels: int = 4, complete: bool = False,
              max_bubble: float = 0.10, time_limit: float | None = None, run_tokens: float | None = None,
              progress: Callable[[int], None] | None = None) -> tuple[list[dict], int, list[str], bool]:
    """Exact epsilon-constraint points for the 3D puzzle: for each GPU count, max tokens/s with headroom
    >= 0, then >= (previous headroom + 5% of HBM), ... up to `levels` levels or until infeasible.
    complete: step by one byte until infeasible (every non-dominated (tokens/s, headroom) pair of each GPU
    count, at most COMPLETE_MAX_LEVELS per count).
    Returns (points, solves, infeasible notes, all proven optimal, notes on settings with no answer within
    the time limit)."""
    from explorer.api import solve_3d
    from explorer.tracks import get_track

    t = get_track(track)
    counts, levels, run_tokens, max_bubble, time_limit = check_3d(
        track, gpu_counts=gpu_counts, levels=levels, complete=complete, max_bubble=max_bubble, time_limit=time_limit,
        run_tokens=run_tokens)
    step = 1.0 if complete else HEADROOM_STEP * t.usable_memory_bytes
    points: list[dict] = []
    infeasible: list[str] = []
    unanswered: list[str] = []
    solves, all_optimal = 0, True
    for g in counts:
        level = 0
        for _ in range(levels):
            solves += 1
            try:
                res = solve_3d(track, gpus=g, min_memory_headroom_bytes=level, max_bubble=max_bubble,
                               time_limit=time_limit, **FAST)
            except InfeasibleError as exc:
                if level == 0:
                    infeasible.append(f"{plural(g, 'GPU')}: {exc}")
                break
            except NoAnswerError as exc:  # the time limit, not a proof: the frontier is not proven there
                unanswered.append(f"{plural(g, 'GPU')} (headroom level {level:,} B): {exc}")
                all_optimal = False
                break
            all_optimal = all_optimal and str(getattr(res, "status", "optimal")).lower() == "optimal"
            p = _point_3d(res.best, g, t.device_hour_usd, level, run_tokens)
            points.append(p)
            level = int(math.ceil(p["memory_headroom_bytes"] + step))
        if progress:
            progress(1)
    return points, solves, infeasible, all_optimal, unanswered


def _figure_value(figures: dict, *needles: str, unit: str | None = None) -> float | None:
    for needle in needles:
        for k, f in figures.items():
            if needle in k.lower() and (unit is None or getattr(f, "unit", None) == unit):
                v = getattr(f, "value", f)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    return float(v)
    return None


def attempt_point_3d(values: dict, result: dict, track: str = "cloud") -> dict | None:
    """(tokens/s, GPUs, headroom) of a graded 3D attempt, from its figures (the memory limit from the track
    when the figures do not carry it); None if they are not there."""
    figs = result.get("figures") or {}
    tps = _figure_value(figs, "tokens_per_s", "tokens", unit="tokens/s") or _figure_value(figs, "tokens_per_s")
    gpus = _figure_value(figs, "gpus", "devices")
    if gpus is None and all(k in values for k in ("tp", "pp", "dp")):
        gpus = float(values["tp"]) * float(values["pp"]) * float(values["dp"]) * float(values.get("cp", 1) or 1)
    head = _figure_value(figs, "headroom")
    if head is None:
        total = _figure_value(figs, "memory_total", "memory_per", "memory", unit="B")
        limit = _figure_value(figs, "memory_limit", "usable", unit="B")
        if limit is None and total is not None:
            from explorer.tracks import get_track

            limit = get_track(track).usable_memory_bytes
        head = None if limit is None or total is None else limit - total
    if tps is None or gpus is None or head is None:
        return None
    return {"tokens_per_s": tps, "gpus": gpus, "memory_headroom_bytes": head}


def attempt_on_frontier_3d(values: dict, result: dict, track: str, **options: Any) -> bool | None:
    """Exact check at the attempt's own GPU count and headroom: is there a plan with at least its headroom
    and more tokens/s on as many GPUs? (One CP-SAT solve.)"""
    from explorer.api import solve_3d

    p = attempt_point_3d(values, result, track)
    if p is None:
        return None
    try:
        res = solve_3d(track, gpus=int(p["gpus"]), min_memory_headroom_bytes=max(0, int(p["memory_headroom_bytes"])),
                       **FAST)
    except InfeasibleError:
        return True
    except NoAnswerError:  # not known within the time limit
        return None
    return not _strictly_better(float(res.best.tokens_per_s), p["tokens_per_s"], "max")


def scenario_3d(track: str) -> str:
    """The workload every 3D frontier point trains (the track's: the frontier varies GPUs and headroom only)."""
    from explorer.tracks import get_track

    t = get_track(track)
    w, acc = t.workload, t.cluster.accelerator
    return (f"{w.model.name}, global batch {w.global_batch:,} x {w.seq_len:,} tokens, {w.precision.upper()} on "
            f"{acc.name} ({t.usable_memory_bytes / 1e9:.4g} GB usable per GPU)")


def describe_3d(complete: bool = False, levels: int = 4, **_: Any) -> str:
    if complete:
        return "complete: headroom raised by one byte after each point until nothing fits"
    return (f"sampled: up to {levels} headroom levels per GPU count, each {100 * HEADROOM_STEP:.0f}% of usable "
            f"HBM above the previous point's headroom (--complete for every point)")


def attempt_scenario_3d(values: dict) -> dict:
    """A 3D attempt sits at its own GPU count on the frontier (TP x CP x PP x DP), not the track's."""
    from explorer.validation import MAX_DEVICES

    n = 1
    for k in ("tp", "cp", "pp", "dp"):
        n *= int(values.get(k) or 1)
    if n > MAX_DEVICES:
        raise UsageError(f"TP x CP x PP x DP = {n:.3g} GPUs is more than {MAX_DEVICES:,}")
    return {"gpus": n}


SPEC_3D = FrontierSpec("3d", OBJECTIVES_3D, points_3d, attempt_on_frontier_3d, attempt_point_3d,
                       note="tokens/s maximised by CP-SAT for each GPU count and memory-headroom level (epsilon "
                            "constraints); dollars are GPU-hours x price.",
                       describe=describe_3d, attempt_scenario=attempt_scenario_3d, scenario=scenario_3d,
                       sampled=("gpus",))
SPECS: dict[str, FrontierSpec] = {"3d": SPEC_3D}


def spec_for(puzzle: str) -> FrontierSpec | None:
    """The frontier definition of a puzzle: built in, or from the puzzle module's FRONTIER_OBJECTIVES hook."""
    if puzzle in SPECS:
        return SPECS[puzzle]
    from explorer.puzzles import PUZZLES

    info = PUZZLES.get(puzzle)
    if info is None:
        return None
    try:
        mod = info.load()
    except ImportError:
        return None
    objs = getattr(mod, "FRONTIER_OBJECTIVES", None)
    fn = getattr(mod, "frontier_points", None)
    if not objs or fn is None:
        return None

    def points(track: str, progress: Any = None, **options: Any) -> tuple[list[dict], int, list[str], bool]:
        pts = fn(track, **options)
        return pts, len(pts), [], True

    return FrontierSpec(puzzle, tuple(Objective(*o) for o in objs), points,
                        getattr(mod, "attempt_on_frontier", None), None)


def frontier(puzzle: str, track: str = "cloud", **options: Any) -> FrontierResult:
    """The Pareto frontier of a puzzle for a track (UsageError if the puzzle defines none)."""
    from explorer.puzzles import get_puzzle

    get_puzzle(puzzle)
    spec = spec_for(puzzle)
    if spec is None:
        have = sorted(set(SPECS))
        raise UsageError(f"puzzle {puzzle!r} defines no multi-objective frontier; frontiers exist for: "
                         f"{', '.join(have)}")
    try:
        pts, solves, infeasible, all_optimal, *more = spec.points(track, **options)
    except TypeError as exc:
        raise UsageError(f"frontier {puzzle}: {exc}") from None
    unanswered = list(more[0]) if more else []  # settings with no answer within the time limit
    if not pts and not infeasible and unanswered:
        raise NoAnswerError(options.get("time_limit") or 0.0, where=f"for any point of the {puzzle} frontier")
    if not pts:
        raise InfeasibleError(f"no feasible point for the {puzzle} frontier on track {track}: "
                              + "; ".join(infeasible[:3]), conflicts=infeasible)
    front = pareto_filter(pts, spec.objectives)
    mins = [o for o in spec.objectives if o.sense == "min"]
    maxs = [o for o in spec.objectives if o.sense == "max"]
    front.sort(key=lambda p: tuple(p[o.key] for o in mins) + tuple(-p[o.key] for o in maxs))
    note = spec.note + (f" Points {spec.describe(**options)}." if spec.describe else "")
    note += (" Every solve was proven optimal." if all_optimal else
             " Not every solve was proven optimal (CP-SAT stopped at the time limit): these points are feasible, "
             "not proven Pareto-optimal.")
    sampled = {k: sorted({float(p[k]) for p in pts}) for k in spec.sampled}  # solved there, dominated or not
    return FrontierResult(puzzle, track, spec.objectives, front, solves, len(pts) - len(front), infeasible,
                          all_optimal, note.strip(), unanswered, spec.scenario(track) if spec.scenario else "",
                          sampled)


def check_non_dominated(points: list[dict], objectives) -> list[tuple[int, int]]:
    """Pairs (i, j) where point i dominates point j (empty for a valid frontier)."""
    return [(i, j) for i, a in enumerate(points) for j, b in enumerate(points)
            if i != j and dominates(a, b, objectives)]


def explain_error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ExplorerError) else f"{type(exc).__name__}: {exc}"
