"""A plan file against its model: its task one lorplan plans the model for (no causal LM of an encoder), the
sequence length it trains at must be within the model's context, or within
the reach of the plan's model.rope_scaling, its attention and gradient checkpointing ones the model's class
implements, and its LoRA settings
must adapt what they name (targets, blocks, rank_pattern and alpha_pattern keys). The rules are lorplan plan's and the planner's (core.memory.bounds
check_context and check_targets), applied to a plan that may have been edited by hand since it was planned,
before `lorplan train` or `lorplan export` acts on it.
"""

from __future__ import annotations

from lorplan.core.errors import BadInput
from lorplan.core.model.spec import ModelSpec
from lorplan.core.plan.schema import Plan


def check_plan_context(plan: Plan, spec: ModelSpec, plan_path: str, class_settings: bool = True) -> None:
    """BadInput "PLAN: training.seq_len = 4096 is beyond <model>'s context of 1,024 tokens …" (one line, naming
    the plan and its keys) when plan.training.seq_len (tokens) is beyond spec's context and model.rope_scaling
    does not reach it, or when model.rope_scaling cannot apply to this model; and the first of class_refusals'
    lines (an attention or gradient checkpointing the model's class lacks), unless class_settings=False (`lorplan
    export`, which refuses them only for a format that writes the setting and notes them otherwise)."""
    from lorplan.core.memory.bounds import PLAN_KEYS, check_context
    from lorplan.core.memory.types import TrainingSetup

    task = plan_task_refusal(plan, spec, plan_path)
    if task is not None:
        raise BadInput(task)
    try:  # check_context reads these two settings only
        setup = TrainingSetup(seq_len=plan.training.seq_len, rope_scaling=plan.model.rope_scaling)
        check_context(spec, setup, PLAN_KEYS)
    except BadInput as exc:
        raise BadInput(f"{plan_path}: {exc}") from None
    if class_settings:
        for _, refusal in class_refusals(plan, spec, plan_path):
            raise BadInput(refusal)


def plan_task_refusal(plan: Plan, spec: ModelSpec, plan_path: str) -> str | None:
    """'PLAN: model.task = "causal-lm": ./bert is planned as sequence-classification
    (BertForSequenceClassification) …' when a plan trains as a causal LM a model lorplan plans as a sequence classifier (an
    encoder: BERT's kin, ModernBERT's masked LM; a model whose config.json names its classifier), the rule `lorplan recommend --task` follows; None otherwise. Such a
    plan trains nothing of a causal LM: transformers has no causal-LM class of ModernBERT (`lorplan train` crashed
    in AutoModelForCausalLM), builds BERT as BertLMHeadModel with its attention bidirectional (each token sees the
    one it predicts), and peft's causal-LM LoRA (task CAUSAL_LM: TRL, axolotl, Unsloth, the peft export) cannot
    wrap a *ForMaskedLM model (no prepare_inputs_for_generation). A decoder planned as a classifier (the planner
    writes one) is left alone: transformers has its sequence-classification class."""
    from lorplan.core.vocab import Task

    if plan.model.task != Task.CAUSAL_LM or spec.task != Task.SEQUENCE_CLASSIFICATION:
        return None
    return (f'{plan_path}: model.task = "{Task.CAUSAL_LM.value}": {plan.model.source} is planned as {spec.task} '
            f"({spec.architecture}): lorplan plans it as a sequence classifier, not as a causal LM: plan it as "
            f"one (lorplan plan --model {plan.model.source} --write PLAN.toml writes model.task = "
            f'"{Task.SEQUENCE_CLASSIFICATION.value}"), or give a causal LM')


def plan_attention_refusal(plan: Plan, spec: ModelSpec, plan_path: str) -> str | None:
    """'PLAN: training.attention = "sdpa": google/gemma-2-9b (Gemma2ForCausalLM) does not implement sdpa attention
    in transformers; it supports eager, flash: set training.attention = "eager" (or lorplan plan --attention
    eager)' when the model's class lacks the plan's attention (core.model.attention, the rule `lorplan plan
    --attention` and the planner follow); None when it implements it."""
    from lorplan.core.model.attention import attention_refusal, default_attention

    attention = plan.training.attention
    why = attention_refusal(spec, attention)
    if why is None:
        return None
    return (f'{plan_path}: training.attention = "{attention}": {why}: set training.attention = '
            f'"{default_attention(spec)}" (or lorplan plan --attention {default_attention(spec)})')


