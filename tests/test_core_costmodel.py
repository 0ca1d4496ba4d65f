"""Cost model: known answers from the papers (each with its citation) and physical properties."""

from dataclasses import replace

import pytest
from _pipeline_replay import replay
from explorer.hardware import build_cluster
from explorer.models import get_model
from explorer.models.architecture import DecoderModel

from explorer.cost import memory as mem
from explorer.cost.setup import Setup
from explorer.cost.step import estimate
from explorer.plan import ParallelPlan
from explorer.tracks import get_track


def gpt_setup(flash=False, **kw):
    # A GPT-shaped model (MHA, GELU 4h, dropout): Korthikanti et al.'s Table 2 applies exactly.
    m = DecoderModel(name="gpt", layers=8, hidden=1024, heads=16, kv_heads=16, ffn=4096, vocab=51200,
                     mlp="gelu", norm="layer", bias=True, dropout=True, position="learned", max_seq=2048)
    c = build_cluster("a100", 64, 8, "nvlink3", "ib_hdr")
    return Setup(m, c, 2048, "bf16", "adam", 0.9, flash_attention=flash, **kw)


@pytest.mark.parametrize("t", [1, 2, 4, 8])
def test_korthikanti_activations_table2(t):
    s_, b, h, a = 2048, 2, 1024, 16
    st = gpt_setup(flash=False)
    sbh = s_ * b * h
    # no recompute, no SP: s b h (10 + 24/t + 5 a s/(h t))
    expect = sbh * (10 + 24 / t + 5 * a * s_ / (h * t))
    assert mem.activation_bytes_per_layer(st, t, 1, b, 0, 0) == pytest.approx(expect, abs=1)
    # selective recompute drops the 5 a s / h term
    assert mem.activation_bytes_per_layer(st, t, 1, b, 1, 0) == pytest.approx(sbh * (10 + 24 / t), abs=1)
    if t > 1:
        # sequence parallel: s b h / t (34 + 5 a s / h)
        expect = sbh / t * (34 + 5 * a * s_ / h)
        assert mem.activation_bytes_per_layer(st, t, 1, b, 0, 1) == pytest.approx(expect, abs=1)
    # full recompute keeps the layer input: 2 s b h
    assert mem.activation_bytes_per_layer(st, t, 1, b, 2, 0) == pytest.approx(2 * sbh, abs=1)


def test_flash_attention_never_stores_scores():
    st = gpt_setup(flash=True)
    assert mem.activation_bytes_per_layer(st, 1, 1, 1, 0, 0) == pytest.approx(2048 * 1024 * 34, abs=1)


def test_zero_model_state_formulas():
    # ZeRO paper sec. 5 / Table 1 (K = 12): baseline (2 + 2 + 12) psi; P_os 4 psi + 12 psi / Nd;
    # P_os+g 2 psi + 14 psi / Nd; P_os+g+p 16 psi / Nd.
    st = gpt_setup()
    psi = mem.params_per_device(st, 1, 1)
    for nd in (1, 4, 64):
        cases = ((0, 16 * psi), (1, 4 * psi + 12 * psi / nd), (2, 2 * psi + 14 * psi / nd), (3, 16 * psi / nd))
        for z, expect in cases:
            w, g, o = mem.model_state_bytes(st, 1, 1, nd, 1, z)
            assert w + g + o == pytest.approx(expect, abs=3)


def test_crisis_bubble_is_7_over_23():
    # TP=8, PP=8, DP=16, micro-batch 2 -> 512 / (16 x 2) = 16 micro-batches; (p-1)/(m+p-1) = 7/23.
    t = get_track("cloud")
    s = Setup(t.workload.model, t.cluster, t.workload.seq_len)
    assert estimate(s, t.crisis_plan).bubble_fraction == pytest.approx(7 / 23)


def _setup():
    return Setup(get_model("llama3_8b"), build_cluster("h100", 64, 8, "nvlink4", "ib_ndr"), 4096)


