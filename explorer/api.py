"""The Python API of the core: `solve_3d` and `estimate` (the CLI calls exactly these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from explorer import validation as V
from explorer.accuracy import ceiling_assumption
from explorer.assumptions import (
    bubble_assumption,
    flop_convention_assumption,
    memory_limit_assumption,
    memory_verdict_caveat,
    pipeline_split_assumptions,
    setup_assumptions,
)
from explorer.cost.frameworks import (
    DEFAULT_FRAMEWORK,
    fp32_attention_overrides,
    framework_choice,
    frameworks_for,
    stack_layout_default,
    zero_default,
)
from explorer.cost.memory import RECOMPUTE_CODES  # noqa: F401  (re-exported for notebooks)
from explorer.cost.setup import Setup
from explorer.cost.step import StepEstimate
from explorer.cost.step import estimate as _estimate
from explorer.errors import UsageError
from explorer.hardware.catalog import get_accelerator
from explorer.keywords import checked
from explorer.models.architecture import GATED_MLPS, MLP_KINDS, MLP_LABELS, DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import ParallelPlan, check_precision
from explorer.puzzles.threed import ThreeDResult, make_setup
from explorer.puzzles.threed import solve_3d as _solve_3d
from explorer.puzzles.threed.model import step_text
from explorer.report import Assumption, Report
from explorer.tracks import Track, get_track

__all__ = ["Binding", "BindingConstraint", "Estimate", "ThreeDResult", "estimate", "solve", "solve_3d",
           "custom_model", "resolve_model"]


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

    def __repr__(self) -> str:  # the headline; never scientific notation (a step of days over Bluetooth included)
        from explorer.units import human_bytes, human_percent

        fits = "fits" if self.fits_in_memory else "does NOT fit"
        return (f"<Estimate {self.plan.describe()}: MFU {human_percent(self.mfu)}, step {step_text(self.step_time_s)}, "
                f"{human_bytes(self.memory_total)} of {human_bytes(self.memory_limit)} per device ({fits})>")

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


@dataclass(frozen=True)
class BindingConstraint:
    """One limit of the 3D puzzle at its answer, as the report's Constraints table has it: the value against the
    limit in `unit` (B: bytes, fraction: a share of 1), the slack left (limit - value), whether it binds, and for a
    proven optimum the best plan without it (where it binds)."""

    constraint: str
    value: float
    limit: float
    unit: str
    slack: float
    binds: bool
    without_it: str = ""

    def row(self) -> list[str]:
        """constraint, value, limit, slack and binds as text, each number with its unit."""
        from explorer.reports.format import fmt_value

        return [self.constraint, fmt_value(self.value, self.unit), fmt_value(self.limit, self.unit),
                fmt_value(self.slack, self.unit), "yes" if self.binds else "no"]

    def __repr__(self) -> str:
        name, value, limit, slack, _ = self.row()
        tail = f" (without it: {self.without_it})" if self.without_it else ""
        return (f"<BindingConstraint {name}: {value} of {limit}, slack {slack}, "
                f"{'binds' if self.binds else 'does not bind'}{tail}>")


class Binding(Mapping):
    """`ThreeDResult.binding` as the API returns it: which limits bind at the answer, readable. It prints and shows in
    a notebook as a table (constraint, value, limit, slack, binds, the best plan without it); `.constraints` holds
    the rows (BindingConstraint), `.names` the constraints that bind. The explainer's own data (analysed, evaluated,
    enumeration_time_s, memory/bubble/both: the what-if re-solves, unrounded) is kept as `.raw`, and the mapping
    reads it (`binding["memory"]["binds"]`), so code written for the plain dict still works."""

    _KEYS = {"memory per device": "memory", "bubble fraction": "bubble"}  # report constraint -> explainer key
    COLUMNS = ["constraint", "value", "limit", "slack", "binds"]

    def __init__(self, raw: dict[str, Any], result: ThreeDResult) -> None:
        self.raw = dict(raw)
        self._result = result
        self._rows: list[BindingConstraint] | None = None

    def __getitem__(self, key: str) -> Any:
        try:
            return self.raw[key]
        except KeyError:
            valid = ", ".join(map(repr, self.raw)) or "none (nothing was analysed)"
            raise KeyError(f"{key!r} is not in the binding data; valid keys: {valid} (the constraints that bind: "
                           f".names; their rows: .constraints)") from None

    def __iter__(self):
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def constraints(self) -> list[BindingConstraint]:
        """The inequality limits at the answer (memory, bubble, TP within a node), from the report's Constraints:
        the equalities (devices, global batch) define the problem and always hold."""
        if self._rows is None:
            rows = []
            for c in self._result.report.constraints:
                if c.sense == "==":
                    continue
                info = self.raw.get(self._KEYS.get(c.name, ""), {}) if c.binding else {}
                without = (f"{info['plan']}, MFU {info['mfu']:.1%}" if isinstance(info, dict) and "plan" in info
                           and "mfu" in info else "")
                rows.append(BindingConstraint(c.name, float(c.value), float(c.limit), c.unit, float(c.slack),
                                              bool(c.binding), without))
            self._rows = rows
        return self._rows

    def to_dict(self) -> dict[str, Any]:
        """Plain data: each inequality limit at the answer (constraint, value, limit, unit, slack, binds,
        without_it: the best plan without it), the names of those that bind, and the explainer's data (.raw)."""
        from dataclasses import asdict

        return {"constraints": [asdict(c) for c in self.constraints], "binding": self.names, "raw": dict(self.raw)}

    @property
    def names(self) -> list[str]:
        """The constraints that bind (e.g. ['memory per device'])."""
        return [c.constraint for c in self.constraints if c.binds]

    def _lines(self) -> tuple[str, list[str]]:
        """The heading (what 'binds' means here) and, under the table, the best plan without each binding limit."""
        proven = self._result.status == "optimal"
        judged = proven and bool(self.raw.get("analysed", True))
        head = (f"Binding constraints at the {'optimum' if proven else 'answer'} (binds: "
                + ("lifting the limit would allow a faster step, the solver re-solved without it)" if judged else
                   "the answer sits on the limit; the design space is too large for the what-if run, so lifting a "
                   "limit was not judged)" if proven else
                   "the answer sits on the limit; not proven optimal, so lifting a limit was not judged)"))
        return head, [f"without the {c.constraint} limit: {c.without_it}" for c in self.constraints if c.without_it]

    def __repr__(self) -> str:
        from explorer.reports.text import TextDoc

        head, notes = self._lines()
        doc = TextDoc().line(head).table(self.COLUMNS, [c.row() for c in self.constraints])
        for n in notes:
            doc.line(n)
        return doc.line("(the explainer's data, unrounded: .raw)").render(100).strip("\n")

    def _repr_html_(self) -> str:
        from html import escape

        from explorer.reports.html import CSS, table_html

        head, notes = self._lines()
        return (f"<div class='explorer-report'><style>{CSS}</style><p><b>{escape(head)}</b></p>"
                f"{table_html(self.COLUMNS, [c.row() for c in self.constraints])}"
                + "".join(f"<p>{escape(n)}</p>" for n in notes) + "</div>")


