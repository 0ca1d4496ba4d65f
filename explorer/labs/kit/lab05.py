"""Lab 05, distributed training: the communication wall (`Scaling`), the parallelism puzzle (`ThreeD`, and
`FleetThreeD` on a fleet track) and the synchronization audit (`Sync`)."""

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
    powers_of_two,
    solved,
    space_controls,
)
from explorer.labs.kit.part import Part
from explorer.report import Finding, Report
from explorer.reports.attempts import violation_text
from explorer.units import human_bytes, human_percent


class Scaling(Part):
    """Lab 05 part 1, the communication wall: throughput against devices on two fabrics."""

    puzzle = "scaling"
    # An observation part (its report is 'computed'): the moves are read against the curves, not graded. The
    # scaling puzzle's attempt grader treats the diminishing-returns rule as a feasibility constraint and offers
    # only N - 1 and N + 1 on the same fabric as fixes, so past the wall it grades every point infeasible and
    # suggests "16 -> 17 (still infeasible)"; its optimum (N = 1,024 on the fast fabric) put the student's 5.5
    # sequences/s at the foot of a linear axis.
    graded = False
    reflection_needles = ("Which fabric", "cut training time")
    reflect = ('Why does scaling past one node on the slower fabric lose so much of the ideal speedup, and '
               'which fabric would you buy for this job?')
    intro = ("Scale a data-parallel job and watch where the network eats the speedup. Pick a fabric and a "
             "device count; the explorer's scaling curve marks your point.")

    def __init__(self, track: str = "cloud") -> None:
        super().__init__(track)
        from explorer.puzzles.scaling import scenario

        self.sc = scenario(track)

    def fabrics(self) -> list[str]:
        return list(self.sc.fabrics)

    def controls(self) -> list[Control]:
        from explorer.hardware import get_link

        fabrics = self.fabrics()
        return [Control("fabric", "fabric (the interconnect)", "choice", fabrics, fabrics[0],
                        {f: get_link(f).name for f in fabrics}),
                Control("devices", f"{self.t.device_plural} N", "steps",
                        powers_of_two(self.sc.n_max), self.sc.n_from)]

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import scaling

        move = {"fabric": values["fabric"], "devices": int(values["devices"])}
        r = scaling.evaluate_attempt(move, self.track)
        rep = self.report()
        data = dict(rep.data["scaling_efficiency"])
        data["yours"] = {"fabric": move["fabric"], "n": move["devices"],
                         "samples_per_s": r["objective"], "efficiency": r["figures"]["efficiency"].value}
        eff = r["figures"]["efficiency"].value
        live = Live(plots=[Plot("scaling_efficiency", data, f"scaling efficiency at N={move['devices']}: "
                                f"{human_percent(eff)}")], move=move)
        live.readouts = [("throughput", f"{r['objective']:,.1f} {self.sc.sample_word}s/s"),
                         ("scaling efficiency S(N)/N", human_percent(eff))]
        live.alerts = [self._wall(c) for c in r["violations"]]
        return live

    def _wall(self, c: Any) -> str:
        adds = f"adds only {c.value:.2f}" if c.value >= 0 else f"loses {-c.value:.2f}"
        return (f"Past the wall: one more {self.t.device_word} {adds} of a {self.t.device_word}'s throughput (the "
                f"rule: it must add at least {c.limit:g}).")

    def verdict(self, report: Report, moves: list[dict[str, Any]]) -> list[Finding]:
        """The explorer's curves, and the student's fastest point read against them (throughput, efficiency,
        whether one more device still pays its way there)."""
        from explorer.hardware import get_link
        from explorer.puzzles import scaling

        out = [Finding("What does the explorer find?", report.headline)]
        if not moves:
            return [*out, Finding("Your moves?", "No move yet: change a control, then check again.")]
        opts = {k: report.scenario[k] for k in ("fabric", "threshold", "max_devices") if k in report.scenario}
        seen = {(m["fabric"], int(m["devices"])): m for m in moves}
        rows = [(m, scaling.evaluate_attempt(m, self.track, **opts)) for m in seen.values()]
        m, r = max(rows, key=lambda mr: mr[1]["objective"])
        dev = self.t.device_word if m["devices"] == 1 else self.t.device_plural
        where = (" ".join(self._wall(c) for c in r["violations"]) if r["violations"] else
                 f"One more {self.t.device_word} still adds at least {opts.get('threshold', 0.5):g} of a "
                 f"{self.t.device_word}'s throughput there.")
        out.append(Finding(f"Your fastest point (of {len(rows)} you tried)?",
                           f"{m['devices']:,} {dev} on {get_link(m['fabric']).name}: {r['objective']:,.1f} "
                           f"{self.sc.sample_word}s/s, {human_percent(r['figures']['efficiency'].value)} of the ideal "
                           f"N x X(1). {where}"))
        return out

    def _speedup_ratio(self) -> tuple[float, str]:
        from explorer.puzzles import scaling

        f = self.fabrics()[0]
        a, b = self.sc.n_from, self.sc.n_to
        xa = scaling.evaluate_attempt({"fabric": f, "devices": a}, self.track)["objective"]
        xb = scaling.evaluate_attempt({"fabric": f, "devices": b}, self.track)["objective"]
        return (xb / xa) / (b / a), f

    @property
    def lock(self) -> Question:
        from explorer.hardware import get_link

        f = get_link(self.fabrics()[0]).name
        a, b = self.sc.n_from, self.sc.n_to

        def answer(part: Part) -> tuple[int, str]:
            ratio, _ = self._speedup_ratio()
            return 3 - bin_of(ratio, [0.3, 0.6, 0.9]), (
                f"{a} -> {b} {self.t.device_plural} on {f}: {ratio * b / a:.2f}x faster of an ideal {b / a:g}x "
                f"({human_percent(ratio)} of ideal).")

        return Question(f"Going from {a} to {b} {self.t.device_plural} on {f}, how much of the ideal {b / a:g}x "
                        f"speedup do you get?",
                        ["90% or more: more devices always help", "60-90%: some network overhead",
                         "30-60%: the network eats a large share", "under 30%: communication dominates the step"],
                        answer)


