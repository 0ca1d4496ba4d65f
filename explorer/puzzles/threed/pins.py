"""The pins of the 3D puzzle as text, as the CLI's --fix and the API's fix='tp=8,pp=8' write them: the names taken
and how each value is read. One table for both (explorer.keywords.parse_assignments parses the text)."""

from __future__ import annotations

from typing import Any

from explorer.keywords import parse_assignments


def _int(v: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise ValueError("not a whole number") from None


SWITCH_WORDS = {"1": 1, "true": 1, "yes": 1, "on": 1, "0": 0, "false": 0, "no": 0, "off": 0}


def _switch(v: str) -> int:
    """An on/off pin (sp, hsdp) as 1 or 0: 1/0, true/false, yes/no, on/off, as attempts files accept them."""
    try:
        return SWITCH_WORDS[v.strip().lower()]
    except KeyError:
        raise ValueError("not a switch: give 1 or 0 (or yes/no, true/false, on/off)") from None


FIX_TYPES = {"tp": _int, "pp": _int, "dp": _int, "cp": _int, "mb": _int, "micro_batch": _int, "m": _int,
             "num_micro_batches": _int, "v": _int, "virtual_stages": _int, "zero": _int, "recompute": str,
             "sp": _switch, "sequence_parallel": _switch, "framework": str, "hsdp": _switch}


def parse_pins(text: str, option: str = "--fix") -> dict[str, Any]:
    """'tp=8,pp=8,recompute=full' -> {'tp': 8, 'pp': 8, 'recompute': 'full'}; one-line UsageErrors naming the item."""
    return parse_assignments(text, FIX_TYPES, option)
