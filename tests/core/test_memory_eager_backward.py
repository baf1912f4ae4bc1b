"""Eager attention's backward against real traced CPU steps (tests/core/memtrace.py).

transformers' eager_attention_forward (models/llama/modeling_llama.py) computes softmax(dtype=float32) and casts
the probabilities back to the activation dtype. When the softmax back-propagates (_softmax_backward_data), one
layer holds its saved fp32 output, the fp32 gradient .to()'s backward cast, and its own fp32 output: 12 bytes per
score, against the 6 the forward keeps (GPT-2-style code under CPU autocast: a 16-bit softmax, 3 x 2 bytes). With
gradient checkpointing the eager attention masks ((b, 1, s, s) in the embeddings' dtype, two for Gemma 2's full
and sliding layers) stay alive all step, held by every block's checkpoint. At long sequences that moment, not
the loss or the recomputed block's MLP, is the in-step peak: lorplan priced it about 30-35% low (Llama, Gemma 2,
Qwen 2 with checkpointing at seq 512) before the attention_top / attention_bottom phases.
"""

from __future__ import annotations

import peft  # noqa: F401  (a hard dependency: a missing one must fail, not skip)
import pytest

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup, estimate
from lorplan.core.memory.activations import activation_model, attention_masks, eager_backward_bs2
from lorplan.core.model import catalog
from lorplan.core.model.sources import from_config
from lorplan.core.vocab import Attention

RANK = 8


def _setup(gc: bool, batch: int, seq: int, attention: str = "eager", padded: bool = False) -> TrainingSetup:
    return TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=batch, seq_len=seq,
                         grad_checkpointing=gc, lora_dropout=0.0, kernels="cpu", attention=attention,
                         padding_mask=padded)


def _spec(name: str):
    return from_config(catalog.config(catalog.find(name)), name, "folder", name)


def test_the_softmax_backward_holds_three_score_sized_tensors():
    # fp32 softmax (Llama-style code, or any under CUDA autocast): the output, the incoming and outgoing gradients
    assert eager_backward_bs2(32, 2, True, 0, False) == 32 * 12
    # a 16-bit softmax (GPT-2/BERT code under CPU autocast); with dropout its mask while the dropout back-propagates
    assert eager_backward_bs2(4, 2, False, 0, False) == 4 * 6
    assert eager_backward_bs2(4, 2, False, 2, False) == 4 * 8
    # attention-logit softcapping's tanh output is still saved then
    assert eager_backward_bs2(8, 2, True, 0, True) == 8 * 14


def test_only_eager_attention_prices_the_backward_moment_and_only_checkpointing_the_masks():
    spec = _spec("meta-llama/Llama-3.1-8B-Instruct")
    heads = spec.num_attention_heads
    for gc in (False, True):
        am = activation_model(spec, TrainingSetup(attention="eager", grad_checkpointing=gc))
        assert am.attn_backward_bs2 == 12 * heads  # CUDA autocast: fp32 softmax
        assert am.mask_bs2 == 2  # one bf16 causal mask
        phases = estimate(spec, TrainingSetup(attention="eager", grad_checkpointing=gc, seq_len=4096), RANK).details
        assert "phase_attention_top" in phases and "phase_attention_bottom" in phases
    for attention in Attention:
        if attention != Attention.EAGER:
            am = activation_model(spec, TrainingSetup(attention=attention, grad_checkpointing=True))
            assert am.attn_backward_bs2 == 0 and am.mask_bs2 == 0
            details = estimate(spec, TrainingSetup(attention=attention, grad_checkpointing=True), RANK).details
            assert not any(k.startswith("phase_attention") for k in details)
    # Llama-3.1-8B, eager, seq 4096, micro-batch 1, checkpointing: the attention backward is the peak (one layer's
    # 12 x 32 heads x 4096^2 bytes = 6 GiB of softmax tensors), above the loss's logits buffers
    mem = estimate(spec, TrainingSetup(attention="eager", grad_checkpointing=True, seq_len=4096, micro_batch=1), 16)
    assert mem.details["peak_phase_attention_top"] > mem.details["phase_loss"]
    assert mem.details["peak_phase_attention_top"] >= 12 * heads * 4096 * 4096


def test_gemma_builds_a_full_and_a_sliding_mask():
    assert attention_masks(_spec("google/gemma-2-9b-it")) == 2
    assert attention_masks(_spec("meta-llama/Llama-3.1-8B-Instruct")) == 1


# family, checkpointing, micro-batch, seq[, padded]: each peaks while a block's eager softmax back-propagates
CASES = [
    ("llama", True, 2, 256),
    ("llama", True, 2, 512),
    ("llama", True, 1, 1024),
    ("llama-wide", True, 2, 512),
    ("qwen2-tied", True, 2, 512),
    ("gemma2", True, 2, 512),
    ("gpt2-heads", True, 2, 512),
    ("bert", True, 4, 512, "padded"),
    ("llama", False, 1, 1024),
    ("gpt2-heads", False, 2, 512),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_eager_attention_backward_peak_within_5_percent(case):
    import memtrace

    family, gc, batch, seq = case[:4]
    padded = case[4:] == ("padded",)
    traced = memtrace.run_step(family, RANK, "all-linear", 0.0, gc, batch, seq, attention="eager", padded=padded)
    mem = estimate(traced.spec, _setup(gc, batch, seq, padded=padded), RANK)
    predicted = mem.gradients + mem.activations
    error = predicted / traced.in_step_peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    assert "peak_phase_attention_top" in mem.details


@pytest.mark.slow
def test_the_missing_bytes_grow_with_the_scores():
    """What the attention moment adds over the recomputed block's own phase grows as b*s*s*heads: doubling the
    sequence length quadruples the traced peak's s*s part, as priced."""
    import memtrace

    peaks, priced = [], []
    for seq in (256, 512):
        traced = memtrace.run_step("llama", RANK, "all-linear", 0.0, True, 1, seq, attention="eager")
        mem = estimate(traced.spec, _setup(True, 1, seq), RANK)
        peaks.append(traced.in_step_peak)
        priced.append(mem.details["phase_attention_top"])
    assert abs((priced[1] - priced[0]) / (peaks[1] - peaks[0]) - 1.0) <= 0.02
