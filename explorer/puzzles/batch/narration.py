"""The words of the batch part: percentages, the lab's network premise, batch size 1, the Iron Law, where the
network limit can hold, the target against the answer, and the assumptions on the critical batch and on
16-bit storage precisions."""

from __future__ import annotations

from explorer.cost import convergence as conv
from explorer.puzzles.batch.model import _within_hard, step_losses, violations
from explorer.puzzles.batch.scenario import BatchInstance, critical_batch_samples
from explorer.puzzles.fleetlens import FLEET_TRACKS
from explorer.report import Assumption, Figure, Finding
from explorer.units import human_number, human_sci, plural


def _pct(x: float) -> str:
    return f"{human_number(100 * x)}%"


def _pct_under(x: float, limit: float) -> str:
    """x as a percentage with the digits that show it below limit (0.9498 against 95%: '94.98%', never '95%')."""
    for d in range(3, 8):
        text = f"{human_number(100 * x, d)}%"
        if x >= limit or float(text.rstrip("%").replace(",", "")) < 100 * limit:
            return text
    return f"{human_sci(100 * x, 6)}%"


def _network_floor(inst: BatchInstance, configs: list[dict], e: dict) -> str:
    """Where the network limit can hold, among configurations that meet the hard limits (memory, stability, the
    dataset and the batch cap): the smallest global batch that keeps it, against the critical batch; or, if none
    does, the least busy network found and whether the all-reduce outlasts the compute everywhere."""
    ok = [c for c in configs if _within_hard(inst, c)]
    net_ok = [c for c in ok if c["network_utilisation"] <= inst.headroom]
    if net_ok:
        c = min(net_ok, key=lambda c: (c["global_batch"], c["network_utilisation"]))
        other = (c["precision"], c["micro_batch"]) != (e["precision"], e["micro_batch"]) and "plan" not in c
        return (f"Within memory and stability limits the smallest global batch that keeps the network under "
                f"{_pct(inst.headroom)} is {c['global_batch']:,} ({c['precision']}, micro-batch {c['micro_batch']} x "
                f"{c['accumulation']}" + (f" on {c['plan'].describe()}" if "plan" in c else "")
                + f": {_pct_under(c['network_utilisation'], inst.headroom)} busy"
                + (f"; not the answer's {e['precision']}, micro-batch {e['micro_batch']}, whose accumulation sweep "
                   "is tabled below" if other else "") + "), "
                + (f"{human_number(c['global_batch'] / inst.b_crit, 2)}x the critical batch {inst.b_crit:,}."
                   if c["global_batch"] > inst.b_crit else f"within the critical batch {inst.b_crit:,}."))
    if not ok:
        return ""
    c = min(ok, key=lambda c: (c["network_utilisation"], c["global_batch"]))
    least = (f"the least busy within memory and stability limits is {_pct(c['network_utilisation'])}, at global batch "
             f"{c['global_batch']:,} ({c['precision']}, micro-batch {c['micro_batch']} x {c['accumulation']})")
    if all(x["comm_time"] > x["compute_time"] for x in ok):
        return (f"The gradient all-reduce outlasts the compute at every batch searched up to the dataset (at the "
                f"answer {human_number(e['comm_time'])} s against {human_number(e['compute_time'])} s; {least}): "
                f"synchronous data parallelism cannot keep this network under {_pct(inst.headroom)}.")
    return (f"No configuration within memory and stability limits keeps the network under {_pct(inst.headroom)}: "
            f"{least}.")


