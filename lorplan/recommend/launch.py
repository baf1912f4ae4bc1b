"""What a probe ladder trains: its LadderSpec, the probe run's RunPlan and its first pass, for the user's model
and data or for the embedded demo. No torch: model specs and data profiles are read by lorplan.core.

A ladder's probes are short runs of the plan `lorplan recommend --write` would write (lorplan.probe.plans):
the same model, data, targets, micro-batch and sequence length, alpha fixed at the policy's 32 with alpha/r
at every rank, the policy's learning rate (lorplan.core.plan.defaults), a held-out split shared by every
probe, and rank 0 as the base (a causal LM before training; a classifier's head trained alone).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

from lorplan.core.units import counted
from lorplan.recommend.capacity import AdapterSize, CapacityPrior, largest_power_of_two_at_most
from lorplan.recommend.datasize import DataSize
from lorplan.recommend.decide import first_pass, probe_id, probe_specs
from lorplan.recommend.fit import gpus_words
from lorplan.recommend.ladder import (
    REFINE_PROBES,
    SECOND_SEED_PROBES,
    SPARE_SHARE,
    CpuLoad,
    coarse_ladder,
    estimate_probe_seconds,
    lengthen_probes,
    plan_ladder,
    planned_steps,
)
from lorplan.recommend.ladder_spec import LadderSpec, Pass
from lorplan.recommend.types import Evidence

PROBE_STEPS = 100  # the probes' default length (lorplan probe start's)
EVAL_POINTS = 8  # evals per probe: enough to fit and check a curve (curves.MIN_POINTS = 4)
EVAL_EXAMPLES = 200
BUDGET_MINUTES = 15.0
MAX_SEEDS = 5  # training seeds per probe a ladder may ask for (each trains every probe again)
# a ladder's budget, at most: a week (a ladder of short probes spends hours at most; beyond this a budget is a typo,
# and near float's limit its seconds overflow to inf, which plan_ladder cannot divide)
MAX_BUDGET_MINUTES = 7 * 24 * 60
CPU_PARAMS_LIMIT = 1_000_000_000  # without a GPU, larger models are not probed (minutes per step on CPU)
DEMO_SEEDS = (0, 1, 2)
DEMO_RANKS = (4, 8, 16, 32)


@dataclass(frozen=True)
class Ladder:
    """A ladder ready to start (recommend.driver.start_ladder): its spec, the probe run's plan, its first
    pass; or none, and why (`blocked`)."""

    spec: LadderSpec | None
    plan: object | None  # lorplan.probe.runs.RunPlan
    first: Pass | None
    blocked: str | None = None
    remedy: str = ""  # for `blocked`, what the command line can change (`--epochs N`), which the planner cannot
    # for `blocked`, why the ladder's settings (budget, seeds, steps per probe) go unused, when they played no part
    # in it (a planned training too short to probe), so the CLI's "not used" note can say so; empty when they did
    # (a budget too small for one probe)
    unused: str = ""


@dataclass(frozen=True)
class Blocker:
    """Why a model cannot be probed here. not_on_disk: its weights are not on this machine (bad input when
    the user asked for probes); else it is too large for the hardware (a hard case: the prior alone)."""

    reason: str
    not_on_disk: bool


def probe_blocker(spec, source) -> Blocker | None:
    """Why this model cannot be probed here (None when it can): its config.json names a head lorplan does not
    train (a token classifier's checkpoint: core.model.head.other_head_refusal; each probe would train another
    model from it, which lorplan train refuses), its weights are not on this machine (lorplan never downloads),
    or it has more than CPU_PARAMS_LIMIT parameters and no GPU is visible."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model import model_folder
    from lorplan.core.model.head import other_head_refusal
    from lorplan.core.model.names import model_name
    from lorplan.probe.backend import visible_gpus

    if (other := other_head_refusal(spec, model_name(spec.id))) is not None:
        return Blocker(other, False)
    try:
        model_folder(source)
    except BadInput as exc:  # names the folder or id it looked for, in full: the user fixes that
        return Blocker(str(exc), True)
    if spec.total_params > CPU_PARAMS_LIMIT and not visible_gpus():  # the model by its short name, as the evidence
        return Blocker(f"{model_name(spec.id)} has {spec.total_params / 1e9:.1f}B parameters and no GPU is visible: a probe on "
                       f"the CPU would take hours (lorplan probes on the CPU up to {CPU_PARAMS_LIMIT / 1e9:.0f}B "
                       "parameters)", False)
    return None


