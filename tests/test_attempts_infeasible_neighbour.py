"""A student's attempt whose best single change is still infeasible: the grader names that change and what it leaves
violated, where it used to stop with 'internal error: TypeError' (reports/attempts.best_move compared the infeasible
move's objective, None, with the optimum's)."""

from __future__ import annotations

from click.testing import CliRunner

from explorer.cli import main


def test_infeasible_best_move_is_described_not_a_crash(tmp_path):
    # tiny's earbud under a 1 % MFU target: accumulation 1,000 is outside the searched space (<= 64), and every
    # single change leaves some limit broken; some of those moves are infeasible and carry no objective
    f = tmp_path / "attempts.csv"
    f.write_text("precision,micro_batch,accumulation\nbf16,1,1000\n")
    out = CliRunner().invoke(main, ["solve", "batch", "--track", "tiny", "--target-mfu", "0.01", "--attempts", str(f)])
    text = " ".join(out.output.split())
    assert out.exit_code == 0, text
    assert "internal error" not in text
    assert "still infeasible, the smallest violation a single change leaves" in text
