"""The Plan tab's short-terminal threshold (tests/tui/test_short_terminal_threshold.py) against two passing states.

- An error fixed: the summary only grows (blank rows pad a shorter text, so a keystroke does not re-lay the
  screen), and it kept the rows of its stale form (the "showing the last valid table" line) once the field was
  fixed, so at the exact height the plain view fits, the view overflowed by blank rows with the mode off.
- A model loading: its status line ("loading <folder> …", as long as the path) was counted in place of the
  loaded model's line, so focusing a field during a load decided the mode from a line shown for a moment.
"""

from __future__ import annotations

import threading

import pytest
from test_short_terminal_threshold import TALL, laid_out_rows, resize
from tui_helpers import paste_into, type_into, wait_until

from lorplan.tui import bridge
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio


async def test_a_fixed_error_leaves_no_blank_rows_at_the_threshold(make_app):
    app = make_app()
    async with app.run_test(size=(120, TALL)) as pilot:
        view = app.screen.query_one(PlanView)
        summary = app.screen.query_one("#plan-summary")
        await resize(pilot, 120, TALL)
        needed, plain = laid_out_rows(app), summary.outer_size.height
        await resize(pilot, 120, needed)
        typed = view.state.form.micro_batch
        await type_into(pilot, "#f-micro_batch", "x")
        await wait_until(pilot, lambda: view.state.stale)
        await pilot.pause()
        assert summary.outer_size.height > plain  # the stale line
        await type_into(pilot, "#f-micro_batch", typed)
        await wait_until(pilot, lambda: not view.state.stale)
        await pilot.pause()
        await pilot.pause()
        assert summary.outer_size.height == plain
        assert view.max_scroll_y == 0 and not view.short_terminal()


async def test_a_model_loading_does_not_move_the_threshold(make_app, tmp_path, monkeypatch):
    """A folder whose load is held (the real load_spec, once let through): while its long "loading …" line shows,
    seq len focused at the height the plain view fits keeps the table whole, and a row less docks it."""
    gate = threading.Event()
    real = bridge.load_spec

    def held(source, **kwargs):
        if source != bridge.default_model(bridge.catalog_ids()):
            gate.wait(60)
        return real(source, **kwargs)

    monkeypatch.setattr(bridge, "load_spec", held)
    folder = tmp_path / ("a-folder-with-a-long-name-" * 6) / "model"  # its load fails once let through
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    app = make_app()
    try:
        async with app.run_test(size=(120, TALL)) as pilot:
            view = app.screen.query_one(PlanView)
            table = app.screen.query_one(RankTable)
            status = app.screen.query_one("#model-status")
            await resize(pilot, 120, TALL)
            needed, plain = laid_out_rows(app), status.outer_size.height
            await paste_into(pilot, "#model-input", str(folder), submit=True)  # typed: ~80 ms a key, ~14 s
            await wait_until(pilot, lambda: str(status.render()).startswith("loading"))
            for height in (needed, needed - 1):
                await resize(pilot, 120, height)
                assert status.outer_size.height > plain  # the loading line takes more rows
                short = height < needed
                assert view.short_terminal() == short, (height, needed)
                app.screen.query_one("#f-seq_len").focus()
                await pilot.pause()
                assert view.has_class("-editing") == table.compact == short, (height, needed)
                table.focus()
                await pilot.pause()
    finally:
        gate.set()
