"""Plans: the plan file's schema (frozen dataclasses), its validation, TOML reading and writing, building a
plan from a planning setup, and the `lorplan plan` line for a setup.

The names below are imported on first use (PEP 562): `from lorplan.core.plan.defaults import micro_batch`, which
the planner's first frame needs, then loads this file and defaults.py alone, not the schema, validation, TOML
and export modules behind them (about 10 ms of its start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from lorplan.core.plan.tomlfile import checked_plan_text, dumps_plan, loads_plan, read_plan, write_plan

# name -> the submodule that defines it
_HOMES = {
    **dict.fromkeys(("PLACEHOLDER_DATA_PATH", "at_rank", "class_count", "classifier_spec", "data_section",
                     "plan_from_setup", "plan_to_setup", "plan_train_on", "with_profile"), "build"),
    **dict.fromkeys(("PLAN_VERSION", "DataSection", "EstimateSection", "HardwareSection", "LoraSection",
                     "ModelSection", "Plan", "QuantizationSection", "TrainingSection"), "schema"),
    **dict.fromkeys(("checked_plan_text", "dumps_plan", "loads_plan", "read_plan", "write_plan"), "tomlfile"),
}
# The submodules this file used to import eagerly, so `lorplan.core.plan.schema` after `import lorplan.core.plan`
# still finds its module.
_SUBMODULES = frozenset(("build", "defaults", "rules", "schema", "tomlfile", "validate"))

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
    "checked_plan_text",
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


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
