"""Lab 08 on a fleet: memory, the input pipeline and the batch of federated rounds.

* memory: a fleet device has no ZeRO partner (its data-parallel peers are other people's devices, reached over
  the radio between rounds), so the state fits by what the device trains and where: the memory audit's cheapest
  changes on one device, and the fleet 3D optimum's split across the local link (glasses + phone, the two
  earbuds over NFMI) with frozen layers read from flash;
* dataloader: every device prepares its own samples on its own CPU from its own sensor: a second device
  brings its own CPU and its own data, and the race is inside one device: one staged pipeline (prep, ingest, and
  compute at the fleet 3D optimum's local step), whose verdict is the status; a starved local step waits for its
  data, and the fleet's time to the target is re-evaluated with it;
* batch: the batch a round averages is n x b per local step (on-time participants x micro-batch), against the
  gradient noise scale B_noise (McCandlish et al. 2018); the fleet is measured by its time to the target and
  joules, and MFU (one device's local step) is not its target.
"""

from __future__ import annotations

from typing import Any

from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleetlens.common import View, a_word, days, index, span
from explorer.report import Constraint, Figure, Finding, Table
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as num
from explorer.units import human_percent as pct
from explorer.units import plural


def memory(rep, res) -> View:
    scn, b = res.scenario, res.best
    dev = scn.track.device_word
    where = b["placement"].describe(scn.layers, scn.partner_word)
    one = rep.figures.get("optimum_total")
    cfg = rep.extra.get("configuration", {})
    tl = cfg.get("trainable_layers")
    head = (f"On the fleet: {where}, {hbytes(b['memory_device'])} per {dev} of {hbytes(scn.memory_limit)} usable"
            + (f" and {hbytes(b['memory_partner'])} on the {scn.partner_word} of {hbytes(scn.partner_limit)}"
               if scn.partner_setup else "")
            + f" (fleet 3D optimum, lab 05 part 2); on one {dev} alone the "
            f"cheapest fit is {hbytes(one.value) if one else 'none'}"
            + (f" training {tl} of {scn.layers} layers" if tl is not None else "") + ".")
    frozen = ("read in place from flash" if scn.data.get("frozen_in_flash") else
              "without gradients or optimizer state")
    why = (f"No ZeRO: ZeRO shards the training state over data-parallel replicas, which on this fleet are other "
           f"people's {scn.track.device_plural} reached over the radio between rounds, so every {dev} keeps its own "
           f"state and the memory audit searches ZeRO-0 only. What a fleet can do instead: train fewer layers "
           f"(frozen ones {frozen}), or split the model across the local link only ("
           + {"none": f"{a_word(dev)} has one training SoC, and the whole state fits it",
              "pair": "the two earbuds of a pair over NFMI", }.get(scn.data["partner"], "the glasses and their phone")
           + f"). The fleet 3D optimum trains the top {b['trainable_layers']} of {scn.layers} layers: never fewer than "
           "one "
           "(a model with every layer frozen learns nothing but its head, so the audit never offers it on a fleet).")
    figures = {"fleet_memory_device": Figure(b["memory_device"], "B", f"memory per {dev} at the fleet 3D optimum"),
               "fleet_trainable_layers": Figure(b["trainable_layers"], "layers",
                                                "layers trained at the fleet 3D optimum")}
    if scn.partner_setup is not None:
        figures["fleet_memory_partner"] = Figure(b["memory_partner"], "B", f"memory on the {scn.partner_word}")
    return View(head, [Finding(f"On the fleet: how does the training state fit {a_word(dev)}?", why)], figures)


