"""Full recompute keeps each layer's input (its checkpoint) and, in the backward, rebuilds one layer's activations
from that very tensor: torch.utils.checkpoint and Megatron's CheckpointFunction hand the saved input to the replayed
forward, no copy. So the rebuilt layer adds its activations less the input (review E, item 5). With a single
trained layer, checkpointing saves nothing and costs nothing: input + (layer - input) = layer, the same peak as no
recompute. Before, the input was counted twice (tiny: 462,593 B against 446,209 B)."""

from __future__ import annotations

import dataclasses

from explorer.cost import training_memory as tm
from explorer.cost.memory import activation_bytes_per_layer, working_bytes
from explorer.puzzles import memory as pm


def test_one_trained_layer_peaks_the_same_with_or_without_full_recompute():
    inst = pm.make_instance("tiny")
    totals = {}
    for rc in ("none", "full"):
        c = dataclasses.replace(inst.baseline, recompute=rc, trainable_layers=1, micro_batch=4, optimizer="sgd",
                                precision="fp32")
        totals[rc] = tm.waterfall(inst.base, inst.layout, c, inst.cm.int8_block_size)["total"]
    assert totals["full"] == totals["none"]


def test_the_rebuilt_layer_excludes_its_checkpoint():
    inst = pm.make_instance("tiny")
    s = inst.base
    layer = activation_bytes_per_layer(s, 1, 1, 4, 0, 0)         # everything one layer stores
    checkpoint = activation_bytes_per_layer(s, 1, 1, 4, 2, 0)    # what full recompute stores: its input
    assert 0 < checkpoint < layer
    rebuilt = working_bytes(s, 1, 1, 4, 2, 0, loss=False) - working_bytes(s, 1, 1, 4, 0, 0, loss=False)
    assert rebuilt == layer - checkpoint
