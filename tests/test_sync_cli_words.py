"""What --nodes counts in `solve sync`, `solve scaling` and `solve crossover` (each has its right name now, --nodes kept
as an alias, and an error names the option typed); `--jitter 0` (a deterministic step) in the sync audit; the mobile
sync prose that read "through in the charging case overnight" and a constraint that shared a figure's label.

A new-user audit found: sync's --nodes counted devices ("nodes must be at least 128": 128 GPUs, 16 nodes), scaling's was
an alias of --max-devices (GPUs again), crossover's the AllReduce's participants (nodes on the cloud track, devices on a
fleet track); --jitter 0 was refused though the order statistics take it (point masses)."""

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from explorer.cli import main

DATA = Path(__file__).resolve().parents[1] / "explorer" / "data"


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _json(*args: str) -> dict:
    r = _cli(*args, "--format", "json")
    assert r.exit_code == 0, r.output

    def bad(c):  # NaN / Infinity in the JSON
        raise AssertionError(f"non-finite {c} in the report")

    return json.loads(r.stdout, parse_constant=bad)


def _help(cmd: str) -> str:
    r = _cli("solve", cmd, "--help")
    assert r.exit_code == 0
    return " ".join(r.output.split())  # click wraps the help: compare on single spaces


# --- sync: --devices, --nodes its alias ----------------------------------------------------------------------------
def test_sync_help_says_devices_count_gpus_not_nodes():
    h = _help("sync")
    assert "--devices INTEGER Devices in the job, counted one by one" in h
    # the cloud track: 1,024 H100s, 8 to a DGX node (NVIDIA DGX H100 datasheet) = 128 nodes
    assert "GPUs on the cloud track (1,024: 128 nodes of 8)" in h
    assert "--nodes INTEGER Alias of --devices" in h and "not nodes of 8" in h
    assert "0 is a deterministic step" in h


@pytest.mark.parametrize("flag", ["--devices", "--nodes"])
def test_sync_error_names_the_option_typed(flag):
    # cloud: a replica is TP x PP x CP = 8 x 8 x 1 = 64 GPUs; two replicas to synchronise: at least 128
    r = CliRunner().invoke(main, ["solve", "sync", "--no-zero", flag, "100"])
    assert r.exit_code == 2
    name = flag.lstrip("-")
    other = "nodes" if name == "devices" else "devices"
    line = r.stderr.strip()
    assert line.startswith(f"error: {name} must be at least 128 on the cloud track")
    assert f"{name} >= 128" in line and f"{other} " not in line and line.endswith("got 100")


def test_sync_tiny_error_under_devices():
    # tiny: 2 earbuds to a node, two replicas of a node each: at least 4, a multiple of 2
    r = CliRunner().invoke(main, ["solve", "sync", "--track", "tiny", "--devices", "3"])
    assert r.exit_code == 2
    assert r.stderr.strip().startswith("error: devices must be at least 4 on the tiny track")
    assert "a multiple of 2" in r.stderr


def test_sync_devices_and_nodes_together_refused():
    r = CliRunner().invoke(main, ["solve", "sync", "--track", "edge", "--devices", "8", "--nodes", "8"])
    assert r.exit_code == 2
    assert "same count" in r.stderr and "give one" in r.stderr


def test_sync_devices_and_nodes_give_the_same_audit():
    a = _json("solve", "sync", "--track", "edge", "--devices", "8")
    b = _json("solve", "sync", "--track", "edge", "--nodes", "8")
    assert a["scenario"]["nodes"] == b["scenario"]["nodes"] == 8
    assert a["figures"] == b["figures"]


def test_sync_python_api_takes_devices():
    from explorer.errors import UsageError
    from explorer.puzzles import sync

    with pytest.raises(UsageError, match="^devices must be at least 2 on the edge track"):
        sync.solve("edge", devices=1)
    with pytest.raises(UsageError, match="^nodes must be at least 2 on the edge track"):
        sync.solve("edge", nodes=1)


# --- scaling: --max-devices, --nodes its alias ---------------------------------------------------------------------
def test_scaling_help_and_alias():
    h = _help("scaling")
    assert "--max-devices INTEGER Largest device count N on the curve" in h
    assert "GPUs on the cloud track (not nodes of 8)" in h
    assert "--nodes INTEGER Alias of --max-devices" in h


@pytest.mark.parametrize("flag", ["--nodes", "--max-devices"])
def test_scaling_errors_name_the_option_typed(flag):
    r = CliRunner().invoke(main, ["solve", "scaling", flag, "0"])
    assert r.exit_code == 2 and f"Invalid value for '{flag}':" in r.stderr and "/" not in r.stderr.split(":")[1]
    # the curve ends at 4, --to asks for 64: the puzzle's range error, under the name typed
    r = CliRunner().invoke(main, ["solve", "scaling", flag, "4", "--to", "64"])
    assert r.exit_code == 2
    other = "--max-devices" if flag == "--nodes" else "--nodes"
    assert f"{flag} 4" in r.stderr and f"{flag} >= 64" in r.stderr and other not in r.stderr


