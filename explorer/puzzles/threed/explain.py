"""Why the 3D optimum wins: which constraints bind, why a puzzle is infeasible, and how a
student's attempt scores (violations with margins, the one change that helps most)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from explorer.cost.frameworks import framework_key
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.step import estimate
from explorer.errors import UsageError
from explorer.plan import ParallelPlan, check_zero_stage
from explorer.puzzles.threed import space as rules
from explorer.puzzles.threed.feasibility import check_configuration, percent_pair
from explorer.puzzles.threed.space import FRAMEWORK_CODES, Instance, Space, build_space, candidate_arrays
from explorer.report import Figure
from explorer.units import human_bytes, plural

EXPLAIN_MAX_SPACE = 50_000_000  # skip the what-if enumeration beyond this many raw combinations (staged generation
# keeps memory to the valid ones: 23 M raw combinations of the widest default box, 131,072 GPUs under --framework
# any, take 0.4 s and 200 MB)


def _plan_at(inst: Instance, cols: dict, i: int) -> ParallelPlan:
    from explorer.puzzles.threed.instance import plan_of

    return plan_of({k: cols[k][i] for k in cols}, inst.global_batch)


def binding_constraints(inst: Instance, res, en) -> dict[str, Any]:
    """What-if analysis on the exhaustive evaluation `en`: the best configuration with the memory
    limit lifted, with the bubble limit lifted, and with both; a limit binds when lifting it would
    allow a faster step. Also cross-checks the optimum against the exhaustive one."""
    c = en.columns
    best = res.best.step_time_s
    out: dict[str, Any] = {"analysed": True, "evaluated": en.evaluated, "feasible": en.feasible,
                           "enumeration_time_s": en.wall_time_s}
    if en.feasible:
        out["exhaustive_best_step_s"] = float(c["step_time"][0])
        out["cross_check_ok"] = bool(abs(float(c["step_time"][0]) - best) <= 1e-6 * best)
    for name, mask in (("memory", c["bubble_ok"]), ("bubble", c["fits"]), ("both", np.ones_like(c["fits"]))):
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        j = idx[np.argmin(c["step_time"][idx])]
        t = float(c["step_time"][j])
        if t < best * (1 - 1e-9):
            e = estimate(inst.setup, _plan_at(inst, c, j))
            out[name] = {"binds": True, "plan": e.plan.describe(), "step_time_s": e.step_time_s, "mfu": e.mfu,
                         "memory_gb": e.memory_total / 1e9, "bubble_fraction": e.bubble_fraction}
        else:
            out[name] = {"binds": False}
    return out


def explain_infeasible(inst: Instance, space: Space | None = None) -> tuple[str, list[str]]:
    """Name the constraints that conflict, with the numbers that show it."""
    space = space or build_space(inst)
    s, n, B = inst.setup, inst.devices, inst.global_batch
    shapes = [(t, c, p) for t in space.tp for c in space.cp for p in space.pp if n % (t * c * p) == 0]
    if not shapes:
        return (f"infeasible: no TP x CP x PP divides the {n} devices with TP in {space.tp}, CP in {space.cp}, "
                f"PP in {space.pp}", ["devices", "tp", "pp"])
    if space.size() > EXPLAIN_MAX_SPACE:  # too large to enumerate: say what was proved, and no more
        return (f"infeasible: no configuration meets memory ({human_bytes(inst.limit, '.3g')} usable), the "
                f"bubble limit ({float(inst.max_bubble):.1%}) and global batch {B} together; the design space of "
                f"{space.size():,} combinations is too large to name the conflicting pair",
                ["memory", "bubble", "global_batch"])
    cand = candidate_arrays(inst, space)
    if len(cand["tp"]) == 0:
        ruled_out = _framework_conflict(inst, space) or _overlap_conflict(inst, space)
        if ruled_out:
            return ruled_out
        dps = sorted({n // (t * c * p) for t, c, p in shapes})
        return (f"infeasible: the global batch {B} is not divisible by DP x micro-batch for any DP in "
                f"{dps[:8]}{'...' if len(dps) > 8 else ''} (DP x micro-batch x micro-batches = global batch)",
                ["global_batch", "devices"])
    from explorer.solvers.threed_enumerate import enumerate_space

    en = enumerate_space(inst, space, rules=rules)
    c = en.columns
    lim = inst.limit / 1e9
    if not c["fits"].any():
        j = int(np.argmin(c["memory_total"]))
        e = estimate(s, _plan_at(inst, c, j))
        hb = human_bytes  # in the unit that suits the device (KB on a hearable, GB on a GPU)
        parts = ", ".join(f"{k} {hb(v, '.3g')}" for k, v in e.memory.items())
        return (f"infeasible: memory per device vs the device count: even the smallest-footprint configuration "
                f"({e.plan.describe()}) needs {hb(e.memory_total, '.3g')} > {hb(inst.limit, '.3g')} usable "
                f"(by {hb(e.memory_total - inst.limit, '.3g')}; {parts}) on {plural(n, 'device')} of "
                f"{hb(s.cluster.accelerator.memory_bytes, '.3g')}",
                ["memory", "devices"])
    lim_f = float(inst.max_bubble)
    bub_all = (c["pp"] - 1) / (c["v"] * c["m"] + c["pp"] - 1)  # docs/conventions.md, the bubble fraction
    pipeline = _pipeline_pins(inst, space)
    if bub_all.min() > lim_f:  # no configuration meets the bubble limit, whatever its memory: the pins and the batch
        j = int(np.argmin(bub_all))
        shown, bound = percent_pair(float(bub_all[j]), lim_f)
        why = (f"; {' and '.join(pipeline)} force{'s' if len(pipeline) == 1 else ''} a pipeline (PP > 1), and a "
               "pipeline of P stages idles (P - 1)/(v m + P - 1) of the step under the 1F1B schedules modelled "
               "here" if pipeline else "")
        hint = ("; max-bubble 0 allows PP = 1 only (zero-bubble schedules are not modelled): drop the pin or "
                "raise --max-bubble" if lim_f == 0 and pipeline else
                "; raise --max-bubble or the global batch" + (", or lower the pinned PP" if pipeline else ""))
        return (f"infeasible: the bubble limit: every configuration needs a pipeline bubble of at least {shown} "
                f"(best: {_plan_at(inst, c, j).describe()}) > max-bubble {bound} with global batch {B}{why}{hint}",
                ["bubble", "global_batch"] + [p.split("=")[0].removeprefix("--fix ").removeprefix("allow ")
                                              for p in pipeline])
    fits = np.flatnonzero(c["fits"])
    bub = bub_all[fits]
    j = fits[int(np.argmin(bub))]
    shown, bound = percent_pair(float(bub.min()), lim_f)
    zero = " (max-bubble 0 allows PP = 1 only: zero-bubble schedules are not modelled)" if lim_f == 0 else ""
    return (f"infeasible: memory and bubble conflict: every configuration that fits in {lim:.1f} GB needs a "
            f"pipeline whose bubble is at least {shown} (best: {_plan_at(inst, c, j).describe()}) "
            f"> max-bubble {bound}{zero} with global batch {B}; raise --max-bubble or the "
            f"global batch, or add devices", ["memory", "bubble", "global_batch"])


def _framework_conflict(inst: Instance, space: Space) -> tuple[str, list[str]] | None:
    """Where the shapes, batch and interleaving rules leave configurations but no searched framework runs any of them
    with the ZeRO stage, PP, v, CP and HSDP the pins leave (Framework.why_not: Megatron-LM and DeepSpeed run no
    ZeRO-2/3 with PP, ...): the rule, the pins that meet it, and a framework that runs them if there is one.
    None where the framework rules are not what empties the space."""
    from dataclasses import replace

    from explorer.cost.frameworks import FRAMEWORKS, MEGATRON

    # Megatron-LM at ZeRO-0 without HSDP runs every PP, v and CP: what is left then is what the framework rules remove
    rel = candidate_arrays(inst, replace(space, zero=[0], fw=[MEGATRON.code], hsdp=[0]))
    if len(rel["tp"]) == 0:
        return None
    layouts = sorted({(int(p), int(v), int(c)) for p, v, c in zip(rel["pp"], rel["v"], rel["cp"])})
    searched = [f for f in FRAMEWORKS if f.code in space.fw]
    reasons: list[str] = []
    for f in searched:
        for z in space.zero:
            for h in space.hsdp:
                for p, v, c in layouts:
                    why = f.why_not(pp=p, v=v, cp=c, zero=z, hsdp=bool(h))
                    if why and why not in reasons:
                        reasons.append(why)
    if not reasons:
        return None
    others = [f for f in FRAMEWORKS if f not in searched and any(
        f.why_not(pp=p, v=v, cp=c, zero=z, hsdp=bool(h)) is None
        for z in space.zero for h in space.hsdp for p, v, c in layouts)]
    names = ("zero", "pp", "virtual_stages", "cp", "hsdp", "framework")
    pins = [f"{k}={inst.fix[k]}" for k in names if k in inst.fix]
    left = f"the plans --fix {','.join(pins)} leaves" if pins else "the plans left"
    how = "--fix framework=" if "framework" in inst.fix else "--framework "
    hint = (f"; {how}{others[0].key} runs them ({others[0].name})" if others else
            f"; unpin {' or '.join(p.split('=')[0] for p in pins)}" if pins else "")
    return (f"infeasible: no framework searched runs {left}: {'; '.join(reasons[:3])}{hint}",
            ["framework"] + [p.split("=")[0] for p in pins])


def _overlap_conflict(inst: Instance, space: Space) -> tuple[str, list[str]] | None:
    """Where only the asked-for TP overlap empties the space (threed.space.overlap_allows): every plan left has
    TP > 1 without sequence parallelism. None where that rule is not what empties it."""
    from dataclasses import replace

    if not inst.overlap_asked or len(candidate_arrays(replace(inst, overlap_asked=False), space)["tp"]) == 0:
        return None
    pins = [f"{k}={inst.fix[k]}" for k in ("sequence_parallel", "tp") if k in inst.fix]
    by = f" (--fix {','.join(pins)})" if pins else ""
    return (f"infeasible: --tp-comm-overlap needs sequence parallelism, and every plan left runs TP > 1 without "
            f"it{by}: Megatron-LM refuses TP communication overlap without sequence parallelism; drop "
            "--tp-comm-overlap or allow sequence parallelism", ["tp_comm_overlap", "sequence_parallel"])


def _pipeline_pins(inst: Instance, space: Space) -> list[str]:
    """The pins (--fix) or allow lists that leave no PP = 1 in the space, as the user wrote them."""
    if 1 in space.pp:
        return []
    out = []
    if inst.fix.get("pp", 1) > 1:
        out.append(f"--fix pp={inst.fix['pp']}")
    elif "pp" in inst.allow:
        out.append(f"allow pp={','.join(map(str, inst.allow['pp']))}")
    if inst.fix.get("virtual_stages", 1) > 1:
        out.append(f"--fix virtual_stages={inst.fix['virtual_stages']}")
    return out


# --- attempts -------------------------------------------------------------------------------------
def _parse(values: dict) -> dict:
    """An attempt's values as a configuration (every field present: the caller fills the defaults)."""
    def num(k: str) -> int:
        v = values.get(k)
        if v is None or (isinstance(v, str) and v.strip() == ""):
            raise UsageError(f"{k} is missing (needed: tp, pp, dp, micro_batch)")
        if isinstance(v, bool):
            raise UsageError(f"{k} {v!r} is not a whole number")
        try:
            f = float(v)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"{k} {v!r} is not a number") from None
        if not math.isfinite(f) or f != int(f):
            raise UsageError(f"{k} {v!r} is not a whole number")
        return int(f)

    rc = str(values.get("recompute", "")).strip().lower()
    if rc not in RECOMPUTE_CODES:
        raise UsageError(f"recompute {rc!r} is not one of {', '.join(RECOMPUTE_CODES)}")
    sp_raw = str(values.get("sequence_parallel", "")).strip().lower()
    if sp_raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
        raise UsageError(f"sequence_parallel {sp_raw!r} is not a yes/no value")
    fw = framework_key(values.get("framework") or "") or None  # the names users give them: nemo, torchtitan, ...
    if fw is not None and fw not in FRAMEWORK_CODES:
        raise UsageError(f"framework {fw!r} is not one of {', '.join(FRAMEWORK_CODES)}")
    hsdp_raw = str(values.get("hsdp") or "0").strip().lower()
    if hsdp_raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
        raise UsageError(f"hsdp {hsdp_raw!r} is not a yes/no value")
    zero = check_zero_stage(num("zero"))
    return {"tp": num("tp"), "pp": num("pp"), "dp": num("dp"), "micro_batch": num("micro_batch"),
            "cp": num("cp"), "virtual_stages": num("virtual_stages"), "zero": zero,
            "recompute": rc, "sequence_parallel": sp_raw in ("1", "true", "yes", "on"), "framework": fw,
            "hsdp": hsdp_raw in ("1", "true", "yes", "on")}


def attempt_verdict(inst: Instance, values: dict, space: Space | None = None) -> dict:
    """Grade one attempt with the puzzle's feasibility function (threed.feasibility.check_configuration, over `space`,
    built when not given): figures, violations with margins, values outside the searched space, objective (MFU),
    and the attempt as read ('read'; threed.evaluate_attempt adds its neighbours)."""
    v = _parse(values)
    chk = check_configuration(inst, v, space)
    out: dict[str, Any] = {"feasible": chk.feasible, "figures": {}, "violations": chk.violations,
                           "outside_space": chk.outside, "objective": None, "objective_name": "mfu", "sense": "max",
                           "read": v}
    r = chk.figures
    if r is None:
        return out
    out.update(objective=float(r["mfu"]), figures={
        "mfu": Figure(float(r["mfu"]), "fraction", "MFU"),
        "step_time_s": Figure(float(r["step_time"]), "s", "step time"),
        "tokens_per_s": Figure(float(r["tokens_per_s"]), "tokens/s", "throughput"),
        "memory_per_gpu": Figure(int(r["memory_total"]), "B", "memory per GPU"),
        "bubble_fraction": Figure(float(r["bubble_fraction"]), "fraction", "bubble")})
    return out
