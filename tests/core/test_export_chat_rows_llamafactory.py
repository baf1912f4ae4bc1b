"""The LLaMA-Factory export and OpenAI-style chat rows. Its sharegpt entry names one system tag and no per-message
field (src/llamafactory/data/parser.py, converter.py), so nothing in the entry reads developer as system or a
weight-0 turn as untrained, and its formatter refuses a content that is no string: the export says so in one line,
for chat data alone."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
CHAT_ROWS = "chat rows: LLaMA-Factory's sharegpt reader"


def _result(schema: str):
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # a chat plan
    return export_plan(replace(plan, data=replace(plan.data, schema=schema)), "llamafactory")


def test_a_chat_plan_says_what_llamafactory_reads_otherwise_in_one_line():
    result = _result("messages")
    (line,) = [w for w in result.warnings if w.startswith(CHAT_ROWS)]
    assert "\n" not in line
    for said in ("skips a row with a developer message", '"weight": 0', "text parts"):
        assert said in line
    (text,) = result.files.values()
    assert f"# lorplan: WARNING: {line}\n" in text


def test_the_entry_has_no_tag_for_developer_or_weight():
    """The line stands because the entry cannot say it: one system_tag, no weight tag."""
    (register,) = [w for w in _result("messages").warnings if "dataset_info.json" in w]
    entry = json.loads(register.split(" as ", 1)[1])["lorplan_train"]
    assert entry["tags"]["system_tag"] == "system"
    assert "weight" not in json.dumps(entry)


@pytest.mark.parametrize("schema", ["text", "prompt-completion", "alpaca", "tokenized", "auto"])
def test_other_schemas_have_no_chat_line(schema):
    assert not [w for w in _result(schema).warnings if w.startswith(CHAT_ROWS)]
