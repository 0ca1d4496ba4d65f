"""Point 8 of issue 16: the 36 answers (9 lab parts x 4 tracks, as `explore solve PART --track TRACK` gives them)
read as an instructor would sign them. Every check reads the real reports (the session-scoped `all_reports`
fixture, solved once) and fails on a real defect:

- numbers finite and in range (fractions that are shares of time in [0, 1], durations, bytes, counts and
  energies not negative, ratios positive, a negative dollar figure only where its label says it can be);
- a speedup below 1x never called faster, sooner or a win;
- "optimal" / "the optimum" only where the report proved its optimum;
- no scientific notation and no raw Python values (None, nan, inf, True, False, numpy, dict or list reprs,
  "-0") in prose;
- no internal identifiers (snake_case keys, enum names) in prose;
- a count of one with a singular noun ("1 GPU", not "1 GPUs");
- every figure's unit matches what its label measures.

"Prose" is every string a reader sees as words: the headline, questions and answers, figure labels and
rendered values, constraint names, table titles, headers and cells, and assumption texts (formulas are math and
are only checked for raw values). Each check's helper is tested on a known-bad string too, so a check that can
never fail fails here instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest
from explorer.reports.format import fmt_value
from explorer.reports.render import cell

from explorer.report import Report
from explorer.units import singular_noun

# --- what a report says ---------------------------------------------------------------------------------------


def prose(r: Report) -> Iterator[tuple[str, str]]:
    """(where, text) for every string of a report a reader reads as words."""
    yield "headline", r.headline
    for f in r.findings:  # a question and its answer read together ("why does it beat ...? ... (0.12x)")
        yield "finding", f"{f.question} {f.answer}"
    for k, fig in r.figures.items():
        yield f"figure {k} label", fig.label
        yield f"figure {k} value", fmt_value(fig.value, fig.unit)
    for c in r.constraints:
        yield "constraint", c.name
        if c.text:
            yield "constraint text", c.text
    for name, t in r.tables.items():
        yield f"table {name} title", t.title
        for col in t.columns:
            yield f"table {name} column", str(col)
        for row in t.rows:
            for c in row:
                yield f"table {name} cell", cell(c)
    for a in r.assumptions:
        yield "assumption", a.text


def sources(r: Report) -> Iterator[tuple[str, str]]:
    """Citations and formulas: checked for raw values and scientific notation, not for identifiers."""
    for a in r.assumptions:
        yield "assumption source", a.source
    for f in r.formulas:
        yield f"formula {f.name}", f"{f.name}: {f.source} {f.note}"


# --- the checks, each a function of one string -----------------------------------------------------------------

SCIENTIFIC = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][+-]?\d+\b")
# Raw values as Python prints them: None (not the word "None of"), True/False, nan/inf where a number stands
# ("= nan", "nan%", "inf s", a cell that is only "nan"; "||g|| = inf" is the lab's math), numpy reprs, dict/list
# reprs, "-0" and "-0.0%".
RAW = re.compile(r"\bNone\b(?! of)|\b(?:True|False)\b|^-?(?:nan|inf)$|[=:]\s*-?nan\b"
                 r"|\b-?(?:nan|inf)(?:%| ?(?:s|x|B|J)\b)"
                 r"|np\.\w+\(|array\(|dtype=|\{'|\['|'\]|<[a-z_.]+ object|(?<![\w.,])-0(?:\.0+)?(?![\w.,])")
PATH = re.compile(r"[\w./-]+\.(?:py|md|toml|csv|json)\b(?:\s*'[^']*')?|\b(?:docs|explorer|hardware|models|reports)"
                  r"/[\w./-]+|--[\w-]+")
SNAKE = re.compile(r"(?<![\w/.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b(?![/(])")
ENUM = re.compile(r"\b[A-Z][A-Z0-9]+_[A-Z0-9_]+\b")
# Math symbols written in prose, as the lab texts write them (subscripted variables, not program names).
MATH_SYMBOLS = {"n_nodes", "t_bwd", "t_step", "t_sync", "t0_j", "alpha_f", "alpha_s", "alpha_intra", "alpha_inter",
                "b_i", "l_i", "d_vol", "l_lat", "r_peak", "b_crit", "e_min", "s_min", "lambda_2", "d_in", "d_out",
                # public API names cited as such (PyTorch DDP, torch.cuda.amp.GradScaler, CMSIS-DSP)
                "no_sync", "init_scale", "growth_interval", "arm_rfft_fast_f32"}
# "1 GPUs": a count of exactly one before a plural noun (units such as ms or rates such as sequences/s are not
# nouns in number).
ONE_PLURAL = re.compile(r"(?<![\w.,/=x-])1 (?:[a-z-]+ )?([A-Za-z][a-z-]*[a-z]s)\b(?![/(])")
NOT_PLURAL = {"ms", "us", "ns", "is", "was", "has", "as", "plus", "across", "bus", "this", "its", "thus", "less",
              "class", "pass", "process", "access", "status", "bias", "gas", "lens", "focus", "versus", "loss",
              "previous", "minus", "always", "progress", "excess", "success",
              # verbs after a count ("the first vehicle beyond 1 puts the all-reduce on the fabric")
              "puts", "adds", "takes", "gives", "makes", "needs", "keeps", "sends", "holds", "runs", "fits", "hides",
              "moves", "costs", "saves", "wins", "loses", "beats", "reaches", "leaves", "feeds", "sets", "means"}
FASTER = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?) ?x (?:faster|sooner|speed-?up|quicker|better|cheaper)\b"
                    r"|\b(?:faster|sooner|speed-?up|beats?)\b[^.;:]{0,40}?\bby (\d[\d,]*(?:\.\d+)?) ?x\b"
                    # "Why does the optimum beat ...? ... (0.12x)": a win asked about, a ratio below 1 answered
                    r"|\bbeats?\b(?:[^.;]|\.(?=\d)){0,160}?\((\d[\d,]*(?:\.\d+)?) ?x[);]")
OPTIMAL = re.compile(r"\b(?:optimal|optimum|optimal(?:ly)?)\b", re.I)
NOT_A_CLAIM = re.compile(r"not (?:proven|proved) (?:optimal|an optimum)|(?:sub|non)-?optimal|no optimum|"
                         r"not (?:the )?optim|optimum is not proven|optimality|"
                         # another part's proven optimum, named as such ("the fleet 3D optimum")
                         r"3D (?:solver's |puzzle's )?optim(?:um|al)|memory audit's optimum", re.I)


def scientific(text: str) -> list[str]:
    return SCIENTIFIC.findall(text)


def raw_values(text: str) -> list[str]:
    return [m.group(0) for m in RAW.finditer(text)]


def identifiers(text: str) -> list[str]:
    """snake_case keys and ENUM_NAMES outside file paths, option names and the lab's math symbols."""
    text = PATH.sub(" ", text)
    found = [w for w in SNAKE.findall(text) if w.lower() not in MATH_SYMBOLS]
    return found + ENUM.findall(text)


