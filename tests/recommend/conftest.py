"""Fixtures for real probe ladders on CPU: tiny models built from a config with random weights (saved with the
real all-MiniLM-L6-v2 tokenizer files), small data files (state_home, the private runs folder with its teardown, is in
tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_builders import copy_tokenizer
from model_builders import tiny_llama as tiny_llama_folder

GOOD = ("wonderful", "excellent", "lovely", "great", "superb", "pleasant", "charming", "brilliant")
BAD = ("terrible", "awful", "boring", "horrible", "dull", "rude", "noisy", "sloppy")
THINGS = ("the film", "the hotel", "the meal", "the book", "the staff", "the trip", "the show", "the room")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer Llama (hidden 32) from a config, random weights."""
    return tiny_llama_folder(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT sequence classifier (hidden 32, two labels) from a config, random weights."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    copy_tokenizer(folder)
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


@pytest.fixture
def planner_ladder_inputs(tiny_llama, lm_data):
    """What the planner's Recommend tab builds a ladder from (recommend_bridge): the Plan tab's snapshot of
    tiny_llama (q_proj and v_proj, seq len 64, rank 8) and the Data tab's profile of lm_data (completion, eval
    split 0.1)."""
    from lorplan.tui import bridge
    from lorplan.tui.state import PlanData, PlanSnapshot

    spec = bridge.load_spec(str(tiny_llama))
    setup = bridge.training_setup(targets=("q_proj", "v_proj"), dora=False, seq_len=64)
    snapshot = PlanSnapshot(str(tiny_llama), spec, setup, 8, bridge.rank_table(spec, setup, None))
    profile = bridge.profile_dataset(str(lm_data), model=str(tiny_llama), schema=None, seq_len=64, mask=True,
                                     progress=lambda *args: None)
    data = PlanData(path=str(lm_data), schema=profile.schema, train_on="completion", eval_split=0.1,
                    profile=profile)
    return snapshot, data
