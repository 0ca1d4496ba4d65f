"""The Report of the 3D puzzle: the optimum, why it wins, what binds, the lab's questions (the words: narration.py)."""

from __future__ import annotations

from dataclasses import replace

from explorer.accuracy import ceiling_assumption
from explorer.assumptions import setup_assumptions
from explorer.cost.collectives import NCCL_VERSION
from explorer.cost.frameworks import attention_kernel_default, framework, frameworks_for, tp_overlap_default
from explorer.cost.step import StepEstimate, estimate
from explorer.plan import ParallelPlan
from explorer.puzzles.threed.instance import scenario_of
from explorer.puzzles.threed.narration import (
    _cfg,
    _lab_questions,
    _micro_batch_finding,
    _part,
    _recompute_every_finding,
    _slower_because,
    _why,
)
from explorer.report import Assumption, Constraint, Figure, Formula, Report, Table
from explorer.reports.format import fmt_value
from explorer.units import human_bytes as hbytes
from explorer.units import human_number as hnum
from explorer.units import human_percent as pct
from explorer.units import human_step as hstep
from explorer.units import plural


def build_report(res) -> Report:
    inst, b = res.instance, res.best
    s = inst.setup
    track = res.track.key if res.track else "custom"
    word = res.track.device_word if res.track else "GPU"
    proven_by = _proven_by(res)
    status_word = "proven optimal by CP-SAT" if proven_by == "CP-SAT" else (
        "proven optimal by exhaustive search after CP-SAT stopped at its time limit"
        if res.cpsat_unproven is not None else
        "optimal by exhaustive search" if res.status == "optimal" else
        f"feasible, not proven optimal (gap {res.gap:.2%})" if res.gap is not None else "feasible")
    # pinned values (--fix) narrow the question: the proof holds for the plans that keep them, and the reader is
    # told so wherever the answer is called optimal (the headline, the status line's scope, JSON extra.proven_over)
    pins = ",".join(f"{k}={v}" for k, v in inst.fix.items())
    if pins:
        status_word += f" with --fix {pins}"
    if res.status != "optimal" and res.heuristic:
        status_word += (": CP-SAT found no configuration within its time limit, this is the construction "
                        "heuristic's (the most memory-frugal settings, the smallest PP that fits); raise --time-limit")
    headline = (f"{b.plan.describe()}: MFU {pct(b.mfu)}, step {hstep(b.step_time_s)}, bubble "
                f"{pct(b.bubble_fraction)}, {hbytes(b.memory_total)} of {hbytes(inst.limit)} per {word}; "
                f"{status_word} (--framework {inst.framework}); runs on "
                f"{framework(b.plan.framework).label(b.plan.zero)}.")
    if res.crisis:
        c = res.crisis
        which = ("the best plan with those values fixed" if pins else "the optimum") if res.status == "optimal" \
            else "this configuration"
        ratio = c.step_time_s / b.step_time_s
        if not c.fits_in_memory:  # a configuration that does not fit reaches nothing
            headline += (f" The crisis configuration ({c.plan.describe()}) does not fit: it needs "
                         f"{hbytes(c.memory_total)} of {hbytes(inst.limit)} per {word}.")
        elif ratio >= 1:
            headline += (f" The crisis configuration ({c.plan.describe()}) reaches MFU {pct(c.mfu)} with a "
                         f"{pct(c.bubble_fraction)} bubble: {which} is {fmt_value(ratio, 'x')} faster.")
        else:  # never call a speedup below 1x "faster"; name what rules the crisis out (a pin, a limit it breaks)
            headline += (f" The crisis configuration ({c.plan.describe()}) reaches MFU {pct(c.mfu)} with a "
                         f"{pct(c.bubble_fraction)} bubble: {which} is {fmt_value(1 / ratio, 'x')} slower, "
                         f"{_slower_because(res)}.")
    figs = {
        "mfu": Figure(b.mfu, "fraction", "MFU (model FLOPs / peak)"),
        "hfu": Figure(b.hfu, "fraction", "HFU (hardware FLOPs / peak)"),
        "step_time_s": Figure(b.step_time_s, "s", "step time"),
        "tokens_per_s": Figure(b.tokens_per_s, "tokens/s", "throughput"),
        "model_tflops_per_gpu": Figure(b.model_tflops_per_gpu, "TFLOP/s", f"model TFLOP/s per {word}"),
        "hardware_tflops_per_gpu": Figure(b.hardware_tflops_per_gpu, "TFLOP/s", f"hardware TFLOP/s per {word}"),
        "bubble_fraction": Figure(b.bubble_fraction, "fraction", "pipeline bubble"),
        "memory_per_gpu": Figure(b.memory_total, "B", f"memory per {word}"),
        "memory_headroom": Figure(inst.limit - b.memory_total, "B", "memory headroom"),
        "devices": Figure(inst.devices, res.track.device_plural if res.track else "GPUs", "devices"),
        "design_space": Figure(res.space_size, "combinations", "design space searched"),
    }
    if res.crisis:
        figs["crisis_mfu"] = Figure(res.crisis.mfu, "fraction", "crisis configuration MFU")
        figs["speedup_vs_crisis"] = Figure(res.crisis.step_time_s / b.step_time_s, "x", "speedup vs crisis")
    if res.track:
        usd = res.track.device_hour_usd * inst.devices / 3600.0
        figs["cost_per_step_usd"] = Figure(usd * b.step_time_s, "USD", f"cost per step (at "
                                           f"{hnum(res.track.device_hour_usd, 4)} USD per {word}-hour)")

    bind = res.binding or {}
    proven = res.status == "optimal"
    # What binds: for a proven optimum, lifting the limit would allow a faster step (the what-if analysis);
    # for an unproven answer that analysis says nothing about it, so a limit binds only where this
    # configuration sits on it. Where the what-if run was not done (a design space too large to enumerate), a
    # limit the answer does not sit on was not judged: the table says so (Constraint.judged) and the findings say why
    judged = proven and bool(bind.get("analysed"))
    mem_binds = bool(bind.get("memory", {}).get("binds")) if judged else b.memory_total >= inst.limit
    bub_binds = (bool(bind.get("bubble", {}).get("binds")) if judged else
                 b.bubble_fraction >= float(inst.max_bubble) - 1e-12)
    cons = [
        Constraint("memory per device", b.memory_total, inst.limit, "B", "<=",
                   binding=mem_binds, judged=judged or mem_binds,
                   text=f"{s.usable_memory_fraction:.0%} of "
                        f"{s.cluster.accelerator.memory_bytes / 1e9:.0f} GB HBM usable"),
        Constraint("bubble fraction", b.bubble_fraction, float(inst.max_bubble), "fraction", "<=",
                   binding=bub_binds, judged=judged or bub_binds, text="(p-1)/(v m + p - 1) <= max-bubble"),
        Constraint("TP x CP x PP x DP = devices", b.plan.devices, inst.devices, "", "==", binding=True),
        Constraint("DP x micro-batch x micro-batches = global batch", b.plan.dp * b.plan.micro_batch *
                   b.plan.num_micro_batches, inst.global_batch, "", "==", binding=True),
        Constraint("TP within a node", b.plan.tp, s.cluster.devices_per_node, "", "<="),
    ]
    findings = _why(res) + _recompute_every_finding(res) + _lab_questions(res) + _micro_batch_finding(res)
    # the tables hold values (fractions, seconds, bytes); their formats print them as the figures do (51.5%, 50.89 GB)
    top = Table(["rank", "configuration", "MFU", "step (s)", "bubble", "memory"],
                [[i + 1, e.plan.describe(), float(e.mfu), float(e.step_time_s), float(e.bubble_fraction),
                  float(e.memory_total)] for i, e in enumerate(res.top)],
                "Optimum and next best" if proven else "Configuration found (not proven optimal)",
                ["", "", "percent", "fixed.4", "percent", "bytes"])
    tables = {"top": top, "memory_breakdown": _breakdown_mem(b, res.crisis, proven),
              "time_breakdown": _breakdown_time(b, res.crisis, proven)}
    if res.micro_batch_question:
        tables["micro_batch_sweep"] = Table(
            ["micro-batch", "micro-batches", "MFU", "bubble", "memory (GB)", "fits"],
            [[r["micro_batch"], r["num_micro_batches"], float(r["mfu"]), float(r["bubble_fraction"]),
              float(r["memory_gb"]), bool(r["fits"])] for r in res.micro_batch_question["sweep"]],
            "The micro-batch question: crisis shape pinned, micro-batch free",
            ["", "", "percent.2", "percent.1", "fixed.2", ""])
    data = {"memory_heatmap": _heatmap(res),
            "bubble_gauge": bubble_gauge_data(b, float(inst.max_bubble), res.crisis),
            "parallelism_map": parallelism_map_data(b.plan, s, inst.devices, word)}
    return Report(
        puzzle="3d", lab="05", part=2, track=track, title="The parallelism puzzle",
        status=res.status, headline=headline, figures=figs, findings=findings, constraints=cons,
        formulas=FORMULAS, assumptions=_assumptions(res), tables=tables,
        plots=["parallelism_map", "memory_heatmap", "bubble_gauge", "math_peek"], data=data,
        extra={"configuration": _cfg(b.plan), "engine": res.engine,
               "objective": {"name": "mfu", "value": b.mfu, "sense": "max"},
               "gap": res.gap, "setup": _setup_summary(res), "proven_by": proven_by,
               **({"cpsat_unproven": _plan_summary(res.cpsat_unproven)} if res.cpsat_unproven is not None else {}),
               **({"heuristic": True} if res.heuristic else {}),
               **({"proven_over": f"with --fix {pins}"} if pins else {}),
               "binding_judged": judged,
               "binding_means": ("without this constraint the optimum would change (the solver re-solved "
                                 "without it; the == constraints define the problem)" if judged else
                                 "the answer sits on this limit (the == constraints define the problem; the "
                                 "design space is too large for the what-if run, so whether lifting a limit would "
                                 "allow a faster step was not judged)" if proven else
                                 "the answer sits on this limit (the == constraints define the problem; not proven "
                                 "optimal, so lifting a limit was not judged)")},
        solve_time_s=res.solve_time_s, scenario=scenario_of(inst),
    )


