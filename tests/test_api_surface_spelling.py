"""Errors raised to a Python caller name keywords (global_batch=), not the CLI's flags (--global-batch); the
command line keeps its flags; a command quoted in backticks is left as written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import explorer
from explorer.cli import main
from explorer.errors import UsageError
from explorer.keywords import python_spelling


def test_python_caller_reads_keywords():
    with pytest.raises(UsageError) as info:
        explorer.estimate()  # the cloud track's 512 sequences over 1,024 GPUs at TP = PP = CP = 1: DP 1,024
    msg = str(info.value)
    assert "give global_batch= as a multiple of 1,024" in msg and "raise tp= / pp= / cp=" in msg
    assert "--" not in msg


def test_fleet_hint_keeps_the_quoted_command_and_spells_values():
    with pytest.raises(UsageError) as info:
        explorer.estimate(track="edge")
    msg = str(info.value)
    assert "`explore solve 3d --track edge`" in msg and "gpus=1 micro_batch=8 global_batch=8" in msg


def test_command_line_keeps_its_flags_and_a_python_call_after_it_does_not():
    res = CliRunner().invoke(main, ["estimate", "--tp", "1"])
    assert res.exit_code == 2 and "give --global-batch as a multiple" in res.output
    with pytest.raises(UsageError, match="global_batch="):
        explorer.estimate()


def test_only_the_functions_keywords_and_no_flag_are_rewritten():
    allowed = {"sequence_parallel": bool, "gpus": int}
    assert python_spelling("use --no-sequence-parallel or --gpus 16; --max-bubble stays", allowed) == \
        "use sequence_parallel=False or gpus=16; --max-bubble stays"


def test_a_named_value_is_quoted_and_a_sentence_word_is_not_taken_for_one():
    allowed = {"framework": str, "precision": str | None, "global_batch": int}
    assert python_spelling("give --framework megatron or --precision bf16", allowed) == \
        "give framework='megatron' or precision='bf16'"
    assert python_spelling("give --global-batch as a multiple; --framework or not", allowed) == \
        "give global_batch= as a multiple; framework= or not"
