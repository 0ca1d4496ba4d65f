"""The scaled workload of lab 05 part 1: the lab-05 scenario file (explorer/data/lab05_distributed.toml) loaded
and validated, a track's ScalingScenario, the fabrics its devices can have between nodes (--fabric) and the
'N -> M' range (--from, --to, --max-devices) checked against it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from explorer import validation as V
from explorer.errors import UsageError, unknown_name
from explorer.hardware.catalog import get_link, get_node, link_names
from explorer.puzzles.fleetlens import FLEET_TRACKS
from explorer.tracks import Track, get_track

DATA_FILE = Path(__file__).resolve().parent.parent.parent / "data" / "lab05_distributed.toml"
DEFAULT_THRESHOLD = 0.5

# --- scenario data --------------------------------------------------------------------------------
_SCALING_KEYS = {"model": str, "seq_len": int, "micro_batch": int, "accumulation": int, "zero": int,
                 "recompute": str, "devices_per_node": int, "fabrics": list, "n_from": int, "n_to": int,
                 "n_max": int, "why": str, "source": str}
# optional: how collectives are costed ("textbook" by default, "nccl"), the strong-scaling batch (samples),
# and the critical batch (a loss for Kaplan et al.'s fit, or samples) behind the weak-scaling warning
_OPTIONAL_KEYS = {"collectives": str, "strong_batch": int, "critical_batch_loss_nats": float,
                  "critical_batch_samples": int}


@cache
def lab05_data() -> dict:
    """The lab-05 scenario file, validated: one table per track with a `scaling` and a `sync` part."""
    with open(DATA_FILE, "rb") as fh:
        raw = tomllib.load(fh)
    errors = []
    for track in ("cloud", "edge", "mobile", "tiny"):
        sec = raw.get(track)
        if not isinstance(sec, dict):
            errors.append(f"[{track}] missing")
            continue
        for k in ("sample_word", "device_plural"):
            if not isinstance(sec.get(k), str):
                errors.append(f"[{track}] {k} missing")
        sc = sec.get("scaling", {})
        for k, typ in _SCALING_KEYS.items():
            if not isinstance(sc.get(k), typ) or isinstance(sc.get(k), bool):
                errors.append(f"[{track}.scaling] {k} must be {typ.__name__}")
        for k, typ in _OPTIONAL_KEYS.items():
            if k in sc and (not isinstance(sc[k], (int, float) if typ is float else typ) or isinstance(sc[k], bool)):
                errors.append(f"[{track}.scaling] {k} must be {typ.__name__}")
        if sc.get("collectives", "textbook") not in ("textbook", "nccl"):
            errors.append(f"[{track}.scaling] collectives must be 'textbook' or 'nccl'")
        extra = set(sc) - set(_SCALING_KEYS) - set(_OPTIONAL_KEYS)
        if extra:
            errors.append(f"[{track}.scaling] unknown keys {sorted(extra)}")
        if not isinstance(sec.get("sync"), dict) or not isinstance(sec["sync"].get("source"), str):
            errors.append(f"[{track}.sync] missing or without source")
    if errors:
        raise ValueError(f"{DATA_FILE.name}: " + "; ".join(errors))
    return raw


@dataclass(frozen=True)
class ScalingScenario:
    """What is scaled on a track: a data-parallel replica of `model` with a fixed per-device batch."""

    track: Track
    model_key: str
    seq_len: int
    micro_batch: int
    accumulation: int
    zero: int
    recompute: str
    devices_per_node: int
    fabrics: tuple[str, ...]
    n_from: int
    n_to: int
    n_max: int
    why: str
    source: str
    sample_word: str
    device_plural: str
    collectives: str = "textbook"
    strong_batch: int | None = None
    critical_batch_loss_nats: float | None = None
    critical_batch_samples: int | None = None

    @property
    def samples_per_device(self) -> int:
        return self.micro_batch * self.accumulation

    @property
    def b_crit(self) -> float | None:
        """The critical batch in samples (McCandlish et al. 2018; Kaplan et al. 2020 eq. 1.4 for a language model
        at a given loss), or None when the scenario names none."""
        if self.critical_batch_samples is not None:
            return float(self.critical_batch_samples)
        if self.critical_batch_loss_nats is not None:
            from explorer.cost.convergence import kaplan_critical_batch_tokens

            return kaplan_critical_batch_tokens(self.critical_batch_loss_nats) / self.seq_len
        return None


def scenario(track: str = "cloud") -> ScalingScenario:
    t = get_track(track)
    d = lab05_data()[t.key]
    s = d["scaling"]
    return ScalingScenario(track=t, model_key=s["model"], seq_len=s["seq_len"], micro_batch=s["micro_batch"],
                           accumulation=s["accumulation"], zero=s["zero"], recompute=s["recompute"],
                           devices_per_node=s["devices_per_node"], fabrics=tuple(s["fabrics"]),
                           n_from=s["n_from"], n_to=s["n_to"], n_max=s["n_max"], why=s["why"],
                           source=s["source"], sample_word=d["sample_word"],
                           device_plural=d["device_plural"], collectives=s.get("collectives", "textbook"),
                           strong_batch=s.get("strong_batch"),
                           critical_batch_loss_nats=(float(s["critical_batch_loss_nats"])
                                                     if "critical_batch_loss_nats" in s else None),
                           critical_batch_samples=s.get("critical_batch_samples"))


def parse_fabrics(fabric: Any, valid: list[str] | None = None) -> list[str]:
    """Fabric names from a string ('a,b'), a list of strings (repeatable option) or None. `valid` is the list an
    unknown name is answered with (the track's own fabrics, track_fabrics); every catalog link when None. A known
    link outside it is kept for check_track_fabrics, which says why it is not the track's."""
    valid = link_names() if valid is None else valid
    if fabric is None:
        return []
    if not isinstance(fabric, (str, list, tuple)) or not all(isinstance(x, str) for x in (
            [fabric] if isinstance(fabric, str) else fabric)):
        raise UsageError(f"fabric must be a link name, a comma list or a list of names, got {V.short(fabric)}")
    items = [fabric] if isinstance(fabric, str) else list(fabric)
    out: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip()
            if name:
                try:
                    key = get_link(name).key
                except UsageError:
                    raise unknown_name("fabric", name, valid) from None
                if key not in out:
                    out.append(key)
    if not out:  # '' or ',' (a blank --fabric): say it is empty, not "[''] names no link"
        raise UsageError(f"--fabric (fabric=) is empty: give one or more of {', '.join(valid)} (a comma list or the "
                         "option repeated)")
    return out


def track_fabrics(track: Track) -> list[str]:
    """The catalog links a track's devices can have between their nodes.

    A fleet (edge, mobile, tiny) talks over the radio, so its fabric is a radio that reaches another node (catalog
    scope 'inter'): not a datacenter wire (an earbud has no NVLink port or InfiniBand NIC), and not NFMI, the
    catalog's 'intra' link between the two earbuds of one head, whose magnetic near field does not reach another
    wearer (NXP NxH2280: an earbud-to-earbud link). The cloud track's GPU servers are wired and have no radio, so
    its fabric is any wired link (NVLink among them: NVLink Switch spans nodes, as in the GB200 NVL72 rack's 18
    compute trays, NVIDIA GB200 NVL72 datasheet). A fleet device has only the radios its node lists (nodes.toml
    `radios`, from the part's datasheet: an nRF52840 earbud speaks Bluetooth LE, never Wi-Fi or 5G)."""
    fleet = track.key in FLEET_TRACKS
    radios = _node_radios(track) if fleet else ()
    out = []
    for k in link_names():
        link = get_link(k)
        if (link.radio and link.scope == "inter" and (not radios or k in radios)) if fleet else not link.radio:
            out.append(k)
    return out


def _node_radios(track: Track) -> tuple[str, ...]:
    """The radios of the track's catalog node (nodes.toml `radios`), () when the node names none."""
    return get_node(track.cluster.node).radios if track.cluster.node else ()


def check_track_fabrics(track: Track, fabrics: list[str]) -> list[str]:
    """`fabrics` if every one is a link the track's devices can have between nodes (track_fabrics); else a one-line
    UsageError naming the first that is not and the ones that are."""
    ok = track_fabrics(track)
    for f in fabrics:
        if f in ok:
            continue
        link = get_link(f)
        if track.key in FLEET_TRACKS:
            if link.radio and link.scope == "inter":  # a radio the track's device does not carry
                node = get_node(track.cluster.node)
                raise UsageError(f"fabric {f} ({link.name}) is not one of the radios the {track.key} track's "
                                 f"{track.device_plural} carry ({node.radios_source.split(':')[0]}); "
                                 f"valid on it: {', '.join(ok)}")
            what = (f"a near-field link inside one node (scope '{link.scope}'), which does not reach another node"
                    if link.radio else "a datacenter wire, not a radio")
            why = f"the {track.key} track is a fleet of {track.device_plural} that talk over the radio"
        else:
            what = "a radio link of the fleet tracks"
            why = f"the {track.key} track's GPU servers are wired and have no radio"
        raise UsageError(f"fabric {f} ({link.name}) is {what}, and {why}; valid on it: {', '.join(ok)}")
    return fabrics


def check_range(sc: ScalingScenario, n_max: int, a: int, b: int, given: dict[str, bool] | None = None) -> None:
    """The 'N -> M' question's --from a and --to b in the track's device unit, or a one-line UsageError naming the
    allowed range. Both lie on the curve, which ends at --max-devices (the curve and the question are one range:
    raising the curve's end to --to would report a range nobody asked for). On a fleet track both also lie in the
    fleet the fleet form answers with (fleetlens: its federated optimum at each size, up to the track's fleet) and
    count whole nodes of at least two replicas, as the synchronisation audit's --nodes (an earbud pair averages
    inside itself first, so 2 earbuds are one replica with nobody to synchronise with). `given`: which of the
    options the user wrote (the others are the track's defaults, and the error says so)."""
    t = sc.track
    given = given or {}

    def opt(name: str, v: int) -> str:
        return f"--{name} {v:,}" + ("" if given.get(name, True) else " (the track's default)")

    if t.key in FLEET_TRACKS:
        per, fleet = t.cluster.devices_per_node, t.cluster.devices
        lo, hi = 2 * per, min(fleet, n_max)
        unit = f" in whole nodes of {per} {t.device_plural}" if per > 1 else ""
        for name, v in (("from", a), ("to", b)):
            if v < lo or v > hi or v % per:
                raise UsageError(
                    f"{opt(name, v)}: on the {t.key} track N counts {t.device_plural}{unit}, from {lo} (two replicas "
                    f"to average) to {hi:,} ("
                    + (f"the track's fleet of {fleet:,}" if hi == fleet else opt("max-devices", n_max)) + ")")
    if b <= a:
        raise UsageError(f"--to ({b:,}) must be larger than --from ({a:,})")
    if b > n_max:
        raise UsageError(f"{opt('to', b)} is beyond the curve's end, {opt('max-devices', n_max)}: give --to <= "
                         f"{n_max:,} or --max-devices >= {b:,}")
