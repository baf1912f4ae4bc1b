"""`lorplan recommend` on a sequence classifier whose head has one output (a regression or score head: a
cross-encoder's "num_labels": 1): without --data it took the config's 1 as the number of classes and failed with
"--num-labels: 1 must be at least 2", a flag nobody typed. It now recommends for, prices and writes the head a
plan trains (core.model.head.trained_labels: a new 2-class head, --num-labels' or what --data's labels need), says
so in one note as `lorplan plan --write` does, and names the head when it refuses float labels. Config folders
only: nothing is downloaded, no probes run."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from lorplan.cli import main
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.core.plan.build import priced_anew

BERT = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "max_position_embeddings": 128, "type_vocab_size": 2}
NOTE = ("note: --model {folder}: its classifier head has 1 output, a regression or score head (a cross-encoder's, "
        "say); lorplan trains class labels, no regression, so the plan prices and trains a new {n}-class head {why}")


def _folder(tmp_path, **config):
    folder = tmp_path / "cross-encoder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**BERT, **config}))
    return folder


def _recommend(capsys, folder, *argv):
    try:
        rc = main(["recommend", "--model", str(folder), *argv])
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(autouse=True)
def _offline(monkeypatch, state_home):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_a_size_alone_recommends_for_the_new_2_class_head(tmp_path, capsys):
    folder, path = _folder(tmp_path, num_labels=1), tmp_path / "p.toml"
    rc, out, err = _recommend(capsys, folder, "--examples", "1000", "--write", str(path), "--json")
    assert rc == 0, err
    assert "--num-labels" not in err
    assert NOTE.format(folder=folder, n=2, why="in its place (--data gives it as many classes as its labels "
                       "need)") in err.splitlines()
    plan = read_plan(path)
    assert plan.model.num_labels == 2
    anew = priced_anew(plan, load_spec(str(folder)))  # the estimate is of the head lorplan train builds
    for f in fields(anew):
        assert getattr(plan.estimate, f.name) == getattr(anew, f.name), f.name
    rec = json.loads(out)
    assert rec["capacity"]["label_bits"] == 1000.0  # 1,000 examples × log2(2 labels)
    assert (rec["rank"], rec["fits"]["total_bytes"]) == (plan.lora.r, plan.estimate.total_bytes)


def test_num_labels_sets_the_new_head_and_the_note_names_it(tmp_path, capsys):
    folder, path = _folder(tmp_path, id2label={"0": "score"}), tmp_path / "p.toml"
    rc, _, err = _recommend(capsys, folder, "--examples", "1000", "--num-labels", "4", "--write", str(path))
    assert rc == 0, err
    assert NOTE.format(folder=folder, n=4, why="(--num-labels 4) in its place") in err.splitlines()
    assert read_plan(path).model.num_labels == 4


def test_class_labels_set_the_new_head(tmp_path, capsys):
    folder = _folder(tmp_path, num_labels=1)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i} passage", "label": i % 3}) + "\n" for i in range(60)))
    rc, _, err = _recommend(capsys, folder, "--data", str(data), "--probes", "none")
    assert rc == 0, err
    assert NOTE.format(folder=folder, n=3, why=f"for --data {data}'s labels in its place") in err.splitlines()


def test_float_labels_are_refused_naming_the_regression_head(tmp_path, capsys, monkeypatch):
    """The model named as typed, as the note names it (its spec's id, the absolute path, before)."""
    _folder(tmp_path, num_labels=1)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "scores.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i}", "label": v}) + "\n"
                            for i, v in enumerate([0.25, 0.9, 0.0] * 20)))
    rc, out, err = _recommend(capsys, "./cross-encoder", "--data", str(data), "--probes", "none")
    assert rc == 2 and out == "" and len(err.splitlines()) == 1, err
    assert f"--data {data}: line 1: label 0.25 is not a whole number" in err
    assert err.rstrip().endswith("; --model ./cross-encoder: its classifier head has 1 output, a regression or score "
                                 "head (a cross-encoder's, say), and lorplan trains class labels, no regression")


def test_a_class_head_says_nothing_of_regression(tmp_path, capsys):
    folder, path = _folder(tmp_path, num_labels=3), tmp_path / "p.toml"
    rc, _, err = _recommend(capsys, folder, "--examples", "1000", "--write", str(path))
    assert rc == 0, err
    assert "1 output" not in err and read_plan(path).model.num_labels == 3
