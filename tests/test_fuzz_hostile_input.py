"""Fuzz every option of every command, and every keyword of the Python API, with hostile and in-range values.

The promise (issue 14): exit 0 with finite figures, or exit 1/2 with a one-line message, within a time bound;
never "internal error", never a traceback, never NaN or infinity in the output, and a bad value quoted with at
most 80 characters. The options are read from the Click commands themselves (and the API keywords from the
functions' signatures), so a new option is fuzzed the day it exists.

CI runs a few hundred cases in well under a minute: hostile values (each case has at least one value outside
its option's range, so it must be refused with exit 2) and a few in-range runs of the quick commands. More:

    EXPLORER_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_hostile_input.py    # every command, in-range runs too

(the number is the hostile-case count; the in-range and API tests scale with it).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import signal
from contextlib import chdir, contextmanager
from pathlib import Path
from unittest import mock

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer import validation as V
from explorer.cli import main

BIG = int(os.environ.get("EXPLORER_FUZZ_EXAMPLES", "0"))
HOSTILE_EXAMPLES = BIG or 250
VALID_EXAMPLES = BIG // 4 if BIG else 15
API_EXAMPLES = BIG // 4 if BIG else 60
# A case that runs longer than this is a hang (every size is bounded; CP-SAT stops at its time limit). The
# batch commands (a whole answer key, a frontier of up to MAX_FRONTIER_SOLVES solves, a plan over GPU types
# and sizes, a sweep) are long by design and get a longer bound.
CASE_SECONDS = 120
BATCH_COMMANDS, BATCH_SECONDS = ("key", "frontier", "plan", "sweep"), 900
# In CI the in-range runs use the commands that answer in a second or two; the big run uses all of them.
SLOW = ("key", "frontier", "sweep", "plan", "validate", "solve sync", "solve memory", "solve compression",
        "solve batch")
SETTINGS = {"deadline": None, "derandomize": not BIG, "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture]}

# A number printed from NaN or infinity by Python's formatting: 'nan', 'inf', '-inf', 'inf%', '$infM' (prose
# and formulas such as 'FP16 NaN', 'infeasible', 'overflows to inf', 'integral_0^inf' or '||g|| = inf gives
# min(1, c/inf) x inf = nan' do not match: lower case, no letter after it, no '^', '/', 'to ', '= ' or 'x '
# before it). Figures are checked exactly where it matters: every report is refused before it renders if
# one is not finite (explorer.validation.require_finite), and JSON output is parsed strictly here.
NON_FINITE = re.compile(r"(?<![A-Za-z^_/])(?<!to )(?<!= )(?<!x )(-?inf|nan)(?![a-z])")


# --- the commands and their options, read from Click -------------------------------------------------
def commands() -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, path + [name])
        else:
            out[" ".join(path)] = cmd

    walk(main, [])
    return out


COMMANDS = commands()
CATALOG = {}


def catalog(name: str) -> list[str]:
    if not CATALOG:
        from explorer.hardware.catalog import accelerator_names, link_names
        from explorer.models.catalog import model_names

        from explorer.puzzles import PUZZLES

        CATALOG.update(model=model_names(), gpu=accelerator_names(), network=link_names(),
                       fabric=link_names(), puzzle=list(PUZZLES))
    return CATALOG.get(name, [])


JUNK = ["", " ", "nan", "-inf", "1e309", "-1", "0", "x" * 200, "日本語", "\u202e", "1,2,,3", "--help", "a=b=c",
        "10" * 60, "0x1F", "None", "[]", "{}", "../../etc/passwd", "\x00"]


def _number_bounds(t: click.ParamType) -> tuple[float | None, float | None, bool]:
    if isinstance(t, V.Number):
        return t.lo, t.hi, t.integer
    if isinstance(t, click.IntRange):
        return t.min, t.max, True
    if isinstance(t, click.FloatRange):
        return t.min, t.max, False
    return None, None, isinstance(t, type(click.INT))


def hostile_number(t: click.ParamType) -> st.SearchStrategy[str]:
    """Strings that are not numbers of the option's kind: not a number, not finite, or outside its range."""
    lo, hi, integer = _number_bounds(t)
    bad = ["nan", "NaN", "inf", "-inf", "1e309", "-1e309", "abc", "", "١٢", "1e", "--", str(10 ** 100), "9" * 5000]
    if integer:
        bad += ["1.5", "0.1", "2.5e0"]
    if lo is not None:
        bad += [str(lo - 1) if integer else repr(lo - max(1.0, abs(lo))), str(-(10 ** 30))]
    if hi is not None:
        bad += [str(int(hi) + 1) if integer else repr(hi * 10 + 1), str(10 ** 30)]
    return st.sampled_from(bad)


