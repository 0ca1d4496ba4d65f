"""Lab 08 part 1: the training-memory waterfall and the memory audit (known answers derived by hand)."""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from pathlib import Path

import pytest
from explorer.models.architecture import DecoderModel

from explorer.cost import memory as mem
from explorer.cost import training_memory as tmem
from explorer.errors import InfeasibleError, UsageError
from explorer.puzzles import memory as pm
from explorer.puzzles.threed import make_setup
from explorer.tracks import get_track

ZERO_TABLE = Path("/work/shared/reference/zero_table1.csv")


def _setup(precision: str, optimizer: str = "adam", model: DecoderModel | None = None):
    s = make_setup(get_track("cloud"), precision=precision, optimizer=optimizer)
    return replace(s, model=model) if model is not None else s


def _states(precision: str, optimizer: str, zero: int = 0, dp: int = 1, model=None) -> tuple[int, int]:
    base = _setup(precision, "adam" if optimizer not in tmem.BASE_OPTIMIZERS else optimizer, model)
    L = base.model.layers
    choice = tmem.Choice(optimizer, precision, "full", 1, zero, False, L)
    s = tmem.training_setup(base, choice)
    w, g, o = mem.model_state_bytes(s, 1, 1, dp, 1, zero)
    return int(w + g + o), base.model.params


def test_adam_fp32_is_16_bytes_per_param_and_7b_needs_112_gb():
    # Hand: FP32 Adam = 4 (weights) + 4 (gradients) + 4 (m) + 4 (v) = 16 B/param; 7e9 x 16 = 112e9 B.
    b = pm.bytes_per_param("adam", "fp32")
    assert (b["weights"], b["gradients"], b["optimizer"], b["total"]) == (4, 4, 8, 16)
    assert 7e9 * b["total"] == 112e9
    total, params = _states("fp32", "adam")
    assert total == 16 * params


def test_mixed_precision_adam_is_16_bytes_per_param():
    # Hand: 2 (bf16 weights) + 2 (bf16 grads) + 4 (fp32 master) + 4 (m) + 4 (v) = 16 (ZeRO paper, K = 12).
    b = pm.bytes_per_param("adam", "bf16")
    assert (b["weights"], b["gradients"], b["optimizer"], b["total"]) == (2, 2, 12, 16)
    total, params = _states("bf16", "adam")
    assert total == 16 * params


@pytest.mark.parametrize("precision,optimizer,expected", [
    ("fp32", "sgd", 8),        # 4 + 4, no state
    ("fp32", "momentum", 12),  # 4 + 4 + 4 (momentum buffer)
    ("bf16", "sgd", 8),        # 2 + 2 + 4 (fp32 master only)
    ("bf16", "momentum", 12),  # 2 + 2 + 4 + 4
])
def test_sgd_and_momentum_bytes(precision, optimizer, expected):
    total, params = _states(precision, optimizer)
    assert total == expected * params


def test_8bit_adam_state_bytes():
    # Hand: 2 states x (1 byte + one fp32 absmax per 2048-value block) = 2 x (1 + 4/2048) = 2.00390625 B/param.
    m = get_track("cloud").workload.model
    assert tmem.state_bytes_per_trainable_param(m, "adam8bit", m.layers) == pytest.approx(2.00390625)


def test_factored_second_moment_is_tiny_for_big_matrices():
    # Hand: an 8192 x 28672 matrix keeps 8192 + 28672 = 36,864 values instead of 234.9M: < 0.001 B/param.
    m = get_track("cloud").workload.model
    assert tmem.state_bytes_per_trainable_param(m, "adafactor", m.layers) < 0.001


def test_zero_table_rows_within_2_percent():
    # ZeRO paper Table 1 (K = 12, 16 B/param): GB per GPU = (2 + 2 + 12/dp) psi (os), (2 + 14/dp) psi (os+g),
    # 16 psi / dp (os+g+p). Our waterfall on a model of P params, scaled to the table's psi.
    base = _setup("bf16", "adam")
    P = base.model.params
    rows = list(csv.DictReader(line for line in ZERO_TABLE.open() if not line.startswith("#")))
    assert rows
    for row in rows:
        dp = int(row["dp"])
        for psi_name, psi in (("7.5B", 7.5e9), ("128B", 128e9), ("1T", 1e12)):
            for zero, col in ((1, "os"), (2, "os_g"), (3, "os_g_p")):
                total, _ = _states("bf16", "adam", zero=zero, dp=dp)
                ours = total / P * psi / 1e9
                text = row[f"{psi_name}_{col}"]
                # the table prints 2-4 significant digits (16 x 7.5 / 1024 = 0.117 is printed 0.12): allow half
                # a unit of the last printed digit besides the 2%
                half_unit = 0.5 * 10 ** -len(text.split(".")[1]) if "." in text else 0.5
                assert ours == pytest.approx(float(text), rel=0.02, abs=half_unit), (psi_name, col, dp)