class ThreeD(Part):
    """Lab 05 part 2, the parallelism puzzle: TP x PP x DP (x CP) and micro-batch, live on the cost model."""

    puzzle = "3d"
    rule = 10
    reflection_needles = ("Does PP increase or decrease",)
    reflect = ('Does pipeline parallelism increase or decrease the total memory the weights take across the '
               'whole cluster? Why?')
    intro = ("Start from the crisis configuration and find the plan with the highest MFU that fits in memory "
             "with a pipeline bubble under 10%. Every configuration you run is one move, one estimate of the cost "
             "model; find it in 10 moves.")

    LABELS = {"tp": "tensor parallel TP", "pp": "pipeline parallel PP", "cp": "context parallel CP",
              "micro_batch": "micro-batch (sequences)", "virtual_stages": "virtual stages v (interleaving)",
              "zero": "ZeRO stage", "recompute": "activation recomputation",
              "sequence_parallel": "sequence parallelism (with TP)",
              "hsdp": "hybrid sharding (HSDP: shard inside a node, replicate across)", "framework": "framework"}
    PLAN = ("tp", "pp", "cp", "micro_batch", "virtual_stages", "zero", "recompute", "sequence_parallel", "hsdp",
            "framework")

    def space(self) -> dict[str, list]:
        """The values the 3D solver searches on this track (threed.attempt_space: build_space's candidate lists),
        which are also the values its grader's single-change moves ("Next: ...") are drawn from."""
        return _space_3d(self.track)

    def controls(self) -> list[Control]:
        from explorer.cost.frameworks import BY_KEY
        from explorer.puzzles import threed

        p = self.t.crisis_plan
        start = {**threed.attempt_defaults(self.track), "tp": p.tp, "pp": p.pp, "cp": p.cp,
                 "micro_batch": p.micro_batch, "virtual_stages": p.virtual_stages, "zero": p.zero,
                 "recompute": p.recompute, "sequence_parallel": p.sequence_parallel}
        names = {k: fw.name for k, fw in BY_KEY.items()}
        return space_controls(self.space(), self.LABELS, start, names)

    def live(self, values: dict[str, Any]) -> Live:
        import explorer
        from explorer.puzzles.threed.report import bubble_gauge_data, memory_heatmap_data, parallelism_map_data

        fixed = fixed_values(self.space())
        v = {k: values[k] if k in values else fixed[k] for k in self.PLAN if k in values or k in fixed}
        v["virtual_stages"] = v["virtual_stages"] if v["pp"] > 1 else 1
        n = self.t.cluster.devices
        group = v["tp"] * v["pp"] * v["cp"]
        if n % group:
            return Live(error=f"TP x PP x CP = {group:,} does not divide the {n:,} {self.t.device_plural}")
        try:
            e = explorer.estimate(track=self.track, **v)
        except ExplorerError as exc:
            return Live(error=str(exc))
        s, limit, word = e.setup, self.t.usable_memory_bytes, self.t.device_word
        crisis = self._crisis()
        gauge = bubble_gauge_data(e, 0.10, crisis)
        heat = memory_heatmap_data(s, e.plan, n, e.plan.global_batch, limit, word)
        pmap = parallelism_map_data(e.plan, s, n, word)
        move = {**v, "dp": e.plan.dp}
        live = Live(move=move, plots=[
            Plot("bubble_gauge", gauge, f"pipeline bubble gauge: {human_percent(e.bubble_fraction)} at PP={e.plan.pp}"),
            Plot("memory_heatmap", heat, f"memory heatmap: {human_bytes(e.memory_total)} per {word} at "
                                         f"TP={e.plan.tp} PP={e.plan.pp}"),
            Plot("parallelism_map", pmap, f"parallelism map: TP={e.plan.tp} CP={e.plan.cp} PP={e.plan.pp} "
                                          f"DP={e.plan.dp}")])
        live.readouts = [("plan", e.plan.describe()), ("MFU", human_percent(e.mfu)),
                         ("step time", f"{e.step_time_s:.3f} s"), ("bubble", human_percent(e.bubble_fraction)),
                         (f"memory per {word}", f"{human_bytes(e.memory_total)} of {human_bytes(limit)}")]
        if e.memory_total > limit:
            live.alerts.append(f"Out of memory: {human_bytes(e.memory_total)} per {word} > {human_bytes(limit)} "
                               f"usable. Raise TP or PP, shard with ZeRO, or recompute activations.")
        if e.bubble_fraction > 0.10:
            p, m, vs = e.plan.pp, e.plan.num_micro_batches, e.plan.virtual_stages
            live.alerts.append(f"Pipeline bubble {human_percent(e.bubble_fraction)} > 10%: with {p} stages and "
                               f"{m} micro-batches (v = {vs}), (p - 1)/(v m + p - 1) of the step is idle. More "
                               f"micro-batches, interleaving or fewer stages.")
        return live

    def _crisis(self) -> Any:
        import explorer

        p = self.t.crisis_plan
        return _crisis_estimate(self.track, p.tp, p.pp, p.cp, p.micro_batch, p.virtual_stages, p.zero, p.recompute,
                                explorer.estimate)

    def frontier_plots(self, graded: Report, moves: list[dict[str, Any]]) -> list[tuple[str, Report]]:
        """The moves on the optimal frontier (tokens/s against memory headroom) at the track's device count."""
        from explorer.reports.frontier import attempt_points, frontier_report

        res = _frontier_3d(self.track)
        skipped: list[str] = []
        pts = attempt_points(res, graded, moves, skipped)
        return [("frontier", frontier_report(res, pts, skipped))]

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            x = r.figures["speedup_vs_crisis"].value if "speedup_vs_crisis" in r.figures else 1.0
            return bin_of(x, [1.1, 1.3, 1.6]), f"The proven optimum is {x:.2f}x faster: {r.headline}"

        return Question(f"The crisis plan ({self.t.crisis_plan.describe()}) is what the team runs. How much faster "
                        "can the best plan that fits (bubble <= 10%) train?",
                        ["barely (under 1.1x)", "1.1-1.3x", "1.3-1.6x", "more than 1.6x"], answer)


