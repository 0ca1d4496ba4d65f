"""Typed errors: the CLI turns each into a one-line message and an exit code.

Every message is made one line, with any quoted value cut to MAX_QUOTE characters (`one_line`), so a
100 KB argument is never echoed back, from the CLI or from the Python API."""

from __future__ import annotations

import difflib
import math
import numbers
import re
from typing import Any

MAX_QUOTE = 80  # characters of a bad value quoted back in a message


def short(value: Any) -> str:
    """`value` as it may be quoted in a message: its repr (str for numbers), at most MAX_QUOTE characters."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        text = repr(value)
    elif isinstance(value, numbers.Integral) and abs(int(value)) >= 10 ** (MAX_QUOTE + 1):
        return f"a {len(str(abs(int(value))))}-digit number"
    else:
        text = str(value)
    if len(text) <= MAX_QUOTE:
        return text
    return f"{text[:MAX_QUOTE]}... ({len(text):,} characters)"


# a quote opens after no letter or digit and closes before none, so an apostrophe ("the track's batch") is no quote
_LONG_QUOTED = re.compile(r"""(?<!\w)(['"])([^'"\n]{""" + str(MAX_QUOTE) + r"""})[^'"\n]+\1(?!\w)""")
_LONG_RUN = re.compile(r"[^\s'\"]{" + str(MAX_QUOTE + 4) + ",}")  # longer than a value cut to 80 + "..."


def one_line(message: str) -> str:
    """The message on one line with any quoted value or unbroken run cut to MAX_QUOTE characters
    (the safety net for messages built from user input, including Click's own)."""
    text = " ".join(str(message).split())
    text = _LONG_QUOTED.sub(lambda m: f"{m.group(1)}{m.group(2)}...{m.group(1)}", text)
    return _LONG_RUN.sub(lambda m: m.group(0)[:MAX_QUOTE] + "...", text)


class ExplorerError(Exception):
    """Base class of every error the explorer raises on purpose (its message made one line)."""

    exit_code = 1

    def __init__(self, message: str = "", *args: Any) -> None:
        super().__init__(one_line(message), *args)


class UsageError(ExplorerError, ValueError):
    """Bad input from the user: unknown name, out-of-range value (exit code 2). Also a ValueError, as Python's own
    bad-argument errors are, so `except ValueError` around a call catches a bad argument too."""

    exit_code = 2


class InfeasibleError(ExplorerError):
    """A puzzle has no feasible configuration; the message names the conflicting constraints."""

    exit_code = 1

    def __init__(self, message: str, conflicts: list[str] | None = None) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts or [])


class NoAnswerError(ExplorerError):
    """A solver stopped at its time limit before finding any answer: nothing is proven, in particular not
    that the puzzle is infeasible. Exit code 3, not infeasible's 1: a script can tell "none exists" from "none
    found in the time given" (give it more time)."""

    exit_code = 3

    def __init__(self, time_limit_s: float, where: str = "") -> None:
        from explorer.units import human_sci  # never '1e+06 s'

        limit = f"the {human_sci(time_limit_s, 6)} s time limit" if time_limit_s else "the time limit"
        super().__init__(f"no answer found within {limit}{' ' + where if where else ''}: the solver stopped before "
                         f"finding any configuration (that does not mean none exists); raise --time-limit")
        self.time_limit_s = time_limit_s


def closest_name(name: Any, valid: list[str]) -> str | None:
    """The valid name `name` most likely meant, or None: the shortest that starts with it as typed ('llama3_70' ->
    'llama3_70b', 'h100' -> 'h100_sxm'), else the nearest by difflib's similarity ratio (at least 0.6, its default
    cutoff). Case, '-' and '.' are read as the catalogs read them (lower case, '_')."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_QUOTE:
        return None
    typed = re.sub(r"[\s\-.]+", "_", name.strip().lower())
    by_form = {re.sub(r"[\s\-.]+", "_", str(v).lower()): str(v) for v in valid}
    if typed in by_form:  # the name is valid as typed (refused for another reason): no guess to offer
        return None
    starting = sorted((f for f in by_form if f.startswith(typed)), key=lambda f: (len(f), f))
    if starting:
        return by_form[starting[0]]
    close = difflib.get_close_matches(typed, list(by_form), n=1)
    return by_form[close[0]] if close else None


def unknown_name(kind: str, name: Any, valid: list[str]) -> UsageError:
    """The error for a name that is not in a catalog, with the name it most likely meant (closest_name), the same
    for the CLI and the Python API, and the valid names."""
    guess = closest_name(name, valid)
    hint = f" (did you mean {guess!r}?)" if guess is not None else ""
    return UsageError(f"unknown {kind} {short(name)}{hint}; valid: {', '.join(sorted(valid))}")


def written_name(name: Any, vendor: str = "") -> str:
    """A catalog name as people write it, reduced to what identifies it: case, spaces, '-', '_' and '.' dropped, and
    the vendor's name in front ('NVIDIA H100 SXM5', 'h100-sxm5' and 'h100_sxm5' are one name; with vendor 'meta',
    'Meta-Llama-3.1-8B' and 'llama3_1_8b' are one). Catalog lookups compare keys and aliases in this form."""
    key = re.sub(r"[\s\-_.]+", "", str(name).strip().lower())
    return key.removeprefix(vendor) if vendor else key


def _finite_real(value: object) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and (isinstance(value, numbers.Integral) or math.isfinite(float(value))))


def require_positive_int(name: str, value: object) -> int:
    """Return value as an int if it is a positive whole number, else raise UsageError."""
    if not _finite_real(value) or value != int(value) or int(value) <= 0:
        raise UsageError(f"{name} must be a positive whole number, got {short(value)}")
    return int(value)


def require_positive(name: str, value: float) -> float:
    """Return value if it is a positive finite number, else raise UsageError."""
    if not _finite_real(value) or not value > 0:
        raise UsageError(f"{name} must be a positive number, got {short(value)}")
    return float(value)


def require_fraction(name: str, value: float, *, closed: bool = True) -> float:
    """Return value if it lies in [0, 1] (or (0, 1) when closed is False)."""
    ok = _finite_real(value) and (0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0)
    if not ok:
        span = "[0, 1]" if closed else "(0, 1)"
        raise UsageError(f"{name} must lie in {span}, got {short(value)}")
    return float(value)
