"""What a priced rank table says to people and scripts: the `lorplan plan --json` object, fit notes, notes on
figures that look surprising (each with the numbers that explain it), and priced hints for a rank that does not
fit (only changes the setup has not already made, each with the total it would reach)."""

from __future__ import annotations

from dataclasses import fields, replace
from itertools import combinations
from typing import NamedTuple

from lorplan.core.errors import BadInput
from lorplan.core.memory.bounds import context_tokens
from lorplan.core.memory.phases import PHASE_WORDS
from lorplan.core.memory.precision import kbit_upcast
from lorplan.core.memory.sweep import estimate, peak_moment
from lorplan.core.memory.types import RankRow, RankTable, TrainingSetup
from lorplan.core.model.spec import ModelSpec
from lorplan.core.units import format_bytes, format_count
from lorplan.core.vocab import FOUR_BIT_QUANTS, WEIGHT_SHARDED


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


def setup_notes(spec: ModelSpec, setup: TrainingSetup, rank: int) -> list[str]:
    """Sentences that explain figures a user would not expect from this setup, priced at `rank` (empty when
    nothing needs explaining): peft's fp32 up-cast of a quantized base, fused MoE experts that bitsandbytes
    leaves unquantized, a sequence beyond the model's context priced with RoPE scaling, and a named target the
    model reads as a raw weight, in a state-space mixer or elsewhere (core.lora.bypass_notes: Mamba's dt_proj,
    Gemma 3n's correction_coefs), and the modules a preset leaves out because the model reads them so outside a
    mixer (core.lora.preset_bypass_notes: LayoutLMv3's rel_pos_bias tables, which peft's all-linear adapts)."""
    from lorplan.core.lora import bypass_notes, preset_bypass_notes

    notes: list[str] = bypass_notes(spec, setup.targets) + preset_bypass_notes(spec, setup.targets, rank)
    if setup.quant != "none":
        notes += _quant_notes(spec, setup, rank)
    ctx = spec.max_position_embeddings
    if setup.rope_scaling is not None and ctx > 0:
        if setup.seq_len > ctx:
            notes.append(f"--seq-len {setup.seq_len} is beyond {spec.id}'s context of {ctx:,} tokens: priced with "
                         f"--rope-scaling {setup.rope_scaling:g} (linear position interpolation, positions / "
                         f"{setup.rope_scaling:g}, up to {context_tokens(spec, setup):,} tokens), which the plan "
                         "and its exports set on the model config; RoPE scaling adds no memory term")
        else:
            notes.append(f"--rope-scaling {setup.rope_scaling:g} is not needed: --seq-len {setup.seq_len} is "
                         f"within {spec.id}'s context of {ctx:,} tokens (the plan still carries it)")
    return notes


