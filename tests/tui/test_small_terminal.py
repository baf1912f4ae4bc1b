"""At 80×24 the setup is taller than the room under the rank table: editing it must not scroll the table away."""

from __future__ import annotations

import pytest
from tui_helpers import type_into

from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio


def selected_row_on_screen(app) -> bool:
    """The selected rank's row is drawn where the user can see it: inside the view, not under another widget."""
    table = app.screen.query_one(RankTable)
    view = app.screen.query_one(PlanView)
    row = 1 if table.compact else table.ranks.index(table.selected_rank) + 1 - table.scroll_offset.y
    x, y = table.content_region.x + 1, table.content_region.y + row
    if not (table.content_region.y <= y < table.content_region.bottom and view.region.contains(x, y)):
        return False
    widget, _ = app.screen.get_widget_at(x, y)
    return widget is table and table.cell_text(table.selected_rank, "rank") in table.render_line(row).text


@pytest.mark.parametrize(("field", "keys"), [("#f-seq_len", "4096"), ("#f-lora_dropout", "0.1"),
                                             ("#f-custom_rank", "12")])
async def test_the_selected_row_stays_in_view_while_the_setup_is_edited_at_80x24(make_app, field, keys):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(RankTable)
        before = table.cell_text(16, "total")
        await type_into(pilot, field, keys)
        view = app.screen.query_one(PlanView)
        assert view.max_scroll_y > 0 or view.has_class("-editing")  # the view is taller than the terminal
        field_widget = app.screen.query_one(field)
        assert view.region.contains_region(field_widget.region)  # the field being typed in is in view too
        assert selected_row_on_screen(app)
        if field == "#f-seq_len":
            assert table.cell_text(16, "total") != before  # and it shows the new figures
        await pilot.press("f4")  # back in the table: every row again
        await pilot.pause()
        assert not table.compact and table.region.height >= len(table.ranks) + 1  # (+ a scrollbar at 80)
        assert selected_row_on_screen(app)


async def test_ticking_the_last_target_box_keeps_the_row_in_view_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        box = app.screen.query_one("#target-down_proj")
        box.focus()
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
        assert box.value is False
        assert app.screen.query_one(PlanView).region.contains_region(box.region)
        assert selected_row_on_screen(app)


async def test_a_tall_terminal_keeps_every_row_while_editing(make_app):
    app = make_app()
    async with app.run_test(size=(80, 60)) as pilot:
        await type_into(pilot, "#f-seq_len", "4096")
        table = app.screen.query_one(RankTable)
        assert not table.compact and table.region.height >= len(table.ranks) + 1  # (+ a scrollbar at 80)
        assert selected_row_on_screen(app)
