"""A decoder's sequence classifier whose head is not named `score` (CTRLForSequenceClassification's `classifier`,
ModernBertDecoderForSequenceClassification's `head`, `drop` and `classifier`) pools each row's last token that is not
padding, as every decoder's classifier does: the fallback's child reports it for the class it builds
(core.model.pooling, the rule lorplan train asks of the model it loads), and the memory model prices such a
classifier as its causal LM and its head, not as a BERT encoder. One fallback build (a tiny CTRL); the fast path's
specs (a BERT, a Llama classifier) are read from their configs, no child."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.activations import activation_model, decoder_classifier
from lorplan.core.model.sources import from_config, load_spec


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _setup() -> TrainingSetup:
    return TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=1, seq_len=256,
                         grad_checkpointing=False, lora_dropout=0.0, kernels="cpu", attention="eager", quant="none",
                         double_quant=False)


def test_a_ctrl_classifier_is_priced_as_a_decoder(tmp_path):
    from transformers import CTRLConfig

    cfg = CTRLConfig(vocab_size=256, n_positions=512, n_embd=64, dff=128, n_layer=2, n_head=4,
                     architectures=["CTRLForSequenceClassification"], pad_token_id=0).to_dict()
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    spec = load_spec(str(tmp_path))
    assert (spec.source, spec.task, spec.architecture) == ("fallback", "sequence-classification",
                                                           "CTRLForSequenceClassification")
    heads = [m.name for m in spec.linears if m.role == "head"]
    assert "score" not in heads and "classifier" in heads, heads  # the head the old rule looked for is not there
    assert spec.pools_last_token is True and decoder_classifier(spec)
    # priced as its causal LM (a final norm, the head's input per token), not as a post-LN encoder
    as_encoder = dataclasses.replace(spec, pools_last_token=False)
    assert not decoder_classifier(as_encoder)
    assert activation_model(spec, _setup()) != activation_model(as_encoder, _setup())


def test_the_fast_path_flags_its_decoder_classifiers_by_their_score_head():
    from transformers import BertConfig, LlamaConfig

    bert = BertConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=128).to_dict()
    llama = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2,
                        architectures=["LlamaForSequenceClassification"]).to_dict()
    encoder = from_config(bert, "bert", "folder", "bert")
    classifier = from_config(llama, "llama", "folder", "llama")
    causal = from_config({**llama, "architectures": ["LlamaForCausalLM"]}, "llama", "folder", "llama")
    assert encoder.task == classifier.task == "sequence-classification"
    assert (encoder.pools_last_token, classifier.pools_last_token, causal.pools_last_token) == (False, True, False)
    assert decoder_classifier(classifier) and not decoder_classifier(encoder)


@pytest.mark.parametrize(("model_type", "nested"), [("llama", True), ("gemma3", True), ("ctrl", False),
                                                    ("modernbert-decoder", False), ("t5gemma", False)])
def test_which_config_a_decoder_classifier_pools_by(model_type, nested):
    """GenericForSequenceClassification reads config.get_text_config().pad_token_id (Gemma 3's text_config; Llama's
    is its config itself); CTRL's, ModernBertDecoder's and an encoder-only T5Gemma's forward read
    self.config.pad_token_id, though T5Gemma's get_text_config() is its decoder's config. Meta device, 1 layer."""
    import torch
    import transformers

    from lorplan.core.model.pooling import pools_by_text_config, pools_last_token

    cfg = transformers.AutoConfig.for_model(model_type)
    if model_type == "t5gemma":
        cfg.is_encoder_decoder = False
    for config in (cfg, *(getattr(cfg, k) for k in ("text_config", "encoder", "decoder") if hasattr(cfg, k))):
        for key in ("num_hidden_layers", "n_layer"):
            if hasattr(config, key):
                setattr(config, key, 1)
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(cfg)
    assert pools_last_token(model) and pools_by_text_config(model) is nested
