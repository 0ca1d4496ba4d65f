"""Keyword checking for the Python API (`explorer.solve`, `explorer.solve_3d`, `explorer.estimate`).

A misspelt keyword (`explorer.solve("scaling", threshhold=0.9)`) used to be swallowed silently and a
wrongly typed one (`explorer.solve_3d("cloud", gpu=128)`) failed deep inside with an AttributeError. Here
both become a one-line TypeError that names the argument and lists what is allowed (with a close match
when there is one).

The allowed names of a function are its own parameters plus, where it forwards `**options` to another
function (`solve` -> `solve_3d` -> `make_instance` -> `make_setup`), the parameters of that function,
found by reading the forwarding call in its compiled code (never its source file, which may have changed
since it was imported). So a puzzle that adds an option is checked at once, with no second list to keep in
step. Where the forwarding cannot be followed, nothing is rejected (a
test checks that every registered puzzle is followed). This layer checks names and Python types only;
value ranges belong to the validation layer of the CLI and API.
"""

from __future__ import annotations

import builtins
import contextvars
import difflib
import dis
import functools
import importlib
import importlib.util
import inspect
import numbers
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from explorer.errors import ExplorerError, UsageError, short

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


# Loads of a local or a closure variable (LOAD_FAST_CHECK and LOAD_FAST_BORROW: CPython 3.12 and 3.14 variants).
_LOADS = ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF")
# The name loads a callee can come from (a global, a local import, a closure variable).
_NAME_LOADS = ("LOAD_GLOBAL", "LOAD_NAME", *_LOADS)
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)


def _forward_targets(fn: Callable, var_kw: str) -> list[Callable] | None:
    """The functions `fn` passes its `**var_kw` on to; [] when it only swallows them (never reads them);
    None when they are read in a way that cannot be followed.

    Read from the function's code object, the code that runs, never from its source file: after a `git pull` on an
    editable install a long-running kernel still runs the old code while the file on disk has new lines, and
    inspect.getsource read the new file at the old line numbers, so another function's body was parsed
    (explorer.solve_3d rejected gpus: "unexpected keyword argument 'gpus'; allowed: track")."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    found = _forwards_in(code, var_kw, fn)
    if found is None:
        return None
    targets, forwarded, used = found
    if forwarded:
        return targets
    return None if used else []


def _forwards_in(code: types.CodeType, var_kw: str, fn: Callable) -> tuple[list[Callable], bool, bool] | None:
    """(callees that receive **var_kw, whether any call does, whether var_kw is read at all) in `code` and the
    comprehensions, lambdas and inner functions that close over it; None when a forwarding call's callee cannot be
    resolved. A `**name` in a call is LOAD name then CALL_FUNCTION_EX (alone) or DICT_MERGE (merged with other
    keywords): CPython emits DICT_MERGE only for call keywords, a dict display uses DICT_UPDATE."""
    ins = list(dis.get_instructions(code))
    imports = _local_imports(ins, fn)
    targets: list[Callable] = []
    forwarded = used = False
    for i, x in enumerate(ins):
        names = x.argval if isinstance(x.argval, tuple) else (x.argval,)
        if var_kw not in names or not any(k in x.opname for k in ("FAST", "DEREF", "CELL", "CLOSURE")):
            continue
        if x.opname in ("MAKE_CELL", "LOAD_CLOSURE", "COPY_FREE_VARS"):
            continue  # handing it to an inner function: its own uses are read below
        used = True
        nxt = ins[i + 1].opname if i + 1 < len(ins) else ""
        if x.opname not in _LOADS or nxt not in ("CALL_FUNCTION_EX", "DICT_MERGE"):
            continue
        call = i + 1 if nxt == "CALL_FUNCTION_EX" else _consumer(ins, i + 1)
        target = None if call is None else _callee(ins, call, imports, fn)
        if target is None:
            return None
        forwarded = True
        targets.append(target)
    for const in code.co_consts:  # inner code that closes over var_kw (a comprehension before 3.12, a lambda)
        if isinstance(const, types.CodeType) and var_kw in const.co_freevars:
            inner = _forwards_in(const, var_kw, fn)
            if inner is None:
                return None
            targets += inner[0]
            forwarded |= inner[1]
            used |= inner[2]
    return targets, forwarded, used


def _effect(x: dis.Instruction) -> int:
    """The instruction's net stack effect on its fall-through path."""
    return dis.stack_effect(x.opcode, x.arg if x.opcode >= dis.HAVE_ARGUMENT else None, jump=False)


def _consumer(ins: list[dis.Instruction], merge: int) -> int | None:
    """The CALL_FUNCTION_EX whose keywords dict the DICT_MERGE at `merge` fills: the first one reached with that
    dict on top of the stack (later keywords may be merged or added first); None past a jump."""
    depth = 0
    for j in range(merge + 1, len(ins)):
        x = ins[j]
        if x.is_jump_target or x.opcode in _JUMPS:
            return None
        if x.opname == "CALL_FUNCTION_EX" and depth == 0:
            return j
        depth += _effect(x)
        if depth < 0:
            return None
    return None