def test_table_terms_add_up_to_the_waterfall():
    """The CP-SAT tables depend only on the dims they name: their sum equals the direct waterfall."""
    inst = pm.make_instance("mobile")
    prob = pm.build_problem(inst)
    rng = random.Random(0)
    for _ in range(25):
        idx = {d: rng.randrange(len(v)) for d, v in inst.dims.items()}
        c = tmem.Choice(**{d: inst.dims[d][i] for d, i in idx.items()})
        wf = tmem.waterfall(inst.base, inst.layout, c)
        total = sum(prob.term_value(t, idx) for t in ("weights", "gradients", "optimizer", "activations", "buffers"))
        assert total == wf["total"]


# edge 0.32 GB and tiny 0.17 MB: just above the leanest choice that still trains a layer (311 MB, 162 KB)
@pytest.mark.parametrize("track,limit_gb", [("edge", 0.5), ("edge", 0.32), ("mobile", None), ("mobile", 0.3),
                                            ("tiny", None), ("tiny", 0.17e-3)])
def test_cpsat_equals_exhaustive(track, limit_gb):
    res = pm.solve_memory(track, memory_limit_gb=limit_gb)
    assert (res.best is None) == (res.exhaustive_best is None)
    assert res.best == res.exhaustive_best
    if res.best is not None:
        assert res.status == "optimal"


def test_mobile_adam_does_not_fit_and_the_answer_does():
    # Hand: 51,748,864 params x 16 B (mixed Adam) = 828 MB of states alone > 512 MB.
    rep = pm.solve("mobile")
    assert rep.figure("baseline_total") > 512e6
    assert 51_748_864 * 16 > 512e6
    cfg = rep.extra["configuration"]
    assert cfg["optimizer"] != "adam" or cfg["trainable_layers"] < 6
    assert rep.figure("optimum_total") <= 512e6
    assert rep.extra["exhaustive_check"]["agrees"]


def test_tiny_fits_256kb_sram_and_flash():
    # Hand: 256 KB = 262,144 B, 3/4 usable -> 196,608 B of SRAM; 600,000 B of flash for frozen weights.
    rep = pm.solve("tiny")
    assert rep.figure("memory_limit") == 196_608
    assert rep.figure("optimum_total") <= 196_608
    flash = next(c for c in rep.constraints if c.name == "flash for frozen weights")
    assert flash.value <= 600_000


def test_edge_fits_without_changes():
    # Hand: 86.0M params x 16 B = 1.38 GB + activations << 16 GB usable (half of 32 GB).
    rep = pm.solve("edge")
    assert rep.extra["changes"] == []
    assert rep.figure("optimum_total") < 16e9


def test_attempts():
    assert pm.ATTEMPT_VARIABLES[0] == "optimizer"
    rep = pm.solve("mobile")
    v = pm.evaluate_attempt(rep.extra["configuration"], "mobile")
    assert v["feasible"] and v["objective"] == pytest.approx(rep.extra["objective"]["value"])
    start = {"optimizer": "adam", "precision": "fp16", "recompute": "none", "micro_batch": 8, "zero": 0,
             "offload": False, "trainable_layers": 6}
    bad = pm.evaluate_attempt(start, "mobile")
    assert not bad["feasible"] and bad["violations"][0].name == "device memory"
    with pytest.raises(UsageError):
        pm.evaluate_attempt({**start, "optimizer": "lion"}, "mobile")


def test_bad_inputs():
    with pytest.raises(UsageError):
        pm.solve("mobile", memory_limit_gb=-1)
    with pytest.raises(UsageError):
        pm.solve("mobile", batch=0)


def test_nothing_fits_names_the_constraint():
    # Hand: the tiny model's head alone (64 x 32 tied embedding + final norm = 2,112 params) in fp16 with its
    # fp32 master and SGD is 2,112 x (2 + 2 + 4) = 16.9 KB before activations: 10 KB cannot hold it.
    with pytest.raises(InfeasibleError) as exc:
        pm.solve("tiny", memory_limit_gb=10e-6)
    assert exc.value.conflicts == ["device memory"]
    assert "\n" not in str(exc.value)


def test_nf4_double_quantisation_bits_per_parameter():
    # Hand (Dettmers et al. 2023, sec. 3): NF4 values (4 bits) + an 8-bit absmax per block of 64 (8/64 = 0.125)
    # + an fp32 constant per 256 absmaxes (32 / (64 x 256) = 0.00195) = 4.127 bits; the paper's "0.127 bits per
    # parameter" of quantisation constants after double quantisation.
    assert tmem.NF4_BITS_PER_PARAM == pytest.approx(4.127, abs=5e-4)
    assert tmem.NF4_BITS_PER_PARAM - 4 == pytest.approx(0.127, abs=5e-4)


