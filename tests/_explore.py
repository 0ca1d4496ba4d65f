"""Run the `explore` console entry point (explorer.cli.run: one-line errors and exit codes) in-process."""

from __future__ import annotations

import contextlib
import io
import sys


def explore(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `explore ARGS...`, as a user's shell would see them."""
    from explorer.cli import run

    out, err = io.StringIO(), io.StringIO()
    old, sys.argv = sys.argv, ["explore", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()
