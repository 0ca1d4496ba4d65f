"""Lab 06 scenario per track, loaded from explorer/data/lab06_collective.toml and validated at load.

Links resolve through the hardware catalog (alpha, bandwidth x efficiency, latency_cv, radio
energy); the gradient size is params (models catalog) x bytes per gradient element.

A track may instead name a real training plan (`step_model = true`: the model trained purely data
parallel over all the devices, with a ZeRO stage and recomputation): then its memory split and
backward time come from the shared step model (explorer/cost/step.py) on that plan rather than from
hand-set numbers, and its data-parallel synchronisation is timed as NCCL runs it (rings per rail).
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
            "global_batch", "max_accumulation", "compression_workers")
# set by hand on fleet tracks; derived from the step model on a track with `step_model = true`
_DERIVED = ("memory_limit_bytes", "fixed_memory_bytes", "activation_bytes_per_sample", "accumulation_buffer_bytes",
            "backward_s_per_sample")
_PLAN = ("seq_len", "zero", "recompute")
_STRINGS = ("scenario", "model", "crossover_link", "intra_link", "inter_link", "source")
_SIM = ("features", "hidden", "classes", "samples_per_worker", "steps", "learning_rate", "warmup_fraction",
        "target_fraction", "seed", "condition", "label_noise", "topk_fraction")


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
    setup: Any = None  # explorer.cost.setup.Setup of the named plan (step-model tracks), else None
    plan: Any = None  # explorer.plan.ParallelPlan at micro-batch 1 (step-model tracks), else None
    derivation: str = ""  # how the memory split and backward time were derived (step-model tracks)
    compute_over_backward: float = 1.5  # forward + backward over backward (+ recomputation on step-model tracks)

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

    @property
    def samples_per_device(self) -> float:
        """Samples each device processes per step (global batch / devices)."""
        return self.global_batch / self.devices

    @property
    def backward_s_per_step(self) -> float:
        return self.backward_s_per_sample * self.samples_per_device

    @property
    def compute_s_per_step(self) -> float:
        """Forward + backward per step: the backward is 2 of the 3 forward-equivalents of a training step
        (docs/conventions.md 'Utilisation'), so compute = 1.5 x backward (the step model's own split where the
        track names a plan: see `derivation`)."""
        return self.backward_s_per_step * self.compute_over_backward

    def dp_sync_time(self, m_bytes: float, inter_link: str | None = None,
                     inter_bandwidth: float | None = None) -> float:
        """One data-parallel all-reduce of m_bytes per device over all the devices: as NCCL runs it (rings
        per rail, ring or tree per call) on a step-model track, else the textbook ring over the crossover
        link (docs/conventions.md 'Collectives'). `inter_link` swaps the network (a catalog key); `inter_bandwidth`
        sets its achievable bandwidth per NIC (bytes/s), for what-if questions."""
        from dataclasses import replace

        from explorer.cost import collectives as col

        if self.setup is not None:
            from explorer.cost.time import allreduce
            from explorer.hardware.catalog import build_cluster

            setup = self.setup
            c = setup.cluster
            if inter_link is not None:
                c = build_cluster(c.accelerator.key, c.devices, c.devices_per_node, c.intra.key, inter_link)
            if inter_bandwidth is not None:
                c = replace(c, inter=replace(c.inter, bandwidth=inter_bandwidth / c.inter.efficiency))
            return float(allreduce(replace(setup, cluster=c), m_bytes, self.devices))
        link = self.crossover_link if inter_link is None else get_link(inter_link)
        bw = link.effective_bandwidth if inter_bandwidth is None else inter_bandwidth
        # a half-duplex link (a radio, links.toml duplex) takes each ring step's send and receive in turn
        return float(col.allreduce_time("ring", m_bytes, self.crossover_n, link.latency_s, bw, link.half_duplex))


@cache
def _raw() -> dict:
    with open(_FILE, "rb") as fh:
        return tomllib.load(fh)


def _validate(track: str, t: dict) -> None:
    need = _NUMBERS + _STRINGS + ("aggregation_choices",) + (_PLAN if t.get("step_model") else _DERIVED)
    missing = [k for k in need if k not in t]
    if missing:
        raise ValueError(f"{_FILE.name} [{track}]: missing {', '.join(missing)}")
    bad = [k for k in _NUMBERS + (() if t.get("step_model") else _DERIVED)
           if not isinstance(t[k], (int, float)) or t[k] <= 0]
    if bad:
        raise ValueError(f"{_FILE.name} [{track}]: must be positive numbers: {', '.join(bad)}")
    if t["crossover_n"] < 2 or t["devices_per_group"] * t["groups"] < 2:
        raise ValueError(f"{_FILE.name} [{track}]: a collective needs at least 2 participants")
    agg = t["aggregation_choices"]
    if not agg or any(t["devices_per_group"] % g for g in agg):
        raise ValueError(f"{_FILE.name} [{track}]: aggregation_choices must divide devices_per_group")


def _step_model_numbers(track: str, t: dict) -> dict[str, Any]:
    """Memory split and backward time of the named plan (pure data parallel over every device) from the
    shared step model: fixed = weights + gradients + optimizer + buffers, per sample = activations +
    working buffers at micro-batch 1, backward = the step's compute minus its forward pass."""
    from explorer.cost.efficiency import TYPICAL_GPU_EFFICIENCY
    from explorer.cost.step import estimate
    from explorer.plan import ParallelPlan
    from explorer.puzzles.threed import make_setup
    from explorer.tracks import get_track

    n = int(t["devices_per_group"]) * int(t["groups"])
    # a typical GPU's compute: lab 06's parts sync over varying worker counts against this one backdrop, so the
    # slowest GPU's pace (Setup.pace) is not charged here
    setup = make_setup(get_track(track), model=t["model"], gpus=n, gpus_per_node=int(t["devices_per_group"]),
                       seq_len=int(t["seq_len"]), network=t["inter_link"], intra_network=t["intra_link"],
                       grad_reduce_dtype="bf16" if t["gradient_bytes_per_param"] == 2 else "fp32",
                       efficiency=TYPICAL_GPU_EFFICIENCY)
    plan = ParallelPlan(dp=n, micro_batch=1, global_batch=n, zero=int(t["zero"]), recompute=str(t["recompute"]))
    est = estimate(setup, plan)
    m = setup.model
    fwd = m.model_flops_per_token(setup.seq_len) / 3.0
    rec = m.recompute_flops_per_token(setup.seq_len, plan.recompute) if plan.recompute != "none" else 0.0
    backward_share = (2.0 * fwd + rec) / (3.0 * fwd + rec)  # backward (+ its recomputed forward) of the step
    mem = est.memory
    fixed = mem["weights"] + mem["gradients"] + mem["optimizer"] + mem["buffers"]
    derivation = (
        f"{m.name} trained purely data parallel over {n} GPUs ({t['devices_per_group']} per node), "
        f"{setup.seq_len:,}-token sequences, ZeRO-{plan.zero}, recompute {plan.recompute}, {setup.precision}: "
        f"weights + gradients + optimizer + buffers {fixed:,} B, "
        f"activations + working {mem['activations'] + mem['working']:,} B per sequence, {est.time['compute']:.3f} s of "
        f"compute per sequence of which the backward takes {backward_share:.1%} (explorer/cost/step.py); gradients "
        "accumulate in place in their 16-bit buffer (PyTorch DDP no_sync), so accumulation adds no memory")
    return {"memory_limit_bytes": float(setup.memory_limit_bytes),
            "fixed_memory_bytes": float(fixed),
            "activation_bytes_per_sample": float(mem["activations"] + mem["working"]),
            "accumulation_buffer_bytes": 0.0,
            "backward_s_per_sample": est.time["compute"] * backward_share,
            "setup": setup, "plan": plan, "derivation": derivation, "compute_over_backward": 1.0 / backward_share}


