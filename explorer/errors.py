"""Typed errors: the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class of every error the explorer raises on purpose."""

    exit_code = 1


class UsageError(ExplorerError):
    """Bad input from the user: unknown name, out-of-range value (exit code 2)."""

    exit_code = 2


class InfeasibleError(ExplorerError):
    """A puzzle has no feasible configuration; the message names the conflicting constraints."""

    exit_code = 1

    def __init__(self, message: str, conflicts: list[str] | None = None) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts or [])


class NoAnswerError(ExplorerError):
    """A solver stopped at its time limit before finding any answer: nothing is proven, in particular not
    that the puzzle is infeasible (exit code 1)."""

    exit_code = 1

    def __init__(self, time_limit_s: float, where: str = "") -> None:
        limit = f"the {time_limit_s:g} s time limit" if time_limit_s else "the time limit"
        super().__init__(f"no answer found within {limit}{' ' + where if where else ''}: the solver stopped before "
                         f"finding any configuration (that does not mean none exists); raise --time-limit")
        self.time_limit_s = time_limit_s


def unknown_name(kind: str, name: str, valid: list[str]) -> UsageError:
    """The error for a name that is not in a catalog, listing the valid names."""
    return UsageError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")


def require_positive_int(name: str, value: object) -> int:
    """Return value as an int if it is a positive whole number, else raise UsageError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise UsageError(f"{name} must be a positive whole number, got {value!r}")
    if int(value) <= 0:
        raise UsageError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def require_positive(name: str, value: float) -> float:
    """Return value if it is a positive number, else raise UsageError."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def require_fraction(name: str, value: float, *, closed: bool = True) -> float:
    """Return value if it lies in [0, 1] (or (0, 1) when closed is False)."""
    ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok:
        span = "[0, 1]" if closed else "(0, 1)"
        raise UsageError(f"{name} must lie in {span}, got {value!r}")
    return float(value)
