"""Text and JSON of a training plan (explorer/planner/run.py) and of a claim check: no physics here, only the figures
they computed, laid out to the terminal's width ($COLUMNS), else, into a file or a pipe, 100 columns for a plan (its
candidate table) and the common 80 for a check."""

from __future__ import annotations

from typing import Any

from explorer.planner.inputs import gpu_name, network_name
from explorer.planner.run import CANNOT_RUN, partial_node
from explorer.units import human_duration, human_large
from explorer.units import human_usd as _usd

# Into a file or a pipe a plan is 100 columns, not the 80 of every other command (reports/text.py DEFAULT_WIDTH):
# its candidate table (GPU, GPUs, network, MFU, goodput, time, cost, then the status and 3D plan) leaves the status
# column too narrow at 80, so the table turns into one 9-line record per candidate (13 candidates of the README's
# example: ~130 lines against ~45 as a table) and the candidates can no longer be compared down a column.
WIDTH = 100
CHECK_WIDTH = 80  # a claim check has no table: prose at the common width


def _wrap(text: str, indent: str = "  ", first: str | None = None, default: int = WIDTH) -> list[str]:
    from explorer.reports.text import terminal_width, wrap

    # the terminal's width ($COLUMNS) when there is one; `default` into a file or a pipe
    return (wrap(text, terminal_width(default), first=indent if first is None else first, rest=indent + "  ")
            or [indent])


