"""One training step of (setup, plan): memory and time breakdowns, MFU and HFU.

`evaluate` works on numpy arrays of plan fields (the exhaustive search calls it on the whole
design space at once); `estimate` wraps it for one ParallelPlan and returns a StepEstimate.
Definitions follow docs/conventions.md: MFU counts model FLOPs (no recompute), HFU the
FLOPs the hardware executes; bubble fraction = f/(v m + f), f = p - 1 idle chunk slots per rank (evaluate): the
schedule's idealised share, which the 3D puzzle's bubble limit reads; bubble_time_share is the bubble's share of the
step's time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from explorer.cost import memory as mem
from explorer.cost import sharding as sh
from explorer.cost import time as tm
from explorer.cost.frameworks import attention_kernel_of, framework, tp_overlap_of
from explorer.cost.setup import Setup
from explorer.plan import ParallelPlan


def attention_setups(setup: Setup, fw: ArrayLike) -> tuple[np.ndarray, dict[str, Setup]]:
    """The attention kernel of each plan (frameworks.attention_kernel_of) and one Setup per kernel among them, each
    pricing its kernel for every plan: the setup itself unless it leaves the kernel to each plan's framework
    (Setup.attention_kernel_by_framework)."""
    from dataclasses import replace

    kern = attention_kernel_of(setup.attention_kernel, setup.attention_kernel_by_framework,
                               setup.cluster.accelerator.key, fw)
    if not setup.attention_kernel_by_framework:
        return kern, {setup.attention_kernel: setup}
    return kern, {k: replace(setup, attention_kernel=k, attention_kernel_by_framework=False)
                  for k in sorted(set(kern.ravel().tolist()))}


def by_attention_kernel(kern: np.ndarray, setups: dict[str, Setup], fn: Callable[[Setup], Any]) -> Any:
    """fn of the one Setup where every plan runs the same attention kernel; else fn of each kernel's Setup
    (attention_setups: kern, setups), each plan taking its own kernel's value. fn returns an array or a tuple of
    arrays."""
    outs = [fn(s_) for s_ in setups.values()]
    if len(outs) == 1:
        return outs[0]

    def pick(values):
        out = values[0]
        for k, v in zip(list(setups)[1:], values[1:]):
            out = np.where(kern == k, v, out)
        return out

    if isinstance(outs[0], tuple):
        return tuple(pick([o[i] for o in outs]) for i in range(len(outs[0])))
    return pick(outs)


def evaluate(
    setup: Setup,
    tp: ArrayLike,
    cp: ArrayLike,
    pp: ArrayLike,
    dp: ArrayLike,
    v: ArrayLike,
    micro_batch: ArrayLike,
    num_micro_batches: ArrayLike,
    zero: ArrayLike,
    recompute: ArrayLike,
    sp: ArrayLike,
    fw: ArrayLike = 0,
    hsdp: ArrayLike = 0,
) -> dict:
    """All figures of a step for arrays (or scalars) of plan fields. recompute is coded 0/1/2, the framework
    by its code (explorer/cost/frameworks.py: 0 Megatron-LM, 1 DeepSpeed, 2 FSDP2), hsdp 0/1.

      t_chunk = t_stage / v + t_p2p + e_mb            (e_mb: per-micro-batch sharded DP, PP = 1 only)
      t_fill  = t_chunk without the output layer      (a rank the warm-up and cool-down cross)
      t_step  = v m t_chunk + f t_fill + e_grad + e_param + t_opt,  f = p - 1 (+ (v - 1)(p - m) where v > 1, m < p)
    where the step-level gradient sync hides behind the last micro-batch's backward (2/3 of t_stage) and the
    weight all-gather behind the first one's forward (1/3) when the framework overlaps them; under an
    interleaved pipeline each chunk syncs as soon as its last backward ends and the cooldown's remaining
    backwards hide it too (explorer/cost/sharding.py step_sync_exposed)."""
    m = setup.model
    n_dev = np.asarray(tp) * cp * pp * dp
    w, g, o = sh.model_state_bytes(setup, fw, tp, pp, dp, cp, zero, v, hsdp)
    # the pipeline end that peaks higher: the first stage's in-flight micro-batches, or the last's fewer plus the loss
    # (full recompute of every k-th layer only, Setup.recompute_every, is mixed in layer_time and
    # activation_bytes_per_layer, which the CP-SAT model reads too)
    act, work = mem.peak_activations_and_working(setup, tp, cp, pp, v, micro_batch, num_micro_batches, recompute, sp)
    buf = sh.buffer_bytes(setup, fw, tp, pp, dp, cp, zero, v)
    total = w + g + o + act + work + buf

    overlap = tp_overlap_of(setup.tp_comm_overlap, fw, setup.cluster.accelerator.key)
    kern, kern_setups = attention_setups(setup, fw)  # each plan's attention kernel (--framework any: its framework's)
    t_compute, t_memory, t_tp, t_cp = by_attention_kernel(
        kern, kern_setups, lambda s_: tm.layer_time(s_, tp, cp, micro_batch, recompute, sp, overlap))
    layers = mem.stage_layers(m.layers, pp, v)
    t_logits = tm.logits_time(setup, tp, cp, micro_batch)
    t_layer = t_compute + t_memory + t_tp + t_cp
    on_last = np.ones_like(np.asarray(layers, dtype=float))  # the output layer runs on the slowest stage
    fill_layers = layers  # a rank without the output layer: what the warm-up and cool-down cross (below)
    if setup.embedding_pipeline_slot:  # the output layer takes a layer's slot (Setup.embedding_pipeline_slot)
        slots = np.asarray(mem.stage_layers(m.layers + 2, pp, v))  # the most loaded rank's slots, v chunks
        split = np.asarray(pp) > 1
        logits_stage = (slots - 1) * t_layer + t_logits >= slots * t_layer
        layers = np.where(split, np.where(logits_stage, slots - 1, slots), layers)
        on_last = np.where(split & ~logits_stage, 0.0, 1.0)
        fill_layers = np.where(split, slots, layers)
    t_stage = layers * t_layer + on_last * t_logits
    acc_params = None  # the pacing stage's parameters, for DeepSpeed's per-micro-batch FP32 gradient accumulation
    if setup.embedding_pipeline_slot:  # a middle stage of `layers` layers, or the last one with the output layer
        acc_params = np.where(split, mem._cdiv(layers * m.layer_params + on_last * mem.last_stage_head_params(m), tp),
                              mem.params_per_device(setup, tp, pp, v))
    t_p2p = tm.p2p_time(setup, tp, cp, pp, micro_batch, sp, fw)
    comm = sh.dp_comm(setup, fw, tp, cp, pp, dp, zero, v, hsdp)
    # the layer's windows for per-layer sharded DP: its compute and the CP ring's wait (time.sharded_dp_windows)
    t_fwd, t_bwd = by_attention_kernel(
        kern, kern_setups, lambda s_: tm.sharded_dp_windows(s_, tp, cp, micro_batch, recompute, sp))
    # per micro-batch: what the windows do not hide, plus what the hidden part slows compute by (interference)
    e_mb = (sh.exposed_per_micro_batch(comm, layers, t_fwd, t_bwd)
            + sh.interference(setup, sh.hidden_per_micro_batch(comm, layers, t_fwd, t_bwd)))
    per_chunk = t_p2p + e_mb  # what every chunk pays beside its layers: its sends and its exposed sharded DP
    t_chunk = t_stage / v + per_chunk
    chunks = np.asarray(v) * num_micro_batches  # chunk passes per rank and step: v m
    # 1F1B and its interleaved form run v m chunks at the pace of the most loaded rank (the one with the output
    # layer) and fill and drain over the p - 1 others, whose chunks carry no output layer: an event replay of
    # Megatron-LM's schedules and of DeepSpeed's TrainSchedule gives v m t_chunk + (p - 1) t_fill exactly, where
    # (v m + p - 1) t_chunk would charge the output layer p - 1 times more (tests/test_core_costmodel.py)
    t_fill = fill_layers * t_layer / v + per_chunk
    # the warm-up's (and the cool-down's) crossings of the other ranks; under interleaving with fewer micro-batches
    # than ranks (PyTorch's ScheduleInterleaved1F1B runs m < p, Megatron-Core's refuses it) a rank that has run its
    # m forwards on one virtual stage waits for the first to come round the p - m others before its next: (v - 1)
    # (p - m) more fill chunks (an event replay of PyTorch's schedule gives v m t_chunk + (p - 1 + (v - 1)(p - m))
    # t_fill exactly, tests/test_estimate_physics_interleave.py)
    fills = (np.asarray(pp) - 1) + np.where(np.asarray(v) > 1, (np.asarray(v) - 1)
                                            * np.maximum(0, np.asarray(pp) - np.asarray(num_micro_batches)), 0)
    t_pipe = chunks * t_chunk + fills * t_fill
    e_grad, e_param = sh.step_sync_exposed(comm, t_stage, fw, pp, v, setup.efficiency.dp_overlap)
    # the step-level sync's hidden part (all of it less what shows) slows the compute it runs under
    e_sync = e_grad + e_param + sh.interference(setup, comm["grad_step"] + comm["param_step"] - e_grad - e_param)
    t_opt = sh.dp_optimizer_time(setup, fw, tp, cp, pp, dp, zero, v, hsdp)
    # DeepSpeed's BF16_Optimizer adds each micro-batch's gradients into FP32 after its backward (v = 1 there);
    # under its fp16 / ZeRO-1 engine (and Megatron-LM before gradient-accumulation fusion) autograd adds every
    # micro-batch's but the first into .grad: m - 1 passes over each of the v chunks' parameters, m - 1 over all
    t_opt = t_opt + chunks * sh.grad_accumulation_time(setup, fw, tp, pp, zero, v, acc_params)
    t_opt = t_opt + (np.asarray(num_micro_batches) - 1) * sh.autograd_accumulation_time(setup, fw, tp, pp, zero, v,
                                                                                       acc_params)
    t_step = t_pipe + e_sync + t_opt
    t_dp_exposed = e_sync + chunks * e_mb

    global_batch = np.asarray(dp) * micro_batch * num_micro_batches
    tokens = global_batch * setup.seq_len
    model_flops = tokens * m.model_flops_per_token(setup.seq_len)
    rc = np.asarray(recompute)
    full = m.recompute_flops_per_token(setup.seq_len, "full_early_stop" if setup.replay_early_stop else "full")
    extra = np.where(
        rc == 2,
        full / setup.recompute_every,
        np.where(rc == 1, m.recompute_flops_per_token(
            setup.seq_len, "selective_op" if setup.op_sac else "selective"), 0.0),
    )
    hw_flops = model_flops + tokens * extra
    peak_total = n_dev * setup.peak_flops
    busy = num_micro_batches * layers
    return {
        "memory_weights": w,
        "memory_gradients": g,
        "memory_optimizer": o,
        "memory_activations": act,
        "memory_working": work,
        "memory_buffers": buf,
        "memory_total": total,
        "fits": total <= setup.memory_limit_bytes,
        "time_compute": busy * (t_compute + t_memory) + num_micro_batches * on_last * t_logits,
        "time_tp_comm": busy * t_tp,
        "time_cp_comm": busy * t_cp,
        "time_pp_comm": chunks * t_p2p,
        "time_bubble": fills * t_fill,
        "time_dp_exposed": t_dp_exposed,
        "time_dp_total": sh.total_per_step(comm, layers, num_micro_batches),
        "time_optimizer": t_opt,
        "step_time": t_step,
        # the schedule's idealised idle share (equal chunk slots), which the 3D puzzle's bubble limit reads
        "bubble_fraction": fills / (chunks + fills),
        # the share of this step's time the bubble takes: its fill chunks carry no output layer, and the step also
        # holds the exposed data-parallel sync and the optimizer
        "bubble_time_share": fills * t_fill / t_step,
        "mfu": model_flops / (t_step * peak_total),
        "hfu": hw_flops / (t_step * peak_total),
        "model_flops": model_flops,
        "hardware_flops": hw_flops,
        "model_tflops_per_gpu": model_flops / t_step / n_dev / 1e12,
        "hardware_tflops_per_gpu": hw_flops / t_step / n_dev / 1e12,
        "tokens_per_s": tokens / t_step,
    }


MEMORY_PARTS = ("weights", "gradients", "optimizer", "activations", "working", "buffers")
TIME_PARTS = ("compute", "tp_comm", "cp_comm", "pp_comm", "bubble", "dp_exposed", "optimizer")


@dataclass(frozen=True)
class StepEstimate:
    """Figures of one configuration; memory in bytes, times in seconds (SI)."""

    plan: ParallelPlan
    memory: dict[str, int]
    memory_total: int
    memory_limit: int
    time: dict[str, float]
    step_time_s: float
    mfu: float
    hfu: float
    model_tflops_per_gpu: float
    hardware_tflops_per_gpu: float
    tokens_per_s: float
    bubble_fraction: float
    dp_comm_total_s: float
    # time["bubble"] / step_time_s: the share of this step the bubble takes, beside bubble_fraction, the schedule's
    # idealised (p - 1)/(v m + p - 1) of equal chunk slots (the two differ where the output layer paces the steady
    # state but not the fill, and by the step's sync and optimizer time)
    bubble_time_share: float = 0.0

    @property
    def fits_in_memory(self) -> bool:
        return self.memory_total <= self.memory_limit

    @property
    def memory_over_bytes(self) -> int:
        return max(0, self.memory_total - self.memory_limit)

    def __repr__(self) -> str:  # the headline; the full figures are in the fields and as_dict()
        from explorer.units import human_bytes, human_percent, step_text

        fits = "fits" if self.fits_in_memory else "does NOT fit"
        return (f"<StepEstimate {self.plan.describe()}: MFU {human_percent(self.mfu)}, "
                f"step {step_text(self.step_time_s)}, {human_bytes(self.memory_total)} of "
                f"{human_bytes(self.memory_limit)} per device ({fits})>")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["plan"] = self.plan.as_dict()
        d["fits_in_memory"] = self.fits_in_memory
        return d


def estimate(setup: Setup, plan: ParallelPlan) -> StepEstimate:
    """Evaluate one configuration."""
    r = evaluate(
        setup,
        plan.tp,
        plan.cp,
        plan.pp,
        plan.dp,
        plan.virtual_stages,
        plan.micro_batch,
        plan.num_micro_batches,
        plan.zero,
        mem.RECOMPUTE_CODES[plan.recompute],
        int(plan.sequence_parallel),
        fw=framework(plan.framework).code,
        hsdp=int(plan.hsdp),
    )
    return StepEstimate(
        plan=plan,
        memory={k: int(r[f"memory_{k}"]) for k in MEMORY_PARTS},
        memory_total=int(r["memory_total"]),
        memory_limit=setup.memory_limit_bytes,
        time={k: float(r[f"time_{k}"]) for k in TIME_PARTS},
        step_time_s=float(r["step_time"]),
        mfu=float(r["mfu"]),
        hfu=float(r["hfu"]),
        model_tflops_per_gpu=float(r["model_tflops_per_gpu"]),
        hardware_tflops_per_gpu=float(r["hardware_tflops_per_gpu"]),
        tokens_per_s=float(r["tokens_per_s"]),
        bubble_fraction=float(r["bubble_fraction"]),
        dp_comm_total_s=float(r["time_dp_total"]),
        bubble_time_share=float(r["bubble_time_share"]),
    )


def paced(r: dict, devices: ArrayLike, speed_cv: float) -> dict:
    """evaluate's figures for a Setup priced without the slowest-GPU pace (Efficiency.gpu_speed_cv = 0, so
    Setup.pace = 1), re-read for jobs of `devices` GPUs each: where the job size varies along an array (a scaling
    curve, one Setup for every N), each element's GPU-bound work (time_compute: its layers' and output layer's
    compute and memory-bound time) is taken at stragglers.slowest_gpu_pace_of(devices), as Setup.pace takes it for
    a job on the whole cluster; the rates scale with the step. For PP = 1 plans (no bubble), as the scaling lab
    runs; the hidden part of the data-parallel sync is not re-read (a slower compute hides a little more of it)."""
    from explorer.cost.stragglers import slowest_gpu_pace_of

    extra = (slowest_gpu_pace_of(devices, speed_cv) - 1.0) * np.asarray(r["time_compute"], dtype=float)
    step = np.asarray(r["step_time"], dtype=float)
    ratio = step / (step + extra)
    out = dict(r)
    out["step_time"] = step + extra
    out["time_compute"] = np.asarray(r["time_compute"], dtype=float) + extra
    for k in ("mfu", "hfu", "model_tflops_per_gpu", "hardware_tflops_per_gpu", "tokens_per_s", "bubble_time_share"):
        out[k] = np.asarray(r[k], dtype=float) * ratio
    return out
