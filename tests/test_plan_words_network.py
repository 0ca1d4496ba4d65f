"""explore plan / check refuse a network the cluster cannot have between its nodes, and fleet parts (reviewers'
defect 2): NVLink was picked as the cluster network, Bluetooth LE priced as one, and an A100 given a 400 Gb/s NIC."""

import os
import subprocess
import sys

import pytest

from explorer.errors import UsageError
from explorer.planner.inputs import cluster_options, load_assumptions, network_problem, networks_for, resolve_model
from explorer.planner.run import CANNOT_RUN, plan_training

A = load_assumptions()


def _cli(args):
    return subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", *args], capture_output=True,
                          text=True, timeout=120, cwd="/tmp", env=dict(os.environ))


@pytest.mark.parametrize("args, named", [
    # NVLink 5 is the fabric inside a DGX B200 (links.toml scope 'intra'): it won as the network between H100 nodes
    (["plan", "--model", "llama3_8b", "--tokens", "1e11", "--gpus", "64", "--network", "ib_ndr,nvlink5"],
     "--network nvlink5"),
    # BLE 1M PHY moves 1 Mb/s (Bluetooth Core Spec 5.0): it was priced as 28,730 days of 64 H100s
    (["plan", "--model", "llama3_8b", "--tokens", "1e11", "--gpus", "64", "--network", "ble"], "--network ble"),
    # DGX A100: one ConnectX-6 HDR 200 Gb/s NIC per GPU (NVIDIA DGX A100 user guide); 400 Gb/s needs PCIe Gen5
    (["plan", "--model", "llama3_8b", "--tokens", "1e11", "--gpus", "64", "--gpu", "a100", "--network", "ib_ndr"],
     "more than the DGX A100 (80 GB)'s own NIC"),
    (["plan", "--model", "llama3_8b", "--tokens", "1e11", "--gpus", "64", "--gpu", "orin_agx"], "fleet device"),
    (["check", "--model", "llama3_8b", "--gpu", "h100", "--gpus", "64", "--mfu", "0.4", "--network", "nvlink4"],
     "--network nvlink4"),
    (["check", "--model", "llama3_8b", "--gpu", "nrf52840", "--gpus", "2", "--mfu", "0.4"], "fleet device"),
])
def test_an_impossible_network_or_a_fleet_part_is_one_line_exit_2(args, named):
    p = _cli(args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and named in p.stderr and p.stdout == ""
    if "--network" in args:  # names the networks the node does take
        assert "networks for " in p.stderr and "ib_hdr" in p.stderr


def test_the_networks_a_node_takes():
    # H100 (DGX H100: ConnectX-7 NDR 400 Gb/s per GPU) takes 400 Gb/s per GPU; A100 (200 Gb/s) not; no NVLink, no radio
    h100, a100 = networks_for("h100_sxm"), networks_for("a100_80gb")
    assert h100[:2] == ["ib_ndr", "roce_400g"] and "ib_ndr" not in a100 and a100[0] == "ib_hdr"
    assert not {"nvlink3", "nvlink4", "nvlink5", "nfmi", "ble", "bluetooth", "wifi6", "lte_5g"} & set(h100)
    # a node's total shared by its 8 GPUs: 800 Gb/s / 8 = 100 Gb/s per GPU, within the A100's 200
    assert network_problem("a100_80gb", "roce_node_800g") == ""
    assert cluster_options("h100", "roce_400g")["network"] == "roce_400g"
    with pytest.raises(UsageError, match="valid: .*h100_sxm"):
        cluster_options("orin_agx")


def test_a_network_one_gpu_type_joins_and_another_cannot_is_that_types_cannot_run():
    p = plan_training(resolve_model("llama3_8b"), 1e11, gpu_types=["a100", "h100"], sizes=[64], networks=["ib_ndr"],
                      global_batch=256, assumptions=A)
    by = {c.gpu: c for c in p.candidates}
    assert by["a100_80gb"].status == CANNOT_RUN and "200 Gb/s per GPU" in by["a100_80gb"].reason
    assert by["h100_sxm"].status == "optimal" and p.best.gpu == "h100_sxm"