def test_scaling_alias_gives_the_same_curve():
    a = _json("solve", "scaling", "--max-devices", "64")
    b = _json("solve", "scaling", "--nodes", "64")
    assert a["scenario"]["max_devices"] == b["scenario"]["max_devices"] == 64
    assert a["figures"] == b["figures"]
    r = CliRunner().invoke(main, ["solve", "scaling", "--max-devices", "64", "--nodes", "64"])
    assert r.exit_code == 2 and "same count" in r.stderr


# --- crossover: --participants (-n), --nodes its alias -------------------------------------------------------------
def test_crossover_help_names_each_tracks_participants():
    h = _help("crossover")
    assert "-n, --participants INTEGER" in h and "--nodes INTEGER Alias of --participants" in h
    # the defaults said in the help are the lab's crossover_n (explorer/data/lab06_collective.toml)
    d = tomllib.loads((DATA / "lab06_collective.toml").read_text())
    want = {"cloud": "a node of 8 GPUs with one NIC", "edge": "a vehicle", "mobile": "a pair of glasses",
            "tiny": "an earbud"}
    for track, who in want.items():
        assert f"{who} ({d[track]['crossover_n']})" in h, track


@pytest.mark.parametrize("flag", ["--participants", "-n", "--nodes"])
def test_crossover_every_name_sets_n(flag):
    d = _json("solve", "crossover", flag, "4")
    assert d["figures"]["participants"]["value"] == 4


def test_crossover_error_names_the_option_typed():
    r = CliRunner().invoke(main, ["solve", "crossover", "--nodes", "1"])
    assert r.exit_code == 2 and "Invalid value for '--nodes':" in r.stderr and "participants" not in r.stderr
    r = CliRunner().invoke(main, ["solve", "crossover", "--participants", "1"])
    assert r.exit_code == 2 and "'--participants'" in r.stderr and "'--nodes'" not in r.stderr
    r = CliRunner().invoke(main, ["solve", "crossover", "-n", "4", "--nodes", "4"])
    assert r.exit_code == 2 and "same count" in r.stderr


# --- --jitter 0: a deterministic step ---------------------------------------------------------------------------------
def test_jitter_zero_expected_max_is_the_step():
    from explorer.puzzles.sync.audit import run_audit

    # no jitter, no straggler: n identical step times, whose maximum is that time
    a = run_audit("edge", jitter=0, straggler_fraction=0)
    assert a.model.jitter == 0 and a.e_max_all == a.model.t0 == a.e_step
    # no jitter, 5% stragglers at 1.5x (the cloud track's): each step is t0 or 1.5 t0; the slowest of 1,024 is
    # 1.5 t0 unless all 1,024 are fast (probability 0.95^1024 = 1.5e-23), the mean is t0 (1 + 0.05 x 0.5) = 1.025 t0
    c = run_audit("cloud", jitter=0)
    assert c.e_max_all / c.e_step == pytest.approx(1.5 / 1.025, rel=1e-12)


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_jitter_zero_runs_on_every_fleet_track_without_nan(track):
    d = _json("solve", "sync", "--track", track, "--jitter", "0")
    assert d["scenario"]["jitter"] == 0


def test_jitter_zero_cloud_words():
    r = _cli("solve", "sync", "--no-zero", "--jitter", "0", "--straggler-fraction", "0")
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert "(no stragglers and no jitter)" in text and "jitter only" not in text
    assert "jitter: none (a deterministic step)" in text


def test_negative_jitter_still_refused():
    r = CliRunner().invoke(main, ["solve", "sync", "--track", "edge", "--jitter", "-0.1"])
    assert r.exit_code == 2 and "[0, 100]" in r.stderr and "got -0.1" in r.stderr


# --- the mobile sync prose ----------------------------------------------------------------------------------------
def test_mobile_tier_names_are_not_read_after_a_preposition():
    tiers = tomllib.loads((DATA / "tracks" / "mobile.toml").read_text())["fleet"]["tiers"]
    r = _cli("solve", "sync", "--track", "mobile")
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    for t in tiers.values():
        assert f"through {t['name']}" not in text and f"over {t['name']}" not in text
    assert f'on the path "{tiers["charging_case"]["name"]}"' in text  # the fleet 3D optimum's path


def test_mobile_constraint_is_not_labelled_as_the_optimums_figure():
    d = _json("solve", "sync", "--track", "mobile")
    labels = {f["label"] for f in d["figures"].values()}
    (c,) = d["constraints"]
    assert c["name"] not in labels and "training a part on battery" in c["name"]
    # the budget: 10% of the glasses' 0.6 Wh battery (tracks/mobile.toml) = 0.1 x 0.6 x 3600 J = 216 J
    assert c["limit"] == pytest.approx(216.0)
