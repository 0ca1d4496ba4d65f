"""`explore sweep`: a thin layer over explorer.sweep."""

from __future__ import annotations

import json
from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import main

MAX_KNEE_LINES = 12


def _fmt(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@main.command("sweep")
@click.option("--kind", type=click.Choice(["3d", "plan"]), default=None,
              help="Solve `solve 3d` (default) or `plan` at every point.")
@click.option("--grid", "grid_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A TOML or YAML file: kind = '3d'|'plan' and a table 'grid' of input = value or [values].")
@click.option("--model", default=None, help="Models, e.g. llama3_8b,llama3_70b.")
@click.option("--params", default=None, help="Parameter counts instead of --model, e.g. 30e9,100e9.")
@click.option("--gpu", default=None, help="GPU types, e.g. h100,b200 (each in its own node preset).")
@click.option("--gpus", default=None, help="Cluster sizes, e.g. 64,128,256 (plan: the candidate sizes).")
@click.option("--network", default=None, help="Inter-node networks (default: each GPU node's own).")
@click.option("--global-batch", default=None, help="Sequences per step (3d default 512; plan 2048).")
@click.option("--seq-len", default=None, help="Sequence lengths (default 8192).")
@click.option("--max-bubble", default=None, help="3d: largest bubble fractions (default 0.10).")
@click.option("--precision", default=None, help="3d: bf16, fp16, fp8, fp32 (default bf16).")
@click.option("--optimizer", default=None, help="3d: adam, momentum, sgd (default adam).")
@click.option("--framework", default=None, help="3d: megatron, deepspeed, fsdp, any (default megatron).")
@click.option("--grad-reduce-dtype", default=None, help="3d: gradient reduction dtype (default: the framework's).")
@click.option("--tokens", default=None, help="plan: token budgets, e.g. 1e12,15e12.")
@click.option("--deadline-days", default=None, help="plan: deadlines in days.")
@click.option("--budget-usd", default=None, help="plan: budgets in dollars.")
@click.option("--objective", default=None, help="plan: cost and/or time.")
@click.option("--workers", type=V.Int(0, 256), default=None,
              help="Dask worker processes of the local cluster (default 2); 0 solves serially in this process. "
                   "Not with --scheduler, whose cluster has its own workers.")
@click.option("--scheduler", default=None, help="Address of a running Dask scheduler (tcp://host:8786) instead "
                                                "of a local cluster.")
# checked (created) in the command, after the dependencies and the grid: a refused sweep leaves no directory
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Directory for points.jsonl (resume log), results.parquet/.csv, knees.csv, figures.")
@click.option("--time-limit", type=V.TIME_LIMIT, default=None,
              help="CP-SAT wall-clock limit per solve, s (default 600: generous, so that a loaded machine "
                   "does not stop a proof and the rows stay identical however the sweep ran).")
@click.option("--max-points", type=V.Int(1, 100_000), default=100_000, show_default=True,
              help="Refuse grids larger than this.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr.")
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def sweep_cmd(kind, grid_file, workers, scheduler, out_dir, time_limit, max_points, progress, figures, fmt,
              **axes) -> None:
    """Solve a grid of `solve 3d` or `plan` points on Dask; resumable; Parquet/CSV, knees and figures."""
    from explorer.sweep.grid import expand_grid, read_grid_file
    from explorer.sweep.runner import check_setup, run_sweep

    check_setup(workers, scheduler)  # before anything is read or written
    raw: dict = {}
    if grid_file is not None:
        d = read_grid_file(grid_file)
        kind = kind or d.get("kind")
        raw.update(d.get("grid", {}))
    raw.update({k: v for k, v in axes.items() if v is not None})
    kind = kind or "3d"
    points = expand_grid(kind, raw, max_points)
    out_dir = V.check_out_dir(out_dir)
    r = run_sweep(points, out_dir, workers=workers, scheduler=scheduler, time_limit=time_limit, progress=progress,
                  figures=figures)
    where = r.scheduler or ("serial" if r.workers == 0 else f"local Dask cluster of {r.workers} workers")
    summary = {"kind": r.kind, "points": r.points, "solved_now": r.solved, "resumed": r.resumed,
               "retried_unproven": r.retried,
               "failed": r.failed, "wall_time_s": r.wall_s, "points_per_s": r.points_per_s, "ran_on": where,
               "statuses": r.statuses(), "files": [str(p) for p in r.files],
               "knees": json.loads(r.knees.to_json(orient="records")) if not r.knees.empty else []}
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2, allow_nan=False))
        return
    rate = f" in {r.wall_s:.1f} s = {r.points_per_s:.2f} points/s" if r.solved else ""
    again = (f"{r.retried:,} unproven (feasible or no answer) solved again with the longer time limit, "
             if r.retried else "")
    lines = [f"sweep {r.kind}: {r.points:,} points ({r.resumed:,} already solved, {again}{r.solved:,} solved now on "
             f"{where})" + rate,
             "statuses: " + ", ".join(f"{k} {v:,}" for k, v in r.statuses().items())]
    errors = r.frame[r.frame["status"] == "error"] if "message" in r.frame.columns else r.frame.iloc[0:0]
    if len(errors):
        from explorer.reports.text import wrap

        many = len(errors) > 1
        lines += wrap(f"{len(errors):,} point{'s' if many else ''} refused {'their' if many else 'its'} "
                      f"inputs (status 'error'; its message is in column 'message')"
                      f"{', the first' if many else ''}: "
                      f"{str(errors['message'].iloc[0]).splitlines()[0][:300]}", rest="  ")
    if r.failed:
        lines.append(f"{len(r.failed)} points failed unexpectedly (not recorded; rerun to retry): {r.failed[0]}")
    if not r.knees.empty:
        lines.append("knees (last size before one more GPU adds < 0.5 of a GPU's throughput):")
        for k in summary["knees"][:MAX_KNEE_LINES]:
            label = ", ".join(f"{c}={_fmt(k[c])}" for c in k
                              if c not in ("knee_gpus", "next_gpus", "marginal", "points", "unproven_points"))
            at = (f"{int(k['knee_gpus']):,} GPUs (the step to {int(k['next_gpus']):,} adds {k['marginal']:.3f})"
                  if k["knee_gpus"] is not None else "none in the grid (every step still pays)")
            if k.get("unproven_points"):
                at += (f"; from {k['unproven_points']} of {k['points']} points not proven optimal (time limit), "
                       "so not a proven knee")
            lines.append(f"  {label}: {at}")
        if len(summary["knees"]) > MAX_KNEE_LINES:
            lines.append(f"  ... {len(summary['knees']) - MAX_KNEE_LINES} more curves in knees.csv")
    lines += ["files:"] + [f"  {p}" for p in r.files]
    click.echo("\n".join(lines))
