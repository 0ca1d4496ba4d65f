"""The optimizer state's dtype (Setup.optimizer_state_dtype): Apex's DistributedFusedAdam allocates its parameter
copy and both moments in its `dtype` (apex/contrib/optimizers/distributed_fused_adam.py StateBucket: params_shard,
exp_avg_shard, exp_avg_sq_shard), so NeMo's optim.dtype: bf16 holds 3 x 2 bytes per parameter where FP32 state
holds 3 x 4 (the ZeRO paper's K = 12)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from explorer.hardware.catalog import build_cluster
from explorer.models.catalog import get_model

from explorer.cost.memory import model_state_bytes
from explorer.cost.setup import Setup
from explorer.errors import UsageError


def _setup(**kw) -> Setup:
    return Setup(get_model("nemotron4_340b"), build_cluster("h100", 128, 8, "nvlink4", "ib_ndr"), 4096, **kw)


def test_bf16_state_is_six_bytes_per_parameter():
    s = _setup()
    assert s.optimizer_bytes == 12 and replace(s, optimizer_state_dtype="bf16").optimizer_bytes == 6
    # sharded over DP 2 (ZeRO-1) on a TP 8 x PP 8 rank: half the optimizer memory, weights and gradients unchanged
    fp32 = model_state_bytes(s, 8, 8, 2, 1, 1)
    bf16 = model_state_bytes(replace(s, optimizer_state_dtype="bf16"), 8, 8, 2, 1, 1)
    assert bf16[0] == fp32[0] and bf16[1] == fp32[1] and 2 * int(bf16[2]) == pytest.approx(int(fp32[2]), abs=2)


def test_unknown_state_dtype_is_refused():
    with pytest.raises(UsageError, match="optimizer state dtype"):
        _setup(optimizer_state_dtype="fp16")
