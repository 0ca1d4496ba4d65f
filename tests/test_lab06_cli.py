"""Lab 06 from the command line: all 12 (puzzle, track) pairs in text and JSON; one-line usage errors."""

import json

import pytest
from click.testing import CliRunner

try:
    from explorer.cli import main
except ModuleNotFoundError as exc:  # another command module of the CLI frame is not there yet
    pytest.skip(f"CLI frame incomplete: {exc}", allow_module_level=True)

PUZZLES = ("crossover", "hierarchy", "compression")
TRACKS = ("cloud", "edge", "mobile", "tiny")
FAST = {"compression": ["--steps", "40"]}


@pytest.mark.parametrize("puzzle", PUZZLES)
@pytest.mark.parametrize("track", TRACKS)
def test_all_pairs_text_and_json(puzzle, track):
    runner = CliRunner()
    args = ["solve", puzzle, "--track", track, *FAST.get(puzzle, [])]
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.output
    assert f"[{track}]" in text.output
    js = runner.invoke(main, [*args, "--format", "json"])
    assert js.exit_code == 0, js.output
    d = json.loads(js.output)
    assert d["puzzle"] == puzzle and d["track"] == track and d["lab"] == "06"


@pytest.mark.parametrize("args, word", [
    (["solve", "crossover", "--nodes", "1"], "nodes"),
    (["solve", "crossover", "--message-mb", "-4"], "message"),
    (["solve", "hierarchy", "--message-gb", "-1"], "message"),
    (["solve", "compression", "--ratio", "0.5"], "ratio"),
])
def test_bad_inputs_one_line(args, word):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and word in r.stderr, r.output
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["scaling", "3d", "sync", "crossover", "hierarchy", "compression", "memory",
                                  "dataloader", "batch"])
def test_attempts_are_offered_exactly_where_a_puzzle_grades_them(name):
    # sync, crossover and compression have no choice a student makes: their --attempts could only be refused.
    from explorer.cli import solve
    from explorer.puzzles import get_puzzle

    mod = get_puzzle(name).load()
    grades = hasattr(mod, "ATTEMPT_VARIABLES") or hasattr(mod, "attempt_module")
    options = {o for p in solve.commands[name].params for o in p.opts}
    assert ("--attempts" in options) == grades
