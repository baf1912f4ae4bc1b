"""The Setup panel's preset buttons tick what core resolves the preset to (core.lora.preset_members): the same
modules the memory model prices and `lorplan train` and probes adapt, never a list of its own."""

from __future__ import annotations

import pytest
from tui_helpers import wait_until

from lorplan.core.lora import preset_members
from lorplan.core.model import load_spec
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.panels.setup_panel import SetupPanel

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("model", ["google/gemma-3-4b-it", "Qwen/Qwen3-30B-A3B", "google-bert/bert-base-uncased"])
async def test_preset_buttons_tick_what_core_resolves(make_app, model):
    expected = preset_members(load_spec(model))
    app = make_app(model=model)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(PlanView).state.source == model)
        panel = app.screen.query_one(SetupPanel)
        for preset in ("attention", "mlp"):
            panel.apply_shortcut(preset)
            await pilot.pause()
            assert panel.checked_targets() == expected[preset], preset
        panel.apply_shortcut("all-linear")
        await pilot.pause()
        assert set(panel.checked_targets()) == set(load_spec(model).layer_linear_names)
