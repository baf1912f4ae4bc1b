"""Hub ids resolved from a real Hugging Face cache layout built in tmp_path."""

from __future__ import annotations

import json
import os

from lorplan.core.model import hfcache, load_spec

CFG = {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": True}


def make_cache(root, hub_id, cfg, commits=("aaaa", "bbbb"), ref="bbbb"):
    repo = root / ("models--" + hub_id.replace("/", "--"))
    for c in commits:
        snap = repo / "snapshots" / c
        snap.mkdir(parents=True)
        (snap / "config.json").write_text(json.dumps({**cfg, "num_hidden_layers": 2 if c == ref else 5}))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(ref)
    return repo


def test_hf_home_layout_and_refs_main(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    make_cache(tmp_path / "hf" / "hub", "acme/tiny-qwen", CFG)
    assert hfcache.hub_cache_dir() == tmp_path / "hf" / "hub"
    path = hfcache.find_config("acme/tiny-qwen")
    assert path is not None and path.parent.name == "bbbb"
    spec = load_spec("acme/tiny-qwen")
    assert spec.source == "cache" and spec.id == "acme/tiny-qwen" and spec.num_layers == 2
    assert hfcache.cached_models() == ["acme/tiny-qwen"]


def test_hf_hub_cache_wins_and_newest_snapshot_without_ref(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = make_cache(tmp_path / "hub", "acme/m", CFG, ref="zzzz")  # ref points at a missing snapshot
    old, new = repo / "snapshots" / "aaaa" / "config.json", repo / "snapshots" / "bbbb" / "config.json"
    os.utime(old, (1, 1))
    assert hfcache.find_config("acme/m") == new


def test_default_layout_under_xdg_cache(tmp_path, monkeypatch):
    for var in ("HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hfcache.hub_cache_dir() == tmp_path / "huggingface" / "hub"
    assert hfcache.find_config("acme/absent") is None
    assert hfcache.cached_models() == []


def test_tokenizer_snapshot_skips_snapshots_without_tokenizer_files(tmp_path, monkeypatch):
    # refs/main names a snapshot holding only config.json: the tokenizer comes from the other snapshot.
    from lorplan.core.data.tokenizer import cached_snapshot

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = make_cache(tmp_path / "hub", "acme/tok", CFG)
    (repo / "snapshots" / "aaaa" / "tokenizer.json").write_text("{}")
    assert cached_snapshot("acme/tok") == repo / "snapshots" / "aaaa"
    assert hfcache.find_config("acme/tok").parent.name == "bbbb"
    assert cached_snapshot("acme/absent") is None
    assert hfcache.find_snapshot("not/a/valid/id", ("config.json",)) is None
