"""Decoder-only transformer shapes and their parameter and FLOP arithmetic.

Parameter counts are derived from the shape, never typed in. FLOPs count the matmul shapes
(docs/conventions.md, "Utilisation"): per token and layer the forward pass does
2 x (matmul parameters) FLOP for the projections plus 4 x s x h for the attention scores and
context (PaLM, Chowdhery et al. 2022, Appendix B: 6N + 12 L H Q T for forward + backward);
the logits add 2 V h. Backward costs twice the forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.errors import UsageError, require_positive_int

MLP_KINDS = ("gelu", "relu", "relu2", "swiglu", "geglu")
"""MLP kinds: GELU, ReLU (OPT) and squared ReLU (So et al., Primer, arXiv 2109.08668; Nemotron-4) multiply by two
h x ffn matrices, the gated linear units SwiGLU (Shazeer, arXiv 2002.05202; Llama) and GeGLU (the same paper;
GLM-130B, Gemma) by three: a gate and an up projection multiplied elementwise after SiLU or GELU, then the down
projection."""
GATED_MLPS = ("swiglu", "geglu")
MLP_LABELS = {"gelu": "GELU", "relu": "ReLU", "relu2": "squared-ReLU", "swiglu": "SwiGLU", "geglu": "GeGLU"}

@dataclass(frozen=True)
class DecoderModel:
    """A decoder-only transformer given by its shape."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    mlp: str = "swiglu"  # "swiglu" or "geglu" (gated: 3 matrices), "gelu", "relu" or "relu2" (2 matrices each)
    norm: str = "rms"  # "rms" (1 vector per norm) or "layer" (2 vectors)
    bias: bool = False
    tied_embeddings: bool = False
    position: str = "rope"  # "rope", "alibi" (no parameters) or "learned" (max_seq x hidden table)
    max_seq: int = 8192
    dropout: bool = False
    key: str = "custom"
    source: str = "custom shape given by the user"
    published_params: float | None = None
    embedding_norm: bool = False  # a norm right after the token embedding (BLOOM's word_embeddings_layernorm)
    parallel_block: bool = False
    """Attention and MLP read the same layer input and their outputs are summed, x + attn(ln1(x)) + mlp(ln2(x))
    (GPT-J, GPT-NeoX-20B, PaLM), instead of one after the other: the same parameters and FLOPs, one tensor-parallel
    reduction of the block's output where the sequential block has two (explorer/cost/time.py tp_reductions)."""

    def __post_init__(self) -> None:
        for f in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "max_seq"):
            require_positive_int(f, getattr(self, f))
        if self.hidden % self.heads:
            raise UsageError(f"hidden {self.hidden} is not divisible by heads {self.heads}")
        if self.heads % self.kv_heads:
            raise UsageError(f"heads {self.heads} is not divisible by kv-heads {self.kv_heads}")
        if self.mlp not in MLP_KINDS:
            raise UsageError(f"mlp {self.mlp!r} unknown; valid: {', '.join(MLP_KINDS)}")
        if self.norm not in ("rms", "layer"):
            raise UsageError(f"norm {self.norm!r} unknown; valid: layer, rms")
        if self.position not in ("rope", "alibi", "learned"):
            raise UsageError(f"position {self.position!r} unknown; valid: alibi, learned, rope")

    # --- shape helpers -------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        """Width of the K (and of the V) projection: kv_heads x head_dim (GQA)."""
        return self.kv_heads * self.head_dim

    @property
    def gated(self) -> bool:
        """A gated MLP (SwiGLU, GeGLU): gate and up projections, three matrices."""
        return self.mlp in GATED_MLPS

    @property
    def mlp_matrices(self) -> int:
        return 3 if self.gated else 2

    # --- parameters ----------------------------------------------------------------------
    @property
    def layer_matmul_params(self) -> int:
        """Weights of one layer's matmuls: Q and O (h x h), K and V (h x kv_dim), MLP."""
        h = self.hidden
        return 2 * h * h + 2 * h * self.kv_dim + self.mlp_matrices * h * self.ffn

    @property
    def layer_params(self) -> int:
        """All parameters of one layer: matmuls, biases, norms."""
        h = self.hidden
        vectors_per_norm = 1 if self.norm == "rms" else 2
        p = self.layer_matmul_params + 2 * vectors_per_norm * h
        if self.bias:
            p += h + 2 * self.kv_dim + h + (self.mlp_matrices - 1) * self.ffn + h
        return p

    @property
    def embedding_params(self) -> int:
        """Input embedding (+ learned positions, + an embedding norm): not counted in the 6N FLOPs term."""
        p = self.vocab * self.hidden
        if self.position == "learned":
            p += self.max_seq * self.hidden
        if self.embedding_norm:
            p += (1 if self.norm == "rms" else 2) * self.hidden
        return p

    @property
    def head_params(self) -> int:
        """Output projection (0 extra parameters when tied) + final norm."""
        vectors = 1 if self.norm == "rms" else 2
        return (0 if self.tied_embeddings else self.vocab * self.hidden) + vectors * self.hidden

    @property
    def params(self) -> int:
        """Total parameter count derived from the shape."""
        return self.layers * self.layer_params + self.embedding_params + self.head_params

    # --- FLOPs ---------------------------------------------------------------------------
    def attention_forward_flops_per_token(self, seq_len: int) -> float:
        """Forward FLOPs of one layer's attention scores and values for one token: 4 s h (QK^T and AV over the whole
        s x s matrix, PaLM's count)."""
        return 4.0 * seq_len * self.hidden

    def layer_forward_flops_per_token(self, seq_len: int) -> float:
        """Forward FLOPs of one layer for one token: 2 x matmul params + attention (4 s h)."""
        return 2.0 * self.layer_matmul_params + self.attention_forward_flops_per_token(seq_len)

    @property
    def last_matmul_flops_per_token(self) -> float:
        """Forward FLOPs per token of the layer's last weight matmul, the MLP's down projection (ffn x h; w2 in
        layer_matmuls): what a replay that stops early does not run again (Setup.replay_early_stop)."""
        return 2.0 * self.ffn * self.hidden

    def logits_forward_flops_per_token(self) -> float:
        """Forward FLOPs of the output projection for one token: 2 V h."""
        return 2.0 * self.vocab * self.hidden

    def model_flops_per_token(self, seq_len: int) -> float:
        """Model FLOPs (forward + backward, no recompute) per token = 3 x forward."""
        fwd = self.layers * self.layer_forward_flops_per_token(seq_len)
        return 3.0 * (fwd + self.logits_forward_flops_per_token())

    @property
    def layer_matmuls(self) -> tuple[tuple[str, int], ...]:
        """One layer's weight matmuls in the order its forward calls them, with their weights (elements): Q, K, V,
        O, then the MLP (SwiGLU: gate w1, up w3, down w2, as torchtitan's FeedForward calls them,
        w2(silu(w1(x)) * w3(x)); GELU: up, down)."""
        h, kv, f = self.hidden, self.kv_dim, self.ffn
        mlp = (("w1", h * f), ("w3", h * f), ("w2", f * h)) if self.gated else (("w1", h * f), ("w2", f * h))
        return (("wq", h * h), ("wk", h * kv), ("wv", h * kv), ("wo", h * h)) + mlp

    @property
    def op_sac_recomputed_matmul_params(self) -> int:
        """Weights of the matmuls torchtitan's per-op selective activation checkpointing recomputes: every second
        one in call order (torchtitan/parallelisms/parallelize_llama.py at commit 9dec370,
        _apply_ac_to_transformer_block: outputs of ops in _save_list are saved, 'except every second mm', the mm
        count starting afresh in each block's forward): for a Llama layer K, O and the up projection w3."""
        return sum(w for i, (_, w) in enumerate(self.layer_matmuls) if i % 2 == 1)

    def recompute_flops_per_token(self, seq_len: int, recompute: str) -> float:
        """Extra forward FLOPs per token that activation recomputation executes.

        full: one more forward of every layer (Narayanan et al. SC'21 eq. 3: 96 B s L h^2 ...);
        full_early_stop: that forward less each layer's last matmul, where PyTorch's non-reentrant checkpoint stops
        the replay before it (last_matmul_flops_per_token; Setup.replay_early_stop);
        selective: the attention core again, 4 s h per layer (Korthikanti et al. 2022 sec. 5; Megatron-LM's
        --recompute-granularity selective);
        selective_op: torchtitan's per-op policy: every second matmul of the layer again, 2 x its weights per token
        (op_sac_recomputed_matmul_params); the attention output is saved, so the attention core is not rerun;
        none: 0.
        """
        if recompute == "full":
            return self.layers * self.layer_forward_flops_per_token(seq_len)
        if recompute == "full_early_stop":
            return self.layers * (self.layer_forward_flops_per_token(seq_len) - self.last_matmul_flops_per_token)
        if recompute == "selective":
            return self.layers * 4.0 * seq_len * self.hidden
        if recompute == "selective_op":
            return self.layers * 2.0 * self.op_sac_recomputed_matmul_params
        return 0.0


def gpt_megatron_flops_per_iteration(batch: int, seq: int, layers: int, hidden: int, vocab: int,
                                     recompute: bool = False) -> float:
    """Megatron closed forms for a GPT-shaped model (4h MLP, MHA), per iteration.

    no recompute: 72 B s L h^2 (1 + s/(6h) + V/(12 h L))  (Korthikanti et al. 2022)
    full recompute: 96 B s L h^2 (1 + s/(6h) + V/(16 h L)) (Narayanan et al. SC'21, eq. 3)
    """
    b, s, L, h, V = batch, seq, layers, hidden, vocab
    if recompute:
        return 96.0 * b * s * L * h * h * (1 + s / (6 * h) + V / (16 * h * L))
    return 72.0 * b * s * L * h * h * (1 + s / (6 * h) + V / (12 * h * L))
