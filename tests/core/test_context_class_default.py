"""A model's context read from its configuration class's default (config.json has no max_position_embeddings, or
GPT-2's n_positions): the lines that refuse a longer sequence say so, instead of naming a key the file lacks.

Since 14dc827 the fast path reads an absent max_position_embeddings as the transformers class does (LlamaConfig
2048, MistralConfig 131072, ...), where it was an unknown context before; `lorplan plan --seq-len 4096` on a
Llama config without the key is now refused, and the line said "context of 2,048 tokens (max_position_embeddings)"
and the data profile "(max_position_embeddings of the model's config)", a key the user finds nowhere in the
file. A context of 0 is still an unknown one: nothing is refused."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.memory.bounds import check_context, context_key, default_seq_len
from lorplan.core.memory.types import TrainingSetup
from lorplan.core.model import archs
from lorplan.core.model.sources import from_config

DECODER = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 128}
GEMMA3 = {"model_type": "gemma3", "text_config": {**DECODER, "model_type": "gemma3_text"},
          "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                            "num_attention_heads": 2, "patch_size": 8, "image_size": 32, "vision_use_head": False}}
# a config of each fast-path family without its context key, the class that supplies it, and that key
NO_CONTEXT = [
    *(({"model_type": t, **DECODER, **({"num_local_experts": 2} if t == "mixtral" else {})},
       s.config_class, "max_position_embeddings") for t, s in archs.STYLES.items()),
    (GEMMA3, "Gemma3TextConfig", "max_position_embeddings"),
    ({"model_type": "gpt2", "n_embd": 32, "n_layer": 1, "n_head": 2, "vocab_size": 64}, "GPT2Config", "n_positions"),
    ({"model_type": "bert", **DECODER}, "BertConfig", "max_position_embeddings"),
]


def _spec(cfg: dict):
    return from_config(cfg, "m", "folder", where="config.json")


@pytest.mark.parametrize(("cfg", "cls", "key"), NO_CONTEXT, ids=[c[0]["model_type"] for c in NO_CONTEXT])
def test_a_class_default_context_is_named_as_one(cfg, cls, key):
    spec = _spec(cfg)
    assert spec.max_position_embeddings > 0
    says = f"{key} absent from config.json: {cls}'s default"
    assert context_key(spec) == says
    with pytest.raises(BadInput) as exc:
        check_context(spec, TrainingSetup(seq_len=spec.max_position_embeddings + 1))
    assert f"context of {spec.max_position_embeddings:,} tokens (" in str(exc.value)
    assert says in str(exc.value), str(exc.value)


@pytest.mark.parametrize(("cfg", "cls", "key"), NO_CONTEXT, ids=[c[0]["model_type"] for c in NO_CONTEXT])
def test_a_context_config_json_gives_is_named_by_its_key(cfg, cls, key):
    cfg = json.loads(json.dumps(cfg))
    (cfg["text_config"] if "text_config" in cfg else cfg)[key] = 64
    spec = _spec(cfg)
    assert spec.max_position_embeddings == 64
    assert context_key(spec) == key


def test_plan_refuses_a_longer_sequence_naming_the_class_default(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", **DECODER}))
    assert main(["plan", "--model", str(tmp_path), "--ranks", "4", "--seq-len", "4096"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lorplan plan: error: --seq-len 4096 is beyond {tmp_path}'s context of 2,048 tokens "
                   "(max_position_embeddings absent from config.json: LlamaConfig's default); shorten the "
                   "sequences, or extend RoPE with --rope-scaling 2 (linear position interpolation, which the plan "
                   "and its exports carry)"], err
    assert main(["plan", "--model", str(tmp_path), "--ranks", "4", "--seq-len", "2048"]) == 0


def test_data_profile_names_the_class_default(tmp_path):
    from lorplan.core.data.profile import ModelLimit, model_limit

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral", **DECODER}))
    assert model_limit(str(tmp_path)) == ModelLimit(
        131072, "max_position_embeddings absent from config.json: MistralConfig's default")
    assert model_limit(str(tmp_path), 2.0) == ModelLimit(
        262144, "max_position_embeddings absent from config.json: MistralConfig's default × --rope-scaling 2")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral", **DECODER,
                                                      "max_position_embeddings": 4096}))
    assert model_limit(str(tmp_path)) == ModelLimit(4096, "max_position_embeddings of the model's config")


def test_a_context_of_zero_is_still_unknown():
    # transformers builds a decoder whose max_position_embeddings is 0 (RoPE needs no table): no length refused
    spec = _spec({"model_type": "llama", **DECODER, "max_position_embeddings": 0})
    assert spec.max_position_embeddings == 0
    check_context(spec, TrainingSetup(seq_len=100_000))
    assert default_seq_len(spec) == 2048
