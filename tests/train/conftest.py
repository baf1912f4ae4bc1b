"""Fixtures for real training on CPU: a tiny random-weight Llama built from a config, saved with the real
all-MiniLM-L6-v2 tokenizer files, and small JSONL data written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_builders import tiny_llama as tiny_llama_folder


def make_tiny_llama(folder: Path, *, hidden: int = 32, layers: int = 2) -> Path:
    return tiny_llama_folder(folder, hidden=hidden, layers=layers)


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
