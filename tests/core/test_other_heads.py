"""A config.json whose architectures names a head lorplan does not plan (a token classifier, a question-answering or
multiple-choice model) on the fast path: `lorplan plan` planned "architectures": ["LlamaForTokenClassification"] as
LlamaForCausalLM (an lm_head and vocabulary-wide logits the checkpoint does not hold) without a word, where the
fallback's child, which builds the same causal LM for such a config, says which class config.json names and which it
planned (fallback._spec's note). The fast path now gives that note, word for word, and plans the same class as the
fallback does (a decoder's causal LM, its counts transformers' and peft's); a BERT token classifier is planned as the
fast path plans a BERT, its sequence classifier (the fallback would build BertLMHeadModel, an encoder's causal LM),
with the note naming the class planned. Compared with transformers and peft on the meta device, in this process: no
fallback child is started."""

from __future__ import annotations

import copy

import peft
import pytest
import torch
import transformers
from test_lora_exact import FAMILIES, shrink, spec_sizes
from transformers.models.auto import modeling_auto

from lorplan.core.lora import LoraTargets, peft_target_modules, trainable_params
from lorplan.core.model import _fallback_child, catalog
from lorplan.core.model.archs import CAUSAL_NAMES, OTHER_CLASSES, OTHER_HEADS, named_other_head, other_heads
from lorplan.core.model.head import REFUSED_HEADS, other_head, other_head_refusal
from lorplan.core.model.sources import from_config

pytestmark = pytest.mark.slow

# the auto classes of the heads the fast path says it does not plan, and transformers' table of each
TASK_TABLES = {
    "AutoModelForTokenClassification": modeling_auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
    "AutoModelForQuestionAnswering": modeling_auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES,
    "AutoModelForMultipleChoice": modeling_auto.MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES,
}
PEFT_TASKS = {"AutoModelForTokenClassification": "TOKEN_CLS", "AutoModelForQuestionAnswering": "QUESTION_ANS"}


def _config(cfg: dict):
    cfg = copy.deepcopy(cfg)
    return transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)


def _build(cfg: dict, auto):
    with torch.device("meta"):
        return auto.from_config(_config(cfg))


# what the note of a head lorplan train refuses (head.REFUSED_HEADS: all here) says beyond the class planned
REFUSED = "; lorplan train, export, recommend and the probes refuse this checkpoint, whose head they do not train"


def _fallback_note(cfg: dict, built: str) -> list[str]:
    """The note fallback._spec gives a config whose architectures names a head lorplan does not plan, with the
    child's own reading of the names (_named_other), for the class `built`; [] when the child says none.
    test_the_fallback_and_the_fast_path_say_it_alike checks these words against fallback._spec's."""
    named = _fallback_child._named_other(_config(cfg), built)
    refused = REFUSED if named is not None and named.rpartition(" ")[2] in REFUSED_HEADS else ""
    return [] if named is None else [
        f"config.json names {named}; lorplan plans causal language models and sequence classifiers (what lorplan "
        f"train loads), and this plan is of {built}{refused}"]


def _names_note(spec) -> list[str]:
    return [n for n in spec.notes if n.startswith("config.json names ")]


def test_the_table_is_transformers_own():
    """OTHER_HEADS names, for every fast-path model type, each class transformers builds for it with
    AutoModelForTokenClassification, AutoModelForQuestionAnswering or AutoModelForMultipleChoice: no more, no less."""
    for model_type in (*CAUSAL_NAMES, "bert"):
        theirs = {table[model_type]: auto for auto, table in TASK_TABLES.items() if model_type in table}
        assert other_heads(model_type) == theirs, model_type
    assert set(OTHER_HEADS) <= {*CAUSAL_NAMES, "bert"}


def _model_type(family: str) -> str:
    return catalog.config(catalog.find(FAMILIES[family][0]))["model_type"]


