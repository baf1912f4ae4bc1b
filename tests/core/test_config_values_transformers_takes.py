"""config.json values: lorplan's planner (core.model.archs, no transformers) refuses exactly what transformers
cannot build or train one step with, each case checked against real transformers (a tiny config on the CPU).

Before: plan accepted "head_dim": 0 (read as the default), "num_key_value_heads": 0 (read as the heads),
a num_key_value_heads that does not divide num_attention_heads, a hidden_size that is no multiple of the heads
where transformers derives head_dim from it (or, for Llama and Gemma, always: their configs validate it),
"max_position_embeddings": null, a GPT-2 vocabulary or position table of 0 and a BERT one of 0 or null; the
plan was written and `lorplan train` stopped at the load or the first step. It refused "intermediate_size": 0
as "missing", which transformers and peft train (an MLP of no width).

Where transformers derives head_dim as hidden_size // num_attention_heads (Mistral, Mixtral, Qwen 2, Qwen 3 MoE,
Phi-3), a hidden_size no multiple of the heads trains (the attention projects to heads x head_dim and back): what
fails is an odd head size (RoPE turns the head's dimensions in pairs; Phi-3 alone turns only its
partial_rotary_factor's share) or one of 0. The hidden_size=30 rows below fail for their head size of 7, not for
the 2 units left over: the hidden_size=44 rows (3 heads of 14) train."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model.sources import from_config

DECODER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 64}
BASE = {
    "llama": DECODER,
    "mistral": DECODER,
    "mixtral": {**DECODER, "num_local_experts": 2},
    "qwen2": DECODER,
    "qwen3": {**DECODER, "head_dim": 8},
    "qwen3_moe": {**DECODER, "head_dim": 8, "moe_intermediate_size": 16, "num_experts": 2, "num_experts_per_tok": 1},
    "gemma2": {**DECODER, "head_dim": 8},
    "gemma3_text": {**DECODER, "head_dim": 8},
    "phi3": {**DECODER, "original_max_position_embeddings": 64, "pad_token_id": 0, "bos_token_id": 1,
             "eos_token_id": 2},
    "gpt2": {"n_embd": 32, "n_layer": 1, "n_head": 4, "vocab_size": 64, "n_positions": 64},
    "bert": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
             "vocab_size": 64, "max_position_embeddings": 64},
}
DROP = object()
DECODERS = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "phi3")
DERIVED = ("mistral", "mixtral", "qwen2", "qwen3_moe", "phi3")  # head_dim = hidden_size // heads, unchecked
ODD_30 = "the head size 'hidden_size' // 'num_attention_heads' (30 // 4 = 7) must be even"
# (model types, change, what lorplan's line says, or None where transformers trains it)
CASES = [
    (DECODERS, {"head_dim": 0}, {"mistral": None, "mixtral": None}, "'head_dim' must be a positive integer, not 0"),
    (DECODERS, {"num_key_value_heads": 0}, {}, "'num_key_value_heads' must be a positive integer, not 0"),
    (DECODERS, {"num_key_value_heads": 3}, {}, "'num_key_value_heads' (3) must divide 'num_attention_heads' (4)"),
    (("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "phi3", "gpt2",
      "bert"), {"hidden_size": 30, "head_dim": DROP}, {"qwen3": None, **dict.fromkeys(DERIVED, ODD_30)},
     "'hidden_size' (30) must be a multiple of 'num_attention_heads' (4)"),
    (DECODERS, {"hidden_size": 44, "num_attention_heads": 3, "num_key_value_heads": 1, "head_dim": DROP},
     dict.fromkeys(DERIVED + ("qwen3",)), "'hidden_size' (44) must be a multiple of 'num_attention_heads' (3)"),
    (DERIVED, {"hidden_size": 2, "head_dim": DROP}, {},
     "the head size 'hidden_size' // 'num_attention_heads' (2 // 4) is 0"),
    (("mistral", "mixtral"), {"hidden_size": 2, "head_dim": 0}, {},
     "the head size 'hidden_size' // 'num_attention_heads' (2 // 4) is 0"),
    (DECODERS, {"head_dim": 9}, {}, "'head_dim' (9) must be even"),
    (DECODERS, {"head_dim": 3}, {}, "'head_dim' (3) must be even"),
    (DECODERS, {"head_dim": 9, "partial_rotary_factor": 0.5}, {"phi3": None}, "'head_dim' (9) must be even"),
    (("phi3",), {"head_dim": 9, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                                    "partial_rotary_factor": 0.6}}, {}, None),
    (("phi3",), {"head_dim": 9, "partial_rotary_factor": 1.0}, {}, "'head_dim' (9) must be even"),
    (DECODERS, {"head_dim": 1}, {}, None),
    (("llama", "gemma2", "gemma3_text", "mistral", "qwen2", "phi3", "qwen3"), {"hidden_size": 30, "head_dim": 8},
     {"mistral": None, "qwen2": None, "phi3": None, "qwen3": None},
     "'hidden_size' (30) must be a multiple of 'num_attention_heads' (4)"),
    (DECODERS + ("gpt2", "bert"), {"vocab_size": 0}, {}, "'vocab_size' must be a positive integer, not 0"),
    (("llama", "qwen3", "gemma2", "phi3", "qwen3_moe", "bert"), {"intermediate_size": 0}, {}, None),
    (DECODERS, {"max_position_embeddings": 0}, {}, None),
    (DECODERS + ("bert",), {"max_position_embeddings": None}, {},
     "'max_position_embeddings' must be a positive integer, not null"),
    (("bert",), {"max_position_embeddings": 0}, {}, "'max_position_embeddings' must be a positive integer, not 0"),
    (("gpt2",), {"n_positions": 0}, {}, "'n_positions' must be a positive integer, not 0"),
    (("gpt2",), {"n_positions": None}, {}, "'n_positions' must be a positive integer, not null"),
]
TABLE = [(t, change, exceptions.get(t, says)) for types, change, exceptions, says in CASES for t in types]


def _cfg(model_type: str, change: dict) -> dict:
    cfg = {**BASE[model_type], **change}
    return {k: v for k, v in cfg.items() if v is not DROP}


def _transformers_trains(model_type: str, cfg: dict) -> bool:
    """Whether transformers builds the model from `cfg` (SDPA; Gemma 2 eager, the one it has) and trains one
    step of 8 tokens."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    try:
        config = AutoConfig.for_model(model_type, **cfg)
        cls = AutoModelForSequenceClassification if model_type == "bert" else AutoModelForCausalLM
        model = cls.from_config(config, attn_implementation="eager" if model_type == "gemma2" else "sdpa")
        ids = torch.randint(3, 60, (1, 8), generator=torch.Generator().manual_seed(0))
        model(input_ids=ids, labels=torch.tensor([1]) if model_type == "bert" else ids).loss.backward()
    except Exception:
        return False
    return True


def _case_id(model_type: str, change: dict) -> str:
    return "-".join([model_type, *(f"{k}={'absent' if v is DROP else v}" for k, v in change.items())])


@pytest.mark.parametrize(("model_type", "change", "says"), TABLE, ids=[_case_id(t, c) for t, c, _ in TABLE])
def test_plan_refuses_what_transformers_cannot_train(model_type, change, says):
    cfg = _cfg(model_type, change)
    assert _transformers_trains(model_type, cfg) is (says is None), "the table disagrees with transformers"
    if says is None:
        from_config({"model_type": model_type, **cfg}, "m", "folder", where="config.json at /m/config.json")
        return
    with pytest.raises(BadInput) as exc:
        from_config({"model_type": model_type, **cfg}, "m", "folder", where="config.json at /m/config.json")
    assert str(exc.value).startswith(f"config.json at /m/config.json: {says}"), str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("model_type", BASE)
def test_the_tiny_configs_train(model_type):
    # the table's control: every base config is one transformers trains and lorplan plans
    assert _transformers_trains(model_type, _cfg(model_type, {}))
    from_config({"model_type": model_type, **_cfg(model_type, {})}, "m", "folder", where="x")
