"""Inputs of plan / check / sweep: the model (catalog name, custom shape or a parameter count), the
cluster a GPU type comes in (its node preset), and the run assumptions (failures, checkpoints, prices)
from explorer/data/training_run.toml with the user's overrides."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from explorer.cost.goodput import per_device_failure_rate
from explorer.errors import UsageError
from explorer.hardware.catalog import accelerator_names, get_accelerator, get_link, node_for_accelerator
from explorer.models.architecture import DecoderModel
from explorer.validation import Number

_DATA = Path(__file__).resolve().parent.parent / "data" / "training_run.toml"
MAX_LIST = 64  # the longest comma list any option of plan/check/sweep takes


# --- model -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    """The model and how it was given (catalog, custom shape, or derived from a parameter count)."""

    model: DecoderModel
    how: str  # "catalog" | "shape" | "params"
    note: str = ""


def resolve_model(model: str | DecoderModel | None = None, params: float | None = None,
                  shape: dict[str, Any] | None = None) -> ModelChoice:
    """Exactly one of: a catalog name (or DecoderModel), a parameter count, a custom shape
    (layers, hidden, heads and optionally kv_heads, ffn, vocab, mlp)."""
    from explorer.api import custom_model
    from explorer.models.catalog import get_model

    shape = {k: v for k, v in (shape or {}).items() if v is not None}
    # absent: None, an empty name, no shape option (a parameter count of 0 is given, and refused by its range)
    given = [n for n, v in (("--model", model or None), ("--params", params), ("a custom shape", shape or None))
             if v is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --model NAME, --params N (e.g. 100e9) or a custom shape "
                         "(--layers --hidden --heads ...)" + (f"; got {' and '.join(given)}" if given else ""))
    if isinstance(model, DecoderModel):
        return ModelChoice(model, "catalog")
    if model:
        return ModelChoice(get_model(model), "catalog")
    if params is not None:
        from explorer.models.shape_rule import RULE, shape_for_params

        m = shape_for_params(params)
        return ModelChoice(m, "params", f"{m.name}: {m.layers} layers, hidden {m.hidden}, {m.heads} heads "
                                        f"({m.kv_heads} KV), FFN {m.ffn}, vocab {m.vocab:,} -> "
                                        f"{m.params / 1e9:.2f}B parameters. {RULE}")
    missing = [k for k in ("layers", "hidden", "heads") if k not in shape]
    if missing:
        raise UsageError(f"a custom shape needs --layers, --hidden and --heads (missing: {', '.join(missing)})")
    m = custom_model(**shape)
    return ModelChoice(m, "shape", f"custom shape: {m.params / 1e9:.2f}B parameters")


# --- cluster ----------------------------------------------------------------------------------
def cluster_options(gpu: str, network: str | None = None) -> dict[str, Any]:
    """make_setup options for a GPU type in its node (the node preset of hardware/data/nodes.toml:
    devices per node, intra-node link, default inter-node network); `network` overrides the latter.
    Refused (UsageError): a part whose node is a fleet device's (nodes.toml `radios`: a car, glasses, earbuds, a
    phone), whose training is not a datacenter run of GPU-hours; and a network the node cannot carry
    (network_problem)."""
    acc = get_accelerator(gpu)
    node = node_for_accelerator(acc.key)
    if node is None or node.radios:
        what = "has no datacenter node in the catalog" if node is None else (
            f"comes in a fleet device ({node.name}: {node.devices} per node over {node.nic}), not a datacenter node; "
            "plan and check price datacenter training runs in GPU-hours (fleets are the edge, mobile and tiny "
            "tracks' puzzles)")
        raise UsageError(f"gpu {gpu!r} {what}; valid: {', '.join(datacenter_parts())}")
    if network:
        problem = network_problem(acc.key, network)
        if problem:
            raise UsageError(problem)
    inter = get_link(network).key if network else node.inter_link
    return {"gpu": acc.key, "gpus_per_node": node.devices, "intra_network": node.intra_link, "network": inter}


def gpu_name(key: str) -> str:
    """A GPU type as prose names it: the catalog's name (hardware/data/accelerators.toml `name`, 'NVIDIA H100 SXM5
    80GB'), not the key a table, JSON or --gpu gives (h100_sxm); the key itself when the catalog has no such part."""
    try:
        return get_accelerator(key).name
    except UsageError:
        return str(key)


def network_name(key: str) -> str:
    """A network as prose names it: the catalog's name (hardware/data/links.toml `name`, 'InfiniBand NDR 400 Gb/s
    (per GPU)'), not the key a table, JSON or --network gives (ib_ndr); the key itself when the catalog has none."""
    try:
        return get_link(key).name
    except UsageError:
        return str(key)


def datacenter_parts() -> list[str]:
    """Catalog parts that come in a datacenter node (a node preset without radios: DGX, HGX, Grand Teton)."""
    out = []
    for a in accelerator_names():
        n = node_for_accelerator(a)
        if n is not None and not n.radios:
            out.append(a)
    return out


