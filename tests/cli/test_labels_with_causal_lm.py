"""A labelled dataset (a `label` column) planned for a causal LM: the plan trains on the text as language modelling
and never reads the labels, and no command said so. `lorplan plan --write --data`, `lorplan recommend --data` (its
--json as `data` evidence), `lorplan profile --model`, `lorplan train` and the planner's Data tab now say it in one
line (core.data.labels.labels_unused_note); never for a classifier, nor for data without labels. Catalog models
(no weights, no fallback build) and a config.json folder for train's start checks: nothing imports torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main

LLAMA = "meta-llama/Llama-3.2-1B"
BERT = "google-bert/bert-base-uncased"


def _note(what: str, model: str = LLAMA, classes: str = "2 classes: 0, 1") -> str:
    return (f"{what} has a label column ({classes}); {model} is a causal LM, so a plan for it trains on the text as "
            "language modelling and never sees the labels: lorplan plans sequence classification for BERT-style "
            "encoders (e.g. sentence-transformers/all-MiniLM-L6-v2); to teach a causal LM the labels, write each "
            "row as a prompt/completion pair (prompt = the text, completion = the label's word)")


@pytest.fixture
def labelled(tmp_path) -> Path:
    path = tmp_path / "sentiment.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i} was {'good' if i % 2 else 'bad'}", "label": i % 2}) + "\n"
                            for i in range(40)))
    return path


@pytest.fixture
def unlabelled(tmp_path) -> Path:
    path = tmp_path / "text.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i} says something"}) + "\n" for i in range(40)))
    return path


def _err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_plan_write_says_the_labels_go_unused(labelled, tmp_path, capsys):
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", LLAMA, "--rank", "8", "--data", str(labelled), "--write", str(plan)]) == 0
    assert f"note: {_note(f'--data {labelled}')}" in _err_lines(capsys)
    assert 'task = "causal-lm"' in plan.read_text()


def test_plan_write_says_nothing_for_a_classifier_or_for_text_alone(labelled, unlabelled, tmp_path, capsys):
    assert main(["plan", "--model", BERT, "--rank", "8", "--data", str(labelled), "--write",
                 str(tmp_path / "c.toml")]) == 0
    assert main(["plan", "--model", LLAMA, "--rank", "8", "--data", str(unlabelled), "--write",
                 str(tmp_path / "t.toml")]) == 0
    assert "has a label column" not in capsys.readouterr().err


def test_recommend_says_it_and_its_json_carries_it_as_data_evidence(labelled, unlabelled, capsys):
    assert main(["recommend", "--model", LLAMA, "--data", str(labelled), "--probes", "none"]) == 0
    assert f"note: {_note(f'--data {labelled}')}" in _err_lines(capsys)
    assert main(["recommend", "--model", LLAMA, "--data", str(labelled), "--probes", "none", "--json"]) == 0
    got = capsys.readouterr()
    evidence = json.loads(got.out)["evidence"]
    assert {"source": "data", "rank": None, "explanation": _note(f"--data {labelled}")} in evidence
    assert f"note: {_note(f'--data {labelled}')}" in got.err.splitlines()
    assert main(["recommend", "--model", LLAMA, "--data", str(unlabelled), "--probes", "none", "--json"]) == 0
    got = capsys.readouterr()
    assert "has a label column" not in got.err + got.out


def test_profile_with_a_causal_lm_says_it_and_without_a_model_or_with_a_classifier_not(labelled, capsys):
    assert main(["profile", "--data", str(labelled), "--model", LLAMA]) == 0
    assert f"note: {_note(f'--data {labelled}')}" in capsys.readouterr().out.splitlines()
    assert main(["profile", "--data", str(labelled)]) == 0
    assert main(["profile", "--data", str(labelled), "--model", BERT]) == 0
    assert "has a label column" not in capsys.readouterr().out


def test_named_labels_are_listed_in_order_and_many_counted(tmp_path, capsys):
    data = tmp_path / "topics.jsonl"
    names = ["sport", "art", "law", "food", "war", "sea", "sky", "tax"]
    data.write_text("".join(json.dumps({"text": f"row {i}", "label": names[i % 8]}) + "\n" for i in range(40)))
    assert main(["profile", "--data", str(data), "--model", LLAMA]) == 0
    classes = "8 classes: 'art', 'food', 'law', 'sea', 'sky', 'sport', ... 2 more"
    assert f"note: {_note(f'--data {data}', classes=classes)}" in capsys.readouterr().out.splitlines()


def test_train_says_it_before_it_trains(labelled, tmp_path):
    """check_inputs, train's start checks (before torch): a Llama config.json folder with the shipped tokenizer
    and a placeholder weights file (nothing loads it)."""
    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan
    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(tmp_path / "llama")
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 30522, "hidden_size": 32,
        "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 128}))
    (folder / "model.safetensors").write_bytes(b"")
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "2", "--seq-len", "64", "--data", str(labelled),
                 "--write", str(plan)]) == 0
    _, notes = check_inputs(read_plan(plan), str(plan), str(tmp_path / "out"), False)
    assert f"note: {_note(f'{plan}: data.path {labelled}', model=str(folder))}" in notes, notes


def test_the_data_tab_says_it_for_a_causal_lm_alone(labelled):
    from lorplan.core.data import profile_dataset
    from lorplan.tui.panels.data_panel import figures_text

    profile = profile_dataset(labelled, model=LLAMA)
    lines = figures_text(profile, model=LLAMA).splitlines()
    assert f"note: {_note(str(labelled))}" in lines  # the panel's data file, named by its path
    narrow = figures_text(profile, narrow=True, model=LLAMA)  # under 110 columns: on the labels line
    assert "labels     2 classes: 0 → 20 · 1 → 20 (ignored by a causal LM)" in narrow.splitlines()
    assert "has a label column" not in narrow
    assert "has a label column" not in figures_text(profile, model=LLAMA, classifier=True)
    assert "ignored by a causal LM" not in figures_text(profile, narrow=True, model=LLAMA, classifier=True)
    assert "has a label column" not in figures_text(profile)  # no model chosen yet
