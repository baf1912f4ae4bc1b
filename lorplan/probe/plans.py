"""The Plan each probe trains: the run's base plan at the probe's rank, briefly. No torch here.

A probe of rank r is the base plan with lora.r = r; alpha the run's own at every rank when it fixes one (a
recommend ladder: 32, the alpha `lorplan recommend --write` writes), else scaled by r / the base rank so
alpha/r stays the plan's; rank_pattern scaled by r / the base rank, and alpha_pattern too unless alpha is
fixed, when each module's alpha stays as well (a probe with a pattern of
its own, a ladder's pattern check, trains that one); the probe's learning rate and seed, max_steps = the run's
steps, a held-out split to evaluate on (the plan's eval_split, else 10%; at most the run's eval_examples,
drawn with the run's seed), and the device the scheduler gave it. `lorplan train` of that plan builds the same
model and takes the same steps, losses included, when the data file fits in the probe's seeded sample (run
steps × the probe's micro_batch × gradient_accumulation + eval_examples examples, lorplan.probe.worker); from a
larger file the probe reads that sample, so its split and batches are other examples than `lorplan train` sees (a
classifier's head and class ids stay the whole file's: the worker counts every row's label).

A probe trains on one device (one GPU, or the CPU), whatever the plan's GPUs; a plan for N GPUs gets its gradient
accumulation × N, so each probe step is one of the planned run's optimizer steps: its micro_batch ×
gradient_accumulation × N examples (recommend.launch.effective_batch), the batch its learning rate is for. A
ladder caps a probe at the planned run's steps (recommend.launch.planned_run_steps, counted in those steps), so a
probe as long as the planned run sees as many examples as it. Accumulation does not raise the peak memory a step
needs; it makes a step N times one GPU's work.

Runs started without a plan (`lorplan probe start --model M --data D`, the demo) describe their plan with
RunPlan's fields; `settings_plan` turns them into one: the task from the data (labels: sequence
classification) and the model (an encoder needs labels), target presets resolved by lorplan.core.lora against
the model's spec, linear decay after 5% warmup, alpha 2 × rank unless --alpha fixed it.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from lorplan.core.errors import BadInput
from lorplan.core.plan import (
    DataSection,
    HardwareSection,
    LoraSection,
    ModelSection,
    Plan,
    QuantizationSection,
    TrainingSection,
)
from lorplan.core.plan.schema import plan_to_dict
from lorplan.core.vocab import FOUR_BIT_QUANTS, DType, Quant, Scheduler, Task, TrainOn

PROBE_EVAL_SPLIT = 0.1
PROBE_WARMUP_RATIO = 0.05
PROBE_SCHEDULER = Scheduler.LINEAR.value  # with PROBE_WARMUP_RATIO: a run without a base plan (settings_plan)
DEMO_DATA = "generated counting demo"


def default_lr(task: str, spec=None) -> float:
    """The task's default learning rate for the model (lorplan.core.plan.defaults.learning_rate, at alpha 32:
    1e-3 for sequence classification; a causal LM's from tinker-cookbook's table or its size)."""
    from lorplan.core.plan.defaults import learning_rate

    return learning_rate(spec.id if spec is not None else "", task, spec.total_params if spec is not None else 0)[0]


def plan_settings(plan: Plan, plan_path: str | None = None) -> dict:
    """runner.make_plan keyword arguments that probe `plan` (read from plan_path, if from a file): the plan
    itself (base, its model and data paths made absolute, since probes run in their own folders) and the
    RunPlan fields that mirror it for readers (status, the TUI)."""
    from lorplan.train.paths import resolve_path

    model, data = plan.model, plan.data
    if model.path is not None:
        model = replace(model, path=str(resolve_path(model.path, plan_path).resolve()))
    if data.path:
        data = replace(data, path=str(resolve_path(data.path, plan_path).resolve()))
    plan = replace(plan, model=model, data=data)
    t, q, lo = plan.training, plan.quantization, plan.lora
    quant = q.bnb_4bit_quant_type if q.load_in_4bit else (Quant.INT8 if q.load_in_8bit else Quant.NONE)
    return {
        "base": plan_to_dict(plan), "model": plan.model.source, "data": plan.data.path, "seed": t.seed,
        "micro_batch": t.micro_batch, "seq_len": t.seq_len, "quant": quant,
        "double_quant": q.bnb_4bit_use_double_quant and quant in FOUR_BIT_QUANTS, "optimizer": t.optimizer,
        "grad_checkpointing": t.gradient_checkpointing, "attention": t.attention,
        "grouping": "packing" if t.packing else "length", "train_on": plan.data.train_on or TrainOn.COMPLETION.value,
        "targets": tuple(lo.target_modules), "lora_dropout": lo.dropout,
        "trust_remote_code": plan.model.trust_remote_code, "rope_scaling": plan.model.rope_scaling,
    }


def detect_task(spec, examples: list) -> str:
    """sequence-classification when the examples carry labels; causal-lm for a decoder without labels."""
    if any(e.label is not None for e in examples):
        return Task.SEQUENCE_CLASSIFICATION.value
    if spec.task == Task.SEQUENCE_CLASSIFICATION:
        raise BadInput(f"--data: the encoder model {spec.id} needs labelled examples (a 'label' field)")
    return Task.CAUSAL_LM.value


def _targets(run, spec) -> tuple[str, ...]:
    """The run's --targets as module names for a plan (presets resolved by core, as the planner resolves them)."""
    from lorplan.core.lora import LoraTargets, peft_target_modules

    modules = tuple(run.targets) or ("all-linear",)
    resolved = peft_target_modules(spec, LoraTargets(modules=modules))
    return ("all-linear",) if resolved == "all-linear" else tuple(resolved)


