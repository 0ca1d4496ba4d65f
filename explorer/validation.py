"""One validation layer for every value a user gives, from the command line and from Python alike.

Every numeric option has a *kind*: whole number or real, its allowed range (always finite; positive
where it must be; an upper bound wherever the size drives memory or time, each bound named below
with the reason for it). A kind is a `click.ParamType`, so the same object serves both doors:

    from explorer import validation as V

    @click.option("--gpus", type=V.DEVICES)              # CLI: parsed and checked before any work,
                                                         #      a bad value exits 2 with one line
    gpus = V.DEVICES.check("gpus", gpus)                 # API: the same check, raises UsageError
    gpus = V.DEVICES.check("gpus", gpus, default=8)      # None -> the default, which is checked too

New options: reuse a kind below, or make one with `V.Int(lo, hi, why=...)` / `V.Real(lo, hi, ...)`
and give its upper bound a name and a reason here. Other helpers, all raising `UsageError` (exit 2)
with a one-line message that quotes at most `MAX_QUOTE` characters of a bad value:

- `short(value)`: a value as it may appear in a message (cut to 80 characters).
- `one_line(message)`: any message made one line, long quoted or unbroken runs cut (the CLI's net).
- `OUT_DIR` / `check_out_dir(path)`: the output directory exists or can be created, and is writable,
  checked before any solving.
- `conflict(...)`: contradictory pins named as such ("v = 2 needs PP > 1").
- `require_finite(obj)` / `dumps(obj)`: no NaN or infinity reaches a report; JSON is strict.

The CLI formats every error through `explorer.cli` (exit 2 for usage, 1 for infeasible); the Python
API raises the same `UsageError`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from explorer.errors import MAX_QUOTE, ExplorerError, UsageError, one_line, short  # noqa: F401 (re-exported)

# --- named bounds (each with the reason it exists) ---------------------------------------------------
# Devices: eight times the largest published training clusters (about 100,000 H100s in 2024); the 3D
# search tabulates the divisors of the count, and the scaling curve evaluates every N up to it.
MAX_DEVICES = 1 << 20
# Devices in one node: NVL72 racks have 72, the largest announced scale-up domains 576; beyond 1,024
# the "node" is a cluster, and TP is searched over the divisors of this number.
MAX_DEVICES_PER_NODE = 1024
# Global batch in sequences: 16.7 M sequences (Llama 3 405B trained at 16 M tokens = 2,048 sequences
# of 8K); the pipeline's micro-batch count and its step time in integer nanoseconds grow with it.
MAX_GLOBAL_BATCH = 1 << 24
# Sequence length: 1 M tokens, the longest published long-context training stages; activation
# memory and attention time grow with it (quadratically without FlashAttention).
MAX_SEQ_LEN = 1 << 20
# Model shape: layers, hidden size, heads, FFN width, vocabulary; far beyond any published decoder
# (Llama 3 405B: 126 layers, hidden 16,384, 128 heads, FFN 53,248, vocabulary 128,256).
MAX_LAYERS = 4096
MAX_HIDDEN = 1 << 20
MAX_HEADS = 1 << 14
MAX_VOCAB = 1 << 24
# Solver time limit: one day; every solve is bounded by it (CP-SAT stops there with its best answer).
MAX_TIME_LIMIT_S = 86_400.0
# Next-best configurations listed: each one is another CP-SAT solve with a no-good cut.
MAX_TOP = 50
# Seeds: numpy's SeedSequence takes non-negative integers; 64 bits is plenty of streams.
MAX_SEED = (1 << 64) - 1
# The scaling curve evaluates every N up to 10x this (1.3 M points: 0.4 GB and 3 s on 2 cores; at
# 2^20 devices it took 2.5 GB and 10 s): 128x the cloud track's 1,024 GPUs.
MAX_CURVE_DEVICES = 1 << 17
# A fleet (sync audit, crossover): the Monte Carlo straggler check draws about 4 M samples whatever
# the size, the order statistics integrate over N; 13x the edge track's 10,000 vehicles.
MAX_FLEET_NODES = 1 << 17
# Gossip on a contact graph is dense linear algebra on an N x N matrix (eigenvalues, O(N^3)): 7 s at
# 512 earbuds, 33 s at 1,024; 5x the tiny track's largest fleet of 100.
MAX_GOSSIP_NODES = 512
# A straggler 1,000x slower than its peers is a failed device (the checkpoint model's business).
MAX_SLOWDOWN = 1000.0
# Jitter: the mean extra step time as a fraction of the step; 100x the step is noise, not a step.
MAX_JITTER = 100.0
# Times, bandwidths and sizes of the collective and pipeline puzzles, from one nanosecond / byte per
# second to far beyond any real part: their ratios stay finite in float64 and in CP-SAT's integers.
MIN_LATENCY_S, MAX_LATENCY_S = 1e-9, 10.0  # 1 ns .. 10 s per message
MIN_BANDWIDTH_BPS, MAX_BANDWIDTH_BPS = 1e3, 1e14  # 1 kB/s (below BLE) .. 100 TB/s (100x NVLink 4)
MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES = 1.0, 1e15  # 1 byte .. 1 PB
MIN_STEP_S, MAX_STEP_S = 1e-9, 1e3  # 1 ns .. 1,000 s per sample
MAX_SAMPLE_BYTES = 1e12  # one sample of 1 TB (a 4K video clip is ~1 GB)
MAX_DATASET_SAMPLES = 1 << 40  # 1.1 T samples (LAION-5B has 5.85 B)
# Memory per device: 1 PB, beyond any accelerator or host (B200: 191.5 GB).
MAX_MEMORY_GB = 1e6
# Compression experiment: its seeded simulation runs in seconds within these.
MAX_COMPRESSION_WORKERS = 128
MAX_COMPRESSION_STEPS = 2000  # six seeded runs of about 1 ms per step
# The seeded simulation costs about 1 ms per worker-step on 2 cores (six schemes): 128 workers x 250 steps
# is about 30 s; the tiny track's default is 50 x 250.
MAX_COMPRESSION_WORK = 128 * 250
MAX_COMPRESSION_RATIO = 1e6  # top-k keeps at least one element of the simulated gradient at any ratio
# Dataloader: the exhaustive evaluator visits every (workers, devices) pair in a Python loop (about
# 1 s per 250,000 pairs); beyond this the cross-check is skipped (said so) and enumerate is refused.
MAX_ENUMERATE_PAIRS = 250_000
# Gradient accumulation steps searched one by one: 16x the largest a lab track uses.
MAX_ACCUMULATION = 1024
# CPU workers feeding the accelerators.
MAX_WORKERS = 1 << 20
# Tokens in one training run: 1,000 T, 64x Llama 3's 15.6 T.
MAX_RUN_TOKENS = 1e15
# GPU counts in one frontier (each is a series of CP-SAT solves), and solves in all: 12 counts x the
# 200 levels of --complete (the cloud track's default counts, about 3 minutes on 2 cores).
MAX_FRONTIER_COUNTS = 64
MAX_FRONTIER_SOLVES = 2400


def _fmt(x: float) -> str:
    """A range's end in a message: whole numbers with separators, others to six significant digits, never in
    scientific notation (a latency's 1e-09 reads 0.000000001)."""
    from explorer.units import human_number

    if isinstance(x, int) or (x == int(x) and abs(x) < 1e15):
        return f"{int(x):,}"
    return human_number(x, 6)


class Number(click.ParamType):
    """A finite number in a range: the kind of an option (CLI) and of a keyword argument (API)."""

    def __init__(self, lo: float | None = None, hi: float | None = None, *, integer: bool = False,
                 lo_open: bool = False, hi_open: bool = False, unit: str = "", why: str = "") -> None:
        self.lo, self.hi, self.integer = lo, hi, integer
        self.lo_open, self.hi_open, self.unit, self.why = lo_open, hi_open, unit, why
        self.name = "integer" if integer else "number"

    # --- the range in words -------------------------------------------------------------------------
    def describe(self) -> str:
        """E.g. 'a whole number in 1..1,048,576' or 'a number > 0'."""
        what = "a whole number" if self.integer else "a number"
        lo, hi = self.lo, self.hi
        if self.integer and lo is not None and hi is not None:
            rng = f" in {_fmt(lo)}..{_fmt(hi)}"
        elif lo is not None and hi is not None:
            rng = f" in {'(' if self.lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if self.hi_open else ']'}"
        elif lo is not None:
            rng = f" {'>' if self.lo_open else '>='} {_fmt(lo)}"
        elif hi is not None:
            rng = f" {'<' if self.hi_open else '<='} {_fmt(hi)}"
        else:
            rng = " (finite)"
        return what + rng + (f" {self.unit}" if self.unit else "")

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # noqa: ARG002
        return "INTEGER" if self.integer else "NUMBER"

    # --- checks ---------------------------------------------------------------------------------------
    def problem(self, value: Any) -> str | None:
        """Why `value` is not of this kind (None when it is)."""
        bad = f"must be {self.describe()}, got {short(value)}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return bad
        if isinstance(value, numbers.Integral):
            v = int(value)
            if self.hi is not None and v > self.hi:
                return self._over(value)
        else:
            v = float(value)
            if not math.isfinite(v):
                return bad
            if self.integer and v != int(v):
                return bad
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return bad
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            return self._over(value)
        return None

    def _over(self, value: Any) -> str:
        why = f": above the limit ({self.why})" if self.why else ""
        return f"must be {self.describe()}, got {short(value)}{why}"

    def check(self, name: str, value: Any, default: Any = None) -> Any:
        """`value` (or `default` when it is None) as int or float if it is of this kind, else UsageError."""
        if value is None:
            value = default
            if value is None:
                return None
        msg = self.problem(value)
        if msg:
            raise UsageError(f"{name} {msg}")
        return int(value) if self.integer else float(value)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            parsed: Any = value
        else:
            parsed = self.parse(str(value))
        msg = self.problem(parsed)
        if msg:
            self.fail(msg, param, ctx)
        return int(parsed) if self.integer else float(parsed)

    def parse(self, text: str) -> Any:
        """The number written in `text` (a whole number may be written 1e6), or the text itself."""
        t = text.strip().replace("_", "")
        if not t.isascii():  # Python reads '١٢' as 12; a command line of ASCII digits is the clearer contract
            return text
        if self.integer and len(t) <= 40:  # longer digit strings are above every bound anyway
            try:
                return int(t)
            except ValueError:
                pass
        if len(t) > 400:
            return text
        try:
            x = float(t)
        except ValueError:
            return text
        if self.integer and math.isfinite(x) and x == int(x):
            return int(x)
        return x

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


def Int(lo: int | None = None, hi: int | None = None, *, why: str = "", unit: str = "") -> Number:  # noqa: N802
    """A whole-number kind in lo..hi (both inclusive)."""
    return Number(lo, hi, integer=True, why=why, unit=unit)


def Real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,  # noqa: N802
         why: str = "", unit: str = "") -> Number:
    """A finite real kind between lo and hi (open ends where lo_open / hi_open)."""
    return Number(lo, hi, lo_open=lo_open, hi_open=hi_open, why=why, unit=unit)


