"""Lab 06, collective communication: the algorithm crossover (`Crossover`), the hierarchical multiplier
(`Hierarchy`) and compression with error feedback (`Compression`)."""

from __future__ import annotations

from typing import Any

from explorer.labs.kit.base import Control, Live, Plot, Question, _fmt, bin_of, finding, solved
from explorer.labs.kit.part import Part
from explorer.report import Report
from explorer.reports.attempts import violation_text
from explorer.units import human_bytes


class Crossover(Part):
    """Lab 06 part 1, the algorithm crossover: ring against tree over the message size."""

    puzzle = "crossover"
    graded = False
    reflection_needles = ("How does M* move", "more or less attractive")
    reflect = ('How does the crossover size M* move with the latency alpha, the bandwidth and the number of '
               'participants?')
    intro = ("Ring AllReduce is bandwidth-optimal, tree is latency-optimal. Move the message size and the "
             "cluster size, pick the algorithm you would run, and find where they cross.")

    def base(self) -> dict[str, Any]:
        return dict(solved("crossover", self.track).scenario)

    def controls(self) -> list[Control]:
        b = self.base()
        m0 = b["message_bytes"]
        sizes = sorted({float(2 ** k) for k in range(10, 31, 2)} | {float(m0)})
        ns = sorted({x for x in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)} | {int(b["n"])})
        return [Control("message_bytes", "message size M", "steps", sizes, float(m0),
                        {s: human_bytes(s) for s in sizes}),
                Control("n", "participants N", "steps", ns, int(b["n"])),
                Control("algorithm", "your algorithm", "choice", ["ring", "tree"], "ring",
                        {"ring": "ring AllReduce", "tree": "tree AllReduce"})]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"n": int(values["n"]), "message_bytes": float(values["message_bytes"])}

    def live(self, values: dict[str, Any]) -> Live:
        r = solved("crossover", self.track, **self.scenario(values))
        d = r.data["crossover"]
        m_star = d.get("crossover_bytes") or 0.0
        fastest = _fastest(r)
        live = Live(move={**values}, plots=[Plot("crossover", d, f"crossover: ring and tree break even at "
                                                 f"{human_bytes(m_star)} over N={values['n']}")])
        live.readouts = [("crossover M*", human_bytes(m_star)), ("fastest at this M", fastest or "-")]
        for k in ("ring_time_s", "tree_time_s"):
            if k in r.figures:
                live.readouts.append((r.figures[k].label or k, _fmt(r.figures[k].value, r.figures[k].unit)))
        if fastest and not fastest.startswith(values["algorithm"]):
            live.alerts.append(f"At {human_bytes(values['message_bytes'])} over {values['n']} participants your "
                               f"{values['algorithm']} is not the fastest ({fastest} is).")
        return live

    @property
    def lock(self) -> Question:
        b = self.base()

        def answer(part: Part) -> tuple[int, str]:
            m = part.report().figures["crossover_bytes"].value
            return bin_of(m, [1e4, 1e5, 1e6, 1e7]), part.report().findings[0].answer

        return Question(f"Over {int(b['n'])} participants, below what message size does tree AllReduce beat ring?",
                        ["under 10 kB", "10-100 kB", "100 kB - 1 MB", "1-10 MB", "over 10 MB"], answer)


def _fastest(r: Report) -> str | None:
    """Ring or tree, whichever the report finds faster at its message size."""
    t = {a: r.figures[f"{a}_time_s"].value for a in ("ring", "tree") if f"{a}_time_s" in r.figures}
    return min(t, key=t.get) if t else None


