"""Plans: the plan file's schema (frozen dataclasses), its validation, TOML reading and writing, building a
plan from a planning setup, and the `lorplan plan` line for a setup.
"""

from lorplan.core.plan.build import (
    PLACEHOLDER_DATA_PATH,
    at_rank,
    class_count,
    classifier_spec,
    data_section,
    plan_from_setup,
    plan_to_setup,
    plan_train_on,
    with_profile,
)
from lorplan.core.plan.schema import (
    PLAN_VERSION,
    DataSection,
    EstimateSection,
    HardwareSection,
    LoraSection,
    ModelSection,
    Plan,
    QuantizationSection,
    TrainingSection,
)
from lorplan.core.plan.tomlfile import dumps_plan, loads_plan, read_plan, write_plan

__all__ = [
    "PLACEHOLDER_DATA_PATH",
    "PLAN_VERSION",
    "DataSection",
    "EstimateSection",
    "HardwareSection",
    "LoraSection",
    "ModelSection",
    "Plan",
    "QuantizationSection",
    "TrainingSection",
    "at_rank",
    "class_count",
    "classifier_spec",
    "data_section",
    "dumps_plan",
    "loads_plan",
    "plan_from_setup",
    "plan_to_setup",
    "plan_train_on",
    "read_plan",
    "with_profile",
    "write_plan",
]