def probe_length(planned: int, asked: int | None = None) -> tuple[int, str]:
    """Optimizer steps per probe: `asked` (--probe-steps), else PROBE_STEPS, never more than the planned run's
    steps; and what the user should know about that length, in words.

    Why longer probes are worth asking for: a probe measures the knee at its own length, and on the
    rank-regret benchmark's language-model tasks planned at 160 steps (benchmarks/rank_regret_long.py) the
    ladder found the planned run's knee in 4 of 9 seeded replays with probes half the planned length and 9 of 9
    with probes as long (the trained half-length ladders missed 4 of 9, three of them below the knee)."""
    steps = max(1, min(planned, asked if asked is not None else PROBE_STEPS))
    if asked is not None and asked > planned:
        return steps, (f"--probe-steps {asked:,} is more than the planned run's {counted(planned, 'step')}, so probes "
                       f"train {steps:,}")
    if steps < planned:
        return steps, (f"probes shorter than the planned run tend to put the knee low (lorplan's benchmarks); "
                       f"--probe-steps up to {planned:,} trains longer ones, at proportionally more time per probe")
    return steps, ""


def shortest_training_probe(plan) -> int:
    """The fewest steps a probe of `plan` (a Plan, or its TrainingSection) needs to train at all: 2 under a
    warmup, since the schedule's first step is the warmup's, at a learning rate of 0 (train.optim:
    ceil(warmup_ratio × steps) warmup steps, one at least), so a 1-step probe ends where the base model began and
    every rank measures the base loss; 1 without one. Longer probes train: the ladder compares its ranks at the
    probes' end whatever their length (LadderRow.knee_loss); successive halving merely stops none of them early
    when half a probe holds fewer than curves.MIN_POINTS evals. A planned training shorter than this gets no
    ladder (data_ladder); probes asked for shorter are refused (check_probe_steps)."""
    from lorplan.core.vocab import Scheduler

    t = getattr(plan, "training", plan)
    return 2 if t.warmup_ratio > 0 and t.lr_scheduler != Scheduler.CONSTANT.value else 1


def check_probe_steps(steps: int | None, plan, label: str) -> int | None:
    """`steps` per probe of `plan` (a Plan or its TrainingSection; None: the default length), or BadInput in one
    line led by `label`, the name the user knows the input by (`--probe-steps`, the planner's "Steps per probe",
    `lorplan probe start --steps`), when they are fewer than shortest_training_probe's: such a probe trains
    nothing, so every rank would report the base loss. The CLI, the planner and probe start refuse it in these
    words."""
    shortest = shortest_training_probe(plan)
    if steps is not None and steps < shortest:
        from lorplan.core.errors import BadInput

        raise BadInput(f"{label}: a probe of {counted(steps, 'step')} trains nothing: its one step is the warmup's "
                       "first, at a learning rate of 0, so every rank would measure the base loss; give "
                       f"{shortest} or more")
    return steps


def check_default_probe_steps(steps: int | None, label: str) -> int | None:
    """check_probe_steps before any plan is built: against the schedule every plan a ladder is built from trains
    with (core.plan.plan_from_setup's, from core.plan.defaults.task_defaults; neither lorplan recommend nor the
    planner sets another), the most lenient of every task's, so that only what no such plan would take is
    refused: the planner's field as typed, and `lorplan recommend --probe-steps` before --data is profiled (a
    refusal after the profile made the user wait seconds to minutes on a large file). data_ladder checks the
    built plan again."""
    from lorplan.core.plan.defaults import task_defaults
    from lorplan.core.plan.schema import TrainingSection
    from lorplan.core.vocab import Task

    schedules = [TrainingSection(lr_scheduler=d.lr_scheduler, warmup_ratio=d.warmup_ratio)
                 for d in map(task_defaults, Task.values())]
    return check_probe_steps(steps, min(schedules, key=shortest_training_probe), label)


