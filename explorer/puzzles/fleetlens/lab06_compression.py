"""Lab 06's compression on a fleet: only the upload of a server round is compressed (the server broadcasts the
full model); gossip compresses what each device sends its neighbours (CHOCO-SGD, Koloskova et al. 2019); each level
is charged the convergence cost the compression puzzle measures, and priced in rounds a day and joules."""

from __future__ import annotations

import math

from explorer.cost import federated
from explorer.puzzles.fleet3d import model as fm
from explorer.puzzles.fleetlens.common import View, days, index, ratio_words, span
from explorer.report import Assumption, Figure, Finding, Table
from explorer.units import human_number as num
from explorer.units import plural


def compression(rep, res) -> View:
    scn, tb, b = res.scenario, res.tables, res.best
    dev = scn.track.device_word
    idx = index(res)
    n1 = rep.figures.get("steps_to_target_native")
    n2 = rep.figures.get("steps_to_target_1bit")
    # 1-bit's extra steps as the compression puzzle measured them; 0 steps there means 'not reached' (in a run too
    # short for 1-bit Adam to reach the target, e.g. steps=3): then 1-bit has no time to the target here either
    reached = not (n1 and n2 and n1.value and not n2.value)
    lossy = (n2.value / n1.value) if (n1 and n2 and n1.value and n2.value) else 1.0
    # 1-bit Adam runs its first `warmup` steps at full precision (Tang et al. 2021, Algorithm 1): the puzzle's run
    # reaches the target in n2 steps of which min(warmup, n2) are uncompressed; that share carries over to the
    # fleet's rounds (as the steps ratio does), and those rounds are priced at the uncompressed round
    warm = (getattr(rep, "scenario", None) or {}).get("warmup")
    warm_share = min(1.0, warm / n2.value) if (warm and n2 and n2.value) else 0.0
    full = fm.compressed_config(tb, idx, 1.0)  # the uncompressed round of the same configuration
    rows = []
    for c, name in zip(scn.compression, scn.compression_names):
        steps = lossy if c >= 16 else 1.0
        if c >= 16 and not reached:
            continue
        # the fleet model's own round, budgets and rounds a day for the compressed sync (fleet3d.model
        # compressed_config: D = max(device part, aggregator part), as the sync audit's battery table reads it)
        r = fm.compressed_config(tb, idx, float(c))
        d_round, e_round, f = r["round_time"], r["energy_round"], r["rounds_per_day"]
        rounds = federated.whole_rounds(b["rounds"] * steps)  # the measured extra steps, in whole rounds
        warm_rounds = min(rounds, math.ceil(rounds * warm_share - 1e-9)) if c >= 16 else 0
        secs = federated.time_to_target_phases_s([(warm_rounds, full["round_time"], full["rounds_per_day"]),
                                                  (rounds - warm_rounds, d_round, f)])
        rows.append({"name": name, "c": c, "round_s": d_round, "energy_round": e_round, "rounds": rounds,
                     "warm_rounds": warm_rounds, "rounds_per_day": f, "steps": steps,
                     "days": secs / fm.SECONDS_PER_DAY})
    base, top = rows[0], min(rows, key=lambda r: r["days"])
    unreached = "" if reached else _unreached_words(rep)
    server = b["tier"].graph == "server"
    who = b["tier"].busiest(dev)
    cost = (f"a round costs {who} (the first to run out of its budget) {num(top['energy_round'])} J instead of "
            f"{num(base['energy_round'])} J"
            if who else
            f"a round costs each {dev} {num(top['energy_round'])} J instead of {num(base['energy_round'])} J"
            if abs(top["energy_round"] - base["energy_round"]) > 1e-3 * base["energy_round"] else
            f"a round still costs each {dev} {num(top['energy_round'])} J (the {scn.partner_word or 'aggregator'} "
            "carries the sync)")
    what = ("upload" if server else "ring chunks" if b["tier"].graph == "ring_relayed" else "gossip messages")
    head = (f"On the fleet, compressing the {what} of the fleet 3D optimum's rounds "
            f"({b['tier'].short}): {top['name']} {ratio_words(base['days'], top['days'])} "
            f"({days(base['days'])} -> {days(top['days'])}) and {cost}.")
    why = ("; ".join(f"{r['name']}: round {span(r['round_s'])}, {num(r['energy_round'])} J, {num(r['rounds_per_day'])} "
                     f"rounds a day, target in {days(r['days'])}" for r in rows) + ". "
           + ("Only the upload shrinks: the aggregator broadcasts the full model, so even 1-bit uploads save at most "
              "half the radio bytes. " if server else
              ("Every chunk of the relayed ring travels compressed, in both its phases (reduce-scatter and "
               "all-gather), relays included. " if b["tier"].graph == "ring_relayed" else
               "Each earbud sends its neighbours a compressed model (CHOCO-SGD, Koloskova et al. 2019). "))
           + (_onebit_words(rows, lossy, n1, n2, warm, full) if reached else unreached + " ")
           + "8-bit is taken as lossless (assumption).")
    figures = {"fleet_compressed_days": Figure(top["days"], "days", f"time to the target with {top['name']}"),
               "fleet_compressed_energy_round_j": Figure(top["energy_round"], "J",
                                                         f"energy of a round per {dev}, {top['name']}")}
    table = Table(["update", "round (s)", f"J per round per {dev}" + (" (busiest)" if who else ""), "rounds/day",
                   "rounds", "of them uncompressed (warm-up)", "days to target"],
                  [[r["name"], round(r["round_s"], 2), round(r["energy_round"], 4), round(r["rounds_per_day"], 1),
                    round(r["rounds"]), round(r["warm_rounds"]), round(r["days"], 4)] for r in rows],
                  "Compression of the fleet 3D optimum's sync (round, joules and rounds a day: the compressed "
                  "round's; the warm-up rounds run at the uncompressed one)")
    assumptions = [Assumption(
        f"1-bit on the fleet: the {num(lossy)}x steps to the target and the full-precision warm-up's share of them "
        "are the compression puzzle's (below): 1-bit Adam on one synchronous job in which every worker takes part in "
        "every step (Tang et al. 2021, a datacenter result). They are carried over to FedAvg rounds with partial "
        "participation, H local steps and a deadline as an assumption: no measurement of 1-bit updates under client "
        "sampling is used, and error feedback there keeps a residual on each device between the rounds it joins.",
        "explorer/puzzles/compression/ (seeded experiment); Tang et al. 2021 (ICML), Algorithm 1")] \
        if reached and n1 and n2 and n1.value else []
    return View(head, [Finding("On the fleet: what does compressing the sync buy in rounds, days and joules?", why)],
                figures, tables={"fleet_compression": table}, assumptions=assumptions)


