"""The inputs of a cost-model Setup stated as report assumptions: the node, the model shape, the software stack.

Every `explore solve 3d` and `explore estimate` report lists these lines (text, Markdown, HTML, JSON), so a
reader sees which node, which MLP and which kernels the figures assume. No physics here: the lines only name
what explorer/cost/ computes with, and where each choice comes from.

A package of the single module it grew from (the house rule: past ~400 lines a module becomes a small package):
setup_lines.py, setup_assumptions with the node, model, precision and attention lines (and
attention_kernel_assumption); plan_lines.py, the lines about one plan's figures (memory verdict and limit, uneven
pipeline split, bubble, FLOP convention); stack_lines.py, the software-stack lines (DeepSpeed, Megatron-FSDP, HSDP,
FP8, DTensor TP, recompute, the slowest GPU). The public names are read from here as before (explorer.assumptions.X);
the private line builders live in their submodule (setup_assumptions reads explorer.assumptions.stack_lines._hsdp).
"""

from __future__ import annotations

from explorer.assumptions.plan_lines import (
    ATTENTION_SHARE_SAID,
    bubble_assumption,
    flop_convention_assumption,
    megatron_end_stages,
    memory_limit_assumption,
    memory_verdict_caveat,
    pipeline_split_assumptions,
)
from explorer.assumptions.setup_lines import attention_kernel_assumption, node_source, setup_assumptions
from explorer.assumptions.stack_lines import ZERO3_SCALE_TABLE
from explorer.report import Assumption

__all__ = [
    "ATTENTION_SHARE_SAID", "Assumption", "ZERO3_SCALE_TABLE", "attention_kernel_assumption", "bubble_assumption",
    "flop_convention_assumption", "megatron_end_stages", "memory_limit_assumption", "memory_verdict_caveat",
    "node_source", "pipeline_split_assumptions", "setup_assumptions",
]