def valid_number(t: click.ParamType) -> st.SearchStrategy[str]:
    lo, hi, integer = _number_bounds(t)
    if integer:
        lo_i = int(lo) if lo is not None else -(2 ** 31)
        hi_i = int(hi) if hi is not None else 2 ** 31
        near = [x for x in (lo_i, lo_i + 1, 2, 8, 64, 1000, hi_i) if lo_i <= x <= hi_i]
        return st.one_of(st.sampled_from(near), st.integers(lo_i, hi_i)).map(str)
    lo_f = float(lo) if lo is not None else -1e12
    hi_f = float(hi) if hi is not None else 1e12
    open_lo = isinstance(t, V.Number) and t.lo_open
    edges = [x for x in (lo_f, hi_f, (lo_f + hi_f) / 2, 1.0, 0.5) if lo_f <= x <= hi_f and not (open_lo and x == lo_f)]
    return st.one_of(st.sampled_from(edges),
                     st.floats(lo_f, hi_f, allow_nan=False, allow_infinity=False, exclude_min=open_lo)).map(repr)


def option_values(p: click.Parameter, hostile: bool, tmp: Path) -> st.SearchStrategy[list[str]]:
    """Command-line words for one parameter: ['--opt', 'value'], ['--flag'] or ['argument']."""
    t = p.type
    name = p.name or ""
    flag = getattr(p, "is_flag", False)
    if flag:
        words = [o for o in list(p.opts) + list(getattr(p, "secondary_opts", [])) if o.startswith("--")]
        return st.sampled_from(words).map(lambda w: [w])
    opt = p.opts[0] if isinstance(p, click.Option) else None
    if isinstance(t, (V.Number, click.IntRange, click.FloatRange)) or t in (click.INT, click.FLOAT):
        vals = hostile_number(t) if hostile else valid_number(t)
    elif isinstance(t, V.NumberList):
        item = hostile_number(t.kind) if hostile else valid_number(t.kind)
        vals = st.lists(item, min_size=1, max_size=3).map(",".join)
        if hostile:
            vals = st.one_of(vals, st.just(",".join(["8"] * (t.max_items + 1))))
    elif isinstance(t, click.Choice):
        # (a choice in another case is a choice: --track CLOUD is cloud, as the API reads names)
        vals = st.sampled_from(["", "x" * 300, "cl0ud", "日本"]) if hostile else st.sampled_from(list(t.choices))
    elif isinstance(t, (V.OutDir, click.Path)):
        vals = path_values(p, hostile, tmp)
    elif getattr(t, "name", "") == "host":  # an address to serve on (explore lab)
        vals = st.sampled_from(["x" * 300, "a b", "日本語", "", "-1", "host:80", "a..b"]) if hostile else \
            st.sampled_from(["127.0.0.1", "localhost", "::1", "lab-host.example"])
    elif name == "fix" and not hostile:  # NAME=VALUE pins of the 3D puzzle
        from explorer.cli.solve_3d import FIX_TYPES

        pin = st.tuples(st.sampled_from(sorted(FIX_TYPES)), st.one_of(
            st.integers(0, 70).map(str), st.sampled_from(["none", "selective", "full", "megatron", "fsdp"])))
        vals = st.lists(pin, min_size=1, max_size=3).map(lambda ps: ",".join(f"{k}={v}" for k, v in ps))
    else:  # free text: catalog names, numbers written as text, junk
        names = catalog("fabric" if name == "fabrics" else name) or catalog(name.rstrip("s"))
        if hostile:
            vals = st.sampled_from(["x" * 300, "no_such_thing", "日本語", "nan", "-1", "1e309", "", "a=1,=2"])
        else:
            vals = st.sampled_from(names) if names else st.sampled_from(JUNK + ["1", "8", "64", "0.5", "1e6"])
    if opt is None:
        return vals.map(lambda v: [v])
    return vals.map(lambda v: [opt, v])


