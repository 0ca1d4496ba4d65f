"""Beyond one step: plan a whole training run (`explore plan`), test a published claim against the
cost model (`explore check`), and solve grids of puzzles on Dask (`explore sweep`, explorer.sweep).

Physics (goodput, checkpoints, failures) lives in explorer/cost/goodput.py; this package holds the
planning logic: candidates, their proven 3D optima, the choice, and the verdicts."""

from __future__ import annotations

from typing import Any

__all__ = ["plan_training", "check_claim", "resolve_model"]


def __getattr__(name: str) -> Any:  # lazy, as explorer/__init__.py
    if name == "plan_training":
        from explorer.planner.run import plan_training
        return plan_training
    if name == "check_claim":
        from explorer.planner.check import check_claim
        return check_claim
    if name == "resolve_model":
        from explorer.planner.inputs import resolve_model
        return resolve_model
    raise AttributeError(name)
