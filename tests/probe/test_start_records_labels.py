"""`lorplan probe start` reads a classifier's labels once, records them in the run folder, and its probes use them.

1. worker.sample repeated load_examples' seeded reservoir (the same Reservoir over the same stream) only to note
   every row's label: now it is load_examples with a per-example hook (records.LabelTally), the same rows.
2. The start checks read the file past their 20,000-row peek (when the peek held one label) and every probe noted
   the labels of every row again while it drew its sample: now start reads a classifier's file whole once past
   the peek, writes the labels it found to labels.json (atomically, beside plan.json), and the probes use them
   when the file is still the one read (a run folder without it, or a file changed since: read as before). A
   causal LM's run records nothing.
3. A label that is no class label past the peek, in a file whose peek holds two labels, passed start and failed
   each probe: now start refuses it with the probes' line, as it does labels of no one kind (1 beside "1.0").

Real files in tmp_path, the real all-MiniLM-L6-v2, the real CLI (the scheduler's launch counted instead:
tests/ladder_folders.CountingBackend) and the real worker in this process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ladder_folders import CountingBackend

from lorplan.cli import main
from lorplan.core.data import load_examples
from lorplan.core.data.readers import RowSource
from lorplan.core.data.records import LabelTally
from lorplan.probe import runner
from lorplan.probe.runs import RunDir, create_run, recorded_labels
from lorplan.probe.worker import build_probe, run_worker, sample

ROWS = 20_050  # beyond the start checks' 20,000-row peek
NOT_WHOLE = "label 2.5 is not a whole number; a class label is a whole number (its class id) or a name"
SMALL = ["--steps", "2", "--micro-batch", "4", "--eval-examples", "8", "--eval-every", "2", "--seq-len", "16",
         "--device", "cpu", "--json"]


def _rows(path, labels, rows: int = ROWS):
    path.write_text("".join(json.dumps({"text": f"row {i} reads well", "label": labels(i)}) + "\n"
                            for i in range(rows)))
    return path


@pytest.fixture
def full_reads(monkeypatch):
    """The data files streamed to their end (RowSource.rows exhausted), one entry per pass: the start checks' peek
    of a larger file stops inside it and is not counted."""
    passes: list[str] = []
    rows = RowSource.rows

    def counted(self):
        yield from rows(self)
        passes.append(self.path.name)

    monkeypatch.setattr(RowSource, "rows", counted)
    return passes


@pytest.fixture
def counted_backend(monkeypatch):
    backend = CountingBackend()
    monkeypatch.setattr(runner, "get_backend", lambda *args, **kwargs: backend)
    return backend


def _start(capsys, *argv) -> RunDir:
    assert main(["probe", "start", *argv, *SMALL]) == 0, capsys.readouterr().err
    return RunDir(Path(json.loads(capsys.readouterr().out)["path"]))


def test_sample_is_load_examples_with_a_hook_the_same_rows(tmp_path):
    data = _rows(tmp_path / "d.jsonl", lambda i: 2.5 if i == 611 else ["a", "b", None, 7][i % 4], rows=1000)
    for limit, seed in ((40, 0), (40, 3), (5000, 1), (40, None)):
        seen = []
        drawn = load_examples(data, limit=limit, seed=seed, each=seen.append)
        assert [repr(ex) for ex in drawn] == [repr(ex) for ex in load_examples(data, limit=limit, seed=seed)]
        assert len(seen) == (1000 if seed is not None else 40)  # a seed streams the whole file
    for seed in (0, 3):
        plain = [repr(ex) for ex in load_examples(data, limit=40, seed=seed)]
        drawn = sample(str(data), schema=None, limit=40, seed=seed)
        assert [repr(ex) for ex in drawn] == plain
        assert drawn.labels == {"a", "b", 7} and drawn.label_problem == f"line 612: {NOT_WHOLE}"
        given = sample(str(data), schema=None, limit=40, seed=seed, labels={"a", "b", 7, "z"})
        assert [repr(ex) for ex in given] == plain and given.labels == {"a", "b", 7, "z"}


def test_start_records_the_labels_and_the_probes_use_them(tmp_path, state_home, counted_backend, full_reads,
                                                          capsys, monkeypatch):
    data = _rows(tmp_path / "late.jsonl", lambda i: "rare" if i == ROWS - 1 else ("pos" if i % 2 else "neg"))
    run = _start(capsys, "--data", str(data), "--ranks", "4,8")
    assert counted_backend.launches == 1
    assert full_reads == ["late.jsonl"]  # the checks read past the peek, once (the peek held two labels)
    recorded = json.loads(run.labels_path.read_text())
    assert recorded["labels"] == ["neg", "pos", "rare"] and recorded["path"] == str(data.resolve())
    assert recorded_labels(run, data) == {"neg", "pos", "rare"}

    tallied = []
    monkeypatch.setattr(LabelTally, "__call__", lambda self, ex: tallied.append(ex.line))
    _, examples = build_probe(run.plan(), "r4", "cpu", run)
    assert examples.labels == {"neg", "pos", "rare"} and not tallied  # the recorded labels, none noted again
    assert all(ex.label != "rare" for ex in examples)  # the sample lacks the class the head still has
    full_reads.clear()
    for probe in ("r4", "r8"):
        result = run_worker(run.path, probe, "cpu")
        assert result["state"] == "finished", result.get("traceback")
    assert full_reads == ["late.jsonl"] * 2  # each probe's seeded sample: one pass over the file each
    assert not tallied


def test_a_file_changed_since_start_or_an_old_run_folder_reads_the_labels_again(tmp_path, state_home,
                                                                                counted_backend, capsys):
    data = _rows(tmp_path / "d.jsonl", lambda i: i % 2, rows=300)
    run = _start(capsys, "--data", str(data), "--ranks", "4")
    assert recorded_labels(run, data) == {0, 1}
    _, examples = build_probe(run.plan(), "r4", "cpu", run)
    assert examples.labels == {0, 1}
    with data.open("a") as fh:  # a third class added after start: the recorded labels are not this file's
        fh.write(json.dumps({"text": "late", "label": 2}) + "\n")
    assert recorded_labels(run, data) is None
    _, examples = build_probe(run.plan(), "r4", "cpu", run)
    assert examples.labels == {0, 1, 2}
    old = create_run(runner.make_plan((4,), data=str(data), steps=2, micro_batch=4, eval_examples=8, seq_len=16,
                                      device="cpu"), state_home)  # a run folder written before labels.json
    assert not old.labels_path.exists() and recorded_labels(old, data) is None
    _, examples = build_probe(old.plan(), "r4", "cpu", old)
    assert examples.labels == {0, 1, 2}
    run.labels_path.write_text('{"labels": [true]}')  # damaged: not used
    assert recorded_labels(run, data) is None


def test_a_causal_lm_run_records_no_labels(tiny_llama, tmp_path, state_home, counted_backend, capsys):
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"row {i} says something"}) + "\n" for i in range(50)))
    run = _start(capsys, "--model", str(tiny_llama), "--data", str(text), "--ranks", "4")
    assert not run.labels_path.exists()
    ids = _rows(tmp_path / "ids.jsonl", lambda i: f"doc-{i:06d}", rows=300)  # a causal LM's plan: labels unread
    checked = runner.check_start(str(tiny_llama), str(ids), task="causal-lm")
    assert checked.task == "causal-lm" and checked.labels is None


@pytest.mark.parametrize(("name", "labels"), [
    ("late_bad", lambda i: 2.5 if i == ROWS - 1 else i % 2),  # a label that is no class past the peek
    ("late_name", lambda i: "1.0" if i == ROWS - 1 else i % 2),  # a name that reads as a number beside ids
])
def test_start_refuses_what_each_probe_would_fail_on_with_its_line(name, labels, tmp_path, state_home,
                                                                    counted_backend, capsys):
    data = _rows(tmp_path / f"{name}.jsonl", labels)
    probe = create_run(runner.make_plan((4,), data=str(data), steps=2, micro_batch=4, eval_examples=8, seq_len=16,
                                        device="cpu"), state_home)
    failed = run_worker(probe.path, "r4", "cpu")  # what each probe said of it, late
    assert failed["state"] == "failed" and failed["message"].startswith(f"BadInput: --data {data}: ")
    capsys.readouterr()  # the worker's traceback on stderr
    assert main(["probe", "start", "--data", str(data), "--ranks", "4", *SMALL]) == 2
    assert capsys.readouterr().err == f"lorplan probe start: error: {failed['message'].removeprefix('BadInput: ')}\n"
    assert counted_backend.launches == 0
