"""Points per second of `explore sweep` with 1 and 2 Dask workers (and serially), on the same grid, and
a check that all three runs give identical rows (wall-clock columns aside).

    python benchmarks/bench_sweep.py                     # 40 points (4 models x 10 sizes), about a minute
    BENCH_SWEEP_POINTS=1000 python benchmarks/bench_sweep.py   # the 1,000-point grid (benchmarks/sweep_1000.toml)

Each run starts from an empty output directory; Dask's local-cluster start-up is inside the timing (it is
part of what a user waits for). The machine is shared: report the load average with the numbers."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from explorer.sweep.grid import expand_grid, read_grid_file
from explorer.sweep.runner import comparable, run_sweep

HERE = Path(__file__).parent


def grid() -> list[dict]:
    if os.environ.get("BENCH_SWEEP_POINTS") == "1000":
        d = read_grid_file(HERE / "sweep_1000.toml")
        return expand_grid(d["kind"], d["grid"])
    return expand_grid("3d", {"model": ["llama3_8b", "llama3_70b"], "params": None, "gpu": ["h100", "b200"],
                              "gpus": [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]})


def overhead() -> None:
    """Dask's own cost: starting a local cluster, importing explorer on its workers, 200 empty tasks."""
    import logging

    from distributed import Client, LocalCluster

    for n in (1, 2):
        t0 = time.perf_counter()
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as c, Client(c) as cl:
            t1 = time.perf_counter()
            cl.run(lambda: __import__("explorer.sweep.points"))
            t2 = time.perf_counter()
            cl.gather([cl.submit(abs, -i, pure=False) for i in range(200)])
            t3 = time.perf_counter()
        print(f"Dask overhead, {n} worker(s): cluster start {t1 - t0:.1f} s, explorer imported on the workers "
              f"{t2 - t1:.1f} s, 200 empty tasks {t3 - t2:.2f} s", flush=True)


def main() -> None:
    overhead()
    points = grid()
    runs = {}
    for label, workers in (("serial", 0), ("1 worker", 1), ("2 workers", 2)):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            r = run_sweep(points, Path(out), workers=workers, progress=False, figures=False)
            wall = time.perf_counter() - t0
            runs[label] = (r, wall)
            cpu = r.frame["solve_cpu_s"].sum()
            print(f"{label:>10}: {len(points):,} points in {wall:7.1f} s = {len(points) / wall:6.2f} points/s "
                  f"({cpu:.1f} CPU-s in the solves; load average {os.getloadavg()[0]:.1f}); statuses {r.statuses()}",
                  flush=True)
    base = comparable(runs["serial"][0].frame)
    same = {k: comparable(r.frame).equals(base) for k, (r, _) in runs.items()}
    ratio = runs["1 worker"][1] / runs["2 workers"][1]
    print(f"identical to the serial run: {same}")
    print(f"scaling 1 -> 2 workers: {ratio:.2f}x (ideal 2.00x on 2 free cores)")
    sys.exit(0 if all(same.values()) else 1)


if __name__ == "__main__":
    main()
