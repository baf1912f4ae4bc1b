"""Gemma 2's softcapping against real traced CPU steps (tests/core/memtrace.py).

transformers models/gemma2/modeling_gemma2.py applies tanh softcapping to the attention scores in its eager
attention (scores / cap -> tanh -> * cap, attn_logit_softcapping) and to the head's logits
(final_logit_softcapping). tanh saves its output for backward; the divisions and products by a constant save
nothing. So the attention cap keeps one more score-sized tensor per head per layer, and the final cap one more
logits-sized one until the loss's backward reaches the head. Both are traced here on a tiny random-weight Gemma 2
with the config class's defaults (50 and 30) and with both caps off, and compared with what lorplan prices.
"""

from __future__ import annotations

import peft  # noqa: E402,F401  (a hard dependency: a missing one must fail, not skip)
import pytest

from lorplan.core.lora import LoraTargets  # noqa: E402
from lorplan.core.memory import TrainingSetup, estimate  # noqa: E402
from lorplan.core.memory.activations import activation_model  # noqa: E402
from lorplan.core.model import catalog  # noqa: E402
from lorplan.core.model.sources import from_config  # noqa: E402
from lorplan.core.vocab import Attention, LossKernel  # noqa: E402

RANK, BATCH, SEQ = 8, 2, 128


def _setup(gc: bool, batch: int = BATCH, seq: int = SEQ) -> TrainingSetup:
    return TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=batch, seq_len=seq,
                         grad_checkpointing=gc, lora_dropout=0.0, kernels="cpu", attention="eager")


def _spec(name: str, **override):
    cfg = {**catalog.config(catalog.find(name)), **override}
    cfg = {k: v for k, v in cfg.items() if v is not ...}  # `...` removes a key
    return from_config(cfg, name, "folder", name)


def _caps(spec, **setup) -> tuple[float, float]:
    """(bytes per b*s*s per layer, bytes per token at the loss) the caps add: priced with the spec as is, less
    priced with both caps set to null in its config."""
    s = TrainingSetup(**{"attention": "eager", **setup})
    off = {**spec.config, "attn_logit_softcapping": None, "final_logit_softcapping": None}
    capped, plain = activation_model(spec, s), activation_model(from_config(off, spec.id, "folder", spec.id), s)
    return capped.layer_bs2 - plain.layer_bs2, capped.loss_tokens - plain.loss_tokens


def test_gemma2_prices_both_caps_and_each_only_where_it_applies():
    spec = _spec("google/gemma-2-9b-it")
    heads, vocab = spec.num_attention_heads, spec.vocab_size
    assert _caps(spec) == (2 * heads, 2 * vocab)  # bf16 tanh outputs under autocast
    assert _caps(spec, base_dtype="fp32") == (4 * heads, 4 * vocab)  # fp32 training: fp32 scores and logits
    # SDPA and flash-attention compute the scores inside their kernels (the cap too, for flash)
    for attention in Attention:
        if attention != Attention.EAGER:
            assert _caps(spec, attention=attention) == (0, 2 * vocab)
    # Liger's and Apple's losses never materialize the logits: the cap is their kernel's argument
    for loss in LossKernel:
        if loss != LossKernel.STANDARD:
            assert _caps(spec, loss=loss) == (2 * heads, 0)
    # a config.json without the keys gets Gemma2Config's defaults (50, 30); an explicit null turns a cap off
    assert _caps(_spec("google/gemma-2-9b-it", attn_logit_softcapping=..., final_logit_softcapping=...)) \
        == (2 * heads, 2 * vocab)
    assert _caps(_spec("google/gemma-2-9b-it", attn_logit_softcapping=None)) == (0, 2 * vocab)
    assert _caps(_spec("google/gemma-2-9b-it", final_logit_softcapping=None)) == (2 * heads, 0)


def test_gemma3_has_no_caps_by_default():
    from transformers import Gemma3TextConfig

    assert Gemma3TextConfig().attn_logit_softcapping is None
    assert Gemma3TextConfig().final_logit_softcapping is None
    text = _spec("google/gemma-3-1b-it")
    assert text.model_type == "gemma3_text"
    assert activation_model(text, TrainingSetup(attention="eager")).head_softcap == 0
    assert _caps(text) == (0, 0)
    assert _caps(_spec("google/gemma-3-1b-it", attn_logit_softcapping=..., final_logit_softcapping=...)) == (0, 0)
    # the multimodal Gemma 3 uses Gemma 3's attention, which never applies its cap (below), and its head
    # (Gemma3ForConditionalGeneration) applies no final cap: caps set in its text config add nothing
    vlm = _spec("google/gemma-3-4b-it")
    setup = TrainingSetup(attention="eager")
    assert vlm.model_type == "gemma3"
    plain = activation_model(vlm, setup)
    text_capped = {**vlm.config, "text_config": {**vlm.config["text_config"], "attn_logit_softcapping": 50.0,
                                                 "final_logit_softcapping": 30.0}}
    capped = activation_model(from_config(text_capped, vlm.id, "folder", vlm.id), setup)
    assert capped.layer_bs2 == plain.layer_bs2
    assert capped.loss_tokens == plain.loss_tokens


