"""Load the hardware catalog (accelerators, links, nodes) from the TOML files beside it.

Every number is converted to SI once, here; every entry names its source.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from explorer.errors import UsageError, unknown_name, written_name
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
    node: str = ""  # key of its usual node in nodes.toml (what `--gpu NAME` brings)
    attention_efficiency: float | None = None  # fused-attention fraction of peak on this part (None: the global one)
    attention_efficiency_source: str = ""
    # Whether the GPU GEMM size roll-off (explorer/cost/efficiency.py gemm_efficiency: tile and wave quantisation on
    # SMs and tensor cores, fitted on A100 / H100 runs) applies on top of matmul_efficiency. False where the part has
    # no such tiles and its matmul_efficiency already stands for the small GEMMs it runs: on both parts that say so
    # it is an assumption, not a measurement (accelerators.toml matmul_efficiency_source: the nRF52840's quarter of
    # peak counted from the Cortex-M4's instruction timings, no FP32 GEMM measurement having been found; the AR1's
    # 40 % for small NPU GEMMs)
    gemm_size_rolloff: bool = True
    # False where no FlashAttention build runs on the part (a microcontroller, a phone's GPU or NPU): its attention is
    # QK^T and AV as its own loops, at its matmul_efficiency unless the catalog gives an attention_efficiency
    flash_attention_build: bool = True
    # False where none of the data-centre training stack runs on the part (CUDA, NCCL, Megatron-LM, DeepSpeed,
    # PyTorch FSDP, Transformer Engine): a microcontroller, a phone's or glasses' NPU or GPU. The cost model still
    # prices the step with the plan's layer layout; the reports describe an on-device training loop, not those stacks
    datacenter_stack: bool = True

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s for a precision; error naming the ones this part has."""
        try:
            return self.peak_flops[precision]
        except KeyError:
            from explorer.plan import PRECISIONS, check_precision  # a part may list others (int8, tf32)

            check_precision(precision)  # not a precision at all ('FP8'): not a part's missing peak
            raise UsageError(
                f"precision {precision!r}: the {self.name} ({self.key}) has no {precision.upper()} peak; valid on "
                f"it: {', '.join(p for p in PRECISIONS if p in self.peak_flops)}"
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
    # "full": separate send and receive lanes (bandwidth per direction); "half": sending and receiving share one
    # channel in time (a radio; links.toml header). duplex_source cites the standard or datasheet
    duplex: str = "full"
    duplex_source: str = ""
    max_domain: int = 0  # the most devices one fabric of this link joins (links.toml max_domain); 0 = unbounded
    max_domain_source: str = ""
    # the spread of one device's rate over a fleet's devices: rate = the catalog's x e^(-sigma Z), Z ~ N(0, 1)
    # (links.toml throughput_sigma, with throughput_sigma_source); 0 = every device at the catalog's rate
    throughput_sigma: float = 0.0
    throughput_sigma_source: str = ""

    @property
    def radio(self) -> bool:
        """A wireless link: the catalog gives the radios, and only them, an energy per bit (links.toml header:
        'Wireless links carry energy_nj_per_bit'; _duplex makes each of them state its duplex)."""
        return self.energy_j_per_bit > 0

    @property
    def half_duplex(self) -> bool:
        """True where the link's sending and receiving share one channel in time (links.toml `duplex`)."""
        return self.duplex == "half"

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
    nics: int = 0  # compute NICs per node (== devices: one NIC per GPU)
    nic: str = ""
    radios: tuple[str, ...] = ()  # a fleet device's radio links (links.toml keys), () for a wired node
    radios_source: str = ""


@dataclass(frozen=True)
class Cluster:
    """A concrete cluster: accelerator, device count, node size and its two link tiers."""

    accelerator: Accelerator
    devices: int
    devices_per_node: int
    intra: Link
    inter: Link
    notes: tuple[str, ...] = field(default=())
    node: str = ""  # key of the catalog node this cluster is built from ("" for a node made up by the user)
    node_changes: tuple[str, ...] = field(default=())  # what the user changed of that node

    @property
    def nodes(self) -> int:
        return max(1, self.devices // self.devices_per_node)

    def describe_node(self) -> str:
        """One line naming the node used: catalog name, devices, links and NICs, and any change made to it."""
        def short(link: Link) -> str:
            return link.name.split(" (")[0]

        template = get_node(self.node) if self.node else None
        # fewer devices than one node holds (cluster_with trims devices_per_node to them): part of one node, with
        # no traffic leaving it
        part = template is not None and self.devices < template.devices and self.devices_per_node == self.devices
        parts = [f"{self.devices_per_node} of its {template.devices} x {self.accelerator.name}" if part
                 else f"{self.devices_per_node} x {self.accelerator.name}"]
        if self.devices_per_node > 1:
            parts.append(f"{short(self.intra)} inside")
        if not part:
            per = "node" if self.inter.shared_per_node else "device"
            parts.append(f"one {short(self.inter)} link per {per}")
        body = ", ".join(parts)
        if template is None:
            return f"custom node: {body}"
        label = f"{'part of one ' if part else ''}{template.name}: {body}"
        if self.node_changes:
            label += " (changed from the catalog node: " + "; ".join(self.node_changes) + ")"
        return label

    def node_dict(self) -> dict:
        """The node used, for JSON reports."""
        return {"preset": self.node or None, "name": get_node(self.node).name if self.node else "custom",
                "devices_per_node": self.devices_per_node, "accelerator": self.accelerator.key,
                "intra_link": self.intra.key, "inter_link": self.inter.key,
                "nic_per_device": not self.inter.shared_per_node,
                "inter_gbps_per_nic": self.inter.bandwidth * 8 / 1e9,
                "changed": list(self.node_changes), "description": self.describe_node()}

    def link_for_span(self, group_size: int, stride: int) -> Link:
        """The slowest link a group of `group_size` ranks at `stride` spans (the caller's placement)."""
        return self.intra if group_size * stride <= self.devices_per_node else self.inter


def _load(name: str) -> dict:
    with open(_DATA / name, "rb") as fh:
        return tomllib.load(fh)


def _name(kind: str, table: dict, name: object) -> str:
    """`name` when it is a string; else the unknown-name UsageError (None, a list or a dict is no catalog name,
    and the lookups' cache would fail on an unhashable one with a TypeError)."""
    if not isinstance(name, str):
        raise unknown_name(kind, name, list(table))
    return name


def _resolve(kind: str, table: dict, name: str) -> str:
    key = name.lower().replace("-", "_")
    if key in table:
        return key
    written = written_name(name, "nvidia")  # 'NVIDIA H100 80GB HBM3' as nvidia-smi prints it
    for k, entry in table.items():
        if written in {written_name(k), *(written_name(a) for a in entry.get("aliases", []))}:
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


def get_accelerator(name: str) -> Accelerator:
    """Look up an accelerator by key or alias (case-insensitive); anything but a known name is a UsageError."""
    return _accelerator(_name("accelerator", _accelerators(), name))


@cache
def _accelerator(name: str) -> Accelerator:
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
        node=e.get("node", ""),
        # without a FlashAttention build, QK^T and AV are the part's own GEMM loops: its matmul_efficiency
        attention_efficiency=e.get("attention_efficiency",
                                   None if e.get("flash_attention_build", True) else e["matmul_efficiency"]),
        attention_efficiency_source=e.get("attention_efficiency_source", ""),
        gemm_size_rolloff=e.get("gemm_size_rolloff", True),
        flash_attention_build=e.get("flash_attention_build", True),
        datacenter_stack=e.get("datacenter_stack", True),
    )


def get_link(name: str) -> Link:
    """Look up a link by key or alias (case-insensitive); anything but a known name is a UsageError."""
    return _link(_name("network", _links(), name))


@cache
def _link(name: str) -> Link:
    key = _resolve("network", _links(), name)
    e = _links()[key]
    duplex = _duplex(key, e)
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
        duplex=duplex,
        duplex_source=e.get("duplex_source", ""),
        max_domain=int(e.get("max_domain", 0)),
        max_domain_source=e.get("max_domain_source", ""),
        throughput_sigma=_throughput_sigma(key, e),
        throughput_sigma_source=e.get("throughput_sigma_source", ""),
    )


