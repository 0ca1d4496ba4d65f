"""The tiny fleet's hierarchy narration called NFMI 'the fast tier' while the same report found it slower per
device than the path onto BLE (sweep A item 15). Which is faster now comes from the links' figures.

Hand derivation (the links catalogue, tiny track): NFMI's effective rate 59,600 B/s, BLE 1M PHY's 75,000 B/s,
both half duplex; when two earbuds swap updates each direction gets half the channel (exchange_time: alpha +
2 M/B): NFMI 29,800 B/s = 29.8 kB/s, BLE 37,500 B/s = 37.5 kB/s. NFMI is the slower of the two."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from explorer.puzzles.fleetlens import lab06


@dataclass
class _Link:
    effective_bandwidth: float
    half_duplex: bool


def _scn(intra: _Link, inter: _Link):
    return SimpleNamespace(track=SimpleNamespace(cluster=SimpleNamespace(intra=intra, inter=inter)))


def test_tiny_links_are_the_derivation_s():
    from explorer.puzzles.fleet3d.scenario import load

    c = load("tiny").track.cluster
    assert (c.intra.effective_bandwidth, c.intra.half_duplex) == (59_600.0, True)
    assert (c.inter.effective_bandwidth, c.inter.half_duplex) == (75_000.0, True)


def test_tiny_says_nfmi_is_slower_not_the_fast_tier():
    from explorer.puzzles.fleet3d.scenario import load

    text = lab06._pair_tiers(load("tiny"))
    assert "29.8 kB/s" in text and "37.5 kB/s" in text
    assert "slower than BLE's" in text and "not the fast one" in text
    assert "(the fast tier)" not in text


@pytest.mark.parametrize("nf,ble,word", [
    (_Link(600_000.0, True), _Link(75_000.0, True), "faster than"),  # 300 kB/s against 37.5 kB/s
    (_Link(75_000.0, False), _Link(75_000.0, True), "faster than"),  # full duplex 75 against 37.5
    (_Link(75_000.0, True), _Link(75_000.0, True), "about as fast as"),
    (_Link(59_600.0, True), _Link(75_000.0, True), "slower than"),
])
def test_the_comparison_follows_the_figures(nf, ble, word):
    text = lab06._pair_tiers(_scn(nf, ble))
    assert f"{word} BLE's" in text
    assert ("the fast tier" in text) == (word == "faster than")


def test_hierarchy_names_the_tiers_by_their_rates():
    """The lab's 'slow tier' is the one between groups. On the earbuds it is not the slower: a ring step over NFMI
    inside a pair sees 29.8 kB/s each way (half duplex), over BLE between pairs 37.5 kB/s, so the generic puzzle
    must not call BLE the slow tier there; on the cloud (NVLink inside a node, InfiniBand between) it is."""
    import explorer

    def text(r) -> str:
        return " ".join([r.headline, *(f.answer for f in r.findings), *(f.label for f in r.figures.values())])

    tiny = text(explorer.solve("hierarchy", track="tiny"))
    cloud = text(explorer.solve("hierarchy", track="cloud"))
    assert "slow tier" not in tiny and "inter-group tier" in tiny
    assert "slow tier" in cloud and "inter-group tier" not in cloud