def _onebit_words(rows: list[dict], lossy: float, n1, n2, warm: int | None, full: dict) -> str:
    """How the 1-bit row was priced: its extra steps and its full-precision warm-up rounds at the uncompressed
    round (federated.time_to_target_phases_s), worded from the step and round counts (equal counts said as equal, a
    count of one in the singular, no 'the other 0')."""
    one = next((r for r in rows if r["c"] >= 16), None)
    if one is None:
        return ""
    if not (n1 and n2 and n1.value and n2.value):  # no measured run at hand: every update taken as lossless
        return "1-bit with error feedback is taken as lossless here (no measured run to charge it); "
    s1, s2 = int(n1.value), int(n2.value)
    if s2 == s1:
        text = (f"1-bit with error feedback reaches the target in as many steps as native precision in the "
                f"compression puzzle's run below ({plural(s2, 'step')} each), so it is charged no extra rounds: "
                f"{plural(int(one['rounds']), 'round')}")
    else:
        text = (f"1-bit with error feedback is charged the {num(lossy)}x steps the compression puzzle measures "
                f"below ({plural(s2, 'step')} to the target against {s1:,} at native precision): "
                f"{plural(int(one['rounds']), 'round')}")
    w, total = int(one["warm_rounds"]), int(one["rounds"])
    warm_steps = min(int(warm or 0), s2)
    at_full = (f"run at the uncompressed round ({span(full['round_time'])}, {num(full['rounds_per_day'])} a day)")
    if w >= total:
        text += (f", all inside its full-precision warm-up (the run reaches the target at step {s2:,}, within its "
                 f"{plural(int(warm or 0), 'step')} of warm-up), so every one of them is {at_full}")
    elif w > 0:
        first = "the first round is" if w == 1 else f"the first {w:,} are"
        steps_there = "its first step" if warm_steps == 1 else f"its first {warm_steps:,} steps"
        text += (f", of which {first} its full-precision warm-up ({steps_there} of the {s2:,} there) and {at_full}, "
                 f"the other {plural(total - w, 'round')} at {span(one['round_s'])}")
    return text + "; "


