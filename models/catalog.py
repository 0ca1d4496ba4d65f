"""Load the model catalog (models/data/models.toml) into DecoderModel objects."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from explorer.models.architecture import DecoderModel

from explorer.errors import unknown_name, written_name

_FILE = Path(__file__).parent / "data" / "models.toml"
_VARIANT_TAGS = re.compile(r"([-_ ](hf|base|instruct|chat))+$", re.IGNORECASE)
"""Tags of a Hugging Face repository name that name a variant of the same shape (Llama 2's converted '-hf'
checkpoints, '-chat', '-Instruct', '-Base'): dropped before a lookup."""

_SHAPE = ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "mlp", "norm", "bias",
          "tied_embeddings", "position", "max_seq")


@cache
def _table() -> dict:
    with open(_FILE, "rb") as fh:
        return tomllib.load(fh)


def model_names() -> list[str]:
    return sorted(_table())


def get_model(name: str) -> DecoderModel:
    """Look up a model by key or alias (case-insensitive); anything but a known name is a UsageError."""
    if not isinstance(name, str):  # None, a list, a dict: no model name (and unhashable for the cache)
        raise unknown_name("model", name, list(_table()))
    return _model(name)


@cache
def _model(name: str) -> DecoderModel:
    table = _table()
    key = name.lower().replace("-", "_").replace(".", "_")
    if key not in table:
        # a Hugging Face repository id names the shape after its owner: 'meta-llama/Llama-2-70b-chat-hf'
        repo_name = _VARIANT_TAGS.sub("", str(name).strip().rsplit("/", 1)[-1])
        written = written_name(repo_name, "meta")  # 'Meta-Llama-3.1-8B' as Hugging Face names it
        matches = [k for k, e in table.items()
                   if written in {written_name(k), *(written_name(a) for a in e.get("aliases", []))}]
        if not matches:
            raise unknown_name("model", name, list(table))
        key = matches[0]
    e = table[key]
    published = e["published_params"] if "published_params" in e else (
        e["published_params_b"] * 1e9 if "published_params_b" in e else None)
    return DecoderModel(
        name=e["name"], key=key, source=e["source"],
        published_params=published,
        dropout=e.get("dropout", False), embedding_norm=e.get("embedding_norm", False),
        parallel_block=e.get("parallel_block", False),
        **{k: e[k] for k in _SHAPE},
    )