class FleetThreeD(ThreeD):
    """Lab 05 part 2 on a fleet track (edge, mobile, tiny): the fleet form's choices (explorer/puzzles/fleet3d),
    each move scored by its attempts module, the same evaluation the grader and the solver use."""

    reflection_needles = ("What replaces MFU",)
    reflect = ("On a fleet the devices idle while the radio works: what replaces MFU as the measure of a good "
               "configuration, and why does synchronising less often not always reach the target sooner?")
    intro = ("Start from the storyboard (whole model, synchronise after every step, wait for every device) and find "
             "the configuration that reaches the training target soonest within memory, the staleness the lab's "
             "step tolerates and each device's daily window and energy budget. Every configuration you run is one "
             "move, one evaluation of the fleet model; find it in 10 moves.")

    def controls(self) -> list[Control]:
        from explorer.puzzles.fleet3d.attempts import _solved, attempt_defaults

        scn, d = _solved(self.track)[0], attempt_defaults(self.track)
        mb = self.t.crisis_plan.micro_batch
        out = []
        for name, label, values in (("split", f"layers on the {self.t.device_word}", {p.split for p in scn.placements}),
                                    ("trainable_layers", "layers trained (the top ones)",
                                     {p.trainable for p in scn.placements})):
            if len(values) > 1:
                out.append(Control(name, label, "steps", sorted(values), d[name]))
        out += [Control("micro_batch", "micro-batch per local step", "steps", list(scn.micro_batches),
                        mb if mb in scn.micro_batches else scn.micro_batches[0]),
                Control("local_steps", "local steps between synchronisations H", "steps", list(scn.local_steps),
                        scn.local_steps[0])]
        if len(scn.participation) > 1:
            out.append(Control("participation", "replicas selected per round", "steps", list(scn.participation),
                               d["participation"]))
        out += [Control("deadline_quantile", "round deadline (quantile of a round)", "steps",
                        list(scn.deadline_quantiles), d["deadline_quantile"]),
                Control("tier", "aggregation path", "choice", [t.key for t in scn.tiers], d["tier"],
                        {t.key: t.name for t in scn.tiers})]
        return out

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles.fleet3d.attempts import evaluate_attempt
        from explorer.reports.format import fmt_value

        move = {c.name: values[c.name] for c in self.controls()}
        try:
            r = evaluate_attempt(move, self.track)
        except ExplorerError as exc:
            return Live(error=str(exc))
        days = r["objective"] / 86400
        data = {**self.report().data["fleet_tradeoff"], "yours": {"local_steps": move["local_steps"], "days": days}}
        reading = f"time to the target {fmt_value(r['objective'], 's')} at H = {move['local_steps']}"
        live = Live(move=move, plots=[Plot("fleet_tradeoff", data, reading)])
        live.readouts = [(x.label, fmt_value(x.value, x.unit)) for x in r["figures"].values()]
        live.alerts = [f"Outside the searched space: {x}." for x in r["outside_space"]]
        live.alerts += [f"Over a limit: {violation_text(c)}." for c in r["violations"]]
        return live

    def frontier_plots(self, graded: Report, moves: list[dict[str, Any]]) -> list[tuple[str, Report]]:
        return []  # one objective: the optimum is the frontier

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            x = r.figures["speedup_vs_crisis"].value if "speedup_vs_crisis" in r.figures else 1.0
            return bin_of(x, [2.0, 5.0, 20.0]), f"The proven optimum reaches the target {x:.1f}x sooner: {r.headline}"

        return Question("The storyboard holds the whole model on every device, synchronises after every step and "
                        "waits for the slowest. How much sooner can the best configuration reach the target?",
                        ["under 2x", "2-5x", "5-20x", "more than 20x"], answer)


