"""LoRA target resolution and counts as pure functions (the peft comparison lives in test_lora_exact.py)."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.lora import (
    LoraTargets,
    adapted,
    peft_layer_index,
    peft_target_modules,
    rank_of,
    resolve_param_targets,
    resolve_targets,
    trainable_params,
)
from lorplan.core.model import load_spec

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # 30 layers, hidden 576, 9 heads / 3 kv of 64, mlp 1536


@pytest.fixture(scope="module")
def smol():
    return load_spec(SMOL)


def test_all_linear_formula(smol):
    per_layer = (576 + 576) * 2 + (576 + 192) * 2 + (576 + 1536) * 3
    assert trainable_params(smol, LoraTargets(), 1) == 30 * per_layer
    assert trainable_params(smol, LoraTargets(), 16) == 16 * 30 * per_layer


def test_dora_adds_out_features(smol):
    t = LoraTargets(modules=("q_proj", "v_proj"), use_dora=True)
    assert trainable_params(smol, t, 8) == 30 * (8 * (576 + 576) + 576 + 8 * (576 + 192) + 192)


@pytest.mark.parametrize("rank", [0, -3, True, 2.5])
def test_bad_rank(smol, rank):
    with pytest.raises(BadInput, match="rank must be an integer of at least 1"):
        trainable_params(smol, LoraTargets(), rank)


def test_unknown_target_lists_valid_names(smol):
    with pytest.raises(BadInput) as err:
        resolve_targets(smol, LoraTargets(modules=("q_proj", "c_attn")))
    msg = str(err.value)
    assert "'c_attn'" in msg and "valid: all-linear, attention, mlp, q_proj, k_proj" in msg and "\n" not in msg


def test_rank_pattern_first_match_wins_and_is_a_regex(smol):
    t = LoraTargets(modules=("q_proj", "v_proj"), rank_pattern={r"layers\.(0|1)\.self_attn\.q_proj": 4, "q_proj": 2})
    ranks = {m.path: r for m, r in adapted(smol, t, 8)}
    assert ranks["model.layers.0.self_attn.q_proj"] == 4
    assert ranks["model.layers.2.self_attn.q_proj"] == 2
    assert ranks["model.layers.0.self_attn.v_proj"] == 8
    q0 = next(m for m in smol.linears if m.path == "model.layers.1.self_attn.q_proj")
    assert rank_of(q0, t, 8) == 4


def test_layers_to_transform(smol):
    t = LoraTargets(modules=("q_proj", "lm_head", "embed_tokens"), layers_to_transform=(0, 29))
    assert [m.path for m in resolve_targets(smol, t)] == [
        "model.layers.0.self_attn.q_proj", "model.layers.29.self_attn.q_proj"]  # lm_head is outside the blocks
    assert peft_layer_index("model.layers.12.mlp.down_proj") == 12
    assert peft_layer_index("lm_head") is None
    assert peft_layer_index("model.vision_tower.encoder.layers.3.mlp.fc1") == 3  # peft's first numbered segment


def test_tied_lm_head_and_embedding_targets(smol):
    assert smol.tie_word_embeddings
    assert trainable_params(smol, LoraTargets(modules=("lm_head",)), 4) == 4 * (576 + 49152)
    assert trainable_params(smol, LoraTargets(modules=("embed_tokens",)), 4) == 4 * (49152 + 576)


def test_modules_to_save_counts_a_full_copy():
    spec = load_spec("mistralai/Mistral-7B-Instruct-v0.3")
    base = trainable_params(spec, LoraTargets(modules=("q_proj",)), 8)
    with_head = trainable_params(spec, LoraTargets(modules=("q_proj",), modules_to_save=("lm_head",)), 8)
    assert with_head - base == 4096 * 32768
    with pytest.raises(BadInput, match="--modules-to-save"):
        trainable_params(spec, LoraTargets(modules_to_save=("nothing",)), 8)


def test_sequence_classification_head_is_trained():
    spec = load_spec("google-bert/bert-base-uncased")
    t = LoraTargets(modules=("query", "value"))
    assert trainable_params(spec, t, 8) == 12 * 2 * 8 * (768 + 768) + 768 * 2 + 2
    assert all(m.name != "classifier" for m in resolve_targets(spec, LoraTargets()))
    assert any(m.path == "bert.pooler.dense" for m in resolve_targets(spec, LoraTargets()))


def test_peft_target_modules_choices(smol):
    assert peft_target_modules(smol, LoraTargets()) == "all-linear"
    assert peft_target_modules(smol, LoraTargets(modules=("attention",))) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert peft_target_modules(smol, LoraTargets(layers_to_transform=(1,))) == [
        "down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    gemma = load_spec("google/gemma-3-4b-it")
    names = peft_target_modules(gemma, LoraTargets(modules=("attention",)))
    # full paths of the 34 text blocks' q/k/v/o: the leaf names alone would also adapt the vision tower
    assert len(names) == 4 * 34 and names == sorted(m.path for m in gemma.linears if m.role == "attention")
    assert all(n.startswith("model.language_model.layers.") for n in names)
    gpt2 = load_spec("openai-community/gpt2")
    paths = peft_target_modules(gpt2, LoraTargets(modules=("attention",)))
    assert len(paths) == 24 and "transformer.h.0.attn.c_proj" in paths  # c_proj alone would hit mlp.c_proj


def test_moe_expert_parameters():
    spec = load_spec("mistralai/Mixtral-8x7B-v0.1")
    mlp = resolve_param_targets(spec, LoraTargets(modules=("mlp",)))
    assert {p.tensor.path.rsplit(".", 1)[-1] for p in mlp} == {"gate_up_proj", "down_proj"}
    # per layer: gate_up (8, 2*14336, 4096) at rank 2r, down (8, 4096, 14336) at r
    per_layer = 2 * 8 * (4096 + 2 * 14336) + 8 * (14336 + 4096)
    assert trainable_params(spec, LoraTargets(modules=("mlp",)), 1) == 32 * per_layer
    assert peft_target_modules(spec, LoraTargets(modules=("mlp",))) == ["w1", "w2", "w3"]
    with pytest.raises(BadInput, match="needs w3"):
        trainable_params(spec, LoraTargets(modules=("w1",)), 8)
    router = resolve_param_targets(spec, LoraTargets(modules=("gate",)))
    assert len(router) == 32 and router[0].tensor.shape == (8, 4096)


@pytest.mark.parametrize("model", [SMOL, "openai-community/gpt2", "google-bert/bert-base-uncased",
                                   "Qwen/Qwen3-30B-A3B", "google/gemma-3-4b-it"])
@pytest.mark.parametrize("targets", [LoraTargets(), LoraTargets(modules=("attention",), use_dora=True),
                                     LoraTargets(modules=("mlp",), rank_pattern={"down_proj": 3})],
                         ids=["all-linear", "attention-dora", "mlp-pattern"])
def test_trainable_tensors_sum_to_trainable_params(model, targets):
    from lorplan.core.lora import trainable_tensors

    spec = load_spec(model)
    expected = trainable_params(spec, targets, 16)  # DoRA on attention is allowed on MoE models too
    n = 0
    for _, shape in trainable_tensors(spec, targets, 16):
        size = 1
        for d in shape:
            size *= d
        n += size
    assert n == expected


def test_preset_members_follow_resolve_targets():
    """The planner's preset buttons tick exactly what core resolves (the rule train and probes use too)."""
    from lorplan.core.lora import preset_members

    gemma = load_spec("google/gemma-3-4b-it")
    members = preset_members(gemma)
    attention = {m.name for m in resolve_targets(gemma, LoraTargets(modules=("attention",)))}
    assert set(members["attention"]) == attention == {"q_proj", "k_proj", "v_proj", "o_proj"}
    vision_only = {m.name for m in gemma.linears if m.role == "vision"} - set(gemma.layer_linear_names)
    assert vision_only == {"out_proj", "fc1", "fc2"} and not vision_only & set(members["attention"])
    assert all(m.role == "attention" for m in resolve_targets(gemma, LoraTargets(modules=("attention",))))
    assert set(members["mlp"]) == {"gate_proj", "up_proj", "down_proj"}
    bert = load_spec("google-bert/bert-base-uncased")
    assert "dense" in preset_members(bert)["attention"]  # attention.output.dense is attention's
    moe = preset_members(load_spec("Qwen/Qwen3-30B-A3B"))
    assert "gate" not in moe["mlp"]  # the router is not an MLP projection
