"""Attention-logit softcapping in a model whose config nests each part's own (T5Gemma: `encoder`, `decoder`).

T5Gemma's attention passes its part's attn_logit_softcapping to eager attention (T5GemmaModuleConfig defaults it to
50.0); lorplan reads the encoder's (activations._PART_ATTN_SOFTCAP). Before, only Gemma 2 and VaultGemma were read,
and T5Gemma's encoder-only classifier was 5.9% to 15.1% short (tests/core/test_memory_trace_decoder_heads.py).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.activations import _PART_ATTN_SOFTCAP, activation_model, softcapped
from lorplan.core.model import catalog
from lorplan.core.model.sources import from_config

ATTN = "attn_logit_softcapping"
PART = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 1, "head_dim": 32, "vocab_size": 256}


def _t5gemma(encoder: dict | None):
    """A catalog spec relabelled as T5Gemma's encoder-only classifier, its config nesting `encoder`."""
    base = from_config(catalog.config(catalog.find("google/gemma-2-9b-it")), "g", "folder", "g")
    cfg = {"model_type": "t5gemma", "architectures": ["T5GemmaForSequenceClassification"]}
    if encoder is not None:
        cfg["encoder"] = encoder
    return dataclasses.replace(base, model_type="t5gemma", architecture="T5GemmaForSequenceClassification",
                               task="sequence-classification", config=MappingProxyType(cfg))


def test_the_encoders_cap_is_read_where_it_sits():
    assert softcapped(_t5gemma({**PART, ATTN: 50.0}), ATTN)
    assert softcapped(_t5gemma(dict(PART)), ATTN)  # left out: the config class's default
    assert softcapped(_t5gemma(None), ATTN)
    assert not softcapped(_t5gemma({**PART, ATTN: None}), ATTN)
    # a cap at the top level is not where T5Gemma reads it
    top = dataclasses.replace(_t5gemma({**PART, ATTN: None}),
                              config=MappingProxyType({"model_type": "t5gemma", ATTN: 50.0, "encoder": {ATTN: None}}))
    assert not softcapped(top, ATTN)


def test_the_cap_adds_its_tanh_output_to_eager_attention():
    eager = TrainingSetup(attention="eager")
    capped = activation_model(_t5gemma({**PART, ATTN: 50.0}), eager)
    uncapped = activation_model(_t5gemma({**PART, ATTN: None}), eager)
    heads = _t5gemma(None).num_attention_heads
    assert capped.layer_bs2 - uncapped.layer_bs2 == 2 * heads  # tanh's bf16 output per score


def test_the_default_is_the_config_classes():
    from transformers import T5GemmaConfig

    part, default = _PART_ATTN_SOFTCAP["t5gemma"]
    assert getattr(getattr(T5GemmaConfig(), part), ATTN) == default


@pytest.mark.slow
def test_transformers_applies_the_encoders_cap():
    """Two caps in the encoder's config give different logits, a cap at the top level none."""
    import torch
    import transformers
    from transformers import T5GemmaConfig, T5GemmaForSequenceClassification

    transformers.logging.set_verbosity_error()

    def logits(encoder_cap: float, **top) -> torch.Tensor:
        cfg = T5GemmaConfig(encoder={**PART, ATTN: encoder_cap}, decoder={**PART, ATTN: encoder_cap},
                            is_encoder_decoder=False, vocab_size=256, num_labels=3, **top)
        torch.manual_seed(0)
        model = T5GemmaForSequenceClassification._from_config(cfg, attn_implementation="eager").eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(("q_proj.weight", "k_proj.weight")):
                    p.normal_(std=5.0)  # scores far above the cap
            return model(input_ids=torch.arange(3, 19).unsqueeze(0)).logits.float()

    assert not torch.allclose(logits(0.5), logits(1.0))
