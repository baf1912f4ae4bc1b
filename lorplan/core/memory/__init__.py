"""Training memory of a LoRA/QLoRA step, per rank.

INTERFACE CONTRACT (the CLI `plan` command, the TUI, exports and probes use exactly these names):
TrainingSetup, MemoryBreakdown, RankRow, RankTable, estimate, rank_table, plan_json.

Layout, one module per kind of memory, one named function per component (its source cited above the formula):
- `types`: the values (setup, breakdown, rows); `precision`: activation dtype and peft's kbit fp32 up-cast;
- static state: `weights` (base weights by storage), `adapter` (adapter weights and gradients), `optimizer`
  (states per optimizer);
- in-step peak: `activations` (what each block part saves, logits/loss buffers), `lora_saved` (LoRA's saved
  inputs, masks, weight casts), `phases` (how they add up over forward, backward and the optimizer step);
- `overhead` (CUDA context, allocator reserve, sharding); `targets` (peft's tensors and adapted modules);
- `sweep` (estimate, rank sweep, fit solving), `report` (JSON, fit notes).
"""

from __future__ import annotations

from lorplan.core.memory.report import fit_note, plan_json
from lorplan.core.memory.sweep import estimate, rank_table
from lorplan.core.memory.types import (
    DEFAULT_CUDA_CONTEXT_BYTES,
    DEFAULT_RANKS,
    Attention,
    DType,
    MemoryBreakdown,
    Optimizer,
    Quant,
    RankRow,
    RankTable,
    Sharding,
    TrainingSetup,
)

__all__ = [
    "DEFAULT_CUDA_CONTEXT_BYTES",
    "DEFAULT_RANKS",
    "Attention",
    "DType",
    "MemoryBreakdown",
    "Optimizer",
    "Quant",
    "RankRow",
    "RankTable",
    "Sharding",
    "TrainingSetup",
    "estimate",
    "fit_note",
    "plan_json",
    "rank_table",
]