def too_short_words(planned: int, examples: int, epochs: float, batch: int) -> str:
    """Why a planned training of `planned` steps, fewer than shortest_training_probe's (so 1 step, at the
    warmup's rate of 0), gets no ladder, naming no flag: the planner shows it too (its ladder's epochs are fixed;
    the CLI adds Ladder.remedy)."""
    return (f"the planned training is {counted(planned, 'step')} ({counted(examples, 'training example')} × "
            f"{epochs:g} epoch{'' if epochs == 1 else 's'}, {batch} per step), and probes train no longer than it: "
            "its one step is the warmup's first, at a learning rate of 0, which moves nothing, so the planned "
            "training leaves the base model as it was and probes as short would measure the base loss at every "
            "rank")


def epochs_for_steps(steps: int, examples: int, batch: int) -> tuple[str, int] | None:
    """The --epochs (as printed: 2 significant figures, rounded up) that plans at least `steps` steps of
    `examples` at `batch` per step, and the steps it plans as typed; None beyond MAX_EPOCHS."""
    from lorplan.core.limits import MAX_EPOCHS

    def shown(figures: int) -> str:  # 1.2e-05, 0.06, 1.5, 12, 1300: as --epochs reads it back
        value = figures * scale
        return f"{value:.2g}" if value < 100 else f"{round(value)}"

    need = steps * batch / examples
    scale = 10 ** (math.floor(math.log10(need)) - 1)
    figures = math.ceil(need / scale - 1e-9)
    text = shown(figures)
    if planned_steps(examples, float(text), batch) < steps:  # the rounding fell below the exact need
        text = shown(figures + 1)
    typed = float(text)
    if typed > MAX_EPOCHS:
        return None
    return text, planned_steps(examples, typed, batch)


# The smallest adapter any probe loads: the base probe's rank-1 adapter (never trained), and the ladder's lowest rank
# (ladder.coarse_ladder's low). A GPU too small for a probe at this rank is too small for every probe.
SMALLEST_PROBE_RANK = 1


def _need_and_budget(need: int, budget_bytes: int, gpu: str | None) -> str:
    """"1.32 GiB, more than H100-80GB (79.65 GiB)": with more digits where two would print both alike."""
    from lorplan.core.units import format_bytes

    digits = 2 if format_bytes(need) != format_bytes(budget_bytes) else 4
    size = format_bytes(budget_bytes, digits)
    return f"{format_bytes(need, digits)}, more than " + (f"{gpu} ({size})" if gpu else f"the GPU budget ({size})")


def _alone(setup):
    """The setup a probe trains with: one GPU, unsharded (lorplan.probe.plans.probe_plan), whatever the plan's."""
    from dataclasses import replace

    from lorplan.core.vocab import Sharding

    return replace(setup, gpus=1, sharding=Sharding.NONE.value)


def _unsharded_words(setup) -> str:
    """"a probe trains on one GPU, unsharded, not over 4 GPUs with ZeRO-3 as the planned training": the planned
    training's GPUs in the memory line's words (fit.gpus_words), said when it shards what a probe holds whole."""
    from lorplan.core.vocab import SHARDED

    planned = (f", not{gpus_words(setup.gpus, setup.sharding)} as the planned training"
               if setup.gpus > 1 and setup.sharding in SHARDED else "")
    return f"a probe trains on one GPU, unsharded{planned}"


@dataclass(frozen=True)
class ProbeMemory:
    """What one GPU of the verdict's budget holds of a ladder's probes (probe_memory). blocked: Ladder's (blocked,
    unused) words, naming no flag, when not even a probe at SMALLEST_PROBE_RANK fits (None when one does). top: the
    ladder's highest rank, the asked-for top or below it the largest power of two whose probe fits; capped: the
    words saying where the probes stop and why ("" when the top fits, or none does)."""

    blocked: tuple[str, str] | None
    top: int
    capped: str = ""


