"""The exports' RoPE edit for a config.json whose rope_parameters (kept per layer type) leave an entry null or out,
for the classes transformers fills such an entry for (bounds.ROPE_NULL_FILLED: Gemma 3, Gemma 3n, Olmo 3), which
`--rope-scaling` takes since d42c996 (the plan prices the scaled context, lorplan train scales the filled entry):

- The TRL (and multimodal axolotl / LLaMA-Factory) warning said to add a flat "rope_scaling" to config.json. Those
  classes merge it into the entry before filling it (convert_rope_params_to_dict: rope_parameters["full_attention"]
  .update(rope_scaling)), so transformers 5.25 failed to load the edited file: AttributeError ('NoneType' object has
  no attribute 'update') for a null entry, KeyError 'full_attention' for one left out.
- A left-out entry was not filled at all: the exports found nothing to scale, the TRL warning named no edit, and
  axolotl's overrides set a flat rope_parameters, which failed the model's build (KeyError 'full_attention').

Each edit is applied to a real config.json, loaded with the installed transformers, and its rotary embedding's
inv_freq compared with what lorplan train builds (rope_scaled_config on the loaded config).
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from rope_exports import FACTOR, load_config, quiet, rotary_frequencies, scaled_plan

from lorplan.core.export import export_plan
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import ROPE_NULL_FILLED, ROPE_SCALING_EVERY_LAYER_TYPE, check_context
from lorplan.core.model import load_spec

EDIT = re.compile(r'(?:add|set) "(rope_scaling|rope_parameters)": (\{.*\}) (?:to|in) (text_config in )?the '
                  r"model's config\.json")
# a tiny model with both layer types (Gemma 3's pattern: 5 sliding-window layers, then one of full attention)
SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
             head_dim=16, vocab_size=300, max_position_embeddings=4096)


def _text(config):
    return config.get_text_config()


def _write(folder: Path, cfg: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _types() -> list[str]:
    """The filling classes whose config.json takes a null entry (ModernBERT's typed rope_parameters refuse one:
    transformers cannot build such a file, and lorplan plan refuses it so)."""
    import transformers

    found = []
    for model_type in sorted(ROPE_NULL_FILLED):
        with warnings.catch_warnings():
            quiet()
            cfg = transformers.AutoConfig.for_model(model_type).to_dict()
            cfg["rope_parameters"] = {**cfg["rope_parameters"], "full_attention": None}
            try:
                transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
            except Exception:  # noqa: BLE001 - refused by the class: not a file lorplan plans
                continue
        found.append(model_type)
    return found


TYPES = _types()


def _config(model_type: str, gap: str) -> dict:
    """The class's config.json with its scaled entries (full_attention; every one where the scaling goes on every
    layer type) null or left out, and a base of its own (not the class's default) for the filled entry."""
    import transformers

    with warnings.catch_warnings():
        quiet()
        cfg = transformers.AutoConfig.for_model(model_type, **SMALL).to_dict()
    cfg.pop("layer_types", None)  # the class's own pattern for the tiny model
    params = cfg["rope_parameters"]
    for label in (list(params) if model_type in ROPE_SCALING_EVERY_LAYER_TYPE else ["full_attention"]):
        if gap == "null":
            params[label] = None
        else:
            del params[label]
    cfg["rope_theta"] = 123_456.0
    return cfg


def test_the_types_are_found():
    assert {"gemma3_text", "olmo3"} <= set(TYPES)


@pytest.mark.parametrize("gap", ["null", "missing"])
@pytest.mark.parametrize("model_type", TYPES)
def test_the_trl_edit_loads_and_trains_what_lorplan_train_trains(tmp_path, model_type, gap):
    cfg = _config(model_type, gap)
    folder = _write(tmp_path / "model", cfg)
    spec = replace(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), config=cfg, max_position_embeddings=4096)
    check_context(spec, TrainingSetup(seq_len=8192, rope_scaling=FACTOR))  # the plan takes it
    from lorplan.train.model import rope_scaled_config

    with warnings.catch_warnings():
        quiet()
        want = rotary_frequencies(rope_scaled_config(scaled_plan(folder), folder, {}, load_config(folder)))
        plain = rotary_frequencies(load_config(folder))
    assert any((want[k] - plain[k]).abs().max() > 0 for k in want)  # lorplan train scales something
    said = export_plan(scaled_plan(folder), "trl").warnings
    (edit,) = [m for w in said if (m := EDIT.search(w))]
    edited = {**cfg, edit.group(1): json.loads(edit.group(2))}
    got = rotary_frequencies(load_config(_write(tmp_path / "edited", edited)))  # loads (it failed to)
    assert got.keys() == want.keys()
    for kind in want:
        assert (got[kind] - want[kind]).abs().max() < 1e-6, kind


