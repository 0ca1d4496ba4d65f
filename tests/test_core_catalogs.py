"""Catalogs: parameter counts derived from shapes agree with the published counts (within 1%)."""

import pytest
from explorer.hardware import get_accelerator, get_link
from explorer.models import get_model, model_names
from explorer.models.architecture import gpt_megatron_flops_per_iteration


@pytest.mark.parametrize("name", [n for n in model_names() if get_model(n).published_params])
def test_param_count_matches_publication(name):
    m = get_model(name)
    assert abs(m.params / m.published_params - 1) < 0.01


def test_llama3_70b_by_hand():
    # Per layer: Q,O 2 x 8192^2 = 134,217,728; K,V 2 x 8192 x 1024 = 16,777,216;
    # SwiGLU 3 x 8192 x 28672 = 704,643,072; two RMSNorms 16,384 -> 855,654,400.
    # 80 layers = 68,452,352,000; embedding + untied head 2 x 128,256 x 8192 = 2,101,346,304; final norm 8192.
    assert get_model("llama3_70b").params == 68_452_352_000 + 2_101_346_304 + 8192


def test_h100_peak_is_dense_bf16():
    # CONVENTIONS: H100 SXM BF16 dense 989 TFLOP/s (not 1979 with sparsity); A100 312.
    assert get_accelerator("h100").peak("bf16") == pytest.approx(989.4e12)
    assert get_accelerator("a100").peak("bf16") == pytest.approx(312e12)


def test_link_units_converted_once():
    # NDR 400 Gb/s = 50 GB/s per direction; NVLink 4: 900 GB/s aggregate = 450 GB/s per direction.
    assert get_link("ib_ndr").bandwidth == pytest.approx(50e9)
    assert get_link("nvlink4").bandwidth == pytest.approx(450e9)


def test_gpt3_flops_per_iteration_megatron_form():
    # Megatron (Korthikanti et al. 2022): 72 B s L h^2 (1 + s/(6h) + V/(12 h L)) for a GPT shape.
    # GPT-3 175B, B = 1536, s = 2048, L = 96, h = 12288, V = 50257:
    #   72 x 1536 x 2048 x 96 = 21,743,271,936; x 12288^2 (150,994,944) = 3.28312e18;
    #   1 + 2048/73728 + 50257/14155776 = 1.031328 -> 3.38597e18 FLOPs per iteration (no recompute).
    m = get_model("gpt3")
    ours = m.model_flops_per_token(2048) * 1536 * 2048
    assert ours == pytest.approx(3.38597e18, rel=1e-4)
    assert ours == pytest.approx(gpt_megatron_flops_per_iteration(1536, 2048, 96, 12288, 50257), rel=1e-9)
    # full recompute: 96 B s L h^2 (1 + s/(6h) + V/(16 h L)) (Narayanan et al. SC'21 eq. 3)
    hw = (m.model_flops_per_token(2048) + m.recompute_flops_per_token(2048, "full")) * 1536 * 2048
    assert hw == pytest.approx(gpt_megatron_flops_per_iteration(1536, 2048, 96, 12288, 50257, True), rel=1e-9)
