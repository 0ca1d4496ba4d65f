"""Stragglers and staleness: the step time of the slowest of n devices, and what staleness costs.

* `StepTimeModel`: a device's step time is t0 (1 + X), X ~ Exponential(mean = jitter): a shifted
  exponential (Dutta et al. 2018, "Slow and Stale Gradients Can Win the Race", AISTATS, sec. 3 and
  Table 1; Lee et al. 2018 "Speeding up distributed ML using codes" use the same model); with
  probability p the device is a straggler this step and takes `slowdown` times as long.
* `expected_max`: synchronous SGD waits for the slowest of n devices; its expected step is the
  expectation of the n-th order statistic, E[max] = integral_0^inf (1 - F(t)^n) dt, integrated
  numerically (scipy.integrate.quad) from the exact CDF, never an average of step times.
* `expected_max_of_sums`, `quantile_of_sum`: the same for H local steps between synchronisations
  (periodic averaging), from the distribution of a sum of H step times (`sum_of_steps`): a Binomial
  mixture over the straggling steps whose terms are shifted Gammas (exact) or the sum of two Gammas of
  different scales (one FFT convolution on a grid that spans the term's own support).
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
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from explorer.errors import UsageError, require_fraction, require_positive_int

# --- order statistics ----------------------------------------------------------------------------
# A jitter below this is taken as none. Its effect is below what the continuous formulas resolve anyway (measured
# against the jitter-free values at h = 1, 16, 256 local steps, slowdowns 1.5, 3 and 1,000, n = 100: E[max of the
# sums] moves by 0.9 to 30 x the jitter, the 0.9 quantile of a sum by at most 7.3e-10 relative, which is brentq's own
# tolerance there, xtol = 1e-12 x the support's top), and below it they break down: at a jitter of 3e-17 the grid of
# t0 x jitter-wide cells collapses onto the atoms (ulp(256 t0) = 5.7e-14 t0) and the trapezoid rule read E[max]
# 0.3% high (4% at 1e-18, h = 16); at 1e-310 t0 x jitter is subnormal and (t - offset) / (t0 x jitter) overflowed.
# The jitter-free formulas (point masses) are exact to better than 1e-9 relative below it.
JITTER_RESOLUTION = 1e-12


@dataclass(frozen=True)
class StepTimeModel:
    """Step time of one device: t0 (1 + X), X ~ Exp(mean `jitter`); x `slowdown` with probability p. A jitter
    below JITTER_RESOLUTION is stored as 0 (see there: its effect on any figure is below 1e-9 relative, below what
    the continuous formulas resolve)."""

    t0: float
    jitter: float
    p: float
    slowdown: float

    def __post_init__(self) -> None:
        if not self.t0 > 0:
            raise UsageError(f"step time must be positive, got {self.t0!r}")
        if not self.jitter >= 0:
            raise UsageError(f"jitter must be >= 0, got {self.jitter!r}")
        if self.jitter < JITTER_RESOLUTION:
            object.__setattr__(self, "jitter", 0.0)  # frozen: set once, here
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


# --- the sum of H step times (H local steps between synchronisations) ---------------------------------------
# The sum of h i.i.d. step times t0 (1 + X) x (slowdown if a straggler) is, given the number k of straggling
# steps (k ~ Binomial(h, p)), t0 (m + s k) + t0 j (G_m + s G_k) with m = h - k, s the slowdown, j the jitter and
# G_a ~ Gamma(a, 1) (a sum of a unit exponentials). Each term of the mixture is therefore exact (a shifted,
# scaled Gamma) when k = 0 or k = h, and otherwise the sum of two Gammas of different scales, whose CDF is
# tabulated once on a grid of TERM_CELLS cells that spans that term's own support. Cell counts depend on
# neither the slowdown nor t0 (an h-fold convolution on a grid of width t0 / 400 grew with both: a slowdown of
# 1,000 and h = 256 made an FFT of ~1e8 points).
TERM_CELLS = 4096  # grid cells of one mixture term (the sum of two Gammas of different scales)
MAX_GRID_POINTS = 1 << 16  # points of the grid sum_distribution returns (shared by all terms)
_TAIL = 1e-16  # each term's grid reaches past the point where its tail is below _TAIL / n


@dataclass(frozen=True)
class SumOfSteps:
    """The distribution of the sum of h i.i.d. step times as a Binomial mixture over the number of straggling
    steps (see above). `cells` is the number of grid cells its tabulated terms hold (at most TERM_CELLS + 1
    per term, at most h + 1 terms): bounded whatever the slowdown."""

    model: StepTimeModel
    h: int
    weights: tuple[float, ...]  # P(k stragglers) for each term kept
    offsets: tuple[float, ...]  # t0 (m + s k): the term's least value
    shapes: tuple[tuple[int, int], ...]  # (m, k)
    tables: tuple[tuple[np.ndarray, np.ndarray] | None, ...]  # (W grid, P(W <= w)) or None when exact
    uppers: tuple[float, ...]  # a value of W past which the term's tail is below _TAIL / n

    @property
    def cells(self) -> int:
        return sum(t[0].size for t in self.tables if t is not None)

    @property
    def lower(self) -> float:
        return min(self.offsets)

    @property
    def upper(self) -> float:
        m = self.model
        return max(c + m.t0 * m.jitter * w for c, w in zip(self.offsets, self.uppers))

    def _term_cdf(self, i: int, t: np.ndarray) -> np.ndarray:
        from scipy.special import gammainc

        m, (a, k) = self.model, self.shapes[i]
        width, d = m.t0 * m.jitter, t - self.offsets[i]
        if width == 0.0:  # t0 x jitter below the smallest double: the term is its point mass
            return (d >= 0).astype(float)
        with np.errstate(over="ignore"):  # d / width -> inf for a tiny width: the CDF there is 1, its limit
            w = d / width
        if self.tables[i] is None:  # one Gamma: shape h, scale 1 (no straggler) or the slowdown (all straggle)
            shape, scale = (a, 1.0) if k == 0 else (k, m.slowdown)
            return np.where(w > 0, gammainc(shape, np.maximum(w, 0.0) / scale), 0.0)
        grid, cdf = self.tables[i]
        return np.interp(w, grid, cdf, left=0.0, right=1.0)

    def cdf(self, t) -> np.ndarray | float:
        """P(sum of h step times <= t)."""
        t = np.asarray(t, dtype=float)
        m = self.model
        if m.jitter == 0:  # point masses at t0 (h + (s - 1) k)
            out = sum(wk * (t >= c) for wk, c in zip(self.weights, self.offsets))
        else:
            out = sum(wk * self._term_cdf(i, t) for i, wk in enumerate(self.weights))
        out = np.clip(out, 0.0, 1.0)
        return float(out) if out.ndim == 0 else out

    def grid(self) -> np.ndarray:
        """Sorted points at which the CDF is worth evaluating: each term's own support, MAX_GRID_POINTS in
        all (the atoms themselves when there is no jitter)."""
        m = self.model
        if m.jitter == 0:
            return np.unique(np.array(self.offsets))
        per = max(2, MAX_GRID_POINTS // len(self.weights))
        pts = [c + m.t0 * m.jitter * np.linspace(0.0, w, per) for c, w in zip(self.offsets, self.uppers)]
        return np.unique(np.concatenate(pts))

    def quantile(self, q: float) -> float:
        """The least t with P(sum <= t) >= q - 1e-12 (root of the continuous CDF; an atom without jitter)."""
        from scipy.optimize import brentq

        target = q - 1e-12
        if self.model.jitter == 0:
            order = np.argsort(self.offsets)
            cum = np.cumsum(np.array(self.weights)[order])
            k = int(np.searchsorted(cum, target))
            return float(np.array(self.offsets)[order][min(k, cum.size - 1)])
        lo, hi = self.lower, self.upper
        if self.cdf(lo) >= target:
            return lo
        if self.cdf(hi) < target:
            return hi
        return float(brentq(lambda t: self.cdf(t) - target, lo, hi, xtol=1e-12 * hi, rtol=1e-12, maxiter=200))


def _two_gamma_table(a: int, k: int, s: float, eps: float) -> tuple[np.ndarray, np.ndarray, float]:
    """P(G_a + s G_k <= w) on a grid of TERM_CELLS cells spanning the sum's support (G_a ~ Gamma(a, 1)).
    The wider of the two is discretised (its cell masses at the cell midpoints) and the narrower kept exact:
    P(A + B <= (l + 1/2) dw) ~ sum_j P(B in cell j) F_A((l - j) dw), one FFT convolution."""
    from scipy.special import gammainc, gammainccinv

    ua, uk = float(gammainccinv(a, eps / 2)), s * float(gammainccinv(k, eps / 2))
    upper = ua + uk
    dw = upper / TERM_CELLS
    edges = np.arange(TERM_CELLS + 1) * dw
    cdf_a, cdf_k = gammainc(a, edges), gammainc(k, edges / s)
    exact, wide = (cdf_a, cdf_k) if ua <= uk else (cdf_k, cdf_a)
    mass = np.diff(wide)
    n_fft = 1 << (2 * TERM_CELLS).bit_length()
    conv = np.fft.irfft(np.fft.rfft(mass, n_fft) * np.fft.rfft(exact[:-1], n_fft), n_fft)[:TERM_CELLS]
    cdf = np.clip(conv, 0.0, 1.0)
    grid = np.concatenate([[0.0], (np.arange(TERM_CELLS) + 0.5) * dw, [upper]])
    cdf = np.maximum.accumulate(np.concatenate([[0.0], cdf, [1.0]]))
    grid.flags.writeable = cdf.flags.writeable = False  # shared through the cache
    return grid, cdf, upper


@lru_cache(maxsize=64)  # a term table is 65 kB; a p = 0.5, H = 256 sum holds 141 of them
def sum_of_steps(model: StepTimeModel, h: int, n: int = 1) -> SumOfSteps:
    """The distribution of the sum of h step times of `model` (cached per model, h and n; n sets how far into
    the tail the grids reach, for the max of n such sums)."""
    from scipy.special import gammainccinv, gammaln

    n = require_positive_int("nodes", n)
    h = require_positive_int("sync period", h)
    s, p, eps = model.slowdown, model.p, _TAIL / n
    if s == 1 or p == 0:
        ks, wk = np.array([0]), np.array([1.0])
    elif p == 1:
        ks, wk = np.array([h]), np.array([1.0])
    else:
        ks = np.arange(h + 1)
        log_choose = gammaln(h + 1) - gammaln(ks + 1) - gammaln(h - ks + 1)
        wk = np.exp(log_choose + ks * math.log(p) + (h - ks) * math.log1p(-p))  # Binomial(h, p) pmf
        keep = wk > eps * 1e-3  # terms rarer than this cannot move a quantile or the max of n
        ks, wk = ks[keep], wk[keep] / wk[keep].sum()
    offsets, shapes, tables, uppers = [], [], [], []
    for k in ks:
        k, a = int(k), h - int(k)
        offsets.append(model.t0 * (a + s * k))
        shapes.append((a, k))
        if model.jitter == 0:
            tables.append(None)
            uppers.append(0.0)
        elif a == 0 or k == 0 or s == 1:
            tables.append(None)
            uppers.append((s if a == 0 else 1.0) * float(gammainccinv(h, eps)))
        else:
            grid, cdf, upper = _two_gamma_table(a, k, s, eps)
            tables.append((grid, cdf))
            uppers.append(upper)
    return SumOfSteps(model, h, tuple(float(w) for w in wk), tuple(offsets), tuple(shapes), tuple(tables),
                      tuple(uppers))


def sum_distribution(model: StepTimeModel, h: int, n: int = 1,
                     cells_per_t0: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of the sum of h i.i.d. step times: (values, CDF at each value), on a grid of at most
    MAX_GRID_POINTS points that follows each mixture term's support (`sum_of_steps`); without jitter the
    values are the atoms. `cells_per_t0` is accepted for old callers and unused: the grid is set by the
    distribution's support, not by t0 (a grid of width t0 / cells grew with the slowdown)."""
    dist = sum_of_steps(model, require_positive_int("sync period", h), require_positive_int("nodes", n))
    values = dist.grid()
    return values, np.asarray(dist.cdf(values), dtype=float)


