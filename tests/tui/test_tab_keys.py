"""A tab's keys work as soon as the tab is shown (F7, F8), whatever had the focus in the Plan tab before."""

from __future__ import annotations

import pytest
from tui_helpers import wait_until

pytestmark = pytest.mark.anyio


def notified(app, words: str) -> bool:
    return any(words in str(n.message) for n in app._notifications)


async def press_each(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("before", [(), ("f2",), ("f3",), ("f4", "tab")])
async def test_the_probes_keys_work_right_after_f7(make_app, size, before):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await press_each(pilot, *before, "f7")
        await pilot.press("p")  # no dataset profiled: the panel says so instead of starting anything
        await wait_until(pilot, lambda: notified(app, "Profile your dataset in the Data tab first"))
        pane = app.screen.query_one("#probes")
        assert app.focused is not None and pane in app.focused.ancestors


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("before", [(), ("f2",), ("f3",)])
async def test_the_recommend_tab_has_the_focus_right_after_f8(make_app, size, before):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await press_each(pilot, *before, "f8")
        await wait_until(pilot, lambda: app.focused is not None)
        assert app.screen.query_one("#recommend") in app.focused.ancestors
