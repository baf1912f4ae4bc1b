"""A model the fallback builds is re-headed in place (core.model.head.with_labels: the child is not run again) for
the head a plan trains. The re-head resized only a `classifier` / `score` linear, so a head of another shape
(RoBERTa's and ELECTRA's classifier.out_proj, T5's classification_head.out_proj, XLNet's logits_proj, XLM's
sequence_summary.summary, Perceiver's decoder final_layer) kept its config's outputs: a cross-encoder's 1-output
head was priced where the plan wrote and lorplan train built 2 or more (RoBERTa-base: 1,538 trainable parameters
fewer). Here each head shape is built by transformers on the meta device (in this process: the child's own report
of the module it builds, fallback's spec of it), with 1 and with 3 labels: the re-head of the first is the second.
Every sequence classifier transformers 5 builds from its default config (113 of them) was checked so, 1 to 3 and
2 to 5 labels."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lorplan.core.model import _fallback_child, fallback
from lorplan.core.model.head import head_labels, model_labels, with_labels

SMALL = {"vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 32}
# a `classifier` linear (DeBERTa-v2), `score` (Llama), and the heads of other shapes
SHAPES = {
    "deberta-v2": SMALL,
    "llama": {**SMALL, "num_key_value_heads": 2, "pad_token_id": 0},
    "roberta": SMALL,  # classifier.dense, classifier.out_proj: XLM-R's, bge-reranker's
    "electra": {**SMALL, "embedding_size": 8},
    "funnel": {"vocab_size": 64, "d_model": 16, "n_head": 2, "d_head": 8, "d_inner": 32, "block_sizes": [1, 1]},
    "t5": {"vocab_size": 64, "d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2},
    "bart": {"vocab_size": 64, "d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
             "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32},
    "xlnet": {"vocab_size": 64, "d_model": 16, "n_layer": 1, "n_head": 2, "d_inner": 32},
    "xlm": {"vocab_size": 64, "emb_dim": 16, "n_layers": 1, "n_heads": 2},
}


def _spec(model_type: str, labels: int, monkeypatch, capsys):
    """The fallback's spec of transformers' sequence classifier for this config with `labels` outputs, and the
    parameters the built model has."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type, **SHAPES[model_type], num_labels=labels)
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    monkeypatch.setattr(_fallback_child, "_build", lambda *_, **__: (config, model, "sequence-classification"))
    capsys.readouterr()
    assert _fallback_child.main(["config.json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cfg = {**config.to_diff_dict(), "model_type": model_type}
    return fallback._spec(report, cfg, model_type, False, model_type), sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model_type", SHAPES)
def test_a_fallback_head_of_any_shape_is_resized_as_transformers_builds_it(model_type, monkeypatch, capsys):
    one, _ = _spec(model_type, 1, monkeypatch, capsys)
    three, built = _spec(model_type, 3, monkeypatch, capsys)
    assert model_labels(one) == 1
    headed = with_labels(one, 3)
    assert headed.linears == three.linears and headed.tensors == three.tensors  # the module transformers builds
    assert headed.total_params == three.total_params == built
    assert model_labels(headed) == 3 and headed.notes == one.notes
    assert with_labels(headed, 3) is headed


def test_a_head_with_no_output_linear_found_is_said(monkeypatch, capsys):
    """A head of which no one linear is as wide as the config's num_labels (none here: RoBERTa's out_proj taken
    out) is priced as built and says so, once; the config says the classes the plan trains."""
    one, _ = _spec("roberta", 1, monkeypatch, capsys)
    assert head_labels(one) == 1  # its output linear, the child's classifier
    odd = replace(one, linears=tuple(m for m in one.linears if m.path != "classifier.out_proj"))
    assert head_labels(odd) is None
    headed = with_labels(odd, 3)
    assert headed.linears == odd.linears and model_labels(headed) == 3
    (note,) = set(headed.notes) - set(odd.notes)
    assert note == ("RobertaForSequenceClassification's classifier head is priced as built (1 output): lorplan finds "
                    "no output linear in it to resize to the classes the plan trains, so the trainable count and "
                    "memory are off by that linear's difference")
    assert with_labels(headed, 4).notes == headed.notes