def _callee(ins: list[dis.Instruction], call: int, imports: dict[str, Callable], fn: Callable) -> Callable | None:
    """The function a CALL_FUNCTION_EX calls, when it is a plain name (a global, a local import, a closure
    variable); None for an attribute, a subscript or anything loaded past a jump. Walking back from the call, the
    callee is the name load above the arguments and keywords on the stack (two entries, plus the NULL CPython 3.11+
    pushes beside a callee: before it in 3.11 and 3.12, after it from 3.13)."""
    pending = 0
    for j in range(call - 1, -1, -1):
        x = ins[j]
        if x.opcode in _JUMPS:
            return None
        pending += _effect(x)
        if pending < 3 or x.opname == "PUSH_NULL":
            if x.is_jump_target:  # control enters between the callee and the call: not a plain call
                return None
            continue
        if x.opname not in _NAME_LOADS or not isinstance(x.argval, str):
            return None
        name = x.argval
        if x.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            target = fn.__globals__.get(name, getattr(builtins, name, None))
        elif x.opname == "LOAD_DEREF":
            target = _closure_value(fn, name)
        else:
            target = imports.get(name)
        return target if callable(target) else None
    return None


def _closure_value(fn: Callable, name: str) -> Any:
    free = fn.__code__.co_freevars
    if name in free and fn.__closure__:
        try:
            return fn.__closure__[free.index(name)].cell_contents
        except ValueError:  # an empty cell
            return None
    return None


def _local_imports(ins: list[dis.Instruction], fn: Callable) -> dict[str, Callable]:
    """Names a function binds by `from M import f [as g]` in its body: IMPORT_NAME M, then IMPORT_FROM f and
    STORE_FAST g (the level is the LOAD_CONST two before IMPORT_NAME: 0 absolute, n for n leading dots)."""
    out: dict[str, Callable] = {}
    module = None
    for i, x in enumerate(ins):
        if x.opname == "IMPORT_NAME":
            level = ins[i - 2].argval if i >= 2 and ins[i - 2].opname == "LOAD_CONST" else 0
            name = x.argval
            if isinstance(level, int) and level > 0:
                try:
                    name = importlib.util.resolve_name("." * level + name, fn.__globals__.get("__package__"))
                except (ImportError, ValueError):
                    name = None
            module = name
        elif x.opname == "IMPORT_FROM" and module and i + 1 < len(ins) and ins[i + 1].opname == "STORE_FAST":
            try:
                value = getattr(importlib.import_module(module), x.argval, None)
            except ImportError:
                value = None
            if callable(value):
                out[ins[i + 1].argval] = value
    return out


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
    if hint is bool:  # True or False (numpy's too), not 0 / 1 (as int refuses True): a switch is said as one
        return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")  # numpy 1 and 2
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if hint is bool:
        return "bool (True or False)"
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
            try:
                return fn(*args, **kwargs)
            except ExplorerError as exc:  # the message as a Python caller spells it: global_batch=, not --global-batch
                if not FLAG_SPELLING.get() and exc.args and isinstance(exc.args[0], str):
                    exc.args = (python_spelling(exc.args[0], accepted(fn) or {}), *exc.args[1:])
                raise
        return wrapper
    return deco


FLAG_SPELLING: contextvars.ContextVar[bool] = contextvars.ContextVar("FLAG_SPELLING", default=False)
"""True while the `explore` command runs: its errors keep the flags the user typed (explorer/cli main)."""

_FLAG = re.compile(r"(`[^`]*`)|--(no-)?([a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?: (\d[\d.]*(?![\w.])|[a-z][\w.]*))?")
# words that follow a flag in a sentence without being its value ('give --global-batch as a multiple of ...')
_NOT_A_VALUE = frozenset("a an and as at but by for from in is it must not of on only or so than that the then to "
                         "when where which while with".split())


def python_spelling(message: str, allowed: Mapping[str, Any]) -> str:
    """A shared error message (written with the CLI's flags, which the library raises for both) as a caller of the
    Python function reads it: each `--flag` the function takes as a keyword becomes `flag=` (`--gpus 1`:
    `gpus=1`) and `--no-flag` `flag=False`; a command quoted in backticks (`explore solve 3d --track edge`) and
    flags the function does not take are left as written."""
    def spell(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)
        name, value = m.group(3).replace("-", "_"), m.group(4) or ""
        if name not in allowed:
            return m.group(0)
        if m.group(2):
            return f"{name}=False" + (f" {value}" if value else "")
        if value[:1].isdigit():
            return f"{name}={value}"
        ann = allowed[name]
        if value and value not in _NOT_A_VALUE and (ann is str or str in typing.get_args(ann)):
            return f"{name}={value!r}"  # a name given to the flag: --framework megatron -> framework='megatron'
        return f"{name}=" + (f" {value}" if value else "")
    return _FLAG.sub(spell, message)


def parse_assignments(text: str | None, allowed: dict[str, Callable[[str], object]], option: str) -> dict:
    """Parse 'a=1,b=2' into {'a': 1, 'b': 2}, with one-line errors naming the bad item. A name given twice is an
    error naming both values: which one was meant is the user's to say, not the last one's to win silently (two
    aliases of one name, mb and micro_batch, reach the consumer as two keys, and it refuses them: the 3D
    Instance does)."""
    out: dict[str, object] = {}
    if text is None:
        return out
    if not text.strip(" ,"):
        raise UsageError(f"{option}: nothing given; write NAME=VALUE pairs, e.g. tp=8,pp=4")
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise UsageError(f"{option}: {short(item)} is not NAME=VALUE; names: {', '.join(allowed)}")
        k, v = (s.strip() for s in item.split("=", 1))
        k = k.lower().replace("-", "_")
        if k not in allowed:
            raise UsageError(f"{option}: unknown name {short(k)}; valid: {', '.join(allowed)}")
        try:
            value = allowed[k](v)
        except (ValueError, UsageError) as exc:
            raise UsageError(f"{option}: bad value {short(v)} for {k}: {exc}") from None
        if k in out:
            raise UsageError(f"{option}: {k} given twice, {k}={short(out[k])} and {k}={short(value)}; give it once")
        out[k] = value
    return out
