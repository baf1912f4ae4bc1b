"""A decoder whose config.json names its sequence classifier ("architectures": ["LlamaForSequenceClassification"]: a
reward model such as Skywork-Reward-Llama, a Qwen2 reward or classifier model) is planned as that classifier: the
fast path read no architectures and planned LlamaForCausalLM (task causal-lm, an lm_head the checkpoint does not
hold, vocabulary-wide logits), while a GPT-NeoX reward model, which the fallback builds, was planned as its
classifier (tests/core/test_fallback_named_class.py). Compared with transformers' AutoModelForSequenceClassification
and peft's SEQ_CLS on the meta device, in this process: no fallback child is started."""

from __future__ import annotations

import copy
import json

import peft
import pytest
import torch
import transformers
from model_builders import exported_classifier_trainable
from test_lora_exact import FAMILIES, shrink, spec_sizes
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES as CLASSIFIERS,
)

from lorplan.cli import main
from lorplan.core.lora import LoraTargets, peft_target_modules, trainable_params
from lorplan.core.memory.activations import activation_model
from lorplan.core.model import catalog, load_spec
from lorplan.core.model.sources import config_spec, from_config
from lorplan.core.plan import read_plan

pytestmark = pytest.mark.slow

DECODERS = [f for f in FAMILIES if f != "bert"]


def _named(cfg: dict, labels: int | None, *names: str) -> dict:
    """`cfg` with architectures naming `names` (default: its model type's sequence classifier in transformers)
    and num_labels `labels` (None: left out)."""
    cfg = {k: v for k, v in copy.deepcopy(cfg).items() if k not in ("id2label", "label2id", "num_labels")}
    cfg["architectures"] = list(names) or [CLASSIFIERS[cfg["model_type"]]]
    if labels is not None:
        cfg["num_labels"] = labels
    return cfg


def _classifier(cfg: dict):
    cfg = copy.deepcopy(cfg)
    config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with torch.device("meta"):
        return transformers.AutoModelForSequenceClassification.from_config(config)


@pytest.mark.parametrize("labels", [1, 3, None])
@pytest.mark.parametrize("family", DECODERS)
def test_a_named_classifier_is_planned_as_transformers_builds_it(family, labels):
    """Every fast-path decoder family: the parameters by name and size, and LoRA's trainable count (all-linear,
    and q+v) as peft's SEQ_CLS counts it (LoRA plus the score head in full)."""
    model_id, qv = FAMILIES[family]
    cfg = _named(shrink(catalog.config(catalog.find(model_id)), 2), labels)
    spec = from_config(cfg, family, "folder", "test")
    assert (spec.task, spec.architecture) == ("sequence-classification", CLASSIFIERS[cfg["model_type"]])
    model = _classifier(cfg)
    theirs = {n: p.numel() for n, p in model.named_parameters()}
    assert spec_sizes(spec) == theirs
    assert spec.total_params == sum(theirs.values())
    assert model.score.out_features == (labels or 2)
    for modules in (("all-linear",), qv):
        targets = LoraTargets(modules=modules)
        pm = peft.get_peft_model(_classifier(cfg), peft.LoraConfig(
            r=8, target_modules=peft_target_modules(spec, targets), task_type="SEQ_CLS"))
        assert trainable_params(spec, targets, 8) == pm.get_nb_trainable_parameters()[0], modules


def test_the_class_names_are_transformers_own():
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from lorplan.core.model.archs import CAUSAL_NAMES, CLASSIFIER_NAMES

    assert CLASSIFIER_NAMES == {t: CLASSIFIERS[t] for t in CLASSIFIER_NAMES}
    assert CAUSAL_NAMES == {t: MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[t] for t in CAUSAL_NAMES}
    assert set(CLASSIFIER_NAMES) == set(CAUSAL_NAMES)


