"""The Python API of the core: `solve_3d` and `estimate` (the CLI calls exactly these).

A package of the single module it grew from (the house rule: past ~400 lines a module becomes a small package):
results.py, the Estimate and its notebook view; binding.py, the Binding views of a 3D result; hygiene.py, keyword
hygiene (choice names in any case, plan= expanded, the CLI's spellings hinted at, the 3D pins); shapes.py,
custom_model and resolve_model; checks.py, the checks estimate and solve_3d share; evaluate.py, estimate();
solving.py, solve_3d() and solve() with its generated docstring. Every name is read from here as before
(explorer.api.X). A name the code calls internally is looked up in its submodule, so a monkeypatch that should
reach the call patches it there (solve_3d reads explorer.api.solving._framework_from_pin).
"""

from __future__ import annotations

import sys
from typing import Any

from explorer.api.binding import Binding, BindingConstraint
from explorer.api.checks import check_default_precision  # noqa: F401  (re-exported)
from explorer.api.evaluate import estimate
from explorer.api.hygiene import CLI_NAMES, cli_names, fix_pins  # noqa: F401  (re-exported)
from explorer.api.results import Estimate, estimate_html
from explorer.api.shapes import MLPS, custom_model, resolve_model  # noqa: F401  (re-exported)
from explorer.api.solving import documented_solve, solve, solve_3d
from explorer.cost.memory import RECOMPUTE_CODES  # noqa: F401  (re-exported for notebooks)
from explorer.cost.setup import Setup  # noqa: F401  (Estimate's field types, read here: Estimate.__module__)
from explorer.puzzles.threed import ThreeDResult
from explorer.report import Assumption  # noqa: F401  (as Setup)

__all__ = ["Binding", "BindingConstraint", "Estimate", "ThreeDResult", "estimate", "solve", "solve_3d",
           "custom_model", "resolve_model"]

# Shown (help(), repr of the classes) and pickled as explorer.api.X, as when they lived in one module.
for _obj in (Binding, BindingConstraint, Estimate, estimate, estimate_html, check_default_precision, cli_names,
             fix_pins, custom_model, resolve_model, documented_solve, solve, solve_3d):
    _obj.__module__ = __name__
del _obj

_PARTS = ("solving", "evaluate", "results", "binding", "hygiene", "shapes", "checks")


def __getattr__(name: str) -> Any:
    """The rest of what the single module held, read where it lives now: its private helpers
    (explorer.api._framework_from_pin, _expand_plan, ...), the names it imported (explorer.api.Setup, get_model, ...)
    and the solve docstring's flag _SOLVE_DOCUMENTED (a live value, set by documented_solve)."""
    for part in _PARTS:
        space = vars(sys.modules[f"{__name__}.{part}"])
        if name in space and not name.startswith("__"):
            return space[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
