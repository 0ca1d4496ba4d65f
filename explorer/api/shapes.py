"""The model of a run: a catalog name, a DecoderModel or a custom shape."""

from __future__ import annotations

from typing import Any

from explorer import validation as V
from explorer.errors import UsageError
from explorer.models.architecture import GATED_MLPS, MLP_KINDS, MLP_LABELS, DecoderModel
from explorer.models.catalog import get_model

MLPS = MLP_KINDS


def custom_model(layers: int, hidden: int, heads: int, kv_heads: int | None = None, ffn: int | None = None,
                 vocab: int = 32000, mlp: str = "swiglu", name: str | None = None, **kw: Any) -> DecoderModel:
    """A decoder given by its shape (kv_heads defaults to heads; ffn to 4 x hidden for GELU, 8/3 x for SwiGLU)."""
    layers, hidden, heads, kv_heads, ffn, vocab = (kind.check(k, x) for k, kind, x in (
        ("layers", V.LAYERS, layers), ("hidden", V.HIDDEN, hidden), ("heads", V.HEADS, heads),
        ("kv-heads", V.HEADS, kv_heads), ("ffn", V.HIDDEN, ffn), ("vocab", V.VOCAB, vocab)))
    if mlp not in MLPS:
        raise UsageError(f"mlp {mlp!r} unknown; valid: {', '.join(MLPS)}")
    if ffn is None:
        ffn = int(8 * hidden / 3) if mlp in GATED_MLPS else 4 * hidden
    if name is None:
        name = f"custom {layers}L h{hidden} {MLP_LABELS[mlp]}" + (" parallel block" if kw.get("parallel_block") else "")
    return DecoderModel(name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads or heads,
                        ffn=ffn, vocab=vocab, mlp=mlp, **kw)


def resolve_model(model: str | DecoderModel | None = None, *, layers: int | None = None,
                  hidden: int | None = None, heads: int | None = None, kv_heads: int | None = None,
                  ffn: int | None = None, vocab: int | None = None,
                  mlp: str | None = None, parallel_block: bool | None = None) -> str | DecoderModel | None:
    """The model of a run: a catalog name / DecoderModel, or a custom shape (layers, hidden, heads at least).

    `mlp` ("gelu": 2 matrices h x ffn, GPT-2/3, BLOOM, MT-NLG; "relu": 2, OPT; "relu2": squared ReLU, 2,
    Nemotron-4; "swiglu": 3, Llama; "geglu": 3, GLM-130B, Gemma) and `parallel_block` (attention and MLP side by
    side on the same input, outputs summed: GPT-J, GPT-NeoX, PaLM; DecoderModel.parallel_block; default False)
    shape a custom model; catalog models carry their own."""
    if mlp is not None and mlp not in MLPS:
        raise UsageError(f"mlp {mlp!r} unknown; valid: {', '.join(MLPS)}")
    shape = {"layers": layers, "hidden": hidden, "heads": heads}
    extra = {"kv_heads": kv_heads, "ffn": ffn, "vocab": vocab}
    if all(v is None for v in (*shape.values(), *extra.values())):
        if mlp is not None or parallel_block is not None:  # shape options on a catalog model: only as it is
            if model is None:
                what, own = ("mlp", "MLP") if mlp is not None else ("parallel_block", "block")
                raise UsageError(f"{what} shapes a custom model: give layers, hidden and heads too "
                                 f"(catalog models carry their own {own})")
            m = model if isinstance(model, DecoderModel) else get_model(model)
            if mlp is not None and m.mlp != mlp:
                raise UsageError(f"model {m.name} has a {m.mlp} MLP; mlp={mlp!r} applies to custom shapes only")
            if parallel_block is not None and m.parallel_block != bool(parallel_block):
                kind = "a parallel" if m.parallel_block else "a sequential"
                raise UsageError(f"model {m.name} has {kind} attention + MLP block; parallel_block applies to "
                                 "custom shapes only")
        return model
    if model is not None:
        raise UsageError("give either a model name or a custom shape (layers, hidden, heads, ...), not both")
    missing = [k.replace("_", "-") for k, v in shape.items() if v is None]
    if missing:
        raise UsageError(f"a custom shape needs layers, hidden and heads; missing: {', '.join(missing)}")
    return custom_model(layers, hidden, heads, kv_heads, ffn, 32000 if vocab is None else vocab, mlp or "swiglu",
                        parallel_block=bool(parallel_block))