def path_values(p: click.Parameter, hostile: bool, tmp: Path) -> st.SearchStrategy[str]:
    out_dir = isinstance(p.type, V.OutDir) or (isinstance(p.type, click.Path) and not p.type.file_okay)
    junk = tmp / "junk.txt"
    junk.write_bytes(b"\xff\xfe not,a,report\n" + b"x" * 1000)
    if out_dir:
        return st.sampled_from(["/proc/nope", str(junk), "/proc/self/status/x"]) if hostile else st.just(
            str(tmp / "out"))
    return st.sampled_from([str(tmp / "missing.csv"), str(tmp), "/proc/nope", "", "x" * 300]) if hostile \
        else st.sampled_from([str(junk), str(tmp / "empty.csv")])


# --- running a case -------------------------------------------------------------------------------------
class Hang(Exception):
    pass


@contextmanager
def time_bound(seconds: int):
    def alarm(signum, frame):  # noqa: ARG001
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def non_finite_in(text: str) -> list[str]:
    return NON_FINITE.findall(text)


def strict_json(text: str) -> object:
    def refuse(c: str) -> None:
        raise AssertionError(f"non-finite {c} in JSON output")

    return json.loads(text, parse_constant=refuse)


def check_outcome(args: list[str], result, out_dir: Path | None) -> None:
    """The promise, for one command line."""
    shown = " ".join(a[:40] for a in args)
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"{shown}: raised {type(exc).__name__}: {exc}"
    # 3: a --time-limit stopped the solver before any answer (README 'Statuses and exit codes'; a loaded machine
    # reaches it at the 1 s the in-range cases may draw), said in one line like any other error
    assert result.exit_code in (0, 1, 2) or (result.exit_code == 3 and "--time-limit" in args), \
        f"{shown}: exit {result.exit_code}"
    text = result.output
    assert "internal error" not in text and "Traceback" not in text, f"{shown}: {text[-300:]}"
    if result.exit_code and not (result.exit_code == 1 and not result.stderr.strip() and result.stdout.strip()):
        # (exit 1 with a report and no error: an answer whose status is 'infeasible', checked below)
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        assert last.startswith(("error: ", "aborted")), f"{shown}: last line of stderr {last[:200]!r}"
        for a in args:  # a bad value is quoted with at most 80 characters
            if len(a) > 81:
                assert a[:81] not in result.stderr, f"{shown}: a {len(a)}-character value quoted back in full"
        assert len(last) <= 1000, f"{shown}: a {len(last)}-character error line"
        return
    stdout = result.stdout
    if "--format" in args and args[args.index("--format") + 1] == "json" and stdout.strip().startswith(("{", "[")):
        strict_json(stdout)
    bad = non_finite_in(stdout)
    assert not bad, f"{shown}: non-finite figures {bad[:3]} in the output"
    if out_dir is not None and out_dir.is_dir():
        for f in out_dir.rglob("*"):
            if f.suffix == ".json":
                strict_json(f.read_text(encoding="utf-8"))
            elif f.suffix in (".txt", ".md", ".csv"):
                bad = non_finite_in(f.read_text(encoding="utf-8"))
                assert not bad, f"{shown}: non-finite figures {bad[:3]} in {f.name}"


def launched(*cmd) -> int:
    """Stands in for starting the marimo server."""
    return 0


