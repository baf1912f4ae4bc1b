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


def test_with_profile_sets_a_classifiers_labels_and_refuses_unlabelled_data(tmp_path):
    plan = read_plan(SAMPLES / "minilm-classification.toml")
    labelled = profile_dataset(_rows(tmp_path / "l.jsonl", [{"text": f"t{i}", "label": i % 4} for i in range(80)]))
    got = with_profile(replace(plan, model=replace(plan.model, num_labels=2)), labelled)
    assert got.model.num_labels == 4 and got.data.schema == "text"
    plain = profile_dataset(_rows(tmp_path / "p.jsonl", [{"text": "x"}] * 60))
    with pytest.raises(BadInput, match="needs rows with a 'label'"):
        with_profile(plan, plain)
