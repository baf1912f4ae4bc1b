"""A click on a row of the docked rank table (a field edited on a terminal too short for the whole view:
tests/tui/test_docked_table_rows.py) selects that row's rank, as a click on the undocked table and the keys do.

The press focused the table, the focus ended the docking (every row again, the table back in the view's flow),
and the click that followed was taken by the undocked table at the row that had come under the mouse, while the
docked table ignored clicks: at 120x34 a click on the docked row of rank 2 selected rank 1, at 80x24 one on the
selected rank's row (its only one) selected rank 2. Where every row was drawn docked and the undocked table came
to the same place (120x40) it happened to work. The rank under the mouse at the press is now selected; the
table then undocks with it selected and in view."""

from __future__ import annotations

import pytest
from test_docked_table_rows import _nf4_editing, drawn_ranks
from test_short_terminal_threshold import TALL, laid_out_rows, resize
from textual.events import MouseScrollDown
from tui_helpers import choose, wait_until

from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio


def summary_text(app) -> str:
    return str(app.screen.query_one("#plan-summary").render())


async def click_docked_row(pilot, rank: int) -> None:
    """Click the row of `rank` as the docked table draws it (the header is line 0)."""
    table = pilot.app.screen.query_one(RankTable)
    shown = drawn_ranks(pilot.app)
    assert table.compact and rank in shown, (rank, shown)
    await pilot.click(RankTable, offset=(3, 1 + shown.index(rank)))
    await pilot.pause()
    await pilot.pause()


async def test_a_click_on_a_docked_row_selects_its_rank(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        await _nf4_editing(pilot, 40)
        shown = drawn_ranks(app)
        assert shown == list(table.ranks)  # every row drawn while docked
        for rank in (shown[0], shown[-1]):  # the first and the last rank rows, neither the selected one
            assert rank != table.selected_rank
            await click_docked_row(pilot, rank)
            assert table.selected_rank == rank, (rank, table.selected_rank)
            assert app.focused is table and not table.compact and not view.has_class("-editing")
            assert f"rank {rank}:" in summary_text(app)
            assert rank in drawn_ranks(app)  # undocked with the clicked row in sight
            # back to a field: docked again, the clicked rank's live figures kept
            app.screen.query_one("#f-seq_len").focus()
            await wait_until(pilot, lambda: view.has_class("-editing"), timeout=10)
            await pilot.pause()
            await pilot.pause()
            assert table.selected_rank == rank and rank in drawn_ranks(app)


async def test_a_click_on_a_row_of_a_window_of_rows_selects_that_row(make_app):
    """At 120x34 the docked table draws a run of rows around the selected one: the click maps through that
    window (row 1 is not the first rank there), not through the rows the undocked table draws."""
    app = make_app()
    async with app.run_test(size=(120, TALL)) as pilot:
        table = app.screen.query_one(RankTable)
        await choose(pilot, "#f-quant", "nf4")
        await resize(pilot, 120, TALL)
        assert laid_out_rows(app) > 34
        await _nf4_editing(pilot, 34)
        shown = drawn_ranks(app)
        assert 1 < len(shown) < len(table.ranks) and shown[0] != table.ranks[0], shown
        rank = next(r for r in shown if r != table.selected_rank)
        await click_docked_row(pilot, rank)
        assert table.selected_rank == rank and f"rank {rank}:" in summary_text(app)
        assert app.focused is table and not table.compact


async def wheel(pilot, widget, times: int, shift: bool = False) -> None:
    """Turn the mouse wheel (down) over `widget`'s first row below the header, as the terminal reports it."""
    region = widget.content_region
    x, y = region.x + 3, region.y + 1
    for _ in range(times):
        pilot.app.post_message(MouseScrollDown(None, x, y, 0, 1, 0, shift, False, False, screen_x=x, screen_y=y))
        await pilot.pause()
    await pilot.pause()


async def test_the_wheel_over_the_docked_table_scrolls_the_view_and_keeps_the_table(make_app):
    """The docked table has no rows to scroll to (it draws the window around the selected row): the wheel over
    it scrolls the view's fields behind it, where they overflow (80x24), and leaves the table docked where it
    was, its selection and the focus in the field as they were; shift and the wheel scroll its columns
    sideways; a click on its row after that still selects it."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        field = app.screen.query_one("#f-seq_len")
        field.focus()
        await wait_until(pilot, lambda: view.has_class("-editing"), timeout=10)
        await pilot.pause()
        await pilot.pause()
        box = view.query_one("#plan-table-box").region
        selected, scroll_y = table.selected_rank, view.scroll_y
        assert view.max_scroll_y > scroll_y and drawn_ranks(app) == [selected]
        await wheel(pilot, table, 3)
        assert view.scroll_y > scroll_y  # the fields scrolled behind the docked table
        assert table.compact and view.query_one("#plan-table-box").region == box
        assert table.selected_rank == selected and app.focused is field and drawn_ranks(app) == [selected]
        assert table.allow_horizontal_scroll and table.scroll_offset.x == 0
        await wheel(pilot, table, 1, shift=True)
        assert table.scroll_offset.x > 0 and table.compact and drawn_ranks(app) == [selected]
        await pilot.click(RankTable, offset=(3, 1))
        await pilot.pause()
        assert table.selected_rank == selected and app.focused is table and not table.compact


async def test_keys_and_a_click_on_the_undocked_table_still_select(make_app):
    """The keyboard path from a docked table (tab to it: every row, then the keys move the selection) and a
    click on the undocked table (selected on the click, the header and the full fine-tuning row not)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RankTable)
        await _nf4_editing(pilot, 40)
        table.focus()
        await wait_until(pilot, lambda: not table.compact, timeout=10)
        before = table.selected_rank
        await pilot.press("down")
        await pilot.pause()
        assert table.selected_rank == table.ranks[table.ranks.index(before) + 1]
        for index in (0, len(table.ranks) - 1):
            await pilot.click(RankTable, offset=(3, 1 + index))
            await pilot.pause()
            assert table.selected_rank == table.ranks[index]
        await pilot.click(RankTable, offset=(3, 0))  # the header
        await pilot.click(RankTable, offset=(3, 1 + len(table.ranks)))  # the full fine-tuning row
        await pilot.pause()
        assert table.selected_rank == table.ranks[-1]


@pytest.mark.parametrize("times", [2, 3])
async def test_a_double_click_on_a_docked_row_selects_its_rank(make_app, times):
    """A double (or triple) click is over before the eye sees the table undock: its later presses land on the
    undocked table, another row at 120x34 (rank 1 for the docked row of rank 2), and selected that one. The
    clicks that follow a press on the docked table in one chain are its: they select nothing more."""
    app = make_app()
    async with app.run_test(size=(120, TALL)) as pilot:
        table = app.screen.query_one(RankTable)
        await choose(pilot, "#f-quant", "nf4")
        await resize(pilot, 120, TALL)
        await _nf4_editing(pilot, 34)
        shown = drawn_ranks(app)
        rank = next(r for r in shown if r != table.selected_rank)
        await pilot.click(RankTable, offset=(3, 1 + shown.index(rank)), times=times)
        await pilot.pause()
        assert table.selected_rank == rank and not table.compact, (rank, table.selected_rank)
        # a click of its own after that (not chained) selects the row under it on the undocked table
        other = next(r for r in drawn_ranks(app) if r != rank)
        await pilot.click(RankTable, offset=(3, 1 + list(table.ranks).index(other) - table.scroll_offset.y))
        await pilot.pause()
        assert table.selected_rank == other
