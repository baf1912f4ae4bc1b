"""Exactness against real transformers + peft on the meta device.

- Totals: every catalog model is built at full size with transformers (meta device) and its parameter count
  must equal lorplan's, digit for digit.
- Names: for one model per family (layers shrunk to 2), every parameter name and size must match.
- LoRA: for one model per family, ranks {1, 8, 64} × targets {all-linear, attention, mlp, q+v equivalent}, and
  DoRA / rank_pattern / layers_to_transform / modules_to_save / embedding cases, lorplan's trainable count must
  equal peft's get_nb_trainable_parameters, and lorplan's list of trainable tensor shapes peft's. The grids shrink num_hidden_layers to 2: every count is a sum over
  modules, identical per block, so it is linear in the number of blocks (test_per_layer_linearity proves it for
  each family at 1, 2 and 3 layers); the full-size totals above cover the rest.
"""

from __future__ import annotations

import copy
import warnings

import peft
import pytest
import torch
import transformers

from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets, peft_target_modules, trainable_params, trainable_tensors
from lorplan.core.model import catalog
from lorplan.core.model.sources import from_config

pytestmark = pytest.mark.slow
warnings.filterwarnings("ignore")

# family -> (catalog model, q+v equivalent)
FAMILIES = {
    "llama": ("HuggingFaceTB/SmolLM2-135M-Instruct", ("q_proj", "v_proj")),
    "llama3": ("meta-llama/Llama-3.2-1B-Instruct", ("q_proj", "v_proj")),
    "mistral": ("mistralai/Mistral-7B-Instruct-v0.3", ("q_proj", "v_proj")),
    "mixtral": ("mistralai/Mixtral-8x7B-v0.1", ("q_proj", "v_proj")),
    "qwen2": ("Qwen/Qwen2.5-0.5B-Instruct", ("q_proj", "v_proj")),
    "qwen3": ("Qwen/Qwen3-0.6B", ("q_proj", "v_proj")),
    "qwen3_moe": ("Qwen/Qwen3-30B-A3B", ("q_proj", "v_proj")),
    "gemma2": ("google/gemma-2-2b-it", ("q_proj", "v_proj")),
    "gemma3_text": ("google/gemma-3-1b-it", ("q_proj", "v_proj")),
    "gemma3": ("google/gemma-3-4b-it", ("q_proj", "v_proj")),
    "phi3": ("microsoft/Phi-3-mini-4k-instruct", ("qkv_proj",)),
    "phi4mini": ("microsoft/Phi-4-mini-instruct", ("qkv_proj",)),
    "gpt2": ("openai-community/gpt2", ("c_attn",)),
    "bert": ("sentence-transformers/all-MiniLM-L6-v2", ("query", "value")),
}


def shrink(cfg: dict, layers: int) -> dict:
    cfg = copy.deepcopy(cfg)
    if "text_config" in cfg:
        cfg["text_config"]["num_hidden_layers"] = layers
        cfg["vision_config"]["num_hidden_layers"] = 1
    elif cfg["model_type"] == "gpt2":
        cfg["n_layer"] = layers
    else:
        cfg["num_hidden_layers"] = layers
    return cfg


def build(cfg: dict):
    """The model class lorplan plans for, built on the meta device."""
    cfg = copy.deepcopy(cfg)
    model_type = cfg.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **cfg)
    with torch.device("meta"):
        if model_type == "bert":
            return transformers.AutoModelForSequenceClassification.from_config(config)
        return transformers.AutoModelForCausalLM.from_config(config)


def peft_model(cfg: dict, task: str, **lora):
    model = build(cfg)
    if task == "sequence-classification":
        lora["task_type"] = "SEQ_CLS"
    return peft.get_peft_model(model, peft.LoraConfig(**lora))


def peft_trainable(cfg: dict, task: str, **lora) -> int:
    return peft_model(cfg, task, **lora).get_nb_trainable_parameters()[0]


def shapes(pairs) -> list[tuple[int, ...]]:
    """Sorted shapes, with Conv1D-style (in, out) weights and (out, in) compared alike."""
    return sorted(tuple(sorted(s)) for s in pairs)