def plan_checkpointing_refusal(plan: Plan, spec: ModelSpec, plan_path: str) -> str | None:
    """"PLAN: training.gradient_checkpointing = true: ./ctrl (CTRLLMHeadModel) does not implement gradient
    checkpointing in transformers: set it to false (or lorplan plan without --grad-checkpointing)" when the plan
    checkpoints and the model's class cannot (core.model.fallback.checkpointing_refusal, the rule `lorplan plan
    --grad-checkpointing` follows); None otherwise."""
    from lorplan.core.model.fallback import checkpointing_refusal

    why = checkpointing_refusal(spec) if plan.training.gradient_checkpointing else None
    if why is None:
        return None
    return (f"{plan_path}: training.gradient_checkpointing = true: {why}: set it to false (or lorplan plan without "
            "--grad-checkpointing)")


# The plan's settings that the model's transformers class may not implement, by plan key, each with the line
# refusing it: lorplan train refuses them before it loads the weights; lorplan export refuses one only for a format
# that writes that setting (core.export.common.WRITES_SETTING) and notes it otherwise.
CLASS_SETTINGS = (("training.attention", plan_attention_refusal),
                  ("training.gradient_checkpointing", plan_checkpointing_refusal))


def class_refusals(plan: Plan, spec: ModelSpec, plan_path: str) -> list[tuple[str, str]]:
    """(plan key, refusal line) for each CLASS_SETTINGS setting of the plan that the model's class lacks, in
    CLASS_SETTINGS' order; [] when it implements them all."""
    found = ((key, refusal(plan, spec, plan_path)) for key, refusal in CLASS_SETTINGS)
    return [(key, line) for key, line in found if line is not None]


# lorplan.core.lora names the flags of `lorplan plan` in its messages; a plan file has keys instead
_FLAG_KEYS = (("--targets:", "lora.target_modules:"), ("--modules-to-save:", "lora.modules_to_save:"))


def check_plan_targets(plan: Plan, spec: ModelSpec, plan_path: str) -> None:
    """BadInput "PLAN: lora.rank_pattern: 'q_prj' matches no module the targets adapt (…)" (one line, naming the
    plan and its key) when the plan's LoRA settings would not train what they say on this model: a target or
    modules_to_save name that matches no module, blocks the model does not have, a rank_pattern rank above its
    module's smallest dimension, a lora.r above the largest rank any adapted module can use, or a rank_pattern /
    alpha_pattern key that matches no adapted module (peft ignores such a key, so a typo in a hand-edited plan
    would train every module at lora.r). The rules are `lorplan plan`'s (core.memory.bounds.check_targets,
    check_ranks)."""
    from lorplan.core.lora import saved_params
    from lorplan.core.memory.bounds import TARGET_KEYS, check_ranks, check_targets
    from lorplan.core.plan.build import plan_to_setup

    try:
        targets = plan_to_setup(plan)[1].targets
    except BadInput as exc:  # TrainingSetup's rules, in lorplan plan's flags: "--sharding fsdp needs --gpus ≥ 2"
        hw = plan.hardware
        message = (f"hardware.sharding: {hw.sharding} shards over several GPUs, but hardware.gpus is {hw.gpus} (give "
                   'gpus of 2 or more, or sharding = "none")' if str(exc).startswith("--sharding ") else str(exc))
        raise BadInput(f"{plan_path}: {message}") from None
    try:
        check_targets(spec, targets, TARGET_KEYS)
        # lora.r above every adapted module's min(in, out) only adds parameters; a typo such as r = 100000 built
        # adapters of billions of parameters and ran the machine out of memory before a word was said
        check_ranks(spec, targets, (plan.lora.r,), "lora.r")
        if targets.modules_to_save:
            saved_params(spec, targets)
    except BadInput as exc:
        message = str(exc)
        for flag, key in _FLAG_KEYS:
            if message.startswith(flag):
                message = key + message[len(flag):]
        raise BadInput(f"{plan_path}: {message}") from None


def data_key(plan: Plan, plan_file: str | None = None) -> str:
    """The plan's data as a message names it, by the plan file and its key: "p.toml: data.path d.jsonl" (a plan
    with no file, the planner's: "data.path d.jsonl"), as `lorplan train` and `lorplan export` name it."""
    return f"{plan_file + ': ' if plan_file else ''}data.path {plan.data.path}"

