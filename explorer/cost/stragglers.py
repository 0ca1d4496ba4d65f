"""Stragglers and staleness: the step time of the slowest of n devices, and what staleness costs.

* `StepTimeModel`: a device's step time is t0 (1 + X), X ~ Exponential(mean = jitter): a shifted
  exponential (Dutta et al. 2018, "Slow and Stale Gradients Can Win the Race", AISTATS, sec. 3 and
  Table 1; Lee et al. 2018 "Speeding up distributed ML using codes" use the same model); with
  probability p the device is a straggler this step and takes `slowdown` times as long.
* `expected_max`: synchronous SGD waits for the slowest of n devices; its expected step is the
  expectation of the n-th order statistic, E[max] = integral_0^inf (1 - F(t)^n) dt, integrated
  numerically (scipy.integrate.quad) from the exact CDF, never an average of step times.
* `expected_max_of_sums`: the same for H local steps between synchronisations (periodic
  averaging), from the distribution of a sum of H step times (numerical convolution).
* `stable_step_ratio`: the staleness model. Lian et al. 2015 ("Asynchronous Parallel Stochastic
  Gradient for Nonconvex Optimization", NeurIPS, Theorem 1) prove convergence of asynchronous SGD
  with staleness bound T when the constant step gamma satisfies L M gamma + 2 L^2 M^2 T^2 gamma^2
  <= 1. The largest stable step, relative to T = 0, is r(T) = (sqrt(1 + 8 T^2) - 1) / (4 T^2):
  the progress one update can make falls with staleness (r(1) = 1/2, r(T) -> 1/(sqrt(2) T)).
* `expected_units_with_straggler`: how many nodes (or other replacement units) hold at least one
  straggler when stragglers are independent per device: (devices / unit) (1 - (1 - p)^unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer.errors import UsageError, require_fraction, require_positive_int


# --- order statistics ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StepTimeModel:
    """Step time of one device: t0 (1 + X), X ~ Exp(mean `jitter`); x `slowdown` with probability p."""

    t0: float
    jitter: float
    p: float
    slowdown: float

    def __post_init__(self) -> None:
        if not self.t0 > 0:
            raise UsageError(f"step time must be positive, got {self.t0!r}")
        if not self.jitter >= 0:
            raise UsageError(f"jitter must be >= 0, got {self.jitter!r}")
        require_fraction("straggler fraction", self.p)
        if not self.slowdown >= 1:
            raise UsageError(f"slowdown must be a factor >= 1 (a straggler is slower), got {self.slowdown!r}")

    def _fast_cdf(self, t):
        t = np.asarray(t, dtype=float)
        z = t / self.t0 - 1.0
        if self.jitter == 0:
            return (z >= 0).astype(float)
        with np.errstate(over="ignore"):  # z / jitter -> inf for a tiny jitter: expm1(-inf) = -1, the CDF is 1
            return np.where(z >= 0, -np.expm1(-np.maximum(z, 0.0) / self.jitter), 0.0)

    def cdf(self, t) -> np.ndarray | float:
        """P(T <= t): (1 - p) F0(t) + p F0(t / slowdown), F0 the shifted-exponential CDF."""
        return (1.0 - self.p) * self._fast_cdf(t) + self.p * self._fast_cdf(np.asarray(t, dtype=float) / self.slowdown)

    @property
    def mean(self) -> float:
        return self.t0 * (1.0 + self.jitter) * ((1.0 - self.p) + self.p * self.slowdown)

    def upper(self, n: int) -> float:
        """A time past which 1 - F(t)^n is below 1e-15 (the integrals stop there)."""
        return self.slowdown * self.t0 * (1.0 + self.jitter * (math.log(max(n, 1)) + 40.0))

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        x = rng.exponential(self.jitter, size) if self.jitter > 0 else np.zeros(size)
        slow = rng.random(size) < self.p
        return self.t0 * (1.0 + x) * np.where(slow, self.slowdown, 1.0)


def expected_max(model: StepTimeModel, n: int) -> float:
    """E[max of n i.i.d. step times] = integral_0^inf (1 - F(t)^n) dt (order statistics; exact
    up to quadrature error). F = 0 below t0, so the integral starts at t0."""
    from scipy.integrate import quad

    n = require_positive_int("nodes", n)
    if model.jitter == 0:  # two point masses: t0 and slowdown x t0
        return model.t0 * (1.0 + (model.slowdown - 1.0) * (1.0 - (1.0 - model.p) ** n))

    def tail(t: float) -> float:  # 1 - F(t)^n, computed without cancellation
        f = float(model.cdf(t))
        return 1.0 if f <= 0.0 else float(-np.expm1(n * math.log(f)))

    t0, ts, hi = model.t0, model.slowdown * model.t0, model.upper(n)
    knots = sorted({t0, ts, hi})
    total = t0
    for lo, up in zip(knots[:-1], knots[1:]):
        val, _ = quad(tail, lo, up, limit=200, epsabs=1e-12 * t0, epsrel=1e-10)
        total += val
    return total


def _grid_pmf(model: StepTimeModel, dt: float, n_cells: int) -> np.ndarray:
    edges = np.arange(n_cells + 1) * dt
    c = model.cdf(edges)
    return np.diff(c)


def sum_distribution(model: StepTimeModel, h: int, n: int = 1,
                     cells_per_t0: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of the sum of h i.i.d. step times on a grid: (values, CDF at each value).

    One step's distribution is discretised on a grid of width t0 / cells_per_t0 (the mass of each
    cell placed at its midpoint) up to a time past which the max of n is below 1e-15 in tail, and
    convolved h times (FFT)."""
    n = require_positive_int("nodes", n)
    h = require_positive_int("sync period", h)
    dt = model.t0 / cells_per_t0
    cells = int(math.ceil(model.upper(n) / dt))
    pmf = _grid_pmf(model, dt, cells)
    pmf = pmf / pmf.sum()
    # the h-fold convolution as one FFT power (the support of the sum is h (cells - 1) + 1 cells)
    size = h * (cells - 1) + 1
    n_fft = 1 << (size - 1).bit_length()
    dist = np.clip(np.fft.irfft(np.fft.rfft(pmf, n_fft) ** h, n_fft)[:size], 0.0, None)
    dist = dist / dist.sum()
    values = (np.arange(dist.size) + 0.5 * h) * dt  # h midpoints summed: offset h dt / 2
    return values, np.minimum(np.cumsum(dist), 1.0)


