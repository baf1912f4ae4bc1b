"""`lorplan recommend` of a checkpoint whose config.json names a head lorplan does not train (a token classifier, a
question-answering model) without probes (--trained-tokens N, --examples N, --probes none): it recommended a rank
for the causal LM (or classifier) planned from that checkpoint, header "(causal-lm)" and no word of the head, and
--write wrote a plan that lorplan train and lorplan export refuse. Its ladder (--data) was refused already
(db3f90c). Now the command refuses the checkpoint in every mode, in their one line (core.model.head.
other_head_refusal), exit 2, nothing written: the rank is advice for another model, which the model it was
fine-tuned from gets as well. Fast path only: no child is started, no torch imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.cli import main

LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}
WORDS = ("config.json names LlamaForTokenClassification, a token-classification model transformers builds with "
         "AutoModelForTokenClassification, a head lorplan does not train")


def _folder(tmp_path: Path, architectures: list[str]) -> Path:
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    return folder


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Q{i}?", "completion": f" A{i}."}) + "\n" for i in range(40)))
    return data


@pytest.mark.parametrize("how", [["--trained-tokens", "100000"], ["--trained-tokens", "100000", "--json"],
                                 ["--trained-tokens", "100000", "--write", "PLAN"],
                                 ["--data", "DATA", "--probes", "none", "--write", "PLAN"]])
def test_recommend_without_probes_refuses_it(tmp_path, capsys, state_home, how):
    folder = _folder(tmp_path, ["LlamaForTokenClassification"])
    plan = tmp_path / "plan.toml"
    words = [str(plan) if w == "PLAN" else str(_data(tmp_path)) if w == "DATA" else w for w in how]
    rc = main(["recommend", "--model", str(folder), "--gpu-memory", "24GB", *words])
    out, err = capsys.readouterr()
    err = err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"lorplan recommend: error: --model {folder}: {WORDS}"), err[0]
    assert out == "" and not plan.exists()


def test_a_classifier_recommendation_of_a_qa_checkpoint_is_refused(tmp_path, capsys, state_home):
    """--examples N: the sequence classifier planned of a BERT question-answering checkpoint."""
    folder = tmp_path / "qa"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "bert", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
        "num_hidden_layers": 2, "vocab_size": 1000, "max_position_embeddings": 128,
        "architectures": ["BertForQuestionAnswering"]}))
    rc = main(["recommend", "--model", str(folder), "--examples", "500", "--num-labels", "3",
               "--task", "sequence-classification", "--gpu-memory", "24GB"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "config.json names BertForQuestionAnswering, a question-answering" in err[0]


def test_its_causal_lm_is_recommended_and_written(tmp_path, capsys, state_home):
    """The same folder naming its causal LM first: recommended and written as before."""
    folder = _folder(tmp_path, ["LlamaForCausalLM", "LlamaForTokenClassification"])
    plan = tmp_path / "plan.toml"
    rc = main(["recommend", "--model", str(folder), "--trained-tokens", "100000", "--gpu-memory", "24GB",
               "--write", str(plan)])
    assert rc == 0 and plan.is_file(), capsys.readouterr().err
