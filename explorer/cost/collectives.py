"""Collective-communication times under the alpha-beta model (../shared/CONVENTIONS.md, "Collectives").

alpha = per-message latency (s), bandwidth = bytes/s, M = message bytes, N = participants.
The bandwidth term is always written M / B. All functions accept numpy arrays as well as scalars.
"""

from __future__ import annotations

import numpy as np


def _log2_ceil(n):
    return np.ceil(np.log2(np.maximum(n, 1)))


def ring_allreduce_time(m_bytes, n, alpha, bandwidth):
    """Ring AllReduce: 2 (N-1) alpha + 2 (N-1)/N * M/B (Patarasuk & Yuan 2009; Thakur et al. 2005)."""
    n = np.asarray(n, dtype=float)
    t = 2.0 * (n - 1.0) * alpha + 2.0 * (n - 1.0) / n * np.asarray(m_bytes, dtype=float) / bandwidth
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def tree_allreduce_time(m_bytes, n, alpha, bandwidth):
    """Binomial tree AllReduce (reduce then broadcast, unpipelined): 2 ceil(log2 N) (alpha + M/B)."""
    n = np.asarray(n, dtype=float)
    t = 2.0 * _log2_ceil(n) * (alpha + np.asarray(m_bytes, dtype=float) / bandwidth)
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def reduce_scatter_time(m_bytes, n, alpha, bandwidth):
    """Ring reduce-scatter (or all-gather) of M bytes in total: (N-1) alpha + (N-1)/N * M/B."""
    n = np.asarray(n, dtype=float)
    t = (n - 1.0) * alpha + (n - 1.0) / n * np.asarray(m_bytes, dtype=float) / bandwidth
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


all_gather_time = reduce_scatter_time


def p2p_time(m_bytes, alpha, bandwidth):
    """One point-to-point send: alpha + M/B."""
    return alpha + np.asarray(m_bytes, dtype=float) / bandwidth if np.ndim(m_bytes) else alpha + m_bytes / bandwidth
