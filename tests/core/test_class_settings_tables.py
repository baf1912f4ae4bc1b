"""Two tables are keyed by the plan settings a model's transformers class may lack: core.plan.context.CLASS_SETTINGS
(the key and the line refusing it, which lorplan train and lorplan export read) and core.export.common.WRITES_SETTING
(what an export note calls the setting and the formats that write it). `lorplan export` looks up WRITES_SETTING by
each key class_refusals returns, so a key added to CLASS_SETTINGS alone would end the export of a plan refused for
that setting in a KeyError traceback, and one added to WRITES_SETTING alone would never be checked. They must hold
the same keys, each a real plan key. (One table would join core.plan.context's refusals and core.export's formats;
this pins the two instead.)"""

from dataclasses import fields
from typing import get_type_hints

from lorplan.core.export.common import WRITES_SETTING
from lorplan.core.plan.context import CLASS_SETTINGS
from lorplan.core.plan.schema import Plan
from lorplan.core.vocab import ExportFormat


def test_the_export_table_has_each_setting_a_class_may_lack_and_no_other():
    keys = [key for key, _ in CLASS_SETTINGS]
    assert keys and len(set(keys)) == len(keys), keys
    assert set(WRITES_SETTING) == set(keys)


def test_each_key_is_a_plan_key_with_a_name_and_the_formats_that_write_it():
    sections = get_type_hints(Plan)
    for key, (setting, writers) in WRITES_SETTING.items():
        section, name = key.split(".")
        assert name in {f.name for f in fields(sections[section])}, key
        assert setting and setting.strip() == setting, (key, setting)
        assert writers and set(writers) < set(ExportFormat), (key, writers)  # some formats write it, not all
