"""`explore check`: test a published claim (throughput, step time, MFU, memory) against arithmetic and
against the cost model.

FLOPs per token are the cost model's (explorer/models/architecture.py: 3 x forward, the forward being
2 x matmul parameters + 4 s h attention per layer + 2 V h logits; PaLM, Chowdhery et al. 2022, App. B)
and 6N with N all parameters, the shorthand many write-ups divide by, so that a claimed MFU computed that way can
be matched. It is not Kaplan et al. 2020's count: their C ~ 6N (sec. 2.1) takes N as the non-embedding parameters,
since an embedding lookup does no matmul; the check prints that figure beside it (6 x the input embedding fewer).
MFU = tokens/s per GPU x FLOPs per token / peak FLOP/s (docs/conventions.md, "Utilisation").

Three kinds of test:
- hardware: the 16-bit weights alone, fully sharded over all the GPUs, exceed the GPU's usable memory (the
  fraction `explore plan` skips a candidate by) -> "impossible": no plan fits on that hardware even with the
  gradients and optimizer state offloaded to host memory (ZeRO-Offload, Ren et al. 2021, the relaxation
  `explore solve memory` prices); only streaming the weights themselves from host or NVMe (ZeRO-Infinity,
  Rajbhandari et al. 2021), which the project does not model, goes lower, and the verdict says so.
  Tested always, with or without --memory-gb;
- arithmetic: the claims contradict each other or a hard limit (MFU above 100%, memory above the HBM or below
  the weights fully sharded over all the GPUs, an MFU that matches the throughput under neither FLOP count)
  -> "inconsistent";
- model: the claim beats what the cost model allows (the weights, gradients and optimizer state fully sharded
  do not fit without offload, which the model's plans never use; MFU above the proven 3D optimum's; memory
  below the smallest footprint of any plan, or below the model state fully sharded) -> "beyond the model" (the
  model may be pessimistic; say so). The bound is solved at the claim's global batch; without --global-batch at
  the default (2,048 sequences), and when no plan divides that default, at the nearest multiple of the GPU count
  (which every data-parallel degree divides). The verdict line names the batch whenever it was not given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from explorer.cost.memory import full_model_state_bytes
from explorer.errors import InfeasibleError, NoAnswerError, UsageError
from explorer.planner.inputs import ModelChoice, RunAssumptions, cluster_options, fraction, gpu_name

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
    flops_floor: float  # the matmuls and causal attention: the least FLOPs a training step executes per token
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
                "flops_per_token_model": self.flops_full, "flops_per_token_floor": self.flops_floor,
                "claims": self.claims, "implied": self.implied,
                "bound": self.bound, "tolerance": self.tolerance,
                "tests": [{"name": t.name, "kind": t.kind, "ok": t.ok, "arithmetic": t.arithmetic}
                          for t in self.tests]}

    def to_text(self) -> str:
        from explorer.planner.narrate import check_text

        return check_text(self)


def _gb(x: float) -> str:
    """GB with three significant figures under 10 GB (0.138, not 0.1), one decimal above (141.1)."""
    return f"{x:,.1f}" if x >= 10 else f"{x:.3g}"


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
    d = opts["gpus_per_node"]
    if gpus > d and gpus % d:  # make_setup's refusal named a --gpus-per-node this command does not have
        from explorer.hardware.catalog import node_for_accelerator

        raise UsageError(f"--gpus {gpus:,} is not whole {d}-GPU nodes of the {node_for_accelerator(opts['gpu']).name} "
                         f"that --gpu {gpu} comes in: give {d * (gpus // d):,} or {d * (gpus // d + 1):,} (whole "
                         f"nodes), or {d - 1} or fewer (a part of one node)")
    # never past the model's own context by default (GPT-3: 2,048 learned positions)
    seq = min(assumptions.seq_len, model.model.max_seq) if seq_len is None else seq_len
    track = get_track("cloud")
    stack = dict(stack or {})
    setup = make_setup(track, model=model.model, gpus=gpus, seq_len=seq, **opts,
                       **stack)
    m = setup.model
    peak = setup.peak_flops
    f6, ffull = 6.0 * m.params, m.model_flops_per_token(seq)
    # The least a step executes per token: the cost model's count with its attention term halved, as a causal mask
    # leaves half of the s x s scores and a causal kernel skips the rest (Dao-AILab/flash-attention
    # benchmarks/benchmark_flash_attention.py flops(): 4 b s^2 h d forward, divided by 2 when causal). Weights are
    # multiplied forward and backward whatever the kernels, so no step of this model does less work per token.
    fmin = ffull - 3.0 * m.layers * m.attention_forward_flops_per_token(seq) / 2.0
    r = CheckResult(model=model, gpu=opts["gpu"], gpus=gpus, seq_len=seq, peak_flops=peak, flops_6n=f6,
                    flops_full=ffull, flops_floor=fmin, claims=claims, implied={}, bound={}, tolerance=tolerance,
                    precision=setup.precision)
    tol = tolerance

    # The floors no plan goes under, against the usable memory explore plan's memory bound uses
    # (Setup.memory_limit_bytes: HBM x the track's usable fraction). Always tested: when one fails no plan fits.
    # - the 16-bit weights fully sharded over all the GPUs: what stays on the device when the gradients and the
    #   optimizer state are offloaded to host memory (ZeRO-Offload; `explore solve memory` prices it). Failing it is
    #   the hardware's limit ("impossible"), short of streaming the weights themselves (ZeRO-Infinity, not modelled);
    # - the weights, gradients and optimizer state fully sharded (ZeRO-3, no offload; cost/memory.py
    #   full_model_state_bytes): the floor of the cost model's plans, which never offload. Failing it is the
    #   model's limit ("beyond the model"), since offload would lift it.
    floor = full_model_state_bytes(setup) / gpus / 1e9
    w_floor = m.params * setup.weight_bytes / gpus / 1e9
    r.implied["memory_floor_gb_state_sharded"] = floor
    r.implied["memory_floor_gb_weights_sharded"] = w_floor
    hbm = setup.cluster.accelerator.memory_bytes / 1e9
    usable = setup.memory_limit_bytes / 1e9
    weights_fit, fits = w_floor <= usable, floor <= usable
    gpu = gpu_name(r.gpu)  # the part as prose names it (the catalog's name, not the key h100_sxm)
    of_hbm = f"{usable:.1f} GB usable ({setup.usable_memory_fraction:.0%} of the {hbm:.1f} GB of HBM on the {gpu})"
    r.tests.append(Test(
        "the weights, fully sharded, fit the GPU's memory", "hardware", weights_fit,
        f"{m.params:,} parameters x {setup.weight_bytes:g} weight bytes / {gpus:,} GPUs = {_gb(w_floor)} GB per GPU "
        f"{'<=' if weights_fit else '>'} {of_hbm}; gradients and optimizer state offloaded to host memory "
        f"(ZeRO-Offload)",
        failed=f"no plan fits on {gpus:,} x {gpu} even with the gradients and optimizer state offloaded to host "
               f"memory (ZeRO-Offload): the weights alone, fully sharded, need {_gb(w_floor)} GB per GPU > "
               f"{usable:.1f} GB usable (only streaming the weights themselves from host memory or NVMe, "
               f"ZeRO-Infinity, which the project does not model, needs less)"))
    r.tests.append(Test(
        "the model state, fully sharded, fits the GPU's memory without offload", "model", fits,
        f"{m.params:,} parameters x ({setup.weight_bytes:g} weight + {setup.grad_bytes:g} gradient + "
        f"{setup.optimizer_bytes:g} optimizer) bytes / {gpus:,} GPUs = {floor:,.1f} GB per GPU "
        f"{'<=' if fits else '>'} {of_hbm}; ZeRO-3, no offload to CPU or NVMe, as in every plan of the cost model",
        failed=f"no plan of the cost model fits on {gpus:,} x {gpu}: its plans do not offload, and the weights, "
               f"gradients and optimizer state alone, fully sharded (ZeRO-3), need {floor:,.1f} GB per GPU > "
               f"{usable:.1f} GB usable; offloading the gradients and optimizer state to host memory "
               f"(ZeRO-Offload, which explore solve memory prices) would leave {_gb(w_floor)} GB of weights per GPU"))

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
        r.implied.update(tokens_per_s_per_gpu=per_gpu, mfu_6n=per_gpu * f6 / peak, mfu_model=per_gpu * ffull / peak,
                         mfu_floor=per_gpu * fmin / peak)
        # The hard limit counts what the step must execute, attention included (the cost model's MFU counts it too):
        # 6N alone leaves it out, and passed 400 tokens/s per GPU of Llama 3 405B on H100s (98.4% by 6N, 102.0%
        # counting the matmuls and causal attention)
        r.tests.append(Test("FLOPs the throughput needs <= 100% of peak", "arithmetic", r.implied["mfu_floor"] <= 1.0,
                            f"{per_gpu:,.0f} tokens/s x {fmin / 1e9:,.1f} GFLOP per token (the matmuls, logits and "
                            f"causal attention: the least a step executes) = {per_gpu * fmin / 1e12:,.1f} TFLOP/s per "
                            f"GPU of {peak / 1e12:,.1f} peak = {r.implied['mfu_floor']:.1%}; the cost model's MFU "
                            f"(full s x s attention, PaLM) {r.implied['mfu_model']:.1%}; 6N alone "
                            f"{r.implied['mfu_6n']:.1%}",
                            failed=f"the throughput needs {r.implied['mfu_floor']:.1%} of the GPU's dense peak even "
                                   f"counting only the matmuls, logits and causal attention"))
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
                            f"{memory_gb:g} GB per GPU vs {hbm:g} GB of HBM on the {gpu_name(r.gpu)}"))
        # the same floors (above), against the claimed figure: below the weights is a hard limit, below the whole
        # model state only the model's (offload goes lower)
        def within(f: float) -> str:
            inside = f * (1 - tol) <= memory_gb < f
            return f"; below it, but within the {tol:.0%} tolerance" if inside else ""

        r.tests.append(Test("memory >= the weights fully sharded", "arithmetic", memory_gb >= w_floor * (1 - tol),
                            f"{memory_gb:g} GB per GPU vs {m.params:,} parameters x {setup.weight_bytes:g} weight "
                            f"bytes / {gpus:,} GPUs = {w_floor:,.3g} GB, the weights alone, fully sharded, which "
                            f"stay on the GPU even with the gradients and optimizer state offloaded" + within(w_floor)))
        r.tests.append(Test("memory >= the model state fully sharded, without offload", "model",
                            memory_gb >= floor * (1 - tol),
                            f"{memory_gb:g} GB per GPU vs {m.params:,} parameters x ({setup.weight_bytes:g} weight + "
                            f"{setup.grad_bytes:g} gradient + {setup.optimizer_bytes:g} optimizer) bytes / "
                            f"{gpus:,} GPUs = {floor:,.3g} GB, the weights, gradients and optimizer state alone, "
                            f"fully sharded (ZeRO-3, no offload to CPU or NVMe, as in every plan of the cost model)"
                            + within(floor),
                            failed=f"memory below the weights, gradients and optimizer state fully sharded, "
                                   f"{floor:,.3g} GB, which only offload (not in the cost model's plans) goes under"))
    gb = global_batch or assumptions.global_batch
    if bound and not fits:  # no plan of the model fits (the memory floors): nothing for the solve to bound
        r.bound = {"global_batch": gb, "global_batch_given": global_batch is not None,
                   "infeasible": r.tests[0 if not weights_fit else 1].failed, "solved": False}
    elif bound:
        _bound(r, track, setup, {**opts, **stack}, gb, mfu, memory_gb, time_limit, given=global_batch is not None)
    return r


def _no_plan(r: CheckResult, gb: int, given: bool, exc: InfeasibleError, also: int | None = None) -> None:
    """No plan of the cost model at global batch `gb` (and, when `also`, at that batch too): a failed model test
    whose words name the batch when it was the default, not the user's."""
    at = "" if given else f" at the default global batch of {gb:,} sequences (--global-batch not given)"
    if also is not None:
        at += f", nor at {also:,}, the nearest multiple of the GPU count"
    r.bound = {"global_batch": gb, "global_batch_given": given, "infeasible": str(exc)}
    r.tests.append(Test("a plan exists under the model", "model", False, str(exc),
                        failed=f"no plan of the cost model fits on {r.gpus:,} x {gpu_name(r.gpu)}{at}"))


