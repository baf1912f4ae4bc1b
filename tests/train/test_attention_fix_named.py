"""build_model's attention check (train.model._check_attention, before any weight loads) names the attention to
set: the one the model's class implements that is nearest the plan's. Gemma 3 (model_type gemma3: transformers
5 plans Gemma3ForConditionalGeneration) has no flash-attention-2 but has SDPA; a flash plan on a GPU was told to
set "eager", which keeps the s x s scores, where "sdpa" runs. Gemma 2 (no SDPA) is still told "eager"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.vocab import Attention


def _config_folder(tmp_path: Path, model_type: str) -> Path:
    """A folder holding only a tiny config.json of `model_type` (the check reads no weights)."""
    from transformers import AutoConfig

    folder = tmp_path / model_type
    text = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, head_dim=8)
    if model_type == "gemma3":
        cfg = AutoConfig.for_model("gemma3", text_config=text,
                                   vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                      num_attention_heads=2, image_size=28, patch_size=14))
    else:
        cfg = AutoConfig.for_model(model_type, **text)
    cfg.save_pretrained(folder)
    return folder


def _refusal(folder: Path, attention: str, impl: str) -> str:
    from transformers import AutoModelForCausalLM

    from lorplan.train.model import _check_attention

    plan = SimpleNamespace(training=SimpleNamespace(attention=attention))
    with pytest.raises(BadInput) as exc:
        _check_attention(plan, folder, AutoModelForCausalLM,
                         {"attn_implementation": impl, "revision": None, "trust_remote_code": False})
    return str(exc.value)


def test_flash_on_a_model_without_it_is_pointed_to_sdpa(tmp_path):
    line = _refusal(_config_folder(tmp_path, "gemma3"), "flash", "flash_attention_2")
    assert "Gemma3ForConditionalGeneration does not implement flash attention; it supports eager, sdpa" in line, line
    assert line.endswith('set training.attention = "sdpa" in the plan (or lorplan plan --attention sdpa)'), line


def test_sdpa_on_gemma2_is_pointed_to_eager(tmp_path):
    line = _refusal(_config_folder(tmp_path, "gemma2"), "sdpa", "sdpa")
    assert "Gemma2ForCausalLM does not implement sdpa attention; it supports eager, flash" in line, line
    assert line.endswith('set training.attention = "eager" in the plan (or lorplan plan --attention eager)'), line


def _catalog_specs():
    from lorplan.core.model import load_spec, resolve_model
    from lorplan.core.model.catalog import ENTRIES

    return [load_spec(resolve_model(e.id)) for e in ENTRIES]


def test_train_names_the_attention_lorplan_plan_defaults_to_for_every_planned_class():
    """The fix lorplan train names (train.model.suggested_attention, from transformers' class flags, which cover
    models outside core's table) is the attention lorplan plan writes without --attention (core.model.attention
    .default_attention, from its table), for every class the catalog plans: the table's classes among them."""
    import transformers

    from lorplan.core.model.attention import UNSUPPORTED, default_attention
    from lorplan.train.model import suggested_attention

    by_class = {s.architecture: s for s in _catalog_specs()}
    assert set(UNSUPPORTED) <= set(by_class), set(UNSUPPORTED) - set(by_class)
    got = {name: (suggested_attention(getattr(transformers, name)), default_attention(spec))
           for name, spec in by_class.items()}
    assert {name for name, (train, plan) in got.items() if train != plan} == set(), got
    # Gemma 2, the table's class without SDPA, is told eager by both
    assert got["Gemma2ForCausalLM"] == (Attention.EAGER, Attention.EAGER)
