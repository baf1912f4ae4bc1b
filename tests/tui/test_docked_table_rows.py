"""The Plan tab's short-terminal mode (a field edited on a terminal too short for the whole view: the rank table
docked at an edge, tests/tui/test_short_terminal_threshold.py) gives the table the rows the fields above leave.

It showed the header and the selected rank's row only, whatever the room: at 120x40 with nf4 chosen (its note
makes the summary 4 rows longer, so the plain view needs 44 rows) a focused field docked the table to that one
row and left 13 blank rows between the panels and the table. The docked table now shows as many rank rows as the
room takes (the selected one among them, never fewer than one), and the summary under it the rows left after
that; on a terminal the fields above already overflow (80x24, 120x24) it is still the selected row alone."""

from __future__ import annotations

import pytest
from test_short_terminal_threshold import TALL, laid_out_rows, resize
from tui_helpers import choose, type_into, wait_until

from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.textshot import screen_text
from lorplan.tui.widgets.rank_table import REFERENCE_LABEL, RankTable

pytestmark = pytest.mark.anyio


def drawn_labels(app) -> list[str]:
    """The rank column's cell of each row on screen inside the table, top to bottom, the header's left out
    ("16", "300*" for a custom rank, "full" for the full fine-tuning row)."""
    table = app.screen.query_one(RankTable)
    lines = screen_text(app).splitlines()
    region = table.content_region
    return [cells[0] for y in range(region.y + 1, region.bottom)
            if (cells := lines[y][region.x:region.right].split())]


def drawn_ranks(app) -> list[int]:
    """The ranks whose rows are on screen inside the table, top to bottom (the rank column's figure)."""
    table = app.screen.query_one(RankTable)
    figures = (label.rstrip("*") for label in drawn_labels(app))
    return [int(figure) for figure in figures if figure.isdigit() and int(figure) in table.ranks]


async def _nf4_editing(pilot, height: int) -> None:
    app = pilot.app
    await choose(pilot, "#f-quant", "nf4")
    await resize(pilot, 120, height)
    app.screen.query_one("#f-seq_len").focus()
    view = app.screen.query_one(PlanView)
    await wait_until(pilot, lambda: view.has_class("-editing"), timeout=10)
    await pilot.pause()
    await pilot.pause()


def no_gap(app) -> bool:
    """The panels above and the docked table's box fill the view: no blank rows between them."""
    view = app.screen.query_one(PlanView)
    top, box = view.query_one("#plan-top"), view.query_one("#plan-table-box")
    return top.region.bottom == box.region.y and box.region.bottom == view.region.bottom


async def test_every_rank_row_at_120x40_with_nf4_while_a_field_is_edited(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        await _nf4_editing(pilot, 40)
        assert view.short_terminal() and table.compact  # the plain view does not fit: the table docked
        assert drawn_ranks(app) == list(table.ranks)  # every rank, not the selected one alone
        assert no_gap(app), (view.query_one("#plan-top").region, view.query_one("#plan-table-box").region)
        assert view.max_scroll_y == 0  # every field above is in view
        field = app.screen.query_one("#f-seq_len")
        await type_into(pilot, "#f-seq_len", "4096")  # typing keeps them
        assert app.focused is field and view.region.contains_region(field.region)
        assert drawn_ranks(app) == list(table.ranks) and no_gap(app)


async def test_a_shorter_terminal_shows_the_rows_that_fit_around_the_selected_one(make_app):
    app = make_app()
    async with app.run_test(size=(120, TALL)) as pilot:
        table = app.screen.query_one(RankTable)
        view = app.screen.query_one(PlanView)
        await choose(pilot, "#f-quant", "nf4")
        await resize(pilot, 120, TALL)
        needed = laid_out_rows(app)
        top = view.query_one("#plan-top").outer_size.height
        await _nf4_editing(pilot, 34)
        shown = drawn_ranks(app)
        assert 1 < len(shown) < len(table.ranks), shown  # some rows, not every one
        assert table.selected_rank in shown and shown == sorted(shown)  # a run of rows around the selected one
        assert no_gap(app) and view.max_scroll_y == 0
        # the last height where the fields leave room for one row only: the selected one
        chrome = app.size.height - view.content_region.height
        for height in (chrome + top + 2 + 1 + 1 + 2, 24):  # the box's border, the header, a row, the summary
            assert height < needed
            await resize(pilot, 120, height)
            await wait_until(pilot, lambda: len(drawn_ranks(app)) == 1, timeout=10)
            assert drawn_ranks(app) == [table.selected_rank]
        await resize(pilot, 120, 40)  # back to a taller terminal while the field is still focused: every row
        await wait_until(pilot, lambda: drawn_ranks(app) == list(table.ranks), timeout=10)
        assert table.compact and no_gap(app)


async def test_a_custom_rank_row_typed_while_docked_gets_a_row_of_its_own(make_app):
    """The custom rank's row (a row more under the header, its width the rank column's as before: no new size
    for the table) is drawn with every other row where the room takes them all. The docked table kept the rows
    it had (every rank and the full fine-tuning row), so a custom rank of 300 pushed rank 1 out of sight and one
    of 3 the full fine-tuning row, while the summary under the table kept the row the new one needed."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RankTable)
        view = app.screen.query_one(PlanView)
        await choose(pilot, "#f-quant", "nf4")
        app.screen.query_one("#f-custom_rank").focus()
        await wait_until(pilot, lambda: view.has_class("-editing"), timeout=10)
        every = list(table.ranks)
        assert drawn_ranks(app) == every and drawn_labels(app)[-1] == REFERENCE_LABEL
        for custom in ("300", "3"):
            await type_into(pilot, "#f-custom_rank", custom)
            await wait_until(pilot, lambda c=custom: table.selected_rank == int(c), timeout=10)
            await pilot.pause()
            await pilot.pause()
            assert table.ranks == tuple(sorted([*every, int(custom)]))
            assert drawn_ranks(app) == list(table.ranks), (custom, drawn_labels(app))
            assert drawn_labels(app)[-1] == REFERENCE_LABEL and no_gap(app)
        await type_into(pilot, "#f-custom_rank", "")  # its row gone: the rows as before, no blank one
        await wait_until(pilot, lambda: table.ranks == tuple(every), timeout=10)
        await pilot.pause()
        await pilot.pause()
        assert drawn_ranks(app) == every and drawn_labels(app)[-1] == REFERENCE_LABEL and no_gap(app)
