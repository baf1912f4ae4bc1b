"""Model specs: what a model is made of, read from its config.json without transformers.

A `ModelSpec` lists every linear module (per layer, named as the architecture names it, as peft sees it) and
every other parameter tensor, so that total and trainable LoRA parameter counts are exact.

INTERFACE CONTRACT (shared by memory, TUI, export, probes). Implementation: `load_spec` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Role = Literal["attention", "mlp", "expert", "router", "head", "vision", "other"]
TensorKind = Literal["embedding", "position", "norm", "bias", "experts", "router", "head", "other"]
SpecSource = Literal["catalog", "folder", "cache", "fallback"]


@dataclass(frozen=True)
class Linear:
    """One nn.Linear (or Conv1D for GPT-2) as peft sees it.

    path: full module name as in `model.named_modules()` of the model class lorplan plans for
          (e.g. "model.layers.0.self_attn.q_proj", "transformer.h.3.attn.c_attn", "bert.encoder.layer.0.attention.self.query").
    name: the leaf name users target ("q_proj", "c_attn", "query").
    layer: decoder/encoder block index, None outside the blocks (lm_head, pooler, classifier).
    role: "attention" | "mlp" | "expert" | "router" | "head" | "vision" (a multimodal model's vision tower)
          | "other" (e.g. BERT's pooler).
    """

    path: str
    name: str
    layer: int | None
    in_features: int
    out_features: int
    bias: bool
    role: Role

    @property
    def params(self) -> int:
        """Parameters of the base module (weight plus bias)."""
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)


@dataclass(frozen=True)
class Tensor:
    """A parameter that is not inside a Linear: embeddings, norms, fused MoE expert weights, ...

    shape is the real parameter shape; kind says how the memory model treats it (embeddings and norms are never
    quantized by bitsandbytes; kbit preparation up-casts them to fp32).
    """

    path: str
    shape: tuple[int, ...]
    kind: TensorKind
    layer: int | None = None

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Dropout:
    """The model's own dropout probabilities while training (Trainer calls model.train(), so they are on),
    read from the config's fields by lorplan.core.model.archs (0.0 where a family has none).

    attention: on the attention probabilities (GPT-2 attn_pdrop, BERT attention_probs_dropout_prob, Llama-style
        attention_dropout). residual: on the output of each residual branch, attention and MLP (GPT-2 and Phi-3
        resid_pdrop, BERT hidden_dropout_prob). embedding: on the embeddings' output (GPT-2 embd_pdrop, BERT
        hidden_dropout_prob). classifier: on the pooled output before a sequence-classification head (BERT
        classifier_dropout, else hidden_dropout_prob).
    """

    attention: float = 0.0
    residual: float = 0.0
    embedding: float = 0.0
    classifier: float = 0.0

    @property
    def any(self) -> bool:
        return any(p > 0 for p in (self.attention, self.residual, self.embedding, self.classifier))


@dataclass(frozen=True)
class ModelSpec:
    """Everything lorplan knows about a model's architecture. Frozen; built by `load_spec`.

    task: "causal-lm" for decoders (AutoModelForCausalLM), "sequence-classification" for encoders
          (AutoModelForSequenceClassification, num_labels from config or 2).
    linears: every linear module of the model (including lm_head / classifier heads, role="head").
    tensors: every other parameter (embeddings, norms, position embeddings, fused experts).
    Tied embeddings are counted once (as transformers' num_parameters does).
    tied_linears: linear modules whose weight is the input embedding's (lm_head when tie_word_embeddings):
          they can be LoRA targets, but their parameters are NOT in total_params (they belong to the embedding).
    Tensor paths are parameter names (".weight" included); Linear paths are module names.
    """

    id: str
    source: SpecSource
    model_type: str
    architecture: str
    task: str
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool
    hidden_act: str
    gated_mlp: bool
    norm: Literal["rmsnorm", "layernorm"]
    linears: tuple[Linear, ...]
    tensors: tuple[Tensor, ...]
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    notes: tuple[str, ...] = ()
    tied_linears: tuple[Linear, ...] = ()
    config_path: str = ""  # where config.json was read from ("" for the built-in catalog)
    moe_style: str = ""  # peft's MoE target renaming family ("mixtral", "qwen2_moe"); "" = from model_type
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    dropout: Dropout = field(default_factory=Dropout)  # the model's own dropout (archs reads the config)
    # what transformers' class lacks, as the fallback's child read its flags (_supports_sdpa, _supports_flash_attn,
    # supports_gradient_checkpointing); the catalog's classes: core.model.attention's table, and all checkpoint
    unsupported_attention: tuple[str, ...] = ()
    supports_gradient_checkpointing: bool = True
    # a fallback spec whose config.json names no context: where max_position_embeddings came from, the configuration
    # class's default the built model has ("max_position_embeddings absent from config.json: DistilBertConfig's
    # default"), or the class's own name for it that config.json holds ("context_length of the model's config");
    # the fast path's are read from its config (core.memory.bounds.context_default)
    context_default: str = ""
    # a sequence classifier that pools each row's last token that is not padding, as a decoder's does (core.model.
    # pooling's rule): the fallback's child reads it from the class it builds (CTRL's head is named classifier,
    # ModernBertDecoder's head, drop and classifier). None (the fast path's): a classifier with a `score` head
    # outside the blocks, as the fast path's decoder classifiers are (Llama's, Qwen's, GPT-2's...; its encoders,
    # BERT's kin, name theirs classifier). The memory model prices such a classifier as its causal LM.
    pools_last_token: bool | None = None
    # the head config.json's architectures names when another model is planned of it (core.model.head: a token
    # classifier's checkpoint planned as its causal LM): (class name, the transformers auto class that builds it),
    # the fast path's (archs.named_other_head) or the fallback's child's; () when it names the model planned
    named_head: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.pools_last_token is None:
            score = any(m.name == "score" and m.layer is None and m.role == "head" for m in self.linears)
            object.__setattr__(self, "pools_last_token", self.task == "sequence-classification" and score)

    @property
    def total_params(self) -> int:
        """All parameters, as `sum(p.numel() for p in model.parameters())` counts them (tied weights once)."""
        return sum(m.params for m in self.linears) + sum(t.numel for t in self.tensors)

    @property
    def matmul_params(self) -> int:
        """The weights one text token multiplies through: Kaplan et al. 2020's (arXiv 2001.08361) non-embedding
        N, plus a tied head (its weight is the embedding's). Every linear but a vision tower's, tied heads, and
        experts at the share a token is routed to (num_experts_per_tok / num_experts); embeddings, position
        tables and norms are lookups or elementwise and cost no matmul."""
        share = self.num_experts_per_tok / self.num_experts if self.num_experts else 1.0
        n = 0.0
        for m in (*self.linears, *self.tied_linears):
            if m.role != "vision":
                n += m.params * (share if m.role == "expert" else 1.0)
        for t in self.tensors:
            if t.kind in ("experts", "head"):
                n += t.numel * (share if t.kind == "experts" else 1.0)
        return int(n)

    @property
    def layer_linear_names(self) -> tuple[str, ...]:
        """Leaf names of the linear modules inside the blocks, in model order, each once."""
        seen: dict[str, None] = {}
        for m in self.linears:
            if m.layer is not None:
                seen.setdefault(m.name, None)
        return tuple(seen)
