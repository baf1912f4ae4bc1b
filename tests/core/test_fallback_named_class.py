"""A cross-encoder (reranker) whose config.json names its class, "architectures": ["XLMRobertaForSequenceClassification"]
(bge-reranker's, RoBERTa's and ELECTRA's rerankers alike): the fallback's child tried AutoModelForCausalLM first and
built XLMRobertaForCausalLM, so `lorplan plan --write` wrote task = "causal-lm" for a classifier checkpoint (an
encoder's causal LM, whose attention sees the token it predicts). The child now builds the class the config names
when it is transformers' sequence classifier for that config, and the classifier when it names an encoder's masked
LM (as the fast path plans a BERT); any other class named (a token classifier, a class transformers does not have)
is built as before: the causal LM first. Two real child builds (the plans), the other cases built in this process by
the child's own _build on the meta device."""

from __future__ import annotations

import json

import pytest
from model_builders import exported_classifier_trainable

from lorplan.cli import main
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan

SIZES = {"vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 32, "max_position_embeddings": 66, "type_vocab_size": 1, "pad_token_id": 1}
RERANKER = {"architectures": ["XLMRobertaForSequenceClassification"], "model_type": "xlm-roberta",
            "num_labels": 1, **SIZES}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _folder(tmp_path, cfg: dict, name: str = "m"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_a_reranker_folder_is_planned_as_the_classifier_it_names(tmp_path, capsys):
    folder = _folder(tmp_path, RERANKER, "bge-reranker")
    spec = load_spec(str(folder))
    assert spec.source == "fallback"
    # XLMRobertaForCausalLM before, with an lm_head the checkpoint does not hold
    assert (spec.task, spec.architecture) == ("sequence-classification", "XLMRobertaForSequenceClassification")
    paths = {lin.path for lin in (*spec.linears, *spec.tied_linears)}
    assert "classifier.out_proj" in paths and "lm_head.decoder" not in paths
    path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32", "--write", str(path)]) == 0
    assert main(["export", str(path), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    capsys.readouterr()
    plan = read_plan(path)
    assert plan.model.task == "sequence-classification"  # "causal-lm" before
    assert plan.model.num_labels == 2  # lorplan trains class labels: a 1-output head is planned as 2 classes
    assert plan.estimate.trainable_params == exported_classifier_trainable(folder, tmp_path / "peft")  # the new head's price


def test_a_two_label_classifier_folder_is_priced_as_peft_trains_it(tmp_path, capsys):
    folder = _folder(tmp_path, {**RERANKER, "architectures": ["RobertaForSequenceClassification"],
                                "model_type": "roberta", "num_labels": 2})
    path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32", "--write", str(path)]) == 0
    assert main(["export", str(path), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    capsys.readouterr()
    plan = read_plan(path)
    assert (plan.model.task, plan.model.num_labels) == ("sequence-classification", 2)
    # LoRA on the encoder plus RoBERTa's classifier (dense and out_proj) in full: 1,202 at rank 4, hidden 16
    assert plan.estimate.trainable_params == exported_classifier_trainable(folder, tmp_path / "peft")


MASKED = "RobertaForMaskedLM, a masked-lm model transformers builds with AutoModelForMaskedLM"
XLMR_MASKED = "XLMRobertaForMaskedLM, a masked-lm model transformers builds with AutoModelForMaskedLM"
# transformers' masked-LM table holds BART's kin's sequence-to-sequence LMs too (they fill masks): the note named
# BART "a masked-lm model transformers builds with AutoModelForMaskedLM"
BART = "BartForConditionalGeneration, a sequence-to-sequence model transformers builds with AutoModelForSeq2SeqLM"
MBART = "MBartForConditionalGeneration, a sequence-to-sequence model transformers builds with AutoModelForSeq2SeqLM"
TOKENS = "RobertaForTokenClassification, a token-classification model transformers builds with " \
         "AutoModelForTokenClassification"


@pytest.mark.parametrize(("model_type", "named", "task", "built", "other"), [
    ("roberta", ["RobertaForSequenceClassification"], "sequence-classification", "RobertaForSequenceClassification",
     None),
    ("electra", ["ElectraForSequenceClassification"], "sequence-classification", "ElectraForSequenceClassification",
     None),
    # a decoder's reward model: its checkpoint holds a score head, not the lm head a causal LM would start anew
    ("gpt_neox", ["GPTNeoXForSequenceClassification"], "sequence-classification", "GPTNeoXForSequenceClassification",
     None),
    # an encoder's masked LM (roberta-base's, xlm-roberta-base's): its classifier, as the fast path plans a BERT
    # (RobertaForCausalLM before, whose attention sees the token it predicts), and the note says the class named
    ("roberta", ["RobertaForMaskedLM"], "sequence-classification", "RobertaForSequenceClassification", MASKED),
    ("xlm-roberta", ["XLMRobertaForMaskedLM"], "sequence-classification", "XLMRobertaForSequenceClassification",
     XLMR_MASKED),
    # named classes lorplan plans no differently: as before, the causal LM transformers has for the config, and
    # a head lorplan does not plan is said in the spec's notes
    ("roberta", ["RobertaForCausalLM"], "causal-lm", "RobertaForCausalLM", None),
    # BART's class in transformers' masked-LM table is its sequence-to-sequence LM: not an encoder's masked LM
    ("bart", ["BartForConditionalGeneration"], "causal-lm", "BartForCausalLM", BART),
    ("mbart", ["MBartForConditionalGeneration"], "causal-lm", "MBartForCausalLM", MBART),
    ("roberta", ["RobertaForTokenClassification"], "causal-lm", "RobertaForCausalLM", TOKENS),
    ("roberta", ["RobertaModel"], "causal-lm", "RobertaForCausalLM", None),  # a base model names no task
    ("roberta", ["MyOwnRerankerClass"], "causal-lm", "RobertaForCausalLM", None),
    ("roberta", None, "causal-lm", "RobertaForCausalLM", None),
    # another model type's classifier is not this config's class
    ("roberta", ["BertForSequenceClassification"], "causal-lm", "RobertaForCausalLM", None),
    # several names: the first causal LM or sequence classifier named decides (a masked LM beside a causal LM
    # names no encoder), and a head lorplan does not plan is said only when the class built is named nowhere
    ("roberta", ["RobertaForMaskedLM", "RobertaForSequenceClassification"], "sequence-classification",
     "RobertaForSequenceClassification", None),
    ("roberta", ["RobertaForMaskedLM", "RobertaForCausalLM"], "causal-lm", "RobertaForCausalLM", None),
])
def test_the_child_builds_a_named_sequence_classifier(tmp_path, capsys, model_type, named, task, built, other):
    from lorplan.core.model.fallback import _spec

    cfg = {"model_type": model_type, **SIZES}
    if model_type == "gpt_neox":
        cfg.update(rotary_pct=1.0)
    if named is not None:
        cfg["architectures"] = named
    report = _child_report(tmp_path, capsys, cfg)
    assert (report["task"], report["class"], report["named_other"]) == (task, built, other)
    notes = [n for n in _spec(report, cfg, "m", False, model_type).notes if n.startswith("config.json names")]
    # a head lorplan train refuses (a token classifier's) is said so, as the fast path says it (head.other_head_note)
    refused = ("; lorplan train, export, recommend and the probes refuse this checkpoint, whose head they do not "
               "train") if other == TOKENS else ""
    assert notes == ([] if other is None else [
        f"config.json names {other}; lorplan plans causal language models and sequence classifiers (what lorplan "
        f"train loads), and this plan is of {built}{refused}"])


def _child_report(tmp_path, capsys, cfg: dict) -> dict:
    """The child's report for a folder holding `cfg` as config.json, its main run in this process (no
    --trust-remote-code)."""
    import transformers

    from lorplan.core.model import _fallback_child

    capsys.readouterr()
    verbosity = transformers.logging.get_verbosity()  # the child's main quiets transformers: not for later tests
    try:
        assert _fallback_child.main([str(_folder(tmp_path, cfg) / "config.json")]) == 0  # in this process
    finally:
        transformers.logging.set_verbosity(verbosity)
    return json.loads(capsys.readouterr().out)


def test_a_classifier_named_by_auto_map_builds_transformers_own_without_its_code(tmp_path, capsys):
    """A reranker whose auto_map gives AutoModelForSequenceClassification its own code: without
    --trust-remote-code the child builds transformers' class for the model type (the folder holds no
    modeling_mine.py: running it would fail), the one lorplan train loads, and says no other head (the note said
    'config.json names MyReranker, a sequence-classification model ...; lorplan plans ... sequence classifiers')."""
    cfg = {"model_type": "roberta", "architectures": ["MyReranker"], **SIZES,
           "auto_map": {"AutoModelForSequenceClassification": "modeling_mine.MyReranker"}}
    report = _child_report(tmp_path, capsys, cfg)
    assert (report["task"], report["class"], report["named_other"]) == (
        "sequence-classification", "RobertaForSequenceClassification", None)
