"""Read a student's attempts file as students write it: CSV (comma, semicolon or tab, sniffed) or JSON, in
UTF-8 (with or without BOM), UTF-16 with a byte-order mark, or Latin-1 as a last resort (the notes say
which); only the columns a puzzle requires must be there, the others take the scenario's values and the
notes say which were assumed.

File-level problems (unreadable, binary, empty, too large, too many rows, a required column missing, a
column given twice in the header) raise UsageError with one line. A bad row (a zero or negative count, a
non-finite or absurdly large number, a 5,000-digit number, the wrong type such as JSON `true` for a
count, a key given twice in a JSON object) becomes that row's error naming the file, line and field,
and every other row is still read.

What a puzzle declares (all optional but ATTEMPT_VARIABLES): ATTEMPT_REQUIRED (default: every variable),
ATTEMPT_KINDS {variable: kind} with kinds "count" (whole number >= 1), "count0" (whole number >= 0),
"flag" (yes/no), "name" (text); ATTEMPT_ALIASES {other column name: variable}; and
attempt_defaults(track, **scenario) -> {variable: value} for the columns a file may leave out.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.errors import UsageError

MAX_BYTES = 1 << 20  # 1 MiB: a lab's attempts file is a few hundred bytes
MAX_ROWS = 100  # each attempt is graded with its neighbours (and, for 3d, a frontier solve): bound the work
MAX_MAGNITUDE = 1e9  # no attempt variable (degree, batch, worker count) comes near this
MAX_DIGITS = 30
LABEL_COLUMNS = ("attempt", "note", "notes", "label", "comment")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
KINDS = ("count", "count0", "flag", "name", "value")
KIND_TEXT = {"count": "a whole number >= 1", "count0": "a whole number >= 0", "flag": "yes | no",
             "name": "a name", "value": "a number"}
FLAG_WORDS = {"1": True, "true": True, "yes": True, "on": True, "y": True,
              "0": False, "false": False, "no": False, "off": False, "n": False}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class AttemptRow:
    """One row of an attempts file: its line, its values (None if malformed) and the error if any;
    `assumed` lists the variables whose values came from the scenario, not the file."""

    line: int
    values: dict[str, Any] | None
    error: str = ""
    label: str = ""
    assumed: list[str] = field(default_factory=list)
    # of `assumed`: the variables whose cell (or JSON key) is in the row but blank; the others are not in it
    blank: list[str] = field(default_factory=list)
    # the row's cells as written (variable -> text), shown for a row that could not be read
    written: dict[str, str] = field(default_factory=dict)


@dataclass
class AttemptSpec:
    """What a puzzle's attempts file holds (see the module docstring)."""

    variables: list[str]
    required: list[str]
    kinds: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    # given the unknown columns of a file, one line saying what they are and what the columns are here
    # (the 3D puzzle's datacenter columns on a fleet track), or None
    hint: Callable[[list[str]], str | None] | None = None

    def hint_for(self, unknown: list[str]) -> str | None:
        return self.hint(unknown) if self.hint is not None and unknown else None

    @classmethod
    def of(cls, mod: Any, defaults: dict[str, Any] | None = None) -> AttemptSpec:
        variables = list(mod.ATTEMPT_VARIABLES)
        return cls(variables, list(getattr(mod, "ATTEMPT_REQUIRED", variables)),
                   dict(getattr(mod, "ATTEMPT_KINDS", {})), dict(getattr(mod, "ATTEMPT_ALIASES", {})),
                   dict(defaults or {}))


@dataclass
class AttemptsFile:
    """The rows of a file and how it was read (encoding, delimiter, assumed and ignored columns)."""

    rows: list[AttemptRow]
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ decoding