def _target_vs_answer(inst: BatchInstance, o: dict, e: dict) -> str:
    """The smallest batch that reaches the target (o, past the critical batch) against the answer (e, the highest
    throughput within the hard limits, itself breaking some limit): samples to the target loss (E/E_min), throughput
    and time to the target loss, each said the way the numbers go."""
    so, se = o["samples_multiplier"], e["samples_multiplier"]
    to, te = o["time_to_target"], e["time_to_target"]
    broken = [c.name for c in violations(inst, e, with_target=False)]
    answer = (f"Against the answer (global batch {e['global_batch']:,}, E/E_min {human_number(se)}"
              + (f", breaking {' and '.join(broken)}" if broken else "") + "),")
    fewer, sooner = so < se, to < te
    samples = ("more samples to the target loss" + (" (the MFU gained is paid back in extra samples)" if to >= te else
                                                    " (the MFU gained outweighs the extra samples)")
               if so > se else "fewer samples to the target loss" if fewer else "as many samples to the target loss")
    pace = f"runs at {human_number(o['samples_per_s'])} samples/s against {human_number(e['samples_per_s'])}"
    when = (f"{_pct(to / te - 1)} later" if to > te else f"{_pct(1 - to / te)} sooner" if sooner else "as soon")
    joint = " but " if (fewer and to > te) or (so > se and sooner) else " and "
    rule = ("the highest throughput within the hard limits (memory, stability, dataset), whatever else it breaks"
            if broken else "the highest throughput within every limit but the MFU target")
    return (f"{answer} this batch needs {samples}{joint}{pace}, so it reaches the target loss {when}. It is not the "
            f"answer because, with no configuration meeting every limit, the answer is {rule}.")


def _sync_words(dev: str, link: str, comm: float, exposed: float, step: float) -> str:
    """How the gradient all-reduce (comm seconds) meets a step (step seconds) of which `exposed` seconds wait for it,
    from the step's own breakdown (step_losses): hidden behind the backward pass only where the exposed part is
    negligible, none of it where nothing overlaps, else both parts with their seconds."""
    exposed = min(max(exposed, 0.0), comm)
    hidden = comm - exposed
    where = f"the data-parallel group's all-reduce runs over each {dev}'s own {link} link"
    if comm <= 0.0 or exposed <= 0.0005 * comm:
        return f"{where} and hides behind the backward pass"
    if hidden <= 0.0005 * comm:
        return f"{where} and none of it hides behind the backward pass: the step waits for all of it"
    return (f"{where}; the backward pass hides {human_number(hidden)} s of it and {human_number(exposed)} s are "
            f"exposed, {_pct(exposed / step)} of the step")


def _network_premise(inst: BatchInstance, cr: dict, e: dict) -> Finding:
    """The lab's premise: 'the network is 95% saturated' (the scenario's headroom, whatever limit the user set).
    Tested on the starting configuration and the answer; how much of the sync the step waits for and what the start
    loses, from its step's parts (step_losses), the exposed sync among them where it is one of the largest."""
    lab = inst.sc.network_headroom
    held = cr["network_utilisation"] >= lab
    from explorer.puzzles.threed.narration import TIME_PART_NAMES

    _, losses, _ = step_losses(inst, cr)
    step = cr["step_time"]
    names = {**TIME_PART_NAMES, "compute_below_peak": "compute below peak"}
    keys = [k for k, x in list(losses.items())[:2] if x >= 0.01 * step]
    top = [f"{names.get(k, k)} ({_pct(losses[k] / step)} of the step)" for k in keys]
    lost = f"what the starting configuration loses is {' and '.join(top)}"
    if not keys:
        why = "what it loses is compute efficiency, not the network"
    elif keys[0] == "dp_exposed":
        why = (f"{lost}: waiting for the network is the step's largest loss"
               + ("" if held else f", though the network is below the lab's {_pct(lab)}"))
    elif "dp_exposed" in keys:
        why = f"{lost}: waiting for the network is a loss, not the largest"
    else:
        why = f"{lost}, not the network"
    sync = _sync_words(inst.track.device_word, inst.track.cluster.inter.name.split(" (")[0], cr["comm_time"],
                       losses.get("dp_exposed", 0.0), step)
    given = ("" if inst.headroom == lab else
             f" Against the limit given (--network-headroom {_pct(inst.headroom)}) the starting configuration "
             + ("meets it." if cr["network_utilisation"] <= inst.headroom else "breaks it."))
    return Finding(
        f"Is the network {_pct(lab)} saturated, as the lab's story says?",
        ("Yes: at" if held else "No. At") + f" the starting configuration{_start_words(inst)} the gradient "
        f"synchronisation keeps the network {_pct(cr['network_utilisation'])} busy ({human_number(cr['comm_time'])} "
        f"s of a {human_number(step)} s step: {sync}); {why}." + given
        + f" The answer keeps it {_pct(e['network_utilisation'])} busy.")


