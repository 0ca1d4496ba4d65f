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
solvers do not import puzzles.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from explorer.cost import memory as mem
from explorer.cost import time as tm
from explorer.cost.frameworks import FRAMEWORKS, tp_overlap_of
from explorer.cost.step import attention_setups
from explorer.solvers import cpsat
from explorer.solvers.threed_rules import ThreeDInstance, ThreeDRules, ThreeDSpace

TIME_SCALE = 1e9  # CP-SAT times are integer nanoseconds


@dataclass
class Built:
    model: object
    vars: dict
    space: ThreeDSpace


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


class TimeUp(RuntimeError):
    """The time limit ran out before CP-SAT found any configuration."""


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
