"""Collective-communication times under the alpha-beta model (docs/conventions.md, "Collectives").

alpha = per-message latency (s), bandwidth = bytes/s, M = message bytes, N = participants.
The bandwidth term is always written M / B. All functions accept numpy arrays as well as scalars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def _log2_ceil(n: ArrayLike):
    return np.ceil(np.log2(np.maximum(n, 1)))


def ring_allreduce_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """Ring AllReduce: 2 (N-1) alpha + 2 (N-1)/N * M/B (Patarasuk & Yuan 2009; Thakur et al. 2005)."""
    n = np.asarray(n, dtype=float)
    t = 2.0 * (n - 1.0) * alpha + 2.0 * (n - 1.0) / n * np.asarray(m_bytes, dtype=float) / bandwidth
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def tree_allreduce_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """Binomial tree AllReduce (reduce then broadcast, unpipelined): 2 ceil(log2 N) (alpha + M/B)."""
    n = np.asarray(n, dtype=float)
    t = 2.0 * _log2_ceil(n) * (alpha + np.asarray(m_bytes, dtype=float) / bandwidth)
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def reduce_scatter_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """Ring reduce-scatter (or all-gather) of M bytes in total: (N-1) alpha + (N-1)/N * M/B."""
    n = np.asarray(n, dtype=float)
    t = (n - 1.0) * alpha + (n - 1.0) / n * np.asarray(m_bytes, dtype=float) / bandwidth
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


all_gather_time = reduce_scatter_time


def all_to_all_time(m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike,
                    half_duplex: bool = False) -> np.ndarray | float:
    """All-to-all in which each of N devices holds M bytes, one M/N block for every device, over a link per
    device: the pairwise exchange, (N-1) alpha + (N-1)/N * M/B (Thakur, Rabenseifner and Gropp 2005, 'Optimization
    of collective communication operations in MPICH', sec. 5: p - 1 steps, each sending one block and receiving
    another). No reduction shrinks the traffic on the way, so every block a device sends crosses its own link.
    half_duplex (links.toml duplex): each step's send and receive take turns, 2 M/(N B) a step."""
    n = np.asarray(n, dtype=float)
    bw = exchange_bandwidth(bandwidth, half_duplex)
    t = (n - 1.0) * alpha + (n - 1.0) / np.maximum(n, 1.0) * np.asarray(m_bytes, dtype=float) / bw
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def p2p_time(m_bytes: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike) -> np.ndarray | float:
    """One point-to-point send: alpha + M/B."""
    return alpha + np.true_divide(m_bytes, bandwidth)  # a float stays a float (numpy's), an array an array


# --- further AllReduce algorithms (lab 06) ------------------------------------------------------
def halving_doubling_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """Recursive halving-doubling AllReduce (Rabenseifner; Thakur, Rabenseifner & Gropp 2005, sec. 4.4):
    reduce-scatter by recursive halving + all-gather by recursive doubling over p' = 2^floor(log2 N) ranks,
    2 log2(p') alpha + 2 (p'-1)/p' * M/B; when N is not a power of two the N - p' extra ranks first
    hand their vector to a partner and get the result back at the end: + 2 (alpha + M/B)."""
    n = np.asarray(n, dtype=float)
    m = np.asarray(m_bytes, dtype=float)
    p = 2.0 ** np.floor(np.log2(np.maximum(n, 1)))
    t = 2.0 * np.log2(p) * alpha + 2.0 * (p - 1.0) / p * m / bandwidth
    t = t + np.where(p < n, 2.0 * (alpha + m / bandwidth), 0.0)
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def double_binary_tree_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """NCCL-style pipelined double binary tree AllReduce (Sanders, Speck & Traeff 2009, "Two-tree
    algorithms for full bandwidth broadcast, reduction and scan"; NCCL 2.4, Jeaugey 2019).

    Two complementary binary trees each carry M/2; every rank is interior in at most one, so per
    phase (reduce, then broadcast) a rank moves about M bytes each way. Pipelined in k chunks over
    depth D = ceil(log2 N) a phase takes (D - 1 + k)(alpha + M/(k B)); at the best k,
    k* = sqrt((D - 1) M / (alpha B)) (k >= 1, treated as continuous), a phase is
    (sqrt((D - 1) alpha) + sqrt(M / B))^2, so AllReduce = 2 (sqrt((D-1) alpha) + sqrt(M/B))^2:
    about 2 D alpha for small M, 2 M/B (ring's bandwidth term as N grows) for large M."""
    n = np.asarray(n, dtype=float)
    m = np.asarray(m_bytes, dtype=float)
    d = _log2_ceil(n)
    k = np.maximum(1.0, np.sqrt(np.maximum(d - 1.0, 0.0) * m / (alpha * bandwidth)))
    t = 2.0 * (d - 1.0 + k) * (alpha + m / (k * bandwidth))
    return np.where(n > 1, t, 0.0) if np.ndim(t) else (float(t) if n > 1 else 0.0)


