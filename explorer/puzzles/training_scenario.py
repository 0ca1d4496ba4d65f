"""Lab 08 scenario numbers per track (explorer/data/lab08_training.toml), validated at load, in SI.

The loader is the only code that touches the raw TOML: every key is checked (unknown or missing
keys, wrong types, out-of-range values) and all problems are reported at once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from explorer.cost.training_memory import ADAPTERS
from explorer.errors import UsageError, unknown_name
from explorer.plan import OPTIMIZERS, PRECISIONS
from explorer.tracks import TRACKS
from explorer.units import GB

_FILE = Path(__file__).resolve().parent.parent / "data" / "lab08_training.toml"

MEMORY_OPTIMIZERS = OPTIMIZERS + ("adam8bit", "adafactor")
FROZEN_STORES = ("device", "flash")
MEMORY_TASKS = ("fine-tuning", "pre-training")  # lab 08 part 1's job: what adapters may stand in for

_NUM, _INT, _STR, _BOOL, _LIST = (int, float), int, str, bool, list
_TRACK_KEYS: dict[str, Any] = {
    "source": _STR,
    "memory_tp": _INT, "memory_pp": _INT, "memory_dp": _INT, "memory_batch_per_replica": _INT,
    "memory_micro_batches": _LIST, "memory_precisions": _LIST, "memory_optimizers": _LIST,
    "memory_zero_max": _INT, "memory_offload": _BOOL, "memory_frozen_store": _STR, "flash_free_bytes": _INT,
    "host_memory_per_device_gb": _NUM, "pcie_gbps_per_device": _NUM, "host_memory_bandwidth_gbps_per_device": _NUM,
    "memory_source": _STR, "memory_task": _STR,
    "cpu_cores": _INT, "reserved_cores": _INT, "max_devices": _INT, "augment_s_per_sample": _NUM,
    "sample_bytes": _INT, "dataset_samples": _INT, "storage_gbps": _NUM, "host_to_device_gbps": _NUM,
    "pipeline_source": _STR,
    "target_mfu": _NUM, "network_headroom": _NUM, "micro_batches": _LIST, "max_accumulation": _INT,
    "batch_precisions": _LIST, "critical_batch_source": _STR,
    "activation_log2_median": _NUM, "activation_log2_sigma": _NUM, "gradient_log2_median": _NUM,
    "gradient_log2_sigma": _NUM, "numerics_source": _STR,
}
_OPTIONAL = {"critical_batch_samples": _INT, "critical_batch_loss_nats": _NUM,
             # part 2 on a track whose race is on another data path than the track's own workload
             # (cloud: the image path of the same cluster); the text path is then reported beside it
             "pipeline_model": _STR, "pipeline_seq_len": _INT, "pipeline_micro_batch": _INT,
             "text_augment_s_per_sample": _NUM, "text_sample_bytes": _INT,
             # part 1: parameter-efficient fine-tuning offered to the fit search (default: none)
             "memory_adapters": _LIST,
             # part 3: global batches at which the 3D solver chooses the parallel plan (default: plan fixed)
             "plan_search_batches": _LIST,
             # part 2: preparation runs on the accelerator's own single core (a microcontroller), in turn with
             # the training step (explorer/cost/input_pipeline.py shared_core)
             "prep_on_compute_core": _BOOL}
_COMMON_KEYS: dict[str, Any] = {
    "quality_steps_multiplier": dict, "quality_source": _STR, "trainable_fractions": _LIST,
    "freeze_steps_multiplier": _LIST, "freeze_source": _STR,
    "int8_block_size": _INT, "int8_source": _STR, "loss_scale_init": _NUM, "loss_scale_growth_interval": _INT,
    "loss_scale_source": _STR, "max_nan_per_step": _NUM, "max_nan_source": _STR, "gradient_clip_norm": _NUM,
    "gradient_clip_source": _STR, "lora_rank": _INT, "adapter_steps_multiplier": dict, "adapter_source": _STR,
}


@dataclass(frozen=True)
class Common:
    """Algorithm properties shared by every track."""

    quality_steps_multiplier: dict[str, float]
    trainable_fractions: tuple[float, ...]
    freeze_steps_multiplier: tuple[float, ...]
    int8_block_size: int
    loss_scale_init: float
    loss_scale_growth_interval: int
    max_nan_per_step: float
    gradient_clip_norm: float
    lora_rank: int
    adapter_steps_multiplier: dict[str, float]
    sources: dict[str, str]


@dataclass(frozen=True)
class TrainingScenario:
    """One track's lab 08 numbers in SI (bytes, seconds, bytes/s)."""

    track: str
    source: str
    # part 1
    tp: int
    pp: int
    dp: int
    batch_per_replica: int
    memory_micro_batches: tuple[int, ...]
    memory_precisions: tuple[str, ...]
    memory_optimizers: tuple[str, ...]
    memory_adapters: tuple[str, ...]
    zero_max: int
    offload: bool
    frozen_store: str
    flash_free_bytes: int
    host_memory_bytes: float
    pcie_bandwidth: float
    host_memory_bandwidth: float
    memory_source: str
    memory_task: str  # part 1's job: "fine-tuning" or "pre-training" (MEMORY_TASKS); adapters only for fine-tuning
    # part 2
    cpu_cores: int
    reserved_cores: int
    max_devices: int
    augment_s_per_sample: float
    sample_bytes: int
    dataset_samples: int
    storage_bandwidth: float
    host_to_device_bandwidth: float
    pipeline_source: str
    pipeline_model: str | None
    pipeline_seq_len: int | None
    pipeline_micro_batch: int | None
    text_augment_s_per_sample: float | None
    text_sample_bytes: int | None
    # part 3
    target_mfu: float
    network_headroom: float
    micro_batches: tuple[int, ...]
    max_accumulation: int
    plan_search_batches: tuple[int, ...]
    batch_precisions: tuple[str, ...]
    critical_batch_samples: int | None
    critical_batch_loss_nats: float | None
    critical_batch_source: str
    activation_log2: tuple[float, float]
    gradient_log2: tuple[float, float]
    numerics_source: str
    prep_on_compute_core: bool = False  # preparation and the training step share the device's one core

    @property
    def max_workers(self) -> int:
        return self.cpu_cores - self.reserved_cores


