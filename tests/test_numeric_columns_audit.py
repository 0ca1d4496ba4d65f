"""Numbers stay numbers (a helper's review of the new-user audit, 2026-12-08): the compression table put 'not reached',
'never', '-' and formatted loss strings into numeric columns of its JSON; the crossover figure printed a link's
rate as '47,000,000,000 B/s'. Real runs."""

from __future__ import annotations

import json
import math

from _explore import explore

NUMERIC = ("steps to target", "time to target (s)", "end-to-end speedup", "final loss", "test accuracy")


def test_compression_table_columns_are_numbers_or_null():
    # --steps 3: too short for the compressed schemes to reach the target (the case that wrote words)
    code, out, err = explore("solve", "compression", "--track", "cloud", "--steps", "3", "--format", "json")
    assert code == 0, err
    table = json.loads(out)["tables"]["schemes"]
    cols = table["columns"]
    missing = 0
    for row in table["rows"]:
        for name in NUMERIC:
            v = row[cols.index(name)]
            assert v is None or (isinstance(v, (int, float)) and math.isfinite(v)), (name, v)
            missing += v is None
    assert missing > 0  # some scheme does not reach the target in 3 steps: null, said in the title
    assert "'-': the target is not reached in this run" in table["title"]


def test_a_link_rate_reads_in_its_unit():
    # InfiniBand NDR 400 Gb/s x 0.94 efficiency = 47 GB/s (50 GB/s x 0.94)
    code, out, err = explore("solve", "crossover", "--track", "cloud")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("bandwidth B"))
    assert line.rstrip().endswith("47.00 GB/s") and "47,000,000,000" not in out
