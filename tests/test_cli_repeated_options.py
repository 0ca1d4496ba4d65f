"""An option that takes one value, given twice (a new user's audit, 2026-12-08: `--gpus 8 --gpus 16` and `--track cloud
--track edge` ran silently on the last): a one-line usage error naming it, exit 2. Options that take several values
(--fabric) still repeat."""

from __future__ import annotations

from _explore import explore


def _one_error(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_value_given_twice_is_refused():
    code, out, err = explore("estimate", "--gpus", "8", "--gpus", "16")
    assert code == 2 and out == ""
    assert _one_error(err).startswith("error: --gpus is given 2 times: give it once (only the last would count)")
    code, out, err = explore("solve", "3d", "--track", "cloud", "--track=edge")
    assert code == 2 and "--track is given 2 times" in _one_error(err)


def test_two_spellings_of_one_option_are_refused():
    code, _, err = explore("solve", "sync", "--zero", "--no-zero")
    assert code == 2 and "--zero and --no-zero set the same option: give one of them" in _one_error(err)
    code, _, err = explore("solve", "crossover", "-n", "4", "--participants", "8")
    assert code == 2 and "-n and --participants set the same option" in _one_error(err)


def test_options_that_take_several_values_still_repeat():
    code, out, err = explore("solve", "scaling", "--fabric", "ib_ndr", "--fabric", "eth_100g", "--format", "json")
    assert code == 0, err
    # and a value that looks like an option name after '--' is not counted
    code, _, err = explore("estimate", "--gpus", "8", "--", "--gpus")
    assert "given 2 times" not in err
