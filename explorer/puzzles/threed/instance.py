"""The 3D puzzle's instance from a track and its overrides: the cost-model Setup (make_setup), the Instance the
solvers search (make_instance), the scenario a report keeps (scenario_of, SCENARIO_KEYS) and rebuilds (instance_for),
and a plan read back from the solvers' integer codes (plan_of)."""

from __future__ import annotations

import json
from fractions import Fraction
from functools import lru_cache
from typing import Any

from explorer import validation as V
from explorer.cost.frameworks import (
    DEFAULT_FRAMEWORK,
    attention_kernel_default,
    framework_choice,
    stack_layout_default,
    tp_overlap_default,
)
from explorer.cost.memory import RECOMPUTE_CODES
from explorer.cost.setup import Setup
from explorer.errors import UsageError
from explorer.hardware.catalog import cluster_with
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import ParallelPlan
from explorer.puzzles.threed.space import FRAMEWORK_CODES, FRAMEWORK_NAMES, Instance
from explorer.tracks import Track, get_track

RC_NAMES = {v: k for k, v in RECOMPUTE_CODES.items()}
# The options that define a 3D instance (make_instance / make_setup); a report keeps them all, resolved.
SCENARIO_KEYS = ("model", "gpu", "gpus", "gpus_per_node", "network", "intra_network", "seq_len", "global_batch",
                 "precision", "optimizer", "usable_memory_fraction", "flash_attention", "attention_kernel",
                 "tp_comm_overlap", "fused_kernels", "efficiency", "max_bubble", "fix", "allow", "memory_limit_bytes",
                 "framework", "grad_reduce_dtype", "in_network_reduction", "recompute_every", "fp8_all_gather",
                 "fp8_param_gather", "grad_accumulation_fusion", "cross_entropy")

# --- instance from a track + overrides --------------------------------------------------------
def make_setup(track: Track, *, model: str | DecoderModel | None = None, gpu: str | None = None,
               gpus: int | None = None, gpus_per_node: int | None = None, network: str | None = None,
               intra_network: str | None = None, seq_len: int | None = None, precision: str | None = None,
               optimizer: str | None = None, usable_memory_fraction: float | None = None,
               flash_attention: bool = True, tp_comm_overlap: bool | None = None, fused_kernels: bool = True,
               efficiency=None, attention_kernel: str | None = None, framework: str = DEFAULT_FRAMEWORK,
               grad_reduce_dtype: str | None = None, in_network_reduction: bool = False,
               fused_projections: bool = True, selective_policy: str = "attention",
               embedding_pipeline_slot: bool = False, loss_bytes_per_logit: int = 6,
               tp_saves_gathered_input: bool = False, recompute_every: int = 1, fp8_all_gather: bool = False,
               fp8_param_gather: bool = True, replay_early_stop: bool = False, grad_accumulation_fusion: bool = True,
               cross_entropy: str = "unfused") -> Setup:
    """The cost-model Setup of a track with any of its defaults overridden (fused_projections, selective_policy,
    loss_bytes_per_logit, tp_saves_gathered_input and replay_early_stop: the framework's model code,
    frameworks.stack_layout_default;
    attention_kernel None: the framework's on this GPU, frameworks.attention_kernel_default)."""
    if isinstance(model, dict):  # a saved scenario's custom shape (scenario_of)
        model = DecoderModel(**model)
    if efficiency is not None:
        from explorer.cost.efficiency import Efficiency

        try:
            efficiency = Efficiency(**efficiency) if isinstance(efficiency, dict) else efficiency
        except TypeError as exc:
            raise UsageError(f"efficiency: {exc}") from None
        if not isinstance(efficiency, Efficiency):
            raise UsageError(f"efficiency must be an Efficiency (or a dict of its fields), got {V.short(efficiency)}")
    # an empty name is a name (unknown), not "the default": only None means the track's own
    mdl = model if isinstance(model, DecoderModel) else (
        get_model(model) if model is not None else track.workload.model)
    # --gpu brings its usual node (hardware/data/nodes.toml) unless the node's parts are given too
    cluster = cluster_with(track.cluster, gpu=gpu, gpus=V.DEVICES.check("gpus", gpus, track.cluster.devices),
                           gpus_per_node=V.DEVICES_PER_NODE.check("gpus-per-node", gpus_per_node, None),
                           network=network, intra_network=intra_network)
    # The default never runs a model past its own context: GPT-3's 2,048 learned positions, Llama 2's 4,096.
    seq = V.SEQ_LEN.check("seq-len", seq_len, min(track.workload.seq_len, mdl.max_seq))
    if mdl.position == "learned" and seq > mdl.max_seq:
        raise UsageError(f"seq-len {seq:,} is longer than {mdl.name}'s table of {mdl.max_seq:,} learned positions; "
                         f"give --seq-len <= {mdl.max_seq:,} (a custom shape, --layers/--hidden/--heads, takes "
                         "RoPE positions and any length)")
    usable_memory_fraction = V.OPEN_FRACTION.check("usable-memory-fraction", usable_memory_fraction)
    kw = {} if efficiency is None else {"efficiency": efficiency}
    prec = track.workload.precision if precision is None else precision
    cluster.accelerator.peak(prec)  # a clear error if the part has no such precision
    if fp8_all_gather and framework_choice(framework) not in ("fsdp", "any"):
        raise UsageError(f"an FP8 all-gather is modelled for --framework fsdp (torchao's float8 all-gather under "
                         f"FSDP2), not for {framework_choice(framework)}")
    if attention_kernel is not None and not flash_attention:
        raise UsageError(f"--attention-kernel {attention_kernel} names a fused attention kernel, and "
                         "--no-flash-attention runs attention unfused (the s x s scores in memory); give one or the "
                         "other")
    if tp_comm_overlap and framework_choice(framework) == "deepspeed":
        raise UsageError("--tp-comm-overlap is Megatron-Core's (Transformer Engine userbuffers) or torchtitan's "
                         "(AsyncTP); DeepSpeed's engine, and Megatron-DeepSpeed's tensor parallelism, run the TP "
                         "collectives between the GEMMs: give --framework megatron or fsdp, or leave it off")
    # under --framework any with no kernel given, each plan runs its own framework's
    # (Setup.attention_kernel_by_framework)
    by_framework = attention_kernel is None and framework_choice(framework) == "any"
    if attention_kernel is None:
        attention_kernel = attention_kernel_default(framework, cluster.accelerator.key)
    if tp_comm_overlap is None and framework_choice(framework) != "any":
        # the framework's default on this GPU (frameworks.tp_overlap_default); under --framework any each plan takes
        # its own framework's (frameworks.tp_overlap_of)
        tp_comm_overlap = tp_overlap_default(framework, cluster.accelerator.key)
    return Setup(mdl, cluster, seq, prec, track.workload.optimizer if optimizer is None else optimizer,
                 usable_memory_fraction if usable_memory_fraction is not None else track.usable_memory_fraction,
                 flash_attention, attention_kernel=attention_kernel, attention_kernel_by_framework=by_framework,
                 tp_comm_overlap=tp_comm_overlap,
                 fused_kernels=fused_kernels,
                 grad_reduce_dtype=grad_reduce_dtype,
                 in_network_reduction=in_network_reduction, fused_projections=fused_projections,
                 selective_policy=selective_policy, embedding_pipeline_slot=bool(embedding_pipeline_slot),
                 loss_bytes_per_logit=loss_bytes_per_logit, tp_saves_gathered_input=bool(tp_saves_gathered_input),
                 recompute_every=recompute_every, fp8_all_gather=bool(fp8_all_gather),
                 fp8_param_gather=bool(fp8_param_gather), replay_early_stop=bool(replay_early_stop),
                 grad_accumulation_fusion=bool(grad_accumulation_fusion), cross_entropy=cross_entropy,
                 **kw)