def per_gpu_gbps(link: Any, devices: int) -> float:
    """A link's line rate per GPU in Gb/s, per direction: its rate, or the node's total shared by its GPUs
    (links.toml shared_per_node)."""
    return link.bandwidth * 8 / 1e9 / (devices if link.shared_per_node else 1)


def network_problem(gpu_key: str, network: str) -> str:
    """Why `network` cannot be the network between `gpu_key`'s nodes ('' when it can): an intra-node fabric
    (links.toml scope 'intra': NVLink, NFMI), a radio (a fleet device's link, not a datacenter's), or more Gb/s
    per GPU than the node's own NIC carries (nodes.toml: the DGX A100's ConnectX-6 HDR is 200 Gb/s per GPU; a
    400 Gb/s NIC per GPU needs PCIe Gen5 x16, and the A100's host interface is PCIe Gen4: NVIDIA A100 datasheet,
    'PCIe Gen4: 64 GB/s', i.e. 32 GB/s = 256 Gb/s each way). The error names the networks the node takes."""
    node = node_for_accelerator(gpu_key)
    link = get_link(network)
    own = get_link(node.inter_link)
    cap = per_gpu_gbps(own, node.devices)
    if link.scope != "inter":
        why = f"{link.name} is a link inside a node (links.toml scope '{link.scope}'), not a network between nodes"
    elif link.radio:
        why = f"{link.name} is a radio (a fleet device's link), not a datacenter network"
    elif per_gpu_gbps(link, node.devices) > cap * (1 + 1e-9):
        why = (f"{link.name} carries {per_gpu_gbps(link, node.devices):g} Gb/s per GPU, more than the "
               f"{node.name}'s own NIC ({node.nic}, {cap:g} Gb/s per GPU), the fastest the catalog's node for "
               f"{gpu_key} has")
    else:
        return ""
    return f"--network {network}: {why}; networks for {gpu_key}: {', '.join(networks_for(gpu_key))}"


def networks_for(gpu_key: str) -> list[str]:
    """The inter-node networks of links.toml that `gpu_key`'s node carries (wired, between nodes, at most its own
    NIC's Gb/s per GPU), fastest first."""
    from explorer.hardware.catalog import link_names

    node = node_for_accelerator(gpu_key)
    cap = per_gpu_gbps(get_link(node.inter_link), node.devices)
    ok = [get_link(k) for k in link_names()]
    ok = [k for k in ok if k.scope == "inter" and not k.radio and per_gpu_gbps(k, node.devices) <= cap * (1 + 1e-9)]
    return [k.key for k in sorted(ok, key=lambda k: (-per_gpu_gbps(k, node.devices), k.key))]


def count(text: str) -> int:
    """A whole number that may be written in scientific notation ('15e12', '2048')."""
    v = float(text)
    if not math.isfinite(v) or v != int(v):
        raise ValueError(text)
    return int(v)


# What each converter of parse_list takes, for its one-line error.
ALLOWED: dict[Any, str] = {float: "a number, e.g. 15e12", count: "a whole number, e.g. 2048",
                           int: "a whole number"}