def _check(table: dict, keys: dict, optional: dict, where: str, errors: list[str]) -> None:
    for k in table:
        if k not in keys and k not in optional:
            errors.append(f"{where}: unknown key {k!r}")
    for k in keys:
        if k not in table:
            errors.append(f"{where}: missing key {k!r}")
    for k, typ in {**keys, **optional}.items():
        if k in table:
            v = table[k]
            ok = isinstance(v, typ) and not (typ in (_INT, _NUM) and isinstance(v, bool))
            if not ok:
                errors.append(f"{where}.{k}: expected {getattr(typ, '__name__', 'number')}, got {v!r}")


def _validate_track(key: str, t: dict, errors: list[str]) -> None:
    w = f"lab08_training.toml [{key}]"
    for k in ("memory_tp", "memory_pp", "memory_dp", "memory_batch_per_replica", "cpu_cores", "max_devices",
              "sample_bytes", "dataset_samples", "max_accumulation"):
        if isinstance(t.get(k), int) and t[k] <= 0:
            errors.append(f"{w}.{k} must be positive, got {t[k]}")
    for k in ("augment_s_per_sample", "storage_gbps", "host_to_device_gbps", "activation_log2_sigma",
              "gradient_log2_sigma"):
        if isinstance(t.get(k), (int, float)) and t[k] <= 0:
            errors.append(f"{w}.{k} must be positive, got {t[k]}")
    if isinstance(t.get("reserved_cores"), int) and isinstance(t.get("cpu_cores"), int) \
            and not 0 <= t["reserved_cores"] < t["cpu_cores"]:
        errors.append(f"{w}.reserved_cores must lie in [0, cpu_cores), got {t['reserved_cores']}")
    for k in ("target_mfu", "network_headroom"):
        if isinstance(t.get(k), (int, float)) and not 0 < t[k] <= 1:
            errors.append(f"{w}.{k} must lie in (0, 1], got {t[k]}")
    for k in ("memory_precisions", "batch_precisions"):
        for p in t.get(k, []):
            if p not in PRECISIONS:
                errors.append(f"{w}.{k}: unknown precision {p!r}")
    for o in t.get("memory_optimizers", []):
        if o not in MEMORY_OPTIMIZERS:
            errors.append(f"{w}.memory_optimizers: unknown optimizer {o!r}")
    adapters = t.get("memory_adapters", ["none"])
    if not adapters or adapters[0] != "none" or any(a not in ADAPTERS for a in adapters):
        errors.append(f"{w}.memory_adapters must start with 'none' and list only {', '.join(ADAPTERS)}")
    if t.get("memory_task") not in MEMORY_TASKS:
        errors.append(f"{w}.memory_task must be one of {', '.join(MEMORY_TASKS)}")
    elif len(adapters) > 1 and t["memory_task"] != "fine-tuning":
        # LoRA and QLoRA reach full training's quality in fine-tuning (Hu et al. 2021; Dettmers et al. 2023), not in
        # continued pre-training (Biderman et al. 2024, arXiv 2405.09673): the steps multiplier of 1 holds only there
        errors.append(f"{w}.memory_adapters offers {', '.join(adapters[1:])} to a {t['memory_task']} job: adapters "
                      "match full training only in fine-tuning (Biderman et al. 2024)")
    if any(not isinstance(b, int) or isinstance(b, bool) or b <= 0 for b in t.get("plan_search_batches", [])):
        errors.append(f"{w}.plan_search_batches must list positive whole numbers")
    for k in ("memory_micro_batches", "micro_batches"):
        if not t.get(k) or any(not isinstance(b, int) or b <= 0 for b in t.get(k, [])):
            errors.append(f"{w}.{k} must be a non-empty list of positive whole numbers")
    if t.get("memory_frozen_store") not in FROZEN_STORES:
        errors.append(f"{w}.memory_frozen_store must be one of {FROZEN_STORES}")
    if t.get("memory_zero_max") not in (0, 1, 2, 3):
        errors.append(f"{w}.memory_zero_max must be 0..3")
    path = ("pipeline_model", "pipeline_seq_len", "pipeline_micro_batch", "text_augment_s_per_sample",
            "text_sample_bytes")
    if any(k in t for k in path) and not all(k in t for k in path):
        errors.append(f"{w}: give all of {', '.join(path)} or none")
    for k in path[1:]:
        if isinstance(t.get(k), (int, float)) and t[k] <= 0:
            errors.append(f"{w}.{k} must be positive, got {t[k]}")
    if ("critical_batch_samples" in t) == ("critical_batch_loss_nats" in t):
        errors.append(f"{w}: give exactly one of critical_batch_samples, critical_batch_loss_nats")


