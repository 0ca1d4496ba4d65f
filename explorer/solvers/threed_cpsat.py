"""The 3D puzzle as a CP-SAT model.

Variables: TP, CP, PP, DP, micro-batch size, number of micro-batches, virtual stages, ZeRO
stage, recompute, sequence parallel. CP-SAT is integer-only, so the cost model's pieces are
tabulated on purpose, from the same functions the exhaustive search calls: memory in exact
integer bytes (the same numbers, so both engines see the same feasible set) and times in integer
nanoseconds (TIME_SCALE). The tables are per factor (a layer's time depends on TP, CP,
micro-batch, recompute, SP; a stage's layer count on PP and v; ...) and are combined inside the
model with multiplication, division and max constraints that mirror explorer/cost/step.py:

  t_stage = layers(PP, v) * t_layer(TP, CP, mb, rc, SP) + t_logits(TP, CP, mb)
  t_chunk = t_stage // v + t_p2p(TP, CP, PP, mb, SP)
  t_pipe  = (v * m + PP - 1) * t_chunk
  t_step  = t_pipe + max(0, t_dp(TP, CP, PP, v, Z) - overlap * 2/3 * t_stage) + t_opt(TP, CP, PP, v, Z)
  memory  = state(TP, CP, PP, v, Z) + act(TP, CP, mb, rc, SP) * layers * inflight // den + work <= limit
  bubble  : den_beta * (PP - 1) <= num_beta * (v * m + PP - 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from explorer.cost import memory as mem
from explorer.cost import time as tm
from explorer.puzzles.threed_space import Instance, Space

TIME_SCALE = 1e9  # CP-SAT times are integer nanoseconds


@dataclass
class Built:
    model: object
    vars: dict
    space: Space


# CP-SAT's variable domains must lie within +-(2^63 - 1) / 2; a bound beyond this (a step of centuries
# in integer nanoseconds, a product of two large bounds) cannot be modelled, and the caller is told so.
MAX_DOMAIN = (1 << 62) - 1


class OutOfRange(ValueError):
    """A time or bound of the instance is beyond CP-SAT's 64-bit integer domains."""

    def __init__(self, name: str, value: float) -> None:
        super().__init__(f"{name} reaches {value:.3g}, beyond CP-SAT's integer range ({MAX_DOMAIN:.3g})")
        self.name, self.value = name, value


class NoRows(ValueError):
    """A factor table has no valid row: the structure alone rules every configuration out."""


def _ns(x) -> np.ndarray:
    a = np.asarray(x, dtype=float) * TIME_SCALE
    if a.size and not (np.isfinite(a).all() and np.abs(a).max() <= MAX_DOMAIN):
        raise OutOfRange("a time in nanoseconds", float(np.nanmax(np.abs(a))))
    return np.rint(a).astype(np.int64)


class _Model:
    """A CpModel that remembers the bounds of the variables it creates."""

    def __init__(self):
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.md = cp_model.CpModel()
        self.hi: dict[str, int] = {}

    def var(self, lo: int, hi: int, name: str):
        if max(abs(int(lo)), abs(int(hi))) > MAX_DOMAIN:
            raise OutOfRange(name, float(max(abs(int(lo)), abs(int(hi)))))
        self.hi[name] = int(hi)
        return self.md.new_int_var(int(lo), int(hi), name)

    def lookup(self, index, table, name: str):
        """An integer variable equal to table[index] (element constraint)."""
        vals = [int(x) for x in np.asarray(table).ravel()]
        x = self.var(min(vals), max(vals), name)
        self.md.add_element(index, vals, x)
        return x

    def table(self, keys: list, columns: dict[str, np.ndarray], valid: np.ndarray) -> dict:
        """Variables equal to each column at the row selected by the key variables: one
        allowed-assignments constraint over the valid rows only."""
        if not np.any(valid):
            raise NoRows(", ".join(columns))
        out = {}
        for name, col in columns.items():
            vals = np.asarray(col)[valid]
            out[name] = self.var(int(vals.min()), int(vals.max()), name)
        rows = np.stack([np.asarray(k[1])[valid] for k in keys] + [np.asarray(c)[valid] for c in columns.values()],
                        axis=1)
        self.md.add_allowed_assignments([k[0] for k in keys] + list(out.values()), rows.tolist())
        return out

    def choice(self, name: str, values: list[int]):
        i = self.md.new_int_var(0, len(values) - 1, f"i_{name}")
        x = self.md.new_int_var_from_domain(self.cp.Domain.from_values(values), name)
        self.hi[name] = max(values)
        self.md.add_element(i, values, x)
        return i, x

    def product(self, factors, name: str, hi: int):
        x = self.var(0, hi, name)
        self.md.add_multiplication_equality(x, factors)
        return x


