"""The config.json edit the exports name for a model with RoPE per layer type (rope.config_edit, in TRL's warning)
trains what lorplan train trains, for every such class transformers builds as a causal LM or a sequence
classifier, not only the ones in the catalog (each checked against the installed transformers, the class list
derived from it):

- Gemma 3, Olmo 3 and ModernBERT build their per-layer-type rope_parameters from a config.json's rope_scaling
  (convert_rope_params_to_dict), so the edit adds rope_scaling.
- Laguna, Mellum, MiMo-V2-Flash, Dory (and any class lorplan does not know) take a rope_scaling for the whole
  rope_parameters: the flat dict replaced the per-layer-type one and building the model failed (KeyError
  'full_attention'). The edit there sets rope_parameters per layer type, as lorplan train does.

And axolotl's overrides_of_model_config, set by setattr on the loaded config in the file's order: ModernBERT's typed
rope_parameters refuse the flat rope_scaling written before them (StrictDataclassFieldValidationError), so axolotl
failed to load the config; it is left out there.
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

from lorplan.core.errors import BadInput
from lorplan.core.export import export_plan
from lorplan.core.export.rope import PER_LAYER_TYPE_BASES
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import check_context, rope_per_layer
from lorplan.core.model import load_spec

EDIT = re.compile(r'(?:add|set) "(rope_scaling|rope_parameters)": (\{.*\}) (?:to|in) the model\'s config\.json')


def _per_layer_text_types() -> list[str]:
    """The model types transformers builds as a causal LM or a sequence classifier whose own (not multimodal) config
    keeps RoPE per layer type by default, and that lorplan lets scale RoPE (check_context)."""
    import transformers
    from transformers.models.auto import modeling_auto

    spec = load_spec("Qwen/Qwen2.5-0.5B-Instruct")
    found = []
    with warnings.catch_warnings():
        quiet()
        for model_type in sorted(set(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
                                 | set(modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES)):
            try:
                config = transformers.AutoConfig.for_model(model_type)
            except Exception:  # noqa: BLE001 - a class that needs arguments is not built here
                continue
            params = getattr(config, "rope_parameters", None)
            if getattr(config, "text_config", None) is not None or not isinstance(params, dict) or not params \
                    or not rope_per_layer(params):
                continue
            try:
                check_context(replace(spec, config=config.to_dict()), TrainingSetup(seq_len=1024, rope_scaling=FACTOR))
            except BadInput:  # refused (its own scaling, no full_attention): no export scales it
                continue
            found.append(model_type)
    return found


PER_LAYER_TYPES = _per_layer_text_types()


def _trained(folder: Path) -> dict:
    from lorplan.train.model import rope_scaled_config

    with warnings.catch_warnings():
        quiet()
        return rotary_frequencies(rope_scaled_config(scaled_plan(folder), folder, {}, load_config(folder)))


def _folder(tmp_path: Path, model_type: str) -> Path:
    import transformers

    folder = tmp_path / model_type
    with warnings.catch_warnings():
        quiet()
        transformers.AutoConfig.for_model(model_type).save_pretrained(folder)
    return folder


def test_the_classes_are_found():
    """The derivation finds the known classes and the ones that ignore rope_scaling (not vacuous)."""
    assert {"gemma3_text", "olmo3", "modernbert-decoder", "laguna", "mellum"} <= set(PER_LAYER_TYPES)


@pytest.mark.parametrize("model_type", PER_LAYER_TYPES)
def test_trl_config_edit_trains_what_lorplan_train_trains(tmp_path, model_type):
    folder = _folder(tmp_path, model_type)
    said = export_plan(scaled_plan(folder), "trl").warnings
    (edit,) = [m for w in said if (m := EDIT.search(w))]
    key, value = edit.group(1), json.loads(edit.group(2))
    assert key == ("rope_scaling" if model_type in PER_LAYER_TYPE_BASES else "rope_parameters"), edit.group(0)
    raw = json.loads((folder / "config.json").read_text())
    edited = tmp_path / f"{model_type}-edited"
    edited.mkdir()
    (edited / "config.json").write_text(json.dumps({**raw, key: value}))
    with warnings.catch_warnings():
        quiet()
        got = rotary_frequencies(load_config(edited))
    want = _trained(folder)
    plain = rotary_frequencies(load_config(folder))
    assert got.keys() == want.keys()
    assert any((want[k] - plain[k]).abs().max() > 0 for k in want)  # train scales something
    for kind in want:
        assert (got[kind] - want[kind]).abs().max() < 1e-6, kind


@pytest.mark.parametrize("model_type", PER_LAYER_TYPES)
def test_axolotl_overrides_load_and_train_what_lorplan_train_trains(tmp_path, model_type):
    """axolotl's load_model_config: setattr(model_config, key, value) for each override, in the file's order."""
    folder = _folder(tmp_path, model_type)
    (text,) = export_plan(scaled_plan(folder), "axolotl").files.values()
    overrides = yaml.safe_load(text)["overrides_of_model_config"]
    config = load_config(folder)
    with warnings.catch_warnings():
        quiet()
        for key, value in copy.deepcopy(overrides).items():
            setattr(config, key, value)
    got, want = rotary_frequencies(config), _trained(folder)
    assert got.keys() == want.keys()
    for kind in want:
        assert (got[kind] - want[kind]).abs().max() < 1e-6, kind
