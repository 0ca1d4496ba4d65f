"""`explore check`: test a published claim (throughput, step time, MFU, memory) against arithmetic and
against the cost model.

FLOPs per token are the cost model's (explorer/models/architecture.py: 3 x forward, the forward being
2 x matmul parameters + 4 s h attention per layer + 2 V h logits; PaLM, Chowdhery et al. 2022, App. B)
and, because many write-ups use it, 6N with N all parameters (Kaplan et al. 2020, sec. 2.1).
MFU = tokens/s per GPU x FLOPs per token / peak FLOP/s (docs/conventions.md, "Utilisation").

Three kinds of test:
- hardware: the weights, gradients and optimizer state alone, fully sharded over all the GPUs (ZeRO-3's floor,
  no offload), exceed the GPU's usable memory (the fraction `explore plan` skips a candidate by) -> "impossible":
  no plan fits on that hardware, whatever the claim. Tested always, with or without --memory-gb;
- arithmetic: the claims contradict each other or a hard limit (MFU above 100%, memory above the HBM or below
  the weights, gradients and optimizer state fully sharded over all the GPUs, an MFU that matches the throughput
  under neither FLOP count) -> "inconsistent";
- model: the claim beats what the cost model allows (MFU above the proven 3D optimum's, memory below
  the smallest footprint of any plan) -> "beyond the model" (the model may be pessimistic; say so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from explorer.cost.memory import full_model_state_bytes
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.planner.inputs import ModelChoice, RunAssumptions, cluster_options, fraction

DEFAULT_TOLERANCE = 0.10


@dataclass
class Test:
    name: str
    kind: str  # "arithmetic" | "model"
    ok: bool
    arithmetic: str
    compares: bool = False  # two claims against each other (not one claim against a limit)
    failed: str = ""  # what a failure means, in words that do not read as if the test held


@dataclass
class CheckResult:
    """Everything `explore check` derived, the tests and the verdict."""

    model: ModelChoice
    gpu: str
    gpus: int
    seq_len: int
    peak_flops: float
    flops_6n: float
    flops_full: float
    claims: dict[str, float]
    implied: dict[str, float]
    bound: dict[str, Any]
    tests: list[Test] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    precision: str = "bf16"  # whose dense peak the MFU figures divide by

    @property
    def verdict(self) -> str:
        if any(not t.ok and t.kind == "hardware" for t in self.tests):
            return "impossible"  # no plan fits on this hardware: nothing the claims say can hold
        if not self.claims:
            return "nothing to test"
        if any(not t.ok and t.kind == "arithmetic" for t in self.tests):
            return "inconsistent"
        if any(not t.ok for t in self.tests):
            return "beyond the model"
        return "consistent"

    def to_dict(self) -> dict[str, Any]:
        m = self.model.model
        from explorer.planner.narrate import verdict_reason

        return {"verdict": self.verdict, "verdict_reason": verdict_reason(self), "model": m.name,
                "params": m.params, "gpu": self.gpu, "gpus": self.gpus,
                "seq_len": self.seq_len, "precision": self.precision,
                "peak_flops_per_gpu": self.peak_flops, "flops_per_token_6n": self.flops_6n,
                "flops_per_token_model": self.flops_full, "claims": self.claims, "implied": self.implied,
                "bound": self.bound, "tolerance": self.tolerance,
                "tests": [{"name": t.name, "kind": t.kind, "ok": t.ok, "arithmetic": t.arithmetic}
                          for t in self.tests]}

    def to_text(self) -> str:
        from explorer.planner.narrate import check_text

        return check_text(self)


MAX_CLAIM = 1e15
"""Largest claimed figure taken (tokens/s, step time, MFU, GB): above it a claim is a typo, not a cluster."""


def check_claim(model: ModelChoice, *, gpu: str, gpus: int, assumptions: RunAssumptions,
                tokens_per_s: float | None = None, tokens_per_s_per_gpu: float | None = None,
                step_time_s: float | None = None, global_batch: int | None = None, mfu: float | None = None,
                memory_gb: float | None = None, seq_len: int | None = None, network: str | None = None,
                tolerance: float = DEFAULT_TOLERANCE, bound: bool = True, time_limit: float | None = None,
                stack: dict[str, Any] | None = None) -> CheckResult:
    """Derive what the claims imply, test them, and (with `bound`) solve the 3D optimum as the model's bound."""
    from explorer.puzzles.threed import make_setup
    from explorer.tracks import get_track

    if mfu is not None:  # a fraction: 45 is 4,500%, most likely a percentage meant as 0.45
        fraction("mfu", mfu)
    tolerance = fraction("tolerance", tolerance, hi_open=True)
    claims = {k: v for k, v in (("tokens_per_s", tokens_per_s), ("tokens_per_s_per_gpu", tokens_per_s_per_gpu),
                                ("step_time_s", step_time_s), ("mfu", mfu), ("memory_gb", memory_gb)) if v is not None}
    for k, v in claims.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v > MAX_CLAIM:
            raise UsageError(f"{k.replace('_', '-')} must be a positive finite number up to {MAX_CLAIM:g}, got {v!r}")
    if tokens_per_s is not None and tokens_per_s_per_gpu is not None:
        raise UsageError("give --tokens-per-s (cluster) or --tokens-per-s-per-gpu, not both")
    if time_limit is not None and not bound:
        raise UsageError(f"--time-limit {time_limit:g} limits the solve of the model's bound, and --no-bound skips "
                         "that solve; give one or the other")
    if step_time_s is not None and global_batch is None:
        raise UsageError("a step time needs --global-batch (sequences per step) to give a throughput")
    opts = cluster_options(gpu, network)
    # never past the model's own context by default (GPT-3: 2,048 learned positions)
    seq = min(assumptions.seq_len, model.model.max_seq) if seq_len is None else seq_len
    track = get_track("cloud")
    stack = dict(stack or {})
    setup = make_setup(track, model=model.model, gpus=gpus, seq_len=seq, **opts,
                       **stack)
    m = setup.model
    peak = setup.peak_flops
    f6, ffull = 6.0 * m.params, m.model_flops_per_token(seq)
    r = CheckResult(model=model, gpu=opts["gpu"], gpus=gpus, seq_len=seq, peak_flops=peak, flops_6n=f6,
                    flops_full=ffull, claims=claims, implied={}, bound={}, tolerance=tolerance,
                    precision=setup.precision)
    tol = tolerance

    # The floor no plan goes under: the model's weights, gradients and optimizer state fully sharded over all the
    # GPUs (ZeRO-3, no offload to CPU or NVMe; cost/memory.py full_model_state_bytes), against the usable memory
    # explore plan's memory bound uses (Setup.memory_limit_bytes: HBM x the track's usable fraction). Always tested:
    # when it fails no plan fits, and no claim on this hardware can hold.
    floor = full_model_state_bytes(setup) / gpus / 1e9
    r.implied["memory_floor_gb_state_sharded"] = floor
    hbm = setup.cluster.accelerator.memory_bytes / 1e9
    usable = setup.memory_limit_bytes / 1e9
    fits = floor <= usable
    r.tests.append(Test(
        "the model state, fully sharded, fits the GPU's memory", "hardware", fits,
        f"{m.params:,} parameters x ({setup.weight_bytes:g} weight + {setup.grad_bytes:g} gradient + "
        f"{setup.optimizer_bytes:g} optimizer) bytes / {gpus:,} GPUs = {floor:,.1f} GB per GPU "
        f"{'<=' if fits else '>'} {usable:.1f} GB usable ({setup.usable_memory_fraction:.0%} of the {hbm:.1f} GB "
        f"of HBM on {r.gpu}; ZeRO-3, no offload to CPU or NVMe)",
        failed=f"no plan fits on {gpus:,} x {r.gpu}, as the weights, gradients and optimizer state alone, fully "
               f"sharded (ZeRO-3, no offload), need {floor:,.1f} GB per GPU > {usable:.1f} GB usable"))

    # throughput, from whichever form the claim took
    per_gpu = None
    if tokens_per_s is not None:
        per_gpu = tokens_per_s / gpus
    elif tokens_per_s_per_gpu is not None:
        per_gpu = tokens_per_s_per_gpu
    if step_time_s is not None:
        from_step = global_batch * seq / step_time_s / gpus
        r.implied["tokens_per_s_per_gpu_from_step"] = from_step
        if per_gpu is not None:
            ok = abs(from_step - per_gpu) <= tol * per_gpu
            r.tests.append(Test("step time vs throughput", "arithmetic", ok,
                                f"{global_batch:,} x {seq:,} tokens / {step_time_s:g} s / {gpus:,} GPUs = "
                                f"{from_step:,.0f} tokens/s per GPU vs claimed {per_gpu:,.0f}", compares=True))
        else:
            per_gpu = from_step
    if per_gpu is not None:
        r.implied.update(tokens_per_s_per_gpu=per_gpu, mfu_6n=per_gpu * f6 / peak, mfu_model=per_gpu * ffull / peak)
        r.tests.append(Test("MFU from the throughput <= 100%", "arithmetic", r.implied["mfu_6n"] <= 1.0,
                            f"{per_gpu:,.0f} tokens/s x 6 x {m.params / 1e9:.2f}B = {per_gpu * f6 / 1e12:,.1f} "
                            f"TFLOP/s per GPU of {peak / 1e12:,.1f} peak = {r.implied['mfu_6n']:.1%} by 6N alone; "
                            f"{r.implied['mfu_model']:.1%} with attention and logits"))
    if mfu is not None:
        r.implied["tokens_per_s_per_gpu_from_mfu"] = mfu * peak / ffull
        r.implied["tokens_per_s_per_gpu_from_mfu_6n"] = mfu * peak / f6
        r.tests.append(Test("claimed MFU <= 100%", "arithmetic", mfu <= 1.0, f"MFU {mfu:.1%}"))
        if per_gpu is not None:
            a6, af = r.implied["mfu_6n"], r.implied["mfu_model"]
            match = [n for n, v in (("6N", a6), ("6N + attention", af)) if abs(mfu - v) <= tol * v]
            r.tests.append(Test("claimed MFU vs the throughput", "arithmetic", bool(match),
                                f"{per_gpu:,.0f} tokens/s per GPU is {a6:.1%} MFU by 6N alone ({af:.1%} with "
                                f"attention), " + (f"matching the claimed {mfu:.1%} by {match[0]}" if match else
                                                    f"not {mfu:.1%}: at {mfu:.1%} a GPU would process "
                                                    f"{r.implied['tokens_per_s_per_gpu_from_mfu_6n']:,.0f} tokens/s "
                                                    f"(6N), {r.implied['tokens_per_s_per_gpu_from_mfu']:,.0f} "
                                                    f"(with attention)"), compares=True))
    if memory_gb is not None:
        r.tests.append(Test("memory <= HBM", "arithmetic", memory_gb <= hbm,
                            f"{memory_gb:g} GB per GPU vs {hbm:g} GB of HBM on {r.gpu}"))
        # the same floor (above), against the claimed figure
        r.tests.append(Test("memory >= the model state fully sharded", "arithmetic", memory_gb >= floor * (1 - tol),
                            f"{memory_gb:g} GB per GPU vs {m.params:,} parameters x ({setup.weight_bytes:g} weight + "
                            f"{setup.grad_bytes:g} gradient + {setup.optimizer_bytes:g} optimizer) bytes / "
                            f"{gpus:,} GPUs = {floor:,.3g} GB, the weights, gradients and optimizer state alone, "
                            f"fully sharded (ZeRO-3, no offload to CPU or NVMe)"
                            + ("" if memory_gb >= floor or memory_gb < floor * (1 - tol) else
                               f"; below it, but within the {tol:.0%} tolerance")))
    if bound and not fits:  # no plan fits (the hardware test): nothing for the solve to bound
        r.bound = {"global_batch": global_batch or assumptions.global_batch, "infeasible": r.tests[0].failed,
                   "solved": False}
    elif bound:
        _bound(r, track, setup, {**opts, **stack}, global_batch or assumptions.global_batch, mfu, memory_gb,
               time_limit)
    return r


