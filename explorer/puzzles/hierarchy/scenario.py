"""The hierarchy puzzle's scenario: the instance its model solves, prepared once in SI units from a track's lab 06
scenario (explorer/puzzles/collective_scenario.py) and the options that override it (message, slow-tier bandwidth,
global batch), and the choices the solvers search (INTRA inside a group, INTER between groups)."""

from __future__ import annotations

from dataclasses import dataclass

from explorer import validation as V
from explorer.cost import collectives as col
from explorer.puzzles.collective_scenario import CollectiveScenario

INTRA = ("ring", "tree")
INTER = ("ring", "tree", "halving_doubling", "double_binary_tree")
NAMES = {**col.ALLREDUCE_NAMES, "tree": "binomial tree"}
MIN_CHUNK_BYTES = 1 << 20  # pipelining chunks of at least 1 MiB (NCCL's buffers are 4 MiB per channel)
MAX_CHUNKS = 1024
SLOW_FACTOR = 100.0  # the lab question: "will a hierarchical strategy help if the inter-node link is 100x slower?"


@dataclass(frozen=True)
class Instance:
    """Everything the model needs, in SI units (prepared once)."""

    track: str
    message_bytes: float
    devices: int
    devices_per_group: int
    aggregation_choices: tuple[int, ...]
    alpha_intra: float
    bw_intra: float
    alpha_inter: float
    bw_inter: float
    global_batch: int
    max_accumulation: int
    memory_limit: int
    fixed_memory: int
    activation_per_sample: int
    accumulation_buffer: int
    backward_s_per_sample: float
    intra_name: str = ""
    inter_name: str = ""
    flat_nccl_s: float | None = None  # the flat all-reduce as NCCL runs it (step-model tracks), else None
    intra_half_duplex: bool = False  # the intra link sends and receives on one channel (links.toml duplex)
    inter_half_duplex: bool = False  # the slow tier's link does (a radio): its ring steps' two sends take turns
    inter_relayed: bool = False  # devices reach the slow tier only through their group's hub, over the intra link
    call_latency_s: float = 0.0  # NCCL's base latency per collective call where the flat baseline is NCCL's

    @property
    def inter_slower(self) -> bool:
        """Whether the tier between groups is the slower per device, as a ring step sees each link (half the rate
        of a half-duplex one, collectives.exchange_bandwidth): the lab's 'slow tier'. Not so on the earbuds, where
        NFMI inside a pair (29.8 kB/s each way) is slower than BLE between pairs (37.5 kB/s)."""
        return (col.exchange_bandwidth(self.bw_inter, self.inter_half_duplex)
                <= col.exchange_bandwidth(self.bw_intra, self.intra_half_duplex))

    @property
    def slow_tier(self) -> str:
        """The narration's name for the tier between groups: the lab's 'slow tier' where it is the slower."""
        return "slow tier" if self.inter_slower else "inter-group tier"

    @property
    def fast_tier(self) -> str:
        """The narration's name for the tier inside a group: the lab's 'fast tier' where it is the faster."""
        return "fast tier" if self.inter_slower else "intra-group tier"

    @property
    def channel_stations(self) -> int:
        """Devices sharing one channel of a half-duplex intra link (a group: one Wi-Fi BSS, one hub's BLE
        piconet, one NFMI pair), 0 for a full-duplex link (a link per device and direction)."""
        return self.devices_per_group if self.intra_half_duplex else 0

    @property
    def relay_fraction(self) -> float:
        """Share of the inter phase's transfer time its bytes spend on the intra hop (0 unless relayed;
        collectives.relay_hop_share)."""
        return col.relay_hop_share(self.bw_inter, self.bw_intra, self.intra_half_duplex) if self.inter_relayed \
            else 0.0

    def inter_bandwidth(self, participants_per_group: int) -> float:
        """Bandwidth per participant of the slow-tier path when `participants_per_group` devices of each group
        take part in the inter phase: bw_inter, or where they reach it through their hub over a half-duplex
        shared intra channel, that channel and the hub's far link divided among them
        (collectives.relayed_path_bandwidth)."""
        if not self.inter_relayed:
            return self.bw_inter
        if self.intra_half_duplex:  # the shared hop already counts each step's send and receive (2 P X on it);
            # a half-duplex far link takes them in turn too: min(B_far/2, B_hop/2) / P
            return col.relayed_path_bandwidth(col.exchange_bandwidth(self.bw_inter, self.inter_half_duplex),
                                              self.bw_intra, participants_per_group, True)
        return self.bw_inter

    @property
    def inter_exchange_half(self) -> bool:
        """Whether the slow tier's exchange-stepped algorithms still see half of inter_bandwidth (a half-duplex
        slow-tier link, collectives.allreduce_time half_duplex): not where the path is relayed over a half-duplex
        shared hop, whose rate (relayed_path_bandwidth) already counts both sends of a step."""
        return self.inter_half_duplex and not (self.inter_relayed and self.intra_half_duplex)

    @property
    def max_chunks(self) -> int:
        return int(max(1, min(MAX_CHUNKS, self.message_bytes // MIN_CHUNK_BYTES)))


def make_instance(sc: CollectiveScenario, *, message_bytes: float | None = None,
                  inter_bandwidth_bps: float | None = None, global_batch: int | None = None) -> Instance:
    m = V.MESSAGE_BYTES.check("message size", message_bytes, sc.gradient_bytes)
    bw_e = V.BANDWIDTH_BPS.check("inter-tier bandwidth", inter_bandwidth_bps, sc.inter.effective_bandwidth)
    if sc.inter_through_intra:  # relayed by the group's hub: the bottleneck hop and both latencies
        bw_e = min(bw_e, sc.intra.effective_bandwidth)
    gb = V.GLOBAL_BATCH.check("global batch", global_batch, sc.global_batch)
    return Instance(
        track=sc.track, message_bytes=m, devices=sc.devices, devices_per_group=sc.devices_per_group,
        aggregation_choices=sc.aggregation_choices, alpha_intra=sc.intra.latency_s,
        bw_intra=sc.intra.effective_bandwidth, alpha_inter=sc.inter_path_alpha, bw_inter=bw_e,
        global_batch=gb, max_accumulation=sc.max_accumulation, memory_limit=int(round(sc.memory_limit_bytes)),
        fixed_memory=int(round(sc.fixed_memory_bytes)),
        activation_per_sample=int(round(sc.activation_bytes_per_sample)),
        accumulation_buffer=int(round(sc.accumulation_buffer_bytes)), backward_s_per_sample=sc.backward_s_per_sample,
        intra_name=sc.intra.name,
        inter_name=sc.inter.name + (f" via {sc.intra.name}" if sc.inter_through_intra else ""),
        flat_nccl_s=(sc.dp_sync_time(m, inter_bandwidth=bw_e) if sc.setup is not None else None),
        # measured against NCCL's flat all-reduce, which pays its base latency once per call (tuning.cc), a two-tier
        # sync run as one operation (NCCL's hierarchical algorithms, chunk by chunk) pays it once too
        call_latency_s=col.NCCL_BASE_LATENCY_S if sc.setup is not None else 0.0,
        intra_half_duplex=sc.intra.half_duplex, inter_relayed=sc.inter_through_intra,
        inter_half_duplex=sc.inter.half_duplex)
