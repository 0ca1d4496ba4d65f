"""A standard decoder shape for a parameter count (`--params 100e9`), derived from the Llama 3 family.

Rule (stated in every output that uses it):
- hidden size h: interpolated log-log between the Llama 3 family's (parameters, hidden) points
  8.03B/4096, 70.6B/8192, 405B/16384 (arXiv 2407.21783, Table 3), the end segments extended
  outside 8B-405B (marked "extrapolated"); rounded to a multiple of 1,024 so that 128-wide heads
  come in multiples of 8;
- heads = h / 128 (head dimension 128, as all three), 8 KV heads (grouped-query attention, as all three);
- SwiGLU FFN as the Llama reference code sizes it: 4h, x 2/3, x ffn_dim_multiplier (1.3 for 8B and
  70B, 1.2 for 405B: the nearer member's), rounded up to a multiple of 1,024;
- vocabulary 128,256, untied embeddings, RMSNorm, RoPE, no biases;
- layers: whatever brings the count closest to the target once h is fixed.
Why one family's shape is a fair default: at a fixed parameter count, loss depends only weakly on the
shape (Kaplan et al. 2020, arXiv 2001.08361, sec. 3.1 and Fig. 5: within a few percent for aspect
ratios h / L from about 20 to 200); Llama 3's are 128, 102 and 130.
"""

from __future__ import annotations

import math

from explorer.models.architecture import DecoderModel

from explorer.errors import UsageError

# (published parameters, hidden, ffn_dim_multiplier), Llama 3 family (arXiv 2407.21783, Table 3;
# ffn_dim_multiplier from the released params.json of each model)
LLAMA3_POINTS = ((8.03e9, 4096, 1.3), (70.6e9, 8192, 1.3), (405e9, 16384, 1.2))
HEAD_DIM = 128
KV_HEADS = 8
VOCAB = 128256
MULTIPLE = 1024
MIN_PARAMS, MAX_PARAMS = 1e9, 1e13
RULE = ("Llama 3 family shape rule: hidden interpolated log-log between 8B/4096, 70B/8192, 405B/16384 "
        "(arXiv 2407.21783 Table 3), head dim 128, 8 KV heads (GQA), SwiGLU FFN = 1024-multiple of "
        "(8h/3) x 1.3 (1.2 from 405B), vocab 128,256; layers fit the count. Shape matters little at fixed N "
        "(Kaplan et al. 2020, sec. 3.1).")


def _hidden(n: float) -> tuple[float, float]:
    """Continuous hidden size and the FFN multiplier for n parameters."""
    pts = LLAMA3_POINTS
    i = 0 if n <= pts[1][0] else 1  # segment (8B-70B) or (70B-405B), extended beyond the ends
    (n0, h0, m0), (n1, h1, m1) = pts[i], pts[i + 1]
    slope = math.log(h1 / h0) / math.log(n1 / n0)
    h = h0 * (n / n0) ** slope
    nearer = m0 if abs(math.log(n / n0)) <= abs(math.log(n / n1)) else m1
    return h, nearer


def llama_ffn(hidden: int, multiplier: float) -> int:
    """The Llama reference code's FFN width: 1024 x ceil(int(multiplier x int(2 x 4h / 3)) / 1024)."""
    width = int(multiplier * int(2 * 4 * hidden / 3))
    return MULTIPLE * -(-width // MULTIPLE)


def shape_for_params(params: float) -> DecoderModel:
    """A Llama-3-style decoder with about `params` parameters (see the module docstring for the rule)."""
    if isinstance(params, bool) or not isinstance(params, (int, float)) or not math.isfinite(params):
        raise UsageError(f"params must be a number of parameters such as 100e9, got {params!r}")
    if not MIN_PARAMS <= params <= MAX_PARAMS:
        raise UsageError(f"params {params:g} is outside the range the shape rule covers: {MIN_PARAMS:g} to "
                         f"{MAX_PARAMS:g} (give --layers/--hidden/--heads for other shapes)")
    h_cont, mult = _hidden(params)
    hidden = max(MULTIPLE, MULTIPLE * round(h_cont / MULTIPLE))
    heads = hidden // HEAD_DIM
    probe = DecoderModel(name="probe", layers=1, hidden=hidden, heads=heads, kv_heads=KV_HEADS,
                         ffn=llama_ffn(hidden, mult), vocab=VOCAB)
    fixed = probe.params - probe.layer_params  # embeddings, head, final norm
    if params <= fixed + probe.layer_params / 2:
        raise UsageError(f"params {params:g} leave no room for a layer next to the {fixed:.3g} embedding "
                         f"parameters of the rule's shape")
    layers = max(1, round((params - fixed) / probe.layer_params))
    lo, hi = LLAMA3_POINTS[0][0], LLAMA3_POINTS[-1][0]
    where = "interpolated" if lo <= params <= hi else "extrapolated"
    return DecoderModel(name=f"Llama-3-style {params / 1e9:.4g}B", layers=layers, hidden=hidden, heads=heads,
                        kv_heads=KV_HEADS, ffn=probe.ffn, vocab=VOCAB, key=f"params_{params:.4g}",
                        source=f"{where} from the target {params:.4g} parameters by the {RULE}",
                        published_params=None)