def starved(res, supply: float) -> Any:
    """The fleet result at its optimum's configuration with every local step no faster than the device's input
    pipeline delivers: a local step of b samples takes max(t_local, b / supply) (a prefetching pipeline runs at its
    slowest stage's rate: Hopp & Spearman, Factory Physics, ch. 7), and the round time, rounds a day and time to the
    target follow from the fleet model's own tables (explorer.puzzles.fleet3d.model). The accelerator waits idle
    meanwhile, so a round's joules (compute x power + radio) stay. Not re-optimised: the time to the target is that
    configuration's, an upper bound on the starved fleet's best."""
    from dataclasses import replace

    import numpy as np

    tb = res.tables
    stretched = replace(tb, values=dict(tb.values), dims=dict(tb.dims), graphs=dict(tb.graphs))
    b = np.array(tb.scn.micro_batches, dtype=float)[None, :, None]  # t_local is (placement, micro_batch, tier)
    stretched.values["t_local"] = np.maximum(tb.values["t_local"], b / supply)
    fm.derive(stretched)  # the round time and everything after it, from the stretched local step
    best = fm.evaluate(stretched, index(res))
    best["t_compute"] = res.best["t_local"]  # the step's own work; the rest of the stretched step is waiting
    return replace(res, tables=stretched, best=best)


