"""explore plan chooses the GPU type by default and says what it searched (reviewers' defect 3): the default searched
only H100s on their NDR network while its help promised the cheapest GPU type."""

import tomllib
from pathlib import Path

from click.testing import CliRunner

from explorer.cli import main
from explorer.planner.inputs import load_assumptions, resolve_model
from explorer.planner.run import plan_training

A = load_assumptions()
PRICED = list(tomllib.loads((Path(__file__).resolve().parent.parent / "explorer" / "data" /
                             "training_run.toml").read_text())["prices"])


def test_the_default_searches_every_priced_gpu_type_and_says_so():
    assert PRICED == ["h100_sxm", "h200", "a100_80gb", "b200"]
    p = plan_training(resolve_model("llama3_8b"), 1e11, sizes=[64], global_batch=256, assumptions=A)
    assert p.gpu_types == PRICED and len(p.candidates) == 4
    # the best is the cheapest of the four, whichever type it is
    assert p.best.usd == min(c.usd for c in p.candidates if c.meets)
    text = " ".join(p.to_text().split())
    assert ("Searched: h100_sxm, h200, a100_80gb, b200 (the default: every GPU type with a price; --gpu to choose) "
            "x 1 size (64 GPUs) x each node's own network (ib_ndr for h100_sxm, h200, b200; ib_hdr for a100_80gb; "
            "--network to choose) = 4 candidates.") in text
    assert p.to_dict()["searched"]["defaults"] == ["gpu", "network"]


def test_given_types_and_default_sizes_are_named():
    p = plan_training(resolve_model("llama3_405b"), 15e12, gpu_types=["h100"], deadline_days=1, assumptions=A)
    text = " ".join(p.to_text().split())
    # 8 x 2^k for k = 0..13: 8 .. 65,536
    assert "Searched: h100_sxm x 14 sizes, 8-65,536 GPUs in powers of two (the default; --gpus to choose)" in text
    assert "(the default: every GPU type" not in text


def test_a_price_of_a_type_outside_the_default_is_still_refused():
    r = CliRunner().invoke(main, ["plan", "--model", "llama3_8b", "--tokens", "1e12", "--price", "a100_40gb=1"])
    assert r.exit_code == 2 and "h100_sxm, h200, a100_80gb, b200" in r.output, r.output
