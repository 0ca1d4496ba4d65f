"""The MFU each published run implies (validate.RowResult.measured_mfu) and the 'beyond the evidence' line a plan
faster than every published run of a model of its size gets (accuracy.ceiling_line)."""

from __future__ import annotations

import pytest

from explorer import accuracy
from explorer.validate import load_table, validate

# NVIDIA H100 Tensor Core GPU datasheet: H100 SXM dense BF16 989.4 TFLOP/s (1,979 with sparsity)
H100_SXM_BF16_PEAK = 989.4e12


@pytest.fixture(scope="module")
def results():
    return validate(out_of_sample=False)


def test_a_model_tflops_table_implies_published_over_peak(results):
    # llama3_table4 publishes model TFLOP/s per GPU (Meta's count, which the model's FLOP count follows: PaLM's 6N plus
    # attention over the full s x s), so the MFU a row implies is that figure over the H100's dense BF16 peak
    table = next(t for t in results if t.key == "llama3_table4")
    assert load_table("llama3_table4")[0]["metric"] == "model_tflops_per_gpu"
    for r in table.rows:
        assert r.measured_mfu == pytest.approx(r.published * 1e12 / H100_SXM_BF16_PEAK, rel=1e-3), r.label


def test_memory_rows_imply_no_mfu(results):
    for t in results:
        if t.kind == "memory" or load_table(t.key)[0].get("metric") == "peak_memory_gib":
            assert all(r.measured_mfu == 0 for r in t.rows), t.key


def _highest(results, family: str, low: float, high: float) -> float:
    """The highest MFU a 16-bit run of a model of low..high parameters on `family` implies, straight from validate."""
    best = 0.0
    for t in results:
        spec = load_table(t.key)[0]
        if t.kind != "throughput" or accuracy.FAMILY_OF.get(spec["accelerator"]) != family:
            continue
        for r in t.rows:
            if r.precision != "fp8" and low <= r.params <= high:
                best = max(best, r.measured_mfu)
    return best


def test_the_line_says_so_only_above_every_comparable_run(results):
    params = 175e9  # GPT-3 175B on A100: every comparable run is within a factor CEILING_SPAN of its size
    top = _highest(results, "Ampere", params / accuracy.CEILING_SPAN, params * accuracy.CEILING_SPAN)
    assert 0.3 < top < 0.7  # published 175B-class A100 runs: Megatron-LM, NeMo, MegaScale at 40-56 % MFU
    assert accuracy.ceiling_line(top - 0.002, "a100_80gb", "bf16", params) == ""
    line = accuracy.ceiling_line(top + 0.002, "a100_80gb", "bf16", params)
    # accuracy.json stores each MFU to 4 places
    assert line.startswith("Beyond the evidence:") and f"{round(top, 4):.1%}" in line and "Ampere" in line
    # the FP8 runs are another precision class: no FP8 run on Ampere, so nothing to compare with
    assert accuracy.ceiling_line(0.99, "a100_80gb", "fp8", params) == ""


def test_no_line_where_no_published_run_of_that_size_or_part_exists():
    assert accuracy.ceiling_line(0.99, "h100_sxm", "bf16", 5e13) == ""  # a 50T model: no run within 2x
    assert accuracy.ceiling_line(0.99, "orin_agx", "fp16", 86e6) == ""  # no reference table on the part


def test_solve_3d_says_when_its_optimum_is_beyond_every_published_run():
    # the review's case: GPT-3 175B on 1,024 A100s, whose optimum (no recompute, TP 4) is faster than any published
    # 175B-class A100 run; and the cloud track's default (Llama 3 70B on H100), whose optimum is within them
    from explorer.puzzles.threed import solve_3d

    res = solve_3d("cloud", model="gpt3_175b", gpu="a100_80gb", gpus=1024, global_batch=1536, top=1)
    said = [a.text for a in res.report.assumptions if a.text.startswith("Beyond the evidence")]
    assert len(said) == 1 and f"MFU {res.best.mfu:.1%}" in said[0]
    res = solve_3d("cloud", top=1)
    assert not any(a.text.startswith("Beyond the evidence") for a in res.report.assumptions)


def test_estimate_says_it_too_and_only_above_the_runs():
    import explorer

    fast = explorer.estimate(model="gpt3_175b", gpu="a100_80gb", gpus=1024, global_batch=1536, tp=4, pp=8, cp=2,
                             micro_batch=3, virtual_stages=6, zero=1)
    said = [a.text for a in fast.assumptions() if a.text.startswith("Beyond the evidence")]
    assert len(said) == 1 and f"MFU {fast.mfu:.1%}" in said[0]
    crisis = explorer.estimate(tp=8, pp=8, dp=16, micro_batch=2)  # the cloud crisis plan: 34.9 % MFU
    assert not any(a.text.startswith("Beyond the evidence") for a in crisis.assumptions())