def _bound(r: CheckResult, track, setup, opts: dict, gb: int, mfu: float | None, memory_gb: float | None,
           time_limit: float | None, given: bool = True) -> None:
    """The proven 3D optimum of this cluster as the model's upper bound on MFU, and the smallest footprint
    of any plan as its lower bound on memory. `given`: the global batch is the user's; when it is the default and
    no plan divides it, the bound is solved at the nearest multiple of the GPU count instead (every data-parallel
    degree divides it), and r.bound records both."""
    from explorer.puzzles.threed import make_instance, solve_3d
    from explorer.puzzles.threed import space as rules
    from explorer.solvers.threed_enumerate import enumerate_space

    tol = r.tolerance

    def solve(batch: int):
        return solve_3d(track, model=r.model.model, gpus=r.gpus, global_batch=batch, seq_len=r.seq_len,
                        explain=False, top=1, time_limit=time_limit, **opts)

    default: dict[str, Any] = {}
    try:
        try:
            res = solve(gb)
        except InfeasibleError as exc:
            alt = r.gpus * max(1, round(gb / r.gpus))
            if given or "global_batch" not in exc.conflicts or alt == gb:
                _no_plan(r, gb, given, exc)
                return
            default = {"global_batch": gb, "infeasible": str(exc)}
            try:
                res = solve(alt)
            except InfeasibleError:
                _no_plan(r, gb, given, exc, also=alt)
                return
            gb = alt
    except NoAnswerError as exc:  # the time limit, not a proof: no bound, and no verdict on the claims
        r.bound = {"global_batch": gb, "global_batch_given": given, "no_answer": str(exc)}
        return
    b = res.best
    r.bound = {"global_batch": gb, "global_batch_given": given, "status": res.status, "plan": b.plan.describe(),
               "mfu": b.mfu, "tokens_per_s_per_gpu": b.tokens_per_s / r.gpus, "memory_gb": b.memory_total / 1e9}
    if default:
        r.bound["default_batch"] = default
    proven = "proven optimum" if res.status == "optimal" else "best found (NOT proven: time limit)"
    # The cost model's MFU counts attention (PaLM); compare like with like, and the higher of the claims.
    cand = [(r.implied["mfu_model"], "the throughput's MFU (with attention)")] if "mfu_model" in r.implied else []
    if mfu is not None:
        cand.append((mfu, "the claimed MFU"))
    if cand:
        top, what = max(cand)
        from explorer.planner.run import model_error

        r.implied["mfu_over_bound"] = top / b.mfu
        r.bound["model_error"] = model_error(b.plan.framework, r.gpu, r.precision)
        r.tests.append(Test("MFU within the model's bound", "model", top <= b.mfu * (1 + tol),
                            f"{what} {top:.1%} vs the {proven} {b.mfu:.1%} ({b.plan.describe()}, global batch "
                            f"{gb:,} x {r.seq_len:,})",
                            failed=f"{what} above the model's best plan's {b.mfu:.1%}"))
    if memory_gb is not None:
        inst = make_instance(track, model=r.model.model, gpus=r.gpus, global_batch=gb, seq_len=r.seq_len, **opts)
        floor = float(enumerate_space(inst, rules=rules).columns["memory_total"].min()) / 1e9
        r.bound["memory_floor_gb"] = floor
        r.tests.append(Test("memory above the smallest footprint", "model", memory_gb >= floor * (1 - tol),
                            f"{memory_gb:g} GB vs {floor:.1f} GB, the least any plan on {r.gpus:,} GPUs needs under "
                            f"the model (weights, gradients, optimizer, activations, buffers)",
                            failed=f"memory below the smallest footprint of any plan, {floor:.1f} GB"))
