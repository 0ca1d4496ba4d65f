"""The dataloader puzzle's instance: the track's pipeline scenario (lab08_training.toml) with the caller's
overrides checked, and the compute rate of the data path the race is run on (the step model on the cloud track, the
fleet 3D optimum's local step on a fleet)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from explorer import validation as V
from explorer.cost import input_pipeline as ip
from explorer.errors import UsageError
from explorer.plan import ParallelPlan
from explorer.puzzles.fleetlens import FLEET_TRACKS
from explorer.puzzles.training_scenario import TrainingScenario, scenario
from explorer.tracks import Track, get_track
from explorer.units import human_number, plural


@dataclass(frozen=True)
class LoaderInstance:
    track: Track
    sc: TrainingScenario
    max_workers: int
    max_devices: int
    augment_s: float
    compute_s: float  # per sample per device
    sample_bytes: int
    storage_bandwidth: float
    h2d_bandwidth: float
    dataset_samples: int
    batch: int
    path_model: str  # the model whose step sets the compute rate
    path_plan: ParallelPlan
    text_compute_s: float | None = None  # the track's text path, where the race is run on another one
    text_augment_s: float | None = None
    compute_from: str = ""  # where compute_s comes from, for the report's assumption

    def pipeline(self, workers: int, devices: int) -> ip.Pipeline:
        return ip.Pipeline(workers, self.augment_s, self.sample_bytes, self.storage_bandwidth, self.h2d_bandwidth,
                           devices, self.compute_s, self.sc.prep_on_compute_core)

    # integer data shared by both engines
    @property
    def augment_ns(self) -> int:
        return max(1, round(self.augment_s * 1e9))

    @property
    def compute_ns(self) -> int:
        return max(1, round(self.compute_s * 1e9))

    @property
    def storage_bytes_per_sample_time(self) -> int:
        return math.floor(self.storage_bandwidth * self.compute_s)

    @property
    def h2d_bytes_per_sample_time(self) -> int:
        return math.floor(self.h2d_bandwidth * self.compute_s)


def path_step(track: Track, sc: TrainingScenario) -> tuple[Any, ParallelPlan]:
    """The step model's (setup, plan) of the data path the race is run on: the scenario's own
    pipeline model (data parallel over the node's devices) where it names one, else the track's
    workload on its own plan."""
    from explorer.cost.efficiency import TYPICAL_GPU_EFFICIENCY
    from explorer.puzzles.threed import make_setup

    # each GPU consumes at a typical GPU's rate: the puzzle feeds 1 to max_devices of them with one rate, so the
    # slowest GPU's pace (Setup.pace: 1.4 % at 8) is not charged here
    if sc.pipeline_model is None:
        return make_setup(track, efficiency=TYPICAL_GPU_EFFICIENCY), track.crisis_plan
    setup = make_setup(track, model=sc.pipeline_model, gpus=sc.max_devices,
                       gpus_per_node=min(sc.max_devices, track.cluster.devices_per_node), seq_len=sc.pipeline_seq_len,
                       efficiency=TYPICAL_GPU_EFFICIENCY)
    mb = sc.pipeline_micro_batch
    return setup, ParallelPlan(dp=sc.max_devices, micro_batch=mb, global_batch=sc.max_devices * mb, zero=1)


def batch_plan(plan: ParallelPlan, batch: int) -> ParallelPlan:
    """The data path's plan at another global batch: the same replicas, each taking batch / DP samples a step in
    micro-batches of the plan's size where they divide, else of the largest size that divides both."""
    if batch % plan.dp:
        raise UsageError(f"batch {batch} must be a multiple of the data path's {plan.dp} data-parallel replicas "
                         f"({plan.describe()})")
    per = batch // plan.dp
    return replace(plan, global_batch=batch, micro_batch=math.gcd(per, plan.micro_batch))


def compute_seconds_per_sample(setup: Any, plan: ParallelPlan) -> float:
    """Per-device compute seconds per sample from the step model: the devices' compute time for one
    step, divided by the samples the step processes per device."""
    from explorer.cost.step import estimate

    return estimate(setup, plan).time["compute"] * plan.devices / plan.global_batch


def make_instance(track: str | Track = "cloud", *, workers: int | None = None, devices: int | None = None,
                  augment_ms: float | None = None, compute_ms: float | None = None, sample_bytes: int | None = None,
                  storage_gbps: float | None = None, batch: int | None = None,
                  dataset_samples: int | None = None) -> LoaderInstance:
    """Track defaults with overrides; workers/devices are the MAXIMA the search may use."""
    t = track if isinstance(track, Track) else get_track(track)
    sc = scenario(t.key)
    w = V.WORKERS.check("workers", workers, sc.max_workers)
    d = V.DEVICES.check("devices", devices, sc.max_devices)
    if sc.prep_on_compute_core and w > 1:
        # the one core prepares and trains in turn (input_pipeline shared_core): a second worker on it would be a
        # second thread taking turns too, not a second preparation rate (workers / aug would count it as one)
        raise UsageError(f"workers {w:,}: on the {t.key} track preparation runs on the {t.device_word}'s one core, "
                         "in turn with the training step, so it has one worker; valid: 1")
    if d > sc.max_devices:
        # the workers and the storage are one host's (lab08_training.toml): past its devices they would be shared by
        # devices on other hosts, which bring their own CPUs and storage ('43 GPUs fed by 103 workers' was no machine)
        raise UsageError(f"devices {d:,} is more than the data pipeline's host holds; valid: 1..{sc.max_devices:,} "
                         f"(its {sc.max_workers:,} CPU workers and {human_number(sc.storage_bandwidth / 1e9)} GB/s of "
                         "storage are that host's; each further host brings its own and runs the same race, so "
                         "several hosts are one host's answer times the hosts)")
    augment_ms = V.STEP_MS.check("augment-ms", augment_ms)
    compute_ms = V.STEP_MS.check("compute-ms", compute_ms)
    storage_gbps = V.BANDWIDTH_GBS.check("storage-gbps", storage_gbps)
    sb = V.SAMPLE_BYTES.check("sample-bytes", sample_bytes, sc.sample_bytes)
    ds = V.DATASET_SAMPLES.check("dataset-samples", dataset_samples, sc.dataset_samples)
    setup, plan = path_step(t, sc)
    b = V.GLOBAL_BATCH.check("batch", batch, plan.global_batch)
    if b > ds:
        raise UsageError(f"batch {b} is larger than the dataset ({ds} samples); use a batch <= {ds}")
    if t.key in FLEET_TRACKS:
        fleet = fleet_step(t)
        # One compute rate in the whole report: on a fleet the device eats samples at its local step's pace, the
        # fleet 3D optimum's (lab 05 part 2), which --compute-ms and --batch (the datacenter step's) cannot set.
        given = [f"--{k} {v:g}" for k, v in (("compute-ms", compute_ms), ("batch", batch)) if v is not None]
        if given:
            from explorer.puzzles.fleetlens.common import a_word

            raise UsageError(f"{' and '.join(given)}: on the {t.key} track {a_word(t.device_word)} eats samples at its "
                             f"fleet local step ({fleet[1]}), not at a datacenter step's rate; "
                             + ("this option acts" if len(given) == 1 else "these options act")
                             + " on the cloud track only")
        compute_s, compute_from = fleet
    else:
        if b != plan.global_batch:  # the step the data path feeds: its per-device batch sets compute per sample
            plan = batch_plan(plan, b)
        compute_s = compute_seconds_per_sample(setup, plan) if compute_ms is None else compute_ms / 1e3
        where = (f"{setup.model.name} on {plan.describe()}" if sc.pipeline_model is not None
                 else f"the track's plan ({t.crisis_plan.describe()})")
        compute_from = "--compute-ms" if compute_ms is not None else f"the step model on {where}"
    return LoaderInstance(
        track=t, sc=sc, max_workers=w, max_devices=d,
        augment_s=sc.augment_s_per_sample if augment_ms is None else augment_ms / 1e3,
        compute_s=compute_s,
        sample_bytes=sb, storage_bandwidth=sc.storage_bandwidth if storage_gbps is None else storage_gbps * 1e9,
        h2d_bandwidth=sc.host_to_device_bandwidth, dataset_samples=ds, batch=b, path_model=setup.model.name,
        path_plan=plan,
        text_compute_s=None if sc.pipeline_model is None else compute_seconds_per_sample(*path_step(t, _text(sc))),
        text_augment_s=sc.text_augment_s_per_sample, compute_from=compute_from)


def fleet_step(t: Track) -> tuple[float, str]:
    """(seconds per sample, where from) of a fleet device's local step at the track's fleet 3D optimum (lab 05
    part 2: explorer.puzzles.fleet3d, the placement model of explorer/cost/placement.py): one local step of b
    samples in t_local seconds eats one sample every t_local / b."""
    from explorer.puzzles.fleetlens.common import optimum
    from explorer.units import human_duration

    b = optimum(t.key).best
    mb, t_local = b["micro_batch"], b["t_local"]
    return t_local / mb, (f"the fleet 3D optimum's local step: {plural(mb, 'sample')} in {human_duration(t_local)}, "
                          "explorer/puzzles/fleet3d")


def _text(sc: TrainingScenario) -> TrainingScenario:
    """The scenario on the track's own (text) path."""
    import dataclasses

    return dataclasses.replace(sc, pipeline_model=None)


def scenario_of(inst: LoaderInstance) -> dict[str, Any]:
    """The instance's options, defaults resolved, in the units make_instance takes (on a fleet track without
    compute-ms and batch: its local step sets the compute rate, and make_instance refuses them there)."""
    sc = {"workers": inst.max_workers, "devices": inst.max_devices, "augment_ms": inst.augment_s * 1e3,
          "compute_ms": inst.compute_s * 1e3, "sample_bytes": inst.sample_bytes,
          "storage_gbps": inst.storage_bandwidth / 1e9, "batch": inst.batch, "dataset_samples": inst.dataset_samples}
    if inst.track.key in FLEET_TRACKS:
        del sc["compute_ms"], sc["batch"]
    return sc
