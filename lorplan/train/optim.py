"""The plan's optimizer and learning-rate schedule.

Parameter groups follow transformers' Trainer (trainer.py get_decay_parameter_names, 5.x): weight decay on
every trained parameter except biases and normalization weights (LayerNorm modules, and names matching
bias / layernorm / rmsnorm / norm). Warmup is ceil(warmup_ratio × steps), as TrainingArguments.get_warmup_steps
computes it, so `lorplan train` warms up as the exported Trainer-based configs do.
"""

from __future__ import annotations

import math

from lorplan.core.vocab import EIGHT_BIT_OPTIMIZERS, Optimizer

NO_DECAY_PATTERNS = (r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)")


def decay_parameter_names(model) -> set[str]:
    """Names of the parameters that get weight decay (transformers' rule, see the module docstring)."""
    from torch import nn
    from transformers.trainer_pt_utils import get_parameter_names

    return set(get_parameter_names(model, [nn.LayerNorm], list(NO_DECAY_PATTERNS)))


def param_groups(model, weight_decay: float) -> list[dict]:
    """[{"params", "weight_decay"}] for the trained parameters: decayed first, then the rest; empty groups
    are left out."""
    decay = decay_parameter_names(model)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trained if n in decay], "weight_decay": weight_decay},
        {"params": [p for n, p in trained if n not in decay], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(plan, model, device: str, notes: list[str]):
    """The plan's optimizer over `model`'s trained parameters. 8-bit AdamW (bitsandbytes) needs CUDA; on CPU
    it becomes torch AdamW, with a note."""
    import torch

    t = plan.training
    groups = param_groups(model, t.weight_decay)
    if t.optimizer in EIGHT_BIT_OPTIMIZERS:
        if device == "cuda":
            import bitsandbytes as bnb

            cls = bnb.optim.PagedAdamW8bit if t.optimizer == Optimizer.PAGED_ADAMW_8BIT else bnb.optim.AdamW8bit
            return cls(groups, lr=t.learning_rate)
        notes.append(f"CPU run: {t.optimizer} (bitsandbytes) replaced by torch AdamW")
        return torch.optim.AdamW(groups, lr=t.learning_rate)
    if t.optimizer == Optimizer.ADAMW:
        return torch.optim.AdamW(groups, lr=t.learning_rate)
    momentum = 0.9 if t.optimizer == Optimizer.SGD_MOMENTUM else 0.0
    return torch.optim.SGD(groups, lr=t.learning_rate, momentum=momentum)


def warmup_steps(plan, total_steps: int) -> int:
    return math.ceil(plan.training.warmup_ratio * total_steps)


def build_scheduler(plan, optimizer, total_steps: int):
    """transformers.get_scheduler(plan's lr_scheduler) over total_steps optimizer steps."""
    import transformers

    return transformers.get_scheduler(plan.training.lr_scheduler, optimizer,
                                      num_warmup_steps=warmup_steps(plan, total_steps),
                                      num_training_steps=total_steps)


def multipliers(plan, total_steps: int, upto: int) -> list[float]:
    """The learning-rate multipliers (of training.learning_rate) the plan's schedule over total_steps gives steps
    1 .. upto + 1: item k is step k + 1's, as the engine reads the rate before it steps the schedule."""
    import torch

    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=plan.training.learning_rate)
    (f,) = build_scheduler(plan, probe, total_steps).lr_lambdas  # a LambdaLR, as for every Scheduler name
    return [float(f(k)) for k in range(upto + 1)]


def move_schedule(scheduler, step: int) -> list[float]:
    """Put `scheduler` (a LambdaLR over the run's length, loaded from a shorter run's checkpoint) at `step`: its
    optimizer's learning rates become the ones it gives step + 1, which the loaded optimizer state had from the
    shorter schedule. Returns them."""
    lrs = [base * f(step) for base, f in zip(scheduler.base_lrs, scheduler.lr_lambdas, strict=True)]
    scheduler.last_epoch = step
    for group, lr in zip(scheduler.optimizer.param_groups, lrs, strict=True):
        group["lr"] = lr
    scheduler._last_lr = list(lrs)
    return lrs


def group_settings(optimizer) -> list[dict]:
    """Each parameter group's hyper-parameters (everything but the parameters), for comparisons and logs."""
    return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]