def binomial_reduce_time(
    m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike
) -> np.ndarray | float:
    """Binomial-tree reduce (or broadcast) of M bytes to (from) one root: ceil(log2 N) (alpha + M/B)
    (half of the textbook tree AllReduce of docs/conventions.md)."""
    return 0.5 * tree_allreduce_time(m_bytes, n, alpha, bandwidth)


ALLREDUCE_ALGORITHMS = {
    "ring": ring_allreduce_time,
    "tree": tree_allreduce_time,
    "halving_doubling": halving_doubling_allreduce_time,
    "double_binary_tree": double_binary_tree_allreduce_time,
}
ALLREDUCE_NAMES = {  # short names for prose and table headers
    "ring": "ring",
    "tree": "tree",
    "halving_doubling": "halving-doubling",
    "double_binary_tree": "double binary tree",
}
ALLREDUCE_LABELS = {
    "ring": "ring",
    "tree": "binomial tree (textbook, unpipelined)",
    "halving_doubling": "recursive halving-doubling (Rabenseifner)",
    "double_binary_tree": "NCCL-style pipelined double binary tree",
}


# algorithms whose every step is an exchange (each member sends and receives at once on a full-duplex link):
# ring, halving-doubling's pairwise swaps, the pipelined double binary tree (a rank receives from its children
# while it sends to its parent). A binomial tree's step is one send per pair, one direction: no exchange.
EXCHANGE_ALGORITHMS = ("ring", "halving_doubling", "double_binary_tree")


def exchange_bandwidth(bandwidth: ArrayLike, half_duplex: bool) -> ArrayLike:
    """The rate an exchange-stepped collective sees on a link: the link's own on a full-duplex link, half of it on
    a half-duplex one (links.toml duplex = "half"), where the two sends of every step take turns on one channel
    (exchange_time: alpha + 2 M/B against alpha + M/B)."""
    return np.true_divide(bandwidth, 2.0) if half_duplex else bandwidth


def allreduce_time(
    algorithm: str, m_bytes: ArrayLike, n: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike,
    half_duplex: bool = False,
) -> np.ndarray | float:
    """AllReduce time of a named algorithm (keys of ALLREDUCE_ALGORITHMS). half_duplex (links.toml duplex =
    "half"): the exchange-stepped algorithms (EXCHANGE_ALGORITHMS) see half the rate (exchange_bandwidth); the
    binomial tree's one-way sends do not."""
    if half_duplex and algorithm in EXCHANGE_ALGORITHMS:
        bandwidth = exchange_bandwidth(bandwidth, True)
    return ALLREDUCE_ALGORITHMS[algorithm](m_bytes, n, alpha, bandwidth)


def ring_tree_crossover_closed_form(n: int, alpha: float, bandwidth: float) -> float:
    """Message size M* (bytes) at which ring and textbook tree AllReduce take equal time
    (docs/conventions.md, "Collectives"): M* = alpha B (N - 1 - L) / (L - (N-1)/N), L = ceil(log2 N).
    Below M* tree is faster, above it ring. For N <= 3, N - 1 <= L: ring is never slower, M* = 0."""
    L = float(np.ceil(np.log2(n)))
    num = n - 1.0 - L
    if num <= 0:
        return 0.0
    return alpha * bandwidth * num / (L - (n - 1.0) / n)


def hierarchical_allreduce_phases(
    m_bytes: float,
    g: int,
    n_groups: int,
    alpha_intra: float,
    bw_intra: float,
    alpha_inter: float,
    bw_inter: float,
    intra: str = "ring",
    inter: str = "ring",
    channel_stations: int = 0,
    inter_half_duplex: bool = False,
) -> dict[str, float]:
    """Two-tier AllReduce over n_groups groups of g devices, as phases {intra_reduce, inter, intra_gather} (s).

    intra = "ring" (docs/conventions.md, "Collectives"): intra-group reduce-scatter, inter-group AllReduce of
    M/g per device (g parallel AllReduces, one per device and NIC), intra-group all-gather; each intra
    phase (g-1) alpha_intra + (g-1)/g * M/B_intra.
    intra = "tree": binomial reduce to one leader per group, AllReduce of the full M between the
    n_groups leaders, binomial broadcast back; each intra phase ceil(log2 g)(alpha_intra + M/B_intra).
    inter names the algorithm between groups (keys of ALLREDUCE_ALGORITHMS). g = 1 is the flat
    AllReduce over the inter tier.
    channel_stations = S > 0: the intra link is a half-duplex shared medium (links.toml duplex) whose one
    channel S devices share (S >= g, a multiple of g), so each intra phase is shared_channel_phase_time; 0 (the
    default) is a link per device and direction, the formulas above. inter_half_duplex: the slow tier is a
    half-duplex link (links.toml duplex), on which its exchange-stepped algorithms see half the rate
    (allreduce_time)."""
    if intra not in ("ring", "tree"):
        raise ValueError(f"intra-tier algorithm {intra!r} not in ('ring', 'tree')")
    if channel_stations:
        local = shared_channel_phase_time(m_bytes, g, channel_stations, alpha_intra, bw_intra, intra)
        share = m_bytes / g if intra == "ring" else m_bytes
    elif intra == "ring":
        local = reduce_scatter_time(m_bytes, g, alpha_intra, bw_intra)
        share = m_bytes / g
    else:
        local = binomial_reduce_time(m_bytes, g, alpha_intra, bw_intra)
        share = m_bytes
    between = allreduce_time(inter, share, n_groups, alpha_inter, bw_inter, inter_half_duplex)
    return {"intra_reduce": float(local), "inter": float(between), "intra_gather": float(local)}