def one_plural(text: str) -> list[str]:
    return [m.group(0) for m in ONE_PLURAL.finditer(text) if m.group(1).lower() not in NOT_PLURAL]


def slower_called_faster(text: str) -> list[str]:
    out = []
    for m in FASTER.finditer(text):
        value = float((m.group(1) or m.group(2) or m.group(3)).replace(",", ""))
        if value <= 1.0:
            out.append(m.group(0))
    return out


def claims_optimum(text: str) -> list[str]:
    return [m.group(0) for m in OPTIMAL.finditer(NOT_A_CLAIM.sub(" ", text))]


# --- figures: range and unit ---------------------------------------------------------------------------------

TIME_WORDS = ("time", "step", "interval", "mtbf", "latency", "alpha", "sync", "duration", "epoch", "checkpoint", "wait",
              "all-reduce", "allreduce", "ring", "tree", "halving", "p99", "compute", "gossip", "iron law", "e[max",
              "e[step", "daly", "young", "c ", "tier", "two-tier", "pipelined", "serial", "one after", "round",
              "deadline", "day", "hour", "minimising")
# Words that say what a count counts when the unit's noun is not in the label ("critical batch size": samples).
COUNT_CONTEXT = ("batch", "fleet", "model", "adapter", "design space", "staleness", "participants", "crossing",
                 "searched", "steps", "rounds", "device")