def Positive(hi: float | None = None, *, why: str = "", unit: str = "") -> Number:  # noqa: N802
    """A finite real > 0 (and <= hi)."""
    return Number(0.0, hi, lo_open=True, why=why, unit=unit)


# --- the kinds the commands share ---------------------------------------------------------------------
DEVICES = Int(1, MAX_DEVICES, why="8x the largest published training cluster")
DEVICES_PER_NODE = Int(1, MAX_DEVICES_PER_NODE, why="14x an NVL72 rack's 72 GPUs")
PARTICIPANTS = Int(2, MAX_DEVICES, why="8x the largest published training cluster")
DEGREE = Int(1, MAX_DEVICES,
             why="a parallel degree is at most the device limit, 8x the largest published training cluster")
GLOBAL_BATCH = Int(1, MAX_GLOBAL_BATCH,
                   why="8,192x Llama 3 405B's batch of 2,048 sequences; the step time grows with it")
MICRO_BATCH = Int(1, MAX_GLOBAL_BATCH, why="a micro-batch is at most the global batch limit")
SEQ_LEN = Int(1, MAX_SEQ_LEN, why="1 M tokens, the longest published training contexts")
LAYERS = Int(1, MAX_LAYERS, why="32x Llama 3 405B's 126 layers")
HIDDEN = Int(1, MAX_HIDDEN, why="64x Llama 3 405B's hidden size")
HEADS = Int(1, MAX_HEADS, why="128x Llama 3 405B's heads")
VOCAB = Int(1, MAX_VOCAB, why="128x Llama 3's vocabulary")
FRACTION = Real(0.0, 1.0)
ZERO_STAGE = Int(0, 3)
SWITCH = Int(0, 1)  # a pinned on/off choice (sequence parallel)
OPEN_FRACTION = Real(0.0, 1.0, lo_open=True)  # (0, 1]: a target or headroom that must be above zero
TIME_LIMIT = Positive(MAX_TIME_LIMIT_S, unit="seconds", why="one day")
TOP = Int(1, MAX_TOP, why="each one is another CP-SAT solve")
SEED = Int(0, MAX_SEED, why="a 64-bit seed")
CURVE_DEVICES = Int(1, MAX_CURVE_DEVICES, why="the curve evaluates every N up to 10x it")
FLEET_NODES = Int(1, MAX_FLEET_NODES, why="13x the edge fleet")
FLEET_PARTICIPANTS = Int(2, MAX_FLEET_NODES, why="13x the edge fleet")
SLOWDOWN = Real(1.0, MAX_SLOWDOWN, why="slower than that is a failed device")
# 0 is allowed: a deterministic step, which the order statistics take as point masses (E[max of n] of n
# identical steps is that step: explorer.cost.stragglers.expected_max, its jitter-free branch)
JITTER = Real(0.0, MAX_JITTER, why="100x the step")
# the same ranges in SI units (the Python API) and in the units the options are written in (the CLI)
LATENCY_S = Real(MIN_LATENCY_S, MAX_LATENCY_S, unit="s", why="10 s per message")
LATENCY_US = Real(MIN_LATENCY_S * 1e6, MAX_LATENCY_S * 1e6, unit="us", why="10 s per message")
BANDWIDTH_BPS = Real(MIN_BANDWIDTH_BPS, MAX_BANDWIDTH_BPS, unit="bytes/s", why="100x NVLink 4")
BANDWIDTH_GBS = Real(MIN_BANDWIDTH_BPS / 1e9, MAX_BANDWIDTH_BPS / 1e9, unit="GB/s", why="100x NVLink 4")
MESSAGE_BYTES = Real(MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES, unit="bytes", why="1 PB")
MESSAGE_MB = Real(MIN_MESSAGE_BYTES / 1e6, MAX_MESSAGE_BYTES / 1e6, unit="MB", why="1 PB")
MESSAGE_GB = Real(MIN_MESSAGE_BYTES / 1e9, MAX_MESSAGE_BYTES / 1e9, unit="GB", why="1 PB")
STEP_MS = Real(MIN_STEP_S * 1e3, MAX_STEP_S * 1e3, unit="ms", why="1,000 s per sample")
SAMPLE_BYTES = Int(1, int(MAX_SAMPLE_BYTES), unit="bytes", why="1 TB per sample")
DATASET_SAMPLES = Int(1, MAX_DATASET_SAMPLES, why="190x LAION-5B")
MEMORY_GB = Positive(MAX_MEMORY_GB, unit="GB", why="1 PB per device")
MEMORY_BYTES = Real(0.0, MAX_MEMORY_GB * 1e9, unit="bytes", why="1 PB per device")
COMPRESSION_WORKERS = Int(2, MAX_COMPRESSION_WORKERS, why="the simulation runs in seconds")
COMPRESSION_STEPS = Int(2, MAX_COMPRESSION_STEPS, why="the simulation runs in seconds")
COMPRESSION_WARMUP = Int(1, MAX_COMPRESSION_STEPS, why="at most the run's steps")
COMPRESSION_RATIO = Real(1.0, MAX_COMPRESSION_RATIO, why="a million to one")
WORKERS = Int(1, MAX_WORKERS, why="about a million CPU workers")
ACCUMULATION = Int(1, MAX_ACCUMULATION, why="16x the largest a lab track uses; each one is evaluated")
RUN_TOKENS = Positive(MAX_RUN_TOKENS, unit="tokens", why="64x Llama 3's 15.6 T")
# A plan's token budget: from a million tokens (below it a run is a few steps of any batch worth planning) to the
# frontier's MAX_RUN_TOKENS; its deadline and budget are positive and finite (1e15 days or dollars: no run is
# longer or dearer, and the goodput arithmetic stays finite).
PLAN_TOKENS = Real(1e6, MAX_RUN_TOKENS, unit="tokens", why="64x Llama 3's 15.6 T")
DEADLINE_DAYS = Positive(1e15, unit="days", why="a deadline past any run")
BUDGET_USD = Positive(1e15, unit="USD", why="a budget past any run")
THRESHOLD = OPEN_FRACTION


