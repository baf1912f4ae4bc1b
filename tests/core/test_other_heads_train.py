"""`lorplan train` of a model whose config.json names a head lorplan does not train (a token classifier, a
question-answering model): it loaded the checkpoint as the causal LM the plan priced (AutoModelForCausalLM), with
the lm_head the checkpoint lacks left at random and frozen and its own head dropped, and trained that other model.
Now it refuses in one line naming the plan's key, the class and why, before the model is loaded. Nothing is built:
the folder's weight and tokenizer files are placeholders (the refusal comes before they are read)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan, write_plan
from lorplan.core.vocab import Task

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}


def _folder(tmp_path: Path, architectures: list[str], name: str = "tagger") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer.json").write_text("{}")
    return folder


def _plan(tmp_path: Path, model: Path, task: Task = Task.CAUSAL_LM) -> Path:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Q{i}?", "completion": f" A{i}.", "label": i % 2}) + "\n"
                            for i in range(8)))
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    model_section = replace(plan.model, id=None, path=str(model), task=task,
                            num_labels=2 if task == Task.SEQUENCE_CLASSIFICATION else None)
    plan = replace(plan, model=model_section, data=replace(plan.data, path=str(data)),
                   training=replace(plan.training, seq_len=64, output_dir=str(tmp_path / "out")))
    path = tmp_path / "plan.toml"
    write_plan(plan, path)
    return path


@pytest.mark.parametrize(("named", "words"), [
    ("LlamaForTokenClassification", "a token-classification model"),
    ("LlamaForQuestionAnswering", "a question-answering model"),
])
def test_train_refuses_a_head_it_does_not_train(tmp_path, capsys, monkeypatch, named, words):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _folder(tmp_path, [named])
    plan = _plan(tmp_path, folder)
    rc = main(["train", str(plan)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"lorplan train: error: {plan}: model.path {folder}: config.json names {named}, {words} transformers builds "
                             "with AutoModelFor"), err[0]
    assert "lorplan trains causal language models and sequence classifiers" in err[0]
    assert not (tmp_path / "out").exists()


def test_train_refuses_it_as_a_sequence_classifier_too(tmp_path, capsys, monkeypatch):
    """A classifier plan of it (lorplan plan writes a classifier of a decoder for data with labels) would train
    LlamaForSequenceClassification from the token classifier's checkpoint: another model as well."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    rc = main(["train", str(_plan(tmp_path, folder, Task.SEQUENCE_CLASSIFICATION))])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "config.json names LlamaForTokenClassification" in err[0], err


def test_plan_says_which_head_it_priced(tmp_path, capsys):
    """lorplan plan prices the causal LM (as the fallback does) and says the class named is not what it planned,
    and that lorplan train refuses it."""
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    assert main(["plan", "--model", str(folder), "--rank", "8"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(LlamaForCausalLM," in out
    assert "config.json names LlamaForTokenClassification, a token-classification model transformers builds with " \
           "AutoModelForTokenClassification" in out
    assert "this plan is of LlamaForCausalLM; lorplan train, export, recommend and the probes refuse this checkpoint" in out
