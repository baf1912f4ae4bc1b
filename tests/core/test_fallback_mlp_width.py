"""The MLP width of a fallback spec whose config names none. BLOOM and MPT hard-code it (4 x hidden_size,
expansion_ratio x d_model), GPT-J and GPT-Neo take 4 x hidden when n_inner / intermediate_size is None: their
config.json has no intermediate_size, the spec read 0, and activations.mlp_saved priced their MLP activations as
nothing. The fallback's child builds the model on the meta device, so it reports the width the built block has
(the out_features of the first dense MLP's up-projection: a mixture-of-experts block's first Linear is its router
or a shared expert); a config that names the width keeps it. Real configs, real child builds, and a traced CPU step
of a tiny GPT-J (tests/core/memtrace.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fallback_trace import traced_error

from lorplan.core.model.sources import load_spec

HIDDEN = 64


@pytest.fixture(autouse=True)
def private(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # builds of their own, not another run's


def _folder(tmp_path: Path, model_type: str, **kwargs) -> str:
    from transformers import AutoConfig

    folder = tmp_path / model_type
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(AutoConfig.for_model(model_type, **kwargs).to_dict()))
    return str(folder)


FAMILIES = {
    "bloom": dict(vocab_size=256, hidden_size=HIDDEN, n_layer=2, n_head=4),
    "gptj": dict(vocab_size=256, n_embd=HIDDEN, n_layer=2, n_head=4, rotary_dim=8),
    "mpt": dict(vocab_size=256, d_model=HIDDEN, n_layers=2, n_heads=4),
    "gpt_neo": dict(vocab_size=256, hidden_size=HIDDEN, num_layers=2, num_heads=4,
                    attention_types=[[["global", "local"], 1]]),
}


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_a_config_without_the_width_gets_the_built_blocks(model_type, tmp_path):
    folder = _folder(tmp_path, model_type, **FAMILIES[model_type])
    cfg = json.loads((Path(folder) / "config.json").read_text())
    assert not cfg.get("intermediate_size") and not cfg.get("n_inner")  # the config names none
    spec = load_spec(folder)
    assert spec.source == "fallback"
    assert spec.intermediate_size == 4 * HIDDEN


def test_the_width_follows_the_built_block_not_a_rule(tmp_path):
    # MPT's config carries expansion_ratio, which transformers' MptMLP does not read (it builds 4 x hidden_size):
    # the spec takes the width of the block transformers builds, not one a rule would derive from the config
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = _folder(tmp_path, "mpt", **FAMILIES["mpt"], expansion_ratio=2)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    built = model.transformer.blocks[0].ffn.up_proj.out_features
    assert load_spec(folder).intermediate_size == built


def test_a_config_that_names_the_width_keeps_it(tmp_path):
    spec = load_spec(_folder(tmp_path, "gptj", **FAMILIES["gptj"], n_inner=96))
    assert spec.intermediate_size == 96


@pytest.mark.slow
def test_a_tiny_gptj_step_is_priced_with_its_mlp(tmp_path):
    """LoRA r8 all-linear, eager attention, no checkpointing (every layer keeps its MLP activations), 1 x 512,
    bf16 weights under CPU autocast: lorplan's gradients + activations against the traced peak. With the MLP
    priced as nothing it read -10.0%; with the built width, -0.4%."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    cfg = AutoConfig.for_model("gptj", vocab_size=256, n_embd=128, n_layer=2, n_head=8, n_positions=1024,
                               rotary_dim=8, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.bfloat16)
    (tmp_path / "config.json").write_text(json.dumps({**cfg.to_dict(), "architectures": [type(model).__name__]}))
    spec = load_spec(str(tmp_path))
    assert spec.intermediate_size == 4 * 128
    error = traced_error(model, spec, cfg.vocab_size)
    print(f"gptj traced error {100 * error:+.2f}%")
    assert abs(error) <= 0.02, f"{100 * error:+.2f}%"


MOE = {
    # every layer a mixture of experts; the router's own MLP reads the hidden state first (gate.down_proj, to
    # router_hidden_size): no dense MLP, so no width
    "zaya": dict(vocab_size=256, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, num_experts=4, moe_intermediate_size=48, router_hidden_size=32),
    # layer 0 a mixture of experts (its router, hidden -> num_experts, is a Linear), layer 1 dense: the dense
    # layer's width (first_dense_intermediate_size, a name the fallback does not read) prices it
    "ergo": dict(vocab_size=256, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48,
                 shared_intermediate_size=80, first_dense_intermediate_size=96, mlp_layer_types=["sparse", "dense"]),
}


@pytest.mark.parametrize("model_type", sorted(MOE))
def test_a_mixture_of_experts_block_gives_no_width(model_type, tmp_path):
    # spec.intermediate_size prices the dense layers (activations.mlp_saved; moe_saved the expert layers): the
    # first hidden-reading Linear of an expert block is its router or a shared expert, never a dense MLP's width
    folder = _folder(tmp_path, model_type, **MOE[model_type])
    spec = load_spec(folder)
    assert spec.source == "fallback" and spec.num_experts == 4
    assert spec.intermediate_size == MOE[model_type].get("first_dense_intermediate_size", 0)
