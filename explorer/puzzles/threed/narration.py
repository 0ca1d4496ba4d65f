"""The words of the 3D puzzle's Report: why the optimum beats the crisis configuration (or what rules the crisis
out), whether the memory and bubble limits bind, whether the optimum is proven and cross-checked, whether
--recompute-every acted, and the lab's questions answered (report.py assembles them)."""

from __future__ import annotations

from explorer.cost import memory as mem
from explorer.puzzles.threed.feasibility import config_of as _cfg
from explorer.report import Finding
from explorer.units import human_bytes as hbytes
from explorer.units import human_percent as pct
from explorer.units import human_step as hstep
from explorer.units import plural

# The parts of a step time (StepEstimate.time keys) as a reader names them.
TIME_PART_NAMES = {"compute": "compute", "bubble": "pipeline bubble", "tp_comm": "tensor-parallel communication",
                   "cp_comm": "context-parallel communication", "pp_comm": "pipeline send/receive",
                   "dp_exposed": "exposed data-parallel sync", "optimizer": "optimizer step"}


def _part(key: str) -> str:
    return TIME_PART_NAMES.get(key, key.replace("_", " "))


def _crisis_ruled_out(res) -> tuple[list[str], list[str], list[str]]:
    """Why the crisis configuration is not a plan of this search: (the user's pins it does not meet, the other rules
    of the search it breaks, the limits it breaks), each as a reader would name it ('--fix cp=32 (the crisis runs
    CP = 1)', 'bubble 30.4% > 10% by 20.4 points'). All empty when the crisis is a feasible plan of this search."""
    from explorer.puzzles.threed.feasibility import ATTEMPT_LABELS, check_configuration
    from explorer.puzzles.threed.space import FIXABLE_SPACE

    inst, cfg = res.instance, _cfg(res.crisis.plan)
    chk = check_configuration(inst, cfg)

    def same(name: str, want) -> bool:
        have = cfg[name]
        return bool(have) == bool(want) if isinstance(have, bool) else have == want

    pins, pinned = [], set()
    for name in FIXABLE_SPACE:
        label, have = ATTEMPT_LABELS[name], cfg[name]
        shown = ("yes" if have else "no") if isinstance(have, bool) else have
        if name in inst.fix and not same(name, inst.fix[name]):
            pins.append(f"--fix {name}={inst.fix[name]} (the crisis runs {label} = {shown})")
            pinned.add(label)
        elif name in inst.allow and not any(same(name, x) for x in inst.allow[name]):
            pins.append(f"allow {name}={','.join(map(str, inst.allow[name]))} (the crisis runs {label} = {shown})")
            pinned.add(label)
    # values outside the search box that no pin explains, and structural rules it breaks here
    rules = [t for t in chk.outside if not any(t.startswith(f"{label} = ") for label in pinned)]
    rules += [v.text for v in chk.violations if v.sense == "=="]
    limits = [v.text for v in chk.violations if v.sense != "=="]
    return pins, rules, limits


def _slower_because(res) -> str:
    """Why the answer is slower per step than a crisis configuration that fits (the headline's clause)."""
    pins, rules, limits = _crisis_ruled_out(res)
    parts = ([" and ".join(pins)] if pins else []) + (
        [f"the search's rule{'s' if len(rules) > 1 else ''} the crisis breaks ({'; '.join(rules)})"] if rules
        else []) + ([f"the limit{'s' if len(limits) > 1 else ''} the crisis breaks ({'; '.join(limits)})"]
                    if limits else [])
    if parts:
        return "the price of " + " and of ".join(parts)
    if res.status != "optimal":  # a feasible crisis faster than the answer: the solver stopped before finding better
        return "though the crisis meets every limit here: CP-SAT stopped at its time limit before finding better"
    return "though the crisis meets every limit here (please report this)"  # a proven optimum cannot be slower


