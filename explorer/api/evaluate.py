"""explorer.estimate: one configuration evaluated (the figures, with the Setup and the notes saying what the
call decided)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from explorer import validation as V
from explorer.api.checks import _overlap_needs_sp, check_default_precision
from explorer.api.hygiene import _api_keywords, cli_names
from explorer.api.results import Estimate
from explorer.api.shapes import resolve_model
from explorer.assumptions import (
    bubble_assumption,
    flop_convention_assumption,
    memory_limit_assumption,
    memory_verdict_caveat,
    pipeline_split_assumptions,
)
from explorer.cost.frameworks import (
    fp32_attention_overrides,
    framework_choice,
    frameworks_for,
    stack_layout_default,
    zero_default,
)
from explorer.cost.setup import Setup
from explorer.cost.step import estimate as _estimate
from explorer.errors import UsageError
from explorer.hardware.catalog import get_accelerator
from explorer.keywords import checked
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import ParallelPlan, check_precision
from explorer.puzzles.threed import make_setup
from explorer.report import Assumption
from explorer.tracks import Track, get_track


@checked("explorer.estimate()", renames=lambda: cli_names("estimate"))
@_api_keywords(takes_plan=True)
def estimate(*, track: str = "cloud", model: str | DecoderModel | None = None, layers: int | None = None,
             hidden: int | None = None, heads: int | None = None, kv_heads: int | None = None,
             ffn: int | None = None, vocab: int | None = None, mlp: str | None = None,
             parallel_block: bool | None = None, gpu: str | None = None,
             gpus: int | None = None, gpus_per_node: int | None = None, network: str | None = None,
             intra_network: str | None = None, seq_len: int | None = None, tp: int = 1, pp: int = 1,
             dp: int | None = None, cp: int = 1, virtual_stages: int = 1, micro_batch: int = 1,
             global_batch: int | None = None, zero: int | None = None, recompute: str | None = None,
             sequence_parallel: bool = True, precision: str | None = None, optimizer: str | None = None,
             usable_memory_fraction: float | None = None, flash_attention: bool = True,
             attention_kernel: str | None = None, tp_comm_overlap: bool | None = None, fused_kernels: bool = True,
             framework: str = "megatron",
             hsdp: bool = False,
             grad_reduce_dtype: str | None = None, in_network_reduction: bool = False,
             embedding_pipeline_slot: bool = False, recompute_every: int = 1,
             fp8_all_gather: bool = False, fp8_param_gather: bool = True, grad_accumulation_fusion: bool = True,
             cross_entropy: str = "unfused", plan: ParallelPlan | None = None) -> Estimate:
    """Evaluate one configuration (defaults from the track; DP defaults to gpus / (TP CP PP); seq_len defaults to the
    track's, or to the model's context where that is shorter: GPT-3's 2,048 learned positions).

    The model is a catalog name, a DecoderModel or a custom shape (layers, hidden, heads; kv_heads, ffn, vocab,
    mlp, parallel_block). `gpu` brings its usual node unless gpus_per_node, intra_network or network say otherwise.
    framework: megatron (default), deepspeed, fsdp, or any (the plan evaluated under each that runs it, the shortest
    step that fits shown and the others named in a note); zero and recompute: None is the track's crisis plan's
    (tracks/<track>.toml [crisis_plan]) for the track's own model on its own GPU under its framework, said in a note,
    else the framework's default stage (frameworks.zero_default: 3 for fsdp, else 0) and no recompute; a plan the
    framework cannot run is a UsageError naming why (explorer/cost/frameworks.py). tp_comm_overlap: None is
    the framework's default on this GPU (frameworks.tp_overlap_default: Megatron-LM's on Hopper and Blackwell, off
    on Ampere and for DeepSpeed and FSDP2). attention_kernel: flash2, flash1, triton or cudnn
    (explorer/cost/efficiency.py attention_kernel_speed); None is the framework's on this GPU
    (frameworks.attention_kernel_default: cuDNN's for Megatron-LM on Hopper and Blackwell and for FSDP2 on
    Blackwell, FlashAttention-2 otherwise).
    embedding_pipeline_slot: the embedding and the output
    layer each take a layer's slot in the pipeline split (Megatron-Core --account-for-embedding-in-pipeline-split
    and --account-for-loss-in-pipeline-split; Llama 3 405B's 126 layers in 128 slots;
    Setup.embedding_pipeline_slot), so PP x virtual stages may reach layers + 2. recompute_every: under full
    recompute, only every k-th layer is checkpointed and the rest keep their activations (torchtitan's selective layer
    AC, Setup.recompute_every). fp8_all_gather: FP8 training on FSDP2 gathers the layers' weights in FP8 (torchao's
    enable_fsdp_float8_all_gather, Setup.fp8_all_gather). fp8_param_gather off: Megatron-LM's FP8 training with BF16
    weights (no --fp8-param-gather), gathered in 2 bytes with Transformer Engine's cached FP8 copy; on (the default,
    NVIDIA's recipes): primary FP8 weights (Setup.fp8_param_gather). grad_accumulation_fusion off: Megatron-LM from
    before --gradient-accumulation-fusion (2022-02) lets autograd add each micro-batch's gradients into .grad, a pass
    over the local parameters per micro-batch after the first (Setup.grad_accumulation_fusion). cross_entropy: the loss
    kernel, "unfused" (the frameworks' default), "te" (Transformer Engine's fused kernel, Megatron-Core
    --cross-entropy-fusion-impl te) or "flash-attn" (flash-attn's Triton kernel, llm-foundry's fused_crossentropy):
    Setup.cross_entropy. The result carries the Setup it was computed with (`.setup`).

    plan: a ParallelPlan (res.best.plan of explorer.solve_3d, or any Estimate's .plan) gives tp, pp, dp, cp,
    micro_batch, global_batch, virtual_stages, zero, recompute, sequence_parallel, framework and hsdp at once (and
    gpus its device count unless given); with the solve's scenario keywords (track, model, gpu, network, ...) the
    figures are the solver's. A field given beside plan= is a UsageError naming both. Choice names (precision,
    recompute, ...) are read in any case; switches (sequence_parallel, hsdp, ...) are True or False."""
    t = get_track(track)
    tp, pp, dp, cp, virtual_stages = (V.DEGREE.check(k, x) for k, x in (
        ("tp", tp), ("pp", pp), ("dp", dp), ("cp", cp), ("virtual-stages", virtual_stages)))
    micro_batch = V.MICRO_BATCH.check("micro-batch", micro_batch)
    if precision is not None:
        check_precision(precision)
    check_default_precision(t, gpu, precision)
    framework = framework_choice(framework)  # a choice or an alias (nemo, torchtitan, ...); else a UsageError
    if zero is not None:
        zero = V.ZERO_STAGE.check("zero", zero)
    model = resolve_model(model, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ffn=ffn,
                          vocab=vocab, mlp=mlp, parallel_block=parallel_block)
    mdl = model if isinstance(model, DecoderModel) else (
        get_model(model) if model is not None else t.workload.model)
    if mdl.heads % tp or mdl.kv_heads % tp:
        raise UsageError(f"TP {tp} must divide the heads ({mdl.heads}) and KV heads ({mdl.kv_heads})")
    from explorer.puzzles.fleet3d import fleet_phrase, is_fleet

    if gpu is None and gpus is None and is_fleet(t.key):  # the whole fleet as one synchronous data-parallel ring
        mb = t.crisis_plan.micro_batch
        raise UsageError(
            f"{fleet_phrase(t.key)}, not a datacenter whose ranks reduce every "
            f"step: `explore solve 3d --track {t.key}` evaluates it; --gpus 1 --micro-batch {mb} --global-batch "
            f"{mb} gives one local step of one {t.device_word} (the lab's micro-batch; without --global-batch one "
            f"device would take the fleet's whole batch of {t.workload.global_batch:,}), --gpu (e.g. h100) the "
            f"track's model on datacenter hardware")
    asked_recompute = recompute  # None: the default, which recompute_every > 1 does not take (its check below)
    n = t.cluster.devices if gpus is None else V.DEVICES.check("gpus", gpus)
    whose = f"the track's {n:,} GPUs" if gpus is None else f"gpus {n:,}"
    hint = " (give gpus to evaluate another size)" if gpus is None else ""
    if dp is None:
        if n % (tp * pp * cp):
            raise UsageError(f"{whose} is not divisible by TP x PP x CP = {tp * pp * cp:,}{hint}")
        dp = n // (tp * pp * cp)
    if tp * pp * cp * dp != n:
        raise UsageError(f"TP x PP x CP x DP = {tp * pp * cp * dp:,} does not equal {whose}{hint}")
    asked_zero = zero
    zero, recompute, from_track, notes = _track_plan_defaults(t, mdl, gpu, framework, zero, recompute,
                                                              recompute_every, shards=dp * cp)
    if asked_zero is not None and asked_zero >= 1 and dp * cp == 1:
        notes.append(Assumption(
            f"ZeRO-{asked_zero} with DP x CP = 1 shards nothing: the one data-parallel rank holds all of its "
            "optimizer state, gradients and weights, as ZeRO-0 would (the stage changes which collectives run, and "
            "with one rank there are none).",
            "Rajbhandari et al. 2020 (ZeRO) sec. 5: each stage partitions over the N_d data-parallel ranks"))
    if virtual_stages > 1 and pp == 1:
        raise V.conflict(f"virtual stages = {virtual_stages} needs PP > 1 (interleaving splits a pipeline's stages)")
    gb = t.workload.global_batch if global_batch is None else global_batch
    if tp > 1 and not sequence_parallel:
        _overlap_needs_sp(tp_comm_overlap, f"TP {tp}", "--no-sequence-parallel")
    if embedding_pipeline_slot and pp == 1:
        # with no pipeline split the one stage holds the embedding, every layer and the output layer whatever the
        # split counts (cost/step.py applies the slots only where PP > 1): said, not priced
        embedding_pipeline_slot = False
        notes.append(Assumption(
            "--embedding-slots (embedding_pipeline_slot) has no effect at PP=1: with no pipeline split the one stage "
            "holds the embedding, every layer and the output layer anyway.",
            "Megatron-Core --account-for-embedding-in-pipeline-split applies to the pipeline split only"))
    # (framework, ZeRO stage) to evaluate: the one chosen, or for 'any' each framework that runs the plan
    m_pipe = gb // (dp * micro_batch) if gb % (dp * micro_batch) == 0 else None  # micro-batches per pipeline
    candidates, reasons = [], []
    for f in frameworks_for(framework):
        z = zero_default(f.key) if zero is None else zero  # the framework's own stage unless one was given
        why = f.why_not(tp=tp, cp=cp, pp=pp, v=virtual_stages, zero=z, hsdp=hsdp, m=m_pipe)
        (reasons.append((f, why)) if why else candidates.append((f, z)))
    if not candidates:
        hint = ""
        if m_pipe is not None and virtual_stages > 1 and any(f.why_not(pp=pp, v=virtual_stages, zero=f.zero_stages[0],
                                                                       m=m_pipe) for f, _ in reasons):
            whose_gb = "global batch" if global_batch is not None else f"the {t.name} track's global batch"
            hint = (f"; m = {whose_gb} {gb:,} / (DP {dp:,} x micro-batch {micro_batch}): a global batch that is a "
                    f"multiple of {dp * micro_batch * pp:,}, or --virtual-stages 1, runs")
        raise UsageError((f"no framework runs this plan: {'; '.join(w for _, w in reasons)}" if framework == "any"
                          else f"--framework {framework} cannot run this plan: {reasons[0][1]}") + hint)

    prec = t.workload.precision if precision is None else precision
    acc_key = t.cluster.accelerator.key if gpu is None else get_accelerator(gpu).key

    def setup_for(fw: str) -> Setup:
        # FP32: no fused attention kernel takes it (frameworks.fp32_attention_overrides), each framework falls back
        fp32 = fp32_attention_overrides(fw, prec, acc_key, attention_kernel, flash_attention)
        return make_setup(t, model=mdl, gpu=gpu, gpus=n, gpus_per_node=gpus_per_node, network=network,
                          intra_network=intra_network, seq_len=seq_len, precision=precision, optimizer=optimizer,
                          usable_memory_fraction=usable_memory_fraction,
                          flash_attention=fp32.get("flash_attention", flash_attention),
                          attention_kernel=fp32.get("attention_kernel", attention_kernel),
                          tp_comm_overlap=tp_comm_overlap,
                          fused_kernels=fused_kernels, grad_reduce_dtype=grad_reduce_dtype, framework=fw,
                          in_network_reduction=in_network_reduction, embedding_pipeline_slot=embedding_pipeline_slot,
                          recompute_every=recompute_every, fp8_all_gather=fp8_all_gather,
                          fp8_param_gather=fp8_param_gather,
                          grad_accumulation_fusion=grad_accumulation_fusion, cross_entropy=cross_entropy,
                          **stack_layout_default(fw, fused_kernels, cross_entropy))

    setups = []
    for f, z in candidates:
        try:
            setups.append((f, z, setup_for(f.key)))
        except UsageError as exc:  # an option this framework does not take (DeepSpeed and --tp-comm-overlap ...)
            if framework != "any":
                raise
            reasons.append((f, str(exc)))
    if not setups:
        raise UsageError(f"no framework runs this plan: {'; '.join(w for _, w in reasons)}")
    setup = setups[0][2]
    if in_network_reduction and not setup.cluster.intra.nvls_efficiency:
        notes.append(_no_nvls_note(setup.cluster.intra))  # said, as --embedding-slots at PP=1 is
    dpn = setup.cluster.devices_per_node
    for name, span in (("TP", tp), ("TP x CP", tp * cp)):
        if 1 < span < dpn and not bool(setup.within_nodes(span)):  # priced as crossing (Setup.within_nodes)
            notes.append(Assumption(
                f"{name} = {span} does not divide the node's {dpn} GPUs: groups of {span} consecutive ranks "
                f"straddle node boundaries (ranks {dpn - dpn % span}-{dpn - dpn % span + span - 1} span two nodes), "
                "so their collectives cross the network and pace the step; a divisor of the node keeps them inside.",
                "Megatron-LM rank order (TP innermost); "
                "docs/conventions.md 'Collectives inside the training-step model'"))
            break
    if recompute_every > 1 and recompute != "full":
        if asked_recompute is None:  # name the default that is in force without recompute_every, not 'none'
            default = _track_plan_defaults(t, mdl, gpu, framework, zero, None, 1, shards=dp * cp)[1]
            whose = (f", from the {t.name} track's crisis plan" if default == t.crisis_plan.recompute != "none"
                     else "")
            got = (f"recompute was not given (its default here is {default}{whose}); give --recompute full "
                   "(recompute='full')")
        else:
            got = f"got recompute {recompute}"
        raise UsageError(f"recompute every {recompute_every} layers needs recompute full (it thins full "
                         f"recomputation to every k-th layer): {got}")
    m = setup.model
    if setup.seq_len % cp:
        raise UsageError(f"CP {cp} must divide the sequence length {setup.seq_len}")
    slots = m.layers + (2 if embedding_pipeline_slot else 0)
    if pp * virtual_stages > slots:
        what = f"the {m.layers} layers" + (" and the embedding and output slots" if embedding_pipeline_slot else "")
        hint = "" if embedding_pipeline_slot else " (--embedding-slots gives the embedding and output a slot each)"
        raise UsageError(f"PP x virtual stages = {pp * virtual_stages} exceeds {what}{hint}")
    if global_batch is None and gb % (dp * micro_batch):
        # The plan's own check names only the numbers; here neither the batch nor (often) DP was the user's.
        raise UsageError(
            f"the {t.name} track's global batch of {gb:,} sequences is not divisible by DP x micro-batch = "
            f"{dp:,} x {micro_batch} (DP = {n:,} GPUs / (TP {tp} x PP {pp} x CP {cp})); give --global-batch "
            f"as a multiple of {dp * micro_batch:,}, or raise --tp / --pp / --cp (explore solve 3d finds the "
            f"best plan for these inputs)")
    results = []
    for f, z, st in setups:
        plan = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, micro_batch=micro_batch, global_batch=gb,
                            virtual_stages=virtual_stages, zero=z, recompute=recompute,
                            sequence_parallel=sequence_parallel, framework=f.key, hsdp=bool(hsdp))
        results.append((f, st, _estimate(st, plan)))
    # the shortest step among the plans that fit in memory (all of them when none fits): what a user of 'any' wants
    f, st, best = min(results, key=lambda r: (not r[2].fits_in_memory, r[2].step_time_s))
    if in_network_reduction and st.cluster.intra.nvls_efficiency:  # the fabric has NVLS: does this plan gain?
        without = _estimate(replace(st, in_network_reduction=False), best.plan)
        if (dict(without.time), without.dp_comm_total_s) == (dict(best.time), best.dp_comm_total_s):
            notes.append(Assumption(
                "--in-network-reduction (in_network_reduction) has no effect on this plan: the "
                f"{st.cluster.intra.name} has NVLink SHARP, but none of the plan's collectives is faster with it "
                "(the cost model runs all-reduces in the switch where that beats NCCL's ring and tree, across "
                "nodes bounded by the NICs; reduce-scatters and all-gathers, ZeRO's and sequence parallelism's, "
                "without it); the step time is the same without it.",
                "explorer/cost/collectives.py (NVLS all-reduce: bus bandwidth capped by the rails across nodes); "
                "explorer/cost/setup.py Setup.group (nvls_bandwidth)"))
    if framework == "any":
        notes.append(_any_note(results, reasons, f))
    limit = memory_limit_assumption(st, t if usable_memory_fraction is None else None)
    flops = flop_convention_assumption(st, best.mfu, best.model_tflops_per_gpu * 1e12)
    split = pipeline_split_assumptions(st, best.plan)  # layers % (PP x v) != 0: how they are split, and the flags
    bubble = bubble_assumption(best.plan, best.bubble_fraction, best.time["bubble"], best.step_time_s)
    shard_total = None  # the memory with the sequence shard kept where DTensor's TP keeps its gathered inputs
    if not best.fits_in_memory and st.tp_saves_gathered_input and best.plan.tp > 1 and best.plan.sequence_parallel:
        shard_total = _estimate(replace(st, tp_saves_gathered_input=False), best.plan).memory_total
    caveat = memory_verdict_caveat(st, best.plan, best.memory_total, best.memory_limit, shard_total)
    return Estimate.of(st, best, notes=tuple(notes), from_track=from_track,
                       figures=(*split, *bubble, limit, *caveat, flops))


def _no_nvls_note(link: Any) -> Assumption:
    """--in-network-reduction on a node whose intra-node link has no NVLink SHARP (NVLS) figure in the catalog
    (Link.nvls_efficiency 0: Setup.group prices no in-switch all-reduce there): the option changes nothing, and the
    note says why, citing the catalog entries that do have it."""
    import re

    from explorer.hardware.catalog import get_link, link_names

    with_nvls = [get_link(k) for k in link_names() if get_link(k).nvls_efficiency]
    gen = re.fullmatch(r"nvlink(\d+)", link.key)
    newer = bool(gen) and int(gen.group(1)) >= 4
    why = (f"the catalog has no measured NVLS all-reduce bandwidth for the {link.name}, so none is priced"
           if newer else
           f"NVLink SHARP (NVLS) is the all-reduce that the third-generation NVSwitch (NVLink 4, Hopper) computes "
           f"in the switch, and the {link.name} has no such switch")
    return Assumption(
        f"--in-network-reduction (in_network_reduction) has no effect here: {why}; every all-reduce runs as "
        "NCCL's ring or tree.",
        "; ".join(f"hardware/data/links.toml [{lk.key}]: {lk.source}" for lk in with_nvls)
        + "; explorer/cost/setup.py Setup.group (nvls_bandwidth)")


def _track_plan_defaults(t: Track, mdl: DecoderModel, gpu: str | None, framework: str, zero: int | None,
                         recompute: str | None, recompute_every: int,
                         shards: int = 2) -> tuple[int | None, str, dict, list]:
    """The ZeRO stage and recompute mode an estimate was not given: the track's crisis plan's (explorer/data/tracks/
    <track>.toml [crisis_plan], the configuration solve 3d and the lab start from) when the estimate is of the track's
    own model on its own GPU under the crisis plan's framework (or 'any'); else the framework's own (zero None here,
    resolved per framework) and no recompute. So `explore estimate --model llama3_70b --gpus 1024 --tp 8 --pp 8 --dp 16
    --micro-batch 2` is the crisis configuration the lab and solve 3d quote (ZeRO-1, selective), not a ZeRO-0 copy of
    it. Returns zero, recompute, the values taken {option: value} and the notes saying so (only where the track's
    value differs from what the option would otherwise have been). shards: the data-parallel ranks (DP x CP) the
    state would be sharded over; with 1 the track's ZeRO stage is not taken (it would shard nothing and only relabel
    the plan), the framework's own default stands."""
    c = t.crisis_plan
    from_track: dict = {}
    # the track's GPU named (by key or alias) is still its own GPU: restating a default must not change the plan
    named = None if gpu is None else get_accelerator(gpu).key
    own_gpu = named in (None, t.cluster.accelerator.key)
    track_model = mdl == t.workload.model and framework in (c.framework, "any")
    if own_gpu and track_model:
        if zero is None and shards > 1:
            zero = from_track["zero"] = c.zero
        if recompute is None and recompute_every == 1:  # recompute_every asks for full recompute: not the track's
            recompute = from_track["recompute"] = c.recompute
    notes = []
    if not own_gpu and track_model and (zero is None or recompute is None):  # an A/B of GPUs: said unless pinned
        notes.append(Assumption(
            f"The {t.name} track's crisis plan (ZeRO-{c.zero}, {c.recompute} recompute) fills the plan options not "
            f"given only on the track's own GPU ({t.cluster.accelerator.key}); on {named} they "
            f"are the framework's defaults: give --zero {c.zero} --recompute {c.recompute} (zero={c.zero}, "
            f"recompute={c.recompute!r}) to compare the two GPUs on one plan.",
            f"explorer/data/tracks/{t.key}.toml [crisis_plan]"))
    recompute = "none" if recompute is None else recompute
    differs = {k: v for k, v in from_track.items()
               if v != {"zero": zero_default(c.framework), "recompute": "none"}[k]}
    if differs:
        said = " and ".join(f"ZeRO-{v}" if k == "zero" else f"{v} recompute" for k, v in differs.items())
        flags = " / ".join(f"--{k} ({k}=)" for k in differs)
        notes.append(Assumption(
            f"{said[0].upper()}{said[1:]} from the {t.name} track's crisis plan, which fills the plan options not "
            f"given for the track's own model and GPU; {flags} {'set them' if len(differs) > 1 else 'sets it'}.",
            f"explorer/data/tracks/{t.key}.toml [crisis_plan]: {t.sources.get('crisis_plan', '')}".rstrip(": ")))
    return zero, recompute, from_track, notes


def _any_note(results: list, reasons: list, chosen: Any) -> Assumption:
    """--framework any: each framework's figures for the plan, those that cannot run it and why, and which is shown."""
    from explorer.units import human_percent, step_text

    parts = [f"{f.name} (ZeRO-{e.plan.zero}): MFU {human_percent(e.mfu)}, step {step_text(e.step_time_s)}"
             + ("" if e.fits_in_memory else ", does not fit in memory") for f, _, e in results]
    parts += [f"{f.name}: does not run it ({why})" for f, why in reasons]
    fits = any(e.fits_in_memory for _, _, e in results)
    return Assumption(
        f"--framework any: the plan evaluated under each framework: {'; '.join(parts)}. Shown: {chosen.name}, the "
        f"shortest step{' that fits in memory' if fits else ' (none fits in memory)'}.",
        "explorer/cost/frameworks.py (each framework's ZeRO stages, pipelines and model code)")
