"""The values of the memory model: a training setup (everything but the rank) and the priced results.

INTERFACE CONTRACT: TrainingSetup, MemoryBreakdown, RankRow, RankTable (re-exported by lorplan.core.memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lorplan.core.errors import BadInput

# Bounds beyond which a value is a typo, not a setup (the model-dependent ones are in bounds.py); the planner's
# form reads the same ones.
from lorplan.core.limits import MAX_CUDA_CONTEXT_BYTES, MAX_GPUS, MAX_MICRO_BATCH, MAX_SEQ_LEN
from lorplan.core.lora import LoraTargets
from lorplan.core.vocab import (
    FOUR_BIT_QUANTS,
    SHARDED,
    Attention,
    DType,
    Kernels,
    LossKernel,
    Optimizer,
    Quant,
    Sharding,
    Vocab,
)

DTYPE_BYTES = {DType.BF16: 2, DType.FP16: 2, DType.FP32: 4}

DEFAULT_RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# CUDA context + loaded kernels as NVML sees them before the first tensor. transformers'
# model_memory_anatomy.md measured 1.3 GB (V100, CUDA 11.2); lazy module loading (CUDA >= 11.7) lowers it.
# benchmarks/gpu_memory_check.py measured 0.693-0.738 GiB on an H200 (driver 580, CUDA 13, torch 2.11;
# benchmarks/results/gpu_h200_run.log), above the 500 MiB this default was before, so it is 750 MiB.
# Used when no GPU is present to measure it (lorplan.core.gpu measures it through NVML when one is).
DEFAULT_CUDA_CONTEXT_BYTES = 750 * 1024**2
# Caching-allocator reserve over allocated for fixed-shape steps (heuristic; reported separately): a base plus a
# fraction of the allocated peak. A fraction alone fitted either large models or small ones: against peft's
# MetaMathQA max_memory_reserved (Llama-3.2-3B, 21-35 GB allocated) 5% was within 2%, but on an H200
# (benchmarks/results/gpu_h200_run.log, re-priced by benchmarks/gpu_h200_reprice.py: six LoRA/QLoRA steps of
# 1.8-6.7 GiB) the gap was 0.41-1.39 GiB, 10-29% of the allocated peak, and the 5% left the reserved peak up to 20%
# short. 512 MiB + 5% is within 8.5% of all ten (4.2% mean).
DEFAULT_RESERVE_FRACTION = 0.05
RESERVE_BASE_BYTES = 512 * 1024**2
# cuBLAS workspaces: PyTorch gives each (cuBLAS handle, stream) its own workspace from the caching allocator, so it
# counts in max_memory_allocated (aten/src/ATen/cuda/CublasHandlePool.cpp: 32 MiB on compute capability 9-12,
# Hopper and Blackwell; ":4096:2:16:8" = 8.125 MiB before them), and handles are per thread: the forward pass and
# autograd's backward thread hold one each. The H200 checks measured a constant 64.8 MiB of max_memory_allocated
# beyond the traced tensors on every small model (benchmarks/results/gpu_h200_recommend.log). Priced at the
# Hopper size, which older GPUs hold 48 MiB less of.
CUBLAS_WORKSPACE_BYTES = 2 * 32 * 1024**2
MAX_RESERVE_FRACTION = 1.0  # a reserve as large as the whole allocated peak
MAX_ROPE_SCALING = 64.0  # longest published linear/YaRN extensions are ×32 (YaRN, arXiv 2309.00071)


def check_rope_scaling(value: object) -> None:
    """BadInput unless `value` is None or a RoPE scaling factor above 1 and at most MAX_ROPE_SCALING: the one
    range every command taking --rope-scaling (plan, recommend, profile, probe start) refuses the same way."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 1.0 < value <= MAX_ROPE_SCALING
    ):
        raise BadInput(f"--rope-scaling must be a factor above 1 and at most {MAX_ROPE_SCALING:g}, got {value!r}")


def _choice(flag: str, value: object, vocab: type[Vocab]) -> None:
    if value not in vocab.values():
        raise BadInput(f"{flag}: {value!r} is not one of {', '.join(vocab.values())}")


