"""One row of a reference table -> the cost model: the run's model, Setup and ParallelPlan read from the row's
columns (else from the table's entry in tables.toml), its estimate and the table's metric of it."""

from __future__ import annotations

from dataclasses import replace

from explorer.cost.efficiency import Efficiency
from explorer.cost.frameworks import DEFAULT_FRAMEWORK, stack_layout_default
from explorer.cost.setup import Setup
from explorer.cost.step import StepEstimate, estimate
from explorer.hardware.catalog import build_cluster
from explorer.models.architecture import DecoderModel
from explorer.models.catalog import get_model
from explorer.plan import PRECISIONS, ParallelPlan
from explorer.validate.reference import _flag


def _gpt(name: str, hidden: int, layers: int, heads: int, spec: dict, seq_len: int) -> DecoderModel:
    """GPT-2/3-shaped decoder (4h GELU MLP, LayerNorm, biases; tied embedding, learned positions and no embedding
    norm unless the table says otherwise): the shape of every custom model in the shipped tables (see their
    assumptions)."""
    return DecoderModel(name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=heads, ffn=4 * hidden,
                        vocab=spec["vocab"], mlp="gelu", norm="layer", bias=True,
                        tied_embeddings=spec.get("tied_embeddings", True), position=spec.get("position", "learned"),
                        embedding_norm=spec.get("embedding_norm", False), max_seq=seq_len,
                        dropout=spec.get("dropout", True), key="reference",
                        source="shape from a reference table (explorer/data/reference)")


def _with_part_efficiency(cluster, part_efficiency: dict[str, dict[str, float]] | None):
    """The cluster with its accelerator's efficiencies (matmul_efficiency, attention_efficiency) replaced
    (a calibration candidate)."""
    if not part_efficiency or cluster.accelerator.key not in part_efficiency:
        return cluster
    acc = replace(cluster.accelerator, **part_efficiency[cluster.accelerator.key])
    return replace(cluster, accelerator=acc)


def _setup(spec: dict, model: DecoderModel, gpus: int, seq_len: int, eff: Efficiency,
           row: dict[str, str] | None = None, part_efficiency: dict[str, dict[str, float]] | None = None) -> Setup:
    row = row or {}
    if (row.get("ddp_impl") or spec.get("ddp_impl")) == "local":
        # Megatron-LM's LocalDDP of 2021-22 (--DDP-impl local, the default until Megatron-Core): train_step
        # all-reduces the gradients after the whole forward-backward (megatron/training.py), so no backward hides
        # any of it
        eff = replace(eff, dp_overlap=0.0)
    # a row's own network (a table that gathers one benchmark's runs on several clusters) wins over the table's
    cluster = build_cluster(spec["accelerator"], gpus, spec["devices_per_node"], spec["intra_link"],
                            row.get("inter_link") or spec["inter_link"])
    cluster = _with_part_efficiency(cluster, part_efficiency)
    grad = spec.get("grad_reduce_dtype")
    fused = _flag(row.get("compile"), spec.get("fused_kernels", True))
    if "mp_mode" in row and "mp_mode_reduce" in spec:
        grad = spec["mp_mode_reduce"][row["mp_mode"]]
    cross_entropy = spec.get("cross_entropy", "unfused")
    # the framework's model code (and the loss kernel's memory), unless the table says
    layout = stack_layout_default(_framework(spec, row), fused, cross_entropy)
    return Setup(model=model, cluster=cluster, seq_len=seq_len,
                 precision=_precision(spec, row),
                 flash_attention=spec.get("flash_attention", True),
                 attention_kernel=row.get("attention_kernel") or spec.get("attention_kernel", "flash2"),
                 tp_comm_overlap=_flag(row.get("tp_comm_overlap"), spec.get("tp_comm_overlap", False)),
                 efficiency=eff, grad_reduce_dtype=grad, selective_policy=spec.get("selective_policy", "attention"),
                 fused_projections=spec.get("fused_projections", True),
                 fused_kernels=fused, fused_norm=_flag(row.get("fused_norm"), spec.get("fused_norm", False)),
                 recompute_every=int(row.get("recompute_every") or 1),
                 fp8_all_gather=_flag(row.get("fp8_all_gather"), spec.get("fp8_all_gather", False)),
                 fp8_param_gather=_flag(row.get("fp8_param_gather"), spec.get("fp8_param_gather", True)),
                 optimizer_state_dtype=row.get("optimizer_state_dtype") or spec.get("optimizer_state_dtype", "fp32"),
                 embedding_pipeline_slot=_flag(row.get("embedding_pipeline_slot"),
                                               spec.get("embedding_pipeline_slot", False)),
                 zero1_grad_allreduce=spec.get("zero1_grad_allreduce", False),
                 grad_accumulation_fusion=spec.get("grad_accumulation_fusion", True),
                 cross_entropy=cross_entropy,
                 loss_bytes_per_logit=spec.get("loss_bytes_per_logit") or layout["loss_bytes_per_logit"],
                 tp_saves_gathered_input=spec.get("tp_saves_gathered_input", layout["tp_saves_gathered_input"]),
                 replay_early_stop=_flag(row.get("replay_early_stop"),
                                         spec.get("replay_early_stop", layout["replay_early_stop"])))


