"""Unit conversions, used only at the edges (catalog loading, rendering).

Inside the code everything is SI: seconds, bytes, FLOP, bytes/s, watts, joules
(docs/conventions.md, "Units"). GB = 1e9 bytes; GiB = 2**30 bytes.
"""

GB = 1e9
GIB = 2**30
MB = 1e6
KB = 1e3
KIB = 1024
TFLOP = 1e12
US = 1e-6
MS = 1e-3
HOUR = 3600.0
DAY = 86400.0
MONTH = 30 * DAY


def gbit_per_s_to_bytes(gbps: float) -> float:
    """Vendor link speed in Gb/s (bits) to bytes/s."""
    return gbps * 1e9 / 8.0


def human_duration(seconds: float) -> str:
    """A duration for prose: us, ms or s with about three significant digits (edge formatting)."""
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def step_text(seconds: float) -> str:
    """A duration in a one-line headline: four significant digits from 0.1 s ('3.812 s', '200,686 s': never
    scientific notation, whatever the network), ms or us below (human_number, human_duration)."""
    return f"{human_number(seconds, 4)} s" if seconds >= 0.1 else human_duration(seconds)


def human_step(seconds: float, spec: str = ".3f") -> str:
    """A step time in seconds at a fixed precision (`spec`) where that keeps its digits (0.1 s and more, every
    training step of a real model), else in ms or us with three significant digits (human_duration): a micro-model's
    129 us step reads '129 us', not '0.000 s'."""
    return f"{seconds:{spec}} s" if seconds >= 0.1 else human_duration(seconds)


# SI symbols (BIPM, The International System of Units, 9th ed. 2019, Table 7: k = 1e3, lower case; M, G, T upper):
# kB = 1e3 B, as every rate in the project writes kB/s (1,024 B would be KiB, IEC 80000-13)
BYTE_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B"))
FLOP_RATE_UNITS = ((1e12, "TFLOP/s"), (1e9, "GFLOP/s"), (1e6, "MFLOP/s"), (1.0, "FLOP/s"))


def unit_scale(x: float, units: tuple[tuple[float, str], ...] = BYTE_UNITS) -> tuple[float, str]:
    """(scale, unit) of the largest of `units` (largest first) that |x| reaches; the smallest below all of them."""
    return next(((sc, u) for sc, u in units if abs(x) >= sc), units[-1])


def human_bytes(n: float, spec: str = ".2f") -> str:
    """Bytes in the unit that suits them (GB = 1e9 B, as everywhere in the project); `spec`
    formats the number (".2f" for tables, ".3g" for figure labels)."""
    scale, unit = unit_scale(n)
    return f"{n:.0f} B" if unit == "B" else f"{n / scale:{spec}} {unit}"


def human_bytes_3(n: float) -> str:
    """Bytes in the unit that suits them with three significant digits for prose ('1.64 kB', '140 GB', '2.1 TB';
    never scientific notation)."""
    scale, unit = unit_scale(n)
    return f"{human_number(n / scale)} {unit}"


def human_params(n: float) -> str:
    """A parameter count for prose, three significant digits: '70.6B', '828M', '66.7K', '950'."""
    scale, suffix = unit_scale(n, ((1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, "")))
    return f"{human_number(n / scale)}{suffix}"


def human_percent(fraction: float) -> str:
    """A fraction as a percentage, with two significant digits below 1%."""
    return f"{human_number(100 * fraction, 2)}%" if abs(fraction) < 0.01 else f"{100 * fraction:.1f}%"


def plural_noun(word: str) -> str:
    """'GPU' -> 'GPUs', 'pair of glasses' -> 'pairs of glasses', 'batch' -> 'batches'."""
    head, sep, tail = word.partition(" of ")
    head = head + ("es" if head.endswith(("s", "x", "ch", "sh")) else "s")
    return head + sep + tail


def join_words(words: list[str]) -> str:
    """['05'] -> '05', ['05', '06'] -> '05 and 06', ['05', '06', '08'] -> '05, 06 and 08'."""
    words = [str(w) for w in words]
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


def singular_noun(word: str) -> str:
    """The inverse of plural_noun: 'GPUs' -> 'GPU', 'pairs of glasses' -> 'pair of glasses', 'batches' ->
    'batch', 'steps' -> 'step'; a word that is not a regular plural is returned as it is."""
    head, sep, tail = word.partition(" of ")
    if head.endswith(("ches", "shes", "xes", "sses")):
        head = head[:-2]
    elif head.endswith("s") and not head.endswith("ss"):
        head = head[:-1]
    return head + sep + tail


def plural(n: float, word: str, many: str | None = None) -> str:
    """'1 worker', '25 workers', '1,024 GPUs', '2 pairs of glasses': a count with its noun in the
    right number (`many` for irregular plurals)."""
    count = f"{n:,}" if isinstance(n, int) else human_number(n)
    return f"{count} {word if n == 1 else (many or plural_noun(word))}"


def human_number(x: float, sig: int = 3) -> str:
    """A number for prose: `sig` significant digits below 10**sig, whole numbers above, thousands
    separators, never scientific notation ('4,875', '609', '1.64', '0.0123'), and never '-0'."""
    import math

    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {x!r}")
    if v == 0 or round(v, 12) == 0:
        return "0"
    digits = sig - 1 - math.floor(math.log10(abs(v)))
    if digits <= 0:  # whole numbers keep all their digits: 4,875 rather than 4,880
        return f"{v:,.0f}"
    text = f"{v:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text.strip("-0.,") == "" else text


def human_sci(x: float, sig: int = 3) -> str:
    """A number as prose writes it whatever its size: fixed point from 10^-5 to 10^7 (human_number), beyond that
    '9.74 x 10^-12', '1.03 x 10^11': a probability per step or a count of steps, where fixed point would print
    a dozen zeros or digits."""
    import math

    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {x!r}")
    if v == 0 or 1e-5 <= abs(v) < 1e7:
        return human_number(v, sig)
    exp = math.floor(math.log10(abs(v)))
    mant = v / 10 ** exp
    if round(abs(mant), sig - 1) >= 10:  # 9.996e-12 rounds to 10.0: carry into the exponent
        mant, exp = mant / 10, exp + 1
    return f"{human_number(mant, sig)} x 10^{exp}"


def human_large(x: float) -> str:
    """A large count for prose with its scale word: '15 T', '405.9 B', '2.1 M', '4,875' (never 1.5e+13)."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(x) >= scale:
            return f"{human_number(x / scale, 4)} {unit}"
    return human_number(x)


def human_usd(x: float) -> str:
    """Dollars for prose and tables: $1.23B, $4.56M, $7.8k, $9.10 (a minus sign before the $)."""
    sign = "-" if x < 0 else ""
    x = abs(x)
    for scale, unit, spec in ((1e9, "B", ",.2f"), (1e6, "M", ",.2f"), (1e3, "k", ",.1f")):
        if x >= scale:
            return f"{sign}${x / scale:{spec}}{unit}"
    return f"{sign}${x:,.2f}"
