"""A new user's audit nits, each through a real run of the command it was found in: a report printed without its
plots says where they are; estimate, plan, check and the memory audit say in words what they printed as keys; a blank
--fabric and a lab that does not exist are one line naming the argument; a frontier counts in the right number; the
compression figure that means 'not reached' no longer reads '0 steps'; a claim check wraps at 80 columns in a pipe
where a plan keeps 100 for its candidate table."""

from __future__ import annotations

import html
import json
import re

import pytest
from click.testing import CliRunner

from explorer.cli import main

# The catalog's names (hardware/data/accelerators.toml, links.toml `name`), which prose now uses for the keys
H100 = "NVIDIA H100 SXM5 80GB"
IB_NDR = "InfiniBand NDR 400 Gb/s (per GPU)"


def run(*args: str, code: int = 0) -> str:
    """The command's output (stdout and stderr) as a pipe gets it: no terminal, no $COLUMNS."""
    r = CliRunner(env={"COLUMNS": None}).invoke(main, list(args))
    assert r.exit_code == code, r.output
    return r.output


def flat(text: str) -> str:
    return " ".join(text.split())


# --- 1. plots: Markdown on standard output and text say where the pictures are ------------------------------------
def test_markdown_on_stdout_says_the_plots_are_not_in_it_and_how_to_get_them(tmp_path):
    # solve scaling draws one plot, scaling_efficiency (reports/html.py PLOT_TITLES names it)
    md = run("solve", "scaling", "--format", "markdown")
    section = md.split("## Plots", 1)[1].split("\n## ", 1)[0]
    assert "![" not in md  # no image link: there is no PNG beside standard output
    assert flat(section) == ("1 plot (Throughput and scaling efficiency against accelerators): not embedded in "
                             "Markdown on standard output; `--out DIR` writes it as a PNG file beside the report, "
                             "linked from it, and `--format html` embeds it in the page.")
    # with --out the picture is there, linked, and the page says nothing of a missing one
    run("solve", "scaling", "--format", "markdown", "--out", str(tmp_path))
    written = (tmp_path / "scaling-cloud.md").read_text()
    assert "![" in written and "(scaling-cloud-scaling_efficiency.png)" in written
    assert "not embedded" not in written and (tmp_path / "scaling-cloud-scaling_efficiency.png").stat().st_size > 0


def test_text_names_its_plots_and_the_formats_that_carry_them():
    # solve hierarchy draws two plots: the communication waterfall and the two-tier topology
    text = flat(run("solve", "hierarchy"))
    m = re.search(r"Plots (\d+) plots \(([^)]*)\): not drawn in text; --format html embeds them in the page, "
                  r"--format markdown --out DIR writes them as PNG files beside the report\.", text)
    assert m, text[-1500:]
    assert m.group(1) == "2" and len(m.group(2).split("; ")) == 2
    # HTML carries them already: one <img> per plot, and no note
    html = run("solve", "hierarchy", "--format", "html")
    assert html.count("<img") == 2 and "not drawn in text" not in html and "not embedded" not in html


# --- 2. estimate: the step's parts by name --------------------------------------------------------------------------
def test_estimate_text_names_the_step_parts_and_json_keeps_the_keys():
    text = run("estimate")
    step = text.split("Step time (", 1)[1].split("\n\n", 1)[0]
    for key in ("tp_comm", "cp_comm", "pp_comm", "dp_exposed"):
        assert key not in text
    d = json.loads(run("estimate", "--format", "json"))
    times = d["time_breakdown_s"]
    assert {"tp_comm", "cp_comm", "pp_comm", "dp_exposed"} <= set(times)
    unit = step.split(")", 1)[0]
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6}[unit]
    # each named line holds the same figure the JSON gives under its key (4 decimals in the text's unit)
    for name, key in (("tensor-parallel communication", "tp_comm"), ("exposed data-parallel sync", "dp_exposed"),
                      ("pipeline send/receive", "pp_comm"), ("context-parallel communication", "cp_comm")):
        m = re.search(rf"^  {re.escape(name)}\s+(\d+\.\d{{4}})$", step, re.M)
        assert m, step
        assert float(m.group(1)) == pytest.approx(times[key] / scale, abs=6e-5)


# --- 3 and 9. plan and check: the catalog's names in prose; widths -------------------------------------------------
def test_check_names_the_gpu_and_wraps_at_80_columns_in_a_pipe():
    out = run("check", "--model", "llama3_70b", "--gpu", "h100", "--gpus", "256", "--tokens-per-s", "512000",
              "--mfu", "0.45")
    text = flat(out)
    assert f"on 256 x {H100} (989.4 TFLOP/s" in text and f"Model bound on 256 x {H100} at global batch" in text
    assert f"of HBM on the {H100}" in text and "h100_sxm" not in text
    # no table: the common width of every other command in a pipe, not the plan's 100
    assert max(len(line) for line in out.splitlines()) <= 80
    assert max(len(line) for line in out.splitlines()) > 70  # wrapped to the width, not short lines


