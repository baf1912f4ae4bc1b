"""Per-architecture module layouts, built from a config.json dict with plain Python.

Each layout lists the parameters exactly as `model.named_parameters()` of the planned transformers class does
(transformers 5.x): nn.Linear / Conv1D modules become `Linear`, everything else (embeddings, norms, fused MoE
experts, routers, conv patch embeddings) a `Tensor`. The defaults for absent config keys are those of the
transformers configuration classes (e.g. `Qwen3Config.head_dim = 128`, `Gemma2Config.tie_word_embeddings = True`).
The exactness tests in tests/core/test_lora_exact.py compare these layouts with real transformers + peft.

Planned classes: AutoModelForCausalLM for decoders (for `gemma3` configs that is Gemma3ForConditionalGeneration,
vision tower included), AutoModelForSequenceClassification for a decoder whose config.json's architectures names
it (a reward model: names_classifier); AutoModelForSequenceClassification (num_labels from config, else 2) for BERT
encoders. A config.json whose architectures names a head lorplan does not plan (a token classifier, a
question-answering or multiple-choice model: named_other_head) is planned as that too, with the note the fallback
gives it, naming the class named and the class planned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lorplan.core.model.head import REFUSED_HEADS, other_head_note
from lorplan.core.model.spec import Dropout, Linear, Role, Tensor, TensorKind
from lorplan.core.units import LONGEST_ECHO, echoed


class UnsupportedConfig(Exception):
    """The fast path cannot describe this config exactly (the caller falls back to transformers)."""


class MissingField(Exception):
    """A required config key is absent or has the wrong type (the caller raises BadInput naming it)."""


@dataclass
class Layout:
    """What a family builder returns: parameters plus the summary numbers ModelSpec carries."""

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
    norm: str
    linears: list[Linear] = field(default_factory=list)
    tensors: list[Tensor] = field(default_factory=list)
    tied_linears: list[Linear] = field(default_factory=list)
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    notes: list[str] = field(default_factory=list)
    dropout: Dropout = field(default_factory=Dropout)
    named_head: tuple[str, ...] = ()  # ModelSpec.named_head

    def lin(self, path: str, fin: int, fout: int, bias: bool, role: Role, layer: int | None) -> None:
        name = path.rsplit(".", 1)[-1]
        self.linears.append(Linear(path, name, layer, fin, fout, bias, role))

    def ten(self, path: str, shape: tuple[int, ...], kind: TensorKind, layer: int | None = None) -> None:
        self.tensors.append(Tensor(path, tuple(int(d) for d in shape), kind, layer))


# The largest size, count or length a config key may hold: every dimension of a released model is far below it
# (vocabularies ~10^5-10^6, contexts ~10^7), while 10^26 hidden units priced 8·10^40 parameters without a word.
MAX_CONFIG_INT = 2**31 - 1


def shown(v: Any) -> str:
    """A config.json value in a one-line refusal, as units.echoed echoes what was typed: whole up to LONGEST_ECHO
    characters, a longer one short: a string of 5,000 characters as 'xxxxxxxxxx…xxxxxxxxxx' (5,000 characters),
    an integer of 4,000 digits (JSON reads them whole) as 9999999999… (4,000 digits), a list by its repr."""
    return repr(v) if len(repr(v)) <= LONGEST_ECHO else echoed(v, quoted=True) if isinstance(v, str) else echoed(repr(v))


def req(cfg: Mapping[str, Any], key: str, *alts: str) -> int:
    """A required positive integer config key (or one of its aliases), at most MAX_CONFIG_INT."""
    for k in (key, *alts):
        if k in cfg and cfg[k] is not None:
            v = cfg[k]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise MissingField(f"{k!r} must be a positive integer, not {shown(v)}")
            if v > MAX_CONFIG_INT:
                raise MissingField(f"{k!r} must be a positive integer of at most {MAX_CONFIG_INT:,}, not {_big(v)}")
            return v
    raise MissingField(f"missing {key!r}")


def _big(v: int) -> str:
    """An integer beyond MAX_CONFIG_INT: 3 significant digits (3e+09) while a float holds it, else shown (a
    float of 400 digits is an OverflowError)."""
    return f"{v:.3g}" if v < 1e300 else shown(v)


def opt_positive(cfg: Mapping[str, Any], key: str, default: int) -> int:
    """An optional positive integer config key: `default` when absent; null refused, as 0 is (transformers types
    such a field int, or builds a table of that many rows: GPT-2's n_positions, BERT's max_position_embeddings)."""
    if key not in cfg:
        return default
    if cfg[key] is None:
        raise MissingField(f"{key!r} must be a positive integer, not null")
    return req(cfg, key)


# What a null config key must be instead (transformers 5's typed configuration classes refuse a null in the fields
# archs reads, but for those a family's `nullable` names): the key's kind for the one-line refusal.
_NULL_KINDS = {
    "tie_word_embeddings": "true or false", "attention_bias": "true or false", "mlp_bias": "true or false",
    "vision_use_head": "true or false", "hidden_act": "an activation name", "hidden_activation": "an activation name",
    "activation_function": "an activation name", "partial_rotary_factor": "a number",
    "mlp_only_layers": "a list of layer numbers", "decoder_sparse_step": "a non-negative integer",
    "type_vocab_size": "a non-negative integer", "attention_dropout": "a dropout probability",
    "resid_pdrop": "a dropout probability", "attn_pdrop": "a dropout probability", "embd_pdrop": "a dropout probability",
    "hidden_dropout_prob": "a dropout probability", "attention_probs_dropout_prob": "a dropout probability",
}


def refuse_nulls(cfg: Mapping[str, Any], keys: tuple[str, ...], nullable: frozenset[str] = frozenset()) -> None:
    """MissingField for the first of `keys` that config.json sets to null, unless `nullable` takes it (the
    configuration class reads that null as its default)."""
    for key in keys:
        if key in cfg and cfg[key] is None and key not in nullable:
            raise MissingField(f"{key!r} must be {_NULL_KINDS.get(key, 'a positive integer')}, not null")


def heads_divide(hidden: int, heads: int, why: str) -> None:
    """MissingField unless `hidden` is a multiple of `heads` (`why`: when transformers needs it)."""
    if hidden % heads:
        raise MissingField(f"'hidden_size' ({hidden}) must be a multiple of 'num_attention_heads' ({heads}): {why}")


def opt_int(cfg: Mapping[str, Any], key: str, default: int) -> int:
    """An optional non-negative integer config key (`default` when absent or null), at most MAX_CONFIG_INT."""
    v = cfg.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise MissingField(f"{key!r} must be a non-negative integer, not {shown(v)}")
    if v > MAX_CONFIG_INT:
        raise MissingField(f"{key!r} must be a non-negative integer of at most {MAX_CONFIG_INT:,}, not {_big(v)}")
    return v


# ---------------------------------------------------------------------------------------------- decoders
@dataclass(frozen=True)
class DecoderStyle:
    """How one decoder family differs from Llama, and how its transformers configuration class (`config_class`)
    reads absent and null keys: tests/core/test_config_defaults_transformers.py checks each default below against
    the class (core imports no transformers)."""

    config_class: str
    context_default: int  # an absent max_position_embeddings

    qkv_bias: bool | None = None  # None: from config "attention_bias" (default False)
    o_bias: bool | None = None
    mlp_bias_key: str | None = None  # "mlp_bias" for Llama
    qk_norm: bool = False  # Qwen3, Gemma 3: q_norm/k_norm of head_dim
    sandwich_norms: bool = False  # Gemma 2/3: pre/post feedforward norms
    fused: bool = False  # Phi-3: qkv_proj, gate_up_proj
    moe: str | None = None  # "mixtral" | "qwen3_moe"
    head_dim_default: int | None = None  # None: hidden_size // num_attention_heads
    tie_default: bool = False
    head_dim_zero: bool = False  # "head_dim": 0 means the default (the modeling code reads `head_dim or ...`)
    heads_divide_hidden: bool = False  # the config class refuses a hidden_size no multiple of the heads
    partial_rotary: bool = False  # RoPE turns only int(head_dim x partial_rotary_factor) of the head (Phi-3)
    kv_default: int | None = None  # an absent num_key_value_heads; None: num_attention_heads (multi-head attention)
    act_key: str = "hidden_act"  # the activation's key, and its default
    act_default: str = "silu"
    nullable: frozenset[str] = frozenset()  # keys the class reads as their default when null (the rest: refused)


_BOTH_NULLABLE = frozenset({"num_key_value_heads", "head_dim"})


STYLES: dict[str, DecoderStyle] = {
    "llama": DecoderStyle("LlamaConfig", 2048, mlp_bias_key="mlp_bias", heads_divide_hidden=True,
                          nullable=_BOTH_NULLABLE),
    "mistral": DecoderStyle("MistralConfig", 131072, qkv_bias=False, o_bias=False, head_dim_zero=True, kv_default=8,
                            nullable=frozenset({"head_dim"})),
    "mixtral": DecoderStyle("MixtralConfig", 131072, qkv_bias=False, o_bias=False, moe="mixtral",
                            head_dim_zero=True, kv_default=8, nullable=frozenset({"head_dim"})),
    "qwen2": DecoderStyle("Qwen2Config", 32768, qkv_bias=True, o_bias=False, kv_default=32,
                          nullable=frozenset({"num_key_value_heads"})),
    "qwen3": DecoderStyle("Qwen3Config", 32768, qk_norm=True, head_dim_default=128, kv_default=32,
                          nullable=frozenset({"num_key_value_heads"})),
    "qwen3_moe": DecoderStyle("Qwen3MoeConfig", 32768, qk_norm=True, moe="qwen3_moe", kv_default=4,
                              nullable=frozenset({"mlp_only_layers"})),
    "gemma2": DecoderStyle("Gemma2Config", 8192, sandwich_norms=True, head_dim_default=256, tie_default=True,
                           heads_divide_hidden=True, kv_default=4, act_key="hidden_activation",
                           act_default="gelu_pytorch_tanh"),
    "gemma3_text": DecoderStyle("Gemma3TextConfig", 131072, qk_norm=True, sandwich_norms=True,
                                head_dim_default=256, tie_default=True, heads_divide_hidden=True, kv_default=4,
                                act_key="hidden_activation", act_default="gelu_pytorch_tanh"),
    "phi3": DecoderStyle("Phi3Config", 4096, qkv_bias=False, o_bias=False, fused=True, partial_rotary=True,
                         nullable=frozenset({"num_key_value_heads"})),
}
# the MoE keys each family reads (a null in them refused but where `nullable` takes it)
_MOE_KEYS = {
    "mixtral": ("num_experts", "num_local_experts", "num_experts_per_tok"),
    "qwen3_moe": ("num_local_experts", "num_experts", "num_experts_per_tok", "moe_intermediate_size",
                  "decoder_sparse_step", "mlp_only_layers"),
}


def _decoder_reads(st: DecoderStyle) -> tuple[str, ...]:
    """The optional keys a decoder family reads (a null in them is refused but where `st.nullable` takes it)."""
    keys = ["num_key_value_heads", "head_dim", "tie_word_embeddings", st.act_key, "attention_dropout"]
    if st.qkv_bias is None:
        keys.append("attention_bias")
    if st.mlp_bias_key:
        keys.append(st.mlp_bias_key)
    if st.partial_rotary:
        keys += ["resid_pdrop", "partial_rotary_factor"]
    return (*keys, *_MOE_KEYS.get(st.moe or "", ()))


ARCH_NAMES = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "qwen3_moe": "Qwen3MoeForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
}


def decoder(model_type: str, cfg: Mapping[str, Any], prefix: str = "model.", tie: bool | None = None) -> Layout:
    """Llama-style decoder stack (+ lm_head): llama, mistral, mixtral, qwen2/3, qwen3_moe, gemma2/3, phi3."""
    st = STYLES[model_type]
    lay = _decoder_summary(model_type, st, cfg, tie)
    bias = _Biases.of(st, cfg)
    h = lay.hidden_size
    lay.ten(f"{prefix}embed_tokens.weight", (lay.vocab_size, h), "embedding")
    moe_layers = _moe_layers(st, cfg, lay)
    norms = ["input_layernorm", "post_attention_layernorm"]
    if st.sandwich_norms:
        norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
    for i in range(lay.num_layers):
        p = f"{prefix}layers.{i}."
        _attention(lay, st, bias, p + "self_attn.", i)
        if i in moe_layers:
            _experts(lay, p + "mlp.", i)
        else:
            _mlp(lay, st, bias, p + "mlp.", i)
        for nm in norms:
            lay.ten(f"{p}{nm}.weight", (h,), "norm", i)
    lay.ten(f"{prefix}norm.weight", (h,), "norm")
    head = Linear("lm_head", "lm_head", None, h, lay.vocab_size, False, "head")
    (lay.tied_linears if lay.tie_word_embeddings else lay.linears).append(head)
    return lay


def _decoder_summary(model_type: str, st: DecoderStyle, cfg: Mapping[str, Any], tie: bool | None) -> Layout:
    """The Layout's summary numbers (no parameters yet), from the config with the family's defaults."""
    h = req(cfg, "hidden_size")
    n_layers = req(cfg, "num_hidden_layers")
    heads = req(cfg, "num_attention_heads")
    vocab = req(cfg, "vocab_size")
    refuse_nulls(cfg, _decoder_reads(st), st.nullable)
    # what transformers 5 builds and trains (tests/core/test_config_values_transformers_takes.py): 0 key/value
    # heads divide by zero, a count that does not divide the query heads fails at the first step
    if cfg.get("num_key_value_heads") is not None:
        kv, which = req(cfg, "num_key_value_heads"), ""
    elif "num_key_value_heads" in cfg or st.kv_default is None:  # null (where the class takes it) or absent
        kv, which = heads, ""
    else:
        kv, which = st.kv_default, f"absent: {st.config_class}'s default {st.kv_default}"
    if heads % kv:
        raise MissingField(f"'num_key_value_heads' ({which or kv}) must divide 'num_attention_heads' ({heads}): each "
                           "key/value head serves a whole group of query heads")
    if cfg.get("head_dim") == 0 and not isinstance(cfg.get("head_dim"), bool) and not st.head_dim_zero:
        raise MissingField("'head_dim' must be a positive integer, not 0")  # RoPE divides by it
    given = bool(opt_int(cfg, "head_dim", 0))
    hd_default = st.head_dim_default if st.head_dim_default is not None else h // heads
    if st.moe == "qwen3_moe" and "head_dim" not in cfg:
        hd_default = h // heads
    hd = opt_int(cfg, "head_dim", hd_default) or hd_default
    if st.heads_divide_hidden:
        heads_divide(h, heads, f"{ARCH_NAMES[model_type]}'s configuration requires it")
    _check_rotary_head(st, cfg, hd, None if given or hd != h // heads else (h, heads))
    if cfg.get("intermediate_size") is None and st.moe != "mixtral":  # 0 builds an MLP of no width: it trains
        raise MissingField("missing 'intermediate_size'")
    inter = opt_int(cfg, "intermediate_size", 0)
    if "max_position_embeddings" in cfg and cfg["max_position_embeddings"] is None:  # the config class takes an int
        raise MissingField("'max_position_embeddings' must be a positive integer, not null")
    if tie is None:
        tie = bool(cfg.get("tie_word_embeddings", st.tie_default))
    return Layout(
        architecture=ARCH_NAMES[model_type],
        task="causal-lm",
        hidden_size=h,
        num_layers=n_layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        head_dim=hd,
        intermediate_size=inter,
        vocab_size=vocab,
        max_position_embeddings=opt_int(cfg, "max_position_embeddings", st.context_default),
        tie_word_embeddings=tie,
        hidden_act=str(cfg.get(st.act_key, st.act_default)),
        gated_mlp=True,
        norm="rmsnorm",
    )


def _partial_rotary_factor(cfg: Mapping[str, Any]) -> float:
    """config.json's partial_rotary_factor (at its top level, or in rope_parameters as transformers 5 writes it),
    1.0 when it gives none (or no number)."""
    for part in (cfg, cfg.get("rope_parameters")):
        value = part.get("partial_rotary_factor") if isinstance(part, Mapping) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return 1.0


def _check_rotary_head(st: DecoderStyle, cfg: Mapping[str, Any], hd: int, derived: tuple[int, int] | None) -> None:
    """MissingField for a head size RoPE cannot turn (transformers 5: tests/core/test_config_values_transformers_
    takes.py): 0 (its frequencies divide by it), or odd above 1 (it turns the dimensions in pairs; the config
    class refuses it or the first step fails), unless only a part of the head turns (Phi-3 with a
    partial_rotary_factor from 0 to below 1). `derived`: (hidden_size, heads) when head_dim is hidden_size // heads."""
    if derived is not None:
        h, heads = derived
        if hd == 0:
            raise MissingField(f"the head size 'hidden_size' // 'num_attention_heads' ({h} // {heads}) is 0: "
                               "'hidden_size' must be at least 'num_attention_heads'")
        what = f"the head size 'hidden_size' // 'num_attention_heads' ({h} // {heads} = {hd})"
    else:
        what = f"'head_dim' ({hd})"
    if hd < 3 or hd % 2 == 0 or (st.partial_rotary and 0.0 <= _partial_rotary_factor(cfg) < 1.0):
        return
    raise MissingField(f"{what} must be even: RoPE turns the head's dimensions in pairs")


