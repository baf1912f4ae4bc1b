"""rope_scaled_config writes the plan's linear RoPE scaling where the model reads it, or refuses: RoPE parameters
kept per label (transformers 5's rope_parameters of DeepSeek-V4: main / compress) used to get flat keys written
beside the labels, which DeepSeek-V4's rotary embedding skips (it reads only the entries that are dicts), so every
frequency stayed as it was while the notes said "RoPE scaled linearly". The scaling goes on the label where
transformers puts a config's rope_scaling (bounds.rope_scaled_labels: DeepSeek-V4's compress); labels without that
one, or with it null, are refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.train.model import rope_scaled_config

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"


def _plan(factor: float = 2.0):
    plan = read_plan(SAMPLE)
    return replace(plan, model=replace(plan.model, rope_scaling=factor))


def _deepseek_v4():
    from transformers import DeepseekV4Config

    return DeepseekV4Config(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, head_dim=16)


def test_flat_keys_beside_labels_scale_nothing():
    """Why writing them is wrong: DeepSeek-V4's rotary embedding builds its frequencies from the labelled
    entries alone."""
    from transformers.models.deepseek_v4.modeling_deepseek_v4 import DeepseekV4RotaryEmbedding

    config = _deepseek_v4()
    before = {k: v.clone() for k, v in DeepseekV4RotaryEmbedding(config).named_buffers()}
    config.rope_parameters = {**config.rope_parameters, "rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}
    after = dict(DeepseekV4RotaryEmbedding(config).named_buffers())
    assert before.keys() == after.keys() and all((after[k] == v).all() for k, v in before.items())


def test_deepseek_v4_scales_compress_as_transformers_does(tmp_path):
    """transformers puts a config's rope_scaling on DeepSeek-V4's compress entry (DeepseekV4Config; its main
    layers keep plain RoPE), and lorplan train puts its scaling there too, with no flat keys beside the labels."""
    config = _deepseek_v4()
    scaled = rope_scaled_config(_plan(), tmp_path, {}, config)
    assert set(scaled.rope_parameters) == {"main", "compress"}
    assert scaled.rope_parameters["compress"]["rope_type"] == "linear"
    assert scaled.rope_parameters["compress"]["factor"] == 2.0
    assert scaled.rope_parameters["main"] == config.rope_parameters["main"]  # as transformers leaves it
    assert config.rope_parameters["compress"]["rope_type"] == "default"  # the caller's config is left as it was


def test_labels_without_the_scaled_one_are_refused(tmp_path):
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.memory.bounds import check_context
    from lorplan.core.model import load_spec

    config = _deepseek_v4()
    config.rope_parameters = {**config.rope_parameters, "compress": None}
    with pytest.raises(BadInput) as err:
        rope_scaled_config(_plan(), tmp_path, {}, config)
    line = str(err.value)
    assert line.startswith("model.rope_scaling: ") and "main, compress (null)" in line and "\n" not in line
    # the label it looks for, as check_context's refusal says (it said "no full_attention layers")
    assert "its compress layers have no RoPE" in line and "full_attention" not in line, line
    # a config.json with it null is another matter: DeepseekV4Config rebuilds both labels from rope_theta and
    # compress_rope_theta, so the plan takes it (tests/core/test_rope_export_null_entry.py); this in-memory config
    # is what lorplan train refuses
    spec = replace(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), config=config.to_dict())
    check_context(spec, TrainingSetup(seq_len=1024, rope_scaling=2.0))
    assert config.rope_parameters["main"]["rope_type"] == "default"  # the caller's config is left as it was


def test_a_null_full_attention_entry_is_refused(tmp_path):
    """Per layer type with the full-attention entry null: nothing to scale there, and flat keys beside the
    entries would scale nothing either."""
    from transformers import Gemma3TextConfig

    config = Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              num_key_value_heads=1, head_dim=16, vocab_size=64)
    config.rope_parameters = {"full_attention": None, "sliding_attention": config.rope_parameters["sliding_attention"]}
    with pytest.raises(BadInput, match=r"^model.rope_scaling: .*full_attention"):
        rope_scaled_config(_plan(), tmp_path, {}, config)


def test_a_null_entry_beside_full_attention_still_scales_it(tmp_path):
    from transformers import Gemma3TextConfig

    config = Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              num_key_value_heads=1, head_dim=16, vocab_size=64)
    config.rope_parameters = {"full_attention": config.rope_parameters["full_attention"], "sliding_attention": None}
    scaled = rope_scaled_config(_plan(4.0), tmp_path, {}, config)
    assert scaled.rope_parameters["full_attention"]["rope_type"] == "linear"
    assert scaled.rope_parameters["full_attention"]["factor"] == 4.0
    assert set(scaled.rope_parameters) == {"full_attention", "sliding_attention"}  # no flat keys beside them


def test_labels_without_the_one_transformers_scales_are_refused(tmp_path):
    """Ergo's RoPE kept on its full-attention layers alone (its sliding_attention entry left out, where transformers
    puts a config's rope_scaling): the refusal names sliding_attention, not full_attention."""
    import transformers

    config = transformers.AutoConfig.for_model("ergo", vocab_size=64, hidden_size=32, num_hidden_layers=4,
                                               num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                               intermediate_size=64)
    config.rope_parameters = {"full_attention": {"rope_type": "default", "rope_theta": 1e4}}
    with pytest.raises(BadInput) as err:
        rope_scaled_config(_plan(), tmp_path, {}, config)
    line = str(err.value)
    assert "none of them sliding_attention" in line and line.endswith("; remove model.rope_scaling"), line