def expected_max_of_sums(model: StepTimeModel, n: int, h: int, cells_per_t0: int = 400) -> float:
    """E[max over n devices of the sum of h i.i.d. step times] (h local steps between syncs),
    taken exactly for the discretised distribution of `sum_distribution`:
    sum_k v_k (F_k^n - F_(k-1)^n)."""
    values, cdf = sum_distribution(model, h, n, cells_per_t0)
    fn = cdf ** require_positive_int("nodes", n)
    prob = np.diff(np.concatenate([[0.0], fn]))
    return float(np.sum(values * prob))


def quantile_of_sum(model: StepTimeModel, h: int, q: float, cells_per_t0: int = 400) -> float:
    """The q-quantile of the time one device needs for h local steps: a round deadline that a
    fraction q of the selected devices meets on average (the others are dropped from the round,
    Bonawitz et al. 2019, 'Towards Federated Learning at Scale', sec. 2.2)."""
    q = require_fraction("deadline quantile", q)
    values, cdf = sum_distribution(model, h, 1, cells_per_t0)
    k = int(np.searchsorted(cdf, q - 1e-12))
    return float(values[min(k, values.size - 1)])


def monte_carlo_max(model: StepTimeModel, n: int, draws: int, seed: int = 0, h: int = 1) -> tuple[float, float]:
    """Seeded Monte Carlo estimate of E[max of n (sums of h) step times] and its standard error."""
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    chunk = max(1, 2_000_000 // max(1, n * h))
    for i in range(0, draws, chunk):
        k = min(chunk, draws - i)
        out[i:i + k] = model.sample(rng, (k, h, n)).sum(axis=1).max(axis=1)
    return float(out.mean()), float(out.std(ddof=1) / math.sqrt(draws))


# --- staleness -----------------------------------------------------------------------------------
def stable_step_ratio(staleness) -> np.ndarray | float:
    """Largest stable step at staleness T relative to T = 0, from Lian et al. 2015 Theorem 1:
    L M g + 2 L^2 M^2 T^2 g^2 <= 1  ->  g_max(T) / g_max(0) = (sqrt(1 + 8 T^2) - 1) / (4 T^2)."""
    t = np.asarray(staleness, dtype=float)
    if np.any(t < 0):
        raise UsageError(f"staleness must be >= 0, got {staleness!r}")
    safe = np.where(t > 0, t, 1.0)
    r = np.where(t > 0, (np.sqrt(1.0 + 8.0 * safe ** 2) - 1.0) / (4.0 * safe ** 2), 1.0)
    return float(r) if np.ndim(r) == 0 else r


def max_staleness(lr_fraction: float) -> float:
    """Largest staleness T at which a step of lr_fraction x g_max(0) is still stable:
    r(T) = f  <=>  T = sqrt((1 - f) / 2) / f (solve 2 f^2 T^2 = 1 - f from the condition above)."""
    f = require_fraction("lr fraction", lr_fraction, closed=False)
    return math.sqrt((1.0 - f) / 2.0) / f


# --- order statistics of groups, and the k-th of n ---------------------------------------------------
def expected_kth_of_group_max(model: StepTimeModel, group: int, k: int, n: int) -> float:
    """E[the k-th fastest of n replicas], each replica's step the slowest of `group` devices:
    replica CDF G(t) = F(t)^group; the k-th order statistic of n i.i.d. replicas has
    P(X_(k) <= t) = I_G(t)(k, n - k + 1) (regularised incomplete beta; David & Nagaraja, Order
    Statistics (2003) eq. 2.1.3), so E = integral_0^inf (1 - I_G(t)(k, n - k + 1)) dt.
    k = n is synchronous SGD waiting for every replica; k < n is synchronous SGD with n - k backup
    replicas whose late gradients are dropped (Chen et al. 2016, 'Revisiting distributed synchronous
    SGD', arXiv 1604.00981, sec. 3)."""
    from scipy.integrate import quad
    from scipy.special import betainc

    group, n = require_positive_int("group", group), require_positive_int("replicas", n)
    if not 1 <= k <= n:
        raise UsageError(f"k must lie in 1..{n}, got {k!r}")

    def tail(t: float) -> float:
        g = float(model.cdf(t)) ** group
        return 1.0 - float(betainc(k, n - k + 1, g)) if g > 0 else 1.0

    t0, ts, hi = model.t0, model.slowdown * model.t0, model.upper(group * n)
    knots = sorted({t0, ts, hi})
    total = t0
    for lo, up in zip(knots[:-1], knots[1:]):
        val, _ = quad(tail, lo, up, limit=200, epsabs=1e-12 * t0, epsrel=1e-10)
        total += val
    return total


# --- persistent stragglers: how many replacement units hold one ------------------------------------------
def expected_units_with_straggler(p: float, devices: int, unit: int) -> float:
    """Expected number of replacement units (groups of `unit` devices, e.g. the 8 GPUs of a node) that
    hold at least one straggler, when each device is a straggler independently with probability p
    (the same i.i.d. model as `StepTimeModel`): a unit is clean with probability (1 - p)^unit, so by
    linearity of expectation E[units with a straggler] = (devices / unit) (1 - (1 - p)^unit). The count
    itself is Binomial(devices / unit, 1 - (1 - p)^unit). Stragglers do not pack whole units: at p = 5%
    a third of 8-GPU nodes hold one (1 - 0.95^8 = 33.7%), not 5%."""
    p = require_fraction("straggler fraction", p)
    devices, unit = require_positive_int("devices", devices), require_positive_int("unit", unit)
    if devices % unit:
        raise UsageError(f"devices {devices} is not a multiple of the replacement unit of {unit}")
    return devices // unit * -math.expm1(unit * math.log1p(-p)) if p < 1 else float(devices // unit)


# --- an empirical staleness model ----------------------------------------------------------------------
def implicit_momentum_progress(replicas, tuned_momentum: float = 0.9) -> np.ndarray | float:
    """Progress per asynchronous update relative to synchronous SGD when asynchrony acts as momentum.

    Mitliagkas, Zhang, Hadjis & Re 2016 ('Asynchrony begets momentum, with an application to deep
    learning', Allerton; arXiv 1605.09774) show that asynchronous SGD over M workers behaves in
    expectation like momentum SGD with implicit momentum 1 - 1/M, and measured on CNNs (also Hadjis
    et al. 2016, 'Omnivore', arXiv 1606.04487) that re-tuning the explicit momentum recovers the
    synchronous convergence per update while 1 - 1/M stays below the momentum the run is tuned for
    (mu*): M <= 1/(1 - mu*). Past that the total momentum is too high, and the step must shrink until
    the effective step eta / (1 - mu) is back to eta* / (1 - mu*): progress per update
    r(M) = min(1, 1 / ((1 - mu*) M)). Unlike the worst-case bound (`stable_step_ratio`), this is what
    asynchronous training was measured to cost, for the models measured."""
    m = np.maximum(np.asarray(replicas, dtype=float), 1.0)
    mu = require_fraction("tuned momentum", tuned_momentum, closed=False)
    r = np.minimum(1.0, 1.0 / ((1.0 - mu) * m))
    return float(r) if np.ndim(r) == 0 else r
