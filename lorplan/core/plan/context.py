"""A plan file against its model's context: the sequence length it trains at must be within the model's
context, or within the reach of the plan's model.rope_scaling. The rule is lorplan plan's and the planner's
(core.memory.bounds.check_context), applied to a plan that may have been edited by hand since it was planned,
before `lorplan train` or `lorplan export` acts on it.
"""

from __future__ import annotations

from lorplan.core.errors import BadInput
from lorplan.core.model.spec import ModelSpec
from lorplan.core.plan.schema import Plan


def check_plan_context(plan: Plan, spec: ModelSpec, plan_path: str) -> None:
    """BadInput "PLAN: training.seq_len = 4,096 is beyond <model>'s context of 1,024 tokens …" (one line, naming
    the plan and its keys) when plan.training.seq_len (tokens) is beyond spec's context and model.rope_scaling
    does not reach it, or when model.rope_scaling cannot apply to this model."""
    from lorplan.core.memory.bounds import PLAN_KEYS, check_context
    from lorplan.core.memory.types import TrainingSetup

    try:  # check_context reads these two settings only
        setup = TrainingSetup(seq_len=plan.training.seq_len, rope_scaling=plan.model.rope_scaling)
        check_context(spec, setup, PLAN_KEYS)
    except BadInput as exc:
        raise BadInput(f"{plan_path}: {exc}") from None