def _bound(r: CheckResult, track, setup, opts: dict, gb: int, mfu: float | None, memory_gb: float | None,
           time_limit: float | None) -> None:
    """The proven 3D optimum of this cluster as the model's upper bound on MFU, and the smallest footprint
    of any plan as its lower bound on memory."""
    from explorer.puzzles.threed import make_instance, solve_3d
    from explorer.solvers.threed_enumerate import enumerate_space

    tol = r.tolerance
    try:
        res = solve_3d(track, model=r.model.model, gpus=r.gpus, global_batch=gb, seq_len=r.seq_len, explain=False,
                       top=1, time_limit=time_limit, **opts)
    except InfeasibleError as exc:
        r.bound = {"global_batch": gb, "infeasible": str(exc)}
        r.tests.append(Test("a plan exists under the model", "model", False, str(exc),
                            failed=f"no plan of the cost model fits on {r.gpus:,} x {r.gpu}"))
        return
    except NoAnswerError as exc:  # the time limit, not a proof: no bound, and no verdict on the claims
        r.bound = {"global_batch": gb, "no_answer": str(exc)}
        return
    b = res.best
    r.bound = {"global_batch": gb, "status": res.status, "plan": b.plan.describe(), "mfu": b.mfu,
               "tokens_per_s_per_gpu": b.tokens_per_s / r.gpus, "memory_gb": b.memory_total / 1e9}
    proven = "proven optimum" if res.status == "optimal" else "best found (NOT proven: time limit)"
    # The cost model's MFU counts attention (PaLM); compare like with like, and the higher of the claims.
    cand = [(r.implied["mfu_model"], "the throughput's MFU (with attention)")] if "mfu_model" in r.implied else []
    if mfu is not None:
        cand.append((mfu, "the claimed MFU"))
    if cand:
        top, what = max(cand)
        r.tests.append(Test("MFU within the model's bound", "model", top <= b.mfu * (1 + tol),
                            f"{what} {top:.1%} vs the {proven} {b.mfu:.1%} ({b.plan.describe()}, global batch "
                            f"{gb:,} x {r.seq_len:,})",
                            failed=f"{what} above the model's best plan's {b.mfu:.1%}"))
    if memory_gb is not None:
        inst = make_instance(track, model=r.model.model, gpus=r.gpus, global_batch=gb, seq_len=r.seq_len, **opts)
        floor = float(enumerate_space(inst).columns["memory_total"].min()) / 1e9
        r.bound["memory_floor_gb"] = floor
        r.tests.append(Test("memory above the smallest footprint", "model", memory_gb >= floor * (1 - tol),
                            f"{memory_gb:g} GB vs {floor:.1f} GB, the least any plan on {r.gpus:,} GPUs needs under "
                            f"the model (weights, gradients, optimizer, activations, buffers)",
                            failed=f"memory below the smallest footprint of any plan, {floor:.1f} GB"))
