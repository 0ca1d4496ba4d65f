"""Numerical range of training precisions and the probability that a step overflows.

Format limits (IEEE 754-2008 binary16 and binary32; bfloat16 = the top 16 bits of binary32, Google
Cloud TPU docs / Kalamkar et al. 2019, arXiv 1905.12322):
  FP16: max 65504, smallest normal 2^-14, smallest subnormal 2^-24
  BF16: max ~3.39e38, smallest normal 2^-126 (FP32's exponent range, 8 significant bits)
  FP32: max ~3.40e38, smallest normal 2^-126, smallest subnormal 2^-149
Value magnitudes are modelled as log-normal: log2|x| ~ Normal(mu, sigma) (the histograms of
Micikevicius et al. 2018, 'Mixed Precision Training', Fig. 3, are close to this on a log axis).
A step overflows if any of its n values exceeds the largest finite number:
  P(step overflows) = 1 - (1 - q)^n,  q = P(log2|x| > log2(max / S))
where S is the loss scale for gradients (1 for forward activations). Without dynamic loss scaling
an overflow becomes inf, then NaN in the weights (the loss is NaN from then on). Dynamic loss
scaling (Micikevicius et al. 2018 sec. 3.2) skips a step whose gradients hold inf/NaN and halves S,
so gradient overflow costs skipped steps, not NaN; it cannot rescue a forward overflow.
Gradient clipping by global norm (Pascanu et al. 2013, eq. 7) scales g by min(1, c / ||g||): with an
inf in g, ||g|| = inf and the scaled gradient is 0 x inf = NaN, so clipping does not cure overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FORMATS = {
    # name: (largest finite, smallest subnormal (or normal when no subnormals are kept), significand bits)
    "fp16": (65504.0, 2.0 ** -24, 11),
    "bf16": ((2 - 2 ** -7) * 2.0 ** 127, 2.0 ** -133, 8),
    "fp32": ((2 - 2 ** -23) * 2.0 ** 127, 2.0 ** -149, 24),
}


def max_finite(precision: str) -> float:
    return FORMATS[_fmt(precision)][0]


def min_positive(precision: str) -> float:
    return FORMATS[_fmt(precision)][1]


def _fmt(precision: str) -> str:
    if precision not in FORMATS:
        from explorer.errors import UsageError

        raise UsageError(f"precision {precision!r} has no range model; valid: {', '.join(FORMATS)}")
    return precision


def tail_log2(threshold_log2: float, mu: float, sigma: float) -> float:
    """P(log2|x| > threshold) for log2|x| ~ Normal(mu, sigma)."""
    from scipy.stats import norm

    return float(norm.sf((threshold_log2 - mu) / sigma))


def overflow_probability(precision: str, mu: float, sigma: float, count: float, scale: float = 1.0) -> float:
    """P(at least one of `count` values times `scale` exceeds the format's largest finite value)."""
    q = tail_log2(math.log2(max_finite(precision) / scale), mu, sigma)
    return -math.expm1(count * math.log1p(-q)) if q < 1 else 1.0


def underflow_fraction(precision: str, mu: float, sigma: float, scale: float = 1.0) -> float:
    """Fraction of values whose scaled magnitude falls below the smallest positive number (lost to 0)."""
    from scipy.stats import norm

    return float(norm.cdf((math.log2(min_positive(precision) / scale) - mu) / sigma))


@dataclass(frozen=True)
class StepNumerics:
    precision: str
    loss_scale: float
    dynamic_scaling: bool
    p_forward_overflow: float
    p_gradient_overflow: float
    gradient_underflow: float

    @property
    def p_nan(self) -> float:
        """P(a step turns the loss NaN): forward overflow always; gradient overflow unless skipped."""
        pg = 0.0 if self.dynamic_scaling else self.p_gradient_overflow
        return 1 - (1 - self.p_forward_overflow) * (1 - pg)

    @property
    def steps_to_nan(self) -> float:
        return math.inf if self.p_nan <= 0 else 1.0 / self.p_nan

    @property
    def skipped_fraction(self) -> float:
        return self.p_gradient_overflow if self.dynamic_scaling else 0.0


def step_numerics(precision: str, activations: tuple[float, float], gradients: tuple[float, float],
                  n_activations: float, n_gradients: float, loss_scale: float = 1.0,
                  dynamic_scaling: bool = False) -> StepNumerics:
    """Overflow and underflow of one step. FP32 and BF16 steps are computed with the same model
    (their range makes the probabilities vanish); 16-bit activations are stored in the training
    precision, gradients in it too (mixed precision keeps only the master copy in FP32)."""
    mu_a, s_a = activations
    mu_g, s_g = gradients
    return StepNumerics(
        precision, loss_scale, dynamic_scaling,
        overflow_probability(precision, mu_a, s_a, n_activations),
        overflow_probability(precision, mu_g, s_g, n_gradients, loss_scale),
        underflow_fraction(precision, mu_g, s_g, loss_scale))


def clipped_norm(grad_norm: float, max_norm: float) -> float:
    """Global-norm clipping (Pascanu et al. 2013, eq. 7): ||g|| x min(1, c / ||g||); NaN if ||g|| is inf."""
    if math.isinf(grad_norm):
        return math.nan  # 0 x inf in IEEE 754
    return grad_norm * min(1.0, max_norm / grad_norm) if grad_norm > 0 else 0.0
