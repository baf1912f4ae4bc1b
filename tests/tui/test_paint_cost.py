"""What the screen costs to paint: the first frame that reaches the terminal, and typing without re-layouts."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, type_into

from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.field_input import FieldInput
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def count_layouts(screen) -> list[int]:
    """Wrap the screen's full layout pass; the list's length is how often it ran."""
    calls: list[int] = []
    original = screen._refresh_layout

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    screen._refresh_layout = counted
    return calls


async def test_typing_a_sequence_length_updates_the_table_without_a_screen_layout(make_app):
    """A keystroke that leaves the table's size as it was repaints the rows only; the columns still follow the
    numbers (they fit the widest value of the rows shown)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        await type_into(pilot, "#f-seq_len", "20480")  # the widest numbers of this test come first
        wide = list(table._widths)
        layouts = count_layouts(app.screen)
        seen_tables, activations, still = [], [], []
        for key in ("backspace", "backspace", "backspace", "4", "8"):  # 20480 -> 2048 -> 204 -> 20 -> 204 -> 2048
            size, before = table.virtual_size, len(layouts)
            await pilot.press(key)
            await pilot.pause()
            seen_tables.append(view.state.table)
            activations.append(table.cell_text(16, "activations"))
            if table.virtual_size == size:
                still.append(len(layouts) - before)
        assert view.state.setup.seq_len == 2048
        assert len({id(t) for t in seen_tables}) == 5  # every keystroke produced a new table
        assert len({len(text) for text in activations}) > 1  # ...whose numbers got shorter and longer
        assert table._widths != wide  # the columns followed the numbers (the bar's >999% is gone)
        assert len(table._lines[0].plain) == table.virtual_size.width
        assert len(still) >= 2 and still == [0] * len(still)  # an unchanged size asked for no full layout


async def test_a_long_value_still_scrolls_to_the_cursor(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        field = app.screen.query_one("#f-seq_len", FieldInput)
        await type_into(pilot, "#f-seq_len", "1234567890" * 4)
        assert field.value == "1234567890" * 4
        assert field.scroll_offset.x > 0  # the end of the text is in view, not the start
        x, _ = field.cursor_screen_offset
        assert field.region.x <= x <= field.region.right
        await pilot.press("home")
        await pilot.pause()
        assert field.scroll_offset.x == 0


async def test_columns_shrink_again_for_a_new_model(make_app):
    app = make_app(model="meta-llama/Llama-3.1-70B-Instruct")
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RankTable)
        await type_into(pilot, "#f-seq_len", "131072")  # huge activations: the byte columns widen
        wide = sum(table._widths)
        await paste_into(pilot, "#model-input", "Qwen/Qwen2.5-0.5B-Instruct", submit=True)  # typed: ~80 ms a key
        await pilot.pause()
        await type_into(pilot, "#f-seq_len", "512")
        assert app.screen.query_one(PlanView).state.source == "Qwen/Qwen2.5-0.5B-Instruct"
        assert sum(table._widths) < wide
        header = table._lines[0].plain
        assert len(header) == table.virtual_size.width


async def test_columns_narrow_again_once_a_long_value_is_gone(make_app):
    """The columns only ever widened: after a custom rank of 1024 ("1024*") the rank column stayed wide."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RankTable)
        width = table.virtual_size.width
        assert table.render_line(0).text.startswith(" rank  ")  # as wide as its label
        await type_into(pilot, "#f-custom_rank", "1024")
        assert table.cell_text(1024, "rank") == "1024*"
        assert table.render_line(0).text.startswith("  rank  ") and table.virtual_size.width > width
        await type_into(pilot, "#f-custom_rank", "")
        assert 1024 not in table.ranks
        assert table.render_line(0).text.startswith(" rank  ")  # narrow again
        assert table.virtual_size.width == width == len(table._lines[0].plain)


async def test_the_first_frame_sent_to_the_terminal_holds_the_rank_table(make_app):
    """Frames painted inside Textual's start-up batch are thrown away; the main screen must not be one of them."""
    from lorplan.tui.screens.main_screen import MainScreen

    app = make_app()
    painted: list[str] = []
    original = app._display

    def display(screen, renderable):
        if renderable is not None and isinstance(screen, MainScreen) and not app._batch_count:
            if hasattr(renderable, "render_segments"):
                painted.append(renderable.render_segments(app.console))
        original(screen, renderable)

    app._display = display
    async with app.run_test(size=SIZE):
        pass
    assert painted, "the main screen was never painted"
    assert "vs GPU memory" in painted[0] and "largest then" in painted[0]
