"""What is trained and where: the fixed inputs of the cost model (model, cluster, precision...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from explorer.cost.efficiency import DEFAULT_EFFICIENCY, Efficiency
from explorer.errors import UsageError
from explorer.hardware.catalog import Cluster, Link
from explorer.models.architecture import DecoderModel
from explorer.plan import OPTIMIZERS, PRECISIONS

if TYPE_CHECKING:
    import numpy as np


# Bytes of optimizer state per parameter, master weights included (../shared/CONVENTIONS.md,
# "Training memory"; ZeRO paper, Rajbhandari et al. 2020, sec. 3.1: K = 12 for mixed-precision Adam).
#   mixed precision: fp32 master (4) + states: Adam m, v (8) / Momentum m (4) / SGD none.
#   fp32: the weights are the master copy, so only the states: Adam 8, Momentum 4, SGD 0.
OPTIMIZER_BYTES = {
    ("adam", True): 12,
    ("momentum", True): 8,
    ("sgd", True): 4,
    ("adam", False): 8,
    ("momentum", False): 4,
    ("sgd", False): 0,
}


@dataclass(frozen=True)
class Setup:
    """Model + cluster + sequence length + numerics: everything but the parallel plan."""

    model: DecoderModel
    cluster: Cluster
    seq_len: int
    precision: str = "bf16"
    optimizer: str = "adam"
    usable_memory_fraction: float = 0.9
    flash_attention: bool = True
    efficiency: Efficiency = DEFAULT_EFFICIENCY

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision {self.precision!r} unknown; valid: {', '.join(PRECISIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"optimizer {self.optimizer!r} unknown; valid: {', '.join(OPTIMIZERS)}")
        if not 0 < self.usable_memory_fraction <= 1:
            raise UsageError(f"usable memory fraction must lie in (0, 1], got {self.usable_memory_fraction}")

    @property
    def mixed(self) -> bool:
        return self.precision != "fp32"

    @property
    def weight_bytes(self) -> int:
        """Bytes of the working copy of one weight (bf16/fp16/fp8 training keeps a 2-byte copy)."""
        return 4 if self.precision == "fp32" else 2

    grad_bytes = weight_bytes
    act_bytes = weight_bytes

    @property
    def optimizer_bytes(self) -> int:
        return OPTIMIZER_BYTES[(self.optimizer, self.mixed)]

    @property
    def peak_flops(self) -> float:
        return self.cluster.accelerator.peak(self.precision)

    @property
    def memory_limit_bytes(self) -> int:
        return int(self.cluster.accelerator.memory_bytes * self.usable_memory_fraction)

    def link(self, span: int) -> Link:
        """Slowest link a group spanning `span` consecutive ranks crosses (TP innermost)."""
        return self.cluster.intra if span <= self.cluster.devices_per_node else self.cluster.inter

    def link_bandwidth(self, span: ArrayLike, stride: ArrayLike = 1) -> np.ndarray:
        """Achievable per-device bandwidth (bytes/s) for a ring group spanning `span` ranks whose
        members sit `stride` ranks apart.

        A link shared by the whole node (one Ethernet NIC per node) carries one ring edge per group
        that leaves the node; min(stride, devices per node) groups run side by side through it, so
        each gets that share (a flat ring of consecutive ranks, stride 1, gets the whole NIC)."""
        import numpy as np

        dpn = self.cluster.devices_per_node
        intra, inter = self.cluster.intra, self.cluster.inter
        share = np.minimum(np.asarray(stride), dpn) if inter.shared_per_node else 1
        inter_bw = inter.effective_bandwidth / share
        return np.where(np.asarray(span) <= dpn, intra.effective_bandwidth, inter_bw)

    def link_latency(self, span: ArrayLike) -> np.ndarray:
        import numpy as np

        return np.where(
            np.asarray(span) <= self.cluster.devices_per_node,
            self.cluster.intra.latency_s,
            self.cluster.inter.latency_s,
        )
