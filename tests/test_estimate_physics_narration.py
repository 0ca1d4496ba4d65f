"""The estimate's narration is true for the plan it describes: the loss line without a pipeline, the ZeRO stage with
nothing to shard over, the selective-recompute line only where the plan recomputes selectively."""

import explorer


def _texts(e) -> list[str]:
    return [a.text for a in e.assumptions()]


def test_loss_line_without_a_pipeline():
    e = explorer.estimate(model="llama3_8b", gpus=1, global_batch=4)
    line = next(t for t in _texts(e) if t.startswith("Loss memory"))
    assert "last pipeline stage" not in line and "micro-batch in flight (no pipeline" in line


def test_loss_line_with_a_pipeline_counts_its_ends():
    """1F1B at PP 4 with 16 micro-batches: the first rank holds min(p, m) = 4 micro-batches, the last 1 (SC'21
    sec. 2.2); with one micro-batch both hold 1."""
    e = explorer.estimate(tp=8, pp=4)
    assert e.plan.num_micro_batches == 16
    line = next(t for t in _texts(e) if t.startswith("Loss memory"))
    assert "holds 1 micro-batch in flight to the first's 4" in line
    one = explorer.estimate(tp=8, pp=4, global_batch=32)
    line = next(t for t in _texts(one) if t.startswith("Loss memory"))
    assert "as many micro-batches in flight as the first, 1" in line


def test_one_gpu_takes_no_zero_stage_from_the_track():
    """The cloud track's crisis plan is ZeRO-1; on one GPU (DP x CP = 1) it would shard nothing, so the estimate keeps
    Megatron-LM's own ZeRO-0 and says nothing of ZeRO; on two GPUs (DP 2) the track's stage applies."""
    e = explorer.estimate(gpus=1, global_batch=4)
    assert e.plan.zero == 0 and "zero" not in e.from_track and "ZeRO-0" in e.plan.describe()
    assert not any("ZeRO-1" in t for t in _texts(e))
    two = explorer.estimate(gpus=2, global_batch=4)
    assert two.plan.zero == 1 and two.from_track.get("zero") == 1


def test_a_zero_stage_asked_for_on_one_rank_is_said_to_shard_nothing():
    e = explorer.estimate(gpus=1, global_batch=4, zero=1)
    assert e.plan.zero == 1
    assert any(t.startswith("ZeRO-1 with DP x CP = 1 shards nothing") for t in _texts(e))
    assert e.memory == explorer.estimate(gpus=1, global_batch=4, zero=0).memory


def test_selective_line_follows_the_plans_recompute():
    none = explorer.estimate(model="llama3_8b", gpus=8, tp=8, global_batch=8)
    assert none.plan.recompute == "none"
    assert not any(t.startswith("Selective recompute") for t in _texts(none))
    sel = explorer.estimate(model="llama3_8b", gpus=8, tp=8, global_batch=8, recompute="selective")
    line = next(t for t in _texts(sel) if t.startswith("Selective recompute"))
    assert "(where chosen)" not in line
    full = explorer.estimate(model="llama3_8b", gpus=8, tp=8, global_batch=8, recompute="full")
    assert not any(t.startswith("Selective recompute") for t in _texts(full))
