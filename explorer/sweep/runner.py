"""Run a sweep: skip what OUT/points.jsonl already holds, solve the rest on Dask distributed (a local
cluster of `workers` processes, or the scheduler at `scheduler`) or serially (workers = 0), append each
row to points.jsonl as it arrives (so an interrupted sweep resumes), then write results.parquet,
results.csv, knees.csv and the figures.

Dask rather than Ray: pure-Python wheels that pip installs in seconds, a LocalCluster for one machine and
the same Client against `tcp://host:8786` for a real cluster, pandas/Parquet native; Ray brings a
native runtime and object store this workload (small, independent CPU tasks) does not need."""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from explorer.errors import UsageError
from explorer.sweep.grid import INPUTS, point_key
from explorer.sweep.knee import curve_columns, knee
from explorer.sweep.log import distrust, sign
from explorer.sweep.points import LIMIT_COLUMN, SWEEP_TIME_LIMIT_S, TIMING_COLUMNS, UNPROVEN, columns, solve_point

LOG = "points.jsonl"
MAX_WORKERS = 256


def require(*modules: str) -> None:
    """One line naming the missing modules of the sweep extra."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"explore sweep needs {', '.join(missing)}: pip install 'explorer[sweep]'")


def check_setup(workers: int | None, scheduler: str | None) -> int:
    """The worker count to run with, after refusing what cannot act (checked before anything is written):
    workers size a local cluster, so they and a scheduler address exclude each other, and the sweep extra's
    modules must be installed. None: 2 local workers, or the running scheduler's own."""
    if scheduler is not None and workers is not None:
        raise UsageError(f"--workers {workers} sizes a local Dask cluster, and --scheduler {scheduler} uses a "
                         "running cluster's own workers: give one or the other")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or not 0 <= workers <= MAX_WORKERS):
        raise UsageError(f"workers must be a whole number in [0, {MAX_WORKERS}] (0 = serial), got {workers!r}")
    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise UsageError(f"scheduler {scheduler!r} is not an address like tcp://host:8786")
    workers = 0 if scheduler is not None else (2 if workers is None else workers)
    require("pandas", "pyarrow", "tqdm", *(["distributed"] if workers or scheduler else []))
    return workers


def solve_again(row: dict, time_limit: float | None) -> bool:
    """A logged row not proven (status 'feasible' or 'no answer': CP-SAT stopped at its time limit) is solved
    again when this run allows more time than it had (None: the default SWEEP_TIME_LIMIT_S); a row logged
    without its time limit (an older log) is solved again too."""
    if row.get("status") not in UNPROVEN:
        return False
    had = row.get(LIMIT_COLUMN)
    allowed = SWEEP_TIME_LIMIT_S if time_limit is None else float(time_limit)
    return not isinstance(had, (int, float)) or allowed > float(had)


@dataclass
class SweepResult:
    kind: str
    out_dir: Path
    points: int
    solved: int
    resumed: int
    wall_s: float
    workers: int
    scheduler: str | None
    frame: Any  # pandas DataFrame, one row per point in grid order
    knees: Any  # pandas DataFrame, one row per curve
    files: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retried: int = 0  # logged unproven rows solved again with a longer time limit (counted in `solved`)
    # logged rows not reused (explorer/sweep/log.py): reason -> one detail per row; solved again (in `solved`)
    distrusted: dict[str, list[str]] = field(default_factory=dict)
    figures_skipped: str = ""  # why no figure was drawn although figures were asked for ("" when drawn or not asked)

    @property
    def points_per_s(self) -> float:
        return self.solved / self.wall_s if self.wall_s > 0 else 0.0

    def statuses(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.frame["status"].value_counts().items()}


def comparable(frame: Any) -> Any:
    """The rows without wall-clock columns: what must be identical however the sweep ran."""
    return frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame.columns]).reset_index(drop=True)


