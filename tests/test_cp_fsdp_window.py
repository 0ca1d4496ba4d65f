"""Context parallelism beside per-layer sharded data parallelism (review D, item 2). The CP ring hides behind the
attention; FSDP's prefetched gathers and reduce-scatters hide behind the whole layer. Each exposure used to take
the attention as its own window, so with both exposed the layer cost about ring + gathers - attention, and a
faster attention kernel, or a faster GPU, made the step slower (cuDNN 11.13 s against Triton's 10.36 s; B200
25.44 s against H100's 25.15 s). Two transfers hidden behind compute C last at least max(C, A + B) on one link and
max(C, A, B) on two: both never grow as C shrinks. So a faster kernel may never lengthen a step."""

from __future__ import annotations

import pytest

import explorer

PLAN = dict(model="llama3_8b", gpus=64, global_batch=128, seq_len=8192, framework="fsdp", zero=2, tp=2, cp=8,
            recompute="full", network="ib_hdr", tp_comm_overlap=False)


@pytest.mark.parametrize("tp, cp", [(2, 8), (2, 4)])  # the ring across nodes (16 ranks) and inside one (8)
def test_a_faster_attention_kernel_never_lengthens_the_step(tp, cp):
    runs = [explorer.estimate(**{**PLAN, "tp": tp, "cp": cp}, attention_kernel=k)
            for k in ("cudnn", "flash2", "flash1", "triton")]
    by_compute = sorted(runs, key=lambda e: e.time_s["compute"])
    assert by_compute[0].time_s["compute"] < by_compute[-1].time_s["compute"]  # the kernels do differ
    steps = [e.step_time_s for e in by_compute]
    assert steps == sorted(steps), steps


def test_a_faster_gpu_never_lengthens_the_step():
    plan = dict(model="llama3_8b", gpus=256, global_batch=256, seq_len=32768, framework="megatron", zero=3, tp=8,
                cp=8, recompute="full", network="ib_hdr", attention_kernel="cudnn", tp_comm_overlap=True)
    h100 = explorer.estimate(gpu="h100", **plan)
    b200 = explorer.estimate(gpu="b200", **plan)
    assert b200.time_s["compute"] < h100.time_s["compute"]
    assert b200.step_time_s <= h100.step_time_s
