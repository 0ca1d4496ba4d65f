"""The 3D puzzle's instance and design space, shared by CP-SAT and the exhaustive search.

Both engines search exactly the candidate values listed here (so they search the same space by
construction) and read the same integer memory figures (so they see the same feasible set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

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
}
ALIASES = {"mb": "micro_batch", "m": "num_micro_batches", "v": "virtual_stages", "sp": "sequence_parallel"}


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
    max_cp: int = 8
    max_virtual_stages: int = 4
    max_micro_batch: int = 64
    memory_limit: int | None = None  # bytes; default: the setup's usable HBM

    def __post_init__(self) -> None:
        if not 0 <= self.max_bubble <= 1:
            raise UsageError(f"max-bubble must lie in [0, 1], got {float(self.max_bubble)}")
        fixed = {}
        for k, v in self.fix.items():
            name = ALIASES.get(k, k)
            if name not in VARIABLES:
                raise UsageError(f"--fix: unknown variable {k!r}; valid: {', '.join(VARIABLES)}")
            if name == "recompute":
                if v not in RECOMPUTE_CODES:
                    raise UsageError(f"--fix: recompute must be one of {', '.join(RECOMPUTE_CODES)}, got {v!r}")
            elif isinstance(v, bool) or int(v) != v or int(v) < (0 if name in ("zero", "sequence_parallel") else 1):
                raise UsageError(
                    f"--fix: {name} must be a {'non-negative' if name == 'zero' else 'positive'} "
                    f"whole number, got {v!r}"
                )
            fixed[name] = v
        object.__setattr__(self, "fix", fixed)

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
        if t <= c.devices_per_node and m.heads % t == 0 and m.kv_heads % t == 0 and m.ffn % t == 0
    ]
    reasons["tp"] = (
        f"TP divides heads {m.heads}, KV heads {m.kv_heads}, FFN {m.ffn} and the {n} devices, "
        f"and stays within a node of {c.devices_per_node}"
    )
    cp = [x for x in _divisors(n) if x <= inst.max_cp and inst.setup.seq_len % x == 0]
    reasons["cp"] = f"CP divides the sequence {inst.setup.seq_len} and is at most {inst.max_cp}"
    pp = [p for p in _divisors(n) if p <= m.layers]
    reasons["pp"] = f"PP divides the devices and is at most the {m.layers} layers (uneven stages allowed)"
    v = list(range(1, inst.max_virtual_stages + 1))
    mb = [b for b in _divisors(inst.global_batch) if b <= inst.max_micro_batch]
    reasons["micro_batch"] = f"micro-batch divides the global batch {inst.global_batch}, at most {inst.max_micro_batch}"
    rc_names = inst._allowed("recompute", list(RECOMPUTE_CODES))
    sp = inst._allowed("sequence_parallel", [0, 1])
    return Space(
        tp=inst._allowed("tp", tp),
        cp=inst._allowed("cp", cp),
        pp=inst._allowed("pp", pp),
        v=inst._allowed("virtual_stages", v),
        mb=inst._allowed("micro_batch", mb),
        zero=inst._allowed("zero", [0, 1, 2, 3]),
        rc=[RECOMPUTE_CODES[r] for r in rc_names],
        sp=sp,
        reasons=reasons,
    )


def candidate_arrays(inst: Instance, space: Space) -> dict[str, np.ndarray]:
    """Every structurally valid configuration as numpy arrays (the exhaustive search's input).

    Structural constraints: TP x CP x PP x DP = devices; DP x mb x m = global batch;
    PP x v <= layers; v > 1 needs PP > 1 and m divisible by PP (Megatron-LM interleaving);
    sequence parallel only with TP > 1; pinned variables (--fix) respected."""
    n, B, L = inst.devices, inst.global_batch, inst.setup.model.layers
    shapes = [(t, c_, p) for t in space.tp for c_ in space.cp for p in space.pp if n % (t * c_ * p) == 0]
    if not shapes or not space.mb:
        return {k: np.zeros(0, dtype=np.int64) for k in ("tp", "cp", "pp", "dp", "v", "mb", "m", "zero", "rc", "sp")}
    sh = np.array(shapes, dtype=np.int64)
    grids = np.meshgrid(
        np.arange(len(sh)),
        np.array(space.v),
        np.array(space.mb),
        np.array(space.zero),
        np.array(space.rc),
        np.array(space.sp),
        indexing="ij",
    )
    idx, v, mb, zero, rc, sp = (g.ravel() for g in grids)
    tp, cp, pp = sh[idx, 0], sh[idx, 1], sh[idx, 2]
    dp = n // (tp * cp * pp)
    ok = (B % (dp * mb) == 0) & (pp * v <= L) & ((v == 1) | (pp > 1)) & ((sp == 0) | (tp > 1))
    m = np.where(ok, B // np.maximum(dp * mb, 1), 0)
    ok &= m >= 1
    ok &= (v == 1) | (m % pp == 0)
    fx = inst.fix
    for name, arr in (("dp", dp), ("num_micro_batches", m)):
        if name in fx:
            ok &= arr == fx[name]
    out = {"tp": tp, "cp": cp, "pp": pp, "dp": dp, "v": v, "mb": mb, "m": m, "zero": zero, "rc": rc, "sp": sp}
    return {k: a[ok] for k, a in out.items()}


def bubble_ok(inst: Instance, pp: ArrayLike, v: ArrayLike, m: ArrayLike) -> np.ndarray | bool:
    """(p - 1) / (v m + p - 1) <= max_bubble, as the linear integer inequality of CONVENTIONS."""
    num, den = inst.max_bubble.numerator, inst.max_bubble.denominator
    return den * (np.asarray(pp) - 1) <= num * (np.asarray(v) * m + np.asarray(pp) - 1)
