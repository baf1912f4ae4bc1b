"""A run folder's labels.json (written by `lorplan probe start`, runs.DataLabels) that is damaged is not used: the
probes read the labels from the data file, as for a run folder without one.

tests/probe/test_start_records_labels.py damaged it as {"labels": [true]}, which names no file: it was passed over
for its missing path alone, so the check of the labels themselves went untested, and an empty list or one label
alone, beside the right path, size and mtime, was taken as the file's labels: every probe then failed ("needs a
label column", "at least two distinct values") on data that has two classes. Now labels.json is used only when its
labels are ones start could have recorded: two or more class labels (int or str) of one kind (class_ids).

Real files in tmp_path, the real CLI start (its scheduler's launch counted: tests/ladder_folders.CountingBackend)
and the real worker's build_probe in this process, with the real all-MiniLM-L6-v2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ladder_folders import CountingBackend

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.runs import RunDir, recorded_labels
from lorplan.probe.worker import build_probe


@pytest.fixture
def run(tmp_path, state_home, monkeypatch, capsys):
    monkeypatch.setattr(runner, "get_backend", lambda *args, **kwargs: CountingBackend())
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i} reads well", "label": i % 2}) + "\n" for i in range(60)))
    assert main(["probe", "start", "--data", str(data), "--ranks", "4", "--steps", "2", "--micro-batch", "4",
                 "--eval-examples", "8", "--eval-every", "2", "--seq-len", "16", "--device", "cpu", "--json"]) == 0
    run = RunDir(Path(json.loads(capsys.readouterr().out)["path"]))
    assert recorded_labels(run, data) == {0, 1}  # as start wrote it: used
    return run, data


@pytest.mark.parametrize("labels", [[True, False], [], [1], ["a"], [1, "1.0"], [1.5, 0], "01", [[0], [1]], None])
def test_a_damaged_labels_json_beside_the_right_file_is_not_used(labels, run):
    run, data = run
    recorded = json.loads(run.labels_path.read_text())
    run.labels_path.write_text(json.dumps({**recorded, "labels": labels}))  # the file's path, size and mtime
    assert recorded_labels(run, data) is None
    _, examples = build_probe(run.plan(), "r4", "cpu", run)
    assert examples.labels == {0, 1}  # read from the file again
