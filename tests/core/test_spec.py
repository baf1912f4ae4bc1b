"""load_spec: catalog ids and aliases, folders and config.json paths, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import load_spec

LLAMA_TINY = {
    "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": False,
}


def write(tmp_path, cfg, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg) if not isinstance(cfg, str) else cfg)
    return path


def test_catalog_id_alias_and_case():
    spec = load_spec("meta-llama/Llama-3.1-8B-Instruct")
    assert spec.source == "catalog" and spec.total_params == 8_030_261_248
    base = load_spec("meta-llama/llama-3.1-8b")  # the base model: the entry's shapes, its own id, hub spelling
    assert base.id == "meta-llama/Llama-3.1-8B" and base.total_params == spec.total_params
    assert spec.layer_linear_names == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert load_spec("meta-llama/Llama-3.1-8B-Instruct") is spec  # cached


def test_folder_and_file(tmp_path):
    path = write(tmp_path, LLAMA_TINY)
    by_dir = load_spec(str(tmp_path))
    by_file = load_spec(str(path))
    assert by_dir.source == by_file.source == "folder"
    # embed 100*64 + per layer (q 64*64 + k,v 2*32*64 + o 64*64 + mlp 3*64*128 + 2 norms) + norm + lm_head
    per_layer = 64 * 64 * 2 + 2 * 32 * 64 + 3 * 64 * 128 + 2 * 64
    assert by_dir.total_params == 100 * 64 + 2 * per_layer + 64 + 100 * 64
    assert by_dir.config_path == str(path)


def test_tied_head_not_counted_but_targetable(tmp_path):
    spec = load_spec(str(write(tmp_path, {**LLAMA_TINY, "tie_word_embeddings": True})))
    assert [m.name for m in spec.tied_linears] == ["lm_head"]
    assert all(m.name != "lm_head" for m in spec.linears)


def test_qwen3_head_dim_and_gemma3_text_config():
    q = load_spec("Qwen/Qwen3-0.6B")
    qp = next(m for m in q.linears if m.name == "q_proj")
    assert (qp.in_features, qp.out_features) == (1024, 2048)
    g = load_spec("google/gemma-3-4b-it")
    assert g.hidden_size == 2560 and g.num_layers == 34 and g.vocab_size == 262208
    assert any(m.role == "vision" for m in g.linears)


def test_moe_experts_are_tensors():
    s = load_spec("Qwen/Qwen3-30B-A3B")
    assert s.num_experts == 128 and s.num_experts_per_tok == 8
    kinds = {t.kind for t in s.tensors}
    assert {"experts", "router"} <= kinds
    assert all(m.role != "mlp" for m in s.linears)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: "no/such-model-anywhere", "unknown model 'no/such-model-anywhere'"),
        (lambda p: str(p / "missing" / "dir"), "does not exist"),
        (lambda p: str(write(p, "{not json")), "not valid JSON"),
        (lambda p: str(write(p, "[1, 2]")), "not a JSON object"),
        (lambda p: str(write(p, {"hidden_size": 8})), "missing 'model_type'"),
        (lambda p: str(write(p, {k: v for k, v in LLAMA_TINY.items() if k != "hidden_size"})), "missing 'hidden_size'"),
        (lambda p: str(write(p, {**LLAMA_TINY, "num_hidden_layers": "two"})), "'num_hidden_layers' must be"),
    ],
    ids=["unknown-id", "missing-folder", "malformed", "not-object", "no-model-type", "missing-field", "bad-type"],
)
def test_bad_input_is_one_line(tmp_path, monkeypatch, make, needle):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BadInput) as err:
        load_spec(make(tmp_path))
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_folder_without_config(tmp_path):
    with pytest.raises(BadInput, match="has no config.json"):
        load_spec(str(tmp_path))


def test_unknown_architecture_without_fallback(tmp_path):
    path = write(tmp_path, {"model_type": "opt", "hidden_size": 8})
    with pytest.raises(BadInput, match="not supported by the fast path"):
        load_spec(str(path), allow_fallback=False)
