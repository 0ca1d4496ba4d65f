"""Words the crossover narration shares: a bandwidth as a rate, the alpha/B overrides, ring's two terms
at M, and how far the numeric root lies from the closed form.
"""

from __future__ import annotations

import math

from explorer.cost import collectives as col
from explorer.units import human_duration as dur
from explorer.units import human_number, human_sci


def rate_unit(bps: float) -> tuple[float, str]:
    """(scale, unit) of the largest unit a bandwidth (bytes/s) reaches, for a table column in one unit."""
    for scale, unit in ((1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if bps >= scale:
            return scale, unit
    return 1.0, "B/s"


def rate_words(bps: float) -> str:
    """A bandwidth (bytes/s) in words: three significant digits in the largest unit it reaches."""
    for scale, unit in ((1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
        if bps >= scale:
            return f"{human_number(bps / scale)} {unit}"
    return f"{human_sci(bps)} B/s"


def overridden_words(alpha: float, bw: float, link) -> str:
    """'; overridden here: ...' when alpha or B is not the link's (the figures then use the values given)."""
    given = []
    if not math.isclose(alpha, link.latency_s, rel_tol=1e-6):
        given.append(f"alpha = {dur(alpha)}")
    if not math.isclose(bw, link.effective_bandwidth, rel_tol=1e-6):
        given.append(f"B = {rate_words(bw)}")
    return f"; overridden here: {' and '.join(given)}" if given else ""


def ring_terms(m: float, n: int, alpha: float, bw: float) -> str:
    """Which of ring's two terms is the larger at M, with both figures (from the cost function: the alpha term is
    its time at M = 0, the bandwidth term the rest)."""
    a = float(col.ring_allreduce_time(0.0, n, alpha, bw))
    b = float(col.ring_allreduce_time(m, n, alpha, bw)) - a
    if math.isclose(a, b, rel_tol=1e-3):
        return f"ring's alpha term and its bandwidth term 2(N-1)/N M/B are level ({dur(a)} each)"
    if b > a:
        return f"ring's bandwidth term 2(N-1)/N M/B = {dur(b)} outweighs its alpha term ({dur(a)})"
    return f"ring's alpha term ({dur(a)}) outweighs its bandwidth term 2(N-1)/N M/B = {dur(b)}"


def apart_words(rel: float) -> str:
    """How far the numeric root lies from the closed form, in words: below a part in a billion it is the same
    number to the precision of the root finder."""
    return "the same to within a part in a billion" if rel < 1e-9 else f"{human_number(100 * rel)}% apart"
