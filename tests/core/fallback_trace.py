"""The traced CPU step the fallback spec tests price a built model against (tests/core/memtrace.py)."""

from __future__ import annotations


def traced_error(model, spec, vocab_size: int) -> float:
    """lorplan's gradients + activations for `spec` over the traced peak of one step of `model`, less 1: LoRA r8 on
    every linear, no checkpointing, 1 x 512 random ids below `vocab_size`, under CPU autocast (the model built with
    eager attention and bf16 weights, as the estimate's setup says)."""
    import memtrace
    import torch

    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup, estimate

    model, opt = memtrace.lora_all_linear(model, 8)
    ids = torch.randint(0, vocab_size, (1, 512))
    peak = memtrace.step_peak(model, opt, ids, mask=torch.ones_like(ids), autocast=True)
    setup = TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=1, seq_len=512,
                          grad_checkpointing=False, lora_dropout=0.0, kernels="cpu", attention="eager",
                          autocast=True, base_dtype="bf16")
    mem = estimate(spec, setup, 8)
    return (mem.gradients + mem.activations) / peak - 1.0
