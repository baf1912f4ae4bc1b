"""`lorplan profile --model` a sequence classifier on data whose rows are not all labelled: `lorplan train` trains
a classifier on the labelled rows alone (train.data.tokenize) and refuses data without a label, so the report
says how many examples that leaves out, or that the data has no label at all."""

from __future__ import annotations

import json

from lorplan.cli import main


def _profile(tmp_path, capsys, monkeypatch, rows) -> list[str]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["profile", "--data", str(path), "--model", "all-MiniLM-L6-v2"]) == 0
    return capsys.readouterr().out.splitlines()


def test_rows_without_a_label_are_named(tmp_path, capsys, monkeypatch):
    # the report said "examples 5" and nothing of the 2 rows (null, no column) a classifier does not train on;
    # then it named them but still counted them: the figures now count the 3 labelled rows, and a note says why
    rows = [{"text": "good", "label": 1}, {"text": "bad", "label": 0}, {"text": "fine", "label": "1"},
            {"text": "unknown", "label": None}, {"text": "no column"}]
    lines = _profile(tmp_path, capsys, monkeypatch, rows)
    assert lines[1].startswith("examples         3  ")
    assert ("note: 2 rows without a label skipped (the first, line 4); the figures count what a sequence "
            "classifier trains on, the 3 labelled examples") in lines


def test_data_without_labels_is_warned(tmp_path, capsys, monkeypatch):
    # plain text for a classifier: the report was clean, and lorplan train then stopped ("sequence
    # classification needs a label column in the data")
    lines = _profile(tmp_path, capsys, monkeypatch, [{"text": "a"}, {"text": "b"}])
    assert ('warning: no row has a label; a sequence classifier reads its class from a column named "label", and '
            "lorplan train refuses this data") in lines


def test_labelled_data_gets_neither_line(tmp_path, capsys, monkeypatch):
    lines = _profile(tmp_path, capsys, monkeypatch, [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    assert not [x for x in lines if "without a label" in x or "no row has a label" in x]


def test_a_label_column_by_another_name_is_named(tmp_path, capsys, monkeypatch):
    # lorplan reads the class from "label" alone: data with "labels" was told it 'needs a label column', which it
    # seems to have
    lines = _profile(tmp_path, capsys, monkeypatch, [{"text": "a", "labels": 0}, {"text": "b", "labels": 1}])
    assert ('warning: no row has a label; a sequence classifier reads its class from a column named "label", and '
            "lorplan train refuses this data") in lines


def test_labels_zero_false_and_null(tmp_path, capsys, monkeypatch):
    # label 0 is a label: neither line
    lines = _profile(tmp_path, capsys, monkeypatch, [{"text": "a", "label": 0}, {"text": "b", "label": 0}])
    assert not [x for x in lines if "without a label" in x or "no row has a label" in x]
    # false is no class label (refused), and beside a null the note said 'it trains on the 0 labelled'
    lines = _profile(tmp_path, capsys, monkeypatch, [{"text": "a", "label": False}, {"text": "b", "label": None}])
    assert not [x for x in lines if "without a label" in x or "no row has a label" in x]
    assert [x for x in lines if x.startswith("warning: line 1: label false is a boolean")], lines