def _throughput_sigma(key: str, e: dict) -> float:
    """A links.toml entry's throughput_sigma (0 when absent): finite, >= 0, and stated with its source."""
    sigma = e.get("throughput_sigma", 0.0)
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"links.toml [{key}]: throughput_sigma must be a finite number >= 0, got {sigma!r}")
    if sigma > 0 and not e.get("throughput_sigma_source"):
        raise ValueError(f"links.toml [{key}]: throughput_sigma needs a throughput_sigma_source")
    return float(sigma)


DUPLEX = ("full", "half")


def _duplex(key: str, e: dict) -> str:
    """A links.toml entry's duplex: "full" or "half", stated with its source by every radio (an entry with
    energy_nj_per_bit, whose sending and receiving may share one channel); a wired link without it is full."""
    if "duplex" not in e and "energy_nj_per_bit" in e:
        raise ValueError(f"links.toml [{key}]: a radio link (energy_nj_per_bit) must state its duplex, one of "
                         f"{', '.join(DUPLEX)}, with a duplex_source")
    duplex = e.get("duplex", "full")
    if duplex not in DUPLEX:
        raise ValueError(f"links.toml [{key}]: duplex {duplex!r} is not one of {', '.join(DUPLEX)}")
    if "duplex" in e and not e.get("duplex_source"):
        raise ValueError(f"links.toml [{key}]: duplex {duplex!r} needs a duplex_source (the standard or datasheet)")
    return duplex


