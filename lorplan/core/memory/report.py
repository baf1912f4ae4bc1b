"""What a priced rank table says to people and scripts: the `lorplan plan --json` object and fit notes."""

from __future__ import annotations

from dataclasses import fields

from lorplan.core.memory.types import RankRow, RankTable, TrainingSetup
from lorplan.core.model.spec import ModelSpec
from lorplan.core.units import format_bytes


def fit_note(row: RankRow, setup: TrainingSetup, budget_bytes: int | None) -> str | None:
    """One sentence saying why a rank does not fit (None when it fits or no budget was given)."""
    if budget_bytes is None or row.fits is not False:
        return None
    m = row.memory
    static = m.weights + m.adapter + m.optimizer + m.details["cuda_context"]
    if row.max_micro_batch == 0 and row.max_seq_len == 0:
        return (f"rank {row.rank} can never fit: weights, adapter, optimizer state and CUDA context alone take "
                f"{format_bytes(static)} of {format_bytes(budget_bytes)}")
    if row.max_micro_batch == 0:
        return (f"rank {row.rank}: even micro-batch 1 at --seq-len {setup.seq_len} needs {format_bytes(m.total)} of "
                f"{format_bytes(budget_bytes)}; the longest sequence that fits is {row.max_seq_len}")
    return (f"rank {row.rank}: --micro-batch {setup.micro_batch} needs {format_bytes(m.total)} of "
            f"{format_bytes(budget_bytes)}; at most {row.max_micro_batch} fits at --seq-len {setup.seq_len}")


def _setup_json(setup: TrainingSetup) -> dict:
    d = {f.name: getattr(setup, f.name) for f in fields(setup) if f.name != "targets"}
    t = setup.targets
    d["targets"] = {
        "modules": list(t.modules),
        "layers_to_transform": list(t.layers_to_transform) if t.layers_to_transform is not None else None,
        "rank_pattern": dict(t.rank_pattern),
        "alpha_pattern": dict(t.alpha_pattern),
        "use_dora": t.use_dora,
        "modules_to_save": list(t.modules_to_save),
    }
    return d


def plan_json(spec: ModelSpec, table: RankTable) -> dict:
    """The `lorplan plan --json` object (shape in the README), all memory figures integer bytes."""
    total = spec.total_params
    rows = []
    for row in table.rows:
        m = row.memory
        rows.append({
            "rank": row.rank,
            "trainable_params": row.trainable_params,
            "trainable_percent": round(100.0 * row.trainable_params / total, 4) if total else 0.0,
            "memory": {
                "weights": m.weights, "adapter": m.adapter, "gradients": m.gradients, "optimizer": m.optimizer,
                "activations": m.activations, "overhead": m.overhead, "total": m.total,
                "details": {k: int(v) for k, v in m.details.items()},
            },
            "fits": row.fits,
            "max_micro_batch": row.max_micro_batch,
            "max_seq_len": row.max_seq_len,
            "note": fit_note(row, table.setup, table.budget_bytes),
        })
    return {
        "model": {"id": spec.id, "total_params": total, "source": spec.source, "architecture": spec.architecture,
                  "model_type": spec.model_type, "notes": list(spec.notes)},
        "setup": _setup_json(table.setup),
        "budget_bytes": table.budget_bytes,
        "rows": rows,
    }
