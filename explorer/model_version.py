"""Which cost model computed a figure: a fingerprint of the code and catalogs answers depend on.

The package version (setup.cfg) stays 0.1.0 while the cost model, its fitted parameters and the catalogs change
commit by commit, so it cannot tell a report or a sweep row saved by an older model from one of today's. The
fingerprint hashes the files that decide a number: the cost model (explorer/cost), the puzzles and solvers, the
reference and calibration data (explorer/data) and the hardware and model catalogs. Reports, the CLI and the
formatting code are left out: a new wording does not change an answer.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

MODEL_VERSION_LENGTH = 12
"""Hex digits of the SHA-256 kept: enough to tell models apart, short enough to read in a report."""
_SUFFIXES = (".py", ".toml", ".csv", ".json")


def _roots() -> list[Path]:
    import explorer
    import explorer.hardware
    import explorer.models

    base = Path(explorer.__file__).parent
    return [base / "cost", base / "puzzles", base / "solvers", base / "data", base / "calibrate.py",
            base / "tracks.py", Path(explorer.hardware.__file__).parent, Path(explorer.models.__file__).parent]


@cache
def model_version() -> str:
    """SHA-256 (first MODEL_VERSION_LENGTH hex digits) of the answer-deciding files, by relative path and content.
    'unknown' if none can be read (an install without its sources)."""
    h = hashlib.sha256()
    seen = 0
    for root in _roots():
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in _SUFFIXES)
        for p in files:
            if "__pycache__" in p.parts or not p.is_file():
                continue
            h.update(f"{root.name}/{p.relative_to(root) if p != root else p.name}\n".encode())
            h.update(p.read_bytes())
            seen += 1
    return h.hexdigest()[:MODEL_VERSION_LENGTH] if seen else "unknown"
