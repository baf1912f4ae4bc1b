"""A gated MLP in a LayerNorm decoder (outside activations' Llama family) saves what Llama's does: gate_proj's
output for the activation, the activation's output and up_proj's output for the product, 3 x m x i per token
(activations.mlp_saved). Traced byte for byte on one CPU forward of tiny StableLM, OLMo and Cohere causal LMs
(LoRA on q and v only, so the MLP's own linears save nothing more; memtrace.saved_by_module), with the spec the
fallback child reads from each config.json. These models' MLPs are LlamaMLP's code; before 4529baa they were
priced as m x i, a third of what they save (StableLM 2 1.6B's plan +9.9% at rank 16, bf16, 2048 tokens)."""

from __future__ import annotations

import json

import pytest

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.activations import activation_model

pytestmark = pytest.mark.slow

PART = dict(vocab_size=1024, hidden_size=128, intermediate_size=352, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4)


def _config(family: str):
    from transformers import CohereConfig, OlmoConfig, StableLmConfig

    return {"stablelm": StableLmConfig, "olmo": OlmoConfig, "cohere": CohereConfig}[family](**PART)


@pytest.mark.parametrize("family", ["stablelm", "olmo", "cohere"])
def test_a_layernorm_decoders_gated_mlp_saves_three_intermediates(family, tmp_path):
    import memtrace
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorplan.core.model import _fallback_child, fallback

    config = _config(family)
    cfg = {**config.to_dict(), "architectures": [type(config).__name__.replace("Config", "ForCausalLM")]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, text = _fallback_child.report(str(path), False)  # the child's report, built in this process
    assert code == 0, text
    spec = fallback._spec(json.loads(text), cfg, family, False, f"model_type {family!r}")
    assert spec.gated_mlp and spec.norm == "layernorm"  # outside the Llama family's pricing

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
    model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.train()
    batch, seq = 2, 64
    ids = torch.randint(1, PART["vocab_size"], (batch, seq))

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, labels=ids)

    traced = sum(n for module, n in memtrace.saved_by_module(model, forward).items()
                 if memtrace.part_of(module) == (PART["num_hidden_layers"] - 1, "mlp"))
    setup = TrainingSetup(targets=LoraTargets(modules=("q_proj", "v_proj")), micro_batch=batch, seq_len=seq,
                          kernels="cpu")
    priced = activation_model(spec, setup).mlp * batch * seq
    assert traced == 3 * 2 * PART["intermediate_size"] * batch * seq  # three bf16 m x i tensors
    assert priced == traced