@lru_cache(maxsize=8)
def _space_3d(track: str) -> dict[str, list]:
    from explorer.puzzles import threed

    return threed.attempt_space(track)


@lru_cache(maxsize=8)
def _crisis_estimate(track: str, tp: int, pp: int, cp: int, mb: int, v: int, zero: int, rc: str, fn: Any) -> Any:
    try:
        return fn(track=track, tp=tp, pp=pp, cp=cp, micro_batch=mb, virtual_stages=v, zero=zero, recompute=rc)
    except ExplorerError:
        return None


@lru_cache(maxsize=8)
def _frontier_3d(track: str) -> Any:
    from explorer.frontier import frontier
    from explorer.tracks import get_track

    return frontier("3d", track, gpu_counts=[get_track(track).cluster.devices], levels=4)


class Sync(Part):
    """Lab 05 part 3, the synchronization audit: wait for the slowest, or go asynchronous."""

    puzzle = "sync"
    graded = False
    reflection_needles = ("Stakeholder", "ZeRO", "Sync vs async")
    reflect = ('What do you tell the stakeholder: wait for every device, go asynchronous, or deal with the '
               'stragglers? Answer in dollars.')
    intro = ("Every synchronous step waits for the slowest device. Turn the straggler knobs and decide: "
             "wait for all, or go asynchronous (and pay in staleness)?")

    def controls(self) -> list[Control]:
        from explorer.puzzles.sync.audit import sync_data

        d = sync_data(self.track)
        f, s = float(d["straggler_fraction"]), float(d["slowdown"])
        return [Control("straggler_fraction", "straggler fraction", "steps",
                        sorted({0.0, 0.01, 0.02, 0.05, 0.1, 0.2, f}), f),
                Control("slowdown", "straggler slowdown (x)", "steps", sorted({1.0, 1.25, 1.5, 2.0, 3.0, 5.0, s}), s),
                Control("mode", "synchronisation", "choice", ["sync", "async"], "sync",
                        {"sync": "wait for all (sync SGD)", "async": "asynchronous SGD"})]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        # the slow ZeRO comparison (3D solves) exists on the cloud track only; a fleet track refuses zero=...
        return {"straggler_fraction": float(values["straggler_fraction"]), "slowdown": float(values["slowdown"]),
                **({"zero": False} if self.t.key == "cloud" else {})}

    def live(self, values: dict[str, Any]) -> Live:
        r = solved("sync", self.track, **self.scenario(values))
        d = r.data["straggler_wait"]
        wait = d["expected_max"][-1] / d["mean"] - 1 if d.get("mean") else 0.0
        live = Live(move={**values}, plots=[Plot("straggler_wait", d, f"straggler wait: sync step "
                                                  f"{human_percent(wait)} longer than the mean device's")])
        keys = [k for k in ("step_time_sync_s", "samples_per_s_sync", "samples_per_s_async_raw", "staleness",
                            "progress_per_update") if k in r.figures]
        live.readouts = [(r.figures[k].label or k, _fmt(r.figures[k].value, r.figures[k].unit)) for k in keys]
        f = finding(r, "Sync vs async")
        if f:
            live.readouts.append(("sync vs async", f.answer))
        if wait > 0.5:
            live.alerts.append(f"Every synchronous step waits {human_percent(wait)} longer than an average "
                               f"{self.t.device_word}'s step for the slowest one.")
        return live

    def verdict(self, report: Report, moves: list[dict[str, Any]]) -> list[Finding]:
        out = [Finding("What does the explorer find?", report.headline)]
        f = finding(report, "Stakeholder", "Sync vs async")
        if f:
            out.append(f)
        if moves:
            out.append(Finding("Your choice?", f"You last chose {moves[-1].get('mode')}."))
        return out

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            d = part.report().data["straggler_wait"]
            wait = d["expected_max"][-1] / d["mean"] - 1
            return bin_of(wait, [0.1, 0.5, 1.0]), (f"With {d['nodes']:,} {self.t.device_plural}, the expected "
                                                   f"slowest step is {human_percent(wait)} longer than the mean.")

        return Question(f"{self.t.cluster.devices:,} {self.t.device_plural} step together; a few are stragglers. "
                        "How much longer than an average device's step is the synchronous step?",
                        ["under 10%", "10-50%", "50-100%", "more than double"], answer)

