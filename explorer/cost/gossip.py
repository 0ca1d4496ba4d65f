"""Gossip averaging on a contact graph: graphs, Metropolis-Hastings weights, spectral gap, rounds.

Synchronous gossip (distributed averaging): every round each device replaces its value with a
weighted average of its own and its neighbours' values, x(k+1) = W x(k). With W symmetric and
doubly stochastic on a connected graph, x(k) converges to the average of x(0), and

    ||x(k) - xbar|| <= |lambda_2|^k ||x(0) - xbar||

where |lambda_2| is the second-largest eigenvalue modulus (SLEM) of W (Xiao & Boyd 2004, "Fast
linear iterations for distributed averaging", Systems & Control Letters 53, eq. (4) and
Theorem 1). Rounds to reach relative consensus error eps: k(eps) = ceil(ln eps / ln |lambda_2|)
(the epsilon-averaging time of Boyd, Ghosh, Prabhakar & Shah 2006, "Randomized gossip
algorithms", IEEE Trans. Inf. Theory 52(6), sec. II-B, for the synchronous case).

Metropolis-Hastings weights (Xiao & Boyd 2004, eq. (13); Xiao, Boyd & Lall 2005):
W_ij = 1 / (1 + max(d_i, d_j)) on each edge, W_ii = 1 - sum_j W_ij, 0 elsewhere; they need only
each device's and its neighbours' degrees, so a device can compute them locally.

Graphs are symmetric boolean adjacency matrices (numpy, n x n, no self-loops). Every random
builder takes a seed and is deterministic. Public API (used by lab 05 and lab 06):
ring_graph, grid_graph, contact_points, contact_graph, contact_graph_at, contact_radius, is_connected,
connected_groups, metropolis_weights, slem, spectral_gap,
rounds_to_consensus, consensus_errors, consensus_error, messages_per_round, round_time,
round_time_for_degree, ring_tour, ring_tour_hops, ring_relay_paths, ring_relay_loads, gossip_ring_crossover.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from explorer.errors import UsageError

__all__ = [
    "ring_graph", "grid_graph", "contact_points", "contact_graph", "contact_graph_at", "contact_radius",
    "is_connected", "connected_groups", "metropolis_weights", "slem",
    "spectral_gap", "rounds_to_consensus", "rounds_to_consensus_slem",
    "consensus_errors", "consensus_error", "messages_per_round",
    "round_time", "round_time_for_degree", "ring_tour", "ring_tour_hops", "ring_relay_paths", "ring_relay_loads",
    "gossip_ring_crossover",
]


def _check_n(n: int, what: str = "devices") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise UsageError(f"gossip needs at least 2 {what} (a whole number), got {n!r}")
    return int(n)


# --- graphs ------------------------------------------------------------------------------------
def ring_graph(n: int) -> np.ndarray:
    """Cycle on n devices (each talks to its two neighbours; n = 2 is a single edge)."""
    n = _check_n(n)
    adj = np.zeros((n, n), dtype=bool)
    i = np.arange(n)
    adj[i, (i + 1) % n] = True
    adj[(i + 1) % n, i] = True
    np.fill_diagonal(adj, False)
    return adj


def grid_graph(rows: int, cols: int) -> np.ndarray:
    """rows x cols 2-D grid (4-neighbour lattice, no wrap-around); device id = r * cols + c."""
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise UsageError(f"grid needs rows, cols >= 1 and at least 2 devices, got {rows} x {cols}")
    n = rows * cols
    adj = np.zeros((n, n), dtype=bool)
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            if c + 1 < cols:
                adj[k, k + 1] = adj[k + 1, k] = True
            if r + 1 < rows:
                adj[k, k + cols] = adj[k + cols, k] = True
    return adj


def contact_points(n: int, seed: int = 0) -> np.ndarray:
    """The n seeded device positions (n x 2, unit square) that contact_graph(n, seed) connects."""
    return np.random.default_rng(seed).random((_check_n(n), 2))


def _contact_d2(n: int, seed: int) -> np.ndarray:
    pts = contact_points(n, seed)
    return ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)


def _geometric(d2: np.ndarray, r: float) -> np.ndarray:
    adj = d2 <= r * r
    np.fill_diagonal(adj, False)
    return adj


def contact_graph_at(n: int, seed: int = 0, radius: float = 0.1) -> np.ndarray:
    """The random geometric graph of contact_points(n, seed) at exactly `radius` (unit square): an edge wherever
    two devices are within it. Unlike contact_graph it is never widened, so it may be disconnected (see
    connected_groups): who hears whom at the radio's own range."""
    n = _check_n(n)
    if not radius > 0:
        raise UsageError(f"contact radius must be positive, got {radius!r}")
    return _geometric(_contact_d2(n, seed), radius)


