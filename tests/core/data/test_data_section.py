"""A profile as a plan's [data] table (lorplan.core.plan.data_section / with_profile), the one function the CLI's
--write and the planner's export share."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.data import profile_dataset
from lorplan.core.data.stats import label_balance
from lorplan.core.errors import BadInput
from lorplan.core.plan import class_count, data_section, read_plan, with_profile

SAMPLES = Path(__file__).resolve().parents[3] / "sample_configs"


def _rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_data_section_takes_schema_split_and_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _rows(tmp_path / "pc.jsonl", [{"prompt": f"p{i}", "completion": "c"} for i in range(300)])
    profile = profile_dataset("pc.jsonl")
    d = data_section(profile, "all")
    assert (d.path, d.schema, d.eval_split, d.train_on) == (str(tmp_path / "pc.jsonl"), "prompt-completion",
                                                             0.1, "all")
    assert data_section(profile, path="pc.jsonl").path == "pc.jsonl"
    few = profile_dataset(_rows(tmp_path / "few.jsonl", [{"text": f"t{i}"} for i in range(30)]))
    assert data_section(few).eval_split == 0.0  # below 50 examples nothing is held out


def test_class_count_follows_the_engines_class_ids():
    assert class_count(label_balance({0: 5, 1: 5})) == 2
    assert class_count(label_balance({0: 5, 4: 5})) == 5  # integer labels are their own class ids
    assert class_count(label_balance({"neg": 5, "neu": 5, "pos": 5})) == 3
    assert class_count(label_balance({1: 9})) == 2
    # names beside integer ids take the ids after the largest integer, as lorplan train numbers them
    assert class_count(label_balance({0: 5, 5: 5, "spam": 5})) == 7
    assert class_count(label_balance({1: 5, "a": 5})) == 3
    assert class_count(label_balance({"neg": 5, "pos": 5, 1: 5})) == 4


@pytest.mark.parametrize(("labels", "ids"), [
    ({0, 5, "spam"}, {0: 0, 5: 5, "spam": 6}),
    ({1, "a"}, {1: 1, "a": 2}),  # was {1: 1, "a": 1}: two classes trained as one
    ({0, 2, "a", "b"}, {0: 0, 2: 2, "a": 3, "b": 4}),
    ({"neg", "pos", 1}, {1: 1, "neg": 2, "pos": 3}),
    ({"pos", "neg"}, {"neg": 0, "pos": 1}),  # names alone: numbered from 0 in sorted order
    ({3, 0}, {0: 0, 3: 3}),  # integers alone: their own ids
])
def test_class_ids_give_every_class_its_own_id(labels, ids):
    from lorplan.core.data.labels import class_ids, classes_needed

    got = class_ids(labels)
    assert got == ids
    assert len(set(got.values())) == len(labels)  # no two classes share an id
    assert classes_needed(labels) == max(2, max(ids.values()) + 1)


@pytest.mark.parametrize("name", ["1.0", "+1", "2e0", "-0.5"])
def test_class_ids_refuse_a_number_written_as_a_name_beside_integer_ids(name):
    from lorplan.core.data.labels import class_ids

    with pytest.raises(BadInput) as err:
        class_ids([0, 1, name], where="--data d.jsonl")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("--data d.jsonl: ")
    assert repr(name) in msg and "0" in msg  # an example of each kind
    assert class_ids(["0.5", "1.0"]) == {"0.5": 0, "1.0": 1}  # names alone that read as numbers are names


def test_with_profile_gives_mixed_labels_the_head_training_needs(tmp_path):
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    mixed = profile_dataset(_rows(tmp_path / "m.jsonl", [{"text": f"t{i}", "label": [0, 5, "spam"][i % 3]}
                                                         for i in range(60)]))
    assert with_profile(replace(plan, model=replace(plan.model, num_labels=2)), mixed).model.num_labels == 7
    ambiguous = profile_dataset(_rows(tmp_path / "a.jsonl", [{"text": f"t{i}", "label": [0, 1, "1.0"][i % 3]}
                                                             for i in range(60)]))
    with pytest.raises(BadInput, match=f"^--data {tmp_path / 'a.jsonl'}: .*'1.0'"):
        with_profile(plan, ambiguous)


def test_with_profile_sets_a_classifiers_labels_and_refuses_unlabelled_data(tmp_path):
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    labelled = profile_dataset(_rows(tmp_path / "l.jsonl", [{"text": f"t{i}", "label": i % 4} for i in range(80)]))
    got = with_profile(replace(plan, model=replace(plan.model, num_labels=2)), labelled)
    assert got.model.num_labels == 4 and got.data.schema == "text"
    plain = profile_dataset(_rows(tmp_path / "p.jsonl", [{"text": "x"}] * 60))
    with pytest.raises(BadInput, match="needs rows with a 'label'"):
        with_profile(plan, plain)


MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _labelled(tmp_path, labels, name="cls.jsonl"):
    return profile_dataset(_rows(tmp_path / name, [{"text": f"t{i}", "label": labels[i % len(labels)]}
                                                   for i in range(80)]))


@pytest.mark.parametrize(("labels", "num_labels", "head"), [
    ([0, 5], None, 6),  # integer labels are class ids: lorplan train builds a head of the largest + 1
    ([0, 5], 8, 8),  # num_labels (--num-labels) may add classes the file lacks
    (["neg", "pos", "neu"], None, 3),
    ([0, 5, "spam"], None, 7),  # a name beside integer ids: the id after the largest, 6
    ([0, 1], None, 2),  # the config's own head: the spec as it is
])
def test_classifier_spec_has_the_head_the_labels_need_and_the_plan_prices_it(tmp_path, labels, num_labels, head):
    from lorplan.core.lora import LoraTargets, trainable_params
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.model import load_spec
    from lorplan.core.model.head import head_labels
    from lorplan.core.plan import classifier_spec, plan_from_setup

    spec = load_spec(MINILM)  # its config's head has 2 outputs
    profile = _labelled(tmp_path, labels)
    headed = classifier_spec(spec, profile, num_labels)
    assert head_labels(headed) == head and (headed is spec) == (head == 2)
    plan = with_profile(plan_from_setup(headed, TrainingSetup(seq_len=128), 4), profile)
    assert plan.model.num_labels == head  # what the estimate priced, not what the config says
    assert plan.estimate.trainable_params == (trainable_params(spec, LoraTargets(), 4) - (384 * 2 + 2)
                                              + 384 * head + head)


def test_classifier_spec_refuses_what_no_head_can_train(tmp_path):
    from lorplan.core.model import load_spec
    from lorplan.core.plan import classifier_spec

    spec = load_spec(MINILM)
    with pytest.raises(BadInput, match=r"^--num-labels: 3 is too few for --data d.jsonl, whose labels need 6 "):
        classifier_spec(spec, _labelled(tmp_path, [0, 5]), 3, data="d.jsonl")
    with pytest.raises(BadInput, match=r"label -1 is negative; integer labels are class ids, 0 and up$"):
        classifier_spec(spec, _labelled(tmp_path, [-1, 0, 1]))
    with pytest.raises(BadInput, match=r"need 1,048,577 classes .*more than lorplan plans \(1,048,576\)"):
        classifier_spec(spec, _labelled(tmp_path, [0, 1 << 20]))
    plain = profile_dataset(_rows(tmp_path / "p.jsonl", [{"text": "x"}] * 60))
    with pytest.raises(BadInput, match="needs rows with a 'label'"):
        classifier_spec(spec, plain)
    causal = load_spec("Qwen/Qwen2.5-0.5B-Instruct")
    assert classifier_spec(causal, plain) is causal  # not a classifier: nothing to re-head
