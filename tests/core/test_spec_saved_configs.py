"""Configs written by transformers' own save_pretrained (which may spell keys differently from Hub files,
e.g. qwen3_moe's num_experts saved as num_local_experts) must count exactly like the model they build."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers

from lorplan.core.model import catalog, load_spec

pytestmark = pytest.mark.slow

MODELS = ("Qwen/Qwen3-30B-A3B", "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen2.5-0.5B-Instruct", "google/gemma-2-2b-it")


def _tiny(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg["num_hidden_layers"] = 2
    if "num_experts" in cfg:
        cfg["num_experts"] = 6  # not the class default (128), so a missed key shows
    return cfg


@pytest.mark.parametrize("model_id", MODELS)
def test_resaved_config_counts_like_transformers(model_id, tmp_path):
    cfg = _tiny(catalog.config(catalog.find(model_id)))
    model_type = cfg.pop("model_type")
    config = transformers.AutoConfig.for_model(model_type, **cfg)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    expected = sum(p.numel() for p in model.parameters())
    spec = load_spec(str(tmp_path), allow_fallback=False)
    assert spec.source == "folder"
    assert spec.total_params == expected, sorted(saved)
