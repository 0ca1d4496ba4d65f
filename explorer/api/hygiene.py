"""Keyword hygiene shared by estimate, solve_3d and solve: choice names in any case, plan= expanded, the
CLI's spellings hinted at, the 3D puzzle's pins read as the CLI reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from explorer import validation as V
from explorer.errors import UsageError
from explorer.plan import ParallelPlan

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


def _api_keywords(*, takes_plan: bool = False) -> Any:
    """Under keywords.checked (which also holds switches to True or False): choice names in any case, and (estimate)
    plan= expanded into the plan's fields, a field also given on its own being an error naming both."""
    import functools

    def deco(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs = _lower_choices(kwargs)
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