def hierarchical_allreduce_time(
    m_bytes: float,
    g: int,
    n_groups: int,
    alpha_intra: float,
    bw_intra: float,
    alpha_inter: float,
    bw_inter: float,
    intra: str = "ring",
    inter: str = "ring",
    channel_stations: int = 0,
    inter_half_duplex: bool = False,
) -> float:
    """Total time of the two-tier AllReduce (sum of hierarchical_allreduce_phases)."""
    return sum(
        hierarchical_allreduce_phases(
            m_bytes, g, n_groups, alpha_intra, bw_intra, alpha_inter, bw_inter, intra, inter, channel_stations,
            inter_half_duplex,
        ).values()
    )


# --- links that send and receive on one channel (half duplex) --------------------------------------
# Which links do is catalog data: hardware/data/links.toml gives each link its `duplex` ("half" or "full") and
# the standard or datasheet that says so (`duplex_source`; Link.duplex, Link.half_duplex). On a half-duplex link
# sending and receiving share one channel in time: a device's radio either transmits or receives, so its sends
# and receives (and every transfer that crosses it, whatever the direction) take turns. Wi-Fi 6 (802.11
# CSMA/CA), Bluetooth LE (TDD connection events), NFMI (one carrier, split frames) and TDD 5G are half duplex;
# NVLink, InfiniBand, Omni-Path and switched Ethernet full duplex, one independent lane set per direction.
def exchange_time(m_bytes: ArrayLike, alpha: ArrayLike, bandwidth: ArrayLike,
                  half_duplex: bool = False) -> np.ndarray | float:
    """Two devices swap M bytes each over one link between them (each sends its M and receives the other's).
    Full duplex: the two sends run at once on the two directions, alpha + M/B (p2p_time). Half duplex (one
    channel, links.toml duplex = "half"): they take turns on it, alpha + 2 M/B: a Bluetooth LE connection event
    alternates the central's and the peripheral's packets on one RF channel (Core Specification 5.x Vol 6 Part B
    sec. 4.5.1), an NFMI frame is split into a master-to-slave and a slave-to-master half (NXP NxH2280), so both
    directions' bytes cross the one channel in series within the same events; one alpha (the connection interval
    or frame the two wait for together, as shared_channel_phase_time counts it)."""
    if not half_duplex:
        return p2p_time(m_bytes, alpha, bandwidth)
    return p2p_time(np.multiply(2.0, m_bytes), alpha, bandwidth)  # a float stays a float, an array an array


