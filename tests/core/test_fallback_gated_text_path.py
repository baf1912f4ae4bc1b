"""The fallback's gated-MLP reading and its "vision" marking (review of af344e2), on real child builds.

1. A fused gate_up_proj (GLM, GLM-4, Phi-3, Moshi: one projection of twice the MLP's width, chunked into the gate
   and the up half) is a gated MLP: the fast path prices Phi-3's as gated, and a traced CPU step of a GLM agrees
   (-0.1% gated, +2.2% ungated). The child called it ungated.
2. An MLP as wide as the hidden state: the child counted every hidden-reading linear of the first one's width,
   the down projection among them, so fc1 / fc2 (both hidden x hidden) read as a gate and an up, and a gated
   MLP's gate, up and down as three (not gated).
3. An encoder-decoder's text config (T5's decoder copy, T5Gemma's decoder) named its decoder the language model,
   and the encoder, which reads the text, was marked "vision" in no block (a T5 classifier's activations fell by
   a quarter). A classifier's own head outside the model (ModernVBERT's head.dense) is on the text path too:
   only the language model's siblings (vision tower, projector) are "vision"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fallback_trace import traced_error

from lorplan.core.model.sources import load_spec

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def private(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _save(folder: Path, config, architecture: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg["architectures"] = [architecture]
    path.write_text(json.dumps(cfg))
    return str(folder)


SMALL = dict(vocab_size=256, pad_token_id=0, hidden_size=128, num_hidden_layers=2, num_attention_heads=8,
             num_key_value_heads=4, head_dim=16, max_position_embeddings=1024, attention_dropout=0.0)


def test_a_fused_gate_up_projection_is_gated(tmp_path):
    """GLM's MLP: gate_up_proj (hidden -> 2 x intermediate), chunk, act(gate) * up. LoRA r8 all-linear, eager, no
    checkpointing, 1 x 512, bf16 under CPU autocast: gradients + activations against the traced peak."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    cfg = AutoConfig.for_model("glm", intermediate_size=1024, **SMALL)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.bfloat16)
    assert model.model.layers[0].mlp.gate_up_proj.out_features == 2 * 1024  # fused, as the test means
    spec = load_spec(_save(tmp_path / "glm", cfg, type(model).__name__))
    assert spec.source == "fallback" and spec.gated_mlp and spec.intermediate_size == 1024
    error = traced_error(model, spec, cfg.vocab_size)
    assert abs(error) <= 0.01, f"{100 * error:+.2f}%"


@pytest.mark.parametrize(("model_type", "gated"), [("arcee", False), ("helium", True)])
def test_an_mlp_as_wide_as_the_hidden_state(tmp_path, model_type, gated):
    """Arcee: up_proj, down_proj (relu2, ungated); Helium: gate_proj, up_proj, down_proj. Both 128 wide, as the
    hidden state is, so the down projection reads the hidden size too."""
    from transformers import AutoConfig

    cfg = AutoConfig.for_model(model_type, intermediate_size=SMALL["hidden_size"], **SMALL)
    spec = load_spec(_save(tmp_path / model_type, cfg, "X"))
    mlp = {m.name for m in spec.linears if m.layer == 0 and m.role == "mlp"}
    assert ("gate_proj" in mlp) is gated  # the model is what the case says
    assert spec.source == "fallback" and spec.gated_mlp is gated and spec.intermediate_size == 128


def _roles_and_layers(spec) -> tuple[set, set]:
    return {m.role for m in spec.linears}, {m.path.split(".")[1] for m in spec.linears if m.layer is not None}


def test_a_t5_classifier_has_no_vision_tower(tmp_path):
    from transformers import T5Config

    cfg = T5Config(vocab_size=128, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=3, num_heads=4)
    spec = load_spec(_save(tmp_path / "t5", cfg, "T5ForSequenceClassification"))
    assert spec.source == "fallback" and spec.task == "sequence-classification"
    roles, parts = _roles_and_layers(spec)
    assert "vision" not in roles
    assert parts == {"encoder", "decoder"}  # both stacks' linears sit in numbered blocks
    assert spec.num_layers == 3 and spec.hidden_size == 32  # as config.json's top level gives them


def test_a_t5gemma_classifier_has_no_vision_tower(tmp_path):
    from transformers import T5GemmaConfig

    part = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, vocab_size=256)
    cfg = T5GemmaConfig(encoder=dict(part), decoder=dict(part), vocab_size=256)
    spec = load_spec(_save(tmp_path / "t5g", cfg, "T5GemmaForSequenceClassification"))
    assert spec.source == "fallback" and spec.task == "sequence-classification"
    roles, parts = _roles_and_layers(spec)
    assert "vision" not in roles and parts == {"encoder", "decoder"}
    assert (spec.hidden_size, spec.intermediate_size, spec.num_attention_heads) == (64, 96, 4)  # the decoder's


def test_a_classifier_head_outside_the_model_is_on_the_text_path(tmp_path):
    from transformers import ModernVBertConfig

    cfg = ModernVBertConfig(
        text_config=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                         vocab_size=256, pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8))
    spec = load_spec(_save(tmp_path / "mvb", cfg, "ModernVBertForSequenceClassification"))
    assert spec.source == "fallback" and spec.task == "sequence-classification"
    role = {m.path: m.role for m in spec.linears}
    assert role["head.dense"] != "vision"  # ModernVBERT's prediction head reads the text model's output
    vision = {p for p, r in role.items() if r == "vision"}
    assert vision and all(p.startswith(("model.vision_model.", "model.connector.")) for p in vision)
    assert {p for p in role if p.startswith("model.vision_model.")} <= vision