def probe_memory(spec, setup, top: int, budget_bytes: int | None, gpu: str | None) -> ProbeMemory:
    """The probes of `setup` up to rank `top` priced on one GPU of `budget_bytes` (the GPU the verdict priced), in
    one table: SMALLEST_PROBE_RANK and the powers of two above it up to `top`. A probe trains on one GPU,
    unsharded, whatever the plan's GPUs and sharding (lorplan.probe.plans.probe_plan), so a plan that fits its GPUs
    only sharded (ZeRO-3 over 4: a quarter of the weights each) can have probes that need several times what the
    verdict priced. When not even the smallest probe fits, every one of them would run out of memory: no ladder
    (`blocked`). Else a rank above the GPU's is not probed (`top` lowered, `capped` saying so), where its probe would
    run out of memory and leave the knee unmeasured there. Without a budget nothing is priced."""
    if budget_bytes is None:
        return ProbeMemory(None, top)
    from lorplan.core.memory import rank_table

    ranks = sorted({SMALLEST_PROBE_RANK, top} | {1 << k for k in range(top.bit_length())
                                                 if 1 << k >= SMALLEST_PROBE_RANK})
    rows = rank_table(spec, _alone(setup), tuple(ranks), budget_bytes).rows
    smallest = rows[0]
    if not smallest.fits:
        return ProbeMemory((f"{_unsharded_words(setup)}: even at rank {SMALLEST_PROBE_RANK} it needs "
                            f"{_need_and_budget(smallest.memory.total, budget_bytes, gpu)}, so every probe would run "
                            "out of memory, and the recommendation rests on the capacity prior alone",
                            f"a probe on one GPU, unsharded, does not fit {gpu or 'the GPU budget'} (see probes)"), top)
    over = next((r for r in rows if not r.fits), None)
    if over is None:
        return ProbeMemory(None, top)
    cap = max(r.rank for r in rows if r.fits)
    return ProbeMemory(None, cap, (f"probes stop at rank {cap}: {_unsharded_words(setup)}, and at rank {over.rank} it "
                                   f"needs {_need_and_budget(over.memory.total, budget_bytes, gpu)}"))


def fewer_gpus_remedy(spec, setup, plan, examples: int, epochs: float, shortest: int, budget_bytes: int | None,
                      gpu: str | None) -> str:
    """For a planned training too short to probe (fewer than `shortest` steps): the most GPUs, fewer than the
    plan's, over which it plans `shortest` steps or more (a plan over N GPUs takes N times fewer steps), as the
    flags that give it ("--gpus 2"; "--gpus 1 --sharding none", since one GPU shards nothing), when the plan's rank
    fits the budget per GPU there (priced with the setup's sharding); "" when no fewer GPUs plan enough steps, or
    the plan does not fit them. Without a budget the memory is not checked, and the words say so."""
    from dataclasses import replace

    from lorplan.core.vocab import Sharding

    t = plan.training
    per_gpu = t.micro_batch * t.gradient_accumulation
    fewer = [g for g in range(setup.gpus - 1, 0, -1) if planned_steps(examples, epochs, per_gpu * g) >= shortest]
    if not fewer:
        return ""
    g = fewer[0]
    sharding = str(setup.sharding) if g > 1 else Sharding.NONE.value
    flags = f"--gpus {g}" + ("" if sharding == str(setup.sharding) else f" --sharding {sharding}")
    said = (f"{flags} plans {counted(planned_steps(examples, epochs, per_gpu * g), 'step')} (a plan over N GPUs "
            "takes N times fewer steps")
    if budget_bytes is None:
        return said + "; its memory is not checked without --gpu or --gpu-memory)"
    from lorplan.core.memory import rank_table
    from lorplan.core.units import format_bytes

    rank = plan.lora.r
    row = rank_table(spec, replace(setup, gpus=g, sharding=sharding), (rank,), budget_bytes).rows[0]
    if not row.fits:
        return ""
    return (f"{said}; rank {rank} fits {gpu or 'the GPU budget'} there, {format_bytes(row.memory.total)} per "
            f"GPU{gpus_words(g, sharding)})")


def cpu_load() -> CpuLoad | None:
    """The CPU's cores and 1-minute load average now, as lorplan.probe.scheduler.cpu_threads reads them for the
    probes' threads; None where the load average is not available."""
    import os

    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # no load average on this platform
        return None
    return CpuLoad(os.cpu_count() or 1, load)


def effective_batch(plan) -> int:
    """Examples per optimizer step of a plan: micro-batch × gradient accumulation × GPUs."""
    t = plan.training
    return t.micro_batch * t.gradient_accumulation * max(1, plan.hardware.gpus)


def probe_tokens_per_step(plan, per_example: int) -> int:
    """Tokens one probe step of `plan` trains (its examples of `per_example` tokens each, cut at seq_len): a
    planned optimizer step's, effective_batch(plan) examples, GPUs included. A probe runs on one GPU
    (lorplan.probe.plans.probe_plan) with the plan's gradient accumulation × its GPUs, so its step trains what a
    planned step trains, and the probe's time is these tokens at one GPU's speed (estimate_probe_seconds)."""
    return effective_batch(plan) * min(per_example, plan.training.seq_len)


