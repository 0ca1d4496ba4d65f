"""`explore sweep`: a thin layer over explorer.sweep."""

from __future__ import annotations

import json
from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import choice

MAX_KNEE_LINES = 12


def _fmt(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _nothing_solved(r) -> Exception | None:  # noqa: ANN001
    """The error a sweep ends with when no point has a plan (None when some point does): exit 2 when a point
    refused its inputs, 1 when points failed unexpectedly or every point is infeasible, 3 when some stopped at the
    time limit without an answer (not a proof that none exists)."""
    from explorer.errors import ExplorerError, InfeasibleError, NoAnswerError, UsageError

    st = r.statuses()
    if st.get("optimal", 0) + st.get("feasible", 0):
        return None

    def some(k: int, verb: str) -> str:  # "the point refused its" / "2 of 3 points refused their"
        if r.points == 1:
            return f"the point {verb} its"
        return f"{k:,} of {r.points:,} points {verb} {'its' if k == 1 else 'their'}"

    def first(messages: object) -> str:
        text = str(next(iter(messages), "")).splitlines()[0] if len(messages) else ""
        text = text if len(text) <= 240 else text[:240].rsplit(" ", 1)[0] + " ..."
        return f" ({'the first: ' if len(messages) > 1 else ''}{text})" if text else ""

    errors = r.frame[r.frame["status"] == "error"] if "message" in r.frame.columns else r.frame.iloc[0:0]
    if len(errors):
        return UsageError(f"no point of the sweep was solved: {some(len(errors), 'refused')} inputs"
                          f"{first(errors['message'].tolist())}")
    if r.failed:
        return ExplorerError(f"no point of the sweep was solved: {len(r.failed):,} of {r.points:,} failed "
                             f"unexpectedly{first(r.failed)}; rerun to retry them")
    if st.get("no answer"):
        return NoAnswerError(r.frame[r.frame["status"] == "no answer"]["time_limit_s"].max(),
                             where=f"for {st['no answer']:,} of the {r.points:,} points of the sweep "
                                   f"({st.get('infeasible', 0):,} infeasible)")
    infeasible = r.frame[r.frame["status"] == "infeasible"]
    every = "the only point is" if r.points == 1 else f"all {r.points:,} points are"
    return InfeasibleError(f"no point of the sweep has a feasible plan: {every} infeasible"
                           f"{first(infeasible['message'].tolist())}")


def _overridden(grid: dict, kind_file: object, kind: str | None, axes: dict) -> list[str]:
    """What the command line replaces of the grid file, said rather than done silently."""
    out = [f"--kind {kind} replaces the grid file's kind = {kind_file!r}"] if kind and kind_file and \
        kind != kind_file else []
    for k, v in axes.items():
        if v is not None and k in grid:
            out.append(f"--{k.replace('_', '-')} {v} replaces the grid file's {k} = {grid[k]!r}")
    return out


@main.command("sweep")
@click.option("--kind", type=choice(["3d", "plan"]), default=None,
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
@click.option("--format", "fmt", type=choice(["text", "json"]), default="text", show_default=True)
def sweep_cmd(kind, grid_file, workers, scheduler, out_dir, time_limit, max_points, progress, figures, fmt,
              **axes) -> None:
    """Solve a grid of `solve 3d` or `plan` points on Dask; resumable; Parquet/CSV, knees and figures."""
    from explorer.sweep.grid import expand_grid, read_grid_file
    from explorer.sweep.runner import check_setup, run_sweep

    check_setup(workers, scheduler)  # before anything is read or written
    raw: dict = {}
    overridden: list[str] = []
    if grid_file is not None:
        d = read_grid_file(grid_file)
        raw.update({str(k).replace("-", "_"): v for k, v in d.get("grid", {}).items()})
        overridden = _overridden(raw, d.get("kind"), kind, axes)
        kind = kind or d.get("kind")
    raw.update({k: v for k, v in axes.items() if v is not None})
    kind = kind or "3d"
    points = expand_grid(kind, raw, max_points)
    out_dir = V.check_out_dir(out_dir)
    r = run_sweep(points, out_dir, workers=workers, scheduler=scheduler, time_limit=time_limit, progress=progress,
                  figures=figures)
    where = r.scheduler or ("serial" if r.workers == 0 else f"local Dask cluster of {r.workers} workers")
    from explorer.sweep.log import note

    distrusted = note(r.distrusted)
    summary = {"kind": r.kind, "points": r.points, "solved_now": r.solved, "resumed": r.resumed,
               "retried_unproven": r.retried, "not_reused": {k: len(v) for k, v in r.distrusted.items()},
               "notes": [*overridden, *([distrusted] if distrusted else []),
                         *([f"no figures: {r.figures_skipped}"] if r.figures_skipped else [])],
               "failed": r.failed, "wall_time_s": r.wall_s, "points_per_s": r.points_per_s, "ran_on": where,
               "statuses": r.statuses(), "files": [str(p) for p in r.files],
               "knees": json.loads(r.knees.to_json(orient="records")) if not r.knees.empty else []}
    failure = _nothing_solved(r)
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2, allow_nan=False))
        if failure is not None:
            raise failure
        return
    from explorer.reports.text import wrap

    rate = f" in {r.wall_s:.1f} s = {r.points_per_s:.2f} points/s" if r.solved else ""
    again = (f"{r.retried:,} unproven (feasible or no answer) solved again with the longer time limit, "
             if r.retried else "")
    lines = [f"note: {o}" for o in overridden]
    lines += [f"sweep {r.kind}: {r.points:,} point{'s' if r.points != 1 else ''} ({r.resumed:,} already solved, "
              f"{again}{r.solved:,} solved now on {where})" + rate,
              "statuses: " + ", ".join(f"{k} {v:,}" for k, v in r.statuses().items())]
    if distrusted:
        lines.append(distrusted)
    errors = r.frame[r.frame["status"] == "error"] if "message" in r.frame.columns else r.frame.iloc[0:0]
    if len(errors):
        many = len(errors) > 1
        lines.append(f"{len(errors):,} point{'s' if many else ''} refused {'their' if many else 'its'} "
                     f"inputs (status 'error'; its message is in column 'message')"
                     f"{', the first' if many else ''}: "
                     f"{str(errors['message'].iloc[0]).splitlines()[0][:300]}")
    if r.failed:
        lines.append(f"{len(r.failed)} points failed unexpectedly (not recorded; rerun to retry): {r.failed[0]}")
    if not r.knees.empty:
        lines.append("knees (last size before one more GPU adds < 0.5 of a GPU's throughput):")
        for k in summary["knees"][:MAX_KNEE_LINES]:
            label = ", ".join(f"{c}={_fmt(k[c])}" for c in k
                              if c not in ("knee_gpus", "next_gpus", "marginal", "points", "unproven_points"))
            at = (f"{int(k['knee_gpus']):,} GPUs (the step to {int(k['next_gpus']):,} adds {k['marginal']:.3f})"
                  if k["knee_gpus"] is not None else "none in the grid (every step still pays)")
            lines.append(f"  {label}: {at}")
            if k.get("unproven_points"):  # a line of its own: it stays whole at 80 columns
                lines.append(f"    from {k['unproven_points']} of {k['points']} points not proven optimal "
                             "(time limit), so not a proven knee")
        if len(summary["knees"]) > MAX_KNEE_LINES:
            lines.append(f"  ... {len(summary['knees']) - MAX_KNEE_LINES} more curves in knees.csv")
    if r.figures_skipped:
        lines.append(f"no figures: {r.figures_skipped}")
    # prose wrapped to the terminal, each line's continuation indented 2 more; file names whole, one a line
    wrapped = [w for line in lines for w in (wrap(line, rest=" " * (len(line) - len(line.lstrip()) + 2)) or [""])]
    click.echo("\n".join([*wrapped, "files:", *[f"  {p}" for p in r.files]]))
    if failure is not None:
        raise failure
