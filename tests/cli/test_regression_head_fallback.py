"""A cross-encoder lorplan builds through the fallback (DeBERTa-v2: its model_type is not in the fast path) whose
head has one output ("num_labels": 1, a regression or score head). The plan writes a new 2-class head (or as many
as --data's labels need) and lorplan train builds it, but the fallback's spec could not be re-headed
(core.model.head.with_labels left it as built), so the plan priced the 1-output head: 17 trainable parameters
(hidden 16 + 1 bias) below what peft trains, the same in `lorplan plan --json`'s table and in what priced_anew
says of the file. One config folder, one child build (kept for the run), the counts on the meta device; and
a head of another shape (T5's, whose build tests/core/test_fallback_encdec.py shares)."""

from __future__ import annotations

import json

import pytest
from model_builders import exported_classifier_trainable

from lorplan.cli import main
from lorplan.core.model import load_spec
from lorplan.core.model.head import head_labels, trained_labels
from lorplan.core.plan import read_plan
from lorplan.core.plan.build import priced_anew, priced_spec

pytestmark = pytest.mark.filterwarnings("ignore:The PEFT config's `base_model_name_or_path` was renamed")

DEBERTA = {"architectures": ["DebertaV2ForSequenceClassification"], "model_type": "deberta-v2", "vocab_size": 64,
           "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
           "max_position_embeddings": 64, "num_labels": 1}


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deberta-cross-encoder")
    (folder / "config.json").write_text(json.dumps(DEBERTA))
    return folder


@pytest.mark.parametrize("labels", [None, [0, 1, 2]])
def test_the_plan_prices_the_head_it_writes(cross_encoder, tmp_path, capsys, monkeypatch, labels):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = load_spec(str(cross_encoder))
    assert spec.source == "fallback" and head_labels(spec) == 1 and trained_labels(spec) == 2
    path, data = tmp_path / "p.toml", tmp_path / "d.jsonl"
    more = []
    if labels is not None:
        data.write_text("".join(json.dumps({"text": f"query {i} passage", "label": labels[i % len(labels)]}) + "\n"
                                for i in range(30)))
        more = ["--data", str(data)]
    assert main(["plan", "--model", str(cross_encoder), "--rank", "4", "--seq-len", "32", "--write", str(path),
                 "--json", *more]) == 0
    out = capsys.readouterr().out
    plan = read_plan(path)
    assert plan.model.num_labels == (2 if labels is None else 3)
    assert head_labels(priced_spec(plan, spec)) == plan.model.num_labels  # 1 before: the spec as built
    assert main(["export", str(path), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    assert plan.estimate.trainable_params == exported_classifier_trainable(cross_encoder, tmp_path / "peft")
    (row,) = json.loads(out)["rows"]  # the table printed is the plan written
    assert (row["trainable_params"], row["memory"]["total"]) == (plan.estimate.trainable_params,
                                                                 plan.estimate.total_bytes)
    assert priced_anew(plan, spec) == plan.estimate


def test_a_head_of_another_shape_is_priced_as_written(tmp_path, capsys, monkeypatch):
    """A fallback classifier whose head's output linear is no `classifier` / `score` (T5's
    classification_head.out_proj, as RoBERTa's classifier.out_proj) was priced with its config's 2 outputs where
    the plan wrote 3 for --data's labels: rank 4, 37,640 trainable where peft trains 37,644 (the LoRA peft puts on
    out_proj is an output wider). The config is tests/core/test_fallback_encdec.py's T5 classifier (its build is
    shared)."""
    import transformers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "t5"
    folder.mkdir()
    config = transformers.AutoConfig.for_model("t5", vocab_size=256, d_model=64, num_heads=4, num_layers=2, d_ff=128)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    spec = load_spec(str(folder))
    assert spec.source == "fallback" and head_labels(spec) is None and trained_labels(spec) == 2
    path, data = tmp_path / "p.toml", tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i} passage", "label": i % 3}) + "\n" for i in range(30)))
    assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32", "--write", str(path),
                 "--data", str(data)]) == 0
    capsys.readouterr()
    plan = read_plan(path)
    assert plan.model.num_labels == 3
    assert main(["export", str(path), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    assert plan.estimate.trainable_params == exported_classifier_trainable(folder, tmp_path / "peft")
    assert priced_anew(plan, spec) == plan.estimate
