"""Where the plan's model keeps its RoPE settings, for the exports that write the plan's linear RoPE scaling
(model.rope_scaling), as lorplan train applies it (lorplan.train.model.rope_scaled_config): on the language
model's config (a multimodal config's text_config) and, where transformers keeps RoPE per layer type (Gemma 3:
{"full_attention": {...}, "sliding_attention": {...}} in rope_parameters), on the full-attention layers alone, where
transformers puts a config's rope_scaling (Gemma3TextConfig.convert_rope_params_to_dict).

Read offline from the model's config.json (catalog, folder or Hugging Face cache), without transformers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lorplan.core.export.common import ROPE_SCALING_TYPE, model_config

FULL_ATTENTION = "full_attention"
SLIDING_ATTENTION = "sliding_attention"
# The text configs transformers 5 builds with RoPE per layer type from the hub's flat keys (each class's
# convert_rope_params_to_dict, which puts a config's rope_scaling on the full-attention layers): model_type -> the
# config.json key of each layer type's base and the class's default for it. Gemma 3's full-attention layers take
# rope_theta and its sliding-window ones rope_local_base_freq; Olmo 3's both take rope_theta
# (tests/core/test_export_rope_per_layer.py checks them against transformers' classes).
PER_LAYER_TYPE_BASES: dict[str, dict[str, tuple[str, float]]] = {
    "gemma3_text": {FULL_ATTENTION: ("rope_theta", 1_000_000.0),
                    SLIDING_ATTENTION: ("rope_local_base_freq", 10_000.0)},
    "gemma3n_text": {FULL_ATTENTION: ("rope_theta", 1_000_000.0),
                     SLIDING_ATTENTION: ("rope_local_base_freq", 10_000.0)},
    "olmo3": {FULL_ATTENTION: ("rope_theta", 500_000.0), SLIDING_ATTENTION: ("rope_theta", 500_000.0)},
}


@dataclass(frozen=True)
class RopeLayout:
    """text_config: the language model's settings are config.json's text_config (a multimodal model's), which a
    tool setting keys on the top config does not reach. per_layer: the model's rope_parameters per layer type with
    the plan's scaling on the full-attention layers (each layer type's base kept), or None where one RoPE serves
    every layer (the flat rope_parameters the exports wrote before)."""

    text_config: bool = False
    per_layer: dict[str, dict[str, Any]] | None = None


def scaling(plan) -> dict[str, Any]:
    """The plan's RoPE scaling as transformers' rope_parameters (and rope_scaling) spell it."""
    return {"rope_type": ROPE_SCALING_TYPE, "factor": plan.model.rope_scaling}


def rope_layout(plan) -> RopeLayout:
    """Where the plan's model keeps its RoPE (RopeLayout); the plain layout when lorplan finds no config naming the
    model exactly (as common.model_rope_theta)."""
    cfg = model_config(plan)
    if cfg is None:
        return RopeLayout()
    text = cfg.get("text_config")
    multimodal = isinstance(text, Mapping)
    return RopeLayout(text_config=multimodal, per_layer=_per_layer(text if multimodal else cfg, scaling(plan)))


def config_edit(plan, layout: RopeLayout) -> str:
    """The config.json edit that scales the plan's model as lorplan train does: rope_scaling, which transformers
    reads into rope_parameters (a per-layer-type one's full-attention entry), in text_config for a multimodal
    model."""
    where = "text_config in the model's config.json" if layout.text_config else "the model's config.json"
    return f'add "rope_scaling": {json.dumps(scaling(plan))} to {where}'


def _per_layer(text: Mapping, params: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The text config's rope_parameters per layer type with `params` on the full-attention entry; None for a
    model with one RoPE for every layer. A config transformers 5 saved has them as rope_parameters; the hub's
    Gemma 3 and Olmo 3 files as flat keys (PER_LAYER_TYPE_BASES)."""
    saved = text.get("rope_parameters")
    if isinstance(saved, Mapping) and saved and all(isinstance(v, Mapping) for v in saved.values()):
        if FULL_ATTENTION not in saved:
            return None
        nested = {kind: dict(value) for kind, value in saved.items()}
        nested[FULL_ATTENTION].update(params)
        return nested
    keys = PER_LAYER_TYPE_BASES.get(text.get("model_type"))
    if keys is None:
        return None
    bases = {kind: _number(text.get(key), default) for kind, (key, default) in keys.items()}
    return {FULL_ATTENTION: {**params, "rope_theta": bases[FULL_ATTENTION]},
            SLIDING_ATTENTION: {"rope_type": "default", "rope_theta": bases[SLIDING_ATTENTION]}}


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default

