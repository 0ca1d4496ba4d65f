"""The compression puzzle's figures: what each wire scheme's synchronisation and kernels cost per step on the
track (explorer/cost: the collectives as NCCL runs them where the track names a plan, the compression kernels of
explorer/cost/compression.py), the seeded convergence experiment (explorer/sim/compressed_adam.py), and from
both the time to the target loss and the end-to-end speedup; a radio's joules per sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.cost import compression as cc
from explorer.hardware.catalog import get_link
from explorer.puzzles.collective_scenario import CollectiveScenario
from explorer.puzzles.compression.scenario import (
    WIRE,
    CompressionInstance,
    _memory_bandwidth,
    _participants,
    _setup_on,
)
from explorer.sim import compressed_adam as ca


def _overlap_window(sc: CollectiveScenario) -> tuple[float, int]:
    """Backward time of the step's last micro-batch, behind which DDP hides its bucketed all-reduce (Li et
    al. VLDB 2020, sec. 3.2.3), for the largest micro-batch that divides the per-device batch and fits."""
    per_device = max(1, int(round(sc.samples_per_device)))
    fits = [b for b in range(1, per_device + 1) if per_device % b == 0
            and sc.fixed_memory_bytes + b * sc.activation_bytes_per_sample <= sc.memory_limit_bytes]
    b = max(fits) if fits else 1
    return b * sc.backward_s_per_sample, b


def step_times(sc: CollectiveScenario, frac: float, inter_link: str | None = None) -> dict[str, dict[str, float]]:
    """Per-step time of each wire scheme on the track: compute + exposed synchronisation + compression kernels.
    The native-precision all-reduce overlaps the last micro-batch's backward (DDP buckets); a compressed
    momentum exists only after the backward pass, so its all-reduce does not overlap (Tang et al. 2021,
    Algorithm 1)."""
    hide, _ = _overlap_window(sc)
    native_bits = 8.0 * sc.gradient_bytes_per_param
    mem_bw = _memory_bandwidth(sc)
    n = _participants(sc)
    out = {}
    for s in cc.SCHEMES:
        bits = cc.bits_per_element(s, frac)
        nbytes = sc.params * bits / 8.0
        # top-k's workers keep different indices: their (value, index) pairs are all-gathered, not all-reduced
        # (explorer/cost/compression.py, 'What the synchronisation moves')
        # 1-bit Adam's compressed all-reduce: an all-to-all of the sign chunks, then an all-gather of the servers'
        # re-compressed chunks (explorer/cost/compression.py); the scales' all-gather (N floats) is left out
        sync = (_allgather_time(sc, cc.topk_allgather_bytes(sc.params, frac, n), inter_link)
                if s in cc.ALLGATHER_SCHEMES else
                _alltoall_time(sc, nbytes, inter_link) + _allgather_time(sc, nbytes, inter_link)
                if s in cc.ALLTOALL_SCHEMES else sc.dp_sync_time(nbytes, inter_link))
        kernels = cc.compression_time(s, sc.params, n, mem_bw, native_bits, frac)
        exposed = max(0.0, sync - hide) if s in ("fp32", "fp16") else sync
        out[s] = {"bits": bits, "bytes": nbytes, "received": cc.received_bytes_per_worker(s, sc.params, n, frac),
                  "collective": ("all-gather" if s in cc.ALLGATHER_SCHEMES else "all-to-all + all-gather"
                                 if s in cc.ALLTOALL_SCHEMES else "all-reduce"), "sync_s": sync,
                  "compress_s": kernels, "exposed_s": exposed, "step_s": sc.compute_s_per_step + exposed + kernels}
    return out


def _allgather_time(sc: CollectiveScenario, total_bytes: float, inter_link: str | None = None) -> float:
    """One all-gather of total_bytes (N messages) over the workers sc.dp_sync_time all-reduces over: as NCCL runs
    it (ring, rails) on a step-model track, else the textbook ring over the crossover link."""
    from explorer.cost import collectives as col

    if sc.setup is not None:
        from explorer.cost.time import all_gather

        return float(all_gather(_setup_on(sc, inter_link), total_bytes, sc.devices))
    link = sc.crossover_link if inter_link is None else get_link(inter_link)
    # each ring step is an exchange (a member sends one message and receives another): half the rate on a
    # half-duplex radio (links.toml duplex; collectives.exchange_bandwidth)
    return float(col.all_gather_time(total_bytes, sc.crossover_n, link.latency_s,
                                     col.exchange_bandwidth(link.effective_bandwidth, link.half_duplex)))


def _alltoall_time(sc: CollectiveScenario, m_bytes: float, inter_link: str | None = None) -> float:
    """One all-to-all of each worker's m_bytes over the same workers: NCCL's grouped sends, each GPU's off-node
    blocks through its own NIC (time.all_to_all) on a step-model track, else the textbook pairwise exchange over
    the crossover link (collectives.all_to_all_time)."""
    from explorer.cost import collectives as col

    if sc.setup is not None:
        from explorer.cost.time import all_to_all

        return float(all_to_all(_setup_on(sc, inter_link), m_bytes, sc.devices))
    link = sc.crossover_link if inter_link is None else get_link(inter_link)
    return float(col.all_to_all_time(m_bytes, sc.crossover_n, link.latency_s, link.effective_bandwidth,
                                     link.half_duplex))


def time_to_target(steps: int | None, warmup: int, compressed_from: int | None, t_full: float,
                   t_compressed: float) -> float | None:
    """Seconds to the target: the steps run at full precision (all of them, or the warm-up) at t_full, the
    rest at t_compressed; None when the run never reaches the target."""
    if steps is None:
        return None
    if compressed_from is None:
        return steps * t_full
    full = min(steps, compressed_from)
    return full * t_full + (steps - full) * t_compressed


def _per_device_bytes(m_bytes: float, sc: CollectiveScenario) -> float:
    """Bytes one device sends in a ring all-reduce of m_bytes (and as many it receives): 2(N-1)/N x M."""
    from explorer.cost.collectives import ring_allreduce_bytes_per_device

    return float(ring_allreduce_bytes_per_device(m_bytes, sc.crossover_n))


def _sync_energy_j(m_bytes: float, sc: CollectiveScenario, j_per_bit: float) -> float:
    """Radio joules of one device in one ring all-reduce of m_bytes: its sent and its received bytes
    (energy.transfer_energy_j, the rule the crossover and fleet answers use)."""
    from explorer.cost.energy import transfer_energy_j

    b = _per_device_bytes(m_bytes, sc)
    return float(transfer_energy_j(b, b, j_per_bit))


@dataclass(frozen=True)
class Measurement:
    """The seeded runs and what their steps cost on the track: the figures the report words."""

    runs: dict[str, dict[str, Any]]  # per simulated scheme (compressed_adam.SCHEMES): loss curve, final loss, ...
    native_sim: str  # the simulated scheme at the track's own precision ('fp16' or 'adam')
    base_run: dict[str, Any]
    target: float  # the target training loss
    reach: dict[str, int | None]  # steps to the target, None: not reached
    native_wire: str  # the wire scheme at the track's own precision ('fp16' or 'fp32')
    cost: dict[str, dict[str, float]]  # step_times on the track's link, per wire scheme
    t_full: float  # a native-precision step (s)
    ttt: dict[str, float | None]  # time to the target (s), None: never
    speedup: dict[str, float | None]  # end to end against native precision
    contrast: dict[str, Any] | None  # the same on the scenario's contrast link, if it names one
    n_sync: int  # workers in the synchronisation
    n_cross: float  # workers above which top-k receives more bytes than the dense all-reduce
    ratio_native: float  # 1-bit's bits per message against the track's gradients
    volume: float  # bytes over the whole run, native / 1-bit Adam (warm-up included)


def measure(inst: CompressionInstance) -> Measurement:
    """The convergence experiment (seeded numpy) and what a step costs on the track's link."""
    sc, sim, frac, workers, steps, warm, seed = (inst.sc, inst.sim, inst.frac, inst.workers, inst.steps, inst.warm,
                                                 inst.seed)
    # --- the convergence experiment (seeded numpy) ------------------------------------------------
    prob = ca.make_problem(workers, int(sim["features"]), int(sim["samples_per_worker"]), seed,
                           int(sim["classes"]), int(sim["hidden"]), float(sim["condition"]), float(sim["label_noise"]))
    native_sim = "fp16" if sc.gradient_bytes_per_param == 2 else "adam"
    # the compressed schemes' warm-up runs at the track's gradient precision, as the baseline and the cost do
    runs = {s: ca.run(prob, s, steps, float(sim["learning_rate"]), warm, frac, native_fp16=native_sim == "fp16")
            for s in ca.SCHEMES}
    base_run = runs[native_sim]
    target = runs["adam"]["loss"][int(round(sim["target_fraction"] * steps))]
    reach = {s: ca.steps_to_target(r["loss"], target) for s, r in runs.items()}
    compressed_from = {"adam": None, "fp16": None, "onebit_noef": warm, "onebit": warm, "onebit_nowarmup": 1,
                       "topk": warm}

    # --- what a step costs on the track's link ---------------------------------------------------------------
    native_wire = "fp16" if sc.gradient_bytes_per_param == 2 else "fp32"
    cost = step_times(sc, frac)
    t_full = cost[native_wire]["step_s"]
    ttt = {s: time_to_target(reach[s], warm, compressed_from[s], t_full if compressed_from[s] else
                             cost[WIRE[s]]["step_s"], cost[WIRE[s]]["step_s"]) for s in ca.SCHEMES}
    t_base = ttt[native_sim]
    speedup = {s: (t_base / v if (v and t_base) else None) for s, v in ttt.items()}

    contrast_key = sc.extra.get("compression_contrast_link")
    contrast = None
    if contrast_key:
        c_cost = step_times(sc, frac, contrast_key)
        c_full = c_cost[native_wire]["step_s"]
        c_t = {s: time_to_target(reach[s], warm, compressed_from[s], c_full, c_cost[WIRE[s]]["step_s"])
               for s in ("onebit", "topk")}
        c_base = time_to_target(reach[native_sim], warm, None, c_full, 0.0)
        contrast = {"name": get_link(contrast_key).name, "cost": c_cost,
                    "speedup": {s: (c_base / v if v and c_base else None) for s, v in c_t.items()}}

    n_sync = _participants(sc)
    native_bytes = sc.gradient_bytes_per_param
    n_cross = cc.topk_dense_crossover_workers(frac, native_bytes)
    ratio_native = 8.0 * sc.gradient_bytes_per_param / cost["onebit"]["bits"]
    volume = 1.0 / (warm / steps + (1 - warm / steps) / ratio_native)
    return Measurement(runs, native_sim, base_run, target, reach, native_wire, cost, t_full, ttt, speedup, contrast,
                       n_sync, n_cross, ratio_native, volume)
