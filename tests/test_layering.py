"""The layering of the README's "How it is built" (catalogs -> cost model -> puzzles -> solvers -> reports): the
cost model and the solvers are what a puzzle calls, and neither reaches back into a puzzle. A solver is handed what
it needs by the puzzle that calls it (the 3D puzzle passes its design-space rules, the protocol
explorer.solvers.threed_rules.ThreeDRules), so explorer/solvers imports no puzzle; explorer/cost imports no puzzle,
solver or report. Checked on the sources with `ast`: imports at module level, inside functions and under
TYPE_CHECKING alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "explorer"

# package (a folder of explorer/) -> the packages it must not import
FORBIDDEN = {
    "solvers": ("explorer.puzzles",),
    "cost": ("explorer.puzzles", "explorer.solvers", "explorer.reports"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in `source` (the text of module `module`), relative imports resolved,
    `from a import b` counted as both a and a.b (b may be a submodule), importlib.import_module("...") with a
    literal name included; anywhere in the file (module level, functions, `if TYPE_CHECKING:`)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[:len(package) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name == "import_module" and isinstance(node.args[0].value, str):
                out.append((node.lineno, node.args[0].value))
    return out


def _violations(layer: str) -> list[str]:
    forbidden = FORBIDDEN[layer]
    found = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        seen = set()
        for line, name in _imported(path.read_text(), _module_name(path), path.name == "__init__.py"):
            if line not in seen and any(name == f or name.startswith(f + ".") for f in forbidden):
                seen.add(line)  # one per import statement (`from a import b` yields a and a.b)
                found.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_the_layer_imports_nothing_that_calls_it(layer):
    assert (ROOT / layer).is_dir()
    assert not _violations(layer), "\n".join(_violations(layer))


def test_the_check_sees_every_form_of_import():
    """Module level, inside a function, under TYPE_CHECKING, relative, `from explorer import puzzles` and
    importlib: the forms a solver could reach a puzzle by."""
    src = """
from typing import TYPE_CHECKING
import explorer.puzzles.a
if TYPE_CHECKING:
    from explorer.puzzles.b import X
def f():
    from explorer.puzzles.threed.space import bubble_ok
    from ..puzzles import c
    from explorer import puzzles
    importlib.import_module("explorer.puzzles.d")
"""
    names = {n for _, n in _imported(src, "explorer.solvers.x")}
    assert {"explorer.puzzles.a", "explorer.puzzles.b", "explorer.puzzles.threed.space", "explorer.puzzles.c",
            "explorer.puzzles", "explorer.puzzles.d"} <= names


def test_only_the_cli_imports_the_cli():
    """The CLI is the outermost layer: the library (the API, the puzzles, the labs, the reports) never imports it, so a
    notebook user's `import explorer` loads no click command (the API read the 3D pins through explorer.cli until
    7828a50; the parser now lives in explorer/keywords.py and explorer/puzzles/threed/pins.py)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if (ROOT / "cli") in path.parents:
            continue
        for line, name in _imported(path.read_text(), _module_name(path), path.name == "__init__.py"):
            if name == "explorer.cli" or name.startswith("explorer.cli."):
                found.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name}")
    assert not found, "\n".join(sorted(set(found)))
