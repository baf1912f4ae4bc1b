"""One export reads the data file's first rows once (common.data_head): its chat layout, the key its rows sit
under and, for data.schema = auto, the schema lorplan detects in them. Before, an Unsloth export of an auto plan
read them six times (rows_key once, chat_layout once, rows_schema's detect_from_file four times, uncached)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.data import readers
from lorplan.core.data.schema import detect_from_file
from lorplan.core.export import common, export_plan
from lorplan.core.export.trl import rows_schema
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SHAREGPT = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}


def _plan(data: Path, schema: str):
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, data=replace(plan.data, path=str(data), schema=schema, eval_split=0.0))


@pytest.mark.parametrize("schema", ["auto", "messages"])
@pytest.mark.parametrize("fmt", ["trl", "unsloth", "axolotl", "llamafactory"])
def test_one_export_reads_the_data_files_head_once(tmp_path, monkeypatch, fmt, schema):
    data = tmp_path / "chat.json"
    data.write_text(json.dumps({"version": 1, "data": [SHAREGPT] * 3}, indent=2))
    reads = []
    head = readers.RowSource.head
    monkeypatch.setattr(readers.RowSource, "head", lambda self, limit: reads.append(limit) or head(self, limit))
    common._HEADS.clear()
    result = export_plan(_plan(data, schema), fmt)
    assert len(reads) == 1
    assert any("list under 'data' holds the rows" in w for w in result.warnings) == (fmt != "unsloth")
    export_plan(_plan(data, schema), fmt)  # the planner's next keypress: the file is as it was
    assert len(reads) == 1


def test_the_detected_schema_is_detect_from_files_and_follows_the_file(tmp_path):
    data = tmp_path / "rows.json"
    data.write_text(json.dumps([SHAREGPT]))
    assert rows_schema(_plan(data, "auto")) == detect_from_file(data) == "messages"
    data.write_text(json.dumps([{"prompt": "2 + 2 =", "completion": " 4"}] * 2))  # another size: another version
    assert rows_schema(_plan(data, "auto")) == detect_from_file(data) == "prompt-completion"
    data.write_text("[1, 2]")  # no schema lorplan reads: auto, as before
    assert rows_schema(_plan(data, "auto")) == "auto"
    assert rows_schema(_plan(tmp_path / "missing.json", "auto")) == "auto"