@pytest.mark.parametrize("gap", ["null", "missing"])
@pytest.mark.parametrize("model_type", TYPES)
def test_axolotl_overrides_train_what_lorplan_train_trains(tmp_path, model_type, gap):
    """axolotl's load_model_config: setattr on the loaded config, in the file's order."""
    folder = _write(tmp_path / "model", _config(model_type, gap))
    (text,) = export_plan(scaled_plan(folder), "axolotl").files.values()
    overrides = yaml.safe_load(text)["overrides_of_model_config"]
    config = load_config(folder)
    from lorplan.train.model import rope_scaled_config

    with warnings.catch_warnings():
        quiet()
        want = rotary_frequencies(rope_scaled_config(scaled_plan(folder), folder, {}, load_config(folder)))
        for key, value in copy.deepcopy(overrides).items():
            setattr(config, key, value)
        got = rotary_frequencies(config)
    assert got.keys() == want.keys()
    for kind in want:
        assert (got[kind] - want[kind]).abs().max() < 1e-6, kind


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "untyped"])
@pytest.mark.parametrize("gap", ["null", "missing"])
def test_multimodal_gemma3_edit_in_text_config_loads(tmp_path, gap, typed):
    """A multimodal Gemma 3 (the exports name an edit of text_config, for TRL, axolotl and LLaMA-Factory). Untyped:
    its text_config without a model_type, which transformers builds as a Gemma3TextConfig all the same (its
    sub-config's class), filling the entry; `--rope-scaling` refused it ("its full_attention layers have no RoPE")."""
    import transformers

    with warnings.catch_warnings():
        quiet()
        cfg = transformers.Gemma3Config(text_config=transformers.Gemma3TextConfig(**SMALL)).to_dict()
    if gap == "null":
        cfg["text_config"]["rope_parameters"]["full_attention"] = None
    else:
        del cfg["text_config"]["rope_parameters"]["full_attention"]
    if not typed:
        del cfg["text_config"]["model_type"]
    spec = replace(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), config=cfg, max_position_embeddings=4096)
    check_context(spec, TrainingSetup(seq_len=8192, rope_scaling=FACTOR))  # the plan takes it
    folder = _write(tmp_path / "model", cfg)
    from lorplan.train.model import rope_scaled_config

    with warnings.catch_warnings():
        quiet()
        want = rotary_frequencies(_text(rope_scaled_config(scaled_plan(folder), folder, {}, load_config(folder))))
    for fmt in ("trl", "axolotl", "llamafactory"):
        said = export_plan(scaled_plan(folder), fmt).warnings
        (edit,) = [m for w in said if (m := EDIT.search(w))]
        assert edit.group(3), edit.group(0)  # in text_config
        edited = copy.deepcopy(cfg)
        edited["text_config"][edit.group(1)] = json.loads(edit.group(2))
        got = rotary_frequencies(_text(load_config(_write(tmp_path / f"edited-{fmt}", edited))))
        assert got.keys() == want.keys()
        for kind in want:
            assert (got[kind] - want[kind]).abs().max() < 1e-6, (fmt, kind)


