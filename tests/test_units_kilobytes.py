"""Bytes are written in SI units: 1e3 bytes is a kB (the SI prefix k is lower case: BIPM, The International System
of Units, 9th ed. 2019, Table 7), as every rate in the project writes kB/s and GB = 1e9 B. Before, 1,640 bytes
read '1.64 KB'."""

from __future__ import annotations

import json
import re
import tomllib
from importlib.resources import files

import pytest
from _explore import explore

from explorer.units import human_bytes, human_bytes_3


def test_a_thousand_bytes_is_a_kilobyte_with_a_small_k():
    # 1,640 B / 1e3 = 1.64 kB; 196,608 B (the earbud's usable SRAM, 0.75 x 262,144) / 1e3 = 196.608 kB
    assert human_bytes(1640) == "1.64 kB"
    assert human_bytes_3(1640) == "1.64 kB"
    assert human_bytes(196_608) == "196.61 kB"
    assert human_bytes_3(196_608) == "197 kB"
    # the units above and below are unchanged: 999 B stays in bytes, 1.5e6 B is MB
    assert human_bytes(999) == "999 B" and human_bytes_3(1.5e6) == "1.5 MB"


def _data_prose() -> list[str]:
    """The tiny track's own prose in lab08_training.toml (its sources and assumptions, printed as written): not
    the code's figures, so left out of the check below."""
    data = tomllib.loads(files("explorer").joinpath("data/lab08_training.toml").read_text(encoding="utf-8"))
    return [" ".join(v.split()) for v in data["tiny"].values() if isinstance(v, str) and len(v) > 40]  # not a key


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_earbud_memory_report_writes_kb_with_a_small_k(fmt):
    code, out, err = explore("solve", "memory", "--track", "tiny", "--format", fmt)
    assert code == 0, err
    prose = _data_prose()
    if fmt == "json":
        texts = [" ".join(s.split()) for s in _strings(json.loads(out))]
        texts = [t for t in texts if t not in prose]
    else:
        flat = " ".join(out.split())
        for p in prose:
            flat = flat.replace(p, "")
        texts = [flat]
    joined = "\n".join(texts)
    assert " kB" in joined  # the earbud's figures are in kB (its SRAM is 196,608 B usable)
    assert not re.search(r"\d KB\b", joined), re.findall(r".{40}\d KB\b.{10}", joined)
    assert " KB" not in joined