# --- collectives on a half-duplex shared medium (radios) -------------------------------------------------
# The catalog's radio rates are channel rates, not a device's own: the rate one transmitter reaches while it holds
# the channel (hardware/data/links.toml: Wi-Fi 6 'single-stream ... ~200 Mb/s PHY' x 0.60 goodput, Bluetooth LE
# the 2M/1M PHY's symbol rate x goodput, NFMI the NxH2280's 596 kb/s carrier). On such a medium one station
# transmits at a time, so a collective's time is the bytes all its stations put on the air over that rate: an
# 802.11 channel carries one transmission at a time whichever station wins the CSMA/CA contention, and its
# throughput is a total the n contending stations divide (IEEE 802.11-2020 sec. 10.3 DCF; Bianchi, 'Performance
# analysis of the IEEE 802.11 distributed coordination function', IEEE JSAC 18(3), 2000: saturation throughput
# of the whole BSS, shared by its n stations); Bluetooth LE's link layer schedules a radio's connection events
# so they never overlap and central and peripheral alternate inside each (Core Specification 5.x Vol 6 Part B
# sec. 4.5 and 4.5.1), so a hub's piconet is one radio's airtime; an NFMI pair shares one carrier frame by frame
# (links.toml duplex_source). Federated learning over a shared wireless uplink meets the same count: with K devices on
# orthogonal (time or frequency) shares of one channel each gets 1/K of it and the upload latency grows as K
# (Zhu, Wang & Huang, 'Broadband analog aggregation for low-latency federated edge learning', IEEE Trans.
# Wireless Commun. 19(1), 2020, sec. I and V).
def shared_channel_phase_time(m_bytes: float, g: int, stations: int, alpha: float, bandwidth: float,
                              intra: str = "ring") -> float:
    """One intra phase of the two-tier AllReduce (ring reduce-scatter or all-gather; binomial reduce or
    broadcast) in groups of g devices, where `stations` = S devices (S >= g, a multiple of g: the S/g groups of
    one channel run at once) share one half-duplex channel of rate B = bandwidth (see above).

    Ring: g-1 steps; in each every device sends M/g to its neighbour. On full-duplex links the sends of a step
    run in parallel: alpha + M/(g B) a step, (g-1) alpha + (g-1)/g M/B a phase (reduce_scatter_time). On one
    channel the S sends of a step (S/g rings of g) take turns: alpha + S M/(g B), so
        T_phase = (g-1) alpha + (S/g)(g-1) M / B,
    S times the full-duplex bandwidth term. For S = g the ring AllReduce puts 2 (g-1) M on the air,
    2 (g-1) (M/g) g / B: g times the full-duplex 2 (g-1)/g M/B. The latency stays one alpha a step: alpha is the
    per-message delay of the stack and the connection interval (links.toml), which the stations wait in
    parallel; the per-frame channel-access overhead that does occupy the air is in the link's goodput.
    Binomial tree: ceil(log2 g) rounds; over them every non-root device sends M once, g-1 transfers a tree,
    (S/g)(g-1) on the channel: T_phase = ceil(log2 g) alpha + (S/g)(g-1) M / B (full duplex: a round's
    transfers in parallel, ceil(log2 g)(alpha + M/B)). The broadcast is the same count of unicasts: 802.11
    group-addressed frames go unacknowledged (IEEE 802.11-2020's group addressed MPDU transfer procedure;
    802.11aa's 'no retry/no acknowledgment' policy) and a BLE connection carries one
    peripheral's packets, so every receiver gets its own copy.
    Half duplex matters even for a pair (g = S = 2, NFMI): a ring step is the two sends of M/2 in turn,
    alpha + M/B, twice the full-duplex alpha + M/(2B); a tree's single send is alpha + M/B either way.
    Stations are taken to reach each other in one transmission on the channel (Wi-Fi: 802.11z TDLS or Wi-Fi
    Direct); relayed by an access point, or by a piconet's central between its peripherals, every byte would
    cross the air twice and the bandwidth term double (not counted: a lower bound there). Bluetooth LE
    piggybacks data on the packets that go back anyway, so both directions busy cost about
    1.7x one direction rather than the 2x counted here (2M PHY, 251-byte payloads, T_IFS = 150 us)."""
    if intra not in ("ring", "tree"):
        raise ValueError(f"intra-tier algorithm {intra!r} not in ('ring', 'tree')")
    if g < 1 or stations < g or stations % g:
        raise ValueError(f"{stations!r} stations on the channel must be a multiple of the group size g = {g!r}")
    if g == 1:
        return 0.0
    steps = (g - 1) if intra == "ring" else float(_log2_ceil(g))
    return float(steps * alpha + stations / g * (g - 1) * m_bytes / bandwidth)


def relayed_path_bandwidth(path_bw: float, hop_bw: float, participants: int, hop_shared: bool) -> float:
    """Bandwidth per participant of the slow-tier path when `participants` = P devices reach it only through
    their group's hub, over the intra hop; path_bw = the lone device's path, min(far link, hop).

    A full-duplex hop (a link per device and direction) leaves path_bw to each, the model of the two-tier
    AllReduce (one slow-tier path per device). A half-duplex shared hop (links.toml duplex, one channel at the
    hub): each participant sends X bytes in the slow-tier AllReduce and receives X; both cross the hop, on the
    one channel, for all P: 2 P X on the air, so the hop gives B_hop / (2 P) to each, and the hub's far link,
    which carries the P participants' X, B_far / P. min(B_far, B_hop / 2) / P = min(path_bw, B_hop / 2) / P."""
    if participants < 1:
        raise ValueError(f"participants {participants!r} must be at least 1")
    return min(path_bw, hop_bw / 2.0) / participants if hop_shared else path_bw


def relay_hop_share(path_bw: float, hop_bw: float, hop_shared: bool) -> float:
    """Share of the slow-tier phase's transfer time during which the intra hop carries its relayed bytes
    (hierarchical_phase_shares' relay_fraction). Full duplex: the hop's time for the same bytes on each
    direction, min(1, path_bw / hop_bw). Half-duplex shared hop (relayed_path_bandwidth): 2 P X / B_hop over
    X / (min(path_bw, B_hop/2) / P) = min(1, 2 path_bw / hop_bw), whatever P."""
    return min(1.0, (2.0 if hop_shared else 1.0) * path_bw / hop_bw)


