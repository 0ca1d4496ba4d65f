"""explorer: design-space explorer for distributed ML training.

Python API (the CLI is a thin layer over it):

    import explorer
    report = explorer.solve("3d", track="cloud")          # any lab part (puzzle), any track: a Report
    res = explorer.solve_3d("cloud", fix={"tp": 8})      # the 3D puzzle's answer: res.best, res.top, res.report
    est = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=4, dp=32, micro_batch=1, global_batch=512)
    est.mfu, est.memory, est.time
    explorer.estimate(plan=res.best.plan)                # a solver's plan evaluated again (same scenario)

solve(puzzle, track, **options): the puzzles and each one's options are in help(explorer.solve).
solve_3d(track, **options): the 3D puzzle's answer as an object (ThreeDResult); variables are pinned with fix=.
estimate(**plan): the figures of one configuration (Estimate: .mfu, .step_time_s, .memory_gb, .to_dict()).
get_track, get_model, get_accelerator, get_link: the catalogs.

Errors: every error raised on purpose is an ExplorerError with a one-line message. UsageError (also a ValueError):
bad input, an unknown name or an out-of-range value. InfeasibleError: no configuration meets the constraints
(.conflicts names them). NoAnswerError: a solver's time limit ended before any answer (raise time_limit).
NonFiniteError: a figure came out NaN or infinite and was refused. A misspelt or wrongly typed keyword is a
TypeError naming the allowed ones.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "estimate", "solve", "solve_3d", "get_track", "get_model", "get_accelerator", "get_link",
           "ExplorerError", "UsageError", "InfeasibleError", "NoAnswerError", "NonFiniteError"]


def __getattr__(name: str) -> Any:  # lazy: keep `import explorer` light
    if name == "__version__":  # one source: setup.cfg, read from the installed metadata
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("explorer")
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "0+unknown"
    if name == "solve":
        from explorer import api

        return api.documented_solve()
    if name in ("estimate", "solve_3d"):
        from explorer import api
        return getattr(api, name)
    if name in ("ExplorerError", "UsageError", "InfeasibleError", "NoAnswerError"):
        from explorer import errors
        return getattr(errors, name)
    if name == "NonFiniteError":
        from explorer.validation import NonFiniteError
        return NonFiniteError
    if name == "get_track":
        from explorer.tracks import get_track
        return get_track
    if name == "get_model":
        from explorer.models.catalog import get_model
        return get_model
    if name in ("get_accelerator", "get_link"):
        from explorer import hardware
        return getattr(hardware, name)
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API (loaded lazily by __getattr__, so not yet in the module's namespace) beside what is: what
    dir(explorer) and a notebook's tab completion offer."""
    return sorted((set(globals()) - {"Any", "annotations"}) | set(__all__))