# What a label must mention for its unit (any one of these words, case-insensitive).
UNIT_WORDS = {
    "s": TIME_WORDS, "h": TIME_WORDS, "days": TIME_WORDS,
    "B": ("memory", "byte", "message", "size", "crossover", "weights", "state", "gradient", " m", "m*", "per gpu",
          "per device", "footprint", "usable", "needed", "total", "activation", "buffer", "per parameter",
          "approximation", "form", "model"),
    "B/s": ("bandwidth", "rate", "throughput", "b/s"),
    "J": ("energy",),
    "USD": ("usd", "$", "cost", "spend", "saved", "saving", "wasted", "price", "dollar", "lost"),
    "USD/h": ("usd", "$", "spend", "cost", "per hour"),
    "x": ("speedup", "speed-up", "gain", "ratio", "multiplier", " / ", "faster", "slowdown", " vs ", "times",
          "factor", "per message", "native /", "bar /", "x"),
    "TFLOP/s": ("tflop/s", "flop"),
    "fraction": ("fraction", "share", "%", "mfu", "hfu", "busy", "utilis", "utiliz", "efficiency", "bubble",
                 "progress", "lost", "wait", "participation", "error", "difference", "waste", "accuracy", "loss",
                 "lr", "gap", "headroom", "overhead", "idle", "probability", "p(", " / ", "quantile", "selected",
                 "per round", "battery"),
}
SHARE_OF_TIME = re.compile(r"\b(?:mfu|hfu|busy|utilis|utiliz|share|bubble|participation|probability|p\()", re.I)
MAY_BE_NEGATIVE = re.compile(r"negative|< ?0|\blost\b|\bnet\b|changes by|difference", re.I)


def figure_problems(key: str, fig) -> list[str]:
    """Range and unit of one figure; [] when it reads right."""
    v, unit, label = fig.value, fig.unit, (fig.label or key)
    out = []
    if v is None:
        return [f"{key}: no value"]
    if isinstance(v, bool):  # rendered yes / no
        return []
    if isinstance(v, str):
        return [] if unit == "" else [f"{key}: text value {v!r} with a unit {unit!r}"]
    if isinstance(v, (list, tuple)):
        return [p for x in v for p in figure_problems(key, type(fig)(x, unit, label))]
    v = float(v)
    if not math.isfinite(v):
        return [f"{key}: {v} is not finite"]
    low = label.lower()
    shown = fmt_value(v, unit)
    if v != 0 and re.fullmatch(r"-?0(?:\.0+)?(?:%| .*)?", shown):
        out.append(f"{key}: {v!r} shown as {shown!r}")
    if unit == "fraction":
        top = 1.0 + 1e-9 if SHARE_OF_TIME.search(low) else 1.5
        bottom = -1.0 if MAY_BE_NEGATIVE.search(low) else 0.0
        if not bottom <= v <= top:
            out.append(f"{key}: fraction {v:.4g} outside [{bottom}, {top:.3g}] ({label!r})")
    elif unit in ("USD", "USD/h"):
        if v < 0 and not MAY_BE_NEGATIVE.search(low):
            out.append(f"{key}: negative dollars {v:,.0f} under a label that does not say they can be ({label!r})")
    elif unit == "x":
        if v <= 0:
            out.append(f"{key}: ratio {v:.4g} <= 0")
    elif v < 0:
        out.append(f"{key}: {v:.4g} {unit} is negative ({label!r})")
    words = UNIT_WORDS.get(unit)
    if words is not None:
        if not any(w in f" {low} " for w in words):
            out.append(f"{key}: unit {unit!r} does not match its label {label!r}")
    elif unit:
        # a count: the label names what is counted (or N), and the unit is a plural noun
        if "/s" in unit:  # a rate: sequences/s, images/s, tokens/s
            if not re.search(r"throughput|rate|per second|/s|speed", low):
                out.append(f"{key}: rate unit {unit!r} does not match its label {label!r}")
        elif not (singular_noun(unit).lower() in low or unit.lower() in low or re.search(r"\bN\b", label)
                  or any(w in low for w in COUNT_CONTEXT)):
            out.append(f"{key}: count unit {unit!r} does not match its label {label!r}")
    elif v == int(v) and re.search(r"\b(?:GPUs|devices|workers|vehicles|earbuds|pairs of glasses)\b", label) \
            and not re.search(r"\b(?:per|ratio|/)\b", low):
        out.append(f"{key}: a count of {label!r} without its unit")
    return out