def expected_max_of_sums(model: StepTimeModel, n: int, h: int, cells_per_t0: int | None = None) -> float:
    """E[max over n devices of the sum of h i.i.d. step times] (h local steps between syncs):
    lower + integral (1 - F(t)^n) dt over the mixture's grid (trapezoid rule; exact sum over the atoms
    without jitter), F the CDF of `sum_of_steps`. `cells_per_t0` is accepted for old callers and unused."""
    n = require_positive_int("nodes", n)
    dist = sum_of_steps(model, require_positive_int("sync period", h), n)
    values = dist.grid()
    cdf = np.asarray(dist.cdf(values), dtype=float)
    if model.jitter == 0:
        fn = cdf ** n
        return float(np.sum(values * np.diff(np.concatenate([[0.0], fn]))))
    with np.errstate(divide="ignore"):
        tail = np.where(cdf > 0, -np.expm1(n * np.log(np.maximum(cdf, 1e-300))), 1.0)
    return float(values[0] + np.sum(0.5 * (tail[1:] + tail[:-1]) * np.diff(values)))


def quantile_of_sum(model: StepTimeModel, h: int, q: float, cells_per_t0: int | None = None) -> float:
    """The q-quantile of the time one device needs for h local steps: a round deadline that a
    fraction q of the selected devices meets on average (the others are dropped from the round,
    Bonawitz et al. 2019, 'Towards Federated Learning at Scale', sec. 2.2). Exact for p = 0 or 1
    (a shifted Gamma: the sum of h shifted exponentials), a root of the mixture's CDF otherwise.
    `cells_per_t0` is accepted for old callers and unused."""
    q = require_fraction("deadline quantile", q)
    return sum_of_steps(model, require_positive_int("sync period", h), 1).quantile(q)


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


