"""A decoder sequence classifier (LlamaForSequenceClassification, GPT-2's, Gemma 3's...) pools each sequence's last
token that is not its config's pad_token_id (transformers' GenericForSequenceClassification reads
config.get_text_config().pad_token_id, and refuses a batch of more than one without it). lorplan pads its batches
with the tokenizer's pad token (train.data.collate), so the model must pool by that id: a config.json whose
pad_token_id is another one pooled a padding position of every shorter row, silently; a Gemma 3 classifier whose
text config has none was refused at its first step (lorplan set the top-level config's alone). The adapter's
classifier_config.json carries the id it trained with, so a user's batch of several rows pools as lorplan's did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan

pytestmark = pytest.mark.slow

TOKENIZER_PAD = 0  # MiniLM's [PAD], the id lorplan pads with


def _data(path: Path) -> Path:
    words = ["calm", "bright", "rude", "slow", "kind", "loud"]
    rows = [{"text": " ".join(["the", words[i % 6], "shop"] * (1 + i % 3)), "label": i % 2} for i in range(12)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _plan(tmp_path: Path, folder: Path):
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "2", "--micro-batch", "2", "--seq-len", "32",
                 "--data", str(_data(tmp_path / "d.jsonl")), "--write", str(plan)]) == 0
    read = read_plan(plan)
    assert read.model.task == "sequence-classification"
    return read, plan


def _llama_classifier(folder: Path, pad: int | None) -> Path:
    import torch
    from model_builders import copy_tokenizer
    from transformers import LlamaConfig, LlamaForSequenceClassification

    copy_tokenizer(folder)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, num_labels=2,
                      pad_token_id=pad, bos_token_id=101, eos_token_id=102)
    LlamaForSequenceClassification(cfg).save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text()).get("pad_token_id") == pad
    return folder


def _logits(model, rows: list[list[int]], pad: int, side: str):
    """Logits of `rows` padded with `pad` on `side`, positions counted from each row's first token (as generate
    does for left padding), so a row's logits are those it has alone."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        at = slice(0, len(r)) if side == "right" else slice(width - len(r), width)
        ids[i, at], mask[i, at] = torch.tensor(r), 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=positions).logits


def _pools_each_rows_last_token(model, rows, pad: int, side: str) -> bool:
    import torch

    alone = torch.cat([_logits(model, [r], pad, side) for r in rows])
    return torch.allclose(_logits(model, rows, pad, side), alone, atol=1e-5)


