"""The lab workbenches (05, 06, 08): one marimo app, shipped inside the package, that lays out any lab.

The app (`workbench.py` beside this file) is a marimo notebook, that is a plain Python file, and takes the lab and
track as arguments: `explore lab 05 --track cloud` serves it with `marimo run workbench.py -- --lab 05 --track
cloud`; `python -m explorer.labs.workbench --lab 06 --track edge` runs it as a script. The apps hold no physics and
draw no figure of their own: every number comes from the explorer's API (`explorer.estimate`, `explorer.solve`, the
puzzles' `evaluate_attempt`), every instrument is a figure of `explorer.reports.plots`, and "check" grades the
student's moves with `explorer.reports.attempts` (see `explorer.labs.kit`). marimo is an optional extra: `pip
install ".[lab]"` in the repository's folder (as README.md says; explorer is not on PyPI, so "explorer[lab]" installed
nothing), or `pip install marimo`.
"""

from __future__ import annotations

from pathlib import Path

from explorer.errors import UsageError

LABS = ("05", "06", "08")
APP = "workbench.py"
TITLES = {"05": "Distributed training", "06": "Collective communication", "08": "Model training"}
INSTALL_HINT = ('the lab apps need marimo: pip install ".[lab]" in the folder of your explorer clone '
                '(or pip install marimo)')


def lab_key(lab: str) -> str:
    """'5', '05' or 'lab05' -> '05' (UsageError naming the allowed labs otherwise)."""
    key = str(lab).strip().lower().removeprefix("lab").strip().zfill(2)
    if key not in LABS:
        raise UsageError(f"lab {str(lab)[:20]!r} has no app; valid: {', '.join(LABS)}")
    return key


def app_path(lab: str | None = None) -> Path:
    """The marimo notebook that lays out every lab (`lab`, if given, is checked), inside the installed package."""
    if lab is not None:
        lab_key(lab)
    return Path(__file__).resolve().parent / APP


def marimo_missing() -> str | None:
    """Why the apps cannot run here (marimo not installed), or None."""
    import importlib.util

    return None if importlib.util.find_spec("marimo") is not None else INSTALL_HINT