@dataclass(frozen=True)
class _Biases:
    """Which decoder projections carry a bias: fixed by the family, else from the config."""

    qkv: bool
    o: bool
    mlp: bool

    @classmethod
    def of(cls, st: DecoderStyle, cfg: Mapping[str, Any]) -> _Biases:
        attention = bool(cfg.get("attention_bias", False))
        return cls(
            qkv=st.qkv_bias if st.qkv_bias is not None else attention,
            o=st.o_bias if st.o_bias is not None else attention,
            mlp=bool(cfg.get(st.mlp_bias_key, False)) if st.mlp_bias_key else False,
        )


def _moe_layers(st: DecoderStyle, cfg: Mapping[str, Any], lay: Layout) -> set[int]:
    """Sets the layout's expert numbers and returns the blocks whose MLP is a mixture of experts."""
    if st.moe == "mixtral":
        # MixtralConfig maps num_experts onto num_local_experts (attribute_map): given both, num_experts wins
        lay.num_experts = req(cfg, "num_experts") if "num_experts" in cfg else opt_positive(cfg, "num_local_experts", 8)
        lay.num_experts_per_tok = opt_int(cfg, "num_experts_per_tok", 2)
        lay.moe_intermediate_size = req(cfg, "intermediate_size")
        return set(range(lay.num_layers))
    if st.moe == "qwen3_moe":
        # transformers 5 saves this key as num_local_experts (attribute_map); Hub configs say num_experts.
        lay.num_experts = opt_int(cfg, "num_local_experts", opt_int(cfg, "num_experts", 128))
        lay.num_experts_per_tok = opt_int(cfg, "num_experts_per_tok", 8)
        lay.moe_intermediate_size = opt_int(cfg, "moe_intermediate_size", 768)
        step = opt_int(cfg, "decoder_sparse_step", 1)
        only = set(cfg.get("mlp_only_layers") or [])
        if lay.num_experts > 0 and step > 0:
            return {i for i in range(lay.num_layers) if i not in only and (i + 1) % step == 0}
    return set()