def _deepseek_v4(gap: str) -> dict:
    """DeepSeek-V4's config.json as transformers 5 saves it, its compress entry (where transformers puts a config's
    rope_scaling, bounds.ROPE_SCALING_LABEL) null or left out, and bases of its own beside (rope_theta,
    compress_rope_theta)."""
    import transformers

    with warnings.catch_warnings():
        quiet()
        cfg = transformers.DeepseekV4Config(vocab_size=64, hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                                            head_dim=16, max_position_embeddings=4096).to_dict()
    if gap == "null":
        cfg["rope_parameters"]["compress"] = None
    else:
        del cfg["rope_parameters"]["compress"]
    return {**cfg, "rope_theta": 12_345.0, "compress_rope_theta": 54_321.0}


@pytest.mark.parametrize("gap", ["null", "missing"])
def test_deepseek_v4_null_compress_is_filled_as_transformers_fills_it(tmp_path, gap):
    """DeepseekV4Config rebuilds rope_parameters from rope_theta and compress_rope_theta when its compress (or main)
    entry is no dict, so the model has RoPE there to scale; `--rope-scaling` refused it ("its compress layers have
    no RoPE"). The plan takes it, and the TRL edit and axolotl's overrides train what lorplan train trains."""
    cfg = _deepseek_v4(gap)
    folder = _write(tmp_path / "model", cfg)
    spec = replace(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), config=cfg, max_position_embeddings=4096)
    check_context(spec, TrainingSetup(seq_len=8192, rope_scaling=FACTOR))  # refused before
    from lorplan.train.model import rope_scaled_config

    with warnings.catch_warnings():
        quiet()
        loaded = load_config(folder)
        assert loaded.rope_parameters["compress"]["rope_theta"] == 54_321.0  # transformers fills it
        want = rotary_frequencies(rope_scaled_config(scaled_plan(folder), folder, {}, loaded))
        plain = rotary_frequencies(load_config(folder))
    assert (want["compress_inv_freq"] - plain["compress_inv_freq"]).abs().max() > 0  # lorplan train scales it
    said = export_plan(scaled_plan(folder), "trl").warnings
    (edit,) = [m for w in said if (m := EDIT.search(w))]
    edited = {**cfg, edit.group(1): json.loads(edit.group(2))}
    got = rotary_frequencies(load_config(_write(tmp_path / "edited", edited)))
    assert got.keys() == want.keys()
    for kind in want:
        assert (got[kind] - want[kind]).abs().max() < 1e-6, kind
    (text,) = export_plan(scaled_plan(folder), "axolotl").files.values()
    config = load_config(folder)
    with warnings.catch_warnings():
        quiet()
        for key, value in copy.deepcopy(yaml.safe_load(text)["overrides_of_model_config"]).items():
            setattr(config, key, value)
        got = rotary_frequencies(config)
    for kind in want:
        assert (got[kind] - want[kind]).abs().max() < 1e-6, kind


def test_untyped_text_configs_are_transformers():
    """bounds.TEXT_CONFIG_TYPE: every multimodal class whose text_config, given without a model_type, transformers
    builds as a class lorplan's RoPE tables name (its sub_configs_defaults), and no other."""
    from transformers import PreTrainedConfig
    from transformers.models.auto import configuration_auto

    from lorplan.core.export.rope import PER_LAYER_TYPE_BASES
    from lorplan.core.memory.bounds import ROPE_SCALING_LABEL, TEXT_CONFIG_TYPE

    named = set(ROPE_NULL_FILLED) | set(PER_LAYER_TYPE_BASES) | set(ROPE_SCALING_LABEL) \
        | set(ROPE_SCALING_EVERY_LAYER_TYPE)
    found = {}
    for model_type in configuration_auto.CONFIG_MAPPING_NAMES:
        spec = (getattr(configuration_auto.CONFIG_MAPPING[model_type], "sub_configs_defaults", None) or {}).get(
            "text_config")
        cls = getattr(spec, "config_class", None)
        if isinstance(cls, type) and issubclass(cls, PreTrainedConfig) and cls.model_type in named:
            found[model_type] = cls.model_type
    assert found == dict(TEXT_CONFIG_TYPE)
