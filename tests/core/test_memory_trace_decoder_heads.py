"""Decoder classifiers the fallback builds, whose head is not a `score` linear, traced on the CPU against the memory
model (tests/core/memtrace.py's LiveBytes; one real transformers + peft step: LoRA on every linear, bf16 base,
fp32 adapters, CPU bf16 autocast, AdamW foreach, a warm-up step first): CTRLForSequenceClassification (its head
`classifier`, a ReLU MLP, no gradient checkpointing in transformers), ModernBertDecoderForSequenceClassification
(`head`: dense, GELU and LayerNorm over every position, then `drop` and `classifier`; a gated GELU MLP whose fused
Wi output is chunked) and T5Gemma's encoder-only classifier (T5GemmaEncoderModel, eager attention with logit
softcapping). Specs come from the fallback child's report, built in this process (_fallback_child.report).

The static terms (weights, adapter, AdamW states and step counters) are exact. The in-step peak is not yet within
5% for any of them; each family's xfail (strict: a fix that brings it within 5% must drop it) names the part of the
memory model that misprices it, measured when these cases were written:
- CTRL: +5.5% to +6.5%, all in the forward phase: decoder_block_live counts the MLP output projection's input
  (m x intermediate bytes per token) as a local no backward saves, but ReLU saves its output, that same tensor,
  which mlp_saved already prices. Without it: -1.0% to +2.0%.
- ModernBertDecoder: -12% to -22%: mlp_saved prices a gated MLP outside the Llama family as m x i (the GELU's
  input alone) where it saves 3 x m x i (GELU saves its chunk of Wi's output, a view that keeps the whole 2 x i
  storage; the product saves GELU's output); block_norms reads 1 norm a block from layer 0, whose attn_norm is an
  Identity (later layers have 2); the head's GELU input and LayerNorm input (2 x a x h per token) are not priced,
  and head.dense's LoRA is priced per sequence (it reads every position). With those: -1.2% to -5.0%.
- T5Gemma (encoder only): -5.9% to -15.1%: its eager attention applies attn_logit_softcapping (T5GemmaModuleConfig
  defaults to 50.0; activations._ATTN_SOFTCAP lists gemma2 and vaultgemma only), whose tanh output (a x heads
  bytes per b x s x s a layer) is unpriced. With it: -0.1% to +2.5%.
"""

from __future__ import annotations

import json

import pytest

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup, estimate

pytestmark = pytest.mark.slow

LABELS = 3


def _config(family: str):
    """Tiny random-weight configs; the model's own dropout off (ModernBertDecoder's classifier dropout too)."""
    from transformers import CTRLConfig, ModernBertDecoderConfig, T5GemmaConfig

    if family == "ctrl":
        return CTRLConfig(vocab_size=1024, n_positions=512, n_embd=128, dff=512, n_layer=2, n_head=4, resid_pdrop=0.0,
                          embd_pdrop=0.0, num_labels=LABELS, pad_token_id=0)
    if family == "modernbert-decoder":
        return ModernBertDecoderConfig(vocab_size=1024, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                                       num_attention_heads=4, max_position_embeddings=512, num_labels=LABELS,
                                       pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1,
                                       sep_token_id=2, attention_dropout=0.0, embedding_dropout=0.0, mlp_dropout=0.0,
                                       classifier_dropout=0.0)
    part = dict(hidden_size=128, intermediate_size=352, num_hidden_layers=2, num_attention_heads=8,
                num_key_value_heads=2, head_dim=16, vocab_size=1024)
    return T5GemmaConfig(encoder=part, decoder=dict(part, num_hidden_layers=1), vocab_size=1024,
                         is_encoder_decoder=False, num_labels=LABELS)


ARCHITECTURE = {"ctrl": "CTRLForSequenceClassification",
                "modernbert-decoder": "ModernBertDecoderForSequenceClassification",
                "t5gemma": "T5GemmaForSequenceClassification"}