def _why(res) -> list[Finding]:
    b, bind = res.best, res.binding or {}
    proven = res.status == "optimal"
    it = "the optimum" if proven else "this configuration"  # "the optimum" only for a proven one
    out = []
    if res.crisis:
        c = res.crisis
        # positive: time the answer saves on that part
        diffs = sorted(((c.time[k] - b.time[k]), k) for k in b.time)
        # parts whose difference rounds to nothing at the printed precision are left out (no "-0.000 s")
        gains = ", ".join(f"{_part(k)} {d:+.3f} s" for d, k in reversed(diffs) if round(d, 3) != 0) or (
            "no part differs by 0.001 s or more")
        faster = c.step_time_s > b.step_time_s
        question = ("How does this configuration (not proven optimal) compare with the crisis configuration?"
                    if not proven else "Why does the optimum beat the crisis configuration?" if faster else
                    "Why is the optimum slower per step than the crisis configuration?")
        out.append(Finding(question,
                           f"Step {hstep(c.step_time_s)} -> {hstep(b.step_time_s)} "
                           f"({c.step_time_s / b.step_time_s:.2f}x"
                           + ("" if faster else ", slower: the crisis configuration does not fit"
                              if not c.fits_in_memory else f", slower: {_slower_because(res)}") + "); "
                           f"time saved per part (negative: {it} spends more there): {gains}. "
                           f"Bubble {c.bubble_fraction:.1%} -> {b.bubble_fraction:.1%}."))
    if bind and not bind.get("analysed"):  # the what-if run was skipped: neither limit was judged
        inst = res.instance
        why = bind.get("reason") or "the what-if enumeration was not run"
        out.append(Finding(
            "Do the memory and bubble limits bind?",
            f"Not judged: the {why}, so the solver did not re-solve with each limit lifted"
            + ("" if proven else " (and this configuration is not proven optimal)")
            + f"; here it uses {hbytes(b.memory_total)} of {hbytes(inst.limit)} and a bubble of "
              f"{pct(b.bubble_fraction)} of {pct(float(inst.max_bubble))}, which the constraints table marks "
              "not judged. A smaller scenario (fewer GPUs, or --fix/allow narrowing "
              "the space) gets the analysis."))
    for name, label in (("memory", "the memory limit"), ("bubble", "the bubble limit")):
        info = bind.get(name)
        if not info:
            continue
        if not proven:
            used = (f"{hbytes(b.memory_total)} of {hbytes(res.instance.limit)}" if name == "memory" else
                    f"{pct(b.bubble_fraction)} of {pct(float(res.instance.max_bubble))}")
            out.append(Finding(f"Does {label} bind?",
                               f"Not judged: this configuration is not proven optimal (CP-SAT stopped at its time "
                               f"limit), so what lifting the limit would allow says nothing about it; here it uses "
                               f"{used}."))
        elif info.get("binds"):
            out.append(Finding(f"Does {label} bind?",
                               f"Yes: without it the best would be {info['plan']} at MFU {info['mfu']:.1%} "
                               f"(step {hstep(info['step_time_s'])}, {hbytes(info['memory_gb'] * 1e9, '.1f')}, bubble "
                               f"{info['bubble_fraction']:.1%})."))
        else:
            out.append(Finding(f"Does {label} bind?", "No: lifting it would not allow a faster step."))
    cp = res.cpsat_unproven
    if bind.get("analysed") and cp is not None:  # the exhaustive search proved the optimum CP-SAT had not
        reach = ("which CP-SAT's plan reaches" if cp.step_time_s <= b.step_time_s * (1 + 1e-6) else
                 f"{cp.step_time_s / b.step_time_s - 1:.1%} faster than CP-SAT's plan: this report gives that "
                 "optimum")
        stopped = (f"CP-SAT found no configuration within its time limit, the construction heuristic gave "
                   f"{cp.plan.describe()}" if res.heuristic else
                   f"CP-SAT stopped at its time limit with {cp.plan.describe()}")
        if res.heuristic:
            reach = reach.replace("CP-SAT's plan", "the heuristic's plan")
        out.append(Finding("Is the optimum proven?",
                           f"Yes, by exhaustive search: {stopped} "
                           f"(step {hstep(cp.step_time_s, '.4f')}, MFU {pct(cp.mfu)}, not proven optimal); the "
                           f"exhaustive search scored every one of the {bind['evaluated']:,} valid configurations of "
                           f"the same design space ({bind['feasible']:,} meet the limits) and finds the best step "
                           f"{hstep(b.step_time_s, '.4f')}, {reach}."))
    elif bind.get("analysed"):
        ok = bind.get("cross_check_ok")
        faster = bind.get("exhaustive_best_step_s", b.step_time_s) < b.step_time_s
        # unproven and not agreeing: solve_instance proves the exhaustive best optimal where it is no slower than
        # CP-SAT's plan, so what is left here is a disagreement of the two engines, whichever is faster
        verdict = "agrees" if ok else (
            "finds a faster plan: CP-SAT stopped at its time limit before the proof" if not proven and faster
            else "DISAGREES (please report this)")
        out.append(Finding("Is the optimum cross-checked?" if proven else "Is the answer cross-checked?",
                           f"Exhaustive search over {bind['evaluated']:,} valid configurations "
                           f"({bind['feasible']:,} feasible) {verdict}: best step "
                           f"{hstep(bind.get('exhaustive_best_step_s', b.step_time_s), '.4f')}."))
    return out


