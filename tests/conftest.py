"""Shared fixtures: every lab part x track solved once per test session, and a headless browser."""

from __future__ import annotations

import os

import pytest

TRACK_NAMES = ("cloud", "edge", "mobile", "tiny")


@pytest.fixture(scope="session")
def all_reports() -> dict:
    """(puzzle, track) -> Report for all 36 answers (about 20 s on 2 cores), solved once per session."""
    import explorer
    from explorer.puzzles import PUZZLES

    return {(p, t): explorer.solve(p, track=t) for p in PUZZLES for t in TRACK_NAMES}


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Playwright Browser) for the session; skipped where none can be installed."""
    import _browser

    why = _browser.unavailable()
    if why:
        if os.environ.get("EXPLORER_REQUIRE_BROWSER"):
            pytest.fail(f"EXPLORER_REQUIRE_BROWSER is set but {why}")
        pytest.skip(why)
    with _browser.chromium() as b:
        yield b
