"""Lab 08 part 2, the staged pipeline race: preparation (CPU workers) -> ingestion (storage,
host-to-device) -> compute (devices). Throughput is the slowest stage's rate; the balance point is
the largest device count that the pipeline can keep fed, with the fewest workers that feed it
("compute no longer starved"), found by CP-SAT over the integer choices and re-checked by an
exhaustive search over the same integer constraints.

Integer model (times in ns, bytes, so both engines see exactly the same feasible set):
  devices x augment_ns          <= workers x compute_ns          (prep keeps up)
  devices x sample_bytes        <= floor(storage_Bps x compute_s) (storage keeps up)
  sample_bytes                  <= floor(h2d_Bps x compute_s)     (each device's copy keeps up)
  maximise devices, then minimise workers: maximise devices x (max_workers + 1) - workers
The score only ranks; attempts are graded on what it ranks by, the pipeline's throughput in samples/s (at a fed
point, devices x the per-device compute rate), so a gap reads in samples/s, never in points of the score.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from explorer import validation as V
from explorer.cost import input_pipeline as ip
from explorer.errors import NoAnswerError, UsageError, require_positive_int
from explorer.plan import ParallelPlan
from explorer.puzzles.fleetlens import FLEET_TRACKS, fleet_view
from explorer.puzzles.training_scenario import TrainingScenario, scenario
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.tracks import Track, get_track
from explorer.units import human_number, human_percent, plural, plural_noun

if TYPE_CHECKING:
    from explorer.solvers import cpsat


ATTEMPT_OPTIONS = ("workers", "devices", "augment_ms", "compute_ms", "sample_bytes", "storage_gbps", "batch",
                   "dataset_samples")
ATTEMPT_VARIABLES = ["workers", "devices"]
ATTEMPT_KINDS = {"workers": "count", "devices": "count"}
MAX_ATTEMPTS: int | None = 5  # the lab's 5-move rule
ENGINES = ("cpsat", "enumerate")


@dataclass(frozen=True)
class LoaderInstance:
    track: Track
    sc: TrainingScenario
    max_workers: int
    max_devices: int
    augment_s: float
    compute_s: float  # per sample per device
    sample_bytes: int
    storage_bandwidth: float
    h2d_bandwidth: float
    dataset_samples: int
    batch: int
    path_model: str  # the model whose step sets the compute rate
    path_plan: ParallelPlan
    text_compute_s: float | None = None  # the track's text path, where the race is run on another one
    text_augment_s: float | None = None
    compute_from: str = ""  # where compute_s comes from, for the report's assumption

    def pipeline(self, workers: int, devices: int) -> ip.Pipeline:
        return ip.Pipeline(workers, self.augment_s, self.sample_bytes, self.storage_bandwidth, self.h2d_bandwidth,
                           devices, self.compute_s, self.sc.prep_on_compute_core)

    # integer data shared by both engines
    @property
    def augment_ns(self) -> int:
        return max(1, round(self.augment_s * 1e9))

    @property
    def compute_ns(self) -> int:
        return max(1, round(self.compute_s * 1e9))

    @property
    def storage_bytes_per_sample_time(self) -> int:
        return math.floor(self.storage_bandwidth * self.compute_s)

    @property
    def h2d_bytes_per_sample_time(self) -> int:
        return math.floor(self.h2d_bandwidth * self.compute_s)


def path_step(track: Track, sc: TrainingScenario) -> tuple[Any, ParallelPlan]:
    """The step model's (setup, plan) of the data path the race is run on: the scenario's own
    pipeline model (data parallel over the node's devices) where it names one, else the track's
    workload on its own plan."""
    from explorer.cost.efficiency import TYPICAL_GPU_EFFICIENCY
    from explorer.puzzles.threed import make_setup

    # each GPU consumes at a typical GPU's rate: the puzzle feeds 1 to max_devices of them with one rate, so the
    # slowest GPU's pace (Setup.pace: 1.4 % at 8) is not charged here
    if sc.pipeline_model is None:
        return make_setup(track, efficiency=TYPICAL_GPU_EFFICIENCY), track.crisis_plan
    setup = make_setup(track, model=sc.pipeline_model, gpus=sc.max_devices,
                       gpus_per_node=min(sc.max_devices, track.cluster.devices_per_node), seq_len=sc.pipeline_seq_len,
                       efficiency=TYPICAL_GPU_EFFICIENCY)
    mb = sc.pipeline_micro_batch
    return setup, ParallelPlan(dp=sc.max_devices, micro_batch=mb, global_batch=sc.max_devices * mb, zero=1)


def batch_plan(plan: ParallelPlan, batch: int) -> ParallelPlan:
    """The data path's plan at another global batch: the same replicas, each taking batch / DP samples a step in
    micro-batches of the plan's size where they divide, else of the largest size that divides both."""
    if batch % plan.dp:
        raise UsageError(f"batch {batch} must be a multiple of the data path's {plan.dp} data-parallel replicas "
                         f"({plan.describe()})")
    per = batch // plan.dp
    return replace(plan, global_batch=batch, micro_batch=math.gcd(per, plan.micro_batch))


def compute_seconds_per_sample(setup: Any, plan: ParallelPlan) -> float:
    """Per-device compute seconds per sample from the step model: the devices' compute time for one
    step, divided by the samples the step processes per device."""
    from explorer.cost.step import estimate

    return estimate(setup, plan).time["compute"] * plan.devices / plan.global_batch


def make_instance(track: str | Track = "cloud", *, workers: int | None = None, devices: int | None = None,
                  augment_ms: float | None = None, compute_ms: float | None = None, sample_bytes: int | None = None,
                  storage_gbps: float | None = None, batch: int | None = None,
                  dataset_samples: int | None = None) -> LoaderInstance:
    """Track defaults with overrides; workers/devices are the MAXIMA the search may use."""
    t = track if isinstance(track, Track) else get_track(track)
    sc = scenario(t.key)
    w = V.WORKERS.check("workers", workers, sc.max_workers)
    d = V.DEVICES.check("devices", devices, sc.max_devices)
    if sc.prep_on_compute_core and w > 1:
        # the one core prepares and trains in turn (input_pipeline shared_core): a second worker on it would be a
        # second thread taking turns too, not a second preparation rate (workers / aug would count it as one)
        raise UsageError(f"workers {w:,}: on the {t.key} track preparation runs on the {t.device_word}'s one core, "
                         "in turn with the training step, so it has one worker; valid: 1")
    if d > sc.max_devices:
        # the workers and the storage are one host's (lab08_training.toml): past its devices they would be shared by
        # devices on other hosts, which bring their own CPUs and storage ('43 GPUs fed by 103 workers' was no machine)
        raise UsageError(f"devices {d:,} is more than the data pipeline's host holds; valid: 1..{sc.max_devices:,} "
                         f"(its {sc.max_workers:,} CPU workers and {human_number(sc.storage_bandwidth / 1e9)} GB/s of "
                         "storage are that host's; each further host brings its own and runs the same race, so "
                         "several hosts are one host's answer times the hosts)")
    augment_ms = V.STEP_MS.check("augment-ms", augment_ms)
    compute_ms = V.STEP_MS.check("compute-ms", compute_ms)
    storage_gbps = V.BANDWIDTH_GBS.check("storage-gbps", storage_gbps)
    sb = V.SAMPLE_BYTES.check("sample-bytes", sample_bytes, sc.sample_bytes)
    ds = V.DATASET_SAMPLES.check("dataset-samples", dataset_samples, sc.dataset_samples)
    setup, plan = path_step(t, sc)
    b = V.GLOBAL_BATCH.check("batch", batch, plan.global_batch)
    if b > ds:
        raise UsageError(f"batch {b} is larger than the dataset ({ds} samples); use a batch <= {ds}")
    if t.key in FLEET_TRACKS:
        fleet = fleet_step(t)
        # One compute rate in the whole report: on a fleet the device eats samples at its local step's pace, the
        # fleet 3D optimum's (lab 05 part 2), which --compute-ms and --batch (the datacenter step's) cannot set.
        given = [f"--{k} {v:g}" for k, v in (("compute-ms", compute_ms), ("batch", batch)) if v is not None]
        if given:
            from explorer.puzzles.fleetlens.common import a_word

            raise UsageError(f"{' and '.join(given)}: on the {t.key} track {a_word(t.device_word)} eats samples at its "
                             f"fleet local step ({fleet[1]}), not at a datacenter step's rate; "
                             + ("this option acts" if len(given) == 1 else "these options act")
                             + " on the cloud track only")
        compute_s, compute_from = fleet
    else:
        if b != plan.global_batch:  # the step the data path feeds: its per-device batch sets compute per sample
            plan = batch_plan(plan, b)
        compute_s = compute_seconds_per_sample(setup, plan) if compute_ms is None else compute_ms / 1e3
        where = (f"{setup.model.name} on {plan.describe()}" if sc.pipeline_model is not None
                 else f"the track's plan ({t.crisis_plan.describe()})")
        compute_from = "--compute-ms" if compute_ms is not None else f"the step model on {where}"
    return LoaderInstance(
        track=t, sc=sc, max_workers=w, max_devices=d,
        augment_s=sc.augment_s_per_sample if augment_ms is None else augment_ms / 1e3,
        compute_s=compute_s,
        sample_bytes=sb, storage_bandwidth=sc.storage_bandwidth if storage_gbps is None else storage_gbps * 1e9,
        h2d_bandwidth=sc.host_to_device_bandwidth, dataset_samples=ds, batch=b, path_model=setup.model.name,
        path_plan=plan,
        text_compute_s=None if sc.pipeline_model is None else compute_seconds_per_sample(*path_step(t, _text(sc))),
        text_augment_s=sc.text_augment_s_per_sample, compute_from=compute_from)


def fleet_step(t: Track) -> tuple[float, str]:
    """(seconds per sample, where from) of a fleet device's local step at the track's fleet 3D optimum (lab 05
    part 2: explorer.puzzles.fleet3d, the placement model of explorer/cost/placement.py): one local step of b
    samples in t_local seconds eats one sample every t_local / b."""
    from explorer.puzzles.fleetlens.common import optimum
    from explorer.units import human_duration

    b = optimum(t.key).best
    mb, t_local = b["micro_batch"], b["t_local"]
    return t_local / mb, (f"the fleet 3D optimum's local step: {plural(mb, 'sample')} in {human_duration(t_local)}, "
                          "explorer/puzzles/fleet3d")


def _text(sc: TrainingScenario) -> TrainingScenario:
    """The scenario on the track's own (text) path."""
    import dataclasses

    return dataclasses.replace(sc, pipeline_model=None)


def fed(inst: LoaderInstance, workers: int, devices: int) -> dict[str, bool]:
    """The three integer constraints of 'compute is not starved' (True = satisfied)."""
    return {"prep keeps up": devices * inst.augment_ns <= workers * inst.compute_ns,
            "storage keeps up": devices * inst.sample_bytes <= inst.storage_bytes_per_sample_time,
            "host-to-device keeps up": inst.sample_bytes <= inst.h2d_bytes_per_sample_time}


# What attempts are graded on: the pipeline's throughput (the figure of that key, in samples/s), so a gap reads in
# samples/s. The solver ranks by score() (devices fed first, then fewest workers), a unitless integer that no gap is
# ever read in ('beats the optimum by 2 (2.0%)' was an attempt at 200 samples/s against the optimum's 475).
OBJECTIVE_NAME = "throughput"


def score(inst: LoaderInstance, workers: int, devices: int) -> int:
    """The solver's lexicographic ranking as one integer: most devices fed, then fewest workers."""
    return devices * (inst.max_workers + 1) - workers


def objective(inst: LoaderInstance, workers: int, devices: int) -> float:
    """The graded figure: samples/s the pipeline delivers (input_pipeline.throughput)."""
    return ip.throughput(inst.pipeline(workers, devices))


def second(workers: int) -> dict[str, Any]:
    """The balance point's second objective, as attempts are graded on it: of the plans at the optimum's throughput,
    the fewest workers (an attempt feeding the same GPUs with 40 workers where 20 do is not the balance point)."""
    return {"name": "workers", "value": workers, "unit": "workers", "sense": "min", "label": "workers"}


def solve_exhaustive(inst: LoaderInstance) -> tuple[int, int] | None:
    best = None
    for n in range(1, inst.max_devices + 1):
        for w in range(1, inst.max_workers + 1):
            if all(fed(inst, w, n).values()):
                if best is None or score(inst, w, n) > score(inst, *best):
                    best = (w, n)
    return best


def solve_cpsat(inst: LoaderInstance, time_limit_s: float = 10.0) -> tuple[tuple[int, int] | None, cpsat.SolveOutcome]:
    from ortools.sat.python import cp_model

    from explorer.solvers import cpsat

    m = cp_model.CpModel()
    # variables
    w = m.NewIntVar(1, inst.max_workers, "workers")
    n = m.NewIntVar(1, inst.max_devices, "devices")
    # prep keeps up: devices x augment_ns <= workers x compute_ns
    m.Add(n * inst.augment_ns <= w * inst.compute_ns)
    # storage keeps up: devices x sample_bytes <= storage bytes per compute-sample time
    m.Add(n * inst.sample_bytes <= inst.storage_bytes_per_sample_time)
    # each device's host-to-device copy keeps up (a constant: the model is infeasible if not)
    if inst.sample_bytes > inst.h2d_bytes_per_sample_time:
        m.Add(n == 0)
    # objective: most devices fed, then fewest workers
    m.Maximize(n * (inst.max_workers + 1) - w)
    solver, out = cpsat.run(m, time_limit_s=time_limit_s)
    if out.status not in ("optimal", "feasible"):
        return None, out
    return (int(solver.Value(w)), int(solver.Value(n))), out


@dataclass
class LoaderResult:
    inst: LoaderInstance
    best: tuple[int, int] | None
    exhaustive: tuple[int, int] | None
    status: str
    engine: str
    solve_time_s: float
    checked: bool = True  # the exhaustive cross-check ran (skipped beyond MAX_ENUMERATE_PAIRS)


def solve_dataloader(track: str | Track = "cloud", *, engine: str = "cpsat", check: bool = True,
                     time_limit: float | None = None, **options: Any) -> LoaderResult:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {V.short(engine)}; valid: {', '.join(ENGINES)}")
    time_limit = V.TIME_LIMIT.check("time-limit", time_limit, 10.0)
    inst = make_instance(track, **options)
    pairs = inst.max_workers * inst.max_devices
    small = pairs <= V.MAX_ENUMERATE_PAIRS  # the exhaustive evaluator is a Python loop over every pair
    if engine == "enumerate" and not small:
        raise UsageError(f"--engine enumerate would visit workers x devices = {pairs:,} pairs, above its limit of "
                         f"{V.MAX_ENUMERATE_PAIRS:,} (a Python loop over every pair); use --engine cpsat")
    t0 = time.perf_counter()
    ex = solve_exhaustive(inst) if ((check and small) or engine == "enumerate") else None
    if engine == "cpsat":
        best, out = solve_cpsat(inst, time_limit)
        if best is None and out.status == "unknown":
            raise NoAnswerError(time_limit)
        status = out.status if best is not None else "infeasible"
    else:
        best, status = ex, ("optimal" if ex else "infeasible")
    return LoaderResult(inst, best, ex, status, engine, time.perf_counter() - t0, checked=ex is not None)


def _rate(x: float) -> str:
    return f"{human_number(x)} samples/s"


def _all_workers(n: int) -> str:
    """'all 20 workers deliver' or 'its one worker delivers'."""
    return "its one worker delivers" if n == 1 else f"all {n} workers deliver"


def _limit(inst: LoaderInstance, p: ip.Pipeline, need: str) -> str:
    """'<what> delivers <throughput> < <need>', named from the figures: the slowest stage, or on a shared core the
    one core doing both preparation and compute in turn, with the stage taking the larger share of its time."""
    x, bn = ip.throughput(p), ip.bottleneck(p)
    if p.shared_core and bn != "ingest":
        u = ip.utilisation(p)
        return (f"its one core, preparing and computing in turn ({human_number(inst.augment_s * 1e3, 4)} + "
                f"{human_number(inst.compute_s * 1e3, 4)} ms a sample), delivers {_rate(x)} < {need}; the {bn} "
                f"stage takes the larger share of the core ({human_percent(u[bn])})")
    return f"the {bn} stage delivers {_rate(x)} < {need}"


def _kept_busy(inst: LoaderInstance, p: ip.Pipeline, w: int) -> str:
    """The balance point's last clause: whether compute runs at its own rate there, from the figures (a shared core
    slows it even when preparation keeps up with its rate)."""
    base = "fewer workers starve compute" if w > 1 else "one worker keeps up"
    if not ip.compute_slowed(p):
        return base
    u, x = ip.utilisation(p), ip.throughput(p)
    if p.shared_core and ip.bottleneck(p) != "ingest":
        return (f"{base} with the compute stage's rate, but preparation and compute take turns on the one core: a "
                f"sample costs {human_number(inst.augment_s * 1e3, 4)} + {human_number(inst.compute_s * 1e3, 4)} = "
                f"{human_number(1e3 / x, 4)} ms of it, so compute is busy {human_percent(u['compute'])} of the time")
    return f"yet compute is busy {human_percent(u['compute'])} of the time, waiting for the {ip.bottleneck(p)} stage"


def build_report(res: LoaderResult) -> Report:
    inst, t = res.inst, res.inst.track
    dw = t.device_word
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    constraints: list[Constraint] = []
    extra: dict[str, Any] = {"engine": res.engine}
    path = (f"image path ({inst.path_model}, {plural(inst.path_plan.micro_batch, 'image')} per {dw})"
            if inst.text_compute_s is not None else "")
    # the lab question: a second device when the CPU is saturated
    full1, full2 = inst.pipeline(inst.max_workers, 1), inst.pipeline(inst.max_workers, 2)
    speed_full = ip.throughput(full2) / ip.throughput(full1)
    prep_all, per_dev = ip.stage_rates(full1)["prep"], ip.stage_rates(full1)["compute"]
    # saturated CPU: the same workers, each as slow as makes prep equal to one device's demand
    sat = ip.Pipeline(inst.max_workers, inst.max_workers * inst.compute_s, inst.sample_bytes,
                      inst.storage_bandwidth, inst.h2d_bandwidth, 1, inst.compute_s)
    sat2 = ip.Pipeline(inst.max_workers, inst.max_workers * inst.compute_s, inst.sample_bytes,
                       inst.storage_bandwidth, inst.h2d_bandwidth, 2, inst.compute_s)
    speed_sat = ip.throughput(sat2) / ip.throughput(sat)
    figures["second_device_speedup_saturated"] = Figure(speed_sat, "x", f"speed-up of a 2nd {dw}, CPU saturated")
    figures["second_device_speedup_track"] = Figure(speed_full, "x", f"speed-up of a 2nd {dw} on this track")
    figures["devices_cpu_can_feed"] = Figure(prep_all / per_dev, plural_noun(dw),
                                               f"{plural_noun(dw)} the whole CPU can feed")
    findings.append(Finding(
        f"Does a second {dw} double the speed when the CPU is saturated?",
        f"No. Saturated means preparation delivers exactly what one {dw} consumes "
        f"({_rate(per_dev)}): with two, throughput = min(prep, ingest, 2 x compute) = {ip.bottleneck(sat2)} "
        f"({_rate(ip.throughput(sat2))}), x{speed_sat:.2f}. "
        f"On this track {_all_workers(inst.max_workers)} {_rate(prep_all)}, what "
        f"{plural(float(prep_all / per_dev), dw)} eat, so a second {dw} gives x{speed_full:.2f}"
        + (" (the CPU is not the bottleneck here)." if speed_full > 1.99 else
           f" (bottleneck with two: {ip.bottleneck(full2)}).")))
    if res.best is None:
        w, n = inst.max_workers, 1
        status = "infeasible"
        p = inst.pipeline(w, n)
        workers = "its one worker" if w == 1 else f"all {w} workers"
        headline = (f"Compute is starved even with {workers} and one {dw}: "
                    f"{_limit(inst, p, _rate(ip.stage_rates(p)['compute']) + ' needed')}.")
    else:
        w, n = res.best
        status = res.status
        p = inst.pipeline(w, n)
        if res.engine != "cpsat":
            how = f"{res.status} by exhaustive search"
        elif res.status == "optimal":
            check = (f"exhaustive check skipped: more than {V.MAX_ENUMERATE_PAIRS:,} worker x device pairs"
                     if not res.checked else
                     f"exhaustive check {'agrees' if res.exhaustive == res.best else 'DISAGREES'}")
            how = f"optimal by CP-SAT, {check}"
        else:  # stopped at the time limit: not the balance point until proven
            how = ("feasible, not proven optimal: CP-SAT stopped at its time limit"
                   + ("" if res.exhaustive in (None, res.best) else
                      f"; the exhaustive check finds {plural(res.exhaustive[1], dw)} fed by "
                      f"{plural(res.exhaustive[0], 'worker')}"))
        headline = (f"{'Balance point' if res.status == 'optimal' else 'A feasible point'} ({how}): "
                    f"{plural(n, dw)} fed by {plural(w, 'worker')}, "
                    f"{_rate(ip.throughput(p))}" + (f" on the {path}" if path else "")
                    + f"; {_kept_busy(inst, p, w)}.")
        extra["objective"] = {"name": OBJECTIVE_NAME, "value": objective(inst, w, n), "unit": "samples/s",
                              "sense": "max", "second": second(w)}
        extra["configuration"] = {"workers": w, "devices": n}
        extra["exhaustive_check"] = {"configuration": {"workers": res.exhaustive[0], "devices": res.exhaustive[1]}
                                     if res.exhaustive else None,
                                     "agrees": res.exhaustive == res.best if res.checked else None,
                                     "skipped": not res.checked}
    rates, util = ip.stage_rates(p), ip.utilisation(p)
    x = ip.throughput(p)
    figures["throughput"] = Figure(x, "samples/s", "pipeline throughput")
    figures["workers"] = Figure(w, "workers", "workers")
    figures["devices"] = Figure(n, plural_noun(dw), plural_noun(dw))
    for s in ip.STAGES:
        figures[f"utilisation_{s}"] = Figure(util[s], "fraction", f"{s} stage busy")
    figures["epoch_time"] = Figure(inst.dataset_samples / x, "s", f"one epoch of {inst.dataset_samples:,} samples"
                                   + (" at the balance point" if res.best is not None and t.key not in FLEET_TRACKS
                                      else ""))
    if res.best is not None and t.key not in FLEET_TRACKS:  # a fleet device never shares its pipeline
        # the balance point keeps every device busy; one more device, partly starved, still adds samples/s when
        # preparation has some left (throughput = min of the stages): the fastest this host runs, said beside it
        fast_n = max(range(n, inst.max_devices + 1), key=lambda k: (ip.throughput(inst.pipeline(inst.max_workers,
                                                                                                 k)), -k))
        fast_p = inst.pipeline(inst.max_workers, fast_n)
        fast_x = ip.throughput(fast_p)
        if fast_x > x * (1 + 1e-9):
            wait = 1 - fast_x / (fast_n * ip.stage_rates(inst.pipeline(1, 1))["compute"])
            figures["fastest_throughput"] = Figure(
                fast_x, "samples/s", f"fastest this host runs ({plural(fast_n, dw)}, "
                f"{plural(inst.max_workers, 'worker')}, each {dw} waiting {human_percent(wait)})")
            # what stops one more device being fed with every worker: the fed constraints that fail there
            fails = [k for k, v in fed(inst, inst.max_workers, n + 1).items() if not v] if n < inst.max_devices else []
            names = {"prep keeps up": f"preparation ({plural(inst.max_workers, 'worker')}: {_rate(prep_all)})",
                     "storage keeps up": f"storage ({_rate(inst.storage_bandwidth / inst.sample_bytes)})",
                     "host-to-device keeps up": f"the host-to-device copy "
                                                f"({_rate(inst.h2d_bandwidth / inst.sample_bytes)} per {dw})"}
            why = (f"the most {plural_noun(dw)} that {' and '.join(names[k] for k in fails)} "
                   f"{'keeps' if len(fails) == 1 else 'keep'} busy: {n + 1} would eat "
                   f"{_rate((n + 1) / inst.compute_s)}" if fails else
                   f"the most {plural_noun(dw)} the search found fed ({res.status})")
            findings.append(Finding(
                "Is the balance point the fastest this host can run?",
                f"No: it is {why}. With {plural(fast_n, dw)} and "
                f"all {plural(inst.max_workers, 'worker')}, throughput = min(prep, ingest, {fast_n} x compute) = "
                f"{ip.bottleneck(fast_p)}, {_rate(fast_x)}, against {_rate(x)}: an epoch in "
                f"{human_number(inst.dataset_samples / fast_x / 86400)} days instead of "
                f"{human_number(inst.dataset_samples / x / 86400)}, each {dw} waiting for data {human_percent(wait)} "
                "of the time (synchronous data parallelism: the step waits for the last sample)."))
    findings.append(Finding(
        "Which stage is the bottleneck, and how busy is each stage (the 3-box gauge)?",
        f"prep {_rate(rates['prep'])} ({human_percent(util['prep'])} busy), ingest {_rate(rates['ingest'])} "
        f"({human_percent(util['ingest'])}), compute {_rate(rates['compute'])} ({human_percent(util['compute'])}): "
        f"bottleneck {ip.bottleneck(p)}"
        + (f" (prep and compute take turns on one core: their shares of it add up to "
           f"{human_percent(util['prep'] + util['compute'])})." if p.shared_core else ".")))
    comp_ms, aug_ms = human_number(inst.compute_s * 1e3, 4), human_number(inst.augment_s * 1e3)
    findings.append(Finding(
        "What is the balance point (fewest workers at which compute is no longer starved)?",
        headline + f" One {dw} consumes one sample every {comp_ms} ms; a worker prepares one every {aug_ms} ms, "
        f"so n {plural_noun(dw)} need ceil(n x {aug_ms} / {comp_ms}) workers."))
    if inst.text_compute_s is not None and inst.text_augment_s is not None:
        per_worker = inst.text_compute_s / inst.text_augment_s
        findings.append(Finding(
            "Is the text path of the track's run a race too?",
            f"No. On the track's own plan ({t.crisis_plan.describe()}) one {dw} eats one sequence every "
            f"{human_number(inst.text_compute_s)} s, and a worker tokenises and packs one in "
            f"{human_number(inst.text_augment_s * 1e3)} ms: one worker feeds {plural(round(per_worker), dw)}, "
            f"the node's {inst.max_workers} workers {per_worker * inst.max_workers:,.0f}. Language-model text is "
            f"cheap to prepare per FLOP it feeds; the race is on the image path, where a {dw} eats an image every "
            f"{comp_ms} ms and a worker needs {aug_ms} ms to decode and augment one."))
    if res.best is not None and inst.max_workers * inst.max_devices > MAX_ATTEMPTS:
        moves = math.ceil(math.log2(inst.max_workers)) if inst.max_workers > 1 else 0
        findings.append(Finding(
            f"Can the balance point be found within the lab's {MAX_ATTEMPTS} moves?",
            f"Not by trial: {inst.max_workers} worker counts x {inst.max_devices} {dw} counts = "
            f"{inst.max_workers * inst.max_devices:,} configurations, and bisection on the workers alone takes "
            f"{plural(moves, 'measurement')}. Measure the two rates once instead: one {dw} eats "
            f"{human_number(1 / inst.compute_s, 4)} samples/s, one worker prepares "
            f"{human_number(1 / inst.augment_s, 4)}; {plural(n, dw)} {'needs' if n == 1 else 'need'} "
            f"{n} x {aug_ms} / {comp_ms} = "
            f"{n * inst.augment_s / inst.compute_s:.2f} -> {plural(w, 'worker')}"
            + (", and one worker fewer starves compute." if w > 1 else ".")))
    if res.best is not None:
        constraints.append(Constraint("prep rate >= compute rate", rates["prep"], rates["compute"], "samples/s", ">=",
                                      w == ip.workers_to_feed(n, inst.compute_s, inst.augment_s),
                                      "workers / preparation time per sample >= devices / compute time per sample"))
        constraints.append(Constraint("ingest rate >= compute rate", rates["ingest"], rates["compute"], "samples/s",
                                      ">=", rates["ingest"] < 1.05 * rates["compute"]))
        constraints.append(Constraint("workers", w, inst.max_workers, "workers", "<=", w == inst.max_workers))
        constraints.append(Constraint(plural_noun(dw), n, inst.max_devices, plural_noun(dw), "<=",
                                      n == inst.max_devices))
    # sweep table: throughput per (workers, devices)
    ws = sorted({1, 2, 4, 8, 16, 32, 64, w, inst.max_workers} & set(range(1, inst.max_workers + 1)))
    # every device count up to 16; beyond, powers of two and the answer (the table stays a page wide)
    ns = list(range(1, inst.max_devices + 1)) if inst.max_devices <= 16 else sorted(
        {2 ** k for k in range(inst.max_devices.bit_length()) if 2 ** k <= inst.max_devices} | {n, inst.max_devices})
    rows = [[wk] + [ip.throughput(inst.pipeline(wk, nd)) for nd in ns] for wk in ws]
    tables = {"sweep": Table(["workers"] + [plural(nd, dw) for nd in ns], rows, "Throughput (samples/s)")}
    data = {"utilisation_gauge": {"stages": list(ip.STAGES), "rates": [rates[s] for s in ip.STAGES],
                                  "utilisation": [util[s] for s in ip.STAGES], "throughput": x,
                                  "bottleneck": ip.bottleneck(p), "workers": w, "devices": n, "unit": "samples/s"}}
    formulas = [
        Formula("throughput", "min(prep, ingest, compute)", "flow line: bottleneck rate (Hopp & Spearman, "
                "Factory Physics, ch. 7)"),
        Formula("prep", "workers / augmentation s per sample", "lab 08 part 2"),
        Formula("ingest", "min(storage B/s, devices x host-to-device B/s) / bytes per sample", "lab 08 part 2"),
        Formula("compute", "devices x micro-batch / local step s (the fleet 3D optimum's local step)",
                "explorer/puzzles/fleet3d/model.py") if t.key in FLEET_TRACKS else
        Formula("compute", "devices / compute s per sample (step model: compute time x devices / global batch)",
                "explorer/cost/step.py"),
        Formula("utilisation", "throughput / stage rate", "the 3-box gauge"),
    ]
    assumptions = [Assumption(inst.sc.pipeline_source, "lab08_training.toml"),
                   Assumption(f"compute per sample per {dw} = {comp_ms} ms from {inst.compute_from}",
                              "explorer/cost/step.py" if inst.track.key not in FLEET_TRACKS
                              else "explorer/puzzles/fleet3d/model.py")]
    return Report(puzzle="dataloader", lab="08", part=2, track=t.key, title="The staged pipeline race",
                  status=status, headline=headline, figures=figures, findings=findings, constraints=constraints,
                  formulas=formulas, assumptions=assumptions, tables=tables, plots=["utilisation_gauge"], data=data,
                  extra=extra, solve_time_s=res.solve_time_s)


@fleet_view("dataloader")
def solve(track: str = "cloud", **options: Any) -> Report:
    """Registry entry (options: workers, devices (maxima), augment_ms, compute_ms, sample_bytes,
    storage_gbps, batch, dataset_samples, engine, time_limit)."""
    res = solve_dataloader(track, **options)
    report = build_report(res)
    report.scenario = scenario_of(res.inst)
    return report


def scenario_of(inst: LoaderInstance) -> dict[str, Any]:
    """The instance's options, defaults resolved, in the units make_instance takes (on a fleet track without
    compute-ms and batch: its local step sets the compute rate, and make_instance refuses them there)."""
    sc = {"workers": inst.max_workers, "devices": inst.max_devices, "augment_ms": inst.augment_s * 1e3,
          "compute_ms": inst.compute_s * 1e3, "sample_bytes": inst.sample_bytes,
          "storage_gbps": inst.storage_bandwidth / 1e9, "batch": inst.batch, "dataset_samples": inst.dataset_samples}
    if inst.track.key in FLEET_TRACKS:
        del sc["compute_ms"], sc["batch"]
    return sc


def evaluate_attempt(values: dict, track: str = "cloud", **options: Any) -> dict:
    inst = make_instance(track, **options)
    try:
        w, n = int(float(values["workers"])), int(float(values["devices"]))
    except KeyError as exc:
        raise UsageError(f"attempt is missing {exc.args[0]!r}; columns: workers, devices") from None
    except (TypeError, ValueError):
        raise UsageError(f"workers and devices must be whole numbers, got {values!r}") from None
    require_positive_int("workers", w)
    require_positive_int("devices", n)
    p = inst.pipeline(w, n)
    ok = fed(inst, w, n)
    r = ip.stage_rates(p)
    demand = r["compute"]
    per_device = {"prep keeps up": r["prep"], "storage keeps up": inst.storage_bandwidth / inst.sample_bytes,
                  "host-to-device keeps up": n * inst.h2d_bandwidth / inst.sample_bytes}
    viol = [Constraint(k, per_device[k], demand, "samples/s", ">=", text="compute is starved")
            for k, v in ok.items() if not v]
    if w > inst.max_workers:
        viol.append(Constraint("workers", w, inst.max_workers, "", "<="))
    if n > inst.max_devices:
        viol.append(Constraint("devices", n, inst.max_devices, "", "<="))
    util = ip.utilisation(p)
    figs = {"throughput": Figure(ip.throughput(p), "samples/s", "pipeline throughput")}
    figs.update({f"utilisation_{s}": Figure(util[s], "fraction", f"{s} busy") for s in ip.STAGES})
    if not p.shared_core:  # (one core has one worker: make_instance)
        # the graded figure is the throughput, which more workers than feed the devices leave unchanged: said beside it
        figs["fewest_workers"] = Figure(ip.workers_to_feed(n, inst.compute_s, inst.augment_s), "workers",
                                        f"fewest workers that feed its {plural_noun(inst.track.device_word)}")
    neighbours = [{"workers": w + dw, "devices": n + dn} for dw, dn in ((-1, 0), (1, 0), (0, -1), (0, 1))
                  if w + dw >= 1 and n + dn >= 1]
    if "fewest_workers" in figs and int(figs["fewest_workers"].value) < w - 1:  # straight to the fewest that feed
        neighbours.append({"workers": int(figs["fewest_workers"].value), "devices": n})
    return {"feasible": not viol, "figures": figs, "violations": viol, "objective": objective(inst, w, n),
            "objective_name": OBJECTIVE_NAME, "sense": "max", "neighbours": neighbours, "second": second(w),
            "objective_measured": True}  # the samples/s it delivers, starved or not (reports.attempts: no 'if')
