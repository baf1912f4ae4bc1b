"""T5Gemma's sequence classifier with is_encoder_decoder false builds its encoder alone (T5GemmaEncoderModel) and
pools each row's last token that is not config.pad_token_id, as a decoder's classifier does (its head over every
position, RMSNorm'd pre-norm blocks): lorplan prices it as one (pools_last_token), with its encoder's sizes, which
its config.get_text_config() (the decoder's config) does not give: t5gemma-9b-2b's encoder is the 9B's; its MLP
is gated, which the child judges against that part's hidden size (the top config names none). lorplan
train makes it pool by the id the batches are padded with, and the adapter's classifier_config.json carries that
id: its forward reads the top config's pad_token_id, which from_pretrained's keyword sets. The fallback child runs
in this process (report); the classifier is tiny, on the CPU, untrained."""

from __future__ import annotations

import json

import pytest

from lorplan.core.memory.activations import decoder_classifier
from lorplan.core.model import _fallback_child, fallback

ENCODER = dict(hidden_size=96, intermediate_size=160, num_hidden_layers=3, num_attention_heads=4,
               num_key_value_heads=2, head_dim=24, vocab_size=256)
DECODER = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, head_dim=16, vocab_size=256)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _config(encoder_decoder: bool, pad: int = 0):
    from transformers import T5GemmaConfig

    return T5GemmaConfig(encoder=dict(ENCODER, pad_token_id=pad), decoder=dict(DECODER, pad_token_id=pad),
                         vocab_size=256, is_encoder_decoder=encoder_decoder, num_labels=3)


def _spec(tmp_path, encoder_decoder: bool):
    cfg = {**_config(encoder_decoder).to_dict(), "architectures": ["T5GemmaForSequenceClassification"]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, text = _fallback_child.report(str(path), False)  # the child's report, built in this process
    assert code == 0, text
    return fallback._spec(json.loads(text), cfg, "t5gemma", False, "model_type 't5gemma'")


def test_an_encoder_only_t5gemma_classifier_is_priced_with_its_encoders_sizes(tmp_path):
    spec = _spec(tmp_path, encoder_decoder=False)
    assert (spec.architecture, spec.task) == ("T5GemmaForSequenceClassification", "sequence-classification")
    # the encoder's sizes (the decoder config's were 64 wide, 2 layers, 96 wide MLP, heads of 16)
    assert (spec.hidden_size, spec.num_layers, spec.intermediate_size, spec.head_dim) == (96, 3, 160, 24)
    # its MLP down(gelu_tanh(gate(x)) * up(x)): judged against the encoder part's hidden size (the top config
    # names none), it was priced as an ungated one, a fourth of a layer's MLP bytes more
    assert spec.gated_mlp and spec.hidden_act == "gelu_pytorch_tanh"
    assert {m.path.split(".")[1] for m in spec.linears if m.layer is not None} == {"encoder"}
    assert [(m.path, m.in_features) for m in spec.linears if m.layer is None] == [("score.out_proj", 96)]
    assert spec.pools_last_token is True and decoder_classifier(spec)  # its head over every position, pooled
    assert not [n for n in spec.notes if "encoder and a decoder stack" in n], spec.notes


def test_an_encoder_decoder_t5gemma_classifier_keeps_its_decoders_sizes_and_note(tmp_path):
    spec = _spec(tmp_path, encoder_decoder=True)
    assert (spec.hidden_size, spec.num_layers, spec.intermediate_size, spec.head_dim) == (64, 2, 96, 16)
    assert spec.gated_mlp
    assert {m.path.split(".")[1] for m in spec.linears if m.layer is not None} == {"encoder", "decoder"}
    assert spec.pools_last_token is False and not decoder_classifier(spec)
    assert [n for n in spec.notes if "encoder and a decoder stack" in n], spec.notes


def _logits(model, rows: list[list[int]], pad: int):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), 1
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits


def _pools_each_rows_last_token(model, rows: list[list[int]], pad: int) -> bool:
    import torch

    alone = torch.cat([_logits(model, [r], pad) for r in rows])
    return torch.allclose(_logits(model, rows, pad), alone, atol=1e-5)