def _framework(spec: dict, row: dict[str, str]) -> str:
    """The row's framework (a `framework` column, for tables that compare stacks), else the table's."""
    return row.get("framework") or spec.get("framework", DEFAULT_FRAMEWORK)


SHARDING_STAGES = {"FULL_SHARD": 3, "SHARD_GRAD_OP": 2, "NO_SHARD": 0}  # PyTorch FSDP ShardingStrategy -> ZeRO


def _row_model(spec: dict, row: dict[str, str], seq_len: int) -> DecoderModel:
    """The row's model; a catalog model with a `layers` value in the row is that model cut to so many layers (a
    reduced-depth proxy run, as NVIDIA's DGX Cloud recipes run Llama 3.1 405B on 32-192 GPUs)."""
    model = _row_catalog_model(spec, row)
    if model is None:
        return _row_custom_model(spec, row, seq_len)
    if row.get("layers") and int(row["layers"]) != model.layers:
        cut = f"{model.name} ({row['layers']} of {model.layers} layers)"
        return replace(model, layers=int(row["layers"]), name=cut)
    return model


def _row_catalog_model(spec: dict, row: dict[str, str]) -> DecoderModel | None:
    if "catalog_model" in spec:
        return get_model(spec["catalog_model"])
    if spec.get("model_column") == "catalog":
        return get_model(row["model"])
    if row.get("model") in spec.get("catalog_models", {}):  # the table's name for a catalog model
        return get_model(spec["catalog_models"][row["model"]])
    return None


def _row_custom_model(spec: dict, row: dict[str, str], seq_len: int) -> DecoderModel:
    if "model" in row and "models" in spec:
        hidden, layers, heads = spec["models"][row["model"]]
        return _gpt(f"{spec.get('model_prefix', 'MPT-')}{row['model']}", hidden, layers, heads, spec, seq_len)
    name = f"GPT {row.get('params_b') or row.get('model_size') or row.get('model')}".replace("BB", "B")
    return _gpt(name, int(row["hidden"]), int(row["layers"]), int(row["heads"]), spec, seq_len)


def _throughput_row(spec: dict, row: dict[str, str], eff: Efficiency,
                    part_efficiency: dict[str, dict[str, float]] | None = None) -> tuple[str, float]:
    """Label and predicted figure (spec['metric']: a throughput, a step time or the peak memory per GPU) of one run.
    Every run detail is read from the row's columns where the table has them, else from the table's entry in
    tables.toml."""
    label, est = _row_estimate(spec, row, eff, part_efficiency)
    return label, _metric(spec, row, est)


def _metric(spec: dict, row: dict[str, str], est: StepEstimate) -> float:
    """The table's metric (spec['metric']) of one run's estimate."""
    gpus = int(row["gpus"])
    metric = spec["metric"]
    if metric == "hardware_tflops_per_gpu":
        predicted = est.hardware_tflops_per_gpu
    elif metric == "model_tflops_per_gpu":
        predicted = est.model_tflops_per_gpu
    elif metric == "tokens_per_s_per_gpu":
        predicted = est.tokens_per_s / gpus
    elif metric == "tokens_per_s":
        predicted = est.tokens_per_s
    elif metric == "samples_per_s_per_gpu":  # sequences of the row's length
        predicted = est.tokens_per_s / gpus / _seq_len(spec, row)
    elif metric == "step_time_s":
        predicted = est.step_time_s
    elif metric == "peak_memory_gib":
        predicted = est.memory_total / 2**30
    else:
        raise ValueError(f"{spec['file']}: unknown metric {metric!r}")
    return predicted


