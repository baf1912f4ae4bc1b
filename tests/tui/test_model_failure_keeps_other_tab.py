"""A model that fails to load while the user switches to another tab must not take the focus (nor the tab) back.

f1df635 moved the focus to the model field when a model fails with the rank table empty and the focus on the table
or nowhere. Switching tabs drops the focus at once and focuses the new tab's field a refresh later (longer for a
tab shown the first time, whose panel is mounted then): a failure landing in that gap found the focus nowhere,
focused the Plan tab's model field, and a focused widget's tab is shown, so F6 or F8 was undone."""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent
from tui_helpers import model_settled, wait_until

from lorplan.tui.messages import SpecFailed
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("tab", ["data", "recommend"])
async def test_a_failure_during_a_tab_switch_leaves_the_new_tab(make_app, tab):
    app = make_app(model="no-such-model-zz9")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: model_settled(app))
        await pilot.pause(0.2)
        view = app.screen.query_one(PlanView)
        assert app.screen.query_one(RankTable).ranks == ()
        # The user presses the tab's key while a model typed a moment ago is still loading: its failure lands
        # before the new tab's field has the focus (as a worker's message can).
        app.screen.show_tab(tab)
        view.post_message(SpecFailed(view._generation, "no-such-model-zz9", "no-such-model-zz9: not found"))
        await wait_until(pilot, lambda: app.focused is not None and tab in app.screen._panels)
        await pilot.pause(0.5)
        assert app.screen.query_one(TabbedContent).active == tab, app.focused
        assert app.focused is not None and app.screen.query_one(f"#{tab}") in app.focused.ancestors, app.focused
