"""Every plot a lab 06 report lists draws from the report's data (all 12 puzzle/track pairs)."""

import pytest

from explorer.puzzles import compression, crossover, hierarchy

OPTS = {compression: {"steps": 30}}


@pytest.mark.parametrize("mod", [crossover, hierarchy, compression], ids=lambda m: m.__name__.split(".")[-1])
@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_plots_draw(mod, track):
    from explorer.reports.plots import draw

    r = mod.solve(track, **OPTS.get(mod, {}))
    assert r.plots
    for name in r.plots:
        assert name in r.data, name
        fig = draw(name, r)
        ax = fig.axes[0]
        assert ax.get_xlabel() or name == "topology"
        assert fig.get_suptitle() or any(a.get_title() for a in fig.axes)