@cache
def _raw() -> dict:
    with open(_FILE, "rb") as fh:
        raw = tomllib.load(fh)
    errors: list[str] = []
    for k in raw:
        if k not in TRACKS and k != "common":
            errors.append(f"lab08_training.toml: unknown table [{k}]")
    _check(raw.get("common", {}), _COMMON_KEYS, {}, "lab08_training.toml [common]", errors)
    for key in TRACKS:
        if key not in raw:
            errors.append(f"lab08_training.toml: missing table [{key}]")
            continue
        _check(raw[key], _TRACK_KEYS, _OPTIONAL, f"lab08_training.toml [{key}]", errors)
        _validate_track(key, raw[key], errors)
    c = raw.get("common", {})
    fr, fm = c.get("trainable_fractions", []), c.get("freeze_steps_multiplier", [])
    if len(fr) != len(fm) or not fr or fr[0] != 1.0 or any(not 0 <= x <= 1 for x in fr) or any(x < 1 for x in fm):
        errors.append("lab08_training.toml [common]: trainable_fractions (in [0, 1], starting at 1.0) and "
                      "freeze_steps_multiplier (>= 1) must be lists of the same length")
    am = c.get("adapter_steps_multiplier", {})
    if any(a not in am for a in ADAPTERS) or any(not isinstance(x, (int, float)) or x < 1 for x in am.values()):
        errors.append(f"lab08_training.toml [common]: adapter_steps_multiplier needs {', '.join(ADAPTERS)}, each >= 1")
    if isinstance(c.get("lora_rank"), int) and c["lora_rank"] <= 0:
        errors.append(f"lab08_training.toml [common]: lora_rank must be positive, got {c['lora_rank']}")
    q = c.get("quality_steps_multiplier", {})
    missing = [o for o in MEMORY_OPTIMIZERS if o not in q]
    if missing:
        errors.append(f"lab08_training.toml [common]: quality_steps_multiplier lacks {missing}")
    if errors:
        raise UsageError("invalid scenario data: " + "; ".join(errors))
    return raw


