"""The microcontroller's GEMM efficiency is an assumption, not a measurement (session 18, item 2): hardware/catalog.py
said the parts without the GPU size roll-off had their matmul_efficiency "measured on the small GEMMs it runs (a
microcontroller's loops)", while accelerators.toml [nrf52840] gives an assumed quarter of peak counted from the
Cortex-M4 TRM r0p1 Table 7-1 instruction timings (no FP32 GEMM measurement on a Cortex-M4 found)."""

from __future__ import annotations

import inspect

import explorer.hardware.catalog as catalog
import pytest


def test_the_nrf52840_quarter_is_the_instruction_count_and_called_an_assumption():
    acc = catalog.get_accelerator("nrf52840")
    # per multiply-add: two VLDR.F32 (2 cycles each), VMUL and VADD (1 each) = 6 cycles, plus index and branch
    # work: 7-8 cycles for 2 FLOP against the 1 FLOP/cycle peak -> 2/8 = 0.25 (the lower end used)
    assert acc.matmul_efficiency == pytest.approx(2 / 8)
    assert acc.peak("fp32") * acc.matmul_efficiency == pytest.approx(64e6 / 4)  # 16 MFLOP/s
    assert acc.matmul_efficiency_source.startswith("assumption")
    assert acc.gemm_size_rolloff is False


def test_the_catalog_does_not_call_the_small_gemm_efficiency_measured():
    src = inspect.getsource(catalog)
    block = src[src.index("# Whether the GPU GEMM size roll-off"):src.index("gemm_size_rolloff: bool")]
    assert "measured" not in block
    assert "assumption, not a measurement" in block
