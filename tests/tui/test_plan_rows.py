"""The Plan tab's rows at 80x24 and 120x40. The Setup box kept an empty line for its error messages under the
target boxes while there was no error: a blank row inside the box at 120x40, and one more row to scroll past at
80x24, where rows are scarce (the Recommend tab's ladder error line was the same, 51e1304). It now takes rows only
while it says something, right under the targets.

A blank row between the rank table's box and the footer at 120x40 is not a line kept for anything: the table box
is as tall as its rows and summary, and the GPU and model column sets the height of the part above it, which is one
row shorter when the GPU panel's note takes two lines instead of three; the view (the screen's height less header,
tabs and footer) then has a row left over. Nothing in the view is cut or scrolled away for it."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from tui_helpers import paste_into, wait_until

from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio


def _region(app, selector: str) -> Region:
    return app.screen.query_one(selector).region


def _errors_text(app) -> str:
    return str(app.screen.query_one("#setup-errors").render())


async def _rows_of_the_setup_box(pilot) -> None:
    app = pilot.app
    setup, targets = _region(app, "#setup-panel"), _region(app, "#targets-boxes")
    assert targets.height > 0
    assert _region(app, "#setup-errors").height == 0  # no error: no row
    assert setup.bottom == targets.bottom + 1, (setup, targets)  # the box's border right under the targets

    view = app.screen.query_one(PlanView)
    await paste_into(pilot, "#f-micro_batch", "abc")  # an error: said under the targets, on rows of its own
    await wait_until(pilot, lambda: _region(app, "#setup-errors").height > 0)
    errors = _region(app, "#setup-errors")
    assert "Micro-batch" in _errors_text(app)
    assert errors.y == _region(app, "#targets-boxes").bottom and _region(app, "#setup-panel").bottom == errors.bottom + 1
    await paste_into(pilot, "#f-micro_batch", "1")
    await wait_until(pilot, lambda: _region(app, "#setup-errors").height == 0)
    assert _region(app, "#setup-panel").bottom == _region(app, "#targets-boxes").bottom + 1
    assert not view.state.stale


async def test_the_setup_box_at_120x40(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        view, box = _region(app, "PlanView"), _region(app, "#plan-table-box")
        assert box.y == _region(app, "#plan-top").bottom  # the table box right under the panels above it
        # No blank row in the box: the table's rows, then the summary's lines, then its border.
        table, summary = _region(app, "#rank-table"), _region(app, "#plan-summary")
        assert table.y == box.y + 1 and summary.y == table.bottom and box.bottom == summary.bottom + 1
        # Whatever is left under the box is the view's slack: it holds all of itself without scrolling.
        assert app.screen.query_one(PlanView).max_scroll_y == 0
        assert box.bottom <= view.bottom and _region(app, "Footer").y == view.bottom
        await _rows_of_the_setup_box(pilot)


async def test_the_setup_box_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        plan = app.screen.query_one(PlanView)
        assert _region(app, "#plan-table-box").y == _region(app, "PlanView").y  # the table first
        await _rows_of_the_setup_box(pilot)
        app.screen.query_one("#rank-table").focus()
        await pilot.pause()
        # back on the table the view scrolls to it after the next refresh (PlanView.on_descendant_focus's
        # call_after_refresh): wait for that, or it may scroll back up after the scroll to the end below
        await plan.wait_for_refresh()
        plan.scroll_end(animate=False, immediate=True)
        await wait_until(pilot, lambda: plan.scroll_y == plan.max_scroll_y > 0)
        await pilot.pause()
        # Scrolled to its end, the view ends with the Setup box's last target row and border: no empty row to scroll
        setup, targets = _region(app, "#setup-panel"), _region(app, "#targets-boxes")
        assert setup.bottom == _region(app, "PlanView").bottom and targets.bottom == setup.bottom - 1, (setup, targets)
