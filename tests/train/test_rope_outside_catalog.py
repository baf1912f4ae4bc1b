"""lorplan train's RoPE scaling (rope_scaled_config) for models outside the catalog's fast path does what
transformers does with the same scaling as a config's rope_scaling: ModernBERT's on every layer type
(ModernBertConfig.convert_rope_params_to_dict; lorplan scaled the full-attention layers alone), Qwen2-VL's linear
scaling on top of its mrope sections (kept), each checked on the rotary embedding transformers builds."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.plan import read_plan
from lorplan.train.model import rope_scaled_config

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"
FACTOR = 2.0
SCALING = {"rope_type": "linear", "factor": FACTOR}


def _plan():
    plan = read_plan(SAMPLE)
    return replace(plan, model=replace(plan.model, rope_scaling=FACTOR))


def _modernbert(**extra):
    import transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.ModernBertConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                                             num_attention_heads=2, vocab_size=128, pad_token_id=0, bos_token_id=1,
                                             eos_token_id=2, cls_token_id=1, sep_token_id=2, **extra)


def test_modernbert_scales_every_layer_type_as_transformers_does(tmp_path):
    from transformers.models.modernbert.modeling_modernbert import ModernBertRotaryEmbedding

    config = _modernbert()
    scaled = rope_scaled_config(_plan(), tmp_path, {}, config)
    assert scaled.rope_parameters == _modernbert(rope_scaling=dict(SCALING)).rope_parameters
    plain, ours = ModernBertRotaryEmbedding(config), ModernBertRotaryEmbedding(scaled)
    for kind in ("full_attention", "sliding_attention"):
        before, after = getattr(plain, f"{kind}_inv_freq"), getattr(ours, f"{kind}_inv_freq")
        assert (after * FACTOR - before).abs().max() < 1e-6, kind


def test_qwen2_vl_keeps_its_mrope_sections_under_linear_scaling(tmp_path):
    import transformers
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLRotaryEmbedding

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = transformers.Qwen2VLConfig(text_config=dict(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vocab_size=128, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}))
    scaled = rope_scaled_config(_plan(), tmp_path, {}, config).get_text_config()
    params = scaled.rope_parameters
    assert params["rope_type"] == "linear" and params["factor"] == FACTOR and params["mrope_section"] == [2, 3, 3]
    plain, ours = Qwen2VLRotaryEmbedding(config.get_text_config()), Qwen2VLRotaryEmbedding(scaled)
    assert (ours.inv_freq * FACTOR - plain.inv_freq).abs().max() < 1e-6
    assert ours.mrope_section == [2, 3, 3]