def _quant_notes(spec: ModelSpec, setup: TrainingSetup, rank: int) -> list[str]:
    notes: list[str] = []
    here = estimate(spec, setup, rank)
    plain = estimate(spec, replace(setup, quant="none", double_quant=False), rank)
    experts = sum(t.numel for t in spec.tensors if t.kind == "experts")
    up = kbit_upcast(setup)
    if experts:
        # transformers integrations/bitsandbytes.py (replace_with_bnb_linear) swaps nn.Linear / Conv1D modules
        # only, and quantizers/quantizer_bnb_4bit.py quantizes only Linear4bit weights: 3-D expert parameters
        # stay in the loaded dtype (transformers 5 patches only Llama 4's experts into Linear modules first)
        no_prep = estimate(spec, replace(setup, prepare_kbit=False), rank) if up else here
        text = (f"{setup.quant}: {spec.id}'s experts are fused 3-D parameters ({format_count(experts)} of its "
                f"{format_count(spec.total_params)}), which bitsandbytes does not quantize (transformers replaces "
                "nn.Linear modules only)")
        if up:
            text += (f"; peft's prepare_model_for_kbit_training then up-casts them to fp32: weights "
                     f"{format_bytes(here.weights)} against {format_bytes(plain.weights)} in {setup.base_dtype}. "
                     f"--no-prepare-kbit keeps them in {setup.base_dtype} (weights {format_bytes(no_prep.weights)}, "
                     f"total {format_bytes(no_prep.total)})")
        else:
            text += f": weights {format_bytes(here.weights)} against {format_bytes(plain.weights)} unquantized"
        text += f"; without quantization the total is {format_bytes(plain.total)}, with it {format_bytes(here.total)}"
        notes.append(text)
    if up:
        no_prep = estimate(spec, replace(setup, prepare_kbit=False), rank)
        step, step_np, step_plain = (m.gradients + m.activations for m in (here, no_prep, plain))
        text = (f"{setup.quant}: peft's prepare_model_for_kbit_training up-casts every parameter bitsandbytes "
                "leaves unquantized (embeddings, norms, output head) to fp32, so the residual stream and the norms' "
                f"outputs are fp32 too: the in-step peak at rank {rank} is {format_bytes(step)}, against "
                f"{format_bytes(step_np)} without that call (--no-prepare-kbit, total {format_bytes(no_prep.total)})")
        if step_np == step_plain:
            text += f", as with a {setup.base_dtype} base"
        else:
            text += f" and {format_bytes(step_plain)} with a {setup.base_dtype} base"
        if here.total >= plain.total and here.weights < plain.weights:
            text += (f"; here the {setup.quant} total ({format_bytes(here.total)}) is not below the "
                     f"{setup.base_dtype} one ({format_bytes(plain.total)}): the fp32 activations outweigh the "
                     "smaller weights")
        notes.append(text)
    return notes


class Hint(NamedTuple):
    """A change that is not already made, priced: `words` for people, `flags` as `lorplan plan` takes them
    (added to the command as typed, they give `total`), `total` bytes per GPU with it, and whether that fits the
    budget."""

    words: str
    flags: str
    total: int
    fits: bool


class _Change(NamedTuple):
    words: str
    flags: str
    change: dict


# The GPU counts tried when nothing fits on the GPUs the setup has (ZeRO-3 over more of them).
_MORE_GPUS = (2, 4, 8, 16, 32, 64)


def _how_changes(spec: ModelSpec, setup: TrainingSetup, row: RankRow) -> list[_Change]:
    """The changes of how the step runs (not of what is trained), none of them already made, in the order they
    are offered; a setup with several GPUs that are not weight-sharded may shard them (ZeRO-3, last)."""
    changes: list[_Change] = []
    micro = max(1, row.max_micro_batch or 0)
    if micro < setup.micro_batch:
        changes.append(_Change(f"micro-batch {micro} (gradient accumulation keeps the batch)",
                               f"--micro-batch {micro}", {"micro_batch": micro}))
    if not setup.grad_checkpointing and spec.supports_gradient_checkpointing:  # CTRL's class cannot: plan refuses it
        changes.append(_Change("gradient checkpointing", "--grad-checkpointing", {"grad_checkpointing": True}))
    if setup.optimizer == "adamw":
        changes.append(_Change("8-bit AdamW", "--optimizer adamw-8bit", {"optimizer": "adamw-8bit"}))
    if setup.quant not in FOUR_BIT_QUANTS:
        changes.append(_Change("a 4-bit NF4 base (QLoRA)", "--quant nf4 --double-quant",
                               {"quant": "nf4", "double_quant": True}))
    if setup.prepare_kbit and (setup.quant != "none" or any(c.flags.startswith("--quant") for c in changes)):
        # peft's prepare_model_for_kbit_training up-casts what bitsandbytes leaves unquantized to fp32: an MoE's
        # fused experts, the norms, embeddings and head (setup_notes says how much)
        changes.append(_Change("no prepare_model_for_kbit_training (no fp32 up-cast)", "--no-prepare-kbit",
                               {"prepare_kbit": False}))
    if setup.gpus > 1 and setup.sharding not in WEIGHT_SHARDED:
        changes.append(_Change(f"FSDP / ZeRO-3 over the {setup.gpus} GPUs", "--sharding zero3",
                               {"sharding": "zero3"}))
    return changes