def contact_radius(n: int, seed: int = 0, radius: float | None = None) -> float:
    """The radius contact_graph(n, seed, radius) links its devices at (unit square): `radius` (default 1.5 x
    sqrt(ln n / (pi n))) when the graph it gives is connected, else the first radius x 1.1^k that connects it.
    A caller whose radius is a radio's range reads here how far beyond that range the graph it got reaches."""
    n = _check_n(n)
    if radius is not None and not radius > 0:
        raise UsageError(f"contact radius must be positive, got {radius!r}")
    d2 = _contact_d2(n, seed)
    r = radius if radius is not None else 1.5 * math.sqrt(math.log(n) / (math.pi * n))
    while not is_connected(_geometric(d2, r)):
        r *= 1.1
    return r


def contact_graph(n: int, seed: int = 0, radius: float | None = None) -> np.ndarray:
    """Random geometric "contact graph": n devices uniform in the unit square (seeded), an edge
    wherever two are within `radius` (who can hear whom over a short-range radio).

    Default radius: 1.5 x sqrt(ln n / (pi n)), a margin above the connectivity threshold of
    random geometric graphs (Gupta & Kumar 1998, "Critical power for asymptotic connectivity",
    pi r^2 = (ln n + c)/n). If the sampled graph is not connected, the radius grows by 10% until
    it is (deterministic for a given seed), so the result is always connected: the radius it used is
    contact_radius(n, seed, radius), which a report must state where `radius` stands for a radio's range
    (a widened graph links devices that radio does not reach).
    """
    return _geometric(_contact_d2(_check_n(n), seed), contact_radius(n, seed, radius))


def connected_groups(adj: np.ndarray) -> int:
    """Number of connected components of a graph (breadth-first search from each unreached device): 1 when
    every device can reach every other."""
    adj = np.asarray(adj, dtype=bool)
    seen = np.zeros(adj.shape[0], dtype=bool)
    groups = 0
    for start in range(adj.shape[0]):
        if seen[start]:
            continue
        groups += 1
        seen[start] = True
        frontier = np.array([start])
        while frontier.size:
            nxt = adj[frontier].any(axis=0) & ~seen
            seen |= nxt
            frontier = np.flatnonzero(nxt)
    return groups


def is_connected(adj: np.ndarray) -> bool:
    """True when every device can reach every other (breadth-first search)."""
    n = adj.shape[0]
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    frontier = np.array([0])
    while frontier.size:
        nxt = adj[frontier].any(axis=0) & ~seen
        seen |= nxt
        frontier = np.flatnonzero(nxt)
    return bool(seen.all())


# --- weights and spectrum ----------------------------------------------------------------------
def metropolis_weights(adj: np.ndarray) -> np.ndarray:
    """Metropolis-Hastings gossip matrix: symmetric, doubly stochastic (Xiao & Boyd 2004, eq. 13)."""
    adj = np.asarray(adj, dtype=bool)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or not (adj == adj.T).all():
        raise UsageError("gossip graph must be a square symmetric adjacency matrix")
    deg = adj.sum(axis=1)
    w = np.where(adj, 1.0 / (1.0 + np.maximum(deg[:, None], deg[None, :])), 0.0)
    np.fill_diagonal(w, 0.0)
    np.fill_diagonal(w, 1.0 - w.sum(axis=1))
    return w


def slem(w: np.ndarray) -> float:
    """Second-largest eigenvalue modulus |lambda_2| of a symmetric gossip matrix W
    (max over all eigenvalues but the one at 1 of |lambda|; Xiao & Boyd 2004, sec. 2)."""
    lam = np.sort(np.linalg.eigvalsh(np.asarray(w, dtype=float)))  # ascending; lam[-1] = 1
    return float(max(abs(lam[-2]), abs(lam[0])))


def spectral_gap(w: np.ndarray) -> float:
    """1 - |lambda_2|: the larger, the faster gossip mixes (0 for a disconnected graph)."""
    return 1.0 - slem(w)


def rounds_to_consensus(w: np.ndarray, eps: float) -> int:
    """Rounds k so that the relative consensus error is at most eps in the worst case:
    ceil(ln eps / ln |lambda_2|) (Boyd et al. 2006, sec. II-B; Xiao & Boyd 2004, eq. 4)."""
    return rounds_to_consensus_slem(slem(w), eps)


