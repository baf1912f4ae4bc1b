"""Adapter weights and their gradients, from peft's trainable tensors (targets.TensorGroup)."""

from __future__ import annotations

from lorplan.core.memory.targets import TensorGroup


def adapter_tensors(tensors: tuple[TensorGroup, ...], rank: int, lora_bytes: int,
                    copy_bytes: int) -> list[tuple[int, int, int]]:
    """(numel, count, bytes per element) of every trainable tensor at this rank: LoRA tensors in the adapter
    dtype (`lora_bytes`), modules_to_save copies in their module's dtype (`copy_bytes`)."""
    return [(g.per_rank * rank + g.const, g.count, copy_bytes if g.full_copy else lora_bytes) for g in tensors]


def adapter_bytes(lora_params: int, lora_bytes: int, copy_params: int, copy_bytes: int) -> int:
    """Bytes of the trainable parameters: LoRA (and DoRA) tensors plus modules_to_save / task-head copies."""
    # peft/tuners/tuners_utils.py (cast_adapter_dtype, autocast_adapter_dtype=True): 16-bit LoRA weights are
    # up-cast to fp32; peft/utils/other.py (ModulesToSaveWrapper) deep-copies a module in its own dtype
    return lora_params * lora_bytes + copy_params * copy_bytes


def gradient_bytes(adapter: int) -> int:
    """Bytes of the adapter gradients after backward (frozen base weights get none)."""
    # torch/csrc/autograd/functions/accumulate_grad.h: a .grad has its parameter's shape and dtype, and only
    # tensors with requires_grad=True accumulate one
    return adapter