def _default_warmup_reach(rep) -> tuple[int, int | None] | None:
    """(the default warm-up, the step at which 1-bit Adam with error feedback reaches the target with it): the
    compression puzzle's own experiment re-run with every option the run was given but --warmup (its make_instance
    and measure, so the problem, the precision of the warm-up and the target are the puzzle's), or None where the run
    already used the default warm-up or its options are not at hand."""
    from explorer.puzzles.compression.model import measure
    from explorer.puzzles.compression.scenario import make_instance

    sc = getattr(rep, "scenario", None) or {}
    if not all(sc.get(k) is not None for k in ("warmup", "steps", "workers", "seed", "topk_ratio")):
        return None
    inst = make_instance(rep.track, topk_ratio=sc["topk_ratio"], workers=sc["workers"], steps=sc["steps"],
                         seed=sc["seed"])
    if inst.warm == sc["warmup"]:
        return None
    return inst.warm, measure(inst).reach["onebit"]


def _unreached_words(rep) -> str:
    """Why 1-bit has no time to the target on the fleet, worded from the compression puzzle's figures: where the
    run's warm-up was not the default, the same run at the default warm-up says whether the short (or long) warm-up
    or the run's length is the cause."""
    sc = getattr(rep, "scenario", None) or {}
    warm, steps = sc.get("warmup"), sc.get("steps")
    target, final = rep.figures.get("target_loss"), rep.figures.get("final_loss_1bit")
    parts = [plural(int(steps), "step")] if steps else []
    if target is not None and final is not None:
        t, f = _apart(float(target.value), float(final.value))
        parts.append(f"target loss {t}, it ends at {f}")
    text = ("1-bit with error feedback did not reach the target within the compression puzzle's simulated run below"
            + (f" ({'; '.join(parts)})" if parts else "") + ", so it has no time to the target here")
    other = _default_warmup_reach(rep)
    if other is None:
        return text + "; a longer run (--steps) tells."
    default, reach = other
    given = f"its full-precision warm-up of {plural(int(warm), 'step')} (--warmup)"
    if reach is not None:
        return (text + f". The cause is {given}, not the run's length: the same run at the default warm-up of "
                f"{plural(default, 'step')} reaches the target at step {reach:,}.")
    return (text + f". The same run at the default warm-up of {plural(default, 'step')} does not reach it either, so "
            "the warm-up is not the cause: a longer run (--steps) tells.")


def _apart(a: float, b: float) -> tuple[str, str]:
    """Two figures in prose with the fewest significant digits (3 to 6) that tell them apart: a loss just above its
    target reads 0.3263 against 0.3260, not 0.326 against 0.326."""
    for sig in range(3, 7):
        x, y = num(a, sig), num(b, sig)
        if x != y:
            return x, y
    return num(a, 6), num(b, 6)