def _attention_only(spec: ModelSpec, setup: TrainingSetup) -> _Change | None:
    """LoRA on the attention projections instead of every linear module (an MoE's fused experts then take no
    adapter): offered for the default all-linear targets only, where the model has attention modules."""
    t = setup.targets
    if tuple(t.modules) != ("all-linear",) or t.rank_pattern or t.alpha_pattern or t.layers_to_transform is not None:
        return None
    from lorplan.core.lora import preset_members

    if not preset_members(spec).get("attention"):
        return None
    return _Change("LoRA on the attention projections only (what is trained changes)", "--targets attention",
                   {"targets": replace(t, modules=("attention",))})


def fit_hints(spec: ModelSpec, setup: TrainingSetup, row: RankRow, budget_bytes: int | None) -> list[Hint]:
    """Priced changes that lower a rank's memory, none of them already made (empty when the rank fits or no
    budget was given). On the GPUs the setup has: each change of how the step runs alone (a smaller
    micro-batch, gradient checkpointing where the model's class implements it, an 8-bit optimizer, a 4-bit
    base, no fp32 up-cast of a quantized base, ZeRO-3 over the setup's own GPUs) and, when none alone fits, the
    smallest combinations that do; what fits is listed first. When nothing of that fits, LoRA on attention only
    (alone or with the fewest of those changes). Shorter sequences come last among these (they change what is
    trained). Only when nothing fits on the setup's GPUs: ZeRO-3 over the fewest more GPUs that hold it, with
    the fewest other changes it needs. A single change that saves under 5% of the overshoot is left out. Each
    total is `estimate` of the setup with the change, so `lorplan plan` with the hint's flags added prints it."""
    if budget_bytes is None or row.fits is not False:
        return []
    rank, total = row.rank, row.memory.total
    priced: dict[tuple, int | None] = {}

    def cost(change: dict) -> int | None:
        """The total with `change` (None: a setup the planner refuses, such as a target matching nothing)."""
        if change.get("quant", setup.quant) == "none":  # prepare_kbit changes nothing without quantization
            change = {k: v for k, v in change.items() if k != "prepare_kbit"}
        key = tuple(sorted((k, repr(v)) for k, v in change.items()))
        if key not in priced:
            try:
                priced[key] = estimate(spec, replace(setup, **change), rank).total
            except BadInput:
                priced[key] = None
        return priced[key]

    def joined(parts: tuple[_Change, ...]) -> tuple[str, str, dict]:
        together: dict = {}
        for c in parts:
            together.update(c.change)
        return (" + ".join(c.words.split(" (")[0] for c in parts), " ".join(c.flags for c in parts), together)

    def fewest(base: tuple[_Change, ...], options: list[_Change], start: int,
               below: int | None = None) -> tuple[int, list[Hint]]:
        """The smallest sets of `options` (at least `start` of them, fewer than `below`) that fit with `base`,
        each priced, and their size. The set of all of them is tried first: a budget it misses, no smaller set
        meets (each change lowers the total)."""
        everything = cost(joined((*base, *options))[2])
        if everything is None or everything > budget_bytes:
            return 0, []
        most = len(options) if below is None else min(below - 1, len(options))
        for size in range(start, most + 1):
            found = []
            for combo in combinations(options, size):
                words, flags, change = joined((*base, *combo))
                mem = cost(change)
                if mem is not None and mem <= budget_bytes:
                    found.append(Hint(words, flags, mem, True))
            if found:
                return size, found
        return 0, []

    how = _how_changes(spec, setup, row)
    hints: list[Hint] = []
    for c in how:
        mem = cost(c.change)
        # a change that saves under 5% of the overshoot is no answer (8-bit states of a small adapter)
        if mem is not None and mem < total and total - mem >= 0.05 * (total - budget_bytes):
            hints.append(Hint(c.words, c.flags, mem, mem <= budget_bytes))
    if not any(h.fits for h in hints):  # none alone is enough: the smallest combinations that are
        hints += fewest((), how, 2)[1]
    attention = _attention_only(spec, setup)
    if attention is not None and not any(h.fits for h in hints):
        hints += fewest((attention,), how, 0)[1]
    hints.sort(key=lambda h: not h.fits)  # what fits first, each group in the order above
    if row.max_seq_len and row.max_seq_len < setup.seq_len:  # last on these GPUs: it changes what is trained
        mem = cost({"seq_len": row.max_seq_len})
        if mem is not None and mem < total:
            hints.append(Hint(f"sequences of at most {row.max_seq_len:,} tokens", f"--seq-len {row.max_seq_len}",
                              mem, mem <= budget_bytes))
    if any(h.fits for h in hints):
        return hints
    # nothing fits on the setup's GPUs: the fewest more GPUs that hold it weight-sharded, with the fewest changes
    # they need; then the fewest GPUs that need fewer changes, down to none (each count a trade the user weighs)
    sharding = setup.sharding if setup.sharding in WEIGHT_SHARDED else "zero3"
    others = [c for c in how if "sharding" not in c.change]
    for extra in ((), (attention,)) if attention is not None else ((),):
        need: int | None = None  # how many changes the fewest GPUs so far needed
        for gpus in (g for g in _MORE_GPUS if g > setup.gpus):
            flags = f"--gpus {gpus}" + ("" if sharding == setup.sharding else f" --sharding {sharding}")
            more = _Change(f"FSDP / ZeRO-3 over {gpus} GPUs", flags, {"gpus": gpus, "sharding": sharding})
            size, found = fewest((more, *extra), others, 0, need)
            if found:
                hints += found
                need = size
                if size == 0:
                    break
        if need is not None:
            break
    return hints


