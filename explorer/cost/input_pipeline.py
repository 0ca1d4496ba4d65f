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

One core for both (`shared_core`): where the accelerator is the CPU's own single core (a microcontroller: the
nRF52840 has one Arm Cortex-M4F core and no other processor, Nordic nRF52840 Product Specification v1.7 sec. 1),
preparation and the training step run on it one after the other, never alongside: a sample costs the core
aug/workers + compute/devices seconds, so prep + compute = 1 / (aug + compute) samples/s (workers = devices = 1),
and their busy fractions add up to at most 1. Ingest (a DMA from the microphone) still overlaps.
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
    shared_core: bool = False  # preparation and compute take turns on the device's one core (see above)

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


def core_rate(p: Pipeline) -> float:
    """Samples per second the one core sustains doing both preparation and compute (shared_core), in series:
    1 / (aug/workers + compute/devices); without a shared core, the slower of the two on its own."""
    r = stage_rates(p)
    if not p.shared_core:
        return min(r["prep"], r["compute"])
    return 1.0 / (1.0 / r["prep"] + 1.0 / r["compute"])


def throughput(p: Pipeline) -> float:
    """Samples per second of the whole pipeline: the slowest stage's rate (on a shared core, the core's rate for
    preparation and compute together against ingest)."""
    r = stage_rates(p)
    if p.shared_core:
        return min(r["ingest"], core_rate(p))
    return min(r.values())


def bottleneck(p: Pipeline) -> str:
    """The stage that limits throughput: the slowest stage's (ties to the earlier stage). On a shared core that the
    ingest keeps fed, the core is the bottleneck resource (Hopp & Spearman, 'Factory Physics', ch. 7: the resource of
    highest utilisation), and of its time each stage takes throughput x its seconds per sample (the utilisation law
    U = X S, Denning & Buzen 1978, 'The Operational Analysis of Queueing Network Models', ACM Computing Surveys 10(3)):
    aug/workers to preparation, compute/devices to the step. The stage named is the one taking the larger share,
    i.e. the one of lower rate, computed for every input (16 ms of preparation against a 0.421 s step: compute; 1 s
    against the same step: preparation)."""
    r = stage_rates(p)
    if p.shared_core and core_rate(p) > r["ingest"]:
        return "ingest"
    keys = ("prep", "compute") if p.shared_core else STAGES
    return min(keys, key=lambda s: (r[s], STAGES.index(s)))


def compute_slowed(p: Pipeline) -> bool:
    """True when the compute stage runs below its own rate: starved by a slower stage, or (shared core) taking
    turns with preparation, so each sample costs aug/workers + compute/devices of the core's time."""
    return throughput(p) < stage_rates(p)["compute"] * (1 - 1e-6)


def utilisation(p: Pipeline) -> dict[str, float]:
    """Busy fraction of each stage: throughput / the stage's own rate (1.0 at the bottleneck; on a shared core
    prep + compute <= 1, the core's whole time)."""
    x = throughput(p)
    return {s: x / r for s, r in stage_rates(p).items()}


def workers_to_feed(devices: int, compute_s_per_sample: float, augment_s_per_sample: float) -> int:
    """Fewest workers whose preparation rate keeps `devices` busy: ceil(devices x aug / compute)."""
    import math

    need = devices * augment_s_per_sample / compute_s_per_sample
    return max(1, math.ceil(need - 1e-12))