@pytest.mark.parametrize("names", [
    None,  # no architectures: the causal LM, as before
    ["LlamaForCausalLM"],
    ["LlamaForCausalLM", "LlamaForSequenceClassification"],  # the first of the two named decides, as the fallback's
    ["LlamaModel"],  # a base model names no task
    ["Qwen2ForSequenceClassification"],  # another model type's classifier is not this config's class
    "LlamaForSequenceClassification",  # not a list: transformers reads no class from it
    [{"LlamaForSequenceClassification": 1}],  # entries that are no class name (transformers takes them) name none:
    [["LlamaForSequenceClassification"]],  # they were a TypeError's traceback (unhashable) out of `lorplan plan`
])
def test_other_names_plan_the_causal_lm(names):
    cfg = {**TINY_LLAMA, "num_labels": 3}
    if names is not None:
        cfg["architectures"] = names
    spec = from_config(cfg, "m", "folder", "test")
    assert (spec.task, spec.architecture) == ("causal-lm", "LlamaForCausalLM")
    assert "lm_head" in {m.path for m in (*spec.linears, *spec.tied_linears)}


def test_the_first_named_of_causal_lm_and_classifier_decides():
    cfg = _named(TINY_LLAMA, 3, "LlamaForSequenceClassification", "LlamaForCausalLM")
    assert from_config(cfg, "m", "folder", "test").architecture == "LlamaForSequenceClassification"
    cfg["architectures"] = [None, 7, "LlamaForSequenceClassification"]  # entries that name no class are passed by
    assert from_config(cfg, "m", "folder", "test").architecture == "LlamaForSequenceClassification"


TINY_LLAMA = {"model_type": "llama", "vocab_size": 512, "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 256, "tie_word_embeddings": True, "pad_token_id": 0}
TINY_QWEN2 = {**TINY_LLAMA, "model_type": "qwen2", "tie_word_embeddings": False}


@pytest.fixture(scope="module")
def reward_folders(tmp_path_factory):
    """Folders of a tiny Llama reward model (one score output), a tiny 3-class Llama classifier and a tiny
    2-class Qwen2 classifier, each with a plan written by `lorplan plan --write` and exported to peft."""
    root = tmp_path_factory.mktemp("reward")
    made = {}
    for name, cfg in (("llama-reward", _named(TINY_LLAMA, 1)), ("llama-3", _named(TINY_LLAMA, 3)),
                      ("qwen2-2", _named(TINY_QWEN2, 2))):
        folder = root / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(cfg))
        plan = root / f"{name}.toml"
        assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32", "--write", str(plan)]) == 0
        assert main(["export", str(plan), "--to", "peft", "-o", str(root / f"{name}-peft")]) == 0
        made[name] = (folder, plan, root / f"{name}-peft")
    return made


@pytest.mark.parametrize(("name", "cls", "planned_labels"), [
    ("llama-reward", "LlamaForSequenceClassification", 2),  # lorplan trains class labels: a 1-output head as 2
    ("llama-3", "LlamaForSequenceClassification", 3),
    ("qwen2-2", "Qwen2ForSequenceClassification", 2),
])
def test_a_reward_model_folder_is_planned_and_exported_as_its_classifier(reward_folders, capsys, name, cls,
                                                                          planned_labels):
    folder, path, out = reward_folders[name]
    plan = read_plan(path)
    assert (plan.model.task, plan.model.num_labels) == ("sequence-classification", planned_labels)  # causal-lm before
    capsys.readouterr()
    assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32"]) == 0
    assert f"({cls}, " in capsys.readouterr().out  # the model line: LlamaForCausalLM before
    assert json.loads((out / "adapter_config.json").read_text())["task_type"] == "SEQ_CLS"
    # what peft trains on the model lorplan train builds from the export: LoRA plus the new head in full
    assert plan.estimate.trainable_params == exported_classifier_trainable(folder, out)
    spec = load_spec(str(folder))
    assert (spec.source, spec.architecture) == ("folder", cls)  # the fast path: no child build
    assert config_spec(str(folder)) == spec  # the commands that build nothing (allow_fallback=False) see it too


def test_memory_prices_the_classifier_not_vocabulary_logits(reward_folders):
    """The causal-LM plan of the same folder priced vocabulary-wide fp32 logits per token for its loss; the
    classifier's score head makes num_labels 16-bit logits per token (transformers pools them after the head),
    beside the int32 non-pad mask. Traced: tests/core/test_memory_trace.py."""
    from lorplan.core.memory.types import TrainingSetup

    folder = reward_folders["llama-3"][0]
    setup = TrainingSetup(seq_len=32)
    assert activation_model(load_spec(str(folder)), setup).loss_tokens == 3 * 2 + 4
    assert activation_model(from_config(TINY_LLAMA, "m", "folder", "test"), setup).loss_tokens > 1000
