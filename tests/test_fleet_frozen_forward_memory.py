"""A frozen-only stage still runs a forward, so it needs its input and output buffers (sweep A item 15: the tiny
3D report's 'Placements too large' table showed 0 B on the earbud of 'split 1/4, top 1 of 5 layers trained').

Hand derivation, tiny track (tracks/tiny.toml): a sequence of s = 32 frames, hidden h = 32, fp32 activations
(4 B), a raw sample of 10,240 B. One b x s x h buffer is 32 x 32 x 4 = 4,096 B per sample.
* frozen layers only (no embedding): a layer reads one buffer and writes the other, 2 x 4,096 = 8,192 B per sample;
* frozen embedding + frozen layers (the earbud of split 1/4, top 1 trained): the embedding reads the 10,240 B
  sample and writes 4,096 B, then the layers ping-pong 2 x 4,096 = 8,192 B: the peak is 14,336 B per sample;
  with the frozen weights read in place from flash and nothing trained, that is all the stage holds."""

from __future__ import annotations

import pytest

from explorer.cost import placement
from explorer.puzzles.fleet3d.scenario import load

SAMPLE = 10_240
BUF = 32 * 32 * 4  # s x h x 4 B


@pytest.fixture(scope="module")
def setup():
    return load("tiny").setup


def test_tiny_constants_are_the_ones_derived_from(setup):
    assert (setup.seq_len, setup.model.hidden, setup.act_bytes) == (32, 32, 4)
    assert load("tiny").sample_bytes == SAMPLE


@pytest.mark.parametrize("b", [1, 2, 4])
def test_frozen_embedding_stage_holds_its_sample_and_first_buffer(setup, b):
    a, _ = placement.split_stages(5, 1, 1)  # the earbud: embedding + layer 0, both frozen
    assert (a.layers, a.trainable, a.embedding, a.embedding_trained, a.head) == (1, 0, True, False, False)
    m = placement.stage_memory(setup, a, b, frozen_in_flash=True, sample_bytes=SAMPLE)
    assert m["weights"] == 0 and m["gradients"] == 0 and m["optimizer"] == 0
    assert m["total"] == b * (SAMPLE + BUF) == b * 14_336


def test_frozen_layers_without_embedding_ping_pong_two_buffers(setup):
    st = placement.Stage(layers=2, trainable=0, embedding=False, head=False)
    assert placement.stage_memory(setup, st, 3, frozen_in_flash=True)["total"] == 3 * 2 * BUF


def test_a_trained_stage_is_unchanged_by_the_forward_buffers(setup):
    # the training peak (stored activations) comes after the frozen forward and is larger: the max keeps it
    a, _ = placement.split_stages(5, 4, 2)  # the fleet 3D optimum's earbud: layers 0-2 frozen, 3 trained
    with_sample = placement.stage_memory(setup, a, 4, True, SAMPLE)["activations"]
    without = placement.stage_memory(setup, a, 4, True, 0.0)["activations"]
    assert with_sample == without > 4 * (SAMPLE + BUF)
