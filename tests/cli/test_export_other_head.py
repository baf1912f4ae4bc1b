"""`lorplan export` of a plan whose model's config.json names a head lorplan does not train (a token classifier, a
question-answering model): it wrote TRL, axolotl, LLaMA-Factory, Unsloth, peft and accelerate configs that train the
causal LM (or sequence classifier) the plan priced from that checkpoint, another model than the one it holds, which
lorplan train refuses. Now it refuses, in lorplan train's one line (core.model.head.other_head_refusal) naming the
plan's key, with exit 2 and nothing written. Fast path only: no child is started, no torch imported."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.export import FORMATS
from lorplan.core.plan import read_plan, write_plan
from lorplan.core.vocab import Task

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}


def _plan(tmp_path: Path, architectures: list[str], task: Task = Task.CAUSAL_LM) -> tuple[Path, Path]:
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Q{i}?", "completion": f" A{i}.", "label": i % 2}) + "\n"
                            for i in range(8)))
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    model = replace(plan.model, id=None, path=str(folder), task=task,
                    num_labels=2 if task == Task.SEQUENCE_CLASSIFICATION else None)
    plan = replace(plan, model=model, data=replace(plan.data, path=str(data)),
                   training=replace(plan.training, seq_len=64, output_dir=str(tmp_path / "out")))
    path = tmp_path / "plan.toml"
    write_plan(plan, path)
    return path, folder


@pytest.mark.parametrize("fmt", [*FORMATS, ",".join(FORMATS)])
def test_export_refuses_a_head_lorplan_does_not_train(tmp_path, capsys, fmt):
    plan, folder = _plan(tmp_path, ["LlamaForTokenClassification"])
    out = tmp_path / "exports"
    out.mkdir()
    rc = main(["export", str(plan), "--to", fmt, "-o", str(out / "x") if "," not in fmt else str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"lorplan export: error: {plan}: model.path {folder}: config.json names "
                             "LlamaForTokenClassification, a token-classification model transformers builds with "
                             "AutoModelForTokenClassification, a head lorplan does not train"), err[0]
    assert list(out.iterdir()) == []


def test_export_refuses_a_classifier_plan_of_it_too(tmp_path, capsys):
    """Its classifier plan would train LlamaForSequenceClassification from the question-answering checkpoint."""
    plan, _ = _plan(tmp_path, ["LlamaForQuestionAnswering"], Task.SEQUENCE_CLASSIFICATION)
    rc = main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "config.json names LlamaForQuestionAnswering, a question-answering" in err[0]
    assert not (tmp_path / "peft").exists()


def test_export_of_its_causal_lm_is_made(tmp_path, capsys):
    """The same folder naming its causal LM first exports as before (the refusal reads the head named, not the
    model type)."""
    plan, _ = _plan(tmp_path, ["LlamaForCausalLM", "LlamaForTokenClassification"])
    assert main(["export", str(plan), "--to", "trl", "-o", str(tmp_path / "trl.yaml")]) == 0
    assert (tmp_path / "trl.yaml").is_file()
