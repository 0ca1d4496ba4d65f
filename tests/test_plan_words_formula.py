"""explore plan's formula lines add up, and a token count below one step is refused (reviewers' defect 7):
'cost = 1,024 x 1 h x $3.00 = $1.8k', '2,121 s = 0.0 days', and '0 steps' priced as a run of 1e6 tokens."""

import os
import re
import subprocess
import sys

import pytest

from explorer.errors import UsageError
from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import plan_training

A = load_assumptions()


def _num(text: str) -> float:
    return float(text.replace(",", "").replace("$", ""))


@pytest.mark.parametrize("model, tokens, gpus", [("llama3_8b", 2e10, 1024), ("llama3_8b", 1e11, 64)])
def test_the_cost_and_time_lines_multiply_out(model, tokens, gpus):
    p = plan_training(resolve_model(model), tokens, gpu_types=["h100"], sizes=[gpus], assumptions=A)
    text = " ".join(p.to_text().split())
    m = re.search(r"cost \(GPU rental, on-demand\) = GPUs x hours x price = ([\d,]+) x ([\d.,]+) h x "
                  r"\$([\d.]+) = \$([\d,]+)", text)
    n, hours, price, usd = (_num(x) for x in m.groups())
    assert n == gpus and hours > 0
    # the printed factors give the printed total to within their rounding (three significant digits at least)
    assert n * hours * price == pytest.approx(usd, rel=2e-3)
    t = re.search(r"= ([\d,]+) s = ([\d.,]+) days", text)
    seconds, days = (_num(x) for x in t.groups())
    assert days > 0 and seconds / 86400 == pytest.approx(days, rel=5e-3)


def test_fewer_tokens_than_one_step_are_refused():
    # one step of the default batch: 2,048 sequences x 8,192 tokens = 16,777,216 tokens (Llama 3 405B's last batch)
    with pytest.raises(UsageError, match="less than one step of 2,048 sequences x 8,192 tokens = 16,777,216"):
        plan_training(resolve_model("llama3_405b"), 1e6, gpu_types=["h100"], sizes=[16384], assumptions=A)
    p = subprocess.run([sys.executable, "-c", "from explorer.cli import run; run()", "plan", "--model", "llama3_405b",
                        "--tokens", "1e6", "--gpus", "16384"], capture_output=True, text=True, timeout=120,
                       cwd="/tmp", env=dict(os.environ))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--tokens 1,000,000" in p.stderr and p.stdout == ""