def _proven_by(res) -> str | None:
    """Who proved the optimum: "CP-SAT", "exhaustive search" (ThreeDResult.proven_by), None when not proven."""
    if res.status != "optimal":
        return None
    return getattr(res, "proven_by", None) or ("CP-SAT" if res.engine == "cpsat" else "exhaustive search")


def _plan_summary(e: StepEstimate) -> dict:
    return {"plan": e.plan.describe(), "step_time_s": e.step_time_s, "mfu": e.mfu}


def _setup_summary(res) -> dict:
    s, inst = res.instance.setup, res.instance
    return {"model": s.model.name, "params": s.model.params, "accelerator": s.cluster.accelerator.name,
            "devices": inst.devices, "devices_per_node": s.cluster.devices_per_node,
            "intra_link": s.cluster.intra.name, "inter_link": s.cluster.inter.name, "node": s.cluster.node_dict(),
            "seq_len": s.seq_len,
            "global_batch": inst.global_batch, "precision": s.precision, "optimizer": s.optimizer,
            "max_bubble": float(inst.max_bubble), "memory_limit_bytes": inst.limit, "fixed": dict(inst.fix),
            "framework": inst.framework, "runs_on": framework(res.best.plan.framework).label(res.best.plan.zero),
            "search_box": search_box_text(inst)}


