"""Softcapping is priced only where the model's transformers class applies it.

attn_logit_softcapping acts in the text model's attention (Gemma 2, VaultGemma pass it to their eager attention
as softcap; Gemma 3 keeps the value and passes nothing), final_logit_softcapping in the head class the model is
built as (Gemma 3's multimodal class applies none; Gemma 3n's, Gemma 4's and PaliGemma's read it from the text
config). A key in a config whose class never reads it (a stray one in a Llama config.json) adds nothing. The
table lorplan keeps (activations._ATTN_SOFTCAP, _FINAL_SOFTCAP) is checked here against the installed
transformers: tiny random models built with two different caps give different logits exactly where it says.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.activations import (
    _ATTN_SOFTCAP,
    _FINAL_SOFTCAP,
    _SOFTCAP_DEFAULTS,
    _TEXT_MODEL,
    activation_model,
    softcapped,
)
from lorplan.core.model import catalog
from lorplan.core.model.sources import from_config

ATTN, FINAL = "attn_logit_softcapping", "final_logit_softcapping"


def _spec(name: str, model_type: str | None = None, architecture: str | None = None, **config):
    """A catalog model's spec with its config changed (`...` removes a key); model_type / architecture
    relabel it as another class would be built (the fallback's spec carries the class it built)."""
    base = from_config(catalog.config(catalog.find(name)), name, "folder", name)
    cfg = {k: v for k, v in {**base.config, **config}.items() if v is not ...}
    return dataclasses.replace(base, model_type=model_type or base.model_type,
                               architecture=architecture or base.architecture, config=MappingProxyType(cfg))


def _priced(spec) -> tuple[bool, bool]:
    am = activation_model(spec, TrainingSetup(attention="eager"))
    return softcapped(spec, ATTN), am.head_softcap > 0


def test_a_stray_cap_in_a_llama_config_is_not_priced():
    # LlamaForCausalLM never reads either key (checked against transformers below)
    llama = _spec("meta-llama/Llama-3.1-8B-Instruct")
    stray = _spec("meta-llama/Llama-3.1-8B-Instruct", **{ATTN: 50.0, FINAL: 30.0})
    assert _priced(stray) == (False, False)
    setup = TrainingSetup(attention="eager")
    assert activation_model(stray, setup) == activation_model(llama, setup)


def test_multimodal_heads_that_read_the_final_cap_from_the_text_config_are_priced():
    gemma3 = _spec("google/gemma-3-4b-it")
    text = dict(gemma3.config["text_config"])
    # Gemma 3n's multimodal class caps the logits with its text config's cap; Gemma3nTextConfig defaults it to 30
    # (and its dataclass refuses None)
    n_text = {k: v for k, v in {**text, "model_type": "gemma3n_text"}.items() if k != FINAL}
    gemma3n = _spec("google/gemma-3-4b-it", "gemma3n", "Gemma3nForConditionalGeneration", text_config=n_text)
    assert _priced(gemma3n) == (False, True)
    # PaliGemma 2 (a Gemma 2 text model): Gemma2Config's defaults cap both the scores and the logits
    pali_text = {k: v for k, v in {**text, "model_type": "gemma2"}.items() if k not in (ATTN, FINAL)}
    pali = _spec("google/gemma-3-4b-it", "paligemma", "PaliGemmaForConditionalGeneration", text_config=pali_text)
    assert _priced(pali) == (True, True)
    # a PaliGemma whose text model is Gemma 1 (the config class's default text model): no caps
    pali1 = _spec("google/gemma-3-4b-it", "paligemma", "PaliGemmaForConditionalGeneration",
                  text_config={k: v for k, v in pali_text.items() if k != "model_type"})
    assert _priced(pali1) == (False, False)
    # Gemma 3's own multimodal class applies neither, wherever the keys are
    capped = {**text, ATTN: 50.0, FINAL: 30.0}
    assert _priced(_spec("google/gemma-3-4b-it", text_config=capped, **{ATTN: 50.0, FINAL: 30.0})) == (False, False)
    # its text-only class caps the logits when the config sets a cap (Gemma3TextConfig's default is none)
    assert _priced(_spec("google/gemma-3-1b-it", **{FINAL: 30.0})) == (False, True)
    assert _priced(_spec("google/gemma-3-1b-it", **{FINAL: ...})) == (False, False)


def test_gemma2_keeps_its_caps():
    assert _priced(_spec("google/gemma-2-9b-it")) == (True, True)
    assert _priced(_spec("google/gemma-2-9b-it", **{ATTN: ..., FINAL: ...})) == (True, True)  # class defaults
    assert _priced(_spec("google/gemma-2-9b-it", **{ATTN: None, FINAL: 0})) == (False, False)


# Tiny text models: one layer, two heads, scores and logits far above a cap of 0.5
TEXT = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32}
EXTRA = {"gemma3n_text": {"num_kv_shared_layers": 0, "layer_types": ["full_attention"]}}
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
          "image_size": 28, "patch_size": 14}