def hierarchical_phase_shares(intra: str, intra_half_duplex: bool,
                              relay_fraction: float = 0.0) -> dict[str, dict[str, float]]:
    """Which link resources each phase of the two-tier AllReduce (hierarchical_allreduce_phases) occupies, as
    {phase: {resource: share of the phase's transfer time spent on it}}, for pipelined_stages_time.

    A full-duplex intra link is two resources per device, its send and its receive direction; a half-duplex
    one (links.toml duplex) is one, the device's radio. Ring reduce-scatter and all-gather each send and
    receive (g-1)/g M per device (Patarasuk & Yuan 2009), so they share both directions: a ring all-reduce
    cannot beat 2(g-1)/g M/B whatever its chunking. The binomial reduce's busiest device (the root) only
    receives and the broadcast's root only sends (and an inner rank's sends over the two phases add up to one
    phase's), so on a full-duplex link they overlap, as NCCL's tree pipelines reduce-up and broadcast-down
    through the two directions of each link (Jeaugey 2019, 'Massively scale your deep learning training with
    NCCL 2.4'); on a half-duplex link they take turns. The inter phase has its own link; where a device
    reaches it only through its group's hub over the intra link (relay_fraction > 0), its bytes also cross
    the intra hop, both ways: relay_fraction = the share of the inter phase's transfer time the hop is busy
    (relay_hop_share: the inter path's bandwidth / the intra bandwidth on a full-duplex hop, twice that on a
    half-duplex shared one, at most 1). On a half-duplex link a phase occupies the radio for its transfer time as
    hierarchical_allreduce_phases charges it."""
    if intra not in ("ring", "tree"):
        raise ValueError(f"intra-tier algorithm {intra!r} not in ('ring', 'tree')")
    if not 0.0 <= relay_fraction <= 1.0:
        raise ValueError(f"relay fraction {relay_fraction!r} outside [0, 1]")
    if intra_half_duplex:
        reduce, gather = {"intra": 1.0}, {"intra": 1.0}
        relay = {"intra": relay_fraction}
    else:
        both = {"intra send": 1.0, "intra receive": 1.0}
        reduce, gather = (both, dict(both)) if intra == "ring" else ({"intra receive": 1.0}, {"intra send": 1.0})
        relay = {"intra send": relay_fraction, "intra receive": relay_fraction}
    inter = {"inter": 1.0, **(relay if relay_fraction > 0 else {})}
    return {"intra_reduce": reduce, "inter": inter, "intra_gather": gather}


def pipelined_stages_time(latency_s: ArrayLike, transfer_s: ArrayLike, max_chunks: int = 1,
                          shares: Sequence[Mapping[str, float]] | None = None) -> tuple[float, int]:
    """Stages in series (e.g. the intra reduce-scatter, inter all-reduce and intra all-gather of a two-tier
    all-reduce) pipelined over k chunks: stage i takes l_i + b_i / k per chunk (its latency every chunk,
    its transfer split), the first chunk crosses every stage and the others follow at the pipeline's period
    P(k): T(k) = sum_i (l_i + b_i/k) + (k - 1) P(k) (the pipeline fill-and-drain time; NCCL pipelines its
    hierarchical algorithms chunk by chunk, Jeaugey 2019, 'Massively scale your deep learning training with
    NCCL 2.4'). Chunks overlap only where the stages use different resources: `shares` gives, per stage,
    {resource: w_ir}, the share of its transfer that occupies resource r (a link direction, or a half-duplex
    link; hierarchical_phase_shares), and stages on one resource take turns on it, so
    P(k) = max(max_i (l_i + b_i/k), max_r sum_i w_ir b_i / k). Without `shares` every stage has a resource of
    its own. Since every l_i is paid in the fill, T(k) >= sum_i w_ir (l_i + b_i) for every resource r and
    every k: the pipeline never finishes before any one resource has carried its traffic. Returns (T at the
    best k in 1..max_chunks, the fewest chunks that reach it); k = 1 is the stages in series."""
    lat = np.asarray(latency_s, dtype=float)[:, None]
    tr = np.asarray(transfer_s, dtype=float)[:, None]
    ks = np.arange(1, max(1, int(max_chunks)) + 1, dtype=float)[None, :]
    per = lat + tr / ks
    period = per.max(axis=0)
    if shares is not None:
        if len(shares) != lat.shape[0]:
            raise ValueError(f"{len(shares)} share maps for {lat.shape[0]} stages")
        for r in {r for s in shares for r in s}:
            w = np.array([float(s.get(r, 0.0)) for s in shares])
            if np.any((w < 0) | (w > 1)):
                raise ValueError(f"shares of resource {r!r} must lie in [0, 1], got {w.tolist()}")
            period = np.maximum(period, (w[:, None] * tr).sum(axis=0) / ks[0])
    t = per.sum(axis=0) + (ks[0] - 1.0) * period
    i = int(np.flatnonzero(t <= t.min() * (1.0 + 1e-12))[0])  # the fewest chunks among ties (rounding noise)
    return float(t[i]), i + 1


