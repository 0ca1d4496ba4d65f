"""Grading against the 3D puzzle's design space: `check_configuration`, the puzzle's one feasibility function (could
the solvers have returned this configuration?), why a value is outside the searched space, and the one-change moves
of the degrees that the attempt graders of the 3D and batch puzzles share (explorer/puzzles/threed/space.py holds
the space itself)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.cost import frameworks as fwk
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.puzzles.threed.space import (
    FIXABLE_SPACE,
    FRAMEWORK_CODES,
    FRAMEWORK_NAMES,
    Instance,
    Space,
    _divisors,
    bubble_ok,
    build_space,
    micro_batch_count,
    rule_text,
    structural_rules,
)
from explorer.units import human_sci


@dataclass
class Check:
    """One configuration checked against an instance (check_configuration)."""

    outside: list[str]  # values outside the searched space, each with the rule of its candidate list
    violations: list  # explorer.report.Constraint: broken joint rules, memory, bubble
    figures: dict | None = None  # explorer.cost.step.evaluate of the configuration, when it could be scored

    @property
    def feasible(self) -> bool:
        return not self.outside and not self.violations


ATTEMPT_LABELS = {"tp": "TP", "cp": "CP", "pp": "PP", "virtual_stages": "v", "micro_batch": "micro-batch",
                  "zero": "ZeRO", "recompute": "recompute", "sequence_parallel": "sequence parallel",
                  "framework": "framework", "hsdp": "HSDP"}


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def outside_reason(inst: Instance, space: Space, name: str, value: Any) -> str:
    """Why `value` of variable `name` is not among build_space's candidates: the rules it breaks, with their numbers
    ('16 does not divide the 8 KV heads and exceeds the node of 8'); a pinned or allowed variable, or a name-valued
    one, the rule of its list (space.reasons)."""
    rule = space.reasons.get(name, "not among the candidates")
    if name == "framework" and name not in inst.fix and name not in inst.allow:
        names = [f.name for f in fwk.frameworks_for(inst.framework)]
        only = " only" if len(names) < 2 else ""
        return f"the scenario's --framework {inst.framework} searches {_and(names)}{only}"
    if name in inst.fix or name in inst.allow or name not in ("tp", "cp", "pp", "virtual_stages", "micro_batch"):
        return rule
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{value} is not a positive whole number"
    m, n = inst.setup.model, inst.devices
    divides = {"tp": [(m.heads, "heads"), (m.kv_heads, "KV heads"), (m.ffn, "FFN width"), (n, "devices")],
               "cp": [(inst.setup.seq_len, "tokens of the sequence"), (n, "devices")], "pp": [(n, "devices")],
               "micro_batch": [(inst.global_batch, "sequences of the global batch")]}.get(name, [])
    broken = [f"the {x:,} {what}" for x, what in divides if x % value]
    out = [f"does not divide {_and(broken)}"] if broken else []
    pp_multi = [p for p in _divisors(n) if 1 < p <= m.layers]
    v_top = m.layers // min(pp_multi) if pp_multi else 1  # as build_space: PP x v <= layers at the smallest PP > 1
    tops = {"tp": (inst.setup.cluster.devices_per_node, "the node of {}"),
            "cp": (inst.max_cp, "{}, the largest CP searched"), "pp": (m.layers, "the {} layers"),
            "virtual_stages": (v_top, "{}, the most that fit (PP x v <= the " + f"{m.layers} layers with PP > 1)")
            if inst.max_virtual_stages is None or inst.max_virtual_stages >= v_top else
            (inst.max_virtual_stages, "{}, the largest v searched"),
            "micro_batch": (inst.max_micro_batch, "{}, the largest micro-batch searched")}
    top, what = tops[name]
    if top is not None and value > top:
        out.append("exceeds " + what.format(f"{top:,}"))
    return f"{value:,} {_and(out)}" if out else rule


def config_of(p: Any) -> dict:
    """A plan (explorer.plan.ParallelPlan) as a configuration: check_configuration's input, the JSON's
    extra.configuration."""
    return {"tp": p.tp, "pp": p.pp, "dp": p.dp, "micro_batch": p.micro_batch, "cp": p.cp,
            "virtual_stages": p.virtual_stages, "zero": p.zero, "recompute": p.recompute,
            "sequence_parallel": p.sequence_parallel, "num_micro_batches": p.num_micro_batches,
            "global_batch": p.global_batch, "framework": p.framework, "hsdp": p.hsdp}


def check_configuration(inst: Instance, config: dict, space: Space | None = None) -> Check:
    """The 3D puzzle's feasibility function: could the solvers have returned `config`?

    config: tp, cp, pp, dp, micro_batch, virtual_stages, zero, recompute (name), sequence_parallel
    (bool or 0/1). Feasible exactly when every value is in build_space's candidate lists, every
    structural rule holds, and the cost model's memory (the same integer bytes both engines use) and
    bubble are within the limits."""
    from explorer.cost.step import evaluate
    from explorer.report import Constraint
    from explorer.units import human_bytes

    space = space or build_space(inst)
    rc = RECOMPUTE_CODES.get(config["recompute"], -1)
    sp = int(bool(config["sequence_parallel"]))
    # an attempt that names no framework runs on the first one searched (the default: Megatron-LM)
    fw_name = config.get("framework") or (FRAMEWORK_NAMES[space.fw[0]] if space.fw else fwk.DEFAULT_FRAMEWORK)
    fw = FRAMEWORK_CODES.get(fw_name, -1)
    hsdp = int(bool(config.get("hsdp", 0)))
    values = {"tp": config["tp"], "cp": config["cp"], "pp": config["pp"], "virtual_stages": config["virtual_stages"],
              "micro_batch": config["micro_batch"], "zero": config["zero"], "recompute": rc, "sequence_parallel": sp,
              "framework": fw, "hsdp": hsdp}
    outside = []
    for name, field_ in FIXABLE_SPACE.items():
        if values[name] not in getattr(space, field_):
            shown = {"recompute": config["recompute"], "sequence_parallel": config["sequence_parallel"],
                     "framework": fw_name}.get(name, values[name])
            shown = f"{shown:,}" if isinstance(shown, int) and not isinstance(shown, bool) else shown
            outside.append(f"{ATTEMPT_LABELS[name]} = {shown} is outside the searched space: "
                           f"{outside_reason(inst, space, name, values[name])}")
    c = {"tp": config["tp"], "cp": config["cp"], "pp": config["pp"], "dp": config["dp"],
         "v": config["virtual_stages"], "mb": config["micro_batch"], "zero": config["zero"], "rc": rc, "sp": sp,
         "fw": max(fw, 0), "hsdp": hsdp}
    c["m"] = int(micro_batch_count(inst, c["dp"], c["mb"]))
    broken = [k for k, ok in structural_rules(inst, c).items() if not bool(ok)]
    violations = [Constraint(k, 0, 0, "", "==", text=rule_text(inst, k, c)) for k in broken]
    out = Check(outside, violations)
    if broken or rc < 0 or fw < 0 or c["zero"] not in (0, 1, 2, 3):
        return out  # no step to score: the configuration does not describe a runnable plan
    r = evaluate(inst.setup, c["tp"], c["cp"], c["pp"], c["dp"], c["v"], c["mb"], c["m"], c["zero"], rc, sp,
                 fw=fw, hsdp=hsdp)
    out.figures = r
    total = int(r["memory_total"])
    if total > inst.limit:
        violations.append(Constraint("memory", total, inst.limit, "B", "<=",
                                     text=f"memory {human_bytes(total)} > {human_bytes(inst.limit)} usable by "
                                          f"{human_bytes(total - inst.limit)}"))
    if not bool(bubble_ok(inst, c["pp"], c["v"], c["m"])):
        b, lim = (c["pp"] - 1) / (c["v"] * c["m"] + c["pp"] - 1), float(inst.max_bubble)
        shown, bound = percent_pair(b, lim)
        over = percent_pair(b - lim, 0)[0].rstrip("%")
        violations.append(Constraint("bubble", b, lim, "fraction", "<=",
                                     text=f"bubble {shown} > {bound} by {over} percentage points"))
    return out


def percent_pair(value: float, bound: float) -> tuple[str, str]:
    """`value` and `bound` as percentages, `value` with as many decimals as it takes to read as above `bound`
    (0.03% > 0%, not 0.0% > 0.0%); `bound` as given (0%, 10%, 2.5%)."""
    for d in range(1, 9):
        if round(value * 100, d) > bound * 100:
            break
    return f"{value:.{d}%}", f"{human_sci(bound * 100, 6)}%"


def degree_moves(space: Space, devices: int, v: dict[str, Any]) -> list[dict[str, Any]]:
    """The attempt `v` with one of TP, CP or PP moved to another value of `space`, DP following to keep `devices`
    (named in '__derived__', so the move is said as one change); and DP alone where the degrees do not cover the
    devices. The attempt graders of the 3D and batch puzzles share it."""
    out: list[dict[str, Any]] = []
    keep = f"to keep TP x CP x PP x DP = {devices:,}"
    for k, dom in (("tp", space.tp), ("cp", space.cp), ("pp", space.pp)):
        for x in dom:
            rest = x * math.prod(v[j] for j in ("tp", "cp", "pp") if j != k)
            if x != v[k] and rest >= 1 and devices % rest == 0:
                out.append({**v, k: x, "dp": devices // rest,
                            "__derived__": {"dp": keep} if devices // rest != v["dp"] else {}})
    shape = v["tp"] * v["cp"] * v["pp"]
    if shape >= 1 and devices % shape == 0 and devices // shape != v["dp"]:
        out.append({**v, "dp": devices // shape})
    return out
