#!/usr/bin/env python
"""Benchmark the sum of H local step times (explorer/cost/stragglers.py) at the ends of the sync audit's ranges.

Run:  python benchmarks/bench_stragglers.py

The fleet round's deadline is a quantile of the time one device needs for H local steps, computed for every
(H, deadline) of a track (fleet3d/model.py build_tables). It was an H-fold FFT convolution on a grid of width
t0 / 400 up to slowdown x t0, so its cost grew linearly with the slowdown: `explore solve sync --track edge
--slowdown 1000` (the largest allowed) ran for over 300 s. The grid now follows each mixture term's own
support (TERM_CELLS cells a term). Prints, per (straggler fraction, slowdown), the time of every deadline
quantile of the edge track's H = 1..256 and the cells tabulated, from a cold cache.
"""

from __future__ import annotations

import time


def main() -> None:
    from explorer.cost import stragglers as st

    hs = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    qs = [0.5, 0.8, 0.9, 0.95, 0.99]
    print(f"{'p':>6} {'slowdown':>9} {'seconds':>8} {'cells':>10}  median of H = 256 (t0)")
    for p in (0.05, 0.5, 1.0):
        for s in (3.0, 100.0, 1000.0):
            st.sum_of_steps.cache_clear()
            m = st.StepTimeModel(1.0, 0.1, p, s)
            t0 = time.perf_counter()
            med = [[st.quantile_of_sum(m, h, q) for q in qs] for h in hs][-1][0]
            dt = time.perf_counter() - t0
            cells = sum(st.sum_of_steps(m, h, 1).cells for h in hs)
            print(f"{p:>6g} {s:>9g} {dt:>8.3f} {cells:>10,}  {med:,.1f}")


if __name__ == "__main__":
    main()