def format_hint(hint: Hint, budget_bytes: int, *, flags: bool = False) -> str:
    """ "gradient checkpointing: 18.86 GiB (fits)" / "… (2.10 GiB over)"; with flags, the CLI spelling."""
    what = hint.flags if flags else hint.words
    verdict = "fits" if hint.fits else f"{format_bytes(hint.total - budget_bytes)} over"
    return f"{what}: {format_bytes(hint.total)} ({verdict})"


def peak_summary(spec: ModelSpec, setup: TrainingSetup, rank: int, limit: int = 6) -> str:
    """One line: the peak moment in words and the largest terms alive then (they add up to the total)."""
    pm = peak_moment(spec, setup, rank)
    terms = sorted(pm.terms, key=lambda kv: -kv[1])[:limit]
    return (f"peak at {PHASE_WORDS.get(pm.phase, pm.phase)}; largest then: "
            + " · ".join(f"{k} {format_bytes(v)}" for k, v in terms))


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


def plan_json(spec: ModelSpec, table: RankTable, context=None) -> dict:
    """The `lorplan plan --json` object (shape in the README), all memory figures integer bytes. context: the
    CUDA context choice (context.ContextChoice) when the caller measured one; else given or default."""
    from lorplan.core.memory.context import choose_context

    if context is None:
        context = choose_context(table.setup, None, given=table.setup.cuda_context_bytes is not None)
    total = spec.total_params
    setup = table.setup
    rows = []
    for row in table.rows:
        m = row.memory
        pm = peak_moment(spec, setup, row.rank)
        rows.append({
            "rank": row.rank,
            "trainable_params": row.trainable_params,
            "trainable_percent": round(100.0 * row.trainable_params / total, 4) if total else 0.0,
            # gradients and activations at the peak moment (what the table shows); every row adds up to total
            "memory": {
                "weights": m.weights, "adapter": m.adapter, "gradients": pm.gradients, "optimizer": m.optimizer,
                "activations": pm.in_step - pm.gradients, "overhead": m.overhead, "total": m.total,
                "details": {"all_gradients": m.gradients, **{k: int(v) for k, v in m.details.items()}},
            },
            "fits": row.fits,
            "max_micro_batch": row.max_micro_batch,
            "max_seq_len": row.max_seq_len,
            "note": fit_note(row, setup, table.budget_bytes),
            "peak": {"phase": pm.phase, "terms": dict(pm.terms)},
            "hints": [{"change": h.flags, "total": h.total, "fits": h.fits}
                      for h in fit_hints(spec, setup, row, table.budget_bytes)],
        })
    return {
        "model": {"id": spec.id, "total_params": total, "source": spec.source, "architecture": spec.architecture,
                  "model_type": spec.model_type, "notes": list(spec.notes)},
        "setup": _setup_json(setup),
        "budget_bytes": table.budget_bytes,
        "notes": setup_notes(spec, setup, note_rank(table)),
        "rows": rows,
        "full_finetune": full_finetune_json(spec, setup, table.budget_bytes),
        "cuda_context": context.as_json(),
    }


