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

from lorplan.core.export.common import ROPE_SCALING_TYPE

FULL_ATTENTION = "full_attention"
SLIDING_ATTENTION = "sliding_attention"
# The text configs transformers 5 builds with RoPE per layer type from the hub's flat keys (Gemma3TextConfig,
# Gemma3nTextConfig): the full-attention layers' base is rope_theta, the sliding-window layers'
# rope_local_base_freq, each defaulting to the class's default_theta (tests/core/test_export_rope_per_layer.py
# checks them against transformers' classes).
PER_LAYER_TYPE_MODELS = ("gemma3_text", "gemma3n_text")
DEFAULT_THETAS = {FULL_ATTENTION: 1_000_000.0, SLIDING_ATTENTION: 10_000.0}


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
    cfg = _model_config(plan)
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
    Gemma 3 files as rope_theta and rope_local_base_freq (PER_LAYER_TYPE_MODELS)."""
    saved = text.get("rope_parameters")
    if isinstance(saved, Mapping) and saved and all(isinstance(v, Mapping) for v in saved.values()):
        if FULL_ATTENTION not in saved:
            return None
        nested = {kind: dict(value) for kind, value in saved.items()}
        nested[FULL_ATTENTION].update(params)
        return nested
    if text.get("model_type") not in PER_LAYER_TYPE_MODELS:
        return None
    bases = {FULL_ATTENTION: _number(text.get("rope_theta"), DEFAULT_THETAS[FULL_ATTENTION]),
             SLIDING_ATTENTION: _number(text.get("rope_local_base_freq"), DEFAULT_THETAS[SLIDING_ATTENTION])}
    return {FULL_ATTENTION: {**params, "rope_theta": bases[FULL_ATTENTION]},
            SLIDING_ATTENTION: {"rope_type": "default", "rope_theta": bases[SLIDING_ATTENTION]}}


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _model_config(plan) -> dict | None:
    """The plan's model's config.json, read as common.model_rope_theta reads it; None where lorplan finds no
    config naming the model exactly."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model.resolve import resolve_model
    from lorplan.core.model.sources import read_config

    try:
        source = resolve_model(plan.model.source)
        if source.note is not None:
            return None
        cfg = read_config(source.config_path)
    except (BadInput, OSError, ValueError):  # a name no file system takes (a NUL byte, too long): no config
        return None
    return cfg if isinstance(cfg, dict) else None