class NumberList(click.ParamType):
    """A comma list of numbers of one kind ('64,128,256'), at most `max_items`; sorted, duplicates dropped."""

    name = "list"

    def __init__(self, kind: Number, max_items: int, why: str = "") -> None:
        self.kind, self.max_items, self.why = kind, max_items, why

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # noqa: ARG002
        return "N,N,..."

    def check(self, name: str, values: Any) -> list | None:
        """The API side: a list (or tuple) of numbers of the kind, or None."""
        if values is None:
            return None
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set, frozenset, range)):
            raise UsageError(f"{name} must be a list of {self.kind.describe()}s, got {short(values)}")
        if len(values) > self.max_items:
            raise UsageError(f"{name} lists {len(values):,} values; the limit is {self.max_items} ({self.why})")
        out = sorted({self.kind.check(f"{name} item", v) for v in values})
        if not out:
            raise UsageError(f"{name} is empty")
        return out

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list | None:
        if not isinstance(value, str):
            return value
        items = [x.strip() for x in value.split(",") if x.strip()]
        if len(items) > self.max_items:
            self.fail(f"{len(items):,} values; the limit is {self.max_items} ({self.why})", param, ctx)
        out = []
        for x in items:
            v = self.kind.parse(x)
            msg = self.kind.problem(v)
            if msg:
                self.fail(f"item {msg}; give a comma list like 8,16,32", param, ctx)
            out.append(int(v) if self.kind.integer else float(v))
        if not out:
            self.fail("give a comma list like 8,16,32", param, ctx)
        return sorted(set(out))


