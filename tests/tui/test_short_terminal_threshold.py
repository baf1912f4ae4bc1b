"""The Plan tab's short-terminal mode (a field edited: the rank table docked at an edge, its selected row only)
switches where the view stops fitting the terminal, at every width. It was two constants keyed by narrow/wide
(39 and 49 rows), while the rows the view needs change with the width (labels and the summary wrap): at 80
columns the view needed 53 rows, so from 49 to 52 it did not fit and the mode stayed off; at 200x38 it fitted
and the mode was on. The rows needed are those of the view's plain state (no error line, no custom rank row):
only the terminal's size counts, as before."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, type_into, wait_until

from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio

TALL = 100  # rows: every width's view fits


def laid_out_rows(app) -> int:
    """Terminal rows the plan view takes as laid out now: the rows above and below the view, the panels above
    the rank table and the table's box (not docked). Measured at a height where the view fits."""
    view = app.screen.query_one(PlanView)
    assert not view.has_class("-editing") and view.max_scroll_y == 0
    content = view.query_one("#plan-top").outer_size.height + view.query_one("#plan-table-box").outer_size.height
    return app.size.height - view.content_region.height + content


async def resize(pilot, width: int, height: int) -> None:
    app = pilot.app
    await pilot.resize_terminal(width, height)
    view = app.screen.query_one(PlanView)
    await wait_until(pilot, lambda: view.content_region.width == width
                     and app.screen.query_one("#plan-top").outer_size.width > 0, timeout=10)
    await pilot.pause()
    await pilot.pause()


async def rows_needed(pilot, widths) -> dict[int, int]:
    """laid_out_rows at each of `widths`, in that order, measured at TALL rows (the view fits at every width)."""
    needed = {}
    for width in widths:
        await resize(pilot, width, TALL)
        needed[width] = laid_out_rows(pilot.app)
    return needed


async def test_the_mode_switches_where_the_view_stops_fitting_at_every_width(make_app):
    app = make_app()
    async with app.run_test(size=(200, TALL)) as pilot:
        view = app.screen.query_one(PlanView)
        needed = {}
        for width in (60, 80, 109, 110, 120, 200):
            await resize(pilot, width, TALL)
            rows = needed[width] = laid_out_rows(app)
            assert not view.short_terminal()
            await resize(pilot, width, rows)
            assert view.max_scroll_y == 0, (width, rows)  # the whole view fits: not short
            assert not view.short_terminal(), (width, rows, needed)
            await resize(pilot, width, rows - 1)
            assert view.max_scroll_y > 0, (width, rows - 1)  # a row too few: short
            assert view.short_terminal(), (width, rows - 1, needed)
        # the widths differ in the rows they need (what the two constants missed): the panels side by side need
        # fewer from 110 columns, and the wrapped lines make narrower terminals need more on each side of it
        assert needed[60] > needed[80] > needed[109] > needed[110] > needed[120] > needed[200], needed


async def test_editing_docks_the_table_only_below_the_rows_the_view_needs(make_app):
    """What the user sees: a field focused at the height that fits keeps every row; a row less, the table docks;
    a resize while the field is edited follows, also across the narrow width (the panels restack)."""
    app = make_app()
    async with app.run_test(size=(120, TALL)) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        needed = await rows_needed(pilot, (80, 120))
        await resize(pilot, 120, needed[120])
        await type_into(pilot, "#f-seq_len", "4096")
        assert not view.has_class("-editing") and not table.compact
        await resize(pilot, 120, needed[120] - 1)
        await wait_until(pilot, lambda: table.compact and view.has_class("-editing"), timeout=10)
        await resize(pilot, 80, needed[80])  # narrow now: the panels stack, the view needs more rows
        await wait_until(pilot, lambda: not table.compact, timeout=10)
        assert not view.has_class("-editing") and view.max_scroll_y == 0
        await resize(pilot, 80, needed[80] - 1)
        await wait_until(pilot, lambda: table.compact and view.has_class("-editing"), timeout=10)
        await resize(pilot, 120, needed[80] - 1)  # wide again at the same height: it fits with room to spare
        await wait_until(pilot, lambda: not table.compact and not view.has_class("-editing"), timeout=10)
        assert app.focused is app.screen.query_one("#f-seq_len")  # still editing, with every row


async def test_an_error_line_or_the_custom_row_does_not_move_the_threshold(make_app):
    """Only the terminal's size counts: at the height the plain view just fits, a custom rank's row and the error
    lines under the fields (the setup's, a row more at 90 columns, beside the taller GPU and model column at 120;
    the GPU budget's, longer than its blank row) leave the mode off, and a row less it is on, also when the size
    changes while they are shown (the rows needed are worked out then, without them, and at the width without
    the scrollbar they bring: at 90 columns a line wraps to one row more 2 columns narrower)."""
    app = make_app()
    async with app.run_test(size=(90, TALL)) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        needed = await rows_needed(pilot, (120, 90))
        await type_into(pilot, "#f-custom_rank", "12")
        await type_into(pilot, "#f-micro_batch", "x")
        await type_into(pilot, "#gpu-budget", "24x")  # its message wraps to 2 lines at 90, 3 beside the setup
        assert view.state.stale and 12 in table.ranks  # the bad fields, and the custom row kept
        assert app.screen.query_one("#setup-errors").display
        assert app.screen.query_one("#gpu-error").outer_size.height > 1
        fields = [app.screen.query_one(f"#f-{name}") for name in ("seq_len", "micro_batch")]
        for width, height in ((90, needed[90]), (90, needed[90] - 1), (120, needed[120] - 1), (120, needed[120])):
            short = height < needed[width]
            await resize(pilot, width, height)  # measured with the error line and the custom row shown
            assert view.short_terminal() == short, (width, height, needed)
            await wait_until(pilot, lambda short=short: table.compact == short, timeout=10)
            for field in fields:  # another field focused: the same answer
                field.focus()
                await pilot.pause()
                assert view.has_class("-editing") == table.compact == short, (width, height, field.id)
            if not short:  # the view as it stands (the custom row, the error line) does not fit: still off
                assert view.max_scroll_y > 0


async def test_a_model_that_did_not_load_does_not_move_the_threshold(make_app):
    """A model name that loads nothing puts its error (up to 3 rows) where the loaded model's line was, the table
    kept for that model: like the setup's error line it must not switch the mode. At 120x40 (the plain view's
    height there) the seq len field focused after it docked the table to its one row."""
    app = make_app()
    async with app.run_test(size=(120, TALL)) as pilot:
        view = app.screen.query_one(PlanView)
        table = app.screen.query_one(RankTable)
        status = app.screen.query_one("#model-status")
        needed, plain = {}, {}
        for width in (90, 120):
            await resize(pilot, width, TALL)
            needed[width], plain[width] = laid_out_rows(app), status.outer_size.height
        await paste_into(pilot, "#model-input", "nosuch-org/nosuch-model-at-all", submit=True)
        await wait_until(pilot, lambda: app.screen.query_one("#model-picker").has_class("-error"), timeout=10)
        for width, height in ((120, needed[120]), (120, needed[120] - 1), (90, needed[90]), (90, needed[90] - 1)):
            short = height < needed[width]
            await resize(pilot, width, height)
            assert status.outer_size.height > plain[width], (width, plain)  # the error takes more rows
            assert view.short_terminal() == short, (width, height, needed)
            app.screen.query_one("#f-seq_len").focus()  # focused, not typed in: the summary keeps its lines
            await pilot.pause()
            assert view.has_class("-editing") == table.compact == short, (width, height, needed)
            table.focus()
            await pilot.pause()