def rounds_to_consensus_slem(s: float, eps: float) -> int:
    """rounds_to_consensus for a gossip matrix whose |lambda_2| is s."""
    if not 0.0 < eps < 1.0:
        raise UsageError(f"consensus error target eps must lie in (0, 1), got {eps!r}")
    if s >= 1.0 - 1e-12:
        raise UsageError("gossip graph is disconnected (|lambda_2| = 1): consensus is never reached")
    if s <= 1e-15:
        return 1
    return max(1, math.ceil(math.log(eps) / math.log(s) - 1e-9))


# --- simulation --------------------------------------------------------------------------------
def consensus_errors(w: np.ndarray, rounds: int, seed: int = 0, x0: np.ndarray | None = None) -> np.ndarray:
    """Simulate `rounds` synchronous gossip rounds x <- W x from x0 (default: seeded standard
    normal values, one per device) and return the relative consensus error after each round,
    ||x(k) - xbar|| / ||x(0) - xbar||, for k = 0..rounds (array of rounds + 1 values; [0] = 1).
    x0 may be (n,) or (n, d) (d parameters per device: errors use the Frobenius norm)."""
    w = np.asarray(w, dtype=float)
    if isinstance(rounds, bool) or int(rounds) != rounds or rounds < 0:
        raise UsageError(f"gossip rounds must be a whole number >= 0, got {rounds!r}")
    x = np.random.default_rng(seed).standard_normal(w.shape[0]) if x0 is None else np.array(x0, dtype=float)
    xbar = x.mean(axis=0)
    e0 = float(np.linalg.norm(x - xbar))
    out = np.empty(int(rounds) + 1)
    out[0] = 1.0
    for k in range(1, int(rounds) + 1):
        x = w @ x
        out[k] = float(np.linalg.norm(x - xbar)) / e0 if e0 > 0 else 0.0
    return out


def consensus_error(w: np.ndarray, rounds: int, seed: int = 0, x0: np.ndarray | None = None) -> float:
    """Relative consensus error after `rounds` rounds (last value of consensus_errors)."""
    return float(consensus_errors(w, rounds, seed=seed, x0=x0)[-1])


def messages_per_round(adj: np.ndarray, broadcast: bool = False) -> int:
    """Transmissions per gossip round: one unicast per directed edge (2 |E|), or one broadcast
    per device (n) when the radio can reach all its neighbours at once (BLE advertising)."""
    adj = np.asarray(adj, dtype=bool)
    return int(adj.shape[0]) if broadcast else int(adj.sum())


def round_time(adj: np.ndarray, alpha: float, m_bytes: float, bandwidth: float, half_duplex: bool = False) -> float:
    """Duration of one synchronous gossip round when every device swaps its M bytes with each of its neighbours
    one after another (one radio): round_time_for_degree at the graph's maximum degree."""
    d = int(np.asarray(adj, dtype=bool).sum(axis=1).max())
    return float(round_time_for_degree(d, alpha, m_bytes, bandwidth, half_duplex))


def round_time_for_degree(max_degree: ArrayLike, alpha: float, m_bytes: ArrayLike, bandwidth: float,
                          half_duplex: bool = False) -> np.ndarray | float:
    """One synchronous gossip round on a contact graph of maximum degree d: every device sends its M bytes to
    each neighbour and receives each neighbour's M (x <- W x needs both), one neighbour after another on its one
    radio, so the busiest device takes part in d exchanges (explorer.cost.collectives.exchange_time):
      full duplex: its d sends and d receives overlap, d (alpha + M/B), the alpha-beta point-to-point time
        (collectives.p2p_time) per neighbour;
      half duplex (links.toml duplex = "half"): a radio transmits or receives, never both, so each exchange puts
        2 M on its channel in turn, d (alpha + 2 M/B). On Bluetooth LE a device's exchange with one neighbour is
        its connection with it, whose events alternate the two sides' packets on one RF channel (Core
        Specification 5.x Vol 6 Part B sec. 4.5.1); the connections of other pairs hop over the 37 data channels
        on their own sequences (sec. 4.5.8, channel selection), so neighbouring pairs seldom share a channel at
        once (1 in 37 per event, neglected) and what serialises the round is each device's own radio, whose
        link layer keeps its connection events from overlapping (sec. 4.5). NFMI links only the two earbuds of
        a pair: one exchange, alpha + 2 M/B. (On one channel for a whole neighbourhood, an 802.11 BSS in carrier
        -sense range, every neighbour's exchanges would take turns too: not this function.)
    d exchanges on the busiest radio are a lower bound on the round: a schedule in which no radio is in two
    exchanges at once needs d or d + 1 turns (Vizing 1964, edge colouring)."""
    from explorer.cost.collectives import exchange_time

    return max_degree * exchange_time(m_bytes, alpha, bandwidth, half_duplex)