@pytest.mark.parametrize("name", ["google/gemma-2-2b-it", "google/gemma-3-1b-it"])
def test_an_attention_cap_is_priced_where_transformers_applies_it(name):
    """transformers' Gemma 2 attention passes attn_logit_softcapping to its eager attention; Gemma 3's keeps
    the value but never passes it. A tiny random model of each, with a cap of 1 (which changes any scores
    above ~1): the cap changes the logits exactly where lorplan prices it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = _spec(name)
    tiny = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "final_logit_softcapping": None}

    def logits(cap):
        cfg = AutoConfig.for_model(spec.model_type, **tiny, attn_logit_softcapping=cap)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
        with torch.no_grad():
            model.model.layers[0].self_attn.q_proj.weight.normal_(std=5.0)  # scores far above the cap
            return model(torch.arange(16).unsqueeze(0)).logits

    applied = not torch.allclose(logits(1.0), logits(None))
    priced = _caps(_spec(name, attn_logit_softcapping=1.0))[0]
    assert applied == (name == "google/gemma-2-2b-it")  # the test itself sees the cap where it acts
    assert (priced > 0) == applied, f"{spec.model_type}: cap applied {applied}, priced {priced} bytes"


@pytest.mark.slow
def test_softcapping_saves_what_the_model_prices_byte_for_byte():
    import memtrace

    traced, priced = {}, {}
    for family in ("gemma2", "gemma2-nocap"):
        spec, parts = memtrace.saved_parts(family, RANK, "all-linear", 0.0, BATCH, SEQ, attention="eager")
        last = spec.num_layers - 1
        traced[family] = (parts[(last, "attention")], parts[(None, "model")])
        am = activation_model(spec, _setup(False))
        t = BATCH * SEQ
        priced[family] = (am.attention * t + am.layer_bs2 * t * SEQ, am.head_softcap * t)
    # without the caps the attention core is what lorplan prices for eager, and nothing is priced for the head
    assert traced["gemma2-nocap"][0] == priced["gemma2-nocap"][0]
    assert priced["gemma2-nocap"][1] == 0
    # the caps: one bf16 tanh output per head and score, per layer; one bf16 tanh output per logit
    attn_extra = traced["gemma2"][0] - traced["gemma2-nocap"][0]
    head_extra = traced["gemma2"][1] - traced["gemma2-nocap"][1]
    assert attn_extra > 0 and head_extra > 0  # the tracer sees them
    assert traced["gemma2"][0] == priced["gemma2"][0]
    assert head_extra == priced["gemma2"][1]


@pytest.mark.slow
@pytest.mark.parametrize("gc", [False, True], ids=["no-checkpointing", "checkpointing"])
def test_softcapped_gemma2_in_step_peak_within_5_percent(gc):
    import memtrace

    traced = memtrace.run_step("gemma2", RANK, "all-linear", 0.0, gc, BATCH, SEQ, attention="eager")
    mem = estimate(traced.spec, _setup(gc), RANK)
    predicted = mem.gradients + mem.activations
    error = predicted / traced.in_step_peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    assert mem.weights == traced.param_bytes
    assert mem.adapter == traced.adapter_bytes


@pytest.mark.slow
@pytest.mark.parametrize(("gc", "batch", "seq"), [(False, 2, 128), (True, 2, 512)],
                         ids=["loss-peak", "recompute-peak"])
def test_the_caps_add_to_the_in_step_peak_what_they_price(gc, batch, seq):
    """The caps' share of the peak, traced with and without them, equals the priced share exactly: at the loss
    (no checkpointing: every layer's capped scores and the capped logits) and while the recomputed last block's
    attention back-propagates (checkpointing at a long sequence: one layer's capped scores; the capped logits are
    gone by then)."""
    import memtrace

    peaks, priced = {}, {}
    for family in ("gemma2", "gemma2-nocap"):
        traced = memtrace.run_step(family, RANK, "all-linear", 0.0, gc, batch, seq, attention="eager")
        mem = estimate(traced.spec, _setup(gc, batch, seq), RANK)
        peaks[family], priced[family] = traced.in_step_peak, mem.gradients + mem.activations
        assert mem.details["peak_phase_" + ("attention_top" if gc else "loss")]
    assert peaks["gemma2"] - peaks["gemma2-nocap"] == priced["gemma2"] - priced["gemma2-nocap"] > 0