def dataloader(rep, res) -> View:
    """One device's staged pipeline (prep on its own CPU, ingest from its own storage or sensor, compute at the
    fleet 3D optimum's local step), with the options the report was solved for; the status is its verdict."""
    from explorer.cost import input_pipeline as ip
    from explorer.puzzles.dataloader import make_instance
    from explorer.puzzles.dataloader.model import prep_binds

    scn, b = res.scenario, res.best
    dev = scn.track.device_word
    inst = make_instance(scn.track.key, **rep.scenario)  # the report's own options (storage, workers, ...)
    w, feeds = fleet_workers(inst)  # the fewest of its workers that feed its local steps, or all of them
    pipe = inst.pipeline(w, 1)  # one device: its own CPU, its own storage, its own local step
    rates, util, x = ip.stage_rates(pipe), ip.utilisation(pipe), ip.throughput(pipe)
    mb, t_loc = b["micro_batch"], b["t_local"]
    step = f"{plural(mb, 'sample')} in {span(t_loc)}"
    workers = every_worker(w, "its ")
    shared = pipe.shared_core  # one core prepares and trains in turn (a microcontroller: input_pipeline)
    cpu = "on the same core as the training step" if shared else "on its own CPU"
    gauge = (f"prep {rate(rates['prep'])} {cpu} ({worker_words(w, inst.max_workers, feeds)}, "
             f"{pct(util['prep'])} busy), "
             f"ingest {rate(rates['ingest'])} ({pct(util['ingest'])} busy), compute {rate(rates['compute'])} "
             f"(the fleet 3D optimum's local step: {step}; {pct(util['compute'])} busy)")
    rule = "min(ingest, 1 / (1/prep + 1/compute))" if shared else "min(prep, ingest, compute)"
    figures = {"fleet_prep_rate": Figure(rates["prep"], "samples/s", f"preparation rate on one {dev} "
                                        f"({of_workers(w, inst.max_workers)})"),
               "fleet_ingest_rate": Figure(rates["ingest"], "samples/s", f"ingest rate on one {dev}"),
               "fleet_step_rate": Figure(rates["compute"], "samples/s", f"samples/s the local steps of one {dev} eat"),
               "fleet_pipeline_throughput": Figure(x, "samples/s", f"pipeline throughput on one {dev}")}
    supply = min(rates["prep"], rates["ingest"])
    # binding as the datacenter form's 'prep rate >= compute rate' says of the same figures (model.prep_binds)
    prep_sets = rates["prep"] <= rates["ingest"] and prep_binds(inst, w, 1)
    constraints = [Constraint(f"input pipeline >= local step ({dev})", supply, rates["compute"], "samples/s", ">=",
                              binding=supply <= rates["compute"] * 1.05 or prep_sets,
                              text="min(prep, ingest) against the samples/s the local step eats"
                              + (f"; each stage on its own: on the one core preparation also takes turns with the "
                                 f"step, so the pipeline delivers {rate(x)}" if shared else ""))]
    fleet, note, status = None, "", None
    if shared and feeds and x < rates["compute"]:
        # the core is never starved, but it also prepares: a local step of b samples takes t_local + b x aug
        # the fleet 3D model's local step is the training step alone; the same core must also prepare the step's
        # samples first. Priced here (not re-optimised), while the answer stays the fleet 3D optimum's figures
        ser = starved(res, x).best
        bb = b
        head = (f"On the fleet every {dev} feeds its own local steps from one core: {gauge}; throughput = {rule} = "
                f"{rate(x)} (preparation and compute take turns on the one core), so a local step that also "
                f"prepares its samples takes {span(ser['t_local'])}, not the {span(t_loc)} of the fleet 3D optimum's "
                f"step, which leaves preparation out: with it that configuration (not re-optimised) "
                f"{target_change(ser, b)}")
        pace = (f"What the fleet's time to the target scales with is rounds and participants (lab 05 part 1's fleet "
                f"form), not workers: the core spends {pct(util['prep'])} of its time preparing samples, time the "
                f"local step cannot use (a round would take {instead(ser['round_time'], b['round_time'])}).")
        figures["fleet_local_step_serialised_s"] = Figure(ser["t_local"], "s", f"local step of one {dev} with its "
                                                          "samples' preparation on the same core")
        figures["fleet_days_serialised"] = Figure(ser["days"], "days", "time to the target with preparation on the "
                                                  "training core (the optimum's configuration, not re-optimised)")
    elif feeds:
        bb = b
        head = (f"On the fleet every {dev} feeds its own local steps: {gauge}; throughput = {rule} = {rate(x)}, so "
                "the pipeline keeps up and the fleet 3D optimum stands")
        pace = ("What the fleet's time to the target scales with is rounds and participants (lab 05 part 1's fleet "
                f"form), not workers: its prep stage ({of_workers(w, inst.max_workers)}) is busy "
                f"{pct(util['prep'])} of the time.")
    else:
        # the local step runs at what the whole pipeline delivers, x: on a shared core that is the core's rate for
        # preparation and compute in turn (1 / (aug + compute) per sample), not min(prep, ingest), which would let
        # preparation overlap the step it takes turns with (1 s, not 1 s + 0.421 s, at --augment-ms 1000 on tiny)
        fleet = starved(res, x)
        bb = fleet.best
        status = "infeasible"
        note = f"its configuration with local steps starved to {rate(x)}, not re-optimised"
        bn = ip.bottleneck(pipe)
        core = shared and bn != "ingest"
        if core:
            larger = "preparation" if bn == "prep" else "the step"
            turns = (f"its one core prepares each sample in {span(1 / rates['prep'])} and then trains on it in "
                     f"{span(1 / rates['compute'])}, in turn, so the pipeline delivers {rate(x)}; {larger} is the "
                     "larger share of the core's time")
            head = (f"On the fleet the local steps of every {dev} are starved: its prep stage delivers "
                    f"{rate(rates['prep'])} < the {rate(rates['compute'])} its local steps eat (the fleet 3D optimum's "
                    f"local step: {step}), even with {workers}, and {turns}: a local step stretches to "
                    f"{span(bb['t_local'])} and the fleet 3D optimum's configuration (not re-optimised) "
                    f"{target_change(bb, b)}")
            pace = (f"Here the input pipeline sets the fleet's pace: the core spends {pct(util['prep'])} of its time "
                    f"preparing and {pct(util['compute'])} training (bottleneck {bn}), so a round takes "
                    f"{instead(bb['round_time'], b['round_time'])} and {rounds_change(bb, b)}.")
        else:
            head = (f"On the fleet the local steps of every {dev} are starved: its {bn} stage delivers {rate(x)} < "
                    f"the {rate(rates['compute'])} its local steps eat (the fleet 3D optimum's local step: {step}), "
                    f"even with {workers}; no worker count feeds them, so a local step stretches to "
                    f"{span(bb['t_local'])} and the fleet 3D optimum's configuration (not re-optimised) "
                    f"{target_change(bb, b)}")
            pace = (f"Here the input pipeline sets the fleet's pace: the local step waits for its {bn} stage, "
                    f"so a round takes {instead(bb['round_time'], b['round_time'])} and {rounds_change(bb, b)}.")
        figures["fleet_local_step_starved_s"] = Figure(bb["t_local"], "s", f"local step of one {dev}, starved")
    share = res.tables.at("selected", index(res))  # the share of rounds a device takes part in (1 in gossip)
    need_day = bb["rounds_per_day"] * share * bb["local_steps"] * mb
    head += f"; each {dev} takes {num(need_day)} samples a day from its own sensor."
    figures["fleet_samples_per_day"] = Figure(need_day, "samples", f"samples a day per {dev}")
    steps = plural(bb["local_steps"], "local step")
    inside = (f"Inside one {dev} its one core prepares and trains in turn (they cannot overlap), while ingest (the "
              f"sensor's DMA) runs alongside: {gauge}, so throughput = {rule} = {rate(x)}. " if shared else
              f"Inside one {dev} the three stages run as a prefetching pipeline at the slowest one's rate: {gauge}, so "
              f"throughput = {rate(x)}. ")
    why = (f"A second {dev} brings its own CPU and its own data, so it never shares this pipeline: the datacenter "
           f"question (one CPU feeding several accelerators) does not arise, and the lab's figures for a second {dev} "
           f"below answer it only as posed, for a CPU no {dev} has. " + inside +
           f"{pace} The fleet runs {num(bb['rounds_per_day'])} rounds a day, each {dev} taking part in "
           f"{pct(share)} of them with {steps} of {plural(mb, 'sample')}: {num(need_day)} samples a day.")
    q = f"On the fleet: do the CPU and storage of {a_word(dev)} keep up with its local steps?"
    return View(head, [Finding(q, why)], figures, constraints=constraints, status=status, fleet=fleet,
                fleet_note=note, extra={"pipeline": {"rates": rates, "throughput": x, "feeds": feeds, "workers": w,
                                                "max_workers": inst.max_workers}})