@cache
def get_scenario(track: str) -> CollectiveScenario:
    """The lab 06 scenario of a track (cloud, edge, mobile, tiny)."""
    key = track.lower().split("-")[0]
    if key not in TRACKS:
        raise unknown_name("track", track, list(TRACKS))
    t = _raw()[key]
    _validate(key, t)
    model = get_model(t["model"])
    known = set(_NUMBERS + _STRINGS + _DERIVED + _PLAN + ("aggregation_choices", "inter_through_intra", "step_model"))
    d = _step_model_numbers(key, t) if t.get("step_model") else {k: float(t[k]) for k in _DERIVED}
    sc = CollectiveScenario(
        track=key, scenario=t["scenario"], model_key=t["model"], model_name=model.name, params=int(model.params),
        gradient_bytes_per_param=float(t["gradient_bytes_per_param"]),
        crossover_link=get_link(t["crossover_link"]), crossover_n=int(t["crossover_n"]),
        bucket_bytes=float(t["bucket_bytes"]), intra=get_link(t["intra_link"]), inter=get_link(t["inter_link"]),
        devices_per_group=int(t["devices_per_group"]), groups=int(t["groups"]),
        aggregation_choices=tuple(int(g) for g in t["aggregation_choices"]), global_batch=int(t["global_batch"]),
        max_accumulation=int(t["max_accumulation"]), memory_limit_bytes=d["memory_limit_bytes"],
        fixed_memory_bytes=d["fixed_memory_bytes"], activation_bytes_per_sample=d["activation_bytes_per_sample"],
        accumulation_buffer_bytes=d["accumulation_buffer_bytes"], backward_s_per_sample=d["backward_s_per_sample"],
        compression_workers=int(t["compression_workers"]), source=t["source"],
        extra={k: v for k, v in t.items() if k not in known},
        inter_through_intra=bool(t.get("inter_through_intra", False)),
        setup=d.get("setup"), plan=d.get("plan"), derivation=d.get("derivation", ""),
        compute_over_backward=d.get("compute_over_backward", 1.5),
    )
    return sc


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
