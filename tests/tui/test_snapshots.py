"""SVG snapshots of the main screen at 120×40 and 80×24 in two themes (pytest-textual-snapshot).

Deterministic: no GPU (forced), a fixed catalog model, no clock, a fresh config dir. Update after an intended
change with `pytest tests/tui/test_snapshots.py --snapshot-update` and commit tests/tui/__snapshots__/.
The rank table shows the memory model's numbers: when lorplan.core.memory changes, these must be regenerated.
"""

from __future__ import annotations

import pytest
from tui_helpers import until_started

SIZES = {"wide": (120, 40), "narrow": (80, 24)}


@pytest.mark.parametrize("theme", ["dark", "high-contrast"])
@pytest.mark.parametrize("size", list(SIZES))
def test_main_screen(snap_compare, make_app, theme, size):
    app = make_app(theme=theme, save_settings=False)

    async def settle(pilot):
        await until_started(pilot)
        app.screen.query_one("#rank-table").focus()  # a fixed focus: no blinking input cursor in the picture
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=settle)


def test_help_screen(snap_compare, make_app):
    app = make_app(theme="light", save_settings=False)

    async def open_help(pilot):
        await until_started(pilot)
        app.screen.query_one("#f-seq_len").focus()
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_help)
