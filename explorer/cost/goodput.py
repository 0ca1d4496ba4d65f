"""Goodput of a long training run: failures, checkpoints and restarts, and the time to train.

A synchronous job stops when any of its N devices fails; with independent exponential failures
at a per-device rate lambda the job's mean time between failures is M = 1 / (N lambda)
(the same model as lab 05's synchronization audit, explorer/puzzles/sync/). Each failure costs
the restart time R plus the work since the last checkpoint; each checkpoint costs its write time C.
The interval that loses the least time and the expected wall time per unit of useful work are
Young's and Daly's (explorer/cost/checkpoint.py, reused here: the numeric minimum of Daly's exact
model M e^(R/M) (e^((tau + C)/M) - 1) / tau). Goodput = useful time / wall time = 1 / that factor.

Time to train = tokens / (tokens per second of the step model x goodput); dollars = GPUs x hours x
price per GPU-hour. All SI: seconds, bytes, bytes/s.

Where the model stops describing a run that can be planned: Young's sqrt(2 C M) is first order, valid for
C << M, and Daly's higher-order estimate for C < 2 M (Daly 2006, sec. 4; beyond it his best interval is M
itself). Daly's exact wall factor stays finite for any C, R and M, so it will price a run whose checkpoint write
outlasts the mean time between failures (goodput ~ 0, a checkpoint interval shorter than the write it protects,
years of wall time): such a run makes no progress worth a plan. GOODPUT_FLOOR = 1/2 makes it infeasible: below it
more of the rented time is lost to failures, restarts and checkpoint writes than spent training, and since the
wall factor is at least the failure-free (tau + C) / tau, a goodput of 1/2 or more guarantees an interval tau >= C
(and C < M: at C >= M the factor is at least min over x of (e^(x+1) - 1) / x = 6.3, goodput <= 16%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from explorer.cost.checkpoint import daly_wall_factor, numeric_optima, young_interval
from explorer.errors import InfeasibleError

HOUR_S = 3600.0
GOODPUT_FLOOR = 0.5  # below it a run loses more time than it trains: infeasible (module docstring)


def per_device_failure_rate(interruptions: float, days: float, devices: int) -> float:
    """Failures per device-second from an observed count: interruptions / (days x 86,400 x devices).

    Llama 3 (arXiv 2407.21783, sec. 3.3.4): 419 unexpected interruptions in 54 days on 16,384 H100s
    -> 5.48e-9 per GPU-second, i.e. one per 50,677 GPU-hours."""
    return interruptions / (days * 86400.0 * devices)


def job_mtbf_s(rate_per_device_s: float, devices: int) -> float:
    """Mean time between job-stopping failures of a synchronous job on `devices` devices: 1 / (N lambda)."""
    return 1.0 / (rate_per_device_s * devices)


def checkpoint_bytes(params: float, weight_bytes: int, optimizer_bytes: int) -> float:
    """Bytes of a restartable checkpoint: the working weights plus the optimizer state (fp32 master and
    Adam moments for mixed precision: 2 + 12 = 14 bytes/param; ZeRO paper, Rajbhandari et al. 2020, sec. 3.1)."""
    return float(params) * (weight_bytes + optimizer_bytes)


def checkpoint_write_s(state_bytes: float, nodes: int, node_write_bps: float, storage_write_bps: float) -> float:
    """Write time of a sharded checkpoint (every node writes its shard in parallel, as Megatron's and
    torch.distributed.checkpoint's distributed formats do): state / min(nodes x per-node write rate,
    the storage system's aggregate rate)."""
    return state_bytes / min(nodes * node_write_bps, storage_write_bps)


@dataclass(frozen=True)
class Goodput:
    """Checkpoint and failure figures of one run; times in seconds."""

    mtbf_s: float  # M, the job's mean time between failures
    checkpoint_s: float  # C, one checkpoint write
    restart_s: float  # R, detect + reschedule + reload the last checkpoint
    interval_s: float  # the interval that minimises Daly's expected wall time (numeric)
    young_s: float  # Young 1974: sqrt(2 C M), for comparison
    wall_factor: float  # expected wall time per unit of useful work (Daly 2006), >= 1

    @property
    def goodput(self) -> float:
        """Useful fraction of wall time: 1 / wall factor."""
        return 1.0 / self.wall_factor

    @property
    def failures_per_day(self) -> float:
        return 86400.0 / self.mtbf_s


def _s(x: float) -> str:
    return f"{x:,.0f} s" if x >= 10 else f"{x:.3g} s"


def _no_progress(checkpoint_s: float, restart_s: float, mtbf_s: float) -> tuple[str, list[str]]:
    """The conflict that stops a job making progress, in words: the checkpoint write or the restart against the
    job's mean time between failures (whichever is longer), or both together."""
    c, r, m = checkpoint_s, restart_s, mtbf_s
    if c >= m:
        return (f"a checkpoint write takes {_s(c)}, {c / m:,.3g}x the job's mean time between failures ({_s(m)}), "
                f"so most writes are cut short by a failure", ["checkpoint write", "failures"])
    if r >= m:
        return (f"a restart takes {_s(r)}, {r / m:,.3g}x the job's mean time between failures ({_s(m)}), so "
                f"most restarts are cut short by the next failure", ["restart", "failures"])
    return (f"failures every {_s(m)} on average against a checkpoint write of {_s(c)} and a restart of {_s(r)}",
            ["checkpoint write", "restart", "failures"])


def goodput(checkpoint_s: float, restart_s: float, mtbf_s: float, floor: float = GOODPUT_FLOOR) -> Goodput:
    """Goodput with the best checkpoint interval; InfeasibleError, naming the checkpoint write or the restart
    against the job's mean time between failures, when the job cannot make progress worth a plan: Daly's factor
    overflows, the goodput is below `floor`, or the best interval is shorter than the write it protects."""
    if restart_s + checkpoint_s > 50.0 * mtbf_s:
        raise InfeasibleError(f"failures every {mtbf_s:.3g} s on average, but a restart and a checkpoint take "
                              f"{restart_s + checkpoint_s:.3g} s: the job makes no progress", ["failures"])
    _, tau = numeric_optima(checkpoint_s, mtbf_s, restart_s)
    wall = daly_wall_factor(tau, checkpoint_s, mtbf_s, restart_s)
    if not math.isfinite(wall):
        raise InfeasibleError(f"failures every {mtbf_s:.3g} s on average: the job makes no progress", ["failures"])
    if 1.0 / wall < floor or tau < checkpoint_s:
        why, conflicts = _no_progress(checkpoint_s, restart_s, mtbf_s)
        short = f"; the best checkpoint interval ({_s(tau)} of work) is shorter than the write" \
            if tau < checkpoint_s else ""
        g = f"{1.0 / wall:.2%}" if 1.0 / wall >= 1e-4 else "under 0.01%"
        raise InfeasibleError(f"{why}: goodput {g}, below the {floor:.0%} floor (more time lost to "
                              f"failures, restarts and checkpoints than spent training){short}", conflicts)
    return Goodput(mtbf_s=mtbf_s, checkpoint_s=checkpoint_s, restart_s=restart_s, interval_s=tau,
                   young_s=young_interval(checkpoint_s, mtbf_s), wall_factor=wall)


def time_to_train_s(tokens: float, tokens_per_s: float, goodput_fraction: float) -> float:
    """Wall time to process `tokens` at the step model's throughput, slowed by the goodput."""
    return tokens / (tokens_per_s * goodput_fraction)


def run_cost_usd(devices: int, wall_s: float, usd_per_device_hour: float) -> float:
    """Dollars for `devices` rented for `wall_s` seconds (failed time is paid for too)."""
    return devices * wall_s / HOUR_S * usd_per_device_hour
