"""The 3D puzzle's instance and design space, shared by CP-SAT, the exhaustive search and the grader.

Both engines search exactly the candidate values listed here (so they search the same space by
construction) and read the same integer memory figures (so they see the same feasible set).

The puzzle's one feasibility function is `check_configuration(inst, config)` (feasibility.py): it applies the
per-variable candidate lists of `build_space` (a value outside them is "outside the searched
space", with the rule), the joint rules of `structural_rules` (the very masks `candidate_arrays`
filters the exhaustive search with) and the memory and bubble limits on the same cost-model figures
(`explorer.cost.step.evaluate`, `bubble_ok`) the exhaustive search scores. A student's attempt is
graded with it, so an attempt is feasible exactly when the solvers could have returned it: widen
the search box here (build_space / structural_rules) and the grader follows.

The puzzle hands this module to the solvers as their `rules` (solvers do not import puzzles): the functions they
call (explorer/solvers/threed_rules.py, ThreeDRules) keep those names and signatures here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

from explorer import validation as V
from explorer.cost import frameworks as fwk
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.setup import Setup
from explorer.errors import UsageError

VARIABLES = (
    "tp",
    "cp",
    "pp",
    "dp",
    "micro_batch",
    "num_micro_batches",
    "virtual_stages",
    "zero",
    "recompute",
    "sequence_parallel",
    "framework",
    "hsdp",
)
FIXABLE = {
    "tp": int,
    "cp": int,
    "pp": int,
    "dp": int,
    "micro_batch": int,
    "mb": int,
    "num_micro_batches": int,
    "m": int,
    "virtual_stages": int,
    "v": int,
    "zero": int,
    "recompute": str,
    "sequence_parallel": int,
    "sp": int,
    "framework": str,
    "hsdp": int,
}
ALIASES = {"mb": "micro_batch", "m": "num_micro_batches", "v": "virtual_stages", "sp": "sequence_parallel"}
# Variables with a per-variable candidate list in Space (its field name -> the variable's name)
FIXABLE_SPACE = {"tp": "tp", "cp": "cp", "pp": "pp", "virtual_stages": "v", "micro_batch": "mb", "zero": "zero",
                 "recompute": "rc", "sequence_parallel": "sp", "framework": "fw", "hsdp": "hsdp"}
FRAMEWORK_CODES = {f.key: f.code for f in fwk.FRAMEWORKS}
FRAMEWORK_NAMES = {f.code: f.key for f in fwk.FRAMEWORKS}


FIX_KINDS = {"tp": V.DEGREE, "cp": V.DEGREE, "pp": V.DEGREE, "dp": V.DEGREE, "micro_batch": V.MICRO_BATCH,
             "num_micro_batches": V.GLOBAL_BATCH, "virtual_stages": V.DEGREE, "zero": V.ZERO_STAGE,
             "sequence_parallel": V.SWITCH, "hsdp": V.SWITCH}


def pinned_contradiction(fix: dict, devices: int, global_batch: int, layers: int) -> str | None:
    """Why the pinned values contradict each other or the scenario's fixed sizes (None if they do not):
    a usage error, named as such, rather than an 'infeasible' found after a search."""
    tp, cp, pp, dp = (fix.get(k) for k in ("tp", "cp", "pp", "dp"))
    v, mb, m = fix.get("virtual_stages"), fix.get("micro_batch"), fix.get("num_micro_batches")
    if v is not None and v > 1 and pp == 1:
        return f"v = {v} needs PP > 1 (interleaving splits a pipeline's stages; PP is pinned to 1)"
    if fix.get("sequence_parallel") == 1 and tp == 1:
        return "sequence parallel (sp = 1) needs TP > 1 (it splits the tensor-parallel group's activations)"
    if v is not None and pp is not None and pp * v > layers:
        return f"PP x v = {pp} x {v} = {pp * v:,} chunks exceeds the model's {layers} layers"
    shape = [(k.upper(), x) for k, x in (("tp", tp), ("cp", cp), ("pp", pp), ("dp", dp)) if x is not None]
    prod = math.prod(x for _, x in shape)
    if shape and (devices % prod or (len(shape) == 4 and prod != devices)):
        names = " x ".join(k for k, _ in shape)
        rel = "does not equal" if len(shape) == 4 and not devices % prod else "does not divide"
        return f"{names} = {prod:,} {rel} the {devices:,} devices"
    batch = [(k, x) for k, x in (("DP", dp), ("micro-batch", mb), ("micro-batches", m)) if x is not None]
    prod = math.prod(x for _, x in batch)
    if batch and (global_batch % prod or (len(batch) == 3 and prod != global_batch)):
        names = " x ".join(k for k, _ in batch)
        rel = "does not equal" if len(batch) == 3 and not global_batch % prod else "does not divide"
        return f"{names} = {prod:,} {rel} the global batch {global_batch:,}"
    if v is not None and v > 1 and m is not None and pp is not None and m % pp:
        return f"v = {v} needs the micro-batch count ({m}) divisible by PP ({pp}) (Megatron-LM interleaving)"
    return None


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


@dataclass(frozen=True)
class Instance:
    """Everything the 3D puzzle needs, prepared before any model is built."""

    setup: Setup
    devices: int
    global_batch: int
    max_bubble: Fraction = Fraction(1, 10)
    fix: dict = field(default_factory=dict)
    allow: dict = field(default_factory=dict)
    # The search box. CP up to 32 (Llama 3 405B's long-context stage used 16: arXiv 2407.21783 sec. 3.3.2; beyond
    # that the sequence per rank falls below a few thousand tokens, where ring attention cannot hide its
    # traffic); v up to layers / PP and any micro-batch that divides the global batch unless narrowed here.
    max_cp: int = 32
    max_virtual_stages: int | None = None  # None: layers / PP (one layer per virtual stage)
    max_micro_batch: int | None = None  # None: the global batch
    memory_limit: int | None = None  # bytes; default: the setup's usable HBM
    framework: str = fwk.DEFAULT_FRAMEWORK  # megatron | deepspeed | fsdp | any (the union)
    # TP communication overlap asked for (--tp-comm-overlap), not the framework's default: then TP > 1 needs sequence
    # parallelism, as Megatron-LM refuses the overlap without it (structural_rules)
    overlap_asked: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.max_bubble <= 1:
            raise UsageError(f"max-bubble must lie in [0, 1], got {float(self.max_bubble)}")
        object.__setattr__(self, "framework", fwk.framework_choice(self.framework))  # aliases: nemo, torchtitan, ...
        fixed, written = {}, {}
        for k, v in self.fix.items():
            name = ALIASES.get(k, k)
            if name not in VARIABLES:
                raise UsageError(f"--fix: unknown variable {V.short(k)}; valid: {', '.join(VARIABLES)}")
            if name in written:  # {'mb': 2, 'micro_batch': 1}: which one was meant is the caller's to say
                raise UsageError(f"--fix: {name} given twice, {written[name]}={V.short(self.fix[written[name]])} and "
                                 f"{k}={V.short(v)} ({written[name]} and {k} both name {name}); give it once")
            written[name] = k
            if name == "recompute":
                if not isinstance(v, str) or v not in RECOMPUTE_CODES:
                    raise UsageError(f"--fix: recompute must be one of {', '.join(RECOMPUTE_CODES)}, got {V.short(v)}")
                fixed[name] = v
            elif name == "framework":
                key = fwk.framework_key(v) if isinstance(v, str) else None
                if key not in FRAMEWORK_CODES:
                    raise UsageError(f"--fix: framework must be one of {', '.join(FRAMEWORK_CODES)}, got {V.short(v)}")
                fixed[name] = key
            else:
                fixed[name] = FIX_KINDS[name].check(f"--fix: {name}", v)
        object.__setattr__(self, "fix", fixed)
        for k, v in self.allow.items():
            if ALIASES.get(k, k) not in VARIABLES or not isinstance(v, (list, tuple, set, frozenset, range)):
                raise UsageError(f"allow: {V.short(k)} must name a variable ({', '.join(VARIABLES)}) with a list of "
                                 f"values, got {V.short(v)}")
        contradiction = pinned_contradiction(fixed, self.devices, self.global_batch, self.setup.model.layers)
        if contradiction:
            raise V.conflict(contradiction)

    @property
    def limit(self) -> int:
        return self.memory_limit if self.memory_limit is not None else self.setup.memory_limit_bytes

    def _allowed(self, name: str, values: list) -> list:
        if name in self.fix:
            v = self.fix[name]
            return [v] if v in values else []
        if name in self.allow:
            return [v for v in values if v in self.allow[name]]
        return values


@dataclass(frozen=True)
class Space:
    """Candidate values of every variable (TP etc. only where structurally valid)."""

    tp: list[int]
    cp: list[int]
    pp: list[int]
    v: list[int]
    mb: list[int]
    zero: list[int]
    rc: list[int]  # recompute codes 0 none, 1 selective, 2 full
    sp: list[int]
    reasons: dict[str, str]
    fw: list[int] = field(default_factory=lambda: [fwk.MEGATRON.code])  # framework codes
    hsdp: list[int] = field(default_factory=lambda: [0])

    def size(self) -> int:
        """Number of raw combinations (before the product and batch constraints)."""
        return (
            len(self.tp)
            * len(self.cp)
            * len(self.pp)
            * len(self.v)
            * len(self.mb)
            * len(self.zero)
            * len(self.rc)
            * len(self.sp)
            * len(self.fw)
            * len(self.hsdp)
        )


def build_space(inst: Instance) -> Space:
    """Only valid degrees: TP divides heads, KV heads and FFN and fits in a node; CP divides the
    sequence; PP x v <= layers; micro-batch divides the global batch (the Calculon rule: generate
    only valid parallel degrees before evaluating anything)."""
    m, c = inst.setup.model, inst.setup.cluster
    n = inst.devices
    reasons = {}
    tp = [
        t
        for t in _divisors(n)
        if bool(inst.setup.within_nodes(t)) and m.heads % t == 0 and m.kv_heads % t == 0 and m.ffn % t == 0
    ]
    reasons["tp"] = (
        f"TP divides heads {m.heads}, KV heads {m.kv_heads}, FFN {m.ffn} and the {n} devices, "
        f"and stays within a node of {c.devices_per_node} (dividing it, so no TP group straddles two nodes)"
    )
    cp = [x for x in _divisors(n) if x <= inst.max_cp and inst.setup.seq_len % x == 0]
    reasons["cp"] = f"CP divides the sequence {inst.setup.seq_len} and is at most {inst.max_cp}"
    pp = [p for p in _divisors(n) if p <= m.layers]
    reasons["pp"] = f"PP divides the devices and is at most the {m.layers} layers (uneven stages allowed)"
    pp_multi = [p for p in pp if p > 1]
    v_top = m.layers // min(pp_multi) if pp_multi else 1  # v > 1 needs PP > 1, and PP x v <= layers
    if inst.max_virtual_stages is not None:
        v_top = min(v_top, inst.max_virtual_stages)
    v = list(range(1, max(v_top, 1) + 1))
    reasons["virtual_stages"] = (f"v <= {inst.max_virtual_stages}" if inst.max_virtual_stages is not None else
                                 f"PP x v <= the {m.layers} layers (at least one layer per virtual stage)")
    mb = [b for b in _divisors(inst.global_batch) if inst.max_micro_batch is None or b <= inst.max_micro_batch]
    reasons["micro_batch"] = f"micro-batch divides the global batch {inst.global_batch}" + (
        f", at most {inst.max_micro_batch}" if inst.max_micro_batch is not None else "")
    reasons["recompute"] = f"recompute is one of {', '.join(RECOMPUTE_CODES)}"
    reasons["sequence_parallel"] = "sequence parallel is on (1) or off (0)"
    rc_names = inst._allowed("recompute", list(RECOMPUTE_CODES))
    sp = inst._allowed("sequence_parallel", [0, 1])
    frameworks = fwk.frameworks_for(inst.framework)
    reasons["framework"] = f"--framework {inst.framework}: {', '.join(f.name for f in frameworks)}"
    fw_names = inst._allowed("framework", [f.key for f in frameworks])
    zeros = sorted({z for f in frameworks if f.key in fw_names for z in f.zero_stages})
    reasons["zero"] = (f"ZeRO stages {', '.join(map(str, zeros))} ({', '.join(f.name for f in frameworks)})"
                       if zeros else "no ZeRO stage")
    hsdp = [0, 1] if any(f.hsdp for f in frameworks if f.key in fw_names) else [0]
    reasons["hsdp"] = "HSDP (shard inside a node, replicate across nodes) with FSDP2 and Megatron-FSDP (ZeRO 2/3) only"
    for name in FIXABLE_SPACE:
        if name == "zero" and name in inst.fix and inst.fix[name] not in zeros:
            reasons[name] = (f"pinned to {inst.fix[name]} (--fix), but --framework {inst.framework} runs "
                             f"{reasons['zero']}")
        elif name in inst.fix:  # the rule the pin breaks, where there is one (TP stays within a node of 8, ...)
            rule = reasons.get(name)
            reasons[name] = f"pinned to {inst.fix[name]} (--fix)" + (f", but {rule}" if rule else "")
        elif name in inst.allow:
            reasons[name] = f"allowed: {', '.join(map(str, inst.allow[name]))}"
    return Space(
        tp=inst._allowed("tp", tp),
        cp=inst._allowed("cp", cp),
        pp=inst._allowed("pp", pp),
        v=inst._allowed("virtual_stages", v),
        mb=inst._allowed("micro_batch", mb),
        zero=inst._allowed("zero", zeros),
        rc=[RECOMPUTE_CODES[r] for r in rc_names],
        sp=sp,
        reasons=reasons,
        fw=[FRAMEWORK_CODES[k] for k in fw_names],
        hsdp=inst._allowed("hsdp", hsdp),
    )


def structural_rules(inst: Instance, c: dict[str, ArrayLike]) -> dict[str, np.ndarray]:
    """The joint rules a configuration must meet beyond its per-variable candidate lists, as boolean
    masks over arrays (or scalars) of tp, cp, pp, dp, v, mb, m, sp (m = 0 where DP x mb does not divide
    the global batch). `candidate_arrays` keeps the rows where all hold; `check_configuration` names
    the ones a single configuration breaks (texts in `rule_text`)."""
    tp, cp, pp, dp, v, mb, m, sp = (np.asarray(c[k]) for k in ("tp", "cp", "pp", "dp", "v", "mb", "m", "sp"))
    fw = np.asarray(c.get("fw", fwk.MEGATRON.code))
    zero = np.asarray(c.get("zero", 0))
    hsdp = np.asarray(c.get("hsdp", 0))
    rules = {
        "devices": tp * cp * pp * dp == inst.devices,
        "global_batch": (m >= 1) & (dp * mb * m == inst.global_batch),
        "layers": pp * v <= inst.setup.model.layers,
        "interleaving_needs_pp": (v == 1) | (pp > 1),
        "interleaving_micro_batches": (v == 1) | (m % np.maximum(pp, 1) == 0),
        "sequence_parallel_needs_tp": (sp == 0) | (tp > 1),
        "tp_overlap_needs_sp": overlap_allows(inst, tp, sp),
        "framework_runs_it": framework_runs(fw, cp, pp, v, zero, hsdp),
        "hsdp_spans_nodes": (hsdp == 0) | (inst.setup.group(dp * cp, tp * cp, cp, tp).nodes > 1),
    }
    for name, key in (("dp", dp), ("num_micro_batches", m)):
        if name in inst.fix:
            rules[f"fixed_{name}"] = key == inst.fix[name]
    return rules


def overlap_allows(inst: Instance, tp: ArrayLike, sp: ArrayLike) -> np.ndarray:
    """Mask: the TP communication overlap the user asked for can run. Megatron-LM refuses the overlap without
    sequence parallelism at start-up (megatron/training/arguments.py: 'Tensor parallel communication/GEMM overlap can
    happen only when sequence parallelism is enabled'), and torchtitan's AsyncTP pipelines the all-gathers and
    reduce-scatters that only sequence parallelism runs (parallelize_llama.py apply_tp). A framework's default
    overlap is no request: a plan without sequence parallelism runs without it."""
    tp, sp = np.asarray(tp), np.asarray(sp)
    return (not inst.overlap_asked) | (tp == 1) | (sp == 1)


def rule_text(inst: Instance, name: str, c: dict) -> str:
    """Why one configuration breaks the joint rule `name` (structural_rules), with its numbers."""
    n, B, L = inst.devices, inst.global_batch, inst.setup.model.layers
    texts = {
        "devices": lambda: f"TP x CP x PP x DP = {c['tp'] * c['cp'] * c['pp'] * c['dp']} != {n} devices",
        "global_batch": lambda: f"global batch {B:,} not divisible by DP x micro-batch = {c['dp'] * c['mb']:,}",
        "layers": lambda: f"PP x v = {c['pp'] * c['v']} > {L} layers",
        "interleaving_needs_pp": lambda: f"virtual stages v = {c['v']} need PP > 1",
        "interleaving_micro_batches": lambda: f"interleaving (v = {c['v']}) needs the {c['m']} micro-batches "
                                              f"divisible by PP = {c['pp']} (Megatron-LM)",
        "sequence_parallel_needs_tp": lambda: "sequence parallel needs TP > 1",
        "tp_overlap_needs_sp": lambda: (f"--tp-comm-overlap needs sequence parallelism at TP {c['tp']} (Megatron-LM "
                                        "refuses TP communication overlap without it)"),
        "framework_runs_it": lambda: fwk.FRAMEWORKS[int(c.get("fw", 0))].why_not(
            cp=int(c["cp"]), pp=int(c["pp"]), v=int(c["v"]), zero=int(c.get("zero", 0)),
            hsdp=bool(c.get("hsdp", 0))) or "",
        "hsdp_spans_nodes": lambda: "HSDP needs the data-parallel group to span nodes (inside one node it is FSDP)",
        "fixed_dp": lambda: f"DP {c['dp']} != {inst.fix.get('dp')} pinned by --fix",
        "fixed_num_micro_batches": lambda: f"{c['m']} micro-batches != {inst.fix.get('num_micro_batches')} "
                                           f"pinned by --fix",
    }
    return texts[name]()


def framework_runs(fw: ArrayLike, cp: ArrayLike, pp: ArrayLike, v: ArrayLike, zero: ArrayLike,
                   hsdp: ArrayLike) -> np.ndarray:
    """Mask: the framework (code) runs this combination (Framework.why_not, over arrays)."""
    fw, cp, pp, v, zero, hsdp = (np.asarray(x) for x in (fw, cp, pp, v, zero, hsdp))
    ok = np.zeros(np.broadcast(fw, cp, pp, v, zero, hsdp).shape, dtype=bool)
    for f in fwk.FRAMEWORKS:
        runs = np.isin(zero, f.zero_stages)
        runs &= (zero < 2) | (pp == 1) | f.sharded_with_pp
        runs &= (v == 1) | f.interleaving
        runs &= (cp == 1) | f.context_parallel
        runs &= (hsdp == 0) | (f.hsdp & (zero >= 2))
        ok |= (fw == f.code) & runs
    return ok


def micro_batch_count(inst: Instance, dp: ArrayLike, mb: ArrayLike) -> np.ndarray:
    """m = global batch / (DP x mb) where that divides, else 0 (which the global-batch rule rejects)."""
    dp, mb = np.asarray(dp), np.asarray(mb)
    den = np.maximum(dp * mb, 1)
    return np.where(inst.global_batch % den == 0, inst.global_batch // den, 0)


def structural_conflict(inst: Instance, space: Space) -> str | None:
    """A pinned value the model's structure cannot accommodate, named (None if there is none): e.g.
    v = 4 on a 5-layer model needs PP > 1 and PP x 4 <= 5 layers, which no PP satisfies."""
    L = inst.setup.model.layers
    v = min(space.v)
    if v > 1 and not any(p > 1 and p * v <= L for p in space.pp):
        return (f"v = {v} needs PP > 1 with PP x v <= the model's {L} layers, and no PP in {space.pp} "
                f"allows both")
    if min(space.sp) == 1 and not any(t > 1 for t in space.tp):
        return f"sequence parallel (sp = 1) needs TP > 1, and TP can only be {space.tp} ({space.reasons['tp']})"
    return None


def candidate_arrays(inst: Instance, space: Space) -> dict[str, np.ndarray]:
    """Every structurally valid configuration as numpy arrays (the exhaustive search's input).

    Candidate values from `space` (build_space); joint rules from `structural_rules`: TP x CP x PP x
    DP = devices; DP x mb x m = global batch; PP x v <= layers; v > 1 needs PP > 1 and m divisible by
    PP (Megatron-LM interleaving); sequence parallel only with TP > 1; pinned DP and m (--fix)."""
    n, L = inst.devices, inst.setup.model.layers
    keys = ("tp", "cp", "pp", "dp", "v", "mb", "m", "zero", "rc", "sp", "fw", "hsdp")
    shapes = [(t, c_, p) for t in space.tp for c_ in space.cp for p in space.pp if n % (t * c_ * p) == 0]
    if not shapes or not space.mb:
        return {k: np.zeros(0, dtype=np.int64) for k in keys}
    # Built in stages, each product filtered by the rules that already apply to it (the space can run to tens
    # of millions of raw combinations, the valid ones to a few hundred thousand), then every rule once more.
    out = {k: a for k, a in zip(("tp", "cp", "pp"), np.array(shapes, dtype=np.int64).T)}

    def product(cols: dict, name: str, values, keep=None) -> dict:
        vals = np.asarray(values, dtype=np.int64)
        rows = len(next(iter(cols.values())))
        new = {k: np.repeat(a, len(vals)) for k, a in cols.items()}
        new[name] = np.tile(vals, rows)
        if keep is not None:
            ok = keep(new)
            new = {k: a[ok] for k, a in new.items()}
        return new

    out = product(out, "v", space.v, lambda c: (c["pp"] * c["v"] <= L) & ((c["v"] == 1) | (c["pp"] > 1)))
    out["dp"] = n // (out["tp"] * out["cp"] * out["pp"])
    out = product(out, "mb", space.mb)
    out["m"] = micro_batch_count(inst, out["dp"], out["mb"])
    ok = (out["m"] >= 1) & ((out["v"] == 1) | (out["m"] % np.maximum(out["pp"], 1) == 0))
    out = {k: a[ok] for k, a in out.items()}
    fz = np.array([(f, z, h) for f in space.fw for z in space.zero for h in space.hsdp], dtype=np.int64)
    out = product(out, "_fz", np.arange(len(fz)))
    out["fw"], out["zero"], out["hsdp"] = fz[out["_fz"], 0], fz[out["_fz"], 1], fz[out["_fz"], 2]
    del out["_fz"]
    ok = framework_runs(out["fw"], out["cp"], out["pp"], out["v"], out["zero"], out["hsdp"])
    out = {k: a[ok] for k, a in out.items()}
    out = product(out, "rc", space.rc)
    out = product(out, "sp", space.sp, lambda c: (c["sp"] == 0) | (c["tp"] > 1))
    ok = np.ones(len(out["tp"]), dtype=bool)
    for mask in structural_rules(inst, out).values():
        ok &= mask
    return {k: out[k][ok] for k in keys}


def bubble_ok(inst: Instance, pp: ArrayLike, v: ArrayLike, m: ArrayLike) -> np.ndarray | bool:
    """(p - 1) / (v m + p - 1) <= max_bubble, as the linear integer inequality of docs/conventions.md."""
    num, den = inst.max_bubble.numerator, inst.max_bubble.denominator
    return den * (np.asarray(pp) - 1) <= num * (np.asarray(v) * m + np.asarray(pp) - 1)