class Hierarchy(Part):
    """Lab 06 part 2, the hierarchical multiplier: aggregation, per-tier algorithms, accumulation."""

    puzzle = "hierarchy"
    rule = 10
    reflection_needles = ("100x slower", "hierarchical multiplier")
    reflect = 'Will a hierarchical strategy still help if the inter-node link is 100x slower? Why?'
    intro = ("Reduce inside each group over the fast link, all-reduce between groups over the slow one. Find the "
             "aggregation factor, the tier algorithms and the accumulation that hide the most communication, in "
             "10 moves.")

    def inst(self) -> Any:
        from explorer.puzzles import hierarchy
        from explorer.puzzles.collective_scenario import get_scenario

        return hierarchy.make_instance(get_scenario(self.track))

    def controls(self) -> list[Control]:
        from explorer.puzzles import hierarchy

        inst = self.inst()
        gs = list(inst.aggregation_choices)
        return [Control("aggregation", "aggregation factor g (hierarchical mode when g > 1)", "steps", gs, gs[0]),
                Control("intra_algorithm", "fast-tier algorithm", "choice", list(hierarchy.INTRA), "ring",
                        dict(hierarchy.NAMES)),
                Control("inter_algorithm", "slow-tier algorithm", "choice", list(hierarchy.INTER), "ring",
                        dict(hierarchy.NAMES)),
                # the solvers search every a in 1..max_accumulation (hierarchy.candidates), not powers of two
                Control("accumulation", "gradient accumulation steps", "steps",
                        list(range(1, inst.max_accumulation + 1)), 1)]

    def live(self, values: dict[str, Any]) -> Live:
        from explorer.puzzles import hierarchy

        inst = self.inst()
        move = {"aggregation": int(values["aggregation"]), "intra_algorithm": values["intra_algorithm"],
                "inter_algorithm": values["inter_algorithm"], "accumulation": int(values["accumulation"])}
        e = hierarchy.evaluate(inst, move["aggregation"], move["intra_algorithm"], move["inter_algorithm"],
                               move["accumulation"])
        flat = hierarchy.flat_time(inst)
        names = hierarchy.NAMES
        water = {"configs": [{"label": f"yours g={e.aggregation} ({names[e.intra]}/{names[e.inter]})",
                              "panel": "your plan", "phases": e.phases_s},
                             {"label": f"flat {names['ring']}", "panel": "your plan",
                              "phases": {"intra_reduce": 0.0, "inter": flat, "intra_gather": 0.0}}],
                 "phase_labels": {"intra_reduce": "intra-tier reduce(-scatter)", "inter": "inter-tier AllReduce",
                                  "intra_gather": "intra-tier all-gather / broadcast"}}
        topo = hierarchy._tier_topology(inst, e.aggregation)
        live = Live(move=move, plots=[
            Plot("comm_waterfall", water, f"communication waterfall: {e.sync_s * 1e3:.1f} ms against "
                                          f"{flat * 1e3:.1f} ms flat"),
            Plot("topology", topo, f"network topology: aggregation g = {e.aggregation}")])
        live.readouts = [("all-reduce time", f"{e.sync_s * 1e3:.2f} ms"),
                         ("exposed communication per step", f"{e.exposed_us / hierarchy.TIME_SCALE * 1e3:.2f} ms"),
                         ("flat ring", f"{flat * 1e3:.2f} ms"),
                         ("memory per device", human_bytes(e.memory_bytes))]
        live.alerts = [violation_text(c) for c in e.violations]
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            f = finding(r, "hierarchical multiplier")
            x = next((r.figures[k].value for k in r.figures if "multiplier" in k), 1.0)
            return bin_of(float(x), [1.1, 2.0, 5.0]), (f.answer if f else r.headline)

        return Question("How much faster can a two-tier (hierarchical) AllReduce be than the flat all-reduce here?",
                        ["no faster (under 1.1x)", "1.1-2x", "2-5x", "more than 5x"], answer)


class Compression(Part):
    """Lab 06 part 3, compression and error feedback: a seeded distributed training, run on request."""

    puzzle = "compression"
    graded = False
    reflection_needles = ("Stakeholder", "error feedback")
    reflect = ('Does error feedback recover the accuracy while keeping the bandwidth gain? What does '
               'compression cost end to end?')
    intro = ("Send fewer bits per gradient: 1-bit Adam, top-k. Does it shorten the time to a target loss, and "
             "what does error feedback do? Each run trains a small network across the workers (seeded).")
    STEPS = 200  # a run of the seeded training, a second or two; the CLI's default is longer

    def controls(self) -> list[Control]:
        return [Control("topk_ratio", "compression ratio of top-k (x)", "steps", [4.0, 10.0, 30.0, 100.0, 300.0],
                        100.0),
                Control("workers", "workers", "steps", [4, 8, 16, 32], 16),
                Control("error_feedback", "error feedback", "switch", [True, False], True)]

    def scenario(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"topk_ratio": float(values["topk_ratio"]), "workers": int(values["workers"]), "steps": self.STEPS}

    def live(self, values: dict[str, Any]) -> Live:
        r = solved("compression", self.track, **self.scenario(values))
        d = dict(r.data["convergence"])
        ef = bool(values["error_feedback"])
        series = d.get("series") or {}
        if not ef:  # the monitor without the runs that use error feedback
            d["series"] = {k: ys for k, ys in series.items()
                           if "error feedback" not in k or "no error feedback" in k} or series
        live = Live(move={**values}, plots=[Plot("convergence", d, f"convergence monitor: top-k "
                                                 f"{values['topk_ratio']:g}x, {values['workers']} workers")])
        keys = [k for k in r.figures if k.startswith(("steps_to_target", "speedup", "final_loss"))][:6]
        live.readouts = [(r.figures[k].label or k, _fmt(r.figures[k].value, r.figures[k].unit)) for k in keys]
        f = finding(r, "without error feedback")
        if not ef and f:
            live.alerts.append(f"Without error feedback: {f.answer}")
        return live

    @property
    def lock(self) -> Question:
        def answer(part: Part) -> tuple[int, str]:
            r = part.report()
            f = finding(r, "speedup end to end")
            x = next((r.figures[k].value for k in r.figures if k.startswith("speedup")), 1.0)
            return bin_of(float(x), [0.95, 1.5, 8.0]), (f.answer if f else r.headline)

        return Question("1-bit compression sends 16x fewer bits per gradient. How much sooner does training reach "
                        "its target loss end to end?",
                        ["not sooner (it is slower or diverges)", "about the same (0.95-1.5x)", "1.5-8x sooner",
                         "close to 16x sooner"], answer)
