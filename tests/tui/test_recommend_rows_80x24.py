"""The Recommend tab's rows at 80x24, where every row counts: under the probe ladder's settings the empty line
kept for their error message took a row of its own while there was no error, so two blank rows (that line and the
margin above the evidence) stood between the settings and the evidence. The error line now takes a row only while
it says something: one blank row separates the settings from the evidence, as it separates the other parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_recommend_panel import _open_recommend, _plan_ready, _profile
from textual.geometry import Region
from tui_helpers import paste_into

pytestmark = pytest.mark.anyio

DATA = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "arithmetic.jsonl"


async def test_one_blank_row_between_the_ladder_settings_and_the_evidence(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _plan_ready(pilot)
        await _profile(pilot, DATA)
        panel = await _open_recommend(pilot)
        await pilot.pause()
        screen = Region(0, 0, *app.size)

        def region(selector: str) -> Region:
            return app.screen.query_one(selector).region

        ladder, error, body = region("#rec-ladder-row"), region("#rec-ladder-error"), region("#rec-body")
        assert ladder.area > 0 and screen.contains_region(ladder)
        assert error.height == 0, error  # nothing to say: no row
        assert body.y == ladder.bottom + 1, (ladder, body)  # the margin above the evidence, and no more
        assert region("#rec-head").bottom + 1 == ladder.y  # as above the settings
        assert region("#rec-evidence-box").y == body.y  # the evidence right there, a row higher than before

        await paste_into(pilot, "#rec-seeds", "0")  # an error: said on its own row under the settings
        error = region("#rec-ladder-error")
        assert error.height >= 1 and error.y == ladder.bottom, (ladder, error)
        assert "seeds" in str(app.screen.query_one("#rec-ladder-error").render()).lower()
        assert region("#rec-body").y == error.bottom + 1
        await paste_into(pilot, "#rec-seeds", "")
        assert region("#rec-ladder-error").height == 0
        assert region("#rec-body").y == region("#rec-ladder-row").bottom + 1
        assert panel.is_mounted
