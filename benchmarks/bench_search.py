#!/usr/bin/env python
"""Benchmark the 3D search: CP-SAT against the exhaustive numpy evaluator, 64 to 131,072 GPUs.

Run:  python benchmarks/bench_search.py [--quick] [--repeat N]

For Llama-3 {8B, 70B, 405B} x {64, 1,024, 16,384, 131,072} H100 SXM GPUs (nodes of 8, NVLink 4
+ NDR 400), 8K sequences and a global batch of max(512, GPUs / 8) sequences, it measures the
design-space size, the exhaustive evaluator's time and configurations per second, and CP-SAT's
time to a proven optimum, and ASSERTS that both engines give the same optimum (or both find the
puzzle infeasible). Then it times the whole `explore solve 3d --track cloud` command, imports
included, and where that time goes. Targets (issue 8, issue 11): >= 1e6 configurations/s exhaustive;
CP-SAT < 1 s on every track default and < 10 s at 131,072 GPUs; the command < 3 s wall.

The search box is the default one (CP <= 32, v up to layers / PP, any micro-batch dividing the batch);
--framework any searches the three frameworks' union. CP-SAT times are given as CPU seconds of this
process and as wall seconds: on a shared 2-core machine the wall time also measures the neighbours.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

MODELS = ("llama3_8b", "llama3_70b", "llama3_405b")
GPUS = (64, 1024, 16384, 131072)


def _best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _best_cpu(fn, repeat):
    """(best wall seconds, best CPU seconds of this process, result)."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def bench_case(model: str, gpus: int, repeat: int, framework: str = "megatron") -> dict:
    from explorer.errors import InfeasibleError
    from explorer.puzzles.threed import make_instance, solve_instance
    from explorer.puzzles.threed import space as rules
    from explorer.puzzles.threed.space import build_space, candidate_arrays
    from explorer.solvers.threed_enumerate import enumerate_space
    from explorer.tracks import get_track

    inst = make_instance(get_track("cloud"), model=model, gpus=gpus, global_batch=max(512, gpus // 8),
                         framework=framework)
    space = build_space(inst)
    valid = len(candidate_arrays(inst, space)["tp"])
    t_enum, en = _best(lambda: enumerate_space(inst, space, rules=rules), repeat)

    def cpsat():
        try:
            return solve_instance(inst, engine="cpsat", top=1, explain=False)
        except InfeasibleError:
            return None

    t_cp, cpu_cp, res = _best_cpu(cpsat, repeat)
    if en.feasible == 0:
        assert res is None, f"{model}/{gpus}: CP-SAT found {res.best.plan.describe()} but exhaustive found none"
        agree, best = "both infeasible", "-"
    else:
        assert res is not None, f"{model}/{gpus}: exhaustive found a configuration, CP-SAT none"
        assert res.status == "optimal", f"{model}/{gpus}: CP-SAT status {res.status}"
        a, b = res.best.step_time_s, float(en.columns["step_time"][0])
        assert abs(a - b) <= 1e-6 * b, f"{model}/{gpus}: CP-SAT {a} != exhaustive {b}"
        agree, best = "same optimum", f"{res.best.plan.describe()} MFU {res.best.mfu:.1%}"
    return {"model": model, "gpus": gpus, "framework": framework, "space": space.size(), "valid": valid,
            "enum_s": t_enum, "enum_rate": en.evaluated / t_enum if t_enum else float("inf"), "cpsat_s": t_cp,
            "cpsat_cpu_s": cpu_cp, "agree": agree, "best": best}


def bench_large_space(repeat: int) -> dict:
    """Throughput of the exhaustive evaluator on the largest default space: Llama-3-405B on 131,072 GPUs,
    2^18 sequences per step (micro-batch up to 2^18), CP up to 32, v up to layers / PP, --framework any."""
    from explorer.puzzles.threed import make_instance
    from explorer.puzzles.threed import space as rules
    from explorer.puzzles.threed.space import build_space
    from explorer.solvers.threed_enumerate import enumerate_space
    from explorer.tracks import get_track

    inst = make_instance(get_track("cloud"), model="llama3_405b", gpus=131072, global_batch=2**18, framework="any")
    space = build_space(inst)
    t, en = _best(lambda: enumerate_space(inst, space, rules=rules), repeat)
    return {"space": space.size(), "evaluated": en.evaluated, "seconds": t, "rate": en.evaluated / t}


def bench_tracks(repeat: int) -> list[dict]:
    from explorer.puzzles.threed import solve_3d

    rows = []
    for track in ("cloud", "edge", "mobile", "tiny"):
        for fw in ("megatron", "any"):
            t, cpu, r = _best_cpu(lambda tr=track, f=fw: solve_3d(tr, top=1, explain=False, framework=f), repeat)
            e = solve_3d(track, top=1, engine="enumerate", explain=False, framework=fw)
            assert abs(r.best.step_time_s - e.best.step_time_s) <= 1e-6 * e.best.step_time_s
            rows.append({"track": track, "framework": fw, "cpsat_s": t, "cpsat_cpu_s": cpu, "status": r.status,
                         "best": r.best.plan.describe()})
    return rows


def bench_command(repeat: int) -> dict:
    cmd = [sys.executable, "-c", "from explorer.cli import run; run()", "solve", "3d", "--track", "cloud"]
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import explorer.cli"], check=True)
    imports = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interp = time.perf_counter() - t0
    # In-process split of the rest: CP-SAT solve, explanation (exhaustive cross-check and what-ifs),
    # the micro-batch question, rendering.
    from explorer.reports.render import render

    from explorer.puzzles.threed import micro_batch_question, solve_3d
    from explorer.puzzles.threed import space as rules
    from explorer.puzzles.threed.explain import binding_constraints
    from explorer.solvers.threed_enumerate import enumerate_space

    t0 = time.perf_counter()
    r = solve_3d("cloud", explain=False, top=1)
    t_solve = time.perf_counter() - t0
    t0 = time.perf_counter()
    en = enumerate_space(r.instance, rules=rules)
    binding_constraints(r.instance, r, en)
    t_explain = time.perf_counter() - t0
    t0 = time.perf_counter()
    micro_batch_question(r.instance, r.track.crisis_plan)
    t_mb = time.perf_counter() - t0
    r = solve_3d("cloud")
    t0 = time.perf_counter()
    render(r.report, "text")
    t_render = time.perf_counter() - t0
    return {"wall_s": statistics.median(walls), "interpreter_s": interp, "imports_s": imports - interp,
            "cpsat_solve_s": t_solve, "explain_s": t_explain, "micro_batch_question_s": t_mb,
            "render_s": t_render}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only 64 and 1,024 GPUs")
    ap.add_argument("--repeat", type=int, default=1, help="best of N timings per case")
    args = ap.parse_args()
    gpus = GPUS[:2] if args.quick else GPUS
    print(f"{'model':<12} {'GPUs':>7} {'framework':<9} {'space':>10} {'valid':>7} {'exhaustive s':>12} "
          f"{'configs/s':>11} {'CP-SAT s':>9} {'(CPU s)':>8}  agreement / optimum")
    for fw in ("megatron", "any"):
        for m in MODELS:
            for g in gpus:
                r = bench_case(m, g, args.repeat, fw)
                print(f"{r['model']:<12} {r['gpus']:>7,} {fw:<9} {r['space']:>10,} {r['valid']:>7,} "
                      f"{r['enum_s']:>12.3f} {r['enum_rate']:>11,.0f} {r['cpsat_s']:>9.3f} {r['cpsat_cpu_s']:>8.3f}  "
                      f"{r['agree']}: {r['best']}", flush=True)
    big = bench_large_space(args.repeat)
    print(f"\nExhaustive evaluator on a large space: {big['evaluated']:,} valid configurations (of "
          f"{big['space']:,} combinations) in {big['seconds']:.2f} s = {big['rate']:,.0f} configurations/s")
    print("\nTrack defaults (CP-SAT, proven optimum, explanation off):")
    for r in bench_tracks(args.repeat):
        print(f"  {r['track']:<7} {r['framework']:<9} {r['cpsat_s']:.3f} s wall, {r['cpsat_cpu_s']:.3f} s CPU  "
              f"{r['status']}: {r['best']}")
    c = bench_command(max(args.repeat, 3))
    print(f"\n`explore solve 3d --track cloud`: {c['wall_s']:.2f} s wall (median of 3)")
    labels = {"interpreter_s": "interpreter start", "imports_s": "imports (explorer.cli)",
              "cpsat_solve_s": "CP-SAT solve (proof)", "explain_s": "explanation (cross-check, what-ifs)",
              "micro_batch_question_s": "micro-batch question (one more CP-SAT)", "render_s": "text rendering"}
    for k, label in labels.items():
        print(f"  {label:<42}{c[k]:.3f} s")


if __name__ == "__main__":
    main()