def planned_run_steps(plan, profile, epochs: float) -> int:
    """Optimizer steps of the planned training on a profiled dataset, which no probe exceeds (probe_length): its
    training examples (the train split's when it has one) × epochs over the plan's effective batch.

    A plan with packing would train blocks of seq_len tokens instead (lorplan.train.data.tokenize), a count of
    steps this does not compute: lorplan recommend and the planner's ladder build no such plan (plan_from_setup
    leaves packing false, and neither takes a plan file or a packing choice), so one here is a caller's mistake,
    refused rather than miscounted."""
    if plan.training.packing:
        raise ValueError("planned_run_steps: a plan with packing trains packed blocks of seq_len tokens, not "
                         "examples per step; the ladder counts no packed plan's steps")
    return planned_steps(profile.split.train or profile.examples, epochs, effective_batch(plan))


def check_budget_minutes(minutes: float, label: str) -> float:
    """A ladder's budget in minutes, above 0 and at most MAX_BUDGET_MINUTES (nan is neither), or BadInput in one
    line led by `label`, the name the user knows it by (`--budget-minutes`, the planner's "Ladder budget"): the
    CLI, the planner and data_ladder refuse it with the same words."""
    if not 0 < minutes <= MAX_BUDGET_MINUTES:
        from lorplan.core.errors import BadInput

        raise BadInput(f"{label}: {minutes:,g} minutes is not between 0 and {MAX_BUDGET_MINUTES:,} minutes (a "
                       "week; a probe ladder spends hours at most)")
    return minutes