def _start_words(inst: BatchInstance) -> str:
    """On a fleet track, which starting configuration this is (sweep A item 7): the lab's crisis plan run as one
    synchronous data-parallel job, a ring all-reduce over every device's radio every step, which is not the fleet
    3D storyboard's start (a round through the track's first path, explore solve 3d); both are named, with the
    storyboard's round, so the two figures are not read as one configuration priced two ways."""
    if inst.track.key not in FLEET_TRACKS:
        return ""
    from explorer.puzzles.fleetlens.common import optimum

    plan, dev = inst.track.crisis_plan, inst.track.device_word
    link = inst.track.cluster.inter.name.split(" (")[0]
    c = optimum(inst.track.key).crisis
    return (f" as the lab poses it (one synchronous job: data parallel over {plural(plan.dp, dev)}, a ring all-reduce "
            f"over {link} after every step; not the fleet 3D storyboard's start, a round of "
            f"{human_number(c['round_time'])} s, {c['tier'].short or c['tier'].name})")


def _batch_one(inst: BatchInstance, one: dict) -> Finding:
    """How efficient is batch size 1: the MFU and the largest loss of its step, named from the step's own parts."""
    from fractions import Fraction

    from explorer.puzzles.threed.narration import TIME_PART_NAMES

    t, plan = inst.track, inst.track.crisis_plan
    ideal, losses, bubble = step_losses(inst, one)
    step = one["step_time"]
    m = one["accumulation"]
    p, v = plan.pp, plan.virtual_stages
    recompute = inst.plan_choice.recompute != "none"

    def why(key: str) -> str:
        if key == "bubble":
            frac = Fraction(p - 1, v * m + p - 1)
            form = "(p - 1)/(m + p - 1)" if v == 1 else "(p - 1)/(v m + p - 1)"
            return (f"PP {p} with {plural(m, 'micro-batch')} per step leaves each stage idle {form} = "
                    f"{frac.numerator}/{frac.denominator} of the pipeline's time, the step model's bubble fraction "
                    f"{_pct(bubble)}")
        if key == "compute_below_peak":
            return (f"{human_number(one['compute_time'])} s of compute for {human_number(ideal)} s of model FLOPs at "
                    f"the {t.cluster.accelerator.name}'s peak: GEMMs of micro-batch 1 run below it"
                    + (f", and {inst.plan_choice.recompute} recomputation adds FLOPs MFU does not count"
                       if recompute else ""))
        if key == "dp_exposed":
            return (f"the gradient all-reduce ({human_number(one['comm_time'])} s, network "
                    f"{_pct(one['network_utilisation'])} busy) is paid every step and one micro-batch's backward "
                    "hides only part of it")
        return ""

    names = {**TIME_PART_NAMES, "compute_below_peak": "compute below peak"}
    shown = [(k, x) for k, x in losses.items() if x >= 0.005 * step]
    top, top_s = shown[0]
    rest = [f"{names.get(k, k)} {human_number(x)} s ({_pct(x / step)}" + (f"; {why(k)}" if why(k) else "") + ")"
            for k, x in shown[1:]]
    return Finding(
        "How efficient is batch size 1?",
        f"{t.workload.precision}, micro-batch 1, no accumulation: MFU {_pct(one['mfu'])}. Of its "
        f"{human_number(step)} s step, the model's FLOPs at peak would take {human_number(ideal)} s; the largest "
        f"loss is the {names.get(top, top)}, {human_number(top_s)} s ({_pct(top_s / step)} of the step)"
        + (f": {why(top)}" if why(top) else "") + "."
        + (f" Then {', '.join(rest)}." if rest else ""))


