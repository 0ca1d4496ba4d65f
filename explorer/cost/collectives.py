"""Collective-communication times under the alpha-beta model (../shared/CONVENTIONS.md, "Collectives").

alpha = per-message latency (s), bandwidth = bytes/s, M = message bytes, N = participants.
The bandwidth term is always written M / B. All functions accept numpy arrays as well as scalars.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _log2_ceil(n: ArrayLike):
    return np.ceil(np.log2(np.maximum(n, 1)))


def ring_allreduce_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """Ring AllReduce: 2 (N-1) alpha + 2 (N-1)/N * M/B (Patarasuk & Yuan 2009; Thakur et al. 2005)."""
    n = np.asarray(n, dtype=float)
    t = 2.0 * (n - 1.0) * alpha + 2.0 * (n - 1.0) / n * np.asarray(m_bytes, dtype=float) / bandwidth
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def tree_allreduce_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """Binomial tree AllReduce (reduce then broadcast, unpipelined): 2 ceil(log2 N) (alpha + M/B)."""
    n = np.asarray(n, dtype=float)
    t = 2.0 * _log2_ceil(n) * (alpha + np.asarray(m_bytes, dtype=float) / bandwidth)
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def reduce_scatter_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """Ring reduce-scatter (or all-gather) of M bytes in total: (N-1) alpha + (N-1)/N * M/B."""
    n = np.asarray(n, dtype=float)
    t = (n - 1.0) * alpha + (n - 1.0) / n * np.asarray(m_bytes, dtype=float) / bandwidth
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


all_gather_time = reduce_scatter_time


def p2p_time(m_bytes: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """One point-to-point send: alpha + M/B."""
    return alpha + np.asarray(m_bytes, dtype=float) / bandwidth if np.ndim(m_bytes) else alpha + m_bytes / bandwidth


# --- further AllReduce algorithms (lab 06) ------------------------------------------------------
def halving_doubling_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """Recursive halving-doubling AllReduce (Rabenseifner; Thakur, Rabenseifner & Gropp 2005, sec. 4.4):
    reduce-scatter by recursive halving + all-gather by recursive doubling over p' = 2^floor(log2 N) ranks,
    2 log2(p') alpha + 2 (p'-1)/p' * M/B; when N is not a power of two the N - p' extra ranks first
    hand their vector to a partner and get the result back at the end: + 2 (alpha + M/B)."""
    n = np.asarray(n, dtype=float)
    m = np.asarray(m_bytes, dtype=float)
    p = 2.0 ** np.floor(np.log2(np.maximum(n, 1)))
    t = 2.0 * np.log2(p) * alpha + 2.0 * (p - 1.0) / p * m / bandwidth
    t = t + np.where(p < n, 2.0 * (alpha + m / bandwidth), 0.0)
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def double_binary_tree_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """NCCL-style pipelined double binary tree AllReduce (Sanders, Speck & Traeff 2009, "Two-tree
    algorithms for full bandwidth broadcast, reduction and scan"; NCCL 2.4, Jeaugey 2019).

    Two complementary binary trees each carry M/2; every rank is interior in at most one, so per
    phase (reduce, then broadcast) a rank moves about M bytes each way. Pipelined in k chunks over
    depth D = ceil(log2 N) a phase takes (D - 1 + k)(alpha + M/(k B)); at the best k,
    k* = sqrt((D - 1) M / (alpha B)) (k >= 1, treated as continuous), a phase is
    (sqrt((D - 1) alpha) + sqrt(M / B))^2, so AllReduce = 2 (sqrt((D-1) alpha) + sqrt(M/B))^2:
    about 2 D alpha for small M, 2 M/B (ring's bandwidth term as N grows) for large M."""
    n = np.asarray(n, dtype=float)
    m = np.asarray(m_bytes, dtype=float)
    d = _log2_ceil(n)
    k = np.maximum(1.0, np.sqrt(np.maximum(d - 1.0, 0.0) * m / (alpha * bandwidth)))
    t = 2.0 * (d - 1.0 + k) * (alpha + m / (k * bandwidth))
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def binomial_reduce_time(
    m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """Binomial-tree reduce (or broadcast) of M bytes to (from) one root: ceil(log2 N) (alpha + M/B)
    (half of the textbook tree AllReduce of CONVENTIONS)."""
    return 0.5 * tree_allreduce_time(m_bytes, n, alpha, bandwidth)


ALLREDUCE_ALGORITHMS = {
    "ring": ring_allreduce_time,
    "tree": tree_allreduce_time,
    "halving_doubling": halving_doubling_allreduce_time,
    "double_binary_tree": double_binary_tree_allreduce_time,
}
ALLREDUCE_LABELS = {
    "ring": "ring",
    "tree": "binomial tree (textbook, unpipelined)",
    "halving_doubling": "recursive halving-doubling (Rabenseifner)",
    "double_binary_tree": "NCCL-style pipelined double binary tree",
}


def allreduce_time(
    algorithm: str, m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """AllReduce time of a named algorithm (keys of ALLREDUCE_ALGORITHMS)."""
    return ALLREDUCE_ALGORITHMS[algorithm](m_bytes, n, alpha, bandwidth)


def ring_tree_crossover_closed_form(n: int, alpha: float, bandwidth: float) -> float:
    """Message size M* (bytes) at which ring and textbook tree AllReduce take equal time
    (../shared/CONVENTIONS.md, "Collectives"): M* = alpha B (N - 1 - L) / (L - (N-1)/N), L = ceil(log2 N).
    Below M* tree is faster, above it ring. For N <= 3, N - 1 <= L: ring is never slower, M* = 0."""
    L = float(np.ceil(np.log2(n)))
    num = n - 1.0 - L
    if num <= 0:
        return 0.0
    return alpha * bandwidth * num / (L - (n - 1.0) / n)


def hierarchical_allreduce_phases(
    m_bytes: float,
    g: int,
    n_groups: int,
    alpha_intra: float,
    bw_intra: float,
    alpha_inter: float,
    bw_inter: float,
    intra: str = "ring",
    inter: str = "ring",
) -> dict[str, float]:
    """Two-tier AllReduce over n_groups groups of g devices, as phases {intra_reduce, inter, intra_gather} (s).

    intra = "ring" (CONVENTIONS, "Collectives"): intra-group reduce-scatter, inter-group AllReduce of
    M/g per device (g parallel AllReduces, one per device and NIC), intra-group all-gather; each intra
    phase (g-1) alpha_intra + (g-1)/g * M/B_intra.
    intra = "tree": binomial reduce to one leader per group, AllReduce of the full M between the
    n_groups leaders, binomial broadcast back; each intra phase ceil(log2 g)(alpha_intra + M/B_intra).
    inter names the algorithm between groups (keys of ALLREDUCE_ALGORITHMS). g = 1 is the flat
    AllReduce over the inter tier."""
    if intra == "ring":
        local = reduce_scatter_time(m_bytes, g, alpha_intra, bw_intra)
        share = m_bytes / g
    elif intra == "tree":
        local = binomial_reduce_time(m_bytes, g, alpha_intra, bw_intra)
        share = m_bytes
    else:
        raise ValueError(f"intra-tier algorithm {intra!r} not in ('ring', 'tree')")
    between = allreduce_time(inter, share, n_groups, alpha_inter, bw_inter)
    return {"intra_reduce": float(local), "inter": float(between), "intra_gather": float(local)}


def hierarchical_allreduce_time(
    m_bytes: float,
    g: int,
    n_groups: int,
    alpha_intra: float,
    bw_intra: float,
    alpha_inter: float,
    bw_inter: float,
    intra: str = "ring",
    inter: str = "ring",
) -> float:
    """Total time of the two-tier AllReduce (sum of hierarchical_allreduce_phases)."""
    return sum(
        hierarchical_allreduce_phases(
            m_bytes, g, n_groups, alpha_intra, bw_intra, alpha_inter, bw_inter, intra, inter
        ).values()
    )


def ring_allreduce_bytes_per_device(m_bytes: ArrayLike, n: ArrayLike) -> np.ndarray | float:
    """Bytes each rank sends in a ring AllReduce: 2 (N-1)/N * M (reduce-scatter + all-gather;
    Patarasuk & Yuan 2009), the traffic behind ring's bandwidth term."""
    n = np.asarray(n, dtype=float)
    b = 2.0 * (n - 1.0) / n * np.asarray(m_bytes, dtype=float)
    return b if np.ndim(b) else float(b)


def relayed_ring_allreduce_time(m_bytes: float, n: int, alpha: float, bandwidth: float, max_hops: int) -> float:
    """Ring AllReduce whose ring neighbours are up to max_hops radio hops apart (store-and-forward relays on a
    contact graph): each of the 2 (N-1) synchronous steps waits for its longest edge,
    2 (N-1) * max_hops * (alpha + M/(N B)). max_hops = 1 is the ring formula of CONVENTIONS."""
    if n < 2:
        return 0.0
    return 2.0 * (n - 1) * max_hops * (alpha + m_bytes / (n * bandwidth))


def ring_tree_crossover_approx(n: int, alpha: float, bandwidth: float) -> float:
    """The rough form of the crossover, alpha B N / log2 N (CONVENTIONS "Collectives")."""
    return alpha * bandwidth * n / float(np.log2(n))


def lab_text_crossover(n: int, alpha: float, bandwidth: float) -> float:
    """The lab text's "M ~ N alpha / beta", read with beta = 1/B in seconds per byte: N alpha B (bytes).
    CONVENTIONS: only this reading has the units of a size; it also drops the 1/log2 N factor."""
    return n * alpha * bandwidth
