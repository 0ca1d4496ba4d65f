#!/usr/bin/env python
"""Benchmark the fleet form of the 3D puzzle (explorer/puzzles/fleet3d) on edge, mobile and tiny.

Run:  python benchmarks/bench_fleet.py [--repeat N]

For each fleet track it measures the table build (cost model over every choice), the exhaustive
evaluation of every configuration, and CP-SAT's proof over the same integer tables, and ASSERTS that
both engines reach the same optimum. The enumeration is the default engine of the fleet form because
it is the faster proof on these spaces (a few thousand configurations); CP-SAT is the cross-check.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    from explorer.puzzles.fleet3d import CPSAT_PARAMS, model, scenario
    from explorer.solvers import log_tables

    print(f"{'track':8} {'configs':>8} {'tables s':>9} {'enum s':>8} {'cp-sat s':>9}  status")
    for track in ("edge", "mobile", "tiny"):
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            tb = model.build_tables(scenario.load(track))
            pr = model.build_problem(tb)
            t1 = time.perf_counter()
            best, _ = log_tables.solve_exhaustive(pr)
            t2 = time.perf_counter()
            cs, out = log_tables.solve_cpsat(pr, time_limit_s=60, params=CPSAT_PARAMS)
            t3 = time.perf_counter()
            assert cs is not None and pr.score(cs)["z"] == pr.score(best[0])["z"], f"{track}: engines disagree"
            print(f"{track:8} {pr.radix:>8,} {t1 - t0:>9.3f} {t2 - t1:>8.4f} {t3 - t2:>9.3f}  {out.status}")


if __name__ == "__main__":
    main()
