"""The memory audit's Report: the lab's questions answered (bytes per parameter, the optimizer bar, training
against serving, the largest model, LoRA and QLoRA), the cheapest fit and its alternatives, the waterfall table and
figure, formulas and assumptions."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

from explorer.cost import training_memory as tmem
from explorer.puzzles.memory.model import MemoryResult, _baseline_idx, _ttq, bytes_per_param, largest_layers
from explorer.puzzles.memory.narration import (
    _changes,
    _describe,
    _largest_vs_chosen,
    _lost_text,
    _no_layer_fits,
    _ttq_arithmetic,
    setup_words,
)
from explorer.puzzles.memory.scenario import ATTEMPT_VARIABLES, CHARGED_LABEL, MILLI, MemoryInstance, _choice
from explorer.report import Assumption, Constraint, Figure, Finding, Formula, Report, Table
from explorer.solvers.choice_tables import restrict, solve_exhaustive
from explorer.units import human_bytes_3 as _gb  # three significant digits
from explorer.units import human_number, plural, unit_scale
from explorer.units import human_params as _params

# who proved the answer (MemoryResult.engine): CP-SAT, or the exhaustive search over every configuration, the answer
# when --engine enumerate is asked for or a time limit stopped CP-SAT before its proof (model.solve_memory)
_PROVER = {"cpsat": "CP-SAT", "enumerate": "exhaustive search"}


def build_report(res: MemoryResult) -> Report:
    inst, prob = res.inst, res.problem
    t, m, L = inst.track, inst.base.model, inst.base.model.layers
    base_idx = _baseline_idx(inst)
    base_score = prob.score(base_idx)
    wf_base = tmem.waterfall(inst.base, inst.layout, inst.baseline, inst.cm.int8_block_size)
    u = prob.notes["unit_s"]
    base_ttq = _ttq(prob, base_score)
    figures: dict[str, Figure] = {}
    findings: list[Finding] = []
    bpp32, bppmix = bytes_per_param("adam", "fp32"), bytes_per_param("adam", "bf16")
    figures["adam_fp32_bytes_per_param"] = Figure(bpp32["total"], "B", "Adam FP32: bytes per parameter")
    figures["adam_mixed_bytes_per_param"] = Figure(bppmix["total"], "B", "Adam mixed precision: bytes per parameter")
    findings.append(Finding(
        "How many bytes per parameter does Adam need in FP32, and where does the '4x' come from?",
        f"{bpp32['weights']} (weights) + {bpp32['gradients']} (gradients) + {bpp32['optimizer']} (m and v, 4 each) "
        f"= {bpp32['total']} bytes/param = 4 x the 4-byte weights. Mixed precision: {bppmix['weights']} + "
        f"{bppmix['gradients']} + {bppmix['optimizer']} (FP32 master, m, v) = {bppmix['total']} bytes/param. "
        f"A 7B model: 7 billion x 16 B = 112 GB before activations; {m.name} ({_params(m.params)} params): "
        f"{_gb(m.params * bpp32['total'])}."))
    ratio32 = bpp32["optimizer"] / bpp32["weights"]
    ratio_mix = bppmix["optimizer"] / bppmix["weights"]
    figures["optimizer_to_weights_fp32"] = Figure(ratio32, "x", "optimizer bar / weights bar, Adam FP32")
    figures["optimizer_to_weights_mixed"] = Figure(ratio_mix, "x", "optimizer bar / weights bar, Adam mixed precision")
    findings.append(Finding(
        "The lab says the optimizer bar is 3x the weights bar: in which precision is that so?",
        f"In neither, as the bars are drawn here, though the total is 16 B/param in both. Adam in FP32: "
        f"optimizer {bpp32['optimizer']} B (m and v) / weights {bpp32['weights']} B = {human_number(ratio32)}x (no "
        f"separate master copy: the FP32 weights are the master). Mixed precision: optimizer "
        f"{bppmix['optimizer']} B (FP32 master + m + v) / weights {bppmix['weights']} B (BF16) = "
        f"{human_number(ratio_mix)}x. The 3x is the mixed-precision optimizer state measured against FP32-sized "
        f"weights: three FP32 values per parameter (master, m, v: 12 B) against one (4 B) = 3x, the ZeRO paper's "
        f"K = 12 over 4 bytes (Rajbhandari et al. 2020, sec. 3.1); equivalently the optimizer bar is 3x the "
        f"16-bit weights + gradients bars together (12 vs 2 + 2)."))
    serving = tmem.serving_weight_bytes(m)
    states = wf_base["weights"] + wf_base["gradients"] + wf_base["optimizer"]
    ratio = wf_base["total"] / serving
    figures["training_to_serving_states"] = Figure(states / serving, "x", "training states / serving weights")
    figures["training_to_serving_ratio"] = Figure(ratio, "x", "training (with activations) / serving weights")
    findings.append(Finding(
        "Why does training need 4-8x the memory of serving?",
        f"Serving keeps only 16-bit weights: {m.params:,} x 2 B = {_gb(serving)}. Training keeps weights, gradients "
        f"and optimizer state: 16 B/param with Adam = 8x the 16-bit weights (4x the FP32 weights); here "
        f"{_gb(states)} ({setup_words(inst.baseline)}, per device) = "
        f"{human_number(states / serving)}x. Activations add {_gb(wf_base['activations'] + wf_base['working'])} at "
        f"micro-batch {inst.baseline.micro_batch} without recomputation: {human_number(ratio)}x the serving weights "
        f"in total."))
    figures["memory_limit"] = Figure(inst.limit, "B", f"usable memory per {t.device_word}")
    figures["baseline_total"] = Figure(wf_base["total"], "B", "starting configuration: memory per device")
    # largest model: the starting optimizer and precision, with the smallest activations (micro-batch 1,
    # full recomputation), all layers trained, no ZeRO/offload
    lean = replace(inst.baseline, micro_batch=min(inst.dims["micro_batch"]), recompute="full")
    lay = largest_layers(inst, lean, inst.limit)
    big = tmem.with_layers(inst.base, lay).model.params if lay else 0
    bpp = bytes_per_param(inst.baseline.optimizer if inst.baseline.optimizer in tmem.BASE_OPTIMIZERS else "adam",
                          inst.baseline.precision)["total"]
    closed = inst.limit // bpp
    # what the figure holds fixed goes in its label: beside a chosen configuration that changes the optimizer or
    # precision, a bare 'largest model that trains' read as a limit on that configuration too (review 88 item 6b)
    held = (f"{setup_words(inst.baseline)} as started, micro-batch {lean.micro_batch}, full "
            f"recomputation, no ZeRO/offload")
    ends_only = (m.params - m.layers * m.layer_params) * bpp > inst.limit
    figures["largest_model_params"] = (
        Figure(big, "params", f"largest model of this width that trains ({held})") if lay else
        Figure("none (not even " + ("the embedding and output head fit" if ends_only else "one layer fits")
               + f" with {setup_words(inst.baseline)})", "",
               f"largest model of this width that trains ({held})"))
    findings.append(Finding(
        f"What is the largest model that trains in {_gb(inst.limit)} per {t.device_word}?",
        f"Weights + gradients + optimizer state alone: {_gb(inst.limit)} / {bpp} B/param = {_params(closed)} "
        f"parameters. With activations (micro-batch {lean.micro_batch}, full recomputation, "
        f"{setup_words(inst.baseline)} as started, no ZeRO/offload): "
        + (f"{plural(lay, 'layer')} of the {m.hidden}-wide {m.name} shape = {_params(big)} parameters" if lay else
           f"none: not even one layer of the {m.hidden}-wide {m.name} shape trains")
        + (f" (the track's model has {m.layers} layers, {_params(m.params)})." if lay < m.layers else
           f", so the track's {_params(m.params)} model trains with room to spare.")
        + (_no_layer_fits(inst, lean, bpp) if lay == 0 else "")
        + _largest_vs_chosen(inst, res.best, lay)))
    if len(inst.dims["adapter"]) > 1:
        findings.append(_adapter_finding(inst, figures))
    constraints: list[Constraint] = []
    tables: dict[str, Table] = {}
    extra: dict[str, Any] = {"engine": res.engine}
    if res.best is None:
        headline = (f"{m.name} cannot be made to fit in {_gb(inst.limit)} on the {t.key} track with any of the "
                    f"{prob.radix} combinations of changes offered.")
        status = "infeasible"
        findings.append(Finding("Which cheapest set of changes makes the model fit?", headline))
    else:
        c = res.best
        sc = prob.score(res.best_idx)
        wf = tmem.waterfall(inst.base, inst.layout, c, inst.cm.int8_block_size)
        ttq = _ttq(prob, sc)
        lost = ttq / base_ttq - 1.0  # signed: negative when the fix is faster than the start (frozen layers)
        changes = _changes(inst.baseline, c, L)
        figures["optimum_total"] = Figure(wf["total"], "B", "chosen configuration: memory per device")
        figures["time_to_quality_lost"] = Figure(lost, "fraction",
                                                 "time-to-quality lost vs the starting point (negative: gained)")
        figures["step_time"] = Figure(sc["time"] * u, "s", "step time of the chosen configuration")
        figures["quality_multiplier"] = Figure(sc["quality"] / MILLI, "",
                                               "steps-to-quality multiplier of the chosen configuration")
        # the start's two factors, so the figures alone reproduce time_to_quality_lost (review 88 item 6a)
        figures["baseline_step_time"] = Figure(base_score["time"] * u, "s", "step time as started")
        figures["baseline_quality_multiplier"] = Figure(base_score["quality"] / MILLI, "",
                                                        "steps-to-quality multiplier as started")
        # the job the fit is for (training_scenario.py: memory_task; adapters are offered to fine-tuning only)
        task = inst.sc.memory_task.capitalize() + " "
        if not changes:
            headline = (f"{m.name} already fits: {_gb(wf_base['total'])} of {_gb(inst.limit)} per {t.device_word} "
                        f"({_describe(c, L)}); no change needed.")
        else:
            proven = res.status == "optimal"
            what = ("the fewest changes that fit without losing time-to-quality" if lost <= 0 else
                    "the fit that loses the least time-to-quality")
            headline = (f"{task}{m.name} needs {_gb(wf_base['total'])} per {t.device_word} as "
                        f"started ({_describe(inst.baseline, L)}) but {_gb(inst.limit)} is usable. "
                        + (f"{what[0].upper() + what[1:]} (proven by {_PROVER[res.engine]})" if proven else
                           "A fix that fits (feasible, not proven best: CP-SAT stopped at its time limit)")
                        + f": {'; '.join(changes)} -> {_gb(wf['total'])}, "
                        f"{_lost_text(lost, c, L)}.")
        fastest_idx, _ = solve_exhaustive(dataclasses.replace(prob, floor=0))
        note = ""
        if fastest_idx is not None and fastest_idx != res.best_idx:
            f_sc = prob.score(fastest_idx)
            f_lost = _ttq(prob, f_sc) / base_ttq - 1.0
            if f_lost < lost and lost <= 0:
                f_changes = _changes(inst.baseline, _choice(inst, fastest_idx), L)
                note = (f" The fastest configuration that fits ({'; '.join(f_changes)}) shortens time-to-quality by "
                        f"{100 * -f_lost:.1f}% but takes {plural(len(f_changes), 'change')}: the search charges a "
                        f"fit no slower than the start nothing and then counts changes, so the "
                        f"{plural(len(changes), 'change')} above win.")
        if c.adapter != "none":
            note += (f" Adapters change what is trained: x{human_number(inst.cm.adapter_steps_multiplier[c.adapter])} "
                     f"steps to the same quality holds for fine-tuning, this job's task (LoRA: Hu et al. 2021; "
                     f"QLoRA matches 16-bit full fine-tuning: Dettmers et al. 2023, Tables 3-4), not for pre-training, "
                     f"where low-rank updates learn markedly less than full training (Biderman et al. 2024, arXiv "
                     f"2405.09673), so this is no fix for a pre-training run.")
        findings.append(Finding(
            "Which changes make the model fit, losing the least time-to-quality (a fit no slower than the start "
            "loses none), and among those the fewest?" if res.status == "optimal" else
            "Which set of changes makes the model fit (not proven best)?",
            headline + _ttq_arithmetic(inst, c, sc, base_score, u, lost, bool(changes)) + note))
        mem_v, mem_l = sc["constraints"]["device memory"]
        constraints.append(Constraint("device memory", mem_v, mem_l, "B", "<=", mem_v > 0.9 * mem_l,
                                      "weights + gradients + optimizer + activations + buffers"))
        for name in ("flash for frozen weights", "host memory"):
            if name in sc["constraints"]:
                v, lim = sc["constraints"][name]
                constraints.append(Constraint(name, v, lim, "B", "<=", v > 0.9 * lim))
        status = res.status
        # the solver's first level (choice_tables.py): time-to-quality, a fit faster than the start charged the
        # start's; attempts are scored on the same (evaluate_attempt)
        extra["objective"] = {"name": "time_to_quality_charged_s", "value": max(ttq, base_ttq), "sense": "min"}
        figures["time_to_quality_charged_s"] = Figure(max(ttq, base_ttq), "s", CHARGED_LABEL)
        extra["configuration"] = {k: getattr(c, k) for k in ATTEMPT_VARIABLES}
        extra["changes"] = changes
        if res.exhaustive_best is not None:
            extra["exhaustive_check"] = {"configuration": {k: getattr(res.exhaustive_best, k)
                                                           for k in ATTEMPT_VARIABLES},
                                         "agrees": res.exhaustive_best == c, "evaluated": prob.radix}
    if res.best is not None:
        for dim, title in (("optimizer", "Cheapest fit per optimizer"),
                           ("trainable_layers", "Cheapest fit per number of trained (or adapted) layers"),
                           ("adapter", "Cheapest fit per way of fine-tuning")):
            if len(inst.dims[dim]) < 2:
                continue
            alt_rows = []
            for i, v in enumerate(inst.dims[dim]):
                sub = restrict(prob, dim, i)
                a_idx, _ = solve_exhaustive(sub)
                if a_idx is None:
                    alt_rows.append([v, "does not fit", None, None])
                    continue
                full = {d: (inst.dims[d].index(sub.dims[d][j])) for d, j in a_idx.items()}
                a_sc = prob.score(full)
                a_c = _choice(inst, full)
                a_lost = _ttq(prob, a_sc) / base_ttq - 1.0
                alt_rows.append([v, "; ".join(_changes(inst.baseline, a_c, L)) or "no change",
                                 float(a_sc["constraints"]["device memory"][0]), float(a_lost)])
            # values: bytes and the change as a fraction, printed as the findings say them ('50.9 GB', '+12.3%')
            tables[f"by_{dim}"] = Table([dim.replace("_", " "), "changes", "memory",
                                         "time-to-quality change (-: shorter)"],
                                        alt_rows,
                                        title, ["", "", "bytes3", "signed_percent"])
    # the waterfall table: SGD / Momentum / Adam x FP32 / BF16 / FP16 (+ the variants), starting setup
    rows, configs = [], []
    scale, unit = unit_scale(inst.limit / 10)  # the unit of which the limit is at least ten
    for opt in [o for o in tmem.OPTIMIZER_VARIANTS if o in inst.dims["optimizer"]]:
        for prec in inst.precisions or inst.dims["precision"]:
            for rc in ("none", "full"):
                cc = replace(inst.baseline, optimizer=opt, precision=prec, recompute=rc)
                w = tmem.waterfall(inst.base, inst.layout, cc, inst.cm.int8_block_size)
                label = f"{opt} {prec}" + (" +ckpt" if rc == "full" else "")
                rows.append([label] + [round(w[k] / scale, 3) for k in tmem.MEMORY_TERMS]
                            + [round(w["total"] / scale, 3), w["total"] <= inst.limit])
                if rc == "none" and opt in tmem.BASE_OPTIMIZERS:  # the lab's 3 x 3 grid in the figure
                    configs.append({"label": label, "bytes": {k: w[k] for k in tmem.MEMORY_TERMS}})
    tables["waterfall"] = Table(["configuration"] + list(tmem.MEMORY_TERMS) + [f"total {unit}", "fits"], rows,
                                f"Memory per {t.device_word} ({unit}), micro-batch {inst.baseline.micro_batch}, "
                                f"all layers trained (+ckpt = full activation recomputation)")
    chosen = []
    if res.best is not None:
        wf = tmem.waterfall(inst.base, inst.layout, res.best, inst.cm.int8_block_size)
        chosen = [{"label": "chosen", "bytes": {k: wf[k] for k in tmem.MEMORY_TERMS}}]
    data = {"memory_waterfall": {"terms": list(tmem.MEMORY_TERMS), "limit": inst.limit,
                                 "configs": configs + chosen, "unit": "B"}}
    formulas = [
        Formula("model states (mixed)", "2 (bf16 weights) + 2 (grads) + 4 (fp32 master) + 4 k (k fp32 states: "
                "SGD 0, Momentum 1, Adam 2) bytes/param", "Rajbhandari et al. 2020 (ZeRO) sec. 3.1, K = 12 for Adam"),
        Formula("model states (FP32)", "4 + 4 + 4 k bytes/param (Adam: 16 = 4 x weights)",
                "docs/conventions.md 'Training memory'", "the lab's '4x multiplier' is weights x 4"),
        Formula("8-bit states", "k x (1 + 4/2048) bytes/param", "Dettmers et al. 2022, arXiv 2110.02861, sec. 2"),
        Formula("factored second moment", "4 (r + c) bytes per r x c matrix",
                "Shazeer & Stern 2018, Adafactor, sec. 3"),
        Formula("activations per layer", "s b h (10 + 24/t) (FlashAttention: no 5as/h term); full recompute 2 s b h",
                "Korthikanti et al. 2022, Table 2"),
        Formula("ZeRO", "stage 1 / 2 / 3 divide optimizer / +gradients / +weights by DP", "Rajbhandari et al. 2020"),
        Formula("time-to-quality", "step time x steps multiplier(optimizer) x steps multiplier(frozen fraction)",
                "lab08_training.toml [common] (assumptions with sources)"),
    ]
    assumptions = [Assumption(inst.sc.memory_source, "lab08_training.toml"),
                   Assumption("optimizer quality multipliers: " + inst.cm.sources.get("quality", ""), ""),
                   Assumption("freezing: " + inst.cm.sources.get("freeze", ""), ""),
                   *([Assumption("adapters: " + inst.cm.sources.get("adapter", ""), "")]
                     if len(inst.dims["adapter"]) > 1 else []),
                   *[Assumption(f"precision {q} -> {p} is not searched: {p} keeps every term of the waterfall in the "
                                f"bytes {q} does (2-byte weights, gradients and activations beside the same FP32 "
                                f"master and optimizer states), so the switch saves no memory; what it changes is "
                                f"numerical range (FP16 tops out at 65,504 and needs loss scaling, BF16 has FP32's "
                                f"exponent range), which lab 08 part 3 prices: explore solve batch, P(NaN) per step",
                                "IEEE 754 binary16; explorer/cost/numerics.py")
                     for p, q in inst.same_bytes.items()],
                   Assumption("frozen layers are the bottom of the stack: no gradients, no optimizer state, no stored "
                              "activations, forward pass only (the backward never reaches them, so recomputation never "
                              "replays them)", "")]
    return Report(puzzle="memory", lab="08", part=1, track=t.key, title="The state-management audit",
                  status=status, headline=headline, figures=figures, findings=findings, constraints=constraints,
                  formulas=formulas, assumptions=assumptions, tables=tables, plots=["memory_waterfall"], data=data,
                  extra=extra, solve_time_s=res.solve_time_s)


def _adapter_finding(inst: MemoryInstance, figures: dict[str, Figure]) -> Finding:
    """Bytes per parameter of LoRA and QLoRA against full fine-tuning, with their sources."""
    m, L, cm = inst.base.model, inst.base.model.layers, inst.cm
    n_ad = tmem.adapter_params(m, L, cm.lora_rank)
    full = bytes_per_param(inst.baseline.optimizer if inst.baseline.optimizer in tmem.BASE_OPTIMIZERS else "adam",
                           inst.baseline.precision)
    per_adapter = full["total"]
    w16 = full["weights"]
    nf4 = tmem.NF4_BYTES_PER_PARAM
    figures["lora_adapter_params"] = Figure(n_ad, "params", f"LoRA adapters at rank {cm.lora_rank}, every linear map")
    figures["qlora_base_bits_per_param"] = Figure(tmem.NF4_BITS_PER_PARAM, "bits",
                                                  "QLoRA frozen base: bits per parameter")
    # a layer's passes (forward, recompute, input gradient, weight gradient) without and with full recomputation
    mb = inst.baseline.micro_batch
    s = tmem.training_setup(inst.base, inst.baseline, cm.int8_block_size)
    tp = inst.layout.tp
    shares = {rc: tmem.frozen_compute_factor(L, L, "lora", tmem.layer_pass_seconds(s, tp, 1, mb, rc, int(tp > 1)))
              for rc in (0, 2)}
    states = {"full": m.params * full["total"], "lora": m.params * w16 + n_ad * per_adapter,
              "qlora": m.params * nf4 + n_ad * per_adapter}
    return Finding(
        "What do LoRA and QLoRA keep per parameter, and how does that compare with training every weight?",
        f"Both freeze the base model and train low-rank adapters B A (r x (d_in + d_out) values per linear map; "
        f"Hu et al. 2021, arXiv 2106.09685): at rank {cm.lora_rank} on every linear map of {m.name} that is "
        f"{_params(n_ad)} adapter parameters ({human_number(100 * n_ad / m.params)}% of {_params(m.params)}), each "
        f"carrying the full {per_adapter} B of weights, gradient and optimizer state. The frozen base keeps no "
        f"gradient and no optimizer state: LoRA stores it in {w16} B (16 bits); QLoRA in 4-bit NormalFloat with "
        f"double quantisation: 4 + 8/64 (an 8-bit absmax per block of 64) + 32/(64 x 256) (an FP32 constant per "
        f"256 absmaxes) = {human_number(tmem.NF4_BITS_PER_PARAM, 4)} bits = {human_number(nf4, 3)} B per parameter "
        f"(Dettmers et al. 2023, arXiv 2305.14314, sec. 3), dequantised to {inst.baseline.precision.upper()} for every "
        f"matmul (a memory-bound pass this model charges at HBM bandwidth). Weights + gradients + optimizer state, "
        f"unsharded: full fine-tuning {_gb(states['full'])}, LoRA {_gb(states['lora'])}, QLoRA "
        f"{_gb(states['qlora'])}, before activations. Paged optimizers (QLoRA's third device: optimizer pages "
        f"evicted to CPU memory through NVIDIA unified memory) absorb memory spikes rather than lower the steady "
        f"state, so the waterfall does not count them. Adapted layers skip only the weight-gradient GEMMs of "
        f"their frozen base weights; the forward pass, the input-gradient half of the backward pass and, under "
        f"recomputation, the replayed forward all still run: in GEMM FLOPs 2 of 3 passes without recomputation, "
        f"3 of 4 with full recomputation; in this model's time (the attention core and the elementwise passes "
        f"have no weight gradient to skip) {human_number(100 * shares[0], 3)}% and "
        f"{human_number(100 * shares[2], 3)}% of a fully trained layer's at micro-batch {mb}, plus the "
        f"adapters' own.")