def _read_log(path: Path) -> dict[str, dict]:
    """The last logged row of each key (a point solved again appends its new row), unchecked: see _trusted."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with open(path) as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interrupted run: solve that point again
                continue
            if isinstance(row, dict) and isinstance(row.get("key"), str):
                done[row["key"]] = row
    return done


def _trusted(done: dict[str, dict], keys: list[str], kind: str) -> dict[str, list[str]]:
    """Drop from `done` the logged rows of this grid that may not be reused (edited, invalid, another model):
    they are solved again. Returns reason -> details, for the summary."""
    out: dict[str, list[str]] = {}
    for k in dict.fromkeys(keys):
        if k in done:
            why = distrust(done[k], kind)
            if why:
                del done[k]
                out.setdefault(why[0], []).append(why[1])
    return out


def run_sweep(points: list[dict[str, Any]], out_dir: Path, *, workers: int | None = None,
              scheduler: str | None = None, time_limit: float | None = None, progress: bool = True,
              figures: bool = True) -> SweepResult:
    """Solve every point not yet in out_dir/points.jsonl (and every unproven one this run gives more time);
    write the tables and figures of all of them. workers: local Dask processes (default 2; 0 = serial), not
    with a scheduler address."""
    workers = check_setup(workers, scheduler)
    if not points:
        raise UsageError("the grid has no points")
    kind = points[0]["kind"]
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output directory {str(out_dir)!r}: {exc.strerror}") from None
    log = out_dir / LOG
    done = _read_log(log)
    keys = [point_key(p) for p in points]
    distrusted = _trusted(done, keys, kind)
    todo = [p for p, k in zip(points, keys) if k not in done or solve_again(done[k], time_limit)]
    retried = sum(k in done for k in map(point_key, todo))
    failed: list[str] = []
    from tqdm import tqdm

    t0 = time.perf_counter()
    with open(log, "a") as fh, tqdm(total=len(points), initial=len(points) - len(todo), unit="pt", file=sys.stderr,
                                    disable=not progress, desc="sweep", dynamic_ncols=True) as bar:
        def record(row: dict) -> None:
            fh.write(json.dumps(sign(row), allow_nan=False) + "\n")
            fh.flush()
            done[row["key"]] = row
            bar.update(1)

        if todo:
            runner = _serial if not (workers or scheduler) else _dask
            for row, err in runner(todo, workers, scheduler, time_limit):
                if err:
                    failed.append(err)
                    bar.update(1)
                else:
                    record(row)
    wall = time.perf_counter() - t0
    import pandas as pd

    frame = pd.DataFrame([done[k] for k in keys if k in done], columns=columns(kind))
    knees = _knees(frame, kind)
    files, skipped = _write(frame, knees, out_dir, kind, figures)
    return SweepResult(kind=kind, out_dir=out_dir, points=len(points), solved=len(todo) - len(failed),
                       resumed=len(points) - len(todo), wall_s=wall, workers=workers, scheduler=scheduler,
                       frame=frame, knees=knees, files=files, failed=failed, retried=retried, distrusted=distrusted,
                       figures_skipped=skipped)


def _serial(todo: list[dict], workers: int, scheduler: str | None, time_limit: float | None) -> Iterator:
    for p in todo:
        try:
            yield solve_point(p, time_limit), None
        except Exception as exc:  # as on Dask: an unexpected failure is reported, not logged, and retried on resume
            yield None, f"{type(exc).__name__}: {exc}"


def _dask(todo: list[dict], workers: int, scheduler: str | None, time_limit: float | None) -> Iterator:
    """Submit a bounded window of points (4 per worker thread) and refill it as rows come back."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="15s")
            except OSError as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
            _check_workers(client)
        else:
            with warnings.catch_warnings():  # "port 8787 in use": another cluster's HTTP server, harmless
                warnings.simplefilter("ignore")
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        try:
            slots = max(1, sum(client.nthreads().values()))
            it = iter(todo)

            def submit(p: dict) -> Any:
                return client.submit(solve_point, p, time_limit, key=f"sweep-{point_key(p)}", pure=False)

            ac = as_completed([submit(p) for p in islice(it, 4 * slots)])
            for fut in ac:
                try:
                    yield fut.result(), None
                except Exception as exc:  # an unexpected failure: not logged, so a resumed sweep retries it
                    yield None, f"{type(exc).__name__}: {exc}"
                nxt = next(it, None)
                if nxt is not None:
                    ac.add(submit(nxt))
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _check_workers(client: Any) -> None:
    """Every worker of a remote cluster must run this explorer version and cost model (same answers)."""
    from importlib.metadata import version

    from explorer.model_version import model_version

    mine = f"{version('explorer')} (model {model_version()})"
    if not client.nthreads():
        raise UsageError("the Dask scheduler has no workers")
    theirs = client.run(_worker_version)
    bad = {w: v for w, v in theirs.items() if v != mine}
    if bad:
        w, v = next(iter(bad.items()))
        raise UsageError(f"Dask worker {w} runs explorer {v}, this is {mine}: install the same version everywhere")


def _worker_version() -> str:
    try:
        from importlib.metadata import version

        import explorer.sweep.points  # noqa: F401  (the module the tasks run)
        from explorer.model_version import model_version

        return f"{version('explorer')} (model {model_version()})"
    except Exception as exc:  # reported as the mismatch
        return f"unusable ({type(exc).__name__})"


def _knees(frame: Any, kind: str) -> Any:
    import pandas as pd

    if kind != "3d" or frame.empty:
        return pd.DataFrame()
    ok = frame[frame["status"].isin(["optimal", "feasible"])]
    by = curve_columns(list(frame.columns), list(INPUTS[kind]))
    rows = []
    for name, g in ok.groupby(by, dropna=False, sort=False):
        vals = dict(zip(by, name if isinstance(name, tuple) else (name,)))
        k = knee(list(g["gpus"]), list(g["tokens_per_s"]))
        # a knee read off best-found (not proven) points says so: how many of its points are unproven
        k["unproven_points"] = int((g["status"] != "optimal").sum())
        rows.append({**{c: v for c, v in vals.items() if not _isnan(v)}, **k})
    return pd.DataFrame(rows)


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _write(frame: Any, knees: Any, out_dir: Path, kind: str, figures: bool) -> tuple[list[Path], str]:
    """The files written, and why no figure was drawn when figures were asked for and none was."""
    files = [out_dir / "results.parquet", out_dir / "results.csv"]
    frame.to_parquet(files[0], index=False)
    frame.to_csv(files[1], index=False)
    if not knees.empty:
        files.append(out_dir / "knees.csv")
        knees.to_csv(files[-1], index=False)
    skipped = ""
    if figures and kind == "3d":
        from explorer.reports.sweep_figures import FIGURES, sweep_figures

        drawn = sweep_figures(frame, knees, out_dir) if not frame.empty else []
        if not drawn:
            skipped = "no point has a feasible plan to draw"
        for name in FIGURES:  # no blank figure, and none of an earlier run left beside these rows
            if out_dir / name not in drawn:
                (out_dir / name).unlink(missing_ok=True)
        files += drawn
    return files, skipped

