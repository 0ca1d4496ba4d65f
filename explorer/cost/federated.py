"""Fleet learning: how many iterations a federated or decentralized run needs, who takes part in a
round, how many rounds a day fit a fleet's time and energy, and the wall-clock time those rounds take
(time_to_target_s: from a daily window's opening). Pure functions, SI units.

Convergence (an upper bound, not a prediction): Koloskova, Loizou, Boreiri, Jaggi & Stich 2020, "A
Unified Theory of Decentralized SGD with Changing Topology and Local Updates" (ICML), Theorem 2
(non-convex): local SGD with tau local steps between averagings, decentralized (gossip) SGD and their
mix need

    T = O( sigma^2 / (n eps^2) + (zeta tau / p + sigma sqrt(tau / p)) / eps^(3/2) + tau / (p eps) ) x L F0

iterations to reach E|grad f|^2 <= eps, where n = devices averaged, sigma^2 = variance of one device's
stochastic gradient, zeta^2 = dissimilarity of the devices' gradients (non-i.i.d. data), p = the
expected consensus rate of one averaging (p = 1 for an exact average by a server; for a fixed gossip
matrix W, p = 1 - |lambda_2(W)|^2, their Assumption 4 and Table 2). tau = 1, p < 1 is D-PSGD (Lian et
al. 2017, "Can decentralized algorithms outperform centralized algorithms?", NeurIPS); p = 1, tau = H
is local SGD (Stich 2019, "Local SGD converges fast and communicates little", ICLR; Woodworth et al.
2020 show such bounds are not tight for i.i.d. data). Partial participation adds the client-sampling
term of FedAvg, tau (1 - S/N) G^2 / (S eps^2) in iterations (Karimireddy et al. 2020, "SCAFFOLD",
ICML, Theorem I, non-convex case; G^2 bounds the dissimilarity as zeta^2 does here).

Dimensionless form used here (the O(.) constants set to 1; only ratios between configurations are
read from it, anchored to one reference run in the scenario data):
  * sigma^2 for a local batch of b samples = sigma_1^2 / b, and sigma_1^2 / eps = B_noise, the gradient
    noise scale at the target (McCandlish et al. 2018, arXiv 1812.06162, eq. 2.8: B_simple =
    tr(Sigma) / |G|^2, with |G|^2 = eps at the target), the track's critical batch;
  * zeta = z sigma_1 (z: heterogeneity of the devices' data, an assumption of the scenario);
  * T / (L F0 / eps) = B/(n b) + sqrt(B) (z tau/p + sqrt(tau/(p b))) + tau/p + tau (1 - S/N) z^2 B / S.
At tau = p = 1, S = N the bound keeps its consensus terms although every iterate is averaged: it is
an upper bound that is loose there (the same looseness for every configuration compared).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from explorer.errors import UsageError

SECONDS_PER_DAY = 86400.0


def consensus_rate(slem: ArrayLike) -> np.ndarray | float:
    """Koloskova et al. 2020's p for a fixed symmetric doubly stochastic W: one averaging shrinks
    |X - Xbar|^2 by at least |lambda_2|^2, so p = 1 - |lambda_2|^2 (1 for an exact average)."""
    s = np.asarray(slem, dtype=float)
    if np.any((s < 0) | (s > 1)):
        raise UsageError(f"|lambda_2| must lie in [0, 1], got {slem!r}")
    p = 1.0 - s ** 2
    return float(p) if np.ndim(p) == 0 else p


def iterations_bound(noise_batch: float, local_batch: ArrayLike, n: ArrayLike, tau: ArrayLike, p: ArrayLike = 1.0,
                     heterogeneity: float = 0.0, sample_fraction: ArrayLike = 1.0) -> np.ndarray | float:
    """Iterations to the target in units of L F0 / eps (module docstring): the Koloskova et al. 2020
    Theorem 2 bound with client sampling (Karimireddy et al. 2020 Theorem I), constants set to 1.

    noise_batch: B_noise (samples); local_batch: b samples per local step; n: devices averaged per
    round (S, the on-time participants); tau: local steps between averagings; p: consensus rate of one
    averaging; heterogeneity: z = zeta / sigma_1; sample_fraction: S / N."""
    if not noise_batch > 0:
        raise UsageError(f"gradient noise scale must be positive, got {noise_batch!r}")
    b = np.asarray(local_batch, dtype=float)
    n_a = np.asarray(n, dtype=float)
    t = np.asarray(tau, dtype=float)
    p_a = np.asarray(p, dtype=float)
    q = np.asarray(sample_fraction, dtype=float)
    if np.any(b <= 0) or np.any(n_a <= 0) or np.any(t < 1) or np.any((p_a <= 0) | (p_a > 1)) or np.any(
            (q <= 0) | (q > 1)):
        raise UsageError("iterations bound needs b > 0, n > 0, tau >= 1, p in (0, 1], S/N in (0, 1]")
    big = float(noise_batch)
    z = float(heterogeneity)
    r = (big / (n_a * b) + math.sqrt(big) * (z * t / p_a + np.sqrt(t / (p_a * b))) + t / p_a
         + t * (1.0 - q) * z * z * big / n_a)
    return float(r) if np.ndim(r) == 0 else r


def on_time_participants(selected: ArrayLike, deadline_quantile: ArrayLike) -> np.ndarray | float:
    """Expected devices that report before a round deadline set at the q-quantile of one device's
    round time: q x selected (each device independently; late ones are dropped, not waited for:
    Bonawitz et al. 2019, 'Towards Federated Learning at Scale: System Design', SysML, sec. 2.2)."""
    r = np.asarray(selected, dtype=float) * np.asarray(deadline_quantile, dtype=float)
    return float(r) if np.ndim(r) == 0 else r


def round_participants(selected: ArrayLike, deadline_quantile: ArrayLike,
                       drops_late: ArrayLike = True) -> np.ndarray | float:
    """Devices averaged in a round. Where the round may leave a late device out, it closes at the deadline and
    averages the q x selected on time (on_time_participants): a star, whose aggregator averages the updates it
    has (Bonawitz et al. 2019 sec. 2.2), and gossip, where each device averages with the neighbours that
    reported. An all-reduce cannot leave a member out part-way: in a ring every chunk passes through every
    member (reduce-scatter then all-gather, Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms
    for clusters of workstations", JPDC), so a member still computing stalls the ring and the round waits for
    it: every selected device is averaged (drops_late False), and the round's local part is the slowest
    member's (slowest_member_steps), not a deadline quantile."""
    q = np.where(np.asarray(drops_late, dtype=bool), np.asarray(deadline_quantile, dtype=float), 1.0)
    r = on_time_participants(selected, q)
    return float(r) if np.ndim(r) == 0 else r


def slowest_member_steps(step_model, members: int, local_steps: int, cells_per_t0: int | None = None) -> float:
    """The local part of a round that waits for every one of `members` devices (an all-reduce:
    round_participants): E[max over the members of the sum of their H local step times], the expected
    H-step time of the slowest (order statistics of the sums: stragglers.expected_max_of_sums; synchronous
    SGD waits for its slowest worker, Dutta et al. 2018 sec. 3, Chen et al. 2016 sec. 3). With a unit
    step model (t0 = 1) it is in units of t0, as a deadline quantile of the same model is."""
    from explorer.cost.stragglers import expected_max_of_sums

    grid = {} if cells_per_t0 is None else {"cells_per_t0": cells_per_t0}  # the grid's resolution, when it has one
    return expected_max_of_sums(step_model, members, local_steps, **grid)


def rounds_per_day(window_s: float, round_s: ArrayLike, budgets: list[tuple[ArrayLike, float]] = (),
                   participation: ArrayLike = 1.0) -> np.ndarray | float:
    """Rounds a fleet can run per day: back to back inside the daily window in which devices may train
    (window_s / round_s), and no more than each per-device daily budget allows when a device takes
    part in a fraction `participation` of the rounds (budget / (participation x use per round)), for
    each (use per round, budget per day) pair, e.g. joules."""
    f = np.asarray(window_s, dtype=float) / np.asarray(round_s, dtype=float)
    q = np.asarray(participation, dtype=float)
    for use, budget in budgets:
        f = np.minimum(f, np.asarray(budget, dtype=float) / (q * np.asarray(use, dtype=float)))
    return float(f) if np.ndim(f) == 0 else f


def whole_rounds(rounds: ArrayLike) -> np.ndarray | float:
    """The rounds a run needs, from the bound's real-valued R: ceil(R). A federated or gossip round is the unit
    the fleet runs (FedAvg's server loop runs rounds t = 1, 2, ..., McMahan et al. 2017 Algorithm 1; a gossip
    step averages once, Lian et al. 2017 Algorithm 1): there is no fraction of a round, so a run whose bound
    asks for 327.56 rounds runs 328 (a relative 1e-12 absorbs float noise in an R that is a whole number,
    e.g. a reference run's own rounds)."""
    r = np.asarray(rounds, dtype=float)
    w = np.ceil(r * (1.0 - 1e-12))
    return float(w) if np.ndim(w) == 0 else w


def time_to_target_s(rounds: ArrayLike, round_s: ArrayLike, per_day: ArrayLike,
                     day_s: float = SECONDS_PER_DAY) -> np.ndarray | float:
    """Wall-clock seconds from the opening of a daily training window until the last of `rounds` rounds
    ends, when the fleet runs `per_day` rounds a day (rounds_per_day), each lasting `round_s`.

    Derivation. Devices train only inside a window that opens once a day (charging, idle and on an
    unmetered link: Bonawitz et al. 2019, "Towards Federated Learning at Scale: System Design", SysML,
    sec. 2); a round starts as soon as the previous one ends, so a day's f = per_day rounds run back to
    back from the window's opening and end f D after it (f D <= window <= one day, since f <= window / D;
    when an energy budget caps f, the day's training stops early). R rounds need n = ceil(R / f) days of
    training. Each of the first n - 1 days is a whole day as far as the run is concerned (the next
    rounds wait for the next opening, one day after the last), and the last day runs the remaining
    R - (n - 1) f rounds:

        T = (ceil(R / f) - 1) x day + (R - (ceil(R / f) - 1) f) x D,

    with R in whole rounds (whole_rounds: a partial round does not exist; a real-valued `rounds` is rounded up
    here, so R = 327.56 runs 328 rounds, T = 328 x D in one window).

    A run that fits in one window (R <= f) takes T = R x D; the per-day average R / f days overstates it
    by up to a day (R / f days - 1 day <= T <= R / f days, equal only when the rounds fill all 24 h).
    f is continuous (a round cut by the window's close resumes at the next opening)."""
    r = np.asarray(rounds, dtype=float)
    d = np.asarray(round_s, dtype=float)
    f = np.asarray(per_day, dtype=float)
    if np.any(~np.isfinite(r) | (r < 0)) or np.any(~np.isfinite(d) | (d <= 0)) or np.any(
            ~np.isfinite(f) | (f <= 0)):
        raise UsageError("time to target needs rounds >= 0, a positive round time and positive rounds per day, "
                         f"got rounds {rounds!r}, round {round_s!r} s, {per_day!r} rounds/day")
    if np.any(f * d > day_s * (1 + 1e-9)):
        raise UsageError(f"{per_day!r} rounds/day of {round_s!r} s do not fit in a day of {day_s:g} s")
    r = np.asarray(whole_rounds(r), dtype=float)
    whole = np.maximum(np.ceil(r / f - 1e-9) - 1.0, 0.0)  # days before the last one (R = k f exactly: k - 1)
    t = whole * day_s + (r - whole * f) * d
    return float(t) if np.ndim(t) == 0 else t


def time_to_target_phases_s(phases: list[tuple[float, float, float]], day_s: float = SECONDS_PER_DAY) -> float:
    """Wall-clock seconds from the opening of a daily window until the last round of a run made of consecutive
    phases, phase i running R_i rounds of D_i seconds at f_i rounds a day (each phase's own rounds_per_day); e.g.
    1-bit Adam's full-precision warm-up rounds, then its compressed ones (Tang et al. 2021, Algorithm 1).

    Derivation (time_to_target_s, phase by phase). A round of phase i uses 1/f_i of a day's capacity: f_i is the
    tighter of the window (window / D_i) and the daily budgets (budget / (q E_i)), rounds_per_day. The run needs
    C = sum_i R_i / f_i days of capacity, so n = ceil(C) training days; rounds run back to back from each window's
    opening, the first n - 1 days count whole and the last holds the rounds whose capacity lies in [n - 1, C]:

        T = (n - 1) x day + sum_i f_i D_i |[C_(i-1), C_i] intersect [n - 1, C]|,   C_i = sum_(j <= i) R_j / f_j.

    One phase gives T = (ceil(R/f) - 1) day + (R - (ceil(R/f) - 1) f) D, time_to_target_s. When the phases' rounds a
    day are capped by different limits (one phase by the window, the other by the energy budget), a day holding both
    is charged the sum of its rounds' shares of their own binding limit, which is at least their share of either
    limit alone: the schedule stays within both, and T is then an upper bound (exact when one limit binds both).
    Rounds are whole in each phase (whole_rounds)."""
    if not phases:
        raise UsageError("time to target needs at least one phase of rounds")
    caps, rates, total = [], [], 0.0
    for rounds, round_s, per_day in phases:
        r = float(whole_rounds(rounds))
        d, f = float(round_s), float(per_day)
        if not (math.isfinite(r) and r >= 0 and math.isfinite(d) and d > 0 and math.isfinite(f) and f > 0):
            raise UsageError("time to target needs rounds >= 0, a positive round time and positive rounds per day, "
                             f"got rounds {rounds!r}, round {round_s!r} s, {per_day!r} rounds/day")
        if f * d > day_s * (1 + 1e-9):
            raise UsageError(f"{per_day!r} rounds/day of {round_s!r} s do not fit in a day of {day_s:g} s")
        caps.append((total, total + r / f))
        rates.append((f, d))
        total += r / f
    whole = max(math.ceil(total - 1e-9) - 1.0, 0.0)  # days before the last one (C = k exactly: k - 1)
    last = sum(f * d * max(0.0, min(hi, total) - max(lo, whole)) for (lo, hi), (f, d) in zip(caps, rates))
    return whole * day_s + last


def available_seconds(hours_per_day: float) -> float:
    """Seconds per day a device may train (charging, idle and on an unmetered link in Bonawitz et
    al. 2019 sec. 2; the hours are the scenario's)."""
    if not 0 < hours_per_day <= 24:
        raise UsageError(f"available hours per day must lie in (0, 24], got {hours_per_day!r}")
    return hours_per_day * 3600.0


def server_sync_time(selected: ArrayLike, down_bytes: ArrayLike, up_bytes: ArrayLike, alpha: float,
                     link_bandwidth: float, server_bandwidth: float, down_bandwidth: float | None = None,
                     down_alpha: float | None = None) -> np.ndarray | float:
    """One exchange through an aggregator (FedAvg: McMahan et al. 2017, "Communication-efficient learning of
    deep networks from decentralized data", AISTATS): every selected device downloads the model and uploads its
    update over its own link at the same time, the download first (the device trains on the model it received),
    alpha_down + down / B_down + alpha + up / B, while the aggregator's network carries all of them,
    K (down + up) / B_server (each way at B_server; down and up counted together as in the fleet 3D model's
    server time); the exchange lasts the longer of the two.

    link_bandwidth and alpha are the device's uplink (what it sends); down_bandwidth and down_alpha its downlink,
    where the radio is asymmetric (hardware/data/links.toml <key>_down: 5G's lte_5g_down, Ookla Q3 2023 median
    203 Mb/s down against 19 Mb/s up), as the fleet 3D model charges a download (fleet3d.model.sync_costs,
    Tier.down). None: one rate and one latency both ways, 2 alpha + (down + up) / B."""
    b_down = link_bandwidth if down_bandwidth is None else down_bandwidth
    a_down = alpha if down_alpha is None else down_alpha
    for name, v in (("uplink bandwidth", link_bandwidth), ("downlink bandwidth", b_down),
                    ("aggregator bandwidth", server_bandwidth)):
        if not (math.isfinite(v) and v > 0):
            raise UsageError(f"{name} must be a positive finite number of bytes/s, got {v!r}")
    k = np.asarray(selected, dtype=float)
    down = np.asarray(down_bytes, dtype=float)
    up = np.asarray(up_bytes, dtype=float)
    device = server_device_sync_time(down, up, a_down, b_down, alpha, link_bandwidth)
    t = np.maximum(device, k * (down + up) / server_bandwidth)
    return float(t) if np.ndim(t) == 0 else t


def server_device_sync_time(down_bytes: ArrayLike, up_bytes: ArrayLike, down_alpha: float, down_bandwidth: float,
                            alpha: float, bandwidth: float) -> np.ndarray | float:
    """A device's part of one exchange through an aggregator (FedAvg: McMahan et al. 2017, "Communication-efficient
    learning of deep networks from decentralized data", AISTATS: the global model down, the update up, over the
    device's own link): the download first, then the upload, each one point-to-point send (alpha + M/B,
    explorer.cost.collectives.p2p_time) at its own rate and latency, (alpha_down + down / B_down) +
    (alpha + up / B). On an asymmetric radio the download runs on the downlink (hardware/data/links.toml
    <key>_down: 5G's lte_5g_down, Ookla Q3 2023 median 203 Mb/s down against 19 Mb/s up), the upload on the
    uplink; where symmetric, pass the same alpha and B twice. Each alpha is its link's latency_s (links.toml; 5G:
    30 ms a send, inside the 20-40 ms round trip of 3GPP TS 38.913 that it cites).

    The exchange's latency part, alpha_down + alpha, is this with no bytes (down_bytes = up_bytes = 0): the fleet
    3D model reads it apart (fleet3d tables.sync_latency) where the radio's rate spreads over the fleet, since a
    spread stretches only the transfer time, device by device (radio_time_quantile)."""
    from explorer.cost.collectives import p2p_time

    return p2p_time(down_bytes, down_alpha, down_bandwidth) + p2p_time(up_bytes, alpha, bandwidth)


def star_ring_crossover(selected: int, alpha: float, link_bandwidth: float, server_bandwidth: float,
                        largest_bytes: float = 1e15, half_duplex: bool = False,
                        down_bandwidth: float | None = None, down_alpha: float | None = None) -> float | None:
    """Update size M* at which the aggregator exchange (M down, M up; server_sync_time) and a ring all-reduce
    of M among the same K devices over the same link take the same time (SciPy brentq on log10 M over
    [1 B, largest_bytes]); None when one is faster at every size there. The ring is
    explorer.cost.collectives.relayed_ring_allreduce_time with one hop: on a half-duplex radio (links.toml
    duplex = "half") each of its 2 (K-1) steps is an exchange, alpha + 2 M/(K B), as the star's down and up take
    turns on the device's radio ((M_down + M_up)/B); on a wire, alpha + M/(K B). Small updates favour the star
    (2 alpha against the ring's 2 (K-1) alpha); large ones favour the ring only once the aggregator's network is
    the bottleneck: K / B_server > 1 / B on a wire, K / B_server > 2 (K-1) / (K B) on a half-duplex radio.

    down_bandwidth, down_alpha: the star's download on an asymmetric radio's downlink (server_sync_time; 5G's
    lte_5g_down). The ring's hops stay at the uplink's B: a device-to-device hop goes up the sender's uplink and
    down the receiver's downlink through the operator's core, so it runs at the slower of the two, the uplink. The
    star's device part then grows as M (1/B_down + 1/B) against the ring's 2 (K-1)/(K B) M on a wire and
    4 (K-1)/(K B) M on a half-duplex radio, so a faster downlink moves M* up or removes it."""
    from scipy.optimize import brentq

    from explorer.cost.collectives import relayed_ring_allreduce_time

    def gap(log_m: float) -> float:
        m = 10.0 ** log_m
        return float(server_sync_time(selected, m, m, alpha, link_bandwidth, server_bandwidth, down_bandwidth,
                                      down_alpha)
                     - relayed_ring_allreduce_time(m, selected, alpha, link_bandwidth, 1, half_duplex))

    lo, hi = 0.0, math.log10(largest_bytes)
    if gap(lo) * gap(hi) > 0:
        return None
    return 10.0 ** brentq(gap, lo, hi, xtol=1e-12)


# --- a radio whose rate differs from device to device ---------------------------------------------------------
RADIO_SPREAD_ATOMS = 4096
"""Equal-probability atoms that stand for the distribution of a device's H local steps when a round's time also
carries a radio transfer whose rate spreads over the fleet (device_round_quantile): the p-quantiles of that sum at
p = (i + 1/2) / RADIO_SPREAD_ATOMS. The compute's tail beyond its 1 - 1/8192 quantile is cut there (a shift of the
deadline below 1e-4 relative wherever the radio's part of the round is a few percent or more)."""


def radio_time_mean_factor(sigma: float) -> float:
    """Mean over a fleet's devices of the time (and the radio energy: a radio's power over its rate) one transfer
    takes, relative to the median device's, when a device's rate is the median rate x e^(-sigma Z), Z ~ N(0, 1)
    (links.toml throughput_sigma): E[e^(sigma Z)] = e^(sigma^2 / 2), the lognormal mean (Johnson, Kotz &
    Balakrishnan, Continuous Univariate Distributions vol. 1, ch. 14)."""
    s = float(sigma)
    if not (math.isfinite(s) and s >= 0):
        raise UsageError(f"throughput spread sigma must be a finite number >= 0, got {sigma!r}")
    return math.exp(0.5 * s * s)


def radio_time_quantile(t_median: float, sigma: float, q: float) -> float:
    """The q-quantile over a fleet's devices of a transfer's time, the median device's t_median stretched by the
    lognormal spread of rates (links.toml throughput_sigma): t_median x e^(sigma Phi^-1(q))."""
    from scipy.special import ndtri

    if not 0.0 < q < 1.0:
        raise UsageError(f"quantile must lie in (0, 1), got {q!r}")
    return float(t_median * math.exp(float(sigma) * float(ndtri(q))))


def radio_time_expected_max(t_median: float, sigma: float, n: int) -> float:
    """E[max over n devices] of a transfer's time, the median device's t_median stretched by the lognormal spread of
    rates (links.toml throughput_sigma): what a round that waits for every device's sync waits for. The radio part of
    device_round_expected_max (no compute, no latency); n = 1: the lognormal mean, t_median e^(sigma^2 / 2)."""
    if sigma == 0:
        return float(t_median)
    return device_round_expected_max(None, 1, n, 0.0, 0.0, t_median, sigma)


@lru_cache(maxsize=256)
def _unit_sum_atoms(step_model, h: int, points: int = RADIO_SPREAD_ATOMS) -> np.ndarray:
    """`points` equal-probability atoms of the sum of h unit step times (stragglers.sum_distribution):
    the least grid value whose CDF reaches each p = (i + 1/2) / N, the quantile on that grid."""
    from explorer.cost.stragglers import sum_distribution

    values, cdf = sum_distribution(step_model, h)
    p = (np.arange(points) + 0.5) / points
    idx = np.minimum(np.searchsorted(cdf, p - 1e-12), values.size - 1)
    atoms = values[idx]
    atoms.flags.writeable = False  # shared through the cache
    return atoms


def _round_cdf(d: np.ndarray, atoms: np.ndarray, t_local: float, t_fixed: float, t_spread: float,
               sigma: float) -> np.ndarray:
    """P(t_fixed + t_local S + t_spread L <= d) for each d: the mean over S's atoms of the lognormal L's CDF at
    (d - t_fixed - t_local s) / t_spread (S and L independent: a device's compute and its radio)."""
    from scipy.special import ndtr

    d = np.asarray(d, dtype=float)
    room = d[..., None] - t_fixed - t_local * atoms  # what is left for the radio after the compute
    with np.errstate(divide="ignore"):
        z = np.where(room > 0, np.log(np.maximum(room, 1e-300) / t_spread) / sigma, -np.inf)
    return ndtr(z).mean(axis=-1)


def device_round_quantile(step_model, h: int, q: float, t_local: float, t_fixed: float, t_spread: float,
                          sigma: float) -> float:
    """The q-quantile of one device's round time t_fixed + t_local S_h + t_spread L: a deadline that a fraction q
    of the selected devices meets (the others are dropped, Bonawitz et al. 2019 sec. 2.2), when the round carries
    a radio transfer whose rate spreads over the fleet. S_h: the sum of h unit step times (step_model, t0 = 1,
    stragglers.sum_of_steps); t_local: one step's time; t_fixed: the transfers' latencies; t_spread: the median
    device's transfer time (bytes / rate); L = e^(sigma Z), Z ~ N(0, 1): the device's transfer time over the
    median's, lognormal with median 1 (links.toml throughput_sigma, Ookla's spread of one radio's rates over its
    users). sigma = 0: t_fixed + t_spread + t_local x Q_q(S_h), stragglers.quantile_of_sum exactly."""
    from scipy.optimize import brentq

    from explorer.cost.stragglers import quantile_of_sum

    q = float(q)
    if not 0.0 < q < 1.0:
        raise UsageError(f"deadline quantile must lie in (0, 1), got {q!r}")
    if sigma == 0 or t_spread <= 0:
        return float(t_fixed + t_spread + t_local * quantile_of_sum(step_model, h, q))
    atoms = _unit_sum_atoms(step_model, h)
    # bounds on the atoms' sum: with the radio at its own q-quantile, the fastest compute gives a floor (P <= q) and
    # the slowest atom a ceiling (P >= q)
    from scipy.special import ndtri

    radio_q = t_spread * math.exp(sigma * float(ndtri(q)))
    lo = t_fixed + t_local * float(atoms[0]) + radio_q
    hi = t_fixed + t_local * float(atoms[-1]) + radio_q
    if hi <= lo:
        return lo
    return float(brentq(lambda d: float(_round_cdf(d, atoms, t_local, t_fixed, t_spread, sigma)) - q, lo, hi,
                        xtol=1e-12 * hi, rtol=1e-12))


MAX_ATOMS = 1024
MAX_GRID = 2048
"""device_round_expected_max's resolution: atoms of the compute's sum (_unit_sum_atoms) and points of the
integration grid (within 2e-4 relative of 4,096 atoms on 8,192 points on the edge track's storyboard)."""


def device_round_expected_max(step_model, h: int, n: int, t_local: float, t_fixed: float, t_spread: float,
                              sigma: float) -> float:
    """E[max over n devices of t_fixed + t_local S_h + t_spread L] (device_round_quantile's round time): the round
    that waits for every one of n devices, whose radios spread in rate. lower + integral of (1 - F(d)^n) dd, on a
    geometric grid of the radio's share from its floor to where 1 - F < 1e-9 / n (the trapezoid rule). step_model
    None: no compute part (radio_time_expected_max, t_local 0). sigma = 0:
    t_fixed + t_spread + t_local x E[max of n sums] (stragglers.expected_max_of_sums) exactly."""
    from scipy.special import ndtri

    from explorer.cost.stragglers import expected_max_of_sums

    if sigma == 0 or t_spread <= 0:
        return float(t_fixed + t_spread + t_local * expected_max_of_sums(step_model, n, h))
    atoms = np.zeros(1) if step_model is None else _unit_sum_atoms(step_model, h, MAX_ATOMS)
    lower = t_fixed + t_local * float(atoms[0])
    z_hi = float(ndtri(1.0 - 1e-9 / max(n, 1)))
    top = t_fixed + t_local * float(atoms[-1]) + t_spread * math.exp(sigma * z_hi)
    d = lower + np.geomspace(t_spread * math.exp(-8.0 * sigma), top - lower, MAX_GRID)
    cdf = _round_cdf(d, atoms, t_local, t_fixed, t_spread, sigma)
    with np.errstate(divide="ignore"):
        tail = np.where(cdf > 0, -np.expm1(n * np.log(np.maximum(cdf, 1e-300))), 1.0)
    grid = np.concatenate([[lower], d])
    tail = np.concatenate([[1.0], tail])
    return float(lower + np.sum(0.5 * (tail[1:] + tail[:-1]) * np.diff(grid)))