def full_finetune_json(spec: ModelSpec, setup: TrainingSetup, budget_bytes: int | None) -> dict:
    """The full fine-tuning reference row (full_finetune.py) as integer bytes, with what it assumes."""
    from lorplan.core.memory.full_finetune import full_finetune, reference_words

    f = full_finetune(spec, setup)
    return {"trainable_params": f.trainable_params, "weights": f.weights, "gradients": f.gradients,
            "optimizer": f.optimizer, "activations": f.activations, "overhead": f.overhead, "total": f.total,
            "peak_phase": f.peak_phase, "all_gradients": f.all_gradients,
            "fits": None if budget_bytes is None else f.total <= budget_bytes, "assumes": reference_words(setup)}


def full_finetune_line(spec: ModelSpec, table: RankTable) -> str:
    """One sentence for the text table: what full fine-tuning would take, and what the noted rank saves."""
    from lorplan.core.memory.full_finetune import full_finetune, reference_words

    f = full_finetune(spec, table.setup)
    rank = note_rank(table)
    row = next(r for r in table.rows if r.rank == rank)
    fits = "" if table.budget_bytes is None else (" (fits)" if f.total <= table.budget_bytes else " (does not fit)")
    return (f"full fine-tuning for reference ({reference_words(table.setup)}): {format_bytes(f.total)}{fits}: "
            f"weights {format_bytes(f.weights)}, grads {format_bytes(f.gradients)}, optim "
            f"{format_bytes(f.optimizer)}, activ {format_bytes(f.activations)} at "
            f"{PHASE_WORDS.get(f.peak_phase, f.peak_phase).split(' (')[0]}; rank {rank} needs "
            f"{format_bytes(row.memory.total)}, {saving_words(f.total, row.memory.total)}")


def saving_words(full_total: int, lora_total: int) -> str:
    """What a LoRA total is against full fine-tuning's (bytes): "4.7x less", "about as much" (within 5%, as a
    tiny model at a long sequence can be: both hold the same activations) or "1.3x more"."""
    ratio = full_total / max(lora_total, 1)
    if ratio >= 1.05:
        return f"{ratio:.1f}x less"
    if ratio > 1 / 1.05:
        return "about as much"
    return f"{1 / ratio:.1f}x more"


def note_rank(table: RankTable) -> int:
    """The rank the notes are priced at: 16 when the table has it (the planner's first selection), else the
    middle row's."""
    ranks = [r.rank for r in table.rows]
    return 16 if 16 in ranks else ranks[len(ranks) // 2]
