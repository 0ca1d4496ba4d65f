"""The two bubble figures of an estimate: the schedule's idealised share of idle chunk slots (bubble_fraction, the
headline and the 3D puzzle's limit) and the share of the step's time the bubble takes (bubble_time_share), both
stated in the assumptions."""

import pytest

import explorer


def test_bubble_figures_of_a_pipeline_paced_by_its_output_layer():
    """Llama 3 8B on 64 H100s at TP 2, PP 8, global batch 32: DP 4, m = 8, so 7 of 15 chunk slots idle, 7/15 =
    46.7 % (SC'21 sec. 2.2, (p - 1)/(m + p - 1)). The bubble's time is 7 fill chunks of 4 layers without the output
    layer, while the 8 steady chunks run at the pace of the last rank, which has the 128,256-wide output layer too:
    t_step = 8 t_chunk + 7 t_fill + sync + optimizer > 15 t_fill, so the time share is below 7/15."""
    e = explorer.estimate(model="llama3_8b", gpus=64, tp=2, pp=8, global_batch=32)
    assert e.plan.num_micro_batches == 8
    assert e.bubble_fraction == pytest.approx(7 / 15)
    assert e.bubble_time_share == pytest.approx(e.time["bubble"] / e.step_time_s, rel=1e-12)
    assert e.bubble_time_share < 7 / 15 - 0.05
    said = [a.text for a in e.assumptions() if a.text.startswith("Pipeline bubble")]
    assert len(said) == 1
    assert "46.7%" in said[0] and f"{e.bubble_time_share:.1%}" in said[0]
    assert f"{e.time['bubble']:.4f} s" in said[0] and f"{e.step_time_s:.4f} s" in said[0]
    assert "bubble_time_share" in e.as_dict()


def test_no_pipeline_no_bubble_line():
    e = explorer.estimate(model="llama3_8b", gpus=8, tp=8, global_batch=8)
    assert e.bubble_fraction == 0 and e.bubble_time_share == 0
    assert not [a for a in e.assumptions() if a.text.startswith("Pipeline bubble")]


def test_the_solvers_bubble_limit_reads_the_idealised_fraction():
    """The 3D puzzle's 'bubble <= 10%' constraint is 10 (p - 1) <= v m + p - 1 (docs/conventions.md 'Pipeline
    bubble'): its report's bubble row is the plan's bubble_fraction, not the time share."""
    res = explorer.solve_3d("cloud", top=1)
    row = next(c for c in res.report.constraints if c.name == "bubble fraction")
    assert row.value == pytest.approx(res.best.bubble_fraction)
    p, v, m = res.best.plan.pp, res.best.plan.virtual_stages, res.best.plan.num_micro_batches
    assert res.best.bubble_fraction == pytest.approx((p - 1) / (v * m + p - 1))