def _iron_law(inst: BatchInstance, e: dict, figures: dict[str, Figure]) -> Finding:
    """The answer's step on the Iron Law of ML systems, T = D_vol/BW + O/(R_peak eta) + L_lat, and which of the
    Data, Algorithm and Machine levers moved each term."""
    tm = e["time"]
    compute = tm["compute"]
    movement = tm["tp_comm"] + tm["cp_comm"] + tm["pp_comm"] + tm["dp_exposed"] + tm["optimizer"]
    fixed = tm["bubble"]
    step = e["step_time"]
    figures["iron_law_compute_s"] = Figure(compute, "s", "Iron Law: O / (R_peak eta), compute")
    figures["iron_law_data_movement_s"] = Figure(movement, "s", "Iron Law: D_vol / BW, data movement exposed")
    figures["iron_law_overhead_s"] = Figure(fixed, "s", "Iron Law: L_lat, pipeline fill and drain")
    plan = e["plan"]
    return Finding(
        "The Iron Law: where does the answer's step go, and which D, A, M lever moved each term?",
        f"T = D_vol/BW + O/(R_peak eta) + L_lat = {human_number(movement)} + {human_number(compute)} + "
        f"{human_number(fixed)} s = {human_number(step)} s per step (compute; tensor, context and pipeline sends, "
        f"exposed gradient sync and the optimizer pass over memory; the pipeline's fill and drain). Data: the global "
        f"batch ({e['global_batch']:,} samples) sets O per step and, against the critical batch, the samples to the "
        f"target (E/E_min = {human_number(e['samples_multiplier'])}). Algorithm: {e['precision']} keeps R_peak at "
        f"the dense 16-bit rate; {plural(e['accumulation'], 'accumulation step')} of micro-batch {e['micro_batch']} "
        f"amortise the sync. Machine: {plan.describe()} sets eta (GEMM sizes per GPU), D_vol (what crosses TP, CP, "
        f"PP and DP links) and L_lat (bubble {_pct(e['bubble'])}).")


def _config_words(c: dict) -> str:
    return (f"{c['precision']}, micro-batch {c['micro_batch']} x {c['accumulation']}"
            + (f" on {c['plan'].describe()}" if "plan" in c else ""))


def _b_crit_rounding(inst: BatchInstance) -> str:
    """How the whole-sample critical batch came from Kaplan et al.'s fit (empty where it was given in samples)."""
    sc = inst.sc
    if sc.critical_batch_samples is not None or inst.b_crit != critical_batch_samples(inst.track, sc):
        return ""
    exact = conv.kaplan_critical_batch_tokens(sc.critical_batch_loss_nats) / inst.track.workload.seq_len
    return (f"; {human_number(exact, 4)} samples of {inst.track.workload.seq_len:,} tokens, rounded down to the "
            "largest whole batch not above it, one rule for this part and the hierarchy's")


def _storage_precisions(inst: BatchInstance) -> list[Assumption]:
    """What a 16-bit precision means on a part with no 16-bit arithmetic (its catalog peak below its FP32 one, as
    the nRF52840's Cortex-M4F): a storage format, widened to FP32 as it is loaded; one line each."""
    acc = inst.track.cluster.accelerator
    fp32 = acc.peak_flops.get("fp32", 0.0)
    return [Assumption(f"{p.upper()} on the {acc.name} is a storage format, not an arithmetic: values are kept in "
                       f"{p.upper()} (half the bytes in memory and over the link) and widened to FP32 for every "
                       f"multiply-add, so an {p.upper()} step computes at {human_number(acc.peak_flops[p] / 1e6)} "
                       f"MFLOP/s peak against FP32's {human_number(fp32 / 1e6)}: it saves bytes, never time",
                       acc.source)
            for p in inst.precisions if p in ("fp16", "bf16") and 0.0 < acc.peak_flops.get(p, 0.0) < fp32]
