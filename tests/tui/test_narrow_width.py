"""The three tabs' narrow layouts switch at one terminal width, 110 columns, as README says ("under 110 columns
the histogram goes under the figures"; "on the Recommend tab below 110 columns the plot goes under the
evidence"). The Data and Recommend panels measured their own content, 4 columns under the terminal's (border and
padding), so at 110 to 113 columns they were narrow while the Plan tab was wide."""

from __future__ import annotations

import pytest
from tui_helpers import wait_until

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("width", "narrow"), [(109, True), (110, False), (113, False)])
async def test_every_tab_goes_narrow_below_110_terminal_columns(make_app, width, narrow):
    app = make_app()
    async with app.run_test(size=(width, 40)) as pilot:
        for key, panel in (("f6", "DataPanel"), ("f8", "RecommendPanel")):
            await pilot.press(key)
            await wait_until(pilot, lambda panel=panel: bool(app.screen.query(panel)))
            await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        classes = {name: app.screen.query_one(name).has_class("-narrow")
                   for name in ("PlanView", "DataPanel", "RecommendPanel")}
        assert classes == dict.fromkeys(classes, narrow), (width, classes)
        await pilot.resize_terminal(width + (10 if narrow else -10), 40)  # and on resize, the other way
        for key, name in (("f6", "DataPanel"), ("f8", "RecommendPanel"), ("f5", "PlanView")):
            await pilot.press(key)  # a hidden tab is laid out again when it is shown
            await pilot.pause()
            await pilot.pause()
            assert app.screen.query_one(name).has_class("-narrow") is not narrow, (width, name)
