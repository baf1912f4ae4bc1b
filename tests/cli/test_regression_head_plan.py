"""A sequence classifier whose head has one output (a regression or score head: a cross-encoder's config.json says
"num_labels": 1, or names one label): lorplan trains class labels, so a written plan trains a new class head of 2
outputs, or as many as --data's labels need, and prices that head, says so in one line, and refuses float labels
saying it plans no regression. Config folders only: nothing is downloaded, no torch."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from lorplan.cli import main
from lorplan.core.model import load_spec
from lorplan.core.model.head import head_labels, trained_labels
from lorplan.core.plan import read_plan
from lorplan.core.plan.build import priced_anew

BERT = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "max_position_embeddings": 128, "type_vocab_size": 2}
# transformers writes num_labels as id2label (a cross-encoder's config.json); a hand-written one says num_labels
ONE_OUTPUT = {"id2label": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}, "num_labels": {"num_labels": 1}}


def _folder(tmp_path, **config):
    folder = tmp_path / "cross-encoder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**BERT, **config}))
    return folder


def _rows(path, labels):
    path.write_text("".join(json.dumps({"text": f"query {i} passage", "label": v}) + "\n"
                            for i, v in enumerate(labels)))
    return path


def _agrees(plan, folder) -> None:
    """The plan's [estimate] is what its own head prices anew (the head lorplan train builds)."""
    anew = priced_anew(plan, load_spec(str(folder)))
    for f in fields(anew):
        assert getattr(plan.estimate, f.name) == getattr(anew, f.name), f.name


@pytest.mark.parametrize("spelling", sorted(ONE_OUTPUT))
def test_plan_without_data_prices_and_says_the_new_head(tmp_path, capsys, monkeypatch, spelling):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, path = _folder(tmp_path, **ONE_OUTPUT[spelling]), tmp_path / "p.toml"
    assert head_labels(load_spec(str(folder))) == 1 and trained_labels(load_spec(str(folder))) == 2
    assert main(["plan", "--model", str(folder), "--rank", "8", "--write", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    plan = read_plan(path)
    assert plan.model.num_labels == 2
    _agrees(plan, folder)  # the estimate was of the 1-output head: 33 fewer parameters than the 2-class head
    (row,) = json.loads(out)["rows"]  # the table printed is the plan written
    assert row["trainable_params"] == plan.estimate.trainable_params
    assert row["memory"]["total"] == plan.estimate.total_bytes
    (note,) = [line for line in err.splitlines() if "1 output" in line]
    assert note == (f"note: --model {folder}: its classifier head has 1 output, a regression or score head (a "
                    "cross-encoder's, say); lorplan trains class labels, no regression, so the plan prices and "
                    "trains a new 2-class head in its place (--data gives it as many classes as its labels need)")


def test_plan_with_class_labels_prices_their_head_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, path = _folder(tmp_path, num_labels=1), tmp_path / "p.toml"
    data = _rows(tmp_path / "d.jsonl", [0, 1, 2] * 20)
    assert main(["plan", "--model", str(folder), "--rank", "8", "--write", str(path), "--data", str(data)]) == 0
    err = capsys.readouterr().err
    plan = read_plan(path)
    assert plan.model.num_labels == 3
    _agrees(plan, folder)
    assert (f"note: --model {folder}: its classifier head has 1 output, a regression or score head (a "
            "cross-encoder's, say); lorplan trains class labels, no regression, so the plan prices and trains a "
            f"new 3-class head for --data {data}'s labels in its place") in err.splitlines()


def test_float_labels_refused_naming_the_regression_head(tmp_path, capsys, monkeypatch):
    """The model named as typed, as the note names it (its spec's id, the absolute path, before)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _folder(tmp_path, num_labels=1)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "p.toml"
    data = _rows(tmp_path / "scores.jsonl", [0.25, 0.9, 0.0] * 20)
    assert main(["plan", "--model", "./cross-encoder", "--rank", "8", "--write", str(path), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and not path.exists()
    assert f"--data {data}: 40 rows have a label that is no class label, the first line 1: label 0.25" in err
    assert err.rstrip().endswith("; --model ./cross-encoder: its classifier head has 1 output, a regression or score "
                                 "head (a cross-encoder's, say), and lorplan trains class labels, no regression")


def test_a_class_head_keeps_its_outputs_and_says_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, path = _folder(tmp_path, num_labels=3), tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "8", "--write", str(path)]) == 0
    assert "1 output" not in capsys.readouterr().err
    plan = read_plan(path)
    assert plan.model.num_labels == 3
    _agrees(plan, folder)


def test_train_says_the_checkpoint_head_it_replaces(tmp_path, monkeypatch):
    """lorplan train's load report (transformers' mismatched keys) for the plan above, on the cross-encoder's
    checkpoint: the 1-output head it replaces, named as one."""
    from lorplan.train.model import load_notes

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, path = _folder(tmp_path, num_labels=1), tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "8", "--write", str(path)]) == 0
    info = {"mismatched_keys": [("classifier.weight", (1, 32), (2, 32)), ("classifier.bias", (1,), (2,))]}
    (note,) = load_notes(read_plan(path), info, ("classifier",))
    assert note == ("classifier head (classifier.weight, classifier.bias): new (the checkpoint's has 1 output, a "
                    "regression or score head; the plan's num_labels is 2), trained from scratch with the adapter "
                    "(modules_to_save)")