GPU_COUNTS = NumberList(DEVICES, MAX_FRONTIER_COUNTS, why="each count is a series of solves")


def conflict(message: str) -> UsageError:
    """A contradiction between pinned values, named as such (e.g. 'v = 2 needs PP > 1')."""
    return UsageError(f"contradictory pins: {message}")


# --- the output directory ------------------------------------------------------------------------------
def check_out_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """The output directory, created if missing and proved writable (a file is created and removed),
    before any solving: a bad --out fails in a second, not after the whole solve."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} {short(str(p))} is a file, not a directory".strip())
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".explore-probe-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        why = exc.strerror or exc
        raise UsageError(f"{option} {short(str(p))} is not a writable directory: {why}".strip()) from None
    return p


# What a path given to --out ends in when it names a file, not a directory (the formats' extensions and the
# frontier's CSV and plot): `--out r.html` made a directory r.html/ holding 3d-cloud.html, without a word.
FILE_SUFFIXES = (".html", ".json", ".md", ".txt", ".png", ".csv")


def names_a_file(path: Path) -> bool:
    """A path that does not exist and ends in a file suffix (FILE_SUFFIXES, any case): given to --out, a file was
    meant. An existing directory of that name is the user's own and is used as it is."""
    return path.suffix.lower() in FILE_SUFFIXES and not path.exists()