def rate(x: float) -> str:
    return f"{num(x)} samples/s"


def fleet_workers(inst: Any) -> tuple[int, bool]:
    """(workers, feeds) of one fleet device's pipeline: the fewest of its workers that feed its own local steps by
    the puzzle's integer constraints (explorer.puzzles.dataloader.fed, the test the balance point is found with), and
    True; when none does, all of them and False. The fewest, as the balance point counts them: the gauge, the figures
    and the answer's configuration then describe one configuration (6 workers' 240 samples/s on edge in the headline
    beside the gauge's 4 workers' 160 was two)."""
    from explorer.cost import input_pipeline as ip
    from explorer.puzzles.dataloader import fed

    start = max(1, min(inst.max_workers, ip.workers_to_feed(1, inst.compute_s, inst.augment_s)) - 1)
    for w in range(start, inst.max_workers + 1):  # from one below ceil(aug / compute): the integer test rounds in ns
        if all(fed(inst, w, 1).values()):
            return w, True
    return inst.max_workers, False


def every_worker(n: int, its: str = "") -> str:
    """'its one worker', 'both of its workers', 'all 6 of its workers' ('all' only for three or more)."""
    if n == 1:
        return f"{its}one worker" if its else "one worker"
    return f"both of {its}workers" if n == 2 else f"all {n} of {its}workers"


def of_workers(w: int, total: int) -> str:
    """How many of the device's workers a figure is for: '4 of its 6 workers', or every_worker's words."""
    return every_worker(total, "its ") if w == total else f"{w} of its {total} workers"


def worker_words(w: int, total: int, feeds: bool) -> str:
    """The gauge's worker clause: the count it is for and, when it feeds the local steps, that it is the fewest."""
    return of_workers(w, total) + (", the fewest that keep up" if feeds and total > 1 else "")


def _span_sig(seconds: float, sig: int) -> str:
    """fleet3d.report.span (s, min, h or days, by the same limits) with `sig` significant digits."""
    for limit, scale, unit in ((120, 1, "s"), (7200, 60, "min"), (2 * fm.SECONDS_PER_DAY, 3600, "h")):
        if seconds < limit:
            return f"{num(seconds / scale, sig)} {unit}"
    return f"{num(seconds / fm.SECONDS_PER_DAY, sig)} days"


def instead(new_s: float, old_s: float) -> str:
    """'30.7 s instead of 30.6 s', '25.625 h instead of 25.616 h': two durations with the fewest significant digits
    (3 to 6) that tell them apart; 'the same 30.6 s' when even six do not."""
    for sig in range(3, 7):
        a, b = _span_sig(new_s, sig), _span_sig(old_s, sig)
        if a != b:
            return f"{a} instead of {b}"
    return f"the same {span(old_s)}"


