"""Training memory of a LoRA/QLoRA step, per rank.

INTERFACE CONTRACT (the CLI `plan` command, the TUI, exports and probes use exactly these names).
The full model (activations, optimizer variants, sharding, overheads) lands with the memory-model work; until
then `estimate` fills weights and adapter only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping

from lorplan.core.lora import LoraTargets
from lorplan.core.spec import ModelSpec

Quant = Literal["none", "int8", "nf4", "fp4"]
Optimizer = Literal["adamw", "adamw-8bit", "paged-adamw-8bit", "sgd", "sgd-momentum"]
Attention = Literal["sdpa", "eager", "flash"]
Sharding = Literal["none", "ddp", "fsdp", "zero2", "zero3"]
DType = Literal["bf16", "fp16", "fp32"]

DEFAULT_RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class TrainingSetup:
    """Everything about a training step except the rank. Defaults mirror transformers Trainer / TRL:
    bf16 base weights, fp32 adapters, bf16 autocast, SDPA, AdamW, no gradient checkpointing.
    Validation in __post_init__ raises BadInput with the flag name ("--seq-len must be ≥ 1").
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


def estimate(spec: ModelSpec, setup: TrainingSetup, rank: int) -> MemoryBreakdown:
    """Peak memory of one training step at this rank, per GPU, in bytes."""
    raise NotImplementedError


def rank_table(
    spec: ModelSpec,
    setup: TrainingSetup,
    ranks: tuple[int, ...] = DEFAULT_RANKS,
    budget_bytes: int | None = None,
) -> RankTable:
    """Price every rank; with a budget, also fits / max micro-batch / max sequence length."""
    raise NotImplementedError


def plan_json(spec: ModelSpec, table: RankTable) -> dict:
    """The `lorplan plan --json` object (shape in shared/DESIGN.md), all memory figures integer bytes."""
    raise NotImplementedError
