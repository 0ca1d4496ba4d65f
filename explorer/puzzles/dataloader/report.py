"""The dataloader puzzle's narration: the questions the lab asks answered from the figures, the balance point's
headline, the sweep table and the utilisation gauge, assembled into its Report."""

from __future__ import annotations

import math
from typing import Any

from explorer import validation as V
from explorer.cost import input_pipeline as ip
from explorer.puzzles.dataloader.grading import MAX_ATTEMPTS
from explorer.puzzles.dataloader.model import OBJECTIVE_NAME, LoaderResult, fed, objective, prep_binds, second
from explorer.puzzles.dataloader.scenario import LoaderInstance
from explorer.puzzles.fleetlens import FLEET_TRACKS
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.units import human_number, human_percent, plural, plural_noun


def _rate(x: float) -> str:
    return f"{human_number(x)} samples/s"


def _every_worker(n: int) -> str:
    """'its one worker', 'both workers', 'all 20 workers' ('all' only for three or more)."""
    return "its one worker" if n == 1 else "both workers" if n == 2 else f"all {n} workers"


def _all_workers(n: int) -> str:
    """'all 20 workers deliver', 'both workers deliver' or 'its one worker delivers'."""
    return f"{_every_worker(n)} {'delivers' if n == 1 else 'deliver'}"


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
        headline = (f"Compute is starved even with {_every_worker(w)} and one {dw}: "
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
        figures[f"utilisation_{s}"] = Figure(util[s], "fraction", f"{s} stage busy"
                                             + (f" ({plural(w, 'worker')})" if s == "prep" else ""))
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
                f"{_every_worker(inst.max_workers).removeprefix('its ')}, "
                f"throughput = min(prep, ingest, {fast_n} x compute) = "
                f"{ip.bottleneck(fast_p)}, {_rate(fast_x)}, against {_rate(x)}: an epoch in "
                f"{human_number(inst.dataset_samples / fast_x / 86400)} days instead of "
                f"{human_number(inst.dataset_samples / x / 86400)}, each {dw} waiting for data {human_percent(wait)} "
                "of the time (synchronous data parallelism: the step waits for the last sample)."))
    findings.append(Finding(
        "Which stage is the bottleneck, and how busy is each stage (the 3-box gauge)?",
        f"prep {_rate(rates['prep'])} from {plural(w, 'worker')} ({human_percent(util['prep'])} busy), "
        f"ingest {_rate(rates['ingest'])} "
        f"({human_percent(util['ingest'])}), compute {_rate(rates['compute'])} on {plural(n, dw)} "
        f"({human_percent(util['compute'])}): "
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
                                      prep_binds(inst, w, n),
                                      f"{plural(w, 'worker')} / preparation time per sample >= {plural(n, dw)} / "
                                      "compute time per sample"))
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
