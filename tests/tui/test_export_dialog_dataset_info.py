"""The export dialog writes LLaMA-Factory's dataset_info.json beside its YAML (llamafactory-data/), and one there is
named in the overwrite question and kept until Overwrite, as `lorplan export` keeps it without --force."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from textual.widgets import Checkbox, Static
from tui_helpers import paste_into

from lorplan.core.plan import read_plan
from lorplan.tui.screens.export_dialog import ExportDialog
from tests.tui.test_export_dialog import SIZE, Host, click

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def _plan(tmp_path: Path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"prompt": "q", "completion": " a"}\n')
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, data=replace(plan.data, path=str(data), schema="prompt-completion"))


@pytest.mark.anyio
async def test_a_dataset_info_json_there_is_named_and_kept_until_overwrite(tmp_path):
    out = tmp_path / "out"
    mine = out / "llamafactory-data" / "dataset_info.json"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"my_set": {}}')
    (out / "llamafactory.yaml").write_text("mine: 1\n")
    app = Host(_plan(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        for fmt in ("plan", "peft"):
            dialog.query_one(f"#fmt-{fmt}", Checkbox).value = False
        dialog.query_one("#fmt-llamafactory", Checkbox).value = True
        await pilot.pause()
        await paste_into(pilot, "#export-folder", str(out))
        await click(pilot, "#export-write")
        status = str(dialog.query_one("#export-status", Static).render())
        assert "2 files would be replaced" in status
        assert "llamafactory.yaml" in status and "llamafactory-data/dataset_info.json" in status
        assert mine.read_text() == '{"my_set": {}}' and (out / "llamafactory.yaml").read_text() == "mine: 1\n"
        await click(pilot, "#export-overwrite")
    assert sorted(p.relative_to(out).as_posix() for p in app.result) == [
        "llamafactory-data/dataset_info.json", "llamafactory.yaml"]
    cfg = yaml.safe_load((out / "llamafactory.yaml").read_text())
    assert cfg["dataset_dir"] == str(mine.parent)
    assert json.loads(mine.read_text())[cfg["dataset"]]["file_name"] == str(tmp_path / "train.jsonl")
