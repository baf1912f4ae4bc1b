"""At 80×24 the setup is taller than the room under the rank table: editing it must not scroll the table away."""

from __future__ import annotations

import pytest
from tui_helpers import type_into, wait_until

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
        field = app.screen.query_one("#f-seq_len")
        assert app.screen.query_one(PlanView).region.contains_region(field.region)  # not pushed off below
        assert app.screen.query_one("#plan-table-box").region.height < 40  # (the summary was padded to 600 lines)
        assert not table.compact and table.region.height >= len(table.ranks) + 1  # (+ a scrollbar at 80)
        assert selected_row_on_screen(app)


def in_the_room_under_the_table(app, widget) -> bool:
    """`widget` is drawn whole where the user sees it: inside the screen and the plan view, clear of the docked
    rank table, and the widget drawn at its first cell is it (or a part of it: a Select draws its label)."""
    view = app.screen.query_one(PlanView)
    box = app.screen.query_one("#plan-table-box")
    region = widget.region
    if not region or not (app.screen.region.contains_region(region) and view.region.contains_region(region)):
        return False
    if region.overlaps(box.region):
        return False
    drawn, _ = app.screen.get_widget_at(region.x, region.y)
    return drawn is widget or widget in drawn.ancestors


async def settled_in_view(pilot, widget) -> None:
    """Wait (generously: a loaded CI machine is slow) for the field to be in view, then let every scheduled
    scroll and animation run and check again: nothing may move it back under the table afterwards."""
    app = pilot.app
    try:
        await wait_until(pilot, lambda: in_the_room_under_the_table(app, widget), timeout=10)
    except AssertionError:
        raise AssertionError(f"#{widget.id} at {widget.region} is not in view (table at "
                             f"{app.screen.query_one('#plan-table-box').region})") from None
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    assert in_the_room_under_the_table(app, widget), f"#{widget.id} moved to {widget.region}"


async def test_the_model_search_is_under_the_docked_table_at_80x24(make_app):
    """F2 then typing: the search input, its text and a match are drawn below the docked rank table."""
    from lorplan.tui.textshot import screen_text

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        field = app.screen.query_one("#model-input")
        await wait_until(pilot, lambda: app.focused is field, timeout=10)
        view = app.screen.query_one(PlanView)
        assert view.has_class("-editing")  # the case of the bug: the table docked above the setup
        await settled_in_view(pilot, field)
        assert field.region.y >= app.screen.query_one("#plan-table-box").region.bottom  # below it, not under
        await pilot.press(*"qwen")
        await wait_until(pilot, lambda: "Qwen/Qwen2.5-0.5B-Instruct" in screen_text(app), timeout=10)
        assert field.value == "qwen" and "qwen" in screen_text(app)
        await settled_in_view(pilot, field)


@pytest.mark.parametrize("size", [(80, 24), (120, 24)])
async def test_tab_from_the_table_shows_every_setup_field_it_focuses(make_app, size):
    """Tab from the rank table through every field above it: each one focused is in view, none under the
    docked table (at 80 columns the table is first and docks at the top; at 120 it docks at the bottom and
    Tab reaches the fields through the tab bar)."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(RankTable)
        view = app.screen.query_one(PlanView)
        top = view.query_one("#plan-top")  # the GPU, model and setup fields
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.focused is table, timeout=10)
        seen: list[str] = []
        for _ in range(60):
            before = app.focused
            await pilot.press("tab")
            await wait_until(pilot, lambda before=before: app.focused is not before, timeout=10)
            widget = app.focused
            if widget is None or top not in widget.ancestors:
                if seen:
                    break  # out of the setup again: every field was visited
                continue
            assert view.has_class("-editing")  # the view is taller than the terminal: the table is docked
            await settled_in_view(pilot, widget)
            seen.append(widget.id)
        for wanted in ("gpu-preset", "model-input", "f-quant", "f-padding_mask", "target-down_proj"):
            assert wanted in seen, seen


async def test_a_custom_rank_and_a_bad_field_keep_every_row_at_120x40(make_app):
    """At 120x40 typing a custom rank, then a bad value in another field, collapsed the table to its header and
    one row: the summary had been measured before the first layout (wrapped at one column: ~600 lines, and
    every later text was padded to them), and the short-terminal mode asked whether the content overflowed."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "#f-custom_rank", "12")
        await type_into(pilot, "#f-micro_batch", "x")
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        assert view.state.stale and "12" in table.cell_text(12, "rank")  # the bad field, and the custom row kept
        assert not view.has_class("-editing") and not table.compact
        assert table.region.height == table.row_count + 2  # every rank, and the full fine-tuning row
        assert app.screen.query_one("#plan-summary").region.height < 10
        assert view.virtual_size.height < 2 * view.scrollable_content_region.height


