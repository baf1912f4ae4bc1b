"""Does the recommended rank fit the chosen GPU? If not, what would, and which rank fits as it is.

Priced with lorplan's memory model (lorplan.core.memory.estimate / rank_table) for the user's TrainingSetup.
The remedies tried at the recommended rank are the plan table's (lorplan.core.memory.report.fit_hints): a
smaller micro-batch (gradient accumulation keeps the batch), gradient checkpointing, an 8-bit optimizer, NF4
base weights with double quantization (QLoRA, Dettmers et al. 2023, arXiv 2305.14314), no fp32 up-cast of a
quantized base (--no-prepare-kbit), each alone and when none is enough the smallest combinations that are; then
LoRA on the attention projections only and shorter sequences (they change what is trained); only when nothing
fits on the GPUs the setup has (--gpus, one by default), ZeRO-3 over the fewest more GPUs with the fewest other
changes. Each is spelled as the flags that give its figure, which `lorplan plan` and `lorplan recommend` both take
(cli.plan_args defines the setup flags once): added to the recommend command as printed, they price the same rank
at that figure, unless they change the targets, which changes the rank the capacity prior recommends (the verdict
says so). Pure Python.
"""

from __future__ import annotations

from lorplan.core.units import format_bytes
from lorplan.recommend.types import Fit, Remedy

# The flags that end default_batch_clause, which the planner words as its field (tui.recommend_bridge.fit_words).
# `lorplan plan`'s table prices one row per step without --micro-batch (cli.plan.TABLE_MICRO_BATCH), so a
# classifier's 16 here reads like a different model's figure unless the line says where it came from.
BATCH_FLAGS = "lorplan plan's table prices 1 row unless given --micro-batch; --micro-batch N prices another"

# The remedy flag that changes what is trained (fit_hints' attention-only targets), and so the capacity prior's rank.
RETARGETS = "--targets"


def default_batch_clause(task: str, micro_batch: int) -> str:
    """"; micro-batch 16 is sequence-classification's default, ..." when the setup's micro-batch is its task's
    default (core.plan.defaults.micro_batch) above 1, the rows per step its probes and a written plan train;
    else "" (a causal LM's 1 is what `lorplan plan` prices too, and a micro-batch typed otherwise is the user's)."""
    from lorplan.core.plan.defaults import micro_batch as task_micro_batch

    if micro_batch <= 1 or micro_batch != task_micro_batch(task):
        return ""
    return (f"; micro-batch {micro_batch} is {task}'s default, the rows per step its probes and a written plan "
            f"train ({BATCH_FLAGS})")


def gpus_words(gpus: int, sharding: str) -> str:
    """" over 4 GPUs with ZeRO-3": how a training over several GPUs shares the work, said after a figure per GPU
    (the memory verdict, `lorplan recommend`'s memory line, the fewer-GPUs remedy); "" on one GPU."""
    from lorplan.core.vocab import Sharding

    return f" over {gpus} GPUs with {Sharding(sharding).label}" if gpus > 1 else ""


def price_fit(spec, setup, rank: int, budget_bytes: int | None, gpu: str | None = None) -> Fit:
    """The recommended rank priced against the budget (bytes per GPU; None = no GPU chosen). The remedies are
    lorplan.core.memory.report.fit_hints, the rule the plan table's hints follow, spelled as CLI flags."""
    from lorplan.core.memory import rank_table
    from lorplan.core.memory.report import fit_hints

    table = rank_table(spec, setup, (rank,), budget_bytes)
    row = table.rows[0]
    total = row.memory.total
    where = gpu or "the budget"
    # the setup's shape in words, not as flags: it may be the profile's suggestion or a default, not a flag typed;
    # over several GPUs the figure is one GPU's share (ZeRO-3: a quarter of the weights over 4), which a probe (one
    # GPU, unsharded) or a one-GPU run does not get
    shape = f"{gpus_words(setup.gpus, setup.sharding)} at micro-batch {setup.micro_batch} × {setup.seq_len:,} tokens"
    why = default_batch_clause(spec.task, setup.micro_batch)  # said last: the verdict comes first
    over = {"gpus": setup.gpus, "sharding": str(setup.sharding)}  # the same, as --json's fields
    if budget_bytes is None:
        return Fit(rank, total, None, gpu, None, None, (),
                   f"rank {rank} needs {format_bytes(total)} per GPU{shape}; no GPU budget was given "
                   f"(--gpu or --gpu-memory), so whether it fits is not checked{why}", **over)
    if row.fits:
        return Fit(rank, total, budget_bytes, gpu, True, rank, (),
                   f"rank {rank} fits {where}: {format_bytes(total)} of {format_bytes(budget_bytes)} per "
                   f"GPU{shape}{why}", **over)
    lower = [1 << k for k in range(rank.bit_length()) if (1 << k) < rank]
    fitting = [r.rank for r in rank_table(spec, setup, tuple(lower), budget_bytes).rows if r.fits] if lower else []
    rank_fits = max(fitting) if fitting else None
    remedies = tuple(Remedy(h.flags, h.total, h.fits) for h in fit_hints(spec, setup, row, budget_bytes))
    works = [r.change for r in remedies if r.fits]
    text = f"rank {rank} needs {format_bytes(total)} per GPU{shape}, more than {where} ({format_bytes(budget_bytes)})"
    text += f"; it fits with {' or with '.join(works)}" if works else "; none of the usual changes makes it fit"
    if any(RETARGETS in w.split() for w in works):  # the prior's parameters per rank unit change with the targets
        text += (" (LoRA on fewer modules has fewer parameters per rank, so with it the rank is recommended anew and "
                 "priced at that rank)")
    text += (f"; rank {rank_fits} fits as set up" if rank_fits is not None
             else "; no smaller rank fits as set up either")
    text += why
    return Fit(rank, total, budget_bytes, gpu, False, rank_fits, remedies, text, **over)
