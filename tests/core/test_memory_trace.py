"""The in-step peak and static terms of the memory model against real traced CPU training steps.

Each case runs one real transformers + peft step (forward, backward, AdamW step) on a tiny random-weight model
and measures every tensor the step allocates (tests/core/memtrace.py). The estimator is called with
kernels="cpu", which models what the CPU kernels save (dropout noise as a float tensor, bf16 LayerNorm under
CPU autocast, step counters on the device); everything else is the default CUDA-path model.

The grid: for each of three families (Llama GQA + SwiGLU; GPT-2 GELU + LayerNorm + fused qkv + tied
embeddings; Qwen2 with tied embeddings and q/k/v biases), an L8 orthogonal array over six two-level axes
(rank 8/64, all-linear / q,v, checkpointing on/off, micro-batch 1/4, seq 64/256, lora_dropout 0/0.05):
every value of every axis, and every pair of values of any two axes, is traced for every family.
"""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("peft")

from lorplan.core.lora import LoraTargets  # noqa: E402
from lorplan.core.memory import TrainingSetup, estimate, rank_table  # noqa: E402

FAMILIES = ("llama", "gpt2", "qwen2-tied")


def _l8():
    rows = []
    for a, b, c in itertools.product((0, 1), repeat=3):
        rows.append({
            "rank": (8, 64)[a],
            "targets": ("all-linear", "qv")[b],
            "gc": bool(c),
            "batch": (1, 4)[a ^ b],
            "seq": (64, 256)[a ^ c],
            "dropout": (0.0, 0.05)[b ^ c],
        })
    return rows


CASES = [(fam, row) for fam in FAMILIES for row in _l8()]


def _setup(family: str, row: dict) -> TrainingSetup:
    import memtrace

    mods = ("all-linear",) if row["targets"] == "all-linear" else tuple(memtrace.TARGETS[family]["qv"])
    return TrainingSetup(targets=LoraTargets(modules=mods), micro_batch=row["batch"], seq_len=row["seq"],
                         grad_checkpointing=row["gc"], lora_dropout=row["dropout"], kernels="cpu")


def test_grid_covers_every_axis_value_and_pair():
    rows = _l8()
    keys = list(rows[0])
    for k1, k2 in itertools.combinations(keys, 2):
        assert len({(r[k1], r[k2]) for r in rows}) == 4, (k1, k2)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "row"), CASES, ids=[f"{f}-{'-'.join(map(str, r.values()))}" for f, r in CASES])
def test_in_step_peak_within_5_percent_and_static_terms_exact(family, row):
    import memtrace

    traced = memtrace.run_step(family, row["rank"], row["targets"], row["dropout"], row["gc"], row["batch"],
                               row["seq"])
    setup = _setup(family, row)
    mem = estimate(traced.spec, setup, row["rank"])
    predicted = mem.gradients + mem.activations
    error = predicted / traced.in_step_peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    # static terms: exact, tensor by tensor sizes summed
    assert mem.weights == traced.param_bytes
    assert mem.adapter == traced.adapter_bytes
    assert mem.optimizer == traced.optimizer_bytes + traced.step_counter_bytes
    assert mem.details["optimizer_step_counters"] == traced.step_counter_bytes
    assert rank_table(traced.spec, setup, (row["rank"],)).rows[0].trainable_params == traced.trainable_params


# Other paths of the model, one or two traced cases each: a recomputed block that outweighs the loss buffers
# (wide MLP, small vocabulary), eager attention (s x s scores), pure bf16 training without autocast (peft's
# method comparison), QLoRA through transformers' bitsandbytes loading + prepare_model_for_kbit_training, and
# adapters kept in bf16 (peft's autocast_adapter_dtype=False: inputs shared by q/k/v are saved once), and
# padded batches (attention_mask with padding: K/V repeated for GQA, an additive mask per layer).
MORE = [
    # family, rank, targets, dropout, gc, batch, seq, attention, autocast, quant, adapter dtype[, padded]
    ("llama-wide", 8, "all-linear", 0.05, True, 2, 128, "sdpa", True, "none", "fp32"),
    ("llama-wide", 64, "all-linear", 0.0, True, 1, 128, "sdpa", True, "none", "fp32"),
    ("llama", 8, "all-linear", 0.0, False, 1, 256, "eager", True, "none", "fp32"),
    ("gpt2", 64, "qv", 0.05, False, 4, 64, "eager", True, "none", "fp32"),
    ("llama", 8, "qv", 0.0, False, 4, 128, "sdpa", False, "none", "fp32"),
    ("qwen2-tied", 64, "all-linear", 0.05, False, 1, 64, "sdpa", False, "none", "fp32"),
    ("llama", 8, "all-linear", 0.0, False, 2, 128, "sdpa", True, "nf4", "fp32"),
    ("llama", 16, "all-linear", 0.05, True, 2, 128, "sdpa", True, "nf4", "fp32"),
    ("llama", 8, "all-linear", 0.0, False, 2, 128, "sdpa", True, "none", "bf16"),
    ("gpt2", 16, "all-linear", 0.0, False, 2, 128, "sdpa", True, "none", "bf16"),
    ("llama", 64, "all-linear", 0.05, False, 4, 256, "sdpa", True, "none", "fp32", "padded"),
    ("qwen2-tied", 8, "all-linear", 0.0, True, 4, 256, "sdpa", True, "none", "fp32", "padded"),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", MORE, ids=["-".join(map(str, c)) for c in MORE])
def test_more_paths_within_5_percent(case, tmp_path):
    import memtrace

    family, rank, targets, dropout, gc, batch, seq, attention, autocast, quant, adapter = case[:11]
    padded = case[11:] == ("padded",)
    traced = memtrace.run_step(family, rank, targets, dropout, gc, batch, seq, attention=attention,
                               autocast=autocast, quant=quant, tmp_dir=str(tmp_path), adapter_fp32=adapter == "fp32",
                               padded=padded)
    mods = ("all-linear",) if targets == "all-linear" else tuple(memtrace.TARGETS[family]["qv"])
    setup = TrainingSetup(targets=LoraTargets(modules=mods), micro_batch=batch, seq_len=seq, grad_checkpointing=gc,
                          lora_dropout=dropout, kernels="cpu", attention=attention, autocast=autocast, quant=quant,
                          double_quant=quant != "none", adapter_dtype=adapter, padding_mask=padded)
    mem = estimate(traced.spec, setup, rank)
    predicted = mem.gradients + mem.activations
    error = predicted / traced.in_step_peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    assert mem.weights == traced.param_bytes
    assert mem.adapter == traced.adapter_bytes
    assert mem.optimizer == traced.optimizer_bytes + traced.step_counter_bytes