def _breakdown_mem(b: StepEstimate, c: StepEstimate | None, proven: bool = True) -> Table:
    rows = [[k, float(v)] + ([float(c.memory[k])] if c else []) for k, v in b.memory.items()]
    rows.append(["total", float(b.memory_total)] + ([float(c.memory_total)] if c else []))
    return Table(["memory part", "optimum" if proven else "answer"] + (["crisis"] if c else []), rows,
                 "Memory per device", ["", "bytes"] + (["bytes"] if c else []))  # bytes, printed as 50.89 GB


def _breakdown_time(b: StepEstimate, c: StepEstimate | None, proven: bool = True) -> Table:
    rows = [[_part(k), float(v)] + ([float(c.time[k])] if c else []) for k, v in b.time.items()]
    rows.append(["step", float(b.step_time_s)] + ([float(c.step_time_s)] if c else []))
    return Table(["time part", "optimum (s)" if proven else "answer (s)"] + (["crisis (s)"] if c else []), rows,
                 "Step time", ["", "fixed.4"] + (["fixed.4"] if c else []))  # seconds, printed as 3.8694


def _heatmap(res) -> dict:
    """Memory per device over the TP x PP grid, other settings as at the optimum (null: invalid shape)."""
    b, inst = res.best, res.instance
    return memory_heatmap_data(inst.setup, b.plan, inst.devices, inst.global_batch, inst.limit,
                               res.track.device_word if res.track else "GPU")