def ring_tour(points: np.ndarray) -> list[int]:
    """The order of a ring laid over devices at `points`: a nearest-neighbour tour of the positions, starting
    at device 0 (ties to the lower index). Member tour[i] sends to tour[i + 1], the last to tour[0]."""
    points = np.asarray(points, dtype=float)
    n = points.shape[0]
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    tour, left = [0], set(range(1, n))
    while left:
        nxt = min(left, key=lambda j: (d2[tour[-1], j], j))
        tour.append(nxt)
        left.remove(nxt)
    return tour


def _hop_matrix(adj: np.ndarray) -> np.ndarray:
    from scipy.sparse.csgraph import shortest_path

    hops = shortest_path(np.asarray(adj, dtype=bool).astype(float), unweighted=True)
    if not np.isfinite(hops).all():
        raise UsageError("gossip graph is disconnected: no ring can be laid over it")
    return hops


def ring_tour_hops(adj: np.ndarray, points: np.ndarray) -> list[int]:
    """Radio hops between consecutive members of a ring laid over the graph: a nearest-neighbour tour of
    the device positions (ring_tour), each edge costed by its shortest-path hop count
    (breadth-first search). A ring AllReduce on a contact graph relays over these paths."""
    hops = _hop_matrix(adj)
    tour = ring_tour(points)
    n = len(tour)
    return [int(hops[tour[i], tour[(i + 1) % n]]) for i in range(n)]


def ring_relay_paths(adj: np.ndarray, points: np.ndarray) -> list[list[int]]:
    """The radio path of each ring edge (ring_tour: tour[i] -> tour[i + 1]) over the contact graph, sender
    first, receiver last: a shortest path (its length is ring_tour_hops' count), each relay the lowest-index
    neighbour one hop nearer the receiver (a deterministic choice among equal shortest paths)."""
    adj = np.asarray(adj, dtype=bool)
    hops = _hop_matrix(adj)
    tour = ring_tour(points)
    n = len(tour)
    paths = []
    for i in range(n):
        u, v = tour[i], tour[(i + 1) % n]
        path = [u]
        while path[-1] != v:
            x = path[-1]
            path.append(int(next(w for w in np.flatnonzero(adj[x]) if hops[w, v] == hops[x, v] - 1)))
        paths.append(path)
    return paths


def ring_relay_loads(adj: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Chunks each device's radio transmits in one step of a ring AllReduce relayed over the contact graph
    (and, the same count, receives), per device index.

    In each of the 2 (k-1) steps of reduce-scatter + all-gather (Patarasuk & Yuan 2009) every ring member
    sends one chunk of M/k to its successor in the tour (ring_tour). Store-and-forward over the edge's radio
    path p_0 (sender), p_1, ..., p_h (receiver) (ring_relay_paths), each of p_0 .. p_{h-1} transmits the chunk
    once and each of p_1 .. p_h receives it once. So device x transmits 1 (its own chunk) + the ring edges it
    relays (paths with x strictly inside), and receives 1 (its predecessor's chunk) + the same relayed edges:
    load(x) = 1 + #{edges relayed by x}. Summed over the devices this is the sum of the edges' hop counts, so
    the mean load is sum(ring_tour_hops) / k; the busiest device carries the most, max(load)."""
    paths = ring_relay_paths(adj, points)
    load = np.zeros(np.asarray(adj).shape[0])
    for path in paths:
        for x in path[:-1]:
            load[x] += 1.0
    return load


def gossip_ring_crossover(max_degree: int, ring_nodes: int, max_hops: int, alpha: float,
                          bandwidth: float, half_duplex: bool = False) -> float | None:
    """Message size M* at which one synchronous gossip round (each device swaps M with its neighbours one
    after another: max_degree x (alpha + M/B), round_time) and a ring all-reduce relayed over the contact
    graph (2 (k-1) x max_hops x (alpha + M/(k B)), explorer.cost.collectives.relayed_ring_allreduce_time)
    take the same time: M* = (2 (k-1) h - d) alpha B / (d - 2 (k-1) h / k). None when gossip is faster at
    every size (d <= 2 (k-1) h / k) or the ring at every size (2 (k-1) h <= d). On a half-duplex radio both
    bandwidth terms double (round_time_for_degree, relayed_ring_allreduce_time), so B is B/2 in M*."""
    d, k, h = float(max_degree), float(ring_nodes), float(max_hops)
    lat = 2.0 * (k - 1.0) * h - d
    bw = d - 2.0 * (k - 1.0) * h / k
    if lat <= 0 or bw <= 0:
        return None
    return lat * alpha * (bandwidth / 2.0 if half_duplex else bandwidth) / bw
