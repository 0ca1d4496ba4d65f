"""GPT-NeoX-20B's parallel attention + MLP block: its parameters, and the tensor-parallel reductions it saves.

Hand derivations (Black et al. 2022, arXiv 2204.06745, sec. 2.1; EleutherAI/gpt-neox megatron/model/transformer.py
with gpt_j_residual: the row-parallel attention and MLP outputs stay partial, parallel_output=True, and are summed
before one reduce_from_model_parallel_region; both branch inputs enter column-parallel layers through their own
copy_to_model_parallel_region, whose backward all-reduces):

  TP collectives per layer and micro-batch, in all-reduce volumes (with sequence parallelism an all-gather or a
  reduce-scatter is half of one):
                                   sequential block            parallel block
  forward, no SP                   2 (attention, MLP)          1 (the summed output)
  backward, no SP                  2 (the two input copies)    2 (the two input copies)
  forward, SP                      2 AG + 2 RS = 2             2 AG + 1 RS = 1.5
  backward, SP                     2 RS + 2 AG = 2             2 RS + 1 AG = 1.5
  so 4 and 3 without recompute, 6 and 4 (no SP) or 6 and 4.5 (SP) with the forward replayed.
"""

from __future__ import annotations

import dataclasses

import pytest
from explorer.hardware import build_cluster
from explorer.models import get_model

from explorer.cost import time as tm
from explorer.cost.setup import Setup


def _setups() -> tuple[Setup, Setup]:
    neox = get_model("gpt_neox_20b")
    sequential = dataclasses.replace(neox, parallel_block=False, name="NeoX shape, sequential block")
    cluster = build_cluster("a100_40gb", 96, 8, "nvlink3", "ib_hdr")
    return Setup(neox, cluster, 2048), Setup(sequential, cluster, 2048)


def test_neox_20b_parameters_from_its_shape():
    # per layer: QKV 3h^2 + 3h, dense h^2 + h, MLP 2 x 4h^2 + 4h + h, two LayerNorms 4h -> 12 h^2 + 13 h
    # = 453,064,704 at h = 6,144; x 44 layers = 19,934,846,976; untied input and output embeddings
    # 2 x 50,432 x 6,144 = 619,708,416; final LayerNorm 2h = 12,288: 20,554,567,680
    m = get_model("gpt-neox-20b")
    assert m.params == 20_554_567_680
    assert m.parallel_block and m.mlp == "gelu" and not m.tied_embeddings


@pytest.mark.parametrize(("recompute", "sp", "sequential", "parallel"), [
    (0, False, 4.0, 3.0),
    (0, True, 4.0, 3.0),
    (2, False, 6.0, 4.0),
    (2, True, 6.0, 4.5),
])
def test_tp_reductions_per_layer(recompute, sp, sequential, parallel):
    par, seq = _setups()
    assert float(tm.tp_reductions(seq, recompute, sp)) == sequential
    assert float(tm.tp_reductions(par, recompute, sp)) == parallel


def test_parallel_block_charges_two_thirds_of_the_tp_time_under_full_recompute():
    """layer_time's TP term is the count times one call's time, the same call for both blocks: 4 / 6 at TP 2
    without SP (GPT-NeoX-20B's run: TP 2, full recompute, no sequence parallelism)."""
    par, seq = _setups()
    t_par = float(tm.layer_time(par, 2, 1, 4, 2, 0)[2])
    t_seq = float(tm.layer_time(seq, 2, 1, 4, 2, 0)[2])
    assert t_seq > 0 and t_par == pytest.approx(t_seq * 4.0 / 6.0, rel=1e-12)
    # the same FLOPs and memory traffic: only the TP collectives differ
    for i in (0, 1):
        assert float(tm.layer_time(par, 2, 1, 4, 2, 0)[i]) == pytest.approx(float(tm.layer_time(seq, 2, 1, 4, 2, 0)[i]))


def test_no_tp_no_saving():
    par, seq = _setups()
    assert float(tm.layer_time(par, 1, 1, 4, 2, 0)[2]) == float(tm.layer_time(seq, 1, 1, 4, 2, 0)[2]) == 0.0


def test_parallel_block_shapes_custom_models_only():
    from explorer.api import resolve_model
    from explorer.errors import UsageError

    assert resolve_model(layers=2, hidden=512, heads=8, mlp="gelu", parallel_block=True).parallel_block
    assert not resolve_model(layers=2, hidden=512, heads=8).parallel_block
    assert resolve_model("gpt_neox_20b", parallel_block=True) == "gpt_neox_20b"  # as the catalog has it: allowed
    with pytest.raises(UsageError, match="parallel_block shapes a custom model"):
        resolve_model(parallel_block=True)
    with pytest.raises(UsageError, match="GPT-NeoX-20B has a parallel attention"):
        resolve_model("gpt_neox_20b", parallel_block=False)
    with pytest.raises(UsageError, match="Llama-3-8B has a sequential attention"):
        resolve_model("llama3_8b", mlp="swiglu", parallel_block=True)


def test_planner_takes_the_block_kind_of_a_custom_shape():
    """`explore check` / `explore plan` share estimate's shape options: GPT-NeoX-20B's shape given by hand with
    --parallel-block has the catalog model's block, says so in its name, and differs from its count only by biases
    and norms."""
    from click.testing import CliRunner

    from explorer.cli import main
    from explorer.cli.plan_cmds import resolve

    shape = {"layers": 44, "hidden": 6144, "heads": 64, "kv_heads": None, "ffn": None, "vocab": 50432,
             "mlp": "gelu", "parallel_block": True}
    m = resolve({"model": None, "params": None, **shape}).model
    assert m.parallel_block and m.name.endswith("parallel block")
    # a custom shape has no bias vectors and RMSNorm (one weight per norm): per layer 12 h^2 + 2 h where the catalog's
    # biased LayerNorm layer has 12 h^2 + 13 h, and a final norm of h, not 2 h: 11 h x 44 + h = 2,979,840 fewer
    assert get_model("gpt_neox_20b").params - m.params == 11 * 6144 * 44 + 6144
    assert not resolve({"model": None, "params": None, **shape, "parallel_block": False}).model.parallel_block
    r = CliRunner().invoke(main, ["check", "--sequential-block", "--gpu", "a100", "--gpus", "96"])
    assert r.exit_code == 2 and "custom shape needs --layers" in r.output
