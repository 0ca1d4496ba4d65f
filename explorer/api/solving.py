"""explorer.solve_3d (the 3D puzzle's answer as an object) and explorer.solve (any puzzle's Report, with its
docstring generated from the registry)."""

from __future__ import annotations

from typing import Any

from explorer.api.binding import _readable
from explorer.api.checks import _fleet_as_datacenter, _framework_from_pin, _overlap_needs_sp, check_default_precision
from explorer.api.hygiene import _api_keywords, _lower, _lower_choices, cli_names, fix_pins
from explorer.api.shapes import resolve_model
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, fp32_attention_overrides, framework_choice
from explorer.hardware.catalog import get_accelerator
from explorer.keywords import checked
from explorer.models.architecture import DecoderModel
from explorer.plan import check_precision
from explorer.puzzles.threed import ThreeDResult
from explorer.puzzles.threed import solve_3d as _solve_3d
from explorer.report import Report
from explorer.tracks import Track, get_track


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


# The 3D solver with its keywords checked: a misspelt or wrongly typed option is a one-line TypeError.
solve_3d = checked("explorer.solve_3d()", renames=lambda: cli_names("solve_3d"))(
    _api_keywords()(solve_3d))
