"""The fleet form of the lab 05 parallelism puzzle: its scenario, read from the track's [fleet] table
(explorer/data/tracks/<track>.toml) and validated, plus the numbers it borrows from the other lab
scenarios (straggler model from lab05 [<track>.sync], critical batch, sample size and the freezing
price from lab08) so every figure has one home.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from explorer.cost import gossip
from explorer.cost.federated import consensus_rate
from explorer.cost.setup import Setup
from explorer.cost.stragglers import StepTimeModel
from explorer.errors import UsageError
from explorer.hardware.catalog import Link, build_cluster, get_link, link_names
from explorer.tracks import Track, get_track
from explorer.units import GB

FLEET_TRACKS = ("edge", "mobile", "tiny")
GRAPHS = ("server", "gossip_devices", "gossip_pairs", "ring_relayed")
# an all-reduce among the devices: it cannot drop a late member part-way, so its round waits for the slowest
# (explorer.cost.federated.round_participants); a server (star) and gossip close a round at its deadline
ALL_REDUCE_GRAPHS = ("ring_relayed",)
_LISTS = ("split_points", "trainable_layers", "micro_batches", "local_steps", "participation", "deadline_quantiles",
          "compression", "compression_names")
_NUMS = ("heterogeneity", "reference_rounds", "reference_participation", "reference_local_steps",
         "reference_micro_batch", "energy_budget_j_per_day")
_TIER_KEYS = {"name": str, "link": str, "hours_per_day": (int, float), "uses_battery": bool, "graph": str,
              "source": str}


@dataclass(frozen=True)
class Tier:
    """One aggregation path: the link a device syncs over, when it may train, and the graph averaged on."""

    key: str
    name: str
    link: Link
    hours_per_day: float
    uses_battery: bool
    graph: str
    source: str
    server_bytes_per_s: float = 0.0  # the aggregator's network, each way (0: no server, gossip)
    short: str = ""  # a few words for headlines
    downlink: Link | None = None  # the link's downlink where it is asymmetric (links.toml <key>_down), else None

    @property
    def down(self) -> Link:
        """The link a device's downloads run on: the asymmetric radio's downlink entry (5G: lte_5g_down, at its own
        rate and energy per bit), else the link itself, one rate both ways (links.toml header)."""
        return self.downlink or self.link

    @property
    def drops_late(self) -> bool:
        """Whether a round on this path may close at a deadline and leave late devices out (a star, gossip),
        or must wait for every member (an all-reduce: a ring stalls while one member computes)."""
        return self.graph not in ALL_REDUCE_GRAPHS

    def busiest(self, dev: str) -> str:
        """Whose energy the round's sync figure is, where this path loads devices unequally: 'the earbud with the
        most neighbours' (gossip) or 'the earbud that relays the most ring chunks' (a ring relayed over the contact
        graph); the model charges that device, the first to spend its budget (model.sync_costs degree='max').
        '' where every device pays the same (a star through a server)."""
        if self.graph.startswith("gossip"):
            return f"the {dev} with the most neighbours"
        return f"the {dev} that relays the most ring chunks" if self.graph == "ring_relayed" else ""


@dataclass(frozen=True)
class Placement:
    """Where the model runs inside one local group: `split` layers on the fleet device (the rest and the
    head on the partner), the top `trainable` layers trained."""

    split: int
    trainable: int

    def short(self, layers: int, partner_word: str, device_word: str) -> str:
        """A few words: 'whole model on the vehicle', 'split 4/1 with the other earbud, top 2 trained'."""
        train = "" if self.trainable == layers else f", top {self.trainable} of {layers} layers trained"
        if self.split == layers:
            return f"whole model on the {device_word}{train}"
        if self.split == 0:
            return f"whole model on the {partner_word}{train}"
        return f"split {self.split}/{layers - self.split} with the {partner_word}{train}"

    def describe(self, layers: int, partner_word: str) -> str:
        frozen = layers - self.trainable
        train = "all layers trained" if not frozen else f"top {self.trainable} of {layers} layers trained"
        if self.split == layers:
            return f"whole model on the device, {train}"
        if self.split == 0:
            return f"whole model on the {partner_word}, {train}"
        return f"split {self.split}/{layers - self.split} with the {partner_word}, {train}"


@dataclass(frozen=True)
class FleetScenario:
    track: Track
    data: dict
    setup: Setup  # the fleet device, alone
    partner_setup: Setup | None
    partner_word: str
    partner_limit: int
    local_link: Link | None  # the split's link (None: the tier's own link, as glasses reach their phone)
    partner_sync_link: Link | None
    placements: tuple[Placement, ...]
    micro_batches: tuple[int, ...]
    local_steps: tuple[int, ...]
    participation: tuple[float, ...]
    deadline_quantiles: tuple[float, ...]
    compression: tuple[int, ...]
    compression_names: tuple[str, ...]
    tiers: tuple[Tier, ...]
    step_model: StepTimeModel  # jitter and stragglers of one local step (t0 rescaled per configuration)
    noise_batch: float  # gradient noise scale B_noise (the track's critical batch)
    freeze_fractions: tuple[float, ...]
    freeze_multipliers: tuple[float, ...]
    sample_bytes: float
    graphs: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    fleet_size: int | None = None  # a --nodes override of the track's fleet

    @property
    def devices(self) -> int:
        return self.fleet_size or self.track.cluster.devices

    @property
    def layers(self) -> int:
        return self.setup.model.layers

    @property
    def memory_limit(self) -> int:
        return self.setup.memory_limit_bytes

    def replicas(self, p: Placement) -> int:
        """Model replicas in the fleet: a pair of earbuds that splits the model is one replica."""
        return self.devices // 2 if self.partner_word == "other earbud" and p.split < self.layers else self.devices

    def quality(self, p: Placement) -> float:
        """Steps-to-quality multiplier of training only the top layers (lab08 freezing table)."""
        frac = p.trainable / self.layers
        return float(np.interp(frac, self.freeze_fractions[::-1], self.freeze_multipliers[::-1]))


def downlink_of(link: Link) -> Link | None:
    """The downlink entry of an asymmetric radio (links.toml: <key>_down, e.g. lte_5g_down), None where one rate
    serves both directions."""
    key = f"{link.key}_down"
    return get_link(key) if key in link_names() else None


def _single(setup: Setup, accelerator: str, link: str) -> Setup:
    return replace(setup, cluster=build_cluster(accelerator, 1, 1, link, link))


def _check(d: dict, where: str) -> None:
    errors = [f"{k} must be a list" for k in _LISTS if not isinstance(d.get(k), list) or not d.get(k)]
    errors += [f"{k} must be a number" for k in _NUMS if isinstance(d.get(k), bool) or not isinstance(
        d.get(k), (int, float))]
    tiers = d.get("tiers")
    if not isinstance(tiers, dict) or not tiers:
        errors.append("needs at least one [fleet.tiers.<name>] table")
    else:
        for name, t in tiers.items():
            errors += [f"tiers.{name}.{k} must be {typ}" for k, typ in _TIER_KEYS.items()
                       if not isinstance(t.get(k), typ) or isinstance(t.get(k), bool) != (typ is bool)]
            if t.get("graph") not in GRAPHS:
                errors.append(f"tiers.{name}.graph must be one of {', '.join(GRAPHS)}")
    if not errors:
        if not all(0 < q <= 1 for q in d["participation"] + d["deadline_quantiles"]):
            errors.append("participation and deadline quantiles must lie in (0, 1]")
        if len(d["compression"]) != len(d["compression_names"]) or min(d["compression"]) < 1:
            errors.append("compression factors (>= 1) and their names must pair up")
    if errors:
        raise ValueError(f"{where} [fleet]: " + "; ".join(errors))


def load(track: str) -> FleetScenario:
    """The fleet scenario of a fleet track (edge, mobile, tiny)."""
    from explorer.puzzles.sync.audit import make_setup, sync_data
    from explorer.puzzles.training_scenario import common, scenario

    t = get_track(track)
    if t.key not in FLEET_TRACKS:
        raise UsageError(f"the fleet form of the 3D puzzle is for {', '.join(FLEET_TRACKS)}, not {t.key!r}")
    d = t.section("fleet")
    _check(d, f"tracks/{t.key}.toml")
    c = t.cluster
    base = make_setup(t)
    setup = _single(base, c.accelerator.key, c.inter.key)
    layers = base.model.layers
    partner = d["partner"]
    if partner == "none":
        p_setup, p_word, p_limit, local, p_sync = None, "", 0, None, None
    elif partner == "pair":
        p_setup, p_word, p_limit, local, p_sync = setup, "other earbud", setup.memory_limit_bytes, c.intra, None
    else:
        p_setup = _single(replace(base, usable_memory_fraction=1.0), partner, d["partner_sync_link"])
        p_word, p_limit = "phone", int(d["partner_memory_gb"] * GB)
        local, p_sync = None, get_link(d["partner_sync_link"])
    splits = [s for s in d["split_points"] if 0 <= s <= layers and (p_setup is not None or s == layers)]
    placements = tuple(Placement(s, k) for s in splits for k in d["trainable_layers"] if 1 <= k <= layers)
    if not placements:
        raise ValueError(f"tracks/{t.key}.toml [fleet]: no valid split point / trainable layers")
    tiers = tuple(Tier(k, v["name"], get_link(v["link"]), float(v["hours_per_day"]), v["uses_battery"], v["graph"],
                       v["source"], float(v.get("server_gbps", 0.0)) * 1e9 / 8.0, str(v.get("short", v["name"])),
                       downlink_of(get_link(v["link"])))
                  for k, v in d["tiers"].items())
    bad = [t.key for t in tiers if (t.graph == "server") != (t.server_bytes_per_s > 0)]
    if bad:
        raise ValueError(f"tracks/{t.key}.toml [fleet]: a server tier needs server_gbps > 0, a gossip tier none: {bad}")
    sd = sync_data(t.key)
    step_model = StepTimeModel(1.0, sd["jitter_fraction"], sd["straggler_fraction"], sd["slowdown"])
    ts = scenario(t.key)
    cm = common()
    b_noise = ts.critical_batch_samples
    if b_noise is None:  # a language model's critical batch in tokens (Kaplan et al. 2020) -> sequences
        from explorer.cost.convergence import kaplan_critical_batch_tokens

        b_noise = kaplan_critical_batch_tokens(ts.critical_batch_loss_nats) / base.seq_len
    return FleetScenario(
        track=t, data=d, setup=setup, partner_setup=p_setup, partner_word=p_word, partner_limit=p_limit,
        local_link=local, partner_sync_link=p_sync, placements=placements,
        micro_batches=tuple(int(b) for b in d["micro_batches"]), local_steps=tuple(int(h) for h in d["local_steps"]),
        participation=tuple(float(q) for q in d["participation"]),
        deadline_quantiles=tuple(float(q) for q in d["deadline_quantiles"]),
        compression=tuple(int(x) for x in d["compression"]), compression_names=tuple(d["compression_names"]),
        tiers=tiers, step_model=step_model, noise_batch=float(b_noise),
        freeze_fractions=tuple(cm.trainable_fractions), freeze_multipliers=tuple(cm.freeze_steps_multiplier),
        sample_bytes=float(ts.sample_bytes))


# --- the contact graphs of a gossiping fleet ---------------------------------------------------------
def wearer_graph(scn: FleetScenario) -> tuple[np.ndarray, np.ndarray]:
    """(adjacency, positions) of the wearers (one node per pair of earbuds): uniform in a square of
    area_m, linked within radio_range_m (a random geometric graph, seeded; explorer.cost.gossip)."""
    if "wearers" not in scn.graphs:
        d = scn.data
        pairs = scn.devices // 2
        radius = d["radio_range_m"] / d["area_m"]
        adj = gossip.contact_graph(pairs, seed=int(d["graph_seed"]), radius=radius)
        scn.graphs["wearers"] = (adj, gossip.contact_points(pairs, seed=int(d["graph_seed"])))
    return scn.graphs["wearers"]


def earbud_graph(scn: FleetScenario) -> np.ndarray:
    """Every earbud hears its own partner and both earbuds of every wearer in range."""
    if "earbuds" not in scn.graphs:
        adj, _ = wearer_graph(scn)
        big = np.kron(adj.astype(int) + np.eye(adj.shape[0], dtype=int), np.ones((2, 2), dtype=int)) > 0
        np.fill_diagonal(big, False)
        scn.graphs["earbuds"] = big
    return scn.graphs["earbuds"]


def graph_figures(scn: FleetScenario, adj: np.ndarray) -> dict[str, float]:
    """Spectral figures of a contact graph under Metropolis weights (numpy eigenvalues)."""
    w = gossip.metropolis_weights(adj)
    lam = gossip.slem(w)
    return {"nodes": int(adj.shape[0]), "edges": int(adj.sum() // 2), "max_degree": int(adj.sum(axis=1).max()),
            "mean_degree": float(adj.sum(axis=1).mean()), "slem": lam, "spectral_gap": 1.0 - lam,
            "consensus_rate": consensus_rate(lam)}


def ring_hops(scn: FleetScenario) -> list[int]:
    """Radio hops between consecutive wearers of a ring laid over the wearer graph."""
    if "ring_hops" not in scn.graphs:
        adj, pts = wearer_graph(scn)
        scn.graphs["ring_hops"] = gossip.ring_tour_hops(adj, pts)
    return scn.graphs["ring_hops"]


def ring_relay_loads(scn: FleetScenario) -> np.ndarray:
    """Chunks each wearer's radio sends (and receives) per step of the ring laid over the wearer graph,
    relays counted along each ring edge's radio path (gossip.ring_relay_loads)."""
    if "ring_relay_loads" not in scn.graphs:
        adj, pts = wearer_graph(scn)
        scn.graphs["ring_relay_loads"] = gossip.ring_relay_loads(adj, pts)
    return scn.graphs["ring_relay_loads"]


