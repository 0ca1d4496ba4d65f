"""The knee of a scaling curve: where adding GPUs stops paying.

Definition (the scaling lab's diminishing-returns rule, docs/conventions.md "Scaling", as
`explore solve scaling` uses it): the smallest cluster size N from which one more GPU adds less than
`threshold` (0.5) of a GPU's worth of throughput. On a sweep's grid the marginal gain per added GPU
is taken between neighbouring sizes, (X(N_i) - X(N_{i-1})) / (N_i - N_{i-1}), in units of the
per-GPU throughput of the curve's smallest solved size X(N_0) / N_0 (a sweep rarely has N = 1: a
large model does not fit on one GPU). The knee is N_{i-1} for the first step i whose gain falls
below the threshold; a curve whose every step still pays has no knee inside the grid.
"""

from __future__ import annotations

import math
from typing import Any

THRESHOLD = 0.5


def knee(gpus: list[int], throughput: list[float], threshold: float = THRESHOLD) -> dict[str, Any]:
    """{'knee_gpus', 'next_gpus', 'marginal'} of one curve (points with no finite throughput dropped)."""
    pts = sorted((n, x) for n, x in zip(gpus, throughput) if x is not None and math.isfinite(x) and x > 0)
    out: dict[str, Any] = {"knee_gpus": None, "next_gpus": None, "marginal": None, "points": len(pts)}
    if len(pts) < 2:
        return out
    n0, x0 = pts[0]
    unit = x0 / n0
    for (na, xa), (nb, xb) in zip(pts, pts[1:]):
        marginal = (xb - xa) / (nb - na) / unit
        if marginal < threshold:
            out.update(knee_gpus=na, next_gpus=nb, marginal=marginal)
            return out
    return out


def curve_columns(frame_columns: list[str], kind_inputs: list[str]) -> list[str]:
    """The inputs that identify a curve: every input but the cluster size."""
    return [c for c in kind_inputs if c in frame_columns and c != "gpus"]