def test_lora_and_qlora_bytes_on_llama3_70b():
    # Hand: rank-64 adapters on every linear map of a Llama-3-70B layer: r (d_in + d_out) summed over
    # q, o (8192 + 8192), k, v (8192 + 1024) and gate, up, down (8192 + 28672) = 64 x 161,792 = 10,354,688 per
    # layer, x 80 = 828,375,040 adapter parameters. QLoRA, one GPU, no ZeRO: the base 70,553,706,496 x 4.127 / 8
    # = 36.40 GB + the bf16 adapters 828,375,040 x 2 = 1.66 GB of weights; gradients 1.66 GB; optimizer state
    # (fp32 master + m + v) 828,375,040 x 12 = 9.94 GB. LoRA keeps the base in bf16: 141.1 GB.
    base = _setup("bf16")
    assert tmem.adapter_params(base.model, 80, 64) == 828_375_040
    layout = tmem.Layout(1, 1, 1, 1)
    q = tmem.waterfall(base, layout, tmem.Choice("adam", "bf16", "full", 1, 0, False, 80, "qlora", 64))
    assert q["weights"] == pytest.approx(70_553_706_496 * 4.127 / 8 + 828_375_040 * 2, rel=1e-3)
    assert q["gradients"] == pytest.approx(828_375_040 * 2, rel=1e-6)
    assert q["optimizer"] == pytest.approx(828_375_040 * 12, rel=1e-6)
    lo = tmem.waterfall(base, layout, tmem.Choice("adam", "bf16", "full", 1, 0, False, 80, "lora", 64))
    assert lo["weights"] == pytest.approx(70_553_706_496 * 2 + 828_375_040 * 2, rel=1e-6)
    # QLoRA's headline: a 65B model fine-tunes on one 48 GB GPU (Dettmers et al. 2023, abstract): the 70B's
    # 4-bit weights, adapter state and one 8K sequence with full recomputation fit in 72 GB; LoRA's do not.
    assert q["total"] < 72e9 < lo["total"]


def test_adapted_layers_skip_their_weight_gradients():
    # Hand, without recomputation: forward 1 + backward 2 (input gradient 1, weight gradient 1) per layer; adapters
    # drop the weight gradient: (L + L) / 3L = 2/3 of full fine-tuning; adapters on the top 40 of 80, the rest frozen
    # below (forward only): (40 x 2 + 40 x 1) / 240, plus the adapters' 3 passes at 1% of a layer's weight GEMMs
    # (1 unit each) on 40 layers. With recomputation: tests/test_memory_adapter_compute.py.
    passes = (1.0, 0.0, 1.0, 1.0)  # forward, recompute, input gradient, weight gradient
    assert tmem.frozen_compute_factor(80, 80, "lora", passes) == pytest.approx(2 / 3)
    assert tmem.frozen_compute_factor(80, 80, "none", passes) == pytest.approx(1.0)
    assert tmem.frozen_compute_factor(80, 40, "qlora", passes, adapter_ratio=0.01) == pytest.approx(
        (120 + 40 * 3 * 0.01) / 240)


def test_cloud_fit_search_offers_lora_and_qlora_and_proves_its_answer():
    res = pm.solve_memory("cloud")
    assert res.status == "optimal" and res.best == res.exhaustive_best
    assert res.best.adapter in ("lora", "qlora") and not res.best.offload
    rep = pm.build_report(res)
    assert "adapters" in rep.headline and "LoRA" in rep.headline
    assert {r[0] for r in rep.tables["by_adapter"].rows} == {"none", "lora", "qlora"}
    three = next(f.answer for f in rep.findings if "3x the weights bar" in f.question)
    # Hand: FP32 Adam 8 / 4 = 2x; mixed 12 / 2 = 6x; 3x = 12 B of fp32 master + m + v over 4 B of fp32 weights.
    assert "= 2x" in three and "= 6x" in three and "12 B" in three and "4 B" in three
    # adapters on no layer train nothing: never offered as an answer
    for row in rep.tables["by_trainable_layers"].rows:
        assert "top 0 of" not in row[1]


def test_cloud_tables_match_the_direct_waterfall_and_step():
    inst = pm.make_instance("cloud")
    prob = pm.build_problem(inst)
    unit = pm.base_step_time(inst)
    rng = random.Random(3)
    for _ in range(25):
        idx = {d: rng.randrange(len(v)) for d, v in inst.dims.items()}
        c = pm._choice(inst, idx)
        wf = tmem.waterfall(inst.base, inst.layout, c)
        assert prob.score(idx)["constraints"]["device memory"][0] == wf["total"]
        t_main, t_opt = tmem.step_time_parts(inst.base, inst.layout, c)
        assert abs(prob.score(idx)["time"] - (t_main + t_opt) / unit * pm.TIME_UNITS) <= 2


