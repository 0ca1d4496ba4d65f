"""Accuracy of the cost model against published runs (explorer/validate.py) and its regression guard.

The guard: every table's median and max |error| must stay within its target (issue 7: throughput median
<= 7 %, max <= 15 %; memory 2 %), or, where tables.toml records a miss that is explained, within that
recorded error. A cost-model change that makes any table worse fails here.
"""

from __future__ import annotations

import pytest

from explorer.errors import UsageError
from explorer.validate import (
    _relative_error,
    load_table,
    overall,
    render,
    table_names,
    validate,
)


@pytest.fixture(scope="module")
def results():
    return {t.key: t for t in validate()}


# --- the regression guard -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", table_names())
def test_error_does_not_grow_beyond_target_or_recorded_miss(results, name):
    t = results[name]
    worst = sorted(t.rows, key=lambda r: -r.abs_error)[:3]
    detail = "; ".join(f"{r.label}: {100 * r.error:+.1f}%" for r in worst)
    assert t.median_error <= t.guard_median, f"{name}: median |error| {t.median_error:.3f} > {t.guard_median}"
    assert t.max_error <= t.guard_max, f"{name}: max |error| {t.max_error:.3f} > {t.guard_max} ({detail})"


@pytest.mark.parametrize("name", table_names())
def test_a_missed_target_is_recorded_and_explained(results, name):
    """A table either meets its target or tables.toml says by how much it misses and why."""
    t = results[name]
    if not t.meets_target:
        assert t.accepted_median is not None and t.accepted_max is not None, name
        assert len(t.miss) > 80, f"{name} misses its target without an explanation"
    else:
        assert t.accepted_median is None and t.accepted_max is None, (
            f"{name} now meets its target: remove accepted_median/accepted_max from tables.toml")


def test_recorded_miss_is_tight(results):
    """The recorded error must not leave room to degrade unnoticed: at most 3 points above today's error
    (after an improvement, lower accepted_median / accepted_max in tables.toml to the new figures)."""
    for t in results.values():
        if t.accepted_max is not None:
            assert t.accepted_max - t.max_error <= 0.03, f"{t.key}: lower accepted_max to {t.max_error:.2f}"
            assert t.accepted_median - t.median_error <= 0.03, f"{t.key}: lower accepted_median to {t.median_error:.2f}"


def test_zero_memory_meets_the_2_percent_target(results):
    t = results["zero_table1"]
    assert t.meets_target and t.max_error <= 0.02
    assert len(t.rows) == 6 * 9  # 6 DP degrees x 3 models x 3 stages


# --- known answers, independent of the cost model's calibration ----------------------------------------------

def test_zero_table_known_answer_by_hand(results):
    # GPT shape h = 4096, L = 36, V = 51200, s = 2048, learned positions, biases, LayerNorm, tied embedding:
    #   L (12 h^2 + 13 h) + V h + s h + 2 h = 36 x 201,379,840 + 209,715,200 + 8,388,608 + 8,192 = 7,467,786,240.
    # ZeRO-1 (optimizer states sharded) at DP = 4: 2P + 2P + 12P / 4 = 7P = 52.27 GB (the paper: 7 x 7.5 = 52.5).
    row = next(r for r in results["zero_table1"].rows if r.label.startswith("7.5B") and "ZeRO-1 DP=4" in r.label)
    assert row.published == 52.5
    assert row.predicted == pytest.approx(7 * 7_467_786_240 / 1e9, rel=1e-9)


def test_megatron_rows_carry_the_published_figures():
    # Narayanan et al. SC'21 Table 1: 1.7B on 32 GPUs at 137 TFLOP/s; 1T on 3072 GPUs at 163 TFLOP/s (52 % of 312);
    # run_table_1.sh: the 1T run uses micro-batch 1, the 76B run 60 / 4 / 5 = 3 virtual stages.
    _, comments, rows = load_table("megatron_sc21_table1")
    assert comments[0].startswith("Narayanan et al. SC'21")
    first, last = rows[0], rows[-1]
    assert (first["gpus"], first["tflops_per_gpu"]) == ("32", "137")
    assert (last["gpus"], last["tflops_per_gpu"], last["pct_peak"], last["micro_batch"]) == ("3072", "163", "52", "1")
    assert next(r for r in rows if r["params_b"] == "76.1")["virtual_stages"] == "3"


