"""The Data tab's "train on prompts too" checkbox for files where it changes nothing. Before, it was offered for
plain text (sample_configs/data/sentiment.jsonl, a 'text' column), which has no prompt to mask, and for
pre-tokenized rows, which keep their own labels: ticking it re-profiled the file to the same trained tokens. Once
the profile finds such a file the checkbox is disabled and its label says why; a chat file offers it again, with
the value the user left in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_helpers import paste_into, wait_until

from lorplan.core.data import profile_dataset
from lorplan.tui.panels.data_panel import TRAIN_ALL_LABEL, DataPanel
from lorplan.tui.widgets.checkbox import Checkbox

pytestmark = pytest.mark.anyio

SENTIMENT = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "sentiment.jsonl"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def _profile(pilot, panel: DataPanel, path: Path) -> None:
    await paste_into(pilot, "#data-path", str(path), submit=True)
    await wait_until(pilot, lambda: (panel.profile is not None and panel.profile.path == str(path)
                                     and not panel.has_class("-running")), timeout=60)
    await pilot.pause()


async def test_the_switch_is_disabled_for_text_and_tokenized_rows_and_offered_again_for_a_chat(make_app, tmp_path):
    chat = _write(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": f"question {i} " * 5},
                      {"role": "assistant", "content": "answer " * (1 + i % 7)}]} for i in range(40)])
    tokenized = _write(tmp_path / "ids.jsonl", [
        {"input_ids": list(range(1, 30 + i)), "labels": [-100] * 10 + list(range(11, 30 + i))} for i in range(40)])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        panel = app.screen.query_one(DataPanel)
        box = panel.query_one("#data-train-all", Checkbox)
        assert not box.disabled and str(box.label) == TRAIN_ALL_LABEL  # nothing profiled yet: offered

        await _profile(pilot, panel, SENTIMENT)
        assert panel.profile.schema == "text"
        assert box.disabled and str(box.label) == "train on prompts too: plain text has no prompt (every token trains)"
        assert "every token is trained whichever way" in str(box.tooltip)
        assert box.region.right <= 80 and box.region.height == 1  # its reason on one line at 80 columns
        profiled = panel.profile
        await pilot.click("#data-train-all")  # disabled: no toggle, no second profile of the same file
        await pilot.pause(0.3)
        assert box.value is False and panel.profile is profiled and not panel.has_class("-running")

        await _profile(pilot, panel, chat)  # another file: the choice is offered again, and works
        assert panel.profile.schema == "messages"
        assert not box.disabled and str(box.label) == TRAIN_ALL_LABEL and "axolotl" in str(box.tooltip)
        masked = panel.profile.trained_tokens
        await pilot.click("#data-train-all")
        await wait_until(pilot, lambda: panel.plan_data().train_on == "all" and not panel.has_class("-running"),
                         timeout=60)
        assert box.value is True and panel.profile.trained_tokens > masked

        await _profile(pilot, panel, tokenized)  # ticked: the labels still decide
        assert panel.profile.schema == "tokenized"
        assert box.disabled and str(box.label) == "train on prompts too: tokenized rows' labels decide what trains"
        assert box.region.right <= 80 and box.region.height == 1
        # what the label says: ticked or not, the same trained tokens
        assert panel.profile.trained_tokens == profile_dataset(tokenized, mask=True).trained_tokens
        assert box.value is True  # kept for the next file that offers it

        await _profile(pilot, panel, chat)
        assert not box.disabled and box.value is True and panel.plan_data().train_on == "all"