def _attention(lay: Layout, st: DecoderStyle, bias: _Biases, a: str, i: int) -> None:
    """Block i's self-attention under path prefix `a`: q/k/v (or Phi-3's fused qkv), o, and Qwen3/Gemma 3's
    per-head q/k norms."""
    h, heads, kv, hd = lay.hidden_size, lay.num_attention_heads, lay.num_key_value_heads, lay.head_dim
    if st.fused:
        lay.lin(a + "qkv_proj", h, (heads + 2 * kv) * hd, bias.qkv, "attention", i)
    else:
        lay.lin(a + "q_proj", h, heads * hd, bias.qkv, "attention", i)
        lay.lin(a + "k_proj", h, kv * hd, bias.qkv, "attention", i)
        lay.lin(a + "v_proj", h, kv * hd, bias.qkv, "attention", i)
    lay.lin(a + "o_proj", heads * hd, h, bias.o, "attention", i)
    if st.qk_norm:
        lay.ten(a + "q_norm.weight", (hd,), "norm", i)
        lay.ten(a + "k_norm.weight", (hd,), "norm", i)


def _mlp(lay: Layout, st: DecoderStyle, bias: _Biases, m: str, i: int) -> None:
    """Block i's gated MLP under path prefix `m`: gate/up/down, or Phi-3's fused gate_up and down."""
    h, inter = lay.hidden_size, lay.intermediate_size
    if st.fused:
        lay.lin(m + "gate_up_proj", h, 2 * inter, bias.mlp, "mlp", i)
    else:
        lay.lin(m + "gate_proj", h, inter, bias.mlp, "mlp", i)
        lay.lin(m + "up_proj", h, inter, bias.mlp, "mlp", i)
    lay.lin(m + "down_proj", inter, h, bias.mlp, "mlp", i)


