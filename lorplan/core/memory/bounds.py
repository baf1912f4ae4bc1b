"""What a model allows a setup to ask for: the sequence length its positions reach, the blocks it has, the ranks
its adapted modules can use. Every front end (lorplan plan, the planner, plan files) asks these functions, so a
setup that cannot run is refused with the same one line everywhere instead of being priced.

Pure Python over a ModelSpec; raises BadInput naming the flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from lorplan.core.errors import BadInput
from lorplan.core.lora import (
    LoraTargets,
    pattern_value,
    rank_of,
    resolve_embedding_targets,
    resolve_param_targets,
    resolve_targets,
)
from lorplan.core.memory.types import MAX_ROPE_SCALING, TrainingSetup
from lorplan.core.model.archs import context_default as archs_context_default
from lorplan.core.model.attention import check_attention
from lorplan.core.model.fallback import config_context_key
from lorplan.core.model.spec import ModelSpec


def learned_positions(spec: ModelSpec) -> bool:
    """True when the language model adds a learned position-embedding table (GPT-2's wpe, BERT's
    position_embeddings): its rows end at the context, so no RoPE scaling can extend it.

    A multimodal config's (one with a text_config) vision tower has a table of its own, one row per image patch
    (Gemma 3's SigLIP model.vision_tower.embeddings.position_embedding), while its language model positions text
    with RoPE: there only the table beside the token embedding counts (same parent module, as transformer.wte /
    transformer.wpe, embeddings.word_embeddings / embeddings.position_embeddings, OPT's decoder.embed_tokens /
    decoder.embed_positions). A text-only model's every table counts, beside the token embedding or not: DeBERTa-v3
    positions by its encoder's rel_embeddings, T5 by relative_attention_bias, and neither has RoPE to scale. So does
    every table of a spec with no token embedding to go by. A table named after the token embedding's
    (Gemma 3n's embed_tokens_per_layer beside embed_tokens: rows of a vocabulary, looked up by token id) is more
    token rows, not positions, though the fallback marks every table but the input one as a position table."""
    tables = [t for t in spec.tensors if t.kind == "position" and not _token_rows(spec, t.path)]
    if not isinstance((spec.config or {}).get("text_config"), Mapping):
        return bool(tables)
    homes = {_module_parent(t.path) for t in spec.tensors if t.kind == "embedding"}
    return any(_module_parent(t.path) in homes for t in tables) if homes else bool(tables)


def _token_rows(spec: ModelSpec, path: str) -> bool:
    """Whether the table at `path` extends a token embedding's name in the same module (embed_tokens_per_layer
    beside embed_tokens): token rows, not positions."""
    leaf, parent = _module_leaf(path), _module_parent(path)
    return any(_module_parent(t.path) == parent and leaf.startswith(_module_leaf(t.path) + "_")
               for t in spec.tensors if t.kind == "embedding")


def _module_leaf(path: str) -> str:
    """The module's own name: "wpe" for "transformer.wpe.weight"."""
    return path.rpartition(".")[0].rpartition(".")[2]


def _module_parent(path: str) -> str:
    """The module that holds a parameter's module: "transformer" for "transformer.wpe.weight"."""
    return path.rpartition(".")[0].rpartition(".")[0]


def native_rope_scaling(spec: ModelSpec) -> dict | None:
    """The RoPE scaling the model's own config.json sets (Llama 3.1's llama3 ×8, Gemma 3's linear ×8 on its
    full-attention layers, Phi-3.5-mini's longrope, ...), or None. Read where transformers reads it: rope_scaling
    as the hub's files write it, or rope_parameters as transformers 5 saves a config (per layer type for Gemma 3:
    full_attention, sliding_attention, an entry possibly null), of a rope_type other than "default"; a multimodal
    config's text_config too (its language model's). A catalog entry whose stored config.json leaves the scaling
    out (Phi-3.5-mini's and Phi-4-mini's longrope factor lists) names its type itself
    (catalog.CatalogEntry.rope_scaling); the context it scales from is the stored file's
    original_max_position_embeddings. A rope_scaling per layer type for a class that fills its layer types' entries
    itself (ROPE_NULL_FILLED) is read as no scaling, as transformers reads it (_per_label)."""
    for part in _config_parts(spec):
        for key in ("rope_scaling", "rope_parameters"):
            value = part.get(key)
            if not isinstance(value, Mapping):
                continue
            # per layer type ({"full_attention": {...}, "sliding_attention": {...}}) or one for every layer
            if rope_per_layer(value):
                value = _per_label(part, key) or {}
            for params in (_layer_entries(value) if rope_per_layer(value) else (value,)):
                if _scales(params):
                    return dict(params)
    if spec.source == "catalog":
        from lorplan.core.model.catalog import find

        entry = find(spec.id)
        if entry is not None and entry.rope_scaling:  # the context it scales from: the stored file's
            return {"rope_type": entry.rope_scaling}  # original_max_position_embeddings (_native_words)
    return None


def _config_parts(spec: ModelSpec) -> tuple[Mapping, ...]:
    """The config and, for a multimodal config, its text_config (where its language model's settings are, its
    model_type as transformers reads it: text_config_part)."""
    cfg = spec.config or {}
    text = text_config_part(cfg)
    return (cfg, text) if text is not None else (cfg,)


# The multimodal model types whose text_config, written without a model_type, transformers builds as a text config
# lorplan's RoPE tables name (each class's sub_configs_defaults: Gemma3Config's text_config is a Gemma3TextConfig
# whatever the dict says, PreTrainedConfig.create_subconfig), so it fills null RoPE entries and puts a rope_scaling
# where that class does. tests/core/test_rope_export_null_entry.py checks it against transformers.
TEXT_CONFIG_TYPE: Mapping[str, str] = {"dots3_note": "dots3_note_text", "gemma3": "gemma3_text",
                                       "gemma3n": "gemma3n_text"}


def text_config_part(cfg: Mapping) -> Mapping | None:
    """A multimodal config's text_config, its model_type filled as transformers fills it where config.json leaves
    it out (TEXT_CONFIG_TYPE); None for a config without one."""
    text = cfg.get("text_config")
    if not isinstance(text, Mapping):
        return None
    filled = TEXT_CONFIG_TYPE.get(cfg.get("model_type") or "")
    return {**text, "model_type": filled} if filled is not None and "model_type" not in text else text


def rope_per_layer(value: Mapping) -> bool:
    """Whether RoPE parameters are kept per label ({"full_attention": {...}, "sliding_attention": {...}}, an
    entry possibly null) rather than one set for every layer (rope_type, rope_theta, factor: no mapping). Also
    lorplan.train.model.rope_scaled_config's test on the loaded config's rope_parameters, and the exports' on
    config.json's (lorplan.core.export.rope)."""
    entries = list(value.values())
    return (all(v is None or isinstance(v, Mapping) for v in entries)
            and any(isinstance(v, Mapping) for v in entries))


def _layer_entries(value: Mapping) -> list[Mapping]:
    return [v for v in value.values() if isinstance(v, Mapping)]


FULL_ATTENTION = "full_attention"
SLIDING_ATTENTION = "sliding_attention"

# Where transformers 5 puts a config's rope_scaling for the model types that keep RoPE per label (each class's
# convert_rope_params_to_dict or __post_init__). Every layer type's entry: ModernBERT's
# (models/modernbert/configuration_modernbert.py, models/modernbert_decoder/configuration_modernbert_decoder.py) and
# dots3 Note's (models/dots3_note/configuration_dots3_note.py: a flat rope_scaling is copied to each of its layer
# types, indexed_attention and sliding_attention; its published checkpoints keep the text config at the top level,
# model_type dots3_note). One label (ROPE_SCALING_LABEL): DeepSeek-V4's compress (models/deepseek_v4: its main layers
# keep plain RoPE, as for its own yarn), Ergo's sliding_attention (models/ergo: its full-attention layers have no
# RoPE, full_attention null). Every other's full_attention (Gemma 3's, Olmo 3's: models/gemma3/
# configuration_gemma3.py). tests/core/test_rope_outside_catalog.py and test_rope_labels_transformers.py check
# them against transformers.
ROPE_SCALING_EVERY_LAYER_TYPE = frozenset({"dots3_note", "dots3_note_text", "modernbert", "modernbert-decoder"})
ROPE_SCALING_LABEL: Mapping[str, str] = {"deepseek_v4": "compress", "ergo": SLIDING_ATTENTION}

# The model types whose configuration class fills a null (or missing) full_attention or sliding_attention entry
# of rope_parameters with default RoPE on its base when it builds the config (Gemma3TextConfig's
# convert_rope_params_to_dict: rope_theta, rope_local_base_freq; Gemma 3n's, Olmo 3's, ModernBERT's the same, though
# ModernBERT's typed rope_parameters refuse a null entry before: transformers cannot build that file, and lorplan
# plan refuses it so; a missing one is filled), and merges a config's rope_scaling into its full_attention entry
# as one flat dict, so a rope_scaling per layer type sets no rope_type there and scales nothing (and one beside a
# null or missing entry fails the build: the exports then name rope_parameters, core.export.rope.RopeLayout.gap).
# The exports' PER_LAYER_TYPE_BASES (core.export.rope) holds the same types. tests/core/
# test_rope_labels_transformers.py checks the set against transformers.
ROPE_NULL_FILLED = frozenset({"gemma3_text", "gemma3n_text", "modernbert", "modernbert-decoder", "olmo3"})

# The model types whose configuration class keeps a config's rope_parameters per label only when every one of its
# labels is a dict, and otherwise rebuilds them all with default RoPE on its flat keys' bases: DeepSeek-V4's
# (DeepseekV4Config.__post_init__: main on rope_theta, compress on compress_rope_theta; a null or missing compress
# or main entry gets both rebuilt). The exports rebuild the same (core.export.rope.REBUILT_BASES).
# tests/core/test_rope_export_null_entry.py checks it against transformers.
ROPE_LABELS_REBUILT: Mapping[str, tuple[str, ...]] = {"deepseek_v4": ("main", "compress")}


def rope_scaling_label(model_type: str | None) -> str:
    """The label of the RoPE parameters where transformers puts a config's rope_scaling for a model type outside
    ROPE_SCALING_EVERY_LAYER_TYPE: ROPE_SCALING_LABEL's, else full_attention."""
    return ROPE_SCALING_LABEL.get(model_type or "", FULL_ATTENTION)


def rope_scaled_labels(model_type: str | None, value: Mapping) -> tuple[str, ...]:
    """The labels of RoPE parameters kept per label (`value`, rope_per_layer) that lorplan's linear scaling goes
    on, where transformers puts a config's rope_scaling: every entry that is not null for ModernBERT and dots3 Note
    (ROPE_SCALING_EVERY_LAYER_TYPE), else the one rope_scaling_label names (DeepSeek-V4's compress, Ergo's
    sliding_attention, every other's full_attention); () when that entry is missing or null: nothing to scale.
    lorplan train and the exports scale these labels."""
    if model_type in ROPE_SCALING_EVERY_LAYER_TYPE:
        return tuple(str(k) for k, v in value.items() if isinstance(v, Mapping))
    label = rope_scaling_label(model_type)
    return (label,) if isinstance(value.get(label), Mapping) else ()


def _per_label(part: Mapping, key: str) -> Mapping | None:
    """The config part's RoPE parameters per label under `key` (rope_parameters or rope_scaling) as transformers
    builds them, or None where it reads none per label there. A class that fills its layer types' entries
    (ROPE_NULL_FILLED) gets default RoPE for a null or missing full_attention / sliding_attention, and reads a
    rope_scaling per layer type as nothing (it merges the labels into its full_attention entry, which stays
    default RoPE). A class that rebuilds its labels (ROPE_LABELS_REBUILT: DeepSeek-V4) gets default RoPE on each
    where one of them is null or missing."""
    value = part.get(key)
    if not (isinstance(value, Mapping) and rope_per_layer(value)):
        return None
    rebuilt = ROPE_LABELS_REBUILT.get(part.get("model_type") or "")
    if rebuilt is not None and not all(isinstance(value.get(label), Mapping) for label in rebuilt):
        return {label: {"rope_type": "default"} for label in rebuilt}
    if part.get("model_type") not in ROPE_NULL_FILLED:
        return value
    if key == "rope_scaling":
        return None
    filled = {kind: {"rope_type": "default"} for kind in (FULL_ATTENTION, SLIDING_ATTENTION)}
    return {**filled, **{k: v for k, v in value.items() if v is not None}}


def unscalable_rope(model_type: str | None, value: Mapping) -> str | None:
    """None when RoPE parameters kept per label (`value`, rope_per_layer, as transformers builds them) have labels
    for lorplan's linear scaling to go on (rope_scaled_labels); else why not, the words after "<model> " in the
    refusals of check_context and lorplan train (lorplan.train.model.rope_scaled_config): the config's labels, a
    null one marked, and the label the scaling goes on (rope_scaling_label), null or not among them."""
    if rope_scaled_labels(model_type, value):
        return None
    labels = ", ".join(f"{k} (null)" if v is None else str(k) for k, v in value.items())
    label = rope_scaling_label(model_type)
    if label in value and value[label] is None:
        return (f"keeps RoPE per {labels} (rope_parameters): its {label} layers have no RoPE for lorplan's linear "
                "scaling to go on")
    return (f"keeps RoPE per {labels} (rope_parameters), none of them {label}, where lorplan's linear scaling goes "
            "(as transformers puts a config's rope_scaling there)")


def _unscalable(spec: ModelSpec) -> str | None:
    """None when lorplan's linear scaling has labels to go on (or one RoPE serves every layer), as transformers
    builds the config (_per_label: Gemma 3's null full_attention is default RoPE); else why not (unscalable_rope)."""
    for part in _config_parts(spec):
        for key in ("rope_parameters", "rope_scaling"):
            value = _per_label(part, key)
            if value is not None:
                return unscalable_rope(part.get("model_type"), value)
    return None


# The model types transformers builds as a causal LM or a sequence classifier that add a fixed sinusoidal table of
# positions to the tokens (each models/<type>/modeling_<type>.py's *SinusoidalPositionalEmbedding): no RoPE, so
# --rope-scaling changes nothing. XGLM's and TrOCR's are buffers, not parameters, so no position table shows in the
# spec's tensors; Marian's and Pegasus' are frozen parameters. RoFormer's sinusoids are its rotary embedding
# (ROTARY_TABLE_POSITIONS), not added to the tokens. tests/core/test_rope_outside_catalog.py checks the set against
# transformers.
FIXED_SINUSOID_POSITIONS = frozenset({"marian", "musicgen", "musicgen_melody", "pegasus", "trocr", "xglm"})


def fixed_sinusoid_positions(spec: ModelSpec) -> bool:
    """Whether the model positions its tokens by a fixed sinusoidal table (FIXED_SINUSOID_POSITIONS) rather than
    RoPE."""
    return any(part.get("model_type") in FIXED_SINUSOID_POSITIONS for part in _config_parts(spec))


# The model types whose rotary position embedding takes its sines and cosines from a fixed table of
# max_position_embeddings rows instead of computing them from rope_parameters: RoFormer
# (models/roformer/modeling_roformer.py, RoFormerSinusoidalPositionalEmbedding, a frozen parameter read by
# apply_rotary_position_embeddings). Rotary, but not learned, and with nothing for lorplan's linear scaling to set;
# positions beyond the table index past it. tests/core/test_rope_labels_transformers.py checks RoFormer's code.
ROTARY_TABLE_POSITIONS = frozenset({"roformer"})


def rotary_table_positions(spec: ModelSpec) -> bool:
    """Whether the model's rotary embedding reads a fixed table of positions (ROTARY_TABLE_POSITIONS), not
    rope_parameters."""
    return any(part.get("model_type") in ROTARY_TABLE_POSITIONS for part in _config_parts(spec))


# The model types transformers builds as a causal LM or a sequence classifier with no RoPE and no position
# embedding of any kind: recurrent or state-space layers (RWKV, Mamba, Mamba2, Falcon-Mamba, xLSTM), and hybrids
# whose attention layers take no positions (Jamba, Zamba, Nemotron-H; Kimi Linear's MLA is NoPE). --rope-scaling
# changes nothing, and beyond a context (RWKV's context_length: its WKV kernel's longest pass) there is nothing to
# extend. tests/core/test_no_positions.py checks the set against transformers.
NO_POSITIONS = frozenset({"falcon_mamba", "jamba", "kimi_linear", "mamba", "mamba2", "nemotron_h", "rwkv", "xlstm",
                          "zamba"})


def no_positions(spec: ModelSpec) -> bool:
    """Whether the model has no RoPE and no position embeddings at all (NO_POSITIONS)."""
    return any(part.get("model_type") in NO_POSITIONS for part in _config_parts(spec))


def alibi(spec: ModelSpec) -> bool:
    """Whether the model positions its tokens by ALiBi (Press et al. 2022, arXiv 2108.12409: a bias by distance
    in every attention score) rather than RoPE or a position table: BLOOM (BloomConfig has no switch: its
    attention always adds one), MPT (transformers' MptModel always builds the bias, whatever attn_config says),
    Falcon with alibi true (its rotary embedding is for alibi false), a model whose own code reads
    attn_config.alibi or position_embedding_type "alibi"."""
    for part in _config_parts(spec):
        attn = part.get("attn_config")
        if (part.get("model_type") in ("bloom", "mpt") or part.get("alibi") is True
                or part.get("position_embedding_type") == "alibi"
                or (isinstance(attn, Mapping) and attn.get("alibi") is True)):
            return True
    return False


class _NoRope(NamedTuple):
    """Why a model has no RoPE for lorplan's linear scaling, in check_context's two messages: `scaling` follows
    "--rope-scaling: <model> " (refusing the factor), `context` goes in the parentheses after "beyond <model>'s
    context of N tokens" (refusing a longer sequence, with no factor to offer)."""

    scaling: str
    context: str


def _no_rope_reason(spec: ModelSpec) -> _NoRope | None:
    """Why the model has no RoPE that lorplan's linear scaling could scale: no positions at all, fixed sinusoidal
    ones, rotary ones read from a fixed table (RoFormer), a learned table, ALiBi; None for a model whose RoPE
    reads rope_parameters."""
    ctx = spec.max_position_embeddings
    if no_positions(spec):
        return _NoRope("has no RoPE to scale: it has no position embeddings (recurrent or state-space layers, "
                       "attention without positions)", f"{context_key(spec)}; no position embeddings, no RoPE")
    if fixed_sinusoid_positions(spec):
        return _NoRope("has no RoPE to scale: it positions tokens by fixed sinusoidal position embeddings",
                       f"{context_key(spec)}; fixed sinusoidal position embeddings, no RoPE")
    if rotary_table_positions(spec):  # its table is a position table to the spec: before learned_positions
        rows = f" of {ctx:,} rows" if ctx > 0 else ""
        return _NoRope(f"reads its rotary position embeddings from a fixed sinusoidal table{rows}, not from "
                       "rope_parameters: there is no RoPE scaling for lorplan to set"
                       + (f"; its sequences cannot be longer than {ctx:,} tokens" if ctx > 0 else ""),
                       f"{context_key(spec)}; rotary position embeddings from a fixed sinusoidal table of that "
                       "many rows")
    if learned_positions(spec):
        if ctx > 0:
            scaling = (f"has learned position embeddings ({ctx:,} rows), not RoPE; its sequences cannot be longer "
                       f"than {ctx:,} tokens")
        else:
            tables = ", ".join(dict.fromkeys(_module_leaf(t.path) for t in spec.tensors if t.kind == "position"))
            scaling = f"has learned position embeddings ({tables}), not RoPE: there is no RoPE to scale"
        return _NoRope(scaling, f"learned position embeddings, {context_key(spec)}")
    if alibi(spec):
        return _NoRope("has no RoPE to scale: it positions tokens by ALiBi (a bias by distance in its attention)",
                       f"{context_key(spec)}; ALiBi, no RoPE")
    return None


def _scales(params: Mapping) -> bool:
    """Whether RoPE parameters scale the positions: a rope_type (or the older type) other than "default" and
    "mrope", or a factor with no type named. Qwen2-VL's and Qwen2.5-VL's "mrope" (with its mrope_section) splits the
    frequencies among three position ids and scales none: transformers reads it as "default"
    (models/qwen2_vl/configuration_qwen2_vl.py, Qwen2VLTextConfig.convert_rope_params_to_dict), and a linear
    scaling goes on top, its sections kept."""
    kind = params.get("rope_type") or params.get("type")
    return kind not in ("default", "mrope") if kind is not None else "factor" in params


def _native_words(spec: ModelSpec, native: Mapping) -> str:
    """What the model's own scaling does, for messages: "linear ×8.0, to 131,072 tokens"; longrope has no factor
    but the context it scales from (original_max_position_embeddings, in its parameters or beside them):
    "longrope, from 4,096 to 131,072 tokens"."""
    from lorplan.core.units import echoed

    ctx = spec.max_position_embeddings
    kind = echoed(native.get("rope_type") or native.get("type") or "RoPE scaling")  # config.json's, a long one short
    to = f"to {ctx:,} tokens" if ctx > 0 else ""
    if "factor" in native:
        return f"{kind} ×{echoed(native['factor'])}" + (f", {to}" if to else "")
    original = native.get("original_max_position_embeddings")
    for part in _config_parts(spec):
        if original is None:
            original = part.get("original_max_position_embeddings")
    if isinstance(original, int) and not isinstance(original, bool) and 0 < original and to:
        return f"{kind}, from {original:,} {to}"
    return f"{kind}, {to}" if to else str(kind)


def context_tokens(spec: ModelSpec, setup: TrainingSetup) -> int | None:
    """The longest sequence the model's positions reach in this setup: max_position_embeddings, times
    setup.rope_scaling when given (linear position interpolation, Chen et al. 2023, arXiv 2306.15595: positions
    are divided by the factor, so the trained range covers factor × the context). None when the config does
    not say."""
    return scaled_context(spec.max_position_embeddings, setup.rope_scaling)


def scaled_context(positions: int, rope_scaling: float | None = None) -> int | None:
    """`positions` (a model's context, in tokens) times the RoPE factor, as context_tokens counts it; None when
    positions is not positive (the config does not say). The data profile counts its limit with it too."""
    if positions <= 0:
        return None
    return int(positions * (rope_scaling or 1.0))


def context_key(spec: ModelSpec) -> str:
    """The config.json key the model's context comes from, for messages: GPT-2 says n_positions (as do the
    fallback's other aliases), most models max_position_embeddings; a multimodal config's text_config is read too
    (fallback.config_context_key, as the data profile reads it). When the file lacks it, the configuration
    class's default that the fast path read instead (context_default)."""
    return context_default(spec) or config_context_key(spec.config or {}) or "max_position_embeddings"


def context_default(spec: ModelSpec) -> str:
    """"" when config.json gives the model's context, else where the spec took it from, its configuration
    class's default: "max_position_embeddings absent from config.json: LlamaConfig's default" (the fast path's,
    read from its config; a fallback spec's, the built model's: ModelSpec.context_default)."""
    return spec.context_default if spec.source == "fallback" else archs_context_default(spec.config or {})


DEFAULT_SEQ_LEN = 2048


def default_seq_len(spec: ModelSpec) -> int:
    """The sequence length priced when none is given: 2048, or the model's context when that is shorter."""
    ctx = spec.max_position_embeddings
    return min(DEFAULT_SEQ_LEN, ctx) if ctx > 0 else DEFAULT_SEQ_LEN


@dataclass(frozen=True)
class ContextNames:
    """What check_context's messages call the sequence length and the RoPE factor on one surface: `lorplan plan`'s
    flags, a plan file's keys, or the planner's field (which has no RoPE field: its advice names the command)."""

    seq_len: str
    rope_scaling: str
    assign: str = "{name} {value}"  # a setting with its value: "--seq-len 4096", "training.seq_len = 4096"
    extend_rope: str = ("extend RoPE with {setting} (linear position interpolation, which the plan and its exports "
                        "carry)")  # {setting}: rope_scaling set to the factor needed, {factor}: the factor alone
    # the RoPE factor with its value, where the surface sets it elsewhere (the planner: "`lorplan plan
    # --rope-scaling 64`"); "" when `assign` says it
    assign_rope: str = ""

    def set(self, name: str, value: str) -> str:
        if name == self.rope_scaling and self.assign_rope:
            return self.assign_rope.format(value=value)
        return self.assign.format(name=name, value=value)


FLAG_NAMES = ContextNames("--seq-len", "--rope-scaling")
PLAN_KEYS = ContextNames("training.seq_len", "model.rope_scaling", assign="{name} = {value}")


def check_context(spec: ModelSpec, setup: TrainingSetup, names: ContextNames = FLAG_NAMES) -> None:
    """BadInput when the sequence length is beyond the model's context, or RoPE scaling cannot apply to this
    model: it has learned positions, fixed sinusoidal ones, ALiBi or none at all (no RoPE), rotary ones from a
    fixed table (_no_rope_reason), scales RoPE itself, or keeps RoPE per labels with none (or a null one) where
    transformers puts a config's rope_scaling (rope_scaled_labels) for lorplan's linear scaling to go on; beyond
    the context such a model is not told to extend RoPE. `names` says what the message calls the two settings (FLAG_NAMES, PLAN_KEYS, or a front end's
    own)."""
    ctx = spec.max_position_embeddings
    seq, rope = names.seq_len, names.rope_scaling
    if setup.rope_scaling is not None:
        no_rope = _no_rope_reason(spec)
        if no_rope is not None:
            raise BadInput(f"{rope}: {spec.id} {no_rope.scaling}")
        native = native_rope_scaling(spec)
        if native is not None:
            raise BadInput(f"{rope}: {spec.id} already scales RoPE ({_native_words(spec, native)}); lorplan does "
                           "not stack a second scaling on it")
        unscalable = _unscalable(spec)
        if unscalable is not None:
            raise BadInput(f"{rope}: {spec.id} {unscalable}")
    limit = context_tokens(spec, setup)
    if limit is None or setup.seq_len <= limit:
        return
    asked = names.set(seq, str(setup.seq_len))  # as the user typed it (no thousands comma: 4096, not 4,096)
    # the furthest any factor lorplan takes reaches (as context_tokens counts it): advice never names one beyond
    reach = int(ctx * MAX_ROPE_SCALING)
    largest = names.set(rope, f"{MAX_ROPE_SCALING:g}")
    if setup.rope_scaling is not None:
        fix = (f"raise the factor (at most {MAX_ROPE_SCALING:g}) or shorten the sequences" if setup.seq_len <= reach
               else f"shorten the sequences to at most {reach:,} tokens, which {largest} (the largest factor) reaches")
        raise BadInput(f"{asked} is beyond {limit:,} tokens, {spec.id}'s context of {ctx:,} "
                       f"× {names.set(rope, f'{setup.rope_scaling:g}')}; {fix}")
    no_rope = _no_rope_reason(spec)
    if no_rope is not None:  # no RoPE: nothing to extend
        raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens ({no_rope.context}); use sequences "
                       "of at most that length")
    if native_rope_scaling(spec) is not None:  # a second scaling is refused above: do not offer one
        raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens ({context_key(spec)}, with "
                       "its own RoPE scaling); use sequences of at most that length")
    if _unscalable(spec) is not None:  # refused above too
        raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens ({context_key(spec)}); use "
                       "sequences of at most that length")
    if setup.seq_len > reach:  # no factor lorplan takes reaches it: name none (one above 64 is refused)
        raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens ({context_key(spec)}) and beyond "
                       f"the {reach:,} tokens that {largest} (the largest factor) reaches; use sequences of at most "
                       f"{reach:,} tokens")
    need = -(-setup.seq_len // ctx)
    raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens "
                   f"({context_key(spec)}); shorten the sequences, or "
                   + names.extend_rope.format(setting=names.set(rope, str(need)), factor=need))


