"""explorer: design-space explorer for distributed ML training.

Python API (the CLI is a thin layer over it):

    import explorer
    report = explorer.solve("3d", track="cloud")          # any lab part, any track
    est = explorer.estimate(model="llama3_70b", gpus=1024, tp=8, pp=4, dp=32, micro_batch=1, global_batch=512)
    est.mfu, est.memory, est.time
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "estimate", "solve", "solve_3d", "get_track", "get_model", "get_accelerator", "get_link"]


def __getattr__(name: str) -> Any:  # lazy: keep `import explorer` light
    if name == "__version__":  # one source: setup.cfg, read from the installed metadata
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("explorer")
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "0+unknown"
    if name == "solve":
        from explorer.puzzles import solve
        return solve
    if name in ("estimate", "solve_3d"):
        from explorer import api
        return getattr(api, name)
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
