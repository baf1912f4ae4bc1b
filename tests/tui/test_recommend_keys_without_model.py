"""The Recommend tab with no model planned (the one asked for is not there): its keys' line still offered `a: apply
the recommendation to the plan · l: run a probe ladder …` as if either key could do something. The line now says,
dimmed, that both wait for a model and where to choose one; each key, pressed, says why it did nothing in one line
(a toast of one sentence, no line break); with a model loaded the line offers them again."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widgets import Static
from tui_helpers import model_settled, paste_into, wait_until

from lorplan.tui.panels.recommend_panel import RecommendPanel

pytestmark = pytest.mark.anyio


def _keys(app) -> str:
    return " ".join(str(app.screen.query_one("#rec-keys", Static).render()).split())


async def _press(pilot, key: str) -> str:
    """Press `key` on the Recommend tab; the one toast it raised."""
    app = pilot.app
    before = len(app._notifications)
    await pilot.press(key)
    await wait_until(pilot, lambda: len(app._notifications) > before)
    await pilot.pause()
    raised = list(app._notifications)[before:]
    assert len(raised) == 1, [n.message for n in raised]
    return raised[0].message


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_keys_say_they_wait_for_a_model(make_app, size):
    app = make_app(model="/no/such/folder/model")
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: model_settled(app))
        assert app.main.plan is None
        await pilot.press("f8")
        await pilot.pause()
        panel = app.screen.query_one(RecommendPanel)
        keys = app.screen.query_one("#rec-keys", Static)
        line = _keys(app)
        assert "no model yet" in line and "choose one in the Plan tab (F5)" in line, line
        assert keys.has_class("-off")  # dimmed: nothing there can be done yet
        assert Region(0, 0, *app.size).contains_region(keys.region) and keys.region.height == 1, keys.region

        panel.focus()
        for key in ("a", "l"):
            said = await _press(pilot, key)
            assert "choose a model in the Plan tab" in said and "\n" not in said, said
            assert said.count(". ") == 0, said  # one sentence
        assert app.main.plan is None

        await pilot.press("f5")
        await paste_into(pilot, "#model-input", "meta-llama/Llama-3.1-8B-Instruct", submit=True)
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("f8")
        await pilot.pause()
        line = _keys(app)
        assert line.startswith("a: apply the recommendation to the plan") and "l: run a probe ladder" in line, line
        assert not keys.has_class("-off")
