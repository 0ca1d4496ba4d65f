"""Seconds of the lab 06 part 3 experiment (six seeded schemes of the non-convex MLP at the track
defaults) and of the whole `solve compression` report per track. Target: the experiment in < 2 s on
2 cores (issue 16: numpy only, seeded, fast).

    python benchmarks/bench_compression.py

The machine is shared: report the load average with the numbers."""

from __future__ import annotations

import os
import time

from explorer.puzzles import compression
from explorer.puzzles.collective_scenario import simulation_settings
from explorer.sim import compressed_adam as ca


def main() -> None:
    sim = simulation_settings()
    p = ca.make_problem(16, int(sim["features"]), int(sim["samples_per_worker"]), int(sim["seed"]),
                        int(sim["classes"]), int(sim["hidden"]), float(sim["condition"]), float(sim["label_noise"]))
    steps, warm = int(sim["steps"]), int(round(sim["warmup_fraction"] * sim["steps"]))
    t0 = time.perf_counter()
    for s in ca.SCHEMES:
        ca.run(p, s, steps, float(sim["learning_rate"]), warm, float(sim["topk_fraction"]))
    print(f"experiment, {len(ca.SCHEMES)} schemes x {steps} steps: {time.perf_counter() - t0:.2f} s "
          f"(target < 2 s; load {os.getloadavg()[0]:.1f})")
    for track in ("cloud", "edge", "mobile", "tiny"):
        t0 = time.perf_counter()
        compression.solve(track)
        print(f"solve compression --track {track}: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