# --- keyword hygiene shared by estimate, solve_3d and solve ---------------------------------------------------------
# Keywords whose values are choice names: read in any case (precision="FP8" is fp8), as the catalogs read model,
# GPU, network and track names and framework_choice reads frameworks. Every choice list is lower case
# (plan.PRECISIONS, plan.RECOMPUTE, cost/setup.py CROSS_ENTROPY_KERNELS and SELECTIVE_POLICIES, ...).
_CHOICE_KEYWORDS = ("precision", "recompute", "attention_kernel", "cross_entropy", "grad_reduce_dtype", "mlp",
                    "optimizer", "engine", "selective_policy", "framework")
_PLAN_FIELDS = tuple(f.name for f in fields(ParallelPlan))


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _lower_choices(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_lower(v) if k in _CHOICE_KEYWORDS else v) for k, v in options.items()}


def _api_keywords(call: str, *, takes_plan: bool = False) -> Any:
    """Under keywords.checked: choice names in any case, and (estimate) plan= expanded into the
    plan's fields, a field also given on its own being an error naming both."""
    import functools


    def deco(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs = _lower_choices(kwargs)  # (switches take True or False only: keywords.check, _type_ok)
            if takes_plan and kwargs.get("plan") is not None:
                kwargs = _expand_plan(kwargs)
            return fn(*args, **kwargs)
        return wrapper
    return deco


def _expand_plan(kwargs: dict[str, Any]) -> dict[str, Any]:
    """estimate(plan=res.best.plan, ...): the plan's fields (tp, pp, dp, cp, micro_batch, global_batch,
    virtual_stages, zero, recompute, sequence_parallel, framework, hsdp) as the keywords, and gpus its device count
    unless given; the same field given on its own as well is a UsageError naming both."""
    plan = kwargs.pop("plan")
    if not isinstance(plan, ParallelPlan):
        raise TypeError(f"explorer.estimate(): plan must be a ParallelPlan (e.g. res.best.plan of explorer.solve_3d), "
                        f"got {type(plan).__name__} {V.short(plan)}")
    kwargs = {k: v for k, v in kwargs.items() if not (k in _PLAN_FIELDS and v is None)}  # None: not given
    both = [k for k in _PLAN_FIELDS if k in kwargs]
    if both:
        given = ", ".join(f"{k}={V.short(kwargs[k])}" for k in both)
        theirs = ", ".join(f"{k}={V.short(getattr(plan, k))}" for k in both)
        raise UsageError(f"give the plan either as plan= or field by field, not both: {given} beside plan= "
                         f"(whose {theirs}); drop one (dataclasses.replace(plan, ...) changes a field of a plan)")
    out = {**kwargs, **{k: getattr(plan, k) for k in _PLAN_FIELDS}}
    if out.get("gpus") is None:
        out["gpus"] = plan.devices
    return out


def _readable(res: ThreeDResult) -> ThreeDResult:
    """The API's form of a 3D result: its plans as Estimates (so `.memory_gb`, `.time_s` and a notebook view with
    units come along; the same objects: res.best is res.top[0] stays true) and `.binding` as a Binding view."""
    setup = res.instance.setup
    seen: dict[int, Estimate] = {}

    def of(e: StepEstimate | None) -> Estimate | None:
        if e is None or isinstance(e, Estimate):
            return e
        if id(e) not in seen:
            seen[id(e)] = Estimate.of(setup, e)
        return seen[id(e)]

    res.top = [of(e) for e in res.top]
    res.best, res.crisis = of(res.best), of(res.crisis)
    if not isinstance(res.binding, Binding):
        res.binding = Binding(res.binding or {}, res)
    return res


MLPS = MLP_KINDS


def custom_model(layers: int, hidden: int, heads: int, kv_heads: int | None = None, ffn: int | None = None,
                 vocab: int = 32000, mlp: str = "swiglu", name: str | None = None, **kw: Any) -> DecoderModel:
    """A decoder given by its shape (kv_heads defaults to heads; ffn to 4 x hidden for GELU, 8/3 x for SwiGLU)."""
    layers, hidden, heads, kv_heads, ffn, vocab = (kind.check(k, x) for k, kind, x in (
        ("layers", V.LAYERS, layers), ("hidden", V.HIDDEN, hidden), ("heads", V.HEADS, heads),
        ("kv-heads", V.HEADS, kv_heads), ("ffn", V.HIDDEN, ffn), ("vocab", V.VOCAB, vocab)))
    if mlp not in MLPS:
        raise UsageError(f"mlp {mlp!r} unknown; valid: {', '.join(MLPS)}")
    if ffn is None:
        ffn = int(8 * hidden / 3) if mlp in GATED_MLPS else 4 * hidden
    if name is None:
        name = f"custom {layers}L h{hidden} {MLP_LABELS[mlp]}" + (" parallel block" if kw.get("parallel_block") else "")
    return DecoderModel(name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads or heads,
                        ffn=ffn, vocab=vocab, mlp=mlp, **kw)


def resolve_model(model: str | DecoderModel | None = None, *, layers: int | None = None,
                  hidden: int | None = None, heads: int | None = None, kv_heads: int | None = None,
                  ffn: int | None = None, vocab: int | None = None,
                  mlp: str | None = None, parallel_block: bool | None = None) -> str | DecoderModel | None:
    """The model of a run: a catalog name / DecoderModel, or a custom shape (layers, hidden, heads at least).

    `mlp` ("gelu": 2 matrices h x ffn, GPT-2/3, BLOOM, MT-NLG; "relu": 2, OPT; "relu2": squared ReLU, 2,
    Nemotron-4; "swiglu": 3, Llama; "geglu": 3, GLM-130B, Gemma) and `parallel_block` (attention and MLP side by
    side on the same input, outputs summed: GPT-J, GPT-NeoX, PaLM; DecoderModel.parallel_block; default False)
    shape a custom model; catalog models carry their own."""
    if mlp is not None and mlp not in MLPS:
        raise UsageError(f"mlp {mlp!r} unknown; valid: {', '.join(MLPS)}")
    shape = {"layers": layers, "hidden": hidden, "heads": heads}
    extra = {"kv_heads": kv_heads, "ffn": ffn, "vocab": vocab}
    if all(v is None for v in (*shape.values(), *extra.values())):
        if mlp is not None or parallel_block is not None:  # shape options on a catalog model: only as it is
            if model is None:
                what, own = ("mlp", "MLP") if mlp is not None else ("parallel_block", "block")
                raise UsageError(f"{what} shapes a custom model: give layers, hidden and heads too "
                                 f"(catalog models carry their own {own})")
            m = model if isinstance(model, DecoderModel) else get_model(model)
            if mlp is not None and m.mlp != mlp:
                raise UsageError(f"model {m.name} has a {m.mlp} MLP; mlp={mlp!r} applies to custom shapes only")
            if parallel_block is not None and m.parallel_block != bool(parallel_block):
                kind = "a parallel" if m.parallel_block else "a sequential"
                raise UsageError(f"model {m.name} has {kind} attention + MLP block; parallel_block applies to "
                                 "custom shapes only")
        return model
    if model is not None:
        raise UsageError("give either a model name or a custom shape (layers, hidden, heads, ...), not both")
    missing = [k.replace("_", "-") for k, v in shape.items() if v is None]
    if missing:
        raise UsageError(f"a custom shape needs layers, hidden and heads; missing: {', '.join(missing)}")
    return custom_model(layers, hidden, heads, kv_heads, ffn, 32000 if vocab is None else vocab, mlp or "swiglu",
                        parallel_block=bool(parallel_block))


# The CLI's flags whose Python keyword is spelt or scaled differently, per puzzle (and for estimate / solve_3d): an
# unknown keyword that is one of them gets this hint in its one-line TypeError (keywords.check), so
# explorer.solve("crossover", nodes=16) says n= rather than only listing the allowed names. Read from each command's
# code in explorer/cli/ (what it passes the puzzle's solve); tests/test_api_sweep_fixes.py checks each hint names a
# keyword the call accepts.
_RENDER = ("the CLI's {flag}; here the Report renders itself: .to_text(), .to_json(), .to_markdown(), .to_html()")
_EVERY_PUZZLE = {
    "fmt": _RENDER.format(flag="--format"), "format": _RENDER.format(flag="--format"),
    "out": "the CLI's --out; here explorer.reports.render.write_report(report, fmt, out_dir)",
    "out_dir": "the CLI's --out; here explorer.reports.render.write_report(report, fmt, out_dir)",
    "attempts": "the CLI's --attempts; here explorer.reports.attempts.attach_attempts(report, path)",
    "attempts_file": "the CLI's --attempts; here explorer.reports.attempts.attach_attempts(report, path)",
}
_CUSTOM_SHAPE = ("the CLI's --{flag} shapes a custom model: explorer.solve_3d(track, layers=..., hidden=..., "
                 "heads=...) takes it, and its .report is this Report")
CLI_NAMES: dict[str, dict[str, str]] = {
    "scaling": {"fabrics": "did you mean fabric=? the CLI's --fabric: a link name or a list of them",
                "nodes": "did you mean max_devices=? the CLI's --max-devices (or its alias --nodes)",
                "to": "did you mean n_to=? the CLI's --to", "from_": "did you mean n_from=? the CLI's --from"},
    "crossover": {"nodes": "did you mean n=? the CLI's --participants / -n (or its alias --nodes)",
                  "participants": "did you mean n=? the CLI's --participants / -n",
                  "alpha_us": "did you mean alpha_s=? the CLI's --alpha-us, in seconds here: --alpha-us 5 is "
                              "alpha_s=5e-6",
                  "bandwidth_gbs": "did you mean bandwidth_bps=? the CLI's --bandwidth-gbs, in bytes/s here: "
                                   "--bandwidth-gbs 25 is bandwidth_bps=25e9",
                  "message_mb": "did you mean message_bytes=? the CLI's --message-mb, in bytes here: --message-mb 64 "
                                "is message_bytes=64e6"},
    "hierarchy": {"time_limit": "did you mean time_limit_s=? the CLI's --time-limit, in seconds",
                  "message_gb": "did you mean message_bytes=? the CLI's --message-gb, in bytes here: --message-gb 1 "
                                "is message_bytes=1e9",
                  "inter_gbs": "did you mean inter_bandwidth_bps=? the CLI's --inter-gbs, in bytes/s here: "
                               "--inter-gbs 25 is inter_bandwidth_bps=25e9"},
    "3d": {k: _CUSTOM_SHAPE.format(flag=k.replace("_", "-"))
           for k in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "mlp", "parallel_block")},
    "estimate": {"embedding_slots": "did you mean embedding_pipeline_slot=? the CLI's --embedding-slots",
                 "fmt": "the CLI's --format; here the Estimate's .as_dict(), or "
                        "explorer.cli.estimate.estimate_text(estimate)",
                 "format": "the CLI's --format; here the Estimate's .as_dict(), or "
                           "explorer.cli.estimate.estimate_text(estimate)"},
    "solve_3d": {"fmt": _RENDER.format(flag="--format").replace("here the Report", "here .report"),
                 "format": _RENDER.format(flag="--format").replace("here the Report", "here .report"),
                 "embedding_slots": "did you mean embedding_pipeline_slot=? the CLI's --embedding-slots"},
}


