"""Where the plan's model keeps its RoPE settings, for the exports that write the plan's linear RoPE scaling
(model.rope_scaling), as lorplan train applies it (lorplan.train.model.rope_scaled_config): on the language
model's config (a multimodal config's text_config) and, where transformers keeps RoPE per layer type (Gemma 3:
{"full_attention": {...}, "sliding_attention": {...}} in rope_parameters), on the layer types where transformers
puts a config's rope_scaling (core.memory.bounds.rope_scaled_labels): the full-attention ones
(Gemma3TextConfig.convert_rope_params_to_dict), every one for ModernBERT (ModernBertConfig's).

Read offline from the model's config.json (catalog, folder or Hugging Face cache), without transformers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lorplan.core.export.common import ROPE_SCALING_TYPE, model_config
from lorplan.core.memory.bounds import rope_per_layer, rope_scaled_labels, text_config_part

FULL_ATTENTION = "full_attention"
SLIDING_ATTENTION = "sliding_attention"
# The text configs transformers 5 builds with RoPE per layer type from the hub's flat keys (each class's
# convert_rope_params_to_dict, which puts a config's rope_scaling on the full-attention layers, on every layer type
# for ModernBERT): model_type -> the config.json key of each layer type's base and the class's default for it.
# Gemma 3's full-attention layers take rope_theta and its sliding-window ones rope_local_base_freq; ModernBERT's
# global_rope_theta and local_rope_theta; Olmo 3's full-attention ones rope_theta and its sliding-window ones the
# class default whatever config.json says (key None: Olmo3Config, transformers 5.25, reads rope_theta for the
# full-attention entry only), as lorplan train loads them (tests/core/test_export_rope_per_layer.py checks them
# against transformers' classes).
PER_LAYER_TYPE_BASES: dict[str, dict[str, tuple[str | None, float]]] = {
    "gemma3_text": {FULL_ATTENTION: ("rope_theta", 1_000_000.0),
                    SLIDING_ATTENTION: ("rope_local_base_freq", 10_000.0)},
    "gemma3n_text": {FULL_ATTENTION: ("rope_theta", 1_000_000.0),
                     SLIDING_ATTENTION: ("rope_local_base_freq", 10_000.0)},
    "olmo3": {FULL_ATTENTION: ("rope_theta", 500_000.0), SLIDING_ATTENTION: (None, 500_000.0)},
    "modernbert": {FULL_ATTENTION: ("global_rope_theta", 160_000.0),
                   SLIDING_ATTENTION: ("local_rope_theta", 10_000.0)},
    "modernbert-decoder": {FULL_ATTENTION: ("global_rope_theta", 160_000.0),
                           SLIDING_ATTENTION: ("local_rope_theta", 10_000.0)},
}


# The text configs whose class rebuilds every label of rope_parameters from flat keys when one of them is null or
# missing (bounds.ROPE_LABELS_REBUILT): model_type -> each label's base key and the class's default for it, and
# the partial_rotary_factor each entry takes (DeepseekV4Config.__post_init__, transformers 5.25: config.json's, else
# its legacy qk_rope_head_dim / head_dim, else 64 / 512; head_dim 512 by default).
REBUILT_BASES: dict[str, dict[str, tuple[str, float]]] = {
    "deepseek_v4": {"main": ("rope_theta", 10_000.0), "compress": ("compress_rope_theta", 160_000.0)},
}
_DEEPSEEK_V4_ROTARY = (64 / 512, 512)  # default_partial_rotary_factor, the default head_dim


@dataclass(frozen=True)
class RopeLayout:
    """text_config: the language model's settings are config.json's text_config (a multimodal model's), which a
    tool setting keys on the top config does not reach. per_layer: the model's rope_parameters per layer type with
    the plan's scaling on the `scaled` ones (each layer type's base kept; an entry the config leaves null as
    transformers reads it, _per_layer), or None where one RoPE serves every layer (the flat rope_parameters the
    exports wrote before)."""

    text_config: bool = False
    per_layer: dict[str, dict[str, Any] | None] | None = None
    scaled: tuple[str, ...] = ()
    # the text config's model_type, for a per-layer one: whether transformers builds it from a flat rope_scaling
    model_type: str | None = None
    # config.json's rope_parameters leave null (or out) an entry a rope_scaling is merged into (_per_layer)
    gap: bool = False

    @property
    def rope_scaling_read(self) -> bool:
        """Whether a config.json rope_scaling scales this model as lorplan train does: one RoPE for every layer, or
        a class that puts it per layer type (PER_LAYER_TYPE_BASES). The others with RoPE per layer type (Laguna,
        Mellum, MiMo-V2-Flash, Dory in transformers 5.25: convert_rope_params_to_dict kept as the base's or
        returning kwargs) take it for the whole rope_parameters, and their build fails (KeyError
        'full_attention'). So does a PER_LAYER_TYPE_BASES class whose config.json's rope_parameters leave the entry
        null or out (`gap`): it merges the rope_scaling into the entry before filling it (Gemma3TextConfig.
        convert_rope_params_to_dict: AttributeError 'NoneType' object has no attribute 'update', KeyError)."""
        return self.per_layer is None or (self.model_type in PER_LAYER_TYPE_BASES and not self.gap)


def scaling(plan) -> dict[str, Any]:
    """The plan's RoPE scaling as transformers' rope_parameters (and rope_scaling) spell it."""
    return {"rope_type": ROPE_SCALING_TYPE, "factor": plan.model.rope_scaling}


def rope_layout(plan) -> RopeLayout:
    """Where the plan's model keeps its RoPE (RopeLayout); the plain layout when lorplan finds no config naming the
    model exactly (as common.model_rope_theta)."""
    cfg = model_config(plan)
    if cfg is None:
        return RopeLayout()
    text = text_config_part(cfg)  # its model_type as transformers reads it
    multimodal = text is not None
    part = text if multimodal else cfg
    per_layer, scaled = _per_layer(part, scaling(plan))
    model_type = part.get("model_type")
    saved = part.get("rope_parameters")
    gap = isinstance(saved, Mapping) and any(not isinstance(saved.get(label), Mapping) for label in scaled)
    return RopeLayout(text_config=multimodal, per_layer=per_layer, scaled=scaled,
                      model_type=model_type if isinstance(model_type, str) else None, gap=gap)


def config_edit(plan, layout: RopeLayout) -> str:
    """The config.json edit that scales the plan's model as lorplan train does: rope_scaling, which transformers
    reads into rope_parameters (a per-layer-type one's full-attention entry), in text_config for a multimodal
    model; for a class with RoPE per layer type that takes no rope_scaling so (RopeLayout.rope_scaling_read),
    rope_parameters per layer type, as lorplan train sets them."""
    where = "text_config in the model's config.json" if layout.text_config else "the model's config.json"
    if not layout.rope_scaling_read:
        return f'set "rope_parameters": {json.dumps(layout.per_layer)} in {where}'
    return f'add "rope_scaling": {json.dumps(scaling(plan))} to {where}'


def _per_layer(text: Mapping, params: dict[str, Any]) -> tuple[dict[str, dict[str, Any] | None] | None,
                                                                tuple[str, ...]]:
    """The text config's rope_parameters per layer type with `params` on the labels transformers scales
    (bounds.rope_scaled_labels), and those labels; (None, ()) for a model with one RoPE for every layer, or with
    nothing to scale (refused before an export: bounds.check_context). A config transformers 5 saved has them as
    rope_parameters (per label as bounds.rope_per_layer decides: an entry may be null); the hub's Gemma 3, Olmo 3
    and ModernBERT files as flat keys (PER_LAYER_TYPE_BASES).

    A null or left-out entry is written as transformers reads it on loading: Gemma 3's, Gemma 3n's and Olmo 3's
    classes fill it with default RoPE on their base key (Gemma3TextConfig.convert_rope_params_to_dict), which a
    tool that sets the dict on a loaded config (axolotl's setattr) would not do, leaving those layers without
    frequencies; a class that keeps it null (Ergo's RoPE-less full-attention layers, whose rotary embedding skips
    it) gets null."""
    model_type = text.get("model_type")
    keys = PER_LAYER_TYPE_BASES.get(model_type) or {}
    saved = text.get("rope_parameters")
    rebuilt = REBUILT_BASES.get(model_type or "")
    if isinstance(saved, Mapping) and rope_per_layer(saved) and rebuilt is not None \
            and not all(isinstance(saved.get(label), Mapping) for label in rebuilt):
        saved = _rebuilt(text, rebuilt)
    if isinstance(saved, Mapping) and rope_per_layer(saved):
        loaded: dict[str, Any] = {}  # as transformers loads them (lorplan train scales the loaded config)
        for kind, value in {**saved, **{kind: saved.get(kind) for kind in keys}}.items():
            if value is None and kind in keys:
                key, default = keys[kind]
                value = {"rope_type": "default", "rope_theta": _base(text, key, default)}
            loaded[kind] = None if value is None else dict(value)
        labels = rope_scaled_labels(model_type, loaded)
        if not labels:
            return None, ()
        return {kind: {**value, **params} if kind in labels else value for kind, value in loaded.items()}, labels
    if not keys:
        return None, ()
    bases = {kind: _base(text, key, default) for kind, (key, default) in keys.items()}
    labels = rope_scaled_labels(model_type, dict.fromkeys(keys, {}))
    return {kind: {**(params if kind in labels else {"rope_type": "default"}), "rope_theta": bases[kind]}
            for kind in keys}, labels


def _rebuilt(text: Mapping, bases: Mapping[str, tuple[str, float]]) -> dict[str, dict[str, Any]]:
    """rope_parameters as a REBUILT_BASES class rebuilds them: default RoPE on each label's base, with the partial
    rotary factor it gives each (DeepseekV4Config.__post_init__)."""
    factor, head_dim = _DEEPSEEK_V4_ROTARY
    legacy = text.get("qk_rope_head_dim")
    if isinstance(text.get("partial_rotary_factor"), (int, float)) and not isinstance(
            text.get("partial_rotary_factor"), bool):
        factor = float(text["partial_rotary_factor"])
    elif isinstance(legacy, int) and not isinstance(legacy, bool):
        factor = legacy / _number(text.get("head_dim"), head_dim)
    return {label: {"rope_type": "default", "rope_theta": _base(text, key, default), "partial_rotary_factor": factor}
            for label, (key, default) in bases.items()}


def _base(text: Mapping, key: str | None, default: float) -> float:
    """A layer type's RoPE base as transformers loads it: config.json's `key`, else the class default (always, for
    key None)."""
    return _number(text.get(key) if key is not None else None, default)


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default