# one family per model type (llama3 is llama, phi4mini phi3); gemma3's and gemma3_text's have no other head
DECODER_HEADS = [(family, name) for family in {_model_type(f): f for f in reversed(FAMILIES)}.values()
                 if family != "bert" for name in other_heads(_model_type(family))]


@pytest.mark.parametrize(("family", "name"), DECODER_HEADS)
def test_a_decoder_naming_another_head_is_planned_as_the_fallback_plans_it(family, name):
    """The causal LM transformers builds (the class the fallback's child builds for it), parameter by parameter,
    LoRA's count peft's (CAUSAL_LM), and the fallback's note naming the class config.json names."""
    model_id, qv = FAMILIES[family]
    cfg = {**shrink(catalog.config(catalog.find(model_id)), 2), "architectures": [name], "num_labels": 5}
    spec = from_config(cfg, family, "folder", "test")
    built = CAUSAL_NAMES[cfg["model_type"]]
    assert (spec.task, spec.architecture) == ("causal-lm", built)
    model = _build(cfg, transformers.AutoModelForCausalLM)
    assert type(model).__name__ == built
    assert spec_sizes(spec) == {n: p.numel() for n, p in model.named_parameters()}
    for modules in (("all-linear",), qv):
        targets = LoraTargets(modules=modules)
        pm = peft.get_peft_model(_build(cfg, transformers.AutoModelForCausalLM), peft.LoraConfig(
            r=8, target_modules=peft_target_modules(spec, targets), task_type="CAUSAL_LM"))
        assert trainable_params(spec, targets, 8) == pm.get_nb_trainable_parameters()[0], modules
    assert _names_note(spec) == _fallback_note(cfg, built) != []
    assert other_head(spec) == (name, other_heads(cfg["model_type"])[name])


@pytest.mark.parametrize("name", ["BertForTokenClassification", "BertForQuestionAnswering",
                                  "BertForMultipleChoice"])
def test_a_bert_naming_another_head_is_planned_as_its_sequence_classifier_and_says_so(name):
    """As the fast path plans every BERT (BertForSequenceClassification, num_labels from config.json, its counts
    transformers' and peft's SEQ_CLS), with the note naming the class config.json names and the class planned."""
    cfg = {**shrink(catalog.config(catalog.find(FAMILIES["bert"][0])), 2), "architectures": [name], "num_labels": 5}
    spec = from_config(cfg, "bert", "folder", "test")
    assert (spec.task, spec.architecture) == ("sequence-classification", "BertForSequenceClassification")
    model = _build(cfg, transformers.AutoModelForSequenceClassification)
    assert spec_sizes(spec) == {n: p.numel() for n, p in model.named_parameters()}
    targets = LoraTargets(modules=("all-linear",))
    pm = peft.get_peft_model(_build(cfg, transformers.AutoModelForSequenceClassification), peft.LoraConfig(
        r=8, target_modules=peft_target_modules(spec, targets), task_type="SEQ_CLS"))
    assert trainable_params(spec, targets, 8) == pm.get_nb_trainable_parameters()[0]
    auto = other_heads("bert")[name]
    assert _names_note(spec) == [
        f"config.json names {name}, {_fallback_child._task_words(auto)}; lorplan plans causal language models and "
        "sequence classifiers (what lorplan train loads), and this plan is of BertForSequenceClassification" + REFUSED]
    assert other_head(spec) == (name, auto)


def test_the_named_head_model_differs_from_the_plan():
    """What the note is for: the class named is another model than the one planned (LlamaForTokenClassification
    has a 5-output score head and no lm_head: the plan's lm_head and vocabulary-wide logits are not in it)."""
    cfg = {**shrink(catalog.config(catalog.find(FAMILIES["llama"][0])), 2),
           "architectures": ["LlamaForTokenClassification"], "num_labels": 5}
    spec = from_config(cfg, "m", "folder", "test")
    named = {n for n, _ in _build(cfg, transformers.AutoModelForTokenClassification).named_parameters()}
    assert "lm_head.weight" not in named and "score.weight" in named
    assert spec_sizes(spec).keys() != named


LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 1, "vocab_size": 256}


@pytest.mark.parametrize(("names", "auto_map", "built", "noted"), [
    (["LlamaForTokenClassification"], None, "LlamaForCausalLM", True),
    (["LlamaForQuestionAnswering"], None, "LlamaForCausalLM", True),
    # the class built named anywhere: the config names what is planned (the fallback's rule)
    (["LlamaForTokenClassification", "LlamaForCausalLM"], None, "LlamaForCausalLM", False),
    (["LlamaForTokenClassification", "LlamaForSequenceClassification"], None, "LlamaForSequenceClassification",
     False),
    # the causal LM or the classifier named first decides
    (["LlamaForCausalLM", "LlamaForTokenClassification"], None, "LlamaForCausalLM", False),
    # names that say nothing of a head: a base model, another model type's class, a class of nobody's, no name
    (["LlamaModel"], None, "LlamaForCausalLM", False),
    # the base model named first decides as in the child: no note (both were refused)
    (["LlamaModel", "LlamaForTokenClassification"], None, "LlamaForCausalLM", False),
    (["MyModel", "LlamaForTokenClassification"], {"AutoModel": "modeling_my.MyModel"}, "LlamaForCausalLM", False),
    (["BertForTokenClassification"], None, "LlamaForCausalLM", False),
    (["MyTagger"], None, "LlamaForCausalLM", False),
    ([5, None], None, "LlamaForCausalLM", False),
    (None, None, "LlamaForCausalLM", False),
    # the class config.json's auto_map gives AutoModelForTokenClassification: a token classifier of its own code
    (["MyTagger"], {"AutoModelForTokenClassification": "modeling_tagger.MyTagger"}, "LlamaForCausalLM", True),
])
def test_which_names_give_the_note(names, auto_map, built, noted):
    cfg = dict(LLAMA)
    if names is not None:
        cfg["architectures"] = names
    if auto_map is not None:
        cfg["auto_map"] = auto_map
    spec = from_config(cfg, "m", "folder", "test")
    assert spec.architecture == built
    assert _names_note(spec) == _fallback_note(cfg, built)
    assert bool(_names_note(spec)) is noted


def _own_classes(model_type: str) -> set[str]:
    """The classes transformers' auto classes build for the model type from its own module (not another type's
    class its tables also list for it: qwen2's JevForDecision)."""
    config = transformers.AutoConfig.for_model(model_type)
    names = {n for auto in _fallback_child._autos() for n in _fallback_child._class_names(auto, config)}
    return {n for n in names if getattr(transformers, n).__module__.startswith(f"transformers.models.{model_type}.")}


@pytest.mark.parametrize("model_type", list(OTHER_HEADS))
def test_a_class_named_before_a_head_decides_as_in_the_fallbacks_child(model_type, monkeypatch):
    """Each class of the model type named before each head it has: the head is noted (and refused) exactly when the
    child's _named_other names it. ["LlamaModel", "LlamaForTokenClassification"] and ["BertForMaskedLM",
    "BertForTokenClassification"] were noted and refused, where the child names no head (the base model decides
    nothing) or the masked LM; OTHER_CLASSES and the base model are every other class of the type."""
    autos = _fallback_child._autos()  # read once: transformers' auto classes, not changed by the test
    monkeypatch.setattr(_fallback_child, "_autos", lambda: autos)
    prefix = OTHER_HEADS[model_type][0]
    known = {CAUSAL_NAMES.get(model_type), f"{prefix}Model", *other_heads(model_type),
             *OTHER_CLASSES.get(model_type, ()), "BertForSequenceClassification" if model_type == "bert"
             else f"{prefix}ForSequenceClassification"}
    own = _own_classes(model_type)
    assert own <= known and f"{prefix}Model" in own and set(OTHER_CLASSES.get(model_type, ())) <= own
    built = "BertForSequenceClassification" if model_type == "bert" else CAUSAL_NAMES[model_type]
    for first in sorted(own - {built}):
        for head in other_heads(model_type):
            names = [first, head]
            theirs = _fallback_child._named_other(_config({"model_type": model_type, "architectures": names}), built)
            ours = named_other_head(model_type, {"architectures": names}, built)
            said = None if theirs is None else (theirs.split(", ")[0], theirs.rsplit(" ", 1)[-1])
            assert ours == (said if said is not None and said[1] in REFUSED_HEADS else None), (names, theirs)
            if first in ("LlamaModel", "BertForMaskedLM"):  # what was refused
                assert ours is None