def greedy_hint(inst: Instance, space: Space) -> dict | None:
    """A construction heuristic for CP-SAT's first solution (the proof does not depend on it):
    the most memory-frugal settings (largest TP and ZeRO stage the first searched framework runs, full
    recompute, micro-batch 1, v = 1) and the smallest PP whose memory and bubble pass, scored with the
    cost model (the same feasibility rules as the search: threed_space.structural_rules)."""
    from explorer.cost.step import evaluate
    from explorer.puzzles.threed_space import bubble_ok, micro_batch_count, structural_rules

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
                        m = int(micro_batch_count(inst, d, b))
                        cand = {"tp": tp, "cp": c, "pp": p, "dp": d, "v": 1, "mb": b, "m": m, "zero": z, "rc": rc,
                                "sp": sp, "fw": fw, "hsdp": min(space.hsdp)}
                        if not all(bool(x) for x in structural_rules(inst, cand).values()):
                            continue
                        r = evaluate(inst.setup, tp, c, p, d, 1, b, m, z, rc, sp, fw=fw, hsdp=cand["hsdp"])
                        if r["memory_total"] <= inst.limit and bubble_ok(inst, p, 1, m):
                            return cand
    return None


def _grid(*lists):
    """Index grids and value grids over the given candidate lists."""
    idx = [x.ravel() for x in np.meshgrid(*[np.arange(len(v)) for v in lists], indexing="ij")]
    return idx, [np.asarray(v)[i] for v, i in zip(lists, idx)]