# --- the slowest GPU of a synchronous job ----------------------------------------------------------------------
GPU_SPEED_VARIABILITY_SOURCE = (
    "Sinha et al., Not All GPUs Are Created Equal: Characterizing Variability in Large-Scale, Accelerator-Rich "
    "Systems, SC'22 (arXiv 2208.11035): over 90 % of the GPUs of five clusters (Summit, Vortex, Frontera, Longhorn, "
    "Corona; same architecture and SKU within each), 8 % average performance variation (max 22 %) between a "
    "cluster's GPUs running the same kernel, from manufacturing variability and power management, outliers up to "
    "1.5x slower than the median GPU. Read as a normal spread, 8 % from slowest to fastest is 2 x 4.1 standard "
    "deviations over Summit's 27,000 GPUs (E[max of 27,000 normals] = 4.09), 2 x 3.0 over a few hundred (the other "
    "clusters): a standard deviation of 1 % to 1.35 % of a GPU's speed; 1 %, the conservative end, is taken.")


@lru_cache(maxsize=4096)
def expected_max_normal(n: int) -> float:
    """E[max of n i.i.d. standard normals] (order statistics: integral of x n phi(x) Phi(x)^(n-1)); 0 for n = 1.
    1.4236 at 8, 3.2482 at 1,024 (Harter's tables)."""
    from scipy.integrate import quad
    from scipy.special import log_ndtr

    n = require_positive_int("GPUs", n)
    if n == 1:
        return 0.0
    log_n = math.log(n)

    def integrand(x: float) -> float:  # x n phi(x) Phi(x)^(n - 1), in logs against underflow
        return x * math.exp(log_n - 0.5 * x * x - 0.5 * math.log(2 * math.pi) + (n - 1) * float(log_ndtr(x)))

    peak = math.sqrt(2.0 * log_n)  # the maximum's mode lies near sqrt(2 ln n)
    val, _ = quad(integrand, -12.0, 12.0, points=[peak], limit=400, epsabs=1e-12, epsrel=1e-10)
    return val