def _child_spec(tmp_path, cfg: dict):
    """The fallback's spec of `cfg` from its child's own report, built in this process (no child started)."""
    import json

    from lorplan.core.model.fallback import _spec

    (tmp_path / "config.json").write_text(json.dumps(cfg))
    verbosity = transformers.logging.get_verbosity()
    try:
        code, text = _fallback_child.report(str(tmp_path / "config.json"), False)
    finally:
        transformers.logging.set_verbosity(verbosity)
    assert code == 0, text
    return _spec(json.loads(text), cfg, "m", False, cfg["model_type"])


def test_the_fallback_and_the_fast_path_say_it_alike(tmp_path):
    """One wording (head.other_head_note): the fallback's spec of a Llama token classifier (the child's report,
    built in this process) and the fast path's give the same note, which says lorplan train refuses it."""
    cfg = {**LLAMA, "architectures": ["LlamaForTokenClassification"], "num_labels": 5}
    theirs = _names_note(_child_spec(tmp_path, cfg))
    ours = _names_note(from_config(cfg, "m", "folder", "test"))
    assert theirs == ours == _fallback_note(cfg, "LlamaForCausalLM") and ours[0].endswith(REFUSED)


def test_the_fallbacks_note_is_read_as_the_fast_paths(tmp_path, capsys):
    """other_head reads the head the fallback's child names (a RoBERTa token classifier, built in this process by
    the child's own report; ModelSpec.named_head), so that lorplan train refuses it as it refuses the fast
    path's."""
    cfg = {"model_type": "roberta", "architectures": ["RobertaForTokenClassification"], "vocab_size": 64,
           "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
           "max_position_embeddings": 66, "pad_token_id": 1}
    spec = _child_spec(tmp_path, cfg)
    assert other_head(spec) == ("RobertaForTokenClassification", "AutoModelForTokenClassification")
    line = other_head_refusal(spec, "./tagger")
    assert line is not None and line.startswith("./tagger: config.json names RobertaForTokenClassification, a "
                                                "token-classification model")


@pytest.mark.parametrize("names", [["RobertaForMaskedLM"], ["BartForConditionalGeneration"]])
def test_a_pretrained_models_head_is_not_refused(tmp_path, names):
    """An encoder's masked LM (planned as its sequence classifier) and a sequence-to-sequence LM (planned as its
    decoder's causal LM) are what lorplan plans of such models: their notes are read, and train them as planned."""
    from lorplan.core.model.fallback import _spec

    model_type = "roberta" if names[0].startswith("Roberta") else "bart"
    cfg = {"model_type": model_type, "architectures": names, "vocab_size": 64, "hidden_size": 16, "d_model": 16,
           "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "encoder_layers": 1,
           "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 32,
           "decoder_ffn_dim": 32, "max_position_embeddings": 66, "pad_token_id": 1}
    import json

    (tmp_path / "config.json").write_text(json.dumps(cfg))
    verbosity = transformers.logging.get_verbosity()
    try:
        code, text = _fallback_child.report(str(tmp_path / "config.json"), False)
    finally:
        transformers.logging.set_verbosity(verbosity)
    assert code == 0
    spec = _spec(json.loads(text), cfg, "m", False, model_type)
    assert other_head(spec) is not None and other_head(spec)[0] == names[0]
    assert other_head_refusal(spec, "./m") is None
