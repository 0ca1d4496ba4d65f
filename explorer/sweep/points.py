"""Solve one point of a sweep: a pure function of the point's inputs (what a Dask worker runs).

Deterministic: the 3D solve is CP-SAT on one worker without presolve (explorer/puzzles/threed/model.py,
CPSAT_PARAMS), so the same point gives the same row on any machine, serially or on a cluster; only
`solve_time_s` and `solve_cpu_s` (clocks) differ and is left out of every comparison (TIMING_COLUMNS)."""

from __future__ import annotations

import time
from typing import Any

from explorer.errors import ExplorerError, InfeasibleError, NoAnswerError
from explorer.model_version import model_version
from explorer.sweep.grid import INPUTS, point_key

# CP-SAT's time limit is wall clock: on a loaded machine a solve that needs one CPU-second can take 30 s
# (measured: load average 11 on 2 cores turned one point of benchmarks/bench_sweep.py 'feasible' at
# solve 3d's 30 s default). A sweep promises the same rows however it ran, so its default per solve is
# generous; a point that still reaches it is reported 'feasible' (not proven), never 'optimal'.
SWEEP_TIME_LIMIT_S = 600.0
# solve 3d's own defaults (the cloud track) for what a point leaves out
DEFAULT_GLOBAL_BATCH, DEFAULT_SEQ_LEN, DEFAULT_MAX_BUBBLE = 512, 8192, 0.10
TIMING_COLUMNS = ("solve_time_s", "solve_cpu_s")
# The time limit each row was solved with: a resumed sweep solves an unproven row again when it allows more.
LIMIT_COLUMN = "time_limit_s"
# The cost model that computed the row (explorer/model_version.py: the package version stays 0.1.0 while the model
# changes): a resumed sweep reuses only the rows of today's model.
MODEL_COLUMN = "model_version"
UNPROVEN = ("feasible", "no answer")  # statuses a longer time limit may still improve
OUTPUTS = {
    "3d": ("status", "message", "gpu_key", "network_used", "params_total", "tp", "pp", "dp", "cp", "micro_batch",
           "num_micro_batches", "virtual_stages", "zero", "recompute", "sequence_parallel", "framework_used", "plan",
           "mfu", "step_time_s", "tokens_per_s", "memory_gb", "usd_per_gpu_hour", "usd_per_million_tokens"),
    "plan": ("status", "message", "params_total", "best_gpu", "best_gpus", "best_network", "plan", "mfu",
             "tokens_per_s", "goodput", "checkpoint_interval_s", "train_days", "usd", "proofs", "proven_optimal"),
}


def columns(kind: str) -> list[str]:
    """Every column of a row of this kind, in order (inputs, outputs, timing)."""
    extra = ["gpus"] if kind == "plan" else []
    return ["key", "kind", *INPUTS[kind], *extra, *OUTPUTS[kind], LIMIT_COLUMN, MODEL_COLUMN, *TIMING_COLUMNS]


def solve_point(point: dict[str, Any], time_limit: float | None = None) -> dict[str, Any]:
    """One row: the point's inputs, then the outputs (or status infeasible/error with its message)."""
    kind = point["kind"]
    row: dict[str, Any] = dict.fromkeys(columns(kind))
    row.update({k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in point.items()})
    row["key"] = point_key(point)
    time_limit = SWEEP_TIME_LIMIT_S if time_limit is None else time_limit
    row[LIMIT_COLUMN] = float(time_limit)
    row[MODEL_COLUMN] = model_version()  # this process's model: a Dask worker's own (runner checks they agree)
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        (_solve_3d if kind == "3d" else _solve_plan)(point, row, time_limit)
    except InfeasibleError as exc:
        row.update(status="infeasible", message=str(exc))
    except NoAnswerError as exc:  # the time limit, not a proof
        row.update(status="no answer", message=str(exc))
    except ExplorerError as exc:
        row.update(status="error", message=str(exc))
    row["solve_time_s"] = time.perf_counter() - t0
    row["solve_cpu_s"] = time.process_time() - c0  # CPU of this process: the work, whatever the machine's load
    return row


def _model(point: dict):
    from explorer.planner.inputs import resolve_model

    return resolve_model(point.get("model"), point.get("params"))


def _solve_3d(point: dict, row: dict, time_limit: float | None) -> None:
    from explorer.planner.inputs import cluster_options, load_assumptions
    from explorer.puzzles.threed import solve_3d

    m = _model(point)
    opts = cluster_options(point["gpu"], point.get("network"))
    row.update(gpu_key=opts["gpu"], network_used=opts["network"], params_total=m.model.params)
    res = solve_3d("cloud", model=m.model, gpus=point["gpus"],
                   global_batch=point.get("global_batch", DEFAULT_GLOBAL_BATCH),
                   seq_len=point.get("seq_len", DEFAULT_SEQ_LEN),
                   max_bubble=point.get("max_bubble", DEFAULT_MAX_BUBBLE), precision=point.get("precision"),
                   optimizer=point.get("optimizer"), grad_reduce_dtype=point.get("grad_reduce_dtype"),
                   **({"framework": point["framework"]} if point.get("framework") else {}),
                   explain=False, top=1, time_limit=time_limit, **opts)
    b = res.best
    p = b.plan
    price = load_assumptions().prices.get(opts["gpu"])
    row.update(status=res.status, tp=p.tp, pp=p.pp, dp=p.dp, cp=p.cp, micro_batch=p.micro_batch,
               num_micro_batches=p.num_micro_batches, virtual_stages=p.virtual_stages, zero=p.zero,
               recompute=p.recompute, sequence_parallel=p.sequence_parallel, framework_used=p.framework,
               plan=p.describe(), mfu=b.mfu,
               step_time_s=b.step_time_s, tokens_per_s=b.tokens_per_s, memory_gb=b.memory_total / 1e9)
    if price is not None:
        usd_per_s = point["gpus"] * price.usd_per_gpu_hour / 3600.0
        row.update(usd_per_gpu_hour=price.usd_per_gpu_hour, usd_per_million_tokens=usd_per_s / b.tokens_per_s * 1e6)


def _solve_plan(point: dict, row: dict, time_limit: float | None) -> None:
    from explorer.planner.inputs import load_assumptions
    from explorer.planner.run import plan_training

    m = _model(point)
    row["params_total"] = m.model.params
    p = plan_training(m, point["tokens"], gpu_types=[point["gpu"]], sizes=point.get("gpus"),
                      networks=[point["network"]] if point.get("network") else None,
                      deadline_days=point.get("deadline_days"), budget_usd=point.get("budget_usd"),
                      objective=point.get("objective", "cost"), global_batch=point.get("global_batch"),
                      seq_len=point.get("seq_len"), time_limit=time_limit, assumptions=load_assumptions())
    row.update(proofs=p.proofs, proven_optimal=p.proof_counts()["proven_optimal"])
    b = p.best
    if b is None:
        row.update(status="infeasible", message="no candidate meets the constraints")
        return
    e = b.result.best
    row.update(status=b.status, best_gpu=b.gpu, best_gpus=b.gpus, best_network=b.network, plan=e.plan.describe(),
               mfu=e.mfu, tokens_per_s=e.tokens_per_s, goodput=b.goodput.goodput,
               checkpoint_interval_s=b.goodput.interval_s, train_days=b.train_s / 86400.0, usd=b.usd)
