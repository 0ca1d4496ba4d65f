"""The tiny track's contact-graph text says what the code does (session 18, item 3): tracks/tiny.toml said an earbud
hears those "within 8 m", while the graph used is grown by 10% steps from radio_range_m until the wearers connect
(explorer/cost/gossip.contact_radius): 8.8 m for the track's 50 wearers, 27.6 m for 9 or fewer."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from explorer.cost import gossip

TINY = Path(__file__).resolve().parents[1] / "explorer" / "data" / "tracks" / "tiny.toml"


def _fleet() -> dict:
    return tomllib.loads(TINY.read_text())["fleet"]


def test_the_radius_used_is_the_range_grown_by_ten_percent_steps():
    d = _fleet()
    area, rng, seed = d["area_m"], d["radio_range_m"], d["graph_seed"]
    assert (area, rng) == (40.0, 8.0)
    # at the radio's own 8 m the 50 wearers fall apart into groups that cannot average
    assert gossip.connected_groups(gossip.contact_graph_at(50, seed, rng / area)) > 1
    # one 10% step connects them: 8 x 1.1 = 8.8 m
    assert gossip.contact_radius(50, seed, rng / area) * area == pytest.approx(8.0 * 1.1, rel=1e-9)
    # 9 wearers need thirteen steps: 8 x 1.1^13 = 8 x 3.4523 = 27.62 m
    assert gossip.contact_radius(9, seed, rng / area) * area == pytest.approx(8.0 * 1.1 ** 13, rel=1e-9)
    assert 8.0 * 1.1 ** 13 == pytest.approx(27.62, abs=0.005)


def test_the_source_text_says_the_grown_radius_not_a_fixed_8_m():
    text = _fleet()["source"]
    assert "hears those within 8 m" not in text
    assert "1.1^k" in text and "8.8 m for the track's 50 wearers" in text and "27.6 m" in text
    assert "names the radius its graph used" in text