def decode(raw: bytes, name: str) -> tuple[str, str]:
    """The text of a file and the name of its encoding; UsageError for what is not text."""
    for bom, enc, label in ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with a byte-order mark"),
                            (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                            (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(enc), label
            except UnicodeDecodeError:
                raise UsageError(f"{name}: starts with a {label} byte-order mark but is not {label}; "
                                 f"save it as UTF-8") from None
    if b"\x00" in raw:
        raise UsageError(f"{name}: not a text file (it holds NUL bytes: binary, or UTF-16 without a byte-order "
                         f"mark); save it as UTF-8 CSV or JSON")
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "Latin-1 (it is not UTF-8)"


def _check_text(text: str, name: str) -> None:
    bad = next((i for i, ch in enumerate(text) if ord(ch) < 32 and ch not in "\t\r\n"), None)
    if bad is not None:
        line = text.count("\n", 0, bad) + 1
        raise UsageError(f"{name}, line {line}: control character {text[bad]!r}; not a text attempts file")


# ------------------------------------------------------------------------------------------ values

def _number(text: str) -> float | int:
    """A number from text, or ValueError with the reason (not a number, too many digits, not finite)."""
    t = text.strip().replace("_", "")
    low = t.lower().lstrip("+-")
    if low in ("inf", "infinity", "nan"):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    if not _NUMBER.fullmatch(t):
        raise ValueError(f"{text.strip()[:40]!r} is not a number")
    if len(re.sub(r"\D", "", t.split("e")[0].split("E")[0])) > MAX_DIGITS:
        raise ValueError(f"a {len(t)}-character number is absurdly large")
    x = float(t)
    if not math.isfinite(x):
        raise ValueError(f"{t[:40]!r} is not a finite number")
    return int(x) if x == int(x) and abs(x) < 2**53 and "." not in t and "e" not in t.lower() else x


class _Bad:
    """A JSON value the decoder kept aside (an integer with too many digits, NaN, Infinity)."""

    def __init__(self, why: str) -> None:
        self.why = why


def coerce(kind: str, raw: Any) -> Any:
    """One value of an attempt checked against its kind; ValueError says what is wrong with it."""
    if isinstance(raw, _Bad):
        raise ValueError(raw.why)
    if isinstance(raw, (list, dict)):
        raise ValueError(f"a JSON {'list' if isinstance(raw, list) else 'object'} is not a value")
    if kind == "flag":
        if isinstance(raw, bool):
            return raw
        key = str(raw).strip().lower()
        if key not in FLAG_WORDS:
            raise ValueError(f"{str(raw)[:40]!r} is not yes/no (1/0, true/false)")
        return FLAG_WORDS[key]
    if kind == "name":
        if not isinstance(raw, str):
            raise ValueError(f"{json.dumps(raw)[:40]} is not a name (text expected)")
        return raw.strip().lower()
    if isinstance(raw, bool):
        raise ValueError(f"{json.dumps(raw)} is not a number")
    if isinstance(raw, str):
        if kind == "value" and not _NUMBER.fullmatch(raw.strip().replace("_", "")) \
                and raw.strip().lower().lstrip("+-") not in ("inf", "infinity", "nan"):
            return raw.strip()  # an undeclared variable holding a name
        x = _number(raw)
    elif isinstance(raw, (int, float)):
        x = raw
        if not math.isfinite(x):
            raise ValueError(f"{raw!r} is not a finite number")
    else:
        raise ValueError(f"{type(raw).__name__} is not a value")
    if abs(x) > MAX_MAGNITUDE:
        raise ValueError(f"{x:.3g} is absurdly large (at most {MAX_MAGNITUDE:,.0f})")
    if kind in ("count", "count0"):
        if x != int(x):
            raise ValueError(f"{x:g} is not a whole number")
        x = int(x)
        low = 1 if kind == "count" else 0
        if x < low:
            raise ValueError(f"{x} is not {'a positive whole number' if low else 'zero or a positive whole number'}")
    return x


# ------------------------------------------------------------------------------------------ rows

def _norm(s: str) -> str:
    return s.strip().lower().replace("-", "_").replace(" ", "_")


def show(value: Any) -> str:
    """A value as the feedback writes it: a flag as yes/no (the words a file gives it), anything else as is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _written(raw: dict[str, Any]) -> dict[str, str]:
    return {k: (x if isinstance(x, str) else json.dumps(x) if not isinstance(x, _Bad) else "?")[:40]
            for k, x in raw.items() if x is not None and not (isinstance(x, str) and not x.strip())}


def _row(spec: AttemptSpec, name: str, line: int, raw: dict[str, Any]) -> AttemptRow:
    """Check one attempt's values (raw: variable -> value as written; absent = not in the file)."""
    values: dict[str, Any] = {}
    assumed: list[str] = []
    blanks: list[str] = []
    for v in spec.variables:
        x = raw.get(v)
        blank = x is None or (isinstance(x, str) and not x.strip())
        if blank:
            if v in spec.required or v not in spec.defaults:
                return AttemptRow(line, None, f"{name}, line {line}, field '{v}': "
                                              f"{'missing' if v not in raw else 'empty'}", written=_written(raw))
            values[v] = spec.defaults[v]
            assumed.append(v)
            if v in raw:
                blanks.append(v)
            continue
        try:
            values[v] = coerce(spec.kinds.get(v, "value"), x)
        except ValueError as exc:
            return AttemptRow(line, None, f"{name}, line {line}, field '{v}': {exc}", written=_written(raw))
    return AttemptRow(line, values, assumed=assumed, blank=blanks)


def _column(spec: AttemptSpec, header: str) -> str:
    h = _norm(header)
    return spec.aliases.get(h, h)


def _sniff(lines: list[str]) -> str:
    """The delimiter of the first line (header or first row): comma, semicolon or tab, whichever it has most
    of (a one-column file: comma)."""
    first = lines[0]
    best = max(DELIMITERS, key=lambda d: (first.count(d), d == ","))
    return best if first.count(best) else ","


def _is_number(cell: str) -> bool:
    """Whether a cell reads as a number by _number's grammar (however large): a header has none."""
    return _NUMBER.fullmatch(cell.strip().replace("_", "")) is not None


def read_csv(text: str, name: str, spec: AttemptSpec) -> AttemptsFile:
    lines = [(i + 1, s) for i, s in enumerate(text.splitlines()) if s.strip() and not s.lstrip().startswith("#")]
    if not lines:
        raise UsageError(f"{name}: no attempts (the file is empty); one attempt per row, columns: "
                         f"{', '.join(spec.variables)}")
    delim = _sniff([s for _, s in lines])
    rows = [(n, next(csv.reader(io.StringIO(s), delimiter=delim))) for n, s in lines]
    notes = [f"columns separated by {DELIMITERS[delim]}s"] if delim != "," else []
    header_line, first = rows[0]
    cols = [_column(spec, c) for c in first]
    if set(cols) & set(spec.variables):
        dup = next((c for i, c in enumerate(cols) if c and c in cols[:i]), None)
        if dup:
            raise UsageError(f"{name}, line {header_line}, field '{dup}': the column is given twice")
        missing = [v for v in spec.variables if v not in cols and (v in spec.required or v not in spec.defaults)]
        unknown = [c for c in cols if c not in spec.variables and c not in LABEL_COLUMNS]
        if missing and spec.hint_for(unknown):
            raise UsageError(f"{name}, line {header_line}: {spec.hint_for(unknown)}")
        if missing:
            hint = f"; unknown column '{unknown[0]}'" if unknown else ""
            raise UsageError(f"{name}, line {header_line}: missing column '{missing[0]}'{hint}; the columns are: "
                             f"{', '.join(spec.variables)}"
                             + (f" (required: {', '.join(spec.required)})" if spec.required != spec.variables else ""))
        if unknown:
            notes.append(f"column{'s' if len(unknown) > 1 else ''} ignored (not a variable of this puzzle): "
                         f"{', '.join(unknown)}")
        rows = rows[1:]
        has_header = True
        if not rows:
            raise UsageError(f"{name}: no attempts (only the header line)")
    elif not any(_is_number(c) for c in first):  # words only: a header naming none of the puzzle's columns
        raise UsageError(f"{name}, line {header_line}: the file's header ({', '.join(c.strip() for c in first)}) "
                         f"names none of this puzzle's columns, which are: {', '.join(spec.variables)}")
    else:
        cols = list(spec.variables)  # no header: the values in the puzzle's column order
        has_header = False
    out = []
    for n, cells in rows:
        written = {c: x.strip()[:40] for c, x in zip(cols, cells) if c in spec.variables and x.strip()}
        if len(cells) > len(cols) or len(cells) < len([c for c in cols if c in spec.required]):
            out.append(AttemptRow(n, None, f"{name}, line {n}: expected {len(cols)} fields "
                                           f"({', '.join(cols)}), got {len(cells)}", written=written))
            continue
        short = [c for c in cols[len(cells):] if c in spec.variables]
        if short and has_header:  # a cell dropped (one delimiter too few) shifts every value after it: not guessed
            out.append(AttemptRow(n, None, f"{name}, line {n}: {len(cells)} fields for the header's {len(cols)} "
                                           f"columns (no value for {', '.join(short)}, or a dropped field shifted the "
                                           f"rest): write every field, an empty one (two delimiters in a row) to "
                                           f"take the scenario's value", written=written))
            continue
        raw = {c: x for c, x in zip(cols, cells) if c in spec.variables}
        row = _row(spec, name, n, raw)
        row.written = row.written or written
        label = next((x for c, x in zip(cols, cells) if c in LABEL_COLUMNS and x.strip()), "")
        row.label = label.strip()[:80]
        out.append(row)
    return AttemptsFile(out, notes)


class _Pairs(dict):
    """A JSON object that remembers the keys given twice."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    d = _Pairs()
    d.duplicates = []
    for k, v in pairs:
        if k in d:
            d.duplicates.append(k)
        d[k] = v
    return d


def _decoder() -> json.JSONDecoder:
    def big_int(s: str) -> Any:
        return int(s) if len(s.lstrip("-")) <= MAX_DIGITS else _Bad(f"a {len(s)}-digit number is absurdly large")

    def constant(s: str) -> Any:
        return _Bad(f"{s} is not a finite number")

    return json.JSONDecoder(object_pairs_hook=_pairs, parse_int=big_int, parse_constant=constant)


def _json_items(text: str) -> list[tuple[int, Any]]:
    """The elements of the attempts list with the line each starts on."""
    dec = _decoder()
    doc = dec.decode(text)
    start = 0
    if isinstance(doc, dict):
        if not isinstance(doc.get("attempts"), list):
            raise ValueError('a JSON attempts file is a list of attempts or {"attempts": [...]}')
        start = text.index('"attempts"')
    elif not isinstance(doc, list):
        raise ValueError('a JSON attempts file is a list of attempts or {"attempts": [...]}')
    i = text.index("[", start) + 1
    items = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return items
        obj, end = dec.raw_decode(text, i)
        items.append((text.count("\n", 0, i) + 1, obj))
        i = end


def read_json(text: str, name: str, spec: AttemptSpec) -> AttemptsFile:
    try:
        items = _json_items(text)
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise UsageError(f"{name}: not a valid attempts file: {why[:200]}") from None
    if not items:
        raise UsageError(f"{name}: no attempts (the list is empty)")
    out, ignored = [], []
    hinted = False
    for line, obj in items:
        if isinstance(obj, list):
            if len(obj) > len(spec.variables):
                out.append(AttemptRow(line, None, f"{name}, line {line}: expected at most {len(spec.variables)} "
                                                  f"values ({', '.join(spec.variables)}), got {len(obj)}"))
                continue
            obj = dict(zip(spec.variables, obj))
        if not isinstance(obj, dict):
            out.append(AttemptRow(line, None, f"{name}, line {line}: an attempt is an object or a list, "
                                              f"got {type(obj).__name__}"))
            continue
        dups = [_column(spec, k) for k in getattr(obj, "duplicates", [])]
        keys = [_column(spec, k) for k in obj]
        dups += [k for i, k in enumerate(keys) if k in keys[:i]]
        if dups:
            out.append(AttemptRow(line, None, f"{name}, line {line}, field '{dups[0]}': given twice"))
            continue
        norm = {_column(spec, k): v for k, v in obj.items()}
        unknown = [k for k in norm if k not in spec.variables and k not in LABEL_COLUMNS]
        ignored += [k for k in unknown if k not in ignored]
        row = _row(spec, name, line, {k: v for k, v in norm.items() if k in spec.variables})
        if row.values is None and row.error.endswith(": missing") and spec.hint_for(unknown):
            row.error = f"{name}, line {line}: {spec.hint_for(unknown)}"
            hinted = True
        label = next((norm[k] for k in LABEL_COLUMNS if k in norm and norm[k] not in (None, "")), "")
        row.label = str(label)[:80]
        out.append(row)
    if hinted and all(r.values is None for r in out):  # nothing to grade: the file was written for another form
        raise UsageError(f"{name}: {spec.hint_for(ignored)}")
    notes = [f"field{'s' if len(ignored) > 1 else ''} ignored (not a variable of this puzzle): "
             f"{', '.join(ignored[:5])}"] if ignored else []
    return AttemptsFile(out, notes)


def read_at_most(path: Path, max_bytes: int, what: str, why: str) -> bytes:
    """The bytes of a file the user named, refusing (one line) what cannot be read or is over max_bytes."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise UsageError(f"{path.name}: larger than {max_bytes // 1024:,} KiB; {why}")
    return raw


def read_file(path: Path | str, spec: AttemptSpec) -> AttemptsFile:
    """Read an attempts file (CSV, or JSON by extension or content); file-level problems raise UsageError."""
    path = Path(path)
    raw = read_at_most(path, MAX_BYTES, "attempts file",
                       f"an attempts file holds at most {MAX_ROWS} attempts")
    if not raw.strip():
        raise UsageError(f"{path.name}: no attempts (the file is empty); one attempt per row, columns: "
                         f"{', '.join(spec.variables)}")
    text, encoding = decode(raw, path.name)
    _check_text(text, path.name)
    is_json = path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{")
    got = read_json(text, path.name, spec) if is_json else read_csv(text, path.name, spec)
    if len(got.rows) > MAX_ROWS:
        raise UsageError(f"{path.name}: {len(got.rows)} attempts; at most {MAX_ROWS} are graded at once")
    if encoding != "UTF-8":
        got.notes.insert(0, f"read as {encoding}")
    got.notes += assumed_notes(got.rows, spec)
    return got


def assumed_notes(rows: list[AttemptRow], spec: AttemptSpec) -> list[str]:
    """Where each value taken from the scenario came from: a column the file does not have ('not in the file'),
    a blank cell or a JSON null ('blank on line N'), a field one row leaves out that others give ('not given on
    line N': a short headerless row, a JSON object without the key)."""
    def values(vs: list[str]) -> str:
        return ", ".join(f"{v} = {show(spec.defaults[v])}" for v in vs)

    given = {v for r in rows for v in (r.values or {}) if v not in r.assumed} | {v for r in rows for v in r.written}
    given |= {v for r in rows for v in r.blank}  # a blank cell is in the file: said per line below
    absent = [v for v in spec.variables if v not in given and any(v in r.assumed for r in rows)]
    notes = [f"not in the file, so taken from the scenario: {values(absent)}"] if absent else []
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for r in rows:
        for how, vs in (("blank", [v for v in r.blank if v not in absent]),
                        ("not given", [v for v in r.assumed if v not in r.blank and v not in absent])):
            if vs:
                groups.setdefault((how, tuple(vs)), []).append(r.line)
    for (how, vs), lines in groups.items():
        where = f"line {lines[0]}" if len(lines) == 1 else f"lines {', '.join(map(str, lines))}"
        notes.append(f"{how} on {where}, so taken from the scenario: {values(list(vs))}")
    return notes