def make_instance(track: Track, *, global_batch: int | None = None, max_bubble: float | None = 0.10,
                  fix: dict | None = None, allow: dict | None = None, memory_limit_bytes: int | None = None,
                  framework: str = DEFAULT_FRAMEWORK, **setup_overrides: Any) -> Instance:
    if setup_overrides.get("embedding_pipeline_slot"):
        raise UsageError("embedding_pipeline_slot=True is an estimate option (--embedding-slots): the 3D search does "
                         "not place the embedding and output layers in pipeline slots; evaluate such a plan with "
                         "explore estimate")
    fused = setup_overrides.get("fused_kernels")
    layout = stack_layout_default(framework, True if fused is None else bool(fused),
                                  setup_overrides.get("cross_entropy") or "unfused")
    for key, value in layout.items():
        # torchtitan's model code under --framework fsdp
        if setup_overrides.get(key) is None:
            setup_overrides[key] = value
    overlap_asked = setup_overrides.get("tp_comm_overlap") is True
    setup = make_setup(track, framework=framework, **setup_overrides)
    _recompute_every_pinned_out(setup.recompute_every, fix or {}, allow or {})
    gb = V.GLOBAL_BATCH.check("global-batch", global_batch, track.workload.global_batch)
    max_bubble = V.FRACTION.check("max-bubble", max_bubble, 0.10)
    if memory_limit_bytes is not None:
        memory_limit_bytes = int(V.MEMORY_BYTES.check("memory-limit-bytes", memory_limit_bytes))
    return Instance(setup=setup, devices=setup.cluster.devices, global_batch=gb,
                    max_bubble=Fraction(max_bubble).limit_denominator(10000), fix=dict(fix or {}),
                    allow=dict(allow or {}), memory_limit=memory_limit_bytes, framework=framework,
                    overlap_asked=overlap_asked)