class OutDir(click.ParamType):
    """--out DIR: checked (exists or creatable, writable) when the command line is parsed; a path that names a file
    (names_a_file) is refused, not made a directory (the solve commands name the file they would have written:
    explorer/cli/common.py OutDirNotFile)."""

    name = "directory"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # noqa: ARG002
        return "DIR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        if isinstance(value, Path):
            value = str(value)
        if names_a_file(Path(value)):
            parent = str(Path(value).parent) or "."
            self.fail(f"takes a directory, not a file: {value} would be made a directory; give the directory, "
                      f"e.g. {parent}", param, ctx)
        try:
            return check_out_dir(value, "")
        except UsageError as exc:
            self.fail(str(exc).strip(), param, ctx)


OUT_DIR = OutDir()


# --- finite output -------------------------------------------------------------------------------------
class NonFiniteError(ExplorerError):
    """A figure came out NaN or infinite: refused, never printed (exit 1)."""


def non_finite(obj: Any, path: str = "") -> list[str]:
    """Paths of every NaN or infinite number inside nested dicts, lists, tuples and dataclass dicts."""
    out: list[str] = []
    if isinstance(obj, float) or (isinstance(obj, numbers.Real) and not isinstance(obj, numbers.Integral)):
        if not math.isfinite(float(obj)):
            out.append(path or "value")
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            out += non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += non_finite(v, f"{path}[{i}]")
    elif hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy arrays and scalars
        out += non_finite(obj.tolist(), path)
    return out


def require_finite(obj: Any, what: str = "report") -> Any:
    """`obj` unchanged when every number in it is finite; else NonFiniteError naming where."""
    bad = non_finite(obj)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise NonFiniteError(f"the {what} has non-finite figures ({', '.join(bad[:3])}{more}): the inputs are "
                             f"outside what the cost model covers; refusing to print NaN or infinity")
    return obj


def dumps(obj: Any, *, what: str = "report", **kw: Any) -> str:
    """Strict JSON: non-finite numbers are refused (NonFiniteError), never written as NaN/Infinity."""
    require_finite(obj, what)
    return json.dumps(obj, allow_nan=False, **kw)



def checked(values: Mapping[str, Any], kinds: Mapping[str, Number]) -> dict[str, Any]:
    """`values` with every entry that has a kind checked by it (None passes through: 'the default')."""
    return {k: (kinds[k].check(k.replace("_", "-"), v) if k in kinds else v) for k, v in values.items()}
