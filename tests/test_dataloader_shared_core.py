"""Sweep A item 8: on the earbud (nRF52840: one Cortex-M4F core, Nordic PS v1.7 sec. 1) the mel preparation and the
training step share the one core, so they run one after the other; the pipeline said 3.8% + 100% busy and took
throughput = min(prep, ingest, compute) = 2.38 samples/s. Hand derivation below."""

from __future__ import annotations

import pytest

from explorer.cost import input_pipeline as ip
from explorer.puzzles import dataloader
from explorer.puzzles.training_scenario import scenario


def test_shared_core_serialises_prep_and_compute_by_hand():
    # aug 16 ms, compute 0.421 s per sample, ingest 32,000 B/s / 10,240 B = 3.125 samples/s:
    # one core: 1 / (0.016 + 0.421) = 2.288 samples/s (< 3.125), prep busy 0.016 x 2.288 = 3.66%,
    # compute busy 0.421 x 2.288 = 96.3%, together 100% of the core
    p = ip.Pipeline(1, 0.016, 10240, 32_000, 256e6, 1, 0.421, shared_core=True)
    x = ip.throughput(p)
    assert x == pytest.approx(1 / (0.016 + 0.421))
    u = ip.utilisation(p)
    assert u["prep"] + u["compute"] == pytest.approx(1.0)
    assert u["ingest"] == pytest.approx(x / 3.125)
    assert ip.bottleneck(p) == "compute"
    # the same pipeline on a host CPU beside an accelerator: the slowest stage, 1 / 0.421
    q = ip.Pipeline(1, 0.016, 10240, 32_000, 256e6, 1, 0.421)
    assert ip.throughput(q) == pytest.approx(1 / 0.421)


def test_tiny_is_one_core_and_the_fleet_answer_says_so():
    assert scenario("tiny").prep_on_compute_core and not scenario("edge").prep_on_compute_core
    rep = dataloader.solve("tiny")
    x = rep.figure("fleet_pipeline_throughput")
    prep, step = rep.figure("fleet_prep_rate"), rep.figure("fleet_step_rate")
    assert x == pytest.approx(1 / (1 / prep + 1 / step))
    assert "take turns on the one core" in rep.headline
    # the serialised local step: the training step plus its sample's preparation (micro-batch 1 at the optimum)
    assert rep.figure("fleet_local_step_serialised_s") == pytest.approx(1 / x)
    why = rep.findings[0].answer
    assert "only as posed" in why  # the lab's second-earbud figures are labelled as the question posed