def build_model(inst: Instance, space: Space, exclude: list[dict] | None = None,
                hint: dict | None = None) -> Built:
    from explorer.cost import sharding as sh
    from explorer.puzzles.threed_space import framework_runs

    s, n, B, L = inst.setup, inst.devices, inst.global_batch, inst.setup.model.layers
    M = _Model()
    md = M.md
    TP, CP, PP, V, MB, Z, RC, SP, FW, HS = (space.tp, space.cp, space.pp, space.v, space.mb, space.zero, space.rc,
                                            space.sp, space.fw, space.hsdp)

    # --- variables ---------------------------------------------------------------------------------
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
    md.add_multiplication_equality(B, [dp, mb, m])
    # PP x v <= layers and v > 1 only with PP > 1 (the (PP, v) table below has only those rows);
    # interleaving needs m divisible by PP (Megatron-LM)
    inter = md.new_bool_var("interleaved")
    md.add(v >= 2).only_enforce_if(inter)
    md.add(v == 1).only_enforce_if(~inter)
    rem = M.var(0, max(PP) - 1, "m_mod_pp")
    md.add_modulo_equality(rem, m, pp)
    md.add(rem == 0).only_enforce_if(inter)
    # sequence parallel only with TP > 1: the layer table below has only those rows

    # --- factor tables (valid rows only, one allowed-assignments constraint per group) -------------
    # one layer, one micro-batch: (TP, CP, mb, rc, SP)
    (j_tp, j_cp, j_mb, j_rc, j_sp), (a_tp, a_cp, a_mb, a_rc, a_sp) = _grid(TP, CP, MB, RC, SP)
    ok = (a_sp == 0) | (a_tp > 1)
    parts = tm.layer_time(s, a_tp, a_cp, a_mb, a_rc, a_sp)
    t_layer_tab = _ns(parts[0] + parts[1] + parts[2] + parts[3])
    t_fwd = tm.layer_forward_time(s, a_tp, a_cp, a_mb, a_sp)
    lb_tab = np.floor(B * L * a_tp * a_cp * (t_layer_tab / a_mb) / n).astype(np.int64)
    lay = M.table([(i_tp, j_tp), (i_cp, j_cp), (i_mb, j_mb), (i_rc, j_rc), (i_sp, j_sp)], {
        "t_layer": t_layer_tab,
        "t_fwd": _ns(t_fwd),
        "t_bwd": _ns(parts[0] + parts[1] - t_fwd),
        "act_layer": mem.activation_bytes_per_layer(s, a_tp, a_cp, a_mb, a_rc, a_sp),
        "work_bytes": mem.working_bytes(s, a_tp, a_cp, a_mb, a_rc, a_sp),
        "t_pipe_lower_bound": lb_tab}, ok)
    t_layer, act_l, work = lay["t_layer"], lay["act_layer"], lay["work_bytes"]
    # logits: (TP, CP, mb)
    (j_tp, j_cp, j_mb), (b_tp, b_cp, b_mb) = _grid(TP, CP, MB)
    t_logits = M.table([(i_tp, j_tp), (i_cp, j_cp), (i_mb, j_mb)],
                       {"t_logits": _ns(tm.logits_time(s, b_tp, b_cp, b_mb))}, np.ones(len(b_tp), bool))["t_logits"]
    # layers of the fullest stage and the in-flight factor of interleaving: (PP, v)
    (j_pp, j_v), (c_pp, c_v) = _grid(PP, V)
    ok = (c_pp * c_v <= L) & ((c_v == 1) | (c_pp > 1))
    sl_tab = np.asarray(mem.stage_layers(L, c_pp, c_v), dtype=np.int64)
    f_num = np.where(c_v > 1, c_pp * c_v + c_pp - 1, 1).astype(np.int64)
    pv = M.table([(i_pp, j_pp), (i_v, j_v)], {"stage_layers": sl_tab, "layers_x_interleave": sl_tab * f_num,
                                             "interleave_den": np.where(c_v > 1, c_pp * c_v, 1)}, ok)
    layers, slf, den = pv["stage_layers"], pv["layers_x_interleave"], pv["interleave_den"]
    # pipeline send/recv: (TP, CP, PP, mb, SP)
    (j_tp, j_cp, j_pp, j_mb, j_sp), (d_tp, d_cp, d_pp, d_mb, d_sp) = _grid(TP, CP, PP, MB, SP)
    ok = (n % (d_tp * d_cp * d_pp) == 0) & ((d_sp == 0) | (d_tp > 1))
    t_p2p = M.table([(i_tp, j_tp), (i_cp, j_cp), (i_pp, j_pp), (i_mb, j_mb), (i_sp, j_sp)],
                    {"t_p2p": _ns(tm.p2p_time(s, d_tp, d_cp, d_pp, d_mb, d_sp))}, ok)["t_p2p"]
    # model state, data-parallel collectives, optimizer step: (framework, TP, CP, PP, v, ZeRO, HSDP); DP follows
    # from the shape. Only the rows the framework runs (threed_space.framework_runs).
    (j_fw, j_tp, j_cp, j_pp, j_v, j_z, j_hs), (e_fw, e_tp, e_cp, e_pp, e_v, e_z, e_hs) = _grid(FW, TP, CP, PP, V, Z,
                                                                                             HS)
    ok = (n % (e_tp * e_cp * e_pp) == 0) & (e_pp * e_v <= L) & ((e_v == 1) | (e_pp > 1))
    ok &= framework_runs(e_fw, e_cp, e_pp, e_v, e_z, e_hs)
    e_dp = np.where(n % (e_tp * e_cp * e_pp) == 0, n // (e_tp * e_cp * e_pp), 1)
    ok &= (e_hs == 0) | (s.group(e_dp * e_cp, e_tp * e_cp * e_pp, e_cp, e_tp).nodes > 1)
    w, gr, o = sh.model_state_bytes(s, e_fw, e_tp, e_pp, e_dp, e_cp, e_z, e_v, e_hs)
    comm = sh.dp_comm(s, e_fw, e_tp, e_cp, e_pp, e_dp, e_z, e_v, e_hs)
    st = M.table([(i_fw, j_fw), (i_tp, j_tp), (i_cp, j_cp), (i_pp, j_pp), (i_v, j_v), (i_z, j_z), (i_hs, j_hs)], {
        "state_bytes": w + gr + o + sh.buffer_bytes(s, e_fw, e_tp, e_pp, e_dp, e_cp, e_z, e_v),
        "t_grad": _ns(comm["grad_step"]),
        "t_param": _ns(comm["param_step"]),
        "overlap_grad": comm["overlap_grad"].astype(np.int64),
        "overlap_param": comm["overlap_param"].astype(np.int64),
        "t_ag": _ns(comm["ag"]),
        "t_ag_bwd": _ns(comm["ag_bwd"]),
        "t_rs": _ns(comm["rs"]),
        "t_mb_fixed": _ns(comm["mb_fixed"]),
        "t_opt": _ns(sh.dp_optimizer_time(s, e_fw, e_tp, e_cp, e_pp, e_dp, e_z, e_v, e_hs))}, ok)
    state, t_opt = st["state_bytes"], st["t_opt"]

    # --- memory per device <= limit -------------------------------------------------------------------
    k = M.var(1, max(PP), "in_flight")
    md.add_min_equality(k, [pp, m])
    x1 = M.product([act_l, slf], "act_x_layers", M.hi["act_layer"] * M.hi["layers_x_interleave"])
    x2 = M.product([x1, k], "act_x_in_flight", M.hi["act_x_layers"] * max(PP))
    act = M.var(0, M.hi["act_x_in_flight"], "activation_bytes")
    md.add_division_equality(act, x2, den)
    md.add(state + act + work <= inst.limit)

    # --- bubble fraction (p - 1)/(v m + p - 1) <= beta, linear in integers --------------------------------
    vm = M.product([v, m], "v_x_m", max(V) * B)
    beta = Fraction(inst.max_bubble)
    md.add(beta.denominator * (pp - 1) <= beta.numerator * (vm + pp - 1))

    # --- objective: step time (ns) ------------------------------------------------------------------------
    t_layers = M.product([layers, t_layer], "t_layers", M.hi["stage_layers"] * M.hi["t_layer"])
    stage = M.var(0, M.hi["t_layers"] + M.hi["t_logits"], "t_stage")
    md.add(stage == t_layers + t_logits)
    per_chunk = M.var(0, M.hi["t_stage"], "t_stage_per_chunk")
    md.add_division_equality(per_chunk, stage, v)
    # per-micro-batch sharded data parallelism (PP = 1 only; zero elsewhere): the fixed part plus, for the
    # other L - 1 layers, the gathers and reduce-scatters their compute does not hide (sharding.py)
    e_fwd = M.var(0, M.hi["t_ag"], "t_gather_exposed_fwd")
    md.add_max_equality(e_fwd, [0, st["t_ag"] - lay["t_fwd"]])
    e_bwd = M.var(0, M.hi["t_ag_bwd"] + M.hi["t_rs"], "t_gather_exposed_bwd")
    md.add_max_equality(e_bwd, [0, st["t_ag_bwd"] + st["t_rs"] - lay["t_bwd"]])
    e_mb = M.var(0, M.hi["t_mb_fixed"] + (L - 1) * (M.hi["t_gather_exposed_fwd"] + M.hi["t_gather_exposed_bwd"]),
                 "t_dp_per_micro_batch")
    md.add(e_mb == st["t_mb_fixed"] + (L - 1) * (e_fwd + e_bwd))
    chunk = M.var(0, M.hi["t_stage"] + M.hi["t_p2p"] + M.hi["t_dp_per_micro_batch"], "t_chunk")
    md.add(chunk == per_chunk + t_p2p + e_mb)
    slots = M.var(1, max(V) * B + max(PP), "slots")
    md.add(slots == vm + pp - 1)
    pipe = M.product([slots, chunk], "t_pipe", M.hi["slots"] * M.hi["t_chunk"])
    # Redundant cut (removes no solution, tightens the bound): the pipeline does at least the work
    # of its micro-batches, m x layers x t_layer >= (B / DP) x (L / PP) x t_layer / mb.
    md.add(pipe >= lay["t_pipe_lower_bound"])
    # step-level gradient sync hidden behind the last backward (2/3 of a stage), weight gather behind the
    # first forward (1/3), where the framework overlaps them
    ov = Fraction(s.efficiency.dp_overlap).limit_denominator(1000)
    exposed = []
    for name, frac, t_col, flag in (("grad", Fraction(2, 3), "t_grad", "overlap_grad"),
                                    ("param", Fraction(1, 3), "t_param", "overlap_param")):
        f = ov * frac
        hide = M.var(0, M.hi["t_stage"], f"t_{name}_hideable")
        md.add_division_equality(hide, stage * f.numerator, f.denominator)
        hid = M.product([hide, st[flag]], f"t_{name}_hidden", M.hi[f"t_{name}_hideable"])
        e = M.var(0, M.hi[t_col], f"t_{name}_exposed")
        md.add_max_equality(e, [0, st[t_col] - hid])
        exposed.append(e)
    step = M.var(0, M.hi["t_pipe"] + M.hi["t_grad"] + M.hi["t_param"] + M.hi["t_opt"], "t_step")
    md.add(step == pipe + exposed[0] + exposed[1] + t_opt)
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