def _experts(lay: Layout, m: str, i: int) -> None:
    """Block i's mixture of experts under `m`, as transformers 5 fuses it: 3D gate_up and down parameters of
    all experts, and the router."""
    e, mi, h = lay.num_experts, lay.moe_intermediate_size, lay.hidden_size
    lay.ten(m + "experts.gate_up_proj", (e, 2 * mi, h), "experts", i)
    lay.ten(m + "experts.down_proj", (e, h, mi), "experts", i)
    lay.ten(m + "gate.weight", (e, h), "router", i)


# ---------------------------------------------------------------------------------------------- gemma3 (VLM)
GEMMA3_TEXT_DEFAULTS = {  # transformers Gemma3TextConfig defaults of the sizes the decoder requires (its
    # num_key_value_heads, head_dim and context: STYLES["gemma3_text"])
    "vocab_size": 262208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
}


def gemma3_multimodal(cfg: Mapping[str, Any]) -> Layout:
    """Gemma3ForConditionalGeneration: SigLIP vision tower + projector + Gemma 3 text decoder + lm_head.

    This is what AutoModelForCausalLM builds for a `gemma3` config in transformers 5.x.
    """
    text = cfg.get("text_config")
    vision = cfg.get("vision_config")
    if not isinstance(text, Mapping):
        raise MissingField("missing 'text_config'")
    if not isinstance(vision, Mapping):
        raise MissingField("missing 'vision_config'")
    # SiglipVisionConfig takes no null in these (Gemma3Config's null tie_word_embeddings is untied: bool(None))
    refuse_nulls(vision, ("hidden_size", "intermediate_size", "num_hidden_layers", "num_channels", "patch_size",
                          "image_size", "vision_use_head"))
    if vision.get("vision_use_head", True):
        raise UnsupportedConfig("vision_config.vision_use_head is true")
    text = {**GEMMA3_TEXT_DEFAULTS, **text}  # hub configs omit keys that equal the defaults
    tie = bool(cfg.get("tie_word_embeddings", True))
    lay = decoder("gemma3_text", text, prefix="model.language_model.", tie=tie)
    lay.architecture = "Gemma3ForConditionalGeneration"
    vh = opt_int(vision, "hidden_size", 768)
    vi = opt_int(vision, "intermediate_size", 3072)
    vl = opt_int(vision, "num_hidden_layers", 12)
    ch = opt_int(vision, "num_channels", 3)
    ps = opt_int(vision, "patch_size", 16)
    img = opt_int(vision, "image_size", 224)
    vt = "model.vision_tower."
    text_linears, text_tensors = lay.linears, lay.tensors
    lay.linears, lay.tensors = [], []
    lay.ten(vt + "embeddings.patch_embedding.weight", (vh, ch, ps, ps), "other")
    lay.ten(vt + "embeddings.patch_embedding.bias", (vh,), "bias")
    lay.ten(vt + "embeddings.position_embedding.weight", ((img // ps) ** 2, vh), "position")
    for i in range(vl):
        p = f"{vt}encoder.layers.{i}."
        lay.ten(p + "layer_norm1.weight", (vh,), "norm")
        lay.ten(p + "layer_norm1.bias", (vh,), "norm")
        for nm in ("k_proj", "v_proj", "q_proj", "out_proj"):
            lay.lin(p + "self_attn." + nm, vh, vh, True, "vision", None)
        lay.ten(p + "layer_norm2.weight", (vh,), "norm")
        lay.ten(p + "layer_norm2.bias", (vh,), "norm")
        lay.lin(p + "mlp.fc1", vh, vi, True, "vision", None)
        lay.lin(p + "mlp.fc2", vi, vh, True, "vision", None)
    lay.ten(vt + "post_layernorm.weight", (vh,), "norm")
    lay.ten(vt + "post_layernorm.bias", (vh,), "norm")
    lay.ten("model.multi_modal_projector.mm_input_projection_weight", (vh, lay.hidden_size), "other")
    lay.ten("model.multi_modal_projector.mm_soft_emb_norm.weight", (vh,), "norm")
    # model order: vision tower and projector first, then the language model (as named_parameters lists them)
    lay.linears += text_linears
    lay.tensors += text_tensors
    lay.notes.append(
        f"multimodal: includes the SigLIP vision tower ({vl} layers, hidden {vh}); 'all-linear' adapts its "
        "linears too, as peft does"
    )
    return lay


# ---------------------------------------------------------------------------------------------- gpt2
def gpt2(cfg: Mapping[str, Any]) -> Layout:
    """GPT2LMHeadModel: Conv1D modules c_attn / c_proj / c_fc (peft treats Conv1D as linear). GPT2Config's
    defaults for absent keys; its attribute_map's spellings (hidden_size, num_hidden_layers, num_attention_heads,
    max_position_embeddings) win over n_embd, n_layer, n_head, n_positions when both are given."""
    refuse_nulls(cfg, ("n_embd", "n_layer", "n_head", "tie_word_embeddings", "activation_function", "attn_pdrop",
                       "resid_pdrop", "embd_pdrop"))
    h = opt_int(cfg, "n_embd", 768) if "hidden_size" not in cfg else req(cfg, "hidden_size")
    n = opt_int(cfg, "n_layer", 12) if "num_hidden_layers" not in cfg else req(cfg, "num_hidden_layers")
    heads = opt_int(cfg, "n_head", 12) if "num_attention_heads" not in cfg else req(cfg, "num_attention_heads")
    heads_divide(h, heads, "GPT-2's attention splits hidden_size into the heads")
    vocab = opt_positive(cfg, "vocab_size", 50257)
    pos = opt_positive(cfg, "max_position_embeddings" if "max_position_embeddings" in cfg else "n_positions", 1024)
    # null (or absent) is 4 x n_embd; 0 builds an MLP of no width, which does not train
    inner = 4 * h if cfg.get("n_inner") is None else req(cfg, "n_inner")
    tie = bool(cfg.get("tie_word_embeddings", True))
    lay = Layout("GPT2LMHeadModel", "causal-lm", h, n, heads, heads, h // heads, inner, vocab, pos, tie,
                 str(cfg.get("activation_function", "gelu_new")), False, "layernorm")
    lay.ten("transformer.wte.weight", (vocab, h), "embedding")
    lay.ten("transformer.wpe.weight", (pos, h), "position")
    for i in range(n):
        p = f"transformer.h.{i}."
        lay.ten(p + "ln_1.weight", (h,), "norm", i)
        lay.ten(p + "ln_1.bias", (h,), "norm", i)
        lay.lin(p + "attn.c_attn", h, 3 * h, True, "attention", i)
        lay.lin(p + "attn.c_proj", h, h, True, "attention", i)
        lay.ten(p + "ln_2.weight", (h,), "norm", i)
        lay.ten(p + "ln_2.bias", (h,), "norm", i)
        lay.lin(p + "mlp.c_fc", h, inner, True, "mlp", i)
        lay.lin(p + "mlp.c_proj", inner, h, True, "mlp", i)
    lay.ten("transformer.ln_f.weight", (h,), "norm")
    lay.ten("transformer.ln_f.bias", (h,), "norm")
    head = Linear("lm_head", "lm_head", None, h, vocab, False, "head")
    (lay.tied_linears if tie else lay.linears).append(head)
    return lay


# ---------------------------------------------------------------------------------------------- bert
def num_labels(cfg: Mapping[str, Any]) -> int:
    """num_labels as transformers derives it: num_labels when given (beside an id2label of another length too:
    PretrainedConfig warns and takes num_labels), else len(id2label), else 2."""
    if cfg.get("num_labels") is not None:
        return opt_int(cfg, "num_labels", 2) or 2
    if isinstance(cfg.get("id2label"), Mapping) and cfg["id2label"]:
        return len(cfg["id2label"])
    return 2


def bert(cfg: Mapping[str, Any]) -> Layout:
    """BertForSequenceClassification (encoder + pooler + classifier); num_labels from config, else 2."""
    h = req(cfg, "hidden_size")
    n = req(cfg, "num_hidden_layers")
    heads = req(cfg, "num_attention_heads")
    heads_divide(h, heads, "BERT's attention splits hidden_size into the heads")
    # BertConfig takes no null in these (id2label and classifier_dropout may be null)
    refuse_nulls(cfg, ("type_vocab_size", "num_labels", "hidden_act", "hidden_dropout_prob",
                       "attention_probs_dropout_prob"))
    if cfg.get("intermediate_size") is None:  # 0 builds an MLP of no width: it trains
        raise MissingField("missing 'intermediate_size'")
    inter = opt_int(cfg, "intermediate_size", 0)
    vocab = req(cfg, "vocab_size")
    pos = opt_positive(cfg, "max_position_embeddings", 512)
    types = opt_int(cfg, "type_vocab_size", 2)
    labels = num_labels(cfg)
    lay = Layout("BertForSequenceClassification", "sequence-classification", h, n, heads, heads, h // heads,
                 inter, vocab, pos, False, str(cfg.get("hidden_act", "gelu")), False, "layernorm")
    e = "bert.embeddings."
    lay.ten(e + "word_embeddings.weight", (vocab, h), "embedding")
    lay.ten(e + "position_embeddings.weight", (pos, h), "position")
    lay.ten(e + "token_type_embeddings.weight", (types, h), "position")
    lay.ten(e + "LayerNorm.weight", (h,), "norm")
    lay.ten(e + "LayerNorm.bias", (h,), "norm")
    for i in range(n):
        p = f"bert.encoder.layer.{i}."
        for nm in ("query", "key", "value"):
            lay.lin(p + "attention.self." + nm, h, h, True, "attention", i)
        lay.lin(p + "attention.output.dense", h, h, True, "attention", i)
        lay.ten(p + "attention.output.LayerNorm.weight", (h,), "norm", i)
        lay.ten(p + "attention.output.LayerNorm.bias", (h,), "norm", i)
        lay.lin(p + "intermediate.dense", h, inter, True, "mlp", i)
        lay.lin(p + "output.dense", inter, h, True, "mlp", i)
        lay.ten(p + "output.LayerNorm.weight", (h,), "norm", i)
        lay.ten(p + "output.LayerNorm.bias", (h,), "norm", i)
    lay.lin("bert.pooler.dense", h, h, True, "other", None)
    lay.lin("classifier", h, labels, True, "head", None)
    lay.notes.append(f"planned as BertForSequenceClassification with {labels} labels (classifier trained)")
    return lay


# ---------------------------------------------------------------------------------------------- dropout
def _prob(cfg: Mapping[str, Any], *keys: str) -> float:
    """The first of `keys` the config sets to a number (a probability), else 0.0."""
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not 0.0 <= v < 1.0:  # float(v) of an integer of 400 digits was an OverflowError
                raise MissingField(f"{k!r} must be a dropout probability in [0, 1), not {shown(v)}")
            return float(v)
    return 0.0


def config_dropout(model_type: str, cfg: Mapping[str, Any]) -> Dropout:
    """The model's own dropout from its config fields, with the transformers configuration classes' defaults
    for absent keys (GPT2Config: attn/resid/embd_pdrop 0.1; BertConfig: hidden_dropout_prob and
    attention_probs_dropout_prob 0.1; Llama-style configs: attention_dropout 0.0)."""
    if model_type == "gpt2":
        # transformers models/gpt2/modeling_gpt2.py: attn_dropout(attn_pdrop) on the probabilities (SDPA gets
        # dropout=attn_pdrop), resid_dropout and the MLP's dropout (resid_pdrop), drop (embd_pdrop)
        full = {"attn_pdrop": 0.1, "resid_pdrop": 0.1, "embd_pdrop": 0.1, **cfg}
        return Dropout(_prob(full, "attn_pdrop"), _prob(full, "resid_pdrop"), _prob(full, "embd_pdrop"), 0.0)
    if model_type == "bert":
        # transformers models/bert/modeling_bert.py: BertSelfAttention (attention_probs_dropout_prob),
        # BertSelfOutput / BertOutput and BertEmbeddings (hidden_dropout_prob), BertForSequenceClassification
        # (classifier_dropout if set, else hidden_dropout_prob)
        full = {"attention_probs_dropout_prob": 0.1, "hidden_dropout_prob": 0.1, **cfg}
        hidden = _prob(full, "hidden_dropout_prob")
        classifier = _prob(full, "classifier_dropout") if cfg.get("classifier_dropout") is not None else hidden
        return Dropout(_prob(full, "attention_probs_dropout_prob"), hidden, hidden, classifier)
    if model_type == "gemma3":
        text = cfg.get("text_config")
        return config_dropout("gemma3_text", text if isinstance(text, Mapping) else {})
    if model_type in STYLES or model_type == "gemma3_text":
        # Llama-style decoders: eager_attention_forward / SDPA get dropout=attention_dropout while training;
        # Phi-3 adds resid_attn_dropout and resid_mlp_dropout (transformers models/phi3/modeling_phi3.py)
        residual = _prob(cfg, "resid_pdrop") if model_type == "phi3" else 0.0
        return Dropout(_prob(cfg, "attention_dropout"), residual, 0.0, 0.0)
    # other architectures (the meta-device fallback): the usual spellings, absent keys 0
    hidden = _prob(cfg, "hidden_dropout_prob", "resid_pdrop", "hidden_dropout", "dropout")
    return Dropout(_prob(cfg, "attention_probs_dropout_prob", "attention_dropout", "attn_pdrop"), hidden,
                   _prob(cfg, "hidden_dropout_prob", "embd_pdrop", "hidden_dropout", "dropout"),
                   _prob(cfg, "classifier_dropout") if cfg.get("classifier_dropout") is not None else 0.0)


def build_layout(model_type: str, cfg: Mapping[str, Any]) -> Layout:
    """The layout for a config dict. Raises UnsupportedConfig for architectures the fast path does not know,
    MissingField for incomplete configs. A decoder whose config.json names its sequence classifier
    (names_classifier) is laid out as that classifier."""
    lay = _build_layout(model_type, cfg)
    if names_classifier(model_type, cfg):
        _as_classifier(lay, model_type, cfg)
    other = named_other_head(model_type, cfg, lay.architecture)
    if other is not None:
        lay.named_head = other
        lay.notes.append(other_head_note(*other, lay.architecture))
    lay.dropout = config_dropout(model_type, cfg)
    return lay


# the classes transformers 5 builds for a fast-path decoder's config: AutoModelForCausalLM's (what lorplan plans
# of it) and AutoModelForSequenceClassification's (tests/core/test_decoder_classifier.py checks both tables)
CAUSAL_NAMES = {**ARCH_NAMES, "gemma3": "Gemma3ForConditionalGeneration", "gpt2": "GPT2LMHeadModel"}
CLASSIFIER_NAMES = {
    "llama": "LlamaForSequenceClassification",
    "mistral": "MistralForSequenceClassification",
    "mixtral": "MixtralForSequenceClassification",
    "qwen2": "Qwen2ForSequenceClassification",
    "qwen3": "Qwen3ForSequenceClassification",
    "qwen3_moe": "Qwen3MoeForSequenceClassification",
    "gemma2": "Gemma2ForSequenceClassification",
    "gemma3_text": "Gemma3TextForSequenceClassification",
    "gemma3": "Gemma3ForSequenceClassification",
    "phi3": "Phi3ForSequenceClassification",
    "gpt2": "GPT2ForSequenceClassification",
}


def names_classifier(model_type: str, cfg: Mapping[str, Any]) -> bool:
    """Whether config.json's architectures names the decoder's sequence classifier (a reward model's
    LlamaForSequenceClassification, whose checkpoint holds a score head and no lm_head) before its causal LM: the
    rule the fallback's child applies to the classes transformers builds for a config (_fallback_child._names_class),
    with the class the config's auto_map gives either auto class. Any other name (a base model, another model
    type's class) decides nothing, nor does an entry that is no name (transformers takes a list of anything)."""
    if model_type not in CLASSIFIER_NAMES:
        return False
    auto_map = cfg.get("auto_map")
    own = auto_map if isinstance(auto_map, Mapping) else {}

    def names(auto: str, table: dict[str, str]) -> set[str]:
        code = own.get(auto)
        return {table[model_type], *((code.rsplit(".", 1)[-1],) if isinstance(code, str) else ())}

    classifier = names("AutoModelForSequenceClassification", CLASSIFIER_NAMES)
    causal = names("AutoModelForCausalLM", CAUSAL_NAMES)
    named = cfg.get("architectures")
    for name in named if isinstance(named, list) else ():
        if isinstance(name, str) and (name in classifier or name in causal):
            return name in classifier
    return False


# the heads of each fast-path model type that lorplan does not plan, as transformers names their classes (its
# "{prefix}For{task}", built by AutoModelFor{task}; tests/core/test_other_heads.py checks them against its tables)
_TOKEN, _ANSWER, _CHOICE = (auto.removeprefix("AutoModelFor") for auto in REFUSED_HEADS)
OTHER_HEADS: dict[str, tuple[str, tuple[str, ...]]] = {
    "llama": ("Llama", (_TOKEN, _ANSWER)),
    "mistral": ("Mistral", (_TOKEN, _ANSWER)),
    "mixtral": ("Mixtral", (_TOKEN, _ANSWER)),
    "qwen2": ("Qwen2", (_TOKEN, _ANSWER)),
    "qwen3": ("Qwen3", (_TOKEN, _ANSWER)),
    "qwen3_moe": ("Qwen3Moe", (_TOKEN, _ANSWER)),
    "gemma2": ("Gemma2", (_TOKEN,)),
    "phi3": ("Phi3", (_TOKEN,)),
    "gpt2": ("GPT2", (_TOKEN, _ANSWER)),
    "bert": ("Bert", (_TOKEN, _ANSWER, _CHOICE)),
}

# the classes besides its base model ("LlamaModel") that transformers' auto classes build for a model type of
# OTHER_HEADS and lorplan neither plans nor refuses (BERT's pretraining heads and causal LM): named before a head,
# such a class decides as the fallback's child decides it, with no note of the head (named_other_head;
# tests/core/test_other_heads.py checks them against transformers' tables)
OTHER_CLASSES: dict[str, tuple[str, ...]] = {
    "bert": ("BertLMHeadModel", "BertForMaskedLM", "BertForNextSentencePrediction", "BertForPreTraining"),
}


def other_heads(model_type: str) -> dict[str, str]:
    """{class name: the auto class transformers builds it with} of the model type's heads that lorplan does not
    plan ({"LlamaForTokenClassification": "AutoModelForTokenClassification", ...}); {} for a type with none."""
    prefix, tasks = OTHER_HEADS.get(model_type, ("", ()))
    return {f"{prefix}For{task}": f"AutoModelFor{task}" for task in tasks}


def named_other_head(model_type: str, cfg: Mapping[str, Any], built: str) -> tuple[str, str] | None:
    """(class name, auto class) of the head config.json's architectures names when the fast path plans `built` in
    its place: a class of other_heads, or one the config's auto_map gives one of REFUSED_HEADS' auto classes (its
    own code's token classifier). The fallback's child's rule (_fallback_child._named_other): None when `built` is
    named anywhere in the list, or when another class transformers builds for the config (a causal LM, a sequence
    classifier, a base model, BERT's masked LM: OTHER_CLASSES, or a class of its auto_map) is named before any such
    head; other names (another model type's class, a class of nobody's, no name) decide nothing."""
    named = cfg.get("architectures")
    names = [n for n in named if isinstance(n, str)] if isinstance(named, list) else []
    if built in names:
        return None
    auto_map = cfg.get("auto_map")
    own = {auto: code.rsplit(".", 1)[-1] for auto, code in auto_map.items() if isinstance(code, str)} \
        if isinstance(auto_map, Mapping) else {}
    heads = {**other_heads(model_type), **{own[auto]: auto for auto in REFUSED_HEADS if auto in own}}
    prefix = OTHER_HEADS.get(model_type, ("",))[0]
    others = {CAUSAL_NAMES.get(model_type), CLASSIFIER_NAMES.get(model_type), *own.values(),
              *((f"{prefix}Model",) if prefix else ()), *OTHER_CLASSES.get(model_type, ())} - heads.keys()
    for name in names:
        if name in others:
            return None
        if name in heads:
            return name, heads[name]
    return None


def _as_classifier(lay: Layout, model_type: str, cfg: Mapping[str, Any]) -> None:
    """`lay`, a decoder's causal LM, made its sequence classifier as transformers 5 builds it: the same base model
    (its parameter names unchanged) and, in place of the lm_head, a `score` linear of num_labels outputs without
    bias (GenericForSequenceClassification, GPT2ForSequenceClassification, Gemma3ForSequenceClassification: the
    text model's hidden size), which peft's SEQ_CLS trains in full. Nothing is tied: the score head is new."""
    refuse_nulls(cfg, ("num_labels",))  # PretrainedConfig takes no null num_labels
    labels = num_labels(cfg)
    lay.linears = [m for m in lay.linears if m.role != "head"]
    lay.tied_linears = [m for m in lay.tied_linears if m.role != "head"]
    lay.lin("score", lay.hidden_size, labels, False, "head", None)
    lay.architecture, lay.task, lay.tie_word_embeddings = CLASSIFIER_NAMES[model_type], "sequence-classification", False
    lay.notes.append(f"planned as {lay.architecture} with {labels} label{'s' if labels != 1 else ''} "
                     "(config.json's architectures names it; the score head trained, no lm_head)")


def _build_layout(model_type: str, cfg: Mapping[str, Any]) -> Layout:
    if model_type in STYLES:
        return decoder(model_type, cfg)
    builder: Callable[[Mapping[str, Any]], Layout] | None = {
        "gemma3": gemma3_multimodal,
        "gpt2": gpt2,
        "bert": bert,
    }.get(model_type)
    if builder is None:
        raise UnsupportedConfig(f"model_type {shown(model_type)}")
    return builder(cfg)


FAST_PATH_TYPES = tuple(STYLES) + ("gemma3", "gpt2", "bert")


def context_default(cfg: Mapping[str, Any]) -> str:
    """For messages: where the fast path's context for `cfg` comes from when config.json does not give it (the
    configuration class's default: "max_position_embeddings absent from config.json: LlamaConfig's default");
    "" when the file gives it or the fast path does not build this model_type."""
    model_type = cfg.get("model_type")
    part, keys, cls = cfg, ("max_position_embeddings",), ""
    if model_type in STYLES:
        cls = STYLES[model_type].config_class
    elif model_type == "gemma3":
        part, cls = cfg.get("text_config"), "Gemma3TextConfig"
    elif model_type == "gpt2":
        keys, cls = ("n_positions", "max_position_embeddings"), "GPT2Config"
    elif model_type == "bert":
        cls = "BertConfig"
    if not cls or not isinstance(part, Mapping) or any(k in part for k in keys):
        return ""
    return f"{keys[0]} absent from config.json: {cls}'s default"
