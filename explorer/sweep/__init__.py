"""`explore sweep`: a grid over the inputs of `solve 3d` or `plan`, solved point by point on Dask
distributed (a local cluster, or any running scheduler), resumable, written as Parquet/CSV and figures.

grid.py expands and bounds the grid; points.py solves one point (a pure, deterministic function a
worker runs); runner.py schedules, records and resumes; knee.py finds each curve's knee."""

from __future__ import annotations

from typing import Any

__all__ = ["run_sweep", "expand_grid", "solve_point"]


def __getattr__(name: str) -> Any:
    if name == "run_sweep":
        from explorer.sweep.runner import run_sweep
        return run_sweep
    if name == "expand_grid":
        from explorer.sweep.grid import expand_grid
        return expand_grid
    if name == "solve_point":
        from explorer.sweep.points import solve_point
        return solve_point
    raise AttributeError(name)
