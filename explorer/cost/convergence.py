"""How large a batch can be before more samples stop buying fewer steps.

McCandlish, Kaplan, Amodei et al. 2018, 'An Empirical Model of Large-Batch Training'
(arXiv 1812.06162):
  gradient noise scale  B_noise = tr(Sigma) / |G|^2                      (eq. 2.8, 'B_simple')
  steps and samples to a given loss at batch B (eq. 2.11, with B_crit ~ B_noise):
      S = S_min (1 + B_crit / B),   E = E_min (1 + B / B_crit)
  so at B = B_crit training takes 2 S_min steps and 2 E_min samples: the 'critical batch'.
Kaplan et al. 2020, 'Scaling Laws for Neural Language Models' (arXiv 2001.08361) eq. 1.4 fit it
for language models as a function of the loss: B_crit(L) = B* / L^(1 / alpha_B), with
B* = 2e8 tokens and alpha_B = 0.21.
"""

from __future__ import annotations

KAPLAN_B_STAR_TOKENS = 2e8
KAPLAN_ALPHA_B = 0.21


def noise_scale(trace_sigma: float, grad_norm_sq: float) -> float:
    """B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, eq. 2.8)."""
    return trace_sigma / grad_norm_sq


def kaplan_critical_batch_tokens(loss_nats: float) -> float:
    """B_crit(L) = B* / L^(1/alpha_B) in tokens (Kaplan et al. 2020, eq. 1.4)."""
    return KAPLAN_B_STAR_TOKENS / loss_nats ** (1.0 / KAPLAN_ALPHA_B)


def kaplan_critical_batch_samples(loss_nats: float, seq_len: int) -> int:
    """B_crit(L) in whole samples of `seq_len` tokens, rounded DOWN: the largest whole global batch that is
    not above the critical batch (2e8 / 2^(1/0.21) / 8,192 = 899.8 -> 899; a batch of 900 would be past it).
    One rule for every part that prints or compares the critical batch in samples (batch, hierarchy)."""
    import math

    return math.floor(kaplan_critical_batch_tokens(loss_nats) / seq_len)


def steps_multiplier(batch: float, b_crit: float) -> float:
    """S / S_min = 1 + B_crit / B (McCandlish et al. 2018, eq. 2.11)."""
    return 1.0 + b_crit / batch


def samples_multiplier(batch: float, b_crit: float) -> float:
    """E / E_min = 1 + B / B_crit (McCandlish et al. 2018, eq. 2.11)."""
    return 1.0 + batch / b_crit