@cache
def common() -> Common:
    c = _raw()["common"]
    return Common(
        quality_steps_multiplier=dict(c["quality_steps_multiplier"]),
        trainable_fractions=tuple(float(x) for x in c["trainable_fractions"]),
        freeze_steps_multiplier=tuple(float(x) for x in c["freeze_steps_multiplier"]),
        int8_block_size=c["int8_block_size"], loss_scale_init=float(c["loss_scale_init"]),
        loss_scale_growth_interval=c["loss_scale_growth_interval"], max_nan_per_step=float(c["max_nan_per_step"]),
        gradient_clip_norm=float(c["gradient_clip_norm"]), lora_rank=c["lora_rank"],
        adapter_steps_multiplier={k: float(v) for k, v in c["adapter_steps_multiplier"].items()},
        sources={k[:-7]: v for k, v in c.items() if k.endswith("_source")},
    )


@cache
def scenario(track: str) -> TrainingScenario:
    """The lab 08 numbers of a track (cloud, edge, mobile, tiny)."""
    key = track.lower().split("-")[0].split("_")[0]
    if key not in TRACKS:
        raise unknown_name("track", track, list(TRACKS))
    t = _raw()[key]
    return TrainingScenario(
        track=key, source=t["source"], tp=t["memory_tp"], pp=t["memory_pp"], dp=t["memory_dp"],
        batch_per_replica=t["memory_batch_per_replica"], memory_micro_batches=tuple(t["memory_micro_batches"]),
        memory_precisions=tuple(t["memory_precisions"]), memory_optimizers=tuple(t["memory_optimizers"]),
        memory_adapters=tuple(t.get("memory_adapters", ["none"])),
        zero_max=t["memory_zero_max"], offload=t["memory_offload"], frozen_store=t["memory_frozen_store"],
        flash_free_bytes=t["flash_free_bytes"], host_memory_bytes=t["host_memory_per_device_gb"] * GB,
        pcie_bandwidth=t["pcie_gbps_per_device"] * GB,
        host_memory_bandwidth=t["host_memory_bandwidth_gbps_per_device"] * GB, memory_source=t["memory_source"],
        memory_task=t["memory_task"],
        cpu_cores=t["cpu_cores"], reserved_cores=t["reserved_cores"], max_devices=t["max_devices"],
        augment_s_per_sample=float(t["augment_s_per_sample"]), sample_bytes=t["sample_bytes"],
        dataset_samples=t["dataset_samples"], storage_bandwidth=t["storage_gbps"] * GB,
        host_to_device_bandwidth=t["host_to_device_gbps"] * GB, pipeline_source=t["pipeline_source"],
        pipeline_model=t.get("pipeline_model"), pipeline_seq_len=t.get("pipeline_seq_len"),
        pipeline_micro_batch=t.get("pipeline_micro_batch"),
        text_augment_s_per_sample=(float(t["text_augment_s_per_sample"]) if "text_augment_s_per_sample" in t
                                   else None),
        text_sample_bytes=t.get("text_sample_bytes"),
        target_mfu=float(t["target_mfu"]), network_headroom=float(t["network_headroom"]),
        micro_batches=tuple(t["micro_batches"]), max_accumulation=t["max_accumulation"],
        plan_search_batches=tuple(t.get("plan_search_batches", ())),
        batch_precisions=tuple(t["batch_precisions"]), critical_batch_samples=t.get("critical_batch_samples"),
        critical_batch_loss_nats=t.get("critical_batch_loss_nats"), critical_batch_source=t["critical_batch_source"],
        activation_log2=(float(t["activation_log2_median"]), float(t["activation_log2_sigma"])),
        gradient_log2=(float(t["gradient_log2_median"]), float(t["gradient_log2_sigma"])),
        numerics_source=t["numerics_source"],
        prep_on_compute_core=bool(t.get("prep_on_compute_core", False)),
    )
