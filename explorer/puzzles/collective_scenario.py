"""Lab 06 scenario per track, loaded from explorer/data/lab06_collective.toml and validated at load.

Links resolve through the hardware catalog (alpha, bandwidth x efficiency, latency_cv, radio
energy); the gradient size is params (models catalog) x bytes per gradient element.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from explorer.errors import UsageError, unknown_name
from explorer.hardware.catalog import Link, get_link
from explorer.models.catalog import get_model
from explorer.tracks import TRACKS

_FILE = Path(__file__).resolve().parent.parent / "data" / "lab06_collective.toml"

_NUMBERS = ("gradient_bytes_per_param", "crossover_n", "bucket_bytes", "devices_per_group", "groups",
            "global_batch", "max_accumulation", "memory_limit_bytes", "fixed_memory_bytes",
            "activation_bytes_per_sample", "accumulation_buffer_bytes", "backward_s_per_sample",
            "compression_workers")
_STRINGS = ("scenario", "model", "crossover_link", "intra_link", "inter_link", "source")
_SIM = ("features", "samples_per_worker", "steps", "learning_rate", "seed", "condition", "label_noise",
        "topk_fraction", "ef_tolerance")


@dataclass(frozen=True)
class CollectiveScenario:
    """One track's lab 06 numbers, in SI units, with links resolved."""

    track: str
    scenario: str
    model_key: str
    model_name: str
    params: int
    gradient_bytes_per_param: float
    crossover_link: Link
    crossover_n: int
    bucket_bytes: float
    intra: Link
    inter: Link
    devices_per_group: int
    groups: int
    aggregation_choices: tuple[int, ...]
    global_batch: int
    max_accumulation: int
    memory_limit_bytes: float
    fixed_memory_bytes: float
    activation_bytes_per_sample: float
    accumulation_buffer_bytes: float
    backward_s_per_sample: float
    compression_workers: int
    source: str
    extra: dict[str, Any]
    inter_through_intra: bool = False

    @property
    def inter_path_alpha(self) -> float:
        """alpha of a device's path onto the slow tier (both hops when it goes through its group's hub)."""
        return self.inter.latency_s + (self.intra.latency_s if self.inter_through_intra else 0.0)

    @property
    def inter_path_bandwidth(self) -> float:
        """Bandwidth of a device's path onto the slow tier (the bottleneck hop when relayed by a hub)."""
        bw = self.inter.effective_bandwidth
        return min(bw, self.intra.effective_bandwidth) if self.inter_through_intra else bw

    @property
    def gradient_bytes(self) -> float:
        """The full gradient message M (bytes): params x bytes per gradient element."""
        return float(self.params) * self.gradient_bytes_per_param

    @property
    def devices(self) -> int:
        return self.devices_per_group * self.groups


@cache
def _raw() -> dict:
    with open(_FILE, "rb") as fh:
        return tomllib.load(fh)


def _validate(track: str, t: dict) -> None:
    missing = [k for k in _NUMBERS + _STRINGS + ("aggregation_choices",) if k not in t]
    if missing:
        raise ValueError(f"{_FILE.name} [{track}]: missing {', '.join(missing)}")
    bad = [k for k in _NUMBERS if not isinstance(t[k], (int, float)) or t[k] <= 0]
    if bad:
        raise ValueError(f"{_FILE.name} [{track}]: must be positive numbers: {', '.join(bad)}")
    if t["crossover_n"] < 2 or t["devices_per_group"] * t["groups"] < 2:
        raise ValueError(f"{_FILE.name} [{track}]: a collective needs at least 2 participants")
    agg = t["aggregation_choices"]
    if not agg or any(t["devices_per_group"] % g for g in agg):
        raise ValueError(f"{_FILE.name} [{track}]: aggregation_choices must divide devices_per_group")


@cache
def get_scenario(track: str) -> CollectiveScenario:
    """The lab 06 scenario of a track (cloud, edge, mobile, tiny)."""
    key = track.lower().split("-")[0]
    if key not in TRACKS:
        raise unknown_name("track", track, list(TRACKS))
    t = _raw()[key]
    _validate(key, t)
    model = get_model(t["model"])
    known = set(_NUMBERS + _STRINGS + ("aggregation_choices", "inter_through_intra"))
    return CollectiveScenario(
        track=key, scenario=t["scenario"], model_key=t["model"], model_name=model.name, params=int(model.params),
        gradient_bytes_per_param=float(t["gradient_bytes_per_param"]),
        crossover_link=get_link(t["crossover_link"]), crossover_n=int(t["crossover_n"]),
        bucket_bytes=float(t["bucket_bytes"]), intra=get_link(t["intra_link"]), inter=get_link(t["inter_link"]),
        devices_per_group=int(t["devices_per_group"]), groups=int(t["groups"]),
        aggregation_choices=tuple(int(g) for g in t["aggregation_choices"]), global_batch=int(t["global_batch"]),
        max_accumulation=int(t["max_accumulation"]), memory_limit_bytes=float(t["memory_limit_bytes"]),
        fixed_memory_bytes=float(t["fixed_memory_bytes"]),
        activation_bytes_per_sample=float(t["activation_bytes_per_sample"]),
        accumulation_buffer_bytes=float(t["accumulation_buffer_bytes"]),
        backward_s_per_sample=float(t["backward_s_per_sample"]),
        compression_workers=int(t["compression_workers"]), source=t["source"],
        extra={k: v for k, v in t.items() if k not in known},
        inter_through_intra=bool(t.get("inter_through_intra", False)),
    )


@cache
def simulation_settings() -> dict[str, Any]:
    """The [simulation] table (compression experiment), validated."""
    s = dict(_raw()["simulation"])
    missing = [k for k in _SIM + ("source",) if k not in s]
    if missing:
        raise ValueError(f"{_FILE.name} [simulation]: missing {', '.join(missing)}")
    if any(not s[k] > 0 for k in _SIM):
        raise ValueError(f"{_FILE.name} [simulation]: every number must be positive")
    return s


# --- shared input checks (one-line UsageErrors) ---------------------------------------------------
def check_participants(name: str, n: Any) -> int:
    """A collective needs N >= 2 whole participants."""
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or n < 2:
        raise UsageError(f"{name} must be a whole number >= 2 for a collective, got {n!r}")
    return int(n)


def check_positive(name: str, value: Any, unit: str = "") -> float:
    """Sizes, latencies and bandwidths must be positive numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"{name} must be a positive number{(' (' + unit + ')') if unit else ''}, got {value!r}")
    return float(value)
