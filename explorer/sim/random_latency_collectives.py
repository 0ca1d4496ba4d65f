"""AllReduce on a link whose per-message latency alpha is a random variable (lab 06, edge track).

Each algorithm is a schedule of synchronous steps; step s has c_s concurrent sends of b_s bytes
and lasts max over its c_s sends of alpha_i + b_s / B (a step ends when its slowest message
lands). With alpha fixed the schedules reproduce the alpha-beta formulas of
explorer/cost/collectives.py (tested). alpha ~ lognormal with mean alpha_mean and coefficient of
variation cv: sigma^2 = ln(1 + cv^2), mu = ln(alpha_mean) - sigma^2 / 2 (moments of the
lognormal; Johnson, Kotz & Balakrishnan, Continuous Univariate Distributions vol. 1, ch. 14).
Wireless latency is right-skewed and positive, which the lognormal captures (assumption).
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULED = ("ring", "tree", "halving_doubling")


def schedule(algorithm: str, m_bytes: float, n: int) -> list[tuple[int, float]]:
    """[(concurrent sends, bytes per send), ...] for one AllReduce of M bytes over N ranks."""
    if algorithm == "ring":  # reduce-scatter then all-gather: 2(N-1) steps, every rank sends M/N
        return [(n, m_bytes / n)] * (2 * (n - 1))
    if algorithm == "tree":  # binomial reduce then broadcast: ceil(log2 N) levels each, full M per send
        levels = math.ceil(math.log2(n))
        sends = [((n - 2**k - 1) // 2 ** (k + 1)) + 1 for k in range(levels)]  # ranks r = 2^k mod 2^(k+1), r < N
        return [(c, m_bytes) for c in sends] + [(c, m_bytes) for c in reversed(sends)]
    if algorithm == "halving_doubling":  # Thakur et al. 2005 sec. 4.4, p' = 2^floor(log2 N)
        p = 2 ** int(math.floor(math.log2(n)))
        extra = n - p
        halving = [(p, m_bytes / 2**j) for j in range(1, int(math.log2(p)) + 1)]
        steps = ([(extra, m_bytes)] if extra else []) + halving + halving[::-1]
        return steps + ([(extra, m_bytes)] if extra else [])
    raise ValueError(f"no schedule for {algorithm!r}; scheduled: {', '.join(SCHEDULED)}")


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of a lognormal with the given mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def simulate_times(algorithm: str, m_bytes: float, n: int, alpha_mean: float, cv: float, bandwidth: float,
                   trials: int = 20000, seed: int = 0) -> np.ndarray:
    """Seeded sample of AllReduce times (s), one per trial, with alpha ~ lognormal(mean, cv) per message."""
    rng = np.random.default_rng(seed)
    total = np.zeros(trials)
    mu, sigma = lognormal_params(alpha_mean, cv) if cv > 0 else (math.log(alpha_mean), 0.0)
    for sends, nbytes in schedule(algorithm, m_bytes, n):
        if sigma == 0.0:
            worst = np.full(trials, alpha_mean)
        else:
            worst = rng.lognormal(mu, sigma, size=(trials, sends)).max(axis=1)
        total += worst + nbytes / bandwidth
    return total


def summarize(times: np.ndarray, percentile: float = 99.0) -> dict[str, float]:
    """Expected time, median and the tail percentile of a sample of times."""
    return {"mean_s": float(times.mean()), "p50_s": float(np.percentile(times, 50)),
            "tail_s": float(np.percentile(times, percentile)), "percentile": percentile,
            "std_s": float(times.std())}


def expected_crossover(n: int, alpha_mean: float, cv: float, bandwidth: float, trials: int = 20000,
                       seed: int = 0) -> float:
    """Message size (bytes) where the expected ring and tree AllReduce times are equal with random alpha.
    Only the latency part is random, so both expected times stay linear in M:
    E[T] = E[alpha part] + c M / B with c = 2 (N-1)/N (ring) and 2 ceil(log2 N) (tree); the alpha parts
    are estimated by simulating M = 0. Returns 0 when tree is never faster in expectation."""
    a_ring = simulate_times("ring", 0.0, n, alpha_mean, cv, bandwidth, trials=trials, seed=seed).mean()
    a_tree = simulate_times("tree", 0.0, n, alpha_mean, cv, bandwidth, trials=trials, seed=seed).mean()
    slope = (2.0 * math.ceil(math.log2(n)) - 2.0 * (n - 1) / n) / bandwidth
    return max(0.0, float(a_ring - a_tree) / slope) if slope > 0 else 0.0
