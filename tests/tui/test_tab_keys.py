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


@pytest.mark.parametrize(("tab", "field", "panel"), [
    ("f8", "#rec-steps", "RecommendPanel"), ("f8", "#rec-size", "RecommendPanel"),
    ("f5", "#f-seq_len", "PlanView"), ("f5", "#gpu-budget", "PlanView"), ("f5", "#f-quant", "PlanView"),
    ("f6", "#data-path", "ContentTabs"),
])
async def test_escape_leaves_a_field_for_its_panel_on_every_tab(make_app, tab, field, panel):
    """Esc left no field (the Recommend tab's kept the focus, so its a / l keys typed into the field): it now
    moves the focus from the field to the panel around it, or to the tab bar where there is none."""
    from textual.widgets import Input

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press_each(pilot, tab)
        await wait_until(pilot, lambda: bool(app.screen.query(field)))
        widget = app.screen.query_one(field)
        widget.focus()
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is not widget and type(app.focused).__name__ == panel
        if panel != "ContentTabs":
            assert app.focused in widget.ancestors
        if isinstance(widget, Input):  # no key typed after Esc lands in the field
            before = widget.value
            await pilot.press("u")
            await pilot.pause()
            assert widget.value == before


async def test_after_escape_the_recommend_tabs_keys_work(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await press_each(pilot, "f8")
        await wait_until(pilot, lambda: bool(app.screen.query("#rec-steps")))
        steps = app.screen.query_one("#rec-steps")
        steps.focus()
        await press_each(pilot, "3", "0", "escape", "l")
        assert steps.value == "30"  # the l went to the panel, not into the field
        await wait_until(pilot, lambda: notified(app, "profile a dataset in the Data tab first"))
