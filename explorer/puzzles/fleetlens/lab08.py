"""Lab 08 on a fleet: memory, the input pipeline and the batch of federated rounds.

* memory: a fleet device has no ZeRO partner (its data-parallel peers are other people's devices, reached over
  the radio between rounds), so the state fits by what the device trains and where: the memory audit's cheapest
  changes on one device, and the fleet 3D optimum's split across the local link (glasses + phone, the two
  earbuds over NFMI) with frozen layers read from flash;
* dataloader: every device prepares its own samples on its own CPU from its own sensor: a second device
  brings its own CPU and its own data, and the race is inside one device (preparation against its local steps);
* batch: the batch a round averages is n x b per local step (on-time participants x micro-batch), against the
  gradient noise scale B_noise (McCandlish et al. 2018); the fleet is measured by its time to the target and
  joules, and MFU (one device's local step) is not its target.
"""

from __future__ import annotations

from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleetlens.common import View, days, index, span
from explorer.report import Constraint, Figure, Finding, Table
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as num
from explorer.units import human_percent as pct


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
           + {"none": f"a {dev} has one training SoC, and the whole state fits it",
              "pair": "the two earbuds of a pair over NFMI", }.get(scn.data["partner"], "the glasses and their phone")
           + f"). The fleet 3D optimum trains the top {b['trainable_layers']} of {scn.layers} layers: never fewer than "
           "one "
           "(a model with every layer frozen learns nothing but its head, so the audit never offers it on a fleet).")
    figures = {"fleet_memory_device": Figure(b["memory_device"], "B", f"memory per {dev} at the fleet 3D optimum"),
               "fleet_trainable_layers": Figure(b["trainable_layers"], "layers",
                                                "layers trained at the fleet 3D optimum")}
    if scn.partner_setup is not None:
        figures["fleet_memory_partner"] = Figure(b["memory_partner"], "B", f"memory on the {scn.partner_word}")
    return View(head, [Finding(f"On the fleet: how does the training state fit a {dev}?", why)], figures)


def dataloader(rep, res) -> View:
    from explorer.puzzles.dataloader import make_instance

    scn, b = res.scenario, res.best
    dev = scn.track.device_word
    inst = make_instance(scn.track.key)
    workers = inst.max_workers
    prep_rate = workers / inst.augment_s
    step_rate = b["micro_batch"] / b["t_local"]
    need_day = b["rounds_per_day"] * b["participation"] * b["local_steps"] * b["micro_batch"]
    busy = step_rate / prep_rate
    owner = dev + ("'" if dev.endswith("s") else "'s")
    head = (f"On the fleet every {dev} prepares its own samples: {num(prep_rate)} samples/s on its own CPU "
            f"({workers} worker{'s' if workers > 1 else ''}) against {num(step_rate)} samples/s its local steps eat: "
            + ("preparation keeps up" if busy <= 1 else "preparation is the bottleneck")
            + f" ({pct(min(busy, 1))} busy); a day of rounds takes {num(need_day)} samples from each {owner} own "
            "sensor.")
    why = (f"A second {dev} brings its own CPU and its own data, so it never shares this pipeline: the datacenter "
           f"question (one CPU feeding several accelerators) does not arise. Inside one {dev}, a local step of "
           f"{b['micro_batch']} samples takes {span(b['t_local'])} and preparing them "
           f"{span(b['micro_batch'] * inst.augment_s / workers)}"
           f"; the fleet 3D optimum runs {num(b['rounds_per_day'])} rounds a day, each {dev} taking part in "
           f"{pct(b['participation'])} of them with {b['local_steps']} local "
           f"step{'s' if b['local_steps'] > 1 else ''}: "
           f"{num(need_day)} samples a day. "
           "What the fleet's time to the target scales with is rounds and participants (lab 05 part 1's fleet "
           "form), not workers.")
    figures = {"fleet_prep_rate": Figure(prep_rate, "samples/s", f"preparation rate on one {dev}"),
               "fleet_step_rate": Figure(step_rate, "samples/s", f"samples/s one {dev}'s local steps eat"),
               "fleet_samples_per_day": Figure(need_day, "samples", f"samples a day per {dev}")}
    return View(head, [Finding(f"On the fleet: does a {dev}'s own CPU keep up with its local steps?", why)], figures)


def _target_mfu(rep) -> float:
    from explorer.puzzles.training_scenario import scenario

    return rep.scenario.get("target_mfu") or scenario(rep.track).target_mfu


def batch(rep, res) -> View:
    scn, tb, b = res.scenario, res.tables, res.best
    dev = scn.track.device_word
    idx = index(res)
    nb = b["participants"] * b["micro_batch"]
    bn = scn.noise_batch
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
            f"samples per local step against the gradient noise scale B_noise = {num(bn)} samples; with {h} local "
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
           f"meaning: MFU is one {dev}'s local step, and the fleet's time goes to the rounds' synchronisation "
           f"({pct(sync_share)} of a round, which replaces the network-utilisation limit), their deadline and the "
           "rounds a day its window and battery allow, which no batch size on one device fixes.")
    figures = {"fleet_round_batch": Figure(nb, "samples", "samples averaged per local step (n x b)"),
               "fleet_noise_batch": Figure(bn, "samples", "gradient noise scale B_noise (critical batch)"),
               "fleet_sync_share": Figure(sync_share, "fraction", "share of a round spent synchronising")}
    constraints = [Constraint("round memory per device", b["memory_device"], scn.memory_limit, "B")]
    if b["budget_j"] is not None:
        constraints.append(Constraint(f"training energy per {dev} per day", b["energy_day"], b["budget_j"], "J",
                                      binding=b["binding"] == "energy budget"))
    tables = {}
    if rows:
        tables["fleet_participation"] = Table(["participation", "replicas per round", "n x b", "rounds",
                                               "days to target"], rows, "The fleet 3D optimum by participation")
    return View(head, [Finding("On the fleet: which batch, and what replaces the MFU target?", why)], figures,
                constraints=constraints, tables=tables, status="computed",
                drop_constraints=("MFU", "network utilisation", "critical batch"))
