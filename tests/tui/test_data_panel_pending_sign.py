"""The Data tab's "train on prompts too" while the path field holds a file not profiled yet: the choice is pending
(that file's profile decides whether it changes anything, and the tick waits for it), but only the tooltip said so:
the box looked as it does beside a profiled file. Its label now says it is pending, whole on one row at 80x24."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_helpers import paste_into, wait_until

from lorplan.tui.panels.data_panel import TRAIN_ALL_LABEL, TRAIN_ALL_PENDING_LABEL, DataPanel
from lorplan.tui.textshot import screen_text
from lorplan.tui.widgets.checkbox import Checkbox

pytestmark = pytest.mark.anyio


def _chat(path: Path) -> Path:
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                                     {"role": "assistant", "content": "answer " * (1 + i % 5)}]})
                            + "\n" for i in range(30)))
    return path


def _rows_with(app, text: str) -> list[str]:
    return [row for row in screen_text(app).splitlines() if text in row]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_pending_choice_shows_in_the_label(make_app, tmp_path, size):
    profiled, other = _chat(tmp_path / "profiled.jsonl"), _chat(tmp_path / "other.jsonl")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        panel = app.screen.query_one(DataPanel)
        box = panel.query_one("#data-train-all", Checkbox)
        await paste_into(pilot, "#data-path", str(profiled), submit=True)
        await wait_until(pilot, lambda: panel.profile is not None and not panel.has_class("-running"), timeout=60)
        await pilot.pause()
        assert str(box.label) == TRAIN_ALL_LABEL and _rows_with(app, TRAIN_ALL_LABEL)
        assert not _rows_with(app, "(pending:")

        await paste_into(pilot, "#data-path", str(other))  # typed, not profiled: the choice is pending
        await pilot.pause()
        assert str(box.label) == TRAIN_ALL_PENDING_LABEL and "(pending:" in TRAIN_ALL_PENDING_LABEL
        assert len(_rows_with(app, TRAIN_ALL_PENDING_LABEL)) == 1, screen_text(app)  # whole, on one row
        assert box.region.height == 1 and not box.disabled

        await paste_into(pilot, "#data-path", str(profiled))  # the profiled file again: no longer pending
        await pilot.pause()
        assert str(box.label) == TRAIN_ALL_LABEL and not _rows_with(app, "(pending:")
