"""The input pipeline as three stages in series: preparation (CPU workers), ingestion (storage and
host-to-device copies) and compute (accelerators). In steady state a pipeline of stages runs at
the rate of its slowest stage (the bottleneck; Little's law / flow-line throughput, e.g. Hopp &
Spearman, 'Factory Physics', ch. 7: the bottleneck rate r_b of a line), and every other stage is
busy for throughput / its own rate of the time (the 3-box utilisation gauge).

Rates in samples per second (SI inside: seconds, bytes, bytes/s).
  prep    = workers / augmentation seconds per sample
  ingest  = min(storage bandwidth, devices x host-to-device bandwidth) / bytes per sample
  compute = devices / compute seconds per sample per device
The compute seconds per sample come from the step-time model (explorer/cost/step.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.errors import UsageError, require_positive, require_positive_int

STAGES = ("prep", "ingest", "compute")


@dataclass(frozen=True)
class Pipeline:
    workers: int
    augment_s_per_sample: float
    sample_bytes: float
    storage_bandwidth: float
    host_to_device_bandwidth: float  # per device
    devices: int
    compute_s_per_sample: float  # per device

    def __post_init__(self) -> None:
        require_positive_int("workers", self.workers)
        require_positive_int("devices", self.devices)
        if not isinstance(self.augment_s_per_sample, (int, float)) or not self.augment_s_per_sample > 0:
            raise UsageError(f"augmentation cost per sample must be a positive number of seconds, "
                             f"got {self.augment_s_per_sample!r}")
        require_positive("sample bytes", self.sample_bytes)
        require_positive("storage bandwidth", self.storage_bandwidth)
        require_positive("host-to-device bandwidth", self.host_to_device_bandwidth)
        require_positive("compute seconds per sample", self.compute_s_per_sample)


def stage_rates(p: Pipeline) -> dict[str, float]:
    """Samples per second each stage could sustain on its own."""
    return {
        "prep": p.workers / p.augment_s_per_sample,
        "ingest": min(p.storage_bandwidth, p.devices * p.host_to_device_bandwidth) / p.sample_bytes,
        "compute": p.devices / p.compute_s_per_sample,
    }


def throughput(p: Pipeline) -> float:
    """Samples per second of the whole pipeline: the slowest stage's rate."""
    return min(stage_rates(p).values())


def bottleneck(p: Pipeline) -> str:
    r = stage_rates(p)
    return min(STAGES, key=lambda s: (r[s], STAGES.index(s)))


def utilisation(p: Pipeline) -> dict[str, float]:
    """Busy fraction of each stage: throughput / the stage's own rate (1.0 at the bottleneck)."""
    x = throughput(p)
    return {s: x / r for s, r in stage_rates(p).items()}


def workers_to_feed(devices: int, compute_s_per_sample: float, augment_s_per_sample: float) -> int:
    """Fewest workers whose preparation rate keeps `devices` busy: ceil(devices x aug / compute)."""
    import math

    need = devices * augment_s_per_sample / compute_s_per_sample
    return max(1, math.ceil(need - 1e-12))