def _pin_hints() -> dict[str, str]:
    """A plan variable the 3D solver chooses (tp, pp, micro_batch, ...: the names the CLI's --fix takes,
    puzzles/threed/space.py FIXABLE) given as a keyword: the hint says to pin it with fix=, as a dict or in the
    CLI's text form (explorer.solve_3d("cloud", tp=8) said "did you mean 'top'?")."""
    from explorer.puzzles.threed.space import FIXABLE

    example = {"recompute": "full", "sp": "0", "sequence_parallel": "0", "hsdp": "1", "zero": "1", "v": "2",
               "virtual_stages": "2", "mb": "2", "micro_batch": "2", "m": "16", "num_micro_batches": "16"}
    out = {}
    for k in FIXABLE:
        if k == "framework":  # a keyword of its own (the frameworks searched)
            continue
        v = example.get(k, "8")
        value = repr(v) if k == "recompute" else v
        out[k] = (f"a plan variable the solver chooses; pin it with fix={{{k!r}: {value}}} or fix='{k}={v}' "
                  "(the CLI's --fix)")
    return out


def cli_names(call: str) -> dict[str, str]:
    """The hints for keywords spelt as the CLI spells them: a puzzle's name (explorer.solve), 'estimate' or
    'solve_3d'."""
    every = _EVERY_PUZZLE if call != "estimate" else {}  # solve_3d: its .report is a Report
    pins = _pin_hints() if call in ("3d", "solve_3d") else {}
    return {**every, **pins, **CLI_NAMES.get(call, {})}


