"""explorer.keywords follows `**options` through the code that runs, not the source file on disk.

inspect.getsource re-reads the file at the line numbers the code object was compiled with: after a `git pull` on an
editable install, a kernel that imported the old code parsed whichever function now sits at those lines, and a valid
keyword was refused ("unexpected keyword argument 'gpus'; allowed: track"). Each function below is written by hand,
so the allowed names are read off its definition here, not off the code under test.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from explorer.keywords import accepted, check

MODULE = '''
import os.path


def inner(gpus: int = 1, model: str = "x"):
    return gpus


def other(seq_len: int = 2):
    return seq_len


def outer(track: str = "cloud", **options):
    return inner(**options)


def merged(track: str = "cloud", **options):
    return inner(model="y", **options) if track else 0


def merged_after(track: str = "cloud", **options):
    return other(**options, seq_len=3)


def local_import(track: str = "cloud", **options):
    from os.path import join as j
    return j("a", **options)


def two(track: str = "cloud", **options):
    a = inner(**options)
    return other(**options) + a


def in_comprehension(track: str = "cloud", **options):
    return [inner(**options) for _ in range(2)]


def swallowed(track: str = "cloud", **options):
    return track


def read(track: str = "cloud", **options):
    return options.get("gpus")


def by_attribute(track: str = "cloud", **options):
    return os.path.join("a", **options)
'''


@pytest.fixture
def mod(tmp_path, monkeypatch):
    name = f"kwmod_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    m = importlib.import_module(name)
    yield m
    sys.modules.pop(name, None)


def test_forwarding_is_followed(mod):
    assert list(accepted(mod.outer)) == ["track", "gpus", "model"]
    assert list(accepted(mod.merged)) == ["track", "gpus", "model"]
    assert list(accepted(mod.merged_after)) == ["track", "seq_len"]
    assert list(accepted(mod.two)) == ["track", "gpus", "model", "seq_len"]
    assert list(accepted(mod.in_comprehension)) == ["track", "gpus", "model"]


def test_local_import_is_followed(mod):
    import inspect
    import os.path

    got = accepted(mod.local_import)
    want = ["track"] + [p.name for p in inspect.signature(os.path.join).parameters.values()
                        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    assert got is not None and list(got) == want


def test_swallowed_read_and_unresolvable(mod):
    assert list(accepted(mod.swallowed)) == ["track"]  # never read: nothing else is accepted
    assert accepted(mod.read) is None  # read in place: cannot be followed, nothing is rejected
    assert accepted(mod.by_attribute) is None  # callee is an attribute, not a name


def test_an_edited_source_file_does_not_change_what_is_accepted(mod, tmp_path):
    """The file changes after import (a git pull adding lines above `outer`): the running code is unchanged, so
    are the keywords it takes. Reading the source had found `swallowed`-like code at the old lines."""
    import linecache

    path = tmp_path / f"{mod.__name__}.py"
    path.write_text("# pulled\n" * 8 + "def stub(track='x', **kw):\n    return 0\n\n" + MODULE, encoding="utf-8")
    linecache.checkcache(str(path))
    assert list(accepted(mod.outer)) == ["track", "gpus", "model"]
    check("outer()", mod.outer, {"track": "edge", "gpus": 8})  # no TypeError
    with pytest.raises(TypeError, match="'gpu'.*did you mean 'gpus'"):
        check("outer()", mod.outer, {"gpu": 8})


def test_the_api_entry_points_are_followed():
    """solve_3d forwards to make_instance and make_setup: gpus (a cluster option) and precision (a stack option)
    are among what it accepts, and every registered puzzle's solve is followed (not None)."""
    import inspect

    import explorer
    from explorer.puzzles import PUZZLES

    got = accepted(inspect.unwrap(explorer.solve_3d))
    assert got is not None and {"gpus", "precision", "model", "track"} <= set(got)
    assert all(accepted(info.load().solve) is not None for info in PUZZLES.values())