def _wrap_check(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    """_wrap for a claim check: CHECK_WIDTH into a file or a pipe."""
    return _wrap(text, indent, first, CHECK_WIDTH)

DAY = 86400.0


def _days(s: float) -> str:
    d = s / DAY
    return f"{d:,.1f} d" if d >= 1 else f"{s / 3600:.1f} h"


def _cluster(c) -> str:
    """'8,192 x NVIDIA B200 (HGX B200) on InfiniBand NDR 400 Gb/s (per GPU)': a candidate's GPUs and network as prose
    names them (the catalog's names; the candidate table and JSON keep the keys b200, ib_ndr)."""
    return f"{c.gpus:,} x {gpu_name(c.gpu)} on {network_name(c.network)}"


def _fig(x: float) -> str:
    """A figure of a formula line, precise enough that the line adds up: one decimal from 10 up (1,145.5, 27,492.3),
    three significant digits below (2.43, 0.589, 0.0245), never '0'."""
    from explorer.units import human_number

    return f"{x:,.1f}" if x >= 10 else human_number(x, 3)


def model_line(p) -> str:
    m = p.model.model
    return (f"{m.name}: {m.params / 1e9:.2f}B parameters ({m.layers} layers, hidden {m.hidden}, {m.heads} heads, "
            f"{m.kv_heads} KV heads, FFN {m.ffn}, {m.mlp})")


def plan_dict(p) -> dict[str, Any]:
    a = p.assumptions
    return {
        "status": p.status, "plan_status": p.plan_status, "objective": p.objective, "model": p.model.model.name,
        "model_params": p.model.model.params, "model_source": p.model.note or p.model.model.source,
        "tokens": p.tokens, "global_batch": p.global_batch, "seq_len": p.seq_len,
        "steps": p.tokens / (p.global_batch * p.seq_len), "flops_per_token": p.flops_per_token,
        "deadline_days": None if p.deadline_s is None else p.deadline_s / DAY, "budget_usd": p.budget_usd,
        "notes": list(p.notes), "searched": p.searched(), "cost_basis": COST_BASIS,
        "best": p.best.to_dict() if p.best else None,
        "trust": p.trust(),
        "near_tie": _tie_dict(p.near_tie()),
        "best_per_gpu": {k: v.to_dict() for k, v in p.best_per_gpu().items()},
        "candidates": [c.to_dict() for c in p.candidates],
        "proofs": {"wall_time_s": p.proofs_s, **p.proof_counts()},
        "trade_off": {k: None if v is None else {"gpu": v.gpu, "gpus": v.gpus, "network": v.network,
                                                 "train_days": v.train_s / DAY, "usd": v.usd}
                      for k, v in p.trade_off().items()} if p.best is None else None,
        "assumptions": {
            "gpu_mtbf_hours": a.gpu_mtbf_hours, "failures_source": a.failure_source,
            "restart_s": a.restart_s, "storage_write_gb_per_s": a.storage_write_bps / 1e9,
            "node_write_gb_per_s": a.node_write_bps / 1e9, "checkpoint_source": a.checkpoint_source,
            "batch_source": a.batch_source,
            "prices": {k: {"usd_per_gpu_hour": v.usd_per_gpu_hour, "date": v.date, "source": v.source}
                       for k, v in a.prices.items() if k in p.gpu_types},
        },
    }


COST_BASIS = ("GPU rental: GPUs x hours x on-demand price per GPU-hour (explorer/data/training_run.toml), failed time "
              "included; the network, storage, power and staff are not priced")


def _tie_dict(tie: dict[str, Any] | None) -> dict[str, Any] | None:
    if tie is None:
        return None
    return {k: v for k, v in tie.items() if k != "candidate"} | {"usd": tie["candidate"].usd,
                                                                 "train_days": tie["candidate"].train_s / DAY}


def plan_text(p) -> str:
    a = p.assumptions
    steps = p.tokens / (p.global_batch * p.seq_len)
    cons = []
    if p.deadline_s is not None:
        cons.append(f"deadline {p.deadline_s / DAY:g} days")
    if p.budget_usd is not None:
        cons.append(f"budget {_usd(p.budget_usd)}")
    goal = "cheapest" if p.objective == "cost" else "fastest"
    out = _wrap(f"Plan: {human_large(p.tokens)} tokens of {model_line(p)}", "", "")
    out += _wrap(f"{steps:,.0f} steps of {p.global_batch:,} x {p.seq_len:,} tokens; {p.flops_per_token / 1e9:,.1f} "
                 f"GFLOP per token (6 x matmul weights + attention + logits, PaLM's count); {goal}"
                 + (f" within {' and '.join(cons)}" if cons else "")) + [""]
    out += _wrap(searched_line(p), "", "") + [""]
    for note in p.notes:
        out += _wrap(f"Note: {note}.", "", "")
    if p.notes:
        out.append("")
    if p.model.how == "params":
        out += _wrap(f"Shape from --params ({p.model.model.source.split(' from ')[0]}): {p.model.note.split('. ')[0]}",
                     "", "") + [""]
    out += _wrap("Candidates (cost: GPU rental at on-demand prices; status 'optimal': the plan is the proven 3D "
                 "optimum of the step model):", "", "")
    out += candidate_table(p).rstrip("\n").split("\n")
    out.append("")
    b = p.best
    if b is None:
        out += _wrap("No candidate meets the constraints" + (f" ({' and '.join(cons)})" if cons else "")
                     + "; see the reasons above.", "", "")
        trade = trade_off_line(p)
        if trade:
            out += _wrap(trade)
    else:
        e, g = b.result.best, b.goodput
        out += _wrap(f"Best ({goal}) of the {len(p.candidates)} candidate{'s' if len(p.candidates) > 1 else ''} "
                     f"tried: {_cluster(b)}: {_days(b.train_s)}, {_usd(b.usd)}"
                     + ("; its 3D plan proven optimal for that cluster" if b.status == "optimal" else
                        " (its 3D plan NOT proven optimal: time limit)"), "", "")
        if len(p.sizes) > 1:
            out += _wrap(f"the GPU count is the best of the {len(p.sizes)} sizes listed, not of every size: a size "
                         f"not listed was not tried and may be {'cheaper' if p.objective == 'cost' else 'faster'} "
                         "(--gpus lists sizes to try)")
        out += _wrap(f"plan {e.plan.describe()}: MFU {e.mfu:.1%}, step {e.step_time_s:.3g} s, "
                     f"{e.tokens_per_s:,.0f} tokens/s, {e.memory_total / 1e9:.1f} GB per GPU")
        out += _wrap(f"time = tokens / (tokens/s x goodput) = {p.tokens:,.0f} / ({e.tokens_per_s:,.0f} x "
                     f"{g.goodput:.4f}) = {b.train_s:,.0f} s = {_fig(b.train_s / DAY)} days")
        out += _wrap(f"cost (GPU rental, on-demand) = GPUs x hours x price = {b.gpus:,} x {_fig(b.train_s / 3600)} h x "
                     f"${b.usd_per_hour:.2f} = ${b.usd:,.0f}")
        part = partial_node(b)
        if part:
            out += _wrap(part)
        tie = p.near_tie()
        if tie:
            c = tie["candidate"]
            if p.objective == "cost":
                what = (f"costs {_usd(c.usd)}, {tie['objective_excess']:.2%} more, and takes {_days(c.train_s)} "
                        f"instead of {_days(b.train_s)} ({tie['other_gain']:.3g}x faster)")
            else:
                what = (f"takes {_days(c.train_s)}, {tie['objective_excess']:.2%} longer, and costs {_usd(c.usd)} "
                        f"instead of {_usd(b.usd)} ({tie['other_gain']:.3g}x cheaper)")
            out += _wrap(f"near tie: {_cluster(c)} {what}; the difference in "
                         f"{'cost' if p.objective == 'cost' else 'time'} is within the model's median miss of "
                         f"{tie['median_error']:.1%} on {tie['runs']:,} published runs"
                         + (f" ({tie['uncovered']}: its error on this plan's precision is unknown)"
                            if tie["uncovered"] else "") + ", so the model cannot tell them apart there. "
                         f"The objective stays {p.objective}; --objective "
                         f"{'time' if p.objective == 'cost' else 'cost'} or a --"
                         f"{'deadline-days' if p.objective == 'cost' else 'budget-usd'} weighs the "
                         f"{'time' if p.objective == 'cost' else 'cost'}")
        nets = {c.network for c in p.candidates if c.gpu == b.gpu and c.solved}
        if len(nets) > 1:
            out += _wrap(f"networks are not priced: {network_name(b.network)} is chosen on speed alone among "
                         f"{', '.join(network_name(n) for n in sorted(nets))}; what a slower, cheaper network "
                         "would save is not in the cost, so with --objective cost a faster network can only win")
        out += _wrap(f"goodput {g.goodput:.2%}: a failure every {human_duration(g.mtbf_s)} (MTBF "
                     f"{a.gpu_mtbf_hours:,.0f} GPU-hours / {b.gpus:,} GPUs); checkpoint write C = "
                     f"{human_duration(g.checkpoint_s)}; restart R = {human_duration(g.restart_s)} (incl. reading "
                     f"the checkpoint back); checkpoint every {human_duration(g.interval_s)} (the minimum of Daly "
                     f"2006's expected wall time; Young's sqrt(2CM) = {human_duration(g.young_s)})")
        per = p.best_per_gpu()
        if len(p.gpu_types) > 1:
            out += _wrap("best per GPU type: " + "; ".join(
                f"{gpu_name(k)}: {v.gpus:,} GPUs, {_days(v.train_s)}, {_usd(v.usd)}" for k, v in per.items())
                + "".join(f"; {gpu_name(k)}: none meets the constraints" for k in p.gpu_types if k not in per))
        out += ["", "How far to trust it:"]
        for line in trust_lines(p):
            out += _wrap(line)
    n = p.proof_counts()
    did = [f"{n['proven_optimal']} proven optimal"] + [
        text for k, text in (("proven_infeasible", "proven infeasible (no plan fits)"),
                             ("not_proven", "not proven (time limit)")) if n[k] for text in [f"{n[k]} {text}"]]
    refused = (f"; {n['refused_by_goodput']} of the plans found then refused: goodput below the floor (checkpoints "
               "against failures, reasons above)" if n["refused_by_goodput"] else "")
    out.append("")
    out += _wrap(f"Proofs: {p.proofs} CP-SAT solve{'s' if p.proofs != 1 else ''} ({', '.join(did)}) in "
                 f"{p.proofs_s:.1f} s{refused}; {n['skipped_by_bounds']} of {len(p.candidates)} candidates skipped "
                 f"by bounds that need no solve (memory even fully sharded; the deadline even at 100% MFU)"
                 + (f"; {n['cannot_run']} cannot run (reasons above)" if n["cannot_run"] else "") + ".", "", "")
    out += ["", "Assumptions:"]
    out += _wrap(f"failures: one per {a.gpu_mtbf_hours:,.0f} GPU-hours. {a.failure_source}")
    out += _wrap(f"checkpoints: weights + optimizer state; storage {a.storage_write_bps / 1e9:g} GB/s aggregate, "
                 f"{a.node_write_bps / 1e9:g} GB/s per node; restart {a.restart_s:g} s. {a.checkpoint_source}")
    out += _wrap(f"batch: {a.batch_source}")
    if p.model.how == "params":
        out += _wrap(f"shape: {p.model.model.source}")
    out += _wrap("cost: GPU rental, GPUs x hours x on-demand price per GPU-hour (the failed time too; a reservation "
                 "cuts 30-50% off the hourly rate: Mercatus, Cloud GPU pricing 2026); the network between nodes, "
                 "storage, power and staff carry no price, so a faster network can only lower the cost")
    for k in p.gpu_types:
        pr = a.prices.get(k)
        if pr:
            out += _wrap(f"price {gpu_name(k)}: ${pr.usd_per_gpu_hour:.2f}/GPU-hour"
                         + (f" ({pr.date})" if pr.date else "")
                         + f". {pr.source}")
    return "\n".join(out) + "\n"


def trade_off_line(p) -> str:
    """What the candidates costed offer when none meets the constraints: within the budget the fastest, within the
    deadline the cheapest (the trade-off between the two; where none is within one, the cheapest or the fastest of
    all); '' when none was costed or no constraint was given."""
    t = p.trade_off()

    def one(c) -> str:
        return f"{_cluster(c)}, {_days(c.train_s)} for {_usd(c.usd)}"

    if t["fastest"] is None:
        return ""
    parts = []
    if "fastest_within_budget" in t:
        c = t["fastest_within_budget"]
        parts.append(f"within the budget of {_usd(p.budget_usd)} the fastest is {one(c)}" if c else
                     f"none costed is within the budget of {_usd(p.budget_usd)} (the cheapest: {one(t['cheapest'])})")
    if "cheapest_within_deadline" in t:
        c = t["cheapest_within_deadline"]
        parts.append(f"within the deadline of {p.deadline_s / DAY:g} days the cheapest is {one(c)}" if c else
                     f"none costed is within the deadline of {p.deadline_s / DAY:g} days (the fastest: "
                     f"{one(t['fastest'])})")
    if not parts:  # no constraint: none costed at all would have returned above, so every plan was refused
        return ""
    return "Trade-off: " + "; ".join(parts) + "."


def searched_line(p) -> str:
    """Which GPU types, sizes and networks the plan tried, and which were defaults: the choice is the best of these
    candidates, nothing beyond them."""
    s = p.searched()
    d = s["defaults"]
    types = ", ".join(s["gpu_types"])
    types += " (the default: every GPU type with a price; --gpu to choose)" if "gpu" in d else ""
    sizes = s["sizes"]
    if "sizes" in d:
        span = f"{len(sizes)} sizes, {sizes[0]:,}-{sizes[-1]:,} GPUs in powers of two (the default; --gpus to choose)"
    elif len(sizes) <= 8:
        span = f"{len(sizes)} size{'s' if len(sizes) > 1 else ''} ({', '.join(f'{n:,}' for n in sizes)} GPUs)"
    else:
        span = f"{len(sizes)} sizes ({sizes[0]:,}, {sizes[1]:,}, ..., {sizes[-1]:,} GPUs)"
    if s["networks"]:
        nets = f"network{'s' if len(s['networks']) > 1 else ''} {', '.join(s['networks'])}"
    else:
        by: dict[str, list[str]] = {}
        for g, n in (s["node_networks"] or {}).items():
            by.setdefault(n, []).append(g)
        nets = ("each node's own network (" + "; ".join(f"{n} for {', '.join(gs)}" for n, gs in by.items())
                + "; --network to choose)")
    return (f"Searched: {types} x {span} x {nets} = {s['candidates']} candidate"
            f"{'s' if s['candidates'] != 1 else ''}.")


def trust_lines(p) -> list[str]:
    """The best candidate's accuracy (explorer.accuracy's lines: the published runs of its framework on its GPU family,
    an MFU above every comparable published run, the cost of scale), a size past the largest published run of its
    family, and the room the deadline and the budget leave against the model's stated error."""
    t = p.trust()
    b, err = p.best, t["model_error"]
    lines = [t["accuracy"]] + [t[k] for k in ("ceiling", "scale") if t[k]]
    big = t["largest_published_run"]
    if big is None:
        lines.append(f"Size: no published run on the {gpu_name(b.gpu)}'s GPU family is among the reference tables, "
                     "at any size.")
    elif b.gpus > big["gpus"]:
        lines.append(f"Size: {b.gpus:,} GPUs is {b.gpus / big['gpus']:.3g}x the largest published {big['family']} run "
                     f"the model is checked against ({big['gpus']:,} x {gpu_name(big['accelerator'])}, reference table "
                     f"{big['table']}; explore validate): beyond the validated range, the figures extrapolate.")
    for key, have, limit in (("deadline", _days(b.train_s), p.deadline_s and f"{p.deadline_s / DAY:g} days"),
                             ("budget", _usd(b.usd), p.budget_usd and _usd(p.budget_usd))):
        if key not in t["margins"]:
            continue
        m = t["margins"][key]
        head = f"{key.capitalize()}: {have} against {limit}, met with {m:.1%} to spare"
        runs = "" if err is None else f"{err['rows']:,} published run{'s' if err['rows'] > 1 else ''}"
        if err is None:
            lines.append(f"{head}; no published run checks the model here, so no stated error to set it against.")
        elif err["uncovered"]:
            lines.append(f"{head}; the model's misses there come from {runs}, and {err['uncovered']}, so nothing "
                         f"has checked this plan's speed: no stated error to set the margin against.")
        elif m < err["median"]:
            lines.append(f"{head}, less than the model's median miss of {err['median']:.1%} on {runs} (at most "
                         f"{err['max']:.1%}): a run as far off as the median one would miss the {key}.")
        elif m < err["max"]:
            lines.append(f"{head}: more than the model's median miss on {runs} ({err['median']:.1%}), less "
                         f"than its largest ({err['max']:.1%}).")
        else:
            lines.append(f"{head}: more than the model's largest miss on {runs} ({err['max']:.1%}).")
    return lines


CANDIDATE_COLUMNS = ("GPU", "GPUs", "network", "MFU", "goodput", "time", "cost", "status")


def candidate_rows(p) -> list[list[str | None]]:
    """One row per solved candidate (its status and plan in the last cell); a run of candidates skipped or
    infeasible for the same kind of reason on one GPU type and network, one row (its GPU counts a span)."""
    rows: list[list[str | None]] = []
    i, cs = 0, p.candidates
    while i < len(cs):
        c = cs[i]
        if c.solved:
            tag = "optimal" if c.status == "optimal" else "NOT proven (time limit)"
            tag += "" if c.meets else f", {c.reason}"
            rows.append([c.gpu, f"{c.gpus:,}", c.network, f"{c.result.best.mfu:.1%}", f"{c.goodput.goodput:.1%}",
                         _days(c.train_s), _usd(c.usd), f"{tag}: {c.result.best.plan.describe()}"])
            i += 1
            continue
        j = i
        kind = c.reason.split(":")[0]
        while (j + 1 < len(cs) and not cs[j + 1].solved and cs[j + 1].gpu == c.gpu and cs[j + 1].network == c.network
               and cs[j + 1].status == c.status and cs[j + 1].reason.split(":")[0] == kind):
            j += 1
        span = f"{c.gpus:,}" if j == i else f"{c.gpus:,}-{cs[j].gpus:,}"
        why = cs[j].reason if c.status in ("skipped", CANNOT_RUN) else c.reason
        rows.append([c.gpu, span, c.network, None, None, None, None, f"{c.status} ({why})"])
        i = j + 1
    return rows


def candidate_table(p, width: int | None = None) -> str:
    """The candidates as a table that fits the terminal (reports/text.py: cells wrap, and columns that cannot fit
    even wrapped turn into one block of lines per candidate), as every other command's tables."""
    from explorer.reports.text import TextDoc, terminal_width

    return TextDoc().table(CANDIDATE_COLUMNS, candidate_rows(p), indent=2).render(
        width if width is not None else terminal_width(WIDTH))


def check_text(r) -> str:
    m = r.model.model
    v = r.verdict
    out = _wrap_check(f"Claim check: {m.name} ({m.params / 1e9:.2f}B parameters) on {r.gpus:,} x {gpu_name(r.gpu)} "
                      f"({r.peak_flops / 1e12:,.1f} TFLOP/s dense {r.precision.upper()} peak each), "
                      f"sequences of {r.seq_len:,}", "", "")
    n_ne = m.params - m.embedding_params
    out += _wrap_check(f"FLOPs per token: 6N = 6 x {m.params:,} = {r.flops_6n / 1e9:,.1f} GFLOP, N all parameters as "
                       f"many write-ups count it (Kaplan et al. 2020's C ~ 6N takes N without the embedding: 6 x "
                       f"{n_ne:,} = {6 * n_ne / 1e9:,.1f} GFLOP); with attention and "
                       f"logits (the cost model's count) {r.flops_full / 1e9:,.1f} GFLOP")
    if r.model.how == "params":
        out += _wrap_check(f"shape from --params: {r.model.note}")
    out += ["", "Tests:"]
    for t in r.tests:
        out += _wrap_check(f"[{'ok' if t.ok else 'FAIL'}] {t.name} ({t.kind}): {t.arithmetic}")
    if not r.claims:
        out.append("  (no claim given: pass --tokens-per-s, --step-time, --mfu or --memory-gb)")
    b = r.bound
    if b.get("mfu") is not None:
        out += ["", *_wrap_check(f"Model bound on {r.gpus:,} x {gpu_name(r.gpu)} at global batch "
                                 f"{b['global_batch']:,}{_batch_origin(r, short=True)}: MFU "
                                 f"{b['mfu']:.1%}, {b['tokens_per_s_per_gpu']:,.0f} tokens/s per GPU ({b['plan']}; "
                                 f"{'proven optimal' if b['status'] == 'optimal' else 'not proven: time limit'})",
                                 "", "")]
    elif b.get("solved") is False:  # a memory floor proved no plan of the model fits: the solve was not run
        which = "the hardware test above" if r.verdict == "impossible" else "the memory test above: no offload"
        out += ["", *_wrap_check(f"Model bound: not solved: no plan of the cost model fits ({which})", "", "")]
    elif b.get("infeasible"):
        out += ["", *_wrap_check(f"Model bound: no plan fits ({b['infeasible']})", "", "")]
    elif b.get("no_answer"):
        out += ["", *_wrap_check(f"Model bound: none ({b['no_answer']}); raise --time-limit", "", "")]
    out += ["", *_wrap_check(f"Verdict: {v.upper()}: {verdict_reason(r)}.", "", "")]
    return "\n".join(out) + "\n"


def verdict_reason(r) -> str:
    """Why the verdict, in words that say only what was tested: agreement only where two claims were compared, the
    model's bounds only where they were computed."""
    one = len(r.claims) == 1
    the = "the claim" if one else "the claims"
    v = r.verdict
    if v == "impossible":
        hw = next(t for t in r.tests if not t.ok and t.kind == "hardware")
        return f"{the} cannot hold: {hw.failed}" if r.claims else hw.failed
    if v == "nothing to test":
        model = [t.failed for t in r.tests if not t.ok and t.kind == "model" and t.failed]
        return "no claim to test" + (f"; {'; '.join(model)}" if model else "")
    if v == "inconsistent":
        bad = [t for t in r.tests if not t.ok and t.kind == "arithmetic"]
        clash = [t for t in bad if t.compares]
        what = (["contradict each other"] if clash else []) + \
               ([("breaks" if one else "break") + " a hard limit"] if len(clash) < len(bad) else [])
        caveat = ("; the weights stay on the GPU unless streamed from host memory or NVMe (ZeRO-Infinity), which "
                  "the project does not model" if any(t.name == WEIGHTS_MEMORY for t in bad) else "")
        return f"{the} {' and '.join(what)} ({'; '.join(t.failed or t.name for t in bad)}){caveat}"
    if v == "beyond the model":
        # each failure in words that say it failed (a test's name reads as if it held: "a plan exists ...")
        model = [t for t in r.tests if not t.ok and t.kind == "model"]
        none = [t for t in model if t.name in (NO_PLAN, NO_OFFLOAD)]
        if none:  # the memory floor without offload says itself what offload would leave
            pessimistic = "" if none[0].name == NO_OFFLOAD else ", and the model may be pessimistic"
            return f"arithmetically possible, but {none[0].failed}{pessimistic}{_batch_origin(r)}"
        return (f"arithmetically possible, but better than any plan of the cost model{_gap_words(r)} "
                f"({'; '.join(t.failed or f'failed: {t.name}' for t in model)}){_batch_origin(r)}")
    arith = [t for t in r.tests if t.kind == "arithmetic"]
    did = []
    if any(t.compares for t in arith):
        did.append(f"agree with each other within {r.tolerance:.0%}")
    limits = [t.name for t in arith if not t.compares]
    if limits:
        did.append(f"{'respects' if one else 'respect'} the hard limits ({'; '.join(limits)})")
    if any(t.kind == "model" and t.name not in FLOORS for t in r.tests):  # the floors are tested without a bound
        did.append(f"{'lies' if one else 'lie'} within the model's bounds")
    text = f"{the} " + (", ".join(did[:-1]) + " and " + did[-1] if len(did) > 1 else did[0])
    if r.bound.get("no_answer"):
        text += "; not tested against the model: its bound was not found within the time limit"
    elif not r.bound:
        text += "; not tested against the model (--no-bound)"
    return text + _batch_origin(r)


def _gap_words(r) -> str:
    """How far a claimed MFU is above the model's proven optimum, against the model's stated error (its misses on
    published runs, explorer/data/reference/accuracy.json): within the median miss the model may well be
    pessimistic; within the largest it may be; beyond the largest the claim is more likely counted another way or
    wrong. ', which may be pessimistic' when no MFU was compared or no error is stated there."""
    ratio, err = r.implied.get("mfu_over_bound"), r.bound.get("model_error")
    if ratio is None or ratio <= 1 or err is None:
        return ", which may be pessimistic"
    if err["uncovered"]:
        return (f", which may be pessimistic: its {err['rows']} published runs on this GPU family do not check this "
                f"precision ({err['uncovered']})")
    gap = ratio - 1
    if gap <= err["median"]:
        return (f": {gap:.1%} above its proven optimum, within the model's median miss on published runs "
                f"({err['median']:.1%}), so the model may well be pessimistic here")
    if gap <= err["max"]:
        return (f": {gap:.1%} above its proven optimum, more than the model's median miss on published runs "
                f"({err['median']:.1%}) but within its largest ({err['max']:.1%}), so the model may be pessimistic")
    return (f": {ratio:.2f}x its proven optimum, far beyond the model's largest miss on published runs "
            f"({err['max']:.1%}), so more likely the claim counts FLOPs, GPUs or peak another way (a per-node figure "
            f"read per GPU, a sparse peak) or is mistaken than the model that pessimistic")


NO_PLAN = "a plan exists under the model"  # check.py's test names whose failure means no plan of the model fits
NO_OFFLOAD = "the model state, fully sharded, fits the GPU's memory without offload"
WEIGHTS_MEMORY = "memory >= the weights fully sharded"
FLOORS = (NO_OFFLOAD, "memory >= the model state fully sharded, without offload")  # model tests that need no solve


def _batch_origin(r, short: bool = False) -> str:
    """Where the bound's global batch came from, when the user did not give it (the verdict rests on it): the
    default, or the nearest multiple of the GPU count when no plan divides the default. '' when given, or when no
    bound was solved (the failure's own words already name a default that has no plan)."""
    b = r.bound
    if b.get("mfu") is None or b.get("global_batch_given", True):
        return ""
    d = b.get("default_batch")
    if d:
        if short:
            return (f" (the nearest multiple of the GPU count: the default {d['global_batch']:,} has no plan; "
                    f"--global-batch sets it)")
        return (f"; the model's bound is at global batch {b['global_batch']:,}, the nearest multiple of the "
                f"{r.gpus:,} GPUs, as the default of {d['global_batch']:,} sequences (--global-batch not given) has "
                f"no plan on them" + (" (no data-parallel degree divides it)" if "not divisible" in d["infeasible"]
                                      else ""))
    if short:
        return " (the default: --global-batch not given)"
    return (f"; the model's bound is at the default global batch of {b['global_batch']:,} sequences "
            f"(--global-batch not given)")
