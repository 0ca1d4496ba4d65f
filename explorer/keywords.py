"""Keyword checking for the Python API (`explorer.solve`, `explorer.solve_3d`, `explorer.estimate`).

A misspelt keyword (`explorer.solve("scaling", threshhold=0.9)`) used to be swallowed silently and a
wrongly typed one (`explorer.solve_3d("cloud", gpu=128)`) failed deep inside with an AttributeError. Here
both become a one-line TypeError that names the argument and lists what is allowed (with a close match
when there is one).

The allowed names of a function are its own parameters plus, where it forwards `**options` to another
function (`solve` -> `solve_3d` -> `make_instance` -> `make_setup`), the parameters of that function,
found by reading the forwarding call in its source. So a puzzle that adds an option is checked at once,
with no second list to keep in step. Where the forwarding cannot be followed, nothing is rejected (a
test checks that every registered puzzle is followed). This layer checks names and Python types only;
value ranges belong to the validation layer of the CLI and API.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import inspect
import numbers
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

# Catalog names that can be listed when a value of the wrong type is given for them.
_CATALOGS: dict[str, tuple[str, str]] = {
    "gpu": ("explorer.hardware.catalog", "accelerator_names"),
    "network": ("explorer.hardware.catalog", "link_names"),
    "intra_network": ("explorer.hardware.catalog", "link_names"),
    "model": ("explorer.models.catalog", "model_names"),
}


@functools.cache
def accepted(fn: Callable) -> dict[str, Any] | None:
    """Keyword name -> annotation (or None when unannotated) that `fn` accepts, following `**options`
    forwarded to other functions; None when a `**options` is used in a way that cannot be followed."""
    fn = inspect.unwrap(fn)
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation only importable under TYPE_CHECKING: check names, not types
        hints = {}
    out: dict[str, Any] = {}
    var_kw = None
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = p.name
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out[p.name] = hints.get(p.name)
    if var_kw is None:
        return out
    targets = _forward_targets(fn, var_kw)
    if targets is None:
        return None
    for target in targets:
        sub = accepted(target)
        if sub is None:
            return None
        for k, v in sub.items():
            out.setdefault(k, v)
    return out


def _forward_targets(fn: Callable, var_kw: str) -> list[Callable] | None:
    """The functions `fn` passes its `**var_kw` on to; [] when it only swallows them (never reads them);
    None when they are read in a way that cannot be followed."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    func = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None:
        return None
    local_imports: dict[str, tuple[str, str]] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                local_imports[a.asname or a.name] = (node.module, a.name)
    targets: list[Callable] = []
    forwarded = False
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        if not any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == var_kw for k in node.keywords):
            continue
        forwarded = True
        if not isinstance(node.func, ast.Name):
            return None
        name = node.func.id
        target = fn.__globals__.get(name)
        if target is None and name in local_imports:
            module, attr = local_imports[name]
            target = getattr(importlib.import_module(module), attr, None)
        if not callable(target):
            return None
        targets.append(target)
    if forwarded:
        return targets
    used = any(isinstance(n, ast.Name) and n.id == var_kw for n in ast.walk(func))
    return None if used else []


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether value fits a simple annotation (unions, None, str, int, float, bool, classes, generics by
    their origin); anything else (Any, Literal, protocols) passes: ranges are checked elsewhere."""
    if hint is None or hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is not None:
        hint = origin
    if not isinstance(hint, type):
        return True
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, (bool, numbers.Integral))
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "None"
    return getattr(origin or hint, "__name__", str(hint))


def _catalog_hint(name: str) -> str:
    if name not in _CATALOGS:
        return ""
    module, func = _CATALOGS[name]
    try:
        names = getattr(importlib.import_module(module), func)()
    except Exception:
        return ""
    return f"; valid: {', '.join(sorted(names))}"


def check(call: str, fn: Callable, kwargs: Mapping[str, Any],
          renames: Callable[[], Mapping[str, str]] | None = None) -> None:
    """Raise a one-line TypeError for a keyword `fn` does not take, or a value of the wrong type.

    `call` names the call in the message, e.g. "explorer.solve('scaling')". `renames` gives, for the names the CLI
    spells differently (--nodes is `n` in crossover), the hint to show instead of a close match (api.cli_names)."""
    allowed = accepted(fn)
    if allowed is None:
        return
    for key, value in kwargs.items():
        if key not in allowed:
            renamed = (renames() if renames is not None else {}).get(key)
            close = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f" ({renamed})" if renamed else f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{call} got an unexpected keyword argument {key!r}{hint}; "
                            f"allowed: {', '.join(allowed)}")
        ann = allowed[key]
        if not _type_ok(value, ann):
            from explorer.validation import short  # the validation layer's quoting: at most 80 characters

            raise TypeError(f"{call}: {key} must be {_type_name(ann)}, got {type(value).__name__} {short(value)}"
                            f"{_catalog_hint(key)}")


def checked(call: str, renames: Callable[[], Mapping[str, str]] | None = None) -> Callable[[Callable], Callable]:
    """Decorator: check the keywords (and the types of the arguments) of every call to the function."""
    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                given = dict(sig.bind_partial(*args).arguments)
            except TypeError as exc:
                raise TypeError(f"{call}: {exc}") from None
            check(call, fn, {**given, **kwargs}, renames)
            return fn(*args, **kwargs)
        return wrapper
    return deco