def ring_allreduce_bytes_per_device(m_bytes: ArrayLike, n: ArrayLike) -> np.ndarray | float:
    """Bytes each rank sends in a ring AllReduce: 2 (N-1)/N * M (reduce-scatter + all-gather;
    Patarasuk & Yuan 2009), the traffic behind ring's bandwidth term."""
    n = np.asarray(n, dtype=float)
    b = 2.0 * (n - 1.0) / n * np.asarray(m_bytes, dtype=float)
    return b if np.ndim(b) else float(b)


def relayed_ring_allreduce_time(m_bytes: ArrayLike, n: int, alpha: float, bandwidth: float, max_hops: int,
                                half_duplex: bool = False) -> np.ndarray | float:
    """Ring AllReduce whose ring neighbours are up to max_hops radio hops apart (store-and-forward relays on a
    contact graph): each of the 2 (N-1) synchronous steps waits for its longest edge,
    2 (N-1) * max_hops * (alpha + M/(N B)). max_hops = 1 is the ring formula of docs/conventions.md.

    half_duplex (links.toml duplex = "half", a radio): in every step each ring member sends its chunk M/N and
    receives its predecessor's, and a relay receives a chunk and forwards it, on one radio that transmits or
    receives, never both; each hop of the longest edge is then an exchange, alpha + 2 M/(N B) (exchange_time),
    2 (N-1) * max_hops * (alpha + 2 M/(N B)). For max_hops = 1 and N even this is exact (the even members send,
    then the odd ones: two sends of M/N in turn per radio; an odd ring needs a third turn, Vizing: its edges
    take 3 matchings); for longer edges it charges each relay hop its radio's turn in both directions (the
    relay is a ring member too, sending and receiving its own chunk in the same step)."""
    if n < 2:
        return 0.0
    m = np.asarray(m_bytes, dtype=float) if np.ndim(m_bytes) else m_bytes
    return 2.0 * (n - 1) * max_hops * (alpha + (2.0 if half_duplex else 1.0) * m / (n * bandwidth))


def ring_tree_crossover_approx(n: int, alpha: float, bandwidth: float) -> float:
    """The rough form of the crossover, alpha B N / log2 N (docs/conventions.md "Collectives")."""
    return alpha * bandwidth * n / float(np.log2(n))


def lab_text_crossover(n: int, alpha: float, bandwidth: float) -> float:
    """The lab text's "M ~ N alpha / beta", read with beta = 1/B in seconds per byte: N alpha B (bytes).
    docs/conventions.md: only this reading has the units of a size; it also drops the 1/log2 N factor."""
    return n * alpha * bandwidth


# --- collectives as NCCL runs them (the training-step model of `solve 3d` and `estimate`) ----------------
# The functions above are the textbook forms the lab-06 puzzles compare. NCCL differs from them in three ways
# that matter at cluster scale (docs/conventions.md, "Collectives inside the training-step model"; read
# from NVIDIA/nccl v2.30.7, src/graph/tuning.cc, ncclTopoTuneModel):
#   1. Ring latency is counted per hop by tier: an all-reduce ring over n ranks in n_nodes nodes takes 2(n-1)
#      steps, of which only 2(n_nodes-1) cross the network (nInterSteps); the others are NVLink hops.
#      Reduce-scatter and all-gather: n-1 steps, n_nodes-1 of them on the network.
#   2. For all-reduce NCCL also has a tree (double binary tree across nodes, a chain inside each node) whose
#      latency is base + 2((ranks_per_node - 1) alpha_intra + log2i(n_nodes) alpha_inter), log2i = floor(log2).
#      Its bus bandwidth is 0.92 of the channel bandwidth and it moves M / (busbw / 2): for large messages it is
#      about 1/0.92 slower than the ring, for small messages at large n far faster. NCCL picks the faster
#      algorithm per call and message size; so do we (min(ring, tree)). Reduce-scatter and all-gather have no
#      tree: ring (or PAT, one rank per node only, not modelled: it lowers latency at one GPU per node).
#   3. Rails: a DGX/HGX node has one NIC per GPU and NCCL builds one ring (channel) per NIC, so a communicator
#      with k ranks in each node drives k NICs at once: bus bandwidth = min(intra-node bandwidth, k x NIC)
#      (NVIDIA/nccl issue #412; NVIDIA/nccl-tests issue #100: 4 x HDR ~ 91 GB/s busbw). Explorer.cost.setup
#      (Setup.group) works out k, n_nodes and that bandwidth for a group.
# Latencies: tuning.cc's base latency of the Simple protocol (the one NCCL uses for the large messages of a
# training step) is 8.4 us for ring and tree alike (LL: 6.6/6.8 us). Its per-hop constants (Simple: NVLink ring
# 3.4 us, network 14 us; LL: 0.6 and 2.7 us) bracket the per-hop alphas of our link catalog (measured
# per-step latencies: NVLink 2.0-2.1 us, InfiniBand 5 us; hardware/data/links.toml), which are used as the
# hop latency so that every link, Ethernet and radio included, keeps its own alpha. One latency per call:
# callers count calls (gradient buckets, per-layer gathers), never per bucket per rank.
NCCL_VERSION = "2.30.7"
NCCL_BASE_LATENCY_S = 8.4e-6
"""Base latency of one collective call, Simple protocol, ring and tree (tuning.cc baseLatencies)."""
NCCL_TREE_BANDWIDTH_FACTOR = 0.92
"""Tree all-reduce bus bandwidth relative to the channel bandwidth (tuning.cc: busBw * .92)."""
NCCL_NVLS_LATENCY_S = 25e-6
"""NVLink SHARP (NVLS) all-reduce latency inside a node, Simple protocol (tuning.cc hwLatencies NVLINK/NVLS)."""