def test_no_bubble_without_pipeline():
    e = estimate(_setup(), ParallelPlan(tp=2, pp=1, dp=32, micro_batch=2, global_batch=256))
    assert e.bubble_fraction == 0 and e.time["bubble"] == 0 and e.time["pp_comm"] == 0


def test_no_tp_comm_without_tp():
    e = estimate(_setup(), ParallelPlan(tp=1, pp=2, dp=32, micro_batch=1, global_batch=256))
    assert e.time["tp_comm"] == 0


def test_no_dp_comm_with_one_replica():
    e = estimate(_setup(), ParallelPlan(tp=8, pp=8, dp=1, micro_batch=1, global_batch=64))
    assert e.time["dp_exposed"] == 0 and e.dp_comm_total_s == 0


def test_weight_memory_per_device_never_grows_with_tp():
    s = _setup()
    prev = None
    for tp in (1, 2, 4, 8):
        e = estimate(s, ParallelPlan(tp=tp, pp=1, dp=64 // tp, micro_batch=1, global_batch=64 // tp * 4))
        if prev is not None:
            assert e.memory["weights"] <= prev
        prev = e.memory["weights"]


def test_mfu_is_model_flops_over_peak():
    # MFU = model FLOPs per second / (N x peak); check with the model's own FLOP count by hand.
    s = _setup()
    p = ParallelPlan(tp=2, pp=2, dp=16, micro_batch=1, global_batch=64, recompute="full")
    e = estimate(s, p)
    model_flops = 64 * 4096 * s.model.model_flops_per_token(4096)
    assert e.mfu == pytest.approx(model_flops / e.step_time_s / (64 * 989.4e12))
    assert e.hfu > e.mfu  # full recompute executes one more forward pass


def test_ring_allreduce_by_hand():
    from explorer.cost.collectives import ring_allreduce_time, tree_allreduce_time

    # N = 8, M = 1 GB, alpha = 10 us, B = 100 GB/s: 2 x 7 x 10 us + 2 x 7/8 x 1e9/1e11 = 140 us + 17.5 ms
    assert ring_allreduce_time(1e9, 8, 10e-6, 100e9) == pytest.approx(140e-6 + 17.5e-3)
    # binomial tree: 2 ceil(log2 8) (alpha + M/B) = 6 x (10 us + 10 ms)
    assert tree_allreduce_time(1e9, 8, 10e-6, 100e9) == pytest.approx(6 * (10e-6 + 1e-2))


def test_slower_network_never_speeds_up_a_step():
    t = get_track("cloud")
    fast = Setup(t.workload.model, t.cluster, t.workload.seq_len)
    slow = replace(fast, cluster=build_cluster("h100", 1024, 8, "nvlink4", "eth_10g"))
    p = t.crisis_plan
    assert estimate(slow, p).step_time_s >= estimate(fast, p).step_time_s


def test_node_shared_nic_is_split_among_parallel_rings():
    # One 10 GbE NIC per node (1.25e9 B/s x 0.90 efficiency): a flat ring of consecutive ranks
    # (stride 1) crosses it once and gets it all; eight rings of stride 8 (one per GPU of the node)
    # share it: 1.125e9 / 8 each. Within a node the NVLink rate applies.
    s = Setup(get_model("llama3_8b"), build_cluster("h100", 64, 8, "nvlink4", "eth_10g"), 4096)
    assert float(s.link_bandwidth(64, stride=1)) == pytest.approx(1.125e9)
    assert float(s.link_bandwidth(64, stride=8)) == pytest.approx(1.125e9 / 8)
    assert float(s.link_bandwidth(8, stride=1)) == pytest.approx(450e9 * 0.82)


def test_fp8_keeps_the_four_gemm_inputs_in_one_byte():
    # Transformer Engine under fp8 saves each linear layer's input for the weight-gradient GEMM as the FP8 copy the
    # forward GEMM consumed (module/linear.py: inputmat or inputmat_t, FP8). Llama 3 8B (h 4096, KV dim 1024, ffn
    # 14336), TP 1, no recompute, per token and layer (Korthikanti et al. 2022 Table 2 in bytes):
    #   BF16: norms 4h + QKV input 2h + MLP input 2h + Q 2h + attention output 2h + K, V 4 x 1024 + SwiGLU 6 ffn
    #         = 32768 + 16384 + 4096 + 86016 = 139,264
    #   FP8 : QKV input, MLP input, attention output h each, second MLP matrix input ffn: 139,264 - 3 x 4096 - 14336
    #         = 112,640
    def per_token(precision):
        s = Setup(get_model("llama3_8b"), build_cluster("h100", 8, 8, "nvlink4", "ib_ndr"), 4096, precision=precision)
        return mem.activation_bytes_per_layer(s, 1, 1, 1, 0, True) / 4096

    assert per_token("bf16") == 139264
    assert per_token("fp8") == 112640


# --- the pipeline schedule with the output layer on the last rank ----------------------------------------------

def _megatron_schedule_makespan(p: int, v: int, m: int, chunk_time) -> float:
    """Event replay of Megatron-LM's pipeline schedules (megatron/core/pipeline_parallel/schedules.py):
    forward_backward_pipelining_without_interleaving (v = 1: p - r - 1 warm-up forwards on rank r, then one forward
    and one backward in turn, then the cool-down backwards) and ..._with_interleaving (v > 1: (p - r - 1) 2 + (v - 1) p
    warm-up forwards; the k-th forward runs chunk (k // p) % v of micro-batch (k // (p v)) p + k % p, the k-th
    backward chunk v - 1 - (k // p) % v). Virtual stage c p + r needs the previous one's forward of the same
    micro-batch, and its backward the next one's backward (the last virtual stage: its own forward). Each rank runs
    its ops in order, one at a time; sends are free (overlapped), so only the compute order counts.
    chunk_time(rank, chunk, kind) -> time of one forward ('F') or backward ('B')."""
    def program(r):
        if v == 1:
            warm = min(p - r - 1, m)
            fwd = [(k, 0) for k in range(m)]
            bwd = [(k, 0) for k in range(m)]
        else:
            warm = min((p - r - 1) * 2 + (v - 1) * p, m * v)
            fwd = [((k // (p * v)) * p + k % p, (k // p) % v) for k in range(m * v)]
            bwd = [((k // (p * v)) * p + k % p, v - 1 - (k // p) % v) for k in range(m * v)]
        ops = [("F",) + fwd[k] for k in range(warm)]
        for i in range(len(fwd) - warm):
            ops += [("F",) + fwd[warm + i], ("B",) + bwd[i]]
        return ops + [("B",) + bwd[i] for i in range(len(fwd) - warm, len(fwd))]

    done: dict = {}
    t = [0.0] * p

    def step(r, op, pc):
        kind, mb, c = op
        vs = c * p + r
        if kind == "F":
            dep = ("F", mb, vs - 1) if vs > 0 else None
        else:
            dep = ("B", mb, vs + 1) if vs < p * v - 1 else ("F", mb, vs)
        if dep is not None and dep not in done:
            return ()
        t[r] = max(t[r], done[dep] if dep else 0.0) + chunk_time(r, c, kind)
        done[(kind, mb, vs)] = t[r]
        return (r,)

    replay([program(r) for r in range(p)], step)
    return max(t)


@pytest.mark.parametrize("p, v, m, layers, head", [(4, 1, 8, 1, 0.3), (8, 1, 4, 1, 0.5), (8, 1, 16, 2, 1.0),
                                                   (4, 2, 4, 1, 0.5), (4, 4, 16, 1, 0.5), (8, 5, 8, 2, 1.6),
                                                   (8, 5, 64, 2, 1.6), (16, 8, 32, 1, 1.0)])
def test_the_output_layer_paces_the_pipeline_but_does_not_fill_it(p, v, m, layers, head):
    """With the output layer (forward `head` in layer units) on the last rank's last chunk, Megatron-LM's 1F1B and
    interleaved 1F1B take v m t_chunk + (p - 1) t_fill: the steady state runs at the pace of the rank carrying the
    output layer (t_chunk = (v layers + head) x 3 / v per chunk, backward = 2 x forward), the warm-up and cool-down
    cross the p - 1 other ranks, whose chunks hold only layers (t_fill = layers x 3). Hand check of the first case
    (p 4, m 8, one layer per stage, head 0.3): 8 x 3.9 + 3 x 3 = 40.2, where (m + p - 1) t_chunk = 42.9.
    explorer/cost/step.py composes the pipeline this way; DeepSpeed's TrainSchedule agrees
    (tests/test_cost_sharding.py, test_deepspeeds_schedule_with_a_heavier_last_stage)."""
    def chunk_time(r, c, kind):
        x = layers + (head if (r == p - 1 and c == v - 1) else 0.0)
        return x * (1.0 if kind == "F" else 2.0)

    sim = _megatron_schedule_makespan(p, v, m, chunk_time)
    t_chunk = (v * layers + head) * 3.0 / v
    assert sim == pytest.approx(v * m * t_chunk + (p - 1) * layers * 3.0)
    assert sim < (v * m + p - 1) * t_chunk  # the old (v m + p - 1) t_chunk charged the head p - 1 times more
    if (p, v, m) == (4, 1, 8):
        assert sim == pytest.approx(40.2)


def _torch_interleaved_table(p: int, v: int, m: int) -> list[list]:
    """The time-step table of torch.distributed.pipelining's ScheduleInterleaved1F1B as torchtitan ran it in 2024-2025
    (torch 2.5-2.6, torch/distributed/pipelining/schedules.py, _calculate_single_rank_operations and
    _get_1f1b_rank_ops): rank r idles r steps, runs W = min((v - 1) p + 2 (p - 1 - r), m v) warm-up forwards, idles
    until step v p + 2 (p - 1 - r) (p - r steps when W is not capped), pairs a forward with a backward for the next
    m v - W ops, then idles a step before each of its W cool-down backwards. Op k's forward runs the rank's local
    stage (k // p) % v, its backward v - 1 - ((k - W) // p) % v (stage index = local x p + r); each stage takes its
    micro-batches in order."""
    table = []
    for r in range(p):
        warm = min((v - 1) * p + 2 * (p - 1 - r), m * v)
        count: dict = {}
        ops: list = [None] * r
        for k in range(m * v + warm):
            acts = []
            if k < m * v:
                acts.append(("F", ((k // p) % v) * p + r))
            if k >= warm:
                acts.append(("B", (v - 1 - ((k - warm) // p) % v) * p + r))
            if k >= m * v:
                ops.append(None)
            for kind, stage in acts:
                ops.append((kind, stage, count.setdefault((kind, stage), 0)))
                count[(kind, stage)] += 1
            if k == warm - 1:  # wait for the first backward: it can start at step v p + 2 (p - 1 - r)
                ops.extend([None] * (v * p + 2 * (p - 1 - r) - warm - r))
        table.append(ops)
    return table


def _lockstep_makespan(table: list[list], p: int, v: int, t_f: float, t_b: float) -> float:
    """PipelineScheduleMulti._step_microbatches: at every time step each rank runs its action, then posts the sends of
    that action and the receives of what its neighbours did in the same step (one batched send/recv) and waits for
    them, so the step ends when the rank and each neighbour it exchanges with have finished that step's action.
    Checks on the way that every action's input was produced at an earlier step."""
    last = p * v - 1
    start, produced = [0.0] * p, set()
    for t in range(max(len(ops) for ops in table)):
        acts = [ops[t] if t < len(ops) else None for ops in table]
        end = [start[r] + (0.0 if a is None else (t_f if a[0] == "F" else t_b)) for r, a in enumerate(acts)]
        peers: list[set] = [set() for _ in range(p)]
        for r, a in enumerate(acts):
            if a is None:
                continue
            kind, stage, mb = a
            need = (("F", stage - 1, mb) if stage else None) if kind == "F" else (
                ("B", stage + 1, mb) if stage < last else ("F", stage, mb))
            assert need is None or need in produced, (t, r, a)
            to = stage + 1 if kind == "F" else stage - 1
            if 0 <= to <= last and to % p != r:
                peers[r].add(to % p)
                peers[to % p].add(r)
        produced |= {a for a in acts if a is not None}
        start = [max([end[r]] + [end[q] for q in peers[r]]) for r in range(p)]
    assert len(produced) == 2 * p * sum(a is not None and a[0] == "F" for a in table[0])  # every F and B ran once
    return max(start)


@pytest.mark.parametrize("p, v, m, t_b", [(2, 2, 4, 2.0), (4, 2, 8, 3.0), (4, 4, 16, 2.5), (8, 2, 8, 3.0),
                                          (8, 2, 16, 2.0), (8, 3, 32, 3.0), (16, 4, 32, 2.0)])
def test_torchs_lockstep_interleaved_schedule_costs_one_forward_more_than_the_closed_form(p, v, m, t_b):
    """torchtitan's interleaved pipelines (--framework fsdp) run PyTorch's table in lock-step, not Megatron-LM's
    event-driven loop; replayed, they take the closed form step.py charges, v m (t_f + t_b) + (p - 1)(t_f + t_b)
    for a chunk's forward t_f and backward t_b, plus one forward: every rank's steady state runs forwards and
    backwards in the same steps (its steady state starts 2 steps after its successor's), so the lock-step never
    pairs a forward with a longer backward. Hand check, p 8, v 2, m 8, t_b 3 (full recompute): 2 x 8 x 4 + 7 x 4 + 1
    = 93 forward-chunk times, where Megatron-LM's replay gives 92."""
    table = _torch_interleaved_table(p, v, m)
    got = _lockstep_makespan(table, p, v, 1.0, t_b)
    closed = v * m * (1.0 + t_b) + (p - 1) * (1.0 + t_b)
    assert got == pytest.approx(closed + 1.0)
    assert _megatron_schedule_makespan(p, v, m, lambda r, c, kind: 1.0 if kind == "F" else t_b) == pytest.approx(closed)
    if (p, v, m, t_b) == (8, 2, 8, 3.0):
        assert got == pytest.approx(93.0)


def test_the_bubble_does_not_carry_the_output_layer():
    """step.py's bubble is (p - 1) fill chunks, which hold no output layer: two models that differ only in their
    vocabulary (the output layer's width) have the same bubble and different compute."""
    c = build_cluster("h100", 64, 8, "nvlink4", "ib_ndr")
    plan = ParallelPlan(tp=4, pp=8, dp=2, micro_batch=1, global_batch=16)
    base = get_model("llama3_8b")
    e_small, e_large = (estimate(Setup(replace(base, vocab=vocab), c, 4096), plan) for vocab in (32_000, 256_000))
    assert e_large.time["compute"] > e_small.time["compute"] * 1.05
    assert e_large.time["bubble"] == pytest.approx(e_small.time["bubble"], rel=1e-9)
    # and the bubble is 7 fill chunks: 4 layers each (32 / 8) plus the send, as the components give them
    from explorer.cost import time as tm
    s = Setup(base, c, 4096)
    t_c, t_m, t_tp, t_cp = tm.layer_time(s, 4, 1, 1, 0, 1, True)
    t_p2p = tm.p2p_time(s, 4, 1, 8, 1, 1)
    e = estimate(s, plan)
    assert e.time["bubble"] == pytest.approx(7 * (4 * (t_c + t_m + t_tp + t_cp) + t_p2p), rel=1e-6)