NEGLIGIBLE = 1e-3  # a change below 0.1 % is called no measurable change: the fleet model's inputs are not that exact


def target_change(new: dict, old: dict) -> str:
    """What a slower local step does to the time to the target of the optimum's configuration, as a clause after
    'that configuration': 'reaches the target in 26.2 h instead of 25.6 h', or, below NEGLIGIBLE, 'reaches the
    target with no measurable change: 25.6 h either way (...)' with the change and its cause. When the rounds a day
    stay (an energy budget, not the window, caps them), only the last day's rounds run later:
    T = (ceil(R / f) - 1) days + (R - (ceil(R / f) - 1) f) x D (explorer.cost.federated.time_to_target_s), so a
    0.57% longer round moved 25.6 h by 33 s on tiny."""
    import math

    d_new, d_old = new["days"], old["days"]
    if abs(d_new - d_old) >= NEGLIGIBLE * d_old:
        return f"reaches the target in {instead(d_new * fm.SECONDS_PER_DAY, d_old * fm.SECONDS_PER_DAY)}"
    delta = (d_new - d_old) * fm.SECONDS_PER_DAY
    change = f"{span(abs(delta))} {'later' if delta >= 0 else 'sooner'}, {pct(abs(d_new / d_old - 1))}"
    f, r = old["rounds_per_day"], old["rounds"]
    if _capped(new, old) and r > f:
        last = r - (math.ceil(r / f) - 1) * f
        change += (f": its {old['binding']}, not the round time, caps the rounds a day at {num(f)} either way, so "
                   f"only the last day's {num(last)} rounds finish later")
    return f"reaches the target with no measurable change: {days(d_old)} either way ({change})"


def rounds_change(new: dict, old: dict) -> str:
    """'the fleet runs 1,680 rounds a day instead of 1,780', or, when they stay within NEGLIGIBLE, that they do and
    what caps them (an energy budget prices a round's joules, which a waiting accelerator does not change)."""
    f_new, f_old = new["rounds_per_day"], old["rounds_per_day"]
    if abs(f_new - f_old) > NEGLIGIBLE * f_old:
        return f"the fleet runs {num(f_new)} rounds a day instead of {num(f_old)}"
    why = f" (its {old['binding']} caps them, not the round time)" if _capped(new, old) else ""
    return f"the fleet still runs {num(f_old)} rounds a day{why}"


def _capped(new: dict, old: dict) -> bool:
    """True when the round is measurably longer yet the rounds a day stay: something else than the round time (an
    energy budget: explorer.cost.federated.rounds_per_day) caps them, the same in both."""
    f = old["rounds_per_day"]
    return (abs(new["rounds_per_day"] - f) <= NEGLIGIBLE * f and new["binding"] == old["binding"]
            and new["round_time"] > old["round_time"] * (1 + NEGLIGIBLE))


def _target_mfu(rep) -> float:
    from explorer.puzzles.training_scenario import scenario

    return rep.scenario.get("target_mfu") or scenario(rep.track).target_mfu


# the batch options (explorer/cli/solve_batch.py) that set only the lab's question on a fleet, by their flag
BATCH_FLAGS = {"critical_batch": "--critical-batch", "batch": "--batch", "network_headroom": "--network-headroom",
               "loss_scaling": "--loss-scaling"}


def _lab_only(given: dict | None, noise_batch: float) -> tuple[str, bool]:
    """The options a caller set that the fleet answer does not take, as a clause for its headline, and whether a
    critical batch other than the fleet's B_noise is among them. The fleet 3D optimum is solved at the track's
    B_noise (explorer/puzzles/fleet3d.solve_fleet takes no other), with no batch cap, no network headroom and no
    loss scaling (its local steps are the track's precision): these set the lab's question as posed, below."""
    g = dict(given or {})
    if g.get("loss_scaling") == "dynamic":  # the CLI's default, always passed
        g.pop("loss_scaling")
    other_crit = "critical_batch" in g and abs(float(g["critical_batch"]) - noise_batch) > 1e-9 * noise_batch
    if "critical_batch" in g and not other_crit:
        g.pop("critical_batch")  # the fleet's own B_noise: nothing to say
    flags = [f"{flag} {num(g[key])}" if key == "critical_batch" else flag for key, flag in BATCH_FLAGS.items()
             if key in g]
    if not flags:
        return "", False
    said = f"{', '.join(flags)} {'sets' if len(flags) == 1 else 'set'} only the lab's question as posed, below"
    return (f" (the track's, at which the fleet 3D optimum is solved; {said})" if other_crit else f" ({said})",
            other_crit)


