"""The factor tables of the 3D CP-SAT model (explorer/solvers/threed_cpsat.py, whose module docstring describes them):
in numpy with the relaxation bounds over (TP, CP, PP, v, mb, rc, SP) (`prepare`, computed once per solve; memory in
exact integer bytes, times in integer nanoseconds, TIME_SCALE), and the CpModel wrapper build_model states them with
(`_Model`: variables with their bounds, table rows as allowed assignments, element lookups, products)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from explorer.cost import memory as mem
from explorer.cost import time as tm
from explorer.cost.frameworks import FRAMEWORKS, tp_overlap_of
from explorer.cost.step import attention_setups
from explorer.solvers import cpsat
from explorer.solvers.threed_rules import ThreeDInstance, ThreeDRules, ThreeDSpace

TIME_SCALE = 1e9  # CP-SAT times are integer nanoseconds

# A bound beyond CP-SAT's integer range (a step of centuries in integer nanoseconds, a product of two
# large bounds) cannot be modelled, and the caller is told so.
MAX_DOMAIN = cpsat.MAX_DOMAIN


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


BIG = np.iinfo(np.int64).max // 4  # "no feasible completion" in the relaxation below


def _mesh(*lists) -> list[np.ndarray]:
    """Value grids ("ij" order) over the given candidate lists: one axis per list."""
    return np.meshgrid(*[np.asarray(v, dtype=np.int64) for v in lists], indexing="ij")


def _key_grids(*lists) -> list[np.ndarray]:
    """Index grids (flattened, "ij" order) over the candidate lists: the table keys."""
    return [x.ravel() for x in np.meshgrid(*[np.arange(len(v)) for v in lists], indexing="ij")]


def prepare(inst: ThreeDInstance, space: ThreeDSpace, *, rules: ThreeDRules) -> dict:
    """The factor tables in numpy and the relaxation bounds (computed once per solve; build_model reads them).
    `rules`: the puzzle's joint rules (explorer.puzzles.threed.space) that rule table rows out."""
    from explorer.cost import sharding as sh

    s, n, B, L = inst.setup, inst.devices, inst.global_batch, inst.setup.model.layers
    if s.embedding_pipeline_slot:  # a reference-table option (explorer/cost/setup.py) the tables below leave out
        raise ValueError("the 3D search does not model Setup.embedding_pipeline_slot; use explorer.cost.step")
    limit = inst.limit
    TP, CP, PP, V, MB, Z, RC, SP, FW, HS = (space.tp, space.cp, space.pp, space.v, space.mb, space.zero, space.rc,
                                            space.sp, space.fw, space.hsdp)
    beta = Fraction(inst.max_bubble)

    # --- the factor tables in numpy, on full grids (one axis per variable) ----------------------------
    # one layer, one micro-batch: (TP, CP, mb, rc, SP)
    a_tp, a_cp, a_mb, a_rc, a_sp = _mesh(TP, CP, MB, RC, SP)
    # A layer's time depends on the plan's framework twice: its TP overlap (unless the user set it; frameworks
    # overlap differently, frameworks.TP_OVERLAP_*) and, under --framework any, its attention kernel
    # (Setup.attention_kernel_by_framework). Each distinct (overlap mode, kernel) among the FW candidates is a layer
    # variant with its own columns (variant 0 the base columns, the others "_v<j>"); build_model selects the plan's
    # framework's (var_of_fw: one per FW candidate)
    ovl = tp_overlap_of(s.tp_comm_overlap, np.asarray(FW), s.cluster.accelerator.key)
    ovl_modes = np.asarray(ovl, dtype=np.int64).reshape(-1) * np.ones(len(FW), dtype=np.int64)
    kern_fw, kern_setups = attention_setups(s, np.asarray(FW))  # one kernel per FW candidate
    variants = sorted(set(zip(ovl_modes.tolist(), kern_fw.tolist())))
    var_of_fw = np.asarray([variants.index(v) for v in zip(ovl_modes.tolist(), kern_fw.tolist())], dtype=np.int64)
    # a layer's forward and backward windows times (1 - sigma), sigma the overlap interference (build_model's e_mb)
    keep = 1.0 - s.efficiency.overlap_interference
    cols = []  # per variant: t_layer, w_layer, t_fwd_keep, t_bwd_keep
    for mode, kernel in variants:
        s_k = kern_setups[kernel]
        parts = tm.layer_time(s_k, a_tp, a_cp, a_mb, a_rc, a_sp, mode)
        win_f, win_b = tm.sharded_dp_windows(s_k, a_tp, a_cp, a_mb, a_rc, a_sp)  # step.evaluate's windows
        t_v = _ns(parts[0] + parts[1] + parts[2] + parts[3])
        # m t_layer / PP = B TP CP t_layer / (n mb): the share of the pipeline's work that does not depend on PP
        cols.append({"t_layer": t_v, "w_layer": np.rint(B * a_tp * a_cp * (t_v / a_mb) / n).astype(np.int64),
                     "t_fwd_keep": _ns(keep * win_f), "t_bwd_keep": _ns(keep * win_b)})
    t_layer, w_layer, t_fwd_keep, t_bwd_keep = (cols[0][k] for k in ("t_layer", "w_layer", "t_fwd_keep",
                                                                      "t_bwd_keep"))
    layer_alt = cols[1:]
    act_l = np.asarray(mem.activation_bytes_per_layer(s, a_tp, a_cp, a_mb, a_rc, a_sp), dtype=np.int64)
    work = np.asarray(mem.working_bytes(s, a_tp, a_cp, a_mb, a_rc, a_sp, loss=False), dtype=np.int64)
    loss_l = np.asarray(mem.loss_bytes(s, a_tp, a_cp, a_mb), dtype=np.int64)  # on the last stage (or the only one)
    # the relaxation takes the fastest variant where several may run (a valid lower bound for each)
    t_layer_lb = np.minimum.reduce([c["t_layer"] for c in cols])
    w_layer_lb = np.minimum.reduce([c["w_layer"] for c in cols])
    # a layer's activations alone (the fewest any stage holds) must fit: this also bounds the products below
    lay_ok = ((a_sp == 0) | (a_tp > 1)) & rules.overlap_allows(inst, a_tp, a_sp) & (act_l + work + loss_l <= limit)
    # logits: (TP, CP, mb)
    b_tp, b_cp, b_mb = _mesh(TP, CP, MB)
    t_logits = _ns(tm.logits_time(s, b_tp, b_cp, b_mb))
    w_logits = np.rint(B * b_tp * b_cp * (t_logits / b_mb) / n).astype(np.int64)
    loss_b = np.asarray(mem.loss_bytes(s, b_tp, b_cp, b_mb), dtype=np.int64)
    # stage layers, interleaving: (PP, v)
    c_pp, c_v = _mesh(PP, V)
    pv_ok = (c_pp * c_v <= L) & ((c_v == 1) | (c_pp > 1))
    sl = np.asarray(mem.stage_layers(L, c_pp, c_v), dtype=np.int64)
    # chunks in flight at each pipeline end before the step's m v cap (memory.in_flight_chunks)
    inflight_cap = np.asarray(mem.in_flight_cap(c_pp, c_v), dtype=np.int64)
    inflight_cap_last = np.asarray(mem.in_flight_cap(c_pp, c_v, last=True), dtype=np.int64)
    chunk = sl // c_v  # layers per chunk: stage_layers is v chunks of ceil(L / (p v))
    bubble_layers = (c_pp - 1) * chunk  # (p - 1) x layers per chunk
    # the shape and the micro-batch count: (TP, CP, PP, mb)
    g_tp, g_cp, g_pp, g_mb = _mesh(TP, CP, PP, MB)
    shape_ok = n % (g_tp * g_cp * g_pp) == 0
    g_dp = np.where(shape_ok, n // (g_tp * g_cp * g_pp), 1)
    m_ok = shape_ok & (B % (g_dp * g_mb) == 0)
    g_m = np.where(m_ok, B // (g_dp * g_mb), 0)
    for name, arr in (("dp", g_dp), ("num_micro_batches", g_m)):
        if name in inst.fix:
            m_ok &= arr == int(inst.fix[name])
    # pipeline send/recv: (TP, CP, PP, mb, SP)
    d_tp, d_cp, d_pp, d_mb, d_sp = _mesh(TP, CP, PP, MB, SP)
    # per framework (FW, TP, CP, PP, mb, SP): the table carries the least of them, and frameworks whose sends cost
    # more (DeepSpeed's blocking transfers, frameworks.p2p_transfers_of) add their difference, p2p_extra
    p2p_fw = np.stack([_ns(tm.p2p_time(s, d_tp, d_cp, d_pp, d_mb, d_sp, f)) for f in FW])
    t_p2p = p2p_fw.min(axis=0)
    p2p_extra_fw = p2p_fw - t_p2p  # >= 0; zero for the frameworks at the least
    p2p_more = np.asarray([bool((x > 0).any()) for x in p2p_extra_fw], dtype=np.int64)  # (FW,)
    p2p_extra = p2p_extra_fw.max(axis=0)
    # one extra table serves every framework that pays more only while they all pay the same, and (m + p - 1)
    # counts their sends only while none of them interleaves
    assert all(np.array_equal(x, p2p_extra) for x, more in zip(p2p_extra_fw, p2p_more) if more)
    assert not any(FRAMEWORKS[f].interleaving for f, more in zip(FW, p2p_more) if more)
    d_m = g_m[..., None]
    p2p_ok = m_ok[..., None] & ((d_sp == 0) | (d_tp > 1))
    # model state, data-parallel collectives, optimizer step: (framework, TP, CP, PP, v, ZeRO, HSDP); only the
    # rows the framework runs (the puzzle's rules.framework_runs)
    e_fw, e_tp, e_cp, e_pp, e_v, e_z, e_hs = _mesh(FW, TP, CP, PP, V, Z, HS)
    e_shape = n % (e_tp * e_cp * e_pp) == 0
    e_dp = np.where(e_shape, n // (e_tp * e_cp * e_pp), 1)
    dp_ok = (e_shape & (e_pp * e_v <= L) & ((e_v == 1) | (e_pp > 1))
             & rules.framework_runs(e_fw, e_cp, e_pp, e_v, e_z, e_hs))
    dp_ok &= (e_hs == 0) | (s.group(e_dp * e_cp, e_tp * e_cp, e_cp, e_tp).nodes > 1)
    w, gr, o = sh.model_state_bytes(s, e_fw, e_tp, e_pp, e_dp, e_cp, e_z, e_v, e_hs)
    state = np.asarray(w + gr + o + sh.buffer_bytes(s, e_fw, e_tp, e_pp, e_dp, e_cp, e_z, e_v), dtype=np.int64)
    dp_ok &= state <= limit
    comm = sh.dp_comm(s, e_fw, e_tp, e_cp, e_pp, e_dp, e_z, e_v, e_hs)
    comm_grad_step, comm_param_step, comm_ag, comm_ag_bwd, comm_rs, comm_mb_fixed = (
        np.asarray(comm[k]) for k in ("grad_step", "param_step", "ag", "ag_bwd", "rs", "mb_fixed"))
    comm_overlap_grad, comm_overlap_param = np.asarray(comm["overlap_grad"]), np.asarray(comm["overlap_param"])
    comm_k_grad, comm_q_param = (np.broadcast_to(a, e_fw.shape) for a in sh.chunk_windows(e_fw, e_pp, e_v))
    t_opt = _ns(sh.dp_optimizer_time(s, e_fw, e_tp, e_cp, e_pp, e_dp, e_z, e_v, e_hs))
    t_acc = _ns(sh.grad_accumulation_time(s, e_fw, e_tp, e_pp, e_z, e_v))  # per micro-batch (v = 1 where > 0)
    # autograd's accumulation into .grad (DeepSpeed fp16 / ZeRO-1): per micro-batch after the first (v = 1 where > 0)
    t_acc_rest = _ns(sh.autograd_accumulation_time(s, e_fw, e_tp, e_pp, e_z, e_v))
    # overlap interference (sharding.interference, sigma): exposed + sigma (total - exposed) = sigma total
    # + (1 - sigma) exposed, and (1 - sigma) max(a, b - w) = max((1 - sigma) a, (1 - sigma) b - (1 - sigma) w), so
    # the model below takes every collective and window times (1 - sigma) ("keep" columns) and adds sigma x total
    sig_sync = _ns(sh.interference(s, comm_grad_step + comm_param_step))
    sig_layer = _ns(sh.interference(s, comm_ag + comm_ag_bwd + comm_rs))
    kept = {k: _ns(keep * np.asarray(comm[k])) for k in ("grad_step", "param_step", "ag", "ag_bwd", "rs",
                                                          "grad_last", "param_first")}
    # per model chunk (interleaved pipelines sync each chunk on its own: sharding.step_sync_exposed)
    kept["grad_chunk"] = _ns(keep * comm_grad_step / e_v)
    kept["param_chunk"] = _ns(keep * comm_param_step / e_v)

    # --- a relaxation over (TP, CP, PP, v, mb, rc, SP): the exact pipeline time of the model below, the
    # fastest optimizer step and the smallest model state any framework / ZeRO choice gives the shape, the
    # bubble and interleaving rules. Every configuration of the model costs at least its relaxation value
    # (the data-parallel exposure it leaves out is >= 0), and one whose relaxation breaks the memory limit
    # or a rule is infeasible. Used as redundant cuts (step >= bound) and to drop rows no feasible
    # configuration uses; both leave the optimum and the feasible set unchanged.
    state_min = np.where(dp_ok, state, BIG).min(axis=(0, 5, 6))  # (TP, CP, PP, v)
    # what every step pays beyond the pipeline whatever it exposes: the optimizer and the overlap interference of
    # the step-level sync, and per micro-batch the fixed sharded-DP part, DeepSpeed's FP32 accumulation and the
    # per-layer collectives' interference
    opt_min = np.where(dp_ok, t_opt + sig_sync, BIG).min(axis=(0, 5, 6))
    mb_min = np.where(dp_ok, _ns(comm_mb_fixed) + t_acc + (L - 1) * sig_layer, BIG).min(axis=(0, 5, 6))
    X = (slice(None), slice(None), None, None, slice(None), slice(None), slice(None))  # layer -> 7-D
    T7 = t_layer_lb[X]
    pp7 = np.asarray(PP, dtype=np.int64)[None, None, :, None, None, None, None]
    v7 = np.asarray(V, dtype=np.int64)[None, None, None, :, None, None, None]
    m7 = g_m[:, :, :, None, :, None, None]
    pipe = ((sl * c_pp)[None, None, :, :, None, None, None] * w_layer_lb[X]
            + pp7 * w_logits[:, :, None, None, :, None, None]
            + v7 * (d_m * t_p2p)[:, :, :, None, :, None, :]
            + bubble_layers[None, None, :, :, None, None, None] * T7
            + ((d_pp - 1) * t_p2p)[:, :, :, None, :, None, :])
    k7 = np.minimum(inflight_cap[None, None, :, :, None, None, None], v7 * m7)  # memory.in_flight_chunks
    k7_last = np.minimum(inflight_cap_last[None, None, :, :, None, None, None], v7 * m7)
    chunk7 = chunk[None, None, :, :, None, None, None]
    # the end that peaks higher: the first stage's activations, or the last's plus the loss
    act = np.maximum(act_l[X] * chunk7 * k7, act_l[X] * chunk7 * k7_last + loss_b[:, :, None, None, :, None, None])
    ok7 = (lay_ok[X] & pv_ok[None, None, :, :, None, None, None] & p2p_ok[:, :, :, None, :, None, :]
           & (state_min[:, :, :, :, None, None, None] + act + work[X] <= limit)
           & (beta.denominator * (pp7 - 1) <= beta.numerator * (v7 * m7 + pp7 - 1))
           & ((v7 == 1) | (m7 % pp7 == 0)) & (m7 >= 1))
    mb7 = mb_min[:, :, :, :, None, None, None]
    ok7 &= mb7 < BIG  # (a shape no framework row runs: opt_min is BIG there too)
    bound = np.where(ok7, pipe + opt_min[:, :, :, :, None, None, None] + m7 * np.where(mb7 < BIG, mb7, 0), BIG)
    lb_v = bound.min(axis=(4, 5, 6))  # (TP, CP, PP, v)
    lb_a = bound.min(axis=(3, 5))  # (TP, CP, PP, mb, SP)
    lb_l = bound.min(axis=(2, 3))  # (TP, CP, mb, rc, SP)
    finite = bound[bound < BIG]
    return {k: v for k, v in locals().items() if isinstance(v, np.ndarray)} | {
        "bound_min": int(finite.min()) if finite.size else None, "kept": kept, "layer_alt": layer_alt}