def _nodes_and_inter(n: ArrayLike, per_node: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n, dtype=float)
    k = np.minimum(np.maximum(np.asarray(per_node, dtype=float), 1.0), np.maximum(n, 1.0))
    nodes = np.ceil(n / k)
    return n, nodes


def _out(t: np.ndarray, n: np.ndarray) -> np.ndarray | float:
    t = np.where(n > 1, t, 0.0)
    return t if np.ndim(t) else float(t)


def nccl_ring_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, per_node: ArrayLike, alpha_intra: ArrayLike, alpha_inter: ArrayLike,
    bus_bandwidth: ArrayLike,
) -> np.ndarray | float:
    """NCCL ring all-reduce of M bytes over n ranks with `per_node` ranks in each node:
    base + (2(n-1) - 2(n_nodes-1)) alpha_intra + 2(n_nodes-1) alpha_inter + 2(n-1)/n * M / busbw
    (tuning.cc: nsteps = 2(nRanks-1), nInterSteps = 2(nNodes-1); busBw -> algBw ratio nRanks/nsteps)."""
    n, nodes = _nodes_and_inter(n, per_node)
    inter_steps = 2.0 * (nodes - 1.0)
    lat = NCCL_BASE_LATENCY_S + (2.0 * (n - 1.0) - inter_steps) * alpha_intra + inter_steps * alpha_inter
    t = lat + 2.0 * (n - 1.0) / np.maximum(n, 1.0) * np.asarray(m_bytes, dtype=float) / bus_bandwidth
    return _out(t, n)


def nccl_tree_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, per_node: ArrayLike, alpha_intra: ArrayLike, alpha_inter: ArrayLike,
    bus_bandwidth: ArrayLike,
) -> np.ndarray | float:
    """NCCL double-binary-tree all-reduce (chain inside a node, two binary trees across nodes):
    base + 2((k-1) alpha_intra + floor(log2 n_nodes) alpha_inter) + M / (0.92 busbw / 2)
    (tuning.cc: latency 2((nRanks/nNodes - 1) intraLat + log2i(nNodes) interLat); busBw * .92; algBw = busBw/2).
    k is the busiest node's ranks, min(per_node, n), where tuning.cc's selection heuristic takes the mean
    nRanks/nNodes: a chain runs through every rank of its node, so a call waits for the longest chain (9 ranks on
    nodes of 8: a chain of 8 and one of 1 take 7 hops, not the mean's 3.5, and adding a rank never shortens it)."""
    n, nodes = _nodes_and_inter(n, per_node)
    k = np.minimum(np.maximum(np.asarray(per_node, dtype=float), 1.0), np.maximum(n, 1.0))
    depth = np.floor(np.log2(np.maximum(nodes, 1.0)))
    lat = NCCL_BASE_LATENCY_S + 2.0 * ((k - 1.0) * alpha_intra + depth * alpha_inter)
    t = lat + 2.0 * np.asarray(m_bytes, dtype=float) / (NCCL_TREE_BANDWIDTH_FACTOR * np.asarray(bus_bandwidth))
    return _out(t, n)