def _recompute_every_finding(res) -> list[Finding]:
    """Whether recompute_every (--recompute-every k: full recompute of one layer in k, Setup.recompute_every) acted:
    it thins full recompute only, so under an answer that recomputes otherwise it changes nothing, and the report
    says so with the best plan that would have used it (ThreeDResult.recompute_every_unused)."""
    k = res.instance.setup.recompute_every
    if k == 1:
        return []
    question = f"Did --recompute-every {k} (full recompute of one layer in {k}) act?"
    it = "the optimum" if res.status == "optimal" else "this configuration"
    u = res.recompute_every_unused
    if u is None:
        return [Finding(question, f"Yes: {it} recomputes in full, one layer in {k}; the other layers keep all "
                                  "their activations.")]
    mode = {"none": "does not recompute", "selective": "recomputes selectively (attention only)"}.get(
        u["recompute"], f"recomputes {u['recompute']}")
    text = (f"No: {it} {mode}, and the option thins full recompute only, so it changes nothing here. The search "
            f"priced full recompute as one layer in {k}")
    if u.get("full_feasible") is False:
        text += ", and no plan with it meets the limits."
    elif u.get("full_feasible"):
        b = res.best
        text += (f"; its best plan, {u['plan']}, takes {hstep(u['step_time_s'])} a step (MFU {pct(u['mfu'])}), "
                 f"{u['step_time_s'] / b.step_time_s - 1:.1%} slower than {it}.")
    else:
        text += "; the design space is too large to enumerate its best plan."
    return [Finding(question, text + " --fix recompute=full forces it.")]


def _micro_batch_finding(res) -> list[Finding]:
    q = res.micro_batch_question
    if not q or "micro_batch" not in q["answer"]:
        return []
    a, c = q["answer"], res.crisis
    lo = min(q["sweep"], key=lambda r: r["mfu"])
    unproven = ("" if a.get("status", "optimal") == "optimal" else
                " (not proven optimal: CP-SAT stopped at its time limit)")
    return [Finding(
        "With the crisis shape pinned (--fix), which micro-batch change lifts MFU the most (the 'Jeff Dean' "
        "question)?",
        f"Micro-batch {a['micro_batch']} ({plural(a['num_micro_batches'], 'micro-batch')}){unproven}: MFU "
        f"{pct(a['mfu'])} against "
        f"{pct(c.mfu)} at the crisis micro-batch {c.plan.micro_batch}, and {pct(lo['mfu'])} at micro-batch "
        f"{lo['micro_batch']}. More, smaller micro-batches fill the pipeline: bubble {pct(c.bubble_fraction)} -> "
        f"{pct(a['bubble_fraction'])}; larger ones empty it (and need more activation memory).")]


def _lab_questions(res) -> list[Finding]:
    """'Does PP increase or decrease the cluster-wide weight memory?', computed."""
    b, s, n = res.best, res.instance.setup, res.instance.devices
    rows = []
    for pp in sorted({1, 2, 4, 8, 16, b.plan.pp}):
        tp = b.plan.tp
        if n % (tp * pp) or pp > s.model.layers:
            continue
        dp = n // (tp * pp)
        w, _, _ = mem.model_state_bytes(s, tp, pp, dp, 1, 0)
        per_dev = int(w)
        total = per_dev * n
        rows.append((pp, per_dev, total))
    if len(rows) < 2:
        return []
    txt = "; ".join(f"PP={p}: {hbytes(d)}/device, {hbytes(t)} in total" for p, d, t in rows)
    totals = [t for _, _, t in rows]
    # the word follows the totals as printed: equal in print is "stays the same", not "decreases"
    shown = [hbytes(t) for t in totals]
    trend = ("stays the same" if len(set(shown)) == 1 else
             "decreases" if all(x >= y for x, y in zip(totals, totals[1:])) else
             "increases" if all(x <= y for x, y in zip(totals, totals[1:])) else "changes unevenly")
    return [Finding(
        "Does PP increase or decrease the total memory footprint of the weights across the cluster?",
        f"At a fixed {n:,} devices and TP={b.plan.tp} (ZeRO-0), more PP means fewer data-parallel replicas, so the "
        f"cluster-wide weight memory {trend}: {txt}. Per device it falls as 1/(TP x PP); the end stages also "
        f"hold the embedding and output head, so it does not fall exactly in proportion.")]
