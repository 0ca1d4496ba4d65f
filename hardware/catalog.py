"""Load the hardware catalog (accelerators, links, nodes) from the TOML files beside it.

Every number is converted to SI once, here; every entry names its source.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from explorer.errors import UsageError, unknown_name
from explorer.units import GB, gbit_per_s_to_bytes

_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: dense peak FLOP/s per precision, memory, bandwidth, power."""

    key: str
    name: str
    peak_flops: dict[str, float]  # FLOP/s, dense, by precision
    memory_bytes: float
    memory_bandwidth: float  # bytes/s
    tdp_w: float
    matmul_efficiency: float
    source: str
    matmul_efficiency_source: str = ""

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s for a precision; error naming the ones this part has."""
        try:
            return self.peak_flops[precision]
        except KeyError:
            raise UsageError(
                f"{self.key} has no {precision!r} peak; valid: {', '.join(sorted(self.peak_flops))}"
            ) from None


@dataclass(frozen=True)
class Link:
    """One interconnect: per-direction bandwidth per device, alpha latency, efficiency."""

    key: str
    name: str
    bandwidth: float  # bytes/s, per device, per direction, line rate
    latency_s: float  # alpha
    efficiency: float  # achievable fraction of line rate for collectives
    scope: str  # "intra" or "inter"
    source: str
    energy_j_per_bit: float = 0.0
    latency_cv: float = 0.0
    shared_per_node: bool = False
    nvls_efficiency: float = 0.0  # NVLink SHARP all-reduce bus bandwidth / line rate; 0 = the fabric has none

    @property
    def effective_bandwidth(self) -> float:
        """Bytes/s a collective actually reaches on this link."""
        return self.bandwidth * self.efficiency

    @property
    def effective_nvls_bandwidth(self) -> float:
        """All-reduce bus bandwidth with in-switch reduction (NVLS), 0 where the fabric has none."""
        return self.bandwidth * self.nvls_efficiency


@dataclass(frozen=True)
class Node:
    """A node template: devices sharing the intra link, and the link that leaves the node."""

    key: str
    name: str
    accelerator: str
    devices: int
    intra_link: str
    inter_link: str
    source: str


@dataclass(frozen=True)
class Cluster:
    """A concrete cluster: accelerator, device count, node size and its two link tiers."""

    accelerator: Accelerator
    devices: int
    devices_per_node: int
    intra: Link
    inter: Link
    notes: tuple[str, ...] = field(default=())

    @property
    def nodes(self) -> int:
        return max(1, self.devices // self.devices_per_node)

    def link_for_span(self, group_size: int, stride: int) -> Link:
        """The slowest link a group of `group_size` ranks at `stride` spans (placement TP, CP, PP, DP)."""
        return self.intra if group_size * stride <= self.devices_per_node else self.inter


def _load(name: str) -> dict:
    with open(_DATA / name, "rb") as fh:
        return tomllib.load(fh)


def _resolve(kind: str, table: dict, name: str) -> str:
    key = name.lower().replace("-", "_")
    if key in table:
        return key
    for k, entry in table.items():
        if name.lower() in [a.lower() for a in entry.get("aliases", [])]:
            return k
    raise unknown_name(kind, name, list(table))


@cache
def _accelerators() -> dict:
    return _load("accelerators.toml")


@cache
def _links() -> dict:
    return _load("links.toml")


@cache
def _nodes() -> dict:
    return _load("nodes.toml")


def accelerator_names() -> list[str]:
    return sorted(_accelerators())


def link_names() -> list[str]:
    return sorted(_links())


def node_names() -> list[str]:
    return sorted(_nodes())


@cache
def get_accelerator(name: str) -> Accelerator:
    """Look up an accelerator by key or alias (case-insensitive)."""
    key = _resolve("accelerator", _accelerators(), name)
    e = _accelerators()[key]
    return Accelerator(
        key=key,
        name=e["name"],
        peak_flops={p: v * 1e12 for p, v in e["peak_tflops"].items()},
        memory_bytes=e["memory_gb"] * GB,
        memory_bandwidth=e["memory_bandwidth_gbps"] * GB,
        tdp_w=e["tdp_w"],
        matmul_efficiency=e["matmul_efficiency"],
        source=e["source"],
        matmul_efficiency_source=e.get("matmul_efficiency_source", ""),
    )


@cache
def get_link(name: str) -> Link:
    """Look up a link by key or alias (case-insensitive)."""
    key = _resolve("network", _links(), name)
    e = _links()[key]
    return Link(
        key=key,
        name=e["name"],
        bandwidth=gbit_per_s_to_bytes(e["gbps"]),
        latency_s=e["latency_us"] * 1e-6,
        efficiency=e["efficiency"],
        scope=e["scope"],
        source=e["source"],
        energy_j_per_bit=e.get("energy_nj_per_bit", 0.0) * 1e-9,
        latency_cv=e.get("latency_cv", 0.0),
        shared_per_node=e.get("shared_per_node", False),
        nvls_efficiency=e.get("nvls_efficiency", 0.0),
    )


@cache
def get_node(name: str) -> Node:
    key = _resolve("node", _nodes(), name)
    e = _nodes()[key]
    fields = ("name", "accelerator", "devices", "intra_link", "inter_link", "source")
    return Node(key=key, **{k: e[k] for k in fields})


def node_for_accelerator(accelerator: str) -> Node | None:
    """The node template (hardware/data/nodes.toml) built around an accelerator, or None when the
    catalog has none: the devices per node and the two link tiers that come with the part (B200 ->
    DGX B200 with NVLink 5, not the cloud track's NVLink 4).

    NOTE for issue12 (hardware presets per GPU type): `explore plan`, `check` and `sweep` (issue19)
    bring a GPU's node through this one function only (explorer/planner/cluster.py calls it);
    when the preset mechanism lands, make this delegate to it (or replace the one call there)."""
    key = get_accelerator(accelerator).key
    for name, e in _nodes().items():
        if e["accelerator"] == key:
            return get_node(name)
    return None


def build_cluster(
    accelerator: str,
    devices: int,
    devices_per_node: int,
    intra_link: str,
    inter_link: str,
) -> Cluster:
    """A cluster from catalog names; validates the counts."""
    from explorer.errors import require_positive_int

    devices = require_positive_int("gpus", devices)
    devices_per_node = require_positive_int("gpus-per-node", devices_per_node)
    if devices > devices_per_node and devices % devices_per_node:
        raise UsageError(
            f"gpus {devices} is not a multiple of gpus-per-node {devices_per_node}"
        )
    return Cluster(
        accelerator=get_accelerator(accelerator),
        devices=devices,
        devices_per_node=min(devices_per_node, devices),
        intra=get_link(intra_link),
        inter=get_link(inter_link),
    )
