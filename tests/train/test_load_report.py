"""What loading a model prints: transformers' load report (an ANSI-coloured "LOAD REPORT" table that calls a
LoRA classifier's new head MISSING) and its "Loading weights" bar are replaced by lorplan's plain lines, for
`lorplan train` and for probes; real problems with the checkpoint still get a line, or an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from model_builders import tiny_bert
from safetensors.torch import load_file, save_file

from lorplan.core.errors import BadInput
from lorplan.core.plan import DataSection, read_plan, write_plan

ROOT = Path(__file__).resolve().parents[2]
CHATTER = ("\x1b[", "LOAD REPORT", "MISSING", "newly initialized", "Loading weights", "UNEXPECTED", "MISMATCH")
NEW_HEAD = ("classifier head (classifier.weight, classifier.bias): new, trained from scratch with the adapter "
            "(modules_to_save)")


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    """A bare BERT encoder checkpoint: no classifier in it, as bert-base or all-MiniLM-L6-v2 ship."""
    return tiny_bert(tmp_path_factory.mktemp("enc") / "tiny-bert")


def cls_plan(tmp_path: Path, model: Path, **model_fields) -> Path:
    """The MiniLM classification sample pointed at `model`, 24 labelled rows and a tmp output folder."""
    rows = [{"text": f"the film was {'good' if i % 2 else 'bad'} {i}", "label": i % 2} for i in range(24)]
    data = tmp_path / "cls.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = read_plan(ROOT / "sample_configs" / "minilm-classification.toml")
    plan = replace(plan, model=replace(plan.model, path=str(model), id=None, **model_fields),
                   data=DataSection(path=str(data), schema="text", eval_split=0.25),
                   training=replace(plan.training, epochs=None, max_steps=1, micro_batch=4, gradient_accumulation=1,
                                    seq_len=16, output_dir=str(tmp_path / "out")))
    return write_plan(plan, tmp_path / "plan.toml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, encoder) -> tuple[subprocess.CompletedProcess, Path]:
    """(`lorplan train PLAN --max-steps 2` with its stdout and stderr in pipes, not a terminal, its output folder):
    one run that the two tests below each read (its progress on: plain progress lines, no bar)."""
    tmp_path = tmp_path_factory.mktemp("trained")
    plan = cls_plan(tmp_path, encoder)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("TRANSFORMERS_VERBOSITY", None)
    proc = subprocess.run([sys.executable, "-m", "lorplan", "train", str(plan), "--max-steps", "2"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc, tmp_path / "out"


def test_train_prints_one_plain_head_line_and_no_load_report(trained):
    """`lorplan train` with its output in files (not a terminal): no escape codes, no load report, no loading
    bar; one line says what the missing classifier is, and result.json keeps it."""
    proc, out = trained
    both = proc.stdout + proc.stderr
    for word in CHATTER:
        assert word not in both, (word, both)
    assert [line for line in both.splitlines() if "classifier head" in line] == [f"note: {NEW_HEAD}"]
    assert NEW_HEAD in json.loads((out / "result.json").read_text())["notes"]


def test_train_prints_its_setup_notes_on_stderr_before_the_first_step_and_only_once(trained):
    """A user starting a long run learns at once that the head is new (random): every note of the set-up
    (the model load, the data, the CPU changes and threads) is printed before the first progress line, and not
    again in the summary at the end; result.json still lists them all. The notes go to stderr with the progress
    and the summary alone to stdout: the model's notes went to stdout and the data's and the threads' to
    stderr, so `> run.txt` kept some notes and not the others."""
    proc, out = trained
    err = proc.stderr.replace("\r", "\n").splitlines()
    notes = json.loads((out / "result.json").read_text())["notes"]
    assert NEW_HEAD in notes
    first_step = next(i for i, line in enumerate(err) if line.startswith("training:"))
    for note in notes:
        at = [i for i, line in enumerate(err) if line == f"note: {note}"]
        assert len(at) == 1, (note, proc.stderr)
        assert at[0] < first_step, (note, proc.stderr)
    assert "note:" not in proc.stdout, proc.stdout
    assert proc.stdout.splitlines()[0].startswith("eval loss: "), proc.stdout  # the summary, and only it
    assert proc.stdout.splitlines()[-1].startswith("adapter saved to"), proc.stdout


def _edit_checkpoint(folder: Path, edit) -> None:
    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path), metadata={"format": "pt"})


def test_other_head_size_missing_and_unused_weights_each_get_one_line(tmp_path, capfd):
    """A checkpoint with a 3-way head (the plan wants 2 labels), one encoder weight missing and one weight the
    model has no place for: the run goes on with a new head, and each other finding is one plain line."""
    import torch

    from lorplan.train.engine import build_engine

    folder = tiny_bert(tmp_path / "three-way", head=3)

    def edit(t):
        del t["bert.encoder.layer.1.output.dense.bias"]
        t["bert.extra.weight"] = torch.zeros(2)

    _edit_checkpoint(folder, edit)
    plan = read_plan(cls_plan(tmp_path, folder, num_labels=2))
    capfd.readouterr()
    engine = build_engine(plan, plan_path=str(tmp_path / "plan.toml"))
    out = capfd.readouterr()
    for word in CHATTER:
        assert word not in out.out + out.err, (word, out)
    assert ("classifier head (classifier.weight, classifier.bias): new (the checkpoint's has 3 outputs, the plan's "
            "num_labels is 2), trained from scratch with the adapter (modules_to_save)") in engine.notes
    assert ("1 weight not in the checkpoint stay at their random initial values and are not trained: "
            "bert.encoder.layer.1.output.dense.bias") in engine.notes
    assert "1 checkpoint weight unused by sequence-classification (left out): bert.extra.weight" in engine.notes
    assert sum("classifier" in n for n in engine.notes) == 1


def test_a_classifier_checkpoint_keeps_its_head_and_says_so(tmp_path, capfd):
    from lorplan.train.engine import build_engine

    plan = read_plan(cls_plan(tmp_path, tiny_bert(tmp_path / "two-way", head=2)))
    capfd.readouterr()
    notes = build_engine(plan).notes
    assert "MISSING" not in capfd.readouterr().err
    assert [n for n in notes if "classifier" in n] == [
        "classifier head (classifier): from the checkpoint, trained further with the adapter (modules_to_save)"]


def test_a_weight_of_another_shape_outside_the_head_is_one_line_error(tmp_path, capfd):
    import torch

    from lorplan.train.engine import build_engine

    folder = tiny_bert(tmp_path / "bad", head=2)
    _edit_checkpoint(folder, lambda t: t.update({"bert.pooler.dense.bias": torch.zeros(5)}))
    plan = read_plan(cls_plan(tmp_path, folder))
    with pytest.raises(BadInput) as err:
        build_engine(plan)
    assert str(err.value) == (f"model {plan.model.source!r}: the checkpoint's bert.pooler.dense.bias has shape [5] "
                              "where the model needs [32]; only a trained module (the classifier head, "
                              "modules_to_save) may differ")
    assert "LOAD REPORT" not in capfd.readouterr().err


def test_a_probe_on_an_encoder_logs_the_head_line_not_the_report(state_home, tmp_path, encoder, capfd):
    from lorplan.probe import runner
    from lorplan.probe.events import read_events
    from lorplan.probe.runs import create_run
    from lorplan.probe.worker import run_worker

    rows = [{"text": f"the film was {'good' if i % 2 else 'bad'} {i}", "label": i % 2} for i in range(40)]
    data = tmp_path / "cls.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = runner.make_plan((4,), (1e-3,), model=str(encoder), data=str(data), steps=1, micro_batch=4,
                            eval_every=1, eval_examples=8, seq_len=16, device="cpu")
    run = create_run(plan, state_home)
    capfd.readouterr()
    r = run_worker(run.path, "r4", "cpu")
    out = capfd.readouterr()
    assert r["state"] == "finished", r["traceback"]
    for word in CHATTER:
        assert word not in out.out + out.err, (word, out)
    started = next(e for e in read_events(run.events_path("r4")) if e["type"] == "started")
    assert NEW_HEAD in started["notes"]
