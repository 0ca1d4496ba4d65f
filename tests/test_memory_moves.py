"""The memory audit's move set and its explanations (sweep B D-mem-2, sweep A item 11). Hand derivations below."""

from dataclasses import replace

import pytest

from explorer.cost import training_memory as tmem
from explorer.errors import InfeasibleError
from explorer.puzzles import memory as M


@pytest.fixture(scope="module")
def cloud():
    return M.make_instance("cloud")


def test_fp16_and_bf16_weigh_the_same_in_every_term(cloud):
    # both are 16-bit formats (IEEE binary16: 1 + 5 + 10 bits; bfloat16: 1 + 8 + 7 bits): 2 B per weight, gradient
    # and activation, beside the same FP32 master (4 B) and Adam moments (8 B). Llama-3-70B, 70,553,706,496 params:
    # weights 141.1 GB either way; FP32 doubles them to 282.2 GB
    bf16 = tmem.waterfall(cloud.base, cloud.layout, cloud.baseline)
    fp16 = tmem.waterfall(cloud.base, cloud.layout, replace(cloud.baseline, precision="fp16"))
    fp32 = tmem.waterfall(cloud.base, cloud.layout, replace(cloud.baseline, precision="fp32"))
    assert bf16 == fp16
    assert bf16["weights"] == 70_553_706_496 * 2 and fp32["weights"] == 70_553_706_496 * 4


def test_a_switch_between_16_bit_formats_is_not_a_memory_move(cloud):
    # cloud starts in bf16: fp16 saves nothing, so it is not searched (its risk, P(NaN), is the batch puzzle's)
    assert cloud.dims["precision"] == ["bf16", "fp32"]
    assert cloud.same_bytes == {"fp16": "bf16"}
    assert cloud.precisions == ("bf16", "fp32", "fp16")  # the waterfall table still shows all three
    for track, searched, same in (("edge", ["fp16", "fp32"], {"bf16": "fp16"}),
                                  ("mobile", ["fp16", "fp32"], {"bf16": "fp16"}),
                                  ("tiny", ["fp32", "fp16"], {})):  # tiny: fp32 -> fp16 halves 4 B to 2 B, a move
        inst = M.make_instance(track)
        assert (inst.dims["precision"], inst.same_bytes) == (searched, same), track


@pytest.mark.parametrize("order", [["fp32", "bf16", "fp16"], ["fp32", "fp16", "bf16"]])
def test_from_fp32_the_16_bit_move_is_the_wider_range_one(cloud, order):
    # from an FP32 start both 16-bit formats halve the same terms; bf16 keeps FP32's exponent range (max ~3.4e38
    # against fp16's 65,504), so it is the one searched, whatever the order the track lists them in
    start = replace(cloud.baseline, precision="fp32")
    searched, same = M.precision_moves(cloud.base, cloud.layout, start, order)
    assert searched == ["fp32", "bf16"] and same == {"fp16": "bf16"}


def test_cloud_answer_changes_no_precision():
    res = M.solve_memory("cloud", check=False)
    assert res.best.precision == "bf16"
    report = M.build_report(res)
    assert not any(c.startswith("precision") for c in report.extra["changes"])
    assert any("precision bf16 -> fp16 is not searched" in a.text for a in report.assumptions)


def test_an_fp16_attempt_on_cloud_is_graded_outside_with_the_reason():
    r = M.evaluate_attempt({"precision": "fp16"}, track="cloud")
    assert r["outside_space"] == ["precision = fp16 is outside the searched space, precision in bf16, fp32 (fp16 keeps "
                                  "every term of the waterfall in the bytes bf16 does: no memory change)"]


def test_infeasible_message_names_a_fine_tuning_not_adapters_on_no_layer():
    with pytest.raises(InfeasibleError) as e:
        M.solve_memory("cloud", memory_limit_gb=1, check=False)
    msg = str(e.value)
    assert "top 0 of" not in msg and "device memory: even the leanest choice" in msg
    assert "on the top 20 of 80 layers" in msg  # the least adapted depth offered (a quarter of 80)


def test_tiny_no_layer_reason_comes_from_the_terms_that_exceed():
    # tiny (sgd fp32, micro-batch 1, full recompute): a one-layer model of width 32 (FFN 128, 32 tokens):
    # layer = 4 x 32^2 (q, k, v, o) + 2 x 32 x 128 (MLP) + 416 biases and norms = 12,704; ends = 64 x 32 tied
    # embedding + 32 x 32 positions + 64 final norm = 3,136; 15,840 params x 4 B = 63,360 B of weights and as much
    # of gradients (SGD: no state); the checkpointed layer input 32 x 32 x 4 B = 4,096 B; the working buffers
    # 73,728 B: the layer's activations rebuilt for its backward (65,536 B, less the checkpointed input it runs
    # from: 61,440 B) + the loss's logits (12,288 B).
    # 63,360 x 2 + 4,096 + 73,728 = 204,544 B > 196,608 B (192 KiB usable); the ends alone, 3,136 x 8 B = 25,088 B,
    # fit eight times over, so 'not even the embedding and output head fit' would be false
    assert 4 * 32 ** 2 + 2 * 32 * 128 + 416 + 3136 == 15_840
    assert 65_536 - 4_096 + 12_288 == 73_728 and 2 * 15_840 * 4 + 4096 + 73_728 == 204_544
    res = M.solve_memory("tiny", check=False)
    report = M.build_report(res)
    text = next(f.answer for f in report.findings if f.question.startswith("What is the largest model"))
    assert "Not even the embedding" not in text
    assert "A one-layer model needs 205 kB > 197 kB: working buffers 73.7 kB" in text
    assert "weights 63.4 kB + gradients 63.4 kB + stored activations 4.1 kB" in text
    assert "(3,136 params x 8 B = 25.1 kB) fit" in text


def test_mobile_keeps_the_true_not_even_the_ends_reason():
    # mobile (adam fp16, 16 B/param): the ends alone, 32,834,560 params x 16 B = 525 MB > 512 MB
    assert 32_834_560 * 16 > 512e6
    report = M.build_report(M.solve_memory("mobile", check=False))
    text = next(f.answer for f in report.findings if f.question.startswith("What is the largest model"))
    assert "Not even the embedding and output head fit: 32,834,560 params x 16 B = 525 MB > 512 MB." in text