def run_case(args: list[str], tmp: Path):
    out_dir = tmp / "out"
    if out_dir.exists():
        for f in sorted(out_dir.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
    # `explore lab` ends by handing the process to a marimo server (os.execv): here the launch is recorded,
    # not made (a server would replace the test process), and `--edit`'s copy of the app lands in tmp.
    with time_bound(BATCH_SECONDS if args[0] in BATCH_COMMANDS else CASE_SECONDS), chdir(tmp), \
            mock.patch("explorer.cli.lab.os.execv", launched), mock.patch("explorer.cli.lab.subprocess.call", launched):
        result = CliRunner().invoke(main, args)
    if isinstance(result.exception, Hang):
        pytest.fail(f"{' '.join(a[:40] for a in args)}: {result.exception}")
    check_outcome(args, result, out_dir if "--out" in args else None)
    return result


@st.composite
def command_line(draw, hostile: bool, tmp: Path, names: list[str]) -> list[str]:
    name = draw(st.sampled_from(names))
    cmd = COMMANDS[name]
    params = [p for p in cmd.params if p.name not in ("help",) and not (isinstance(p, click.Option) and p.hidden)]
    required = [p for p in params if p.required]
    optional = [p for p in params if not p.required]
    chosen = required + draw(st.lists(st.sampled_from(optional), max_size=3, unique_by=lambda p: p.name)
                             if optional else st.just([]))
    if hostile:
        target = draw(st.sampled_from([p for p in chosen if not getattr(p, "is_flag", False)] or [None]))
    else:
        target = None
    words: list[str] = []
    args: list[str] = []
    for p in chosen:
        w = draw(option_values(p, hostile and p is target, tmp))
        (args if isinstance(p, click.Argument) else words).extend(w)
    if hostile and target is None:  # no option to spoil: an unknown option is the hostile input
        words += [draw(st.sampled_from(["--no-such-option", "--" + "x" * 300, "-Z"])), "1"]
    return name.split() + args + words


def _tmp(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    (d / "empty.csv").write_text("")
    return d


# --- the tests -------------------------------------------------------------------------------------------
def test_every_command_is_fuzzed():
    """The option lists come from Click: every command and option is reachable by the strategies below."""
    assert {"solve 3d", "estimate", "solve scaling", "solve sync", "frontier"} <= set(COMMANDS)
    for cmd in COMMANDS.values():
        for p in cmd.params:
            if p.name != "help":
                option_values(p, True, Path("/tmp"))  # raises if a parameter type has no strategy


def test_hostile_values_are_refused_in_one_line(tmp_path_factory):
    """At least one value per case is outside its option's range: exit 2 with one line, nothing computed."""
    tmp = _tmp(tmp_path_factory)

    @settings(max_examples=HOSTILE_EXAMPLES, **SETTINGS)
    @given(command_line(True, tmp, sorted(COMMANDS)))
    def case(args):
        result = run_case(args, tmp)
        assert result.exit_code == 2, f"{' '.join(a[:40] for a in args)}: exit {result.exit_code}, not refused"

    case()


def test_in_range_values_answer_honestly(tmp_path_factory):
    """Values inside every option's range: a finite answer (exit 0) or a one-line refusal (exit 1 or 2)."""
    tmp = _tmp(tmp_path_factory)
    names = sorted(n for n in COMMANDS if BIG or not n.startswith(SLOW))

    @settings(max_examples=VALID_EXAMPLES, **SETTINGS)
    @given(command_line(False, tmp, names))
    def case(args):
        run_case(args, tmp)

    case()


# --- the Python API ----------------------------------------------------------------------------------------
INTS = [0, -1, -(2 ** 63), 2 ** 63, 10 ** 100, 1, 2, 3, 7, 1024, 4096, 10 ** 9]
FLOATS = [math.nan, math.inf, -math.inf, -1.0, 0.0, -0.0, 5e-324, 1e-300, 1e308, 0.5, 1.0, 2.0, 1e6]
TEXTS = ["", "x" * 300, "日本語", "nan", "cloud", "cpsat", "enumerate", "full", "fp16", "megatron", "adam"]


def api_functions() -> dict[str, tuple]:
    """Every API entry point: (callable, its accepted keywords with their annotations)."""
    from explorer import api
    from explorer.keywords import accepted
    from explorer.puzzles import PUZZLES, solve

    out = {"estimate": (api.estimate, accepted(api.estimate)), "solve_3d": (api.solve_3d, None)}
    out["solve_3d"] = (api.solve_3d, accepted(inspect.unwrap(api.solve_3d)))
    for name, info in PUZZLES.items():
        out[f"solve {name}"] = (lambda track="cloud", _p=name, **kw: solve(_p, track, **kw),
                                accepted(info.load().solve))
    return out


def api_values(hint: object) -> st.SearchStrategy:
    text = str(hint)
    pools = []
    if "int" in text:
        pools.append(st.one_of(st.sampled_from(INTS), st.integers(-(2 ** 70), 2 ** 70)))
    if "float" in text:
        pools.append(st.one_of(st.sampled_from(FLOATS), st.floats()))
    if "str" in text:
        pools.append(st.sampled_from(TEXTS))
    if "bool" in text:
        pools.append(st.booleans())
    if "dict" in text:
        pools.append(st.dictionaries(st.sampled_from(["tp", "pp", "v", "zero", "sp", "dp", "mb", "m", "recompute"]),
                                     st.one_of(st.sampled_from(INTS), st.sampled_from(FLOATS), st.sampled_from(TEXTS)),
                                     max_size=3))
    return st.one_of(*pools) if pools else st.one_of(st.sampled_from(INTS), st.sampled_from(FLOATS), st.none())


@st.composite
def api_call(draw, functions: dict) -> tuple[str, dict]:
    name = draw(st.sampled_from(sorted(functions)))
    names = functions[name][1] or {}
    keys = draw(st.lists(st.sampled_from(sorted(k for k in names if k != "explain")), min_size=1, max_size=2,
                         unique=True))
    kw = {k: draw(api_values(names[k])) for k in keys}
    if "track" not in kw:
        kw["track"] = draw(st.sampled_from(["cloud", "edge", "mobile", "tiny"]))
    return name, kw


def check_api_call(name: str, fn, kw: dict) -> None:
    from explorer.errors import ExplorerError

    shown = f"{name}({', '.join(f'{k}={str(v)[:40]}' for k, v in kw.items())})"
    try:
        with time_bound(CASE_SECONDS):
            out = fn(**kw)
    except V.NonFiniteError as exc:
        pytest.fail(f"{shown}: refused a non-finite figure: {exc}")
    except (ExplorerError, TypeError) as exc:
        msg = str(exc)
        if isinstance(exc, TypeError):  # the keyword layer's one-line TypeError, not a crash inside
            assert msg.startswith("explorer."), f"{shown}: TypeError {msg[:200]}"
        assert "\n" not in msg, f"{shown}: a message of {len(msg.splitlines())} lines"
        for v in kw.values():
            if isinstance(v, str) and len(v) > 81:
                assert v[:81] not in msg, f"{shown}: a long value quoted back in full"
        return
    except Hang as exc:
        pytest.fail(f"{shown}: {exc}")
    except Exception as exc:  # noqa: BLE001 - the promise: nothing else ever escapes
        pytest.fail(f"{shown}: {type(exc).__name__}: {str(exc)[:300]}")
    d = out.report.to_dict() if hasattr(out, "report") else out.to_dict() if hasattr(out, "to_dict") else {
        k: getattr(out, k) for k in ("mfu", "hfu", "step_time_s", "tokens_per_s", "memory_total") if hasattr(out, k)}
    bad = V.non_finite(d)
    assert not bad, f"{shown}: non-finite figures at {bad[:3]}"


def test_api_keywords_with_hostile_values():
    """explorer.solve(puzzle, ...), explorer.solve_3d and explorer.estimate with hostile keyword values: a
    Report or estimate with finite figures, or a one-line UsageError/InfeasibleError (TypeError from the
    keyword check); nothing else."""
    functions = api_functions()

    @settings(max_examples=API_EXAMPLES, **SETTINGS)
    @given(api_call(functions))
    def case(call):
        name, kw = call
        check_api_call(name, functions[name][0], kw)

    case()


def test_an_apostrophe_is_not_a_quote_when_a_message_is_made_one_line():
    """one_line cuts a quoted value longer than MAX_QUOTE (80) characters; a possessive's apostrophe opens no quote,
    so a message with one and a later quoted word keeps its text (it once lost 86 characters between "track's" and
    the quote)."""
    from explorer.errors import MAX_QUOTE, one_line

    text = ("the Cloud Titan track's global batch of 512 sequences is not divisible by DP x micro-batch = 1,024 x 1; "
            "give --global-batch as a multiple of 1,024, or raise --tp ('solve 3d' finds one)")
    assert one_line(text) == text
    long_value = "x" * (MAX_QUOTE + 40)
    cut = one_line(f"unknown model '{long_value}'; valid: a, b")
    assert cut == f"unknown model '{'x' * MAX_QUOTE}...'; valid: a, b"
    cut = one_line(f'the track\'s value "{long_value} y" is bad')  # a quoted value after an apostrophe is still cut
    assert cut == f'the track\'s value "{"x" * MAX_QUOTE}..." is bad'
