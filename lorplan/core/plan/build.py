"""Build a plan from a planning setup (and back): the plan carries what `lorplan plan` priced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lorplan import __version__
from lorplan.core.errors import BadInput
from lorplan.core.plan import defaults
from lorplan.core.plan.schema import (
    ASSUMPTIONS,
    DataSection,
    EstimateSection,
    HardwareSection,
    LoraSection,
    ModelSection,
    Plan,
    QuantizationSection,
    TrainingSection,
)
from lorplan.core.vocab import FOUR_BIT_QUANTS, TORCH_DTYPE, DataSchema, Quant, Sharding, Task, TrainOn

# The data path a plan names when none was given: the user replaces it (the TUI's export dialog says so).
PLACEHOLDER_DATA_PATH = "data/train.jsonl"


def plan_target_names(spec, targets) -> tuple[str, ...]:
    """Leaf names for the plan: "all-linear" stays (every tool knows it) except on a model where peft refuses a
    module its "all-linear" selects (core.lora.peft_refused: a Mamba-based model's out_proj), or a module the
    model reads as a raw weight (core.lora.kernel_bypassed: Bamba's out_proj, Mamba's dt_proj, Gemma 3n's
    correction_coefs, Bloom's dense under slow_but_exact), or where peft would adapt a linear it then trains in
    full (DistilBERT classifier's pre_classifier: core.lora.peft_all_linear_fits), where the plan, and so every
    export of it, names what lorplan adapts; other presets become module names."""
    from lorplan.core.lora import PRESETS, peft_all_linear_fits, resolve_targets

    if tuple(targets.modules) == ("all-linear",) and peft_all_linear_fits(spec, targets):
        return ("all-linear",)
    if not any(m in PRESETS for m in targets.modules):
        return tuple(targets.modules)
    chosen = {m.path for m in resolve_targets(spec, replace(targets, layers_to_transform=None))}
    paths = [m.path for m in spec.linears]

    def matches(suffix: str) -> set[str]:  # peft's list matching: exact name or ".suffix" at the end
        return {p for p in paths if p == suffix or p.endswith("." + suffix)}

    names: dict[str, None] = {}
    for path in sorted(chosen, key=paths.index):
        parts = path.split(".")
        # the shortest suffix that selects nothing outside the chosen set (BERT's "dense" names 3 layers)
        for k in range(1, len(parts) + 1):
            suffix = ".".join(parts[-k:])
            if matches(suffix) <= chosen:
                names.setdefault(suffix, None)
                break
    return tuple(names)


def _task(spec) -> str:
    return spec.task if spec.task in Task.values() else Task.CAUSAL_LM.value


def plan_train_on(task: str, train_on: str | None, who: str) -> str | None:
    """A plan's data.train_on for its task: a causal LM's choice (default "completion"); None for a sequence
    classifier, which trains one label per example and so has no tokens to choose (BadInput when one is asked
    for: lorplan train would ignore it)."""
    if task == Task.SEQUENCE_CLASSIFICATION:
        if train_on is not None:
            raise BadInput(f"--train-on {train_on}: {who} is a sequence classifier, which trains one label per "
                           "example; --train-on chooses the tokens a causal LM trains")
        return None
    return train_on or TrainOn.COMPLETION.value


def _model_section(spec, source: str | None, revision: str, trust_remote_code: bool) -> ModelSection:
    task = _task(spec)
    num_labels = None
    if task == Task.SEQUENCE_CLASSIFICATION:
        from lorplan.core.model.head import trained_labels

        # the model's head, or a new 2-class one for a 1-output (regression) head: plan_from_setup prices this head
        num_labels = trained_labels(spec)
    where = source if source is not None else spec.id
    local = spec.source == "folder" or (source is not None and Path(source).exists())
    if local:
        folder = Path(where)
        if folder.name == "config.json":
            folder = folder.parent
        return ModelSection(path=str(folder), revision=revision, trust_remote_code=trust_remote_code,
                            task=task, num_labels=num_labels)
    return ModelSection(id=where, revision=revision, trust_remote_code=trust_remote_code, task=task,
                        num_labels=num_labels)


def _lora_section(spec, setup, rank: int, alpha: int | float | None) -> LoraSection:
    t = setup.targets
    return LoraSection(
        r=rank,
        alpha=alpha if alpha is not None else defaults.ALPHA,
        dropout=float(setup.lora_dropout),
        target_modules=plan_target_names(spec, t),
        layers_to_transform=tuple(t.layers_to_transform or ()),
        rank_pattern=MappingProxyType(dict(t.rank_pattern)),
        alpha_pattern=MappingProxyType(dict(t.alpha_pattern)),
        use_dora=t.use_dora,
        modules_to_save=tuple(t.modules_to_save),
    )


def _quantization_section(setup) -> QuantizationSection:
    """BitsAndBytesConfig's fields for the setup's quant (the 4-bit compute dtype is the base dtype), and whether
    lorplan train prepares the quantized base as the setup was priced (--no-prepare-kbit: false)."""
    four_bit = setup.quant in FOUR_BIT_QUANTS
    return QuantizationSection(
        load_in_4bit=four_bit,
        load_in_8bit=setup.quant == Quant.INT8,
        bnb_4bit_quant_type=Quant.FP4.value if setup.quant == Quant.FP4 else Quant.NF4.value,
        bnb_4bit_use_double_quant=bool(setup.double_quant) and four_bit,
        bnb_4bit_compute_dtype=TORCH_DTYPE[setup.base_dtype],
        prepare_kbit=bool(setup.prepare_kbit),
    )


def _short_name(name: str) -> str:
    """The last part of a model id or folder (a config.json path: its folder), for an output folder's name."""
    path = Path(str(name).rstrip("/"))
    return (path.parent if path.name == "config.json" else path).name or "model"


def _training_section(spec, setup, rank: int, training: dict[str, Any] | None,
                      name: str | None = None) -> TrainingSection:
    """The training table; its output folder is named after `name` (the hub id the plan names, which may be a
    catalog alias such as the base of an Instruct entry), else spec.id (a folder's model)."""
    d = defaults.task_defaults(_task(spec), spec.id, spec.total_params)
    train = TrainingSection(
        learning_rate=d.learning_rate,
        lr_scheduler=d.lr_scheduler,
        warmup_ratio=d.warmup_ratio,
        micro_batch=setup.micro_batch,
        seq_len=setup.seq_len,
        gradient_checkpointing=setup.grad_checkpointing,
        optimizer=setup.optimizer,
        precision=setup.base_dtype,
        attention=setup.attention,
        output_dir=f"outputs/{_short_name(name or spec.id)}-r{rank}",
    )
    if training:
        train = replace(train, **training)
        if "max_steps" in training and "epochs" not in training:
            train = replace(train, epochs=None)
    return train


def _estimate_section(spec, setup, rank: int, budget_bytes: int | None) -> EstimateSection:
    """What lorplan.core.memory.estimate prices for this setup and rank, and the assumptions it priced with.
    gradients and activations split the in-step peak at its moment, as `lorplan plan` (table and JSON) does;
    details.all_gradients is the size of every adapter gradient."""
    from lorplan.core.lora import trainable_params
    from lorplan.core.memory import estimate
    from lorplan.core.memory.sweep import peak_moment

    mem = estimate(spec, setup, rank)
    pm = peak_moment(spec, setup, rank)
    return EstimateSection(
        rank=rank,
        trainable_params=trainable_params(spec, setup.targets, rank),
        weights_bytes=mem.weights,
        adapter_bytes=mem.adapter,
        gradients_bytes=pm.gradients,
        optimizer_bytes=mem.optimizer,
        activations_bytes=pm.in_step - pm.gradients,
        overhead_bytes=mem.overhead,
        total_bytes=mem.total,
        budget_bytes=budget_bytes,
        fits=None if budget_bytes is None else mem.total <= budget_bytes,
        lorplan_version=__version__,
        details=MappingProxyType({"all_gradients": mem.gradients,
                                  **{k: int(v) for k, v in dict(mem.details).items()}}),
        **{key: getattr(setup, key) for key in ASSUMPTIONS if hasattr(setup, key)},
    )


def plan_from_setup(
    spec,
    setup,
    rank: int,
    alpha: int | float | None = None,
    *,
    source: str | None = None,
    budget_bytes: int | None = None,
    data_path: str = PLACEHOLDER_DATA_PATH,
    data_schema: str = DataSchema.AUTO.value,
    eval_split: float = defaults.EVAL_SPLIT,
    train_on: str | None = None,
    revision: str = "main",
    trust_remote_code: bool = False,
    training: dict[str, Any] | None = None,
) -> Plan:
    """Build a Plan from a ModelSpec, a TrainingSetup and a rank, with its memory estimate.

    Unset values come from lorplan.core.plan.defaults for the model's task: alpha (32, with alpha / r
    scaling), the learning rate, schedule and warmup, the held-out share eval_split (10%; with_profile
    replaces it by the profile's suggestion) and train_on ("completion" for a causal LM; a sequence classifier
    has none, and BadInput when one is given). `training` overrides fields of TrainingSection (learning_rate,
    epochs, max_steps, output_dir, ...). The estimate is
    lorplan.core.memory.estimate(spec, setup, rank) and the trainable count lorplan.core.lora.trainable_params,
    so the plan carries exactly what `lorplan plan` printed for the same setup; a sequence classifier's spec is
    priced with the head the plan writes and lorplan train builds (model.num_labels: the model's own head, and for
    a 1-output regression or score head a new 2-class one, core.model.head.trained_labels).
    """
    if rank < 1:
        raise BadInput(f"--rank: {rank} must be at least 1")
    model = replace(_model_section(spec, source, revision, trust_remote_code),
                    rope_scaling=getattr(setup, "rope_scaling", None))
    if model.num_labels is not None:
        from lorplan.core.model.head import with_labels

        # priced with the head lorplan train builds: a 1-output (regression) head's plan trains a 2-class one
        spec = with_labels(spec, model.num_labels)
    return Plan(
        model=model,
        quantization=_quantization_section(setup),
        lora=_lora_section(spec, setup, rank, alpha),
        training=_training_section(spec, setup, rank, training,
                                   source if source is not None and not Path(source).exists() else None),
        data=DataSection(path=data_path, schema=data_schema, eval_split=eval_split,
                         train_on=plan_train_on(_task(spec), train_on, source or spec.id)),
        hardware=HardwareSection(gpus=setup.gpus, sharding=setup.sharding),
        estimate=_estimate_section(spec, setup, rank, budget_bytes),
    )


def data_section(profile, train_on: str | None = TrainOn.COMPLETION.value, path: str | None = None) -> DataSection:
    """A plan's [data] table for a profiled dataset (a lorplan.core.data.DataProfile): the file's path (`path`
    as the user wrote it, else the profile's made absolute), the schema the profile detected, `train_on`, and
    the profile's suggested held-out fraction as eval_split (its split: 10%, 20 to 2,000 examples; none below
    50 examples). What `lorplan plan --write --data` and the planner's export write."""
    total = profile.split.train + profile.split.eval
    return DataSection(path=path if path is not None else str(Path(profile.path).expanduser().resolve()),
                       schema=profile.schema, eval_split=held_out_fraction(profile.split.eval, total),
                       train_on=train_on)


def held_out_fraction(held: int, examples: int) -> float:
    """The eval_split that holds out `held` of `examples` under lorplan train's rule (train.data.split: the
    whole part of examples × eval_split): the fraction rounded to 4 decimals when that holds out `held`, else
    to the fewest more decimals that do (1/3 of 60 rounds to 0.3333, which holds out 19; 0.3334 holds out 20;
    29 of 100 is 0.2901, since 100 × 0.29 is 28.999999999999996 in floating point)."""
    if held <= 0 or examples <= 0:
        return 0.0
    from lorplan.core.data.stats import held_out_count

    exact = held / examples
    for places in range(4, 18):
        near = round(exact, places)
        # the next value up too: examples × value is a float product, 100 × 0.29 = 28.999999999999996 holds out 28
        for value in (near, round(near + 10**-places, places)):
            if held_out_count(examples, value) == held:
                return value
    return exact


def class_count(labels, where: str | None = None) -> int:
    """Outputs a head needs for these labels (a profile's LabelBalance), by lorplan train's class ids
    (lorplan.core.data.labels): integer labels are their own ids and names take the ids after the largest
    integer, so labels 0 and 5 need 6 and 0, 5 and "spam" need 7; at least 2. BadInput (starting with `where`)
    for integer ids beside a name that reads as a number."""
    from lorplan.core.data.labels import classes_needed

    return classes_needed((label for label, _ in labels.counts), where)


# Why a head is what it is, for the errors that name the data's need.
_CLASS_RULE = "integer labels are class ids: the largest + 1; names take the ids after them"


def _check_labels(profile, where, spec=None, model: str | None = None) -> None:
    """BadInput naming the file when a classifier cannot train on the profile's labels: a row whose label is no
    class label (2.5, NaN, true: its line), or a name that reads as a number beside integer ids. A model whose own
    head has 1 output (`spec`: a regression or score head) is named too, as `model` names it (else its id):
    lorplan plans no regression."""
    refusal = profile.label_refusal()
    if refusal is not None:
        from lorplan.core.model.head import regression_words

        more = (regression_words(spec, model or spec.id) if spec is not None and profile.label_problems
                else None)
        raise BadInput(f"--data {where}: {refusal}" + (f"; {more}" if more else ""))


def classifier_spec(spec, profile, num_labels: int | None = None, *, data: str | None = None,
                    model: str | None = None):
    """The spec to price a plan trained on the profiled data: for a sequence classifier, the spec with the head
    lorplan train builds for these labels (class_count: labels 0 and 5 need 6 outputs; 0, 5 and "spam" 7), or
    with num_labels outputs when given (--num-labels may add classes the file lacks, never drop one); any other
    spec as it is.
    `lorplan plan --write --data`, `lorplan recommend --data` and the planner price, write and probe this head.

    BadInput, naming the file (`data`, as the user typed it; else the profile's path): a classifier's data
    without labels, a row whose label is no class label (2.5, NaN, true), a negative integer label (no class id),
    integer ids beside a name that reads as a number ("1.0"), num_labels below what the labels need, or a head
    beyond lorplan.core.limits.MAX_NUM_LABELS. Float labels for a model whose head has 1 output (a regression or
    score head) name it as `model` does, the way the user typed it ("--model m"; else its id)."""
    from lorplan.core.limits import MAX_NUM_LABELS
    from lorplan.core.model.head import with_labels

    if _task(spec) != Task.SEQUENCE_CLASSIFICATION:
        return spec
    where = data if data is not None else profile.path
    _check_labels(profile, where, spec, model)
    if profile.labels is None:
        raise BadInput(f"--data {where}: {spec.id} is a sequence classifier and needs rows with a 'label'; "
                       f"these {profile.schema} rows have none")
    ints = [v for v, _ in profile.labels.counts if isinstance(v, int) and not isinstance(v, bool)]
    if ints and min(ints) < 0:  # lorplan train refuses it too, after loading the model: say it now
        raise BadInput(f"--data {where}: label {min(ints)} is negative; integer labels are class ids, 0 and up")
    needed = class_count(profile.labels, f"--data {where}")
    if needed > MAX_NUM_LABELS:
        raise BadInput(f"--data {where}: its labels need {needed:,} classes ({_CLASS_RULE}), more than lorplan "
                       f"plans ({MAX_NUM_LABELS:,}); number the classes from 0")
    if num_labels is not None and num_labels < needed:
        raise BadInput(f"--num-labels: {num_labels} is too few for --data {where}, whose labels need {needed} "
                       f"classes ({_CLASS_RULE})")
    return with_labels(spec, num_labels or needed)


def with_profile(plan: Plan, profile, train_on: str | None = None, path: str | None = None) -> Plan:
    """`plan` with its [data] table from `profile` (data_section; `path` as written by the user, else the
    profile's absolute path; train_on as plan_from_setup takes it: a causal LM's, "completion" by default, and
    none for a sequence classifier). A sequence classifier's num_labels is the plan's own when it holds the labels
    (a plan built from classifier_spec's spec: the head its estimate priced), else the labels' class_count.
    BadInput, naming the file, when a classifier's data has no 'label'."""
    model = plan.model
    if model.task == Task.SEQUENCE_CLASSIFICATION:
        _check_labels(profile, profile.path)
        if profile.labels is None:
            raise BadInput(f"--data {profile.path}: {model.source} is a sequence classifier and needs rows with a "
                           f"'label'; these {profile.schema} rows have none")
        needed = class_count(profile.labels, f"--data {profile.path}")
        if model.num_labels is None or model.num_labels < needed:
            model = replace(model, num_labels=needed)
    return replace(plan, model=model,
                   data=data_section(profile, plan_train_on(model.task, train_on, model.source), path))


def at_rank(plan: Plan, spec, rank: int, alpha: int | float, *, rank_pattern: Mapping[str, int] | None = None,
            use_rslora: bool | None = None, budget_bytes: int | None = None,
            training: dict[str, Any] | None = None) -> Plan:
    """`plan` trained at another rank: [lora] r, alpha, rank_pattern (None: no pattern) and use_rslora (None:
    the plan's), the output folder's `-rN` suffix, `training` overrides (learning_rate ...), and an [estimate]
    priced anew for `spec` (the model the plan names, with its head), as plan_from_setup prices one: the plan a
    probe ladder's recommendation writes from its base plan (lorplan recommend --run RUN --write)."""
    if rank < 1:
        raise BadInput(f"--rank: {rank} must be at least 1")
    pattern = MappingProxyType(dict(rank_pattern or {}))
    _, setup, old = plan_to_setup(plan)
    setup = replace(setup, targets=replace(setup.targets, rank_pattern=pattern))
    lora = replace(plan.lora, r=rank, alpha=alpha, rank_pattern=pattern,
                   use_rslora=plan.lora.use_rslora if use_rslora is None else use_rslora)
    t = plan.training
    out = t.output_dir
    if out.endswith(f"-r{old}"):
        out = out[: -len(f"-r{old}")] + f"-r{rank}"
    t = replace(t, output_dir=out, **(training or {}))
    return replace(plan, lora=lora, training=t, estimate=_estimate_section(spec, setup, rank, budget_bytes))


def plan_to_setup(plan: Plan):
    """(source for load_spec, TrainingSetup, rank) for a plan: the inverse of plan_from_setup.

    The returned setup prices the same training step the plan describes (CPU plans, gpus = 0, are priced as
    one device).
    """
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup

    q = plan.quantization
    if q.load_in_4bit:
        quant = q.bnb_4bit_quant_type
    elif q.load_in_8bit:
        quant = Quant.INT8.value
    else:
        quant = Quant.NONE.value
    lo = plan.lora
    targets = LoraTargets(
        modules=tuple(lo.target_modules),
        layers_to_transform=tuple(lo.layers_to_transform) or None,
        rank_pattern=lo.rank_pattern,
        alpha_pattern=lo.alpha_pattern,
        use_dora=lo.use_dora,
        modules_to_save=tuple(lo.modules_to_save),
    )
    t = plan.training
    known = {f.name for f in fields(TrainingSetup)}
    assumed = {}
    if plan.estimate is not None:
        assumed = {k: getattr(plan.estimate, k) for k in ASSUMPTIONS
                   if k in known and getattr(plan.estimate, k) is not None}
    setup = TrainingSetup(
        targets=targets,
        rope_scaling=plan.model.rope_scaling,
        quant=quant,
        double_quant=q.bnb_4bit_use_double_quant and quant in FOUR_BIT_QUANTS,
        prepare_kbit=q.prepare_kbit,
        base_dtype=t.precision,
        micro_batch=t.micro_batch,
        seq_len=t.seq_len,
        grad_checkpointing=t.gradient_checkpointing,
        optimizer=t.optimizer,
        attention=t.attention,
        lora_dropout=lo.dropout,
        gpus=max(1, plan.hardware.gpus),
        # several GPUs and no sharding: lorplan train starts one process per GPU and the accelerate export writes
        # data parallel, so it is priced as ddp (TrainingSetup refused it in words for lorplan plan's flags)
        sharding=(Sharding.DDP if plan.hardware.gpus > 1 and plan.hardware.sharding == Sharding.NONE
                  else plan.hardware.sharding),
        **assumed,
    )
    return plan.model.source, setup, lo.r


def prepares_kbit(plan: Plan) -> bool:
    """Whether the plan trains its base through peft's prepare_model_for_kbit_training, as lorplan train runs it
    (lorplan.train.model) and the exports read it: a quantized base (bitsandbytes 4- or 8-bit) unless the plan says
    otherwise ([quantization] prepare_kbit = false: lorplan plan / recommend --no-prepare-kbit; an older plan's
    [estimate] prepare_kbit is read into it). Its fp32 up-cast of every parameter bitsandbytes leaves unquantized
    (norms, embeddings, the head) is in the estimate exactly when this is true, as plan_to_setup prices it. A plan
    that does not say is prepared (the key's default, TrainingSetup's). The one statement of the rule."""
    q = plan.quantization
    return (q.load_in_4bit or q.load_in_8bit) and q.prepare_kbit


def priced_spec(plan: Plan, spec):
    """The spec `plan` is priced on, from `spec` (its model's spec, as read from the catalog, folder or cache):
    a sequence classifier's re-headed to model.num_labels outputs, else 2 (the head lorplan train builds, trained
    in full, so its size is in every figure: lorplan.core.model.head.with_labels); any other spec as it is. The
    one rule for every figure priced anew from a plan file: its [estimate] (priced_anew) and the exports' notes
    (lorplan.core.export.kbit)."""
    if plan.model.task != Task.SEQUENCE_CLASSIFICATION:
        return spec
    from lorplan.core.model.head import with_labels

    return with_labels(spec, plan.model.num_labels or 2)


def priced_anew(plan: Plan, spec) -> EstimateSection:
    """The [estimate] `plan` prices as it stands on `spec` (its model's spec; re-headed by priced_spec: a sequence
    classifier's to model.num_labels outputs, else 2, the head lorplan train builds), priced as plan_from_setup
    prices it, with the assumptions and budget its own [estimate] records: equal to that [estimate] unless a priced
    key (micro_batch, seq_len, quantization, targets, ...) or the model was edited since it was planned, or another
    lorplan version's memory model priced it. Bytes per GPU, as every [estimate]."""
    _, setup, rank = plan_to_setup(plan)
    spec = priced_spec(plan, spec)
    budget = plan.estimate.budget_bytes if plan.estimate is not None else None
    return _estimate_section(spec, setup, rank, budget)