ATTENTION = {"ctrl": "sdpa", "modernbert-decoder": "sdpa", "t5gemma": "eager"}  # T5Gemma's: eager alone

# rank, micro-batch, seq, lora_dropout, gradient checkpointing (CTRL implements none)
ROWS = [(8, 2, 256, 0.0, False), (16, 4, 128, 0.05, False), (8, 2, 256, 0.0, True), (16, 4, 128, 0.05, True)]
CASES = [(f, *row) for f in ARCHITECTURE for row in ROWS if f != "ctrl" or not row[-1]]

_MISPRICED = {
    "ctrl": "forward phase: decoder_block_live counts the ReLU output (saved by ReLU, in mlp_saved) again",
    "modernbert-decoder": "gated MLP outside the Llama family priced m*i (3*m*i saved); layer 0's Identity attn_norm "
                          "read as 1 norm a block; the head's GELU and LayerNorm inputs unpriced",
    "t5gemma": "T5Gemma's eager attention-logit softcapping (its tanh output per b*s*s) unpriced",
}


def _spec(family: str, tmp_path):
    from lorplan.core.model import _fallback_child, fallback

    cfg = {**_config(family).to_dict(), "architectures": [ARCHITECTURE[family]]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, text = _fallback_child.report(str(path), False)  # the child's report, built in this process
    assert code == 0, text
    spec = fallback._spec(json.loads(text), cfg, family, False, f"model_type {family!r}")
    assert spec.pools_last_token is True  # priced as a decoder's classifier
    return spec


def _traced(family: str, rank: int, batch: int, seq: int, dropout: float, gc: bool):
    """(the step's in-step peak, frozen weight bytes, adapter bytes, AdamW state bytes, step counter bytes)."""
    import memtrace
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = memtrace.without_cache(AutoModelForSequenceClassification.from_config(
        _config(family), attn_implementation=ATTENTION[family], dtype=torch.bfloat16))
    if gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=dropout,
                                             target_modules="all-linear", task_type="SEQ_CLS"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
    ids = torch.randint(1, 1024, (batch, seq))  # no pad id 0: each row pools its last token
    peak = memtrace.step_peak(model, opt, ids, torch.randint(0, LABELS, (batch,)))
    states = [s for p in params for s in opt.state[p].items()]
    return (peak, sum(p.untyped_storage().nbytes() for p in model.parameters() if not p.requires_grad),
            sum(p.untyped_storage().nbytes() for p in params),
            sum(v.untyped_storage().nbytes() for k, v in states if k != "step"),
            sum(v.untyped_storage().nbytes() for k, v in states if k == "step"))


def _estimate(spec, family: str, rank: int, batch: int, seq: int, dropout: float, gc: bool):
    setup = TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=batch, seq_len=seq,
                          grad_checkpointing=gc, lora_dropout=dropout, kernels="cpu", attention=ATTENTION[family])
    return estimate(spec, setup, rank)


def _ids(cases):
    return ["-".join(map(str, c)) for c in cases]


@pytest.mark.parametrize("case", [c for c in CASES if not c[-1]], ids=_ids([c for c in CASES if not c[-1]]))
def test_static_terms_exact(case, tmp_path):
    family, rank, batch, seq, dropout, gc = case
    _, weights, adapter, states, counters = _traced(*case)
    mem = _estimate(_spec(family, tmp_path), *case)
    assert (mem.weights, mem.adapter, mem.optimizer) == (weights, adapter, states + counters)
    assert mem.details["optimizer_step_counters"] == counters


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=_MISPRICED[c[0]]))
                                  for c in CASES], ids=_ids(CASES))
def test_in_step_peak_within_5_percent(case, tmp_path):
    family = case[0]
    peak = _traced(*case)[0]
    mem = _estimate(_spec(family, tmp_path), *case)
    error = (mem.gradients + mem.activations) / peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {mem.gradients + mem.activations} vs traced {peak} ({100 * error:+.2f}%)"
