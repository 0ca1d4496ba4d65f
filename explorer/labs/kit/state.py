"""The move log and what is kept across reloads: `log_move` (a run is a move unless it repeats the last),
`Saved` (each part's locked prediction, moves and last configuration in a small JSON file per lab and track, under
`state_dir()`), `record_run` (one pass of a part's workbench) and `forget` (`explore lab XX --reset`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from explorer.labs.kit.base import Live
    from explorer.labs.kit.part import Part


# ----------------------------------------------------------------------------------------------- the move log

MOVES_SHOWN = 12  # the move log lists the last moves; the grader grades them all


def log_move(move: dict[str, Any] | None) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """A state update for the move log: append `move` when it differs from the last one logged. The workbench calls
    it once per configuration the student runs (the controls sit in a form: nothing is estimated, or counted,
    until "run"), so one move is one configuration run, whether the controls were dragged, typed or keyed."""

    def update(moves: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if move is None or (moves and moves[-1] == move):
            return moves
        return [*moves, dict(move)]

    return update


# ----------------------------------------------------------------------------------------------- kept across reloads

STATE_ENV = "EXPLORER_LAB_STATE"  # a directory for the saved workbenches (tests, or a student's own choice)


def state_dir() -> Path:
    """Where the workbenches keep each lab's locked predictions and moves: $EXPLORER_LAB_STATE, else the user's
    state directory (XDG Base Directory Specification 0.8: $XDG_STATE_HOME, default ~/.local/state; on Windows
    %LOCALAPPDATA%) under explorer/labs. Never the package: it may be installed read-only and shared."""
    given = os.environ.get(STATE_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    return (Path(base) if base else Path.home() / ".local" / "state") / "explorer" / "labs"


def state_file(lab: str, track: str) -> Path:
    return state_dir() / f"lab{lab}-{track}.json"


def _jsonable(x: Any) -> Any:
    """numpy numbers as Python ones (a move's DP from the plan), anything else as its text."""
    return x.item() if hasattr(x, "item") else str(x)


class Saved:
    """One part's locked prediction, its move log and the configuration last run, kept in a small JSON file per lab
    and track (state_file: {"parts": {"1": {"kept": ..., "moves": [...], "values": {...}}}}), so that a reload of
    the page, or a new session, finds the lock and the moves where they were. `enabled=False` (an exported page, a
    headless run) reads and writes nothing. A file that cannot be read starts the part afresh; one that cannot be
    written leaves `error` saying so (the workbench tells the student that a reload will lose the part)."""

    def __init__(self, lab: str, track: str, number: int, enabled: bool = True) -> None:
        self.path = state_file(lab, track)
        self.key = str(number)
        self.enabled = enabled
        self.error = ""

    def _read_all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and isinstance(data.get("parts"), dict) else {}

    def load(self, part: Part) -> dict[str, Any]:
        """{"kept": the locked answer or None, "moves": the log (its first entry the starting point), "values": the
        controls as last run, settled on today's controls, or None}. An answer that is no longer an option of the
        question (another version of the lab) is not kept."""
        got = (self._read_all().get("parts") or {}).get(self.key) if self.enabled else None
        got = got if isinstance(got, dict) else {}
        kept = got.get("kept") if got.get("kept") in part.lock.options else None
        moves = [m for m in got.get("moves") or [] if isinstance(m, dict)] if kept is not None else []
        values = got.get("values") if isinstance(got.get("values"), dict) and moves else None
        return {"kept": kept, "moves": moves, "values": part.settle(values) if values else None}

    def save(self, **fields: Any) -> bool:
        """Merge `fields` (kept, moves, values) into this part's entry and write the file atomically."""
        if not self.enabled:
            return True
        data = self._read_all() or {"parts": {}}
        data["parts"][self.key] = {**(data["parts"].get(self.key) or {}), **fields}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, default=_jsonable))
            os.replace(tmp, self.path)
        except OSError as exc:
            self.error = f"cannot write {self.path} ({exc.strerror or exc}): a reload will start this part afresh"
            return False
        self.error = ""
        return True


def record_run(part: Part, ran: dict[str, Any] | None, start: dict[str, Any],
               moves: Callable[[], list[dict[str, Any]]], log: Callable[[list[dict[str, Any]]], Any],
               saved: Saved) -> tuple[dict[str, Any], Live, int]:
    """One pass of a part's workbench (ui.run_part, the same for every part): the configuration last run, its
    instruments and the moves counted so far, as (values, live, moves).

    `ran` is the controls' form value, None before the first run of this session: the controls then stand at
    `start` (the configuration last run in an earlier session, else the defaults). `moves` reads the move log and
    `log` sets it (a marimo state pair); `saved` keeps it across reloads (Saved). A run is a move: its move is
    appended unless it repeats the last one logged (log_move), and the log and the configuration are saved (the
    configuration after every run, a move or not). The
    first entry of the log is the starting point, not a move, logged when the log is empty; a session that opens on
    the moves kept from an earlier one (a reload) shows the configuration last run without counting it again."""
    values = part.settle(ran if ran is not None else start)
    live = part.shown(values)
    was = moves()
    now = log_move(live.move)(was) if ran is not None or not was else was
    if len(now) != len(was):
        log(now)
    if len(now) != len(was) or ran is not None:
        # a run that changes only a control outside the move (lab 08 part 2's augmentation cost) is no move, but
        # its configuration is what a reload must bring back
        saved.save(moves=now, values=values)
    return values, live, max(len(now) - 1, 0)


def forget(lab: str, track: str) -> Path | None:
    """Delete a lab's saved predictions and moves on a track (`explore lab 05 --reset`); the file removed, or None."""
    path = state_file(lab, track)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