MULTIMODAL = {"gemma3": {"vision_config": VISION, "mm_tokens_per_image": 4},
              "paligemma": {"vision_config": {**VISION, "projection_dim": 64}},
              # their default vision towers (23 layers of 1024) took ~5.5 s per case to build and initialise
              "inkling2": {"vision_config": {"text_hidden_size": 64, **TOWER}},
              "inkling2_loop": {"vision_config": {"text_hidden_size": 64, **TOWER}},
              # its default vision tower (50 layers of 1536) alone takes ~15 GB resident over the two builds
              "muse_glimmer": {"vision_config": {"num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 64,
                                                 "num_attention_heads": 2}}}
NEEDS = {"gemma3n": "PIL"}  # Gemma 3n's vision tower is a timm model, which needs Pillow
# tabled from their forward alone (an unconditional tanh cap read from get_text_config()): no tiny build of them
# runs here (Mistral Large 4's MLA attention rejects the tiny text config, Muse Spark's defaults allocate 32 GiB)
UNBUILT = {"MistralLarge4ForConditionalGeneration": "MLA attention: tiny config's heads do not match",
           "MuseSparkForConditionalGeneration": "its default towers allocate 32 GiB"}

# (model type, class the model is built as, where the text model's config goes): every class in the tables,
# and classes that keep a key but apply no cap
CLASSES = sorted({("llama", "LlamaForCausalLM", False), ("gemma2", "Gemma2ForCausalLM", False),
                  ("gemma3_text", "Gemma3ForCausalLM", False), ("gemma3", "Gemma3ForConditionalGeneration", True),
                  ("gemma3n_text", "Gemma3nForCausalLM", False),
                  ("gemma3n", "Gemma3nForConditionalGeneration", True), ("gemma4_text", "Gemma4ForCausalLM", False),
                  ("gemma4", "Gemma4ForConditionalGeneration", True),
                  ("paligemma", "PaliGemmaForConditionalGeneration", True),
                  ("vaultgemma", "VaultGemmaForCausalLM", False), ("nanochat", "NanoChatForCausalLM", False),
                  ("beam", "BeamForCausalLM", False), ("gemma4_unified_text", "Gemma4UnifiedForCausalLM", False),
                  ("gemma4_unified", "Gemma4UnifiedForConditionalGeneration", True),
                  ("inkling2_text", "Inkling2ForCausalLM", False),
                  ("inkling2", "Inkling2ForConditionalGeneration", True),
                  ("inkling2_loop_text", "Inkling2LoopForCausalLM", False),
                  ("inkling2_loop", "Inkling2LoopForConditionalGeneration", True),
                  ("mistral_large4", "MistralLarge4ForConditionalGeneration", True),
                  ("muse_glimmer", "MuseGlimmerForConditionalGeneration", True),
                  ("muse_spark", "MuseSparkForConditionalGeneration", True)})


def test_the_tables_list_only_classes_checked_here():
    checked = {cls for _, cls, _ in CLASSES}
    assert set(_FINAL_SOFTCAP) <= checked
    text_models = {_TEXT_MODEL.get(t, t) if text else t for t, _, text in CLASSES}
    assert _ATTN_SOFTCAP <= text_models and set(_SOFTCAP_DEFAULTS) <= text_models


def test_the_default_caps_are_the_config_classes():
    from transformers import AutoConfig

    for model_type, caps in _SOFTCAP_DEFAULTS.items():
        cfg = AutoConfig.for_model(model_type)
        for key, value in caps.items():
            assert getattr(cfg, key) == value, (model_type, key)


def _cap_changes_logits(model_type: str, cls_name: str, in_text: bool, key: str) -> bool:
    """Two caps (0.5 and 1.0) on the key, in the config the class's text model reads: do the logits differ?"""
    import torch
    import transformers
    from transformers import AutoConfig

    transformers.logging.set_verbosity_error()
    text_type = _TEXT_MODEL.get(model_type)
    outs = []
    for cap in (0.5, 1.0):
        text = {**TEXT, **EXTRA.get(text_type or model_type, {}), key: cap}
        if in_text:
            cfg = AutoConfig.for_model(model_type, text_config=text, **MULTIMODAL.get(model_type, {}))
        else:
            cfg = AutoConfig.for_model(model_type, **text)
        torch.manual_seed(0)
        model = getattr(transformers, cls_name)._from_config(cfg, attn_implementation="eager").eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(("q_proj.weight", "k_proj.weight")):
                    p.normal_(std=5.0)  # scores far above the cap
            outs.append(model(input_ids=torch.arange(1, 17).unsqueeze(0)).logits.float())
    return not torch.allclose(outs[0], outs[1])


@pytest.mark.slow
@pytest.mark.parametrize("key", [ATTN, FINAL], ids=["attention", "final"])
@pytest.mark.parametrize("case", CLASSES, ids=[c[1] for c in CLASSES])
def test_the_table_says_where_transformers_applies_each_cap(case, key):
    model_type, cls_name, in_text = case
    if cls_name in UNBUILT:
        pytest.skip(UNBUILT[cls_name])
    if model_type in NEEDS:
        pytest.importorskip(NEEDS[model_type])
    applied = _cap_changes_logits(model_type, cls_name, in_text, key)
    if key == FINAL:
        tabled = cls_name in _FINAL_SOFTCAP and _FINAL_SOFTCAP[cls_name] == in_text
    else:
        tabled = _TEXT_MODEL.get(model_type, model_type) in _ATTN_SOFTCAP
    assert applied == tabled, f"{cls_name}: {key} applied {applied}, in lorplan's table {tabled}"