@dataclass(frozen=True)
class TrainingSetup:
    """Everything about a training step except the rank. Defaults mirror transformers Trainer / TRL:
    bf16 base weights, fp32 adapters, bf16 autocast, SDPA, AdamW (foreach), no gradient checkpointing.
    Validation in __post_init__ raises BadInput with the flag name ("--seq-len must be ≥ 1").

    Fields added by the memory model (all optional):
    autocast: mixed precision (torch.autocast in the compute dtype, as Trainer's bf16=True does). False means
        "pure" training in base_dtype (litgpt's bf16-true); activations then take base_dtype.
    prepare_kbit: with a quantized base, peft's prepare_model_for_kbit_training was applied (every
        non-quantized fp16/bf16 parameter up-cast to fp32). Ignored without quantization.
    kernels: "cuda" (default) models the CUDA kernels (SDPA flash / memory-efficient, optimizer step
        counters on the host); "cpu" models what the CPU kernels save, for the tracing tests.
    foreach: torch AdamW's multi-tensor step (the CUDA default), which keeps one extra copy of the
        adapter's parameter size alive during step().
    reserve_fraction: allocator reserve over allocated, as a fraction of the allocated peak.
    padding_mask: batches carry a padding mask (a padding collator rather than packing / equal lengths): with
        SDPA, GQA models then repeat K/V and every layer keeps an additive b*s*s mask. flash-attention-2
        unpads instead and is priced as without a mask.
    loss: the causal-LM loss kernel: "standard" (transformers' fp32 logits), "fused-linear-ce" (Liger's fused
        linear cross-entropy) or "cut-ce" (Apple's cut cross-entropy); see activations.loss_buffer_bytes.
    rope_scaling: RoPE scaling factor (linear position interpolation) for sequences beyond the model's
        context; None = none. It changes no memory term; bounds.check_context allows seq_len up to
        factor × max_position_embeddings with it, and the plan and its exports carry it.
    """

    targets: LoraTargets = field(default_factory=LoraTargets)
    quant: Quant = "none"
    double_quant: bool = False
    base_dtype: DType = "bf16"
    adapter_dtype: DType = "fp32"
    micro_batch: int = 1
    seq_len: int = 2048
    grad_checkpointing: bool = False
    optimizer: Optimizer = "adamw"
    attention: Attention = "sdpa"
    lora_dropout: float = 0.0
    gpus: int = 1
    sharding: Sharding = "none"
    cuda_context_bytes: int | None = None  # None = the configurable default (or NVML measurement)
    autocast: bool = True
    prepare_kbit: bool = True
    kernels: Kernels = "cuda"
    foreach: bool = True
    reserve_fraction: float = DEFAULT_RESERVE_FRACTION
    padding_mask: bool = False
    rope_scaling: float | None = None
    loss: LossKernel = "standard"

    def __post_init__(self) -> None:
        _choice("--quant", self.quant, Quant)
        _choice("--optimizer", self.optimizer, Optimizer)
        _choice("--attention", self.attention, Attention)
        _choice("--sharding", self.sharding, Sharding)
        _choice("--base-dtype", self.base_dtype, DType)
        _choice("--adapter-dtype", self.adapter_dtype, DType)
        _choice("--kernels", self.kernels, Kernels)
        _choice("--loss", self.loss, LossKernel)
        if self.loss == "cut-ce" and self.base_dtype == "fp32":
            raise BadInput("--loss cut-ce needs --base-dtype bf16 or fp16 (Apple's backward kernel takes 16-bit "
                           "hidden states only)")
        for flag, value, top in (("--micro-batch", self.micro_batch, MAX_MICRO_BATCH),
                                 ("--seq-len", self.seq_len, MAX_SEQ_LEN), ("--gpus", self.gpus, MAX_GPUS)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInput(f"{flag} must be an integer, got {value!r}")
            if value < 1:
                raise BadInput(f"{flag} must be ≥ 1, got {value}")
            if value > top:
                raise BadInput(f"{flag} must be at most {top:,}, got {value:,}")
        if not 0.0 <= float(self.lora_dropout) < 1.0:
            raise BadInput(f"--lora-dropout must be in [0, 1), got {self.lora_dropout}")
        if self.double_quant and self.quant not in FOUR_BIT_QUANTS:
            raise BadInput("--double-quant needs --quant nf4 or fp4")
        if self.gpus == 1 and self.sharding in SHARDED:
            raise BadInput(f"--sharding {self.sharding} needs --gpus ≥ 2")
        if self.gpus > 1 and self.sharding == "none":
            raise BadInput("--gpus > 1 needs --sharding ddp, fsdp, zero2 or zero3")
        if self.cuda_context_bytes is not None and (
            isinstance(self.cuda_context_bytes, bool) or not isinstance(self.cuda_context_bytes, int)
            or not 0 <= self.cuda_context_bytes <= MAX_CUDA_CONTEXT_BYTES
        ):
            from lorplan.core.units import format_bytes

            value = self.cuda_context_bytes  # as a size (a count of bytes named 69793218560), unless no integer
            got = format_bytes(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)
            raise BadInput(f"--cuda-context must be a size from 0 to {format_bytes(MAX_CUDA_CONTEXT_BYTES, 0)}, "
                           f"got {got}")
        if not 0.0 <= float(self.reserve_fraction) <= MAX_RESERVE_FRACTION:
            raise BadInput(f"--reserve-fraction must be from 0 to {MAX_RESERVE_FRACTION:g} (a fraction of the "
                           f"allocated peak; default {DEFAULT_RESERVE_FRACTION:g}), got {self.reserve_fraction}")
        check_rope_scaling(self.rope_scaling)


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes per component for one rank on one GPU. total = sum of the components.
    total - weights - adapter - optimizer - overhead is the predicted in-step peak (gradients + activations).
    details: finer named terms (e.g. "logits_fp32", "lora_dropout_copies", "cuda_context") for the UI.
    """

    weights: int
    adapter: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int
    details: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def total(self) -> int:
        return self.weights + self.adapter + self.gradients + self.optimizer + self.activations + self.overhead


@dataclass(frozen=True)
class RankRow:
    rank: int
    trainable_params: int
    memory: MemoryBreakdown
    fits: bool | None  # None when no GPU or budget was chosen
    max_micro_batch: int | None  # largest micro-batch that fits (0 = not even 1); None without a budget
    max_seq_len: int | None  # longest sequence that fits at the chosen micro-batch; None without a budget


@dataclass(frozen=True)
class RankTable:
    spec_id: str
    setup: TrainingSetup
    budget_bytes: int | None
    rows: tuple[RankRow, ...]
