"""The Data tab's "train on prompts too" while another file is typed. Once a plain-text file was profiled the
checkbox was disabled ("plain text has no prompt"), and it stayed so while the user typed the path of a chat file,
while that file was profiled, and after it failed to profile: it described the old file, not the one in the field.
And ticking it with a new path typed put the old file's path back in the field and profiled that one again. The
checkbox now follows the field: the profiled file's state while the field holds that file (and schema), otherwise
offered as pending (its tooltip says the new file decides once profiled), or disabled at once when the schema
chosen in the list is plain text or tokenized; ticked with a new file typed, it is kept for that file's profile and
the typed path stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Input, Select
from tui_helpers import choose, paste_into, wait_until

from lorplan.core.vocab import DataSchema
from lorplan.tui.panels.data_panel import (
    NO_TRAIN_ALL_CHOICE,
    TRAIN_ALL_LABEL,
    TRAIN_ALL_PENDING_LABEL,
    DataPanel,
)
from lorplan.tui.widgets.checkbox import Checkbox

pytestmark = pytest.mark.anyio

SENTIMENT = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "sentiment.jsonl"
TEXT_LABEL = NO_TRAIN_ALL_CHOICE[DataSchema.TEXT][0]


def _chat(path: Path) -> Path:
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                                     {"role": "assistant", "content": "answer " * (1 + i % 5)}]})
                            + "\n" for i in range(30)))
    return path


def _idle(panel: DataPanel) -> bool:
    return panel.profile is not None and not panel.has_class("-running")


async def _profile(pilot, panel: DataPanel, path: Path) -> None:
    await paste_into(pilot, "#data-path", str(path), submit=True)
    await wait_until(pilot, lambda: _idle(panel) and panel.profile.path == str(path), timeout=60)
    await pilot.pause()


def _offered_pending(box: Checkbox, path: Path) -> None:
    assert not box.disabled and str(box.label) == TRAIN_ALL_PENDING_LABEL, str(box.label)
    assert "once it is profiled" in str(box.tooltip), box.tooltip


async def _open(pilot) -> tuple[DataPanel, Checkbox]:
    await pilot.press("f6")
    await pilot.pause()
    panel = pilot.app.screen.query_one(DataPanel)
    return panel, panel.query_one("#data-train-all", Checkbox)


async def test_the_switch_follows_the_file_in_the_field(make_app, tmp_path):
    chat = _chat(tmp_path / "chat.jsonl")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel, box = await _open(pilot)
        await _profile(pilot, panel, SENTIMENT)
        assert box.disabled and str(box.label) == TEXT_LABEL

        await paste_into(pilot, "#data-path", str(chat))  # typed, not profiled yet: pending, not the text file's
        _offered_pending(box, chat)
        await paste_into(pilot, "#data-path", str(SENTIMENT))  # the profiled file again: its state again
        assert box.disabled and str(box.label) == TEXT_LABEL

        await paste_into(pilot, "#data-path", str(chat), submit=True)  # while it is profiled: pending
        assert panel.has_class("-running") or panel.profile.path == str(chat)
        if panel.has_class("-running"):
            _offered_pending(box, chat)
        await wait_until(pilot, lambda: _idle(panel) and panel.profile.path == str(chat), timeout=60)
        await pilot.pause()
        assert not box.disabled and str(box.label) == TRAIN_ALL_LABEL and "once it is profiled" not in str(box.tooltip)

        await _profile(pilot, panel, SENTIMENT)
        missing = tmp_path / "gone.jsonl"
        await paste_into(pilot, "#data-path", str(missing), submit=True)  # fails: the text file's state no more
        await wait_until(pilot, lambda: not panel.has_class("-running") and panel.has_class("-error"), timeout=60)
        await pilot.pause()
        assert panel.profile.path == str(SENTIMENT)
        _offered_pending(box, missing)


async def test_a_schema_chosen_in_the_list_decides_before_the_profile(make_app, tmp_path):
    chat = _chat(tmp_path / "chat.jsonl")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel, box = await _open(pilot)
        await _profile(pilot, panel, chat)
        assert not box.disabled
        await choose(pilot, "#data-schema", DataSchema.TEXT)  # the file will be read as plain text
        assert box.disabled and str(box.label) == TEXT_LABEL
        await choose(pilot, "#data-schema", "auto")  # the profiled file and schema again
        assert not box.disabled and str(box.label) == TRAIN_ALL_LABEL
        assert panel.query_one("#data-schema", Select).value == "auto"


async def test_ticking_with_a_new_file_typed_keeps_that_file(make_app, tmp_path):
    first, second = _chat(tmp_path / "first.jsonl"), _chat(tmp_path / "second.jsonl")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel, box = await _open(pilot)
        await _profile(pilot, panel, first)
        profiled = panel.profile
        await paste_into(pilot, "#data-path", str(second))
        await pilot.click("#data-train-all")
        await pilot.pause(0.3)
        assert box.value is True
        assert panel.query_one("#data-path", Input).value == str(second)  # not the old file's path back
        assert panel.profile is profiled and not panel.has_class("-running")  # the old file not profiled again
        assert panel.plan_data().train_on == "completion"  # what the figures on screen were profiled with
        await paste_into(pilot, "#data-path", str(second), submit=True)  # the new file, with the choice made for it
        await wait_until(pilot, lambda: _idle(panel) and panel.profile.path == str(second), timeout=60)
        assert panel.plan_data().train_on == "all"
