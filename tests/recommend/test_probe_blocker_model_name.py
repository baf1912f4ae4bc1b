"""probe_blocker names a model too large for the CPU by its short name (lorplan.core.model.names.model_name, as
the evidence and the planner name it): it printed a folder's absolute path, which for a Hugging Face cache
snapshot is .../models--ORG--NAME/snapshots/<40 hex digits>. A folder it cannot probe because files are missing
keeps the full path: that is what the user has to go and fix."""

from __future__ import annotations

import json

from lorplan.core.model import load_spec, resolve_model
from lorplan.recommend import launch

LLAMA_7B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
            "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 32, "vocab_size": 32000, "max_position_embeddings": 4096,
            "tie_word_embeddings": False}


def _folder(path, *files):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(LLAMA_7B))
    for name in files:
        (path / name).write_text("{}")
    return path


def _blocker(folder, monkeypatch):
    monkeypatch.setattr("lorplan.probe.backend.visible_gpus", lambda: [])
    source = resolve_model(str(folder))
    return launch.probe_blocker(load_spec(source), source)


def test_a_large_folder_is_named_by_its_name(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "big-llama", "model.safetensors", "tokenizer.json")
    blocked = _blocker(folder, monkeypatch)
    assert blocked.reason.startswith("big-llama has 6.7B parameters and no GPU is visible")
    assert str(tmp_path) not in blocked.reason and not blocked.not_on_disk


def test_a_cache_snapshot_is_named_by_its_hub_id(tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--acme--llama-7b" / "snapshots" / ("0" * 40)
    blocked = _blocker(_folder(snapshot, "model.safetensors", "tokenizer.json"), monkeypatch)
    assert blocked.reason.startswith("acme/llama-7b has 6.7B parameters")


def test_a_folder_without_weights_keeps_its_full_path(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "big-llama", "tokenizer.json")
    blocked = _blocker(folder, monkeypatch)
    assert blocked.not_on_disk and str(folder) in blocked.reason