def _implied_mfu(spec: dict, est: StepEstimate, predicted: float, published: float) -> float:
    """The MFU the published figure implies, in the model's FLOP count (explorer/cost: PaLM's 6N + attention over the
    full s x s): the estimate's MFU scaled by published / predicted for a throughput, predicted / published for a
    step time; 0 for a memory metric."""
    if spec["metric"] == "peak_memory_gib" or predicted <= 0 or published <= 0:
        return 0.0
    ratio = predicted / published if spec["metric"] == "step_time_s" else published / predicted
    return est.mfu * ratio


def _row_estimate(spec: dict, row: dict[str, str], eff: Efficiency,
                  part_efficiency: dict[str, dict[str, float]] | None = None) -> tuple[str, StepEstimate]:
    """Label and the cost model's whole estimate of one run (_throughput_row reads its metric from it)."""
    label, est, _model = _row_run(spec, row, eff, part_efficiency)
    return label, est


def _row_run(spec: dict, row: dict[str, str], eff: Efficiency,
             part_efficiency: dict[str, dict[str, float]] | None = None) -> tuple[str, StepEstimate, DecoderModel]:
    """_row_estimate's label and estimate, with the run's model (its parameters: RowResult.params)."""
    gpus = int(row["gpus"])
    seq_len = _seq_len(spec, row)
    model = _row_model(spec, row, seq_len)
    tp, cp, pp = int(row.get("tp", 1)), int(row.get("cp", 1)), int(row.get("pp", 1))
    dp = int(row.get("dp") or row.get("fsdp") or gpus // (tp * cp * pp))
    if tp * cp * pp * dp != gpus:
        raise ValueError(f"{spec['file']}: tp x cp x pp x dp = {tp * cp * pp * dp} != gpus {gpus} in row {row}")
    global_batch = int(row["global_batch"]) if "global_batch" in row else dp * int(row["batch_per_dp"])
    if "recompute" in row:
        recompute = row["recompute"]
    elif "recompute" in spec:
        recompute = spec["recompute"]
    else:
        recompute = "full" if row["activation_checkpointing"] == "True" else "none"
    if "sharding_strategy" in row:
        zero = SHARDING_STAGES[row["sharding_strategy"]]
    else:  # a row's own optimizer sharding (a `zero` column) wins over the table's
        zero = int(row.get("zero") or spec.get("zero", 0))
    plan = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, micro_batch=int(row["micro_batch"]),
                        global_batch=global_batch, virtual_stages=int(row.get("virtual_stages") or 1),
                        zero=zero, recompute=recompute,
                        sequence_parallel=_flag(row.get("sequence_parallel"), spec.get("sequence_parallel", True))
                        and tp > 1,
                        framework=_framework(spec, row), hsdp=_flag(row.get("hsdp"), spec.get("hsdp", False)))
    setup = _setup(spec, model, gpus, seq_len, eff, row, part_efficiency)
    est = estimate(setup, plan)
    label = f"{model.name} s={seq_len} {gpus} GPUs {plan.describe()}"
    if setup.recompute_every > 1 and plan.recompute == "full":
        label += f" (one layer in {setup.recompute_every})"
    extra = [f"{k}={row[k]}" for k in spec.get("label_columns", ()) if row.get(k)]
    if extra:
        label += " [" + ", ".join(extra) + "]"
    return label, est, model


def _seq_len(spec: dict, row: dict[str, str]) -> int:
    """The run's sequence length: the row's `seq_len` column where it has one, else the table's."""
    return int(row.get("seq_len") or spec["seq_len"])



def _precision(spec: dict, row: dict[str, str]) -> str:
    """The run's training precision: the row's `precision` column where it names one, else the table's."""
    return row.get("precision") if row.get("precision") in PRECISIONS else spec.get("precision", "bf16")
