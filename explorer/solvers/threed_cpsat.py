"""The 3D puzzle as a CP-SAT model.

Variables: TP, CP, PP, DP, micro-batch size, number of micro-batches, virtual stages, ZeRO stage, recompute,
sequence parallel, framework, HSDP. CP-SAT is integer-only, so the cost model's pieces are tabulated on
purpose, from the same functions the exhaustive search calls: memory in exact integer bytes (the same numbers,
so both engines see the same feasible set) and times in integer nanoseconds (TIME_SCALE). The tables are per
factor group (a layer: TP, CP, mb, rc, SP; logits: TP, CP, mb; stage layers: PP, v; pipeline sends: TP, CP, PP,
mb, SP; model state and data-parallel traffic: framework, TP, CP, PP, v, ZeRO, HSDP) and are combined with
multiplication, division and max constraints that mirror explorer/cost/step.py. The pipeline
v m (t_stage / v + t_p2p + e_mb) + (p - 1)(t_fill + t_p2p + e_mb), the warm-up and cool-down crossing the ranks
without the output layer (t_fill = SL t_layer / v: explorer/cost/step.py), is written as a sum of products of narrow
factors (SL = stage layers, SL / v = layers per chunk):

  t_pipe  = (SL PP) (m t_layer / PP) + PP (m t_logits / PP) + v (m t_p2p) + (p - 1)(SL / v) t_layer
            + (p - 1) t_p2p + m e_mb
            (e_mb: per-micro-batch sharded data parallelism at PP = 1, plus DeepSpeed's BF16_Optimizer FP32 gradient
            accumulation at any PP, whose v is 1: explorer/cost/sharding.py grad_accumulation_time)
            + flag (m + p - 1) t_p2p_extra (the frameworks whose pipeline sends cost more than the least in the
            space, DeepSpeed's blocking transfers: frameworks.p2p_transfers_of; they never interleave, so v = 1)
            + (m - 1) t_acc_rest (autograd adding each later micro-batch's gradients into .grad under DeepSpeed's
            fp16 / ZeRO-1 engine: sharding.autograd_accumulation_time; v = 1 there too)
  t_step  = t_pipe + (1 - sigma) e_sync + sigma (t_grad + t_param) + t_opt
  e_sync  = max(t_grad_last, t_grad / v - flag b, t_grad - flag k_grad b)
            + max(t_param_first, t_param / v - flag f) + (v - 1) max(0, t_param / v - flag q_param f)
            (b = 2/3 t_stage / v, f = 1/3 t_stage / v: explorer/cost/sharding.py step_sync_exposed; sigma: the
            overlap interference, Efficiency.overlap_interference, charged on the hidden part of the sync and,
            inside e_mb, of the per-layer gathers and reduce-scatters)
  memory  = state + act_layer min(cap_v, v m) CL + work <= limit, at the first stage, and
            state + act_layer min(cap'_v, v m) CL + work + loss <= limit at the last (in-flight chunks,
            memory.in_flight_chunks: cap_v = PP under 1F1B, PP v + PP - 1 interleaved; cap'_v = 1, (v - 1) PP + 1;
            CL = ceil(L / (PP v)) layers per chunk; loss: memory.loss_bytes)
  bubble  : den_beta (PP - 1) <= num_beta (v m + PP - 1)

Speed (the design space reaches millions of raw combinations): `prepare` computes, besides the tables, a
relaxation over (TP, CP, PP, v, mb, rc, SP): the model's exact integer pipeline time plus the fastest optimizer
step of the shape, and the memory, bubble and interleaving rules with the smallest model state. It gives
redundant cuts (step >= bound of each table row) and drops rows no feasible configuration can use. `solve`
then runs CP-SAT on growing restrictions (rows whose bound is within 2 % of the smallest, then a larger cut):
once a restriction's proven optimum is no larger than its cut, it is the optimum of the whole model, since
every configuration left out costs more than the cut. The exhaustive evaluator checks all of this (tests,
benchmarks/bench_search.py).

The instance, its design space and the rules a configuration must meet are the puzzle's
(explorer/puzzles/threed/space.py); the puzzle hands them in (`rules`, the protocols of threed_rules.py), as
solvers do not import puzzles. The factor tables, `prepare` and the CpModel wrapper live in threed_cpsat_tables.py,
the construction heuristic (greedy_hint) in threed_cpsat_hint.py; both are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from explorer.solvers.threed_cpsat_hint import greedy_hint  # noqa: F401  (re-exported)
from explorer.solvers.threed_cpsat_tables import (  # noqa: F401  (re-exported: TIME_SCALE, OutOfRange, _mesh, _ns)
    BIG,
    MAX_DOMAIN,
    TIME_SCALE,
    NoRows,
    OutOfRange,
    _key_grids,
    _mesh,
    _Model,
    _ns,
    prepare,
)
from explorer.solvers.threed_rules import ThreeDInstance, ThreeDRules, ThreeDSpace


@dataclass
class Built:
    model: object
    vars: dict
    space: ThreeDSpace


class TimeUp(RuntimeError):
    """The time limit ran out before CP-SAT found any configuration."""


GROWTH = 1.1
"""Growth of the restriction's cut between solves (solve). Measured with benchmarks/bench_search.py (2026-12-02):
1.25 let one feasible restriction above the optimum pull in every row within 25 % of it (llama3_70b at 1,024 GPUs,
--framework any: 2.8 s); 1.1 and 1.05 solve every case in about a third of that."""
CAP_MAX = MAX_DOMAIN // 64  # ns (2.3 years): the longest step modelled; 64 such domains still sum within int64


def build_model(inst: ThreeDInstance, space: ThreeDSpace, exclude: list[dict] | None = None,
                hint: dict | None = None, prep: dict | None = None, cut: int | None = None,
                cap: int | None = None, rules: ThreeDRules | None = None) -> Built:
    """The CP-SAT model of one instance over `space` (see the module docstring). `cut`: leave out the rows
    whose relaxation bound exceeds it (configurations that cannot take less than `cut` ns); `cap`: the
    longest step searched (ns; every part of the step is bounded by it, which keeps the products' domains
    within CP-SAT's 64-bit integers). `prep`: prepare's tables, computed here with the puzzle's `rules` when
    not given."""
    s, n, B, L = inst.setup, inst.devices, inst.global_batch, inst.setup.model.layers
    limit = inst.limit
    TP, CP, PP, V, MB, Z, RC, SP, FW, HS = (space.tp, space.cp, space.pp, space.v, space.mb, space.zero, space.rc,
                                            space.sp, space.fw, space.hsdp)
    beta = Fraction(inst.max_bubble)
    if prep is None and rules is None:
        raise TypeError("build_model needs the puzzle's rules (or prepare's tables, prep)")
    P = prepare(inst, space, rules=rules) if prep is None else prep
    # the layer's forward and backward windows times (1 - sigma) (prepare: "keep" columns)
    t_layer, t_fwd, t_bwd, w_layer, act_l, work = (P[k] for k in ("t_layer", "t_fwd_keep", "t_bwd_keep", "w_layer",
                                                                    "act_l", "work"))
    t_logits, w_logits, loss_b, sl, inflight_cap, inflight_cap_last, chunk, bubble_layers = (
        P[k] for k in ("t_logits", "w_logits", "loss_b", "sl", "inflight_cap", "inflight_cap_last", "chunk",
                       "bubble_layers"))
    c_pp, d_pp, d_m, t_p2p, state, t_opt, t_acc, t_acc_rest = (
        P[k] for k in ("c_pp", "d_pp", "d_m", "t_p2p", "state", "t_opt", "t_acc", "t_acc_rest"))
    lb_l, lb_a, lb_v = P["lb_l"], P["lb_a"], P["lb_v"]
    top = BIG - 1 if cut is None else min(cut, BIG - 1)  # relaxation-infeasible rows (bound BIG) always go
    lay_ok = P["lay_ok"] & (lb_l <= top)
    p2p_ok = P["p2p_ok"] & (lb_a <= top)
    dp_ok = P["dp_ok"] & (lb_v <= top)[None, :, :, :, :, None, None]
    pv_ok = P["pv_ok"] & (lb_v <= top).any(axis=(0, 1))
    # the collectives' times come from P["kept"] (times 1 - sigma); these are the flags and the unscaled parts
    comm = {k: P["comm_" + k] for k in ("overlap_grad", "overlap_param", "mb_fixed", "k_grad", "q_param")}

    # --- variables ---------------------------------------------------------------------------------
    X = CAP_MAX if cap is None else min(int(cap), CAP_MAX)
    M = _Model()
    md = M.md
    i_tp, tp = M.choice("tp", TP)
    i_cp, cp = M.choice("cp", CP)
    i_pp, pp = M.choice("pp", PP)
    i_v, v = M.choice("virtual_stages", V)
    i_mb, mb = M.choice("micro_batch", MB)
    i_z, zero = M.choice("zero", Z)
    i_rc, rc = M.choice("recompute", RC)
    i_sp, sp = M.choice("sequence_parallel", SP)
    i_fw, fw = M.choice("framework", FW)
    i_hs, hs = M.choice("hsdp", HS)
    dp_vals = sorted({n // (a * b * c) for a in TP for b in CP for c in PP if n % (a * b * c) == 0})
    dp = md.new_int_var_from_domain(M.cp.Domain.from_values(dp_vals), "dp")
    m = M.var(1, B, "num_micro_batches")
    for name, x in (("dp", dp), ("num_micro_batches", m)):
        if name in inst.fix:
            md.add(x == int(inst.fix[name]))

    # --- structure: TP x CP x PP x DP = devices; DP x mb x m = global batch --------------------------
    md.add_multiplication_equality(n, [tp, cp, pp, dp])
    # as two products of two: CP-SAT refuses a product whose factors' bounds could overflow 64 bits, and DP x mb x m
    # bounded factor by factor did (65,536 GPUs x a 16,777,216-sequence batch); DP x mb is at most B
    md.add_multiplication_equality(B, [M.product([dp, mb], "dp_x_mb", B), m])
    # v > 1 only with PP > 1 and PP x v <= layers (the (PP, v) table has only those rows); interleaving needs
    # m divisible by PP (Megatron-LM)
    inter = md.new_bool_var("interleaved")
    md.add(v >= 2).only_enforce_if(inter)
    md.add(v == 1).only_enforce_if(~inter)
    rem = M.var(0, max(PP) - 1, "m_mod_pp")
    md.add_modulo_equality(rem, m, pp)
    md.add(rem == 0).only_enforce_if(inter)

    # --- factor tables (valid rows only, one allowed-assignments constraint per group) -------------
    keys = dict(tp=i_tp, cp=i_cp, pp=i_pp, v=i_v, mb=i_mb, z=i_z, rc=i_rc, sp=i_sp, fw=i_fw, hs=i_hs)

    def table(names: str, lists: list, cols: dict, ok: np.ndarray) -> dict:
        idx = _key_grids(*lists)
        return M.table([(keys[k], j) for k, j in zip(names.split(), idx)],
                       {k: np.asarray(c).ravel() for k, c in cols.items()}, ok.ravel())

    lay_cols = {"t_layer": t_layer, "t_fwd": t_fwd, "t_bwd": t_bwd, "w_layer": w_layer, "act_layer": act_l,
                "work_bytes": work, "lb_layer": lb_l}
    layer_cols = {"t_layer": "t_layer", "w_layer": "w_layer", "t_fwd": "t_fwd_keep", "t_bwd": "t_bwd_keep"}
    for j, alt in enumerate(P["layer_alt"], start=1):  # the other layer variants (prepare), whole columns each
        lay_cols |= {f"{col}_v{j}": alt[key] for col, key in layer_cols.items()}
    lay = table("tp cp mb rc sp", [TP, CP, MB, RC, SP], lay_cols, lay_ok)
    if P["layer_alt"]:  # each column is the plan's framework's variant: the sum of flag x column over the variants
        flags = [M.lookup(i_fw, (P["var_of_fw"] == j).astype(np.int64), f"layer_variant{j}")
                 for j in range(len(P["layer_alt"]) + 1)]
        for col in layer_cols:
            names = [col] + [f"{col}_v{j}" for j in range(1, len(flags))]
            terms = [M.product([f, lay[nm]], f"{nm}_if_variant", M.hi[nm]) for f, nm in zip(flags, names)]
            hi = max(M.hi[nm] for nm in names)
            eff = M.var(0, hi, f"{col}_of_framework")
            md.add(eff == sum(terms))
            lay[col], M.hi[col] = eff, hi
    lgt = table("tp cp mb", [TP, CP, MB], {"t_logits": t_logits, "w_logits": w_logits, "loss_bytes": loss_b},
                np.ones(t_logits.shape, bool))
    pv = table("pp v", [PP, V], {"stage_layers": sl, "in_flight_cap": inflight_cap,
                                 "in_flight_cap_last": inflight_cap_last, "chunk_layers": chunk,
                                 "stage_layers_x_pp": sl * c_pp, "bubble_layers": bubble_layers}, pv_ok)
    p2_cols = {"t_p2p": t_p2p, "m_x_p2p": d_m * t_p2p, "bubble_p2p": (d_pp - 1) * t_p2p, "lb_micro_batch": lb_a}
    if P["p2p_more"].any():  # frameworks whose blocking sends cost more: (m + p - 1) x their extra (v = 1 for
        # them: the frameworks that pay more do not interleave, asserted in prepare)
        p2_cols |= {"p2p_extra_all": (d_m + d_pp - 1) * P["p2p_extra"]}
    p2 = table("tp cp pp mb sp", [TP, CP, PP, MB, SP], p2_cols, p2p_ok)
    st = table("fw tp cp pp v z hs", [FW, TP, CP, PP, V, Z, HS], {
        "state_bytes": state, "t_grad": P["kept"]["grad_step"], "t_param": P["kept"]["param_step"],
        "overlap_grad": comm["overlap_grad"].astype(np.int64), "overlap_param": comm["overlap_param"].astype(np.int64),
        "t_ag": P["kept"]["ag"], "t_ag_bwd": P["kept"]["ag_bwd"], "t_rs": P["kept"]["rs"],
        "t_mb_fixed": _ns(comm["mb_fixed"]), "t_opt": t_opt, "t_acc": t_acc, "t_acc_rest": t_acc_rest,
        "t_sync_interference": P["sig_sync"], "t_layer_interference": P["sig_layer"],
        "t_grad_chunk": P["kept"]["grad_chunk"], "t_param_chunk": P["kept"]["param_chunk"],
        "t_grad_last": P["kept"]["grad_last"], "t_param_first": P["kept"]["param_first"],
        "k_grad": comm["k_grad"].astype(np.int64), "q_param": comm["q_param"].astype(np.int64),
        "lb_stage": np.broadcast_to(lb_v[None, :, :, :, :, None, None], state.shape)}, dp_ok)
    t_lay, t_lg, layers = lay["t_layer"], lgt["t_logits"], pv["stage_layers"]

    # --- memory per device <= limit -------------------------------------------------------------------
    vm = M.product([v, m], "v_x_m", max(V) * B)
    # each pipeline end within the limit (memory.peak_activations_and_working): the first stage with the most
    # micro-batches in flight, the last with fewer plus the loss's copies of the logits
    for end, cap_col, loss in (("first", "in_flight_cap", 0), ("last", "in_flight_cap_last", lgt["loss_bytes"])):
        k = M.var(1, M.hi[cap_col], f"in_flight_{end}")
        md.add_min_equality(k, [pv[cap_col], vm])  # memory.in_flight_chunks
        x1 = M.product([lay["act_layer"], k], f"act_x_in_flight_{end}", M.hi["act_layer"] * M.hi[cap_col])
        act_v = M.product([x1, pv["chunk_layers"]], f"activation_bytes_{end}",
                          M.hi[f"act_x_in_flight_{end}"] * M.hi["chunk_layers"])
        md.add(st["state_bytes"] + act_v + lay["work_bytes"] + loss <= limit)

    # --- bubble fraction (p - 1)/(v m + p - 1) <= beta, linear in integers --------------------------------
    md.add(beta.denominator * (pp - 1) <= beta.numerator * (vm + pp - 1))

    # --- objective: step time (ns) ------------------------------------------------------------------------
    # every part of the step is at most the step, and the step at most X
    t_layers = M.product([layers, t_lay], "t_layers", min(X, M.hi["stage_layers"] * M.hi["t_layer"]))
    stage = M.var(0, min(X, M.hi["t_layers"] + M.hi["t_logits"]), "t_stage")
    md.add(stage == t_layers + t_lg)
    # per-micro-batch sharded data parallelism (PP = 1 only; zero elsewhere): the fixed part plus, for the
    # other L - 1 layers, the gathers and reduce-scatters their compute does not hide (sharding.py); and
    # DeepSpeed's BF16_Optimizer FP32 gradient accumulation after every micro-batch (any PP; its v is 1, so the
    # m e_mb term below counts it m times, as step.py does)
    e_fwd = M.var(0, M.hi["t_ag"], "t_gather_exposed_fwd")
    md.add_max_equality(e_fwd, [0, st["t_ag"] - lay["t_fwd"]])
    e_bwd = M.var(0, M.hi["t_ag_bwd"] + M.hi["t_rs"], "t_gather_exposed_bwd")
    md.add_max_equality(e_bwd, [0, st["t_ag_bwd"] + st["t_rs"] - lay["t_bwd"]])
    # (the gathers, reduce-scatters and compute windows here are times (1 - sigma); with sigma x the layer's
    # collectives added, each layer pays exposed + sigma x hidden: the overlap interference, sharding.interference)
    e_mb = M.var(0, min(X, M.hi["t_mb_fixed"] + M.hi["t_acc"] + (L - 1) * (M.hi["t_gather_exposed_fwd"]
                                                                          + M.hi["t_gather_exposed_bwd"]
                                                                          + M.hi["t_layer_interference"])),
                 "t_dp_per_micro_batch")
    md.add(e_mb == st["t_mb_fixed"] + st["t_acc"] + (L - 1) * (e_fwd + e_bwd + st["t_layer_interference"]))
    # The pipeline v m (t_stage / v + t_p2p + e_mb) + (p - 1)(t_fill + t_p2p + e_mb) as a sum of products of narrow
    # factors, so that bounds propagate term by term (stage layers / v = layers per chunk, an integer):
    #   m SL t_layer = (SL PP) x (m t_layer / PP)      m t_logits = PP x (m t_logits / PP)
    #   v m t_p2p                                        (p - 1)(layers per chunk) x t_layer
    #   (p - 1) t_p2p                                    m e_mb (PP = 1 only)
    terms = [
        M.product([pv["stage_layers_x_pp"], lay["w_layer"]], "t_work",
                  min(X, M.hi["stage_layers_x_pp"] * M.hi["w_layer"])),
        M.product([pp, lgt["w_logits"]], "t_work_logits", min(X, max(PP) * M.hi["w_logits"])),
        M.product([v, p2["m_x_p2p"]], "t_p2p_all", min(X, max(V) * M.hi["m_x_p2p"])),
        M.product([pv["bubble_layers"], t_lay], "t_bubble_layers", min(X, M.hi["bubble_layers"] * M.hi["t_layer"])),
        p2["bubble_p2p"],
        M.product([m, e_mb], "t_dp_micro_batches", min(X, B * M.hi["t_dp_per_micro_batch"])),
    ]
    if t_acc_rest.any():  # (m - 1) x autograd's accumulation into .grad (sharding.autograd_accumulation_time)
        m_rest = M.var(0, B - 1, "micro_batches_after_first")
        md.add(m_rest == m - 1)
        terms.append(M.product([m_rest, st["t_acc_rest"]], "t_autograd_accumulation",
                               min(X, (B - 1) * M.hi["t_acc_rest"])))
    if P["p2p_more"].any():  # (m + p - 1) t_extra, for the frameworks that pay it
        more = M.lookup(i_fw, P["p2p_more"], "p2p_sequential")
        terms.append(M.product([more, p2["p2p_extra_all"]], "t_p2p_extra", min(X, M.hi["p2p_extra_all"])))
    pipe_v = M.var(0, min(X, sum(M.hi[t.name] for t in terms)), "t_pipe")
    md.add(pipe_v == sum(terms))
    # step-level gradient sync and weight gather, where the framework overlaps them (sharding.step_sync_exposed):
    # per chunk, b = 2/3 t_stage / v of backward and f = 1/3 t_stage / v of forward per micro-batch;
    #   e_grad  = max(G_last, G/v - b, G - k_grad b)
    #   e_param = max(P_first, P/v - f) + (v - 1) max(0, P/v - q_param f)
    # A stage longer than 3 G_max / ov hides every term already, so the stage is capped there (the products
    # with k_grad and q_param stay within 64-bit domains).
    # the windows times (1 - sigma), as the collectives they hide (see e_mb above)
    ov = (Fraction(s.efficiency.dp_overlap).limit_denominator(1000)
          * (1 - Fraction(s.efficiency.overlap_interference).limit_denominator(10_000))).limit_denominator(10_000)
    dv = M.var(1, 3 * ov.denominator * max(V), "three_v_den")
    md.add(dv == 3 * ov.denominator * v)
    s_cap = max(1, min(M.hi["t_stage"], -(-3 * max(M.hi["t_grad"], M.hi["t_param"]) * max(1, ov.denominator)
                                              // max(1, ov.numerator)) + 1))
    st_c = M.var(0, s_cap, "t_stage_capped")
    md.add_min_equality(st_c, [stage, s_cap])

    def window(name: str, num: int, mult=None):
        """ov x num/3 x (mult x) t_stage / v, zero where the framework does not overlap (flag applied later)."""
        base = st_c
        if mult is not None:
            base = M.product([st_c, mult], f"t_stage_x_{name}", s_cap * M.hi[mult.name])
        x = M.var(0, M.hi[base.name] * num * ov.numerator, f"t_{name}_numerator")
        md.add(x == base * (num * ov.numerator))
        w = M.var(0, M.hi[x.name], f"t_{name}_window")
        md.add_division_equality(w, x, dv)
        return w

    def hidden(w, flag: str, name: str):
        return M.product([w, st[flag]], f"t_{name}_hidden", M.hi[w.name])

    hg1 = hidden(window("grad_chunk", 2), "overlap_grad", "grad_chunk")
    hg2 = hidden(window("grad_cooldown", 2, st["k_grad"]), "overlap_grad", "grad_cooldown")
    e_grad = M.var(0, min(X, M.hi["t_grad"]), "t_grad_exposed")
    md.add_max_equality(e_grad, [st["t_grad_last"], st["t_grad_chunk"] - hg1, st["t_grad"] - hg2])
    hp1 = hidden(window("param_first", 1), "overlap_param", "param_first")
    hp2 = hidden(window("param_ahead", 1, st["q_param"]), "overlap_param", "param_ahead")
    e_p1 = M.var(0, M.hi["t_param_chunk"], "t_param_first_exposed")
    md.add_max_equality(e_p1, [st["t_param_first"], st["t_param_chunk"] - hp1])
    e_p2 = M.var(0, M.hi["t_param_chunk"], "t_param_chunk_exposed")
    md.add_max_equality(e_p2, [0, st["t_param_chunk"] - hp2])
    v_less = M.var(0, max(V) - 1, "v_minus_1")
    md.add(v_less == v - 1)
    e_rest = M.product([e_p2, v_less], "t_param_rest_exposed", M.hi["t_param_chunk"] * (max(V) - 1))
    e_param = M.var(0, min(X, M.hi["t_param_first_exposed"] + M.hi["t_param_rest_exposed"]), "t_param_exposed")
    md.add(e_param == e_p1 + e_rest)
    # e_grad and e_param are (1 - sigma) x the exposed sync; sigma x all of it makes exposed + sigma x hidden
    step = M.var(0, min(X, M.hi["t_pipe"] + M.hi["t_grad_exposed"] + M.hi["t_param_exposed"]
                        + M.hi["t_sync_interference"] + M.hi["t_opt"]), "t_step")
    md.add(step == pipe_v + e_grad + e_param + st["t_sync_interference"] + st["t_opt"])
    # Redundant cuts from the relaxation above (they remove no solution and tighten the bound)
    for col in (lay["lb_layer"], p2["lb_micro_batch"], st["lb_stage"]):
        md.add(step >= col)
    md.minimize(step)

    vars_ = {"tp": tp, "cp": cp, "pp": pp, "dp": dp, "v": v, "mb": mb, "m": m, "zero": zero, "rc": rc, "sp": sp,
             "fw": fw, "hsdp": hs, "step_ns": step,
             # ties at the optimum (equal step time to the nanosecond) go to the simpler plan: less
             # context parallelism, fewer virtual stages, no HSDP, a lower ZeRO stage, less recompute, the
             # first framework listed
             "tie_break": ((((i_cp * len(V) + i_v) * len(HS) + i_hs) * len(Z) + i_z) * len(RC) + i_rc) * len(FW)
                          + i_fw}
    for ex in exclude or []:  # no-good cuts, for the next-best configurations
        lits = []
        for key, val in ex.items():
            b = md.new_bool_var("")
            md.add(vars_[key] == val).only_enforce_if(b)
            md.add(vars_[key] != val).only_enforce_if(~b)
            lits.append(~b)
        md.add_bool_or(lits)
    if hint:
        for key, val in hint.items():
            md.add_hint(vars_[key], int(val))
    return Built(md, vars_, space)


def solve(inst: ThreeDInstance, space: ThreeDSpace, prep: dict, time_limit_s: float, params: dict,
          exclude: list[dict] | None = None, growth: float = GROWTH) -> tuple:
    """CP-SAT over growing restrictions of the model, each proven optimal: first the configurations whose
    relaxation bound is within 2 % of the smallest, then within a larger cut C. When the restriction's optimum
    U is <= C it is the optimum of the whole model (every configuration left out is bounded below by more than
    C >= U); otherwise the cut grows to min(U, GROWTH x C), and a cut of U always ends the sequence. The last model
    holds every tie of the optimum, so the tie-break pass runs on it.

    Returns (solver, built model, outcome, proven) of the last solve; proven is False when the time limit
    stopped a solve before its proof (the outcome then says feasible or unknown)."""
    import time

    from explorer.solvers import cpsat

    lo = prep["bound_min"]
    if lo is None:
        raise NoRows("no configuration passes the relaxation's memory, bubble and structure rules")
    b = prep["bound"]
    hi_lb = int(b[b < BIG].max())
    deadline = time.perf_counter() + time_limit_s
    cut, last = int(lo * 1.02) + 1, None
    while True:
        # the step searched is at most X: one more growth of the cut, or everything once the cut covers all rows
        whole = cut >= hi_lb
        X = CAP_MAX if whole else min(int(cut * growth) + 1, CAP_MAX)
        left = max(0.05, deadline - time.perf_counter())
        try:
            built = build_model(inst, space, exclude=exclude, prep=prep, cut=cut, cap=X)
            solver, out = cpsat.run(built.model, time_limit_s=left, workers=1, params=params)
        except NoRows:
            built, out = None, None
        if out is not None and out.objective is None and out.status in ("optimal", "feasible"):
            out = None  # no solution to read (an outcome without an objective value)
        if out is not None and out.status == "optimal":
            value = int(solver.value(built.vars["step_ns"]))
            last = (solver, built, out)
            if value <= cut:
                return solver, built, out, True
            cut = min(value, int(cut * growth) + 1)
            continue
        if out is not None and out.status == "feasible":  # the time limit stopped the proof
            return solver, built, out, False
        if out is not None and out.status == "unknown":  # the time limit, before any solution
            if last:
                return (*last, False)
            raise TimeUp()
        # infeasible below X (or no row left under the cut): widen, or stop when nothing is left out
        if whole and X >= CAP_MAX:
            raise NoRows("no configuration fits")
        cut = min(int(cut * growth) + 1, max(hi_lb, cut + 1)) if not whole else cut * 2
        if time.perf_counter() > deadline:
            if last:
                return (*last, False)
            raise TimeUp()
