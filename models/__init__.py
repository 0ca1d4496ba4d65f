"""Workloads: transformer shapes and their FLOP and parameter arithmetic."""

from explorer.models.architecture import DecoderModel, gpt_megatron_flops_per_iteration
from explorer.models.catalog import get_model, model_names

__all__ = ["DecoderModel", "get_model", "gpt_megatron_flops_per_iteration", "model_names"]