# --- the helpers catch what they are meant to (a check that cannot fail is no check) ---------------------------

@pytest.mark.parametrize("check, bad, good", [
    (scientific, "2.6e+03 GB per GPU; 1.41e+04x", "2,600 GB per GPU, arXiv 2407.21783, ViT-H/14"),
    (raw_values, "agree: True, {'alpha': 0.9}, None, -0.0%, nan, np.float64(1.0)", "agree, -0.5%, 10.0%, 0 s"),
    (identifiers, "order devices_fed_then_fewest_workers; status OPTIMAL_PROVEN",
     "see explorer/cost/step.py and docs/conventions.md 'NCCL figures' (--grad-reduce-dtype), 2(n_nodes - 1) hops"),
    (one_plural, "1 GPUs, 1 micro-batches, 1 accumulation steps", "1 GPU, 1 ms, 1 sequences/s, 11 GPUs, 2.1 steps"),
    (slower_called_faster, "0.85x faster end to end; beats the baseline by 0.9x; it beats it? Step 24.4 s -> 197 s "
     "(0.12x)", "0.85x (slower), 1.04x faster; why it beats the crisis? Step 6.5 s -> 4.2 s (1.57x)"),
    (claims_optimum, "the optimum is 1.5x faster (optimal)", "not proven optimal; the best found"),
])
def test_each_check_catches_its_defect(check, bad, good):
    assert check(bad), f"{check.__name__} misses {bad!r}"
    assert not check(good), f"{check.__name__} flags {good!r}: {check(good)}"


# --- the 36 answers ---------------------------------------------------------------------------------------------

TRACKS = ("cloud", "edge", "mobile", "tiny")
# Defects known in modules another engineer is rewriting, each with its reason (not strict, so their fix landing
# does not fail here); empty now: every answer passes.
KNOWN: dict[tuple[str, str], str] = {}


def _answers() -> list:
    from explorer.puzzles import PUZZLES

    return [pytest.param((p, t), id=f"{p}-{t}",
                         marks=[pytest.mark.xfail(reason=KNOWN[(p, t)], strict=False)] if (p, t) in KNOWN else [])
            for p in PUZZLES for t in TRACKS]


def defects(r: Report) -> list[str]:
    """Everything in one answer an instructor would not sign, one line each."""
    out = [x for k, fig in r.figures.items() for x in figure_problems(k, fig)]
    for c in r.constraints:
        if not (math.isfinite(float(c.value)) and math.isfinite(float(c.limit))):
            out.append(f"constraint {c.name}: {c.value} vs {c.limit}")
    for name, tab in r.tables.items():
        out += [f"table {name}: {c} in {row}" for row in tab.rows for c in row
                if isinstance(c, float) and not math.isfinite(c)]
    for check in (scientific, raw_values, identifiers, one_plural, slower_called_faster):
        out += [f"{check.__name__}: {hit!r} in {where}: {text[:160]!r}"
                for where, text in prose(r) for hit in check(text)]
    for check in (scientific, raw_values):
        out += [f"{check.__name__}: {hit!r} in {where}: {text[:160]!r}"
                for where, text in sources(r) for hit in check(text)]
    if r.status != "optimal":
        out += [f"'{hit}' in a {r.status} answer, {where}: {text[:160]!r}"
                for where, text in prose(r) for hit in claims_optimum(text)]
    return out


def test_there_are_36_answers(all_reports):
    assert len(all_reports) == 36 and len(_answers()) == 36


@pytest.mark.parametrize("answer", _answers())
def test_answer_reads_as_an_instructor_would_sign_it(all_reports, answer):
    r = all_reports[answer]
    assert r.headline.strip() and r.findings and r.figures, f"{answer}: an empty answer"
    found = defects(r)
    assert not found, f"{len(found)} defects in {answer[0]} --track {answer[1]}:\n" + "\n".join(found[:40])