def test_lorplan_train_makes_it_pool_by_the_batches_pad_id_and_carries_it(tmp_path):
    """config.json's pad_token_id 5 (a real token; the batches are padded with 0): _pool_by_pad compared and named
    the decoder config's id, which get_text_config() names and the encoder-only classifier does not read (it set
    the top config's too, so training pooled right), told a user to set that one after loading, and
    classifier_config.json carried no pad id, though from_pretrained's pad_token_id sets the one the classifier
    reads: the base loaded with it pooled a padding position of every shorter right-padded row."""
    import torch
    from transformers import AutoModelForSequenceClassification, T5GemmaForSequenceClassification

    from lorplan.core.model.pooling import pools_last_token
    from lorplan.train.model import _pool_by_pad, classifier_pad_kwargs

    torch.manual_seed(0)
    model = T5GemmaForSequenceClassification(_config(False, pad=5)).eval()
    assert model.config.pad_token_id == 5 and pools_last_token(model)
    rows = [[7, 8, 9, 10, 11, 12], [7, 13, 12]]
    assert not _pools_each_rows_last_token(model, rows, pad=0)  # pooled by 5: the shorter row's padding
    notes = _pool_by_pad(model, 0)
    assert notes == ["sequence classifier: config.json's pad_token_id 5 is not the tokenizer's pad token: "
                     "pad_token_id set to 0, the one lorplan pads batches with, so the head (it pools each row's "
                     "last token that is not padding) pools no padding position; the adapter's "
                     "classifier_config.json carries it"]
    assert model.config.pad_token_id == 0
    assert _pools_each_rows_last_token(model, rows, pad=0)
    head = classifier_pad_kwargs(model)
    assert head == {"pad_token_id": 0}
    model.config.pad_token_id = 5  # the checkpoint as saved, read back with the adapter's classifier arguments
    model.save_pretrained(tmp_path / "base")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "base", **head).eval()
    assert type(loaded.model).__name__ == "T5GemmaEncoderModel" and loaded.config.pad_token_id == 0
    assert _pools_each_rows_last_token(loaded, rows, pad=0)


def _pooled_row(model, rows: list[list[int]], pad: int):
    """The logits of the batch's last row."""
    return _logits(model, rows, pad)[-1]


def test_lorplan_train_makes_an_encoder_decoder_t5gemma_pool_by_the_batches_pad_id(tmp_path):
    """The encoder-decoder classifier pools the decoder position after each row's last token that is not
    config.pad_token_id (its forward reads the top config's, as the encoder-only one does), though lorplan prices it
    as an encoder (pools_last_token false). lorplan train left its pad id alone (config.json's 5; the batches are
    padded with 0), so a right-padded row pooled a padding position: its logits changed with the batch's width."""
    import torch
    from transformers import T5GemmaForSequenceClassification

    from lorplan.core.model.pooling import pools_by_pad, pools_last_token
    from lorplan.train.model import classifier_pad_kwargs, pad_classifier

    torch.manual_seed(0)
    model = T5GemmaForSequenceClassification(_config(True, pad=5)).eval()
    assert model.config.is_encoder_decoder and not pools_last_token(model) and pools_by_pad(model)
    short, six, nine = [7, 13, 12], [7, 8, 9, 10, 11, 12], [7, 8, 9, 10, 11, 12, 14, 15, 16]
    same = torch.allclose(_pooled_row(model, [six, short], 0), _pooled_row(model, [nine, short], 0), atol=1e-5)
    assert not same  # pooled by 5: the last padding position, another for each width
    notes = pad_classifier(model, 0, "sequence-classification")
    assert notes and notes[0].startswith("sequence classifier: config.json's pad_token_id 5 is not the tokenizer's")
    assert model.config.pad_token_id == 0 and classifier_pad_kwargs(model) == {"pad_token_id": 0}
    assert torch.allclose(_pooled_row(model, [six, short], 0), _pooled_row(model, [nine, short], 0), atol=1e-5)


def test_an_encoder_decoder_that_pools_the_eos_keeps_its_pad_id():
    """T5's classifier pools the EOS (its forward names pad_token_id in its docstring alone): not pooled by the pad
    id, so lorplan train leaves config.json's alone and classifier_config.json carries none. Meta device."""
    import torch
    import transformers

    from lorplan.core.model.pooling import pools_by_pad
    from lorplan.train.model import classifier_pad_kwargs, pad_classifier

    cfg = transformers.T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                pad_token_id=5)
    with torch.device("meta"):
        model = transformers.T5ForSequenceClassification(cfg)
    assert not pools_by_pad(model)
    assert pad_classifier(model, 0, "sequence-classification") == [] and model.config.pad_token_id == 5
    assert classifier_pad_kwargs(model) == {}


def test_a_multimodal_models_copied_text_config_is_not_taken_for_its_vision_config():
    """_built_part takes the encoder part for a decoder part the built model does not hold (the encoder-only
    T5Gemma's), and nothing else: a language model holding a copy of its text_config, beside a vision tower holding
    vision_config itself, keeps the text config's sizes (the vision config was the one other part held)."""
    import copy

    import torch
    from transformers import Gemma3Config

    config = Gemma3Config()
    model = torch.nn.Module()
    model.vision, model.text = torch.nn.Module(), torch.nn.Module()
    model.vision.config, model.text.config = config.vision_config, copy.deepcopy(config.text_config)
    text = _fallback_child._text_config(config, model)
    assert text is not None and text["hidden_size"] == config.text_config.hidden_size != \
        config.vision_config.hidden_size