def test_plan_names_gpu_and_network_in_prose_keys_in_its_table_at_100_columns():
    out = run("plan", "--params", "8e9", "--tokens", "1e11", "--gpu", "h100", "--gpus", "64", "--global-batch",
              "256", "--price", "h100=2")
    text = flat(out)
    assert f"tried: 64 x {H100} on {IB_NDR}:" in text
    assert "64 x h100_sxm" not in text and "on ib_ndr" not in text
    assert f"price {H100}: $2.00/GPU-hour" in text
    # the candidate table keeps the keys (what --gpu and --network take) and stays a table: one row per candidate
    assert re.search(r"^  h100_sxm\s+64\s+ib_ndr\s+\d+\.\d%", out, re.M), out
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= 100 and max(widths) > 80  # a plan keeps 100 columns in a pipe (narrate.py WIDTH)


# --- 4. the memory audit in words -------------------------------------------------------------------------------
def test_memory_audit_says_its_configuration_in_words():
    out = run("solve", "memory", "--track", "cloud")
    # the prose: headline, figures' labels and the answers (the tables below keep the keys an attempts file takes)
    text = flat(out.split("\nConstraints\n", 1)[0])
    assert ("needs 2.62 TB per GPU as started (Adam in BF16, no recomputation, micro-batch 8, ZeRO stage 0)"
            in text)
    assert "ZeRO stage 0 -> 3" in text and "recomputation none -> full" in text
    for key_words in ("adam bf16", "zero 0 -> 3", "recompute none", "ZeRO-0)", "(adam x1"):
        assert key_words not in text
    assert "optimizer Adam -> 8-bit Adam" in flat(out)  # the per-optimizer table's changes, in words too


# --- 5. a blank --fabric --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("blank", ["", ",", " , "])
def test_a_blank_fabric_is_one_line_saying_it_is_empty(blank):
    out = run("solve", "scaling", "--fabric", blank, code=2)
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --fabric (fabric=) is empty: give one or more of ")
    assert "ib_ndr" in lines[0] and "names no link" not in lines[0] and "['']" not in lines[0]


# --- 6. explore lab with a lab that has no app ----------------------------------------------------------------------
def test_a_lab_that_does_not_exist_is_named_as_the_lab_argument():
    out = run("lab", "09", code=2)
    assert re.fullmatch(r"error: lab must be 05, 06 or 08, got '09' \(see '\w+ lab --help'\)", out.strip()), out
    from explorer.cli.lab import LabChoice

    assert LabChoice(["05", "06", "08", "5", "6", "8"]).convert("6", None, None) == "6"  # the short forms stay


# --- 7. frontier counts -----------------------------------------------------------------------------------------------
def test_frontier_counts_in_the_right_number(tmp_path):
    # one GPU count and one memory-headroom level: one epsilon-constraint solve, one point, none dominated
    text = flat(run("frontier", "3d", "--gpus", "64", "--levels", "1"))
    assert "1 non-dominated point from 1 exact solve (0 dominated solved points dropped)." in text
    assert ": 1 Pareto-optimal point (max throughput" in text  # the headline
    assert "point(s)" not in text and "1 Pareto-optimal points" not in text
    # the plot's alt text, beside the PNG --out writes
    run("frontier", "3d", "--gpus", "64", "--levels", "1", "--format", "markdown", "--out", str(tmp_path))
    md = (tmp_path / "frontier-3d-cloud.md").read_text()
    assert "for the 1 point of the frontier" in md and "1 points" not in md


# --- 8. compression: 'not reached', not '0 steps' ---------------------------------------------------------------------
def test_compression_not_reached_is_not_zero_steps():
    # 3 steps: the warm-up is 20% of them, rounded, at least 1, and the 2 compressed steps do not reach the target
    # (the run's own words: 'does not reach the target loss within the run's 3 steps')
    d = json.loads(run("solve", "compression", "--steps", "3", "--format", "json"))
    f = d["figures"]["steps_to_target_1bit"]
    assert f["value"] == 0  # the sentinel fleetlens/lab06_compression.py and test_fleet_answers read
    assert "not reached in the run's 3 steps" in f["label"] and f["unit"] == ""
    assert d["figures"]["speedup_1bit_end_to_end"]["value"] == 0 and "not reached" in \
        d["figures"]["speedup_1bit_end_to_end"]["label"]
    for fmt in ("text", "markdown", "html"):
        out = flat(html.unescape(run("solve", "compression", "--steps", "3", "--format", fmt)))
        assert not re.search(r"1-bit Adam\W+(<[^>]*>\W*)*0 steps", out), fmt
        assert "not reached in the run's 3 steps" in out, fmt
        assert "0 x" not in out.split("end-to-end speedup to the target loss", 1)[1][:120], fmt
    # a run long enough to reach it keeps its unit
    d = json.loads(run("solve", "compression", "--format", "json"))
    f = d["figures"]["steps_to_target_1bit"]
    assert f["unit"] == "steps" and f["value"] > 0 and f["label"] == "steps to target, 1-bit Adam"
