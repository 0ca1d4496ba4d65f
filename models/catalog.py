"""Load the model catalog (models/data/models.toml) into DecoderModel objects."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from explorer.models.architecture import DecoderModel

from explorer.errors import unknown_name

_FILE = Path(__file__).parent / "data" / "models.toml"
_SHAPE = ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "mlp", "norm", "bias",
          "tied_embeddings", "position", "max_seq")


def _squash(name: str) -> str:
    """A model name as written in any common way: case, spaces, '-', '_' and '.' ignored and a publisher's 'Meta-'
    dropped ('Meta-Llama-3.1-8B', 'Llama 3.1 8B' and 'llama3_1_8b' are one name)."""
    key = re.sub(r"[\s\-_.]+", "", str(name).strip().lower())
    return key.removeprefix("meta")


@cache
def _table() -> dict:
    with open(_FILE, "rb") as fh:
        return tomllib.load(fh)


def model_names() -> list[str]:
    return sorted(_table())


@cache
def get_model(name: str) -> DecoderModel:
    """Look up a model by key or alias (case-insensitive)."""
    table = _table()
    key = name.lower().replace("-", "_").replace(".", "_")
    if key not in table:
        matches = [k for k, e in table.items() if _squash(name) in {_squash(k), *map(_squash, e.get("aliases", []))}]
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
        **{k: e[k] for k in _SHAPE},
    )