async def test_the_short_terminal_mode_follows_a_resize_while_a_field_is_edited(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_into(pilot, "#f-seq_len", "4096")
        table = app.screen.query_one(RankTable)
        assert table.compact
        await pilot.resize_terminal(120, 50)
        await wait_until(pilot, lambda: not table.compact)
        assert app.focused is app.screen.query_one("#f-seq_len")  # still editing, now with every row
        await pilot.resize_terminal(120, 30)
        await wait_until(pilot, lambda: table.compact)


async def test_the_rank_column_stays_at_the_left_when_the_table_scrolls_sideways_at_80x24(make_app):
    """At 80 columns the table is wider than the terminal; scrolling right (→) took the rank column away, so the
    figures on screen were no longer labelled with their rank. It stays put; the other columns scroll."""
    from lorplan.tui.textshot import screen_text

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(RankTable)
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.focused is table, timeout=10)
        assert table.max_scroll_x > 0  # wider than the terminal: the case of the bug
        for _ in range(table.max_scroll_x):  # → until the end (a column a press: a few of these; a press each
            if table.scroll_offset.x == table.max_scroll_x:  # took ~0.08 s of Pilot's waits, 6 s in all)
                break
            await pilot.press("right")
        await wait_until(pilot, lambda: table.scroll_offset.x == table.max_scroll_x, timeout=10)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        left = table.content_region.x
        rows = screen_text(app).splitlines()
        header = rows[table.content_region.y][left:table.content_region.right]
        assert header.split()[0] == "rank" and header.split()[-1] == "other"  # scrolled to the last column
        assert "trainable" not in header  # the columns after the rank scrolled away
        shown = [table.cell_text(rank, "rank") for rank in table.ranks]
        for i, rank in enumerate(shown[:table.content_region.height - 1]):  # the rows on screen (no y scroll)
            line = rows[table.content_region.y + 1 + i][left:table.content_region.right]
            assert line[:table.fixed_width].strip() == rank, line
            assert line.rstrip().endswith(table.cell_text(table.ranks[i], "overhead")), line
        for _ in range(table.max_scroll_x):  # back: the table as it was
            if table.scroll_offset.x == 0:
                break
            await pilot.press("left")
        await wait_until(pilot, lambda: table.scroll_offset.x == 0, timeout=10)
        await pilot.pause()
        header = screen_text(app).splitlines()[table.content_region.y][left:table.content_region.right]
        assert header.split()[:2] == ["rank", "trainable"]


async def test_left_and_right_move_the_table_a_column_at_a_time_at_80x24(make_app):
    """→ scrolled one cell per press: the last column took about 40 presses at 80 columns. Each press now brings
    the next column's left edge to the fixed rank column; ← goes back the same way; shift+→/← jump to the ends."""
    from lorplan.tui.textshot import screen_text
    from lorplan.tui.widgets.rank_table import COLUMNS

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(RankTable)
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.focused is table, timeout=10)
        assert table.max_scroll_x > 0  # wider than the terminal

        def header() -> str:  # the header row as drawn, inside the table's border
            row = screen_text(app).splitlines()[table.content_region.y]
            return row[table.content_region.x:table.content_region.right]

        def scrolled() -> str:  # the header after the fixed rank column (a right-aligned label's padding off)
            return header()[table.fixed_width:].lstrip()

        labels = [label for _key, label in COLUMNS]
        assert header().split()[0] == "rank" and scrolled().startswith(labels[1])
        seen = [labels[1]]
        presses = 0
        while table.scroll_offset.x < table.max_scroll_x:
            before = table.scroll_offset.x
            await pilot.press("right")
            presses += 1
            await wait_until(pilot, lambda before=before: table.scroll_offset.x > before, timeout=10)
            if table.scroll_offset.x < table.max_scroll_x:  # a whole column at the left, right of the rank
                column = labels[len(seen) + 1]
                await wait_until(pilot, lambda column=column: scrolled().startswith(column), timeout=10)
                assert header().split()[0] == "rank"
                seen.append(column)
        assert presses <= 6  # a few presses, not one per cell (40)
        await wait_until(pilot, lambda: header().rstrip().endswith(labels[-1]), timeout=10)  # the last column
        assert header().split()[0] == "rank"
        await pilot.press("right")  # at the end: nothing moves
        await pilot.pause()
        assert table.scroll_offset.x == table.max_scroll_x
        for column in reversed(seen):  # ← returns column by column
            await pilot.press("left")
            await wait_until(pilot, lambda column=column: scrolled().startswith(column), timeout=10)
        assert table.scroll_offset.x == 0 and header().split()[:2] == ["rank", "trainable"]
        await pilot.press("shift+right")
        await wait_until(pilot, lambda: header().rstrip().endswith(labels[-1]), timeout=10)
        await pilot.press("shift+left")
        await wait_until(pilot, lambda: scrolled().startswith(labels[1]), timeout=10)
        assert table.selected_rank == 16  # the keys scroll; they select nothing


async def test_a_column_cut_by_the_tables_edge_is_not_drawn_in_part_at_80x24(make_app):
    """At 80 columns the table's right edge cut a column through its header and figures ("weight│", "op│",
    "16.2│"), and scrolled to the end, its left edge too ("ry" of "vs GPU memory"). Only whole columns are
    drawn; the scrolling reaches the others."""
    import re

    from lorplan.tui.textshot import screen_text
    from lorplan.tui.widgets.rank_table import COLUMNS

    labels = {label for _key, label in COLUMNS}
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(RankTable)
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.focused is table, timeout=10)
        seen = set()
        for _ in range(len(COLUMNS)):
            await pilot.pause()
            rows = screen_text(app).splitlines()
            header = rows[table.content_region.y][table.content_region.x:table.content_region.right]
            shown = [w for w in re.split(r" {2,}", header.strip()) if w]
            assert set(shown) <= labels, header  # no label drawn in part
            seen.update(shown)
            row16 = rows[table.content_region.y + 1 + table.ranks.index(16)][table.content_region.x:
                                                                               table.content_region.right]
            cells = {table.cell_text(16, key) for key, label in COLUMNS if label in shown}
            assert all(cell.strip() in row16 for cell in cells)
            assert len(re.split(r" {2,}", row16.strip())) == len(shown), row16  # no figure drawn in part
            await pilot.press("right")
        assert seen == labels  # every column shows whole at some scroll position
