"""`explore solve 3d --fix` as a new user's audit (2026-12-08) found it: a pinned answer was called "optimal" without
naming the pins (the unpinned optimum is 1.48x the crisis, the pinned one 1.34x); --fix framework=fsdp under the
default --framework megatron ended as a garbled "infeasible" (exit 1) instead of searching FSDP or a usage error;
--fix sp=true was refused although attempts files accept yes/true. Every case is a real solve of the cloud track."""

from __future__ import annotations

import json

from click.testing import CliRunner

from explorer.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["solve", "3d", *args])


def test_pinned_optimum_names_its_pins():
    r = _run("--fix", "tp=8,pp=8,dp=16", "--max-bubble", "1")
    assert r.exit_code == 0, r.output
    # the status line and the headline both carry the pins: the proof holds only for plans that keep them
    assert "Status: OPTIMAL (proven with --fix tp=8,pp=8,dp=16)" in r.output
    flat = " ".join(r.output.split())
    assert "proven optimal by CP-SAT with --fix tp=8,pp=8,dp=16" in flat
    assert "the best plan with those values fixed is" in flat and "the optimum is" not in flat
    js = json.loads(_run("--fix", "tp=8,pp=8,dp=16", "--max-bubble", "1", "--format", "json").output)
    assert js["extra"]["proven_over"] == "with --fix tp=8,pp=8,dp=16"
    # unpinned: no scope, the plain words
    plain = _run()
    assert "Status: OPTIMAL (proven)" in plain.output and "with --fix" not in plain.output


def test_pinned_framework_is_the_one_searched():
    r = _run("--fix", "framework=fsdp")
    assert r.exit_code == 0, r.output
    assert "[fsdp]" in r.output.split("Figures")[0]  # the answer runs on FSDP2
    assert "--framework fsdp" in " ".join(r.output.split())
    # an alias pins its framework under the canonical name
    alias = _run("--fix", "framework=torchtitan", "--framework", "any")
    assert alias.exit_code == 0 and "with --fix framework=fsdp" in alias.output


def test_pinned_framework_against_another_framework_is_a_usage_error():
    r = _run("--fix", "framework=fsdp", "--framework", "deepspeed")
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        "error: --framework deepspeed contradicts the pin framework=fsdp: drop one of them (or give --framework any "
        "with the pin)"]
    r = _run("--fix", "framework=any")
    assert r.exit_code == 2 and "pins nothing" in r.output


def test_switch_pins_take_words():
    for word, shown in (("true", "1"), ("yes", "1"), ("on", "1"), ("0", "0")):
        r = _run("--fix", f"sp={word}", "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["extra"]["proven_over"] == f"with --fix sequence_parallel={shown}"
    bad = _run("--fix", "sp=maybe")
    assert bad.exit_code == 2
    assert "bad value 'maybe' for sp: not a switch: give 1 or 0 (or yes/no, true/false, on/off)" in bad.output