def slowest_gpu_pace(devices: int, speed_cv: float) -> float:
    """How much longer the GPU-bound work of a synchronous job takes than on a typical GPU: every step's collectives
    wait for the slowest of its `devices` GPUs, whose speeds spread normally with coefficient of variation
    `speed_cv` (GPU_SPEED_VARIABILITY_SOURCE), so the job runs at 1 + cv E[max of N standard normals] of a typical
    GPU's time: with cv = 1 %, 1.014 on 8 GPUs, 1.032 on 1,024, 1.040 on 16,384 (a normal spread understates the rare
    outliers Sinha et al. saw, up to 1.5x slower)."""
    if speed_cv < 0 or not math.isfinite(speed_cv):
        raise UsageError(f"GPU speed spread {speed_cv!r}: must be a finite fraction >= 0")
    return 1.0 + speed_cv * expected_max_normal(devices) if speed_cv else 1.0


EXACT_MAX_TABLE_LIMIT = 64
"""Job sizes up to this many GPUs take E[max of n normals] by quadrature at every whole n; beyond, a table on a
log-spaced grid (expected_max_table)."""


@lru_cache(maxsize=1)
def expected_max_table() -> tuple[np.ndarray, np.ndarray]:
    """(n, E[max of n normals]) at every whole n up to EXACT_MAX_TABLE_LIMIT and at 300 log-spaced whole n from there
    to 2^30: E[max] is smooth in ln n (about sqrt(2 ln n)), so linear interpolation in ln n between these points is
    within 3e-5 of the quadrature, 3e-7 of a pace at cv 1 % (tests/test_slowest_gpu.py), where a curve of 20,000
    job sizes would otherwise take 20,000 quadratures (12 s of `explore solve scaling`)."""
    grid = np.unique(np.concatenate([np.arange(1, EXACT_MAX_TABLE_LIMIT + 1),
                                     np.rint(np.geomspace(EXACT_MAX_TABLE_LIMIT, 2.0 ** 30, 300))])).astype(np.int64)
    return grid.astype(float), np.array([expected_max_normal(int(k)) for k in grid])


def slowest_gpu_pace_of(devices: ArrayLike, speed_cv: float) -> np.ndarray:
    """slowest_gpu_pace for an array of job sizes, real-valued ones too (a continuous scaling curve): E[max of n
    normals] interpolated linearly in ln n on expected_max_table (exact at whole n up to EXACT_MAX_TABLE_LIMIT and at
    the table's points, within 3e-5 between them); sizes beyond the table are refused by the callers' bounds."""
    n = np.maximum(np.asarray(devices, dtype=float), 1.0)
    if not speed_cv:
        return np.ones_like(n)
    grid, e = expected_max_table()
    return 1.0 + speed_cv * np.interp(np.log(n), np.log(grid), e)
