"""A fleet's sync audit says what it checkpoints once, and says the same thing as its finding (sweep A item 15).

The edge audit's finding is that the aggregator checkpoints the global model, not the fleet; its Assumptions had
said 'Checkpoint = each vehicle uploads its weights over its own 5G uplink' (a per-vehicle checkpoint the fleet
audit never prices) and had printed the whole [edge.sync] source text twice (under the step time and again
under the aggregator)."""

from __future__ import annotations

import pytest

from explorer.puzzles import sync
from explorer.puzzles.sync.audit import sync_data

# what the per-device checkpoint text used to say on each fleet track (explorer/data/lab05_distributed.toml)
PER_DEVICE = ("uploads its weights", "uploads its fp16 weights", "sends its fp32 weights")


@pytest.fixture(scope="module", params=["edge", "mobile"])
def server_fleet(request):
    return request.param, sync.solve(request.param)


def test_the_scenario_source_is_quoted_once(server_fleet):
    track, r = server_fleet
    src = sync_data(track)["source"]
    quoted = sum(src in (a.text + " " + a.source) for a in r.assumptions)
    assert quoted == 1, f"{track}: the [{track}.sync] source is quoted {quoted} times"


def test_checkpoint_assumption_agrees_with_the_finding(server_fleet):
    track, r = server_fleet
    finding = next(f for f in r.findings if f.question.startswith("Checkpointing"))
    assert finding.answer.startswith("The aggregator's global model")
    every = " ".join(a.text + " " + a.source for a in r.assumptions)
    assert not any(p in every for p in PER_DEVICE), every
    agg = [a for a in r.assumptions if a.text.startswith("Aggregator:")]
    assert len(agg) == 1 and "checkpoints the global model" in agg[0].text
    assert "keeps a checkpoint of its own" in agg[0].text and "rejoins with the current global model" in agg[0].text


@pytest.mark.parametrize("track", ["edge", "mobile", "tiny"])
def test_a_fleet_names_no_per_device_checkpoint(track):
    # the per-device checkpoint (what it saves, over which link, a job restart) is the cloud job's; a fleet's
    # scenario no longer carries it, and the audit computes no Young/Daly interval for it
    d = sync_data(track)
    assert not {"checkpoint_state", "checkpoint_store", "restart_s"} & set(d)
    assert not any(p in d["source"] for p in PER_DEVICE)
    assert sync.run_audit(track).ckpt is None
    assert {"checkpoint_state", "checkpoint_store", "restart_s"} <= set(sync_data("cloud"))
    assert sync.run_audit("cloud").ckpt["checkpoint_s"] > 0