def get_node(name: str) -> Node:
    """Look up a node by key or alias (case-insensitive); anything but a known name is a UsageError."""
    return _node(_name("node", _nodes(), name))


@cache
def _node(name: str) -> Node:
    key = _resolve("node", _nodes(), name)
    e = _nodes()[key]
    fields = ("name", "accelerator", "devices", "intra_link", "inter_link", "source", "nics", "nic")
    return Node(key=key, radios=_radios(key, e), radios_source=e.get("radios_source", ""),
                **{k: e[k] for k in fields})


def _radios(key: str, e: dict) -> tuple[str, ...]:
    """A nodes.toml entry's radios: links.toml keys of radio links only, stated with a radios_source."""
    radios = tuple(e.get("radios", ()))
    for r in radios:
        if r not in _links() or not _link(r).radio:
            raise ValueError(f"nodes.toml [{key}]: radios lists {r!r}, which is not a radio link of links.toml")
    if radios and not e.get("radios_source"):
        raise ValueError(f"nodes.toml [{key}]: radios needs a radios_source (the device's datasheet or an assumption)")
    return radios


def node_for_accelerator(accelerator: str) -> Node | None:
    """The usual node of an accelerator (its `node` in accelerators.toml), or None when it names none.
    `explore plan`, `check` and `sweep` (explorer/planner) bring a GPU's node through this function, the
    3D puzzle and `estimate` through cluster_with: both read the same `node` field."""
    acc = get_accelerator(accelerator)
    return get_node(acc.node) if acc.node else None


def node_for(accelerator: str) -> Node:
    """The usual node of an accelerator (its `node` in accelerators.toml)."""
    acc = get_accelerator(accelerator)
    if not acc.node:
        raise UsageError(f"accelerator {acc.key} names no node; give --gpus-per-node, --intra-network and --network")
    return get_node(acc.node)


def _matching_node(accelerator: str, devices_per_node: int, intra_link: str, inter_link: str) -> str:
    """Key of the catalog node with exactly these parts, '' if none."""
    for key in node_names():
        n = get_node(key)
        if (n.accelerator, n.devices, n.intra_link, n.inter_link) == (
                accelerator, devices_per_node, intra_link, inter_link):
            return key
    return ""


def cluster_with(base: Cluster, *, gpu: str | None = None, gpus: int | None = None,
                 gpus_per_node: int | None = None, network: str | None = None,
                 intra_network: str | None = None) -> Cluster:
    """`base` with any of its parts overridden.

    A new accelerator (`gpu`) brings its usual node (devices per node, intra-node link, NIC per device and
    its rate, from nodes.toml) unless `gpus_per_node`, `intra_network` or `network` override that part;
    without `gpu` the base cluster's node is kept and only the given parts change.
    """
    if gpu is not None:
        acc = get_accelerator(gpu)
        if acc.node:
            n = get_node(acc.node)
            node, dpn, intra, inter = n.key, n.devices, n.intra_link, n.inter_link
        else:  # a part without a catalog node keeps the base cluster's links
            node, dpn, intra, inter = "", base.devices_per_node, base.intra.key, base.inter.key
    else:
        acc = base.accelerator
        dpn, intra, inter = base.devices_per_node, base.intra.key, base.inter.key
        node = base.node or _matching_node(acc.key, dpn, intra, inter)
    changes = list(base.node_changes) if gpu is None else []
    if gpus_per_node is not None and gpus_per_node != dpn:
        changes.append(f"{gpus_per_node} devices per node instead of {dpn}")
        dpn = gpus_per_node
    if intra_network is not None and get_link(intra_network).key != intra:
        changes.append(f"intra-node link {get_link(intra_network).key} instead of {intra}")
        intra = intra_network
    if network is not None and get_link(network).key != inter:
        changes.append(f"network {get_link(network).key} instead of {inter}")
        inter = network
    devices = base.devices if gpus is None else gpus
    c = build_cluster(acc.key, devices, dpn, intra, inter)
    # build_cluster caps devices per node at the device count: a single partial node is still that node
    return replace(c, node=node, node_changes=tuple(changes))


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
    acc, intra, inter = get_accelerator(accelerator), get_link(intra_link), get_link(inter_link)
    if intra.max_domain and min(devices_per_node, devices) > intra.max_domain:
        # links.toml max_domain_source: the largest NVSwitch domain of the generation
        raise UsageError(f"gpus-per-node {devices_per_node:,}: one {intra.name} domain joins at most "
                         f"{intra.max_domain:,} GPUs; allowed: 1 to {intra.max_domain:,}, or another --intra-network")
    return Cluster(
        accelerator=acc,
        devices=devices,
        devices_per_node=min(devices_per_node, devices),
        intra=intra,
        inter=inter,
        node=_matching_node(acc.key, devices_per_node, intra.key, inter.key),
    )