def parse_list(option: str, text: str | list | tuple | None, conv: Any = str, allowed: str | None = None) -> list:
    """'a,b,c' (or a list) -> converted items, deduplicated in order, at most MAX_LIST of them. `conv` is a
    converter or a validation.Number kind. A value it refuses is named in a one-line error with what is allowed:
    `allowed`, else the kind's range in words (Number.describe), else ALLOWED[conv]."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list = []
    for raw in items:
        item = raw.strip() if isinstance(raw, str) else raw
        if item == "":
            continue
        if isinstance(conv, Number):
            parsed = conv.parse(item) if isinstance(item, str) else item
            if conv.problem(parsed):
                raise UsageError(f"{option}: bad value {item!r}; give {allowed or conv.describe()}")
            v = conv.check(option, parsed)
        else:
            try:
                v = conv(item)
            except (ValueError, TypeError, OverflowError):
                what = allowed or ALLOWED.get(conv)
                raise UsageError(f"{option}: bad value {item!r}" + (f"; give {what}" if what else "")) from None
        if v not in out:
            out.append(v)
    if len(out) > MAX_LIST:
        raise UsageError(f"{option}: {len(out)} values; at most {MAX_LIST}")
    return out


def fraction(name: str, value: Any, *, lo_open: bool = True, hi_open: bool = False) -> float:
    """A fraction option (MFU, tolerance, bubble): a finite number in (0, 1] (the ends as asked), else a one-line
    UsageError; a value in (1, 100] was most likely a percentage (--mfu 45 for 45%), and the error says which
    fraction it would be."""
    lo, hi = "(" if lo_open else "[", ")" if hi_open else "]"
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value > 0 if lo_open else value >= 0) and (value < 1 if hi_open else value <= 1))
    if ok:
        return float(value)
    shown = f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
    msg = f"{name} {shown} must be a fraction in {lo}0, 1{hi}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value <= 100:
        msg += f"; did you mean {value / 100:g}?"
    raise UsageError(msg)


# --- run assumptions ---------------------------------------------------------------------------
@cache
def _raw() -> dict:
    with open(_DATA, "rb") as fh:
        return tomllib.load(fh)


@dataclass(frozen=True)
class Price:
    usd_per_gpu_hour: float
    source: str
    date: str = ""


@dataclass(frozen=True)
class RunAssumptions:
    """Failures, checkpoints, restarts, the default batch and prices of a training run (SI)."""

    failure_rate_per_gpu_s: float
    failure_source: str
    storage_write_bps: float
    node_write_bps: float
    restart_s: float
    checkpoint_source: str
    global_batch: int
    seq_len: int
    batch_source: str
    prices: dict[str, Price] = field(default_factory=dict)

    @property
    def gpu_mtbf_hours(self) -> float:
        return 1.0 / self.failure_rate_per_gpu_s / 3600.0

    def price(self, gpu_key: str) -> Price:
        if gpu_key not in self.prices:
            # the catalog key itself: a shortened name ('h100') may be another part's alias (h100 is the H100 SXM)
            raise UsageError(f"no price for {gpu_key} in explorer/data/training_run.toml (it prices "
                             f"{', '.join(_raw()['prices'])}); give one with --price {gpu_key}=USD_PER_HOUR")
        return self.prices[gpu_key]


def load_assumptions(*, prices: dict[str, float] | None = None, gpu_mtbf_hours: float | None = None,
                     restart_s: float | None = None, storage_write_gbps: float | None = None) -> RunAssumptions:
    """The defaults of training_run.toml with any override (a price given here says 'given by the user')."""
    d = _raw()
    f, c, b = d["failures"], d["checkpoint"], d["batch"]
    a = RunAssumptions(
        failure_rate_per_gpu_s=per_device_failure_rate(f["interruptions"], f["days"], f["gpus"]),
        failure_source=f["source"], storage_write_bps=c["storage_write_gb_per_s"] * 1e9,
        node_write_bps=c["node_write_gb_per_s"] * 1e9, restart_s=float(c["restart_s"]),
        checkpoint_source=c["source"], global_batch=b["global_batch"], seq_len=b["seq_len"],
        batch_source=b["source"],
        prices={k: Price(v["usd_per_gpu_hour"], v["source"], v["date"]) for k, v in d["prices"].items()})
    if gpu_mtbf_hours is not None:
        _finite_positive("gpu-mtbf-hours", gpu_mtbf_hours)
        a = replace(a, failure_rate_per_gpu_s=1.0 / (gpu_mtbf_hours * 3600.0),
                    failure_source=f"per-GPU MTBF {gpu_mtbf_hours:g} h given by the user")
    if restart_s is not None:
        if not (isinstance(restart_s, (int, float)) and math.isfinite(restart_s) and 0 <= restart_s <= 1e7):
            raise UsageError(f"restart-s must lie in [0, 1e7] seconds, got {restart_s!r}")
        a = replace(a, restart_s=float(restart_s), checkpoint_source=a.checkpoint_source +
                    f" Restart {restart_s:g} s given by the user.")
    if storage_write_gbps is not None:
        _finite_positive("storage-write-gbps", storage_write_gbps)
        a = replace(a, storage_write_bps=storage_write_gbps * 1e9, checkpoint_source=a.checkpoint_source +
                    f" Storage write {storage_write_gbps:g} GB/s given by the user.")
    given: dict[str, str] = {}
    for gpu, usd in (prices or {}).items():
        _finite_positive(f"price of {gpu}", usd)
        key = get_accelerator(gpu).key
        if key in given:  # two names of one GPU (h100 and h100_sxm): which price holds would be a guess
            raise UsageError(f"--price: {given[key]}={prices[given[key]]:g} and {gpu}={usd:g} both price {key}; "
                             "give it once")
        given[key] = gpu
        a.prices[key] = Price(float(usd), "given by the user (--price)")
    return a


def parse_prices(text: str | None) -> dict[str, float]:
    """'h100=2.5,b200=4.8' -> {'h100': 2.5, 'b200': 4.8}."""
    out: dict[str, float] = {}
    for item in parse_list("--price", text):
        if "=" not in item:
            raise UsageError(f"--price: {item!r} is not GPU=USD_PER_HOUR (e.g. h100=2.5)")
        k, v = (s.strip() for s in item.split("=", 1))
        if k in out:
            raise UsageError(f"--price: {k} given twice, {k}={out[k]:g} and {k}={v}; give it once")
        try:
            out[k] = float(v)
        except ValueError:
            raise UsageError(f"--price: bad price {v!r} for {k}") from None
    return out


def _finite_positive(name: str, v: float) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v > 1e12:
        raise UsageError(f"{name} must be a positive finite number, got {v!r}")