def test_mosaic_transcription_is_self_consistent():
    """Each row's MFU column follows from its throughput column, and NumParams from the shape (checks the copy).

    MosaicML's MFU = tokens/s/GPU x (6 N + 12 L h s) / 989.5e12 (their README, 'MFU'), N = NumParams;
    N = L (12 h^2 + 13 h) + V h + s h + 2 h with V = 50368.
    """
    spec, _, rows = load_table("mosaic_h100_bf16")
    assert len(rows) == 52
    for r in rows:
        h, layers, _ = spec["models"][r["model"]]
        s, n = int(r["seq_len"]), int(r["num_params"])
        assert n == layers * (12 * h * h + 13 * h) + 50368 * h + s * h + 2 * h, r
        mfu = int(r["tokens_per_s_per_gpu"]) * (6 * n + 12 * layers * h * s) / 989.5e12
        assert mfu == pytest.approx(float(r["mfu_pct"]) / 100, rel=0.01), r
        assert int(r["gpus"]) * int(r["micro_batch"]) * int(r["grad_accum"]) == int(r["global_batch"]), r


def test_llama3_rows_and_the_dp_typo():
    # Table 4: 8,192 GPUs = TP 8 x CP 1 x PP 16 x DP 64 at 430 TFLOP/s; the third row prints DP = 4, but
    # 16,384 / (8 x 16 x 16) = 8 and 16M tokens / 131,072 / 16 per DP = 8, so the file carries 8.
    _, _, rows = load_table("llama3_table4")
    assert [r["tflops_per_gpu"] for r in rows] == ["430", "400", "380"]
    for r in rows:
        assert int(r["tp"]) * int(r["cp"]) * int(r["pp"]) * int(r["dp"]) == int(r["gpus"])
        assert int(r["dp"]) * int(r["batch_per_dp"]) * int(r["seq_len"]) == pytest.approx(16.8e6, rel=0.01)


def test_every_table_names_its_source():
    for name in table_names():
        spec, comments, rows = load_table(name)
        assert rows and comments, name
        assert any(ch.isdigit() for ch in comments[0]), f"{name}: first line should cite a table/figure"
        assert spec["source"]


def test_error_counts_only_beyond_the_printed_precision():
    # "0.12" stands for [0.115, 0.125): 0.1167 is inside, so no error.
    assert _relative_error(0.1167, "0.12") == 0.0
    # 110 vs "100": (10 - 0.5) / 100 = 0.095 over; 90 vs "100": -0.095.
    assert _relative_error(110.0, "100") == pytest.approx(0.095)
    assert _relative_error(90.0, "100") == pytest.approx(-0.095)


def test_overall_and_renderings(results):
    rs = list(results.values())
    o = overall(rs, "throughput")
    assert o["rows"] == 10 + 52 + 3
    text = render(rs, "text")
    assert "median |error|" in text and "why:" in text
    csv_text = render(rs, "csv")
    assert csv_text.count("\n") == 1 + 10 + 52 + 3 + 54
    assert '"tables"' in render(rs, "json")
    with pytest.raises(UsageError):
        render(rs, "xml")
    with pytest.raises(UsageError):
        validate(["no_such_table"])


def test_cli_validate():
    try:
        from explorer.cli import main
    except ModuleNotFoundError as exc:  # the CLI frame imports every command module; one may be missing
        pytest.skip(f"CLI frame not importable yet: {exc}")
    from click.testing import CliRunner

    runner = CliRunner()
    res = runner.invoke(main, ["validate", "--table", "zero_table1", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("table,row,unit,published,predicted,error")
    res = runner.invoke(main, ["validate", "--table", "megatron_sc21_table1", "--strict"])
    assert res.exit_code != 0 or results_meet("megatron_sc21_table1")


def results_meet(name: str) -> bool:
    return validate([name])[0].meets_target
