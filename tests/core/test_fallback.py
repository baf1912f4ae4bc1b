"""An architecture the fast path does not know: built by transformers on the meta device in a child process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import load_spec

pytestmark = pytest.mark.slow

GPT_NEOX = {
    "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": 64, "intermediate_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 128, "max_position_embeddings": 128,
    "rotary_pct": 0.25, "tie_word_embeddings": False, "use_parallel_residual": True,
}


@pytest.fixture(scope="module")
def neox_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("neox")
    (d / "config.json").write_text(json.dumps(GPT_NEOX))
    return d


def test_fallback_plan_and_exact_counts(neox_dir, capsys):
    """`lorplan plan` works through the fallback and says so; its counts equal transformers' and peft's."""
    import peft
    import torch
    import transformers

    from lorplan.cli import main

    assert main(["plan", "--model", str(neox_dir), "--json", "--ranks", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["source"] == "fallback"
    assert any("fallback" in n for n in out["model"]["notes"])
    spec = load_spec(str(neox_dir))  # cached: the child ran once
    assert out["rows"][0]["trainable_params"] == trainable_params(spec, LoraTargets(), 4)
    assert spec.source == "fallback" and spec.architecture == "GPTNeoXForCausalLM"
    assert spec.num_layers == 2
    assert "query_key_value" in spec.layer_linear_names
    config = transformers.AutoConfig.from_pretrained(str(neox_dir))
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    assert spec.total_params == out["model"]["total_params"] == sum(p.numel() for p in model.parameters())
    pm = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules="all-linear"))
    assert trainable_params(spec, LoraTargets(), 8) == pm.get_nb_trainable_parameters()[0]


def test_unbuildable_config_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no_such_arch_xyz", "hidden_size": 8}))
    proc = subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "config.json" in proc.stderr


OLMOE = {
    "model_type": "olmoe", "hidden_size": 64, "intermediate_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 4, "num_experts": 4, "num_experts_per_tok": 2,
    "vocab_size": 128, "pad_token_id": 1, "eos_token_id": 2,
}


def test_fallback_moe_follows_peft_expert_renaming(tmp_path):
    """A fused-expert MoE outside the fast path (OLMoE): experts and router are found, and peft's renaming of
    gate_proj/up_proj/down_proj/gate to target_parameters is mirrored."""
    import peft
    import torch
    import transformers

    from lorplan.core.lora import peft_target_modules

    (tmp_path / "config.json").write_text(json.dumps(OLMOE))
    spec = load_spec(str(tmp_path))
    assert spec.source == "fallback" and spec.num_experts == 4 and spec.moe_style == "qwen2_moe"
    config = transformers.AutoConfig.from_pretrained(str(tmp_path))
    for modules in (("all-linear",), ("mlp",), ("gate", "q_proj")):
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
        assert spec.total_params == sum(p.numel() for p in model.parameters())
        targets = LoraTargets(modules=modules)
        pm = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=peft_target_modules(spec, targets)))
        assert trainable_params(spec, targets, 4) == pm.get_nb_trainable_parameters()[0], modules
