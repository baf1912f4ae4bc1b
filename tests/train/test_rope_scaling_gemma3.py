"""A plan's model.rope_scaling reaches Gemma 3's rotary embedding. transformers 5 keeps Gemma 3's RoPE in the
text config's rope_parameters, one entry per layer type (full_attention, sliding_attention), and puts a config's
rope_scaling on the full-attention layers alone (Gemma3TextConfig.convert_rope_params_to_dict): the sliding layers
see no more than sliding_window positions. lorplan used to write a flat rope_parameters on the top config: on
Gemma3ForConditionalGeneration the text model never read it, on Gemma3ForCausalLM its keys sat beside the per-type
entries, and either way every frequency stayed as it was while the notes said "RoPE scaled linearly"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.train.model import build_model

from .test_train import tiny_plan

pytestmark = pytest.mark.slow

TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
            head_dim=16, vocab_size=30522, max_position_embeddings=256, sliding_window=16, pad_token_id=0,
            bos_token_id=101, eos_token_id=102)


def _multimodal(folder):
    import torch
    from model_builders import copy_tokenizer
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    copy_tokenizer(folder)
    torch.manual_seed(0)
    cfg = Gemma3Config(text_config=TEXT, vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                            num_attention_heads=2, image_size=16, patch_size=8,
                                                            vision_use_head=False),
                       mm_tokens_per_image=4, image_token_index=30000, boi_token_index=30001, eoi_token_index=30002)
    Gemma3ForConditionalGeneration(cfg).save_pretrained(folder)
    return folder


def _text(folder):
    import torch
    from model_builders import copy_tokenizer
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    copy_tokenizer(folder)
    torch.manual_seed(0)
    Gemma3ForCausalLM(Gemma3TextConfig(**TEXT)).save_pretrained(folder)
    return folder


def _frequencies(model) -> dict:
    rotary = next(m for name, m in model.named_modules() if name.endswith("rotary_emb"))
    return {kind: getattr(rotary, f"{kind}_inv_freq").clone() for kind in ("full_attention", "sliding_attention")}


@pytest.mark.parametrize("build", [_multimodal, _text], ids=["Gemma3ForConditionalGeneration", "Gemma3ForCausalLM"])
def test_rope_scaling_reaches_gemma3_full_attention(tmp_path, build):
    folder = build(tmp_path / "model")
    plan = read_plan(tiny_plan(tmp_path, folder))
    spec = load_spec(str(folder))
    notes: list[str] = []
    plain = build_model(plan, folder, spec, "cpu", 0, notes)
    scaled = build_model(replace(plan, model=replace(plan.model, rope_scaling=4.0)), folder, spec, "cpu", 0, notes)
    f0, f1 = _frequencies(plain), _frequencies(scaled)
    assert (f1["full_attention"] * 4 - f0["full_attention"]).abs().max() < 1e-6  # positions / 4
    assert (f1["sliding_attention"] - f0["sliding_attention"]).abs().max() == 0  # as transformers' rope_scaling
    text = scaled.config.get_text_config()
    assert text.rope_parameters["full_attention"]["rope_type"] == "linear"
    assert text.rope_parameters["full_attention"]["factor"] == 4.0
    assert text.rope_parameters["sliding_attention"]["rope_type"] == "default"
    assert any("RoPE scaled linearly by 4" in n for n in notes)