@dataclass(frozen=True)
class TargetNames:
    """What check_targets' messages call the LoRA settings on one surface: `lorplan plan`'s flags or a plan file's
    keys (a hand-edited plan is checked before `lorplan train` or `lorplan export` acts on it)."""

    targets: str
    layers: str
    rank_pattern: str
    alpha_pattern: str


TARGET_FLAGS = TargetNames("--targets", "--layers", "--rank-pattern", "alpha_pattern")
TARGET_KEYS = TargetNames("lora.target_modules", "lora.layers_to_transform", "lora.rank_pattern", "lora.alpha_pattern")


def check_layers(spec: ModelSpec, targets: LoraTargets, names: TargetNames = TARGET_FLAGS) -> None:
    """BadInput when --layers names blocks the model does not have."""
    if targets.layers_to_transform is None:
        return
    blocks = sorted({m.layer for m in spec.linears if m.layer is not None})
    if not blocks:
        raise BadInput(f"{names.layers}: {spec.id} has no numbered blocks to choose from")
    missing = [i for i in targets.layers_to_transform if i not in set(blocks)]
    if missing:
        shown = ", ".join(map(str, missing[:6])) + (", …" if len(missing) > 6 else "")
        raise BadInput(f"{names.layers}: block{'s' if len(missing) > 1 else ''} {shown} "
                       f"{'do' if len(missing) > 1 else 'does'} not exist: {spec.id} has {len(blocks)} blocks "
                       f"({blocks[0]}-{blocks[-1]})")