def data_ladder(spec, source, setup, plan, profile, data: DataSize, prior: CapacityPrior, adapter: AdapterSize,
                *, target_modules: tuple[str, ...], learning_rate: tuple[float, str], epochs: float,
                budget_minutes: float | None, budget_bytes: int | None, gpu: str | None,
                trust_remote_code: bool = False, seeds: int = 1, probe_steps: int | None = None,
                probe_steps_label: str = "Steps per probe") -> Ladder:
    """The ladder for the user's model and data. `plan` is the plan at the prior's rank (with its [data]
    table from the profile); probes are short runs of it. seeds: training seeds per probe (the plan's seed and
    the ones after it); with two or more the knee compares means over seeds and its band is their noise.
    probe_steps: steps per probe (probe_length: PROBE_STEPS when None, at most the planned run's); fewer than
    shortest_training_probe's is BadInput led by probe_steps_label (the planner's field; the CLI's flag). A budget
    outside 0 to MAX_BUDGET_MINUTES is BadInput (check_budget_minutes; the CLI and the planner's minutes field
    refuse it first, with their own names for it). No ladder (Ladder.blocked) when its probes train on a GPU that
    budget_bytes, the GPU the verdict priced, is too small for even a rank-1 probe, which trains unsharded
    (probe_memory; a larger rank whose probe does not fit is left out of the ladder, saying so), or when the
    planned training is too short to probe (the remedy names the --epochs, and the fewer --gpus, that plan enough
    steps: fewer_gpus_remedy)."""
    if budget_minutes is not None:
        check_budget_minutes(budget_minutes, "ladder budget")
    from lorplan.core.model import model_folder
    from lorplan.probe.backend import device_slots
    from lorplan.probe.plans import plan_settings
    from lorplan.probe.runs import RunPlan, new_run_id

    t = plan.training
    batch = effective_batch(plan)
    planned = planned_run_steps(plan, profile, epochs)
    shortest = shortest_training_probe(plan)
    slots = device_slots("auto", None)
    on_gpu = slots[0]["device"] != "cpu"
    # first: no longer training, no other epochs make a probe fit its one GPU (the CPU's probes are not priced);
    # where they stop is said after the ladder is planned
    top = max(1, min(prior.max_rank, largest_power_of_two_at_most(max(1, adapter.min_dim))))
    memory = probe_memory(spec, setup, top, budget_bytes, gpu) if on_gpu else ProbeMemory(None, top)
    if memory.blocked is not None:
        return Ladder(None, None, None, blocked=memory.blocked[0], unused=memory.blocked[1])
    if planned < shortest:  # said before any probe runs, not after the budget was spent on probes that cannot move
        examples = profile.split.train or profile.examples
        more = epochs_for_steps(shortest, examples, batch)
        remedies = ["" if more is None else (f"--epochs {more[0]} plans {counted(more[1], 'step')}"
                                             + (" (or a smaller --micro-batch)" if t.micro_batch > 1 else "")),
                    fewer_gpus_remedy(spec, setup, plan, examples, epochs, shortest, budget_bytes, gpu)]
        return Ladder(None, None, None, blocked=too_short_words(planned, examples, epochs, batch),
                      remedy="; or ".join(r for r in remedies if r),
                      unused=f"the planned training is {counted(planned, 'step')}, too short to probe (see probes)")
    check_probe_steps(probe_steps, plan, probe_steps_label)  # a planned training long enough, probes too short
    steps, length_note = probe_length(planned, probe_steps)
    per_example = max(1, round(profile.tokens / max(1, profile.examples)))
    tokens_per_step = probe_tokens_per_step(plan, per_example)
    eval_n = min(EVAL_EXAMPLES, profile.split.eval or EVAL_EXAMPLES)

    def every(n: int) -> int:  # steps between a probe's evals
        return max(1, n // EVAL_POINTS)

    # the spec's parameter counts walk its modules: once, not at every length lengthen_probes tries
    total, matmul = spec.total_params, spec.matmul_params
    recompute = bool(plan.training.gradient_checkpointing)

    # CPU probes share the cores with whatever else keeps them busy (a GPU's probe does not wait on the load)
    busy = None if on_gpu else cpu_load()
    slower = busy.slowdown(len(slots)) if busy is not None else 1.0
    load_words = busy.words() if busy is not None and slower > 1 else ""

    def seconds_at(n: int) -> float:
        return slower * estimate_probe_seconds(total, tokens_per_step, n, gpu=on_gpu, eval_tokens=eval_n * per_example,
                                               evals=math.ceil(n / every(n)), matmul_params=matmul,
                                               recompute=recompute)

    budget_s = (budget_minutes if budget_minutes is not None else BUDGET_MINUTES) * 60
    # no rank whose probe would run out of memory on its one GPU (probe_memory's cap)
    top, capped = memory.top, memory.capped

    def ladder_at(n: int):
        return plan_ladder(budget_s, seconds_at(n), prior_rank=prior.rank, high=top, base_probe=True,
                           parallel=len(slots), seeds=seeds, load=load_words)

    lp = ladder_at(steps)
    whole = (lp.refine == REFINE_PROBES and lp.extra_learning_rates > 0
             and lp.ranks == coarse_ladder(prior.rank, high=top)
             and (seeds > 1 or lp.second_seed == SECOND_SEED_PROBES))
    if probe_steps is None and whole:  # the budget buys the whole ladder: its spare time goes to probe length
        longer = lengthen_probes(steps, planned, budget_s, lp.probes + seeds, len(slots), seconds_at)
        if longer > steps:
            lp, steps, (_, short) = ladder_at(longer), longer, probe_length(planned, longer)
            length_note = (f"the budget has room for longer probes than {PROBE_STEPS}, so they train {steps:,} "
                           f"steps (the whole ladder in at most {SPARE_SHARE:.0%} of the budget by the estimate; "
                           f"--probe-steps sets the length)" + (f"; {short}" if short else ""))
    eval_every = every(steps)
    guess = seconds_at(steps)
    if not lp.ranks:
        # the smallest ladder: two ranks and the base probe, each with every seed, len(slots) at a time
        need = max(1, math.ceil(math.ceil(3 * seeds / len(slots)) * guess / 60))
        # a budget beyond what --budget-minutes takes is not named as one to give (the flag refuses it)
        buys = (f"--budget-minutes {need} buys the smallest ladder, 2 ranks and the base probe, by that estimate"
                if need <= MAX_BUDGET_MINUTES else
                f"the smallest ladder, 2 ranks and the base probe, needs about {need:,} minutes by that estimate, "
                f"more than --budget-minutes takes (at most {MAX_BUDGET_MINUTES:,}, a week)")
        return Ladder(None, None, None, blocked=lp.explanation + " (the probe time is an estimate from the model's "
                      f"size{' and the load' if load_words else ''}; {buys})")
    notes = [Evidence("probes", None, f"probe ladder: {lp.explanation}; each probe trains {counted(steps, 'step')} of "
                                      f"the planned {planned:,} (the probe time is estimated from the model's size"
                                      f"{' and the load' if load_words else ''} until probes are timed)" + (f"; {length_note}" if length_note else "")
                      + (f"; {capped}" if capped else "")).to_json()]
    affordable = int(budget_s * len(slots) // guess)
    train_seeds = tuple(t.seed + i for i in range(seeds))
    pattern_probes, pattern_seed, pattern_why = pattern_plan(lp, train_seeds, affordable)
    lspec = LadderSpec(
        kind="data", model=spec.id, spec_source=str(model_folder(source)),
        task=data.task, target_modules=tuple(target_modules), data=asdict(data), adapter=asdict(adapter),
        learning_rate=learning_rate[0], learning_rate_why=learning_rate[1], planned_steps=planned,
        probe_steps=steps, seeds=train_seeds, ranks=lp.ranks, max_rank=top,
        refine=lp.refine > 0,
        extra_learning_rates=lp.extra_learning_rates > 0, halving=True, budget_seconds=budget_s,
        parallel=len(slots), budget_bytes=budget_bytes, gpu=gpu, trust_remote_code=trust_remote_code,
        notes=tuple(notes), pattern_probes=pattern_probes, pattern_why=pattern_why,
        rate_first=lp.extra_learning_rates > 0, pattern_seed=pattern_seed,
        # a one-seed ladder's last pass: its ranks that can still be the knee, once more with the seed after the
        # plan's (the second pattern probe's, so the top rank is not trained twice with it)
        second_seed=t.seed + 1 if seeds == 1 and lp.extra_learning_rates > 0 else None)
    first = first_pass(lspec)
    run_plan = _run_plan(RunPlan, new_run_id(), first, plan_settings(plan), steps=steps, eval_every=eval_every,
                         eval_examples=EVAL_EXAMPLES)
    return Ladder(lspec, run_plan, first)


def pattern_plan(lp, train_seeds: tuple[int, ...], affordable: int) -> tuple[tuple[str, ...], int | None, str]:
    """The ladder's pattern probes, the seed of the one it adds to its first pass (None: none added) and why there
    are none ("" when there are). The per-module pattern compares two adapters trained alike with other seeds at
    the largest rank (it shows the most directions): with several seeds its first two seeds' probes; with one, a
    second seed there, added to the first pass when the budget buys one probe more than the ladder plans (or the
    second-seed pass's probes it reserved: decide._second_seed then skips that rank). A one-seed ladder with a
    second-seed pass (it tries the rates: LadderSpec.second_seed) names that pass's probe at the largest rank
    even when the budget's first estimate buys nothing more: probes are timed as they run, and when that pass
    trains the rank again (it did on a 3-minute ladder whose estimate said no), its adapter is the pattern's
    second. Only a one-seed ladder without that pass has no second seed there, and says so."""
    top_rank, seeds = max(lp.ranks), len(train_seeds)
    if seeds > 1:  # the top rank's first two seeds are in the ladder already
        return (probe_id(top_rank, train_seeds[0], seeds), probe_id(top_rank, train_seeds[1], seeds)), None, ""
    pair = (probe_id(top_rank, 0, 1), probe_id(top_rank, 1, 2))
    if affordable >= lp.probes + (0 if lp.second_seed else 1):  # the second-seed pass counts it as its own
        return pair, train_seeds[0] + 1, ""
    if lp.extra_learning_rates > 0:  # the second-seed pass may train it: its probe id and seed are the pattern's
        return pair, None, ""
    return (), None, (f"a one-seed ladder that tries no other learning rate has no second-seed pass, and the budget "
                      f"buys about {counted(affordable, 'probe')} by the first estimate of a probe's time where the "
                      f"ladder plans {lp.probes}: a second seed at rank {top_rank}, which the per-module pattern "
                      "compares with the first, does not fit (give more --budget-minutes for a pattern)")


def _run_plan(cls, run_id: str, first: Pass, settings: dict, **kw):
    from lorplan.core.plan.defaults import ALPHA
    from lorplan.probe.runs import ProbeSpec

    probes = tuple(ProbeSpec(d["id"], d["rank"], d["lr"], d["seed"]) for d in first.specs)
    fields = {k: v for k, v in {**settings, **kw}.items() if v is not None}
    return cls(run=run_id, created=round(time.time(), 3), probes=probes, device="auto", alpha=ALPHA, **fields)


def cpu_parallel() -> int:
    """CPU probes at once for the demo: one per core, at most four (a small model's steps on ~11-token rows use
    few threads well, so two probes side by side finish sooner than one after the other, and each one's model
    loading overlaps the other's steps)."""
    import os

    return max(1, min(4, os.cpu_count() or 1))


def demo_ladder(examples: list) -> Ladder:
    """The embedded demo: all-MiniLM-L6-v2 classifying lorplan.probe.demo's generated sentences (`examples`,
    demo.demo_examples()), ranks 4, 8, 16 and 32 and the head alone, three seeds each, one full (short)
    training per probe; no halving, refinement or learning-rate check: the classic exercise, on CPU."""
    from collections import Counter

    from lorplan.core.data.labels import classes_needed
    from lorplan.core.lora import LoraTargets, peft_target_modules
    from lorplan.core.model import load_spec, model_folder, resolve_model
    from lorplan.core.model.head import with_labels
    from lorplan.core.plan.defaults import task_defaults
    from lorplan.probe.backend import device_slots, visible_gpus
    from lorplan.probe.demo import (
        DEMO_EVAL_EXAMPLES,
        DEMO_LEARNING_RATE,
        DEMO_LEARNING_RATE_WHY,
        DEMO_MODEL_NAME,
        DEMO_SEQ_LEN,
        DEMO_STEPS,
    )
    from lorplan.probe.plans import PROBE_EVAL_SPLIT
    from lorplan.probe.runs import RunPlan, new_run_id
    from lorplan.recommend.capacity import adapter_size
    from lorplan.recommend.datasize import label_entropy

    task = "sequence-classification"
    source = resolve_model(DEMO_MODEL_NAME)
    folder = model_folder(source)
    counts = Counter(e.label for e in examples)
    head = classes_needed(counts)  # the head lorplan train builds for these labels (their class ids)
    spec = with_labels(load_spec(source), head)
    targets = LoraTargets(modules=("all-linear",))
    resolved = peft_target_modules(spec, targets)
    defaults = task_defaults(task, spec.id, spec.total_params)
    held = min(DEMO_EVAL_EXAMPLES, round(len(examples) * PROBE_EVAL_SPLIT))
    max_parallel = None if visible_gpus() else cpu_parallel()
    data = DataSize(task=task, examples=len(examples) - held, num_labels=head,
                    label_entropy_bits=label_entropy(counts), entropy_counted=True,
                    source="lorplan's generated demo sentences")
    lspec = LadderSpec(
        kind="demo", model=spec.id, spec_source=str(folder), task=task,
        target_modules=(resolved,) if isinstance(resolved, str) else tuple(resolved), data=asdict(data),
        adapter=asdict(adapter_size(spec, targets)), learning_rate=DEMO_LEARNING_RATE,
        learning_rate_why=DEMO_LEARNING_RATE_WHY, planned_steps=DEMO_STEPS, probe_steps=DEMO_STEPS, seeds=DEMO_SEEDS,
        ranks=DEMO_RANKS, refine=False, extra_learning_rates=False, halving=False, budget_seconds=None,
        parallel=len(device_slots("auto", max_parallel)),  # the cost line's "N at a time", as the scheduler runs them
        pattern_probes=tuple(probe_id(max(DEMO_RANKS), s, len(DEMO_SEEDS)) for s in DEMO_SEEDS),
        notes=(Evidence("demo", None, f"the embedded demo: {spec.id} learning lorplan's generated task "
                                      f"({len(examples):,} examples, {len(counts)} classes, {held} held out), ranks {', '.join(map(str, DEMO_RANKS))} and "
                                      f"the head alone, {len(DEMO_SEEDS)} seeds each, {DEMO_STEPS} steps at "
                                      f"micro-batch {defaults.micro_batch}").to_json(),))
    first = Pass("first", specs=probe_specs((0, *DEMO_RANKS), lspec), ranks=DEMO_RANKS)
    # one eval, after the last step: the demo compares final figures, and each eval costs a second on a CPU
    settings = {"steps": DEMO_STEPS, "eval_every": DEMO_STEPS, "eval_examples": DEMO_EVAL_EXAMPLES,
                "micro_batch": defaults.micro_batch, "seq_len": DEMO_SEQ_LEN, "targets": ("all-linear",),
                "seed": 0, "max_parallel": max_parallel}
    return Ladder(lspec, _run_plan(RunPlan, new_run_id(), first, settings), first)