def batch(rep, res, given: dict | None = None) -> View:
    scn, tb, b = res.scenario, res.tables, res.best
    dev = scn.track.device_word
    idx = index(res)
    nb = b["participants"] * b["micro_batch"]
    bn = scn.noise_batch
    lab_only, other_crit = _lab_only(given, bn)
    sync_share = b["t_sync"] / b["round_time"]
    compute = b["local_steps"] * b["t_local"] / b["round_time"]
    rows = []
    if b["tier"].graph == "server":
        for i, q in enumerate(scn.participation):
            f = fm.evaluate(tb, {**idx, "participation": i})
            rows.append([q, round(f["participants"], 1), round(f["participants"] * f["micro_batch"]),
                         round(f["rounds"]), round(f["days"], 4) if f["feasible"] else "infeasible"])
    h = b["local_steps"]
    head = (f"On the fleet a round averages n x b = {num(b['participants'])} x {b['micro_batch']} = {num(nb)} "
            f"samples per local step against the gradient noise scale B_noise = {num(bn)} samples{lab_only}; "
            f"with {h} local "
            f"step{'s' if h > 1 else ''} a round, the target in {days(b['days'])}. A round spends {pct(compute)} "
            "computing and "
            f"{pct(sync_share)} synchronising: the fleet's measure, not MFU.")
    why = (f"Past B_noise, more samples per step stop buying fewer steps (McCandlish et al. 2018, eq. 2.11); in the "
           f"Koloskova et al. 2020 bound the noise term B/(n b) is the only one more participants shrink. The fleet "
           f"3D optimum's {num(nb)} samples per step are {num(nb / bn)}x B_noise"
           + (", so more participants buy little" if nb >= bn else
              ", so more participants would still shrink the noise term, but the fleet's limits (radio, window, "
              f"energy) cap them at {num(b['participants'])}")
           + ("; the table shows the rounds and days by participation." if rows else ".")
           + f" The datacenter batch question (the {pct(_target_mfu(rep))} MFU target) has no fleet "
           f"meaning: MFU is the local step of one {dev}, and the fleet's time goes to the rounds' synchronisation "
           f"({pct(sync_share)} of a round, which replaces the network-utilisation limit), their deadline and the "
           "rounds a day its window and battery allow, which no batch size on one device fixes.")
    figures = {"fleet_round_batch": Figure(nb, "samples", "samples averaged per local step (n x b)"),
               "fleet_noise_batch": Figure(bn, "samples", "gradient noise scale B_noise (critical batch"
                                           + ("; the track's, the fleet 3D optimum's: not the one given)" if other_crit
                                              else ")")),
               "fleet_sync_share": Figure(sync_share, "fraction", "share of a round spent synchronising")}
    constraints = [Constraint("round memory per device", b["memory_device"], scn.memory_limit, "B")]
    if b["budget_j"] is not None:
        constraints.append(Constraint(f"training energy per {dev} per day", b["energy_day"], b["budget_j"], "J",
                                      binding=b["binding"] == "energy budget"))
    tables = {}
    if rows:
        # each row moves only the participation; the deadline, local steps, micro-batch and path stay the optimum's
        tables["fleet_participation"] = Table(["participation", "replicas per round", "n x b", "rounds",
                                               "days to target"], rows,
                                              f"Participation varied at the fleet 3D optimum (its other settings held; "
                                              f"its own participation {num(b['participation'])})")
    return View(head, [Finding("On the fleet: which batch, and what replaces the MFU target?", why)], figures,
                constraints=constraints, tables=tables, status="computed",
                drop_constraints=("MFU", "network utilisation", "critical batch"))
