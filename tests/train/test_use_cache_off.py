"""lorplan trains a causal LM with the KV cache off, as transformers' Trainer does (trainer.py sets
model.config.use_cache = args.use_cache, False by default) and so the trainers lorplan exports to (TRL's and
Unsloth's SFTTrainer, axolotl, LLaMA-Factory): a training forward builds no DynamicCache, whose copies of k and v
would live until the loss for nothing. The memory model prices that (core.memory.activations). The cache changes
nothing the step computes, and the saved adapter leaves the base model's own use_cache to whoever loads it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.plan import DataSection, read_plan

from .conftest import write_jsonl

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _plan(tmp_path: Path, model: Path):
    plan = read_plan(ROOT / "sample_configs" / "smollm2-135m-cpu.toml")
    training = replace(plan.training, max_steps=2, save_steps=100, logging_steps=1, seq_len=32, micro_batch=2,
                       gradient_accumulation=1, gradient_checkpointing=False, output_dir=str(tmp_path / "out"))
    return replace(plan, model=replace(plan.model, path=str(model), id=None), training=training,
                   data=DataSection(path=str(write_jsonl(tmp_path / "train.jsonl")), schema="prompt-completion",
                                    eval_split=0.1))


def test_a_training_forward_builds_no_kv_cache_and_computes_the_same_loss(tmp_path, tiny_llama):
    import torch

    from lorplan.train import data as D
    from lorplan.train.engine import build_engine

    assert json.loads((tiny_llama / "config.json").read_text()).get("use_cache", True) is True  # the checkpoint's
    engine = build_engine(_plan(tmp_path, tiny_llama))
    model = engine.model
    assert engine.accelerator.unwrap_model(model).config.use_cache is False
    batch = D.collate(engine.train_items[:2], engine.pad_id)
    model.train()
    out = model(**batch)
    assert out.past_key_values is None
    with_cache = model(**batch, use_cache=True)  # what lorplan trained with before: a cache, the same loss
    assert with_cache.past_key_values is not None
    assert torch.equal(out.loss, with_cache.loss)


def test_the_saved_adapter_leaves_the_base_models_use_cache_alone(tmp_path, tiny_llama):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from lorplan.train.runner import run_training

    result = run_training(_plan(tmp_path, tiny_llama), progress=False)
    adapter = Path(result.adapter_dir)
    assert (adapter / "adapter_model.safetensors").is_file()
    assert "use_cache" not in (adapter / "adapter_config.json").read_text()
    assert not list(adapter.glob("config.json"))  # no base config written beside the adapter
    assert json.loads((tiny_llama / "config.json").read_text()).get("use_cache", True) is True
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), str(adapter))
    assert loaded.config.use_cache is True  # generation with the trained adapter keeps its cache


def test_a_multimodal_causal_lm_trains_without_its_text_models_cache(tmp_path):
    """Gemma3ForConditionalGeneration (what AutoModelForCausalLM builds for `gemma3`: the catalog's Gemma 3 4B, 12B
    and 27B) has no use_cache of its own: its text model reads text_config's (transformers'
    merge_with_config_defaults reads the module's own config), which a top-level flag leaves on. LLaMA-Factory turns
    both off, TRL's SFTTrainer passes use_cache=False to every training forward: so does lorplan."""
    from lorplan.train import data as D
    from lorplan.train.engine import build_engine

    from .test_engine import make_tiny_gemma3

    folder = make_tiny_gemma3(tmp_path / "gemma3")
    assert json.loads((folder / "config.json").read_text())["text_config"].get("use_cache", True) is True
    engine = build_engine(_plan(tmp_path, folder))
    model = engine.model
    base = engine.accelerator.unwrap_model(model).get_base_model()
    assert type(base).__name__ == "Gemma3ForConditionalGeneration"
    assert base.config.get_text_config(decoder=True).use_cache is False
    batch = D.collate(engine.train_items[:2], engine.pad_id)
    model.train()
    assert model(**batch).past_key_values is None