def settings_plan(run, model: ModelSection, spec, task: str, num_labels: int | None) -> Plan:
    """The plan a run without a base plan describes (its rank is set per probe by probe_plan); task and
    num_labels come from the data (detect_task, and the worker's count of classes)."""
    quant = run.quant
    return Plan(
        model=replace(model, task=task, trust_remote_code=run.trust_remote_code,
                      num_labels=num_labels if task == Task.SEQUENCE_CLASSIFICATION else None,
                      rope_scaling=run.rope_scaling),
        quantization=QuantizationSection(
            load_in_4bit=quant in FOUR_BIT_QUANTS, load_in_8bit=quant == Quant.INT8,
            bnb_4bit_quant_type=quant if quant in FOUR_BIT_QUANTS else Quant.NF4.value,
            bnb_4bit_use_double_quant=run.double_quant and quant in FOUR_BIT_QUANTS),
        lora=LoraSection(r=1, alpha=2, dropout=run.lora_dropout, target_modules=_targets(run, spec)),
        training=TrainingSection(
            learning_rate=default_lr(task, spec), lr_scheduler=PROBE_SCHEDULER, warmup_ratio=PROBE_WARMUP_RATIO,
            micro_batch=run.micro_batch, epochs=None, max_steps=run.steps, seq_len=run.seq_len,
            packing=run.grouping == "packing" and task == Task.CAUSAL_LM,
            gradient_checkpointing=run.grad_checkpointing, optimizer=run.optimizer, precision=DType.BF16.value,
            attention=run.attention, seed=run.seed),
        data=DataSection(path=run.data or DEMO_DATA, eval_split=PROBE_EVAL_SPLIT,
                         train_on=run.train_on if task == Task.CAUSAL_LM else None),
    )


def settings_schedule() -> TrainingSection:
    """The learning-rate schedule settings_plan gives a run started without a plan (`lorplan probe start`): linear
    decay after PROBE_WARMUP_RATIO of warmup, the other fields at their defaults; what its --steps is checked
    against before the model is read (recommend.launch.check_probe_steps)."""
    return TrainingSection(lr_scheduler=PROBE_SCHEDULER, warmup_ratio=PROBE_WARMUP_RATIO)


def base_plan(run) -> Plan:
    """The plan RunPlan.base holds, validated as a plan file is (run.base must be set)."""
    from lorplan.core.plan.validate import plan_from_dict

    return plan_from_dict(run.base, f"run {run.run} base plan")


def _scaled(pattern, factor: float, as_int: bool):
    return MappingProxyType({k: (max(1, round(v * factor)) if as_int else v * factor) for k, v in pattern.items()})


def probe_plan(base: Plan, run, probe, device: str, *, fixed_alpha: float | None = None) -> Plan:
    """The plan probe `probe` (a ProbeSpec) of `run` trains on `device` ("cpu" or "cuda"), from `base`.

    fixed_alpha: alpha for every rank (a run started with --alpha); else alpha / r stays the base plan's.
    One device, no sharding: a base plan for N GPUs trains with gradient accumulation × N (module docstring).
    Rank 0 (the base) gets a rank-1 adapter that the worker never trains (B = 0: it adds nothing).
    """
    lo, t = base.lora, base.training
    rank = probe.rank or 1
    factor = rank / lo.r
    alpha = fixed_alpha if fixed_alpha is not None else lo.alpha * factor
    # a probe with its own rank_pattern (a ladder's pattern check) trains exactly those per-module ranks
    pattern = (MappingProxyType(dict(probe.rank_pattern)) if probe.rank_pattern
               else _scaled(lo.rank_pattern, factor, True))
    lora = replace(lo, r=rank, alpha=int(alpha) if float(alpha).is_integer() else alpha, rank_pattern=pattern,
                   alpha_pattern=lo.alpha_pattern if fixed_alpha is not None else _scaled(lo.alpha_pattern, factor,
                                                                                          False))
    # one planned optimizer step a probe step: the plan's GPUs' micro-batches accumulated on the probe's one device
    training = replace(t, learning_rate=probe.lr if probe.lr is not None else t.learning_rate,
                       max_steps=run.steps, epochs=None, seed=probe.seed if probe.seed is not None else t.seed,
                       gradient_accumulation=t.gradient_accumulation * max(1, base.hardware.gpus))
    data = base.data if base.data.eval_split > 0 else replace(base.data, eval_split=PROBE_EVAL_SPLIT)
    # the base's [estimate] priced another rank and is dropped; [quantization] (prepare_kbit with it: whether
    # lorplan train calls peft's prepare_model_for_kbit_training) is kept, so the probe trains as the plan does
    return replace(base, lora=lora, training=training, data=data, estimate=None,
                   hardware=HardwareSection(gpus=1 if device == "cuda" else 0, sharding="none"))
