"""Fleet physics (explorer/cost/federated.py, energy.py, placement.py, gossip.py, stragglers.py):
known answers derived by hand from the cited sources, and the split placement against the shared
cost model on the real tracks."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from explorer.cost import energy, federated, gossip, placement
from explorer.cost.stragglers import StepTimeModel, quantile_of_sum, sum_distribution
from explorer.errors import UsageError


# --- spectral gap of a ring ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [8, 13, 100])
def test_ring_spectral_gap_matches_the_circulant_eigenvalues(n):
    # Metropolis-Hastings on a ring: every degree is 2, so W_ij = 1/(1 + 2) = 1/3 for the two
    # neighbours and W_ii = 1 - 2/3 = 1/3. W is circulant (c_0 = c_1 = c_{n-1} = 1/3), so its
    # eigenvalues are lambda_k = 1/3 + (2/3) cos(2 pi k / n), k = 0..n-1. lambda_0 = 1; the smallest is
    # >= 1/3 - 2/3 = -1/3, and lambda_1 = 1/3 + (2/3) cos(2 pi / n) >= 1/3 once n >= 4, so
    # |lambda_2| = lambda_1 and the spectral gap is 1 - lambda_1 = (2/3) (1 - cos(2 pi / n)).
    # (n = 8: (2/3)(1 - 0.7071068) = 0.1952621; n = 100: (2/3)(1 - 0.9980267) = 0.0013155.)
    w = gossip.metropolis_weights(gossip.ring_graph(n))
    assert np.allclose(w[0, [0, 1, n - 1]], 1 / 3)
    gap = 2.0 / 3.0 * (1.0 - math.cos(2.0 * math.pi / n))
    assert gossip.spectral_gap(w) == pytest.approx(gap, rel=1e-9)
    assert {8: 0.1952621, 100: 0.0013155}.get(n, gap) == pytest.approx(gap, rel=1e-4)
    # Koloskova et al. 2020's consensus rate of that W: p = 1 - |lambda_2|^2
    assert federated.consensus_rate(gossip.slem(w)) == pytest.approx(1.0 - (1.0 - gap) ** 2, rel=1e-12)


def test_the_simple_random_walk_on_an_even_ring_never_mixes():
    # P = A / 2 (no self-weight) has eigenvalues cos(2 pi k / n): 1 - lambda_2 = 1 - cos(2 pi / n), but for
    # even n, k = n/2 gives cos(pi) = -1, so |lambda| = 1 twice and gossip with P oscillates forever:
    # the self-weight (1/3 above) is what makes the ring mix.
    n = 10
    p_walk = gossip.ring_graph(n).astype(float) / 2.0
    lam = np.sort(np.linalg.eigvalsh(p_walk))
    assert lam[-2] == pytest.approx(math.cos(2 * math.pi / n))
    assert gossip.slem(p_walk) == pytest.approx(1.0)


# --- the convergence bound -------------------------------------------------------------------------
def test_iterations_bound_by_hand():
    # B = 100, b = 4, n = 5, tau = 1, p = 1, z = 0, S/N = 1:
    #   B/(n b) = 100/20 = 5; sqrt(B) (0 + sqrt(1/(1 x 4))) = 10 x 0.5 = 5; tau/p = 1; sampling 0 -> 11
    assert federated.iterations_bound(100, 4, 5, 1, 1.0, 0.0, 1.0) == pytest.approx(11.0)
    # z = 1, tau = 2, p = 0.5, S/N = 0.5: 5 + 10 (1 x 2/0.5 + sqrt(2/(0.5 x 4))) + 2/0.5 + 2 x 0.5 x 1 x 100/5
    #   = 5 + 10 (4 + 1) + 4 + 20 = 79
    assert federated.iterations_bound(100, 4, 5, 2, 0.5, 1.0, 0.5) == pytest.approx(79.0)
    # more local steps never lower the bound; a worse consensus rate never lowers it either
    taus = np.array([1, 2, 4, 8, 16])
    assert np.all(np.diff(federated.iterations_bound(1e4, 8, 100, taus, 1.0, 0.5, 0.1)) > 0)
    assert federated.iterations_bound(1e4, 8, 100, 1, 0.01) > federated.iterations_bound(1e4, 8, 100, 1, 1.0)
    with pytest.raises(UsageError):
        federated.iterations_bound(100, 4, 5, 0)


# --- participation, deadlines and the day ---------------------------------------------------------
def test_deadline_quantile_of_one_step_is_the_shifted_exponential_quantile():
    # No stragglers (p = 0): T = t0 (1 + X), X ~ Exp(mean j): F(t) = 1 - exp(-(t/t0 - 1)/j), so the
    # q-quantile is t0 (1 + j ln(1/(1 - q))). t0 = 1 s, j = 0.1, q = 0.9: 1 + 0.1 ln 10 = 1.2302585 s.
    m = StepTimeModel(1.0, 0.1, 0.0, 1.0)
    assert quantile_of_sum(m, 1, 0.9) == pytest.approx(1.2302585, abs=3e-3)  # grid of t0/400


def test_deadline_quantile_of_h_steps_agrees_with_a_seeded_monte_carlo():
    m = StepTimeModel(2.0, 0.1, 0.05, 3.0)
    d = quantile_of_sum(m, 8, 0.8)
    sums = m.sample(np.random.default_rng(3), (20000, 8)).sum(axis=1)
    assert np.mean(sums <= d) == pytest.approx(0.8, abs=0.01)
    values, cdf = sum_distribution(m, 8)
    assert cdf[-1] == pytest.approx(1.0) and np.all(np.diff(cdf) >= -1e-15)
    assert federated.on_time_participants(500, 0.8) == pytest.approx(400.0)


def test_rounds_per_day_is_the_tightest_of_window_and_budgets():
    # window 3600 s / 100 s per round = 36 rounds; a 100 J budget at 10 J per participation, taking
    # part in half the rounds: 100 / (0.5 x 10) = 20 rounds -> 20.
    assert federated.rounds_per_day(3600.0, 100.0, [(10.0, 100.0)], 0.5) == pytest.approx(20.0)
    assert federated.rounds_per_day(3600.0, 100.0) == pytest.approx(36.0)
    assert federated.available_seconds(8) == 28800.0
    with pytest.raises(UsageError):
        federated.available_seconds(25)


def test_time_to_target_of_a_run_inside_one_window_is_rounds_times_round_time():
    # 556 rounds of 23.25 s in a 12 h window (43,200 / 23.25 = 1,858 rounds a day): the run ends 556 x 23.25 =
    # 12,927 s = 3.59 h after the window opens, not 556 / 1,858 of a day (= 7.18 h)
    f = federated.rounds_per_day(12 * 3600.0, 23.25)
    assert f == pytest.approx(1858.06, abs=0.01)
    assert federated.time_to_target_s(556, 23.25, f) == pytest.approx(12_927.0)
    assert 556 / f * 86400 == pytest.approx(7.18 * 3600, rel=1e-3)


def test_time_to_target_of_a_run_over_several_days_counts_whole_days_then_the_last_days_rounds():
    # 8 h window, 60 s rounds: 480 rounds a day. 1,000 rounds: ceil(1000 / 480) = 3 days of training; the first
    # two end when the next window opens (2 x 86,400 s), the third runs 1,000 - 960 = 40 rounds = 2,400 s:
    # 175,200 s (the per-day average, 1000 / 480 days = 180,000 s, overstates it)
    assert federated.time_to_target_s(1000, 60.0, 480.0) == pytest.approx(175_200.0)
    # exactly two days' rounds: one whole day, then a full second window (480 x 60 = 28,800 s): 115,200 s
    assert federated.time_to_target_s(960, 60.0, 480.0) == pytest.approx(115_200.0)
    # an energy budget caps the day at 100 rounds (6,000 s of the 8 h): 250 rounds -> 2 days + 50 x 60 s
    f = federated.rounds_per_day(8 * 3600.0, 60.0, [(10.0, 1000.0)], 1.0)
    assert f == pytest.approx(100.0)
    assert federated.time_to_target_s(250, 60.0, f) == pytest.approx(2 * 86_400 + 3_000.0)
    # rounds filling all 24 h: the wall clock is the per-day average (2.5 days)
    assert federated.time_to_target_s(2.5 * 1440, 60.0, 1440.0) == pytest.approx(2.5 * 86_400)
    # vectorised as the enumeration uses it
    got = federated.time_to_target_s(np.array([100, 1000]), np.array([60.0, 60.0]), np.array([480.0, 480.0]))
    assert got == pytest.approx([6_000.0, 175_200.0])
    with pytest.raises(UsageError, match="do not fit in a day"):
        federated.time_to_target_s(10, 60.0, 2000.0)
    with pytest.raises(UsageError):
        federated.time_to_target_s(-1, 60.0, 480.0)


# --- energy ------------------------------------------------------------------------------------------
def test_energy_by_hand():
    # nRF52840 active at 9.7 mW for 10 s = 0.097 J
    assert energy.compute_energy_j(0.0097, 10.0) == pytest.approx(0.097)
    # 1 KB out and 1 KB in over BLE at 15 nJ/bit: 2048 x 8 x 15e-9 = 2.4576e-4 J
    assert energy.transfer_energy_j(1024, 1024, 15e-9) == pytest.approx(2.4576e-4)
    # 0.59 Wh = 2124 J at 0.15 W lasts 2124 / 0.15 / 3600 = 3.933 h
    assert energy.battery_hours(2124.0, 0.15) == pytest.approx(3.9333, rel=1e-4)
    assert energy.average_power_w(86.4, 86400.0) == pytest.approx(0.001)


# --- a split inside the local group, against the shared cost model -----------------------------------
def _single_device_setup(track: str):
    from explorer.hardware.catalog import build_cluster

    from explorer.puzzles.sync.audit import make_setup
    from explorer.tracks import get_track

    t = get_track(track)
    s = make_setup(t)
    c = t.cluster
    return replace(s, cluster=build_cluster(c.accelerator.key, 1, 1, c.intra.key, c.inter.key))


@pytest.mark.parametrize("track", ["edge", "tiny"])
def test_unsplit_stage_is_the_cost_models_single_device_step(track):
    import explorer

    s = _single_device_setup(track)
    layers = s.model.layers
    whole, rest = placement.split_stages(layers, layers, layers)
    assert rest.empty and whole.head and whole.embedding
    for mb in (1, 4):
        e = explorer.estimate(track=track, gpus=1, dp=1, micro_batch=mb, global_batch=mb)
        assert placement.stage_time(s, whole, mb) == pytest.approx(e.step_time_s, rel=1e-12)
        assert placement.stage_memory(s, whole, mb)["total"] == e.memory_total


def test_split_conserves_parameters_and_trains_the_top_layers():
    s = _single_device_setup("tiny")  # 5 layers, tied embeddings
    m = s.model
    a, b = placement.split_stages(5, 3, 2)  # frozen layers 0-2 on A, trained 3-4 + head on B
    assert (a.layers, a.trainable, b.layers, b.trainable) == (3, 0, 2, 2)
    (ha, ta), (hb, tb) = placement.stage_params(s, a), placement.stage_params(s, b)
    # the tied head on B is a second copy of the V x h table (Megatron-LM)
    assert ha + hb == m.params + m.vocab * m.hidden
    assert ta == 0 and tb == 2 * m.layer_params + m.head_params + m.vocab * m.hidden
    # frozen weights read in place from flash: A keeps nothing of them in SRAM
    mem_a = placement.stage_memory(s, a, 1, frozen_in_flash=True)
    assert mem_a["weights"] == 0 and mem_a["flash"] == ha * 4
    # A's boundary goes up, and no gradient comes back below a frozen boundary
    sent, back = placement.split_transfer(s, a, b, 2, 10240.0)
    assert sent == 2 * 32 * 32 * 4 and back == 0.0
    with pytest.raises(UsageError):
        placement.split_stages(5, 6, 5)


def test_the_earbud_runs_its_gemms_at_its_measured_fraction_of_peak_not_a_gpus_rolled_off_one():
    """The earbud's Cortex-M4F is a scalar FPU: no SM tiles or waves for small GEMMs to under-fill, and its
    matmul_efficiency (a quarter of the FMA peak, CMSIS-NN) was measured on MCU-sized layers. Its h = 32 layer's
    GEMMs therefore run at exactly that quarter. On an H100 the same shapes pay the fitted tile roll-off: with
    sides of 32-128 and 32 tokens, n / (n + 218) and M / (M + 126) are each at most a fifth, so the GEMMs run under
    5 % of the H100's own figure."""
    from explorer.hardware.catalog import build_cluster

    from explorer.cost.efficiency import layer_gemm_efficiency

    s = _single_device_setup("tiny")
    acc = s.cluster.accelerator
    assert not acc.gemm_size_rolloff and acc.key == "nrf52840"
    tokens = s.seq_len  # one micro-batch of one sequence
    e = layer_gemm_efficiency(acc.matmul_efficiency, s.model, 1, tokens, s.gemm_efficiency_params)
    assert float(e) == pytest.approx(0.25, rel=1e-12)
    gpu = replace(s, cluster=build_cluster("h100", 1, 1, "nvlink4", "ib_ndr"))
    assert gpu.cluster.accelerator.gemm_size_rolloff and gpu.gemm_efficiency_params is gpu.efficiency
    e_gpu = layer_gemm_efficiency(gpu.cluster.accelerator.matmul_efficiency, s.model, 1, tokens,
                                  gpu.gemm_efficiency_params)
    assert float(e_gpu) < 0.05 * gpu.cluster.accelerator.matmul_efficiency



@pytest.mark.parametrize("part", ["nrf52840", "ar1", "phone_sd8g2"])
def test_attention_on_a_part_without_flashattention_runs_at_its_gemm_figure(part):
    """No FlashAttention build exists for a Cortex-M, the Hexagon NPU or a phone's Adreno GPU: QK^T and AV there are
    the same loops as the part's GEMMs, so the fused-attention rate is the part's matmul_efficiency, not the 45 %
    fitted on GPUs."""
    from explorer.hardware.catalog import build_cluster, get_accelerator

    from explorer.cost.efficiency import DEFAULT_EFFICIENCY

    acc = get_accelerator(part)
    s = replace(_single_device_setup("tiny"), cluster=build_cluster(part, 1, 1, "ble", "ble"))
    assert not acc.flash_attention_build
    assert s.attention_efficiency == acc.matmul_efficiency != DEFAULT_EFFICIENCY.attention_efficiency
