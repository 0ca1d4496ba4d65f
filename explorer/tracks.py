"""The four lab tracks (cloud, edge, mobile, tiny) as scenarios in data (explorer/data/tracks/*.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from explorer.errors import UsageError, unknown_name
from explorer.hardware.catalog import Cluster, build_cluster
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import ParallelPlan

_DIR = Path(__file__).parent / "data" / "tracks"
TRACKS = ("cloud", "edge", "mobile", "tiny")


@dataclass(frozen=True)
class Workload:
    """What is trained: model, sequence length, global batch, precision and optimizer."""

    model: DecoderModel
    seq_len: int
    global_batch: int
    precision: str = "bf16"
    optimizer: str = "adam"
    source: str = ""


@dataclass(frozen=True)
class Track:
    """One lab track: its cluster, workload, crisis configuration and economics."""

    key: str
    name: str
    persona: str
    crisis: str
    device_word: str
    cluster: Cluster
    workload: Workload
    usable_memory_fraction: float
    crisis_plan: ParallelPlan
    device_hour_usd: float
    sources: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    # what the memory beyond the usable fraction is held back for ([cluster] held_back; '' where nothing is)
    memory_held_back: str = ""

    @property
    def device_plural(self) -> str:
        """The device word in the plural ("pairs of glasses")."""
        from explorer.units import plural_noun

        return plural_noun(self.device_word)

    def __repr__(self) -> str:  # the headline; the scenario is in the fields
        c, w = self.cluster, self.workload
        return (f"<Track {self.key}: {w.model.name} on {c.devices:,} x {c.accelerator.key} "
                f"({self.device_plural}), global batch {w.global_batch}, seq {w.seq_len}>")

    def section(self, name: str) -> dict[str, Any]:
        """A lab-specific section of the track file (e.g. 'sync', 'collective'), {} if absent."""
        return dict(self.raw.get(name, {}))

    @property
    def usable_memory_bytes(self) -> float:
        return self.cluster.accelerator.memory_bytes * self.usable_memory_fraction


@cache
def _raw(key: str) -> dict:
    with open(_DIR / f"{key}.toml", "rb") as fh:
        return tomllib.load(fh)


def track_names() -> list[str]:
    return list(TRACKS)


def get_track(name: str) -> Track:
    """Load a track by name (cloud, edge, mobile, tiny; also 'cloud-titan' style names)."""
    key = name.lower().split("-")[0].split("_")[0] if isinstance(name, str) else None
    if key not in TRACKS:  # None, a list or a dict as well: never the cache's unhashable TypeError
        raise unknown_name("track", name, list(TRACKS))
    return _track(name)


@cache
def _track(name: str) -> Track:
    key = name.lower().split("-")[0].split("_")[0]
    raw = _raw(key)
    c, w, p, e = raw["cluster"], raw["workload"], raw["crisis_plan"], raw["economics"]
    cluster = build_cluster(c["accelerator"], c["devices"], c["devices_per_node"], c["intra_link"], c["inter_link"])
    workload = Workload(get_model(w["model"]), w["seq_len"], w["global_batch"], w["precision"],
                        w["optimizer"], w.get("source", ""))
    if workload.precision not in cluster.accelerator.peak_flops:
        raise UsageError(f"track {key}: precision {workload.precision} not offered by {cluster.accelerator.key}")
    plan = ParallelPlan(
        tp=p["tp"], pp=p["pp"], dp=p["dp"], cp=p["cp"], micro_batch=p["micro_batch"],
        global_batch=w["global_batch"], virtual_stages=p["virtual_stages"], zero=p["zero"],
        recompute=p["recompute"], sequence_parallel=p["sequence_parallel"],
    )
    sources = {s: raw[s]["source"] for s in raw if isinstance(raw[s], dict) and "source" in raw[s]}
    t = raw["track"]
    return Track(
        key=key, name=t["name"], persona=t["persona"], crisis=t["crisis"], device_word=t["device_word"],
        cluster=cluster, workload=workload, usable_memory_fraction=c["usable_memory_fraction"],
        crisis_plan=plan, device_hour_usd=e["device_hour_usd"], sources=sources, raw=raw,
        memory_held_back=c.get("held_back", ""),
    )