def _recompute_every_pinned_out(k: int, fix: dict, allow: dict) -> None:
    """recompute_every k > 1 thins full recompute (Setup.recompute_every); a pin or allow list that rules full
    recompute out leaves it nothing to act on: a usage error, as `explore estimate` refuses it beside another mode."""
    if k == 1:
        return
    pinned = fix.get("recompute")
    if pinned is not None and pinned != "full":
        raise UsageError(f"recompute every {k} layers thins full recompute, and --fix recompute={pinned} rules full "
                         "recompute out; pin recompute=full or drop --recompute-every")
    allowed = allow.get("recompute")
    if allowed is not None and "full" not in allowed:
        raise UsageError(f"recompute every {k} layers thins full recompute, and allow recompute="
                         f"{', '.join(map(str, allowed))} rules full recompute out; allow full or drop recompute_every")


def scenario_of(inst: Instance) -> dict[str, Any]:
    """Every option that defines the instance, defaults resolved and JSON-safe:
    make_instance(track, **scenario_of(inst)) rebuilds the same instance (a catalog model by key, any
    other shape as its fields)."""
    from dataclasses import asdict

    from explorer.cost.efficiency import DEFAULT_EFFICIENCY

    s, c = inst.setup, inst.setup.cluster
    try:
        model: Any = s.model.key if get_model(s.model.key) == s.model else asdict(s.model)
    except UsageError:
        model = asdict(s.model)
    out = {"model": model, "gpu": c.accelerator.key, "gpus": inst.devices, "gpus_per_node": c.devices_per_node,
           "network": c.inter.key, "intra_network": c.intra.key, "seq_len": s.seq_len,
           "global_batch": inst.global_batch, "precision": s.precision, "optimizer": s.optimizer,
           "usable_memory_fraction": s.usable_memory_fraction, "flash_attention": s.flash_attention,
           "attention_kernel": (None if s.attention_kernel_by_framework or not s.flash_attention
                                else s.attention_kernel),
           # the framework's default overlap (not asked for) as None, so that the rebuilt instance does not read it
           # as a request (Instance.overlap_asked)
           "tp_comm_overlap": None if s.tp_comm_overlap and not inst.overlap_asked else s.tp_comm_overlap,
           "fused_kernels": s.fused_kernels,
           "max_bubble": float(inst.max_bubble), "fix": dict(inst.fix),
           "allow": {k: list(v) for k, v in inst.allow.items()}, "memory_limit_bytes": int(inst.limit),
           "framework": inst.framework, "grad_reduce_dtype": s.grad_reduce_dtype,
           "in_network_reduction": s.in_network_reduction, "recompute_every": s.recompute_every,
           "fp8_all_gather": s.fp8_all_gather, "fp8_param_gather": s.fp8_param_gather,
           "grad_accumulation_fusion": s.grad_accumulation_fusion,
           "cross_entropy": s.cross_entropy}
    if s.efficiency != DEFAULT_EFFICIENCY:
        out["efficiency"] = s.efficiency.as_dict()
    return out


def plan_of(c: dict, global_batch: int) -> ParallelPlan:
    return ParallelPlan(tp=int(c["tp"]), pp=int(c["pp"]), dp=int(c["dp"]), cp=int(c["cp"]),
                        micro_batch=int(c["mb"]), global_batch=global_batch, virtual_stages=int(c["v"]),
                        zero=int(c["zero"]), recompute=RC_NAMES[int(c["rc"])],
                        sequence_parallel=bool(c["sp"]), framework=FRAMEWORK_NAMES[int(c.get("fw", 0))],
                        hsdp=bool(c.get("hsdp", 0)))


def _key(p: ParallelPlan) -> dict:
    return {"tp": p.tp, "cp": p.cp, "pp": p.pp, "v": p.virtual_stages, "mb": p.micro_batch, "zero": p.zero,
            "rc": RECOMPUTE_CODES[p.recompute], "sp": int(p.sequence_parallel), "fw": FRAMEWORK_CODES[p.framework],
            "hsdp": int(p.hsdp)}



@lru_cache(maxsize=32)
def _scenario_instance(track: str, key: str) -> Instance:
    options = json.loads(key)
    unknown = [k for k in options if k not in SCENARIO_KEYS]
    if unknown:
        raise UsageError(f"unknown 3d scenario option(s) {', '.join(unknown)}; valid: {', '.join(SCENARIO_KEYS)}")
    return make_instance(get_track(track), **options)


def instance_for(track: str, **options: Any) -> Instance:
    """The instance of a scenario (a report's `scenario`, or any subset of SCENARIO_KEYS), cached."""
    from dataclasses import asdict, is_dataclass

    plain = {k: (asdict(v) if is_dataclass(v) else v) for k, v in options.items()}  # a model or efficiency object
    return _scenario_instance(track, json.dumps(plain, sort_keys=True, default=str))

