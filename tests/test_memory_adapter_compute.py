"""Compute of frozen and adapted layers, priced pass by pass (explorer/cost/training_memory.py).

A layer's passes, in forward-equivalents of its GEMMs (backward = 2 x forward, docs/conventions.md):
    forward 1, recompute 1 (full recomputation replays the forward), input gradient 1, weight gradient 1.
  * a trained layer runs all four: 4 units with full recomputation, 3 without;
  * a layer with adapters (LoRA / QLoRA) skips only the weight gradient of its frozen base weight (autograd
    computes no gradient for a tensor with requires_grad=False; Hu et al. 2021 sec. 4.2, Dettmers et al. 2023
    sec. 3) and still runs forward, recompute and input gradient: 3 of 4 units (2 of 3 without recomputation),
    plus the adapters' own GEMMs (adapter weights / base weights of the layer, in each pass they run);
  * a frozen layer below every trained or adapted one runs the forward only: nothing below it needs a
    gradient, so the backward never reaches it and activation checkpointing never replays it
    (torch.utils.checkpoint reruns a segment during the backward that passes through it): 1 unit.
The rule this replaces took (L + T) / 3L (+ the adapter fraction) of a compute time that already held the
recompute: under full recomputation an adapted layer was charged 2/3 of 4 = 2.67 units instead of 3, a frozen
one 4/3 instead of 1, and the head (trained whenever layers are frozen) was scaled down with the layers.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from explorer.cost import sharding as sh
from explorer.cost import time as tm
from explorer.cost import training_memory as tmem
from explorer.puzzles import memory as pm
from explorer.puzzles.threed import make_setup
from explorer.tracks import get_track

UNITS_FULL_RC = (1.0, 1.0, 1.0, 1.0)  # forward, recompute, input gradient, weight gradient
UNITS_NO_RC = (1.0, 0.0, 1.0, 1.0)


def test_full_fine_tuning_with_full_recompute_runs_all_four_units():
    assert tmem.frozen_compute_factor(80, 80, "none", UNITS_FULL_RC) == pytest.approx(4 / 4)
    assert tmem.frozen_compute_factor(80, 80, "none", UNITS_NO_RC) == pytest.approx(3 / 3)


def test_adapters_with_full_recompute_run_three_of_four_units_plus_their_own():
    # 80 layers x (forward 1 + recompute 1 + input gradient 1) / 80 x 4 = 3/4; the old rule gave 2/3
    f = tmem.frozen_compute_factor(80, 80, "lora", UNITS_FULL_RC)
    assert f == pytest.approx(3 / 4)
    assert f != pytest.approx(2 / 3)
    # adapters at 1% of the layer's weights, replayed with the layer: 4 passes x 0.01 x 1 unit each
    assert tmem.frozen_compute_factor(80, 80, "qlora", UNITS_FULL_RC, adapter_ratio=0.01,
                                      adapter_replayed=True) == pytest.approx((3 + 4 * 0.01) / 4)
    # without recomputation: (1 + 1) / 3 = 2/3, adapters 3 passes x 0.01
    assert tmem.frozen_compute_factor(80, 80, "lora", UNITS_NO_RC) == pytest.approx(2 / 3)
    assert tmem.frozen_compute_factor(80, 80, "lora", UNITS_NO_RC, adapter_ratio=0.01) == pytest.approx(
        (2 + 3 * 0.01) / 3)


def test_frozen_bottom_layers_run_the_forward_only_without_recompute():
    # 40 trained x 4 + 40 frozen x 1 (no replay, no backward) = 200 of 320 units = 5/8 (old rule: 2/3 of it all)
    assert tmem.frozen_compute_factor(80, 40, "none", UNITS_FULL_RC) == pytest.approx(200 / 320)
    # adapters on the top 40: 40 x 3 + 40 x 1 = 160 of 320 = 1/2 (old rule: 120/240 of 4 units = 1/2 too, by chance
    # of the mix: it over-charged the frozen ones (4/3) as much as it under-charged the adapted ones (8/3))
    assert tmem.frozen_compute_factor(80, 40, "lora", UNITS_FULL_RC) == pytest.approx(160 / 320)
    # adapters on the top 60: 60 x 3 + 20 x 1 = 200 of 320 = 5/8 (old rule: 140/240 = 7/12)
    assert tmem.frozen_compute_factor(80, 60, "lora", UNITS_FULL_RC) == pytest.approx(200 / 320)
    # without recomputation: 40 x 3 + 40 x 1 = 160 of 240 = 2/3
    assert tmem.frozen_compute_factor(80, 40, "none", UNITS_NO_RC) == pytest.approx(160 / 240)
    # every layer frozen (a linear probe): 80 x 1 of 320
    assert tmem.frozen_compute_factor(80, 0, "none", UNITS_FULL_RC) == pytest.approx(80 / 320)


def test_the_head_is_trained_with_frozen_layers_and_frozen_under_adapters():
    # head passes (forward, input gradient, weight gradient) = 1 each, no layer cost: what share of the head runs
    none = (0.0, 0.0, 0.0, 0.0)
    head = (1.0, 1.0, 1.0)
    assert tmem.frozen_compute_factor(4, 4, "none", none, head) == pytest.approx(1.0)
    assert tmem.frozen_compute_factor(4, 2, "none", none, head) == pytest.approx(1.0)  # trained, gradient below
    assert tmem.frozen_compute_factor(4, 0, "none", none, head) == pytest.approx(2 / 3)  # nothing below to feed
    assert tmem.frozen_compute_factor(4, 4, "lora", none, head) == pytest.approx(2 / 3)  # frozen: no weight gradient
    assert tmem.frozen_compute_factor(4, 0, "lora", none, head) == pytest.approx(1 / 3)  # nothing trained at all


def _cloud():
    inst = pm.make_instance("cloud")
    return inst, tmem.training_setup(inst.base, inst.baseline)


def test_layer_passes_add_up_to_the_layer_and_the_weight_gradient_is_the_weight_gemms():
    _, s = _cloud()
    for rc in (0, 1, 2):
        fwd, rec, ig, wg = (float(x) for x in tmem.layer_pass_seconds(s, 1, 1, 1, rc, 0))
        c, m, _, _ = tm.layer_time(s, 1, 1, 1, rc, 0)
        assert fwd + rec + ig + wg == pytest.approx(float(c + m), rel=1e-12)
        c0, m0, _, _ = tm.layer_time(s, 1, 1, 1, 0, 0)
        assert rec == pytest.approx(float(c + m - c0 - m0), abs=1e-15)
        # the weight gradient is the weight GEMMs' one backward GEMM: part of what the forward costs (which also
        # holds the attention core and elementwise passes), and no more than the input gradient (the same GEMM
        # FLOPs, plus the attention core's backward, which has no weight)
        assert 0 < wg < fwd and wg <= ig
    fwd, rec, ig, wg = (float(x) for x in tmem.layer_pass_seconds(s, 1, 1, 1, 2, 0))
    assert rec == pytest.approx(fwd, rel=0.05)  # full recompute replays about one forward


def test_cloud_step_prices_adapters_and_frozen_layers_pass_by_pass():
    inst, s = _cloud()
    base, L = inst.base, inst.base.model.layers
    full = tmem.Choice("adam", "bf16", "full", 1, 0, False, L)
    r_full = tmem.training_step(base, full, 1, 1, 8, 8)
    fwd, rec, ig, wg = (float(x) for x in tmem.layer_pass_seconds(s, 1, 1, 1, 2, 0))
    head = 8 * float(tm.logits_time(s, 1, 1, 1))
    layer = fwd + rec + ig + wg
    # the full step's compute: 8 micro-batches x (80 layers + the head)
    assert r_full["time_compute"] == pytest.approx(8 * L * layer + head, rel=1e-9)
    # LoRA on every layer: each layer keeps forward + recompute + input gradient, adapters (ratio rho of the layer's
    # weights) run forward, recompute, input and weight gradient at rho x the weight GEMMs' time; the frozen head
    # keeps forward + input gradient (2/3)
    lora = replace(full, adapter="lora", lora_rank=64)
    rho = tmem.adapter_params(base.model, 1, 64) / base.model.layer_matmul_params
    expect = 8 * L * (fwd + rec + ig + 4 * rho * wg) + 2 / 3 * head
    r_lora = tmem.training_step(base, lora, 1, 1, 8, 8)
    assert r_lora["time_compute"] == pytest.approx(expect, rel=1e-9)
    ratio = r_lora["time_compute"] / r_full["time_compute"]
    # hand: weight gradients are at most a quarter of a layer under full recompute (1 of 4 GEMM passes), so the
    # adapted step keeps at least 3/4 of the compute; the old rule's 2/3 + rho (0.68 here) was below that
    assert 0.75 < ratio < 0.85
    # everything but the optimizer step moves by the compute and the data-parallel sync alone (LoRA: no
    # dequantisation): the sync's exposed time falls from the whole model's gradients (step.evaluate's
    # time_dp_exposed) to the adapters' (tests/test_memory_lora_sync.py derives that sync by hand)
    s_lora = tmem.training_setup(base, lora)
    exposed_all = tmem.dp_exposed_seconds(s_lora, sh.dp_comm(s_lora, 0, 1, 1, 1, 8, 0), 1, 1, 1, 1, 1, 8, 2, 0)
    exposed_adapters = tmem.dp_exposed_seconds(s_lora, tmem.trained_dp_comm(s_lora, lora, 1, 1, 1, 8, 0),
                                               1, 1, 1, 1, 1, 8, 2, 0)
    assert 0 < exposed_adapters < exposed_all / 50
    assert r_full["time_main"] - r_lora["time_main"] == pytest.approx(
        r_full["time_compute"] - r_lora["time_compute"] + exposed_all - exposed_adapters, rel=1e-9)
    # the bottom 40 frozen: 40 layers x all passes + 40 x forward only + the (trained) head
    half = replace(full, trainable_layers=40)
    r_half = tmem.training_step(base, half, 1, 1, 8, 8)
    assert r_half["time_compute"] == pytest.approx(8 * (40 * layer + 40 * fwd) + head, rel=1e-9)


def test_model_flops_count_passes_without_recompute():
    # model FLOPs per layer and token: forward G + A, input gradient G + 2A, weight gradient G (G = 2 x weights,
    # A = 4 s h, the attention core); adapters on all layers drop G of 3G + 3A, the frozen head drops 2 V h of 6 V h
    inst, s = _cloud()
    base, m = inst.base, inst.base.model
    full = tmem.Choice("adam", "bf16", "none", 1, 0, False, m.layers)
    lora = replace(full, adapter="lora", lora_rank=64)
    g, a, h = 2.0 * m.layer_matmul_params, 4.0 * s.seq_len * m.hidden, 2.0 * m.vocab * m.hidden
    rho = tmem.adapter_params(m, 1, 64) / m.layer_matmul_params
    expect = (m.layers * (2 * g + 3 * a + 3 * rho * g) + 2 * h) / (m.layers * (3 * g + 3 * a) + 3 * h)
    r_full = tmem.training_step(base, full, 1, 1, 8, 8)
    r_lora = tmem.training_step(base, lora, 1, 1, 8, 8)
    assert r_lora["model_flops"] / r_full["model_flops"] == pytest.approx(expect, rel=1e-9)


def test_a_frozen_layer_under_full_recompute_costs_its_forward_only_on_a_fleet_track():
    # tiny: 5 layers; top 2 trained under full recompute: 2 x (fwd + rec + ig + wg) + 3 x fwd per micro-batch
    t = get_track("tiny")
    base = make_setup(t, precision=t.workload.precision)
    c = tmem.Choice("sgd", base.precision, "full", 1, 0, False, 2)
    s = tmem.training_setup(base, c)
    fwd, rec, ig, wg = (float(x) for x in tmem.layer_pass_seconds(s, 1, 1, 1, 2, 0))
    head = float(tm.logits_time(s, 1, 1, 1))
    r = tmem.training_step(base, c, 1, 1, 1, 1)
    assert r["time_compute"] == pytest.approx(2 * (fwd + rec + ig + wg) + 3 * fwd + head, rel=1e-9)


def test_the_memory_report_states_the_pass_rule():
    res = pm.solve_memory("cloud")
    rep = pm.build_report(res)
    text = rep.headline + " ".join(f.answer for f in rep.findings)
    assert "a third of the compute" not in text
    ad = next(f.answer for f in rep.findings if "LoRA and QLoRA keep" in f.question)
    assert "3 of 4 with full recomputation" in ad and "2 of 3 passes without" in ad


def test_a_fit_faster_than_the_start_names_its_real_reason():
    c = tmem.Choice("adafactor", "fp16", "none", 2, 0, False, 6)
    assert "frozen" not in pm._lost_text(-0.02, c, 6)
    assert "frozen layers" in pm._lost_text(-0.02, replace(c, trainable_layers=3), 6)
    assert "weight-gradient GEMMs" in pm._lost_text(-0.02, replace(c, adapter="lora"), 6)
