"""Without a GPU a typed budget hides the preset (its line shows 'preset GPU') and emptying the field brings that
preset back. The preset kept for that was not forgotten when the user then picked another preset and the blank
one ('preset GPU', no budget): typing and emptying the field brought back the card hidden two choices earlier,
and the plan was priced against it."""

from __future__ import annotations

import pytest
from textual.widgets import Select
from tui_helpers import type_into, wait_until

pytestmark = pytest.mark.anyio


def summary(app) -> str:
    return " ".join(str(app.screen.query_one("#plan-summary").render()).split())


async def test_emptying_the_budget_brings_back_the_preset_picked_last_not_one_it_hid_before(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        preset = app.screen.query_one("#gpu-preset", Select)
        await type_into(pilot, "#gpu-budget", "12GiB")  # hides the RTX-3090 preset
        await wait_until(pilot, lambda: "in 12.00 GiB" in summary(app))
        panel = app.screen.query_one("#gpu-panel")
        preset.value = [label for label, _size in panel.presets].index("RTX-4090")  # picked in the list
        await wait_until(pilot, lambda: "(RTX-4090)" in summary(app))
        preset.value = Select.NULL  # the blank choice at the list's top, as a user picks it
        await wait_until(pilot, lambda: "pick a GPU or type a budget" in summary(app))
        await type_into(pilot, "#gpu-budget", "8GiB")
        await wait_until(pilot, lambda: "in 8.00 GiB" in summary(app))
        await type_into(pilot, "#gpu-budget", "")
        await wait_until(pilot, lambda: "pick a GPU or type a budget" in summary(app) or "RTX" in summary(app))
        assert preset.value is Select.NULL, preset.value
        assert "pick a GPU or type a budget" in summary(app), summary(app)
