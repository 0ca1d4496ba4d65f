"""Names in any case (the second new-user audit, 2026-12-08: the API took framework="Megatron" and track="CLOUD" but
refused precision="FP8", and the CLI refused them all): subcommands and choice values are found in any case and the
command receives the canonical name; option names stay as written, so a repeated option is still caught."""

from __future__ import annotations

import json

from _explore import explore


def test_choices_and_subcommands_in_any_case_give_the_same_answer():
    code, lower, _ = explore("solve", "3d", "--track", "cloud", "--format", "json")
    assert code == 0
    code, upper, err = explore("SOLVE", "3D", "--track", "CLOUD", "--format", "JSON")
    assert code == 0, err
    a, b = json.loads(lower), json.loads(upper)
    assert b["track"] == "cloud" and b["puzzle"] == "3d"  # the canonical names reach the command
    assert a["figures"]["mfu"]["value"] == b["figures"]["mfu"]["value"]


def test_a_choice_in_capitals_is_that_choice():
    code, out, err = explore("estimate", "--model", "llama3_8b", "--gpus", "8", "--precision", "BF16",
                             "--recompute", "Full", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["configuration"]["recompute"] == "full"
    code, text, _ = explore("estimate", "--model", "llama3_8b", "--gpus", "8", "--precision", "BF16")
    assert code == 0 and "BF16 mixed precision" in text


def test_the_puzzle_argument_in_capitals():
    code, out, _ = explore("attempts", "template", "3D")
    assert code == 0 and out.startswith("# attempts for puzzle 3d:")


def test_a_wrong_name_is_still_refused_and_option_names_keep_their_case():
    code, _, err = explore("estimate", "--precision", "fp9")
    assert code == 2 and "'fp9' is not one of 'fp32', 'bf16', 'fp16', 'fp8'" in err
    code, _, err = explore("estimate", "--GPUS", "8")
    assert code == 2 and "No such option '--GPUS'" in err