def fix_pins(fix: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    """The 3D puzzle's pins as the solver reads them: a dict ({'tp': 8, 'recompute': 'full'}) or the CLI's --fix
    text ('tp=8,pp=8,dp=16'), parsed as the CLI parses it (explorer/puzzles/threed/pins.py parse_pins), so the two
    spell pins alike; a choice's value in any case ('FULL' is 'full')."""
    if fix is None:
        return None
    if isinstance(fix, str):
        from explorer.puzzles.threed.pins import parse_pins

        fix = parse_pins(fix, "fix")
    if not isinstance(fix, Mapping):
        raise TypeError(f"explorer.solve_3d(): fix must be a dict such as {{'tp': 8, 'pp': 8}} or the CLI's text "
                        f"'tp=8,pp=8', got {type(fix).__name__} {V.short(fix)}")
    return {k: (v.strip().lower() if k in ("recompute", "framework") and isinstance(v, str) else v)
            for k, v in fix.items()}


def solve_3d(track: str | Track = "cloud", *, model: str | DecoderModel | None = None,
                     layers: int | None = None, hidden: int | None = None, heads: int | None = None,
                     kv_heads: int | None = None, ffn: int | None = None, vocab: int | None = None,
                     mlp: str | None = None, parallel_block: bool | None = None,
                     fix: dict[str, Any] | str | None = None, **options: Any) -> ThreeDResult:
    """Solve the 3D puzzle (explorer.puzzles.threed.solve_3d) for a catalog model or a custom shape.

    Any scenario default can be overridden by keyword: gpu (brings its usual node), gpus, gpus_per_node,
    network, intra_network, seq_len, global_batch, precision, optimizer, flash_attention, attention_kernel,
    tp_comm_overlap, fused_kernels, recompute_every, max_bubble, fix, engine, top, time_limit.

    The plan's variables are the solver's to choose; pin any with fix, a dict or the CLI's --fix text:
    fix={'tp': 8, 'pp': 8} or fix="tp=8,pp=8" (names: tp, pp, dp, cp, micro_batch/mb, num_micro_batches/m,
    virtual_stages/v, zero, recompute, sequence_parallel/sp, framework, hsdp). The answer's plan evaluates again
    with explorer.estimate(plan=res.best.plan, ...the same scenario keywords...). Choice names (precision,
    recompute, ...) are read in any case."""
    options = _lower_choices(options)
    fix = fix_pins(fix)
    if fix is not None:
        options["fix"] = fix
    mdl = resolve_model(model, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ffn=ffn, vocab=vocab,
                        mlp=mlp, parallel_block=parallel_block)
    if options.get("precision") is not None:
        check_precision(options["precision"])
    _fleet_as_datacenter(track, options.get("gpu"), options.get("gpus"))
    options = _framework_from_pin(options)
    t = track if isinstance(track, Track) else get_track(track)
    check_default_precision(t, options.get("gpu"), options.get("precision"))
    # FP32: no fused attention kernel takes it (frameworks.fp32_attention_overrides), as explorer.estimate prices it
    gpu = options.get("gpu")
    options = {**options, **fp32_attention_overrides(
        framework_choice(options.get("framework") or DEFAULT_FRAMEWORK),
        t.workload.precision if options.get("precision") is None else options["precision"],
        t.cluster.accelerator.key if gpu is None else get_accelerator(gpu).key,
        options.get("attention_kernel"), options.get("flash_attention", True) is not False)}
    fix = options.get("fix") or {}
    if isinstance(fix, dict):
        from explorer.puzzles.threed.space import ALIASES

        pins = {ALIASES.get(k, k): v for k, v in fix.items()}  # sp -> sequence_parallel, as the Instance reads them
        sp, tp = pins.get("sequence_parallel"), pins.get("tp")
        if sp is not None and not sp and (tp is None or tp != 1):
            # sequence parallelism pinned off while TP may exceed 1: an asked-for overlap could not run
            given = next(k for k in fix if ALIASES.get(k, k) == "sequence_parallel")  # as the user wrote it
            _overlap_needs_sp(options.get("tp_comm_overlap"), "TP > 1" if tp is None else f"TP {tp}",
                              f"--fix {given}={fix[given]}")
    return _readable(_solve_3d(track, model=mdl, **options))


def solve(puzzle: str, track: str = "cloud", **options: Any) -> Report:
    """Solve one lab part (a puzzle) for one track and return its Report."""
    from explorer import puzzles

    name = _lower(puzzle)  # '3D' is '3d', as track='CLOUD' is 'cloud'
    puzzles.get_puzzle(name)  # an unknown name: the UsageError that lists the puzzles
    options = _lower_choices(options)
    if name == "3d" and options.get("fix") is not None:
        options["fix"] = fix_pins(options["fix"])
    return puzzles.solve(name, track, **options)


_SOLVE_HEAD = """Solve one lab part (a puzzle) for one track and return its Report: .headline, .findings, .figures,
.tables, .assumptions; .to_text(), .to_markdown(), .to_html(), .to_json(), .to_dict(); a notebook shows it.

    explorer.solve("3d", track="cloud", fix={{"tp": 8}})
    explorer.solve("crossover", track="edge", n=64)

puzzle (any case) and track ({tracks}); each puzzle takes these keywords besides
track (its CLI command, `explore solve PUZZLE --help`, has them as flags; a keyword not listed is a
TypeError naming the allowed ones, with the CLI spelling's Python name where they differ):
"""


def _solve_doc(with_keywords: bool) -> str:
    """explorer.solve's docstring, generated from the registry (explorer/puzzles PUZZLES) and, with_keywords, from
    the table the keyword TypeError reads (keywords.accepted of each puzzle's solve: its own parameters and those
    it forwards), so the two cannot disagree."""
    import textwrap

    from explorer.keywords import accepted
    from explorer.puzzles import PUZZLES
    from explorer.tracks import TRACKS

    lines = [_SOLVE_HEAD.format(tracks=", ".join(TRACKS))]
    for name, info in PUZZLES.items():
        head = f"{name:<12} lab {info.lab} part {info.part}, {info.title}"
        if not with_keywords:
            lines.append(head)
            continue
        keys = [k for k in (accepted(info.load().solve) or {}) if k != "track"]
        body = ", ".join(keys) if keys else "(no options)"
        lines.append(head + ":")
        lines.extend(textwrap.wrap(body, 104, initial_indent=" " * 13, subsequent_indent=" " * 13))
    if not with_keywords:
        lines.append("\n(help(explorer.solve) lists each puzzle's keywords.)")
    lines.append("\nThe 3D puzzle's answer as an object (best plan, top plans, binding limits): explorer.solve_3d.\n"
                 "Errors: UsageError (bad input; also a ValueError), InfeasibleError, NoAnswerError (explorer).")
    return "\n".join(lines)


solve.__doc__ = _solve_doc(with_keywords=False)
_SOLVE_DOCUMENTED = False


def documented_solve() -> Any:
    """`solve` with each puzzle's keywords in its docstring (explorer.solve returns this): filled once, on first use,
    as reading them imports every puzzle module (a third of a second), which `import explorer.api` does not."""
    global _SOLVE_DOCUMENTED
    if not _SOLVE_DOCUMENTED:
        solve.__doc__ = _solve_doc(with_keywords=True)
        _SOLVE_DOCUMENTED = True
    return solve


def check_default_precision(track: str | Track, gpu: str | None, precision: str | None) -> None:
    """Before evaluating: with no --precision, the track's default precision (bf16 in the cloud) must be one the
    accelerator has a peak for, else a one-line UsageError that says the precision was the default, not the user's,
    and which --precision values the part takes (the catalog's own message, hardware/catalog.py Accelerator.peak,
    reads as though the user had asked for it). A --gpu the catalog does not know is left to the command's own
    lookup to report (with its 'did you mean')."""
    if precision is not None or gpu is None:
        return
    from explorer.plan import PRECISIONS

    try:
        acc = get_accelerator(gpu)
    except UsageError:
        return
    t = track if isinstance(track, Track) else get_track(track)
    default = t.workload.precision
    if default in acc.peak_flops:
        return
    valid = [p for p in PRECISIONS if p in acc.peak_flops]
    what = (f"give {' or '.join(f'--precision {p}' for p in valid)}" if valid
            else f"it has none of the training precisions {', '.join(PRECISIONS)}")
    raise UsageError(f"the {acc.name} ({acc.key}) has no {default.upper()} peak, and {default} is the default "
                     f"precision (the {t.name} track's, as none was given); {what}")


def _framework_from_pin(options: dict[str, Any]) -> dict[str, Any]:
    """A framework pinned with fix={'framework': ...} is the one searched: it fills an unset framework (the CLI passes
    the pin where --framework was not given) and must agree with a given one (or 'any'), else a usage error naming
    both; the pin is kept under its canonical name (an alias such as torchtitan pins fsdp)."""
    fix = options.get("fix")
    if not isinstance(fix, dict) or fix.get("framework") is None:
        return options
    pinned = framework_choice(str(fix["framework"]))
    if pinned == "any":
        raise UsageError("the pin framework=any pins nothing: give --framework any instead")
    asked = options.get("framework")
    if asked is not None and framework_choice(asked) not in ("any", pinned):
        raise UsageError(f"--framework {asked} contradicts the pin framework={fix['framework']}: drop one of them "
                         f"(or give --framework any with the pin)")
    return {**options, "framework": pinned if asked is None else asked, "fix": {**fix, "framework": pinned}}


def _fleet_as_datacenter(track: str | Track, gpu: str | None, gpus: int | None) -> None:
    """A fleet track (edge, mobile, tiny) with neither gpu nor gpus given: the datacenter 3D puzzle would take the
    whole fleet as one synchronous data-parallel ring reducing every step over its radios (the tiny track's 100
    earbuds as PP=5 DP=10 CP=2 over Bluetooth, 'optimal'), a question no one asked. Refused with the calls that do
    answer it, as explorer.estimate refuses the same; with gpu or gpus the datacenter form is what was asked for
    (the track's model on those devices)."""
    from explorer.puzzles.fleet3d import fleet_phrase, is_fleet

    t = track if isinstance(track, Track) else get_track(track)
    key = t.key
    if gpu is None and gpus is None and is_fleet(key):
        raise UsageError(
            f"{fleet_phrase(key)}, not a datacenter whose ranks reduce every step: explorer.solve('3d', "
            f"track={key!r}) answers its 3D puzzle in the fleet form (a Report; `explore solve 3d --track {key}`); "
            f"explorer.solve_3d takes a fleet track only with gpu (e.g. 'h100': the track's model on datacenter "
            f"hardware) or gpus (that many {t.device_plural} as one synchronous cluster)")


def _overlap_needs_sp(tp_comm_overlap: bool | None, tp: str, sp_off: str) -> None:
    """TP communication overlap asked for (True, not the framework's default None) beside sequence parallelism turned
    off at TP > 1 is a pair no framework runs: Megatron-LM refuses it at start-up (megatron/training/arguments.py:
    'Tensor parallel communication/GEMM overlap can happen only when sequence parallelism is enabled'), and
    torchtitan's AsyncTP micro-pipelines the all-gathers and reduce-scatters that only sequence parallelism runs
    (torchtitan parallelize_llama.py apply_tp). Refused here rather than priced as a plan without the overlap."""
    if tp_comm_overlap:
        raise UsageError(f"--tp-comm-overlap needs sequence parallelism, and {sp_off} turns it off at {tp}: "
                         "Megatron-LM refuses the pair at start-up (TP communication/GEMM overlap only with "
                         "sequence parallelism); drop one of the two")


# The 3D solver with its keywords checked: a misspelt or wrongly typed option is a one-line TypeError.
solve_3d = checked("explorer.solve_3d()", renames=lambda: cli_names("solve_3d"))(
    _api_keywords("explorer.solve_3d()")(solve_3d))


@checked("explorer.estimate()", renames=lambda: cli_names("estimate"))
@_api_keywords("explorer.estimate()", takes_plan=True)
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
    from explorer.units import human_percent

    parts = [f"{f.name} (ZeRO-{e.plan.zero}): MFU {human_percent(e.mfu)}, step {step_text(e.step_time_s)}"
             + ("" if e.fits_in_memory else ", does not fit in memory") for f, _, e in results]
    parts += [f"{f.name}: does not run it ({why})" for f, why in reasons]
    fits = any(e.fits_in_memory for _, _, e in results)
    return Assumption(
        f"--framework any: the plan evaluated under each framework: {'; '.join(parts)}. Shown: {chosen.name}, the "
        f"shortest step{' that fits in memory' if fits else ' (none fits in memory)'}.",
        "explorer/cost/frameworks.py (each framework's ZeRO stages, pipelines and model code)")