def _modules(spec: ModelSpec, targets: LoraTargets) -> list[tuple[str, int, int | None]]:
    """(module path, largest rank it can use, its fixed rank_pattern rank or None) per adapted module."""
    out: list[tuple[str, int, int | None]] = []
    probe = 1 << 40  # a rank no pattern uses: modules that return it take the swept rank
    for m in resolve_targets(spec, targets):
        fixed = rank_of(m, targets, probe)
        out.append((m.path, min(m.in_features, m.out_features), None if fixed == probe else fixed))
    for t in resolve_embedding_targets(spec, targets):
        out.append((t.path, min(t.shape), None))
    for p in resolve_param_targets(spec, targets):
        # peft/tuners/lora/layer.py (ParamWrapper): (E, out, in) experts get rank multiplier × r on each expert
        out.append((p.tensor.path, min(p.tensor.shape[-2:]) // p.multiplier, None))
    return out


def rank_limit(spec: ModelSpec, targets: LoraTargets) -> int:
    """The largest swept rank any adapted module can use (min(in, out) of the widest adapted module); a larger
    rank only adds parameters that cannot raise any adapter's rank. 0 when no module takes the swept rank."""
    return max((use for _, use, fixed in _modules(spec, targets) if fixed is None), default=0)


def check_targets(spec: ModelSpec, targets: LoraTargets, names: TargetNames = TARGET_FLAGS) -> None:
    """BadInput when the targets adapt nothing, a rank_pattern rank exceeds its module's dimensions, or a
    rank_pattern / alpha_pattern key matches no adapted module (peft ignores such a key: a typo would go
    unnoticed). `names`: what the messages call the settings (TARGET_FLAGS, TARGET_KEYS)."""
    check_layers(spec, targets, names)
    modules = _modules(spec, targets)
    if not modules:  # peft refuses a LoRA config that adapts no module, modules_to_save or not
        layers = ",".join(map(str, targets.layers_to_transform or ()))
        where = f" in {names.layers} {layers}" if targets.layers_to_transform is not None else ""
        what = "no LoRA adapter would be trained (peft refuses that, modules_to_save or not)" if \
            targets.modules_to_save else "nothing would be trained"
        raise BadInput(f"{names.targets} {','.join(targets.modules)}: no module of {spec.id} matches{where}, so "
                       f"{what}")
    for path, use, fixed in modules:
        if fixed is not None and fixed > use:
            key = next(k for k in targets.rank_pattern if pattern_value({k: 1}, path))
            raise BadInput(f"{names.rank_pattern}: rank {fixed} for {path} (key {key!r}) is above its smallest "
                           f"dimension ({use})")
    paths = [path.removesuffix(".weight") for path, _, _ in modules]
    for pattern, name in ((targets.rank_pattern, names.rank_pattern), (targets.alpha_pattern, names.alpha_pattern)):
        for key in pattern:
            if not any(pattern_value({key: 1}, path) for path in paths):
                raise BadInput(f"{name}: {key!r} matches no module the targets adapt "
                               f"({', '.join(sorted({p.rsplit('.', 1)[-1] for p in paths}))})")


def check_learns(spec: ModelSpec, targets: LoraTargets, *, quantized: bool = False, bias: bool = False,
                 key: str = "--targets") -> None:
    """BadInput (one line: core.lora.bypass_notes' sentence, after `key`) when every module the targets adapt is one
    whose adapter trains on no path of this base (core.lora.never_trained: Mamba's dt_proj alone, which its mixer
    reads as a raw weight; `quantized`: a 4- or 8-bit base) and nothing else trains (no embedding, expert or
    modules_to_save target, nor a trained LoRA bias, `bias`): nothing would learn, and the run ended in torch's
    "does not require grad" traceback at its first backward. The one rule of `lorplan plan` and the planner
    (check_plannable) and of `lorplan train` (lorplan.cli.train.check_bypassed, `key` naming the plan's key)."""
    from lorplan.core.lora import block_target_names, bypass_notes, never_trained, saved_names

    notes = bypass_notes(spec, targets, key=key)
    if not notes or bias:
        return
    dead = never_trained(spec, quantized=quantized)
    linears = resolve_targets(spec, targets)
    if (linears and all(m.name in dead for m in linears) and not resolve_embedding_targets(spec, targets)
            and not resolve_param_targets(spec, targets) and not saved_names(spec, targets)):
        others = [n for n in block_target_names(spec) if n not in dead]
        hint = f"target {' or '.join(others)} too" if others else "target other modules"
        raise BadInput("; ".join(notes) + f": nothing else in the plan trains, so nothing would learn; {hint}")


def check_ranks(spec: ModelSpec, targets: LoraTargets, ranks: Iterable[int], flag: str = "--ranks") -> None:
    """BadInput naming `flag` for a rank above rank_limit (no adapted module could use it)."""
    limit = rank_limit(spec, targets)
    for r in ranks:
        if limit and r > limit:
            raise BadInput(f"{flag}: rank {r:,} is above {limit:,}, the largest rank a module it adapts can use "
                           f"(min(in, out) of {spec.id}'s widest adapted module)")


def plannable_ranks(spec: ModelSpec, targets: LoraTargets, ranks: Iterable[int]) -> tuple[int, ...]:
    """The ranks of a default sweep that some adapted module can use (a small model drops 512 from 1…512)."""
    limit = rank_limit(spec, targets)
    kept = tuple(r for r in ranks if not limit or r <= limit)
    return kept or tuple(ranks)[:1]


def check_loss(spec: ModelSpec, setup: TrainingSetup) -> None:
    """BadInput when a causal-LM loss kernel (--loss fused-linear-ce / cut-ce) is asked for a model that is no
    causal LM: those kernels fuse the output head's cross-entropy over the vocabulary, and a sequence classifier's
    loss is over its labels (activations.loss_buffer_bytes prices nothing for them), so the flag would change
    nothing but the plan file's claim."""
    if spec.task != "causal-lm" and setup.loss != "standard":
        raise BadInput(f"--loss {setup.loss}: {spec.id} is a sequence classifier, whose loss is a cross-entropy "
                       "over its labels; the loss kernels replace a causal LM's cross-entropy over the vocabulary")


def check_plannable(spec: ModelSpec, setup: TrainingSetup, ranks: Iterable[int] = (), flag: str = "--ranks",
                    names: ContextNames = FLAG_NAMES) -> None:
    """Every check above for one setup (check_learns with no LoRA bias: the planner trains none) and the ranks
    asked for explicitly (`flag` and `names`: what the messages call the ranks and the context settings), and that the model's class implements the setup's attention
    (core.model.attention: Gemma 2 has no SDPA) and checkpoints when asked (core.model.fallback: CTRL cannot)."""
    from lorplan.core.model.fallback import check_gradient_checkpointing

    check_loss(spec, setup)
    check_attention(spec, setup.attention)
    check_gradient_checkpointing(spec, setup.grad_checkpointing)
    check_context(spec, setup, names)
    check_targets(spec, setup.targets)
    check_learns(spec, setup.targets, quantized=setup.quant != "none")
    check_ranks(spec, setup.targets, ranks, flag)
