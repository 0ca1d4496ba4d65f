"""dir(explorer) lists the lazily loaded public API, so a notebook's tab completion offers it.

explorer/__init__.py loads solve, estimate and the catalog getters on first use (module __getattr__, PEP 562); with
no module __dir__, `dir(explorer)` before that first use held only the module's dunders."""

from __future__ import annotations

import subprocess
import sys


def test_dir_lists_the_public_api_before_any_is_used():
    # a fresh interpreter: nothing has been loaded through __getattr__ yet
    code = "import explorer; print(' '.join(dir(explorer)))"
    names = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                .stdout.split())
    public = {"solve", "solve_3d", "estimate", "get_track", "get_model", "get_accelerator", "get_link", "__version__"}
    assert public <= names
    assert not {"Any", "annotations"} & names  # the module's own imports are not API


def test_every_listed_public_name_resolves():
    import explorer

    for name in explorer.__all__:
        assert name in dir(explorer)
        assert getattr(explorer, name) is not None
