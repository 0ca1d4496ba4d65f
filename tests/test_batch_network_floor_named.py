"""Batch's network claim on a fleet track (sweep A item 13): the configuration it cites is named, meets the other
hard limits, is under the limit with the digits that show it, and is told apart from the answer whose accumulation
sweep the report tables (edge: the claim held for fp32, micro-batch 4 only; the table is bf16, micro-batch 8)."""

from __future__ import annotations

import re

from explorer.puzzles import batch


def test_edge_network_floor_names_its_configuration():
    inst = batch.make_instance("edge", network_headroom=0.975)
    res = batch.solve_batch("edge", network_headroom=0.975)
    rep = batch.build_report(res)
    text = " ".join(f.answer for f in rep.findings)
    m = re.search(r"keeps the network under 97\.5% is ([\d,]+) \((\w+), micro-batch (\d+) x (\d+): ([\d.]+)% busy",
                  text)
    assert m, text
    gb, prec, mb, acc, busy = int(m[1].replace(",", "")), m[2], int(m[3]), int(m[4]), float(m[5])
    c = batch.evaluate_config(inst, prec, mb, acc)
    assert c["global_batch"] == gb and c["network_utilisation"] <= 0.975 and busy < 97.5
    assert c["memory"] <= c["memory_limit"] and c["p_nan"] <= inst.cm.max_nan_per_step
    sweep = rep.tables["sweep"].title
    if not sweep.startswith(f"{prec}, micro-batch {mb}:"):
        assert "not the answer's" in text, (sweep, text)


def test_fleet_starting_configuration_is_named_apart_from_the_storyboard():
    # sweep A item 7: batch's 'starting configuration' (the lab's crisis plan as one synchronous DP ring over the
    # radio) and the fleet 3D storyboard's round (edge: a 5G star, K x 2M / B_server = 275 s) are different
    # configurations; the premise finding names both, quoting the storyboard's round from the fleet model itself
    from explorer.puzzles.fleet3d import solve_fleet
    from explorer.units import human_number

    rep = batch.build_report(batch.solve_batch("edge"))
    text = next(f.answer for f in rep.findings if f.question.startswith("Is the network"))
    c = solve_fleet("edge").crisis
    assert "as the lab poses it" in text and "ring all-reduce" in text
    assert f"storyboard's start, a round of {human_number(c['round_time'])} s" in text
    cloud = next(f.answer for f in batch.build_report(batch.solve_batch("cloud")).findings
                 if f.question.startswith("Is the network"))
    assert "storyboard" not in cloud
