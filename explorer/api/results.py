"""The Estimate (explorer.estimate's answer, and the plans of explorer.solve_3d's) and its notebook view."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from explorer import validation as V
from explorer.accuracy import ceiling_assumption
from explorer.assumptions import setup_assumptions
from explorer.cost.setup import Setup
from explorer.cost.step import StepEstimate
from explorer.report import Assumption


@dataclass(frozen=True, repr=False)  # repr: StepEstimate's one-line headline
class Estimate(StepEstimate):
    """The figures of one configuration (StepEstimate) with the Setup they were computed with."""

    setup: Setup | None = field(default=None, repr=False, compare=False)
    # what the call decided beyond its inputs (values taken from the track, the framework 'any' chose, an option
    # without effect), said first among the assumptions
    notes: tuple[Assumption, ...] = field(default=(), repr=False, compare=False)
    # the plan options the track's crisis plan filled (estimate: zero, recompute), as {option: value}
    from_track: dict = field(default_factory=dict, repr=False, compare=False)
    # what the figures are measured against (the memory limit: its usable fraction and where that comes from), said
    # after the setup's assumptions
    figures: tuple[Assumption, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(cls, setup: Setup, e: StepEstimate, notes: tuple[Assumption, ...] = (),
           from_track: dict | None = None, figures: tuple[Assumption, ...] = ()) -> Estimate:
        return cls(**{f.name: getattr(e, f.name) for f in fields(StepEstimate)}, setup=setup, notes=tuple(notes),
                   from_track=dict(from_track or {}), figures=tuple(figures))

    @property
    def node(self) -> dict:
        """The node used (catalog preset, devices per node, links), as in the reports."""
        return self.setup.cluster.node_dict() if self.setup else {}

    def assumptions(self) -> list[Assumption]:
        """Node, model shape, precision and software stack behind these figures, each with its source."""
        return (list(self.notes) + (setup_assumptions(self.setup, self.plan, one_plan=True) if self.setup else [])
                + list(self.figures) + (ceiling_assumption(self.setup, self.mfu) if self.setup else []))

    def as_dict(self) -> dict:
        d = StepEstimate(**{f.name: getattr(self, f.name) for f in fields(StepEstimate)}).as_dict()
        d["node"] = self.node
        d["assumptions"] = [{"text": a.text, "source": a.source} for a in self.assumptions()]
        return d

    def to_dict(self) -> dict:
        """The estimate as `explore estimate --format json` writes it: the plan and every stack input that changes
        the figures (framework, recompute_every, fp8_all_gather, fp8_param_gather, grad_accumulation_fusion,
        cross_entropy, what the track filled), the figures, the breakdowns in GB and seconds, the node and the
        assumptions. as_dict() is the raw StepEstimate (bytes) with the node and assumptions."""
        e, s = self, self.setup
        return {
            "configuration": e.plan.as_dict(), "framework": e.plan.framework,
            "recompute_every": s.recompute_every if s else 1, "fp8_all_gather": s.fp8_all_gather if s else False,
            "fp8_param_gather": s.fp8_param_gather if s else True,
            "grad_accumulation_fusion": s.grad_accumulation_fusion if s else True,
            "cross_entropy": s.cross_entropy if s else "unfused", "from_track": dict(e.from_track),
            "mfu": e.mfu, "hfu": e.hfu, "dp_comm_total_s": e.dp_comm_total_s,
            "model_tflops_per_gpu": e.model_tflops_per_gpu, "hardware_tflops_per_gpu": e.hardware_tflops_per_gpu,
            "step_time_s": e.step_time_s, "tokens_per_s": e.tokens_per_s, "memory_per_gpu_gb": e.memory_total / 1e9,
            "memory_limit_gb": e.memory_limit / 1e9, "bubble_fraction": e.bubble_fraction,
            "bubble_time_share": e.bubble_time_share, "fits_in_memory": e.fits_in_memory,
            "memory_breakdown_gb": e.memory_gb, "time_breakdown_s": e.time_s, "node": e.node,
            "assumptions": [{"text": a.text, "source": a.source} for a in e.assumptions()],
        }

    @property
    def memory_gb(self) -> dict[str, float]:
        """The memory per device by part in GB (1e9 bytes): `.memory` in bytes, under a name that says its unit (as
        ThreeDResult.to_frame()'s memory_gb)."""
        return {k: v / 1e9 for k, v in self.memory.items()}

    @property
    def time_s(self) -> dict[str, float]:
        """The step time by part in seconds: `.time`, under a name that says its unit (as to_frame()'s
        step_time_s)."""
        return dict(self.time)

    def _repr_html_(self) -> str:  # Jupyter, marimo, VS Code notebooks
        return estimate_html(self)

    def __repr__(self) -> str:  # StepEstimate's headline under this class's name
        return "<Estimate " + super().__repr__().removeprefix("<StepEstimate ")

    def to_json(self) -> str:
        """to_dict() as JSON, as `explore estimate --format json` writes it (validation.dumps: json.dumps with
        allow_nan=False); a NaN or infinite figure is a NonFiniteError naming where, never a bare NaN token."""
        return V.dumps(self.to_dict(), what="estimate", indent=2)


def _html_table(columns: list[str], rows: list[list[str]]) -> str:
    """A small HTML table of text cells (escaped here), the value columns right-aligned."""
    from html import escape

    right = " style='text-align:right'"

    def cells(tag: str, row: list[str]) -> str:
        return "".join(f"<{tag}{right if i else ''}>{escape(c)}</{tag}>" for i, c in enumerate(row))

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><thead><tr>{cells('th', columns)}</tr></thead><tbody>{body}</tbody></table>"


def estimate_html(e: Estimate) -> str:
    """An Estimate as the notebook shows it: its headline figures, memory per device against the limit, and the
    memory and step-time breakdowns as small tables. It only reads the Estimate's fields (no physics here); an
    estimate with a NaN or infinite figure is refused with a note naming where, never shown."""
    from html import escape

    from explorer.puzzles.threed.narration import TIME_PART_NAMES
    from explorer.reports.format import fmt_value

    bad = V.non_finite(StepEstimate.as_dict(e))
    if bad:
        return (f"<div class='explorer-estimate'><p><b>Estimate refused:</b> non-finite figures "
                f"({escape(', '.join(bad[:3]))}); the inputs are outside what the cost model covers</p></div>")
    fits = ("fits" if e.fits_in_memory else
            f"does NOT fit: over by {fmt_value(e.memory_over_bytes, 'B')}")
    headline = [
        ["step time", fmt_value(e.step_time_s, "s")],
        ["MFU", fmt_value(e.mfu, "fraction")],
        ["HFU", fmt_value(e.hfu, "fraction")],
        ["tokens/s", fmt_value(e.tokens_per_s)],
        ["model TFLOP/s per device", fmt_value(e.model_tflops_per_gpu)],
        ["pipeline bubble (schedule, idealised)", fmt_value(e.bubble_fraction, "fraction")],
        ["pipeline bubble (share of the step time)", fmt_value(e.bubble_time_share, "fraction")],
        ["memory per device", f"{fmt_value(e.memory_total, 'B')} of {fmt_value(e.memory_limit, 'B')} ({fits})"],
    ]
    memory = [[k, fmt_value(v, "B")] for k, v in e.memory.items()]
    memory += [["total", fmt_value(e.memory_total, "B")], ["limit", fmt_value(e.memory_limit, "B")]]
    time = [[TIME_PART_NAMES.get(k, k), fmt_value(v, "s")] for k, v in e.time.items()]
    time.append(["step time", fmt_value(e.step_time_s, "s")])
    node = e.setup.cluster.describe_node() if e.setup else ""
    parts = [f"<div class='explorer-estimate'><p><b>Estimate:</b> {escape(e.plan.describe())}</p>",
             f"<p>Node: {escape(node)}</p>" if node else "",
             _html_table(["figure", "value"], headline),
             "<p><b>Memory per device</b></p>", _html_table(["part", "memory"], memory),
             "<p><b>Step time</b></p>", _html_table(["part", "time"], time)]
    assumptions = e.assumptions()
    if assumptions:
        items = "".join(f"<li>{escape(a.text)}" + (f" [{escape(a.source)}]" if a.source else "") + "</li>"
                        for a in assumptions)
        parts.append(f"<details><summary>Assumptions</summary><ul>{items}</ul></details>")
    parts.append("</div>")
    return "".join(parts)