def nccl_allreduce_time(
    m_bytes: ArrayLike, n: ArrayLike, per_node: ArrayLike, alpha_intra: ArrayLike, alpha_inter: ArrayLike,
    bus_bandwidth: ArrayLike, nvls_bandwidth: ArrayLike = 0.0,
) -> np.ndarray | float:
    """One all-reduce call as NCCL runs it: the faster of ring and tree for this size and group.

    nvls_bandwidth > 0 adds NVLink SHARP (in-switch reduction; only where the catalog says the fabric has it
    and the user turned it on): latency NCCL_NVLS_LATENCY_S (+ 2 floor(log2 n_nodes) alpha_inter across nodes,
    NVLS tree), bus bandwidth nvls_bandwidth (capped by the rails bandwidth across nodes), ring's bus-to-
    algorithm ratio (tuning.cc: NVLS and NVLS_TREE use nRanks/nsteps like ring)."""
    ring = nccl_ring_allreduce_time(m_bytes, n, per_node, alpha_intra, alpha_inter, bus_bandwidth)
    tree = nccl_tree_allreduce_time(m_bytes, n, per_node, alpha_intra, alpha_inter, bus_bandwidth)
    t = np.minimum(ring, tree)
    if np.any(np.asarray(nvls_bandwidth) > 0):
        n_, nodes = _nodes_and_inter(n, per_node)
        bw = np.where(nodes > 1, np.minimum(nvls_bandwidth, bus_bandwidth), nvls_bandwidth)
        lat = NCCL_NVLS_LATENCY_S + 2.0 * np.floor(np.log2(np.maximum(nodes, 1.0))) * alpha_inter
        nvls = lat + 2.0 * (n_ - 1.0) / np.maximum(n_, 1.0) * np.asarray(m_bytes, dtype=float) / np.maximum(bw, 1e-30)
        t = np.where(np.asarray(nvls_bandwidth) > 0, np.minimum(t, nvls), t)
        return _out(np.asarray(t), n_)
    return t


def nccl_reduce_scatter_time(
    m_bytes: ArrayLike, n: ArrayLike, per_node: ArrayLike, alpha_intra: ArrayLike, alpha_inter: ArrayLike,
    bus_bandwidth: ArrayLike,
) -> np.ndarray | float:
    """NCCL ring reduce-scatter (or all-gather) of M bytes in total (M/n per rank at the end or start):
    base + ((n-1) - (n_nodes-1)) alpha_intra + (n_nodes-1) alpha_inter + (n-1)/n * M / busbw
    (tuning.cc: nsteps = nRanks-1, nInterSteps = nNodes-1; no tree for these collectives)."""
    n, nodes = _nodes_and_inter(n, per_node)
    lat = NCCL_BASE_LATENCY_S + ((n - 1.0) - (nodes - 1.0)) * alpha_intra + (nodes - 1.0) * alpha_inter
    t = lat + (n - 1.0) / np.maximum(n, 1.0) * np.asarray(m_bytes, dtype=float) / bus_bandwidth
    return _out(t, n)


nccl_all_gather_time = nccl_reduce_scatter_time


def nccl_all_to_all_time(
    m_bytes: ArrayLike, n: ArrayLike, per_node: ArrayLike, alpha_intra: ArrayLike, alpha_inter: ArrayLike,
    intra_bandwidth: ArrayLike, nic_bandwidth: ArrayLike,
) -> np.ndarray | float:
    """An all-to-all as NCCL runs it (grouped ncclSend / ncclRecv to every peer, issued at once; PyTorch's
    all_to_all_single), each rank holding M bytes, M/n for every rank: of what a rank sends, (k - 1)/n M stays in
    its node (NVLink) and (n - k)/n M leaves it through the NIC the rank drives, k ranks a node. No ring
    aggregates it: with a NIC per GPU each NIC carries its own GPU's (n - k)/n M (PXN, NCCL 2.12+, only moves a
    send to the NIC on the receiver's rail, the per-NIC load is the same), where a ring all-reduce puts
    2 (n-1)/n M / k on each of the k rails. nic_bandwidth: the rate each rank gets across nodes (a NIC per GPU:
    the NIC's; one NIC per node: its rate over the k ranks sharing it). The sends to all peers run at once:
    latency base + one hop of the slowest tier (a lower bound; NCCL's p2p scheduling spreads peers over rounds)."""
    n = np.asarray(n, dtype=float)
    k = np.minimum(np.maximum(np.asarray(per_node, dtype=float), 1.0), np.maximum(n, 1.0))
    m = np.asarray(m_bytes, dtype=float)
    across = n > k
    inside_t = (k - 1.0) / np.maximum(n, 1.0) * m / np.asarray(intra_bandwidth, dtype=float)
    across_t = np.where(across, (n - k) / np.maximum(n, 1.0) * m / np.maximum(nic_bandwidth, 1e-30), 0.0)
    lat = NCCL_BASE_LATENCY_S + np.where(across, alpha_inter, alpha_intra)
    return _out(lat + np.maximum(inside_t, across_t), n)
