"""Training memory of a LoRA/QLoRA step, per rank.

INTERFACE CONTRACT (the CLI `plan` command, the TUI, exports and probes use exactly these names):
TrainingSetup, MemoryBreakdown, RankRow, RankTable, estimate, rank_table, plan_json.

Layout: `types` (the values), `static` (weights, adapter, optimizer state), `activations` (the in-step peak),
`sweep` (estimate, rank sweep, fit solving), `report` (JSON, fit notes).
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