def test_the_training_setup_keeps_the_software_stack_of_its_base():
    # lab 08's memory and batch parts cost a step on a TrainingSetup built from the track's Setup: its stack
    # (attention kernel, fused kernels, gradient dtype, TP overlap ...) must carry over, or the batch part's
    # "MFU as started" disagrees with the 3D puzzle's crisis configuration on the same track
    import explorer
    from explorer.cost.step import estimate

    base = replace(make_setup(get_track("cloud")), fused_kernels=False, grad_reduce_dtype="bf16")
    assert base.attention_kernel == "cudnn"  # Megatron-LM on H100 (frameworks.attention_kernel_default)
    choice = tmem.Choice("adam", "bf16", "selective", 2, 1, False, base.model.layers)
    s = tmem.training_setup(base, choice)
    for f in ("attention_kernel", "fused_kernels", "grad_reduce_dtype", "tp_comm_overlap", "selective_policy",
              "loss_bytes_per_logit", "fused_projections"):
        assert getattr(s, f) == getattr(base, f), f
    t = get_track("cloud")
    crisis = estimate(make_setup(t), t.crisis_plan).mfu
    batch = explorer.solve("batch", track="cloud").figures["crisis_mfu"].value
    # (the lab's own optimizer-pass model moves it by 1e-5; with FlashAttention-2's rate instead, 30.9 against 34.8 %)
    assert batch == pytest.approx(crisis, rel=1e-4)


def test_the_stated_objective_is_the_one_the_solver_optimises():
    """The search minimises, in order, max(time-to-quality, the start's), then the number of changes
    (explorer/solvers/choice_tables.py). On edge the model fits as started and a 2-change fit (8-bit Adam, the
    bottom 3 of 12 layers frozen) is faster: both are charged the start's time, so the fewer changes win. The
    question used to say 'cheapest set of changes (minimising the throughput lost)' and grading the faster fit said
    it 'beats the optimum'. (This test ran on cloud, where QLoRA fits looked 7.8-9.7% faster than the start only
    because adapted layers were charged 2/3 of a compute time that held the recompute: priced pass by pass, no cloud
    fit is faster than the start, tests/test_memory_adapter_compute.py.)"""
    import dataclasses

    from explorer.solvers.choice_tables import solve_exhaustive

    res = pm.solve_memory("edge")
    rep = pm.build_report(res)
    prob = res.problem
    u = prob.notes["unit_s"]
    start = prob.score({d: res.inst.dims[d].index(getattr(res.inst.baseline, d)) for d in res.inst.dims})
    t_start = start["time"] * start["quality"] * u / pm.MILLI
    fast_idx, _ = solve_exhaustive(dataclasses.replace(prob, floor=0))
    fast = prob.score(fast_idx)
    assert fast["time"] * fast["quality"] * u / pm.MILLI < t_start  # a faster fit exists ...
    assert fast["changes"] > len(rep.extra["changes"])  # ... with more changes, and it is not the answer
    q = next(f for f in rep.findings if "make the model fit" in f.question)
    assert "losing the least time-to-quality" in q.question and "the fewest" in q.question
    assert "cheapest" not in q.question.lower()
    assert rep.extra["objective"] == {"name": "time_to_quality_charged_s", "value": pytest.approx(t_start),
                                      "sense": "min"}
    # the faster fit, graded: at the optimum on the first level (charged the start's time), not 'beats it'
    fast_row = {d: res.inst.dims[d][i] for d, i in fast_idx.items()}
    v = pm.evaluate_attempt(fast_row, "edge")
    assert v["feasible"] and v["objective"] == pytest.approx(t_start)
    assert v["figures"]["time_to_quality_s"].value < t_start


def test_adapters_are_offered_as_a_fine_tuning_fix_and_said_to_be_one():
    """LoRA / QLoRA reach full fine-tuning's quality in as many steps when fine-tuning (Hu et al. 2021; Dettmers et
    al. 2023 Tables 3-4), not in pre-training (Biderman et al. 2024, arXiv 2405.09673): the scenario offers them
    only for the cloud memory job, Llama-3-70B fine-tuned on one DGX H100 node (lab08_training.toml [cloud]), and
    the report says the task and that adapters are no fix for a pre-training run."""
    from explorer.puzzles.training_scenario import scenario

    assert "fine-tuned" in scenario("cloud").source
    for track in ("edge", "mobile", "tiny"):  # no adapters where the scenario does not offer them
        assert pm.make_instance(track).dims["adapter"] == ["none"]
    rep = pm.solve("cloud")
    assert rep.headline.startswith("Fine-tuning Llama-3-70B")
    q = next(f.answer for f in rep.findings if "make the model fit" in f.question)
    assert "QLoRA" in q and "not for pre-training" in q and "Biderman et al. 2024" in q
