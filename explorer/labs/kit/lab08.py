"""Lab 08, model training: the state-management audit (`Memory`), the staged pipeline race (`Dataloader`) and
the scaling wall of batch, precision and accumulation (`Batch`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from explorer.errors import ExplorerError
from explorer.labs.kit.base import (
    Control,
    Live,
    Plot,
    Question,
    _fmt,
    bin_of,
    finding,
    fixed_values,
    plain_name,
    space_controls,
)
from explorer.labs.kit.part import Part
from explorer.reports.attempts import violation_text
from explorer.units import human_bytes, human_percent


class Memory(Part):
    """Lab 08 part 1, the state-management audit: the training-memory waterfall."""

    puzzle = "memory"
    reflection_needles = ("4-8x the memory of serving", "serving")
    reflect = "Why does training need 4-8x the memory of serving? Reconcile it with your track's memory limit."
    intro = ("Weights are the small part of training memory. Toggle the optimizer and the precision, recompute, "
             "shard and freeze until the model fits; the waterfall shows every byte.")

    def inst(self) -> Any:
        from explorer.puzzles import memory

        return memory._cached_problem(self.track, None, None)[0]

    # the graded table's memory columns beside the control of the same name (optimizer): the bytes it holds
    figure_words = {"weights": "weights memory", "gradients": "gradients memory", "optimizer": "optimizer state",
                    "activations": "activations memory", "working": "working memory", "buffers": "buffers memory"}
    LABELS = {"optimizer": "optimizer", "precision": "precision", "recompute": "activation recomputation",
              "micro_batch": "micro-batch", "zero": "ZeRO stage",
              "offload": "offload gradients and optimizer state to CPU",
              "trainable_layers": "layers trained (the top ones)", "adapter": "adapter (the base frozen)"}
    OPTIONS = {"sgd": "SGD", "momentum": "Momentum", "adam": "Adam", "adam8bit": "8-bit Adam",
               "adafactor": "Adafactor", "fp32": "FP32", "bf16": "mixed BF16", "fp16": "mixed FP16",
               "lora": "LoRA", "qlora": "QLoRA (4-bit base)", False: "no", True: "yes"}

    def controls(self) -> list[Control]:
        from explorer.puzzles import memory

        inst = self.inst()
        base = memory.attempt_defaults(self.track)
        out = []
        for d in memory.ATTEMPT_VARIABLES:
            opts = list(inst.dims[d])
            label = self.LABELS.get(d, plain_name(d))
            if set(opts) == {False, True}:  # a flag the audit searches both ways: a switch
                out.append(Control(d, label, "switch", [True, False], base[d]))
                continue
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in opts)
            kind = "steps" if numeric else "choice"
            if kind == "steps":
                opts = sorted(opts)
            out.append(Control(d, label, kind, opts, base[d], {} if numeric else
                               {k: next((t for o, t in self.OPTIONS.items() if type(o) is type(k) and o == k), str(k))
                                for k in opts}))
        return out

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import memory

        inst = self.inst()
        move = {k: values[k] for k in memory.ATTEMPT_VARIABLES}
        r = memory.evaluate_attempt(move, self.track)
        if r.get("outside_space"):
            return Live(error="; ".join(r["outside_space"]))
        base = memory.evaluate_attempt(memory.attempt_defaults(self.track), self.track)
        figs = r["figures"]
        # the waterfall's terms are the parts of the device memory (their sum is 'total'); the attempt's other
        # figures are times
        terms = [k for k in memory.ATTEMPT_FIGURES if k != "total"]
        configs = [{"label": "starting point", "bytes": {k: base["figures"][k].value for k in terms}},
                   {"label": "yours", "bytes": {k: figs[k].value for k in terms}}]
        data = {"terms": terms, "limit": inst.limit, "configs": configs, "unit": "B"}
        total = figs["total"].value
        live = Live(move=move, plots=[Plot("memory_waterfall", data, f"training memory waterfall: "
                                           f"{human_bytes(total)} of {human_bytes(inst.limit)}")])
        times = [k for k in ("step_time", "time_to_quality_s", "time_to_quality_charged_s") if k in figs]
        charged = figs.get("time_to_quality_charged_s")
        if charged is not None and "time_to_quality_s" in figs and charged.value == figs["time_to_quality_s"].value:
            times.remove("time_to_quality_charged_s")  # the same number twice: the charge only differs when faster
        live.readouts = [("memory per " + self.t.device_word, f"{human_bytes(total)} of {human_bytes(inst.limit)}"),
                         *[(figs[k].label or plain_name(k), human_bytes(figs[k].value)) for k in terms],
                         *[(figs[k].label or plain_name(k), _fmt(figs[k].value, figs[k].unit)) for k in times]]
        live.alerts = [f"Does not fit: {violation_text(c)}" for c in r["violations"]]
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            from explorer.puzzles.memory import bytes_per_param

            b = bytes_per_param("adam", "fp32")["total"]
            f = finding(part.report(), "bytes per parameter")
            return [4, 8, 12, 16].index(b) if b in (4, 8, 12, 16) else 3, (f.answer if f else f"{b} bytes")

        return Question("Adam in FP32: how many bytes per parameter for weights, gradients and optimizer state "
                        "(before activations)?", ["4 bytes", "8 bytes", "12 bytes", "16 bytes"], answer)


class Dataloader(Part):
    """Lab 08 part 2, the staged pipeline race: data preparation, ingestion, compute."""

    puzzle = "dataloader"
    rule = 5
    reflection_needles = ("Which stage is the bottleneck", "balance point")
    reflect = 'Which stage is your longest pole, and what moves the balance point?'
    intro = ("Data preparation, ingestion and compute run in series; the slowest stage sets the pace. Find the "
             "balance point, the fewest workers that keep every device fed, in 5 moves.")

    def inst(self, augment_x: float = 1.0) -> Any:
        from explorer.puzzles import dataloader

        base = dataloader.make_instance(self.track)
        return base if augment_x == 1.0 else dataloader.make_instance(self.track, augment_ms=base.augment_s * 1e3
                                                                      * augment_x)

    def controls(self) -> list[Control]:
        inst = self.inst()
        # the balance point's search covers every worker count 1..max_workers and device count 1..max_devices
        # (dataloader.solve_exhaustive), and the grader's moves are one worker or device more or fewer
        ws = list(range(1, inst.max_workers + 1))
        ns = list(range(1, inst.max_devices + 1))
        return [Control("workers", "data-loading workers", "steps", ws, ws[0]),
                Control("devices", self.t.device_plural, "steps", ns, ns[-1]),
                Control("augment_x", "augmentation complexity (x the track's)", "steps", [0.5, 1.0, 2.0, 4.0], 1.0)]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        x = float(values.get("augment_x", 1.0))
        return {} if x == 1.0 else {"augment_ms": self.inst().augment_s * 1e3 * x}

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.cost import input_pipeline as ip
        from explorer.puzzles import dataloader

        inst = self.inst(float(values["augment_x"]))
        w, n = int(values["workers"]), int(values["devices"])
        r = dataloader.evaluate_attempt({"workers": w, "devices": n}, self.track, **self.scenario(values))
        p = inst.pipeline(w, n)
        rates, util = ip.stage_rates(p), ip.utilisation(p)
        data = {"stages": list(ip.STAGES), "rates": [rates[s] for s in ip.STAGES],
                "utilisation": [util[s] for s in ip.STAGES], "throughput": ip.throughput(p),
                "bottleneck": ip.bottleneck(p), "workers": w, "devices": n, "unit": "samples/s"}
        live = Live(move={"workers": w, "devices": n}, plots=[Plot(
            "utilisation_gauge", data, f"pipeline utilisation gauge: bottleneck {data['bottleneck']}, compute "
                                       f"{human_percent(util['compute'])} busy")])
        live.readouts = [("throughput", f"{data['throughput']:,.4g} samples/s"),
                         *[(f"{s} busy", human_percent(util[s])) for s in ip.STAGES]]
        live.alerts = [f"Compute is starved: {c.name.replace(' keeps up', '')} cannot keep up "
                       f"({c.value:,.4g} < {c.limit:,.4g} samples/s)" for c in r["violations"]]
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            x = r.figures["second_device_speedup_saturated"].value
            f = finding(r, "second")
            return bin_of(float(x), [1.1, 1.9]), (f.answer if f else f"{x:.2f}x")

        return Question(f"Will adding a second {self.t.device_word} double the training speed if the CPU is already "
                        "saturated with data augmentation?",
                        ["no: barely faster (under 1.1x)", "partly (1.1-1.9x)", "yes: about 2x"], answer)


class Batch(Part):
    """Lab 08 part 3, the scaling wall: batch, precision and accumulation (and the plan) against MFU."""

    puzzle = "batch"
    reflection_needles = ("95% saturated", "Iron Law")
    reflect = 'Defend your configuration: is the network really 95% saturated, and why was raw TFLOPS not the answer?'
    intro = ("The target is MFU above 40% without saturating the network. Precision, micro-batch and "
             "accumulation are yours (and on the cloud the parallel plan); gradient clipping guards FP16.")

    def inst(self) -> Any:
        from explorer.puzzles import batch

        return batch.make_instance(self.track)

    LABELS = {"precision": "precision", "micro_batch": "micro-batch", "accumulation": "gradient accumulation",
              "tp": "tensor parallel TP", "pp": "pipeline parallel PP", "cp": "context parallel CP",
              "virtual_stages": "virtual stages v (interleaving)", "zero": "ZeRO stage",
              "recompute": "activation recomputation"}
    PRECISIONS = {"fp32": "FP32", "bf16": "mixed BF16", "fp16": "mixed FP16", "fp8": "FP8"}

    def space(self) -> dict[str, list]:
        """The values the batch puzzle searches and its grader's single-change moves are drawn from: its searched
        values (precision, micro-batch, every accumulation 1..max, and where the plan is the attempt's own the
        ZeRO stages and recomputation modes), and there the TP, PP, CP and virtual-stage lists of the 3D solver's
        space (batch._neighbours moves the plan along build_space's lists). DP is not a control: it is the devices
        over TP x PP x CP."""
        return _space_batch(self.track)

    def controls(self) -> list[Control]:
        from explorer.puzzles import batch

        base = {**batch.attempt_defaults(self.track), "micro_batch": self.inst().micro_batches[0], "accumulation": 1}
        return [*space_controls(self.space(), self.LABELS, base, self.PRECISIONS),
                Control("clipping", "gradient clipping", "switch", [True, False], True)]

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import batch

        # a column no control offers is the one value searched; where the plan is fixed, the grader prices that plan
        # itself (batch.attempt_defaults), so a move gives only what the student sets
        fixed = {k: v for k, v in fixed_values(self.space()).items() if k not in batch.PLAN_VARIABLES}
        move = {k: values[k] if k in values else fixed[k] for k in self.LABELS if k in values or k in fixed}
        if "tp" in values:  # the plan is the student's own: DP follows TP x PP x CP to keep the devices
            n = self.t.cluster.devices
            tp, pp, cp = int(move["tp"]), int(move["pp"]), int(move["cp"])
            if n % (tp * pp * cp):
                return Live(error=f"TP x PP x CP = {tp * pp * cp:,} does not divide the {n:,} {self.t.device_plural}")
            move.update(tp=tp, pp=pp, cp=cp, dp=n // (tp * pp * cp),
                        virtual_stages=int(move["virtual_stages"]) if pp > 1 else 1)
        try:
            r = batch.evaluate_attempt(move, self.track)
        except ExplorerError as exc:
            return Live(error=str(exc))
        rep = self.report()
        data = dict(rep.data["comm_ratio"])
        figs = r["figures"]
        if "global_batch" in figs:
            data["yours"] = figs["global_batch"].value
        live = Live(move=move, plots=[Plot("comm_ratio", data, f"communication / compute: global batch "
                                           f"{figs.get('global_batch').value if 'global_batch' in figs else '-'}")])
        live.readouts = [(f.label or k, _fmt(f.value, f.unit)) for k, f in figs.items()]
        live.alerts = [violation_text(c) for c in r["violations"]]
        live.alerts += [f"outside the searched space: {x}" for x in r.get("outside_space") or []]
        if not values.get("clipping", True) and move.get("precision") == "fp16":
            f = finding(rep, "NaN")
            live.alerts.append("FP16 without gradient clipping: " + (f.answer if f else "a spike can overflow."))
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            d = r.data["comm_ratio"]
            ratios = d["comm_to_compute"]
            trend = 0 if ratios[-1] < ratios[0] * 0.95 else (1 if ratios[-1] > ratios[0] * 1.05 else 2)
            f = finding(r, "communication-to-compute ratio")
            return trend, (f.answer if f else "")

        return Question("Does increasing the batch size improve or degrade the communication-to-compute ratio?",
                        ["improves it (less communication per unit of compute)", "degrades it",
                         "leaves it unchanged"], answer)


@lru_cache(maxsize=8)
def _space_batch(track: str) -> dict[str, list]:
    from explorer.puzzles import batch
    from explorer.puzzles.threed import instance_for
    from explorer.puzzles.threed.space import build_space

    inst = batch.make_instance(track)
    out = batch.searched_values(inst)
    if batch.fixed_plan(inst) is None:
        sp = build_space(instance_for(track))
        out.update(tp=list(sp.tp), pp=list(sp.pp), cp=list(sp.cp), virtual_stages=list(sp.v))
    return out
