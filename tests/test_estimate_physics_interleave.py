"""Interleaved pipelines and the micro-batch count m: what each framework runs (Megatron-Core refuses m not a multiple
of PP; PyTorch's ScheduleInterleaved1F1B, torchtitan's, runs m a multiple of max(1, m // PP), m < PP included), and
what the schedule costs where it runs (an event replay of PyTorch's schedule, transcribed below)."""

from collections import defaultdict

import pytest
from _pipeline_replay import replay

import explorer
from explorer.cost import memory as mem
from explorer.errors import UsageError


def _torch_rank_ops(r: int, v: int, p: int, m: int) -> list[tuple]:
    """One rank's compute ops in pytorch/pytorch torch/distributed/pipelining/schedules.py (2026):
    ScheduleInterleaved1F1B.__init__ (number_of_rounds = max(1, m // p), microbatches_per_round = m // rounds),
    _get_warmup_ops (warm-up = min((v - 1) per_round + 2 (p - 1 - r), m v)), _calculate_single_rank_operations
    (forward_stage_index(step) = ((step // per_round) % v) p + r; backward_stage_index(step) = (v - 1 - ((step -
    warm-up) // per_round) % v) p + r) and _get_1f1b_rank_ops (warm-up forwards, then a forward and a backward per op,
    then the cool-down backwards; each stage takes its micro-batches in order). The idle steps it inserts only
    align ranks; dependencies decide the times here."""
    rounds = max(1, m // p)
    assert m % rounds == 0
    per_round = m // rounds
    warm = min((v - 1) * per_round + 2 * (p - 1 - r), m * v)
    total = m * v
    fwd_ix: dict = defaultdict(int)
    bwd_ix: dict = defaultdict(int)
    ops = []
    for op in range(warm + (total - warm) + warm):  # warm-up + steady (total - warm) + cool-down (warm)
        if op < total:
            stage = ((op // per_round) % v) * p + r
            ops.append(("F", stage, fwd_ix[stage]))
            fwd_ix[stage] += 1
        if op >= warm:
            stage = (v - 1 - ((op - warm) // per_round) % v) * p + r
            ops.append(("B", stage, bwd_ix[stage]))
            bwd_ix[stage] += 1
    return ops


def _makespan(p: int, v: int, m: int, t_f: float, t_b: float, head_f: float, head_b: float) -> tuple[float, list]:
    """Replay of the schedule: stage s's forward of a micro-batch needs stage s - 1's, its backward stage s + 1's
    (the last stage its own forward); the last stage carries the output layer (head_f / head_b more). Returns the
    makespan and each rank's peak count of forwards not yet backwarded (chunks whose activations it holds)."""
    last = p * v - 1
    progs = [_torch_rank_ops(r, v, p, m) for r in range(p)]
    done: dict = {}
    t = [0.0] * p
    held = [0] * p
    peak = [0] * p

    def step(r, op, pc):
        kind, s, mb = op
        dep = (("F", s - 1, mb) if s > 0 else None) if kind == "F" else (("B", s + 1, mb) if s < last else ("F", s, mb))
        if dep is not None and dep not in done:
            return ()
        dur = (t_f + (head_f if s == last else 0.0)) if kind == "F" else (t_b + (head_b if s == last else 0.0))
        t[r] = max(t[r], done[dep] if dep else 0.0) + dur
        done[(kind, s, mb)] = t[r]
        held[r] += 1 if kind == "F" else -1
        peak[r] = max(peak[r], held[r])
        return (r,)

    replay(progs, step)
    return max(t), peak


@pytest.mark.parametrize("p, v, m", [(4, 5, 2), (4, 2, 3), (4, 2, 1), (8, 2, 4), (8, 3, 5), (4, 5, 4), (4, 5, 6),
                                     (8, 4, 12)])
def test_pytorch_interleaved_schedule_with_fewer_micro_batches_than_ranks(p, v, m):
    """PyTorch's interleaved 1F1B with m < p: a rank that has run its m forwards on one virtual stage waits for the
    first micro-batch to come round the p - m other ranks before its next stage, (v - 1)(p - m) fill chunks more than
    the (p - 1) of the warm-up and cool-down: makespan = v m t_chunk + (p - 1 + (v - 1) max(0, p - m)) t_fill, with
    t_chunk the pacing rank's (the output layer spread over its v chunks) and t_fill a chunk without it. Hand check
    (p 4, v 5, m 2, uniform chunks F 1, B 2): (10 + 3 + 8) x 3 = 63, where the formula for m >= p gives 39."""
    head_f, head_b = 0.5, 1.0
    sim, _ = _makespan(p, v, m, 1.0, 2.0, head_f, head_b)
    t_chunk, t_fill = 3.0 + (head_f + head_b) / v, 3.0
    assert sim == pytest.approx(v * m * t_chunk + (p - 1 + (v - 1) * max(0, p - m)) * t_fill)
    if (p, v, m) == (4, 5, 2):
        assert _makespan(p, v, m, 1.0, 2.0, 0.0, 0.0)[0] == pytest.approx(63.0)


@pytest.mark.parametrize("p, v, m", [(4, 5, 2), (4, 5, 6), (8, 4, 20), (8, 2, 12), (4, 3, 5), (4, 5, 8)])
def test_in_flight_chunks_follow_pytorchs_rounds(p, v, m):
    """The chunks the first and last ranks hold at their peak, counted in the replay, are what memory.in_flight_chunks
    gives: min((v - 1) N + 2 (p - 1) + 1, m v) and min((v - 1) N + 1, m v) with PyTorch's round N = m // max(1, m //
    p). By hand for p 8, v 4, m 20: N = 20 // 2 = 10, first 3 x 10 + 15 = 45 (Megatron's group of p would give 39),
    last 31."""
    _, peak = _makespan(p, v, m, 1.0, 2.0, 0.0, 0.0)
    assert int(mem.in_flight_chunks(p, v, m)) == peak[0]
    assert int(mem.in_flight_chunks(p, v, m, last=True)) == peak[-1]
    if (p, v, m) == (8, 4, 20):
        assert peak[0] == 45 and peak[-1] == 31


def test_megatron_refuses_interleaving_with_m_not_a_multiple_of_pp():
    """Megatron-Core's forward_backward_pipelining_with_interleaving raises unless m is a multiple of PP (under its
    default group of PP micro-batches per virtual stage): TP 8 PP 4 on the cloud track's 1,024 GPUs is DP 32, and a
    global batch of 64 is m = 2."""
    with pytest.raises(UsageError) as e:
        explorer.estimate(tp=8, pp=4, virtual_stages=5, global_batch=64)
    msg = str(e.value)
    assert "\n" not in msg
    for part in ("m = 2", "multiple of PP = 4", "global batch 64", "DP 32", "multiple of 128", "virtual_stages=1"):
        assert part in msg, (part, msg)
    with pytest.raises(UsageError, match="m = 6"):  # m >= PP but not a multiple
        explorer.estimate(tp=8, pp=4, virtual_stages=5, global_batch=192)
    assert explorer.estimate(tp=8, pp=4, virtual_stages=5, global_batch=128).plan.num_micro_batches == 4


def test_torchtitan_runs_m_below_pp_and_pays_for_it():
    """PyTorch's schedule runs m = 2 on PP 4 (rounds = max(1, 2 // 4) = 1): the bubble is 3 + 4 x 2 = 11 fill
    chunks where m = 4 has 3 (a fill chunk does not depend on m: no per-micro-batch sharding inside a pipeline), so
    the bubble time is 11/3 of m = 4's, and the schedule's idle share 11 / (5 x 2 + 11)."""
    kw = dict(tp=8, pp=4, virtual_stages=5, framework="fsdp", zero=2)
    two = explorer.estimate(global_batch=64, **kw)
    four = explorer.estimate(global_batch=128, **kw)
    assert two.time["bubble"] == pytest.approx(four.time["bubble"] * 11 / 3, rel=1e-9)
    assert two.bubble_fraction == pytest.approx(11 / 21)
    assert four.bubble_fraction == pytest.approx(3 / 23)


def test_torchtitan_refuses_m_not_a_multiple_of_its_rounds():
    """m = 9 on PP 4: rounds = 9 // 4 = 2, and 9 is odd (ScheduleInterleaved1F1B raises ValueError); m = 6 runs
    (rounds 1)."""
    kw = dict(tp=8, pp=4, virtual_stages=5, framework="fsdp", zero=2, gpus=128)  # DP 4
    with pytest.raises(UsageError, match=r"multiple of its rounds, max\(1, m // PP\) = 2"):
        explorer.estimate(global_batch=36, **kw)
    assert explorer.estimate(global_batch=24, **kw).plan.num_micro_batches == 6
