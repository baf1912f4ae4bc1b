"""Probe test fixtures (state_home, the private runs folder with its teardown, is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_builders import tiny_llama as tiny_llama_folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer Llama (hidden 64, context 128) built from a config (random weights) with MiniLM's tokenizer."""
    return tiny_llama_folder(tmp_path_factory.mktemp("tiny-llama"), hidden=64, context=128, tied=False,
                             special_ids=False)
