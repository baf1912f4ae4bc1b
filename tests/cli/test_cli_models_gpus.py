"""`lorplan models` and `lorplan gpus`."""

from __future__ import annotations

import json
import subprocess
import sys

from lorplan.cli import main
from lorplan.core.model import catalog


def test_models_json_lists_catalog(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert main(["models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ids = [m["id"] for m in out["models"]]
    assert ids == [e.id for e in catalog.ENTRIES]
    gpt2 = next(m for m in out["models"] if m["id"] == "openai-community/gpt2")
    assert gpt2["total_params"] == 124_439_808 and gpt2["family"] == "gpt2"
    assert out["cached"] == []


def test_models_search_and_table(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert main(["models", "--search", "gemma 3"]) == 0
    text = capsys.readouterr().out
    assert "google/gemma-3-27b-it" in text and "Qwen" not in text
    assert main(["models", "--search", "zzz-nothing"]) == 0
    assert "no model matches" in capsys.readouterr().out


def test_models_shows_cached_hub_ids(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] == ["acme/tiny"]


def test_models_search_matching_only_the_cache_prints_only_the_cache(capsys, tmp_path, monkeypatch):
    """A search only a cached model matches prints the cache section alone: no catalog header over no rows."""
    hub = tmp_path / "hub-cache"
    snap = hub / "models--acme--zebrafish-tiny" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    assert main(["models", "--search", "zebrafish"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"in your Hugging Face cache ({hub}):", "  acme/zebrafish-tiny"]
    assert main(["models", "--search", "gpt2"]) == 0  # the catalog matches: its table, no empty cache section
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["model", "family"] and "openai-community/gpt2" in lines[1]
    assert not any("Hugging Face cache" in line for line in lines)


def test_models_search_reads_a_size_word_as_a_whole_size_in_cached_ids_too(capsys, tmp_path, monkeypatch):
    """'qwen 7b' listed a cached Qwen3-1.7B ('7b' the end of '1.7b'); the catalog's rows read it the same way."""
    hub = tmp_path / "hub-cache"
    for folder in ("models--acme--Qwen3-1.7B-chat", "models--acme--qwen-7b-chat"):
        (hub / folder / "snapshots" / "abc").mkdir(parents=True)
        (hub / folder / "snapshots" / "abc" / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    assert main(["models", "--search", "qwen 7b", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in out["models"]] == ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"]
    assert out["cached"] == ["acme/qwen-7b-chat"]


def test_models_search_finds_a_mixtral_and_a_bloom_by_their_7b_and_no_1_8b_by_8b(capsys, tmp_path, monkeypatch):
    """'7b' stopped listing Mixtral-8x7B (8 experts of 7B) once a size word had to be a whole size; a cached
    bigscience/bloom-7b1 (7.1B, 'BLOOM 7B') is found by 7b as well, and InternLM's 1_8b (1.8B) is no 8B model."""
    hub = tmp_path / "hub-cache"
    for folder in ("models--bigscience--bloom-7b1", "models--bigscience--bloom-560m",
                   "models--internlm--internlm2-chat-1_8b", "models--mistralai--Mixtral-8x22B-v0.1"):
        (hub / folder / "snapshots" / "abc").mkdir(parents=True)
        (hub / folder / "snapshots" / "abc" / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    found = {}
    for text in ("7b", "mixtral 7b", "8b", "1.8b", "22b", "560m"):
        assert main(["models", "--search", text, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        found[text] = [m["id"] for m in out["models"]], out["cached"]
    assert "mistralai/Mixtral-8x7B-v0.1" in found["7b"][0] and found["7b"][1] == ["bigscience/bloom-7b1"]
    assert found["mixtral 7b"] == (["mistralai/Mixtral-8x7B-v0.1"], [])
    assert "internlm/internlm2-chat-1_8b" not in found["8b"][1] and found["1.8b"] == ([], ["internlm/internlm2-chat-1_8b"])
    assert found["22b"] == ([], ["mistralai/Mixtral-8x22B-v0.1"]) and found["560m"] == ([], ["bigscience/bloom-560m"])


def test_gpus_without_driver_one_line_exit_0():
    proc = subprocess.run([sys.executable, "-m", "lorplan", "gpus"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    from lorplan.core.gpu import list_gpus

    if list_gpus()[0]:
        assert proc.stdout.startswith("[0]")
    else:
        assert len(proc.stdout.strip().splitlines()) == 1 and proc.stdout.startswith("no GPU:")


def test_gpus_json_and_presets(capsys):
    assert main(["gpus", "--json", "--presets"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out["gpus"], list) and out["presets"]["H100-80GB"] == 81559 * 1024**2
    assert (out["reason"] is None) == bool(out["gpus"])
