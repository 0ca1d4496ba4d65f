"""The construction heuristic of the 3D CP-SAT model (explorer/solvers/threed_cpsat.py): CP-SAT's first solution,
and the puzzle's answer when the time limit ends before CP-SAT finds any configuration."""

from __future__ import annotations

from explorer.solvers.threed_rules import ThreeDInstance, ThreeDRules, ThreeDSpace


def greedy_hint(inst: ThreeDInstance, space: ThreeDSpace, *, rules: ThreeDRules) -> dict | None:
    """A construction heuristic for CP-SAT's first solution (the proof does not depend on it):
    the most memory-frugal settings (largest TP and ZeRO stage the first searched framework runs, full
    recompute, micro-batch 1, v = 1) and the smallest PP whose memory and bubble pass, scored with the
    cost model (the same feasibility rules as the search: the puzzle's rules.structural_rules)."""
    from explorer.cost.step import evaluate

    n = inst.devices
    tp, rc = max(space.tp), max(space.rc)
    sp = max(space.sp) if tp > 1 else min(space.sp)
    for fw in space.fw:
        for z in sorted(space.zero, reverse=True):
            for p in space.pp:
                for c in space.cp:
                    for b in space.mb:
                        if n % (tp * c * p) or 1 not in space.v:
                            continue
                        d = n // (tp * c * p)
                        m = int(rules.micro_batch_count(inst, d, b))
                        cand = {"tp": tp, "cp": c, "pp": p, "dp": d, "v": 1, "mb": b, "m": m, "zero": z, "rc": rc,
                                "sp": sp, "fw": fw, "hsdp": min(space.hsdp)}
                        if not all(bool(x) for x in rules.structural_rules(inst, cand).values()):
                            continue
                        r = evaluate(inst.setup, tp, c, p, d, 1, b, m, z, rc, sp, fw=fw, hsdp=cand["hsdp"])
                        if r["memory_total"] <= inst.limit and rules.bubble_ok(inst, p, 1, m):
                            return cand
    return None
