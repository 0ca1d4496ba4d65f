"""Lab 05 parts 1 and 3 from the command line: all 8 (puzzle, track) pairs in text and JSON; one-line usage errors."""

import json

import pytest
from click.testing import CliRunner

try:
    from explorer.cli import main
except ModuleNotFoundError as exc:  # another command module of the CLI frame is not there yet
    pytest.skip(f"CLI frame incomplete: {exc}", allow_module_level=True)

FAST = {("sync", "cloud"): ["--no-zero"]}  # a fleet track has no ZeRO comparison and refuses --no-zero


@pytest.mark.parametrize("puzzle", ["scaling", "sync"])
@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_all_pairs_text_and_json(puzzle, track):
    runner = CliRunner()
    args = ["solve", puzzle, "--track", track, *FAST.get((puzzle, track), [])]
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.output
    assert f"[{track}]" in text.output and "Math peek" in text.output and "Assumptions" in text.output
    js = runner.invoke(main, [*args, "--format", "json"])
    assert js.exit_code == 0, js.output
    d = json.loads(js.output)
    assert d["puzzle"] == puzzle and d["track"] == track and d["lab"] == "05"


@pytest.mark.parametrize("args, word", [
    (["solve", "scaling", "--fabric", "token-ring"], "fabric"),
    (["solve", "scaling", "--nodes", "0"], "nodes"),
    # earbuds over NVSwitch (was rc 0: '8 -> 64 earbuds: throughput gain (NVLink 4 ...) 8.000 x')
    (["solve", "scaling", "--track", "tiny", "--fabric", "nvlink4"], "valid on it: ble, bluetooth"),
    (["solve", "scaling", "--fabric", "wifi6"], "have no radio"),
    # an unknown name is answered with the track's own fabrics (tiny listed all 18 catalog links, NVLink and
    # InfiniBand among them, none of which an earbud can use: track_fabrics(tiny) = its BLE radio's two names)
    (["solve", "scaling", "--track", "tiny", "--fabric", "bogus"], "unknown fabric 'bogus'; valid: ble, bluetooth"),
    (["solve", "scaling", "--track", "edge", "--fabric", "bogus"], "valid: ble, bluetooth, lte_5g, wifi6"),
    # 2 earbuds are one pair (was 'gossip needs at least 2 devices (a whole number), got 1')
    (["solve", "scaling", "--track", "tiny", "--from", "2", "--to", "8"], "--from 2: on the tiny track"),
    # --max-devices was raised to --to without a word
    (["solve", "scaling", "--track", "cloud", "--max-devices", "16"], "beyond the curve's end, --max-devices 16"),
    (["solve", "sync", "--no-zero", "--straggler-fraction", "1.5"], "straggler"),
    (["solve", "sync", "--no-zero", "--straggler-fraction", "-0.01"], "straggler"),
    (["solve", "sync", "--no-zero", "--nodes", "0"], "nodes"),
    # two earbuds are one pair, one replica: nothing to gossip with (was 'gossip needs 2 devices, got 1')
    (["solve", "sync", "--track", "tiny", "--nodes", "2"], "nodes must be at least 4"),
    # TP 8 x PP 8 = 64 GPUs is one replica of the cloud plan: no ring to synchronise
    (["solve", "sync", "--no-zero", "--nodes", "64"], "nodes >= 128"),
    # a fleet track has no ZeRO comparison to switch off (was accepted and ignored)
    (["solve", "sync", "--track", "edge", "--no-zero"], "leave --no-zero out"),
])
def test_bad_inputs_one_line(args, word):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and word in r.stderr, r.output
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_fabric_option_is_repeatable_and_comma_separated():
    r = CliRunner().invoke(main, ["solve", "scaling", "--fabric", "eth_10g,ib_hdr", "--fabric", "ib_ndr",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["scenario"]["fabric"] == ["eth_10g", "ib_hdr", "ib_ndr"]


def test_unknown_fabric_names_only_the_tracks_fabrics_everywhere_it_is_parsed():
    # The three places the fabric option is read (solve, attempt defaults, attempt grading) answer an unknown name
    # with the track's list, never the catalog's: on tiny, 'bogus' is refused naming ble and bluetooth and no wire.
    from explorer.errors import UsageError
    from explorer.puzzles import scaling

    for call in (lambda: scaling.solve("tiny", fabric="bogus"),
                 lambda: scaling.attempt_defaults("tiny", fabric="bogus"),
                 lambda: scaling.evaluate_attempt({"fabric": "ble", "devices": 8}, "tiny", fabric="bogus")):
        with pytest.raises(UsageError) as e:
            call()
        assert str(e.value) == "unknown fabric 'bogus'; valid: ble, bluetooth"
    r = CliRunner().invoke(main, ["solve", "scaling", "--track", "tiny", "--fabric", "bogus"])
    assert r.exit_code == 2 and "ib_ndr" not in r.stderr and "nvlink" not in r.stderr