def memory_heatmap_data(s, plan: ParallelPlan, devices: int, global_batch: int, limit: float,
                        word: str = "GPU") -> dict:
    """The memory_heatmap plot's data: memory per device over the TP x PP grid with every other setting as in
    `plan` (None where the shape is invalid); used by the report (at the optimum) and the lab app (at the
    student's plan).

    Each cell is a shape the 3D solver itself accepts (threed.space.structural_rules): its virtual stages are the
    plan's v capped at floor(layers / PP), as PP x v chunks cannot exceed the layers, and v = 1 where the
    micro-batch count is not divisible by PP (Megatron-LM interleaving) or PP = 1; a cell that breaks any other
    rule (the framework's, say) is None. Keeping the plan's v = 10 at PP = 64 would price 640 chunks of an
    80-layer model, a shape `explore estimate` refuses. `virtual_stages` gives each cell's v."""
    from explorer.puzzles.threed.space import Instance, structural_rules

    n, layers = devices, s.model.layers
    rules_of = Instance(setup=s, devices=n, global_batch=global_batch)  # the rules' own instance, nothing pinned
    tps = [t for t in (1, 2, 4, 8, 16) if t <= s.cluster.devices_per_node and s.model.kv_heads % t == 0]
    pps = sorted({p for p in (1, 2, 4, 8, 16, 32, 64) if p <= layers} | {plan.pp})
    grid, vgrid = [], []
    for pp in pps:
        row, vrow = [], []
        for tp in tps:
            dp = n // (tp * pp * plan.cp) if n % (tp * pp * plan.cp) == 0 else 0
            m = global_batch // (dp * plan.micro_batch) if dp and global_batch % (dp * plan.micro_batch) == 0 else 0
            v = 1 if pp == 1 or not m or m % pp else max(1, min(plan.virtual_stages, layers // pp))
            sp = plan.sequence_parallel and tp > 1
            if not m or not all(bool(ok) for ok in structural_rules(rules_of, {
                    "tp": tp, "cp": plan.cp, "pp": pp, "dp": dp, "v": v, "mb": plan.micro_batch, "m": m,
                    "sp": int(sp), "fw": framework(plan.framework).code, "zero": plan.zero,
                    "hsdp": int(plan.hsdp)}).values()):
                row.append(None)
                vrow.append(None)
                continue
            p = replace(plan, tp=tp, pp=pp, dp=dp, virtual_stages=v, sequence_parallel=sp)
            row.append(float(f"{estimate(s, p).memory_total / 1e9:.6g}"))
            vrow.append(v)
        grid.append(row)
        vgrid.append(vrow)
    capped = plan.virtual_stages > 1
    note = (f"Other settings as at TP={plan.tp} PP={plan.pp} (micro-batch {plan.micro_batch}, ZeRO-{plan.zero}, "
            f"recompute {plan.recompute}). " +
            (f"Virtual stages v per cell: the plan's v = {plan.virtual_stages} capped at floor({layers} layers / PP) "
             f"(PP x v <= layers), v = 1 where PP = 1 or the micro-batch count is not divisible by PP. "
             if capped else "Virtual stages v = 1 in every cell, as in the plan. ") +
            "Grey: a shape the solver rejects. Memory can rise again at large PP: the first stage holds up to PP "
            "micro-batches in flight (PP x v + PP - 1 chunks when interleaved), each chunk ceil(layers / (PP x v)) "
            "layers.")
    return {"tp": tps, "pp": pps, "memory_gb": grid, "virtual_stages": vgrid, "limit_gb": limit / 1e9,
            "chosen": {"tp": plan.tp, "pp": plan.pp}, "device_word": word, "note": note}


def bubble_gauge_data(e: StepEstimate, limit: float, crisis: StepEstimate | None = None) -> dict:
    """The bubble_gauge plot's data for one configuration (the bubble rule `limit`, the crisis marked)."""
    return {"bubble_fraction": e.bubble_fraction, "limit": limit,
            "crisis_bubble_fraction": crisis.bubble_fraction if crisis else None,
            "p": e.plan.pp, "m": e.plan.num_micro_batches, "v": e.plan.virtual_stages}


def parallelism_map_data(plan: ParallelPlan, s, devices: int, word: str = "GPU") -> dict:
    """The parallelism_map plot's data: how a plan's TP, CP, PP, DP groups sit on nodes, racks and pods."""
    return {"tp": plan.tp, "pp": plan.pp, "dp": plan.dp, "cp": plan.cp, "device_word": word,
            "devices": devices, "devices_per_node": s.cluster.devices_per_node,
            "nodes_per_rack": 4, "racks_per_pod": 8, "layers": s.model.layers}


def _framework_text(res) -> str:
    f = framework(res.best.plan.framework)
    s = res.instance.setup
    grad = (s.grad_reduce_dtype or "the framework's default").upper() if s.grad_reduce_dtype else (
        "FP32" if f.grad_fp32 and s.precision in ("bf16", "fp8") else "the model dtype")
    text = {"megatron": "Megatron-LM: DDP buckets of max(40M, 1M x DP) parameters, gradient reduce and weight "
                        "all-gather overlapped (--overlap-grad-reduce --overlap-param-gather); distributed optimizer "
                        "= ZeRO-1 (reduce-scatter + all-gather once per step); ZeRO-2/3 through Megatron-FSDP "
                        "(per-layer units, every micro-batch's gradients reduce-scattered; ZeRO-3 gathers each "
                        "layer's weights forward and backward; no PP)",
            "deepspeed": "DeepSpeed: 5e8-element reduce/all-gather buckets, overlap_comm only for ZeRO-3; ZeRO-2 "
                         "reduce-scatters every micro-batch, ZeRO-3 gathers each layer's weights forward and "
                         "backward for every micro-batch; no ZeRO-2/3 with PP, no interleaving, no ring CP",
            "fsdp": "PyTorch FSDP2 (torchtitan): one all-gather and one reduce-scatter per transformer block; "
                    "without PP every micro-batch gathers forward and backward and reduce-scatters; with PP the "
                    "weights are gathered once and the gradients reduced once per step"}[f.key]
    return (f"The answer runs on {f.label(res.best.plan.zero)}. {text}; gradients accumulated and reduced in "
            f"{grad}.")


def search_box_text(inst) -> str:
    """The bounds of the searched space that are not physical limits (shown in every 3D report)."""
    v = (f"v <= {inst.max_virtual_stages} and PP x v <= layers" if inst.max_virtual_stages is not None
         else "PP x v <= layers")
    mb = ("any divisor of the global batch" if inst.max_micro_batch is None
          else f"a divisor of the global batch <= {inst.max_micro_batch}")
    return (f"CP <= {inst.max_cp} (dividing the sequence), {v}, micro-batch {mb}, TP within a node (and dividing "
            f"the heads); "
            f"frameworks: {', '.join(f.name for f in frameworks_for(inst.framework))}")


def _assumptions(res) -> list[Assumption]:
    s = res.instance.setup
    e = s.efficiency
    acc = s.cluster.accelerator
    # the attention figure the step model uses: the part's own where the catalog has one (Setup.attention_efficiency)
    shown = e if acc.attention_efficiency is None else replace(e, attention_efficiency=acc.attention_efficiency)
    a = [
        Assumption(f"Usable memory is {s.usable_memory_fraction:.0%} of HBM "
                   f"({res.instance.limit / 1e9:.1f} GB of {s.cluster.accelerator.memory_bytes / 1e9:.0f} GB)."
                   if res.instance.memory_limit is None else
                   f"Usable memory is {hbytes(res.instance.limit)} per device, the limit given (memory_limit_bytes "
                   f"or a memory headroom), not {s.usable_memory_fraction:.0%} of the "
                   f"{hbytes(s.cluster.accelerator.memory_bytes)} of HBM.",
                   _memory_source(res)),
        Assumption("Placement order TP (innermost), CP, DP, PP (outermost: data parallelism inside each pipeline "
                   "stage, as Megatron-LM, DeepSpeed and torchtitan build their groups). Collectives as NCCL runs "
                   "them: per call the faster "
                   "of ring and double binary tree, ring latency per hop by tier (one network hop per node "
                   "crossed), a group with k members per node drives k NICs (min(NVLink, k x NIC)); one latency "
                   "per call (buckets, per-layer gathers).",
                   f"NVIDIA/nccl {NCCL_VERSION} src/graph/tuning.cc; nccl issue #412; nccl-tests issue #100; "
                   "explorer/cost/collectives.py"),
        Assumption(_framework_text(res), framework(res.best.plan.framework).source),
        Assumption(f"Search box: {search_box_text(res.instance)}; 'optimal' means optimal inside it.",
                   "explorer/puzzles/threed/space.py build_space"),
        Assumption("Layers split over PP x v chunks of ceil(L/(PP v)) layers (uneven allowed; the fullest stage "
                   "sets the pace); interleaving needs the micro-batch count divisible by PP.",
                   "Megatron-LM interleaved schedule; Llama 3 paper sec. 3.3.2"),
        Assumption(f"Efficiency parameters: {shown.describe()}; GEMM efficiency of the part "
                   f"{acc.matmul_efficiency}.",
                   "; ".join(x for x in (acc.matmul_efficiency_source, acc.attention_efficiency_source) if x)),
    ]
    if s.tp_comm_overlap is None:  # --framework any: the TP overlap of the framework the answer runs on
        s = replace(s, tp_comm_overlap=tp_overlap_default(res.best.plan.framework, acc.key))
    if s.attention_kernel_by_framework:  # --framework any: the attention kernel of the framework the answer runs on
        s = replace(s, attention_kernel=attention_kernel_default(res.best.plan.framework, acc.key),
                    attention_kernel_by_framework=False)
    return a + _cost_assumption(res) + setup_assumptions(s, res.best.plan) + ceiling_assumption(s, res.best.mfu)


def _memory_source(res) -> str:
    """The source of the usable-memory assumption for the node actually used: the track's own where its cluster is
    unchanged (GPU, node, links); else the GPU's HBM (accelerators.toml), the GPU preset's node and its source
    (nodes.toml) and the track's reason for the fraction held back (or that the fraction was given)."""
    from explorer.hardware.catalog import get_node

    s, t = res.instance.setup, res.track
    c = s.cluster
    own = t.sources.get("cluster", "") if t else ""
    if t is not None and (c.accelerator.key, c.node, c.devices_per_node, c.intra.key, c.inter.key,
                          tuple(c.node_changes)) == (t.cluster.accelerator.key, t.cluster.node,
                                                     t.cluster.devices_per_node, t.cluster.intra.key,
                                                     t.cluster.inter.key, tuple(t.cluster.node_changes)):
        return own
    parts = [f"HBM: {c.accelerator.source}" if c.accelerator.source else f"HBM: {c.accelerator.name}"]
    if c.node:
        n = get_node(c.node)
        parts.append(f"node: {n.name}" + (f", {n.source}" if n.source else ""))
    else:
        parts.append(f"node: custom ({c.describe_node()})")
    if c.node_changes:
        parts.append("changed: " + ", ".join(c.node_changes))
    if t is not None and s.usable_memory_fraction == t.usable_memory_fraction:
        held = [x for x in own.split("; ") if "held back" in x]
        parts.append(f"usable fraction: the {t.key} track's" + (f" ({held[0]})" if held else ""))
    else:
        parts.append("usable fraction: as given (--usable-memory-fraction)")
    return "; ".join(parts)


def _cost_assumption(res) -> list[Assumption]:
    """Where the cost per step comes from: the track's price per device-hour ([economics] in its toml)."""
    t = res.track
    if t is None:
        return []
    n, step = res.instance.devices, res.best.step_time_s
    return [Assumption(f"Cost per step: {plural(n, t.device_word)} x {hnum(t.device_hour_usd, 4)} USD per "
                       f"{t.device_word}-hour x {hstep(step)} / 3,600 s per hour = "
                       f"{n * t.device_hour_usd * step / 3600:,.3f} USD (the {t.key} track's price).",
                       t.sources.get("economics", f"tracks/{t.key}.toml [economics]"))]


FORMULAS = [
    Formula("MFU", "MFU = model FLOPs per second / (N x peak FLOP/s); model FLOPs = 3 x forward "
            "(6N + 12 L H Q T per token)", "PaLM, Chowdhery et al. 2022, App. B; docs/conventions.md"),
    Formula("HFU", "HFU counts recompute FLOPs too (full recompute adds one forward; under PyTorch's "
            "non-reentrant checkpoint, the FSDP2 stack's, one forward less each layer's MLP down projection)",
            "Narayanan et al. SC'21 eq. 3; pytorch/pytorch torch/utils/checkpoint.py (early stop)"),
    Formula("Bubble fraction", "bubble = (P - 1)/(v M + P - 1); the 10% rule as 10 (P - 1) <= v M + P - 1",
            "Narayanan et al. SC'21 sec. 2.2; docs/conventions.md", note="the lab's math peek (P-1)/(P+M-1) is v = 1"),
    Formula("Step time", "t_step = (v M + P - 1) x t_chunk + max(t_last bucket, t_grad - 2/3 t_stage) + "
            "max(t_first bucket, t_param - 1/3 t_stage) + t_optimizer; t_chunk = t_stage / v + t_p2p + t_DP per "
            "micro-batch (ZeRO-3/FSDP without PP); "
            "with v > 1 each chunk syncs after its own last backward, hidden by the cooldown's later backwards",
            "1F1B schedule, Narayanan et al. SC'21; overlap as each framework runs it (explorer/cost/sharding.py "
            "step_sync_exposed; Megatron-LM schedules.py, param_and_grad_buffer.py)"),
    Formula("Model state", "Megatron-LM bf16: 18 bytes/param (DDP), 6 + 12/d (distributed optimizer); ZeRO "
            "(2 + 2 + 12) sharded by stage; FSDP2: 16/d", "Megatron-LM docs dist_optimizer.md; Rajbhandari et al. "
            "2020 (ZeRO) Table 1; torchtitan mixed precision"),
    Formula("Activations per layer", "s b h (10 + 24/t) bytes, s b h 34/t with sequence parallel, 2 s b h with "
            "full recompute (GPT shape; actual GQA/SwiGLU shapes counted)", "Korthikanti et al. 2022, Table 2"),
    Formula("AllReduce (NCCL)", "min(ring: base + (2(N-1) - 2(n-1)) alpha_NVLink + 2(n-1) alpha_net + 2(N-1)/N M/B; "
            "tree: base + 2((k-1) alpha_NVLink + log2(n) alpha_net) + 2M/(0.92 B)), n nodes, k per node, "
            "B = min(NVLink, k x NIC)", f"NVIDIA/nccl {NCCL_VERSION} tuning.cc; docs/conventions.md"),
]
