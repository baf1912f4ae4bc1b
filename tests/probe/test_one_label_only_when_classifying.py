"""One label alone (core.data.labels.check_classes) is refused only where the run classifies.

A causal-LM plan over text rows that each carry a 'label' trains the language model on the text and never reads
the label (lorplan train, and probes of the plan, which keep its model.task). The planner's Probes tab checked
such a plan with runner.check_start, which refused it whenever the rows carried a label: a tiny Llama planned as
a causal LM over rows all labelled 0 was refused 'sequence classification needs at least two distinct values of
'label' (every row has 0)'. check_start now takes the task the probes train (a plan's model.task); without one,
`lorplan probe start` still classifies labelled rows (probe.plans.detect_task), so it still refuses one label.
Real tiny Llama (random weights, saved with a tokenizer), real files, the real CLI and the planner's bridge."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.tui import probe_bridge

RULE = "sequence classification needs at least two distinct values of 'label'"


def _rows(path, labels):
    path.write_text("".join(json.dumps({"text": f"row {i} says something short", "label": labels(i)}) + "\n"
                            for i in range(40)))
    return path


@pytest.fixture
def one_label(tmp_path):
    return _rows(tmp_path / "one.jsonl", lambda i: 0)


def _causal_plan(tmp_path, model, data, capsys):
    plan_path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(model), "--data", str(data), "--rank", "4", "--seq-len", "32",
                 "--write", str(plan_path)]) == 0
    capsys.readouterr()
    plan = read_plan(plan_path)
    assert plan.model.task == "causal-lm"  # a Llama built as LlamaForCausalLM: the label is no part of it
    return plan_path, plan


def test_probe_start_classifies_labelled_rows_so_one_label_is_still_refused(tiny_llama, one_label, state_home,
                                                                              capsys):
    """Without a plan the probes classify labelled rows, with a decoder too (a Llama sequence classifier)."""
    assert main(["probe", "start", "--model", str(tiny_llama), "--data", str(one_label), "--ranks", "4",
                 "--steps", "2"]) == 2
    assert capsys.readouterr().err == f"lorplan probe start: error: --data {one_label}: {RULE} (every row has 0)\n"
    assert not list(state_home.rglob("plan.json"))  # no run was started


def test_a_causal_lm_plan_over_one_label_rows_is_probed_and_trained(tiny_llama, one_label, tmp_path, state_home,
                                                                    capsys):
    plan_path, plan = _causal_plan(tmp_path, tiny_llama, one_label, capsys)
    # the planner's Probes tab (probe_work -> probe_bridge.check_start): refused before, the rows' label aside
    ranks, notes = probe_bridge.check_start(plan, plan.lora.r, (4, 8))
    assert ranks == (4, 8)
    assert not any("label" in n for n in notes), notes
    checked = runner.check_start(str(tiny_llama), str(one_label), task="causal-lm")
    assert checked.task == "causal-lm"
    # what the probes of that plan train: the causal LM on the text (the worker keeps the plan's task)
    from lorplan.probe.plans import plan_settings
    from lorplan.probe.runs import create_run
    from lorplan.probe.worker import run_worker

    run_plan = runner.make_plan((4,), (1e-3,), steps=2, eval_every=2, eval_examples=4, device="cpu",
                                **plan_settings(plan, str(plan_path)))
    run = create_run(run_plan, state_home)
    result = run_worker(run.path, "r4", "cpu")
    assert result["state"] == "finished", result["traceback"]
    assert result["task"] == "causal-lm" and result["eval_accuracy"] is None
    # and lorplan train trains the plan as it is, the label unread
    out = tmp_path / "run"
    assert main(["train", str(plan_path), "--max-steps", "1", "--output", str(out), "--no-progress"]) == 0
    assert (out / "adapter_config.json").exists() or any(out.rglob("adapter_config.json"))


def test_labelled_rows_of_a_causal_lm_plan_get_no_label_balance_note(tiny_llama, tmp_path, capsys):
    """The label-balance warning is about a classifier's classes: a causal LM's plan is not told about them."""
    data = _rows(tmp_path / "lopsided.jsonl", lambda i: 1 if i < 2 else 0)
    _, plan = _causal_plan(tmp_path, tiny_llama, data, capsys)
    assert not any("label" in n for n in probe_bridge.check_start(plan, plan.lora.r, (4,))[1])
    assert any("label" in n for n in runner.check_start(str(tiny_llama), str(data)).notes)  # the probes classify


def test_the_same_llama_planned_as_a_classifier_is_refused(tiny_llama, one_label, tmp_path, capsys):
    _, plan = _causal_plan(tmp_path, tiny_llama, one_label, capsys)
    classifier = replace(plan, model=replace(plan.model, task="sequence-classification", num_labels=2))
    with pytest.raises(BadInput) as refused:
        probe_bridge.check_start(classifier, plan.lora.r, (4, 8))
    assert str(refused.value) == f"Dataset {one_label}: {RULE} (every row has 0)"  # the planner's words
    with pytest.raises(BadInput, match=RULE):
        runner.check_start(str(tiny_llama), str(one_label), task="sequence-classification")


def test_rows_without_a_label_are_noted_where_the_probes_classify_and_only_there(tiny_llama, tmp_path, capsys):
    """A classifier trains without a row whose label is null (labels.unlabelled): the note said so for an
    encoder alone, though `lorplan probe start` classifies a decoder's labelled rows too; a causal LM's plan
    trains on every row, so it is not told."""
    data = _rows(tmp_path / "some.jsonl", lambda i: None if i < 3 else i % 2)
    said = runner.check_start(str(tiny_llama), str(data)).notes
    assert any(f"--data {data}" in n and "the probes use" in n for n in said), said
    _, plan = _causal_plan(tmp_path, tiny_llama, data, capsys)
    assert not any("the probes use" in n for n in probe_bridge.check_start(plan, plan.lora.r, (4,))[1])