@pytest.mark.parametrize("config_pad", [5, None])
def test_the_classifier_pools_by_the_id_its_batches_are_padded_with(tmp_path, config_pad):
    """config.json's pad_token_id 5 (a real token, not the tokenizer's [PAD] 0 the batches are padded with):
    right-padded, the shorter row's logits were those of a padding position; None (GPT-2's config names no pad):
    lorplan trained, but the adapter's classifier_config.json said nothing of a pad, so a user's batch of two was
    refused. Left padding pools the right token either way (transformers takes the rightmost non-pad token)."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from lorplan.train.engine import build_engine
    from lorplan.train.runner import _save_adapter

    folder = _llama_classifier(tmp_path / "llama-cls", config_pad)
    plan, _ = _plan(tmp_path, folder)
    engine = build_engine(plan)
    model = engine.accelerator.unwrap_model(engine.model)
    assert engine.pad_id == TOKENIZER_PAD == model.config.pad_token_id
    changed = [n for n in engine.notes if "pad_token_id" in n]
    if config_pad is None:  # the ordinary case (GPT-2's, Llama 3's config): classifier_config.json carries it, quietly
        assert not changed, engine.notes
    else:
        assert changed == [f"sequence classifier: config.json's pad_token_id 5 is not the tokenizer's pad token: "
                           f"pad_token_id set to {TOKENIZER_PAD}, the one lorplan pads batches with, so the head (it "
                           "pools each row's last token that is not padding) pools no padding position; the adapter's "
                           "classifier_config.json carries it"], engine.notes
    model.eval()
    rows = [list(engine.train_items[0].input_ids), [101, 2023, 102]]
    assert len(rows[0]) > len(rows[1])
    for side in ("right", "left"):
        assert _pools_each_rows_last_token(model, rows, TOKENIZER_PAD, side), side
    if config_pad is not None:  # what lorplan trained before: the config's pad id, batches padded with another
        model.config.pad_token_id = config_pad
        assert not _pools_each_rows_last_token(model, rows, TOKENIZER_PAD, "right")
        assert _pools_each_rows_last_token(model, rows, TOKENIZER_PAD, "left")
        model.config.pad_token_id = TOKENIZER_PAD

    adapter = tmp_path / "adapter"
    _save_adapter(engine.model, engine.tokenizer, adapter, None, engine)
    head = json.loads((adapter / "classifier_config.json").read_text())
    assert head["pad_token_id"] == TOKENIZER_PAD
    loaded = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(folder, **head),
                                       str(adapter)).eval()
    assert loaded.config.pad_token_id == TOKENIZER_PAD
    for side in ("right", "left"):
        assert _pools_each_rows_last_token(loaded, rows, TOKENIZER_PAD, side), side
        assert _logits(loaded, rows, TOKENIZER_PAD, side).allclose(_logits(model, rows, TOKENIZER_PAD, side))


def _gemma3_classifier(folder: Path) -> Path:
    """Gemma3ForSequenceClassification (a Gemma 3 multimodal classifier: SigLIP tower and Gemma 3 text model), its
    text config's pad_token_id null, random weights, MiniLM's tokenizer files."""
    import torch
    import transformers
    from model_builders import copy_tokenizer

    cfg = transformers.Gemma3Config(
        text_config=dict(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=128,
                         sliding_window=16, pad_token_id=None, bos_token_id=101, eos_token_id=102),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=28, patch_size=14, vision_use_head=False),
        mm_tokens_per_image=4, image_token_index=30521, boi_token_index=30520, eoi_token_index=30519,
        eos_token_id=102, num_labels=2)
    torch.manual_seed(0)
    transformers.Gemma3ForSequenceClassification(cfg).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["Gemma3ForSequenceClassification"]
    assert config["text_config"]["pad_token_id"] is None and "pad_token_id" not in config
    return copy_tokenizer(folder)


def test_a_gemma3_classifier_without_a_text_pad_token_trains_in_batches(tmp_path, capsys):
    """`lorplan train` of it ended at its first step in transformers' "Cannot handle batch sizes > 1 if no padding
    token is defined": lorplan set model.config.pad_token_id, which Gemma 3's classifier does not read (its text
    config's). Its classifier_config.json cannot carry the id (Gemma3Config takes no pad_token_id argument:
    from_pretrained passes it to the model's __init__, a TypeError), so the note says where to set it."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    folder = _gemma3_classifier(tmp_path / "gemma3-cls")
    _, plan = _plan(tmp_path, folder)
    out = tmp_path / "out"
    assert main(["train", str(plan), "--max-steps", "1", "--no-progress", "--output", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    note = next(n for n in result["notes"] if "pad_token_id" in n)
    assert "text config" in note and "get_text_config().pad_token_id" in note, note
    assert f"note: {note}" in capsys.readouterr().err
    head = json.loads((out / "adapter" / "classifier_config.json").read_text())
    assert "pad_token_id" not in head
    loaded = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(folder, **head),
                                       str(out / "adapter")).eval()
    loaded.config.get_text_config().pad_token_id = TOKENIZER_PAD  # as the note says
    assert _pools_each_rows_last_token(loaded, [[101, 2023, 2003, 102], [101, 102]], TOKENIZER_PAD, "right")


def test_an_encoder_classifier_keeps_its_config_pad_token_id(tmp_path):
    """An encoder pools its first token and reads no pad id in its forward; RoBERTa's embeddings count positions from
    the pad id the model was built with (config.json's 1 here; the batches are padded with MiniLM's [PAD] 0).
    lorplan set the config's pad_token_id to 0 with a note about a decoder's pooling, and wrote it into
    classifier_config.json: the base built with it counted positions from 0, and the loaded adapter's logits were
    not those lorplan trained. The config and classifier_config.json now keep the checkpoint's own, without a note."""
    import torch
    from model_builders import copy_tokenizer
    from peft import PeftModel
    from transformers import (
        AutoModelForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    from lorplan.train.data import collate
    from lorplan.train.engine import build_engine
    from lorplan.train.runner import _save_adapter

    folder = copy_tokenizer(tmp_path / "roberta-cls")
    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=130, num_labels=2)
    RobertaForSequenceClassification(cfg).save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["pad_token_id"] == 1 != TOKENIZER_PAD
    plan, _ = _plan(tmp_path, folder)
    engine = build_engine(plan)
    model = engine.accelerator.unwrap_model(engine.model).eval()
    assert engine.pad_id == TOKENIZER_PAD and model.config.pad_token_id == 1
    assert not [n for n in engine.notes if "pad_token_id" in n], engine.notes

    adapter = tmp_path / "adapter"
    _save_adapter(engine.model, engine.tokenizer, adapter, None, engine)
    head = json.loads((adapter / "classifier_config.json").read_text())
    assert "pad_token_id" not in head
    loaded = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(folder, **head),
                                       str(adapter)).eval()
    batch = collate(engine.train_items[:2], TOKENIZER_PAD)
    del batch["labels"]
    with torch.no_grad():
        assert torch.allclose(loaded(**batch).logits, model(**batch).logits, atol=1e-6)


@pytest.mark.parametrize("model_type, pools", [
    ("llama", True), ("gpt2", True), ("gemma3", True), ("ctrl", True), ("qwen2", True),
    ("t5gemma", True), ("t5gemma2", True),
    ("bert", False), ("roberta", False), ("deberta-v2", False), ("bart", False), ("t5", False)])
def test_which_classifiers_pool_by_the_pad_id(model_type, pools):
    """Decoders pool each row's last non-pad token, and the encoder-decoder T5Gemma and T5Gemma 2 their decoder
    position after it (lorplan sets and carries their pad id; it prices them as encoders: pools_last_token false);
    encoders pool their first token and BART's and T5's the EOS (theirs is left as config.json has it). Built on
    the meta device, 1 layer."""
    import torch
    import transformers

    from lorplan.core.model.pooling import pools_by_pad, pools_last_token

    cfg = transformers.AutoConfig.for_model(model_type)
    for config in (cfg, *(getattr(cfg, k) for k in ("text_config", "vision_config") if hasattr(cfg, k))):
        for key in ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers", "decoder_layers",
                    "num_decoder_layers"):
            if hasattr(config, key):
                setattr(config, key, 1)
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(cfg)
    assert pools_by_pad(model) is pools
    assert pools_last_token(model) is (pools and not model.config.is_encoder_decoder)
