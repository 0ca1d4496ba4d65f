"""Lab 08 scenario data: every track has its numbers with sources, and bad data is rejected at load."""

from __future__ import annotations

import pytest

from explorer.errors import UsageError
from explorer.puzzles import training_scenario as ts


@pytest.mark.parametrize("track", ["cloud", "edge", "mobile", "tiny"])
def test_tracks_load_in_si(track):
    sc = ts.scenario(track)
    assert sc.source and sc.memory_source and sc.pipeline_source and sc.critical_batch_source
    assert sc.max_workers >= 1 and sc.augment_s_per_sample > 0 and sc.storage_bandwidth > 0
    assert 0 < sc.target_mfu <= 1 and 0 < sc.network_headroom <= 1


def test_units_converted_once():
    # cloud: 64 GB/s PCIe Gen5 x16 per GPU -> 64e9 B/s; 250 GB host memory per GPU -> 250e9 B.
    sc = ts.scenario("cloud")
    assert sc.pcie_bandwidth == 64e9 and sc.host_memory_bytes == 250e9
    # tiny: the microphone, 16,000 samples/s x 2 B = 32,000 B/s.
    assert ts.scenario("tiny").storage_bandwidth == pytest.approx(32_000)


@pytest.mark.parametrize("edit,needle", [
    (("cpu_cores = 112", "cpu_cores = 112\ncpu_corez = 3"), "unknown key 'cpu_corez'"),
    (("augment_s_per_sample = 0.020", "augment_s_per_sample = -0.020"), "augment_s_per_sample must be positive"),
    (("reserved_cores = 8", "reserved_cores = 200"), "reserved_cores"),
    (('memory_frozen_store = "device"', 'memory_frozen_store = "cloud"'), "memory_frozen_store"),
    # adapters match full training in fine-tuning only (Biderman et al. 2024): the cloud job, which offers LoRA and
    # QLoRA, cannot be relabelled pre-training, and a task is one of the two
    (('memory_task = "fine-tuning"  # the lab: Llama-3-70B', 'memory_task = "pre-training"  # the lab: Llama-3-70B'),
     "offers lora, qlora to a pre-training job"),
    (('memory_task = "fine-tuning"  # the lab: Llama-3-70B', 'memory_task = "finetune"  # the lab: Llama-3-70B'),
     "memory_task must be one of fine-tuning, pre-training"),
])
def test_bad_data_is_rejected(tmp_path, monkeypatch, edit, needle):
    text = ts._FILE.read_text()
    old, new = edit
    assert old in text
    bad = tmp_path / "lab08_training.toml"
    bad.write_text(text.replace(old, new, 1))
    monkeypatch.setattr(ts, "_FILE", bad)
    ts._raw.cache_clear()
    try:
        with pytest.raises(UsageError, match=needle):
            ts._raw()
    finally:
        monkeypatch.undo()
        ts._raw.cache_clear()