def total(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("entry", catalog.ENTRIES, ids=lambda e: e.id)
def test_catalog_total_matches_transformers(entry):
    cfg = catalog.config(entry)
    spec = from_config(cfg, entry.id, "catalog", "test")
    assert spec.total_params == total(build(cfg))


@pytest.mark.parametrize("family", FAMILIES)
def test_parameter_names_and_sizes_match(family):
    cfg = shrink(catalog.config(catalog.find(FAMILIES[family][0])), 2)
    spec = from_config(cfg, family, "catalog", "test")
    theirs = {n: p.numel() for n, p in build(cfg).named_parameters()}
    assert spec_sizes(spec) == theirs


def spec_sizes(spec) -> dict[str, int]:
    """The spec's parameters by name and size, as transformers' named_parameters() names them."""
    ours = {t.path: t.numel for t in spec.tensors}
    for m in spec.linears:
        ours[m.path + ".weight"] = m.in_features * m.out_features
        if m.bias:
            ours[m.path + ".bias"] = m.out_features
    return ours


@pytest.mark.parametrize("family", FAMILIES)
def test_per_layer_linearity(family):
    """Counts grow by the same amount per block, so the 2-layer grids stand for the full models."""
    base = catalog.config(catalog.find(FAMILIES[family][0]))
    specs = [from_config(shrink(base, n), family, "catalog", "test") for n in (1, 2, 3)]
    for t in (LoraTargets(), LoraTargets(modules=("attention",))):
        counts = [trainable_params(s, t, 8) for s in specs]
        assert counts[2] - counts[1] == counts[1] - counts[0] > 0
    totals = [s.total_params for s in specs]
    assert totals[2] - totals[1] == totals[1] - totals[0] > 0


TARGET_CHOICES = ("all-linear", "attention", "mlp", "qv")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("choice", TARGET_CHOICES)
def test_trainable_grid_matches_peft(family, choice):
    model_id, qv = FAMILIES[family]
    cfg = shrink(catalog.config(catalog.find(model_id)), 2)
    spec = from_config(cfg, family, "catalog", "test")
    modules = qv if choice == "qv" else (choice,)
    targets = LoraTargets(modules=modules)
    peft_modules = peft_target_modules(spec, targets)
    if choice == "qv":
        assert peft_modules == sorted(qv)
    for rank in (1, 8, 64):
        pm = peft_model(cfg, spec.task, r=rank, target_modules=peft_modules)
        assert trainable_params(spec, targets, rank) == pm.get_nb_trainable_parameters()[0], (family, choice, rank)
        if rank == 8:
            theirs = [tuple(p.shape) for p in pm.parameters() if p.requires_grad]
            assert shapes(s for _, s in trainable_tensors(spec, targets, rank)) == shapes(theirs)


def _case(family, rank, **kw):
    return pytest.param(family, rank, kw, id=f"{family}-r{rank}-" + "-".join(sorted(kw)))


CASES = [
    _case("llama", 8, use_dora=True),
    _case("gpt2", 4, use_dora=True),
    _case("bert", 8, use_dora=True),
    _case("gemma3", 2, use_dora=True, modules=("attention",)),
    _case("phi3", 8, use_dora=True),
    _case("llama", 8, rank_pattern={"q_proj": 16, "down_proj": 4}),
    _case("qwen2", 8, rank_pattern={r"layers\.1\.self_attn\.v_proj": 32}, modules=("q_proj", "v_proj")),
    _case("mixtral", 8, rank_pattern={"q_proj": 3, "down_proj": 5}),
    _case("qwen3_moe", 4, rank_pattern={"o_proj": 2, "gate_up_proj": 3}),
    _case("llama", 8, layers_to_transform=(1,), modules=("q_proj", "v_proj", "down_proj")),
    _case("bert", 8, layers_to_transform=(0,), modules=("query", "value", "dense")),
    _case("mistral", 8, modules_to_save=("lm_head",)),
    _case("qwen3", 8, modules_to_save=("embed_tokens",), modules=("attention",)),
    _case("gpt2", 8, modules_to_save=("wte",), modules=("c_attn",)),
    _case("bert", 8, modules_to_save=("pooler",)),
    _case("llama", 4, modules=("embed_tokens", "q_proj")),
    _case("llama3", 4, modules=("lm_head", "q_proj")),
    _case("mistral", 4, modules=("lm_head", "embed_tokens")),
    _case("gpt2", 2, modules=("wte", "wpe", "c_fc")),
    _case("qwen3_moe", 8, modules=("gate",)),
    _case("mixtral", 8, modules=("w1", "w3", "q_proj")),
]


@pytest.mark.parametrize(("family", "rank", "kw"), CASES)
def test_lora_cases_match_peft(family, rank, kw):
    model_id, _ = FAMILIES[family]
    cfg = shrink(catalog.config(catalog.find(model_id)), 2)
    spec = from_config(cfg, family, "catalog", "test")
    kw = dict(kw)
    modules = kw.pop("modules", ("all-linear",))
    targets = LoraTargets(modules=modules, **kw)
    lora = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
    pm = peft_model(cfg, spec.task, r=rank, target_modules=peft_target_modules(spec, targets), **lora)
    assert trainable_params(spec, targets, rank) == pm.get_nb_trainable_parameters()[0]
    theirs = [tuple(p.shape) for p in pm.parameters() if p.requires_grad]
    assert shapes(s for _, s in trainable_tensors(spec, targets, rank)) == shapes(theirs)


def test_moe_rules_refused_like_peft():
    spec = from_config(shrink(catalog.config(catalog.find("Qwen/Qwen3-30B-A3B")), 2), "m", "catalog", "t")
    with pytest.raises(BadInput, match="DoRA"):
        trainable_params(spec, LoraTargets(use_dora=True), 8)
    with pytest.raises(BadInput, match="up_proj"):
        trainable_params(spec, LoraTargets(modules=("gate_proj",)), 8)
