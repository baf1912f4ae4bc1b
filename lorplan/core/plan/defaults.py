"""Training defaults per task: the one place `lorplan plan --write`, `lorplan recommend`, the TUI's export and
probes take the learning rate, micro-batch, alpha and schedule from when the user did not set them. Pure.

Alpha: 32 at every rank with peft's standard scaling alpha / r. LoRA Without Regret (Schulman et al., Thinking
Machines, 2025, thinkingmachines.ai/blog/lora) trains ranks 1-512 at alpha = 32 and finds the best learning
rate about the same at every rank; tinker-cookbook's learning rates (tinker_cookbook/hyperparam_utils.py
get_lr, get_lora_lr_over_full_finetune_lr(lora_alpha=32)) are calibrated in that convention, so the rates
below assume it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorplan.core.vocab import Task

ALPHA = 32  # an integer: peft's LoraConfig and the exporters' schemas type lora_alpha as int
USE_RSLORA = False

# Empirical best LoRA learning rates at alpha = 32 from tinker-cookbook's SFT sweep (tulu3, batch 128,
# 780 steps): tinker_cookbook/hyperparam_utils.py `get_lr`. Only models of lorplan's catalog (or their base
# versions) are listed.
TINKER_LORA_LR = {
    "meta-llama/Llama-3.1-8B": 3e-4,
    "meta-llama/Llama-3.1-70B": 3e-4,
    "meta-llama/Llama-3.2-1B": 1e-3,
    "meta-llama/Llama-3.2-3B": 1e-3,
    "meta-llama/Llama-3.3-70B": 3e-4,
    "Qwen/Qwen3-8B": 1e-3,
    "Qwen/Qwen3-30B-A3B": 1e-3,
    "Qwen/Qwen3-32B": 3e-4,
}
# The same table's pattern for other causal LMs: 1e-3 for models up to ~8B parameters, 3e-4 above
# (Llama-3.1-8B is the exception the table lists itself).
LARGE_MODEL_PARAMS = 10_000_000_000
CAUSAL_LM_LR, LARGE_CAUSAL_LM_LR = 1e-3, 3e-4

# Sequence classification (an encoder with a fresh head trained at the same rate): 1e-3. 10x BERT's middle
# fine-tuning rate (3e-5; Devlin et al. 2019, arXiv 1810.04805, A.3), the LoRA factor LoRA Without Regret
# measured, gives 3e-4, but the head starts from random and learns at the adapters' rate: measured on
# all-MiniLM-L6-v2 with lorplan's generated sentiment task (800 examples, 60 steps, micro-batch 16, alpha 32,
# rank 8), eval accuracy 0.94 at 3e-4 and 1.00 at 1e-3 and 2e-3; at 2e-4 and micro-batch 1 it stayed at
# chance (0.61, the majority share of that split).
CLASSIFICATION_LR = 1e-3

# Micro-batch: a sequence-classification example is short and the encoders lorplan plans are small, so 16
# rows fit anywhere and give the head a gradient that is not one example's noise (micro-batch 1 stayed at
# chance above). A causal LM's rows are long: 1, the planner's memory-safe default (raise it where it fits).
CLASSIFICATION_MICRO_BATCH = 16
CAUSAL_LM_MICRO_BATCH = 1

# Schedule: linear decay after 5% warmup (a probe's; transformers' get_linear_schedule_with_warmup).
LR_SCHEDULER = "linear"
WARMUP_RATIO = 0.05
EVAL_SPLIT = 0.1  # the held-out share when the plan names none


@dataclass(frozen=True)
class TaskDefaults:
    """What a plan for `task` trains with when the user set nothing: learning_rate (at alpha = ALPHA with
    alpha / r scaling), micro_batch (rows per step per GPU), alpha, use_rslora, lr_scheduler, warmup_ratio,
    eval_split; `why` says where the learning rate comes from."""

    task: str
    learning_rate: float
    micro_batch: int
    alpha: int
    use_rslora: bool
    lr_scheduler: str
    warmup_ratio: float
    eval_split: float
    why: str


def _base_id(model_id: str) -> str:
    for suffix in ("-Instruct", "-Base"):
        if model_id.endswith(suffix):
            return model_id[: -len(suffix)]
    return model_id


def learning_rate(model_id: str, task: str, total_params: int) -> tuple[float, str]:
    """A starting learning rate for LoRA at alpha = 32 with alpha/r scaling, and where it comes from.

    Causal LM: tinker-cookbook's empirical table (get_lr) for the model or its base version, else 1e-3 up to
    10B parameters and 3e-4 above, the table's own pattern. Sequence classification: CLASSIFICATION_LR.
    total_params: the base model's parameter count.
    """
    if task == Task.SEQUENCE_CLASSIFICATION:
        return CLASSIFICATION_LR, (f"learning rate {CLASSIFICATION_LR:g}: a fresh classifier head learns at the "
                                   "adapters' rate, and 10x BERT's full fine-tuning rate (3e-4, the LoRA factor "
                                   "LoRA Without Regret measured) left all-MiniLM-L6-v2 short of its task after "
                                   "60 steps where 1e-3 learned it")
    for key in (model_id, _base_id(model_id)):
        if key in TINKER_LORA_LR:
            lr = TINKER_LORA_LR[key]
            return lr, (f"learning rate {lr:g}: the best LoRA rate tinker-cookbook measured for {key} "
                        "(SFT sweep at alpha 32; hyperparam_utils.get_lr)")
    large = total_params >= LARGE_MODEL_PARAMS
    lr = LARGE_CAUSAL_LM_LR if large else CAUSAL_LM_LR
    size = "10B parameters or more" if large else "under 10B parameters"
    return lr, (f"learning rate {lr:g}: tinker-cookbook's measured LoRA rates at alpha 32 are 1e-3 for most "
                f"models of about 8B parameters or fewer and 3e-4 for larger ones; lorplan uses 1e-3 under 10B "
                f"parameters, and this model has {size}")


def micro_batch(task: str) -> int:
    """Rows per optimizer step per GPU when the user gave none (see CLASSIFICATION_MICRO_BATCH)."""
    return CLASSIFICATION_MICRO_BATCH if task == Task.SEQUENCE_CLASSIFICATION else CAUSAL_LM_MICRO_BATCH


def task_defaults(task: str, model_id: str = "", total_params: int = 0) -> TaskDefaults:
    """Every default for a plan of `task` (and model, for the learning rate) in one value."""
    lr, why = learning_rate(model_id, task, total_params)
    return TaskDefaults(task=str(task), learning_rate=lr, micro_batch=micro_batch(task), alpha=ALPHA,
                        use_rslora=USE_RSLORA, lr_scheduler=LR_SCHEDULER, warmup_ratio=WARMUP_RATIO,
                        eval_split=EVAL_SPLIT, why=why)


__all__ = ["ALPHA", "CLASSIFICATION_LR", "TaskDefaults", "learning_rate", "micro_batch", "task_defaults"]
