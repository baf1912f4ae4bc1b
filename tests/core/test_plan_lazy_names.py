"""lorplan.core.plan names its public values on first use (PEP 562): the defaults the planner's first frame reads
load no schema, validation, TOML or export module, and every import path that worked before still works."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import lorplan.core.plan as plan
from lorplan.core.plan import build, schema, tomlfile

# where each name came from when the package imported them all (before PEP 562)
HOMES = {
    build: ("PLACEHOLDER_DATA_PATH", "at_rank", "class_count", "classifier_spec", "data_section", "plan_from_setup",
            "plan_to_setup", "plan_train_on", "with_profile"),
    schema: ("PLAN_VERSION", "DataSection", "EstimateSection", "HardwareSection", "LoraSection", "ModelSection",
             "Plan", "QuantizationSection", "TrainingSection"),
    tomlfile: ("checked_plan_text", "dumps_plan", "loads_plan", "read_plan", "write_plan"),
}


def test_the_task_defaults_load_neither_the_schema_nor_the_plan_file_modules():
    # the planner's first frame reads the default micro-batch here; the package's names cost ~10 ms more
    code = ("import sys; from lorplan.core.plan.defaults import micro_batch; "
            "print(sorted(m for m in sys.modules if m.startswith('lorplan.core.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['lorplan.core.plan',", "'lorplan.core.plan.defaults',", "'lorplan.core.vocab']"], \
        out.stderr


def test_all_lists_the_names_the_package_imported():
    assert sorted(plan.__all__) == sorted(name for names in HOMES.values() for name in names)


@pytest.mark.parametrize("name", plan.__all__)
def test_every_public_name_is_its_home_modules_object(name):
    (home,) = [module for module, names in HOMES.items() if name in names]
    assert getattr(plan, name) is getattr(home, name)
    assert name in dir(plan)


def test_star_import_and_submodule_attributes_work_as_before():
    namespace: dict = {}
    exec("from lorplan.core.plan import *", namespace)  # noqa: S102
    assert {name for name in namespace if not name.startswith("__")} == set(plan.__all__)
    assert namespace["read_plan"] is tomlfile.read_plan
    for name in ("build", "defaults", "rules", "schema", "tomlfile", "validate"):
        assert getattr(plan, name) is importlib.import_module(f"lorplan.core.plan.{name}")


def test_an_unknown_name_is_an_attribute_error_and_an_import_error():
    with pytest.raises(AttributeError, match="lorplan.core.plan.*no_such_name"):
        plan.no_such_name  # noqa: B018
    with pytest.raises(ImportError, match="no_such_name"):
        exec("from lorplan.core.plan import no_such_name")  # noqa: S102
